//! A logged-in TrueNAS API session: versions check, TLS, WebSocket, `auth.login_ex` with
//! `API_KEY_PLAIN`, then typed calls (datasets.rs, nfs.rs, system.rs). Every call is one
//! run-log line (`kind: http`, method `RPC`, the JSON-RPC method as the path), never with its
//! params: they can hold the API key.

use super::conn::{Conn, OpenError, Reply};
use super::endpoint::Endpoint;
use super::error::{LoginRefusal, TruenasError};
use super::tls::{self, Seen, Trust};
use crate::config::TruenasConfig;
use crate::redact;
use crate::run::log::RunLogHandle;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything needed to (re)connect.
#[derive(Clone)]
pub struct Settings {
    pub url: String,
    /// The API key's owner.
    pub user: String,
    /// `<id>-<secret>`; registered with the redactor before anything is sent.
    pub api_key: String,
    pub trust: Trust,
    /// How long one call may take before it is given up.
    pub call_timeout: Duration,
    /// TCP + TLS + WebSocket upgrade.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("api_key", &redact::MASK)
            .field("trust", &self.trust)
            .finish()
    }
}

impl Settings {
    /// From a resolved `storage.truenas` (the key already looked up).
    pub fn from_config(t: &TruenasConfig) -> anyhow::Result<Settings> {
        let trust = Trust::from_settings(
            t.verify_tls,
            t.tls_fingerprint.as_deref(),
            t.ca_file.as_deref(),
        )
        .map_err(|e| {
            crate::error::fail(
                crate::error::ExitClass::Config,
                format!("storage.truenas: {e}"),
            )
        })?;
        Ok(Settings {
            url: t.url.clone(),
            user: t.user.clone(),
            api_key: t.api_key.clone(),
            trust,
            call_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(15),
        })
    }
}

/// A logged-in session.
pub struct Client {
    conn: Conn,
    endpoint: Endpoint,
    settings: Settings,
    log: RunLogHandle,
    version: String,
    user_info: Option<Value>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.endpoint.url)
            .field("version", &self.version)
            .finish()
    }
}

/// Calls that change nothing on TrueNAS (the run log's `mutating: false`).
fn is_read_only(method: &str) -> bool {
    method.ends_with(".query")
        || matches!(
            method,
            "auth.login_ex"
                | "auth.me"
                | "core.get_jobs"
                | "core.ping"
                | "system.info"
                | "pool.dataset.snapshot_count"
        )
}

impl Client {
    /// Check the URL (refusing plain HTTP/WS before anything is sent), the API version, TLS,
    /// then open the WebSocket and log in.
    pub async fn connect(settings: Settings, log: RunLogHandle) -> Result<Client, TruenasError> {
        redact::register(&settings.api_key);
        let endpoint = Endpoint::parse(&settings.url)?;
        let (cfg, seen) =
            tls::client_config(&settings.trust).map_err(|why| TruenasError::BadUrl {
                url: settings.url.clone(),
                why,
            })?;
        let version = super::version::fetch(
            &endpoint,
            cfg.clone(),
            &seen,
            settings.connect_timeout,
            &log,
        )
        .await?;
        let conn = open(&endpoint, cfg, &seen, settings.connect_timeout).await?;
        let mut c = Client {
            conn,
            endpoint,
            settings,
            log,
            version,
            user_info: None,
        };
        c.login().await?;
        Ok(c)
    }

    /// The same settings again: a new connection and login (after a lost connection).
    pub async fn reconnect(&self) -> Result<Client, TruenasError> {
        Client::connect(self.settings.clone(), self.log.clone()).await
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The API version `/api/current` is (e.g. `v26.0.0`).
    pub fn api_version(&self) -> &str {
        &self.version
    }

    pub fn url(&self) -> &str {
        &self.endpoint.url
    }

    /// `auth.login_ex`'s `user_info` (the `auth.me` object), when TrueNAS sent it.
    pub fn user_info(&self) -> Option<&Value> {
        self.user_info.as_ref()
    }

    async fn login(&mut self) -> Result<(), TruenasError> {
        let params = json!([{
            "mechanism": "API_KEY_PLAIN",
            "username": self.settings.user,
            "api_key": self.settings.api_key,
            "login_options": {"user_info": true},
        }]);
        let r = self.call("auth.login_ex", params).await?;
        let refusal = |reason| TruenasError::Login {
            url: self.endpoint.url.clone(),
            user: self.settings.user.clone(),
            reason,
        };
        let strs = |k: &str| -> Vec<String> {
            r.get(k)
                .and_then(|u| u.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        match r.get("response_type").and_then(|t| t.as_str()) {
            Some("SUCCESS") => {
                self.user_info = r.get("user_info").filter(|u| !u.is_null()).cloned();
                Ok(())
            }
            Some("AUTH_ERR") => Err(refusal(LoginRefusal::AuthErr)),
            Some("EXPIRED") => Err(refusal(LoginRefusal::Expired)),
            Some("OTP_REQUIRED") => Err(refusal(LoginRefusal::OtpRequired)),
            Some("REDIRECT") => Err(refusal(LoginRefusal::Redirect(strs("urls")))),
            Some("DENIED") => Err(refusal(LoginRefusal::Denied)),
            Some(other) => Err(refusal(LoginRefusal::Other(other.to_string()))),
            None => Err(TruenasError::Protocol {
                method: "auth.login_ex".into(),
                what: "no response_type in the result".into(),
            }),
        }
    }

    /// One JSON-RPC call; `params` is the positional array.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, TruenasError> {
        self.call_with_timeout(method, params, self.settings.call_timeout)
            .await
    }

    pub async fn call_with_timeout(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, TruenasError> {
        let start = Instant::now();
        let reply = self.conn.call(method, params, timeout).await;
        let status = matches!(reply, Reply::Result(_)).then_some(200);
        self.log.http(
            &self.endpoint.base(),
            "RPC",
            method,
            status,
            start.elapsed(),
            !is_read_only(method),
        );
        match reply {
            Reply::Result(v) => Ok(v),
            Reply::Error(failure) => {
                self.log.event(
                    Some(&self.endpoint.base()),
                    "rpc_error",
                    json!({"method": method, "code": failure.code.code(), "reason": failure.reason}),
                );
                Err(TruenasError::Rpc {
                    method: method.to_string(),
                    failure: Box::new(failure),
                })
            }
            Reply::Lost(cause) => Err(TruenasError::ConnectionLost {
                method: method.to_string(),
                cause,
            }),
            Reply::TimedOut => Err(TruenasError::Timeout {
                method: method.to_string(),
                after: timeout,
            }),
        }
    }

    /// A call whose result is decoded into `T`.
    pub async fn call_as<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Value,
    ) -> Result<T, TruenasError> {
        let v = self.call(method, params).await?;
        serde_json::from_value(v).map_err(|e| TruenasError::Protocol {
            method: method.to_string(),
            what: e.to_string(),
        })
    }

    /// Close the connection.
    pub fn close(&self) {
        self.conn.close();
    }
}

async fn open(
    ep: &Endpoint,
    cfg: Arc<rustls::ClientConfig>,
    seen: &Seen,
    timeout: Duration,
) -> Result<Conn, TruenasError> {
    Conn::open(&ep.websocket(), &ep.host, ep.port, cfg, seen, timeout)
        .await
        .map_err(|e| match e {
            OpenError::Io(cause) => TruenasError::Unreachable {
                url: ep.url.clone(),
                cause,
            },
            OpenError::Untrusted { cause, fingerprint } => TruenasError::Untrusted {
                url: ep.url.clone(),
                cause,
                fingerprint,
            },
        })
}
