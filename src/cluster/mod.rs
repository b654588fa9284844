//! Day-two cluster operations through the Kubernetes API (issue 10): `cluster status`,
//! `cluster node list`, the API part of `cluster node remove`. The commands in
//! `commands/cluster_day2.rs` only render what these functions return. See docs/cluster.md.
//!
//! - [`add`]: the checks before `cluster node add` (roles not re-decided, an even server count).
//! - [`backup`]: the etcd snapshot script and the checked, private copy on this machine
//!   (the restore recipe is `component::k3s::phases::restore`).
//! - [`view`]: what foundry reads from a Node (role, Ready, versions, etcd membership).
//! - [`status`]: the health summary, in at most 3 API round trips, no SSH.
//! - [`inventory`]: Nodes joined with stack.yaml's cluster hosts.
//! - [`smoke`]: `stack test`: a workload, a certificate and an Ingress, answered through Envoy.
//! - [`remove`]: the safety rules (last server, quorum, another server NotReady), the step
//!   plan, and drain → delete → wait for the etcd member.

pub mod add;
pub mod backup;
pub mod inventory;
pub mod remove;
pub mod smoke;
pub mod status;
pub mod view;
