//! foundry's Kubernetes client (`foundry::k8s::Kube`) against THE MOCK API SERVER
//! (support/fake_kube, which `replay` holds to the recorded real answers): every
//! [`KubeError`] variant as the real client produces it, server-side apply no-op detection
//! with zero mutating requests, waits with deadlines, evictions, and the run log.

use super::fake_kube::{AuthMode, FakeKube};
use foundry::k8s::{
    helm_chart_resource, wait_for, ApplyOutcome, DeleteOutcome, EvictOutcome, Kube, KubeError,
    Probe, Selector,
};
use foundry::run::log::{RunLog, RunLogHandle};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::core::DynamicObject;
use serde_json::{json, Value};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

async fn client(fake: &FakeKube) -> Kube {
    Kube::from_kubeconfig_yaml(&fake.kubeconfig_yaml(), RunLog::disabled(), TIMEOUT)
        .await
        .expect("client from the fake's kubeconfig")
}

fn config_map(name: &str, data: Value) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": {"app.kubernetes.io/managed-by": "foundry"}},
        "data": data,
    }))
    .expect("configmap")
}

fn node(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}})
}

fn pod(name: &str, node: &str, app: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
           "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}})
}

fn log_lines(log: &RunLogHandle) -> Vec<Value> {
    let text = std::fs::read_to_string(log.path().expect("log path")).expect("run log");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

#[tokio::test]
async fn wrong_token_is_unauthorized_naming_the_request() {
    let fake = FakeKube::start();
    fake.set_auth(AuthMode::Unauthorized);
    let kube = client(&fake).await;
    let err = kube.list::<Node>(None, &Selector::all()).await.unwrap_err();
    assert!(matches!(err, KubeError::Unauthorized { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&fake.url()) && msg.contains("GET /api/v1/nodes"),
        "{msg}"
    );
    assert!(msg.contains("401 Unauthorized"), "{msg}");
}

#[tokio::test]
async fn forbidden_carries_the_rbac_message() {
    let fake = FakeKube::start();
    fake.set_auth(AuthMode::Forbid {
        user: "nobody".into(),
    });
    let kube = client(&fake).await;
    let err = kube
        .list::<Pod>(Some("default"), &Selector::all())
        .await
        .unwrap_err();
    let KubeError::Forbidden { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        message,
        "pods is forbidden: User \"nobody\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
    );
}

#[tokio::test]
async fn custom_resource_before_its_crd_is_established_is_not_served() {
    let fake = FakeKube::start_with(super::fake_kube::Options::recorded());
    let kube = client(&fake).await;
    let charts = kube.dynamic(&helm_chart_resource());
    let err = charts
        .get_opt(Some("kube-system"), "cert-manager")
        .await
        .unwrap_err();
    assert!(
        matches!(err, KubeError::NotFound { served: false, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("not Established yet"), "{err}");

    let crd = serde_json::from_str::<Value>(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/k8s-api-samples/06-crd-create.json"),
        )
        .expect("sample"),
    )
    .expect("json")["request"]["body"]
        .clone();
    fake.insert(crd);
    fake.establish_crds();
    // Served now: a missing chart is None, not an error.
    assert!(charts
        .get_opt(Some("kube-system"), "cert-manager")
        .await
        .expect("served")
        .is_none());
}

#[tokio::test]
async fn apply_detects_no_op_and_sends_no_mutating_request() {
    let fake = FakeKube::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = RunLog::create(dir.path(), "test").expect("run log");
    let kube = Kube::from_kubeconfig_yaml(&fake.kubeconfig_yaml(), log.clone(), TIMEOUT)
        .await
        .expect("client");
    let cm = config_map(
        "foundry-settings",
        json!({"key": "v1", "mode": "production"}),
    );

    let first = kube.apply(&cm, false).await.expect("create");
    assert_eq!(first.outcome, ApplyOutcome::Created);
    let rv = first.object.metadata.resource_version.clone();

    let before = fake.mutating_count();
    let again = kube.apply(&cm, false).await.expect("re-apply");
    assert_eq!(again.outcome, ApplyOutcome::Unchanged);
    assert!(!again.changed());
    assert_eq!(again.object.metadata.resource_version, rv);
    assert_eq!(
        fake.mutating_count(),
        before,
        "a no-op apply sent a mutating request"
    );

    let changed = kube
        .apply(
            &config_map(
                "foundry-settings",
                json!({"key": "v2", "mode": "production"}),
            ),
            false,
        )
        .await
        .expect("change");
    assert_eq!(changed.outcome, ApplyOutcome::Changed);
    assert_ne!(changed.object.metadata.resource_version, rv);
    assert_eq!(changed.object.data.unwrap()["key"], "v2");

    // The run log has one http line per request; only the real writes are mutating.
    let lines = log_lines(&log);
    let http: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "http").collect();
    let mutating = http.iter().filter(|l| l["mutating"] == true).count();
    assert_eq!(mutating, 2, "create + change: {http:#?}");
    assert!(http
        .iter()
        .any(|l| l["path"].as_str().unwrap().contains("dryRun=All") && l["mutating"] == false));
    assert!(http.iter().all(|l| l["host"] == fake.url().as_str()));
    let text = std::fs::read_to_string(log.path().unwrap()).unwrap();
    assert!(
        !text.contains(fake.token()),
        "the token reached the run log"
    );
}

#[tokio::test]
async fn apply_conflict_lists_fields_and_managers_then_force_takes_them() {
    let fake = FakeKube::start();
    let kube = client(&fake).await;
    // Another field manager owns data.key.
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(fake.ca_pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let resp = http
        .patch(format!(
            "{}/api/v1/namespaces/default/configmaps/shared?fieldManager=other",
            fake.url()
        ))
        .bearer_auth(fake.token())
        .header("Content-Type", "application/apply-patch+yaml")
        .body("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  namespace: default\ndata:\n  key: theirs\n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);

    let cm = config_map("shared", json!({"key": "ours"}));
    let err = kube.apply(&cm, false).await.unwrap_err();
    let KubeError::Conflict { conflicts, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].field, ".data.key");
    assert_eq!(conflicts[0].manager, "\"other\"");
    assert!(
        err.to_string().contains(".data.key (owned by \"other\")"),
        "{err}"
    );

    let forced = kube.apply(&cm, true).await.expect("forced apply");
    assert_eq!(forced.outcome, ApplyOutcome::Changed);
    assert_eq!(forced.object.data.unwrap()["key"], "ours");
}

#[tokio::test]
async fn invalid_object_lists_its_causes() {
    let fake = FakeKube::start();
    let kube = client(&fake).await;
    let bad: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "two-errors", "namespace": "default"},
        "spec": {"containers": [{"name": "Web_Server"}]}
    }))
    .unwrap();
    let err = kube.apply(&bad, false).await.unwrap_err();
    let KubeError::Invalid { causes, .. } = &err else {
        panic!("{err:?}")
    };
    let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        ["spec.containers[0].name", "spec.containers[0].image"]
    );
    assert!(
        err.to_string().contains("Pod \"two-errors\" is invalid"),
        "{err}"
    );
}

#[tokio::test]
async fn eviction_blocked_by_pdb_names_it_and_evicted_pod_is_waited_for() {
    let fake = FakeKube::start();
    let kube = client(&fake).await;
    fake.insert(node("cp-1"));
    fake.insert(pod("web-0", "cp-1", "web"));
    fake.insert(pod("plain-1", "cp-1", "plain"));
    fake.set_pod_running("default", "web-0");
    fake.set_pod_running("default", "plain-1");
    fake.insert(
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web-pdb", "namespace": "default"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}),
    );

    let on_node = kube
        .list::<Pod>(None, &Selector::fields("spec.nodeName=cp-1"))
        .await
        .unwrap();
    assert_eq!(on_node.len(), 2);
    let web = kube
        .list::<Pod>(Some("default"), &Selector::labels("app=web"))
        .await
        .unwrap();
    assert_eq!(web.len(), 1);

    let err = kube.evict("default", "web-0").await.unwrap_err();
    let KubeError::EvictionBlocked { pdb, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(pdb, "web-pdb");
    assert!(
        err.to_string().contains("PodDisruptionBudget web-pdb"),
        "{err}"
    );

    assert_eq!(
        kube.evict("default", "plain-1").await.unwrap(),
        EvictOutcome::Evicted
    );
    assert_eq!(
        kube.evict("default", "ghost").await.unwrap(),
        EvictOutcome::AlreadyGone
    );

    // No kubelet yet: the pod stays Terminating, and the wait says so when it times out.
    let err = kube
        .wait_gone::<Pod>(
            Some("default"),
            "plain-1",
            Duration::from_millis(300),
            Duration::from_millis(50),
        )
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, KubeError::WaitTimedOut { .. }), "{err:?}");
    assert!(msg.contains("Pod default/plain-1 to be gone"), "{msg}");
    assert!(msg.contains("still there, terminating since"), "{msg}");

    // The kubelet finishes the pod while we wait.
    let waiting = kube.wait_gone::<Pod>(
        Some("default"),
        "plain-1",
        Duration::from_secs(5),
        Duration::from_millis(50),
    );
    let kubelet = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(fake.kubelet_remove_terminating(), 1);
    };
    let (gone, ()) = tokio::join!(waiting, kubelet);
    gone.expect("pod gone after the kubelet removed it");
}

#[tokio::test]
async fn nothing_listening_is_not_answering() {
    let fake = FakeKube::start();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("https://127.0.0.1:{port}");
    let kube = Kube::from_kubeconfig_yaml(
        &fake.kubeconfig_with(&url, fake.ca_pem()),
        RunLog::disabled(),
        TIMEOUT,
    )
    .await
    .unwrap();
    let err = kube.list::<Node>(None, &Selector::all()).await.unwrap_err();
    assert!(matches!(err, KubeError::NotAnswering { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "the API at {url} did not answer GET /api/v1/nodes"
        )),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
}

#[tokio::test]
async fn certificate_from_another_ca_is_a_tls_error() {
    let fake = FakeKube::start();
    let kube = Kube::from_kubeconfig_yaml(&fake.kubeconfig_wrong_ca(), RunLog::disabled(), TIMEOUT)
        .await
        .unwrap();
    let err = kube.version().await.unwrap_err();
    assert!(matches!(err, KubeError::Tls { .. }), "{err:?}");
    assert!(
        err.to_string().contains("does not match the kubeconfig"),
        "{err}"
    );
}

#[tokio::test]
async fn readyz_names_failing_checks_and_version_reads() {
    let fake = FakeKube::start();
    let kube = client(&fake).await;
    let ok = kube.require_ready().await.expect("ready");
    assert!(ok.checks.iter().any(|c| c.name == "etcd" && c.ok));
    assert_eq!(kube.version().await.unwrap().git_version, "v1.33.5+k3s1");

    fake.set_readyz_failing(&["etcd", "poststarthook/crd-informer-synced"]);
    let err = kube.require_ready().await.unwrap_err();
    let KubeError::NotReady { failing, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(failing, &["etcd", "poststarthook/crd-informer-synced"]);
    assert!(
        err.to_string()
            .contains("failing checks: etcd, poststarthook/crd-informer-synced"),
        "{err}"
    );
}

#[tokio::test]
async fn wait_deadline_names_what_and_the_last_state() {
    let fake = FakeKube::start();
    let kube = client(&fake).await;
    fake.hold_unavailable("kube-system", "coredns");
    fake.insert(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                 "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}},
                              "spec": {"containers": [{"name": "coredns", "image": "coredns"}]}}}}));
    let available = || async {
        let d = kube
            .get_opt::<Deployment>(Some("kube-system"), "coredns")
            .await?
            .expect("deployment");
        let st = d.status.unwrap_or_default();
        let avail = st.available_replicas.unwrap_or(0);
        if avail >= 2 {
            Ok(Probe::Done(()))
        } else {
            Ok(Probe::Waiting(format!("{avail} of 2 replicas available")))
        }
    };
    let err = wait_for(
        "deployment kube-system/coredns to be available",
        Duration::from_millis(300),
        Duration::from_millis(50),
        available,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "timed out after 0s waiting for deployment kube-system/coredns to be available; last seen: 0 of 2 replicas available"
    );
    fake.release("kube-system", "coredns");
    wait_for(
        "coredns",
        Duration::from_secs(2),
        Duration::from_millis(50),
        available,
    )
    .await
    .expect("available once released");
}

#[tokio::test]
async fn helm_chart_applies_once_and_its_install_job_completes() {
    let fake = FakeKube::start();
    let crd = serde_json::from_str::<Value>(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/k8s-api-samples/06-crd-create.json"),
        )
        .unwrap(),
    )
    .unwrap()["request"]["body"]
        .clone();
    fake.insert(crd);
    fake.establish_crds();
    let kube = client(&fake).await;
    let charts = kube.dynamic(&helm_chart_resource());
    let chart: DynamicObject = serde_json::from_value(json!({
        "metadata": {"name": "cert-manager", "namespace": "kube-system"},
        "spec": {"repo": "https://charts.jetstack.io", "chart": "cert-manager", "version": "v1.21.0",
                 "targetNamespace": "cert-manager", "createNamespace": true, "failurePolicy": "abort"}
    }))
    .unwrap();
    assert_eq!(
        charts.apply(&chart, false).await.unwrap().outcome,
        ApplyOutcome::Created
    );
    let job = kube
        .get_opt::<k8s_openapi::api::batch::v1::Job>(
            Some("kube-system"),
            "helm-install-cert-manager",
        )
        .await
        .unwrap()
        .expect("install job");
    let conds = job.status.unwrap().conditions.unwrap();
    assert!(conds
        .iter()
        .any(|c| c.type_ == "Complete" && c.status == "True"));

    let before = fake.mutating_count();
    assert_eq!(
        charts.apply(&chart, false).await.unwrap().outcome,
        ApplyOutcome::Unchanged
    );
    assert_eq!(fake.mutating_count(), before);

    assert_eq!(
        charts
            .delete(Some("kube-system"), "cert-manager")
            .await
            .unwrap(),
        DeleteOutcome::Terminating
    );
    // The helm-controller stand-in runs helm-delete and releases its finalizer.
    assert!(charts
        .get_opt(Some("kube-system"), "cert-manager")
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_server_that_accepts_but_never_answers_times_out() {
    let fake = FakeKube::start();
    // Accepts TCP connections and holds them without a TLS handshake (a wedged API).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let holder = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(3));
        drop(conns);
    });
    let kube = Kube::from_kubeconfig_yaml(
        &fake.kubeconfig_with(&url, fake.ca_pem()),
        RunLog::disabled(),
        Duration::from_millis(700),
    )
    .await
    .unwrap();
    let start = std::time::Instant::now();
    let err = kube.readyz().await.unwrap_err();
    assert!(matches!(err, KubeError::NotAnswering { .. }), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    assert!(
        err.to_string().starts_with(&format!(
            "the API at {url} did not answer GET /readyz?verbose"
        )),
        "{err}"
    );
    holder.join().unwrap();
}

#[tokio::test]
async fn a_webhook_not_serving_yet_is_ridden_out_by_a_wait() {
    let fake = FakeKube::start();
    let kube = client(&fake).await;
    fake.webhook_down("", "webhook.cert-manager.io", 2);
    let cm = config_map("probe", json!({"a": "b"}));
    let err = kube.apply_dry_run(&cm).await.unwrap_err();
    let KubeError::Api {
        status, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 500);
    assert!(
        message.contains("failed calling webhook \"webhook.cert-manager.io\""),
        "{message}"
    );
    // The second refusal is absorbed by the wait; the third request is admitted.
    let admitted = wait_for(
        "the webhook to admit",
        Duration::from_secs(2),
        Duration::from_millis(20),
        || async { kube.apply_dry_run(&cm).await.map(Probe::Done) },
    )
    .await
    .expect("admitted after the webhook came up");
    assert_eq!(admitted.metadata.name.as_deref(), Some("probe"));
    assert!(
        admitted.metadata.resource_version.is_none(),
        "a dry-run create has no resourceVersion"
    );
}

#[tokio::test]
async fn a_k3s_style_kubeconfig_with_a_client_certificate_authenticates() {
    let fake = FakeKube::start();
    let kube =
        Kube::from_kubeconfig_yaml(&fake.kubeconfig_client_cert(), RunLog::disabled(), TIMEOUT)
            .await
            .expect("client from a client-certificate kubeconfig");
    assert_eq!(kube.version().await.unwrap().git_version, "v1.33.5+k3s1");
    // The private key is registered as a secret: it cannot reach a log or an error.
    let kubeconfig: Value = serde_yaml::from_str(&fake.kubeconfig_client_cert()).unwrap();
    let key = kubeconfig["users"][0]["user"]["client-key-data"]
        .as_str()
        .unwrap();
    assert!(foundry::secrets::redact::contains_secret(key));
}

#[tokio::test]
async fn kubeconfig_file_cordon_and_deletes() {
    let fake = FakeKube::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster/kubeconfig");
    fake.write_kubeconfig(&path);
    let kube = Kube::from_path(&path, RunLog::disabled(), TIMEOUT)
        .await
        .unwrap();
    fake.insert(node("cp-1"));
    fake.insert(pod("web-0", "cp-1", "web"));
    fake.set_pod_running("default", "web-0");

    let cordoned: Node = kube
        .merge_patch::<Node>(None, "cp-1", &json!({"spec": {"unschedulable": true}}))
        .await
        .unwrap();
    assert_eq!(cordoned.spec.unwrap().unschedulable, Some(true));

    // A bound, running pod waits for its kubelet; a Node goes at once; a missing one is gone.
    assert_eq!(
        kube.delete::<Pod>(Some("default"), "web-0").await.unwrap(),
        DeleteOutcome::Terminating
    );
    assert_eq!(
        kube.delete::<Node>(None, "cp-1").await.unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        kube.delete::<Node>(None, "cp-1").await.unwrap(),
        DeleteOutcome::AlreadyGone
    );
    assert!(kube.get_opt::<Node>(None, "cp-1").await.unwrap().is_none());

    let missing = Kube::from_path(&dir.path().join("nope"), RunLog::disabled(), TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(missing, KubeError::Kubeconfig { .. }),
        "{missing:?}"
    );
    assert!(missing.to_string().contains("nope"), "{missing}");
}

#[tokio::test]
async fn a_failing_helm_install_job_shows_on_the_chart() {
    let fake = FakeKube::start();
    let crd = serde_json::from_str::<Value>(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/k8s-api-samples/06-crd-create.json"),
        )
        .unwrap(),
    )
    .unwrap()["request"]["body"]
        .clone();
    fake.insert(crd);
    fake.establish_crds();
    fake.fail_job("kube-system", "helm-install-contour");
    let kube = client(&fake).await;
    let chart: DynamicObject = serde_json::from_value(json!({
        "metadata": {"name": "contour", "namespace": "kube-system"},
        "spec": {"repo": "https://projectcontour.github.io/helm-charts", "chart": "contour", "failurePolicy": "abort"}
    }))
    .unwrap();
    kube.dynamic(&helm_chart_resource())
        .apply(&chart, false)
        .await
        .unwrap();
    let job = kube
        .get_opt::<k8s_openapi::api::batch::v1::Job>(Some("kube-system"), "helm-install-contour")
        .await
        .unwrap()
        .expect("install job");
    let failed = job.status.unwrap().conditions.unwrap();
    assert!(failed.iter().any(|c| c.type_ == "Failed"
        && c.status == "True"
        && c.reason.as_deref() == Some("BackoffLimitExceeded")));
    let stored = kube
        .dynamic(&helm_chart_resource())
        .get_opt(Some("kube-system"), "contour")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.data["status"]["conditions"][1]["type"], "Failed");
    assert_eq!(stored.data["status"]["conditions"][1]["status"], "True");
}
