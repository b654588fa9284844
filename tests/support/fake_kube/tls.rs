//! The fake API's TLS: a CA generated per fake, and a server certificate it signs for
//! `127.0.0.1`, `localhost` and any extra names (a VIP, `<cluster>.<domain>`), so the client's CA handling is exercised for real.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use std::sync::Arc;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

/// A CA certificate (PEM), the server TLS config whose certificate it signed, and a client
/// certificate it signed for `system:admin` (group `system:masters`), as K3s's admin
/// kubeconfig has.
pub(crate) struct Tls {
    pub ca_pem: String,
    pub server: Arc<ServerConfig>,
    pub client_cert_pem: String,
    pub client_key_pem: String,
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

pub(crate) fn generate(extra_sans: &[String]) -> Tls {
    let ca = ca();
    let mut sans = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    sans.extend(extra_sans.iter().cloned());
    let mut params = CertificateParams::new(sans).expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    let key = KeyPair::generate().expect("server key");
    let cert = params.signed_by(&key, &ca).expect("server cert");
    let mut client_params = CertificateParams::new(Vec::<String>::new()).expect("client params");
    client_params
        .distinguished_name
        .push(DnType::CommonName, "system:admin");
    client_params
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    let client_key = KeyPair::generate().expect("client key");
    let client_cert = client_params
        .signed_by(&client_key, &ca)
        .expect("client cert");
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    // Client certificates are optional (token users have none) but, when sent, must be the CA's.
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.der().to_vec()))
        .expect("CA root");
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .expect("client verifier");
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("server TLS config");
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Tls {
        ca_pem: ca.pem(),
        server: Arc::new(server),
        client_cert_pem: client_cert.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}
