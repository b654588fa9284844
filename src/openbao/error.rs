//! The distinct ways talking to OpenBao fails, each with a message that says what to do next.
//! Store and client functions return these inside `anyhow::Error` (so callers can
//! `downcast_ref::<OpenbaoError>()`); command handlers turn them into exit classes with
//! [`to_failure`].

use crate::error::{fail, ExitClass};
use crate::redact::scrub;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenbaoError {
    /// No HTTP answer at all (connection refused, DNS, timeout, TLS handshake).
    #[error("OpenBao at {address} is unreachable: {cause}")]
    Unreachable { address: String, cause: String },

    #[error("OpenBao at {address} is sealed: run `foundry openbao unseal`")]
    Sealed { address: String },

    #[error("OpenBao at {address} is not initialised: run `foundry component install openbao` to initialise and unseal it")]
    NotInitialised { address: String },

    /// HTTP 403: the token is wrong, expired or revoked (or lacks the policy).
    #[error("OpenBao at {address} refused the token (HTTP 403 permission denied): it is wrong, expired or revoked; {hint}")]
    PermissionDenied { address: String, hint: String },

    /// Nothing stored at the KV path (never written, or deleted).
    #[error("no secret at `{path}` in OpenBao (KV v2 mount `secret/`)")]
    MissingPath { path: String },

    /// The path exists but has no such key.
    #[error("the secret at `{path}` in OpenBao has no key `{key}` (keys there: {existing})")]
    MissingKey {
        path: String,
        key: String,
        existing: String,
    },

    /// foundry has no token for this instance (neither env, keyring nor file).
    #[error("no OpenBao token for instance `{instance}`: none in the OS keyring (service `foundry`, account `{instance}/openbao`), none in {file}, and FOUNDRY_OPENBAO_TOKEN is not set; initialise OpenBao with `foundry component install openbao` or set FOUNDRY_OPENBAO_TOKEN")]
    NoToken { instance: String, file: String },

    /// `secret/` is mounted but is not a KV version 2 engine.
    #[error("OpenBao at {address}: the mount `secret/` is `{found}`, not KV version 2; foundry stores its secrets in a KV v2 engine at `secret/`")]
    WrongMount { address: String, found: String },

    /// Any other non-success answer.
    #[error("OpenBao at {address}: {method} {path} failed with HTTP {status}: {message}")]
    Api {
        address: String,
        method: String,
        path: String,
        status: u16,
        message: String,
    },
}

impl OpenbaoError {
    /// The exit class a command reports for this error.
    pub fn exit_class(&self) -> ExitClass {
        match self {
            OpenbaoError::Unreachable { .. }
            | OpenbaoError::Sealed { .. }
            | OpenbaoError::NotInitialised { .. }
            | OpenbaoError::PermissionDenied { .. }
            | OpenbaoError::NoToken { .. } => ExitClass::Connection,
            OpenbaoError::MissingPath { .. } | OpenbaoError::MissingKey { .. } => ExitClass::Config,
            OpenbaoError::WrongMount { .. } | OpenbaoError::Api { .. } => ExitClass::General,
        }
    }
}

/// The OpenBao error inside an `anyhow::Error`, if that is what it is.
pub fn as_openbao(err: &anyhow::Error) -> Option<&OpenbaoError> {
    err.chain().find_map(|e| e.downcast_ref::<OpenbaoError>())
}

/// For command handlers: an OpenBao error becomes a classified [`crate::error::Failure`] (exit
/// code) with its message (scrubbed); anything else passes through unchanged.
pub fn to_failure(err: anyhow::Error) -> anyhow::Error {
    match as_openbao(&err) {
        Some(e) => fail(e.exit_class(), scrub(&format!("{err:#}"))),
        None => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_names_its_cause_and_next_step() {
        let a = "http://10.0.0.5:8200".to_string();
        let sealed = OpenbaoError::Sealed { address: a.clone() }.to_string();
        assert!(sealed.contains("sealed") && sealed.contains("foundry openbao unseal"));
        let un = OpenbaoError::Unreachable {
            address: a.clone(),
            cause: "connection refused".into(),
        }
        .to_string();
        assert!(un.contains(&a) && un.contains("connection refused"));
        let denied = OpenbaoError::PermissionDenied {
            address: a.clone(),
            hint: "h".into(),
        }
        .to_string();
        assert!(denied.contains("403") && denied.contains("expired"));
        let path = OpenbaoError::MissingPath {
            path: "x/db".into(),
        }
        .to_string();
        let key = OpenbaoError::MissingKey {
            path: "x/db".into(),
            key: "pw".into(),
            existing: "user".into(),
        }
        .to_string();
        assert_ne!(path, key);
        assert!(key.contains("`pw`") && key.contains("user"));
        let init = OpenbaoError::NotInitialised { address: a }.to_string();
        assert!(init.contains("not initialised"));
    }

    #[test]
    fn command_failures_carry_exit_classes() {
        let e = anyhow::Error::new(OpenbaoError::Sealed {
            address: "http://x:8200".into(),
        })
        .context("reading secret");
        assert_eq!(
            crate::error::class_of(&to_failure(e)),
            ExitClass::Connection
        );
        let e = anyhow::Error::new(OpenbaoError::MissingPath { path: "a".into() });
        assert_eq!(crate::error::class_of(&to_failure(e)), ExitClass::Config);
        let other = to_failure(anyhow::anyhow!("plain"));
        assert_eq!(crate::error::class_of(&other), ExitClass::General);
    }
}
