//! The engine: a component's phases in order; per phase, its hosts as the phase says
//! (parallel with a bound, the leader, one at a time, or none for an API phase); per host,
//! connect (once per run), gather facts (once per run), plan (read-only), then execute the
//! steps in order — unless the run is a plan. A failed phase stops the phases after it; a
//! component with a failure stops the run before the next component (the caller's loop).

use super::context::{RemoteHost, RunCtx};
use super::phase::{HostSet, Phase};
use super::report::{
    ComponentReport, HostOutcome, HostReport, PhaseReport, PhaseState, StepReport, StepState,
    API_HOST,
};
use super::{targets, Action, Component, HostStatus, Step};
use crate::config::HostConfig;
use crate::redact::scrub;
use crate::run::interrupt::interrupted;
use crate::ssh::{Cmd, Remote, Upload};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Read-only: report the steps.
    Plan,
    /// Plan, then execute the steps.
    Apply,
    /// Plan removal, then execute it.
    Uninstall,
    /// Plan removal, report only.
    UninstallPlan,
}

impl Mode {
    pub fn executes(self) -> bool {
        matches!(self, Mode::Apply | Mode::Uninstall)
    }
    fn verb(self) -> &'static str {
        match self {
            Mode::Plan => "plan",
            Mode::Apply => "install",
            Mode::Uninstall => "uninstall",
            Mode::UninstallPlan => "plan uninstall of",
        }
    }
}

/// Run one component's phases on its target hosts (after the run's host filter).
pub async fn run_component(
    ctx: &Arc<RunCtx>,
    c: Arc<dyn Component>,
    mode: Mode,
) -> ComponentReport {
    let all: Vec<HostConfig> = targets(c.as_ref(), &ctx.stack)
        .into_iter()
        .cloned()
        .collect();
    let n = all
        .iter()
        .filter(|h| ctx.filter.admits(&h.hostname))
        .count();
    ctx.progress.component_start(c.name(), n, mode.verb());
    let phases = match mode {
        Mode::Plan | Mode::Apply => c.phases(),
        Mode::Uninstall | Mode::UninstallPlan => c.uninstall_phases(),
    };
    let mut report = ComponentReport::new(c.name());
    let mut stopped = false;
    for phase in phases {
        let title = phase.title();
        if stopped {
            report.phases.push(PhaseReport {
                title,
                on: phase.hosts(),
                state: PhaseState::NotRun,
                hosts: vec![],
            });
            continue;
        }
        if !phase.should_run(ctx) {
            report.phases.push(PhaseReport {
                title,
                on: phase.hosts(),
                state: PhaseState::Skipped,
                hosts: vec![],
            });
            continue;
        }
        let pr = run_phase(ctx, c.name(), phase.as_ref(), &all, mode).await;
        let api_error = pr
            .hosts
            .iter()
            .find(|h| h.is_api() && h.failed())
            .and_then(|h| h.error.clone());
        stopped = pr.failed() || pr.interrupted();
        report.phases.push(pr);
        if let Some(e) = api_error {
            report.error = Some(e);
        }
    }
    report.stack_actions = ctx.take_notes();
    if mode.executes() {
        for l in &report.stack_actions {
            ctx.progress.note(&format!("{}: {l}", c.name()));
        }
    }
    ctx.log.event(
        None,
        "component_done",
        serde_json::to_value(&report).unwrap_or_default(),
    );
    report
}

/// One phase on its hosts.
pub async fn run_phase(
    ctx: &Arc<RunCtx>,
    component: &str,
    phase: &dyn Phase,
    targets: &[HostConfig],
    mode: Mode,
) -> PhaseReport {
    let set = phase.hosts();
    let hosts = ctx.hosts_for(set, phase.select(ctx, targets));
    let title = phase.title();
    let mut out = PhaseReport {
        title: title.clone(),
        on: set,
        state: PhaseState::Ran,
        hosts: vec![],
    };
    match set {
        HostSet::Api => {
            let t0 = Instant::now();
            let planned = phase.plan_api(ctx).await;
            let label = format!("{component} ({title})");
            out.hosts
                .push(run_steps(ctx, &label, API_HOST, None, planned, mode, t0).await);
        }
        HostSet::Leader | HostSet::Serial => {
            let mut failed = false;
            for h in &hosts {
                if failed {
                    out.hosts
                        .push(HostReport::new(&h.hostname, HostOutcome::NotStarted));
                    continue;
                }
                let r = run_host(ctx, component, phase, h, mode).await;
                failed = r.failed() || r.outcome == HostOutcome::Interrupted;
                out.hosts.push(r);
            }
        }
        HostSet::Parallel => {
            // Scoped concurrency: every host's future borrows the phase; the semaphore bounds
            // how many work at once.
            let sem = ctx.parallel();
            let futs = hosts.iter().map(|h| {
                let sem = sem.clone();
                async move {
                    let _permit = sem.acquire_owned().await;
                    run_host(ctx, component, phase, h, mode).await
                }
            });
            out.hosts = futures::future::join_all(futs).await;
        }
    }
    out
}

async fn run_host(
    ctx: &Arc<RunCtx>,
    component: &str,
    phase: &dyn Phase,
    h: &HostConfig,
    mode: Mode,
) -> HostReport {
    let t0 = Instant::now();
    let name = h.hostname.as_str();
    if interrupted() {
        return HostReport::new(name, HostOutcome::Interrupted);
    }
    let host = match ctx.host(h).await {
        Ok(x) => x,
        Err(e) => {
            ctx.progress
                .host_done(component, name, false, &scrub(&format!("{e:#}")));
            let mut r = HostReport::new(name, HostOutcome::Failed);
            r.error = Some(scrub(&format!("connect: {e:#}")));
            r.ms = t0.elapsed().as_millis();
            return r;
        }
    };
    let planned = phase.plan_host(ctx, &host).await;
    run_steps(ctx, component, name, Some(&host), planned, mode, t0).await
}

/// Report planned steps, and execute them when the mode does: the one loop for host and API
/// phases alike.
async fn run_steps(
    ctx: &Arc<RunCtx>,
    component: &str,
    name: &str,
    host: Option<&RemoteHost>,
    planned: anyhow::Result<Vec<Step>>,
    mode: Mode,
    t0: Instant,
) -> HostReport {
    let mut report = HostReport::new(name, HostOutcome::Planned);
    let steps = match planned {
        Ok(s) => s,
        Err(e) => {
            let msg = scrub(&format!("plan: {e:#}"));
            ctx.progress.host_done(component, name, false, &msg);
            report.outcome = HostOutcome::Failed;
            report.error = Some(msg);
            report.ms = t0.elapsed().as_millis();
            return report;
        }
    };
    report.steps = steps.iter().map(StepReport::planned).collect();
    if !mode.executes() {
        let n = steps.iter().filter(|s| s.mutates()).count();
        if host.is_some() || n > 0 {
            ctx.progress.host_done(
                component,
                name,
                true,
                &if n == 0 {
                    "no changes".to_string()
                } else {
                    format!("{n} change(s) planned")
                },
            );
        }
        report.ms = t0.elapsed().as_millis();
        return report;
    }
    let total = steps.len();
    let mut changed = 0;
    for (i, step) in steps.iter().enumerate() {
        if matches!(step.action, Action::Cannot { .. }) {
            continue;
        }
        if interrupted() {
            mark_not_run(&mut report.steps[i..]);
            ctx.progress
                .host_done(component, name, false, "interrupted before the next step");
            report.outcome = HostOutcome::Interrupted;
            report.ms = t0.elapsed().as_millis();
            return report;
        }
        ctx.progress
            .step(component, name, i + 1, total, &scrub(&step.description));
        match execute(host.map(|h| h.remote.as_ref()), step).await {
            Ok(()) => {
                report.steps[i].state = StepState::Done;
                if step.mutates() {
                    changed += 1;
                }
            }
            Err(e) => {
                report.steps[i].state = StepState::Failed;
                mark_not_run(&mut report.steps[i + 1..]);
                let what = format!("step `{}`", scrub(&step.description));
                let msg = scrub(&format!("{what}: {e:#}"));
                ctx.progress.host_done(component, name, false, &msg);
                report.outcome = HostOutcome::Failed;
                report.error = Some(msg);
                report.ms = t0.elapsed().as_millis();
                return report;
            }
        }
    }
    let cannot = report.count(StepState::Cannot);
    let mut summary = if changed == 0 {
        "no changes".to_string()
    } else {
        format!("{changed} change(s) applied")
    };
    if cannot > 0 {
        summary.push_str(&format!(", {cannot} not possible here"));
    }
    if host.is_some() || changed > 0 {
        ctx.progress.host_done(component, name, true, &summary);
    }
    report.outcome = if changed == 0 {
        HostOutcome::Unchanged
    } else {
        HostOutcome::Changed
    };
    report.ms = t0.elapsed().as_millis();
    report
}

fn mark_not_run(steps: &mut [StepReport]) {
    for r in steps {
        if r.state == StepState::Pending {
            r.state = StepState::NotRun;
        }
    }
}

/// Status of a component on each of its hosts (after the host filter; unreachable hosts give
/// an error row). Hosts are asked in parallel, bounded.
pub async fn status(
    ctx: &Arc<RunCtx>,
    c: Arc<dyn Component>,
) -> Vec<(String, Result<HostStatus, String>)> {
    let hosts: Vec<HostConfig> = targets(c.as_ref(), &ctx.stack)
        .into_iter()
        .filter(|h| ctx.filter.admits(&h.hostname))
        .cloned()
        .collect();
    let sem = ctx.parallel();
    let futs = hosts.iter().map(|h| {
        let sem = sem.clone();
        let c = c.clone();
        async move {
            let _permit = sem.acquire_owned().await;
            let r = match ctx.host(h).await {
                Ok(host) => c
                    .status(ctx, &host)
                    .await
                    .map_err(|e| scrub(&format!("{e:#}"))),
                Err(e) => Err(scrub(&format!("{e:#}"))),
            };
            (h.hostname.clone(), r)
        }
    });
    futures::future::join_all(futs).await
}

/// Execute one step: on its host, or (API actions) against its API.
pub async fn execute(remote: Option<&dyn Remote>, step: &Step) -> anyhow::Result<()> {
    let on = || {
        remote.ok_or_else(|| {
            anyhow::anyhow!(
                "internal: step `{}` needs a host but ran in an API phase",
                step.description
            )
        })
    };
    match &step.action {
        Action::WriteFile(f) => {
            on()?
                .upload(&Upload {
                    path: f.path.clone(),
                    content: f.content.clone(),
                    mode: f.mode,
                    owner: Some(f.owner.clone()),
                    group: Some(f.group.clone()),
                    sudo: true,
                })
                .await
        }
        Action::Exec {
            script,
            timeout_secs,
        } => {
            let cmd = Cmd::mutate(script.clone())
                .sudo()
                .label(&step.description)
                .timeout(Duration::from_secs(timeout_secs.unwrap_or(300)));
            on()?.exec(&cmd).await?.check(&step.description).map(|_| ())
        }
        Action::Verify {
            script,
            timeout_secs,
        } => {
            let cmd = Cmd::read(script.clone())
                .sudo()
                .label(&step.description)
                .timeout(Duration::from_secs(*timeout_secs));
            on()?.exec(&cmd).await?.check(&step.description).map(|_| ())
        }
        Action::Api(a) => a.execute().await,
        Action::Cannot { .. } => Ok(()),
    }
}
