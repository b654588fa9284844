//! The plan/apply engine: per component, its target hosts in parallel (bounded); per host,
//! connect (once per run), gather facts (once per run), plan (read-only), then apply the steps
//! in order. A host that fails does not stop the other hosts of the same component; a component
//! with a failed host stops the run before the next component.

use super::{targets, Action, Component, HostCtx, HostStatus, StackCtx, Step};
use crate::config::{HostConfig, StackConfig};
use crate::host::facts::{self, Facts};
use crate::run::interrupt::interrupted;
use crate::run::log::RunLogHandle;
use crate::run::progress::Progress;
use crate::secrets::redact::scrub;
use crate::ssh::{Cmd, Pool, Target, Upload};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OnceCell, Semaphore};

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
    fn executes(self) -> bool {
        matches!(self, Mode::Apply | Mode::Uninstall)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// "pending" (plan), "done", "failed", "not-run", "cannot".
    pub state: String,
    /// False for checks (`Verify`) and `Cannot` items: they change nothing.
    pub mutates: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    pub host: String,
    /// "unchanged", "changed", "planned", "failed", "interrupted".
    pub outcome: String,
    pub steps: Vec<StepReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub ms: u128,
}

impl HostReport {
    pub fn failed(&self) -> bool {
        self.outcome == "failed"
    }
    pub fn changes(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.mutates && (s.state == "done" || s.state == "pending"))
            .count()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentReport {
    pub component: String,
    pub hosts: Vec<HostReport>,
    /// What the component did once for the whole stack (e.g. OpenBao init/unseal).
    pub stack_actions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ComponentReport {
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.hosts.iter().any(|h| h.failed())
    }
    pub fn interrupted(&self) -> bool {
        self.hosts.iter().any(|h| h.outcome == "interrupted")
    }
}

type FactsCell = Arc<OnceCell<Arc<Facts>>>;

pub struct Engine {
    pub stack: Arc<StackConfig>,
    pub instance: String,
    pub pool: Arc<Pool>,
    pub log: RunLogHandle,
    pub progress: Arc<Progress>,
    pub assume_yes: bool,
    facts: Mutex<HashMap<String, FactsCell>>,
    parallel: Arc<Semaphore>,
}

impl Engine {
    pub fn new(
        stack: Arc<StackConfig>,
        instance: &str,
        pool: Arc<Pool>,
        log: RunLogHandle,
        progress: Arc<Progress>,
        assume_yes: bool,
    ) -> Arc<Engine> {
        let n = stack.ssh.parallel.max(1);
        Arc::new(Engine {
            stack,
            instance: instance.to_string(),
            pool,
            log,
            progress,
            assume_yes,
            facts: Mutex::new(HashMap::new()),
            parallel: Arc::new(Semaphore::new(n)),
        })
    }

    pub fn target(&self, h: &HostConfig) -> Target {
        Target::from_host(h, &self.stack.ssh)
    }

    /// Connect (shared per run) and gather facts (once per host per run).
    pub async fn host_ctx(&self, h: &HostConfig) -> anyhow::Result<HostCtx> {
        let session = self.pool.get(&self.target(h)).await?;
        let cell = {
            let mut m = self.facts.lock().unwrap_or_else(|e| e.into_inner());
            m.entry(h.hostname.clone()).or_default().clone()
        };
        let facts = cell
            .get_or_try_init(|| async { facts::gather(&session).await.map(Arc::new) })
            .await?
            .clone();
        Ok(HostCtx {
            host: h.clone(),
            session,
            facts,
            stack: self.stack.clone(),
            instance: self.instance.clone(),
        })
    }

    pub fn stack_ctx(&self, hosts: &[HostCtx], dry_run: bool) -> StackCtx {
        StackCtx {
            stack: self.stack.clone(),
            instance: self.instance.clone(),
            hosts: hosts.to_vec(),
            dry_run,
            log: self.log.clone(),
            assume_yes: self.assume_yes,
        }
    }

    /// Contexts for every host a component targets that can be reached (for `finalize`).
    async fn reachable_ctxs(&self, hosts: &[HostConfig]) -> Vec<HostCtx> {
        let mut v = Vec::new();
        for h in hosts {
            if let Ok(c) = self.host_ctx(h).await {
                v.push(c);
            }
        }
        v
    }

    /// Run one component on all its target hosts.
    pub async fn run_component(
        self: &Arc<Self>,
        c: Arc<dyn Component>,
        mode: Mode,
    ) -> ComponentReport {
        let hosts: Vec<HostConfig> = targets(c.as_ref(), &self.stack)
            .into_iter()
            .cloned()
            .collect();
        let verb = match mode {
            Mode::Plan => "plan",
            Mode::Apply => "install",
            Mode::Uninstall => "uninstall",
            Mode::UninstallPlan => "plan uninstall of",
        };
        self.progress.component_start(c.name(), hosts.len(), verb);
        let mut prepared = Vec::new();
        if matches!(mode, Mode::Apply | Mode::Plan) {
            let ctx = self.stack_ctx(&[], mode == Mode::Plan);
            match c.prepare(&ctx).await {
                Ok(lines) => prepared = lines,
                Err(e) => {
                    return ComponentReport {
                        component: c.name().to_string(),
                        hosts: vec![],
                        stack_actions: vec![],
                        error: Some(scrub(&format!("prepare: {e:#}"))),
                    }
                }
            }
        }
        let mut tasks = Vec::new();
        for h in hosts.clone() {
            let eng = self.clone();
            let comp = c.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = eng.parallel.clone().acquire_owned().await;
                eng.run_host(comp.as_ref(), &h, mode).await
            }));
        }
        let mut reports = Vec::new();
        for (t, h) in tasks.into_iter().zip(&hosts) {
            reports.push(t.await.unwrap_or_else(|e| HostReport {
                host: h.hostname.clone(),
                outcome: "failed".into(),
                steps: vec![],
                error: Some(format!("internal error: {e}")),
                ms: 0,
            }));
        }
        let mut report = ComponentReport {
            component: c.name().to_string(),
            hosts: reports,
            stack_actions: prepared,
            error: None,
        };
        if !report.failed() && !report.interrupted() && matches!(mode, Mode::Apply | Mode::Plan) {
            let ctx = self.stack_ctx(&self.reachable_ctxs(&hosts).await, mode == Mode::Plan);
            match c.finalize(&ctx).await {
                Ok(lines) => {
                    for l in &lines {
                        self.progress.note(&format!("{}: {l}", c.name()));
                    }
                    report.stack_actions.extend(lines);
                }
                Err(e) => report.error = Some(scrub(&format!("{e:#}"))),
            }
        }
        self.log.event(
            None,
            "component_done",
            serde_json::to_value(&report).unwrap_or_default(),
        );
        report
    }

    async fn run_host(&self, c: &dyn Component, h: &HostConfig, mode: Mode) -> HostReport {
        let t0 = Instant::now();
        let name = h.hostname.clone();
        let fail = |what: &str, e: anyhow::Error, steps: Vec<StepReport>| HostReport {
            host: name.clone(),
            outcome: "failed".into(),
            steps,
            error: Some(scrub(&format!("{what}: {e:#}"))),
            ms: t0.elapsed().as_millis(),
        };
        if interrupted() {
            return HostReport {
                host: name.clone(),
                outcome: "interrupted".into(),
                steps: vec![],
                error: None,
                ms: 0,
            };
        }
        let ctx = match self.host_ctx(h).await {
            Ok(c) => c,
            Err(e) => {
                self.progress
                    .host_done(c.name(), &name, false, &format!("{e:#}"));
                return fail("connect", e, vec![]);
            }
        };
        let planned = match mode {
            Mode::Plan | Mode::Apply => c.plan(&ctx).await,
            Mode::Uninstall | Mode::UninstallPlan => c.uninstall_plan(&ctx).await,
        };
        let steps = match planned {
            Ok(s) => s,
            Err(e) => {
                self.progress
                    .host_done(c.name(), &name, false, &format!("plan: {e:#}"));
                return fail("plan", e, vec![]);
            }
        };
        let mut reports: Vec<StepReport> = steps
            .iter()
            .map(|s| StepReport {
                // Rendered files may hold resolved secrets: what is shown is always scrubbed.
                description: scrub(&s.description),
                diff: s.diff.as_deref().map(scrub),
                mutates: s.mutates(),
                state: if matches!(s.action, Action::Cannot { .. }) {
                    "cannot"
                } else {
                    "pending"
                }
                .into(),
                detail: match &s.action {
                    Action::Cannot { reason } => Some(reason.clone()),
                    _ => None,
                },
            })
            .collect();
        if !mode.executes() {
            let n = steps.iter().filter(|s| s.mutates()).count();
            self.progress.host_done(
                c.name(),
                &name,
                true,
                &if n == 0 {
                    "no changes".to_string()
                } else {
                    format!("{n} change(s) planned")
                },
            );
            return HostReport {
                host: name,
                outcome: "planned".into(),
                steps: reports,
                error: None,
                ms: t0.elapsed().as_millis(),
            };
        }
        let total = steps.len();
        let mut changed = 0;
        for (i, step) in steps.iter().enumerate() {
            if matches!(step.action, Action::Cannot { .. }) {
                continue;
            }
            if interrupted() {
                for r in reports.iter_mut().skip(i) {
                    if r.state == "pending" {
                        r.state = "not-run".into();
                    }
                }
                self.progress
                    .host_done(c.name(), &name, false, "interrupted before the next step");
                return HostReport {
                    host: name,
                    outcome: "interrupted".into(),
                    steps: reports,
                    error: None,
                    ms: t0.elapsed().as_millis(),
                };
            }
            self.progress
                .step(c.name(), &name, i + 1, total, &step.description);
            match execute(&ctx, step).await {
                Ok(()) => {
                    reports[i].state = "done".into();
                    if step.mutates() {
                        changed += 1;
                    }
                }
                Err(e) => {
                    reports[i].state = "failed".into();
                    for r in reports.iter_mut().skip(i + 1) {
                        if r.state == "pending" {
                            r.state = "not-run".into();
                        }
                    }
                    let msg = format!("step `{}`: {e:#}", step.description);
                    self.progress.host_done(c.name(), &name, false, &msg);
                    return fail(&format!("step `{}`", step.description), e, reports);
                }
            }
        }
        let cannot = reports.iter().filter(|r| r.state == "cannot").count();
        let mut summary = if changed == 0 {
            "no changes".to_string()
        } else {
            format!("{changed} change(s) applied")
        };
        if cannot > 0 {
            summary.push_str(&format!(", {cannot} not possible here"));
        }
        self.progress.host_done(c.name(), &name, true, &summary);
        HostReport {
            host: name,
            outcome: if changed == 0 { "unchanged" } else { "changed" }.into(),
            steps: reports,
            error: None,
            ms: t0.elapsed().as_millis(),
        }
    }

    /// Status of a component on each of its hosts (unreachable hosts give an error row).
    pub async fn status(
        self: &Arc<Self>,
        c: Arc<dyn Component>,
    ) -> Vec<(String, Result<HostStatus, String>)> {
        let hosts: Vec<HostConfig> = targets(c.as_ref(), &self.stack)
            .into_iter()
            .cloned()
            .collect();
        let mut tasks = Vec::new();
        for h in hosts {
            let eng = self.clone();
            let comp = c.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = eng.parallel.clone().acquire_owned().await;
                let r = match eng.host_ctx(&h).await {
                    Ok(ctx) => comp
                        .status(&ctx)
                        .await
                        .map_err(|e| scrub(&format!("{e:#}"))),
                    Err(e) => Err(scrub(&format!("{e:#}"))),
                };
                (h.hostname.clone(), r)
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            if let Ok(r) = t.await {
                out.push(r);
            }
        }
        out
    }
}

/// Execute one step on a host.
pub async fn execute(ctx: &HostCtx, step: &Step) -> anyhow::Result<()> {
    match &step.action {
        Action::WriteFile(f) => {
            ctx.session
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
            ctx.session
                .exec(&cmd)
                .await?
                .check(&step.description)
                .map(|_| ())
        }
        Action::Verify {
            script,
            timeout_secs,
        } => {
            let cmd = Cmd::read(script.clone())
                .sudo()
                .label(&step.description)
                .timeout(Duration::from_secs(*timeout_secs));
            ctx.session
                .exec(&cmd)
                .await?
                .check(&step.description)
                .map(|_| ())
        }
        Action::Api(a) => a.execute().await,
        Action::Cannot { .. } => Ok(()),
    }
}
