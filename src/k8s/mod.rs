//! The Kubernetes API client: built from a kubeconfig (foundry keeps it in OpenBao), reached
//! through the VIP, with timeouts, every request recorded in the run log, and one
//! [`KubeError`] variant per failure a user must tell apart. See docs/k8s.md.
//!
//! - [`Kube`]: `from_kubeconfig_yaml` / `from_path`; `get_opt`, `list` ([`Selector`]),
//!   `apply` (server-side apply as `foundry`, no-op detected: [`Applied`]), `apply_dry_run`,
//!   `merge_patch`, `delete`, `evict`, `wait_gone`, `readyz`, `require_ready`, `version`,
//!   `pod_log_tail` / `job_log_tail` (the end of a failed Job's log, secrets masked).
//! - [`DynamicApi`] (`Kube::dynamic`): the same for custom resources (HelmChart,
//!   ClusterIssuer) as `DynamicObject`s, without CRD crates.
//! - [`wait_for`]: polling with a deadline whose error names what it waited for.

mod dynamic;
mod error;
mod eviction;
mod health;
mod logs;
mod objects;
mod status;
mod transport;
mod wait;

pub use dynamic::{cluster_issuer_resource, helm_chart_resource, DynamicApi};
pub use error::{FieldCause, FieldConflict, KubeError};
pub use eviction::EvictOutcome;
pub use health::{HealthCheck, Readiness};
pub use logs::LogTail;
pub use objects::{Applied, ApplyOutcome, DeleteOutcome, Selector, FIELD_MANAGER};
pub use transport::Kube;
pub use wait::{wait_for, Probe};
