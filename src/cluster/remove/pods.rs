//! Which pods a drain evicts, as `kubectl drain` decides (component-facts §7, api-behaviour
//! A.5): DaemonSet pods and mirror (static) pods stay (their controller or kubelet would
//! recreate them at once), pods already terminating are only waited for, pods with emptyDir
//! volumes lose that data and need `--delete-emptydir-data`.

use crate::cluster::view::MIRROR_ANNOTATION;
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    DaemonSet,
    Mirror,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::DaemonSet => "DaemonSet pod",
            SkipReason::Mirror => "mirror (static) pod",
        }
    }
}

/// A pod by namespace, name and UID (the UID tells a recreated pod of the same name apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl std::fmt::Display for PodRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PodSets {
    pub evict: Vec<PodRef>,
    /// Already being deleted: no eviction, but the drain waits for them.
    pub terminating: Vec<PodRef>,
    pub skipped: Vec<(PodRef, SkipReason)>,
    /// Pods in `evict` that have emptyDir volumes.
    pub with_emptydir: Vec<PodRef>,
}

fn pod_ref(p: &Pod) -> PodRef {
    PodRef {
        namespace: p.metadata.namespace.clone().unwrap_or_default(),
        name: p.metadata.name.clone().unwrap_or_default(),
        uid: p.metadata.uid.clone().unwrap_or_default(),
    }
}

fn skip_reason(p: &Pod) -> Option<SkipReason> {
    let annotations = p.metadata.annotations.as_ref();
    if annotations.is_some_and(|a| a.contains_key(MIRROR_ANNOTATION)) {
        return Some(SkipReason::Mirror);
    }
    let owned_by_ds = p.metadata.owner_references.as_ref().is_some_and(|o| {
        o.iter()
            .any(|r| r.kind == "DaemonSet" && r.controller == Some(true))
    });
    owned_by_ds.then_some(SkipReason::DaemonSet)
}

fn has_emptydir(p: &Pod) -> bool {
    p.spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .is_some_and(|v| v.iter().any(|v| v.empty_dir.is_some()))
}

pub fn classify(pods: &[Pod]) -> PodSets {
    let mut s = PodSets::default();
    for p in pods {
        let r = pod_ref(p);
        if let Some(why) = skip_reason(p) {
            s.skipped.push((r, why));
        } else if p.metadata.deletion_timestamp.is_some() {
            s.terminating.push(r);
        } else {
            if has_emptydir(p) {
                s.with_emptydir.push(r.clone());
            }
            s.evict.push(r);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).expect("pod")
    }

    #[test]
    fn daemonset_and_mirror_pods_stay_emptydir_is_flagged() {
        let pods = [
            pod(
                json!({"metadata": {"name": "ds", "namespace": "kube-system", "uid": "1",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "x", "uid": "u", "controller": true}]}}),
            ),
            pod(
                json!({"metadata": {"name": "static", "namespace": "kube-system", "uid": "2",
                "annotations": {MIRROR_ANNOTATION: "abc"}}}),
            ),
            pod(
                json!({"metadata": {"name": "web", "namespace": "default", "uid": "3"},
                "spec": {"containers": [], "volumes": [{"name": "tmp", "emptyDir": {}}]}}),
            ),
            pod(
                json!({"metadata": {"name": "old", "namespace": "default", "uid": "4",
                "deletionTimestamp": "2026-12-02T00:00:00Z"}}),
            ),
        ];
        let s = classify(&pods);
        assert_eq!(
            s.skipped.iter().map(|(_, w)| *w).collect::<Vec<_>>(),
            vec![SkipReason::DaemonSet, SkipReason::Mirror]
        );
        assert_eq!(
            s.evict.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["web"]
        );
        assert_eq!(s.with_emptydir.len(), 1);
        assert_eq!(s.terminating[0].name, "old");
    }
}
