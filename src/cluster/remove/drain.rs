//! Running a removal [`Plan`]. Evictions that a PodDisruptionBudget blocks (429) are retried
//! with a growing pause (1 s doubling to 5 s, as `kubectl drain` retries every 5 s) until the
//! deadline, then the error names the PDB. An evicted pod stays Terminating until its kubelet
//! removes it (or PodGC, about a minute after its Node is deleted), so the Node is deleted only
//! once the pods are gone, and that wait has the same deadline.

use super::pods::PodRef;
use super::{Plan, RemoveOptions, Step};
use crate::k8s::{wait_for, EvictOutcome, Kube, KubeError, Probe, Selector};
use k8s_openapi::api::core::v1::{Node, Pod};
use std::time::{Duration, Instant};

const FIRST_PAUSE: Duration = Duration::from_secs(1);
const MAX_PAUSE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_secs(1);

/// Runs every step in order; `progress` gets one line per step as it starts.
pub async fn execute(
    kube: &Kube,
    plan: &Plan,
    opts: &RemoveOptions,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<(), KubeError> {
    for step in &plan.steps {
        progress(&step.to_string());
        match step {
            Step::Cordon { node } => {
                kube.merge_patch::<Node>(
                    None,
                    node,
                    &serde_json::json!({"spec": {"unschedulable": true}}),
                )
                .await?;
            }
            Step::Evict { pod } => evict_with_backoff(kube, pod, opts.timeout, progress).await?,
            Step::WaitPodsGone { node, pods } => {
                wait_pods_gone(kube, node, pods, opts.timeout).await?
            }
            Step::DeleteNode { node } => {
                kube.delete::<Node>(None, node).await?;
            }
            Step::WaitEtcdMemberGone { node, member } => {
                wait_member_gone(kube, node, member.as_deref(), opts.timeout).await?
            }
        }
    }
    Ok(())
}

async fn evict_with_backoff(
    kube: &Kube,
    pod: &PodRef,
    timeout: Duration,
    progress: &mut (dyn FnMut(&str) + Send),
) -> Result<(), KubeError> {
    let start = Instant::now();
    let mut pause = FIRST_PAUSE;
    loop {
        match kube.evict(&pod.namespace, &pod.name).await {
            Ok(EvictOutcome::Evicted) | Ok(EvictOutcome::AlreadyGone) => return Ok(()),
            Err(KubeError::EvictionBlocked { pdb, detail, .. }) => {
                let waited = start.elapsed();
                if waited + pause > timeout {
                    return Err(KubeError::WaitTimedOut {
                        what: format!(
                            "PodDisruptionBudget {}/{pdb} to allow evicting pod {pod}",
                            pod.namespace
                        ),
                        waited,
                        last_seen: format!("429 from the Eviction API: {detail}"),
                    });
                }
                progress(&format!(
                    "pod {pod}: PodDisruptionBudget {pdb} allows no disruption now ({detail}); retrying in {}s",
                    pause.as_secs()
                ));
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Until none of `pods` (by UID: a StatefulSet pod recreated under the same name elsewhere
/// does not count) is on the node any more. One list per poll.
async fn wait_pods_gone(
    kube: &Kube,
    node: &str,
    pods: &[PodRef],
    timeout: Duration,
) -> Result<(), KubeError> {
    let sel = Selector::fields(&format!("spec.nodeName={node}"));
    let what = format!(
        "the {} evicted pod(s) on node {node} to be gone",
        pods.len()
    );
    wait_for(&what, timeout, POLL, || async {
        let now = kube.list::<Pod>(None, &sel).await?;
        let left: Vec<String> = pods
            .iter()
            .filter(|p| {
                now.iter()
                    .any(|q| q.metadata.uid.as_deref() == Some(p.uid.as_str()))
            })
            .map(|p| p.to_string())
            .collect();
        Ok(if left.is_empty() {
            Probe::Done(())
        } else {
            Probe::Waiting(format!(
                "still there (Terminating until their kubelet removes them): {}",
                left.join(", ")
            ))
        })
    })
    .await
}

/// K3s's etcd member controller holds the deleted Node with a finalizer until it has removed
/// the member, so the Node disappearing is the member's removal as the API can see it.
async fn wait_member_gone(
    kube: &Kube,
    node: &str,
    member: Option<&str>,
    timeout: Duration,
) -> Result<(), KubeError> {
    let what = format!(
        "K3s to remove etcd member {} of server {node} (Node {node} held by its finalizer until then)",
        member.unwrap_or("(none recorded)")
    );
    wait_for(&what, timeout, POLL, || async {
        Ok(match kube.get_opt::<Node>(None, node).await? {
            None => Probe::Done(()),
            Some(n) => Probe::Waiting(format!(
                "Node {node} still there, finalizers: {}",
                n.metadata.finalizers.unwrap_or_default().join(", ")
            )),
        })
    })
    .await
}
