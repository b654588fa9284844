//! What a run did, as data: per component, per phase, per host, per step. Serialised into the
//! JSON/YAML output and the run log; the states are enums serialised as the strings scripts
//! already read (`"done"`, `"unchanged"`, …).

use super::phase::HostSet;
use super::{Action, Step};
use crate::redact::scrub;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    /// Planned, not executed (plans and dry runs).
    Pending,
    Done,
    Failed,
    /// An earlier step of the same host failed, or the run was interrupted.
    NotRun,
    /// Not possible on this host; reported, never executed, not a failure.
    Cannot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostOutcome {
    Unchanged,
    Changed,
    Planned,
    Failed,
    Interrupted,
    /// An earlier host of a one-at-a-time phase failed: this host was not touched.
    NotStarted,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    pub state: StepState,
    /// False for checks (`Verify`), `Cannot` items and read-only API actions.
    pub mutates: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl StepReport {
    /// The report of a planned step. Rendered files may hold resolved secrets: what is shown
    /// is always scrubbed.
    pub fn planned(s: &Step) -> StepReport {
        StepReport {
            description: scrub(&s.description),
            diff: s.diff.as_deref().map(scrub),
            mutates: s.mutates(),
            state: if matches!(s.action, Action::Cannot { .. }) {
                StepState::Cannot
            } else {
                StepState::Pending
            },
            detail: match &s.action {
                Action::Cannot { reason } => Some(reason.clone()),
                _ => None,
            },
        }
    }
}

/// One host in one phase (for an API phase, `host` is [`API_HOST`]).
#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    pub host: String,
    pub outcome: HostOutcome,
    pub steps: Vec<StepReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub ms: u128,
}

/// The pseudo-host of an API phase's report.
pub const API_HOST: &str = "(api)";

impl HostReport {
    pub fn new(host: &str, outcome: HostOutcome) -> HostReport {
        HostReport {
            host: host.to_string(),
            outcome,
            steps: vec![],
            error: None,
            ms: 0,
        }
    }
    pub fn failed(&self) -> bool {
        self.outcome == HostOutcome::Failed
    }
    pub fn is_api(&self) -> bool {
        self.host == API_HOST
    }
    /// Mutating steps done (install) or pending (plan).
    pub fn changes(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.mutates && matches!(s.state, StepState::Done | StepState::Pending))
            .count()
    }
    pub fn count(&self, state: StepState) -> usize {
        self.steps.iter().filter(|s| s.state == state).count()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseState {
    Ran,
    /// Its `should_run` said no (e.g. nothing to join).
    Skipped,
    /// An earlier phase failed or the run was interrupted.
    NotRun,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    pub title: String,
    pub on: HostSet,
    pub state: PhaseState,
    pub hosts: Vec<HostReport>,
}

impl PhaseReport {
    pub fn failed(&self) -> bool {
        self.hosts.iter().any(|h| h.failed())
    }
    pub fn interrupted(&self) -> bool {
        self.hosts
            .iter()
            .any(|h| h.outcome == HostOutcome::Interrupted)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentReport {
    pub component: String,
    pub phases: Vec<PhaseReport>,
    /// What the component reported for the whole stack (e.g. OpenBao init/unseal, warnings).
    pub stack_actions: Vec<String>,
    /// A component-level failure (an API phase, or no phase could start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ComponentReport {
    pub fn new(component: &str) -> ComponentReport {
        ComponentReport {
            component: component.to_string(),
            phases: vec![],
            stack_actions: vec![],
            error: None,
        }
    }
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.phases.iter().any(|p| p.failed())
    }
    pub fn interrupted(&self) -> bool {
        self.phases.iter().any(|p| p.interrupted())
    }
    /// Every host report of every phase, API phases included, in order.
    pub fn all_hosts(&self) -> impl Iterator<Item = &HostReport> {
        self.phases.iter().flat_map(|p| p.hosts.iter())
    }
    /// Host reports of real hosts (not API phases).
    pub fn host_reports(&self) -> impl Iterator<Item = &HostReport> {
        self.all_hosts().filter(|h| !h.is_api())
    }
    pub fn changes(&self) -> usize {
        self.all_hosts().map(|h| h.changes()).sum()
    }
    /// One row per host across phases (for the summary table): steps concatenated, the
    /// worst outcome, times added.
    pub fn merged_hosts(&self) -> Vec<HostReport> {
        let mut out: Vec<HostReport> = Vec::new();
        for h in self.all_hosts() {
            match out.iter_mut().find(|o| o.host == h.host) {
                Some(o) => {
                    o.steps.extend(h.steps.iter().cloned());
                    o.ms += h.ms;
                    if rank(h.outcome) > rank(o.outcome) {
                        o.outcome = h.outcome;
                    }
                    if o.error.is_none() {
                        o.error = h.error.clone();
                    }
                }
                None => out.push(h.clone()),
            }
        }
        out
    }
}

/// Which outcome wins when one host has several phases.
fn rank(o: HostOutcome) -> u8 {
    match o {
        HostOutcome::Unchanged => 0,
        HostOutcome::Planned => 1,
        HostOutcome::Changed => 2,
        HostOutcome::NotStarted => 3,
        HostOutcome::Interrupted => 4,
        HostOutcome::Failed => 5,
    }
}
