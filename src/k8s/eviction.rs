//! The Eviction API (policy/v1), as `kubectl drain` uses it: an allowed eviction is 201 with a
//! bare Status, a PodDisruptionBudget that allows no disruption answers 429 (its name only in
//! `details.causes`), a missing pod 404 (api-behaviour.md A.2).

use super::error::KubeError;
use super::status::disruption_budget;
use super::transport::{describe, Kube};

/// What an eviction request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictOutcome {
    /// Accepted: the pod is deleted gracefully (it stays Terminating until its kubelet or
    /// the pod GC removes it; wait with [`Kube::wait_gone`]).
    Evicted,
    /// There was no such pod (404).
    AlreadyGone,
}

impl Kube {
    /// Evicts pod `ns/name`. A PDB that allows no disruption now is
    /// [`KubeError::EvictionBlocked`] naming the PDB; retrying later is the caller's choice.
    pub async fn evict(&self, ns: &str, name: &str) -> Result<EvictOutcome, KubeError> {
        let path = format!("/api/v1/namespaces/{ns}/pods/{name}/eviction");
        let body = serde_json::json!({
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": { "name": name, "namespace": ns },
        });
        let req = http::Request::post(&path)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json")
            .body(serde_json::to_vec(&body).unwrap_or_default())
            .map_err(|e| KubeError::Api {
                request: describe("POST", &path),
                status: 0,
                reason: String::new(),
                message: e.to_string(),
            })?;
        let answer = self.send(req).await?;
        let request = describe("POST", &path);
        match answer.status {
            200..=299 => Ok(EvictOutcome::Evicted),
            404 => match self.api_error(&request, &answer) {
                KubeError::NotFound { served: true, .. } => Ok(EvictOutcome::AlreadyGone),
                e => Err(e),
            },
            429 => match disruption_budget(&answer.body) {
                Some((pdb, detail)) => Err(KubeError::EvictionBlocked {
                    namespace: ns.to_string(),
                    pod: name.to_string(),
                    pdb,
                    detail,
                }),
                None => Err(self.api_error(&request, &answer)),
            },
            _ => Err(self.api_error(&request, &answer)),
        }
    }
}
