//! Components: the trait every installable piece implements, its phases, the steps a plan is
//! made of, and the run context they read. The engine (`engine.rs`) runs them; each component
//! lives in its own folder.
//!
//! The contract that makes runs idempotent: a phase's `plan` only *reads* (every remote command
//! it runs is `Cmd::read`, every API call a GET), and returns exactly the steps needed to reach
//! the desired state — nothing when it is already there. Applying is the engine executing
//! those steps.

pub mod api;
pub mod cert_manager;
pub mod cluster_api;
pub mod context;
pub mod contour;
pub mod engine;
#[cfg(test)]
mod engine_tests;
pub mod files;
pub mod helm;
pub mod host_prep;
pub mod k3s;
pub mod openbao;
pub mod order;
pub mod phase;
pub mod registry;
pub mod report;
pub mod service;
pub mod services;
pub mod storage;
#[cfg(test)]
pub(crate) mod testing;
pub mod zot;

use crate::config::{HostConfig, Role, StackConfig};
use serde::Serialize;
use std::sync::Arc;

pub use context::{RemoteHost, RunCtx};
pub use files::FileSpec;
pub use phase::{HostSet, Phase};

/// What a step does when applied. Steps are data so `plan` can show them and `apply` can run
/// them the same way for every component.
#[derive(Debug, Clone)]
pub enum Action {
    /// Write a file atomically (temp + rename) with mode and owner.
    WriteFile(FileSpec),
    /// Run a mutating shell script (as root: sudo when the host needs it).
    Exec {
        script: String,
        timeout_secs: Option<u64>,
    },
    /// A read-only check run after changes (e.g. "the service stayed up"); fails the step if it fails.
    Verify { script: String, timeout_secs: u64 },
    /// Something foundry cannot do on this host; reported, never executed, not a failure.
    Cannot { reason: String },
    /// A call to an API (Kubernetes, TrueNAS) instead of a shell step (see `api.rs`).
    Api(Arc<dyn api::ApiAction>),
}

#[derive(Debug, Clone)]
pub struct Step {
    /// One line: what changes and why ("write /etc/openbao/config.hcl (changed)").
    pub description: String,
    /// Unified diff for file changes (None for secret files or non-file steps).
    pub diff: Option<String>,
    pub action: Action,
}

impl Step {
    pub fn exec(description: impl Into<String>, script: impl Into<String>) -> Step {
        Step {
            description: description.into(),
            diff: None,
            action: Action::Exec {
                script: script.into(),
                timeout_secs: None,
            },
        }
    }

    pub fn exec_timeout(
        description: impl Into<String>,
        script: impl Into<String>,
        secs: u64,
    ) -> Step {
        Step {
            description: description.into(),
            diff: None,
            action: Action::Exec {
                script: script.into(),
                timeout_secs: Some(secs),
            },
        }
    }

    pub fn cannot(description: impl Into<String>, reason: impl Into<String>) -> Step {
        Step {
            description: description.into(),
            diff: None,
            action: Action::Cannot {
                reason: reason.into(),
            },
        }
    }

    pub fn verify(description: impl Into<String>, script: impl Into<String>, secs: u64) -> Step {
        Step {
            description: description.into(),
            diff: None,
            action: Action::Verify {
                script: script.into(),
                timeout_secs: secs,
            },
        }
    }

    /// An API action, its description and diff taken from the action.
    pub fn api(action: Arc<dyn api::ApiAction>) -> Step {
        Step {
            description: action.describe(),
            diff: action.diff(),
            action: Action::Api(action),
        }
    }

    /// True for steps that change something (not `Verify`, `Cannot` or a read-only API action).
    pub fn mutates(&self) -> bool {
        match &self.action {
            Action::WriteFile(_) | Action::Exec { .. } => true,
            Action::Api(a) => a.mutates(),
            Action::Verify { .. } | Action::Cannot { .. } => false,
        }
    }
}

/// A component's state on one host.
#[derive(Debug, Clone, Serialize, Default)]
pub struct HostStatus {
    pub installed: bool,
    pub version: Option<String>,
    pub healthy: bool,
    pub message: String,
}

/// An installable piece: its place in the order (dependencies), where it runs (roles), and
/// its recipe — an ordered list of [`Phase`]s, read like k0sctl's `apply.go`.
#[async_trait::async_trait]
pub trait Component: Send + Sync {
    fn name(&self) -> &str;
    /// Components that must be installed first, whatever the stack says.
    fn depends_on(&self) -> &'static [&'static str];
    /// Components that must be installed first for this stack: `depends_on` plus what a
    /// setting adds (Zot on a TrueNAS share needs `storage` first), or minus what it drops.
    /// Every ordering with a stack at hand uses this one.
    fn depends_on_for(&self, _stack: &StackConfig) -> Vec<&'static str> {
        self.depends_on().to_vec()
    }
    /// Hosts with any of these roles are targets; empty means every host.
    fn roles(&self) -> &'static [Role];
    fn enabled(&self, stack: &StackConfig) -> bool;
    /// One line: what it is and where it runs (`component list`).
    fn summary(&self) -> &'static str {
        ""
    }

    /// What the component does on a host of this role, without contacting it (`plan --offline`).
    fn describe(&self, stack: &StackConfig, host: &HostConfig) -> Vec<String>;

    /// The install (converge) recipe.
    fn phases(&self) -> Vec<Box<dyn Phase>>;

    /// The removal recipe (planned read-only like the install one).
    fn uninstall_phases(&self) -> Vec<Box<dyn Phase>>;

    /// Secrets this component keeps in OpenBao, as `(path under <instance>, what it holds)`.
    /// `component uninstall` leaves them (a reinstall finds the same tokens and passwords);
    /// `--purge` deletes them.
    fn stored_secrets(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// Files on this machine that `component uninstall --purge` deletes too.
    fn local_files(&self, _stack: &StackConfig) -> Vec<std::path::PathBuf> {
        vec![]
    }

    /// Installed / version / healthy on one host (read-only).
    async fn status(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<HostStatus>;

    /// Stack-level health rows for `stack status` beyond per-host ones (e.g. OpenBao sealed or
    /// not, read over its API): (label, status).
    async fn stack_status(&self, _ctx: &Arc<RunCtx>) -> Vec<(String, HostStatus)> {
        vec![]
    }

    /// False for components that work only through an API (no host is a target).
    fn on_hosts(&self) -> bool {
        true
    }

    /// What the component does for the stack as a whole, without contacting anything (`plan
    /// --offline`; API-only components describe themselves here).
    fn describe_stack(&self, _stack: &StackConfig) -> Vec<String> {
        vec![]
    }

    /// Upgrading is converging to a new version: the plan sees the changed image/config and
    /// restarts once. Components with a data migration override this.
    fn upgrade_note(&self) -> Option<&'static str> {
        None
    }
}

/// The hosts a component targets, in file order.
pub fn targets<'a>(c: &dyn Component, stack: &'a StackConfig) -> Vec<&'a HostConfig> {
    if !c.on_hosts() {
        return vec![];
    }
    let roles = c.roles();
    stack
        .hosts
        .iter()
        .filter(|h| roles.is_empty() || roles.iter().any(|r| h.has_role(*r)))
        .collect()
}
