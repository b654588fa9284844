//! The whole stack on the bed, shared by tests/stack.rs and benches/full_stack_noop.rs: three
//! bed hosts, a MOCK TrueNAS (tests/support/fake_truenas.rs), the K3s STAND-IN and its MOCK API
//! with the charts' stand-ins (tests/support/k3s_standin.rs, fake_kube/charts.rs), the Zot
//! STAND-IN image, and a sandbox holding the stack file and the TrueNAS key in ~/.foundryvars.
//! Use next to `mod support;`, `fake_kube`, `fake_truenas` and `k3s_standin` (by `#[path]`).
#![allow(dead_code)]

use crate::fake_truenas::{FakeTruenas, API_KEY};
use crate::k3s_standin::{self, StandinCluster, VERSION};
use crate::support::stackrun::{boot_hosts, sandbox_with, INSTANCE};
use crate::support::{bed, Sandbox, TestHost, ZOT_VERSION};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Envoy's address: the first of the stack's `lb_range` (bed.sh `vip-up 2` puts it on the
/// bridge, so this machine answers on it).
pub const ENVOY_IP: &str = "10.214.0.2";
const ENVOY_VIP_IDX: &str = "2";

/// STAND-IN for Envoy on its LoadBalancer address: port 80 on [`ENVOY_IP`] answers every
/// request the way Envoy answers a request no route matches (`404`, `server: envoy`, empty
/// body). Stopped (and the address removed) on drop, or by [`FakeEnvoy::stop`].
pub struct FakeEnvoy {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeEnvoy {
    pub fn start() -> FakeEnvoy {
        crate::support::bed_sh(&["vip-up", ENVOY_VIP_IDX]).expect("bed.sh vip-up for Envoy");
        let listener = TcpListener::bind((ENVOY_IP, 80)).expect("bind Envoy's address, port 80");
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut c, _)) => {
                        c.set_nonblocking(false).ok();
                        c.set_read_timeout(Some(Duration::from_secs(2))).ok();
                        let mut buf = [0u8; 4096];
                        let _ = c.read(&mut buf);
                        let _ = c.write_all(
                            b"HTTP/1.1 404 Not Found\r\ndate: Thu, 03 Dec 2026 12:00:00 GMT\r\nserver: envoy\r\ncontent-length: 0\r\n\r\n",
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        FakeEnvoy {
            stop,
            thread: Some(thread),
        }
    }

    /// Envoy gone: nothing listens on its address any more (the address stays up, so a
    /// request is refused rather than unanswered).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
    }
}

impl Drop for FakeEnvoy {
    fn drop(&mut self) {
        self.stop();
        let _ = crate::support::bed_sh(&["vip-down", ENVOY_VIP_IDX]);
    }
}

pub struct FullStack {
    pub envoy: FakeEnvoy,
    pub truenas: FakeTruenas,
    pub k3s: StandinCluster,
    pub hosts: Vec<TestHost>,
    pub sb: Sandbox,
}

impl FullStack {
    /// Everything up, nothing installed yet. `vip_idx`: 2..10, unique per test.
    pub fn up(tag: &str, vip_idx: u8) -> FullStack {
        let bed = bed();
        bed.openbao_image();
        bed.zot_standin_image();
        let truenas = FakeTruenas::start();
        let k3s = StandinCluster::start(k3s_standin::Options {
            vip_idx,
            api_name: "fs.fs.test".into(),
            ready_after: Duration::from_millis(300),
            version: VERSION.into(),
        });
        k3s.fake.insert_chart_standins();
        crate::fake_kube::issuer_controller(&k3s.fake, "selfsigned-cluster-issuer");
        k3s.fake.insert_envoy_service(ENVOY_IP);
        let envoy = FakeEnvoy::start();
        let hosts = boot_hosts(tag, 3);
        let sb = sandbox_with(&hosts, &stack_yaml(&hosts, &k3s, &truenas));
        let vars = sb.write(
            ".foundryvars",
            &format!("{INSTANCE}/truenas:api_key={API_KEY}\n"),
        );
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&vars, std::fs::Permissions::from_mode(0o600)).unwrap();
        FullStack {
            envoy,
            truenas,
            k3s,
            hosts,
            sb,
        }
    }
}

pub fn stack_yaml(hosts: &[TestHost], k3s: &StandinCluster, truenas: &FakeTruenas) -> String {
    let mut s = k3s_standin::stack_yaml_base(
        "fs",
        "  lb_range: 10.214.0.2-10.214.0.3\n",
        hosts,
        "[openbao, zot, cluster]",
        k3s,
    );
    s.push_str(&format!(
        "\x20 zot:\n    version: {ZOT_VERSION}\n\
         \x20 contour:\n    version: 0.7.0\n\
         \x20 cert_manager:\n    version: v1.21.0\n    cluster_issuer: selfsigned-cluster-issuer\n\
         storage:\n  truenas:\n    url: {url}\n    user: truenas_admin\n    api_key: ${{secret:truenas:api_key}}\n\
         \x20   pool: tank\n    tls_fingerprint: {fp}\n    datasets:\n\
         \x20     - {{name: k8s/volumes, csi: volumes, nfs: true, nfs_networks: [10.214.0.0/24]}}\n\
         \x20     - {{name: k8s/snapshots, csi: snapshots}}\n",
        url = truenas.url(),
        fp = truenas.fingerprint,
    ));
    s
}
