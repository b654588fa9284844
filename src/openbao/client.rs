//! A small OpenBao HTTP client: health, init, unseal, seal status, mounts and KV v2 at
//! `secret/`. Every call is recorded in the run log (`log.http`, with a `mutating` flag); the
//! token is registered for redaction before anything is sent or logged. Answers that mean
//! "sealed", "not initialised", "bad token" or "unreachable" become their own [`OpenbaoError`].

use super::error::OpenbaoError;
use crate::redact;
use crate::run::log::RunLogHandle;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The KV v2 mount foundry uses.
pub const KV_MOUNT: &str = "secret";

/// Env var naming a PEM file of CA certificates to trust for OpenBao's TLS listener (like
/// `BAO_CACERT`), for self-signed certificates.
pub const CACERT_ENV: &str = "FOUNDRY_OPENBAO_CACERT";

/// `GET /v1/sys/health`: the HTTP code says the state (200 active, 429 standby, 501 not
/// initialised, 503 sealed); the body says the rest.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Health {
    #[serde(default)]
    pub code: u16,
    #[serde(default)]
    pub initialized: bool,
    #[serde(default)]
    pub sealed: bool,
    #[serde(default)]
    pub standby: bool,
    #[serde(default)]
    pub version: String,
}

/// `GET /v1/sys/seal-status` and the answer of `POST /v1/sys/unseal`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SealStatus {
    #[serde(default, rename = "type")]
    pub seal_type: String,
    #[serde(default)]
    pub initialized: bool,
    pub sealed: bool,
    /// Threshold: keys needed.
    #[serde(default)]
    pub t: u32,
    /// Shares: keys that exist.
    #[serde(default)]
    pub n: u32,
    /// Keys given so far in this unseal attempt.
    #[serde(default)]
    pub progress: u32,
    #[serde(default)]
    pub version: String,
}

/// What `POST /v1/sys/init` returns. Debug never shows the values.
#[derive(Clone, Deserialize)]
pub struct InitResponse {
    pub keys: Vec<String>,
    #[serde(default)]
    pub keys_base64: Vec<String>,
    pub root_token: String,
}

impl std::fmt::Debug for InitResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "InitResponse {{ {} keys, root_token: *** }}",
            self.keys.len()
        )
    }
}

/// How a mount looks in `GET /v1/sys/mounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    pub mount_type: String,
    /// `options.version` (KV: "1" or "2").
    pub version: Option<String>,
}

pub struct Client {
    http: reqwest::Client,
    address: String,
    token: Option<String>,
    log: RunLogHandle,
}

impl Client {
    /// A client for `address` (`http(s)://host:port`). The token, when given, is registered
    /// for redaction now, before any request can be logged.
    pub fn new(address: &str, token: Option<String>, log: RunLogHandle) -> anyhow::Result<Client> {
        if let Some(t) = &token {
            redact::register(t);
        }
        let mut b = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("foundry/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = std::env::var_os(CACERT_ENV).filter(|p| !p.is_empty()) {
            let pem = std::fs::read(&path).map_err(|e| {
                anyhow::anyhow!(
                    "{CACERT_ENV}={}: cannot read the CA file: {e}",
                    std::path::Path::new(&path).display()
                )
            })?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                anyhow::anyhow!(
                    "{CACERT_ENV}={}: not a PEM certificate bundle: {e}",
                    std::path::Path::new(&path).display()
                )
            })? {
                b = b.add_root_certificate(cert);
            }
        }
        Ok(Client {
            http: b.build()?,
            address: address.trim_end_matches('/').to_string(),
            token,
            log,
        })
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Send one request and record it. Returns the status and the JSON body (Null when empty).
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        mutating: bool,
    ) -> Result<(u16, Value), OpenbaoError> {
        let url = format!("{}{}", self.address, path);
        let mut req = self.http.request(method.clone(), &url).query(query);
        if let Some(t) = &self.token {
            req = req.header("X-Vault-Token", t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let t0 = Instant::now();
        let res = req.send().await;
        let status = res.as_ref().ok().map(|r| r.status().as_u16());
        self.log.http(
            &self.address,
            method.as_str(),
            path,
            status,
            t0.elapsed(),
            mutating,
        );
        let res = res.map_err(|e| {
            let mut cause = cause_of(&e);
            if is_certificate_problem(&cause) {
                cause.push_str(&format!(
                    " (if OpenBao's certificate is self-signed or from a private CA, set {CACERT_ENV} to that CA certificate, PEM)"
                ));
            }
            OpenbaoError::Unreachable {
                address: self.address.clone(),
                cause,
            }
        })?;
        let code = res.status().as_u16();
        let text = res.text().await.map_err(|e| OpenbaoError::Unreachable {
            address: self.address.clone(),
            cause: format!("reading the answer: {}", cause_of(&e)),
        })?;
        let json = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((code, json))
    }

    /// [`send`](Self::send), repeated while a freshly mounted KV v2 engine is still setting
    /// itself up (it answers 400 "Upgrading from non-versioned to versioned data" for a moment
    /// and does nothing, so repeating is safe, also for writes).
    async fn send_ready(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        mutating: bool,
    ) -> Result<(u16, Value), OpenbaoError> {
        let t0 = Instant::now();
        loop {
            let (code, json) = self
                .send(method.clone(), path, query, body, mutating)
                .await?;
            if code == 400 && kv_upgrading(&json) && t0.elapsed() < KV_UPGRADE_WAIT {
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
            return Ok((code, json));
        }
    }

    /// Send and turn every non-success answer into its error. 503 is told apart (sealed vs not
    /// initialised) by asking `sys/seal-status`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        mutating: bool,
    ) -> Result<(u16, Value), OpenbaoError> {
        let (code, json) = self
            .send_ready(method.clone(), path, query, body, mutating)
            .await?;
        match code {
            200..=299 | 404 => Ok((code, json)),
            _ => Err(self.classify(code, &json, method, path).await),
        }
    }

    /// A 2xx answer decoded as `T`; anything else is an API error naming the call.
    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        method: &Method,
        path: &str,
        code: u16,
        json: Value,
    ) -> Result<T, OpenbaoError> {
        if !(200..300).contains(&code) {
            return Err(self.api_error(method, path, code, &json));
        }
        serde_json::from_value(json).map_err(|e| OpenbaoError::Api {
            address: self.address.clone(),
            method: method.to_string(),
            path: path.into(),
            status: code,
            message: format!("unexpected answer: {e}"),
        })
    }

    fn api_error(&self, method: &Method, path: &str, status: u16, json: &Value) -> OpenbaoError {
        OpenbaoError::Api {
            address: self.address.clone(),
            method: method.to_string(),
            path: path.to_string(),
            status,
            message: api_message(json),
        }
    }

    /// Health: any HTTP answer is a result (the code is the state); only no answer is an error.
    pub async fn health(&self) -> Result<Health, OpenbaoError> {
        let (code, json) = self
            .send(Method::GET, "/v1/sys/health", &[], None, false)
            .await?;
        let mut h: Health = serde_json::from_value(json).unwrap_or_default();
        h.code = code;
        if code == 501 {
            h.initialized = false;
        }
        Ok(h)
    }

    pub async fn seal_status(&self) -> Result<SealStatus, OpenbaoError> {
        let (code, json) = self
            .send(Method::GET, "/v1/sys/seal-status", &[], None, false)
            .await?;
        self.decode(&Method::GET, "/v1/sys/seal-status", code, json)
    }

    /// `GET /v1/sys/init`: is the server initialised?
    pub async fn init_status(&self) -> Result<bool, OpenbaoError> {
        let (code, json) = self
            .send(Method::GET, "/v1/sys/init", &[], None, false)
            .await?;
        if !(200..300).contains(&code) {
            return Err(self.api_error(&Method::GET, "/v1/sys/init", code, &json));
        }
        Ok(json
            .get("initialized")
            .and_then(Value::as_bool)
            .unwrap_or(false))
    }

    /// `POST /v1/sys/init`. The keys and root token are registered for redaction before this
    /// returns, so no later log line can carry them.
    pub async fn init(&self, shares: u8, threshold: u8) -> Result<InitResponse, OpenbaoError> {
        let body = json!({ "secret_shares": shares, "secret_threshold": threshold });
        let (code, json) = self
            .send(Method::POST, "/v1/sys/init", &[], Some(&body), true)
            .await?;
        let r: InitResponse = self.decode(&Method::POST, "/v1/sys/init", code, json)?;
        redact::register(&r.root_token);
        for k in r.keys.iter().chain(&r.keys_base64) {
            redact::register(k);
        }
        Ok(r)
    }

    /// `POST /v1/sys/unseal` with one key share.
    pub async fn unseal(&self, key: &str) -> Result<SealStatus, OpenbaoError> {
        redact::register(key);
        let body = json!({ "key": key });
        let (code, json) = self
            .send(Method::POST, "/v1/sys/unseal", &[], Some(&body), true)
            .await?;
        self.decode(&Method::POST, "/v1/sys/unseal", code, json)
    }

    /// The mount at `path` (e.g. `secret`), if any (`GET /v1/sys/mounts`, needs the token).
    pub async fn mount_info(&self, path: &str) -> Result<Option<MountInfo>, OpenbaoError> {
        let (_, json) = self
            .call(Method::GET, "/v1/sys/mounts", &[], None, false)
            .await?;
        let key = format!("{}/", path.trim_end_matches('/'));
        // Newer servers nest the table under `data`; older ones also repeat it at top level.
        let m = json
            .get("data")
            .and_then(|d| d.get(&key))
            .or_else(|| json.get(&key));
        Ok(m.map(|m| MountInfo {
            mount_type: m
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            version: m
                .get("options")
                .and_then(|o| o.get("version"))
                .and_then(Value::as_str)
                .map(str::to_string),
        }))
    }

    /// `POST /v1/sys/mounts/<path>`: enable a secrets engine.
    pub async fn mount(
        &self,
        path: &str,
        mount_type: &str,
        options: BTreeMap<String, String>,
    ) -> Result<(), OpenbaoError> {
        let body = json!({ "type": mount_type, "options": options });
        self.call(
            Method::POST,
            &format!("/v1/sys/mounts/{}", encode_path(path)),
            &[],
            Some(&body),
            true,
        )
        .await?;
        Ok(())
    }

    /// Read a KV v2 secret: its keys (`None` when nothing is stored, or the latest version was
    /// deleted) and its current version (0 when the path never existed), for check-and-set
    /// writes. Every value read is registered for redaction.
    pub async fn kv_read(
        &self,
        path: &str,
    ) -> Result<(Option<BTreeMap<String, String>>, u64), OpenbaoError> {
        let p = format!("/v1/{KV_MOUNT}/data/{}", encode_path(path));
        let (_, json) = self.call(Method::GET, &p, &[], None, false).await?;
        // A deleted latest version answers 404 but still carries its metadata (the version a
        // check-and-set write must name).
        let version = json
            .pointer("/data/metadata/version")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let Some(data) = json.pointer("/data/data").and_then(Value::as_object) else {
            return Ok((None, version));
        };
        let data: BTreeMap<String, String> = data
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                redact::register(&s);
                (k.clone(), s)
            })
            .collect();
        Ok((Some(data), version))
    }

    pub async fn kv_get(
        &self,
        path: &str,
    ) -> Result<Option<BTreeMap<String, String>>, OpenbaoError> {
        Ok(self.kv_read(path).await?.0)
    }

    /// Write a KV v2 secret (replaces all its keys). With `cas`, the write only succeeds when
    /// the current version is `cas` (0: the secret must not exist); `Ok(false)` when it lost.
    pub async fn kv_put_cas(
        &self,
        path: &str,
        data: &BTreeMap<String, String>,
        cas: Option<u64>,
    ) -> Result<bool, OpenbaoError> {
        let p = format!("/v1/{KV_MOUNT}/data/{}", encode_path(path));
        let body = match cas {
            Some(v) => json!({ "data": data, "options": { "cas": v } }),
            None => json!({ "data": data }),
        };
        let (code, json) = self
            .send_ready(Method::POST, &p, &[], Some(&body), true)
            .await?;
        if code == 400 && cas.is_some() && api_message(&json).contains("check-and-set") {
            return Ok(false);
        }
        if !(200..300).contains(&code) {
            return Err(self.classify(code, &json, Method::POST, &p).await);
        }
        Ok(true)
    }

    pub async fn kv_put(
        &self,
        path: &str,
        data: &BTreeMap<String, String>,
    ) -> Result<(), OpenbaoError> {
        self.kv_put_cas(path, data, None).await.map(|_| ())
    }

    /// Names directly under `prefix` (folders end in `/`); empty when there are none.
    pub async fn kv_list(&self, prefix: &str) -> Result<Vec<String>, OpenbaoError> {
        let enc = encode_path(prefix.trim_end_matches('/'));
        let p = if enc.is_empty() {
            format!("/v1/{KV_MOUNT}/metadata/")
        } else {
            format!("/v1/{KV_MOUNT}/metadata/{enc}/")
        };
        let (code, json) = self
            .call(Method::GET, &p, &[("list", "true")], None, false)
            .await?;
        if code == 404 {
            return Ok(vec![]);
        }
        Ok(json
            .pointer("/data/keys")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Delete a KV v2 secret with all its versions and metadata.
    pub async fn kv_delete(&self, path: &str) -> Result<(), OpenbaoError> {
        let p = format!("/v1/{KV_MOUNT}/metadata/{}", encode_path(path));
        self.call(Method::DELETE, &p, &[], None, true).await?;
        Ok(())
    }

    async fn classify(&self, code: u16, json: &Value, method: Method, path: &str) -> OpenbaoError {
        match code {
            403 => OpenbaoError::PermissionDenied {
                address: self.address.clone(),
                hint: "set FOUNDRY_OPENBAO_TOKEN to a valid token, or check the credentials foundry stored when it initialised OpenBao".into(),
            },
            503 => match self.seal_status().await {
                Ok(s) if !s.initialized => OpenbaoError::NotInitialised {
                    address: self.address.clone(),
                },
                Ok(s) if !s.sealed => self.api_error(&method, path, code, json),
                _ => OpenbaoError::Sealed {
                    address: self.address.clone(),
                },
            },
            _ => self.api_error(&method, path, code, json),
        }
    }
}

/// How long to wait for a new KV v2 mount to finish setting up.
const KV_UPGRADE_WAIT: Duration = Duration::from_secs(30);

fn kv_upgrading(json: &Value) -> bool {
    api_message(json).contains("non-versioned to versioned data")
}

/// The `errors` list of an OpenBao error answer, joined (or the raw text).
fn api_message(json: &Value) -> String {
    let msg = match json.get("errors").and_then(Value::as_array) {
        Some(errs) if !errs.is_empty() => errs
            .iter()
            .map(|e| {
                e.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| e.to_string())
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => match json {
            Value::Null => "(empty answer)".to_string(),
            Value::String(s) => s.chars().take(300).collect(),
            other => other.to_string().chars().take(300).collect(),
        },
    };
    redact::scrub(msg.trim())
}

/// The underlying cause of a transport error ("Connection refused (os error 111)"), without
/// reqwest's generic outer wording.
fn cause_of(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let m = s.to_string();
        if !m.is_empty() && !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
        src = s.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

/// A TLS verification failure: the server is up, so waiting will not help.
pub fn is_certificate_problem(cause: &str) -> bool {
    cause.to_ascii_lowercase().contains("certificate")
}

/// Percent-encode each segment of a KV path (segments are kept, `/` separates them).
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|seg| {
            seg.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_per_segment() {
        assert_eq!(encode_path("foundry-core/db"), "foundry-core/db");
        assert_eq!(encode_path("a b/c?d"), "a%20b/c%3Fd");
        assert_eq!(encode_path("/x//y/"), "x/y");
    }

    #[test]
    fn api_messages_join_errors() {
        assert_eq!(
            api_message(&json!({"errors": ["permission denied", "x"]})),
            "permission denied; x"
        );
        assert_eq!(api_message(&Value::Null), "(empty answer)");
    }

    #[test]
    fn init_response_debug_hides_values() {
        let r = InitResponse {
            keys: vec!["k1-secret".into()],
            keys_base64: vec![],
            root_token: "s.roottoken".into(),
        };
        let d = format!("{r:?}");
        assert!(!d.contains("k1-secret") && !d.contains("s.roottoken"));
    }
}
