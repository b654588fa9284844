//! The whole stack on the bed, shared by tests/stack.rs and benches/full_stack_noop.rs: three
//! bed hosts, a MOCK TrueNAS (tests/support/fake_truenas.rs), the K3s STAND-IN and its MOCK API
//! with the charts' stand-ins (tests/support/k3s_standin.rs, fake_kube/charts.rs), the Zot
//! STAND-IN image, and a sandbox holding the stack file and the TrueNAS key in ~/.foundryvars.
//! Use next to `mod support;`, `fake_kube`, `fake_truenas` and `k3s_standin` (by `#[path]`).
#![allow(dead_code)]

use crate::fake_kube::FakeKube;
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

/// STAND-IN for Envoy on its LoadBalancer address, answering from what the MOCK API holds the
/// way Contour's Envoy would: port 80 and 443 on [`ENVOY_IP`]; a request is routed by its Host
/// to the Ingress of class `contour` with that host; its backend Service must exist and a
/// Deployment of the Service's selector must have an available replica (else `503 no healthy
/// upstream`, Envoy's words); no Ingress for the host: `404` with an empty body, as Envoy
/// answers when no route matches. On 443 the certificate is chosen by SNI from the Ingress's
/// `tls` Secret (no Secret: the handshake fails, as Envoy without a matching filter chain).
/// Stopped (and the address removed) on drop, or by [`FakeEnvoy::stop`].
pub struct FakeEnvoy {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl FakeEnvoy {
    pub fn start(fake: Arc<FakeKube>) -> FakeEnvoy {
        crate::support::bed_sh(&["vip-up", ENVOY_VIP_IDX]).expect("bed.sh vip-up for Envoy");
        let stop = Arc::new(AtomicBool::new(false));
        let threads = [80u16, 443]
            .into_iter()
            .map(|port| {
                let listener = TcpListener::bind((ENVOY_IP, port)).expect("bind Envoy's address");
                listener.set_nonblocking(true).unwrap();
                let (stop, fake) = (stop.clone(), fake.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match listener.accept() {
                            Ok((c, _)) => {
                                let fake = fake.clone();
                                std::thread::spawn(move || envoy_conn(c, port == 443, &fake));
                            }
                            Err(_) => std::thread::sleep(Duration::from_millis(20)),
                        }
                    }
                })
            })
            .collect();
        FakeEnvoy { stop, threads }
    }

    /// Envoy gone: nothing listens on its address any more (the address stays up, so a
    /// request is refused rather than unanswered).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            t.join().ok();
        }
    }
}

fn envoy_conn(c: std::net::TcpStream, tls: bool, fake: &Arc<FakeKube>) {
    c.set_nonblocking(false).ok();
    c.set_read_timeout(Some(Duration::from_secs(5))).ok();
    if !tls {
        return envoy_http(c, fake);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniFromIngress(fake.clone())));
    let Ok(conn) = rustls::ServerConnection::new(Arc::new(cfg)) else {
        return;
    };
    envoy_http(rustls::StreamOwned::new(conn, c), fake);
}

/// Reads one request, answers it, closes.
fn envoy_http(mut c: impl Read + Write, fake: &FakeKube) {
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match c.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&req);
    let host = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("host: ")
                .or_else(|| l.strip_prefix("Host: "))
        })
        .map(|h| h.trim().split(':').next().unwrap_or_default().to_string())
        .unwrap_or_default();
    let (status, body) = envoy_route(fake, &host);
    let _ = c.write_all(
        format!(
            "HTTP/1.1 {status}\r\ndate: Thu, 03 Dec 2026 12:00:00 GMT\r\nserver: envoy\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let _ = c.flush();
}

fn ingress_for(fake: &FakeKube, host: &str) -> Option<serde_json::Value> {
    fake.objects("networking.k8s.io", "ingresses")
        .into_iter()
        .find(|i| {
            i["spec"]["ingressClassName"] == "contour"
                && i["spec"]["rules"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| r["host"] == host)
        })
}

fn envoy_route(fake: &FakeKube, host: &str) -> (&'static str, String) {
    let Some(ing) = ingress_for(fake, host) else {
        return ("404 Not Found", String::new());
    };
    let ns = ing["metadata"]["namespace"].as_str().unwrap_or_default();
    let rule = ing["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["host"] == host)
        .cloned()
        .unwrap_or_default();
    let svc_name = rule["http"]["paths"][0]["backend"]["service"]["name"]
        .as_str()
        .unwrap_or_default();
    let unhealthy = ("503 Service Unavailable", "no healthy upstream".to_string());
    let Some(svc) = fake.object("", "services", ns, svc_name) else {
        return unhealthy;
    };
    let selector = svc["spec"]["selector"].clone();
    let serving = fake.objects("apps", "deployments").into_iter().any(|d| {
        d["metadata"]["namespace"] == ns
            && selector.as_object().is_some_and(|sel| {
                sel.iter()
                    .all(|(k, v)| d["spec"]["template"]["metadata"]["labels"][k] == *v)
            })
            && d["status"]["availableReplicas"].as_i64().unwrap_or(0) >= 1
    });
    if serving {
        (
            "200 OK",
            format!("stand-in workload behind {ns}/{svc_name}\n"),
        )
    } else {
        unhealthy
    }
}

/// The certificate for a TLS connection, by SNI, from the Ingress's `tls` Secret.
struct SniFromIngress(Arc<FakeKube>);

impl std::fmt::Debug for SniFromIngress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SniFromIngress")
    }
}

impl rustls::server::ResolvesServerCert for SniFromIngress {
    fn resolve(
        &self,
        hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        use base64::Engine;
        use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
        let sni = hello.server_name()?;
        let ing = ingress_for(&self.0, sni)?;
        let ns = ing["metadata"]["namespace"].as_str()?;
        let tls = ing["spec"]["tls"].as_array()?.iter().find(|t| {
            t["hosts"]
                .as_array()
                .is_some_and(|h| h.iter().any(|h| h == sni))
        })?;
        let secret = self
            .0
            .object("", "secrets", ns, tls["secretName"].as_str()?)?;
        let b64 = |k: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(secret["data"][k].as_str()?)
                .ok()
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&b64("tls.crt")?)
            .filter_map(Result::ok)
            .collect();
        let key = PrivateKeyDer::from_pem_slice(&b64("tls.key")?).ok()?;
        let signer = rustls::crypto::ring::sign::any_supported_type(&key).ok()?;
        Some(Arc::new(rustls::sign::CertifiedKey::new(certs, signer)))
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
        // The stack is air-gapped (K3s from the bundle), so the charts come from it too.
        k3s.add_chart_archives(&[("contour", "0.7.0"), ("cert-manager", "v1.21.0")]);
        crate::fake_kube::issuer_controller(&k3s.fake, "selfsigned-cluster-issuer");
        k3s.fake.insert_envoy_service(ENVOY_IP);
        crate::fake_kube::certificate_controller(&k3s.fake);
        let envoy = FakeEnvoy::start(k3s.fake.clone());
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
