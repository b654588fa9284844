//! Which K3s role every cluster host gets (issue 9, item 1).
//!
//! A host is in the cluster when it has role `cluster-control-plane` (pinned server),
//! `cluster-worker` (pinned agent) or `cluster` (role from the count). With N cluster hosts the
//! wanted number of servers is 1 for N ≤ 2 and 3 for N ≥ 3 (k3s-ansible and kubeone keep 3
//! etcd members by default); pinned servers count towards it and `cluster` hosts fill the rest
//! in file order, the others become agents. A fill never makes the server count even: an even
//! count only comes from what the user pinned (and is then a warning, see `config::validate`).
//!
//! Servers run workloads unless `components.k3s.server_workloads: false`, or the host lists the
//! taint `node-role.kubernetes.io/control-plane:NoSchedule` itself (one dedicated server).
//!
//! The first server (`cluster-init`) is the first server in file order. Moving it later is
//! harmless for a running cluster (K3s ignores `cluster-init` and `server` once etcd data
//! exists) but changes the rendered config.yaml of the two hosts involved.

use crate::config::{HostConfig, Role, StackConfig};

/// The taint that keeps workloads off a server.
pub const CONTROL_PLANE_TAINT: &str = "node-role.kubernetes.io/control-plane:NoSchedule";
/// How many etcd members the count rule aims for on 3 or more hosts.
const SERVERS_WANTED_HA: usize = 3;

/// Roles that put a host into the cluster (the K3s component's targets).
pub const CLUSTER_ROLES: [Role; 3] = [
    Role::ClusterControlPlane,
    Role::ClusterWorker,
    Role::Cluster,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeRole {
    /// Starts the cluster (`cluster-init: true`); always first in the list.
    FirstServer,
    /// Joins the first server's etcd, one at a time.
    JoiningServer,
    /// `k3s agent`.
    Agent,
}

impl NodeRole {
    pub fn is_server(self) -> bool {
        !matches!(self, NodeRole::Agent)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::FirstServer => "first server",
            NodeRole::JoiningServer => "joining server",
            NodeRole::Agent => "agent",
        }
    }
}

/// Why a host got its role (shown by `stack plan` / `stack validate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleSource {
    /// `cluster-control-plane` or `cluster-worker` in the host's roles.
    Pinned,
    /// `cluster`: decided by the number of cluster hosts.
    Count,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterNode {
    /// `hosts[].hostname`, also the Kubernetes node name.
    pub host: String,
    pub role: NodeRole,
    /// Schedulable for ordinary pods (false: tainted control-plane NoSchedule).
    pub workloads: bool,
    pub source: RoleSource,
}

impl ClusterNode {
    /// `first server (by count), runs workloads`
    pub fn describe(&self) -> String {
        let src = match self.source {
            RoleSource::Pinned => "pinned",
            RoleSource::Count => "by count",
        };
        let w = match (self.role, self.workloads) {
            (NodeRole::Agent, _) => "",
            (_, true) => ", runs workloads",
            (_, false) => ", no workloads (tainted control-plane:NoSchedule)",
        };
        format!("{} ({src}){w}", self.role.as_str())
    }
}

fn in_cluster(h: &HostConfig) -> bool {
    CLUSTER_ROLES.iter().any(|r| h.has_role(*r))
}

/// Every cluster host with its role: servers first (the first server at index 0), then agents,
/// each group in file order. Empty when no host is in the cluster.
pub fn resolve(stack: &StackConfig) -> Vec<ClusterNode> {
    let hosts: Vec<&HostConfig> = stack.hosts.iter().filter(|h| in_cluster(h)).collect();
    let pinned_servers = hosts
        .iter()
        .filter(|h| h.has_role(Role::ClusterControlPlane))
        .count();
    let unpinned = hosts
        .iter()
        .filter(|h| !h.has_role(Role::ClusterControlPlane) && !h.has_role(Role::ClusterWorker))
        .count();
    let wanted = if hosts.len() >= SERVERS_WANTED_HA {
        SERVERS_WANTED_HA
    } else {
        1
    };
    let mut fill = wanted.saturating_sub(pinned_servers).min(unpinned);
    if fill > 0 && (pinned_servers + fill) % 2 == 0 {
        fill -= 1;
    }
    let server_workloads = stack
        .components
        .k3s
        .as_ref()
        .is_none_or(|k| k.server_workloads);

    let mut servers = Vec::new();
    let mut agents = Vec::new();
    let mut filled = 0;
    for h in hosts {
        let (server, source) = if h.has_role(Role::ClusterControlPlane) {
            (true, RoleSource::Pinned)
        } else if h.has_role(Role::ClusterWorker) {
            (false, RoleSource::Pinned)
        } else if filled < fill {
            filled += 1;
            (true, RoleSource::Count)
        } else {
            (false, RoleSource::Count)
        };
        if server {
            let dedicated = h.taints.iter().any(|t| t == CONTROL_PLANE_TAINT);
            servers.push(ClusterNode {
                host: h.hostname.clone(),
                role: if servers.is_empty() {
                    NodeRole::FirstServer
                } else {
                    NodeRole::JoiningServer
                },
                workloads: server_workloads && !dedicated,
                source,
            });
        } else {
            agents.push(ClusterNode {
                host: h.hostname.clone(),
                role: NodeRole::Agent,
                workloads: true,
                source,
            });
        }
    }
    servers.extend(agents);
    servers
}

/// The resolved role of one host, `None` when it is not in the cluster.
pub fn role_of(stack: &StackConfig, host: &str) -> Option<ClusterNode> {
    resolve(stack).into_iter().find(|n| n.host == host)
}

#[cfg(test)]
mod tests {
    use super::NodeRole::{Agent, FirstServer, JoiningServer};
    use super::RoleSource::{Count, Pinned};
    use super::*;

    /// A stack with one host per entry: `(name, roles, taints)`.
    fn stack(hosts: &[(&str, &str)], k3s: &str) -> StackConfig {
        let mut y =
            String::from("cluster: {name: lab, domain: lab.example.com, vip: 10.0.0.50}\nhosts:\n");
        for (i, (name, roles)) in hosts.iter().enumerate() {
            y.push_str(&format!(
                "  - {{hostname: {name}, address: 10.0.0.{}, roles: [{roles}]}}\n",
                11 + i
            ));
        }
        y.push_str(&format!(
            "components:\n  k3s: {{version: v1.33.5+k3s1{k3s}}}\n"
        ));
        serde_yaml::from_str(&y).unwrap()
    }

    fn table(s: &StackConfig) -> Vec<(String, NodeRole, bool, RoleSource)> {
        resolve(s)
            .into_iter()
            .map(|n| (n.host, n.role, n.workloads, n.source))
            .collect()
    }

    fn row(h: &str, r: NodeRole, w: bool, s: RoleSource) -> (String, NodeRole, bool, RoleSource) {
        (h.to_string(), r, w, s)
    }

    #[test]
    fn count_rule_for_1_2_3_and_5_nodes() {
        let names = ["a", "b", "c", "d", "e"];
        let cases: [(usize, &[(NodeRole, bool)]); 4] = [
            (1, &[(FirstServer, true)]),
            (2, &[(FirstServer, true), (Agent, true)]),
            (
                3,
                &[
                    (FirstServer, true),
                    (JoiningServer, true),
                    (JoiningServer, true),
                ],
            ),
            (
                5,
                &[
                    (FirstServer, true),
                    (JoiningServer, true),
                    (JoiningServer, true),
                    (Agent, true),
                    (Agent, true),
                ],
            ),
        ];
        for (n, want) in cases {
            let hosts: Vec<(&str, &str)> = names[..n].iter().map(|h| (*h, "cluster")).collect();
            let got = table(&stack(&hosts, ""));
            let want: Vec<_> = want
                .iter()
                .zip(names)
                .map(|((r, w), h)| row(h, *r, *w, Count))
                .collect();
            assert_eq!(got, want, "{n} nodes");
        }
    }

    #[test]
    fn explicit_roles_win_over_the_count() {
        // Five hosts, the last one pinned as server, the first pinned as agent: the count
        // wants 3 servers; the pinned one counts, two `cluster` hosts fill, in file order.
        let s = stack(
            &[
                ("a", "cluster-worker"),
                ("b", "cluster"),
                ("c", "cluster"),
                ("d", "cluster"),
                ("e", "cluster-control-plane"),
            ],
            "",
        );
        assert_eq!(
            table(&s),
            vec![
                row("b", FirstServer, true, Count),
                row("c", JoiningServer, true, Count),
                row("e", JoiningServer, true, Pinned),
                row("a", Agent, true, Pinned),
                row("d", Agent, true, Count),
            ]
        );
        // Two pinned servers on two hosts stay two (the user asked; validate warns).
        let s = stack(
            &[
                ("a", "cluster-control-plane"),
                ("b", "cluster-control-plane"),
            ],
            "",
        );
        assert_eq!(
            table(&s),
            vec![
                row("a", FirstServer, true, Pinned),
                row("b", JoiningServer, true, Pinned),
            ]
        );
        // All pinned workers: no server at all (validate makes that an error).
        let s = stack(&[("a", "cluster-worker"), ("b", "cluster-worker")], "");
        assert!(table(&s).iter().all(|r| r.1 == Agent));
    }

    #[test]
    fn a_fill_never_makes_the_server_count_even() {
        // 4 hosts: 2 pinned workers, 2 `cluster`: filling both would give 2 servers.
        let s = stack(
            &[
                ("a", "cluster-worker"),
                ("b", "cluster-worker"),
                ("c", "cluster"),
                ("d", "cluster"),
            ],
            "",
        );
        let servers: Vec<_> = resolve(&s)
            .into_iter()
            .filter(|n| n.role.is_server())
            .map(|n| n.host)
            .collect();
        assert_eq!(servers, vec!["c"]);
    }

    #[test]
    fn hosts_outside_the_cluster_are_left_out() {
        let s = stack(&[("bao", "openbao, zot"), ("a", "cluster")], "");
        assert_eq!(table(&s), vec![row("a", FirstServer, true, Count)]);
        assert_eq!(role_of(&s, "bao"), None);
    }

    #[test]
    fn servers_without_workloads_on_request() {
        let s = stack(
            &[
                ("a", "cluster"),
                ("b", "cluster"),
                ("c", "cluster"),
                ("d", "cluster"),
            ],
            ", server_workloads: false",
        );
        let w: Vec<bool> = resolve(&s).iter().map(|n| n.workloads).collect();
        assert_eq!(w, vec![false, false, false, true]);

        // One dedicated server through its own taint.
        let mut s = stack(&[("a", "cluster"), ("b", "cluster"), ("c", "cluster")], "");
        s.hosts[1].taints.push(CONTROL_PLANE_TAINT.into());
        let w: Vec<bool> = resolve(&s).iter().map(|n| n.workloads).collect();
        assert_eq!(w, vec![true, false, true]);
        assert_eq!(
            resolve(&s)[1].describe(),
            "joining server (by count), no workloads (tainted control-plane:NoSchedule)"
        );
    }
}
