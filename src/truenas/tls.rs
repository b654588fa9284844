//! Whom foundry trusts when it talks to TrueNAS: the public CAs (default), a CA file, or one
//! pinned leaf certificate (sha256 of its DER). A fresh TrueNAS has a self-signed certificate,
//! so the pin is the usual choice there; `verify_tls: false` without a pin or CA file is refused
//! by validation because it would hand the API key to whoever answers.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How the server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The public web PKI roots, chain and host name checked.
    PublicRoots,
    /// Chain checked against the CAs in this PEM file; the host name too unless `check_name`
    /// is false (`verify_tls: false`: TrueNAS' own certificates rarely name the host).
    CaFile { path: PathBuf, check_name: bool },
    /// Exactly this leaf certificate (sha256 of its DER), nothing else checked.
    Pinned([u8; 32]),
}

impl Trust {
    /// From stack.yaml's `verify_tls`, `tls_fingerprint` and `ca_file`.
    pub fn from_settings(
        verify_tls: Option<bool>,
        fingerprint: Option<&str>,
        ca_file: Option<&str>,
    ) -> Result<Trust, String> {
        if let Some(fp) = fingerprint.filter(|f| !f.trim().is_empty()) {
            return parse_fingerprint(fp).map(Trust::Pinned);
        }
        if let Some(ca) = ca_file.filter(|f| !f.trim().is_empty()) {
            return Ok(Trust::CaFile {
                path: crate::paths::expand_tilde(ca),
                check_name: verify_tls != Some(false),
            });
        }
        if verify_tls == Some(false) {
            return Err("verify_tls: false needs tls_fingerprint (the sha256 of TrueNAS' certificate) or ca_file: without either, anyone on the way could take the API key".into());
        }
        Ok(Trust::PublicRoots)
    }
}

/// `sha256:ab:cd:…`, `AB:CD…` or plain hex: 32 bytes.
pub fn parse_fingerprint(s: &str) -> Result<[u8; 32], String> {
    let t = s.trim();
    let t = t
        .strip_prefix("sha256:")
        .or_else(|| t.strip_prefix("SHA256:"))
        .unwrap_or(t);
    let hexed: String = t.chars().filter(|c| *c != ':').collect();
    let bytes = hex::decode(&hexed).map_err(|_| {
        format!("`{s}` is not a sha256 fingerprint (64 hex digits, colons allowed)")
    })?;
    bytes.try_into().map_err(|_| {
        format!("`{s}` is not a sha256 fingerprint: it must have 32 bytes (64 hex digits)")
    })
}

/// `sha256:AB:CD:…` of a DER certificate: the form messages show and `tls_fingerprint` takes.
pub fn fingerprint(der: &[u8]) -> String {
    let d = Sha256::digest(der);
    let hexed: Vec<String> = d.iter().map(|b| format!("{b:02X}")).collect();
    format!("sha256:{}", hexed.join(":"))
}

/// What the verifier saw in the last handshake: the leaf's fingerprint and, when it refused the
/// certificate, why (for error messages that let the user check and pin it).
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    pub fingerprint: Option<String>,
    pub refused: Option<String>,
}

pub type Seen = Arc<Mutex<Verdict>>;

/// The refusal of the last handshake, if the certificate was refused: (cause, fingerprint).
pub fn refusal(seen: &Seen) -> Option<(String, String)> {
    let v = seen.lock().unwrap_or_else(|e| e.into_inner());
    Some((v.refused.clone()?, v.fingerprint.clone()?))
}

/// Forget the previous handshake's verdict.
pub fn reset(seen: &Seen) {
    *seen.lock().unwrap_or_else(|e| e.into_inner()) = Verdict::default();
}

/// A client config for `trust`, and the slot where the presented leaf's fingerprint lands.
pub fn client_config(trust: &Trust) -> Result<(Arc<ClientConfig>, Seen), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let seen: Seen = Arc::new(Mutex::new(Verdict::default()));
    let (inner, pin, check_name) = match trust {
        Trust::PublicRoots => {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            (Some(webpki(roots, &provider)?), None, true)
        }
        Trust::CaFile { path, check_name } => {
            (Some(webpki(ca_roots(path)?, &provider)?), None, *check_name)
        }
        Trust::Pinned(fp) => (None, Some(*fp), false),
    };
    let verifier = Verifier {
        inner,
        pin,
        check_name,
        provider: provider.clone(),
        seen: seen.clone(),
    };
    let mut cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    // The WebSocket upgrade is an HTTP/1.1 request: a server that would pick HTTP/2 by ALPN
    // (TrueNAS' nginx can) must not be offered it.
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(cfg), seen))
}

fn webpki(
    roots: RootCertStore,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("TLS setup: {e}"))
}

fn ca_roots(path: &Path) -> Result<RootCertStore, String> {
    let what = |e: &dyn std::fmt::Display| format!("ca_file {}: {e}", path.display());
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(path).map_err(|e| what(&e))? {
        roots.add(c.map_err(|e| what(&e))?).map_err(|e| what(&e))?;
    }
    if roots.is_empty() {
        return Err(what(&"no PEM certificate in the file"));
    }
    Ok(roots)
}

#[derive(Debug)]
struct Verifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    pin: Option<[u8; 32]>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
    seen: Seen,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.check(end_entity, intermediates, server_name, ocsp, now);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.fingerprint = Some(fingerprint(end_entity));
        seen.refused = verdict.as_ref().err().map(|e| e.to_string());
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl Verifier {
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(pin) = self.pin {
            let got: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
            return if got == pin {
                Ok(ServerCertVerified::assertion())
            } else {
                Err(rustls::Error::General(
                    "its sha256 fingerprint is not the pinned tls_fingerprint".into(),
                ))
            };
        }
        let Some(inner) = &self.inner else {
            return Err(rustls::Error::General("no trust configured".into()));
        };
        match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_in_the_forms_people_paste() {
        let fp = fingerprint(b"cert");
        assert!(fp.starts_with("sha256:"));
        let a = parse_fingerprint(&fp).unwrap();
        let b =
            parse_fingerprint(&fp.replace("sha256:", "").replace(':', "").to_lowercase()).unwrap();
        assert_eq!(a, b);
        assert!(parse_fingerprint("abcd").unwrap_err().contains("32 bytes"));
        assert!(parse_fingerprint("zz").is_err());
    }

    #[test]
    fn verify_tls_false_needs_a_pin_or_a_ca() {
        assert!(Trust::from_settings(Some(false), None, None)
            .unwrap_err()
            .contains("tls_fingerprint"));
        assert_eq!(
            Trust::from_settings(None, None, None).unwrap(),
            Trust::PublicRoots
        );
        assert!(matches!(
            Trust::from_settings(Some(false), None, Some("/ca.pem")).unwrap(),
            Trust::CaFile {
                check_name: false,
                ..
            }
        ));
    }
}
