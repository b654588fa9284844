//! What the real cluster's controllers and kubelets would do, reduced to what an installer
//! observes: defaults at create, Deployment/DaemonSet/StatefulSet status, Job status (terminal
//! Jobs are left alone, as the job controller does), PDB status (computed when read, as the
//! disruption controller keeps it), CRDs becoming Established, K3s's helm-controller turning a
//! HelmChart into a `helm-install-<name>` Job, the kubelet removing terminating pods, and
//! `/readyz`, `/livez`, `/version`.

use super::cluster::{key, new_uid, now_rfc3339, Call, Cluster, Key};
use super::resources::{self, ResourceType};
use super::selectors::match_labels;
use super::status::{self, Reply};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Instant;

/// The checks of the recorded `/readyz?verbose` (01-readyz-verbose.txt); `/livez` has the same
/// without `informer-sync` and `shutdown`.
const READYZ_CHECKS: &[&str] = &[
    "ping",
    "log",
    "etcd",
    "informer-sync",
    "poststarthook/start-kube-apiserver-admission-initializer",
    "poststarthook/generic-apiserver-start-informers",
    "poststarthook/priority-and-fairness-config-consumer",
    "poststarthook/priority-and-fairness-filter",
    "poststarthook/start-apiextensions-informers",
    "poststarthook/start-apiextensions-controllers",
    "poststarthook/crd-informer-synced",
    "poststarthook/bootstrap-controller",
    "poststarthook/rbac/bootstrap-roles",
    "poststarthook/scheduling/bootstrap-system-priority-classes",
    "poststarthook/priority-and-fairness-config-producer",
    "poststarthook/start-cluster-authentication-info-controller",
    "poststarthook/aggregator-reload-proxy-client-cert",
    "poststarthook/start-kube-aggregator-informers",
    "poststarthook/apiservice-registration-controller",
    "poststarthook/apiservice-status-available-controller",
    "poststarthook/kube-apiserver-autoregistration",
    "autoregister-completion",
    "poststarthook/apiservice-openapi-controller",
    "poststarthook/apiservice-openapiv3-controller",
    "shutdown",
];

/// The finalizer K3s's helm-controller puts on every HelmChart.
pub(crate) const HELM_FINALIZER: &str = "wrangler.cattle.io/on-helm-chart-remove";

/// `/version` of a K3s v1.33 server (1.31+ adds the emulation fields, api-behaviour.md A.6).
pub(crate) fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "emulationMajor": "1", "emulationMinor": "33",
        "minCompatibilityMajor": "1", "minCompatibilityMinor": "32",
        "gitVersion": "v1.33.5+k3s1", "gitCommit": "fake", "gitTreeState": "clean",
        "buildDate": "2025-09-24T00:00:00Z", "goVersion": "go1.24.6", "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/readyz` and `/livez` (healthz.go): `ok`, or the verbose list; a failure is 500, always
/// verbose, `[-]name failed: reason withheld`.
pub(crate) fn health(c: &Cluster, which: &str, call: &Call) -> Reply {
    let checks: Vec<&str> = READYZ_CHECKS
        .iter()
        .copied()
        .filter(|n| which == "readyz" || !matches!(*n, "informer-sync" | "shutdown"))
        .collect();
    let failing = |n: &str| which == "readyz" && c.readyz_failing.iter().any(|f| f == n);
    let any_failing = checks.iter().any(|n| failing(n));
    if !any_failing && !call.query.contains_key("verbose") {
        return Reply {
            code: 200,
            body: status::Body::Text("ok".into()),
        };
    }
    let mut out = String::new();
    for n in &checks {
        if failing(n) {
            out.push_str(&format!("[-]{n} failed: reason withheld\n"));
        } else {
            out.push_str(&format!("[+]{n} ok\n"));
        }
    }
    if any_failing {
        out.push_str(&format!("{which} check failed\n"));
    } else {
        out.push_str(&format!("{which} check passed\n"));
    }
    Reply {
        code: if any_failing { 500 } else { 200 },
        body: status::Body::Text(out),
    }
}

pub(crate) fn crd_established(crd: &Value) -> bool {
    crd["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Established" && c["status"] == "True")
}

pub(crate) fn pod_ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
        && pod["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// Server-side defaults the samples show at create.
pub(crate) fn defaults(rt: &ResourceType, obj: &mut Value) {
    match rt.kind.as_str() {
        "Node" => {
            let taints = obj["spec"]["taints"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !taints
                .iter()
                .any(|t| t["key"] == "node.kubernetes.io/not-ready")
            {
                let mut t = taints;
                t.push(json!({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule", "timeAdded": now_rfc3339()}));
                obj["spec"]["taints"] = json!(t);
            }
        }
        "Pod" => {
            if obj["status"]["phase"].is_null() {
                obj["status"]["phase"] = json!("Pending");
            }
            if obj["spec"]["terminationGracePeriodSeconds"].is_null() {
                obj["spec"]["terminationGracePeriodSeconds"] = json!(30);
            }
        }
        "PodDisruptionBudget" => {
            obj["status"] = json!({"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0});
        }
        "Deployment" | "StatefulSet" | "ReplicaSet" if obj["spec"]["replicas"].is_null() => {
            obj["spec"]["replicas"] = json!(1);
        }
        "Job" => {
            for (k, v) in [("completions", 1), ("parallelism", 1), ("backoffLimit", 6)] {
                if obj["spec"][k].is_null() {
                    obj["spec"][k] = json!(v);
                }
            }
            job_selector(obj);
        }
        "HelmChart" if obj["spec"]["failurePolicy"].is_null() => {
            obj["spec"]["failurePolicy"] = json!("reinstall");
        }
        "CustomResourceDefinition" => {
            let first = obj["spec"]["versions"][0]["name"].clone();
            obj["status"] = json!({"conditions": null, "acceptedNames": {"plural": "", "kind": ""}, "storedVersions": [first]});
        }
        _ => {}
    }
}

/// The object as a read returns it.
pub(crate) fn present(_c: &Cluster, _rt: &ResourceType, obj: &Value) -> Value {
    obj.clone()
}

pub(crate) fn pdb_status(c: &Cluster, pdb: &Value) -> Value {
    let ns = pdb["metadata"]["namespace"].as_str().unwrap_or_default();
    let pods: Vec<&Value> = c
        .objects
        .iter()
        .filter(|((g, p, n, _), _)| g.is_empty() && p == "pods" && n == ns)
        .map(|(_, v)| v)
        .filter(|p| match_labels(&pdb["spec"]["selector"], p))
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect();
    let expected = pods.len() as i64;
    let healthy = pods.iter().filter(|p| pod_ready(p)).count() as i64;
    let amount = |v: &Value| -> Option<i64> {
        match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s
                .strip_suffix('%')
                .and_then(|p| p.parse::<i64>().ok())
                .map(|p| (expected * p + 99) / 100),
            _ => None,
        }
    };
    let desired = if let Some(m) = amount(&pdb["spec"]["minAvailable"]) {
        m
    } else if let Some(m) = amount(&pdb["spec"]["maxUnavailable"]) {
        (expected - m).max(0)
    } else {
        0
    };
    let allowed = (healthy - desired).max(0);
    json!({
        "observedGeneration": pdb["metadata"]["generation"].clone(),
        "disruptionsAllowed": allowed,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": expected,
        "conditions": [{
            "type": "DisruptionAllowed",
            "status": if allowed > 0 { "True" } else { "False" },
            "reason": if allowed > 0 { "SufficientPods" } else { "InsufficientPods" },
            "message": "",
            "observedGeneration": pdb["metadata"]["generation"].clone(),
            "lastTransitionTime": now_rfc3339(),
        }],
    })
}

/// Runs before every request: time-based changes (CRDs Established, kubelet removals,
/// HelmChart deletions).
pub(crate) fn tick(c: &mut Cluster) {
    let crd_rt =
        resources::builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions").expect("crd");
    let due: Vec<String> = c
        .crd_created
        .iter()
        .filter(|(_, t)| t.elapsed() >= c.opts.crd_establish_after)
        .map(|(n, _)| n.clone())
        .collect();
    for name in due {
        c.crd_created.remove(&name);
        establish(c, &key(&crd_rt, None, &name));
    }
    if let Some(after) = c.opts.kubelet_removes_after {
        let gone: Vec<Key> = c
            .terminating_since
            .iter()
            .filter(|(_, t)| t.elapsed() >= after)
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            c.forget_pod(&k);
        }
    }
    let deleting: Vec<Key> = c
        .objects
        .iter()
        .filter(|((_, p, _, _), v)| {
            p == "helmcharts" && !v["metadata"]["deletionTimestamp"].is_null()
        })
        .map(|(k, _)| k.clone())
        .collect();
    for k in deleting {
        helm_uninstall(c, &k);
    }
    sync_pdbs(c);
}

/// The disruption controller: each PDB's status follows its pods (a write when it changes).
fn sync_pdbs(c: &mut Cluster) {
    let pdbs: Vec<(Key, Value)> = c
        .objects
        .iter()
        .filter(|((g, p, _, _), _)| g == "policy" && p == "poddisruptionbudgets")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, pdb) in pdbs {
        let st = pdb_status(c, &pdb);
        set_status(c, &k, st);
    }
}

/// Marks a CRD NamesAccepted + Established (what the apiextensions controllers do).
pub(crate) fn establish(c: &mut Cluster, k: &Key) {
    let Some(mut crd) = c.objects.get(k).cloned() else {
        return;
    };
    if crd_established(&crd) {
        return;
    }
    let now = now_rfc3339();
    crd["status"]["conditions"] = json!([
        {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts", "message": "no conflicts found"},
        {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
    ]);
    crd["status"]["acceptedNames"] = crd["spec"]["names"].clone();
    c.store(k.clone(), crd);
}

/// Runs after an object was stored by a request.
pub(crate) fn after_write(c: &mut Cluster, rt: &ResourceType, k: &Key) {
    match rt.kind.as_str() {
        "CustomResourceDefinition" => {
            c.crd_created
                .entry(k.3.clone())
                .or_insert_with(Instant::now);
            if c.opts.crd_establish_after.is_zero() {
                c.crd_created.remove(&k.3);
                establish(c, k);
            }
        }
        "Deployment" | "DaemonSet" | "StatefulSet" | "ReplicaSet" => reconcile_workload(c, rt, k),
        "Job" => reconcile_job(c, k),
        "HelmChart" => reconcile_chart(c, k),
        _ => {}
    }
}

/// Runs after an object was removed: a deleted Node's mirror pods get a deletionTimestamp from
/// the garbage collector (03-pods-after-node-delete-watch.json).
pub(crate) fn after_delete(c: &mut Cluster, rt: &ResourceType, obj: &Value) {
    if rt.kind != "Node" {
        return;
    }
    let node = obj["metadata"]["name"].as_str().unwrap_or_default();
    let owned = owned_pods(c, |_, o| o["kind"] == "Node" && o["name"] == node);
    for k in owned {
        c.delete_pod(&k, Some(30));
    }
}

/// Status without condition timestamps, for "did it change".
fn timeless(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(conds) = v.get_mut("conditions").and_then(|c| c.as_array_mut()) {
        for cond in conds {
            if let Some(o) = cond.as_object_mut() {
                o.remove("lastTransitionTime");
                o.remove("lastUpdateTime");
                o.remove("lastProbeTime");
            }
        }
    }
    v
}

fn stamp(mut status: Value) -> Value {
    let now = now_rfc3339();
    if let Some(conds) = status.get_mut("conditions").and_then(|c| c.as_array_mut()) {
        for cond in conds {
            cond["lastTransitionTime"] = json!(now);
        }
    }
    status
}

/// Writes `status` unless it equals the current one (timestamps aside).
fn set_status(c: &mut Cluster, k: &Key, status: Value) {
    let Some(mut obj) = c.objects.get(k).cloned() else {
        return;
    };
    if timeless(&obj["status"]) == timeless(&status) {
        return;
    }
    obj["status"] = stamp(status);
    c.store(k.clone(), obj);
}

fn cond(t: &str, s: bool, reason: &str, message: &str) -> Value {
    json!({"type": t, "status": if s { "True" } else { "False" }, "reason": reason, "message": message})
}

pub(crate) fn reconcile_workload(c: &mut Cluster, rt: &ResourceType, k: &Key) {
    let Some(obj) = c.objects.get(k).cloned() else {
        return;
    };
    let ready = c.opts.workloads_ready
        && !c.held_unavailable.contains(&(k.2.clone(), k.3.clone()))
        && !c
            .held_unavailable_prefixes
            .iter()
            .any(|p| k.3.starts_with(p.as_str()));
    let generation = obj["metadata"]["generation"].clone();
    let name = k.3.as_str();
    let status = match rt.kind.as_str() {
        "DaemonSet" => {
            let nodes = c
                .objects
                .keys()
                .filter(|(g, p, _, _)| g.is_empty() && p == "nodes")
                .count()
                .max(1);
            if ready {
                json!({"currentNumberScheduled": nodes, "desiredNumberScheduled": nodes, "numberMisscheduled": 0,
                       "numberReady": nodes, "numberAvailable": nodes, "updatedNumberScheduled": nodes,
                       "observedGeneration": generation})
            } else {
                json!({"currentNumberScheduled": nodes, "desiredNumberScheduled": nodes, "numberMisscheduled": 0,
                       "numberReady": 0, "numberUnavailable": nodes, "updatedNumberScheduled": nodes,
                       "observedGeneration": generation})
            }
        }
        "Deployment" => {
            let r = obj["spec"]["replicas"].as_i64().unwrap_or(1);
            let rs = format!("{name}-5d4f8c7b9");
            if ready {
                json!({"observedGeneration": generation, "replicas": r, "updatedReplicas": r, "readyReplicas": r,
                       "availableReplicas": r, "conditions": [
                    cond("Available", true, "MinimumReplicasAvailable", "Deployment has minimum availability."),
                    cond("Progressing", true, "NewReplicaSetAvailable", &format!("ReplicaSet \"{rs}\" has successfully progressed."))]})
            } else {
                json!({"observedGeneration": generation, "replicas": r, "updatedReplicas": r, "unavailableReplicas": r,
                       "conditions": [
                    cond("Available", false, "MinimumReplicasUnavailable", "Deployment does not have minimum availability."),
                    cond("Progressing", true, "ReplicaSetUpdated", &format!("ReplicaSet \"{rs}\" is progressing."))]})
            }
        }
        _ => {
            let r = obj["spec"]["replicas"].as_i64().unwrap_or(1);
            let n = if ready { r } else { 0 };
            json!({"observedGeneration": generation, "replicas": r, "readyReplicas": n, "availableReplicas": n,
                   "currentReplicas": r, "updatedReplicas": r, "currentRevision": format!("{name}-1"), "updateRevision": format!("{name}-1")})
        }
    };
    set_status(c, k, status);
}

/// What the apiserver adds to a Job without `manualSelector` (08-job-create.json, v1.24):
/// `spec.selector.matchLabels {controller-uid}`, and `controller-uid` + `job-name` on the
/// template and, where the Job has none, on the Job itself.
fn job_selector(job: &mut Value) {
    if !job["spec"]["selector"].is_null() {
        return;
    }
    let uid = job["metadata"]["uid"].clone();
    let name = job["metadata"]["name"].clone();
    job["spec"]["selector"] = json!({"matchLabels": {"controller-uid": uid}});
    let labels = json!({"controller-uid": uid, "job-name": name});
    for l in labels.as_object().into_iter().flatten() {
        job["spec"]["template"]["metadata"]["labels"][l.0] = l.1.clone();
    }
    if job["metadata"]["labels"].is_null() {
        job["metadata"]["labels"] = labels;
    }
}

/// What a failing helm-install Job's pod prints (klipper-helm's entry script, then helm).
pub(crate) const FAILED_HELM_LOG: &str = "\
CHART=contour/contour
+ helm_v3 repo add contour https://projectcontour.github.io/helm-charts
\"contour\" has been added to your repositories
+ helm_v3 install --namespace projectcontour --create-namespace contour contour/contour --version 0.1.0
Error: INSTALLATION FAILED: chart \"contour\" matching 0.1.0 not found in contour index. (try 'helm repo update'): no chart version found for contour-0.1.0
";

/// The job controller's pod for Job `k`, created once: Pending while the Job runs (no kubelet
/// starts it), Succeeded or Failed with it. A failed pod's log is kept for `pods/NAME/log`.
fn job_pod(c: &mut Cluster, k: &Key, job: &Value, outcome: Option<bool>) {
    let uid = job["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let pods = resources::builtin("", "v1", "pods").expect("pods");
    let suffix: String = uid.chars().filter(|ch| *ch != '-').take(5).collect();
    let pod_name = format!("{}-{suffix}", k.3);
    let pk = key(&pods, Some(&k.2), &pod_name);
    // The garbage collector: pods of an earlier Job of this name (replaced or deleted) go.
    let stale = owned_pods(c, |ns, o| {
        ns == k.2 && o["kind"] == "Job" && o["name"] == k.3.as_str() && o["uid"] != uid.as_str()
    });
    for k in stale {
        c.forget_pod(&k);
    }
    let (phase, exit) = match outcome {
        None => ("Pending", None),
        Some(true) => ("Succeeded", Some(0)),
        Some(false) => ("Failed", Some(1)),
    };
    if c.objects
        .get(&pk)
        .is_some_and(|p| p["status"]["phase"] == phase)
    {
        return;
    }
    let containers = job["spec"]["template"]["spec"]["containers"].clone();
    let statuses: Vec<Value> = containers
        .as_array()
        .into_iter()
        .flatten()
        .map(|ct| match exit {
            None => json!({"name": ct["name"], "image": ct["image"], "ready": false, "restartCount": 0,
                           "state": {"waiting": {"reason": "ContainerCreating"}}}),
            Some(code) => json!({"name": ct["name"], "image": ct["image"], "ready": false, "restartCount": 0,
                                 "state": {"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" }}}}),
        })
        .collect();
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod_name, "namespace": k.2, "uid": new_uid(), "creationTimestamp": now_rfc3339(),
                     "labels": job["spec"]["template"]["metadata"]["labels"],
                     "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": k.3, "uid": uid,
                                          "controller": true, "blockOwnerDeletion": true}]},
        "spec": job["spec"]["template"]["spec"],
        "status": {"phase": phase, "containerStatuses": statuses},
    });
    if exit == Some(1) {
        let log = c
            .job_logs
            .get(&(k.2.clone(), k.3.clone()))
            .cloned()
            .unwrap_or_else(|| FAILED_HELM_LOG.to_string());
        c.pod_logs.insert(pk.clone(), log);
    }
    c.store(pk, pod);
}

fn job_terminal(job: &Value) -> Option<bool> {
    job["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True")
        .map(|c| c["type"] == "Complete")
}

/// The job controller: a terminal Job is left alone; a failing one (test hook) goes Failed,
/// otherwise Complete when jobs complete, else it stays active (no kubelet runs its pod).
pub(crate) fn reconcile_job(c: &mut Cluster, k: &Key) {
    let Some(job) = c.objects.get(k).cloned() else {
        return;
    };
    if job_terminal(&job).is_some() {
        return;
    }
    let start = job["status"]["startTime"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(now_rfc3339);
    // Some(true) Complete, Some(false) Failed, None still active (as `job_terminal`).
    let outcome = if c.failing_jobs.contains(&(k.2.clone(), k.3.clone())) {
        Some(false)
    } else if c.opts.jobs_complete {
        Some(true)
    } else {
        None
    };
    let status = match outcome {
        Some(false) => {
            let limit = job["spec"]["backoffLimit"].as_i64().unwrap_or(6);
            json!({"startTime": start, "failed": limit + 1, "ready": 0, "conditions": [
                cond("FailureTarget", true, "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
                cond("Failed", true, "BackoffLimitExceeded", "Job has reached the specified backoff limit")]})
        }
        Some(true) => {
            json!({"startTime": start, "completionTime": now_rfc3339(), "succeeded": 1, "ready": 0, "conditions": [
                cond("SuccessCriteriaMet", true, "CompletionsReached", "Reached expected number of succeeded pods"),
                cond("Complete", true, "CompletionsReached", "Reached expected number of succeeded pods")]})
        }
        None => json!({"startTime": start, "active": 1, "ready": 0}),
    };
    set_status(c, k, status);
    job_pod(c, k, &job, outcome);
}

fn chart_hash(chart: &Value) -> String {
    let spec = serde_json::to_vec(&chart["spec"]).unwrap_or_default();
    format!("SHA256={}", hex::encode_upper(Sha256::digest(&spec)))
}

fn helm_job(chart: &Value, job_name: &str, action: &str) -> Value {
    let name = chart["metadata"]["name"].as_str().unwrap_or_default();
    let ns = chart["metadata"]["namespace"].as_str().unwrap_or_default();
    let image = chart["spec"]["jobImage"]
        .as_str()
        .unwrap_or("rancher/klipper-helm:v0.9.8-build20250709");
    let labels = json!({"helmcharts.helm.cattle.io/chart": name});
    let mut job = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": job_name, "namespace": ns, "uid": new_uid(), "creationTimestamp": now_rfc3339(),
                     "generation": 1, "labels": labels,
                     "annotations": {"helmcharts.helm.cattle.io/configHash": chart_hash(chart)}},
        "spec": {"backoffLimit": chart["spec"]["backOffLimit"].as_i64().unwrap_or(1000), "completions": 1, "parallelism": 1,
                 "template": {"metadata": {"labels": labels},
                              "spec": {"serviceAccountName": format!("helm-{name}"), "restartPolicy": "OnFailure",
                                       "containers": [{"name": "helm", "image": image, "args": [action]}]}}},
    });
    job_selector(&mut job);
    job
}

/// K3s's helm-controller, reduced: claims the chart (finalizer), (re)creates
/// `helm-install-<name>` when the chart's spec hash changed, and mirrors the Job's outcome
/// into the chart's status (api-behaviour.md A.9).
pub(crate) fn reconcile_chart(c: &mut Cluster, k: &Key) {
    let Some(mut chart) = c.objects.get(k).cloned() else {
        return;
    };
    if !chart["metadata"]["deletionTimestamp"].is_null() {
        return;
    }
    let finalizers = chart["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !finalizers.iter().any(|f| f == HELM_FINALIZER) {
        let mut f = finalizers;
        f.push(json!(HELM_FINALIZER));
        chart["metadata"]["finalizers"] = json!(f);
        chart["metadata"]["annotations"]["helmcharts.cattle.io/managed-by"] =
            json!("helm-controller");
        chart = c.store(k.clone(), chart);
    }
    let jobs = resources::builtin("batch", "v1", "jobs").expect("jobs");
    let job_name = format!("helm-install-{}", k.3);
    let jk = key(&jobs, Some(&k.2), &job_name);
    let hash = chart_hash(&chart);
    let current_hash = c
        .objects
        .get(&jk)
        .and_then(|j| j["metadata"]["annotations"]["helmcharts.helm.cattle.io/configHash"].as_str())
        .map(String::from);
    if current_hash.as_deref() != Some(hash.as_str()) {
        let job = helm_job(&chart, &job_name, "install");
        c.store(jk.clone(), job);
        reconcile_job(c, &jk);
    }
    let failed = c.objects.get(&jk).and_then(job_terminal) == Some(false);
    let ns = &k.2;
    let mut conditions = vec![
        json!({"type": "JobCreated", "status": "True", "reason": "Job created",
        "message": format!("Applying HelmChart using Job {ns}/{job_name}")}),
    ];
    if failed {
        conditions.push(
            json!({"type": "Failed", "status": "True", "reason": "Job failed",
            "message": "Job has reached configured number of retries without succeeding"}),
        );
    } else {
        conditions.push(json!({"type": "Failed", "status": "False"}));
    }
    let status = json!({"jobName": job_name, "conditions": conditions});
    if chart["status"] != status {
        chart["status"] = status;
        c.store(k.clone(), chart);
    }
}

/// A HelmChart being deleted: the `helm-delete-<name>` Job runs; once it completes the
/// install Job goes and the finalizer is released (the chart disappears). A failing delete
/// Job (test hook) keeps the chart Terminating.
fn helm_uninstall(c: &mut Cluster, k: &Key) {
    let Some(chart) = c.objects.get(k).cloned() else {
        return;
    };
    let jobs = resources::builtin("batch", "v1", "jobs").expect("jobs");
    let del_name = format!("helm-delete-{}", k.3);
    let dk = key(&jobs, Some(&k.2), &del_name);
    if !c.objects.contains_key(&dk) {
        let job = helm_job(&chart, &del_name, "delete");
        c.store(dk.clone(), job);
        reconcile_job(c, &dk);
    }
    if c.objects.get(&dk).and_then(job_terminal) == Some(true) {
        let ik = key(&jobs, Some(&k.2), &format!("helm-install-{}", k.3));
        for jk in [&dk, &ik] {
            if let Some(job) = c.objects.remove(jk) {
                remove_pods_of(c, &job);
            }
        }
        c.objects.remove(k);
        c.rv += 1;
    }
}

/// The garbage collector for a removed Job: its pods (owner uid) go with it.
fn remove_pods_of(c: &mut Cluster, job: &Value) {
    let uid = &job["metadata"]["uid"];
    for k in owned_pods(c, |_, o| &o["uid"] == uid) {
        c.forget_pod(&k);
    }
}

/// The pods with an owner reference `owner(namespace, reference)` accepts.
fn owned_pods(c: &Cluster, owner: impl Fn(&str, &Value) -> bool) -> Vec<Key> {
    c.objects
        .iter()
        .filter(|((g, p, _, _), _)| g.is_empty() && p == "pods")
        .filter(|((_, _, ns, _), pod)| {
            pod["metadata"]["ownerReferences"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|o| owner(ns, o))
        })
        .map(|(k, _)| k.clone())
        .collect()
}
