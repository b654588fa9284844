//! cert-manager's HelmChart and ClusterIssuers, golden (`UPDATE_GOLDEN=1 cargo test --lib cert_manager`).

use super::{ca, chart, issuer};
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

#[test]
fn golden_ca_issuer_and_its_secret() {
    let s = stack(", issuer: ca, cluster_issuer: ca-cluster-issuer");
    let issuer = issuer::desired(&s);
    assert_eq!(issuer["spec"]["ca"]["secretName"], ca::SECRET_NAME);
    golden(
        "helm/cluster-issuer-ca.yaml",
        &serde_yaml::to_string(&issuer).unwrap(),
    );
    // The Secret as applied, its data checked here and shown as placeholders in the golden file
    // (a real key never goes into one).
    let c = ca::generate("lab").unwrap();
    let mut secret = ca::secret(&c);
    use base64::Engine;
    let decode = |v: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    };
    assert_eq!(decode(&secret["data"]["tls.crt"]), c.cert_pem.as_bytes());
    assert_eq!(decode(&secret["data"]["tls.key"]), c.key_pem.as_bytes());
    secret["data"]["tls.crt"] = "<base64 of the CA certificate (PEM) from OpenBao>".into();
    secret["data"]["tls.key"] = "<base64 of the CA private key (PEM) from OpenBao>".into();
    golden(
        "helm/ca-secret.yaml",
        &serde_yaml::to_string(&secret).unwrap(),
    );
    // What a plan's diff shows of it before the CA exists.
    golden(
        "helm/ca-secret-plan-view.yaml",
        &serde_yaml::to_string(&ca::secret_view("lab", None)).unwrap(),
    );
}

#[test]
fn the_issuer_kind_defaults_from_acme_email() {
    use crate::config::IssuerKind;
    assert_eq!(issuer::kind(&stack("")), IssuerKind::Selfsigned);
    assert_eq!(
        issuer::kind(&stack(", acme_email: ops@lab.example.com")),
        IssuerKind::Acme
    );
    assert_eq!(issuer::kind(&stack(", issuer: ca")), IssuerKind::Ca);
    assert!(issuer::desired(&stack(", issuer: selfsigned"))["spec"]["selfSigned"].is_object());
    let e = serde_yaml::from_str::<StackConfig>(
        "cluster: {name: lab, domain: lab.example.com, vip: 10.0.0.5}\nhosts: []\ncomponents:\n  cert_manager: {version: v1, issuer: vault}\n",
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("selfsigned, acme, ca")
            || e.to_string().contains("`selfsigned`, `acme`, `ca`"),
        "{e}"
    );
}
