//! Is a chart's workload rolled out? Decided exactly as `kubectl rollout status` does
//! (api-behaviour A.7), from one list per kind, so a no-op re-run costs one request per kind.

use super::chart::{Workload, WorkloadKind};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};

/// One look at a workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    Done,
    /// Not yet: what was seen (shown when the deadline passes).
    Waiting(String),
    /// It will not get there by waiting (progress deadline exceeded, wrong strategy).
    Failed(String),
}

pub fn deployment(ns: &str, d: &Deployment) -> Rollout {
    let name = d.metadata.name.clone().unwrap_or_default();
    let who = format!("Deployment {ns}/{name}");
    let generation = d.metadata.generation.unwrap_or(0);
    let Some(st) = &d.status else {
        return Rollout::Waiting(format!("{who}: no status yet"));
    };
    if generation > st.observed_generation.unwrap_or(0) {
        return Rollout::Waiting(format!("{who}: waiting for the spec update to be observed"));
    }
    let progress_exceeded = st.conditions.iter().flatten().any(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    if progress_exceeded {
        return Rollout::Failed(format!("{who} exceeded its progress deadline"));
    }
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let updated = st.updated_replicas.unwrap_or(0);
    let replicas = st.replicas.unwrap_or(0);
    let available = st.available_replicas.unwrap_or(0);
    if updated < want {
        Rollout::Waiting(format!(
            "{who}: {updated} out of {want} new replicas have been updated"
        ))
    } else if replicas > updated {
        Rollout::Waiting(format!(
            "{who}: {} old replicas are pending termination",
            replicas - updated
        ))
    } else if available < updated {
        Rollout::Waiting(format!(
            "{who}: {available} of {updated} updated replicas are available"
        ))
    } else {
        Rollout::Done
    }
}

pub fn daemon_set(ns: &str, d: &DaemonSet) -> Rollout {
    let name = d.metadata.name.clone().unwrap_or_default();
    let who = format!("DaemonSet {ns}/{name}");
    let strategy = d
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.clone())
        .unwrap_or_else(|| "RollingUpdate".into());
    if strategy != "RollingUpdate" {
        return Rollout::Failed(format!(
            "{who}: rollout status is only available for the RollingUpdate strategy (it has {strategy})"
        ));
    }
    let generation = d.metadata.generation.unwrap_or(0);
    let Some(st) = &d.status else {
        return Rollout::Waiting(format!("{who}: no status yet"));
    };
    if generation > st.observed_generation.unwrap_or(0) {
        return Rollout::Waiting(format!("{who}: waiting for the spec update to be observed"));
    }
    let desired = st.desired_number_scheduled;
    let updated = st.updated_number_scheduled.unwrap_or(0);
    let available = st.number_available.unwrap_or(0);
    if updated < desired {
        Rollout::Waiting(format!(
            "{who}: {updated} out of {desired} new pods have been updated"
        ))
    } else if available < desired {
        Rollout::Waiting(format!(
            "{who}: {available} of {desired} updated pods are available"
        ))
    } else {
        Rollout::Done
    }
}

/// The state of all `wanted` workloads in `ns`: the first one not done decides (a missing one
/// is waited for: the Job may still be creating it).
pub fn all(
    ns: &str,
    wanted: &[Workload],
    deployments: &[Deployment],
    daemon_sets: &[DaemonSet],
) -> Rollout {
    for w in wanted {
        let name = Some(w.name.as_str());
        let r = match w.kind {
            WorkloadKind::Deployment => deployments
                .iter()
                .find(|d| d.metadata.name.as_deref() == name)
                .map(|d| deployment(ns, d)),
            WorkloadKind::DaemonSet => daemon_sets
                .iter()
                .find(|d| d.metadata.name.as_deref() == name)
                .map(|d| daemon_set(ns, d)),
        }
        .unwrap_or_else(|| {
            Rollout::Waiting(format!(
                "{} {ns}/{} not created yet",
                w.kind.as_str(),
                w.name
            ))
        });
        if r != Rollout::Done {
            return r;
        }
    }
    Rollout::Done
}
