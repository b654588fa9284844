//! When `cluster node remove` refuses, before it changes anything. etcd needs a majority of
//! its members to commit the member removal and, afterwards, of the members that remain:
//! with `n` server Nodes (each one member) the removal needs `n/2+1` Ready servers now and
//! leaves `n-1` members needing `(n-1)/2+1`. A NotReady server elsewhere means the cluster is
//! already degraded: draining onto it and shrinking etcd would make it worse, so that refusal
//! is not lifted by `--force`.

use crate::cluster::view::{NodeView, Readiness};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("node {node} is the last server: removing it destroys the cluster's etcd and API; use --force to remove it anyway")]
    LastServer { node: String },
    #[error("removing server {node} would leave etcd without quorum: {members} member(s) remain and need {needed} Ready, but only {ready} would be Ready ({not_ready}); bring those servers back first, or use --force")]
    Quorum {
        node: String,
        members: usize,
        needed: usize,
        ready: usize,
        not_ready: String,
    },
    #[error("server(s) {} not Ready: foundry does not remove node {node} from a degraded cluster (evicted pods and etcd need the other servers); bring them back (`foundry cluster status`) and retry", others.join(", "))]
    OtherServerNotReady { node: String, others: Vec<String> },
}

/// Warnings that do not stop the removal.
pub fn warnings(target: &NodeView, nodes: &[NodeView]) -> Vec<String> {
    let servers = nodes.iter().filter(|n| n.server).count();
    if target.server && servers >= 3 && (servers - 1) % 2 == 0 {
        vec![format!(
            "after removing {} the cluster has {} servers: an even number of etcd members tolerates no more failures than one server fewer; add a server (`foundry cluster node add`)",
            target.name,
            servers - 1
        )]
    } else {
        vec![]
    }
}

/// Ok when `target` may be removed from a cluster whose Nodes are `nodes` (target included).
pub fn check(target: &NodeView, nodes: &[NodeView], force: bool) -> Result<(), Refusal> {
    let others: Vec<&NodeView> = nodes
        .iter()
        .filter(|n| n.server && n.name != target.name)
        .collect();
    let not_ready: Vec<String> = others
        .iter()
        .filter(|n| n.ready != Readiness::Ready)
        .map(|n| n.name.clone())
        .collect();
    if target.server && !force {
        if others.is_empty() {
            return Err(Refusal::LastServer {
                node: target.name.clone(),
            });
        }
        let members_now = others.len() + 1;
        let ready_after = others.len() - not_ready.len();
        let ready_now = ready_after + usize::from(target.ready == Readiness::Ready);
        let members_after = others.len();
        let needed_after = members_after / 2 + 1;
        if ready_after < needed_after || ready_now < members_now / 2 + 1 {
            return Err(Refusal::Quorum {
                node: target.name.clone(),
                members: members_after,
                needed: needed_after,
                ready: ready_after,
                not_ready: format!("not Ready: {}", not_ready.join(", ")),
            });
        }
    }
    if !not_ready.is_empty() {
        return Err(Refusal::OtherServerNotReady {
            node: target.name.clone(),
            others: not_ready,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(name: &str, server: bool, ready: bool) -> NodeView {
        NodeView {
            name: name.into(),
            server,
            ready: if ready {
                Readiness::Ready
            } else {
                Readiness::Unknown
            },
            unschedulable: false,
            kubelet_version: String::new(),
            created: None,
            age_seconds: None,
            etcd_member: None,
            etcd_role: None,
            deleting: false,
        }
    }

    #[test]
    fn the_last_server_needs_force() {
        let nodes = [n("cp", true, true), n("w", false, true)];
        assert!(matches!(
            check(&nodes[0], &nodes, false),
            Err(Refusal::LastServer { .. })
        ));
        assert_eq!(check(&nodes[0], &nodes, true), Ok(()));
        assert_eq!(check(&nodes[1], &nodes, false), Ok(()));
    }

    #[test]
    fn quorum_counts_the_ready_servers_that_remain() {
        // 3 servers, cp-3 down: removing cp-1 leaves 2 members with 1 Ready (needs 2).
        let nodes = [
            n("cp-1", true, true),
            n("cp-2", true, true),
            n("cp-3", true, false),
        ];
        let e = check(&nodes[0], &nodes, false).unwrap_err();
        assert!(
            matches!(
                e,
                Refusal::Quorum {
                    needed: 2,
                    ready: 1,
                    ..
                }
            ),
            "{e}"
        );
        // Removing the dead one keeps quorum: 2 members, both Ready.
        assert_eq!(check(&nodes[2], &nodes, false), Ok(()));
        // --force lifts the quorum rule, not the NotReady one.
        assert!(matches!(
            check(&nodes[0], &nodes, true),
            Err(Refusal::OtherServerNotReady { .. })
        ));
    }

    #[test]
    fn another_server_not_ready_refuses_even_an_agent() {
        let nodes = [
            n("cp-1", true, true),
            n("cp-2", true, false),
            n("cp-3", true, true),
            n("w", false, true),
        ];
        let e = check(&nodes[3], &nodes, true).unwrap_err();
        assert_eq!(
            e,
            Refusal::OtherServerNotReady {
                node: "w".into(),
                others: vec!["cp-2".into()]
            }
        );
    }

    #[test]
    fn four_servers_leave_an_even_count_warning() {
        let nodes = [
            n("a", true, true),
            n("b", true, true),
            n("c", true, true),
            n("d", true, true),
        ];
        assert_eq!(check(&nodes[0], &nodes, false), Ok(()));
        assert!(warnings(&nodes[0], &nodes).is_empty());
        let three = &nodes[..3];
        assert_eq!(warnings(&three[0], three).len(), 1);
    }
}
