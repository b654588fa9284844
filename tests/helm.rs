//! Contour and cert-manager as K3s HelmCharts, driven through the engine against
//! `tests/support/fake_kube` — **a MOCK Kubernetes API** (no K3s can run here): its stand-in
//! helm-controller turns a HelmChart into a `helm-install-<name>` Job, its workload controller
//! writes rollout status, and its hooks fail a Job, hold a workload unavailable, or keep a
//! webhook from serving. The charts' workloads and CRDs, and cert-manager's "issuer Ready", are
//! inserted by this file as **stand-ins** for what helm and cert-manager would create.

#[path = "support/fake_kube/mod.rs"]
mod fake_kube;
mod support;

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

// ---- cert-manager's `ca` issuer: the CA in a real OpenBao ------------------------------

/// A real `bao server -dev` (the bed's OpenBao 2.7.2 binary) on 127.0.0.1: in memory,
/// unsealed, KV v2 at secret/; killed (and reaped) on drop.
struct DevBao {
    child: std::process::Child,
    addr: String,
    token: String,
}

impl DevBao {
    fn start() -> DevBao {
        let port = support::dev_bao::free_port();
        let token = format!("dev-root-{}", std::process::id());
        let home = tempfile::tempdir().unwrap();
        let child = support::dev_bao::spawn(&token, port, home.path());
        let addr = format!("http://127.0.0.1:{port}");
        let t0 = std::time::Instant::now();
        // Listening, and KV v2 mounted (the dev server mounts it right after it listens).
        loop {
            let out = std::process::Command::new(support::bed().bao_binary())
                .args(["kv", "list", "-mount=secret", "/"])
                .env("BAO_ADDR", &addr)
                .env("BAO_TOKEN", &token)
                .env("HOME", home.path())
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            if out.status.success() || err.contains("No value found") {
                break;
            }
            assert!(
                t0.elapsed().as_secs() < 30,
                "bao -dev did not come up: {err}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        DevBao { child, addr, token }
    }

    /// `bao kv get -mount=secret -field=FIELD PATH`: what the docs tell a user to run.
    fn kv_field(&self, path: &str, field: &str) -> Option<String> {
        let out = std::process::Command::new(support::bed().bao_binary())
            .args([
                "kv",
                "get",
                "-mount=secret",
                &format!("-field={field}"),
                path,
            ])
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", &self.token)
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).to_string())
    }
}

impl Drop for DevBao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CA_INSTANCE: &str = "lab";

/// A stack whose cert-manager has the `ca` issuer and whose OpenBao is the dev server.
fn ca_stack(bao: &DevBao) -> String {
    format!(
        "cluster: {{name: lab, domain: lab.example.com, vip: 10.0.0.5}}
network: {{cidr: 10.0.0.0/24, lb_range: 10.0.0.200-10.0.0.220}}
hosts: [{{hostname: cp1, address: 10.0.0.1, roles: [cluster-control-plane]}}]
components:
  openbao: {{enabled: false, address: '{}'}}
  k3s: {{version: v1.33.5+k3s1}}
  contour: {{version: 0.7.0}}
  cert_manager: {{version: v1.21.0, issuer: ca, cluster_issuer: ca-cluster-issuer}}
",
        bao.addr
    )
}

/// The key's material in every form it could leak in: the PEM's base64 lines (whatever the
/// newlines became) and the Secret's base64 of the whole PEM.
fn key_forms(key_pem: &str) -> Vec<String> {
    use base64::Engine;
    let mut v: Vec<String> = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .map(String::from)
        .collect();
    v.push(base64::engine::general_purpose::STANDARD.encode(key_pem));
    assert!(v.len() >= 2, "{key_pem:?}");
    v
}

fn assert_no_key(what: &str, text: &str, forms: &[String]) {
    for f in forms {
        assert!(
            !text.contains(f.as_str()),
            "the CA key is in {what}:\n{text}"
        );
    }
}

#[test]
fn the_ca_issuer_keeps_its_ca_in_openbao_and_a_second_run_changes_nothing() {
    short_deadlines();
    let fake = Arc::new(cluster());
    fake_kube::issuer_controller(&fake, "ca-cluster-issuer");
    let bao = DevBao::start();
    let sb = support::Sandbox::new();
    let kc = sb.write("kubeconfig", &fake.kubeconfig_yaml());
    sb.write(".foundry/stack.yaml", &ca_stack(&bao));
    let kc = kc.display().to_string();
    let env = [
        ("FOUNDRY_KUBECONFIG", kc.as_str()),
        ("FOUNDRY_OPENBAO_TOKEN", bao.token.as_str()),
        ("FOUNDRY_KEYRING", "file"),
        ("FOUNDRY_HELM_DEADLINE_SECS", "4"),
    ];
    let foundry = |args: &[&str]| {
        let mut a = vec!["--instance", CA_INSTANCE];
        a.extend_from_slice(args);
        sb.foundry_env(&a, &env)
    };
    let ca_path = format!("{CA_INSTANCE}/cert-manager/ca");

    // A dry run shows the generation and writes nothing, in OpenBao or in the cluster.
    let plan = foundry(&["component", "install", "cert-manager", "--dry-run"]);
    plan.ok();
    assert!(
        plan.stdout.contains(&format!("generate a CA (ECDSA P-256, CN \"{CA_INSTANCE} foundry CA\", valid 10 years) and store it in OpenBao at {ca_path}")),
        "{plan}"
    );
    assert!(
        plan.stdout.contains("apply Secret cert-manager/foundry-ca"),
        "{plan}"
    );
    assert_eq!(
        bao.kv_field(&ca_path, "tls.crt"),
        None,
        "a dry run stored a CA"
    );
    assert_eq!(fake.mutating_count(), 0, "a dry run changed the cluster");

    // Install: the CA generated into OpenBao, the Secret and the issuer applied with it.
    let first = foundry(&["component", "install", "cert-manager", "--yes"]);
    first.ok();
    let crt = bao
        .kv_field(&ca_path, "tls.crt")
        .expect("the CA certificate in OpenBao");
    let key = bao
        .kv_field(&ca_path, "tls.key")
        .expect("the CA key in OpenBao");
    assert!(crt.starts_with("-----BEGIN CERTIFICATE-----"), "{crt}");
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    let secret = fake
        .object("", "secrets", "cert-manager", "foundry-ca")
        .expect("Secret cert-manager/foundry-ca");
    assert_eq!(secret["type"], "kubernetes.io/tls");
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    assert_eq!(secret["data"]["tls.crt"], b64(&crt));
    assert_eq!(secret["data"]["tls.key"], b64(&key));
    let issuer = fake
        .object("cert-manager.io", "clusterissuers", "", "ca-cluster-issuer")
        .expect("the ClusterIssuer");
    assert_eq!(issuer["spec"]["ca"]["secretName"], "foundry-ca");
    assert_eq!(issuer["status"]["conditions"][0]["status"], "True");
    let forms = key_forms(&key);
    assert_no_key("the dry run's output", &format!("{plan}"), &forms);
    assert_no_key("the install's output", &format!("{first}"), &forms);
    for log in sb.run_logs() {
        let text = std::fs::read_to_string(&log).unwrap();
        assert_no_key(&log.display().to_string(), &text, &forms);
    }

    // A second run: zero mutating calls (run log and the mock agree), the CA kept, and the
    // component's no-op costs one GET more than the other issuers (the Secret).
    fake.clear_requests();
    let again = foundry(&["component", "install", "cert-manager", "--yes"]);
    again.ok();
    let counts = sb.newest_log_counts();
    assert_eq!(counts.http_mutating, 0, "{:#?}", counts.mutating_lines);
    assert_eq!(fake.mutating_count(), 0, "{:?}", fake.requests());
    let n = fake.requests().len();
    assert!(n <= 4, "a no-op made {n} requests: {:?}", fake.requests());
    assert_eq!(
        bao.kv_field(&ca_path, "tls.key").as_deref(),
        Some(key.as_str())
    );
    assert_no_key("the second install's output", &format!("{again}"), &forms);
    assert_no_key(
        "the second run log",
        &std::fs::read_to_string(&counts.path).unwrap(),
        &forms,
    );

    // The Secret changed behind foundry's back is put back from OpenBao; the plan's diff
    // shows placeholders, not the data.
    fake.update("", "secrets", "cert-manager", "foundry-ca", |s| {
        s["data"]["tls.key"] = serde_json::json!(b64("tampered"));
    });
    let plan = foundry(&["component", "install", "cert-manager", "--dry-run"]);
    plan.ok();
    assert!(
        plan.stdout.contains("another private key, not shown"),
        "{plan}"
    );
    assert_no_key("the repair plan", &format!("{plan}"), &forms);
    foundry(&["component", "install", "cert-manager", "--yes"]).ok();
    let secret = fake
        .object("", "secrets", "cert-manager", "foundry-ca")
        .unwrap();
    assert_eq!(secret["data"]["tls.key"], b64(&key));

    // `component status` names the issuer's kind.
    let st = foundry(&["component", "status", "cert-manager"]);
    assert!(
        st.stdout.contains("ClusterIssuer ca-cluster-issuer, ca"),
        "{st}"
    );
}

/// Two runs generating the CA at once: one CA is stored, both use it (the check-and-set write
/// only succeeds while `tls.crt` is absent); a CA put there by hand is used as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_store_one_ca_and_a_stored_ca_is_kept() {
    use foundry::component::cert_manager::ca;
    let bao = DevBao::start();
    // The one test of this binary that opens OpenBao in-process (the others pass it to the
    // foundry binary's environment).
    std::env::set_var("FOUNDRY_OPENBAO_TOKEN", &bao.token);
    let s = stack(&ca_stack(&bao));
    let dir = tempfile::tempdir().unwrap();
    let ctx = |instance: &str| {
        RunCtx::for_stack(
            &s,
            Arc::new(NoHosts),
            RunOptions::quiet(
                instance,
                RunLog::create(dir.path(), instance).unwrap(),
                false,
            ),
        )
        .unwrap()
    };
    let (a, b) = (ctx("race"), ctx("race"));
    let (ra, rb) = tokio::join!(ca::ensure(&a), ca::ensure(&b));
    let ((ca_a, stored_a), (ca_b, stored_b)) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ca_a, ca_b, "both runs use the one CA stored");
    assert!(
        stored_a ^ stored_b,
        "exactly one stored it: {stored_a} {stored_b}"
    );
    assert_eq!(
        bao.kv_field("race/cert-manager/ca", "tls.key").as_deref(),
        Some(ca_a.key_pem.as_str())
    );
    // A CA of the user's own, stored before the first install, is read and never replaced.
    let own = ca::generate("mine").unwrap();
    let out = std::process::Command::new(support::bed().bao_binary())
        .args([
            "kv",
            "put",
            "-mount=secret",
            "own/cert-manager/ca",
            &format!("tls.crt={}", own.cert_pem),
            &format!("tls.key={}", own.key_pem),
        ])
        .env("BAO_ADDR", &bao.addr)
        .env("BAO_TOKEN", &bao.token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = ctx("own");
    match ca::read(&c).await.unwrap() {
        ca::CaState::Known(k) => assert_eq!(k, own),
        other => panic!("{other:?}"),
    }
    let (kept, stored) = ca::ensure(&c).await.unwrap();
    assert_eq!((kept, stored), (own, false));
}
