//! `storage.truenas`: a TLS URL (TrueNAS revokes a key sent over plain HTTP), trust that does
//! not hand the key to anyone (`verify_tls: false` only with a pin or a CA file), dataset names,
//! sizes and NFS settings TrueNAS will accept, and CSI parents that are not nested.

use super::{literal, p, Checker};
use crate::config::net::Ipv4Net;
use crate::config::path::FieldPath;
use crate::config::schema::{CsiRole, DatasetConfig, TruenasConfig};
use std::collections::HashMap;

/// ZFS compression values TrueNAS offers (lowercase; `gzip-N`, `zstd-N`, `zstd-fast-N` too).
fn is_compression(c: &str) -> bool {
    let c = c.to_ascii_lowercase();
    if matches!(
        c.as_str(),
        "on" | "off" | "lz4" | "gzip" | "zstd" | "zstd-fast" | "zle" | "lzjb" | "inherit"
    ) {
        return true;
    }
    let level = |prefix: &str, max: u32| {
        c.strip_prefix(prefix)
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| (1..=max).contains(&n))
    };
    level("gzip-", 9) || level("zstd-", 19) || level("zstd-fast-", 1000)
}

pub(super) fn check(ck: &mut Checker<'_>) {
    let Some(t) = ck.l.config.storage.truenas.clone() else {
        return;
    };
    let tp = p("storage").key("truenas");
    check_connection(ck, &tp, &t);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, d) in t.datasets.iter().enumerate() {
        let dp = tp.key("datasets").index(i);
        if let Some(first) = seen.insert(d.name.as_str(), i) {
            ck.error(
                &dp.key("name"),
                format!(
                    "dataset `{}` is already listed as datasets[{first}]",
                    d.name
                ),
            );
        }
        check_dataset(ck, &dp, d);
    }
    check_csi(ck, &tp, &t);
}

fn check_connection(ck: &mut Checker<'_>, tp: &FieldPath, t: &TruenasConfig) {
    if let Some(u) = literal(&t.url) {
        let lower = u.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("ws://") {
            ck.error(&tp.key("url"), format!("`{u}` is plain HTTP: TrueNAS revokes an API key that arrives over it; use https://"));
        } else if !(lower.starts_with("https://") || lower.starts_with("wss://")) {
            ck.error(&tp.key("url"), format!("`{u}` must start with https://"));
        }
    }
    if literal(&t.api_key).is_some() && !t.api_key.is_empty() {
        ck.warn(&tp.key("api_key"), "the API key is written in the file; store it with `foundry secret set truenas api_key -` and write `${secret:truenas:api_key}` here");
    }
    if t.user.trim().is_empty() {
        ck.error(
            &tp.key("user"),
            "user is empty: give the API key's owner (e.g. truenas_admin)",
        );
    }
    if t.pool.trim().is_empty() {
        ck.error(&tp.key("pool"), "pool is empty");
    }
    if let Some(fp) = t.tls_fingerprint.as_deref().and_then(literal) {
        if let Err(e) = crate::truenas::parse_fingerprint(fp) {
            ck.error(&tp.key("tls_fingerprint"), e);
        }
    }
    let pinned = t
        .tls_fingerprint
        .as_deref()
        .is_some_and(|f| !f.trim().is_empty())
        || t.ca_file.as_deref().is_some_and(|f| !f.trim().is_empty());
    if t.verify_tls == Some(false) && !pinned {
        ck.error(&tp.key("verify_tls"), "verify_tls: false needs tls_fingerprint (sha256 of TrueNAS' certificate; `foundry storage configure` shows it) or ca_file: without either, anyone on the way could take the API key");
    }
}

fn check_dataset(ck: &mut Checker<'_>, dp: &FieldPath, d: &DatasetConfig) {
    // One grammar for dataset names (no `..`, no leading `/`): `format::dataset_name`.
    if let Err(e) = super::format::dataset_name(&d.name) {
        ck.error(&dp.key("name"), e);
    }
    if let Some(q) = &d.quota {
        match crate::truenas::size::parse_size(q) {
            Err(e) => ck.error(&dp.key("quota"), e),
            Ok(b) if b != 0 && b < 1 << 30 => ck.error(
                &dp.key("quota"),
                format!("`{q}` is below 1 GiB, the smallest quota TrueNAS accepts (0 for none)"),
            ),
            Ok(_) => {}
        }
    }
    if let Some(c) = &d.compression {
        if !is_compression(c) {
            ck.error(
                &dp.key("compression"),
                format!(
                    "`{c}` is not a ZFS compression; use lz4, zstd, zstd-N, gzip-N, zle, off, …"
                ),
            );
        }
    }
    for (j, n) in d.nfs_networks.iter().enumerate() {
        if let Err(e) = Ipv4Net::parse_cidr(n) {
            ck.error(&dp.key("nfs_networks").index(j), e);
        }
    }
    for (j, h) in d.nfs_hosts.iter().enumerate() {
        if matches!(h.as_str(), "0.0.0.0" | "::" | "*") || h.trim().is_empty() {
            ck.error(&dp.key("nfs_hosts").index(j), format!("`{h}`: list hosts by name or address; for everyone leave nfs_hosts and nfs_networks empty… or give a network"));
        }
    }
    if d.nfs_maproot_group.is_some() && d.nfs_maproot_user.is_none() {
        ck.error(&dp.key("nfs_maproot_group"), "nfs_maproot_group needs nfs_maproot_user (TrueNAS: \"This field is required when map group is specified\")");
    }
    if !d.nfs {
        let ignored: Vec<&str> = [
            ("nfs_networks", !d.nfs_networks.is_empty()),
            ("nfs_hosts", !d.nfs_hosts.is_empty()),
            ("nfs_maproot_user", d.nfs_maproot_user.is_some()),
            ("nfs_maproot_group", d.nfs_maproot_group.is_some()),
            ("nfs_read_only", d.nfs_read_only),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();
        if let Some(first) = ignored.first() {
            ck.warn(
                &dp.key(first),
                format!("{} ignored because nfs is false", ignored.join(", ")),
            );
        }
    }
}

/// A CSI driver needs one parent for volumes and a separate one for snapshots, neither inside
/// the other (democratic-csi refuses nested parents).
fn check_csi(ck: &mut Checker<'_>, tp: &FieldPath, t: &TruenasConfig) {
    let with = |role: CsiRole| -> Vec<(usize, &str)> {
        t.datasets
            .iter()
            .enumerate()
            .filter(|(_, d)| d.csi == Some(role))
            .map(|(i, d)| (i, d.name.trim_matches('/')))
            .collect()
    };
    let (vols, snaps) = (with(CsiRole::Volumes), with(CsiRole::Snapshots));
    for (list, what) in [(&vols, "volumes"), (&snaps, "snapshots")] {
        for (i, _) in list.iter().skip(1) {
            ck.error(
                &tp.key("datasets").index(*i).key("csi"),
                format!(
                    "only one dataset can be the CSI {what} parent (the first is datasets[{}])",
                    list[0].0
                ),
            );
        }
    }
    match (vols.first(), snaps.first()) {
        (Some((_, v)), Some((si, s))) => {
            let nested = |a: &str, b: &str| a == b || b.starts_with(&format!("{a}/"));
            if nested(v, s) || nested(s, v) {
                ck.error(
                    &tp.key("datasets").index(*si).key("name"),
                    format!("the CSI snapshots parent `{s}` and volumes parent `{v}` must not be nested; use siblings such as k8s/volumes and k8s/snapshots"),
                );
            }
        }
        (Some((vi, _)), None) => ck.warn(&tp.key("datasets").index(*vi).key("csi"), "a CSI volumes parent without a snapshots parent: add a dataset with `csi: snapshots` (not inside this one) for volume snapshots"),
        (None, Some((si, _))) => ck.warn(&tp.key("datasets").index(*si).key("csi"), "a CSI snapshots parent without a volumes parent"),
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{findings, one, BASE};
    use super::super::Severity::{Error, Warning};

    fn st(body: &str) -> String {
        format!("{BASE}storage:\n  truenas:\n    url: https://nas.lab\n    api_key: ${{secret:truenas:api_key}}\n    pool: tank\n{body}")
    }

    #[test]
    fn urls_must_be_tls() {
        let fs = findings(&st("").replace("https://nas.lab", "http://nas.lab"));
        one(&fs, Error, "storage.truenas.url", "revokes an API key");
        let fs = findings(&st("").replace("https://nas.lab", "nas.lab"));
        one(&fs, Error, "storage.truenas.url", "https://");
        let fs = findings(&st("").replace("${secret:truenas:api_key}", "abcd-1234"));
        one(
            &fs,
            Warning,
            "storage.truenas.api_key",
            "written in the file",
        );
        assert_eq!(findings(&st("")), vec![]);
    }

    #[test]
    fn verify_tls_false_needs_a_pin_or_ca() {
        let fs = findings(&st("    verify_tls: false\n"));
        one(&fs, Error, "storage.truenas.verify_tls", "tls_fingerprint");
        let fp = format!(
            "    verify_tls: false\n    tls_fingerprint: sha256:{}\n",
            "AB:".repeat(31) + "AB"
        );
        assert_eq!(findings(&st(&fp)), vec![]);
        let fs = findings(&st("    tls_fingerprint: abc\n"));
        one(&fs, Error, "storage.truenas.tls_fingerprint", "sha256");
    }

    #[test]
    fn dataset_sizes_compression_and_nfs_settings() {
        let fs = findings(&st("    datasets:\n      - {name: a, quota: 10M, compression: brotli, nfs_maproot_group: wheel, nfs: true}\n      - {name: a}\n      - {name: b, nfs_networks: [10.0.0.0/24]}\n      - {name: /c, quota: lots}\n"));
        one(
            &fs,
            Error,
            "storage.truenas.datasets[0].quota",
            "below 1 GiB",
        );
        one(
            &fs,
            Error,
            "storage.truenas.datasets[0].compression",
            "brotli",
        );
        one(
            &fs,
            Error,
            "storage.truenas.datasets[0].nfs_maproot_group",
            "nfs_maproot_user",
        );
        one(
            &fs,
            Error,
            "storage.truenas.datasets[1].name",
            "already listed",
        );
        one(
            &fs,
            Warning,
            "storage.truenas.datasets[2].nfs_networks",
            "ignored because nfs is false",
        );
        one(
            &fs,
            Error,
            "storage.truenas.datasets[3].name",
            "relative to the pool",
        );
        one(
            &fs,
            Error,
            "storage.truenas.datasets[3].quota",
            "not a size",
        );
        let ok = "    datasets:\n      - {name: k8s/v, quota: 500GiB, compression: zstd-3, nfs: true, nfs_maproot_user: root}\n";
        assert_eq!(findings(&st(ok)), vec![]);
    }

    #[test]
    fn csi_parents_must_not_be_nested() {
        let fs = findings(&st("    datasets:\n      - {name: k8s, csi: volumes}\n      - {name: k8s/snaps, csi: snapshots}\n"));
        one(
            &fs,
            Error,
            "storage.truenas.datasets[1].name",
            "must not be nested",
        );
        let fs = findings(&st("    datasets:\n      - {name: k8s/v, csi: volumes}\n"));
        one(
            &fs,
            Warning,
            "storage.truenas.datasets[0].csi",
            "snapshots parent",
        );
        let fs = findings(&st("    datasets:\n      - {name: x, csi: volumes}\n      - {name: y, csi: volumes}\n      - {name: z, csi: snapshots}\n"));
        one(&fs, Error, "storage.truenas.datasets[1].csi", "only one");
        let ok = "    datasets:\n      - {name: k8s/volumes, csi: volumes}\n      - {name: k8s/snapshots, csi: snapshots}\n";
        assert_eq!(findings(&st(ok)), vec![]);
    }
}
