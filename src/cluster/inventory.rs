//! Nodes joined with stack.yaml's cluster hosts: one row per name found in either, so a host
//! that never joined and a Node foundry does not know about both show up.

use super::view::NodeView;
use crate::component::k3s::roles;
use crate::config::StackConfig;
use serde::Serialize;

/// Where a row's name was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Presence {
    Both,
    /// In stack.yaml's cluster roles, but no Node of that name.
    OnlyInStack,
    /// A Node no stack.yaml cluster host names.
    OnlyInCluster,
}

/// A stack.yaml host's intended K3s role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StackRole {
    Server,
    Agent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub name: String,
    /// The host's address in stack.yaml.
    pub address: Option<String>,
    pub stack_role: Option<StackRole>,
    pub presence: Presence,
    pub node: Option<NodeView>,
}

/// Servers first (stack order), then agents, then Nodes only the cluster knows (by name).
pub fn join(stack: &StackConfig, nodes: &[NodeView]) -> Vec<Row> {
    let mut rows: Vec<Row> = roles::resolve(stack)
        .into_iter()
        .map(|c| {
            let node = nodes.iter().find(|n| n.name == c.host).cloned();
            Row {
                address: stack.host(&c.host).map(|h| h.address.clone()),
                stack_role: Some(if c.role.is_server() {
                    StackRole::Server
                } else {
                    StackRole::Agent
                }),
                presence: if node.is_some() {
                    Presence::Both
                } else {
                    Presence::OnlyInStack
                },
                name: c.host,
                node,
            }
        })
        .collect();
    let mut extra: Vec<&NodeView> = nodes
        .iter()
        .filter(|n| !rows.iter().any(|r| r.name == n.name))
        .collect();
    extra.sort_by(|a, b| a.name.cmp(&b.name));
    rows.extend(extra.into_iter().map(|n| Row {
        name: n.name.clone(),
        // A Node named like a host outside the cluster roles still gets its address.
        address: stack.host(&n.name).map(|h| h.address.clone()),
        stack_role: None,
        presence: Presence::OnlyInCluster,
        node: Some(n.clone()),
    }));
    rows
}

/// `cluster node list`: one request (the Node list).
pub async fn list(
    kube: &crate::k8s::Kube,
    stack: &StackConfig,
) -> Result<Vec<Row>, crate::k8s::KubeError> {
    let now = std::time::SystemTime::now();
    let nodes: Vec<NodeView> = kube
        .list::<k8s_openapi::api::core::v1::Node>(None, &crate::k8s::Selector::all())
        .await?
        .iter()
        .map(|n| NodeView::from_node(n, now))
        .collect();
    Ok(join(stack, &nodes))
}
