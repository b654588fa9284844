//! The format of every kind of value stack.yaml holds, in one place. Each check returns what
//! would be valid, for the finding; the value is quoted with `shown` (escaped, cut).
//!
//! These values end up in unit files, image references, command lines and kernel settings, so
//! the rules are strict: the characters each upstream accepts, never a leading `-` (it would
//! read as an option), never a control character.

use crate::config::net::is_dns_name;
use crate::config::shown::shown;

type Check = Result<(), String>;

/// `MAJOR.MINOR.PATCH` with an optional `-pre.release` (digits only in the numbers).
fn is_semver(v: &str) -> bool {
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let nums: Vec<&str> = core.split('.').collect();
    nums.len() == 3
        && nums
            .iter()
            .all(|n| !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit()))
        && pre.is_none_or(|p| {
            !p.is_empty()
                && p.split('.').all(|s| {
                    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        })
}

/// OpenBao: `2.7.2` (its image tags have no `v`).
pub fn openbao_version(v: &str) -> Check {
    if is_semver(v) {
        return Ok(());
    }
    let hint = match v.strip_prefix('v') {
        Some(rest) if is_semver(rest) => {
            format!("; did you mean `{rest}`? (OpenBao's image tags have no `v`)")
        }
        _ => String::new(),
    };
    Err(format!(
        "{} is not an OpenBao version: MAJOR.MINOR.PATCH, e.g. 2.7.2{hint}",
        shown(v)
    ))
}

/// `v` + semver, the tag style of Zot, kube-vip and cert-manager; without the `v` a
/// did-you-mean.
pub fn v_version(what: &str, example: &str, v: &str) -> Check {
    if v.strip_prefix('v').is_some_and(is_semver) {
        return Ok(());
    }
    let hint = if is_semver(v) {
        format!("; did you mean `v{v}`? ({what}'s release tags start with `v`)")
    } else {
        String::new()
    };
    Err(format!(
        "{} is not a {what} version: vMAJOR.MINOR.PATCH, e.g. {example}{hint}",
        shown(v)
    ))
}

/// Zot: `v2.1.22`.
pub fn zot_version(v: &str) -> Check {
    v_version("Zot", "v2.1.22", v)
}

/// Contour: semver, with or without `v`.
pub fn contour_version(v: &str) -> Check {
    if is_semver(v.strip_prefix('v').unwrap_or(v)) {
        Ok(())
    } else {
        Err(format!(
            "{} is not a Contour version: [v]MAJOR.MINOR.PATCH, e.g. v1.30.0",
            shown(v)
        ))
    }
}

/// K3s: `v1.33.5+k3s1` (optionally `-rc1` before the `+`).
pub fn k3s_version(v: &str) -> Check {
    let ok = v
        .strip_prefix('v')
        .and_then(|r| r.split_once('+'))
        .is_some_and(|(sem, build)| {
            is_semver(sem)
                && build
                    .strip_prefix("k3s")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        });
    if ok {
        return Ok(());
    }
    let hint = if is_semver(v.strip_prefix('v').unwrap_or(v)) {
        format!(
            "; did you mean `v{}+k3s1`?",
            v.strip_prefix('v').unwrap_or(v)
        )
    } else {
        String::new()
    };
    Err(format!(
        "{} is not a K3s release: vMAJOR.MINOR.PATCH+k3sN, e.g. v1.33.5+k3s1{hint}",
        shown(v)
    ))
}

/// A registry host: DNS name or IPv4 address, optional `:port` (`localhost:5000` too).
fn is_registry_host(h: &str) -> bool {
    let (name, port) = match h.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (h, None),
    };
    let name_ok = is_dns_name(name) || name.parse::<std::net::Ipv4Addr>().is_ok();
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    name_ok && port_ok
}

/// A repository path component: lowercase alphanumerics separated by `.`, `_`, `__` or `-`s.
fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

fn is_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

fn is_digest(d: &str) -> bool {
    d.split_once(':').is_some_and(|(algo, hex)| {
        !algo.is_empty()
            && algo.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'+' | b'.' | b'_' | b'-')
            })
            && hex.len() >= 32
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// `[HOST[:PORT]/]PATH[:TAG][@DIGEST]` in the distribution reference grammar.
fn is_oci_reference(r: &str) -> bool {
    let (name, digest) = match r.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (r, None),
    };
    if digest.is_some_and(|d| !is_digest(d)) {
        return false;
    }
    // A `:` after the last `/` starts the tag.
    let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    if tag.is_some_and(|t| !is_tag(t)) {
        return false;
    }
    let parts: Vec<&str> = repo.split('/').collect();
    let (host, path) = match parts.as_slice() {
        [first, rest @ ..]
            if !rest.is_empty()
                && (first.contains('.') || first.contains(':') || *first == "localhost") =>
        {
            (Some(*first), rest)
        }
        all => (None, all),
    };
    host.is_none_or(is_registry_host)
        && !path.is_empty()
        && repo.len() <= 255
        && path.iter().all(|c| is_path_component(c))
}

/// An image reference, e.g. `quay.io/openbao/openbao:2.7.2`.
pub fn oci_reference(r: &str) -> Check {
    if is_oci_reference(r) {
        Ok(())
    } else {
        Err(format!("{} is not an image reference: [REGISTRY[:PORT]/]NAME[:TAG][@sha256:DIGEST], lowercase name, no spaces or options (e.g. docker.io/library/nginx:1.27)", shown(r)))
    }
}

/// `images.registry`: `HOST[:PORT][/PREFIX]`, e.g. `registry.internal:5000/mirror`.
pub fn registry(r: &str) -> Check {
    let mut parts = r.split('/');
    let host = parts.next().unwrap_or("");
    if is_registry_host(host) && parts.all(is_path_component) {
        Ok(())
    } else {
        Err(format!("{} is not a registry: HOST[:PORT][/PREFIX] without a scheme or trailing `/` (e.g. registry.internal:5000)", shown(r)))
    }
}

/// A registry host name with an optional `:port` (Zot upstreams).
pub fn registry_host(h: &str) -> Check {
    if is_registry_host(h) {
        Ok(())
    } else {
        Err(format!(
            "{} is not a registry host name: HOST[:PORT] with no scheme or path (e.g. docker.io)",
            shown(h)
        ))
    }
}

/// A POSIX login name: letters, digits, `_`, `.`, `-`, not starting with `-`, at most 32.
pub fn posix_user(u: &str) -> Check {
    let b = u.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 32
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter()
            .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!("{} is not a user name: up to 32 letters, digits, `_`, `.` and `-`, starting with a letter or `_`", shown(u)))
    }
}

/// A host name (RFC 1123, lowercase), at most 253 characters.
pub fn hostname(h: &str) -> Check {
    if is_dns_name(h) && h == h.to_ascii_lowercase() {
        Ok(())
    } else {
        Err(format!("{} is not a host name: dot-separated labels of lowercase letters, digits and `-`, at most 253 characters", shown(h)))
    }
}

/// A Debian or RPM package name: starts with a letter or digit, then letters, digits, `+`,
/// `.`, `_`, `-`.
pub fn package_name(p: &str) -> Check {
    let b = p.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'+' | b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!("{} is not a package name: letters, digits, `+`, `.`, `_`, `-`, starting with a letter or digit (e.g. nfs-common)", shown(p)))
    }
}

/// A sysctl key under /proc/sys: dot-separated names of letters, digits, `_`, `-`.
pub fn sysctl_key(k: &str) -> Check {
    let ok = !k.is_empty()
        && k.len() <= 255
        && k.split('.').count() >= 2
        && k.split('.').all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{} is not a sysctl key: dot-separated names under /proc/sys of letters, digits, `_`, `-` (e.g. net.ipv4.ip_forward)", shown(k)))
    }
}

/// A sysctl value: one line, not empty.
pub fn sysctl_value(v: &str) -> Check {
    if v.trim().is_empty() {
        return Err("the value is empty; give the value to set (e.g. 1)".into());
    }
    one_line("a sysctl value", v)
}

/// A kernel module name: letters, digits, `_`, `-`, at most 55.
pub fn module_name(m: &str) -> Check {
    let ok = !m.is_empty()
        && m.len() <= 55
        && m.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        && !m.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not a kernel module name: letters, digits, `_`, `-` (e.g. br_netfilter)",
            shown(m)
        ))
    }
}

/// A ZFS dataset path relative to the pool: `/`-separated names of letters, digits, `_`, `-`,
/// `.`, `:`, no `.`/`..` component, no leading or trailing `/`.
pub fn dataset_name(d: &str) -> Check {
    let ok = !d.is_empty()
        && d.len() <= 200
        && d.split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{} is not a dataset name relative to the pool: `/`-separated names of letters, digits, `_`, `-`, `.`, `:`, no `..`, no leading `/` (e.g. k8s/volumes)", shown(d)))
    }
}

/// NFS mount options: comma-separated `name` or `name=value` of letters, digits and
/// `_ . : / + -` (they go verbatim into a mount unit's `Options=`).
pub fn mount_options(o: &str) -> Check {
    let ok = !o.is_empty()
        && !o.starts_with('-')
        && o.split(',').all(|opt| {
            !opt.is_empty()
                && opt.bytes().all(|b| {
                    b.is_ascii_alphanumeric()
                        || matches!(b, b'_' | b'.' | b':' | b'/' | b'+' | b'-' | b'=')
                })
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{} is not a list of mount options: comma-separated `name` or `name=value` of letters, digits, `_`, `.`, `:`, `/`, `+`, `-`, no spaces (e.g. hard,noatime,nfsvers=4.1)", shown(o)))
    }
}

/// A mount point systemd can name a mount unit after: absolute, normalised (no `.`/`..`
/// component), of letters, digits, `_`, `.`, `-` and `/`, not `/` itself.
pub fn mount_point(m: &str) -> Check {
    let parts: Vec<&str> = m.split('/').filter(|p| !p.is_empty()).collect();
    let ok = m.starts_with('/')
        && !parts.is_empty()
        && parts.iter().all(|p| {
            *p != "."
                && *p != ".."
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(format!("{} is not a mount point for an NFS share: an absolute path of letters, digits, `_`, `.`, `-` without `.` or `..` components, not `/` (e.g. /var/lib/zot)", shown(m)))
    }
}

/// No line break, carriage return, NUL or other control character (tab allowed): for values
/// written into unit files, config lines and command lines.
pub fn one_line(what: &str, v: &str) -> Check {
    match v.chars().find(|c| c.is_control() && *c != '\t') {
        None => Ok(()),
        Some(c) => Err(format!(
            "{what} must be one line without control characters; {} holds U+{:04X}",
            shown(v),
            c as u32
        )),
    }
}

/// A command-line argument or option value: one line, and (for values that are not options
/// themselves) not starting with `-`.
pub fn not_an_option(what: &str, v: &str) -> Check {
    if v.starts_with('-') {
        return Err(format!(
            "{what} {} starts with `-` and would be read as an option",
            shown(v)
        ));
    }
    one_line(what, v)
}

/// A file mode set in stack.yaml is wider than 0640: a warning (group write, or anything for
/// others), since the file may hold a resolved secret.
pub fn mode_too_wide(mode: u32) -> Option<String> {
    (mode & 0o7137 != 0).then(|| format!("mode {mode:04o} is wider than 0640 (others or group-write or execute); a file that holds a secret should be 0600 or 0640"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(c: Check) -> bool {
        c.is_ok()
    }

    #[test]
    fn versions() {
        for (v, good) in [
            ("2.7.2", true),
            ("2.7.2-beta1", true),
            ("v2.7.2", false),
            ("", false),
            ("2$(touch x)", false),
            ("2.7.2\n", false),
            ("2.7", false),
        ] {
            assert_eq!(ok(openbao_version(v)), good, "openbao {v:?}");
        }
        assert!(openbao_version("v2.7.2")
            .unwrap_err()
            .contains("did you mean `2.7.2`"));
        for (v, good) in [
            ("v2.1.22", true),
            ("v2.1.22-rc3", true),
            ("2.1.22", false),
            ("v2.1", false),
            ("vv2.1.22", false),
        ] {
            assert_eq!(ok(zot_version(v)), good, "zot {v:?}");
        }
        assert!(zot_version("2.1.22")
            .unwrap_err()
            .contains("did you mean `v2.1.22`"));
        for (v, good) in [
            ("v1.33.5+k3s1", true),
            ("v1.33.5-rc1+k3s2", true),
            ("v1.33.5", false),
            ("1.33.5+k3s1", false),
            ("v1.33.5+k3s", false),
            ("v1.33.5+k3s1 --x", false),
        ] {
            assert_eq!(ok(k3s_version(v)), good, "k3s {v:?}");
        }
        assert!(
            ok(contour_version("0.7.0"))
                && ok(contour_version("v1.30.0"))
                && !ok(contour_version("latest"))
        );
        assert!(
            ok(v_version("kube-vip", "v1.2.3", "v1.2.3"))
                && !ok(v_version("kube-vip", "v1.2.3", "1.2.3"))
        );
    }

    #[test]
    fn images_and_registries() {
        for (r, good) in [
            ("nginx", true),
            ("docker.io/library/nginx:1.27", true),
            ("localhost:5000/a/b", true),
            ("10.214.0.1:5000/openbao/openbao:2.7.2", true),
            ("ghcr.io/project-zot/zot-linux-amd64:v2.1.22", true),
            ("quay.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true),
            ("--privileged", false),
            ("nginx --privileged", false),
            ("Nginx", false),
            ("nginx:", false),
            ("", false),
            ("a//b", false),
            ("nginx:1.2\n", false),
        ] {
            assert_eq!(ok(oci_reference(r)), good, "image {r:?}");
        }
        for (r, good) in [
            ("registry.internal:5000", true),
            ("reg.lan/mirror", true),
            ("https://reg", false),
            ("reg/", false),
            ("reg:0", false),
            ("-reg", false),
        ] {
            assert_eq!(ok(registry(r)), good, "registry {r:?}");
        }
        assert!(
            ok(registry_host("docker.io"))
                && ok(registry_host("reg.lan:5000"))
                && !ok(registry_host("ghcr.io/x"))
        );
    }

    #[test]
    fn names() {
        for (u, good) in [
            ("root", true),
            ("alice", true),
            ("_svc", true),
            ("a.b-c", true),
            ("-oProxyCommand=x", false),
            ("a b", false),
            ("", false),
            (&"a".repeat(33), false),
        ] {
            assert_eq!(ok(posix_user(u)), good, "user {u:?}");
        }
        for (p, good) in [
            ("nfs-common", true),
            ("g++", true),
            ("libstdc++6", true),
            ("-y", false),
            ("a b", false),
            ("a;b", false),
        ] {
            assert_eq!(ok(package_name(p)), good, "package {p:?}");
        }
        for (k, good) in [
            ("net.ipv4.ip_forward", true),
            ("net.bridge.bridge-nf-call-iptables", true),
            ("kernel", false),
            ("net..x", false),
            ("net.ipv4/../x", false),
            ("a.b\nc.d", false),
        ] {
            assert_eq!(ok(sysctl_key(k)), good, "sysctl {k:?}");
        }
        assert!(
            ok(sysctl_value("4096 87380"))
                && !ok(sysctl_value("1\nkernel.x = 1"))
                && !ok(sysctl_value(""))
        );
        for (m, good) in [
            ("br_netfilter", true),
            ("overlay", true),
            ("a\nb", false),
            ("../x", false),
            ("-r", false),
        ] {
            assert_eq!(ok(module_name(m)), good, "module {m:?}");
        }
        for (d, good) in [
            ("k8s/volumes", true),
            ("a", true),
            ("/k8s", false),
            ("k8s/", false),
            ("a/../b", false),
            ("a//b", false),
            ("a b", false),
        ] {
            assert_eq!(ok(dataset_name(d)), good, "dataset {d:?}");
        }
        assert!(
            ok(hostname("node-1.lab"))
                && !ok(hostname("Node_1"))
                && !ok(hostname(&"a.".repeat(130)))
        );
        assert!(
            ok(one_line("x", "a\tb")) && !ok(one_line("x", "a\rb")) && !ok(one_line("x", "a\0b"))
        );
        assert!(!ok(not_an_option("x", "-v")));
        assert_eq!(mode_too_wide(0o640), None);
        assert_eq!(mode_too_wide(0o600), None);
        assert!(
            mode_too_wide(0o644).is_some()
                && mode_too_wide(0o660).is_some()
                && mode_too_wide(0o750).is_some()
        );
    }
}
