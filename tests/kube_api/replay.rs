//! Replays the recorded requests of tests/data/k8s-api-samples/ (a real kube-apiserver v1.24.1,
//! see its README.md) against THE MOCK API SERVER (support/fake_kube) and checks that it
//! answers the same way: the status code; Status bodies field for field (kind, apiVersion,
//! status, message, reason, code, details; not uid); plain-text bodies byte for byte; objects
//! by kind, apiVersion, name, namespace, which metadata is present, condition types/statuses,
//! SSA managedFields and data; lists by kind and item names; and resourceVersion equality
//! between responses (an identical re-apply keeps it, a write changes it).
//!
//! The requests run in one scenario, in the order they were recorded, with the setup the
//! recording had between them (pods a scheduler or kubelet would have made, controllers that
//! ran) done through the fake's test hooks. Samples that are not replayed are listed in
//! [`NOT_REPLAYED`] with the reason.

use super::fake_kube::{FakeKube, Options};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Samples this test does not replay, and why.
const NOT_REPLAYED: &[(&str, &str)] = &[
    ("03-pods-after-node-delete-watch.json", "a watch stream and poll timeline, not one request/response; the fake has no watch (its pod GC is the `pod_gc` hook, checked after 03-node-delete)"),
    ("08-deployment-get-available-by-controller.json", "status written by the real deployment controller after a pod became Ready; the fake models availability per cluster (Options::workloads_ready) or per workload (hold_unavailable), not per pod"),
    ("08-replicaset-list.json", "ReplicaSets made by the real deployment controller; the fake's deployment stand-in writes Deployment status only"),
];

fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/k8s-api-samples")
}

/// One recorded request/response (the `*.json` format of the samples README).
struct Sample {
    name: String,
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    status: u16,
    response: Value,
}

fn load(name: &str) -> Sample {
    let text = std::fs::read_to_string(samples_dir().join(name))
        .unwrap_or_else(|e| panic!("sample {name}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("sample {name}: {e}"));
    let req = &v["request"];
    let strings = |o: &Value| -> Vec<(String, String)> {
        o.as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect()
    };
    let body = match &req["body"] {
        Value::Null => None,
        Value::String(s) => Some(s.clone().into_bytes()),
        other => Some(serde_json::to_vec(other).expect("json")),
    };
    Sample {
        name: name.to_string(),
        method: req["method"].as_str().expect("method").to_string(),
        path: req["path"].as_str().expect("path").to_string(),
        query: strings(&req["query"]),
        headers: strings(&req["headers"]),
        body,
        status: v["response"]["status"].as_u64().expect("status") as u16,
        response: v["response"]["body"].clone(),
    }
}

/// `*.txt` samples: first line the status, then the body as returned.
fn load_text(name: &str) -> (u16, String) {
    let text = std::fs::read_to_string(samples_dir().join(name)).expect("text sample");
    let (code, body) = text.split_once('\n').expect("status line");
    (code.trim().parse().expect("status code"), body.to_string())
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// (kind, namespace, name) of an object.
type ObjectId = (String, String, String);
/// (sample, recorded resourceVersion, the fake's resourceVersion)
type SeenVersion = (String, String, String);

struct Replayer {
    fake: FakeKube,
    http: reqwest::Client,
    failures: Vec<String>,
    /// Every resourceVersion seen per object.
    versions: BTreeMap<ObjectId, Vec<SeenVersion>>,
    replayed: Vec<String>,
}

impl Replayer {
    fn new() -> Replayer {
        let fake = FakeKube::start_with(Options::recorded());
        let ca = reqwest::Certificate::from_pem(fake.ca_pem().as_bytes()).expect("ca");
        let http = reqwest::Client::builder()
            .add_root_certificate(ca)
            .build()
            .expect("client");
        Replayer {
            fake,
            http,
            failures: Vec::new(),
            versions: BTreeMap::new(),
            replayed: Vec::new(),
        }
    }

    async fn send(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
        auth: bool,
    ) -> (u16, String, String) {
        let url = format!("{}{}", self.fake.url(), path_and_query);
        let mut req = self.http.request(method.parse().expect("method"), url);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        if auth {
            req = req.bearer_auth(self.fake.token());
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req.send().await.expect("the fake answers");
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, ct, resp.text().await.expect("body"))
    }

    /// Performs the sample's request against the fake and compares the answer.
    async fn replay(&mut self, name: &str) -> Value {
        let s = load(name);
        self.replayed.push(name.to_string());
        let mut pq = s.path.clone();
        if !s.query.is_empty() {
            let q: Vec<String> = s
                .query
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            pq = format!("{pq}?{}", q.join("&"));
        }
        // The 401 sample was made without any credentials.
        let auth = s.status != 401;
        let (status, ct, body) = self
            .send(&s.method, &pq, &s.headers, s.body.clone(), auth)
            .await;
        if status != s.status {
            self.failures.push(format!(
                "{name}: status {status}, recorded {} (body: {body})",
                s.status
            ));
            return Value::Null;
        }
        if let Value::String(text) = &s.response {
            if &body != text || !ct.starts_with("text/plain") {
                self.failures.push(format!(
                    "{name}: text body {body:?} ({ct}), recorded {text:?} (text/plain)"
                ));
            }
            return Value::Null;
        }
        let got: Value = match serde_json::from_str(&body) {
            Ok(v) => v,
            Err(e) => {
                self.failures
                    .push(format!("{name}: not JSON ({e}): {body}"));
                return Value::Null;
            }
        };
        self.compare(&s, &got);
        got
    }

    fn compare(&mut self, s: &Sample, got: &Value) {
        let want = &s.response;
        let mut diffs = Vec::new();
        if want["kind"] == "Status" {
            let strip = |v: &Value| {
                let mut v = v.clone();
                if let Some(d) = v.get_mut("details").and_then(|d| d.as_object_mut()) {
                    d.remove("uid");
                }
                v
            };
            if strip(got) != strip(want) {
                diffs.push(format!(
                    "Status differs:\n  fake:     {}\n  recorded: {}",
                    strip(got),
                    strip(want)
                ));
            }
            // Present exactly when recorded (a DELETE Status carries it, an eviction not).
            if got["details"]["uid"].is_null() != want["details"]["uid"].is_null() {
                diffs.push("details.uid presence differs".into());
            }
        } else if want.get("items").is_some() {
            let names = |v: &Value| -> Vec<String> {
                let mut n: Vec<String> = v["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|i| {
                        i["metadata"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string()
                    })
                    .collect();
                n.sort();
                n
            };
            for f in ["kind", "apiVersion"] {
                if got[f] != want[f] {
                    diffs.push(format!("{f}: {} vs recorded {}", got[f], want[f]));
                }
            }
            if names(got) != names(want) {
                diffs.push(format!(
                    "items {:?} vs recorded {:?}",
                    names(got),
                    names(want)
                ));
            }
            let item_kind = |v: &Value| v["items"][0].get("kind").is_some();
            if item_kind(got) != item_kind(want) {
                diffs.push("kind on list items present/absent differs".into());
            }
            if got["metadata"]["resourceVersion"].is_string()
                != want["metadata"]["resourceVersion"].is_string()
            {
                diffs.push("list resourceVersion presence differs".into());
            }
        } else if s.path == "/version" {
            for k in want.as_object().expect("object").keys() {
                if got.get(k).is_none() {
                    diffs.push(format!("/version lacks {k}"));
                }
            }
        } else {
            for f in ["kind", "apiVersion"] {
                if got[f] != want[f] {
                    diffs.push(format!("{f}: {} vs recorded {}", got[f], want[f]));
                }
            }
            for f in ["name", "namespace"] {
                if got["metadata"][f] != want["metadata"][f] {
                    diffs.push(format!(
                        "metadata.{f}: {} vs recorded {}",
                        got["metadata"][f], want["metadata"][f]
                    ));
                }
            }
            for f in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                if got["metadata"][f].is_null() != want["metadata"][f].is_null() {
                    diffs.push(format!(
                        "metadata.{f} present: {} vs recorded {}",
                        !got["metadata"][f].is_null(),
                        !want["metadata"][f].is_null()
                    ));
                }
            }
            if want["metadata"]["generation"].is_number()
                && got["metadata"]["generation"] != want["metadata"]["generation"]
            {
                diffs.push(format!(
                    "generation {} vs recorded {}",
                    got["metadata"]["generation"], want["metadata"]["generation"]
                ));
            }
            let conds = |v: &Value| -> Option<Vec<(String, String)>> {
                let mut c: Vec<(String, String)> = v["status"]["conditions"]
                    .as_array()?
                    .iter()
                    .map(|c| {
                        (
                            c["type"].as_str().unwrap_or_default().into(),
                            c["status"].as_str().unwrap_or_default().into(),
                        )
                    })
                    .collect();
                c.sort();
                Some(c)
            };
            if want["status"]["conditions"].is_array() && conds(got) != conds(want) {
                diffs.push(format!(
                    "conditions {:?} vs recorded {:?}",
                    conds(got),
                    conds(want)
                ));
            }
            if want["status"].get("conditions") == Some(&Value::Null)
                && got["status"]["conditions"] != Value::Null
            {
                diffs.push(format!(
                    "status.conditions {} vs recorded null",
                    got["status"]["conditions"]
                ));
            }
            if want["kind"] == "CustomResourceDefinition" {
                for f in ["acceptedNames", "storedVersions"] {
                    if got["status"][f] != want["status"][f] {
                        diffs.push(format!(
                            "status.{f} {} vs recorded {}",
                            got["status"][f], want["status"][f]
                        ));
                    }
                }
            }
            if want["kind"] == "PodDisruptionBudget" {
                for f in [
                    "disruptionsAllowed",
                    "currentHealthy",
                    "desiredHealthy",
                    "expectedPods",
                ] {
                    if got["status"][f] != want["status"][f] {
                        diffs.push(format!(
                            "status.{f} {} vs recorded {}",
                            got["status"][f], want["status"][f]
                        ));
                    }
                }
            }
            if want["kind"] == "Job" {
                for f in ["active", "succeeded", "failed"] {
                    if got["status"][f] != want["status"][f] {
                        diffs.push(format!(
                            "status.{f} {} vs recorded {}",
                            got["status"][f], want["status"][f]
                        ));
                    }
                }
            }
            if want["kind"] == "ConfigMap" && got["data"] != want["data"] {
                diffs.push(format!("data {} vs recorded {}", got["data"], want["data"]));
            }
            if s.query.iter().any(|(k, _)| k == "fieldManager") {
                let mf = |v: &Value| -> Vec<Value> {
                    v["metadata"]["managedFields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|e| json!([e["manager"], e["operation"], e["fieldsV1"]]))
                        .collect()
                };
                if mf(got) != mf(want) {
                    diffs.push(format!(
                        "managedFields {:?} vs recorded {:?}",
                        mf(got),
                        mf(want)
                    ));
                }
            }
            if want["spec"]["failurePolicy"].is_string()
                && got["spec"]["failurePolicy"] != want["spec"]["failurePolicy"]
            {
                diffs.push(format!(
                    "spec.failurePolicy {} vs recorded {}",
                    got["spec"]["failurePolicy"], want["spec"]["failurePolicy"]
                ));
            }
            let key = (
                want["kind"].as_str().unwrap_or_default().to_string(),
                want["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                want["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
            if let (Some(w), Some(g)) = (
                want["metadata"]["resourceVersion"].as_str(),
                got["metadata"]["resourceVersion"].as_str(),
            ) {
                self.versions.entry(key).or_default().push((
                    s.name.clone(),
                    w.to_string(),
                    g.to_string(),
                ));
            }
        }
        for d in diffs {
            self.failures.push(format!("{}: {d}", s.name));
        }
    }

    async fn replay_text(&mut self, name: &str, path: &str) {
        self.replayed.push(name.to_string());
        let (code, want) = load_text(name);
        let (status, ct, body) = self.send("GET", path, &[], None, true).await;
        if status != code || body != want || !ct.starts_with("text/plain") {
            self.failures.push(format!(
                "{name}: {status} {ct} {body:?}, recorded {code} text/plain {want:?}"
            ));
        }
    }

    /// resourceVersion equality between responses for the same object must match the recording.
    fn check_versions(&mut self) {
        for ((kind, ns, name), seen) in &self.versions {
            for (i, a) in seen.iter().enumerate() {
                for b in &seen[i + 1..] {
                    if (a.1 == b.1) != (a.2 == b.2) {
                        self.failures.push(format!(
                            "{kind} {ns}/{name}: recorded resourceVersions {} ({}) and {} ({}) are {}, the fake's {} and {} are not",
                            a.1, a.0, b.1, b.0, if a.1 == b.1 { "equal" } else { "different" }, a.2, b.2
                        ));
                    }
                }
            }
        }
    }
}

/// A pod from the recorded 03-pods-list-by-node.json, as it was before the scheduler/kubelet
/// touched it (no status) or as listed.
fn recorded_pod(name: &str, as_listed: bool) -> Value {
    let list = load("03-pods-list-by-node.json").response;
    let mut pod = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|p| p["metadata"]["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no pod {name} in the list sample"));
    pod["apiVersion"] = json!("v1");
    pod["kind"] = json!("Pod");
    for f in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "managedFields",
    ] {
        pod["metadata"].as_object_mut().expect("meta").remove(f);
    }
    if !as_listed {
        pod.as_object_mut().expect("pod").remove("status");
    }
    pod
}

#[tokio::test]
async fn every_recorded_sample_replays_against_the_fake() {
    let mut r = Replayer::new();

    // 1. version and health
    r.replay("01-get-version.json").await;
    r.replay_text("01-readyz-verbose.txt", "/readyz?verbose")
        .await;
    r.replay_text("01-livez-verbose.txt", "/livez?verbose")
        .await;

    // 2. a node: create, status from its "kubelet", list, cordon
    r.replay("02-node-create.json").await;
    r.replay("02-node-status-patch.json").await;
    r.replay("02-node-list.json").await;
    r.replay("02-node-cordon-patch.json").await;

    // 3. pods on the node, a PDB, evictions, node delete
    r.replay("03-daemonset-create.json").await;
    r.replay("03-pod-create-mirror.json").await;
    r.replay("03-pod-create-emptydir.json").await;
    // Made outside the samples in the recording: the DaemonSet's pod (by its controller,
    // unbound), web-0 (Running and Ready) and plain-1 (bound, not started yet).
    r.fake.insert(recorded_pod("node-agent-fcgf9", false));
    r.fake.insert(recorded_pod("web-0", true));
    r.fake.insert(recorded_pod("plain-1", false));
    r.replay("03-pod-binding-daemonset-pod.json").await;
    r.replay("03-pdb-create.json").await;
    r.replay("03-pod-status-patch-running.json").await;
    r.replay("03-pdb-get-synced.json").await;
    for p in ["node-agent-fcgf9", "kube-vip-cp-1", "cache-worker"] {
        let ns = if p == "cache-worker" {
            "default"
        } else {
            "kube-system"
        };
        r.fake.set_pod_running(ns, p);
    }
    r.replay("03-pods-list-by-node.json").await;
    r.replay("03-eviction-pdb-429.json").await;
    r.replay("03-eviction-nopdb-201.json").await;
    r.replay("03-eviction-missing-404.json").await;
    r.replay("03-pod-get-after-eviction.json").await;
    // web-1: selected by the PDB, never started.
    let mut web1 = recorded_pod("web-0", false);
    web1["metadata"]["name"] = json!("web-1");
    web1["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("nodeName");
    r.fake.insert(web1);
    r.replay("03-eviction-pending-pod-ignores-pdb.json").await;
    // ~40 s without heartbeats: the node-lifecycle controller marks the node Unknown (and
    // its pods not Ready); the evicted pod is still there.
    r.fake.set_node_ready("cp-1", false);
    r.replay("03-pod-get-evicted-later.json").await;
    r.replay("03-node-get-after-grace.json").await;
    r.replay("03-node-delete.json").await;
    // The pod GC then removes every pod bound to the deleted node (the watch sample).
    let removed = r.fake.pod_gc();
    if removed != 5 {
        r.failures.push(format!(
            "pod GC after the node delete removed {removed} pods, the recording saw 5"
        ));
    }

    // 4. error bodies
    r.replay("04-error-400-malformed-json.json").await;
    r.replay("04-error-401-unauthorized.json").await;
    r.replay("04-error-403-forbidden-impersonated.json").await;
    r.replay("04-error-404-notfound.json").await;
    // The recorded 409 is the second POST of the same ConfigMap.
    let first = load("04-error-409-alreadyexists.json");
    let (code, _, body) = r
        .send(
            "POST",
            &first.path,
            &first.headers,
            first.body.clone(),
            true,
        )
        .await;
    assert_eq!(code, 201, "first POST of configmap dup: {body}");
    r.replay("04-error-409-alreadyexists.json").await;
    r.replay("04-error-415-patch-content-type.json").await;
    r.replay("04-error-422-invalid-node-name.json").await;
    r.replay("04-error-422-invalid-pod-multiple-causes.json")
        .await;

    // 5. server-side apply
    r.replay("05-ssa-configmap-create-201.json").await;
    r.replay("05-ssa-configmap-reapply-200.json").await;
    r.replay("05-ssa-configmap-conflict-409.json").await;
    r.replay("05-ssa-configmap-force-200.json").await;
    r.replay("05-ssa-configmap-dryrun-201.json").await;
    r.replay("05-ssa-configmap-dryrun-then-get-404.json").await;

    // 6. the HelmChart CRD
    r.replay("06-helmchart-get-before-crd-404.json").await;
    r.replay("06-group-discovery-before-crd-404.json").await;
    r.replay("06-crd-create.json").await;
    r.replay("06-helmchart-get-right-after-crd-create.json")
        .await;
    // The naming and establishing controllers run.
    r.fake.establish_crds();
    r.replay("06-crd-get-immediately.json").await;
    r.replay("06-crd-get-established.json").await;
    r.replay("06-helmchart-get-missing-after-established-404.json")
        .await;
    r.replay("06-group-discovery-after-established.json").await;
    r.replay("06-helmchart-ssa-cert-manager-201.json").await;
    r.replay("06-helmchart-list.json").await;

    // 7. dry-run creates
    r.replay("07-daemonset-dryrun-create-201.json").await;
    r.replay("07-daemonset-dryrun-invalid-422.json").await;
    r.replay("07-daemonset-get-after-dryrun-404.json").await;

    // 8. Jobs and Deployments without a kubelet
    r.replay("08-job-create.json").await;
    r.replay("08-job-get-controller-status.json").await;
    r.replay("08-job-status-patch-complete.json").await;
    r.replay("08-job-get-complete.json").await;
    let mut failed_job = load("08-job-status-patch-failed.json").response;
    failed_job.as_object_mut().expect("job").remove("status");
    for f in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "managedFields",
    ] {
        failed_job["metadata"]
            .as_object_mut()
            .expect("meta")
            .remove(f);
    }
    r.fake.insert(failed_job);
    r.replay("08-job-status-patch-failed.json").await;
    r.replay("08-job-get-failed.json").await;
    r.replay("08-deployment-create.json").await;
    r.replay("08-deployment-get-controller-status.json").await;
    r.replay("08-deployment-status-patch.json").await;
    r.replay("08-deployment-get-after-patch.json").await;

    // 9. leases (the controller-manager's, made outside the samples)
    let mut lease = load("09-lease-list-kube-system.json").response["items"][0].clone();
    lease["apiVersion"] = json!("coordination.k8s.io/v1");
    lease["kind"] = json!("Lease");
    r.fake.insert(lease);
    r.replay("09-lease-list-kube-system.json").await;

    r.check_versions();

    // Every sample is either replayed or listed with its reason.
    let mut unaccounted = Vec::new();
    for entry in std::fs::read_dir(samples_dir()).expect("samples dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .to_string();
        if name == "README.md" {
            continue;
        }
        if !r.replayed.contains(&name) && !NOT_REPLAYED.iter().any(|(n, _)| *n == name) {
            unaccounted.push(name);
        }
    }
    assert!(
        unaccounted.is_empty(),
        "samples neither replayed nor listed in NOT_REPLAYED: {unaccounted:?}"
    );
    assert!(
        r.failures.is_empty(),
        "the fake answered {} request(s) unlike the recording:\n{}",
        r.failures.len(),
        r.failures.join("\n")
    );
}
