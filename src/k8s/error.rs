//! The ways a Kubernetes API call fails, one variant per failure a user must tell apart. Every
//! message names what was asked (`GET /api/v1/nodes`), what came back and, where there is one,
//! what to do. Messages are built from scrubbed text only (see `transport`).

use crate::error::ExitClass;

/// One field error of a 422 Invalid answer (`details.causes[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldCause {
    /// e.g. `FieldValueRequired`.
    pub reason: String,
    /// The JSON path, e.g. `spec.containers[0].image`.
    pub field: String,
    pub message: String,
}

/// One field another field manager owns (a server-side apply 409).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldConflict {
    /// e.g. `.data.key`.
    pub field: String,
    /// The manager as the server names it, e.g. `"other"` or `"kubectl" using v1`.
    pub manager: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubeError {
    /// The kubeconfig could not be read or used.
    #[error("the kubeconfig {source_name} cannot be used: {cause}")]
    Kubeconfig { source_name: String, cause: String },

    /// No HTTP answer: connection refused, no route, DNS, or no answer within the timeout.
    #[error("the API at {endpoint} did not answer {request}: {cause}; check that the address (the VIP) is up and that K3s runs on the servers")]
    NotAnswering {
        endpoint: String,
        request: String,
        cause: String,
    },

    /// The TLS handshake failed: the server's certificate is not signed by the kubeconfig's CA
    /// or does not name the address.
    #[error("the API at {endpoint} answered {request} with a certificate that does not match the kubeconfig ({cause}); the kubeconfig's certificate-authority-data must be the cluster's CA and the server's certificate must list this address in its SANs")]
    Tls {
        endpoint: String,
        request: String,
        cause: String,
    },

    /// 401: the credentials in the kubeconfig are not accepted.
    #[error("the API at {endpoint} refused the kubeconfig's credentials for {request} (401 {message}); fetch the cluster's kubeconfig again (it is kept in OpenBao)")]
    Unauthorized {
        endpoint: String,
        request: String,
        message: String,
    },

    /// 403: the user is known but may not do this.
    #[error("{request} is forbidden (403): {message}")]
    Forbidden { request: String, message: String },

    /// Not found (404). With `served: false` the answer was the plain-text `404 page not found`: no API serves
    /// the path (an unknown group, version or resource, or a CRD not Established yet).
    #[error("{}", not_found_text(request, message, *served))]
    NotFound {
        request: String,
        message: String,
        served: bool,
    },

    /// 409 AlreadyExists (a create of an existing name).
    #[error("{request} failed: it already exists (409): {message}")]
    AlreadyExists { request: String, message: String },

    /// 409 Conflict: a server-side apply touched fields another field manager owns, or an
    /// update carried a stale resourceVersion.
    #[error(
        "{request} failed with a conflict (409): {message}{}",
        conflicts_text(conflicts)
    )]
    Conflict {
        request: String,
        message: String,
        conflicts: Vec<FieldConflict>,
    },

    /// 422 Invalid: the object was refused by validation.
    #[error("{request} was refused as invalid (422): {message}")]
    Invalid {
        request: String,
        message: String,
        causes: Vec<FieldCause>,
    },

    /// A pod eviction refused (429) because a PodDisruptionBudget allows no disruption now.
    #[error("eviction of pod {namespace}/{pod} is blocked by PodDisruptionBudget {pdb} (429): {detail}; retry later or scale the workload up")]
    EvictionBlocked {
        namespace: String,
        pod: String,
        pdb: String,
        detail: String,
    },

    /// Any other 429.
    #[error("{request} was refused: too many requests (429): {message}")]
    TooManyRequests {
        request: String,
        message: String,
        retry_after_seconds: Option<u64>,
    },

    /// `/readyz` answered but some checks fail.
    #[error("the API at {endpoint} is not ready: failing checks: {}", failing.join(", "))]
    NotReady {
        endpoint: String,
        failing: Vec<String>,
    },

    /// A wait ran out of time.
    #[error("timed out after {}s waiting for {what}; last seen: {last_seen}", waited.as_secs())]
    WaitTimedOut {
        what: String,
        waited: std::time::Duration,
        last_seen: String,
    },

    /// The answer could not be parsed as what was asked for.
    #[error("{request} answered {status} with a body foundry cannot read: {cause}")]
    Decode {
        request: String,
        status: u16,
        cause: String,
    },

    /// Any other error answer (400, 415, 500, 503, ...).
    #[error(
        "{request} failed with HTTP {status}{}: {message}",
        reason_text(reason)
    )]
    Api {
        request: String,
        status: u16,
        reason: String,
        message: String,
    },
}

fn not_found_text(request: &str, message: &str, served: bool) -> String {
    if served {
        format!("{request}: not found (404): {message}")
    } else {
        format!("{request}: the API does not serve this path (404 page not found): its API group or resource does not exist, or its CRD is not Established yet")
    }
}

fn conflicts_text(conflicts: &[FieldConflict]) -> String {
    if conflicts.is_empty() {
        return String::new();
    }
    let list: Vec<String> = conflicts
        .iter()
        .map(|c| format!("{} (owned by {})", c.field, c.manager))
        .collect();
    format!(
        "; conflicting fields: {}; apply with force to take them over",
        list.join(", ")
    )
}

fn reason_text(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" {reason}")
    }
}

impl KubeError {
    /// The exit class a command reports for this error.
    pub fn exit_class(&self) -> ExitClass {
        match self {
            KubeError::NotAnswering { .. }
            | KubeError::Tls { .. }
            | KubeError::Unauthorized { .. }
            | KubeError::NotReady { .. } => ExitClass::Connection,
            KubeError::Kubeconfig { .. } => ExitClass::Config,
            _ => ExitClass::General,
        }
    }

    /// True for a 404 of either kind (object missing, or path not served).
    pub fn is_not_found(&self) -> bool {
        matches!(self, KubeError::NotFound { .. })
    }
}
