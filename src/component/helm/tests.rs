//! The rollout rules of api-behaviour A.7 and the chart comparison.

use super::chart::subset;
use super::rollout::{deployment, Rollout};
use serde_json::json;

#[test]
fn subset_ignores_what_the_server_adds() {
    let want = json!({"spec": {"chart": "contour", "version": "0.7.0"}});
    let live = json!({"spec": {"chart": "contour", "version": "0.7.0", "x": 1}, "status": {}});
    assert!(subset(&want, &live));
    let bumped = json!({"spec": {"chart": "contour", "version": "0.8.0"}});
    assert!(!subset(&bumped, &live));
}

#[test]
fn deployment_rollout_follows_kubectl() {
    let d = |gen: i64, obs: i64, avail: i64| {
        serde_json::from_value(json!({
            "metadata": {"name": "w", "generation": gen},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": obs, "replicas": 2, "updatedReplicas": 2, "availableReplicas": avail}
        }))
        .unwrap()
    };
    assert_eq!(deployment("ns", &d(2, 2, 2)), Rollout::Done);
    assert!(matches!(deployment("ns", &d(3, 2, 2)), Rollout::Waiting(m) if m.contains("observed")));
    assert!(
        matches!(deployment("ns", &d(2, 2, 1)), Rollout::Waiting(m) if m.contains("1 of 2 updated"))
    );
}

#[test]
fn static_charts_name_the_missing_archive_and_how_to_fetch_it() {
    use super::airgap::static_charts;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "cluster: {{name: lab, domain: lab.example.com, vip: 10.0.0.5}}\nnetwork: {{cidr: 10.0.0.0/24, lb_range: 10.0.0.200-10.0.0.220}}\nhosts: [{{hostname: a, address: 10.0.0.1}}]\ncomponents:\n  contour: {{version: 0.7.0}}\n  k3s: {{version: v1.33.5+k3s1, airgap_bundle: {}}}\n",
        dir.path().display()
    );
    let s: crate::config::StackConfig = serde_yaml::from_str(&text).unwrap();
    let e = format!("{:#}", static_charts(&s).unwrap_err());
    assert!(e.contains("charts/contour-0.7.0.tgz"), "{e}");
    assert!(
        e.contains("helm pull contour --repo https://projectcontour.github.io/helm-charts/ --version 0.7.0"),
        "{e}"
    );
    // Not a gzip: refused before anything is uploaded.
    std::fs::create_dir(dir.path().join("charts")).unwrap();
    std::fs::write(
        dir.path().join("charts/contour-0.7.0.tgz"),
        "<html>404</html>",
    )
    .unwrap();
    let e = format!("{:#}", static_charts(&s).unwrap_err());
    assert!(e.contains("not a gzip'd chart archive"), "{e}");
    // A real archive: one entry, to the static directory, with its sha256.
    std::fs::write(
        dir.path().join("charts/contour-0.7.0.tgz"),
        [0x1f, 0x8b, 8, 0],
    )
    .unwrap();
    let c = static_charts(&s).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(
        c[0].remote,
        "/var/lib/rancher/k3s/server/static/charts/contour-0.7.0.tgz"
    );
    assert_eq!(
        c[0].sha256,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest([0x1f, 0x8b, 8, 0]))
    );
    // Online: nothing to serve.
    let online: crate::config::StackConfig = serde_yaml::from_str(
        &text.replace(&format!(", airgap_bundle: {}", dir.path().display()), ""),
    )
    .unwrap();
    assert!(static_charts(&online).unwrap().is_empty());
}
