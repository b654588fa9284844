//! Contour and cert-manager as K3s HelmCharts, driven through the engine against
//! `tests/support/fake_kube` — **a MOCK Kubernetes API** (no K3s can run here): its stand-in
//! helm-controller turns a HelmChart into a `helm-install-<name>` Job, its workload controller
//! writes rollout status, and its hooks fail a Job, hold a workload unavailable, or keep a
//! webhook from serving. The charts' workloads and CRDs, and cert-manager's "issuer Ready", are
//! inserted by this file as **stand-ins** for what helm and cert-manager would create.

#[path = "support/fake_kube/mod.rs"]
mod fake_kube;

use fake_kube::FakeKube;
use foundry::component::cluster_api::KubeconfigOutput;
use foundry::component::context::{NoHosts, RunOptions};
use foundry::component::engine::{run_component, Mode};
use foundry::component::report::ComponentReport;
use foundry::component::{cert_manager::CertManager, contour::Contour, Component, RunCtx};
use foundry::config::StackConfig;
use foundry::run::log::RunLog;
use std::path::Path;
use std::sync::Arc;

const STACK: &str = "cluster: {name: lab, domain: lab.example.com, vip: 10.0.0.5}
network: {cidr: 10.0.0.0/24, lb_range: 10.0.0.200-10.0.0.220}
hosts: [{hostname: cp1, address: 10.0.0.1, roles: [cluster-control-plane]}]
components:
  contour: {version: 0.7.0}
  cert_manager: {version: v1.21.0}
";

fn stack(text: &str) -> StackConfig {
    serde_yaml::from_str(text).unwrap()
}

/// Short deadlines for every test of this binary (the same value for all, set once).
fn short_deadlines() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::env::set_var("FOUNDRY_HELM_DEADLINE_SECS", "4"));
}

/// The fake cluster with K3s's HelmChart CRD, and stand-ins for what the two charts create
/// (tests/support/fake_kube/charts.rs).
fn cluster() -> FakeKube {
    short_deadlines();
    let fake = FakeKube::start();
    fake.insert_chart_standins();
    fake
}

/// cert-manager's controller, stand-in: marks the ClusterIssuer Ready once it exists.
fn issuer_controller(fake: &Arc<FakeKube>) {
    fake_kube::issuer_controller(fake, "selfsigned-cluster-issuer");
}

struct Run {
    report: ComponentReport,
    mutating_log_lines: usize,
}

/// One component run through the engine, the kubeconfig handed over as this run's output.
async fn run(
    fake: &FakeKube,
    stack: &StackConfig,
    c: Arc<dyn Component>,
    mode: Mode,
    dir: &Path,
) -> Run {
    let log = RunLog::create(dir, "test").unwrap();
    let ctx = RunCtx::for_stack(
        stack,
        Arc::new(NoHosts),
        RunOptions::quiet("lab", log.clone(), false),
    )
    .unwrap();
    ctx.outputs.put(KubeconfigOutput(fake.kubeconfig_yaml()));
    let report = run_component(&ctx, c, mode).await;
    let text = std::fs::read_to_string(log.path().unwrap()).unwrap_or_default();
    let mutating_log_lines = text
        .lines()
        .filter(|l| l.contains("\"kind\":\"http\"") && l.contains("\"mutating\":true"))
        .count();
    Run {
        report,
        mutating_log_lines,
    }
}

fn error(r: &ComponentReport) -> String {
    r.error.clone().unwrap_or_else(|| format!("{r:?}"))
}

#[tokio::test]
async fn both_charts_install_and_a_second_run_changes_nothing() {
    let fake = Arc::new(cluster());
    issuer_controller(&fake);
    let dir = tempfile::tempdir().unwrap();
    let s = stack(STACK);
    for c in [
        Arc::new(Contour) as Arc<dyn Component>,
        Arc::new(CertManager),
    ] {
        let r = run(&fake, &s, c, Mode::Apply, dir.path()).await;
        assert!(!r.report.failed(), "{}", error(&r.report));
        assert!(r.mutating_log_lines > 0);
    }
    let chart = fake
        .object("helm.cattle.io", "helmcharts", "kube-system", "contour")
        .unwrap();
    assert_eq!(chart["spec"]["failurePolicy"], "abort");
    assert_eq!(
        chart["spec"]["repo"],
        "https://projectcontour.github.io/helm-charts/"
    );
    assert!(fake
        .object("batch", "jobs", "kube-system", "helm-install-cert-manager")
        .is_some());

    for c in [
        Arc::new(Contour) as Arc<dyn Component>,
        Arc::new(CertManager),
    ] {
        let name = c.name().to_string();
        fake.clear_requests();
        let r = run(&fake, &s, c, Mode::Apply, dir.path()).await;
        assert!(!r.report.failed(), "{}", error(&r.report));
        assert_eq!(r.report.changes(), 0, "{name}: {:?}", r.report);
        assert_eq!(
            r.mutating_log_lines, 0,
            "{name}: mutating calls in the run log"
        );
        assert_eq!(
            fake.mutating_count(),
            0,
            "{name}: mutating requests at the fake"
        );
        let n = fake.requests().len();
        assert!(
            n <= 3,
            "{name}: a no-op made {n} requests: {:?}",
            fake.requests()
        );
    }
}

#[tokio::test]
async fn a_failing_install_job_fails_the_component_with_its_reason_and_helms_output() {
    let fake = cluster();
    fake.fail_job("kube-system", "helm-install-contour");
    // 25 lines of helm's chatter, then its error with a terminal escape in it.
    let mut log: String = (1..=25).map(|i| format!("line {i}\n")).collect();
    log.push_str("Error: INSTALLATION FAILED: \u{1b}[31mboom\u{1b}[0m\n");
    fake.job_log("kube-system", "helm-install-contour", &log);
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        &fake,
        &stack(STACK),
        Arc::new(Contour),
        Mode::Apply,
        dir.path(),
    )
    .await;
    assert!(r.report.failed());
    let e = error(&r.report);
    assert!(e.contains("helm-install-contour failed"), "{e}");
    assert!(e.contains("BackoffLimitExceeded"), "{e}");
    // The end of the pod's log (read through pods/NAME/log with tailLines), escapes removed.
    let shows_output = |e: &str| {
        assert!(
            e.contains("helm's output (last 20 lines of pod kube-system/helm-install-contour-"),
            "{e}"
        );
        assert!(e.contains("\n  | line 7\n"), "{e}");
        assert!(!e.contains("line 6\n"), "more than 20 lines: {e}");
        assert!(
            e.contains("  | Error: INSTALLATION FAILED: [31mboom[0m"),
            "{e}"
        );
        assert!(
            !e.contains('\u{1b}'),
            "a terminal escape got through: {e:?}"
        );
    };
    shows_output(&e);
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path.ends_with("/log") && r.query.contains("tailLines=20")),
        "{:?}",
        fake.requests()
    );
    // A re-run with the chart unchanged reports the failure from the chart's status.
    let again = run(
        &fake,
        &stack(STACK),
        Arc::new(Contour),
        Mode::Apply,
        dir.path(),
    )
    .await;
    let e = error(&again.report);
    assert!(
        e.contains("failed its last install") && e.contains("Job failed"),
        "{e}"
    );
    shows_output(&e);
}

#[tokio::test]
async fn a_rollout_that_never_becomes_available_hits_the_deadline() {
    let fake = cluster();
    fake.hold_unavailable("projectcontour", "contour-envoy");
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        &fake,
        &stack(STACK),
        Arc::new(Contour),
        Mode::Apply,
        dir.path(),
    )
    .await;
    assert!(r.report.failed());
    let e = error(&r.report);
    assert!(
        e.contains("not rolled out within its deadline of 4s"),
        "{e}"
    );
    assert!(e.contains("DaemonSet projectcontour/contour-envoy"), "{e}");
}

#[tokio::test]
async fn a_webhook_not_serving_yet_is_retried() {
    let fake = Arc::new(cluster());
    issuer_controller(&fake);
    fake.webhook_down("cert-manager.io", "webhook.cert-manager.io", 3);
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        &fake,
        &stack(STACK),
        Arc::new(CertManager),
        Mode::Apply,
        dir.path(),
    )
    .await;
    assert!(!r.report.failed(), "{}", error(&r.report));
    let probes = fake
        .requests()
        .iter()
        .filter(|q| q.method == "PATCH" && q.path.ends_with("/certificates/foundry-webhook-probe"))
        .count();
    assert!(
        probes >= 4,
        "3 refusals then an admission, saw {probes} dry runs"
    );
}

#[tokio::test]
async fn a_changed_chart_version_reapplies_and_waits_again() {
    let fake = cluster();
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        &fake,
        &stack(STACK),
        Arc::new(Contour),
        Mode::Apply,
        dir.path(),
    )
    .await;
    assert!(!r.report.failed(), "{}", error(&r.report));
    let uid = |f: &FakeKube| {
        f.object("batch", "jobs", "kube-system", "helm-install-contour")
            .unwrap()["metadata"]["uid"]
            .clone()
    };
    let first = uid(&fake);
    let bumped = stack(&STACK.replace("version: 0.7.0", "version: 0.8.0"));
    fake.clear_requests();
    let r = run(&fake, &bumped, Arc::new(Contour), Mode::Apply, dir.path()).await;
    assert!(!r.report.failed(), "{}", error(&r.report));
    assert!(r.mutating_log_lines >= 1);
    let chart = fake
        .object("helm.cattle.io", "helmcharts", "kube-system", "contour")
        .unwrap();
    assert_eq!(chart["spec"]["version"], "0.8.0");
    assert_ne!(uid(&fake), first, "a new install Job");
    assert!(
        fake.count(
            "GET",
            "/apis/batch/v1/namespaces/kube-system/jobs/helm-install-contour"
        ) >= 2,
        "the Job was waited on"
    );
}

#[tokio::test]
async fn uninstall_deletes_the_chart_and_waits_for_the_delete_job() {
    let fake = cluster();
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        &fake,
        &stack(STACK),
        Arc::new(Contour),
        Mode::Apply,
        dir.path(),
    )
    .await;
    assert!(!r.report.failed(), "{}", error(&r.report));
    let r = run(
        &fake,
        &stack(STACK),
        Arc::new(Contour),
        Mode::Uninstall,
        dir.path(),
    )
    .await;
    assert!(!r.report.failed(), "{}", error(&r.report));
    assert!(fake
        .object("helm.cattle.io", "helmcharts", "kube-system", "contour")
        .is_none());
}
