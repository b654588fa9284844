//! The CA behind the `ca` ClusterIssuer: kept in OpenBao at `<instance>/cert-manager/ca` (keys
//! `tls.crt` and `tls.key`, PEM), generated once with rcgen when missing (ECDSA P-256, CN
//! "<instance> foundry CA", 10 years), and handed to cert-manager as the `kubernetes.io/tls`
//! Secret `cert-manager/foundry-ca` (cert-manager's cluster resource namespace is the one it
//! runs in). The private key is registered with the redactor the moment it is known (as PEM,
//! as the Secret's base64, and line by line, so JSON-escaped newlines do not hide it), and the
//! plan's diff of the Secret shows placeholders, never the data. This file is the only place
//! the cert-manager component talks to OpenBao.

use super::NAMESPACE;
use crate::component::RunCtx;
use crate::redact;
use base64::Engine;
use serde_json::{json, Value};
use sha2::Digest;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// The secret's path below the instance (the store prefixes `<instance>/`).
pub const PATH: &str = "cert-manager/ca";
pub const CERT_KEY: &str = "tls.crt";
pub const KEY_KEY: &str = "tls.key";
/// The Secret the ClusterIssuer's `spec.ca.secretName` names, in [`NAMESPACE`].
pub const SECRET_NAME: &str = "foundry-ca";
/// How long a generated CA is valid (10 years).
pub const VALIDITY: Duration = Duration::from_secs(3652 * 24 * 3600);
/// A generated CA is valid from this long before it was made (clocks of the cluster's nodes a
/// little behind this machine's).
const BACKDATE: Duration = Duration::from_secs(3600);
/// Check-and-set retries when another writer changed the path in between.
const CAS_ATTEMPTS: usize = 5;

/// Where it lives, for messages: `<instance>/cert-manager/ca`.
pub fn path(instance: &str) -> String {
    format!("{instance}/{PATH}")
}

/// The CA's common name.
pub fn common_name(instance: &str) -> String {
    format!("{instance} foundry CA")
}

/// A CA certificate and its private key, PEM. Debug shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct Ca {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Ca(cert {}, key ***)",
            fingerprint(self.cert_pem.as_bytes())
        )
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

impl Ca {
    /// Register the key in every form it could be printed in.
    fn register(&self) {
        register_key(&self.key_pem);
    }
}

fn register_key(key_pem: &str) {
    redact::register(key_pem);
    redact::register(&b64(key_pem));
    for line in key_pem.lines().map(str::trim) {
        if line.len() >= 16 && !line.starts_with("-----") {
            redact::register(line);
        }
    }
}

/// SHA-256 of the certificate's DER (as `openssl x509 -noout -fingerprint -sha256` prints
/// it), from its PEM; of the bytes themselves when they are not PEM.
pub fn fingerprint(cert_pem: &[u8]) -> String {
    let text = String::from_utf8_lossy(cert_pem);
    let body: String = text
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .unwrap_or_else(|_| cert_pem.to_vec());
    let d = sha2::Sha256::digest(&der);
    d.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A new self-signed CA for `instance`: ECDSA P-256, CN "<instance> foundry CA", basic
/// constraints CA, key usages certificate sign and CRL sign, valid for [`VALIDITY`].
pub fn generate(instance: &str) -> anyhow::Result<Ca> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
        PKCS_ECDSA_P256_SHA256,
    };
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name(instance));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = SystemTime::now();
    params.not_before = (now - BACKDATE).into();
    params.not_after = (now + VALIDITY).into();
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let cert = params.self_signed(&key)?;
    let ca = Ca {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    };
    ca.register();
    Ok(ca)
}

/// The CA in the keys at [`PATH`]: None when neither key is there; an error (naming keys,
/// never values) when only one is, or when they are not PEM.
fn parse(data: &BTreeMap<String, String>, p: &str) -> anyhow::Result<Option<Ca>> {
    if let Some(k) = data.get(KEY_KEY) {
        register_key(k);
    }
    let (cert, key) = match (data.get(CERT_KEY), data.get(KEY_KEY)) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        (c, _) => {
            let (has, lacks) = if c.is_some() {
                (CERT_KEY, KEY_KEY)
            } else {
                (KEY_KEY, CERT_KEY)
            };
            anyhow::bail!(
                "OpenBao {p} has `{has}` but no `{lacks}`: store the CA's certificate and private key (PEM) under both keys, or delete {p} and foundry generates a new CA"
            )
        }
    };
    if !cert.trim_start().starts_with("-----BEGIN CERTIFICATE-----") {
        anyhow::bail!(
            "OpenBao {p}: `{CERT_KEY}` is not a PEM certificate (-----BEGIN CERTIFICATE-----)"
        );
    }
    // The parse error is rcgen's own words, never the key's bytes.
    if let Err(e) = rcgen::KeyPair::from_pem(key) {
        anyhow::bail!("OpenBao {p}: `{KEY_KEY}` is not a PEM private key ({e})");
    }
    Ok(Some(Ca {
        cert_pem: cert.clone(),
        key_pem: key.clone(),
    }))
}

/// What the plan learned about the CA.
#[derive(Debug, Clone)]
pub enum CaState {
    /// In OpenBao.
    Known(Ca),
    /// Not in OpenBao yet: this run generates it.
    WouldGenerate,
    /// Dry run and OpenBao could not be asked: the plan shows the Secret as changing.
    Unknown(String),
}

fn needs_openbao(p: &str) -> String {
    format!(
        "the `ca` ClusterIssuer keeps its CA in OpenBao ({p}); install the openbao component first"
    )
}

/// Read the CA (read-only: one GET). OpenBao not answering is an error, except in a dry run.
pub async fn read(ctx: &RunCtx) -> anyhow::Result<CaState> {
    let p = path(&ctx.instance);
    let store = match ctx.openbao().await {
        Ok(s) => s,
        Err(e) if ctx.dry_run => return Ok(CaState::Unknown(format!("{e:#}"))),
        Err(e) => return Err(e.context(needs_openbao(&p))),
    };
    let data = store.get_all(PATH).await?.unwrap_or_default();
    Ok(match parse(&data, &p)? {
        Some(ca) => CaState::Known(ca),
        None => CaState::WouldGenerate,
    })
}

/// The CA in OpenBao, generated and stored when still missing. Both keys are written in one
/// check-and-set write, and only while `tls.crt` is absent: a concurrent writer's CA wins and
/// is returned. `true` when this call stored it.
pub async fn ensure(ctx: &RunCtx) -> anyhow::Result<(Ca, bool)> {
    let p = path(&ctx.instance);
    let store = ctx
        .openbao()
        .await
        .map_err(|e| e.context(needs_openbao(&p)))?;
    let full = store.full_path(PATH)?;
    let mut fresh: Option<Ca> = None;
    for _ in 0..CAS_ATTEMPTS {
        let (current, version) = store.client().kv_read(&full).await?;
        let mut data = current.unwrap_or_default();
        if let Some(ca) = parse(&data, &p)? {
            return Ok((ca, false));
        }
        let ca = match &fresh {
            Some(c) => c.clone(),
            None => fresh.insert(generate(&ctx.instance)?).clone(),
        };
        data.insert(CERT_KEY.into(), ca.cert_pem.clone());
        data.insert(KEY_KEY.into(), ca.key_pem.clone());
        if store
            .client()
            .kv_put_cas(&full, &data, Some(version))
            .await?
        {
            return Ok((ca, true));
        }
    }
    anyhow::bail!("writing `{full}` in OpenBao: another writer kept changing it ({CAS_ATTEMPTS} attempts); try again")
}

fn labels() -> Value {
    json!({"app.kubernetes.io/managed-by": "foundry"})
}

/// The Secret cert-manager reads the CA from, data base64 as the API stores it.
pub fn secret(ca: &Ca) -> Value {
    secret_with(json!({CERT_KEY: b64(&ca.cert_pem), KEY_KEY: b64(&ca.key_pem)}))
}

fn secret_with(data: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME, "namespace": NAMESPACE, "labels": labels()},
        "type": "kubernetes.io/tls",
        "data": data,
    })
}

fn key_placeholder(instance: &str) -> String {
    format!("(private key from OpenBao {}, not shown)", path(instance))
}

fn cert_placeholder(cert_pem: &[u8]) -> String {
    format!("(certificate, SHA-256 {})", fingerprint(cert_pem))
}

/// The Secret as a plan shows it: the certificate by its fingerprint, the key as a placeholder
/// (`ca` None: not generated yet).
pub fn secret_view(instance: &str, ca: Option<&Ca>) -> Value {
    let cert = match ca {
        Some(ca) => cert_placeholder(ca.cert_pem.as_bytes()),
        None => format!(
            "(certificate of the CA to be generated in OpenBao {})",
            path(instance)
        ),
    };
    secret_with(json!({CERT_KEY: cert, KEY_KEY: key_placeholder(instance)}))
}

fn live_bytes(live: &Value, key: &str) -> Option<Vec<u8>> {
    live["data"][key]
        .as_str()
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
}

/// The live Secret as a plan shows it, masked like [`secret_view`]: the key is the same
/// placeholder when it is the CA's key, another one when it differs.
pub fn live_view(instance: &str, live: &Value, ca: Option<&Ca>) -> Value {
    let mut data = serde_json::Map::new();
    if let Some(c) = live_bytes(live, CERT_KEY) {
        data.insert(CERT_KEY.into(), json!(cert_placeholder(&c)));
    }
    if let Some(k) = live_bytes(live, KEY_KEY) {
        let same = ca.is_some_and(|ca| ca.key_pem.as_bytes() == k.as_slice());
        let text = if same {
            key_placeholder(instance)
        } else {
            "(another private key, not shown)".into()
        };
        data.insert(KEY_KEY.into(), json!(text));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME, "namespace": NAMESPACE, "labels": live["metadata"]["labels"]},
        "type": live["type"],
        "data": data,
    })
}

/// True when the live Secret holds this CA, with foundry's type and labels.
pub fn secret_matches(live: &Value, ca: &Ca) -> bool {
    live["type"] == "kubernetes.io/tls"
        && crate::component::helm::chart::subset(&labels(), &live["metadata"]["labels"])
        && live_bytes(live, CERT_KEY).as_deref() == Some(ca.cert_pem.as_bytes())
        && live_bytes(live, KEY_KEY).as_deref() == Some(ca.key_pem.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_ca_is_a_p256_ca_for_ten_years_and_its_key_is_masked() {
        let ca = generate("lab").unwrap();
        assert!(ca.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(ca.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let kp = rcgen::KeyPair::from_pem(&ca.key_pem).unwrap();
        assert_eq!(kp.algorithm(), &rcgen::PKCS_ECDSA_P256_SHA256);
        // The key in every form it could be printed in is masked.
        assert!(redact::contains_secret(&ca.key_pem));
        assert!(!redact::scrub(&ca.key_pem).contains("PRIVATE KEY-----\n"));
        let escaped = serde_json::to_string(&ca.key_pem).unwrap();
        let body = ca.key_pem.lines().nth(1).unwrap();
        assert!(!redact::scrub(&escaped).contains(body), "{escaped}");
        assert!(!redact::scrub(&b64(&ca.key_pem)).contains(&b64(&ca.key_pem)));
        assert!(!format!("{ca:?}").contains(body));
        // The certificate itself, parsed back by a DER reader: CN, CA, usages, validity.
        let der = base64::engine::general_purpose::STANDARD
            .decode(
                ca.cert_pem
                    .lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect::<String>(),
            )
            .unwrap();
        let text = String::from_utf8_lossy(&der);
        assert!(text.contains("lab foundry CA"), "CN");
        let years = |s: &str| -> i32 { s[..2].parse::<i32>().unwrap() };
        // UTCTime YYMMDDhhmmssZ, twice (notBefore, notAfter), tag 0x17 length 13.
        let times: Vec<String> = der
            .windows(15)
            .filter(|w| w[0] == 0x17 && w[1] == 13)
            .map(|w| String::from_utf8_lossy(&w[2..]).to_string())
            .collect();
        assert_eq!(times.len(), 2, "{times:?}");
        let span = years(&times[1]) - years(&times[0]);
        assert!((10..=11).contains(&span), "validity {times:?}");
        // basicConstraints cA=TRUE (OID 2.5.29.19, then BOOLEAN TRUE inside).
        let bc = der
            .windows(3)
            .position(|w| w == [0x55, 0x1d, 0x13])
            .expect("basicConstraints");
        assert!(der[bc..bc + 12].windows(3).any(|w| w == [0x01, 0x01, 0xff]));
        // keyUsage (2.5.29.15): keyCertSign and cRLSign only (bits 5 and 6: 0x06, 1 unused).
        let ku = der
            .windows(3)
            .position(|w| w == [0x55, 0x1d, 0x0f])
            .expect("keyUsage");
        assert!(
            der[ku..ku + 14]
                .windows(4)
                .any(|w| w == [0x03, 0x02, 0x01, 0x06]),
            "{:02x?}",
            &der[ku..ku + 14]
        );
        assert_ne!(generate("lab").unwrap(), ca, "a fresh key each time");
    }

    #[test]
    fn stored_keys_are_checked_without_showing_them() {
        let ca = generate("lab").unwrap();
        let data = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(parse(&data(&[]), "lab/cert-manager/ca").unwrap(), None);
        let both = data(&[(CERT_KEY, &ca.cert_pem), (KEY_KEY, &ca.key_pem)]);
        assert_eq!(parse(&both, "p").unwrap(), Some(ca.clone()));
        let e = parse(&data(&[(KEY_KEY, &ca.key_pem)]), "p").unwrap_err();
        assert!(
            format!("{e}").contains("has `tls.key` but no `tls.crt`"),
            "{e}"
        );
        let bad = data(&[(CERT_KEY, &ca.cert_pem), (KEY_KEY, "not-a-key-at-all")]);
        let e = format!("{:#}", parse(&bad, "p").unwrap_err());
        assert!(e.contains("`tls.key` is not a PEM private key"), "{e}");
        assert!(!e.contains("not-a-key-at-all"), "{e}");
    }

    #[test]
    fn the_live_secret_is_compared_by_bytes_and_shown_masked() {
        let ca = generate("lab").unwrap();
        let live = secret(&ca);
        assert!(secret_matches(&live, &ca));
        let other = generate("lab").unwrap();
        assert!(!secret_matches(&live, &other));
        let mut wrong_type = live.clone();
        wrong_type["type"] = json!("Opaque");
        assert!(!secret_matches(&wrong_type, &ca));
        let view = serde_json::to_string(&live_view("lab", &live, Some(&other))).unwrap();
        assert!(view.contains("another private key"), "{view}");
        assert!(!view.contains(&b64(&ca.key_pem)), "{view}");
        assert_eq!(
            live_view("lab", &live, Some(&ca)),
            secret_view("lab", Some(&ca)),
            "the same CA shows no diff"
        );
        assert_eq!(fingerprint(ca.cert_pem.as_bytes()).len(), 32 * 3 - 1);
    }
}
