//! One Node as the day-two commands see it. K3s marks a server with the label
//! `node-role.kubernetes.io/control-plane=true` and, once the server is an etcd member, its
//! etcd member controller writes the member name into the annotation
//! `etcd.k3s.cattle.io/node-name` (`<node>-<8 hex>`) and the condition `EtcdIsVoter`
//! (True: voter, False: learner still catching up). The API has no member list of its own:
//! a member whose Node was deleted is only visible on a server (`k3s etcd-snapshot`/etcdctl,
//! SSH), which these commands do not use.

use k8s_openapi::api::core::v1::Node;
use serde::Serialize;
use std::time::SystemTime;

/// The label K3s puts on servers.
pub const CONTROL_PLANE_LABEL: &str = "node-role.kubernetes.io/control-plane";
/// The annotation K3s's etcd member controller sets on a server that is an etcd member.
pub const ETCD_MEMBER_ANNOTATION: &str = "etcd.k3s.cattle.io/node-name";
/// The Node condition K3s sets once the member is promoted from learner to voter.
pub const ETCD_VOTER_CONDITION: &str = "EtcdIsVoter";
/// Set by the kubelet on static (mirror) pods; drain leaves them alone.
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// The Ready condition of a Node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Readiness {
    Ready,
    NotReady,
    /// Status `Unknown`: the kubelet stopped posting (host down, K3s stopped).
    Unknown,
}

impl Readiness {
    pub fn as_str(self) -> &'static str {
        match self {
            Readiness::Ready => "Ready",
            Readiness::NotReady => "NotReady",
            Readiness::Unknown => "Unknown",
        }
    }
}

/// The etcd side of a server Node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EtcdRole {
    Voter,
    Learner,
    /// A member, but K3s has not reported voter/learner (older K3s).
    Member,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeView {
    pub name: String,
    /// Labelled control-plane by K3s.
    pub server: bool,
    pub ready: Readiness,
    pub unschedulable: bool,
    pub kubelet_version: String,
    /// RFC 3339 creation time.
    pub created: Option<String>,
    /// Seconds since creation (None without a creation time).
    pub age_seconds: Option<i64>,
    /// The etcd member name K3s recorded on the Node, if any.
    pub etcd_member: Option<String>,
    pub etcd_role: Option<EtcdRole>,
    /// Being deleted (a finalizer, e.g. K3s's etcd member removal, holds it).
    pub deleting: bool,
}

impl NodeView {
    pub fn from_node(n: &Node, now: SystemTime) -> NodeView {
        let meta = &n.metadata;
        let labels = meta.labels.clone().unwrap_or_default();
        let annotations = meta.annotations.clone().unwrap_or_default();
        let conditions = n
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let cond = |t: &str| {
            conditions
                .iter()
                .find(|c| c.type_ == t)
                .map(|c| c.status.clone())
        };
        let ready = match cond("Ready").as_deref() {
            Some("True") => Readiness::Ready,
            Some("False") => Readiness::NotReady,
            _ => Readiness::Unknown,
        };
        let etcd_member = annotations
            .get(ETCD_MEMBER_ANNOTATION)
            .filter(|v| !v.is_empty())
            .cloned();
        let etcd_role = etcd_member
            .as_ref()
            .map(|_| match cond(ETCD_VOTER_CONDITION).as_deref() {
                Some("True") => EtcdRole::Voter,
                Some("False") => EtcdRole::Learner,
                _ => EtcdRole::Member,
            });
        // k8s-openapi's Time serializes as RFC 3339; parsed here without a date crate.
        let created = meta
            .creation_timestamp
            .as_ref()
            .and_then(|t| serde_json::to_value(t).ok())
            .and_then(|v| v.as_str().map(String::from));
        let age_seconds = created
            .as_deref()
            .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
            .map(|t| {
                now.duration_since(t)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0)
            });
        NodeView {
            name: meta.name.clone().unwrap_or_default(),
            server: labels.get(CONTROL_PLANE_LABEL).is_some_and(|v| v == "true"),
            ready,
            unschedulable: n
                .spec
                .as_ref()
                .and_then(|s| s.unschedulable)
                .unwrap_or(false),
            kubelet_version: n
                .status
                .as_ref()
                .and_then(|s| s.node_info.as_ref())
                .map(|i| i.kubelet_version.clone())
                .unwrap_or_default(),
            created,
            age_seconds,
            etcd_member,
            etcd_role,
            deleting: meta.deletion_timestamp.is_some(),
        }
    }
}

/// `3d4h`, `5h12m`, `7m`, `42s` (as kubectl's AGE column).
pub fn age_text(seconds: Option<i64>) -> String {
    let Some(s) = seconds else {
        return "-".into();
    };
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(v: serde_json::Value) -> Node {
        serde_json::from_value(v).expect("node")
    }

    #[test]
    fn server_member_and_voter_are_read_from_k3s_metadata() {
        let n = node(json!({"metadata": {"name": "cp-1",
            "labels": {CONTROL_PLANE_LABEL: "true"},
            "annotations": {ETCD_MEMBER_ANNOTATION: "cp-1-1a2b3c4d"},
            "creationTimestamp": "2026-12-01T00:00:00Z"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "EtcdIsVoter", "status": "False"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.5+k3s1", "architecture": "", "bootID": "", "containerRuntimeVersion": "", "kernelVersion": "", "kubeProxyVersion": "", "machineID": "", "operatingSystem": "", "osImage": "", "systemUUID": ""}}}));
        let now = humantime::parse_rfc3339("2026-12-02T01:00:00Z").unwrap();
        let v = NodeView::from_node(&n, now);
        assert!(v.server);
        assert_eq!(v.ready, Readiness::Ready);
        assert_eq!(v.etcd_member.as_deref(), Some("cp-1-1a2b3c4d"));
        assert_eq!(v.etcd_role, Some(EtcdRole::Learner));
        assert_eq!(v.kubelet_version, "v1.33.5+k3s1");
        assert_eq!(age_text(v.age_seconds), "1d1h");
    }

    #[test]
    fn a_node_without_conditions_is_unknown_and_an_agent() {
        let v = NodeView::from_node(&node(json!({"metadata": {"name": "w"}})), SystemTime::now());
        assert!(!v.server);
        assert_eq!(v.ready, Readiness::Unknown);
        assert_eq!(v.etcd_member, None);
    }
}
