//! The whole `foundry stack install` on three real bed hosts, in the design's order:
//! host-prep → OpenBao (real, installed by foundry) → Zot (STAND-IN image, see tests/zot.rs) →
//! TrueNAS storage (a MOCK TrueNAS, tests/support/fake_truenas.rs) → K3s (STAND-IN binary
//! joining a MOCK Kubernetes API behind the VIP, tests/support/k3s_standin.rs) → Contour and
//! cert-manager (HelmCharts applied to that mock; their workloads, CRDs and the issuer's
//! Ready are stand-ins, tests/support/fake_kube/charts.rs). A second run must execute zero
//! mutating commands and zero mutating API calls (foundry's run log, the mock API's and the
//! mock TrueNAS's own records all agree).

#[path = "support/fake_kube/mod.rs"]
mod fake_kube;
#[path = "support/fake_truenas.rs"]
mod fake_truenas;
#[path = "support/k3s_standin.rs"]
mod k3s_standin;
mod support;

#[path = "support/full_stack.rs"]
mod full_stack;

use full_stack::FullStack;
use std::sync::Arc;
use std::time::Instant;
use support::stackrun::{foundry, install_expecting_no_changes, kv_field};
use support::TestHost;

#[test]
fn the_whole_stack_installs_in_order_and_a_second_run_changes_nothing() {
    let FullStack {
        mut envoy,
        truenas,
        k3s,
        hosts,
        sb,
    } = FullStack::up("fs", 4);

    let first = foundry(&sb, &["stack", "install", "--yes"]);
    first.ok();
    // The design's order, as the summary lists the components.
    let order = [
        "host-prep",
        "openbao",
        "zot",
        "storage",
        "k3s",
        "contour",
        "cert-manager",
    ];
    let pos: Vec<usize> = order
        .iter()
        .map(|c| {
            first
                .stdout
                .find(&format!("│ {c} "))
                .unwrap_or_else(|| panic!("{c} not in the summary:\n{first}"))
        })
        .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "order: {first}");

    // Each layer did its job.
    let datasets = truenas.dataset_names();
    assert!(
        datasets.iter().any(|d| d == "tank/k8s/volumes")
            && datasets.iter().any(|d| d == "tank/k8s/snapshots"),
        "{datasets:?}"
    );
    let h1: &TestHost = &hosts[0];
    let reg = h1.ssh_ok("cat /etc/rancher/k3s/registries.yaml");
    assert!(
        reg.contains(&format!("{}:5000", h1.ip)) || reg.contains(&h1.name),
        "registries.yaml points at Zot: {reg}"
    );
    assert!(!kv_field(&sb, h1, "zot/admin", "password").is_empty());
    for chart in ["contour", "cert-manager"] {
        assert!(
            k3s.fake
                .object("helm.cattle.io", "helmcharts", "kube-system", chart)
                .is_some(),
            "HelmChart {chart}"
        );
    }
    assert!(k3s
        .fake
        .object(
            "cert-manager.io",
            "clusterissuers",
            "",
            "selfsigned-cluster-issuer"
        )
        .is_some());

    // Air-gapped charts: every server serves the bundle's archives, and the HelmCharts name
    // them through K3s's static URL instead of a repository.
    for (chart, archive) in [
        ("contour", "contour-0.7.0.tgz"),
        ("cert-manager", "cert-manager-v1.21.0.tgz"),
    ] {
        let local = k3s.bundle_dir().join("charts").join(archive);
        let want = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            std::fs::read(&local).unwrap(),
        ));
        for h in &hosts {
            let remote = h.ssh_ok(&format!(
                "stat -c '%a %U' /var/lib/rancher/k3s/server/static/charts/{archive} && sha256sum /var/lib/rancher/k3s/server/static/charts/{archive}"
            ));
            assert!(remote.starts_with("644 root\n"), "{}: {remote}", h.name);
            assert!(remote.contains(&want), "{}: {remote}", h.name);
        }
        let hc = k3s
            .fake
            .object("helm.cattle.io", "helmcharts", "kube-system", chart)
            .unwrap();
        assert_eq!(
            hc["spec"]["chart"],
            format!("https://%{{KUBERNETES_API}}%/static/charts/{archive}"),
            "{hc}"
        );
        assert!(
            hc["spec"]["repo"].is_null() && hc["spec"]["version"].is_null(),
            "{hc}"
        );
    }

    // Second run: nothing to do anywhere.
    let kube_mut = k3s.fake.mutating_count();
    let kube_requests = k3s.fake.requests().len();
    let truenas_mut = truenas.mutating_calls().len();
    let t0 = Instant::now();
    let c = install_expecting_no_changes(&sb);
    let took = t0.elapsed();
    assert_eq!(
        k3s.fake.mutating_count(),
        kube_mut,
        "the mock API saw a write"
    );
    assert_eq!(
        truenas.mutating_calls().len(),
        truenas_mut,
        "the mock TrueNAS saw a write"
    );
    let reqs = k3s.fake.requests();
    let noop: Vec<String> = reqs[kube_requests..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    eprintln!(
        "[stack] no-op re-run: {:.2}s wall (debug build, incl. process start), {} remote commands, {} Kubernetes API requests: {noop:#?}",
        took.as_secs_f64(),
        c.exec,
        noop.len()
    );

    // `stack status`: every component healthy, including the in-cluster rows; Envoy's address
    // answers HTTP (the STAND-IN answers 404 like an Envoy without a route for `/`).
    let st = foundry(&sb, &["stack", "status"]);
    assert_eq!(st.code, 0, "{st}");
    assert!(
        st.stdout.contains("Envoy at 10.214.0.2 answers HTTP (404)"),
        "{st}"
    );
    // `stack test`: a workload through Zot, a certificate from the ClusterIssuer, an Ingress,
    // answered through Envoy's address (the STAND-INs: cert-manager's Certificate controller,
    // Envoy routing by the mock's Ingresses), then everything removed again.
    let t = foundry(&sb, &["stack", "test", "--timeout", "30"]);
    assert_eq!(t.code, 0, "{t}");
    for step in [
        "✓ Envoy's address",
        "✓ create the test objects",
        "✓ workload rolled out",
        "✓ certificate Ready",
        "✓ answers through Envoy",
        "✓ clean up",
    ] {
        assert!(t.stdout.contains(step), "{step}: {t}");
    }
    assert!(
        t.stdout
            .contains("answered 200 with the certificate cert-manager issued"),
        "{t}"
    );
    let leftovers: Vec<String> = ["namespaces", "ingresses", "services", "secrets"]
        .iter()
        .flat_map(|p| {
            let g = if *p == "ingresses" {
                "networking.k8s.io"
            } else {
                ""
            };
            k3s.fake.objects(g, p)
        })
        .chain(k3s.fake.objects("apps", "deployments"))
        .chain(k3s.fake.objects("cert-manager.io", "certificates"))
        .filter_map(|o| o["metadata"]["name"].as_str().map(String::from))
        .filter(|n| n.starts_with("foundry-test-"))
        .collect();
    assert!(leftovers.is_empty(), "not cleaned up: {leftovers:?}");
    // A workload that never becomes available: the test fails at that step (exit 7), says
    // why, and still cleans up.
    k3s.fake.hold_unavailable_prefix("foundry-test-");
    let t = foundry(&sb, &["stack", "test", "--timeout", "3"]);
    assert_eq!(t.code, 7, "{t}");
    assert!(t.stdout.contains("✗ workload rolled out"), "{t}");
    assert!(t.stdout.contains("✓ clean up"), "{t}");
    assert!(
        k3s.fake
            .objects("", "namespaces")
            .iter()
            .all(|n| !n["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .starts_with("foundry-test-")),
        "not cleaned up after the failure"
    );

    // Envoy gone from its address: unhealthy, exit 7, and the row says why.
    envoy.stop();
    let st = foundry(&sb, &["stack", "status"]);
    assert_eq!(st.code, 7, "{st}");
    assert!(
        st.stdout
            .contains("10.214.0.2 does not answer HTTP on port 80"),
        "{st}"
    );
    let _ = Arc::strong_count(&k3s.fake);
}
