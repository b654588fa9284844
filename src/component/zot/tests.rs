//! Golden files (kubeone style: `UPDATE_GOLDEN=1 cargo test --lib zot` rewrites them) and one
//! test per rule of the reference facts (Zot §4, registries.yaml §1). The rules are checked on
//! the parsed output, not on strings this file wrote.

use super::config;
use crate::config::ZotConfig;
use std::path::PathBuf;

/// Compare `actual` with `tests/golden/<rel>`; with `UPDATE_GOLDEN=1` write it instead.
pub fn golden(rel: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(rel);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (create it with UPDATE_GOLDEN=1 cargo test --lib)",
            path.display()
        )
    });
    if want != actual {
        let diff = similar::TextDiff::from_lines(want.as_str(), actual)
            .unified_diff()
            .header("golden", "rendered")
            .to_string();
        panic!(
            "{} differs from the rendered output (UPDATE_GOLDEN=1 to accept):\n{diff}",
            path.display()
        );
    }
}

/// `components.zot` with every default, as a user gets it from `zot: {}`.
fn defaults() -> ZotConfig {
    serde_yaml::from_str("{}").unwrap()
}

fn json(z: &ZotConfig) -> serde_json::Value {
    serde_json::from_str(&config::render(z).unwrap().json).unwrap()
}

fn upstreams() -> Vec<String> {
    defaults().upstreams
}

#[test]
fn golden_config_json() {
    golden(
        "zot/config.json",
        &config::render(&defaults()).unwrap().json,
    );
}

#[test]
fn golden_config_json_tls_no_anonymous() {
    let mut z = defaults();
    z.tls_cert = Some("/etc/ssl/zot.crt".into());
    z.tls_key = Some("/etc/ssl/zot.key".into());
    z.anonymous_read = false;
    z.ui = false;
    z.search = false;
    z.upstreams = vec!["docker.io".into()];
    golden("zot/config-tls.json", &config::render(&z).unwrap().json);
}

#[test]
fn compat_always_contains_docker2s2() {
    for anonymous in [true, false] {
        let mut z = defaults();
        z.anonymous_read = anonymous;
        z.upstreams.clear();
        let j = json(&z);
        let compat = j["http"]["compat"].as_array().unwrap();
        assert!(compat.iter().any(|c| c == "docker2s2"), "{}", j["http"]);
    }
}

#[test]
fn exactly_one_on_demand_sync_entry_per_upstream_with_url_and_destination() {
    let j = json(&defaults());
    let regs = j["extensions"]["sync"]["registries"].as_array().unwrap();
    let ups = upstreams();
    assert_eq!(regs.len(), ups.len());
    let want = [
        ("docker.io", "https://index.docker.io"),
        ("ghcr.io", "https://ghcr.io"),
        ("quay.io", "https://quay.io"),
        ("registry.k8s.io", "https://registry.k8s.io"),
    ];
    for (up, url) in want {
        let matching: Vec<_> = regs
            .iter()
            .filter(|r| r["urls"].as_array().unwrap().iter().any(|u| u == url))
            .collect();
        assert_eq!(matching.len(), 1, "{up}: {regs:?}");
        let r = matching[0];
        assert_eq!(r["urls"].as_array().unwrap().len(), 1, "{r}");
        assert_eq!(r["onDemand"], true, "{r}");
        assert_eq!(r["tlsVerify"], true, "{r}");
        let content = r["content"].as_array().unwrap();
        assert_eq!(content.len(), 1);
        assert_eq!(content[0]["prefix"], "**");
        assert_eq!(content[0]["destination"], format!("/{up}"));
    }
    assert_eq!(j["extensions"]["sync"]["enable"], true);
}

#[test]
fn no_upstreams_means_no_sync_section() {
    let mut z = defaults();
    z.upstreams.clear();
    assert!(json(&z)["extensions"].get("sync").is_none());
}

#[test]
fn access_control_admin_full_and_anonymous_read_only_when_asked() {
    let j = json(&defaults());
    let ac = &j["http"]["accessControl"];
    assert_eq!(ac["adminPolicy"]["users"], serde_json::json!(["admin"]));
    assert_eq!(
        ac["adminPolicy"]["actions"],
        serde_json::json!(["read", "create", "update", "delete"])
    );
    assert_eq!(
        ac["repositories"]["**"]["anonymousPolicy"],
        serde_json::json!(["read"])
    );
    assert_eq!(j["http"]["auth"]["htpasswd"]["path"], "/etc/zot/htpasswd");
    let mut z = defaults();
    z.anonymous_read = false;
    let j = json(&z);
    assert!(
        j["http"]["accessControl"].get("repositories").is_none(),
        "{}",
        j["http"]["accessControl"]
    );
}

#[test]
fn ui_forces_search() {
    let mut z = defaults();
    z.ui = true;
    z.search = false;
    let r = config::render(&z).unwrap();
    let j: serde_json::Value = serde_json::from_str(&r.json).unwrap();
    assert_eq!(j["extensions"]["ui"]["enable"], true);
    assert_eq!(j["extensions"]["search"]["enable"], true);
    assert!(
        r.notes.iter().any(|n| n.contains("search")),
        "{:?}",
        r.notes
    );
    z.ui = false;
    let j = json(&z);
    assert_eq!(j["extensions"]["search"]["enable"], false);
    assert_eq!(j["extensions"]["ui"]["enable"], false);
}

#[test]
fn storage_port_and_tls_use_container_paths() {
    let mut z = defaults();
    z.port = 5443;
    z.storage_path = "/srv/zot".into();
    let j = json(&z);
    assert_eq!(j["http"]["port"], "5443");
    assert_eq!(j["http"]["address"], "0.0.0.0");
    assert_eq!(j["storage"]["rootDirectory"], "/var/lib/registry");
    assert!(j["http"].get("tls").is_none());
    z.tls_cert = Some("/x.crt".into());
    assert!(config::render(&z)
        .unwrap_err()
        .to_string()
        .contains("tls_key"));
    z.tls_key = Some("/x.key".into());
    let j = json(&z);
    let mut bad = defaults();
    bad.storage_path = "relative/dir".into();
    let e = config::render(&bad).unwrap_err().to_string();
    assert!(e.contains("components.zot.storage_path"), "{e}");
    assert_eq!(j["http"]["tls"]["cert"], config::CONTAINER_TLS_CERT);
}
