//! `cluster status`: what is broken, from the API alone in three round trips
//! (`/readyz?verbose` through the kubeconfig's server, the VIP; the Node list; kube-system's
//! Deployments). No SSH: the etcd side is what K3s records on the Nodes (see [`super::view`]).

use super::inventory::{self, Presence, Row, StackRole};
use super::view::{NodeView, Readiness};
use crate::config::StackConfig;
use crate::k8s::{Kube, KubeError, Selector};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Node;
use serde::Serialize;
use std::time::SystemTime;

#[derive(Debug, Clone, Serialize)]
pub struct ApiHealth {
    /// The kubeconfig's server (foundry writes the VIP there).
    pub endpoint: String,
    /// stack.yaml's `cluster.vip`.
    pub vip: String,
    /// The endpoint answered HTTP at all.
    pub answering: bool,
    pub ready: bool,
    pub failing_checks: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EtcdView {
    /// Server Nodes (or stack.yaml servers) with no etcd member recorded.
    pub servers_without_member: Vec<String>,
    /// Nodes carrying an etcd member that are not servers.
    pub members_without_server: Vec<String>,
    /// `node: member (voter|learner)`.
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub node: String,
    pub member: String,
    pub role: super::view::EtcdRole,
}

#[derive(Debug, Clone, Serialize)]
pub struct UnavailableDeployment {
    pub name: String,
    pub available: i32,
    pub wanted: i32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    pub cluster: String,
    pub healthy: bool,
    /// One sentence per finding, for the table view and the exit-7 message.
    pub problems: Vec<String>,
    pub api: ApiHealth,
    pub nodes: Vec<Row>,
    pub etcd: EtcdView,
    pub kube_system_unavailable: Vec<UnavailableDeployment>,
}

/// Gathers the status. An endpoint that does not answer is a finding (healthy: false), not
/// an error; credentials the API refuses are an error (the kubeconfig must be fixed).
pub async fn gather(kube: &Kube, stack: &StackConfig) -> Result<ClusterStatus, KubeError> {
    let mut api = ApiHealth {
        endpoint: kube.endpoint().to_string(),
        vip: stack.cluster.vip.clone(),
        answering: true,
        ready: false,
        failing_checks: vec![],
        error: None,
    };
    let mut problems = Vec::new();
    match kube.readyz().await {
        Ok(r) => {
            api.ready = r.ready;
            api.failing_checks = r.failing();
        }
        Err(e @ KubeError::NotAnswering { .. }) => {
            api.answering = false;
            problems.push(format!(
                "the API at {} (VIP {}) does not answer: {e}",
                api.endpoint, api.vip
            ));
            api.error = Some(e.to_string());
            let nodes = inventory::join(stack, &[]);
            return Ok(finish(stack, api, nodes, vec![], problems));
        }
        Err(e) => return Err(e),
    }
    if !api.ready {
        problems.push(format!(
            "the API at {} is not ready: failing /readyz checks: {}",
            api.endpoint,
            if api.failing_checks.is_empty() {
                "(none listed)".to_string()
            } else {
                api.failing_checks.join(", ")
            }
        ));
    }
    let now = SystemTime::now();
    let nodes: Vec<NodeView> = kube
        .list::<Node>(None, &Selector::all())
        .await?
        .iter()
        .map(|n| NodeView::from_node(n, now))
        .collect();
    let deployments = kube
        .list::<Deployment>(Some("kube-system"), &Selector::all())
        .await?;
    let unavailable = deployments.iter().filter_map(unavailable).collect();
    let rows = inventory::join(stack, &nodes);
    Ok(finish(stack, api, rows, unavailable, problems))
}

fn unavailable(d: &Deployment) -> Option<UnavailableDeployment> {
    let st = d.status.clone().unwrap_or_default();
    let available = st
        .conditions
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Available" && c.status == "True");
    (!available).then(|| UnavailableDeployment {
        name: d.metadata.name.clone().unwrap_or_default(),
        available: st.available_replicas.unwrap_or(0),
        wanted: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
    })
}

/// A row is a server when the Node says so, or (no Node) when stack.yaml makes it one.
fn is_server(r: &Row) -> bool {
    match &r.node {
        Some(n) => n.server,
        None => r.stack_role == Some(StackRole::Server),
    }
}

fn finish(
    stack: &StackConfig,
    api: ApiHealth,
    nodes: Vec<Row>,
    unavailable: Vec<UnavailableDeployment>,
    mut problems: Vec<String>,
) -> ClusterStatus {
    let mut etcd = EtcdView {
        servers_without_member: vec![],
        members_without_server: vec![],
        members: vec![],
    };
    if api.answering {
        for r in &nodes {
            match (&r.node, r.presence) {
                (None, _) => problems.push(format!(
                    "host {} is in stack.yaml's cluster but has no Node: it never joined or was removed (`foundry cluster node list`)",
                    r.name
                )),
                (Some(n), p) => {
                    if n.ready != Readiness::Ready {
                        problems.push(format!(
                            "node {} is {}: its kubelet is not posting Ready (check K3s on the host: `systemctl status k3s`)",
                            n.name,
                            n.ready.as_str()
                        ));
                    }
                    if p == Presence::OnlyInCluster {
                        problems.push(format!(
                            "node {} is not a cluster host in stack.yaml",
                            n.name
                        ));
                    }
                }
            }
            if let Some(n) = &r.node {
                if let (Some(m), Some(role)) = (&n.etcd_member, n.etcd_role) {
                    etcd.members.push(Member {
                        node: n.name.clone(),
                        member: m.clone(),
                        role,
                    });
                }
            }
            let member = r.node.as_ref().and_then(|n| n.etcd_member.as_ref());
            match (is_server(r), member) {
                (true, None) => etcd.servers_without_member.push(r.name.clone()),
                (false, Some(m)) => etcd
                    .members_without_server
                    .push(format!("{m} (node {})", r.name)),
                _ => {}
            }
        }
        for s in &etcd.servers_without_member {
            problems.push(format!(
                "server {s} has no etcd member recorded (annotation {}): it has not joined etcd",
                super::view::ETCD_MEMBER_ANNOTATION
            ));
        }
        for m in &etcd.members_without_server {
            problems.push(format!(
                "etcd member {m} belongs to a node that is not a server"
            ));
        }
        for d in &unavailable {
            problems.push(format!(
                "deployment kube-system/{} is not Available ({}/{} replicas)",
                d.name, d.available, d.wanted
            ));
        }
    }
    ClusterStatus {
        cluster: stack.cluster.name.clone(),
        healthy: problems.is_empty(),
        problems,
        api,
        nodes,
        etcd,
        kube_system_unavailable: unavailable,
    }
}
