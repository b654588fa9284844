//! `cluster node remove HOST`, the API part: [`plan`] only reads (the Node list and the pods
//! on the node) and decides every step; [`execute`] runs them in the etcd-safe order
//! cordon → evict → wait for the pods → delete the Node → (server) wait for its etcd member.
//! Every wait has the `--timeout` deadline and says what it waits for.

mod drain;
pub mod host;
pub mod pods;
pub mod safety;

pub use drain::execute;
pub use safety::Refusal;

use crate::cluster::view::NodeView;
use crate::k8s::{Kube, KubeError, Selector};
use k8s_openapi::api::core::v1::{Node, Pod};
use pods::{PodRef, PodSets, SkipReason};
use serde::Serialize;
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone)]
pub struct RemoveOptions {
    /// Deadline of each wait (evictions blocked by a PDB, pods gone, etcd member gone).
    pub timeout: Duration,
    pub delete_emptydir_data: bool,
    /// Lifts the last-server and quorum refusals.
    pub force: bool,
}

/// One step, in the order it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    Cordon {
        node: String,
    },
    Evict {
        pod: PodRef,
    },
    WaitPodsGone {
        node: String,
        pods: Vec<PodRef>,
    },
    DeleteNode {
        node: String,
    },
    WaitEtcdMemberGone {
        node: String,
        member: Option<String>,
    },
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Cordon { node } => write!(f, "cordon node {node} (spec.unschedulable: true)"),
            Step::Evict { pod } => write!(f, "evict pod {pod} (Eviction API, honouring PodDisruptionBudgets)"),
            Step::WaitPodsGone { node, pods } => write!(
                f,
                "wait until the {} pod(s) leaving {node} are gone",
                pods.len()
            ),
            Step::DeleteNode { node } => write!(f, "delete Node {node}"),
            Step::WaitEtcdMemberGone { node, member } => write!(
                f,
                "wait until K3s has removed etcd member {} of {node} (the Node object goes once it has)",
                member.as_deref().unwrap_or("(none recorded)")
            ),
        }
    }
}

/// What a removal would do.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub node: String,
    pub server: bool,
    /// False: there is no such Node; nothing to do through the API.
    pub present: bool,
    pub steps: Vec<Step>,
    pub skipped: Vec<(PodRef, SkipReason)>,
    pub warnings: Vec<String>,
}

/// Why a removal cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("node {node} runs pod(s) with emptyDir volumes whose data a drain deletes: {}; pass --delete-emptydir-data to evict them anyway", pods.join(", "))]
    EmptyDir { node: String, pods: Vec<String> },
    #[error(transparent)]
    Api(#[from] KubeError),
}

/// Reads the Node list and the pods on `node` (two requests) and plans the removal.
pub async fn plan(kube: &Kube, node: &str, opts: &RemoveOptions) -> Result<Plan, PlanError> {
    let now = SystemTime::now();
    let nodes: Vec<NodeView> = kube
        .list::<Node>(None, &Selector::all())
        .await?
        .iter()
        .map(|n| NodeView::from_node(n, now))
        .collect();
    let Some(target) = nodes.iter().find(|n| n.name == node).cloned() else {
        return Ok(Plan {
            node: node.to_string(),
            server: false,
            present: false,
            steps: vec![],
            skipped: vec![],
            warnings: vec![],
        });
    };
    safety::check(&target, &nodes, opts.force)?;
    let pods = kube
        .list::<Pod>(None, &Selector::fields(&format!("spec.nodeName={node}")))
        .await?;
    let sets: PodSets = pods::classify(&pods);
    if !sets.with_emptydir.is_empty() && !opts.delete_emptydir_data {
        return Err(PlanError::EmptyDir {
            node: node.to_string(),
            pods: sets.with_emptydir.iter().map(|p| p.to_string()).collect(),
        });
    }
    let mut steps = Vec::new();
    if target.deleting {
        // An earlier run deleted the Node and K3s's finalizer still holds it: only wait.
        if target.server {
            steps.push(Step::WaitEtcdMemberGone {
                node: node.to_string(),
                member: target.etcd_member.clone(),
            });
        }
        return Ok(Plan {
            node: node.to_string(),
            server: target.server,
            present: true,
            warnings: vec![],
            steps,
            skipped: sets.skipped,
        });
    }
    if !target.unschedulable {
        steps.push(Step::Cordon {
            node: node.to_string(),
        });
    }
    steps.extend(sets.evict.iter().map(|p| Step::Evict { pod: p.clone() }));
    let leaving: Vec<PodRef> = sets
        .evict
        .iter()
        .chain(sets.terminating.iter())
        .cloned()
        .collect();
    if !leaving.is_empty() {
        steps.push(Step::WaitPodsGone {
            node: node.to_string(),
            pods: leaving,
        });
    }
    steps.push(Step::DeleteNode {
        node: node.to_string(),
    });
    if target.server {
        steps.push(Step::WaitEtcdMemberGone {
            node: node.to_string(),
            member: target.etcd_member.clone(),
        });
    }
    Ok(Plan {
        node: node.to_string(),
        server: target.server,
        present: true,
        warnings: safety::warnings(&target, &nodes),
        steps,
        skipped: sets.skipped,
    })
}
