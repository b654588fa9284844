//! Turning a non-2xx answer into a [`KubeError`]. The API server answers every error with a
//! `Status` object (kind Status, reason, message, details.causes) except one: a path no handler
//! serves gets a plain-text `404 page not found` (api-behaviour.md A.0, A.8).

use super::error::{FieldCause, FieldConflict, KubeError};
use serde::Deserialize;

/// The parts of a `meta/v1 Status` foundry reads.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Status {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub details: Option<StatusDetails>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct StatusDetails {
    #[serde(default)]
    pub causes: Vec<StatusCause>,
    #[serde(default, rename = "retryAfterSeconds")]
    pub retry_after_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct StatusCause {
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub field: String,
}

/// The Status in a body, if the body is one.
pub(crate) fn parse_status(body: &[u8]) -> Option<Status> {
    let s: Status = serde_json::from_slice(body).ok()?;
    (s.kind == "Status").then_some(s)
}

/// The error for a non-2xx answer to `request` (e.g. `GET /api/v1/nodes`).
pub(crate) fn error_for(endpoint: &str, request: &str, status: u16, body: &[u8]) -> KubeError {
    let request = request.to_string();
    let Some(st) = parse_status(body) else {
        let text = String::from_utf8_lossy(body).trim().to_string();
        return match status {
            404 => KubeError::NotFound {
                request,
                message: text,
                served: false,
            },
            401 => KubeError::Unauthorized {
                endpoint: endpoint.to_string(),
                request,
                message: text,
            },
            _ => KubeError::Api {
                request,
                status,
                reason: String::new(),
                message: if text.is_empty() {
                    "(empty body)".into()
                } else {
                    text
                },
            },
        };
    };
    let details = st.details.unwrap_or_default();
    match (status, st.reason.as_str()) {
        (401, _) => KubeError::Unauthorized {
            endpoint: endpoint.to_string(),
            request,
            message: st.message,
        },
        (403, _) => KubeError::Forbidden {
            request,
            message: st.message,
        },
        (404, _) => KubeError::NotFound {
            request,
            message: st.message,
            served: true,
        },
        (409, "AlreadyExists") => KubeError::AlreadyExists {
            request,
            message: st.message,
        },
        (409, _) => KubeError::Conflict {
            request,
            message: st.message,
            conflicts: details
                .causes
                .into_iter()
                .filter(|c| c.reason == "FieldManagerConflict")
                .map(|c| FieldConflict {
                    field: c.field,
                    manager: c
                        .message
                        .strip_prefix("conflict with ")
                        .unwrap_or(&c.message)
                        .to_string(),
                })
                .collect(),
        },
        (422, _) => KubeError::Invalid {
            request,
            message: st.message,
            causes: details
                .causes
                .into_iter()
                .map(|c| FieldCause {
                    reason: c.reason,
                    field: c.field,
                    message: c.message,
                })
                .collect(),
        },
        (429, _) => KubeError::TooManyRequests {
            request,
            message: st.message,
            retry_after_seconds: details.retry_after_seconds,
        },
        _ => KubeError::Api {
            request,
            status,
            reason: st.reason,
            message: st.message,
        },
    }
}

/// The PDB named in a 429 eviction answer: only `details.causes[].message` of reason
/// `DisruptionBudget` names it ("The disruption budget web-pdb needs 1 healthy pods ...").
pub(crate) fn disruption_budget(body: &[u8]) -> Option<(String, String)> {
    let st = parse_status(body)?;
    st.details?
        .causes
        .into_iter()
        .find(|c| c.reason == "DisruptionBudget")
        .map(|c| {
            let name = c
                .message
                .strip_prefix("The disruption budget ")
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or("(unnamed)")
                .to_string();
            (name, c.message)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The bodies below are the recorded answers of a real kube-apiserver v1.24
    // (tests/data/k8s-api-samples/).

    #[test]
    fn plain_text_404_is_not_served() {
        let e = error_for(
            "https://x",
            "GET /apis/helm.cattle.io/v1",
            404,
            b"404 page not found\n",
        );
        assert!(
            matches!(e, KubeError::NotFound { served: false, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("not Established yet"), "{e}");
    }

    #[test]
    fn pdb_name_comes_from_the_cause() {
        let body = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Cannot evict pod as it would violate the pod's disruption budget.","reason":"TooManyRequests","details":{"causes":[{"reason":"DisruptionBudget","message":"The disruption budget web-pdb needs 1 healthy pods and has 1 currently"}]},"code":429}"#;
        let (name, _) = disruption_budget(body).unwrap();
        assert_eq!(name, "web-pdb");
    }

    #[test]
    fn conflict_lists_fields_and_managers() {
        let body = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Apply failed with 1 conflict: conflict with \"foundry\": .data.key","reason":"Conflict","details":{"causes":[{"reason":"FieldManagerConflict","message":"conflict with \"foundry\"","field":".data.key"}]},"code":409}"#;
        let e = error_for("https://x", "PATCH /x", 409, body);
        let KubeError::Conflict { conflicts, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(conflicts[0].field, ".data.key");
        assert_eq!(conflicts[0].manager, "\"foundry\"");
        assert!(
            e.to_string().contains(".data.key (owned by \"foundry\")"),
            "{e}"
        );
    }
}
