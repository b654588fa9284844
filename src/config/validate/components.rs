//! Components: every enabled one has hosts with its role, settings are consistent, and the
//! smaller sections (ssh defaults, images, services). Storage is in `storage.rs`.

use super::network::HostNet;
use super::{literal, p, Checker};
use crate::config::net::{is_dns_name, is_rfc1123_label, Ipv4Net};
use crate::config::path::FieldPath;
use crate::config::schema::{Role, StackConfig};
use std::collections::HashMap;

fn on<T>(c: &Option<T>, enabled: impl Fn(&T) -> bool) -> bool {
    c.as_ref().is_some_and(enabled)
}

pub(super) fn check(ck: &mut Checker<'_>, net: Option<&HostNet>) {
    let c = ck.l.config.clone();
    check_cluster(ck, &c);
    check_roles_coverage(ck, &c);
    check_openbao(ck, &c);
    check_zot(ck, &c);
    check_k3s(ck, &c, net);
    check_small_sections(ck, &c);
    check_services(ck, &c);
}

fn check_cluster(ck: &mut Checker<'_>, c: &StackConfig) {
    let cp = p("cluster");
    if let Some(n) = literal(&c.cluster.name) {
        if !is_rfc1123_label(n) {
            ck.error(&cp.key("name"), format!("`{n}` is not an RFC 1123 label: 1-63 lowercase letters, digits and `-`, starting and ending with a letter or digit"));
        }
    }
    if let Some(d) = literal(&c.cluster.domain) {
        if !is_dns_name(d) {
            ck.error(
                &cp.key("domain"),
                format!("`{d}` is not a DNS domain name (e.g. home.example.com)"),
            );
        }
    }
}

fn check_roles_coverage(ck: &mut Checker<'_>, c: &StackConfig) {
    let comps = p("components");
    // Servers as the K3s component will resolve them: pinned control-plane hosts plus the
    // `cluster` hosts the count rule makes servers (component::k3s::roles).
    let nodes = crate::component::k3s::roles::resolve(c);
    let cp_count = nodes.iter().filter(|n| n.role.is_server()).count();
    // Without K3s (a stack that only runs OpenBao and Zot so far) there is no cluster yet:
    // a missing control plane is then a warning, not an error.
    let cluster_wanted = c.components.k3s.as_ref().is_some_and(|k| k.enabled);
    if cp_count == 0 && cluster_wanted {
        ck.error(
            &p("hosts"),
            "no host is a K3s server: give at least one host role cluster-control-plane (or cluster, and foundry picks the servers by count)",
        );
    } else if cp_count == 0 {
        ck.warn(
            &p("hosts"),
            "no host has role cluster-control-plane or cluster; the stack needs at least one before K3s can be installed",
        );
    } else if cp_count % 2 == 0 {
        ck.warn(
            &p("hosts"),
            // Only pinned servers can make the count even (the count rule keeps it odd).
            format!("{cp_count} hosts have role cluster-control-plane; with an even number etcd tolerates no more failures than with one fewer (use 1, 3 or 5)"),
        );
    }
    let k3s_on = on(&c.components.k3s, |k| k.enabled);
    if c.components.k3s.is_none() && cp_count > 0 {
        ck.warn(&comps, "components.k3s is not configured: the cluster-control-plane hosts will get no Kubernetes; add `k3s: {version: v1.33.5+k3s1}` or set `k3s.enabled: false`");
    }
    for (name, enabled) in [
        ("kube_vip", on(&c.components.kube_vip, |x| x.enabled)),
        ("contour", on(&c.components.contour, |x| x.enabled)),
        (
            "cert_manager",
            on(&c.components.cert_manager, |x| x.enabled),
        ),
    ] {
        if enabled && !k3s_on {
            ck.error(
                &comps.key(name),
                format!("{name} runs in the Kubernetes cluster, but components.k3s is not enabled"),
            );
        }
    }
    for (name, role, enabled) in [
        (
            "openbao",
            Role::Openbao,
            on(&c.components.openbao, |x| x.enabled),
        ),
        ("zot", Role::Zot, on(&c.components.zot, |x| x.enabled)),
    ] {
        let holders: Vec<usize> = c
            .hosts
            .iter()
            .enumerate()
            .filter(|(_, h)| h.has_role(role))
            .map(|(i, _)| i)
            .collect();
        if enabled && holders.is_empty() {
            ck.error(
                &comps.key(name),
                format!(
                    "{name} is enabled, but no host has role `{role}`; add it to a host's roles"
                ),
            );
        }
        if !enabled {
            for i in holders {
                ck.warn(
                    &p("hosts").index(i).key("roles"),
                    format!("host `{}` has role `{role}`, but components.{name} is not enabled; nothing will be installed for it", c.hosts[i].hostname),
                );
            }
        }
    }
}

fn check_path_abs(ck: &mut Checker<'_>, path: &FieldPath, v: &str) {
    if let Some(v) = literal(v) {
        if !v.starts_with('/') {
            ck.error(path, format!("`{v}` must be an absolute path on the host"));
        }
    }
}

fn check_tls_pair(
    ck: &mut Checker<'_>,
    base: &FieldPath,
    cert: &Option<String>,
    key: &Option<String>,
) {
    match (cert, key) {
        (Some(_), None) => ck.error(
            &base.key("tls_cert"),
            "tls_cert is set without tls_key; set both or neither",
        ),
        (None, Some(_)) => ck.error(
            &base.key("tls_key"),
            "tls_key is set without tls_cert; set both or neither",
        ),
        (Some(c), Some(k)) => {
            check_path_abs(ck, &base.key("tls_cert"), c);
            check_path_abs(ck, &base.key("tls_key"), k);
        }
        (None, None) => {}
    }
}

fn check_openbao(ck: &mut Checker<'_>, c: &StackConfig) {
    let Some(o) = &c.components.openbao else {
        return;
    };
    let op = p("components").key("openbao");
    if o.key_shares == 0 {
        ck.error(&op.key("key_shares"), "key_shares must be at least 1");
    }
    if o.key_threshold == 0 {
        ck.error(&op.key("key_threshold"), "key_threshold must be at least 1");
    } else if o.key_threshold > o.key_shares {
        ck.error(
            &op.key("key_threshold"),
            format!(
                "key_threshold {} is more than key_shares {}; OpenBao could never be unsealed",
                o.key_threshold, o.key_shares
            ),
        );
    }
    for (f, v) in [("port", o.port), ("cluster_port", o.cluster_port)] {
        if v == 0 {
            ck.error(&op.key(f), format!("{f} must not be 0"));
        }
    }
    if o.port != 0 && o.port == o.cluster_port {
        ck.error(
            &op.key("cluster_port"),
            format!("cluster_port {} is the same as port", o.cluster_port),
        );
    }
    check_path_abs(ck, &op.key("data_dir"), &o.data_dir);
    check_path_abs(ck, &op.key("config_dir"), &o.config_dir);
    check_tls_pair(ck, &op, &o.tls_cert, &o.tls_key);
    if let Some(a) = o.address.as_deref().and_then(literal) {
        if !(a.starts_with("http://") || a.starts_with("https://")) {
            ck.error(
                &op.key("address"),
                format!("`{a}` must start with http:// or https://"),
            );
        }
    }
}

fn check_zot(ck: &mut Checker<'_>, c: &StackConfig) {
    let Some(z) = &c.components.zot else { return };
    let zp = p("components").key("zot");
    if z.port == 0 {
        ck.error(&zp.key("port"), "port must not be 0");
    }
    if let Some(o) = c
        .components
        .openbao
        .as_ref()
        .filter(|o| o.enabled && z.enabled)
    {
        let shared = c
            .hosts
            .iter()
            .any(|h| h.has_role(Role::Openbao) && h.has_role(Role::Zot));
        if shared && (z.port == o.port || z.port == o.cluster_port) {
            ck.error(
                &zp.key("port"),
                format!(
                    "port {} is also used by OpenBao on the hosts that run both",
                    z.port
                ),
            );
        }
    }
    check_path_abs(ck, &zp.key("storage_path"), &z.storage_path);
    check_path_abs(ck, &zp.key("config_dir"), &z.config_dir);
    check_tls_pair(ck, &zp, &z.tls_cert, &z.tls_key);
    if let Some(name) = z.storage_dataset.as_deref().and_then(literal) {
        check_zot_dataset(ck, c, &zp.key("storage_dataset"), name);
    }
}

/// `components.zot.storage_dataset`: a shared, writable dataset of `storage.truenas` that
/// every `zot` host may mount.
fn check_zot_dataset(ck: &mut Checker<'_>, c: &StackConfig, at: &FieldPath, name: &str) {
    let Some(t) = &c.storage.truenas else {
        ck.error(at, format!("storage_dataset `{name}` needs storage.truenas (the TrueNAS that holds it); configure it with `foundry storage configure`, or remove storage_dataset to keep Zot's storage on the host"));
        return;
    };
    let Some((i, d)) = t.dataset(name) else {
        let known: Vec<&str> = t.datasets.iter().map(|d| d.name.as_str()).collect();
        ck.error(at, format!("storage_dataset `{name}` is not in storage.truenas.datasets (known: {}); add it there with `nfs: true`", if known.is_empty() { "none".to_string() } else { known.join(", ") }));
        return;
    };
    let dp = p("storage").key("truenas").key("datasets").index(i);
    let zot_hosts: Vec<&str> = c
        .hosts_with(Role::Zot)
        .map(|h| h.hostname.as_str())
        .collect();
    if zot_hosts.len() > 1 {
        ck.error(at, format!("storage_dataset `{name}` would be shared by {} zot hosts ({}): Zot instances cannot share one storage directory (each keeps its own cache database and dedupe links in it); give one host the zot role", zot_hosts.len(), zot_hosts.join(", ")));
    }
    if !d.nfs {
        ck.error(at, format!("dataset `{name}` has no NFS share for Zot to mount: set `nfs: true` on storage.truenas.datasets[{i}]"));
    }
    if d.nfs_read_only {
        ck.error(&dp.key("nfs_read_only"), format!("dataset `{name}` holds Zot's storage (components.zot.storage_dataset), which Zot writes: the share must not be read-only"));
    }
    if d.csi.is_some() {
        ck.error(&dp.key("csi"), format!("dataset `{name}` is a CSI parent and also Zot's storage; give Zot a dataset of its own"));
    }
    if d.nfs
        && d.nfs_maproot_user
            .as_deref()
            .map(str::trim)
            .unwrap_or("")
            .is_empty()
    {
        ck.warn(&dp, format!("dataset `{name}` holds Zot's storage and Zot writes as root: without `nfs_maproot_user: root` (and `nfs_maproot_group: root`) TrueNAS maps root to nobody and the registry cannot write its blobs"));
    }
    // Explicit networks/hosts must let every `zot` host mount the share.
    if d.nfs && (!d.nfs_networks.is_empty() || !d.nfs_hosts.is_empty()) {
        let nets: Vec<Ipv4Net> = d
            .nfs_networks
            .iter()
            .filter_map(|n| Ipv4Net::parse_cidr(n).ok())
            .collect();
        for h in c.hosts_with(Role::Zot) {
            let by_net = h
                .address
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|a| nets.iter().any(|n| n.contains(a)));
            let by_host = d
                .nfs_hosts
                .iter()
                .any(|x| x == &h.address || x == &h.hostname);
            if !by_net && !by_host {
                ck.error(&dp.key(if d.nfs_networks.is_empty() { "nfs_hosts" } else { "nfs_networks" }), format!("Zot host {} ({}) may not mount dataset `{name}`: add its network to nfs_networks or its address to nfs_hosts", h.hostname, h.address));
            }
        }
    }
}

fn check_k3s(ck: &mut Checker<'_>, c: &StackConfig, net: Option<&HostNet>) {
    let Some(k) = &c.components.k3s else { return };
    let kp = p("components").key("k3s");
    for (i, a) in k.extra_args.iter().enumerate() {
        if literal(a).is_some() {
            if let Err(e) = crate::component::k3s::config::parse_extra_args(std::slice::from_ref(a))
            {
                ck.error(&kp.key("extra_args").index(i), e);
            }
        }
    }
    if let Some(b) = k.airgap_bundle.as_deref().and_then(literal) {
        if b.trim().is_empty() {
            ck.error(&kp.key("airgap_bundle"), "airgap_bundle is empty; name the local directory with the K3s binary, sha256sum-<arch>.txt and the images tarball, or remove it to install online");
        } else if b.contains("://") {
            ck.error(&kp.key("airgap_bundle"), format!("`{b}` is a URL; airgap_bundle is a local directory on the machine running foundry (download the release files into it)"));
        }
    }
    let mut nets: Vec<(&str, Ipv4Net)> = Vec::new();
    for (f, v) in [
        ("cluster_cidr", &k.cluster_cidr),
        ("service_cidr", &k.service_cidr),
    ] {
        let Some(v) = v.as_deref().and_then(literal) else {
            continue;
        };
        match Ipv4Net::parse_cidr(v) {
            Err(e) => ck.error(&kp.key(f), e),
            Ok(n) => {
                if let Some(h) = net.filter(|h| h.net.overlaps(&n)) {
                    ck.error(&kp.key(f), format!("{n} overlaps the hosts' network {}; pods/services would shadow real addresses", h.net));
                }
                if let Some((other, _)) = nets.iter().find(|(_, o)| o.overlaps(&n)) {
                    ck.error(&kp.key(f), format!("{n} overlaps {other}"));
                }
                nets.push((f, n));
            }
        }
    }
    if let Some(cm) = &c.components.cert_manager {
        let cmp = p("components").key("cert_manager");
        if let Some(e) = cm.acme_email.as_deref().and_then(literal) {
            let ok = e
                .split_once('@')
                .is_some_and(|(u, d)| !u.is_empty() && is_dns_name(d));
            if !ok {
                ck.error(
                    &cmp.key("acme_email"),
                    format!("`{e}` is not an e-mail address"),
                );
            }
        }
        check_issuer_kind(ck, c, cm, &cmp);
        if !is_dns_name(&cm.cluster_issuer) {
            ck.error(
                &cmp.key("cluster_issuer"),
                format!(
                    "`{}` is not a valid Kubernetes object name (lowercase, digits, `-`, `.`)",
                    cm.cluster_issuer
                ),
            );
        }
    }
}

/// `issuer` against `acme_email`, and `ca` against the stack having an OpenBao to keep it in.
fn check_issuer_kind(
    ck: &mut Checker<'_>,
    c: &StackConfig,
    cm: &crate::config::schema::CertManagerConfig,
    cmp: &FieldPath,
) {
    use crate::config::schema::IssuerKind;
    let Some(kind) = cm.issuer else {
        return;
    };
    match (kind, cm.acme_email.is_some()) {
        (IssuerKind::Acme, false) => ck.error(
            &cmp.key("issuer"),
            "issuer `acme` needs `acme_email` (the ACME account's e-mail address); set it, or use issuer `selfsigned` or `ca`",
        ),
        (IssuerKind::Selfsigned | IssuerKind::Ca, true) => ck.error(
            &cmp.key("acme_email"),
            format!(
                "acme_email is only used by issuer `acme`, but issuer is `{}`; remove acme_email or set `issuer: acme`",
                kind.as_str()
            ),
        ),
        _ => {}
    }
    if kind == IssuerKind::Ca && crate::openbao::address::api_address(c).is_err() {
        ck.error(
            &cmp.key("issuer"),
            "issuer `ca` keeps its CA in OpenBao, but the stack has no OpenBao: give a host role `openbao` or set components.openbao.address",
        );
    }
}

fn check_small_sections(ck: &mut Checker<'_>, c: &StackConfig) {
    let sp = p("ssh");
    if c.ssh.connect_timeout == 0 {
        ck.error(
            &sp.key("connect_timeout"),
            "connect_timeout must be at least 1 (seconds)",
        );
    }
    if c.ssh.parallel == 0 {
        ck.error(&sp.key("parallel"), "parallel must be at least 1");
    }
    let hp = p("components").key("host_prep");
    for (i, port) in c.components.host_prep.required_ports.iter().enumerate() {
        if *port == 0 {
            ck.error(&hp.key("required_ports").index(i), "port must not be 0");
        }
    }
}

fn check_services(ck: &mut Checker<'_>, c: &StackConfig) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, s) in c.components.services.iter().enumerate() {
        let sp = p("components").key("services").index(i);
        if !is_rfc1123_label(&s.name) {
            ck.error(&sp.key("name"), format!("`{}` is not an RFC 1123 label (lowercase letters, digits, `-`); it names the systemd unit and the container", s.name));
        }
        for reserved in ["openbao", "zot"] {
            if s.name == reserved {
                ck.error(
                    &sp.key("name"),
                    format!("`{reserved}` is the name of foundry's own {reserved} service"),
                );
            }
        }
        if let Some(first) = seen.insert(s.name.as_str(), i) {
            ck.error(
                &sp.key("name"),
                format!(
                    "service name `{}` is already used by components.services[{first}]",
                    s.name
                ),
            );
        }
        for (j, v) in s.volumes.iter().enumerate() {
            let Some(v) = literal(v) else { continue };
            let parts: Vec<&str> = v.split(':').collect();
            let ok = match parts.as_slice() {
                [h, c] => h.starts_with('/') && c.starts_with('/'),
                [h, c, o] => {
                    h.starts_with('/')
                        && c.starts_with('/')
                        && o.split(',').all(|o| matches!(o, "ro" | "rw" | "z" | "Z"))
                }
                _ => false,
            };
            if !ok {
                ck.error(
                    &sp.key("volumes").index(j),
                    format!("`{v}` must be /host/path:/container/path[:ro]"),
                );
            }
        }
        for f in s.files.keys() {
            if !f.starts_with('/') {
                ck.error(
                    &sp.key("files").key(f),
                    format!("`{f}` must be an absolute path on the host"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::Severity::*;

    #[test]
    fn cluster_name_and_domain() {
        one(
            &broken("name: lab", "name: Lab_1"),
            Error,
            "cluster.name",
            "RFC 1123",
        );
        one(
            &broken("domain: lab.example.com", "domain: 'lab example'"),
            Error,
            "cluster.domain",
            "DNS domain",
        );
    }

    #[test]
    fn control_plane_required_and_even_count_warns() {
        let fs = broken(
            "roles: [openbao, zot, cluster-control-plane]",
            "roles: [openbao, zot]",
        );
        let f = one(
            &fs,
            Warning,
            "hosts",
            "2 hosts have role cluster-control-plane",
        );
        assert_eq!(f.line, Some(8));
        assert_eq!(fs.len(), 1, "{fs:#?}");
        let none = BASE
            .replace("[openbao, zot, cluster-control-plane]", "[openbao, zot]")
            .replace(
                "    roles: [cluster-control-plane]\n",
                "    roles: [cluster-worker]\n",
            );
        one(&findings(&none), Error, "hosts", "no host is a K3s server");
    }

    #[test]
    fn servers_by_count_from_the_cluster_role() {
        // Five `cluster` hosts: three servers by count, no even-count warning, no error.
        let mut src = BASE
            .replace(
                "    roles: [openbao, zot, cluster-control-plane]\n",
                "    roles: [openbao, zot, cluster]\n",
            )
            .replace(
                "    roles: [cluster-control-plane]\n",
                "    roles: [cluster]\n",
            );
        src = src.replace(
            "components:\n",
            "  - {hostname: node-4, address: 10.0.0.14, roles: [cluster]}\n  - {hostname: node-5, address: 10.0.0.15, roles: [cluster]}\ncomponents:\n",
        );
        assert_eq!(src.matches("[cluster]").count(), 4, "{src}");
        assert_eq!(findings(&src), vec![]);
        // All pinned workers: no server, an error with K3s enabled.
        let workers = BASE
            .replace(
                "[openbao, zot, cluster-control-plane]",
                "[openbao, zot, cluster-worker]",
            )
            .replace(
                "    roles: [cluster-control-plane]\n",
                "    roles: [cluster-worker]\n",
            );
        one(
            &findings(&workers),
            Error,
            "hosts",
            "no host is a K3s server",
        );
        // `cluster` next to a pinned role is redundant.
        let fs = broken(
            "roles: [openbao, zot, cluster-control-plane]",
            "roles: [openbao, zot, cluster-control-plane, cluster]",
        );
        one(&fs, Warning, "hosts[0].roles", "the pinned role wins");
    }

    #[test]
    fn enabled_components_need_hosts_with_their_role() {
        let fs = broken(
            "roles: [openbao, zot, cluster-control-plane]",
            "roles: [zot, cluster-control-plane]",
        );
        one(
            &fs,
            Error,
            "components.openbao",
            "no host has role `openbao`",
        );
        let fs = broken("  zot: {}\n", "  zot: {enabled: false}\n");
        one(
            &fs,
            Warning,
            "hosts[0].roles",
            "components.zot is not enabled",
        );
        let fs = broken(
            "  k3s:\n    version: v1.33.5+k3s1\n",
            "  k3s:\n    enabled: false\n    version: v1.33.5+k3s1\n",
        );
        one(
            &fs,
            Error,
            "components.kube_vip",
            "components.k3s is not enabled",
        );
        one(
            &fs,
            Error,
            "components.contour",
            "components.k3s is not enabled",
        );
        one(
            &fs,
            Error,
            "components.cert_manager",
            "components.k3s is not enabled",
        );
    }

    #[test]
    fn openbao_keys_and_ports() {
        one(
            &broken(
                "  openbao: {}",
                "  openbao: {key_shares: 2, key_threshold: 3}",
            ),
            Error,
            "components.openbao.key_threshold",
            "more than key_shares",
        );
        one(
            &broken("  openbao: {}", "  openbao: {key_threshold: 0}"),
            Error,
            "components.openbao.key_threshold",
            "at least 1",
        );
        one(
            &broken("  openbao: {}", "  openbao: {port: 0}"),
            Error,
            "components.openbao.port",
            "must not be 0",
        );
        one(
            &broken("  zot: {}", "  zot: {port: 8200}"),
            Error,
            "components.zot.port",
            "also used by OpenBao",
        );
        one(
            &broken("  openbao: {}", "  openbao: {tls_cert: /etc/c.pem}"),
            Error,
            "components.openbao.tls_cert",
            "without tls_key",
        );
        one(
            &broken("  openbao: {}", "  openbao: {data_dir: var/lib}"),
            Error,
            "components.openbao.data_dir",
            "absolute",
        );
    }

    #[test]
    fn k3s_settings() {
        one(
            &broken("version: v1.33.5+k3s1", "version: 1.33"),
            Error,
            "components.k3s.version",
            "K3s release",
        );
        one(
            &broken(
                "version: v1.33.5+k3s1",
                "version: v1.33.5+k3s1\n    cluster_cidr: 10.0.0.0/16",
            ),
            Error,
            "components.k3s.cluster_cidr",
            "overlaps the hosts' network",
        );
        let fs = broken(
            "version: v1.33.5+k3s1",
            "version: v1.33.5+k3s1\n    extra_args: ['--token=abc', 'disable=x', '--kubelet-arg=max-pods=200']\n    airgap_bundle: https://example.com/k3s",
        );
        one(
            &fs,
            Error,
            "components.k3s.extra_args[0]",
            "foundry manages",
        );
        one(
            &fs,
            Error,
            "components.k3s.extra_args[1]",
            "starting with `--`",
        );
        one(&fs, Error, "components.k3s.airgap_bundle", "is a URL");
        assert_eq!(fs.len(), 3, "{fs:#?}");
        one(
            &broken(
                "version: v1.21.1",
                "version: v1.21.1\n    acme_email: nobody",
            ),
            Error,
            "components.cert_manager.acme_email",
            "e-mail",
        );
    }

    #[test]
    fn cert_manager_issuer_kind() {
        let cm = |extra: &str| broken("version: v1.21.1", &format!("version: v1.21.1\n{extra}"));
        // Explicit kinds that fit, and the defaults, are fine.
        for ok in [
            "    issuer: selfsigned",
            "    issuer: ca",
            "    issuer: acme\n    acme_email: ops@example.com",
            "    acme_email: ops@example.com",
        ] {
            assert_eq!(cm(ok), vec![], "{ok}");
        }
        let fs = cm("    issuer: acme");
        one(
            &fs,
            Error,
            "components.cert_manager.issuer",
            "needs `acme_email`",
        );
        assert_eq!(fs.len(), 1, "{fs:#?}");
        for kind in ["selfsigned", "ca"] {
            let fs = cm(&format!(
                "    issuer: {kind}\n    acme_email: ops@example.com"
            ));
            one(
                &fs,
                Error,
                "components.cert_manager.acme_email",
                &format!("but issuer is `{kind}`"),
            );
            assert_eq!(fs.len(), 1, "{fs:#?}");
        }
        // An unknown kind is refused where it is, with the valid ones.
        let bad = BASE.replace("version: v1.21.1", "version: v1.21.1\n    issuer: vault");
        let e = crate::config::load::load_str(std::path::Path::new("s.yaml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("components.cert_manager.issuer")
                && e.contains("valid values: selfsigned, acme, ca"),
            "{e}"
        );
        // `ca` needs an OpenBao to keep the CA in.
        let no_bao = BASE
            .replace(
                "[openbao, zot, cluster-control-plane]",
                "[zot, cluster-control-plane]",
            )
            .replace("  openbao: {}\n", "")
            .replace("version: v1.21.1", "version: v1.21.1\n    issuer: ca");
        one(
            &findings(&no_bao),
            Error,
            "components.cert_manager.issuer",
            "has no OpenBao",
        );
    }

    #[test]
    fn services_and_ssh() {
        let svc = "  services:\n    - {name: web, image: nginx}\n    - {name: web, image: ''}\n";
        let fs = findings(&format!("{BASE}{svc}"));
        one(&fs, Error, "components.services[1].name", "already used");
        one(
            &fs,
            Error,
            "components.services[1].image",
            "not an image reference",
        );
        let fs = findings(&format!(
            "{BASE}  services:\n    - {{name: Web, image: x, volumes: ['data:/d']}}\n"
        ));
        one(&fs, Error, "components.services[0].name", "RFC 1123");
        one(
            &fs,
            Error,
            "components.services[0].volumes[0]",
            "/host/path",
        );
        let fs = findings(&format!("{BASE}ssh:\n  parallel: 0\n"));
        one(&fs, Error, "ssh.parallel", "at least 1");
    }
}
