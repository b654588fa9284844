//! cert-manager's HelmChart and ClusterIssuers, golden (`UPDATE_GOLDEN=1 cargo test --lib cert_manager`).

use super::{chart, issuer};
use crate::component::zot::tests::golden;
use crate::config::StackConfig;

fn stack(extra: &str) -> StackConfig {
    let text = format!(
        "cluster: {{name: lab, domain: lab.example.com, vip: 10.0.0.5}}\nnetwork: {{cidr: 10.0.0.0/24}}\nhosts: [{{hostname: a, address: 10.0.0.1}}]\ncomponents:\n  cert_manager: {{version: v1.21.0{extra}}}\n"
    );
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn golden_helmchart() {
    let obj = chart(&stack("")).unwrap().render();
    golden(
        "helm/cert-manager.yaml",
        &serde_yaml::to_string(&obj).unwrap(),
    );
}

#[test]
fn golden_issuers() {
    let s = serde_yaml::to_string(&issuer::desired(&stack(""))).unwrap();
    golden("helm/cluster-issuer-selfsigned.yaml", &s);
    let a = issuer::desired(&stack(", acme_email: ops@lab.example.com"));
    assert_eq!(
        a["spec"]["acme"]["solvers"][0]["http01"]["ingress"]["ingressClassName"],
        "contour"
    );
    golden(
        "helm/cluster-issuer-acme.yaml",
        &serde_yaml::to_string(&a).unwrap(),
    );
}
