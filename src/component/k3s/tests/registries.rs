//! registries.yaml (moved from the Zot tests with the renderer): golden files and one test per
//! rule of the reference facts (§1 registries.yaml), checked on the parsed output.

use super::golden;
use crate::component::k3s::registries::{self, MirrorSettings};
use crate::component::zot::config as zot_config;
use crate::config::ZotConfig;

fn zot_defaults() -> ZotConfig {
    serde_yaml::from_str("{}").unwrap()
}

fn mirror(plain_http: bool) -> MirrorSettings {
    MirrorSettings {
        endpoint: "10.0.0.5:5000".into(),
        plain_http,
        upstreams: zot_defaults().upstreams,
        ..Default::default()
    }
}

fn yaml(m: &MirrorSettings) -> serde_yaml::Value {
    serde_yaml::from_str(&registries::render(m).unwrap()).unwrap()
}

#[test]
fn golden_registries_yaml() {
    let m = MirrorSettings {
        username: Some("admin".into()),
        password: Some("example-password".into()),
        ..mirror(true)
    };
    golden("k3s/registries.yaml", &registries::render(&m).unwrap());
    let f = registries::file(&m).unwrap();
    assert_eq!(
        (f.path.as_str(), f.mode, f.secret),
        (registries::PATH, 0o600, true)
    );
}

#[test]
fn golden_registries_yaml_tls_with_ca() {
    let m = MirrorSettings {
        endpoint: "zot.lan:5000".into(),
        ca_file: Some("/etc/ssl/certs/lan-ca.pem".into()),
        ..mirror(false)
    };
    golden("k3s/registries-tls.yaml", &registries::render(&m).unwrap());
}

#[test]
fn registries_explicit_mirrors_never_star() {
    let y = yaml(&mirror(true));
    let mirrors = y["mirrors"].as_mapping().unwrap();
    assert!(mirrors.get("*").is_none());
    for u in ["docker.io", "ghcr.io", "quay.io", "registry.k8s.io"] {
        assert!(mirrors.get(u).is_some(), "no mirror for {u}");
    }
}

#[test]
fn registries_http_endpoint_for_plain_http_https_otherwise() {
    for (plain, scheme) in [(true, "http://"), (false, "https://")] {
        let y = yaml(&mirror(plain));
        for (_, m) in y["mirrors"].as_mapping().unwrap() {
            let eps = m["endpoint"].as_sequence().unwrap();
            assert_eq!(eps.len(), 1);
            assert_eq!(eps[0].as_str().unwrap(), format!("{scheme}10.0.0.5:5000"));
        }
    }
}

#[test]
fn registries_rewrite_matches_zot_sync_destination() {
    let y = yaml(&mirror(true));
    let z: serde_json::Value =
        serde_json::from_str(&zot_config::render(&zot_defaults()).unwrap().json).unwrap();
    for r in z["extensions"]["sync"]["registries"].as_array().unwrap() {
        let dest = r["content"][0]["destination"].as_str().unwrap();
        let up = dest.trim_start_matches('/');
        let rw = y["mirrors"][up]["rewrite"].as_mapping().unwrap();
        assert_eq!(rw.len(), 1);
        let (from, to) = rw.iter().next().unwrap();
        assert_eq!(from.as_str().unwrap(), "^(.*)$");
        // what containerd asks for (`library/alpine`) lands where Zot stores it
        let repo = "library/alpine";
        let rewritten = to.as_str().unwrap().replace("$1", repo);
        assert_eq!(format!("/{rewritten}"), format!("{dest}/{repo}"));
    }
}

#[test]
fn registries_auth_and_tls_only_when_configured() {
    let y = yaml(&mirror(true));
    assert!(y.get("configs").is_none(), "{y:?}");
    let mut m = MirrorSettings {
        username: Some("admin".into()),
        password: Some("pw".into()),
        ..mirror(false)
    };
    let y = yaml(&m);
    let c = &y["configs"]["10.0.0.5:5000"];
    assert_eq!(c["auth"]["username"], "admin");
    assert_eq!(c["auth"]["password"], "pw");
    assert!(c.get("tls").is_none());
    m.insecure_skip_verify = true;
    let y = yaml(&m);
    assert_eq!(
        y["configs"]["10.0.0.5:5000"]["tls"]["insecure_skip_verify"],
        true
    );
    assert!(y["configs"]["10.0.0.5:5000"]["tls"]
        .get("ca_file")
        .is_none());
    // any password survives the YAML quoting
    let odd = "p\"a: ss\\#x'\n{y}";
    m.password = Some(odd.into());
    assert_eq!(
        yaml(&m)["configs"]["10.0.0.5:5000"]["auth"]["password"],
        odd
    );
    // and never shows in Debug output
    assert!(!format!("{m:?}").contains("ss\\#x"), "{m:?}");
    let e = registries::render(&MirrorSettings {
        endpoint: "http://x:5000".into(),
        ..mirror(true)
    })
    .unwrap_err();
    assert!(e.to_string().contains("host:port"), "{e}");
    let e = registries::render(&MirrorSettings {
        username: Some("admin".into()),
        ..mirror(true)
    })
    .unwrap_err();
    assert!(
        e.to_string().contains("both a username and a password"),
        "{e}"
    );
}

#[test]
fn settings_from_the_stack_follow_zot() {
    let s = super::fixture::stack();
    let m = MirrorSettings::from_stack(&s, Some(("admin".into(), "pw".into()))).unwrap();
    assert_eq!(
        (m.endpoint.as_str(), m.plain_http),
        ("192.168.10.11:5000", true)
    );
    assert_eq!(m.upstreams, zot_defaults().upstreams);
    assert_eq!(
        (m.username.as_deref(), m.password.as_deref()),
        (Some("admin"), Some("pw"))
    );
    let mut s = s;
    s.components.zot = None;
    assert!(MirrorSettings::from_stack(&s, None).is_none());
}
