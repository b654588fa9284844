//! API actions: plan steps that are calls to an API (the Kubernetes API, TrueNAS' JSON-RPC)
//! instead of shell steps on a host. The engine runs them like the other steps and the plan
//! shows their diff (desired vs live object, secrets masked).
//!
//! An action owns what it needs to execute (an `Arc` of its client and the desired object), so
//! the engine only calls `execute`. Every HTTP or RPC request an action makes is recorded by its
//! client with `RunLog::http` (method, path, status, ms, `mutating`), never with a body: the
//! zero-mutation check of a re-run counts those lines like it counts remote commands.

use std::fmt::Debug;

#[async_trait::async_trait]
pub trait ApiAction: Send + Sync + Debug {
    /// One line: what changes and why ("apply HelmChart kube-system/contour (values changed)").
    fn describe(&self) -> String;
    /// Desired vs live as a unified diff, secrets masked; `None` when there is nothing to show.
    fn diff(&self) -> Option<String> {
        None
    }
    /// False for waits and checks (they change nothing; the run log marks their calls
    /// `"mutating": false`).
    fn mutates(&self) -> bool {
        true
    }
    /// Execute the action. Errors say what was asked and what came back.
    async fn execute(&self) -> anyhow::Result<()>;
}

/// A unified diff of two objects rendered as YAML (`live` None: everything is added). Both are
/// scrubbed of registered secrets by the engine before they are shown.
pub fn object_diff(desired: &serde_json::Value, live: Option<&serde_json::Value>) -> String {
    let new = serde_yaml::to_string(desired).unwrap_or_default();
    let old = live
        .map(|l| serde_yaml::to_string(l).unwrap_or_default())
        .unwrap_or_default();
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header("live", "desired")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_diff_shows_only_the_changed_field() {
        let live = serde_json::json!({"name": "k8s", "quota": 10, "comments": "x"});
        let want = serde_json::json!({"name": "k8s", "quota": 20, "comments": "x"});
        let d = object_diff(&want, Some(&live));
        assert!(d.contains("-quota: 10"), "{d}");
        assert!(d.contains("+quota: 20"), "{d}");
        assert!(!d.contains("+name"), "{d}");
    }
}
