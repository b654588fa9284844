//! Contour's HelmChart, golden (`UPDATE_GOLDEN=1 cargo test --lib contour`), and its
//! load-balancer address rule.

use super::chart;
use crate::component::zot::tests::golden;
use crate::config::StackConfig;

fn stack(extra: &str) -> StackConfig {
    let text = format!(
        "cluster: {{name: lab, domain: lab.example.com, vip: 10.0.0.5}}\nnetwork: {{cidr: 10.0.0.0/24, lb_range: 10.0.0.200-10.0.0.220}}\nhosts: [{{hostname: a, address: 10.0.0.1}}]\ncomponents:\n  contour: {{version: 0.7.0{extra}}}\n"
    );
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn golden_helmchart_default() {
    let obj = chart(&stack("")).unwrap().render();
    golden("helm/contour.yaml", &serde_yaml::to_string(&obj).unwrap());
}

#[test]
fn golden_helmchart_fixed_ip_and_registry() {
    let mut s = stack(", load_balancer_ip: 10.0.0.210");
    s.images.registry = Some("registry.internal:5000".into());
    let obj = chart(&s).unwrap().render();
    golden(
        "helm/contour-fixed-ip-registry.yaml",
        &serde_yaml::to_string(&obj).unwrap(),
    );
}

#[test]
fn load_balancer_ip_outside_the_range_is_refused() {
    let e = chart(&stack(", load_balancer_ip: 10.0.0.50")).unwrap_err();
    let m = format!("{e:#}");
    assert!(
        m.contains("outside network.lb_range 10.0.0.200-10.0.0.220"),
        "{m}"
    );
}

#[test]
fn abort_not_reinstall_and_values_parse() {
    let obj = chart(&stack("")).unwrap().render();
    assert_eq!(obj["spec"]["failurePolicy"], "abort");
    let v: serde_yaml::Value =
        serde_yaml::from_str(obj["spec"]["valuesContent"].as_str().unwrap()).unwrap();
    assert_eq!(v["envoy"]["kind"], "daemonset");
    assert_eq!(v["envoy"]["service"]["type"], "LoadBalancer");
    assert_eq!(v["contour"]["ingressClass"]["default"], true);
}

#[test]
fn golden_helmchart_airgapped() {
    // With the K3s bundle set, the chart is the archive K3s serves, without repo and version.
    let text = "cluster: {name: lab, domain: lab.example.com, vip: 10.0.0.5}\nnetwork: {cidr: 10.0.0.0/24, lb_range: 10.0.0.200-10.0.0.220}\nhosts: [{hostname: a, address: 10.0.0.1}]\ncomponents:\n  contour: {version: 0.7.0}\n  k3s: {version: v1.33.5+k3s1, airgap_bundle: /srv/bundle}\n";
    let s: StackConfig = serde_yaml::from_str(text).unwrap();
    let c = chart(&s).unwrap();
    let obj = crate::component::helm::airgap::render(&s, &c);
    golden(
        "helm/contour-airgapped.yaml",
        &serde_yaml::to_string(&obj).unwrap(),
    );
    // The same chart online keeps its repository.
    assert_eq!(
        crate::component::helm::airgap::render(&stack(""), &c),
        c.render()
    );
}
