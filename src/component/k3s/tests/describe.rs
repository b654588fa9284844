//! `stack plan --offline` lines per host.

use super::fixture::stack;
use crate::component::k3s::describe_offline;

#[test]
fn lines_per_role() {
    let s = stack();
    let first = describe_offline(&s, "node-1");
    assert_eq!(
        first[0],
        "K3s role: first server (by count), runs workloads"
    );
    assert!(
        first
            .iter()
            .any(|l| l.contains("cluster-init, tls-san [192.168.10.50, homelab.home.example.com]")),
        "{first:#?}"
    );
    assert!(
        first.iter().any(|l| l.contains("foundry-kube-vip.yaml")),
        "{first:#?}"
    );
    assert!(first
        .iter()
        .any(|l| l.contains("range-global 192.168.10.200-192.168.10.220")));
    assert!(first
        .iter()
        .any(|l| l.contains("/cacerts answers through the VIP")));
    let join = describe_offline(&s, "node-2");
    assert_eq!(
        join[0],
        "K3s role: joining server (by count), runs workloads"
    );
    assert!(
        join.iter().all(|l| !l.contains("kube-vip.yaml")),
        "manifests only on the first server"
    );
    assert!(join.iter().any(|l| l.contains("one server at a time")));
    let agent = describe_offline(&s, "node-4");
    assert_eq!(agent[0], "K3s role: agent (by count)");
    assert!(agent.iter().any(|l| l.contains("k3s-agent.service")));
    assert_eq!(
        describe_offline(&s, "bao"),
        ["not in the K3s cluster (no cluster role)"]
    );

    let mut s = stack();
    s.components.k3s.as_mut().unwrap().airgap_bundle = Some("/srv/k3s-bundle".into());
    assert!(describe_offline(&s, "node-3")
        .iter()
        .any(|l| l.contains("air-gapped: verify /srv/k3s-bundle")));
}
