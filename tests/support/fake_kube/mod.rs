//! **A MOCK Kubernetes API server** for tests: no kube-apiserver, K3s or kubelet can run on
//! this machine, so this fake stands in for one on 127.0.0.1:<random port>, over HTTPS with a
//! CA generated per instance (the client's TLS and CA handling is real). It answers the way the
//! real server answered the recorded samples in `tests/data/k8s-api-samples/` (status codes,
//! `Status` bodies field for field, plain-text `404 page not found`, resourceVersion rules),
//! and `tests/kube_api.rs` replays those samples against it so it cannot drift into answering
//! the way foundry's client expects.
//!
//! What it keeps: objects as generic JSON (nodes, pods, PDBs, workloads, jobs, configmaps,
//! namespaces, CRDs, custom resources of Established CRDs such as HelmCharts), a
//! resourceVersion bumped on every real change, server-side apply with managedFields-lite,
//! label/field selectors, Eviction with PDB accounting, pods that stay Terminating after an
//! eviction until the test's "kubelet" removes them, `/readyz`, `/livez`, `/version`.
//! What it does not: watches, paging (`limit` is ignored: one page), JSON patch, RBAC beyond
//! "the kubeconfig's token is cluster-admin, anyone impersonated is denied", list-map keys in
//! SSA (lists are atomic), admission beyond the validation rules the samples show.
//!
//! Use from an integration test: `#[path = "support/fake_kube/mod.rs"] mod fake_kube;`.
#![allow(dead_code)] // each test binary uses a different part

mod charts;
mod cluster;
mod controllers;
mod eviction;
mod http;
mod patch;
mod resources;
mod selectors;
mod ssa;
mod status;
mod tls;
mod validate;

#[allow(unused_imports)] // not every test binary runs charts
pub use charts::{certificate_controller, issuer_controller};
pub use cluster::Recorded;

use cluster::{key, Cluster};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the fake's stand-in controllers behave.
#[derive(Debug, Clone)]
pub struct Options {
    /// A new CRD becomes Established this long after its create (until then its URLs answer
    /// plain-text 404). Zero: at once.
    pub crd_establish_after: Duration,
    /// Deployments, DaemonSets, StatefulSets report all replicas available (as on a cluster
    /// whose kubelets run the pods); false: none ever become available.
    pub workloads_ready: bool,
    /// Jobs complete at once; false: they stay active (no kubelet runs their pod).
    pub jobs_complete: bool,
    /// The kubelet stand-in removes a terminating pod this long after its deletion started;
    /// None: pods stay Terminating until [`FakeKube::kubelet_remove_terminating`].
    pub kubelet_removes_after: Option<Duration>,
    /// Names the server certificate carries besides 127.0.0.1 and localhost (a VIP, as K3s's
    /// `tls-san`), for a fake reached on another address ([`FakeKube::listen_on`]).
    pub sans: Vec<String>,
}

impl Default for Options {
    /// A healthy cluster: workloads available, Jobs complete, CRDs Established after 200 ms.
    fn default() -> Options {
        Options {
            crd_establish_after: Duration::from_millis(200),
            workloads_ready: true,
            jobs_complete: true,
            kubelet_removes_after: None,
            sans: Vec::new(),
        }
    }
}

impl Options {
    /// Like the server the samples were recorded on: controllers but no scheduler and no
    /// kubelet (Jobs stay active, Deployments unavailable), CRDs Established only when
    /// [`FakeKube::establish_crds`] is called.
    pub fn recorded() -> Options {
        Options {
            crd_establish_after: Duration::from_secs(3600),
            workloads_ready: false,
            jobs_complete: false,
            kubelet_removes_after: None,
            sans: Vec::new(),
        }
    }
}

/// Who the fake lets in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// The kubeconfig's bearer token, or a client certificate signed by the fake's CA, is
    /// cluster-admin; anything else is 401.
    Token,
    /// Every request is 401 (a kubeconfig from another cluster).
    Unauthorized,
    /// The token authenticates as `user`, who may do nothing (403 with the RBAC message).
    Forbid { user: String },
}

/// A running fake API server; stopped on drop.
pub struct FakeKube {
    port: u16,
    ca_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
    token: String,
    cluster: Arc<Mutex<Cluster>>,
    server_tls: Arc<tokio_rustls::rustls::ServerConfig>,
    /// One per listener (the first on 127.0.0.1, then [`FakeKube::listen_on`]'s).
    shutdown: Mutex<Vec<tokio::sync::oneshot::Sender<()>>>,
}

impl FakeKube {
    /// Starts a fake with [`Options::default`] on 127.0.0.1:<random port>.
    pub fn start() -> FakeKube {
        FakeKube::start_with(Options::default())
    }

    pub fn start_with(opts: Options) -> FakeKube {
        let tls = tls::generate(&opts.sans);
        let token = format!(
            "fake-kube-token-{}",
            hex::encode(rand::random::<[u8; 12]>())
        );
        let cluster = Arc::new(Mutex::new(Cluster::new(opts, token.clone())));
        let mut fake = FakeKube {
            port: 0,
            ca_pem: tls.ca_pem,
            client_cert_pem: tls.client_cert_pem,
            client_key_pem: tls.client_key_pem,
            token,
            cluster,
            server_tls: tls.server,
            shutdown: Mutex::new(Vec::new()),
        };
        fake.port = fake.listen_on("127.0.0.1:0");
        fake
    }

    /// Serves the same cluster on one more address too (e.g. a VIP once "kube-vip" holds it);
    /// returns the port. Stopped with the fake.
    pub fn listen_on(&self, addr: &str) -> u16 {
        let std_listener =
            std::net::TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        std_listener.set_nonblocking(true).expect("nonblocking");
        let port = std_listener.local_addr().expect("local addr").port();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let c = self.cluster.clone();
        let server = self.server_tls.clone();
        let ca: Arc<str> = self.ca_pem.as_str().into();
        std::thread::Builder::new()
            .name(format!("fake-kube-{port}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .expect("fake-kube runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(std_listener).expect("listener");
                    http::serve(listener, tokio_rustls::TlsAcceptor::from(server), c, ca, rx).await;
                });
            })
            .expect("fake-kube thread");
        self.shutdown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        port
    }

    /// `https://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA that signed the fake's certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The bearer token the fake accepts as cluster-admin.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A kubeconfig for this fake (context `fake`, the CA, the token).
    pub fn kubeconfig_yaml(&self) -> String {
        self.kubeconfig_with(&self.url(), &self.ca_pem)
    }

    /// A kubeconfig with another server URL or CA (connect-refused and wrong-CA tests).
    pub fn kubeconfig_with(&self, server: &str, ca_pem: &str) -> String {
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: fake-admin\n  user:\n    token: {}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake-admin\ncurrent-context: fake\n",
            self.token
        )
    }

    /// A kubeconfig like K3s's `k3s.yaml`: the admin's client certificate and key instead of
    /// a token.
    pub fn kubeconfig_client_cert(&self) -> String {
        self.kubeconfig_client_cert_for(&self.url())
    }

    /// As [`Self::kubeconfig_client_cert`] with another server URL (K3s writes
    /// `https://127.0.0.1:6443`).
    pub fn kubeconfig_client_cert_for(&self, server: &str) -> String {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: default\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: default\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: default\n  context:\n    cluster: default\n    user: default\ncurrent-context: default\n",
            server,
            b64(&self.ca_pem),
            b64(&self.client_cert_pem),
            b64(&self.client_key_pem)
        )
    }

    /// A kubeconfig naming a CA that did not sign the fake's certificate.
    pub fn kubeconfig_wrong_ca(&self) -> String {
        self.kubeconfig_with(&self.url(), &tls::unrelated_ca_pem())
    }

    /// Writes [`Self::kubeconfig_yaml`] to `path` (0600).
    pub fn write_kubeconfig(&self, path: &Path) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("kubeconfig dir");
        }
        std::fs::write(path, self.kubeconfig_yaml()).expect("write kubeconfig");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Cluster) -> T) -> T {
        let mut c = self.cluster.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut c)
    }

    // ---- state -------------------------------------------------------------------------

    /// Stores `obj` as if created (uid, creationTimestamp, defaults, resourceVersion) without a
    /// request; its apiVersion/kind pick the resource. Returns the stored object.
    pub fn insert(&self, obj: Value) -> Value {
        self.with(|c| {
            let (group, version) = match obj["apiVersion"].as_str().unwrap_or("v1").split_once('/')
            {
                Some((g, v)) => (g.to_string(), v.to_string()),
                None => (
                    String::new(),
                    obj["apiVersion"].as_str().unwrap_or("v1").to_string(),
                ),
            };
            let kind = obj["kind"].as_str().unwrap_or_default();
            let rt = c
                .resolve_kind(&group, &version, kind)
                .unwrap_or_else(|| panic!("fake-kube serves no {group}/{version} {kind}"));
            let ns = obj["metadata"]["namespace"].as_str().map(String::from);
            let name = obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let mut o = obj.clone();
            o["metadata"]["uid"] = json!(cluster::new_uid());
            o["metadata"]["creationTimestamp"] = json!(cluster::now_rfc3339());
            if rt.namespaced && ns.is_none() {
                o["metadata"]["namespace"] = json!("default");
            }
            if rt.has_generation() && o["metadata"]["generation"].is_null() {
                o["metadata"]["generation"] = json!(1);
            }
            controllers::defaults(&rt, &mut o);
            let k = key(&rt, ns.as_deref().or(Some("default")), &name);
            let stored = c.store(k.clone(), o);
            controllers::after_write(c, &rt, &k);
            c.objects.get(&k).cloned().unwrap_or(stored)
        })
    }

    /// The stored object (`group` "" for core, `plural` e.g. "pods"; `ns` "" if cluster-scoped).
    /// Every stored object of a resource, in all namespaces (for stand-ins that watch a kind).
    pub fn objects(&self, group: &str, plural: &str) -> Vec<Value> {
        self.with(|c| {
            c.objects
                .iter()
                .filter(|(k, _)| k.0 == group && k.1 == plural)
                .map(|(_, v)| v.clone())
                .collect()
        })
    }

    pub fn object(&self, group: &str, plural: &str, ns: &str, name: &str) -> Option<Value> {
        self.with(|c| {
            c.objects
                .get(&(group.into(), plural.into(), ns.into(), name.into()))
                .cloned()
        })
    }

    /// Changes a stored object in place (as a controller or kubelet would: new resourceVersion,
    /// uid and creation kept). Panics if it does not exist.
    pub fn update(
        &self,
        group: &str,
        plural: &str,
        ns: &str,
        name: &str,
        f: impl FnOnce(&mut Value),
    ) {
        self.with(|c| {
            let k: cluster::Key = (group.into(), plural.into(), ns.into(), name.into());
            let Some(mut obj) = c.objects.get(&k).cloned() else {
                panic!("fake-kube has no {plural} {ns}/{name}")
            };
            f(&mut obj);
            c.store(k, obj);
        })
    }

    /// The current resourceVersion counter.
    pub fn resource_version(&self) -> u64 {
        self.with(|c| c.rv)
    }

    // ---- test hooks --------------------------------------------------------------------

    /// Node `name`'s Ready condition: True, or Unknown as after its kubelet stopped posting
    /// (NodeStatusUnknown, "Kubelet stopped posting node status.").
    pub fn set_node_ready(&self, name: &str, ready: bool) {
        self.with(|c| {
            let k: cluster::Key = (String::new(), "nodes".into(), String::new(), name.into());
            let Some(mut node) = c.objects.get(&k).cloned() else {
                panic!("fake-kube has no node {name}")
            };
            let cond = if ready {
                json!({"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                       "lastHeartbeatTime": cluster::now_rfc3339(), "lastTransitionTime": cluster::now_rfc3339()})
            } else {
                json!({"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown", "message": "Kubelet stopped posting node status.",
                       "lastHeartbeatTime": cluster::now_rfc3339(), "lastTransitionTime": cluster::now_rfc3339()})
            };
            // Without heartbeats the node-lifecycle controller sets every condition Unknown.
            let mut conds: Vec<Value> = node["status"]["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|c| c["type"] != "Ready")
                .map(|mut c| {
                    if !ready {
                        c["status"] = json!("Unknown");
                        c["reason"] = json!("NodeStatusUnknown");
                        c["message"] = json!("Kubelet stopped posting node status.");
                    }
                    c
                })
                .collect();
            conds.insert(0, cond);
            node["status"]["conditions"] = json!(conds);
            let mut taints: Vec<Value> = node["spec"]["taints"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|t| t["key"] != "node.kubernetes.io/not-ready" && t["key"] != "node.kubernetes.io/unreachable")
                .collect();
            if !ready {
                taints.push(json!({"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": cluster::now_rfc3339()}));
            }
            node["spec"]["taints"] = json!(taints);
            c.store(k, node);
            if !ready {
                // ... and the Ready condition of the node's pods False.
                let pods: Vec<cluster::Key> = c
                    .objects
                    .iter()
                    .filter(|((g, p, _, _), v)| g.is_empty() && p == "pods" && v["spec"]["nodeName"] == name)
                    .map(|(k, _)| k.clone())
                    .collect();
                for pk in pods {
                    let mut pod = c.objects[&pk].clone();
                    if let Some(conds) = pod["status"]["conditions"].as_array_mut() {
                        for cond in conds.iter_mut().filter(|c| c["type"] == "Ready") {
                            cond["status"] = json!("False");
                        }
                    }
                    c.store(pk, pod);
                }
            }
        })
    }

    /// Pod `ns/name` Running and Ready, as its kubelet would report it.
    pub fn set_pod_running(&self, ns: &str, name: &str) {
        self.with(|c| {
            let k: cluster::Key = (String::new(), "pods".into(), ns.into(), name.into());
            let Some(mut pod) = c.objects.get(&k).cloned() else {
                panic!("fake-kube has no pod {ns}/{name}")
            };
            let now = cluster::now_rfc3339();
            pod["status"]["phase"] = json!("Running");
            pod["status"]["startTime"] = json!(now);
            pod["status"]["conditions"] = json!(["Initialized", "Ready", "ContainersReady", "PodScheduled"]
                .iter()
                .map(|t| json!({"type": t, "status": "True", "lastProbeTime": null, "lastTransitionTime": now}))
                .collect::<Vec<_>>());
            c.store(k, pod);
        })
    }

    /// The kubelet stand-in: removes every pod that is Terminating. Returns how many.
    pub fn kubelet_remove_terminating(&self) -> usize {
        self.with(|c| {
            let keys: Vec<cluster::Key> = c.terminating_since.keys().cloned().collect();
            for k in &keys {
                c.forget_pod(k);
            }
            if !keys.is_empty() {
                c.rv += 1;
            }
            keys.len()
        })
    }

    /// The pod GC: force-deletes every pod bound to a Node that does not exist.
    pub fn pod_gc(&self) -> usize {
        self.with(|c| {
            let orphans: Vec<cluster::Key> = c
                .objects
                .iter()
                .filter(|((g, p, _, _), _)| g.is_empty() && p == "pods")
                .filter(|(_, v)| {
                    v["spec"]["nodeName"].as_str().map(|n| {
                        !c.objects.contains_key(&(
                            String::new(),
                            "nodes".into(),
                            String::new(),
                            n.into(),
                        ))
                    }) == Some(true)
                })
                .map(|(k, _)| k.clone())
                .collect();
            for k in &orphans {
                c.forget_pod(k);
            }
            orphans.len()
        })
    }

    /// Job `ns/name` (now or when it is created later, e.g. `helm-install-contour`) fails with
    /// BackoffLimitExceeded instead of completing.
    pub fn fail_job(&self, ns: &str, name: &str) {
        self.with(|c| {
            c.failing_jobs.insert((ns.into(), name.into()));
            let k: cluster::Key = ("batch".into(), "jobs".into(), ns.into(), name.into());
            controllers::reconcile_job(c, &k);
        })
    }

    /// What the pod of failing Job `ns/name` logs (instead of a failed helm install's output).
    pub fn job_log(&self, ns: &str, name: &str, log: &str) {
        self.with(|c| {
            c.job_logs.insert((ns.into(), name.into()), log.into());
        })
    }

    /// Deployment/DaemonSet/StatefulSet `ns/name` never becomes available (until released).
    pub fn hold_unavailable(&self, ns: &str, name: &str) {
        self.with(|c| {
            c.held_unavailable.insert((ns.into(), name.into()));
            reconcile_named(c, ns, name);
        })
    }

    /// Every workload created from now on whose name starts with `prefix` never becomes
    /// available (for names a test does not know in advance).
    pub fn hold_unavailable_prefix(&self, prefix: &str) {
        self.with(|c| c.held_unavailable_prefixes.push(prefix.into()))
    }

    /// Ends [`Self::hold_unavailable`]: the workload becomes available.
    pub fn release(&self, ns: &str, name: &str) {
        self.with(|c| {
            c.held_unavailable.remove(&(ns.into(), name.into()));
            reconcile_named(c, ns, name);
        })
    }

    /// The validating webhook `webhook` (e.g. `webhook.cert-manager.io`) does not answer for
    /// the next `n` writes to API group `group`: each is a 500 InternalError "failed calling
    /// webhook", as the apiserver reports a webhook whose pod is not serving yet.
    pub fn webhook_down(&self, group: &str, webhook: &str, n: u32) {
        self.with(|c| {
            c.webhook_down.insert(group.into(), (webhook.into(), n));
        })
    }

    /// `/readyz` reports these checks failing (500, `[-]name failed: reason withheld`).
    pub fn set_readyz_failing(&self, checks: &[&str]) {
        self.with(|c| c.readyz_failing = checks.iter().map(|s| s.to_string()).collect())
    }

    /// Every CRD becomes Established now.
    pub fn establish_crds(&self) {
        self.with(|c| {
            let names: Vec<String> = c.crd_created.keys().cloned().collect();
            for n in names {
                c.crd_created.remove(&n);
                let k: cluster::Key = (
                    "apiextensions.k8s.io".into(),
                    "customresourcedefinitions".into(),
                    String::new(),
                    n,
                );
                controllers::establish(c, &k);
            }
        })
    }

    pub fn set_auth(&self, mode: AuthMode) {
        self.with(|c| c.auth = mode)
    }

    // ---- request accounting ------------------------------------------------------------

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|c| c.requests.clone())
    }

    /// How many requests had this method and path (query ignored).
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.with(|c| {
            c.requests
                .iter()
                .filter(|r| r.method == method && r.path == path)
                .count()
        })
    }

    /// Requests that could change state: POST/PUT/PATCH/DELETE without dryRun=All.
    pub fn mutating_count(&self) -> usize {
        self.with(|c| {
            c.requests
                .iter()
                .filter(|r| matches!(r.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE"))
                .filter(|r| {
                    http::parse_query(&r.query)
                        .get("dryRun")
                        .is_none_or(|v| v != "All")
                })
                .count()
        })
    }

    pub fn clear_requests(&self) {
        self.with(|c| c.requests.clear())
    }
}

fn reconcile_named(c: &mut Cluster, ns: &str, name: &str) {
    for plural in ["deployments", "daemonsets", "statefulsets", "replicasets"] {
        let rt = resources::builtin("apps", "v1", plural).expect("apps");
        let k = key(&rt, Some(ns), name);
        if c.objects.contains_key(&k) {
            controllers::reconcile_workload(c, &rt, &k);
        }
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        let mut all = self.shutdown.lock().unwrap_or_else(|e| e.into_inner());
        for tx in all.drain(..) {
            let _ = tx.send(());
        }
    }
}
