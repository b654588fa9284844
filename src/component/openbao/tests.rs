//! Rendering tests: config.hcl against golden files (`UPDATE_GOLDEN=1 cargo test` rewrites
//! them), TLS vs plain HTTP, and the unit's container arguments.

use super::*;
use std::path::PathBuf;

fn stack(extra_openbao: &str, hosts: &[(&str, &str)]) -> StackConfig {
    let mut y =
        String::from("cluster: {name: lab, domain: lab.example.com, vip: 10.214.0.100}\nhosts:\n");
    for (name, addr) in hosts {
        y.push_str(&format!(
            "  - {{hostname: {name}, address: \"{addr}\", roles: [openbao]}}\n"
        ));
    }
    y.push_str("images: {registry: \"10.214.0.1:5000\", insecure: true}\n");
    y.push_str(&format!("components:\n  openbao: {{{extra_openbao}}}\n"));
    serde_yaml::from_str(&y).unwrap()
}

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/openbao")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `UPDATE_GOLDEN=1 cargo test` to create it",
            path.display()
        )
    });
    assert!(
        want == actual,
        "{} differs (UPDATE_GOLDEN=1 to accept):\n{}",
        path.display(),
        similar::TextDiff::from_lines(want.as_str(), actual)
            .unified_diff()
            .header("golden", "actual")
    );
}

fn config_hcl(st: &StackConfig, host: usize) -> String {
    let d = desired_for(st, &st.hosts[host], RuntimeKind::Podman).unwrap();
    assert_eq!(d.files.len(), 1);
    assert_eq!(d.files[0].path, "/etc/openbao/config.hcl");
    String::from_utf8(d.files[0].content.clone()).unwrap()
}

#[test]
fn config_hcl_plain_http_golden() {
    let st = stack("", &[("bao-1", "10.214.0.11")]);
    let c = config_hcl(&st, 0);
    golden("config.hcl", &c);
    assert!(c.contains("tls_disable     = true"));
    assert!(!c.contains("tls_cert_file"));
    assert!(!c.contains("mlock"));
    assert!(plain_http_warning(&st).is_some());
    assert!(Openbao
        .describe(&st, &st.hosts[0])
        .iter()
        .any(|l| l.contains("plain HTTP")));
}

#[test]
fn config_hcl_tls_golden() {
    let st = stack(
        "tls_cert: /etc/ssl/bao.crt, tls_key: /etc/ssl/private/bao.key, port: 8300",
        &[("bao-1", "10.214.0.11")],
    );
    let c = config_hcl(&st, 0);
    golden("config-tls.hcl", &c);
    assert!(c.contains("tls_cert_file   = \"/openbao/tls/tls.crt\""));
    assert!(!c.contains("tls_disable"));
    assert!(c.contains("api_addr     = \"https://10.214.0.11:8300\""));
    assert!(plain_http_warning(&st).is_none());
    let d = desired_for(&st, &st.hosts[0], RuntimeKind::Podman).unwrap();
    assert!(d
        .svc
        .volumes
        .contains(&"/etc/ssl/bao.crt:/openbao/tls/tls.crt:ro".to_string()));
    assert!(d
        .svc
        .volumes
        .contains(&"/etc/ssl/private/bao.key:/openbao/tls/tls.key:ro".to_string()));
}

#[test]
fn config_hcl_cluster_golden() {
    let st = stack(
        "",
        &[
            ("bao-1", "10.214.0.11"),
            ("bao-2", "fd00::12"),
            ("bao-3", "bao-3.lan"),
        ],
    );
    let c = config_hcl(&st, 1);
    golden("config-cluster.hcl", &c);
    assert!(c.contains("node_id = \"bao-2\""));
    assert!(c.contains("disable_standby_reads = true"));
    assert!(c.contains("leader_api_addr = \"http://10.214.0.11:8200\""));
    assert!(!c.contains("leader_api_addr = \"http://[fd00::12]:8200\""));
}

#[test]
fn unit_runs_bao_directly_as_root_without_capabilities() {
    let st = stack("", &[("bao-1", "10.214.0.11")]);
    let d = desired_for(&st, &st.hosts[0], RuntimeKind::Podman).unwrap();
    assert_eq!(d.svc.image, "10.214.0.1:5000/openbao/openbao:2.7.2");
    assert!(d.insecure_registry);
    let unit = d.svc.render_unit();
    assert!(
        unit.contains("--volume /etc/openbao:/openbao/config:ro,z --volume /var/lib/openbao:/openbao/file:z --env BAO_ADDR=http://10.214.0.11:8200 --user 0:0 --entrypoint bao --cap-drop ALL --security-opt no-new-privileges 10.214.0.1:5000/openbao/openbao:2.7.2 server -config=/openbao/config\n"),
        "{unit}"
    );
    assert!(!unit.contains("IPC_LOCK"));
    let dirs: Vec<(String, u32)> = d.dirs.iter().map(|x| (x.path.clone(), x.mode)).collect();
    assert_eq!(
        dirs,
        vec![
            ("/etc/openbao".to_string(), 0o750),
            ("/var/lib/openbao".to_string(), 0o700)
        ]
    );
}

#[test]
fn image_override_and_registry_rewrite() {
    let st = stack(
        "image: \"quay.io/openbao/openbao-ubi:2.7.2\"",
        &[("b", "10.0.0.1")],
    );
    assert_eq!(image(&st), "10.214.0.1:5000/openbao/openbao-ubi:2.7.2");
    let mut st = stack("version: \"2.6.0\"", &[("b", "10.0.0.1")]);
    st.images.registry = None;
    assert_eq!(image(&st), "quay.io/openbao/openbao:2.6.0");
}

#[test]
fn bad_paths_and_half_tls_are_refused() {
    let st = stack("data_dir: \"/var/lib/bao:x\"", &[("b", "10.0.0.1")]);
    let e = desired_for(&st, &st.hosts[0], RuntimeKind::Podman).unwrap_err();
    assert!(e.to_string().contains("openbao.data_dir"), "{e}");
    let st = stack("tls_cert: /etc/c.pem", &[("b", "10.0.0.1")]);
    let e = desired_for(&st, &st.hosts[0], RuntimeKind::Podman).unwrap_err();
    assert!(e.to_string().contains("together"), "{e}");
}

#[test]
fn enabled_by_role_or_section() {
    let st = stack("enabled: false", &[("b", "10.0.0.1")]);
    assert!(!Openbao.enabled(&st));
    let mut st = stack("", &[("b", "10.0.0.1")]);
    assert!(Openbao.enabled(&st));
    st.components.openbao = None;
    assert!(Openbao.enabled(&st));
    st.hosts[0].roles.clear();
    assert!(!Openbao.enabled(&st));
}

#[test]
fn api_status_rows() {
    use crate::openbao::client::Health;
    let h = |code| Health {
        code,
        initialized: code != 501,
        sealed: code == 503,
        standby: code == 429,
        version: "2.7.2".into(),
    };
    assert!(api_status(&h(200), false).healthy);
    let sealed = api_status(&h(503), false);
    assert!(!sealed.healthy && sealed.message.contains("foundry openbao unseal"));
    assert!(!api_status(&h(501), false).installed);
    assert!(!api_status(&h(429), false).healthy);
    assert!(api_status(&h(429), true).healthy);
}
