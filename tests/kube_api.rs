//! The Kubernetes API client (`foundry::k8s`) and the fake API server it is tested against.
//!
//! THE API SERVER IS A MOCK (tests/support/fake_kube): no kube-apiserver or K3s can run here.
//! `replay` proves the fake answers like the real server did (the recorded samples in
//! tests/data/k8s-api-samples/, from a real kube-apiserver v1.24.1); `client` runs the real
//! client against the fake: every KubeError variant, SSA no-op detection, waits, evictions.

#[path = "support/fake_kube/mod.rs"]
mod fake_kube;

#[path = "kube_api/replay.rs"]
mod replay;

#[path = "kube_api/client.rs"]
mod client;
