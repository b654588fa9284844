//! Per-host checks: names, addresses, ports, credentials, roles, labels and taints.

use super::network::HostNet;
use super::{literal, p, Checker};
use crate::config::net::is_dns_name;
use crate::config::path::FieldPath;
use crate::config::schema::HostConfig;
use std::collections::HashMap;
use std::net::IpAddr;

pub(super) fn check(ck: &mut Checker<'_>, net: Option<&HostNet>) {
    let hosts = ck.l.config.hosts.clone();
    if hosts.is_empty() {
        ck.error(
            &p("hosts"),
            "no hosts: add at least one (`foundry host add NAME --address ADDR --roles ...`)",
        );
    }
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut endpoints: HashMap<(String, u16), usize> = HashMap::new();
    for (i, h) in hosts.iter().enumerate() {
        let hp = p("hosts").index(i);
        check_name(ck, &hp, h, i, &mut names);
        check_address(ck, &hp, h, net);
        if h.port == 0 {
            ck.error(&hp.key("port"), "port 0 is not a valid SSH port");
        }
        if let Some(addr) = literal(&h.address) {
            if let Some(first) = endpoints.insert((addr.to_ascii_lowercase(), h.port), i) {
                ck.error(&hp.key("address"), format!("{}:{} is also hosts[{first}] (`{}`); every host needs its own address and port", addr, h.port, hosts[first].hostname));
            }
        }
        check_login(ck, &hp, h);
        check_roles(ck, &hp, h);
        check_labels(ck, &hp, h);
        for (t, taint) in h.taints.iter().enumerate() {
            if let Err(e) = parse_taint(taint) {
                ck.error(&hp.key("taints").index(t), e);
            }
        }
        if let Some(b) = &h.bastion {
            let bp = hp.key("bastion");
            if let Some(a) = literal(&b.address) {
                if a.parse::<IpAddr>().is_err() && !is_dns_name(a) {
                    ck.error(
                        &bp.key("address"),
                        format!("`{a}` is neither an IP address nor a DNS name"),
                    );
                }
            }
            if b.port == 0 {
                ck.error(&bp.key("port"), "port 0 is not a valid SSH port");
            }
        }
    }
}

fn check_name(
    ck: &mut Checker<'_>,
    hp: &FieldPath,
    h: &HostConfig,
    i: usize,
    names: &mut HashMap<String, usize>,
) {
    let np = hp.key("hostname");
    if !is_dns_name(&h.hostname) || h.hostname != h.hostname.to_ascii_lowercase() {
        ck.error(
            &np,
            format!("`{}` is not a valid hostname: lowercase letters, digits and `-` (RFC 1123), dot-separated labels of at most 63 characters; it becomes the Kubernetes node name", h.hostname),
        );
    }
    if let Some(first) = names.insert(h.hostname.to_ascii_lowercase(), i) {
        ck.error(
            &np,
            format!(
                "hostname `{}` is already used by hosts[{first}]; hostnames must be unique",
                h.hostname
            ),
        );
    }
}

fn check_address(ck: &mut Checker<'_>, hp: &FieldPath, h: &HostConfig, net: Option<&HostNet>) {
    let ap = hp.key("address");
    let Some(addr) = literal(&h.address) else {
        return;
    };
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => {
            if let Some(n) = net {
                if !n.net.contains(a) {
                    ck.error(
                        &ap,
                        format!("{a} is outside the hosts' network {} ({})", n.net, n.from),
                    );
                } else if !n.net.is_usable_host(a) {
                    ck.error(
                        &ap,
                        format!("{a} is the network or broadcast address of {}", n.net),
                    );
                }
            }
        }
        Ok(IpAddr::V6(_)) => ck.warn(
            &ap,
            format!(
                "{addr} is an IPv6 address; foundry can't check it against the hosts' IPv4 network"
            ),
        ),
        Err(_) if is_dns_name(addr) => {
            let net = net.map(|n| format!(" {}", n.net)).unwrap_or_default();
            ck.warn(&ap, format!("`{addr}` is a DNS name; foundry can't check that it is inside the hosts' network{net} (use the IP address to get this check)"));
        }
        Err(_) => ck.error(
            &ap,
            format!("`{addr}` is neither an IPv4 address nor a DNS name"),
        ),
    }
}

fn check_login(ck: &mut Checker<'_>, hp: &FieldPath, h: &HostConfig) {
    if h.user.as_deref().is_some_and(|u| u.trim().is_empty()) {
        ck.error(
            &hp.key("user"),
            "user is empty; leave it out to use ssh.user",
        );
    }
    if h.ssh_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        ck.error(
            &hp.key("ssh_key"),
            "ssh_key is empty; leave it out to use ssh.key or ssh-agent",
        );
    }
    for (field, v) in [
        ("password", &h.password),
        ("sudo_password", &h.sudo_password),
    ] {
        if let Some(v) = v {
            if literal(v).is_some() && !v.is_empty() {
                ck.warn(
                    &hp.key(field),
                    format!("{field} is written in the file; store it with `foundry secret set hosts/{} {field} -` and write `${{secret:hosts/{}:{field}}}` here", h.hostname, h.hostname),
                );
            }
        }
    }
    if h.sudo == Some(false) && h.sudo_password.is_some() {
        ck.warn(
            &hp.key("sudo_password"),
            "sudo_password is ignored because sudo is false",
        );
    }
}

fn check_roles(ck: &mut Checker<'_>, hp: &FieldPath, h: &HostConfig) {
    if h.roles.is_empty() {
        ck.warn(&hp.key("roles"), format!("host `{}` has no roles; foundry will install nothing on it (roles: openbao, zot, cluster-control-plane, cluster-worker, cluster)", h.hostname));
    }
    for (j, r) in h.roles.iter().enumerate() {
        if h.roles[..j].contains(r) {
            ck.warn(
                &hp.key("roles").index(j),
                format!("role `{r}` is listed twice"),
            );
        }
    }
    if h.has_role(crate::config::Role::ClusterControlPlane)
        && h.has_role(crate::config::Role::ClusterWorker)
    {
        ck.warn(
            &hp.key("roles"),
            "cluster-control-plane hosts already run workloads; cluster-worker is redundant",
        );
    }
    if h.has_role(crate::config::Role::Cluster)
        && (h.has_role(crate::config::Role::ClusterControlPlane)
            || h.has_role(crate::config::Role::ClusterWorker))
    {
        ck.warn(
            &hp.key("roles"),
            "role `cluster` lets foundry pick server or agent; with cluster-control-plane or cluster-worker pinned it is redundant (the pinned role wins)",
        );
    }
}

/// Kubernetes label syntax: `[prefix/]name` with name ≤ 63 of `[A-Za-z0-9._-]` (alphanumeric at
/// both ends), prefix a DNS name; values ≤ 63 of the same characters, may be empty.
fn check_labels(ck: &mut Checker<'_>, hp: &FieldPath, h: &HostConfig) {
    for (k, v) in &h.labels {
        let lp = hp.key("labels").key(k);
        let (prefix, name) = match k.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, k.as_str()),
        };
        if prefix.is_some_and(|p| !is_dns_name(p)) || !is_label_name(name) {
            ck.error(&lp, format!("`{k}` is not a valid Kubernetes label key: [prefix/]name, name up to 63 of letters, digits, `-`, `_`, `.`"));
        }
        if !v.is_empty() && !is_label_name(v) {
            ck.error(&lp, "label value must be up to 63 of letters, digits, `-`, `_`, `.`, starting and ending with a letter or digit");
        }
    }
}

fn is_label_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// `key[=value]:Effect`.
pub fn parse_taint(t: &str) -> Result<(String, Option<String>, String), String> {
    const FORM: &str =
        "expected key[=value]:Effect with Effect one of NoSchedule, PreferNoSchedule, NoExecute";
    let (kv, effect) = t
        .rsplit_once(':')
        .ok_or_else(|| format!("taint `{t}` has no effect; {FORM}"))?;
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        let hint =
            crate::config::suggest::hint(effect, ["NoSchedule", "PreferNoSchedule", "NoExecute"]);
        return Err(format!("taint `{t}` has effect `{effect}`{hint} ({FORM})"));
    }
    let (k, v) = match kv.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (kv, None),
    };
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    if prefix.is_some_and(|p| !is_dns_name(p)) || !is_label_name(name) {
        return Err(format!("taint `{t}` has an invalid key `{k}`; {FORM}"));
    }
    if let Some(v) = v {
        if !v.is_empty() && !is_label_name(v) {
            return Err(format!("taint `{t}` has an invalid value `{v}`; {FORM}"));
        }
    }
    Ok((k.to_string(), v.map(str::to_string), effect.to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::Severity::*;
    use super::parse_taint;

    #[test]
    fn duplicate_hostname() {
        let fs = broken("hostname: node-2", "hostname: node-1");
        let f = one(&fs, Error, "hosts[1].hostname", "already used by hosts[0]");
        assert_eq!((f.line, f.column), (Some(12), Some(15)));
    }

    #[test]
    fn bad_hostname_and_addresses() {
        one(
            &broken("hostname: node-2", "hostname: Node_2"),
            Error,
            "hosts[1].hostname",
            "not a valid hostname",
        );
        one(
            &broken("address: 10.0.0.12", "address: 10.0.9.12"),
            Error,
            "hosts[1].address",
            "outside the hosts' network",
        );
        one(
            &broken("address: 10.0.0.12", "address: 10.0.0.11"),
            Error,
            "hosts[1].address",
            "also hosts[0]",
        );
        one(
            &broken("address: 10.0.0.12", "address: node-2.lab"),
            Warning,
            "hosts[1].address",
            "DNS name",
        );
        one(
            &broken("address: 10.0.0.12", "address: 'not an address'"),
            Error,
            "hosts[1].address",
            "neither",
        );
        // same address, different port: allowed (e.g. port-forwarded lab hosts)
        let fs = broken(
            "address: 10.0.0.12\n",
            "address: 10.0.0.11\n    port: 2222\n",
        );
        assert!(fs.is_empty(), "{fs:#?}");
    }

    #[test]
    fn ports_users_and_literal_passwords() {
        one(
            &broken("address: 10.0.0.12\n", "address: 10.0.0.12\n    port: 0\n"),
            Error,
            "hosts[1].port",
            "port 0",
        );
        one(
            &broken("address: 10.0.0.12\n", "address: 10.0.0.12\n    user: ''\n"),
            Error,
            "hosts[1].user",
            "empty",
        );
        one(
            &broken(
                "address: 10.0.0.12\n",
                "address: 10.0.0.12\n    password: hunter22\n",
            ),
            Warning,
            "hosts[1].password",
            "secret set hosts/node-2 password",
        );
        let fs = broken(
            "address: 10.0.0.12\n",
            "address: 10.0.0.12\n    sudo_password: ${secret:hosts/node-2:sudo}\n",
        );
        assert!(fs.is_empty(), "{fs:#?}");
    }

    #[test]
    fn roles_labels_taints() {
        one(
            &broken(
                "roles: [cluster-control-plane]\n  - hostname: node-3",
                "roles: []\n  - hostname: node-3",
            ),
            Warning,
            "hosts[1].roles",
            "no roles",
        );
        let fs = broken("    roles: [cluster-control-plane]\n  - hostname: node-3", "    roles: [cluster-control-plane]\n    taints: ['dedicated=db:NoSchedul']\n  - hostname: node-3");
        let f = one(
            &fs,
            Error,
            "hosts[1].taints[0]",
            "did you mean `NoSchedule`?",
        );
        assert_eq!(f.line, Some(15));
        let fs = broken(
            "    roles: [cluster-control-plane]\n  - hostname: node-3",
            "    roles: [cluster-control-plane]\n    labels: {'bad key!': x}\n  - hostname: node-3",
        );
        one(&fs, Error, r#"hosts[1].labels["bad key!"]"#, "label key");
    }

    #[test]
    fn taint_syntax() {
        assert_eq!(
            parse_taint("a=b:NoSchedule").unwrap(),
            ("a".into(), Some("b".into()), "NoSchedule".into())
        );
        assert_eq!(
            parse_taint("node-role.kubernetes.io/master:NoExecute")
                .unwrap()
                .1,
            None
        );
        assert!(parse_taint("a=b").is_err());
        assert!(parse_taint("=b:NoSchedule").is_err());
        assert!(parse_taint("a=b c:NoSchedule").is_err());
    }
}
