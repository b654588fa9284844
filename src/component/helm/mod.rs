//! Helm charts through K3s's helm-controller, without a helm binary: a component describes its
//! chart ([`chart::Chart`]) and gets the phases apply → wait for `helm-install-<name>` →
//! rollout, and the uninstall phase. Shared by Contour and cert-manager.

pub mod airgap;
pub mod chart;
pub mod phases;
pub mod rollout;
pub mod state;
pub mod status;
#[cfg(test)]
mod tests;

pub use chart::{Chart, Workload, WorkloadKind};

use crate::config::StackConfig;
use std::sync::Arc;
use std::time::Duration;

/// How a component builds its chart from the stack (errors: settings that cannot work).
pub type ChartFn = Arc<dyn Fn(&StackConfig) -> anyhow::Result<Chart> + Send + Sync>;

/// The per-component deadline: `default`, or `FOUNDRY_HELM_DEADLINE_SECS` (slow links, tests).
pub fn deadline(default: Duration) -> Duration {
    std::env::var("FOUNDRY_HELM_DEADLINE_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(default)
}

/// How often a wait looks again.
pub fn poll(deadline: Duration) -> Duration {
    (deadline / 20).clamp(Duration::from_millis(100), Duration::from_secs(2))
}
