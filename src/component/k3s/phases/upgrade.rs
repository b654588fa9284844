//! Rolling K3s upgrades (issue 10 §6), woven into the start phases so that `stack install` with
//! a new `components.k3s.version` and `cluster upgrade` are the same recipe. A node whose
//! installed K3s differs from the pinned version does not get its binary in the parallel files
//! phase; its start phase (the first server, then the other servers one at a time, then the
//! agents) does, in this order:
//!
//! cordon → drain (Eviction API, PodDisruptionBudgets honoured) → new binary → restart → (server)
//! local API answers → the Node is Ready at the new kubelet version (server: its etcd member a
//! voter) → uncordon.
//!
//! A failure stops the serial phase: the servers after it keep their old binary and their
//! service untouched. A re-run finds the failed node at the new binary and finishes it; nodes
//! already upgraded are no-ops. The cordon carries an annotation so that a re-run knows the
//! cordon is foundry's and lifts it, and an operator's own cordon is left alone.

use crate::cluster::remove::{self, pods, Plan, RemoveOptions, Step as RemoveStep};
use crate::component::api::ApiAction;
use crate::k8s::{Kube, Selector};
use anyhow::anyhow;
use k8s_openapi::api::core::v1::{Node, Pod};
use std::time::Duration;

/// Set on a Node while foundry holds it cordoned for an upgrade.
pub const CORDON_ANNOTATION: &str = "foundry.dev/cordoned-for";

/// How a run upgrades (put into the run's outputs by `cluster upgrade`; `stack install` uses
/// the default).
#[derive(Debug, Clone)]
pub struct UpgradeOptions {
    pub drain: bool,
    pub delete_emptydir_data: bool,
    /// Deadline of each wait of a drain (evictions blocked by a PDB, pods gone).
    pub timeout: Duration,
}

impl Default for UpgradeOptions {
    fn default() -> Self {
        UpgradeOptions {
            drain: true,
            delete_emptydir_data: false,
            timeout: Duration::from_secs(300),
        }
    }
}

/// A node the files phase left for its start phase: the installed version and the steps that
/// put the new release in place (the binary; air-gapped, its images tarball too).
#[derive(Debug, Clone)]
pub struct Pending {
    pub from: String,
    pub binary: Vec<crate::component::Step>,
}

/// The Node as the plan sees it before an upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeState {
    pub registered: bool,
    pub unschedulable: bool,
    /// Cordoned by an earlier foundry upgrade (the annotation is there).
    pub cordoned_by_foundry: bool,
}

impl NodeState {
    pub fn of(n: Option<&Node>) -> NodeState {
        let Some(n) = n else {
            return NodeState {
                registered: false,
                unschedulable: false,
                cordoned_by_foundry: false,
            };
        };
        NodeState {
            registered: true,
            unschedulable: n
                .spec
                .as_ref()
                .and_then(|s| s.unschedulable)
                .unwrap_or(false),
            cordoned_by_foundry: n
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(CORDON_ANNOTATION)),
        }
    }
}

/// What happens around the binary swap of one node (pure: table-tested).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Around {
    pub cordon: bool,
    pub drain: bool,
    pub uncordon: bool,
}

/// `nodes`: how many Nodes the cluster has (draining the only node evicts pods to nowhere).
pub fn around(st: NodeState, opts: &UpgradeOptions, nodes: usize) -> Around {
    let ours = st.cordoned_by_foundry || !st.unschedulable;
    Around {
        cordon: st.registered && !st.unschedulable,
        drain: st.registered && opts.drain && nodes > 1,
        // An operator's own cordon stays; foundry's (now or from a failed run) is lifted.
        uncordon: st.registered && ours,
    }
}

#[derive(Debug)]
pub struct Cordon {
    pub kube: Kube,
    pub node: String,
    pub version: String,
}

#[async_trait::async_trait]
impl ApiAction for Cordon {
    fn describe(&self) -> String {
        format!(
            "cordon Node {} for the upgrade to {} (spec.unschedulable: true)",
            self.node, self.version
        )
    }
    async fn execute(&self) -> anyhow::Result<()> {
        let patch = serde_json::json!({
            "metadata": {"annotations": {CORDON_ANNOTATION: format!("upgrade to {}", self.version)}},
            "spec": {"unschedulable": true},
        });
        self.kube
            .merge_patch::<Node>(None, &self.node, &patch)
            .await
            .map_err(|e| anyhow!("cordoning Node {}: {e}", self.node))?;
        Ok(())
    }
}

#[derive(Debug)]
pub struct Uncordon {
    pub kube: Kube,
    pub node: String,
}

#[async_trait::async_trait]
impl ApiAction for Uncordon {
    fn describe(&self) -> String {
        format!("uncordon Node {}", self.node)
    }
    async fn execute(&self) -> anyhow::Result<()> {
        // A JSON merge patch deletes a key set to null.
        let patch = serde_json::json!({
            "metadata": {"annotations": {CORDON_ANNOTATION: null}},
            "spec": {"unschedulable": null},
        });
        self.kube
            .merge_patch::<Node>(None, &self.node, &patch)
            .await
            .map_err(|e| anyhow!("uncordoning Node {}: {e}", self.node))?;
        Ok(())
    }
}

/// Evicts every pod on the node except DaemonSet and mirror pods, as `cluster node remove`
/// does, and waits until they are gone. The pods are listed when it runs, not when planned.
#[derive(Debug)]
pub struct Drain {
    pub kube: Kube,
    pub node: String,
    pub opts: UpgradeOptions,
}

#[async_trait::async_trait]
impl ApiAction for Drain {
    fn describe(&self) -> String {
        format!(
            "drain Node {}: evict its pods except DaemonSet and mirror pods (PodDisruptionBudgets honoured, at most {}s per wait)",
            self.node,
            self.opts.timeout.as_secs()
        )
    }
    async fn execute(&self) -> anyhow::Result<()> {
        let on_node = Selector::fields(&format!("spec.nodeName={}", self.node));
        let all = self.kube.list::<Pod>(None, &on_node).await?;
        let sets = pods::classify(&all);
        if !sets.with_emptydir.is_empty() && !self.opts.delete_emptydir_data {
            let names: Vec<String> = sets.with_emptydir.iter().map(|p| p.to_string()).collect();
            anyhow::bail!(
                "node {} runs pod(s) with emptyDir volumes whose data a drain deletes: {}; run `foundry cluster upgrade --delete-emptydir-data` to evict them anyway, or `--no-drain`",
                self.node,
                names.join(", ")
            );
        }
        let mut steps: Vec<RemoveStep> = sets
            .evict
            .iter()
            .map(|p| RemoveStep::Evict { pod: p.clone() })
            .collect();
        let leaving: Vec<_> = sets
            .evict
            .iter()
            .chain(&sets.terminating)
            .cloned()
            .collect();
        if !leaving.is_empty() {
            steps.push(RemoveStep::WaitPodsGone {
                node: self.node.clone(),
                pods: leaving,
            });
        }
        let plan = Plan {
            node: self.node.clone(),
            server: false,
            present: true,
            steps,
            skipped: sets.skipped,
            warnings: vec![],
        };
        let opts = RemoveOptions {
            timeout: self.opts.timeout,
            delete_emptydir_data: self.opts.delete_emptydir_data,
            force: false,
        };
        remove::execute(&self.kube, &plan, &opts, &mut |_| {})
            .await
            .map_err(|e| anyhow!("draining Node {}: {e}", self.node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(registered: bool, unschedulable: bool, ours: bool) -> NodeState {
        NodeState {
            registered,
            unschedulable,
            cordoned_by_foundry: ours,
        }
    }

    #[test]
    fn cordon_drain_uncordon_rules() {
        let d = UpgradeOptions::default();
        let no_drain = UpgradeOptions {
            drain: false,
            ..UpgradeOptions::default()
        };
        let a = |c, dr, u| Around {
            cordon: c,
            drain: dr,
            uncordon: u,
        };
        // A schedulable node in a 3-node cluster: the whole dance.
        assert_eq!(around(st(true, false, false), &d, 3), a(true, true, true));
        // --no-drain: cordoned all the same (no new pods land while it restarts).
        assert_eq!(
            around(st(true, false, false), &no_drain, 3),
            a(true, false, true)
        );
        // The only node: nowhere to evict to.
        assert_eq!(around(st(true, false, false), &d, 1), a(true, false, true));
        // Cordoned by the operator: stays cordoned afterwards.
        assert_eq!(around(st(true, true, false), &d, 3), a(false, true, false));
        // Cordoned by a failed foundry upgrade: lifted at the end.
        assert_eq!(around(st(true, true, true), &d, 3), a(false, true, true));
        // Not registered (never joined): nothing to do through the API.
        assert_eq!(
            around(st(false, false, false), &d, 3),
            a(false, false, false)
        );
    }
}
