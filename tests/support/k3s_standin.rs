//! The K3s side of the bed: a STAND-IN `k3s` executable (tests/bed/k3s-standin/k3s.rs, built
//! here with `rustc`) in an air-gapped bundle, and the cluster it "joins": a control endpoint
//! (plain HTTP on the bridge, 10.214.0.1:<port>) backed by the MOCK Kubernetes API
//! ([`FakeKube`], tests/support/fake_kube/). No K3s, kube-vip or kube-apiserver can run on
//! this machine; this is exactly the boundary where they are replaced:
//!
//! - the real things: the bed hosts (systemd, sshd), foundry's unit, files, upload, checksum
//!   checks, `systemctl start` with Type=notify, the tokens in a real OpenBao;
//! - the stand-in binary: reads the config.yaml foundry wrote, refuses a changed bootstrap
//!   token like K3s, writes the token file and `k3s.yaml`, forwards 127.0.0.1:6443 to the VIP;
//! - the control endpoint plays K3s's supervisor and kube-vip: the first server's join brings
//!   up the VIP (`bed.sh vip-up`: this machine answers on it) and the mock API listens there;
//!   a joining node with a wrong token, or with no first server yet, is refused (the stand-in
//!   then exits 1, so `systemctl start` fails as it would with K3s); each join registers the
//!   Node in the mock (servers with their etcd member annotation and `EtcdIsVoter`), Ready
//!   after [`Options::ready_after`] as a kubelet would report it.
//!
//! Use: `#[path = "support/fake_kube/mod.rs"] mod fake_kube;` and
//! `#[path = "support/k3s_standin.rs"] mod k3s_standin;` next to `mod support;`.
#![allow(dead_code)]

use crate::fake_kube::{FakeKube, Options as KubeOptions};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const VERSION: &str = "v1.33.5+k3s1";

/// One join as the control endpoint saw it.
#[derive(Debug, Clone)]
pub struct Join {
    pub node: String,
    pub server: bool,
    pub accepted: bool,
    pub at: Instant,
    /// When its Node became Ready in the mock (accepted joins only).
    pub ready_at: Option<Instant>,
    pub message: String,
}

#[derive(Default)]
struct State {
    cluster_token: Option<String>,
    agent_token: Option<String>,
    joins: Vec<Join>,
    /// Nodes whose next join is refused once (a failure mid-join).
    fail_next: BTreeSet<String>,
}

#[derive(Clone, Debug)]
pub struct Options {
    /// 10.214.0.<vip_idx> (2..10): unique per test.
    pub vip_idx: u8,
    /// `<cluster>.<domain>`, a SAN of the API certificate.
    pub api_name: String,
    /// How long after its join a Node reports Ready (a kubelet starting).
    pub ready_after: Duration,
    pub version: String,
}

/// The bundle directory (`components.k3s.airgap_bundle`) and the cluster behind it.
pub struct StandinCluster {
    pub fake: Arc<FakeKube>,
    pub vip: String,
    pub bundle: tempfile::TempDir,
    vip_idx: u8,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    control: String,
}

impl StandinCluster {
    pub fn start(opts: Options) -> StandinCluster {
        crate::support::bed();
        let vip = format!("10.214.0.{}", opts.vip_idx);
        // A VIP left by a killed run must not answer before "kube-vip" starts.
        let _ = crate::support::bed_sh(&["vip-down", &opts.vip_idx.to_string()]);
        let fake = Arc::new(FakeKube::start_with(KubeOptions {
            sans: vec![vip.clone(), opts.api_name.clone()],
            ..KubeOptions::default()
        }));
        let listener = TcpListener::bind("10.214.0.1:0").expect("bind the control endpoint");
        let control = listener.local_addr().expect("addr").to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let bundle = tempfile::Builder::new()
            .prefix("k3s-bundle-")
            .tempdir()
            .expect("bundle dir");
        build_bundle(bundle.path(), &opts.version, &control);
        {
            let (fake, state, stop, vip) = (fake.clone(), state.clone(), stop.clone(), vip.clone());
            let opts = opts.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(conn) = conn else { continue };
                    let (fake, state, vip, opts) =
                        (fake.clone(), state.clone(), vip.clone(), opts.clone());
                    std::thread::spawn(move || serve(conn, &fake, &state, &vip, &opts));
                }
            });
        }
        StandinCluster {
            fake,
            vip,
            bundle,
            vip_idx: opts.vip_idx,
            state,
            stop,
            control,
        }
    }

    pub fn bundle_dir(&self) -> &Path {
        self.bundle.path()
    }

    /// Every join so far, in order.
    pub fn joins(&self) -> Vec<Join> {
        lock(&self.state).joins.clone()
    }

    /// The next join of `node` is refused (HTTP 500, the stand-in exits 1).
    pub fn fail_next_join(&self, node: &str) {
        lock(&self.state).fail_next.insert(node.to_string());
    }

    /// Replaces the bundle's binary with a stand-in of another version (an upgrade).
    pub fn rebuild(&self, version: &str) {
        build_bundle(self.bundle.path(), version, &self.control);
    }
}

impl Drop for StandinCluster {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.control);
        let _ = crate::support::bed_sh(&["vip-down", &self.vip_idx.to_string()]);
    }
}

/// A bed stack.yaml with the stand-in K3s: cluster `name` (domain `<name>.test`, the VIP of
/// `k3s`), `network_extra` lines after the cidr (e.g. `  lb_range: …\n`), the hosts (the first
/// with roles `first_roles`, the others `[cluster]`), host-prep for the bed's kernel, OpenBao,
/// K3s air-gapped from the stand-in's bundle and kube-vip. It ends inside `components:`: a
/// caller appends more components, then top-level sections.
pub fn stack_yaml_base(
    name: &str,
    network_extra: &str,
    hosts: &[crate::support::TestHost],
    first_roles: &str,
    k3s: &StandinCluster,
) -> String {
    let mut s = format!(
        "cluster:\n  name: {name}\n  domain: {name}.test\n  vip: {vip}\n\
         network:\n  cidr: 10.214.0.0/24\n{network_extra}\
         hosts:\n",
        vip = k3s.vip
    );
    for (i, h) in hosts.iter().enumerate() {
        let roles = if i == 0 { first_roles } else { "[cluster]" };
        s.push_str(&format!(
            "  - hostname: {}\n    address: {}\n    roles: {roles}\n",
            h.name, h.ip
        ));
    }
    s.push_str(&format!(
        "images:\n  registry: {reg}\n  insecure: true\n\
         components:\n\
         \x20 host_prep:\n\
         \x20   # the bed's hosts share this machine's kernel, which has no br_netfilter module\n\
         \x20   kernel_modules: [overlay]\n\
         \x20 openbao:\n    key_shares: 1\n    key_threshold: 1\n\
         \x20 k3s:\n    version: {VERSION}\n    airgap_bundle: {bundle}\n\
         \x20 kube_vip:\n    version: v1.2.3\n",
        reg = crate::support::REGISTRY,
        bundle = k3s.bundle_dir().display(),
    ));
    s
}

impl StandinCluster {
    /// The nodes whose joins were accepted, in order.
    pub fn accepted_nodes(&self) -> Vec<String> {
        self.joins()
            .into_iter()
            .filter(|j| j.accepted)
            .map(|j| j.node)
            .collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl StandinCluster {
    /// Chart archives in the bundle's `charts/` (`<chart>-<version>.tgz`, a real gzip'd tar
    /// holding `<chart>/Chart.yaml`, as `helm pull` leaves them): what an air-gapped stack's
    /// HelmCharts take from there. Returns their paths.
    pub fn add_chart_archives(&self, charts: &[(&str, &str)]) -> Vec<PathBuf> {
        let dir = self.bundle_dir().join("charts");
        std::fs::create_dir_all(&dir).unwrap();
        charts
            .iter()
            .map(|(chart, version)| {
                let src = tempfile::tempdir().unwrap();
                std::fs::create_dir(src.path().join(chart)).unwrap();
                std::fs::write(
                    src.path().join(chart).join("Chart.yaml"),
                    format!("apiVersion: v2\nname: {chart}\nversion: {version}\n"),
                )
                .unwrap();
                let out = dir.join(format!("{chart}-{version}.tgz"));
                let ok = Command::new("tar")
                    .arg("-C")
                    .arg(src.path())
                    .arg("-czf")
                    .arg(&out)
                    .arg(chart)
                    .status()
                    .expect("tar")
                    .success();
                assert!(ok, "tar czf {}", out.display());
                out
            })
            .collect()
    }
}

/// `k3s` (the stand-in, stripped), `k3s-airgap-images-amd64.tar` (a real tar, never imported)
/// and `sha256sum-amd64.txt` listing both, as on the K3s release page.
fn build_bundle(dir: &Path, version: &str, control: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bed/k3s-standin/k3s.rs");
    let bin = dir.join("k3s");
    let out = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .args([
            "--edition",
            "2021",
            "-C",
            "opt-level=1",
            "-C",
            "strip=symbols",
            "-o",
        ])
        .arg(&bin)
        .arg(&src)
        .env("STANDIN_VERSION", version)
        .env("STANDIN_CONTROL", control)
        .output()
        .expect("run rustc");
    assert!(
        out.status.success(),
        "building the k3s stand-in failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let images = dir.join("k3s-airgap-images-amd64.tar");
    let content = dir.join("images-README");
    std::fs::write(&content, "stand-in images tarball: K3s would import it\n").unwrap();
    let tar = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(&images)
        .arg("images-README")
        .status()
        .expect("tar");
    assert!(tar.success());
    std::fs::remove_file(&content).unwrap();
    let sum = |p: &PathBuf| hex::encode(Sha256::digest(std::fs::read(p).unwrap()));
    std::fs::write(
        dir.join("sha256sum-amd64.txt"),
        format!(
            "{}  k3s\n{}  k3s-airgap-images-amd64.tar\n",
            sum(&bin),
            sum(&images)
        ),
    )
    .unwrap();
}

/// One HTTP/1.0 exchange with a stand-in.
fn serve(
    mut conn: TcpStream,
    fake: &Arc<FakeKube>,
    state: &Arc<Mutex<State>>,
    vip: &str,
    opts: &Options,
) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let body = loop {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= len {
                break body.to_string();
            }
        }
    };
    let (code, reply) = join(&body, fake, state, vip, opts);
    let status = if code == 200 { "OK" } else { "Refused" };
    let _ = write!(
        conn,
        "HTTP/1.0 {code} {status}\r\nContent-Length: {}\r\n\r\n{reply}",
        reply.len()
    );
}

fn join(
    body: &str,
    fake: &Arc<FakeKube>,
    state: &Arc<Mutex<State>>,
    vip: &str,
    opts: &Options,
) -> (u16, String) {
    let field = |k: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .to_string()
    };
    let (node, server, first) = (
        field("node"),
        field("role") == "server",
        field("first") == "true",
    );
    let (token, version) = (field("token"), field("version"));
    let verdict = {
        let mut st = lock(state);
        let v = if st.fail_next.remove(&node) {
            Err((500, format!("{node}: injected failure while joining")))
        } else if first {
            match &st.cluster_token {
                Some(t) if *t != token => Err((
                    403,
                    "bootstrap data already found and encrypted with different token".to_string(),
                )),
                _ => {
                    st.cluster_token = Some(token.clone());
                    let agent = field("agent-token");
                    st.agent_token = (!agent.is_empty()).then_some(agent);
                    Ok(())
                }
            }
        } else {
            let want = if server {
                &st.cluster_token
            } else {
                &st.agent_token
            };
            match want {
                None => Err((503, format!("failed to get CA certs: Get \"https://{vip}:6443/cacerts\": dial tcp {vip}:6443: connect: no route to host"))),
                Some(t) if *t != token => Err((401, "token CA hash does not match the Cluster CA certificate hash / Unauthorized".to_string())),
                Some(_) => Ok(()),
            }
        };
        st.joins.push(Join {
            node: node.clone(),
            server,
            accepted: v.is_ok(),
            at: Instant::now(),
            ready_at: None,
            message: v.clone().err().map(|e| e.1).unwrap_or_default(),
        });
        v
    };
    if let Err((code, msg)) = verdict {
        return (code, msg);
    }
    if first {
        // kube-vip on the first server wins the election and announces the VIP.
        if let Err(e) = crate::support::bed_sh(&["vip-up", &opts.vip_idx.to_string()]) {
            return (500, format!("stand-in kube-vip: {e}"));
        }
        listen_vip_once(fake, vip);
    }
    register_node(fake, &node, server, &version, opts.ready_after, state);
    let ca_hash = hex::encode(Sha256::digest(fake.ca_pem().as_bytes()));
    let kubeconfig = fake.kubeconfig_client_cert_for("https://127.0.0.1:6443");
    (200, format!("{ca_hash}\n{vip}\n{kubeconfig}"))
}

/// The mock API on VIP:6443, once per cluster.
fn listen_vip_once(fake: &Arc<FakeKube>, vip: &str) {
    static LISTENING: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let key = format!("{vip}/{}", fake.port());
    if lock(&LISTENING).insert(key) {
        fake.listen_on(&format!("{vip}:6443"));
    }
}

/// The Node as K3s registers it: NotReady at first, Ready after `ready_after`; servers carry
/// the etcd member annotation and `EtcdIsVoter` (set by K3s's etcd member controller).
fn register_node(
    fake: &Arc<FakeKube>,
    node: &str,
    server: bool,
    version: &str,
    ready_after: Duration,
    state: &Arc<Mutex<State>>,
) {
    let mut labels = json!({"kubernetes.io/hostname": node, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"});
    let mut annotations = json!({"k3s.io/node-args": "[\"server\"]"});
    if server {
        for l in [
            "node-role.kubernetes.io/control-plane",
            "node-role.kubernetes.io/etcd",
            "node-role.kubernetes.io/master",
        ] {
            labels[l] = json!("true");
        }
        let member = format!(
            "{node}-{}",
            &hex::encode(Sha256::digest(node.as_bytes()))[..8]
        );
        annotations["etcd.k3s.cattle.io/node-name"] = json!(member);
    } else {
        annotations["k3s.io/node-args"] = json!("[\"agent\"]");
    }
    let exists = fake.object("", "nodes", "", node).is_some();
    if exists {
        // A restarted node (an upgrade) reports its new version.
        fake.update("", "nodes", "", node, |n| {
            n["status"]["nodeInfo"]["kubeletVersion"] = json!(version);
            n["status"]["nodeInfo"]["kubeProxyVersion"] = json!(version);
        });
    } else {
        let mut conditions = vec![
            json!({"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "container runtime status check may not have completed yet"}),
        ];
        if server {
            conditions.push(json!({"type": "EtcdIsVoter", "status": "True", "reason": "MemberIsVoter", "message": "Node is a voting etcd member"}));
        }
        fake.insert(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node, "labels": labels, "annotations": annotations},
            "spec": {"podCIDR": "10.42.0.0/24"},
            "status": {"conditions": conditions, "nodeInfo": {"kubeletVersion": version, "kubeProxyVersion": version, "containerRuntimeVersion": "containerd://2.0.5-k3s1", "operatingSystem": "linux", "architecture": "amd64"}}
        }));
    }
    let (fake, node, state) = (fake.clone(), node.to_string(), state.clone());
    let mark = move || {
        fake.set_node_ready(&node, true);
        let mut st = lock(&state);
        if let Some(j) = st
            .joins
            .iter_mut()
            .rev()
            .find(|j| j.node == node && j.accepted)
        {
            j.ready_at = Some(Instant::now());
        }
    };
    if ready_after.is_zero() || exists {
        mark();
    } else {
        std::thread::spawn(move || {
            std::thread::sleep(ready_after);
            mark();
        });
    }
}
