//! `POST pods/{name}/eviction` as eviction.go decides (api-behaviour.md A.2): missing pod 404;
//! a Pending, finished or already terminating pod skips the PDB; more than one matching PDB is
//! a 500 without reason; a PDB that allows no disruption is 429 naming it only in
//! `details.causes`; otherwise the pod is deleted gracefully and the answer is 201 with a bare
//! Status.

use super::cluster::{key, Call, Cluster};
use super::controllers::{pdb_status, pod_ready};
use super::resources;
use super::selectors::match_labels;
use super::status::{self, Cause, Details, Reply};
use serde_json::Value;

pub(crate) fn evict(c: &mut Cluster, ns: &str, name: &str, call: &Call) -> Reply {
    let body: Value = serde_json::from_slice(&call.body).unwrap_or_default();
    if let Some(n) = body["metadata"]["name"].as_str() {
        if n != name {
            return status::bad_request("name in URL does not match name in Eviction object");
        }
    }
    let pods = resources::builtin("", "v1", "pods").expect("pods");
    let k = key(&pods, Some(ns), name);
    let Some(pod) = c.objects.get(&k).cloned() else {
        return status::not_found("", "pods", name);
    };
    let grace = body["deleteOptions"]["gracePeriodSeconds"].as_u64();
    let phase = pod["status"]["phase"].as_str().unwrap_or("Pending");
    let terminating = !pod["metadata"]["deletionTimestamp"].is_null();
    if matches!(phase, "Pending" | "Succeeded" | "Failed") || terminating {
        c.delete_pod(&k, grace);
        return status::success(201, Some(201), None);
    }
    let pdbs: Vec<Value> = c
        .objects
        .iter()
        .filter(|((g, p, n, _), _)| g == "policy" && p == "poddisruptionbudgets" && n == ns)
        .map(|(_, v)| v.clone())
        .filter(|pdb| match_labels(&pdb["spec"]["selector"], &pod))
        .collect();
    if pdbs.len() > 1 {
        return status::failure(
            500,
            "",
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            None,
        );
    }
    if let Some(pdb) = pdbs.first() {
        let st = pdb_status(c, pdb);
        let current = st["currentHealthy"].as_i64().unwrap_or(0);
        let desired = st["desiredHealthy"].as_i64().unwrap_or(0);
        let allowed = st["disruptionsAllowed"].as_i64().unwrap_or(0);
        let unready_but_budget_met = !pod_ready(&pod) && current >= desired && desired > 0;
        if !unready_but_budget_met && allowed <= 0 {
            let pdb_name = pdb["metadata"]["name"].as_str().unwrap_or_default();
            return status::failure(
                429,
                "TooManyRequests",
                "Cannot evict pod as it would violate the pod's disruption budget.",
                Some(Details {
                    causes: vec![Cause {
                        reason: "DisruptionBudget".into(),
                        message: format!(
                            "The disruption budget {pdb_name} needs {desired} healthy pods and has {current} currently"
                        ),
                        field: String::new(),
                    }],
                    ..Default::default()
                }),
            );
        }
    }
    c.delete_pod(&k, grace);
    status::success(201, Some(201), None)
}
