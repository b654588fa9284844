//! The rollout rules of api-behaviour A.7 and the chart comparison.

use super::chart::subset;
use super::rollout::{deployment, Rollout};
use serde_json::json;

#[test]
fn subset_ignores_what_the_server_adds() {
    let want = json!({"spec": {"chart": "contour", "version": "0.7.0"}});
    let live = json!({"spec": {"chart": "contour", "version": "0.7.0", "x": 1}, "status": {}});
    assert!(subset(&want, &live));
    let bumped = json!({"spec": {"chart": "contour", "version": "0.8.0"}});
    assert!(!subset(&bumped, &live));
}

#[test]
fn deployment_rollout_follows_kubectl() {
    let d = |gen: i64, obs: i64, avail: i64| {
        serde_json::from_value(json!({
            "metadata": {"name": "w", "generation": gen},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": obs, "replicas": 2, "updatedReplicas": 2, "availableReplicas": avail}
        }))
        .unwrap()
    };
    assert_eq!(deployment("ns", &d(2, 2, 2)), Rollout::Done);
    assert!(matches!(deployment("ns", &d(3, 2, 2)), Rollout::Waiting(m) if m.contains("observed")));
    assert!(
        matches!(deployment("ns", &d(2, 2, 1)), Rollout::Waiting(m) if m.contains("1 of 2 updated"))
    );
}
