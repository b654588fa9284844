//! `cluster node add HOST`: what must hold before a host joins a running cluster. The host is
//! in stack.yaml with a cluster role; adding it does not re-decide the role of a host that is
//! already in the cluster (count-based roles would: two `cluster` hosts are server + agent,
//! three are three servers); and a new server that makes the server count even needs `--yes`
//! (an even count tolerates no more failures than the odd count below it).

use crate::component::k3s::roles::{self, ClusterNode, NodeRole};
use crate::config::StackConfig;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddCheck {
    /// Joins as this role; `even` when the servers would then be an even number.
    Ok {
        role: NodeRole,
        even: bool,
    },
    NotInStack,
    NoClusterRole,
    /// Others' roles would change: (host, now, after).
    ReDecides(Vec<(String, NodeRole, NodeRole)>),
}

/// `stack` includes the new host; the cluster today is the same stack without it.
pub fn check(stack: &StackConfig, host: &str) -> AddCheck {
    if stack.host(host).is_none() {
        return AddCheck::NotInStack;
    }
    let after = roles::resolve(stack);
    let Some(me) = after.iter().find(|n| n.host == host) else {
        return AddCheck::NoClusterRole;
    };
    let mut before_stack = stack.clone();
    before_stack.hosts.retain(|h| h.hostname != host);
    let before = roles::resolve(&before_stack);
    let changed: Vec<(String, NodeRole, NodeRole)> = before
        .iter()
        .filter_map(|b| {
            let a: &ClusterNode = after.iter().find(|a| a.host == b.host)?;
            (a.role != b.role).then(|| (b.host.clone(), b.role, a.role))
        })
        .collect();
    if !changed.is_empty() {
        return AddCheck::ReDecides(changed);
    }
    let servers = after.iter().filter(|n| n.role.is_server()).count();
    AddCheck::Ok {
        role: me.role,
        even: me.role.is_server() && servers % 2 == 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(roles: &[&str]) -> StackConfig {
        let mut y = String::from("cluster: {name: c, domain: d.test, vip: 10.0.0.9}\nhosts:\n");
        for (i, r) in roles.iter().enumerate() {
            y.push_str(&format!(
                "- {{hostname: h{i}, address: 10.0.0.{}, roles: [{r}]}}\n",
                i + 1
            ));
        }
        serde_yaml::from_str(&y).unwrap()
    }

    #[test]
    fn add_rules() {
        // A pinned server as the third: odd, fine.
        let s = stack(&[
            "cluster-control-plane",
            "cluster-control-plane",
            "cluster-control-plane",
        ]);
        assert_eq!(
            check(&s, "h2"),
            AddCheck::Ok {
                role: NodeRole::JoiningServer,
                even: false
            }
        );
        // A fourth server: even.
        let cp = "cluster-control-plane";
        let s = stack(&[cp, cp, cp, cp]);
        assert_eq!(
            check(&s, "h3"),
            AddCheck::Ok {
                role: NodeRole::JoiningServer,
                even: true
            }
        );
        // A pinned server next to three counted ones takes a counted server's place.
        let s = stack(&["cluster", "cluster", "cluster", cp]);
        assert_eq!(
            check(&s, "h3"),
            AddCheck::ReDecides(vec![(
                "h2".into(),
                NodeRole::JoiningServer,
                NodeRole::Agent
            )])
        );
        // A counted third host turns the counted agent h1 into a server: refused.
        let s = stack(&["cluster", "cluster", "cluster"]);
        assert_eq!(
            check(&s, "h2"),
            AddCheck::ReDecides(vec![(
                "h1".into(),
                NodeRole::Agent,
                NodeRole::JoiningServer
            )])
        );
        // A worker: never even.
        let s = stack(&["cluster", "cluster-worker"]);
        assert_eq!(
            check(&s, "h1"),
            AddCheck::Ok {
                role: NodeRole::Agent,
                even: false
            }
        );
        assert_eq!(check(&s, "nope"), AddCheck::NotInStack);
        let s = stack(&["cluster", "zot"]);
        assert_eq!(check(&s, "h1"), AddCheck::NoClusterRole);
    }
}
