//! After the first server starts: the API certificate served on the VIP must carry the VIP
//! and `<cluster>.<domain>` (config.yaml's `tls-san`). Checked from here, through the VIP, by
//! one TLS handshake per name against the kubeconfig's CA (rustls verifies the name against
//! the certificate's SANs exactly as kubectl will), not assumed from what foundry rendered:
//! a SAN added after the first start is not picked up by K3s until its certificate is
//! regenerated, so a mismatch here names the fix.

use super::super::config::API_PORT;
use crate::component::api::ApiAction;
use anyhow::anyhow;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::sync::Arc;
use std::time::Duration;

/// The first cluster's CA in a kubeconfig (`certificate-authority-data`, base64 PEM).
pub fn kubeconfig_ca(kubeconfig: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let doc: serde_yaml::Value =
        serde_yaml::from_str(kubeconfig).map_err(|e| format!("the kubeconfig is not YAML: {e}"))?;
    let data = doc
        .get("clusters")
        .and_then(|c| c.get(0))
        .and_then(|c| c.get("cluster"))
        .and_then(|c| c.get("certificate-authority-data"))
        .and_then(|d| d.as_str())
        .ok_or("the kubeconfig has no certificate-authority-data")?;
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| format!("certificate-authority-data is not base64: {e}"))
}

/// One handshake with `vip:6443` verifying the certificate for `name`.
async fn handshake(vip: &str, port: u16, roots: &RootCertStore, name: &str) -> Result<(), String> {
    let server_name = ServerName::try_from(name.to_string())
        .map_err(|e| format!("`{name}` is not a host name or address: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots.clone())
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let addr = format!("{vip}:{port}");
    let work = async {
        let tcp = tokio::net::TcpStream::connect(&addr)
            .await
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        connector
            .connect(server_name, tcp)
            .await
            .map(|_| ())
            .map_err(|e| format!("{e}"))
    };
    tokio::time::timeout(Duration::from_secs(5), work)
        .await
        .map_err(|_| format!("no TLS answer from {addr} within 5s"))?
}

/// Every name in `names` is valid for the certificate served on `vip:port`.
pub async fn check(vip: &str, port: u16, ca_pem: &[u8], names: &[String]) -> Result<(), String> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem) {
        let c = c.map_err(|e| format!("the kubeconfig's CA is not PEM: {e}"))?;
        roots
            .add(c)
            .map_err(|e| format!("the kubeconfig's CA: {e}"))?;
    }
    let mut missing = Vec::new();
    for n in names {
        if let Err(e) = handshake(vip, port, &roots, n).await {
            missing.push(format!("{n} ({e})"));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the API certificate on https://{vip}:{port} is not valid for {}; K3s reads tls-san only when it creates its certificate: on the first server remove /var/lib/rancher/k3s/server/tls/dynamic-cert.json and restart k3s (`systemctl restart k3s`), then re-run",
        missing.join(", ")
    ))
}

/// The check as a (read-only) step of the VIP phase.
#[derive(Debug)]
pub struct CheckSans {
    pub vip: String,
    pub ca_pem: Vec<u8>,
    pub names: Vec<String>,
}

#[async_trait::async_trait]
impl ApiAction for CheckSans {
    fn describe(&self) -> String {
        format!(
            "check that the API certificate on the VIP is valid for {}",
            self.names.join(" and ")
        )
    }
    fn mutates(&self) -> bool {
        false
    }
    async fn execute(&self) -> anyhow::Result<()> {
        check(&self.vip, API_PORT, &self.ca_pem, &self.names)
            .await
            .map_err(|e| anyhow!(e))
    }
}
