//! The ways talking to TrueNAS fails, each saying which call, what came back and what to do.
//! JSON-RPC errors are classified from the shapes the middleware sends (api-behaviour.md B.1):
//! validation is `-32602` with the real errno only inside `data.extra`, a `get: true` query
//! that matches nothing is `-32001` with reason `MatchNotFound()`, and so on.

use crate::error::{fail, ExitClass};
use crate::redact::scrub;
use serde_json::Value;
use std::time::Duration;

/// A JSON-RPC error code, as TrueNAS uses them (truenas_api_client `JSONRPCError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcCode {
    /// -32700: unparseable JSON or a batch.
    InvalidJson,
    /// -32600: not a JSON-RPC request.
    InvalidRequest,
    /// -32601: `Method does not exist`.
    MethodNotFound,
    /// -32602: `Invalid params`, used for every validation error (also "not found" from
    /// `get_instance`).
    InvalidParams,
    /// -32603: the server could not serialize its own reply.
    Internal,
    /// -32000: more than the allowed concurrent calls on this connection.
    TooManyConcurrentCalls,
    /// -32001: `Method call error`: CallError, other exceptions, not authenticated.
    CallError,
    Other(i64),
}

impl RpcCode {
    pub fn from_code(c: i64) -> RpcCode {
        match c {
            -32700 => RpcCode::InvalidJson,
            -32600 => RpcCode::InvalidRequest,
            -32601 => RpcCode::MethodNotFound,
            -32602 => RpcCode::InvalidParams,
            -32603 => RpcCode::Internal,
            -32000 => RpcCode::TooManyConcurrentCalls,
            -32001 => RpcCode::CallError,
            other => RpcCode::Other(other),
        }
    }

    pub fn code(self) -> i64 {
        match self {
            RpcCode::InvalidJson => -32700,
            RpcCode::InvalidRequest => -32600,
            RpcCode::MethodNotFound => -32601,
            RpcCode::InvalidParams => -32602,
            RpcCode::Internal => -32603,
            RpcCode::TooManyConcurrentCalls => -32000,
            RpcCode::CallError => -32001,
            RpcCode::Other(c) => c,
        }
    }
}

/// One validation error: `[attribute, message, errno]` from `data.extra`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub attribute: Option<String>,
    pub message: String,
    pub errno: Option<i64>,
}

/// ENOENT: the errno TrueNAS puts in `extra` for a missing instance.
const ENOENT: i64 = 2;
/// TrueNAS' own errno for a call made before login.
const ENOTAUTHENTICATED: i64 = 207;
/// EACCES: `Not authorized` / `Session is expired`.
const EACCES: i64 = 13;

/// A JSON-RPC error answer, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcFailure {
    pub code: RpcCode,
    pub message: String,
    /// `data.error`: always 22 (EINVAL) for validation errors.
    pub errno: Option<i64>,
    pub errname: Option<String>,
    /// `data.reason`: `[ERRNAME] msg`, or one line per validation error.
    pub reason: Option<String>,
    /// Validation errors from `data.extra` (empty for other errors).
    pub fields: Vec<FieldError>,
}

impl RpcFailure {
    /// Decode the `error` member of a JSON-RPC answer.
    pub fn from_error(e: &Value) -> RpcFailure {
        let data = e.get("data").filter(|d| d.is_object());
        let s = |v: Option<&Value>| v.and_then(|v| v.as_str()).map(str::to_string);
        let fields = data
            .and_then(|d| d.get("extra"))
            .and_then(|x| x.as_array())
            .map(|items| {
                items
                    .iter()
                    .filter_map(|it| it.as_array())
                    .map(|it| FieldError {
                        attribute: it.first().and_then(|a| a.as_str()).map(str::to_string),
                        message: it
                            .get(1)
                            .and_then(|m| m.as_str())
                            .unwrap_or_default()
                            .to_string(),
                        errno: it.get(2).and_then(|n| n.as_i64()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        RpcFailure {
            code: RpcCode::from_code(e.get("code").and_then(|c| c.as_i64()).unwrap_or(0)),
            message: s(e.get("message")).unwrap_or_default(),
            errno: data.and_then(|d| d.get("error")).and_then(|n| n.as_i64()),
            errname: s(data.and_then(|d| d.get("errname"))),
            reason: s(data.and_then(|d| d.get("reason"))),
            fields,
        }
    }

    /// `query` with `get: true` matched nothing (`MatchNotFound()`, a -32001, not ENOENT).
    pub fn is_match_not_found(&self) -> bool {
        self.code == RpcCode::CallError
            && self
                .reason
                .as_deref()
                .is_some_and(|r| r.starts_with("MatchNotFound"))
    }

    /// The instance does not exist: `InstanceNotFound` (-32602 with ENOENT inside `extra`) or
    /// a `get: true` query without match.
    pub fn is_not_found(&self) -> bool {
        self.is_match_not_found()
            || (self.code == RpcCode::InvalidParams
                && self.fields.iter().any(|f| f.errno == Some(ENOENT)))
    }

    pub fn is_not_authenticated(&self) -> bool {
        self.code == RpcCode::CallError && self.errno == Some(ENOTAUTHENTICATED)
    }

    fn summary(&self) -> String {
        if !self.fields.is_empty() {
            let parts: Vec<String> = self
                .fields
                .iter()
                .map(|f| {
                    let errname = f.errno.map(errno_name).unwrap_or("EINVAL");
                    match &f.attribute {
                        Some(a) if !a.is_empty() => format!("{a}: {} ({errname})", f.message),
                        _ => format!("{} ({errname})", f.message),
                    }
                })
                .collect();
            return format!("invalid parameters: {}", parts.join("; "));
        }
        let reason = self
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        match (self.code, reason) {
            (RpcCode::MethodNotFound, _) => {
                "the method does not exist on this TrueNAS (-32601)".into()
            }
            (RpcCode::TooManyConcurrentCalls, _) => format!("{} (-32000)", self.message),
            (_, Some(r)) => format!("{r} ({})", self.code.code()),
            (_, None) => format!("{} ({})", self.message, self.code.code()),
        }
    }

    fn hint(&self) -> &'static str {
        if self.is_not_authenticated() {
            return "; the session is not logged in (the connection was re-established?): run the command again";
        }
        if self.code == RpcCode::CallError && self.errno == Some(EACCES) {
            return "; the API key's user lacks the privilege for this call: give the user a role that allows it (Credentials → Users) or use another key";
        }
        match self.code {
            RpcCode::MethodNotFound => {
                "; this TrueNAS version does not serve it: check the version `foundry storage test` reports"
            }
            RpcCode::TooManyConcurrentCalls => "; run the command again",
            _ => "",
        }
    }
}

/// Names for the errnos TrueNAS reports (Linux numbering plus TrueNAS' own from 201).
pub fn errno_name(n: i64) -> &'static str {
    match n {
        1 => "EPERM",
        2 => "ENOENT",
        13 => "EACCES",
        16 => "EBUSY",
        17 => "EEXIST",
        22 => "EINVAL",
        39 => "ENOTEMPTY",
        95 => "EOPNOTSUPP",
        110 => "ETIMEDOUT",
        14 => "EFAULT",
        202 => "ESERVICESTARTFAILURE",
        205 => "EDATASETISLOCKED",
        207 => "ENOTAUTHENTICATED",
        _ => "EUNKNOWN",
    }
}

/// Why `auth.login_ex` did not log in (its `response_type`, never a JSON-RPC error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRefusal {
    /// AUTH_ERR: wrong or revoked key, or unknown user (deliberately indistinguishable).
    AuthErr,
    /// EXPIRED: the key or account expired, or the key was just revoked for insecure transport.
    Expired,
    /// OTP_REQUIRED: a second factor is asked for.
    OtpRequired,
    /// REDIRECT: this node is an HA standby; the active node's URLs.
    Redirect(Vec<String>),
    /// DENIED (TrueNAS 26): the user may not use the API.
    Denied,
    /// Any other `response_type`.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TruenasError {
    #[error("refusing {url}: TrueNAS revokes an API key that arrives over plain HTTP or WebSocket, so foundry only talks to it over TLS; use https://{rest} (nothing was sent)")]
    InsecureUrl { url: String, rest: String },

    #[error("`{url}` is not a TrueNAS address: {why} (expected https://HOST[:PORT])")]
    BadUrl { url: String, why: String },

    #[error("TrueNAS at {url} is unreachable: {cause}")]
    Unreachable { url: String, cause: String },

    #[error("TrueNAS at {url} presented a certificate foundry does not trust ({cause}); its leaf certificate is {fingerprint}: if that is your TrueNAS, set storage.truenas.tls_fingerprint to it (or ca_file to the CA that signed it)")]
    Untrusted {
        url: String,
        cause: String,
        fingerprint: String,
    },

    #[error("TrueNAS at {url}: GET /api/versions {what}")]
    Versions { url: String, what: String },

    #[error("TrueNAS at {url} serves API {version} (newest of {served}); foundry knows how to talk to {known} only: use a foundry release that supports {version}")]
    UnknownVersion {
        url: String,
        version: String,
        served: String,
        known: String,
    },

    #[error("{}", login_message(url, user, reason))]
    Login {
        url: String,
        user: String,
        reason: LoginRefusal,
    },

    #[error("TrueNAS call `{method}` failed: {}{}", failure.summary(), failure.hint())]
    Rpc {
        method: String,
        failure: Box<RpcFailure>,
    },

    #[error("TrueNAS call `{method}` got no answer within {}s; the TrueNAS may be overloaded: run the command again", after.as_secs_f64())]
    Timeout { method: String, after: Duration },

    #[error("the connection to TrueNAS was lost during `{method}` ({cause}); what the call did is unknown: run the command again (it reads the state first)")]
    ConnectionLost { method: String, cause: String },

    #[error("TrueNAS job {job_id} of `{method}` ended {state}: {error}")]
    Job {
        method: String,
        job_id: i64,
        state: String,
        error: String,
    },

    #[error("TrueNAS answered `{method}` with something foundry does not understand: {what}")]
    Protocol { method: String, what: String },
}

fn login_message(url: &str, user: &str, reason: &LoginRefusal) -> String {
    let redo = "create a new API key for that user in TrueNAS (Credentials → API keys) and run `foundry storage configure`";
    match reason {
        LoginRefusal::AuthErr => format!("TrueNAS at {url} refused the API key for user `{user}` (AUTH_ERR): the key is wrong or revoked, or `{user}` is not its owner; check storage.truenas.user, or {redo}"),
        LoginRefusal::Expired => format!("TrueNAS at {url} says the API key for user `{user}` has expired (EXPIRED; TrueNAS also answers this right after revoking a key that was sent over plain HTTP); {redo}"),
        LoginRefusal::OtpRequired => format!("TrueNAS at {url} asks user `{user}` for a one-time password (OTP_REQUIRED); foundry logs in with an API key and cannot answer a second factor: use a key whose login does not require two-factor authentication"),
        LoginRefusal::Redirect(urls) => format!("TrueNAS at {url} is a standby node of an HA pair (REDIRECT); point storage.truenas.url at the active node: {}", if urls.is_empty() { "(no address given)".to_string() } else { urls.join(", ") }),
        LoginRefusal::Denied => format!("TrueNAS at {url} denies user `{user}` access to the API (DENIED): allow API access for that user in TrueNAS, or use a key of another user"),
        LoginRefusal::Other(t) => format!("TrueNAS at {url} did not log in user `{user}`: unexpected response_type `{t}`"),
    }
}

impl TruenasError {
    /// The failure's exit class: connection and login problems are 4, a bad URL is 3,
    /// everything else is a failed step (5).
    pub fn class(&self) -> ExitClass {
        match self {
            TruenasError::InsecureUrl { .. } | TruenasError::BadUrl { .. } => ExitClass::Config,
            TruenasError::Unreachable { .. }
            | TruenasError::Untrusted { .. }
            | TruenasError::Versions { .. }
            | TruenasError::UnknownVersion { .. }
            | TruenasError::Login { .. }
            | TruenasError::ConnectionLost { .. }
            | TruenasError::Timeout { .. } => ExitClass::Connection,
            TruenasError::Rpc { .. } | TruenasError::Job { .. } | TruenasError::Protocol { .. } => {
                ExitClass::StepFailed
            }
        }
    }

    /// The decoded JSON-RPC failure, if this is one.
    pub fn rpc(&self) -> Option<&RpcFailure> {
        match self {
            TruenasError::Rpc { failure, .. } => Some(failure),
            _ => None,
        }
    }

    /// True when the connection itself is gone (reconnect and retry makes sense).
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, TruenasError::ConnectionLost { .. })
    }
}

/// An error for a command handler: the message scrubbed of secrets and the right exit class.
pub fn to_failure(e: anyhow::Error) -> anyhow::Error {
    match e.downcast_ref::<TruenasError>() {
        Some(t) => fail(t.class(), scrub(&format!("{e:#}"))),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validation_errors_carry_the_real_errno_in_extra() {
        // The shape of InstanceNotFound: data.error is EINVAL, ENOENT is only in extra.
        let e = json!({"code": -32602, "message": "Invalid params", "data": {
            "error": 22, "errname": "EINVAL", "reason": "[ENOENT] None: PoolDataset tank/x does not exist",
            "trace": null, "extra": [[null, "PoolDataset tank/x does not exist", 2]]}});
        let f = RpcFailure::from_error(&e);
        assert_eq!(f.code, RpcCode::InvalidParams);
        assert_eq!(f.errno, Some(22));
        assert!(f.is_not_found());
        let msg = TruenasError::Rpc {
            method: "pool.dataset.delete".into(),
            failure: Box::new(f),
        }
        .to_string();
        assert!(msg.contains("`pool.dataset.delete`"), "{msg}");
        assert!(
            msg.contains("PoolDataset tank/x does not exist (ENOENT)"),
            "{msg}"
        );
    }

    #[test]
    fn match_not_found_is_a_call_error_not_enoent() {
        let e = json!({"code": -32001, "message": "Method call error", "data": {
            "error": 22, "errname": "EINVAL", "reason": "MatchNotFound()", "trace": null, "extra": null}});
        let f = RpcFailure::from_error(&e);
        assert!(f.is_match_not_found() && f.is_not_found());
        let other = json!({"code": -32001, "message": "Method call error", "data": {
            "error": 39, "errname": "ENOTEMPTY", "reason": "[ENOTEMPTY] Failed to delete dataset: cannot destroy 'tank/x': filesystem has children", "extra": null}});
        let f = RpcFailure::from_error(&other);
        assert!(!f.is_not_found());
        let msg = TruenasError::Rpc {
            method: "pool.dataset.delete".into(),
            failure: Box::new(f),
        }
        .to_string();
        assert!(msg.contains("filesystem has children (-32001)"), "{msg}");
    }

    #[test]
    fn not_authenticated_and_not_authorized_say_what_to_do() {
        let e = json!({"code": -32001, "message": "Method call error", "data": {
            "error": 207, "errname": "ENOTAUTHENTICATED", "reason": "[ENOTAUTHENTICATED] Not authenticated", "extra": null}});
        let msg = TruenasError::Rpc {
            method: "pool.query".into(),
            failure: Box::new(RpcFailure::from_error(&e)),
        }
        .to_string();
        assert!(msg.contains("not logged in"), "{msg}");
        let e = json!({"code": -32001, "message": "Method call error", "data": {
            "error": 13, "errname": "EACCES", "reason": "[EACCES] Not authorized", "extra": null}});
        let msg = TruenasError::Rpc {
            method: "pool.dataset.create".into(),
            failure: Box::new(RpcFailure::from_error(&e)),
        }
        .to_string();
        assert!(msg.contains("lacks the privilege"), "{msg}");
    }
}
