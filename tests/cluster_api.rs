//! `foundry cluster status | node list | node remove` (issue 10, API part), the real binary
//! against THE MOCK API SERVER `tests/support/fake_kube` (no kube-apiserver, K3s or kubelet
//! can run here; `cargo test --test kube_api` replays the recorded real answers against the
//! same fake). The K3s side is a stand-in too: servers are Nodes labelled control-plane with
//! the etcd member annotation K3s's member controller writes; the "kubelet" is the fake's
//! timer that removes Terminating pods. No SSH and no bed hosts: HOME is a temp dir.

#[path = "support/fake_kube/mod.rs"]
mod fake_kube;

use fake_kube::{FakeKube, Options};
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A HOME with stack.yaml (cp-1..3 servers, w-1 agent) and the fake's kubeconfig.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(fake: &FakeKube) -> Home {
        let dir = tempfile::Builder::new()
            .prefix("foundry-cluster-api-")
            .tempdir()
            .expect("temp HOME");
        let mut stack = String::from(
            "cluster: {name: lab, domain: lab.test, vip: 10.99.0.50}\nnetwork: {cidr: 10.99.0.0/24}\nhosts:\n",
        );
        for (i, (name, role)) in [
            ("cp-1", "cluster-control-plane"),
            ("cp-2", "cluster-control-plane"),
            ("cp-3", "cluster-control-plane"),
            ("w-1", "cluster-worker"),
        ]
        .iter()
        .enumerate()
        {
            stack.push_str(&format!(
                "  - {{hostname: {name}, address: 10.99.0.{}, roles: [{role}]}}\n",
                11 + i
            ));
        }
        std::fs::write(dir.path().join("stack.yaml"), stack).expect("stack.yaml");
        fake.write_kubeconfig(&dir.path().join("kubeconfig"));
        Home { dir }
    }

    fn foundry(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_foundry"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("FOUNDRY_") {
                cmd.env_remove(k);
            }
        }
        let config = self.dir.path().join("stack.yaml");
        let kubeconfig = self.dir.path().join("kubeconfig");
        cmd.env("HOME", self.dir.path())
            .current_dir(self.dir.path())
            .stdin(std::process::Stdio::null())
            .arg("--config")
            .arg(&config)
            .args(args)
            .arg("--kubeconfig")
            .arg(&kubeconfig);
        let out = cmd.output().expect("run foundry");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    /// `"mutating":true` lines of kind http and exec in every run log so far.
    fn mutating_log_lines(&self) -> usize {
        let Ok(rd) = std::fs::read_dir(self.dir.path().join(".foundry/logs")) else {
            return 0;
        };
        rd.filter_map(|e| e.ok())
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .flat_map(|t| t.lines().map(String::from).collect::<Vec<_>>())
            .filter(|l| {
                l.contains("\"mutating\":true")
                    && (l.contains("\"kind\":\"http\"") || l.contains("\"kind\":\"exec\""))
            })
            .count()
    }

    fn run_log_http_lines(&self) -> usize {
        let Ok(rd) = std::fs::read_dir(self.dir.path().join(".foundry/logs")) else {
            return 0;
        };
        rd.filter_map(|e| e.ok())
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .map(|t| {
                t.lines()
                    .filter(|l| l.contains("\"kind\":\"http\""))
                    .count()
            })
            .sum()
    }
}

/// A Node as K3s registers it: servers labelled control-plane (+ etcd) and, once they are
/// etcd members, annotated with the member name.
fn node(fake: &FakeKube, name: &str, server: bool, member: bool) {
    let mut labels = json!({"kubernetes.io/hostname": name});
    let mut annotations = json!({});
    if server {
        labels["node-role.kubernetes.io/control-plane"] = json!("true");
        labels["node-role.kubernetes.io/etcd"] = json!("true");
        if member {
            annotations["etcd.k3s.cattle.io/node-name"] = json!(format!("{name}-1a2b3c4d"));
        }
    }
    fake.insert(json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels, "annotations": annotations},
        "status": {"nodeInfo": {"kubeletVersion": "v1.33.5+k3s1"}}}));
    fake.set_node_ready(name, true);
}

fn pod(fake: &FakeKube, ns: &str, name: &str, node: &str, extra_meta: Value) {
    let mut meta = json!({"name": name, "namespace": ns, "labels": {"app": name.split('-').next().unwrap_or(name)}});
    if let (Some(m), Some(x)) = (meta.as_object_mut(), extra_meta.as_object()) {
        for (k, v) in x {
            m.insert(k.clone(), v.clone());
        }
    }
    fake.insert(json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta,
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}}));
    fake.set_pod_running(ns, name);
}

/// cp-1..3 (members, Ready), w-1 running web-1 (a ReplicaSet's), a DaemonSet pod and a
/// mirror pod; kube-system/coredns Available.
fn cluster(opts: Options) -> FakeKube {
    let fake = FakeKube::start_with(opts);
    for n in ["cp-1", "cp-2", "cp-3"] {
        node(&fake, n, true, true);
    }
    node(&fake, "w-1", false, false);
    pod(
        &fake,
        "default",
        "web-1",
        "w-1",
        json!({"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d9", "uid": "rs-uid", "controller": true}]}),
    );
    pod(
        &fake,
        "kube-system",
        "svclb-1",
        "w-1",
        json!({"ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "svclb", "uid": "ds-uid", "controller": true}]}),
    );
    pod(
        &fake,
        "kube-system",
        "static-1",
        "w-1",
        json!({"annotations": {"kubernetes.io/config.mirror": "0f1e2d"}}),
    );
    fake.insert(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                 "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}}, "spec": {"containers": [{"name": "coredns", "image": "coredns"}]}}}}));
    fake
}

fn pdb_allowing_nothing(fake: &FakeKube) {
    fake.insert(
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web-pdb", "namespace": "default"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}),
    );
}

fn eviction_path(ns: &str, pod: &str) -> String {
    format!("/api/v1/namespaces/{ns}/pods/{pod}/eviction")
}

#[test]
fn status_of_a_healthy_cluster_exits_0_in_at_most_4_requests() {
    let fake = cluster(Options::default());
    let home = Home::new(&fake);
    fake.clear_requests();
    let r = home.foundry(&["-o", "json", "cluster", "status"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v: Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["healthy"], true, "{r:?}");
    assert_eq!(v["etcd"]["members"].as_array().map(|a| a.len()), Some(3));
    assert!(fake.requests().len() <= 4, "{:?}", fake.requests());
    assert_eq!(home.mutating_log_lines(), 0);
}

#[test]
fn status_flags_a_server_without_member_and_a_not_ready_node_exit_7() {
    let fake = cluster(Options::default());
    node(&fake, "cp-2", true, false); // re-registered without the etcd annotation
    fake.set_node_ready("cp-3", false);
    let home = Home::new(&fake);
    let r = home.foundry(&["-o", "json", "cluster", "status"]);
    assert_eq!(r.code, 7, "{r:?}");
    let v: Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["healthy"], false);
    assert_eq!(v["etcd"]["servers_without_member"], json!(["cp-2"]));
    let cp3 = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "cp-3")
        .unwrap();
    assert_eq!(cp3["node"]["ready"], "unknown");
    assert!(r.stderr.contains("server cp-2 has no etcd member"), "{r:?}");
    assert!(r.stderr.contains("node cp-3 is Unknown"), "{r:?}");
}

#[test]
fn node_list_shows_hosts_missing_from_either_side() {
    let fake = cluster(Options::default());
    node(&fake, "stray", false, false);
    let home = Home::new(&fake);
    let r = home.foundry(&["-o", "json", "cluster", "node", "list"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v: Value = serde_json::from_str(&r.stdout).expect("json");
    let presence = |name: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .map(|r| r["presence"].clone())
    };
    assert_eq!(presence("cp-1"), Some(json!("both")));
    assert_eq!(presence("stray"), Some(json!("only-in-cluster")));
}

#[test]
fn remove_with_a_blocking_pdb_retries_then_times_out_naming_it() {
    let fake = cluster(Options::default());
    pdb_allowing_nothing(&fake);
    let home = Home::new(&fake);
    let r = home.foundry(&[
        "--yes",
        "cluster",
        "node",
        "remove",
        "w-1",
        "--timeout",
        "4",
    ]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("web-pdb"), "{r:?}");
    assert!(r.stderr.contains("timed out"), "{r:?}");
    assert!(
        fake.count("POST", &eviction_path("default", "web-1")) >= 2,
        "no retry: {:?}",
        fake.requests()
    );
    assert_eq!(
        fake.count("POST", &eviction_path("kube-system", "svclb-1")),
        0
    );
    assert_eq!(
        fake.count("POST", &eviction_path("kube-system", "static-1")),
        0
    );
    assert_eq!(
        fake.count("DELETE", "/api/v1/nodes/w-1"),
        0,
        "deleted the Node after a failed drain"
    );
}

#[test]
fn dry_run_lists_the_steps_and_changes_nothing() {
    let fake = cluster(Options::default());
    pdb_allowing_nothing(&fake);
    let home = Home::new(&fake);
    fake.clear_requests();
    let r = home.foundry(&["cluster", "node", "remove", "w-1", "--dry-run"]);
    assert_eq!(r.code, 0, "{r:?}");
    for want in [
        "cordon node w-1",
        "evict pod default/web-1",
        "delete Node w-1",
        "skipped: kube-system/svclb-1, DaemonSet pod",
        "skipped: kube-system/static-1, mirror",
    ] {
        assert!(r.stdout.contains(want), "missing `{want}`: {r:?}");
    }
    assert_eq!(fake.mutating_count(), 0, "{:?}", fake.requests());
    assert!(
        home.run_log_http_lines() > 0,
        "the run log recorded no request at all"
    );
    assert_eq!(home.mutating_log_lines(), 0);
}

#[test]
fn remove_drains_skips_daemonset_and_mirror_pods_and_a_rerun_changes_nothing() {
    let fake = cluster(Options {
        kubelet_removes_after: Some(Duration::from_millis(300)),
        ..Options::default()
    });
    let home = Home::new(&fake);
    let r = home.foundry(&[
        "--yes",
        "cluster",
        "node",
        "remove",
        "w-1",
        "--timeout",
        "20",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        fake.object("", "nodes", "", "w-1").is_none(),
        "node still there"
    );
    assert_eq!(fake.count("POST", &eviction_path("default", "web-1")), 1);
    assert_eq!(
        fake.count("POST", &eviction_path("kube-system", "svclb-1")),
        0
    );
    assert_eq!(
        fake.count("POST", &eviction_path("kube-system", "static-1")),
        0
    );
    fake.clear_requests();
    let again = home.foundry(&["--yes", "cluster", "node", "remove", "w-1"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(fake.mutating_count(), 0, "{:?}", fake.requests());
}

#[test]
fn removing_a_server_that_would_lose_quorum_is_refused() {
    let fake = cluster(Options::default());
    fake.set_node_ready("cp-3", false);
    let home = Home::new(&fake);
    fake.clear_requests();
    let r = home.foundry(&["--yes", "cluster", "node", "remove", "cp-1"]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("without quorum"), "{r:?}");
    assert_eq!(fake.mutating_count(), 0);
}

#[test]
fn removal_is_refused_while_another_server_is_not_ready_even_with_force() {
    let fake = cluster(Options::default());
    fake.set_node_ready("cp-2", false);
    let home = Home::new(&fake);
    fake.clear_requests();
    let r = home.foundry(&["--yes", "cluster", "node", "remove", "w-1", "--force"]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("cp-2") && r.stderr.contains("not Ready"),
        "{r:?}"
    );
    assert_eq!(fake.mutating_count(), 0);
}

#[test]
fn remove_without_a_terminal_or_yes_refuses() {
    let fake = cluster(Options::default());
    let home = Home::new(&fake);
    fake.clear_requests();
    let r = home.foundry(&["cluster", "node", "remove", "w-1"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--yes"), "{r:?}");
    assert_eq!(fake.mutating_count(), 0);
}
