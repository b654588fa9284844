//! The fake API's TLS: a CA generated per fake, and a server certificate it signs for
//! `127.0.0.1` and `localhost`, so the client's CA handling is exercised for real.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::sync::Arc;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;

/// A CA certificate (PEM) and the server TLS config whose certificate it signed.
pub(crate) struct Tls {
    pub ca_pem: String,
    pub server: Arc<ServerConfig>,
}

/// A fresh CA, PEM only: for a kubeconfig that must NOT trust the fake (wrong-CA tests).
pub(crate) fn unrelated_ca_pem() -> String {
    ca().pem()
}

fn ca() -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "fake-kube-ca");
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key")).expect("CA cert")
}

pub(crate) fn generate() -> Tls {
    let ca = ca();
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    let key = KeyPair::generate().expect("server key");
    let cert = params.signed_by(&key, &ca).expect("server cert");
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("server TLS config");
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Tls {
        ca_pem: ca.pem(),
        server: Arc::new(server),
    }
}
