//! Every value's format (`format`), field by field: versions, images, registries, users,
//! packages, sysctls, modules, datasets, and the one-line rule for whatever reaches a unit
//! file, a config file or a command line. Values holding a secret reference are checked after
//! resolution, not here.

use super::format::{self, mode_too_wide};
use super::{literal, p, Checker};
use crate::config::net::Ipv4Net;
use crate::config::path::FieldPath;
use crate::config::schema::{Role, StackConfig};
use std::net::Ipv4Addr;

/// Run `f` on `v` unless it holds a secret reference; an `Err` is an error at `path`.
fn fmt(ck: &mut Checker<'_>, path: &FieldPath, v: &str, f: impl Fn(&str) -> Result<(), String>) {
    if let Some(v) = literal(v) {
        if let Err(e) = f(v) {
            ck.error(path, e);
        }
    }
}

fn opt(
    ck: &mut Checker<'_>,
    path: &FieldPath,
    v: &Option<String>,
    f: impl Fn(&str) -> Result<(), String>,
) {
    if let Some(v) = v {
        fmt(ck, path, v, f);
    }
}

pub(super) fn check(ck: &mut Checker<'_>) {
    let c = ck.l.config.clone();
    users(ck, &c);
    network(ck, &c);
    openbao(ck, &c);
    zot(ck, &c);
    cluster_components(ck, &c);
    images(ck, &c);
    host_prep(ck, &c);
    services(ck, &c);
    storage(ck, &c);
}

fn users(ck: &mut Checker<'_>, c: &StackConfig) {
    fmt(ck, &p("ssh").key("user"), &c.ssh.user, format::posix_user);
    opt(ck, &p("ssh").key("key"), &c.ssh.key, |v| {
        format::one_line("ssh.key", v)
    });
    for (i, h) in c.hosts.iter().enumerate() {
        let hp = p("hosts").index(i);
        if h.user.as_deref().is_some_and(|u| !u.trim().is_empty()) {
            opt(ck, &hp.key("user"), &h.user, format::posix_user);
        }
        if let Some(b) = &h.bastion {
            opt(
                ck,
                &hp.key("bastion").key("user"),
                &b.user,
                format::posix_user,
            );
        }
    }
}

/// The gateway must be a host address of the network it defines with the netmask (the cidr
/// case is checked in `network`).
fn network(ck: &mut Checker<'_>, c: &StackConfig) {
    let n = &c.network;
    if n.cidr.is_some() {
        return;
    }
    let (Some(g), Some(m)) = (
        n.gateway.as_deref().and_then(literal),
        n.netmask.as_deref().and_then(literal),
    ) else {
        return;
    };
    if let (Ok(net), Ok(a)) = (Ipv4Net::from_gateway(g, m), g.parse::<Ipv4Addr>()) {
        if !net.is_usable_host(a) {
            ck.error(
                &p("network").key("gateway"),
                format!("gateway {a} is the network or broadcast address of {net}; give the router's own address"),
            );
        }
    }
}

fn paths(ck: &mut Checker<'_>, base: &FieldPath, fields: &[(&str, &str)]) {
    for (f, v) in fields {
        fmt(ck, &base.key(f), v, |v| format::one_line("a path", v));
    }
}

fn openbao(ck: &mut Checker<'_>, c: &StackConfig) {
    let Some(o) = &c.components.openbao else {
        return;
    };
    let op = p("components").key("openbao");
    fmt(ck, &op.key("version"), &o.version, format::openbao_version);
    opt(ck, &op.key("image"), &o.image, format::oci_reference);
    paths(
        ck,
        &op,
        &[("data_dir", &o.data_dir), ("config_dir", &o.config_dir)],
    );
    opt(ck, &op.key("tls_cert"), &o.tls_cert, |v| {
        format::one_line("a path", v)
    });
    opt(ck, &op.key("tls_key"), &o.tls_key, |v| {
        format::one_line("a path", v)
    });
    let n = c.hosts_with(Role::Openbao).count();
    if o.enabled && n >= 2 && n % 2 == 0 {
        ck.warn(
            &p("hosts"),
            format!("{n} hosts have role openbao; they form one raft cluster, and with an even number it tolerates no more failures than with one fewer (use 1, 3 or 5)"),
        );
    }
}

fn zot(ck: &mut Checker<'_>, c: &StackConfig) {
    let Some(z) = &c.components.zot else { return };
    let zp = p("components").key("zot");
    fmt(ck, &zp.key("version"), &z.version, format::zot_version);
    opt(ck, &zp.key("image"), &z.image, format::oci_reference);
    fmt(ck, &zp.key("admin_user"), &z.admin_user, format::posix_user);
    paths(
        ck,
        &zp,
        &[
            ("storage_path", &z.storage_path),
            ("config_dir", &z.config_dir),
        ],
    );
    for (i, u) in z.upstreams.iter().enumerate() {
        fmt(ck, &zp.key("upstreams").index(i), u, format::registry_host);
    }
    opt(
        ck,
        &zp.key("storage_dataset"),
        &z.storage_dataset,
        format::dataset_name,
    );
    opt(
        ck,
        &zp.key("storage_mount_options"),
        &z.storage_mount_options,
        format::mount_options,
    );
    if z.storage_dataset.is_some() {
        fmt(
            ck,
            &zp.key("storage_path"),
            &z.storage_path,
            format::mount_point,
        );
    }
}

/// K3s, kube-vip, Contour, cert-manager: versions, images, and the values passed to them.
fn cluster_components(ck: &mut Checker<'_>, c: &StackConfig) {
    let cp = p("components");
    if let Some(k) = &c.components.k3s {
        fmt(
            ck,
            &cp.key("k3s").key("version"),
            &k.version,
            format::k3s_version,
        );
        for (i, a) in k.extra_args.iter().enumerate() {
            fmt(ck, &cp.key("k3s").key("extra_args").index(i), a, |v| {
                format::one_line("an argument", v)
            });
        }
    }
    if let Some(k) = &c.components.kube_vip {
        let kp = cp.key("kube_vip");
        fmt(ck, &kp.key("version"), &k.version, |v| {
            format::v_version("kube-vip", "v1.2.3", v)
        });
        opt(ck, &kp.key("image"), &k.image, format::oci_reference);
        opt(ck, &kp.key("interface"), &k.interface, |v| {
            format::not_an_option("an interface name", v)?;
            if v.len() > 15 || v.contains(['/', ' ']) {
                return Err(format!(
                    "{} is not a network interface name (at most 15 characters, no `/` or space)",
                    crate::config::shown::shown(v)
                ));
            }
            Ok(())
        });
    }
    if let Some(x) = &c.components.contour {
        fmt(
            ck,
            &cp.key("contour").key("version"),
            &x.version,
            format::contour_version,
        );
    }
    if let Some(x) = &c.components.cert_manager {
        fmt(
            ck,
            &cp.key("cert_manager").key("version"),
            &x.version,
            |v| format::v_version("cert-manager", "v1.21.1", v),
        );
    }
}

fn images(ck: &mut Checker<'_>, c: &StackConfig) {
    opt(
        ck,
        &p("images").key("registry"),
        &c.images.registry,
        format::registry,
    );
}

/// Packages go on a package manager's command line, modules and sysctls into files systemd
/// reads at boot: one entry per line, so a line break would add entries.
fn host_prep(ck: &mut Checker<'_>, c: &StackConfig) {
    let hp = p("components").key("host_prep");
    let h = &c.components.host_prep;
    for (i, pkg) in h.packages.iter().enumerate() {
        fmt(ck, &hp.key("packages").index(i), pkg, format::package_name);
    }
    for (i, m) in h.kernel_modules.iter().enumerate() {
        fmt(
            ck,
            &hp.key("kernel_modules").index(i),
            m,
            format::module_name,
        );
    }
    for (k, v) in &h.sysctls {
        let kp = hp.key("sysctls").key(k);
        fmt(ck, &kp, k, format::sysctl_key);
        fmt(ck, &kp, v, format::sysctl_value);
    }
}

fn is_env_name(k: &str) -> bool {
    let b = k.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'_')
}

/// A service's image, arguments, environment, volumes and files reach its unit file and the
/// container runtime's command line.
fn services(ck: &mut Checker<'_>, c: &StackConfig) {
    for (i, s) in c.components.services.iter().enumerate() {
        let sp = p("components").key("services").index(i);
        fmt(ck, &sp.key("image"), &s.image, format::oci_reference);
        for (j, a) in s.args.iter().enumerate() {
            fmt(ck, &sp.key("args").index(j), a, |v| {
                format::one_line("an argument", v)
            });
        }
        for (k, v) in &s.env {
            let ep = sp.key("env").key(k);
            if !is_env_name(k) {
                ck.error(&ep, format!("{} is not an environment variable name: letters, digits and `_`, not starting with a digit", crate::config::shown::shown(k)));
            }
            fmt(ck, &ep, v, |v| format::one_line("an environment value", v));
        }
        for (j, v) in s.volumes.iter().enumerate() {
            fmt(ck, &sp.key("volumes").index(j), v, |v| {
                format::one_line("a volume", v)
            });
        }
        for (path, f) in &s.files {
            let fp = sp.key("files").key(path);
            if let Err(e) = format::one_line("a file path", path) {
                ck.error(&fp, e);
            } else if path.split('/').any(|c| c == "..") {
                ck.error(
                    &fp,
                    format!(
                        "{} contains `..`; give the file's real path",
                        crate::config::shown::shown(path)
                    ),
                );
            }
            if let Some(w) = f.mode.and_then(mode_too_wide) {
                ck.warn(&fp, w);
            }
        }
    }
}

fn storage(ck: &mut Checker<'_>, c: &StackConfig) {
    let Some(t) = &c.storage.truenas else { return };
    let tp = p("storage").key("truenas");
    if t.api_key.trim().is_empty() {
        ck.error(&tp.key("api_key"), "api_key is empty; store the key with `foundry secret set truenas api_key -` and write `${secret:truenas:api_key}` here");
    }
    fmt(ck, &tp.key("pool"), &t.pool, |v| {
        if v.contains('/') {
            return Err(format!(
                "{} is a dataset path; give the pool's name only (e.g. tank)",
                crate::config::shown::shown(v)
            ));
        }
        format::dataset_name(v)
    });
    opt(ck, &tp.key("nfs_server"), &t.nfs_server, |v| {
        if v.parse::<std::net::IpAddr>().is_ok() {
            Ok(())
        } else {
            format::hostname(v)
        }
    });
    // Dataset names: `validate/storage.rs` (with the rest of the dataset checks).
}
