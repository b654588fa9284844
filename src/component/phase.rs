//! Phases: a component is an ordered list of them (k0sctl's `phase/`). Each phase has a title,
//! a host set, an optional predicate, and a read-only `plan` that returns the steps it needs;
//! the engine executes them (unless the run is a plan) before the next phase is planned, so a
//! later phase sees what an earlier one did (a started server, a published output).

use super::context::{RemoteHost, RunCtx};
use super::Step;
use crate::config::HostConfig;
use serde::Serialize;
use std::sync::Arc;

/// Which hosts a phase works on, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostSet {
    /// Every selected host in parallel (bounded by `ssh.parallel`); a failed host does not stop
    /// the others, but it stops the phases after this one.
    Parallel,
    /// The first selected host only (e.g. the first K3s server).
    Leader,
    /// The selected hosts one at a time, in order; the first failure stops the rest.
    Serial,
    /// No host: API calls (OpenBao, Kubernetes, TrueNAS), planned once.
    Api,
}

impl HostSet {
    pub fn as_str(self) -> &'static str {
        match self {
            HostSet::Parallel => "parallel",
            HostSet::Leader => "leader",
            HostSet::Serial => "serial",
            HostSet::Api => "api",
        }
    }
}

#[async_trait::async_trait]
pub trait Phase: Send + Sync {
    /// Shown in progress and plans: "write config", "join servers".
    fn title(&self) -> String;
    fn hosts(&self) -> HostSet;
    /// Run this phase at all? (k0sctl's `ShouldRun`.) Read the context, never a host.
    fn should_run(&self, _ctx: &RunCtx) -> bool {
        true
    }
    /// The hosts of the component's targets this phase works on, in order (default: all).
    fn select(&self, _ctx: &RunCtx, targets: &[HostConfig]) -> Vec<HostConfig> {
        targets.to_vec()
    }
    /// Host phases: read the host's state and return the steps that reach the desired one.
    async fn plan_host(&self, _ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        anyhow::bail!(
            "internal: phase `{}` has no host plan (asked for {})",
            self.title(),
            host.name()
        )
    }
    /// API phases: read the API's state and return the steps (usually `Step::api`).
    /// The context comes as an `Arc` so that an API action can keep it.
    async fn plan_api(&self, _ctx: &Arc<RunCtx>) -> anyhow::Result<Vec<Step>> {
        anyhow::bail!("internal: phase `{}` has no API plan", self.title())
    }
}
