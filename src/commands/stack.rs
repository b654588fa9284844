//! `foundry stack validate|plan|install|status`.

use super::common;
use super::common::RunKind;
use crate::cli::{GlobalOpts, OutputFormat, StackCmd};
use crate::component::engine::{self, Mode};
use crate::component::report::{ComponentReport, StepState};
use crate::component::{registry, targets, HostStatus, RunCtx};
use crate::error::{fail, ExitClass};
use crate::output;
use std::sync::Arc;
use std::time::Instant;

pub async fn run(g: &GlobalOpts, cmd: StackCmd) -> anyhow::Result<i32> {
    match cmd {
        StackCmd::Validate { check_hosts } => super::validate::run(g, check_hosts).await,
        StackCmd::Plan { offline: true } => plan_offline(g),
        StackCmd::Plan { offline: false } | StackCmd::Install { dry_run: true } => {
            converge(g, Mode::Plan).await
        }
        StackCmd::Install { dry_run: false } => converge(g, Mode::Apply).await,
        StackCmd::Status => status(g).await,
        StackCmd::Test {
            image,
            timeout,
            keep,
        } => super::stack_test::run(g, image, timeout, keep).await,
    }
}

/// The ordered plan of the whole stack without contacting any host.
fn plan_offline(g: &GlobalOpts) -> anyhow::Result<i32> {
    let stack = common::load_raw(g)?;
    let comps = registry::enabled_ordered(&stack)?;
    let mut doc = Vec::new();
    for (i, c) in comps.iter().enumerate() {
        let hosts = targets(c.as_ref(), &stack);
        let deps = c.depends_on_for(&stack);
        let roles: Vec<&str> = c.roles().iter().map(|r| r.as_str()).collect();
        let phases: Vec<String> = c
            .phases()
            .iter()
            .map(|p| format!("{} ({})", p.title(), p.hosts().as_str()))
            .collect();
        let stack_lines = c.describe_stack(&stack);
        if g.output == OutputFormat::Table {
            println!(
                "{}. {}{}  [{}]",
                i + 1,
                c.name(),
                if deps.is_empty() {
                    String::new()
                } else {
                    format!(" (after {})", deps.join(", "))
                },
                if !c.on_hosts() {
                    "API only".to_string()
                } else if roles.is_empty() {
                    "all hosts".to_string()
                } else {
                    format!("role {}", roles.join(", "))
                }
            );
            println!("   phases: {}", phases.join(" → "));
            for l in &stack_lines {
                println!("   - {l}");
            }
        }
        let mut per_host = Vec::new();
        for h in &hosts {
            let lines = c.describe(&stack, h);
            if g.output == OutputFormat::Table {
                println!("   {} ({}):", h.hostname, h.address);
                for l in &lines {
                    println!("     - {l}");
                }
            }
            per_host.push(
                serde_json::json!({ "host": h.hostname, "address": h.address, "would": lines }),
            );
        }
        if hosts.is_empty() && c.on_hosts() && g.output == OutputFormat::Table {
            println!("   (no host has role {})", roles.join(", "));
        }
        doc.push(serde_json::json!({ "order": i + 1, "component": c.name(), "depends_on": deps, "roles": roles, "phases": phases, "stack": stack_lines, "hosts": per_host }));
    }
    match g.output {
        OutputFormat::Table => {
            println!(
                "\n{} component(s) in install order; offline: no host was contacted.",
                comps.len()
            );
        }
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&doc)?),
        OutputFormat::Yaml => print!("{}", serde_yaml::to_string(&doc)?),
    }
    Ok(0)
}

/// Plan or install every enabled component in dependency order.
pub async fn converge(g: &GlobalOpts, mode: Mode) -> anyhow::Result<i32> {
    converge_only(g, mode, None).await
}

/// As [`converge`]; with `only`, just that component and what it depends on (transitively),
/// still in the stack's order (`cluster init` = k3s and everything before it).
pub async fn converge_only(g: &GlobalOpts, mode: Mode, only: Option<&str>) -> anyhow::Result<i32> {
    let t0 = Instant::now();
    let setup = common::setup(
        g,
        RunKind {
            command: if mode == Mode::Apply {
                "stack-install"
            } else {
                "stack-plan"
            },
            mutating: mode == Mode::Apply,
            dry_run: mode == Mode::Plan,
            hosts: &[],
        },
    )
    .await?;
    let ctx = setup.ctx.clone();
    let mut comps = registry::enabled_ordered(&ctx.stack)?;
    if let Some(name) = only {
        let target = registry::find(&ctx.stack, name)?;
        if !target.enabled(&ctx.stack) {
            return Err(fail(
                ExitClass::Config,
                format!(
                    "component `{name}` is not enabled in {}",
                    g.config_path().display()
                ),
            ));
        }
        let mut wanted = std::collections::BTreeSet::from([name.to_string()]);
        // The order is topological: walking it backwards sees each component after all
        // that depend on it, so one pass collects the whole closure.
        for c in comps.iter().rev() {
            if wanted.contains(c.name()) {
                wanted.extend(c.depends_on_for(&ctx.stack).iter().map(|d| d.to_string()));
            }
        }
        comps.retain(|c| wanted.contains(c.name()));
    }
    let mut reports: Vec<ComponentReport> = Vec::new();
    let mut not_started = Vec::new();
    let mut after = AfterFailure::default();
    let deps: Vec<Vec<&str>> = comps.iter().map(|c| c.depends_on_for(&ctx.stack)).collect();
    for (i, c) in comps.iter().enumerate() {
        let names: Vec<(&str, &[&str])> = comps[i..]
            .iter()
            .zip(&deps[i..])
            .map(|(c, d)| (c.name(), d.as_slice()))
            .collect();
        match after.next(&names, |q| go_on_after_failure(g, mode, q)) {
            Next::Run => {}
            Next::Skip => {
                not_started.push(c.name().to_string());
                continue;
            }
        }
        let r = engine::run_component(&ctx, c.clone(), mode).await;
        if r.interrupted() {
            after.interrupted = true;
        } else if r.failed() {
            after.failed.insert(c.name().to_string());
        }
        reports.push(r);
    }
    ctx.close().await;
    let code = finish(
        g,
        mode,
        &reports,
        &not_started,
        t0,
        setup.log.path().as_deref(),
    )?;
    Ok(code)
}

/// What the run does after a component failed: components that need it (directly or through
/// another) are not started; the others run only after a yes (a plan always goes on: it
/// changes nothing). An interrupt stops everything.
#[derive(Debug, Default)]
struct AfterFailure {
    /// Failed components and those not started because they need one.
    failed: std::collections::BTreeSet<String>,
    interrupted: bool,
    /// The answer, once asked.
    go_on: Option<bool>,
}

#[derive(Debug, PartialEq, Eq)]
enum Next {
    Run,
    Skip,
}

impl AfterFailure {
    /// `rest[0]` is the component about to run, `rest[1..]` those after it (name, depends_on).
    /// `ask` gets (failed, independent components still to come) and is called at most once
    /// per run, the first time an independent component would run after a failure.
    fn next(
        &mut self,
        rest: &[(&str, &[&str])],
        ask: impl FnOnce(&(Vec<String>, Vec<String>)) -> bool,
    ) -> Next {
        let (name, deps) = rest[0];
        if self.interrupted {
            return Next::Skip;
        }
        if deps.iter().any(|d| self.failed.contains(*d)) {
            self.failed.insert(name.to_string());
            return Next::Skip;
        }
        if self.failed.is_empty() {
            return Next::Run;
        }
        if self.go_on.is_none() {
            self.go_on = Some(ask(&after_names(self, rest)));
        }
        if self.go_on == Some(true) {
            Next::Run
        } else {
            Next::Skip
        }
    }
}

/// The components still to come that need none of the failed ones (for the question).
fn after_names(after: &AfterFailure, rest: &[(&str, &[&str])]) -> (Vec<String>, Vec<String>) {
    let mut blocked = after.failed.clone();
    let mut independent = Vec::new();
    for (name, deps) in rest {
        if deps.iter().any(|d| blocked.contains(*d)) {
            blocked.insert(name.to_string());
        } else {
            independent.push(name.to_string());
        }
    }
    (after.failed.iter().cloned().collect(), independent)
}

/// Go on with components that do not depend on a failed one? A plan: yes (read-only).
/// `--yes`: yes. A terminal: ask. Otherwise (CI without `--yes`): no.
fn go_on_after_failure(
    g: &GlobalOpts,
    mode: Mode,
    (failed, independent): &(Vec<String>, Vec<String>),
) -> bool {
    use std::io::{BufRead, IsTerminal, Write};
    if matches!(mode, Mode::Plan | Mode::UninstallPlan) || g.yes {
        return true;
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return false;
    }
    eprint!(
        "{} failed (and what needs it is not started). Go on with {}, which do not depend on it? [y/N] ",
        failed.join(", "),
        independent.join(", ")
    );
    std::io::stderr().flush().ok();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "y" | "Y" | "yes" | "Yes")
}

/// Print the result of a plan/install/uninstall and return the exit code for it.
pub fn finish(
    g: &GlobalOpts,
    mode: Mode,
    reports: &[ComponentReport],
    not_started: &[String],
    t0: Instant,
    log: Option<&std::path::Path>,
) -> anyhow::Result<i32> {
    let planned = matches!(mode, Mode::Plan | Mode::UninstallPlan);
    let changes: usize = reports.iter().map(|r| r.changes()).sum();
    let failed: Vec<String> = reports
        .iter()
        .flat_map(|r| {
            r.host_reports().filter(|h| h.failed()).map(move |h| {
                format!(
                    "{} on {}: {}",
                    r.component,
                    h.host,
                    h.error.clone().unwrap_or_default()
                )
            })
        })
        .chain(
            reports
                .iter()
                .filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.component))),
        )
        .collect();
    let interrupted = reports.iter().any(|r| r.interrupted());
    match g.output {
        OutputFormat::Json | OutputFormat::Yaml => {
            let doc = serde_json::json!({
                "mode": format!("{mode:?}").to_lowercase(),
                "changes": changes,
                "components": reports,
                "not_started": not_started,
                "failed": failed,
                "interrupted": interrupted,
                "seconds": t0.elapsed().as_secs_f64(),
                "log": log,
            });
            if g.output == OutputFormat::Json {
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                print!("{}", serde_yaml::to_string(&doc)?);
            }
        }
        OutputFormat::Table => {
            if planned {
                for r in reports {
                    let busy = r
                        .phases
                        .iter()
                        .filter(|p| p.hosts.iter().any(|h| !h.steps.is_empty()))
                        .count();
                    for p in &r.phases {
                        let shown: Vec<_> = p
                            .hosts
                            .iter()
                            .filter(|h| !h.steps.is_empty() || (h.error.is_some() && !h.is_api()))
                            .collect();
                        if busy > 1 && !shown.is_empty() {
                            println!("{} · {} ({}):", r.component, p.title, p.on.as_str());
                        }
                        for h in shown {
                            if h.is_api() {
                                println!("{}:", r.component);
                            } else {
                                println!("{} on {}:", r.component, h.host);
                            }
                            for s in &h.steps {
                                match s.state {
                                    StepState::Cannot => println!(
                                        "  ! cannot: {} ({})",
                                        s.description,
                                        s.detail.clone().unwrap_or_default()
                                    ),
                                    _ if !s.mutates => {
                                        println!("    then check: {}", s.description)
                                    }
                                    _ => println!("  + {}", s.description),
                                }
                                if let Some(d) = &s.diff {
                                    for l in d.lines() {
                                        println!("      {l}");
                                    }
                                }
                            }
                            if let Some(e) = &h.error {
                                println!("  x {e}");
                            }
                        }
                    }
                    for a in &r.stack_actions {
                        println!("{}: + {a}", r.component);
                    }
                }
            } else {
                let mut rows = Vec::new();
                for r in reports {
                    for h in r.merged_hosts() {
                        let cannot = h.count(StepState::Cannot);
                        let done = h
                            .steps
                            .iter()
                            .filter(|s| s.mutates && s.state == StepState::Done)
                            .count();
                        rows.push(vec![
                            r.component.clone(),
                            if h.is_api() {
                                "-".into()
                            } else {
                                h.host.clone()
                            },
                            serde_json::to_value(h.outcome)
                                .ok()
                                .and_then(|v| v.as_str().map(str::to_string))
                                .unwrap_or_default(),
                            if done > 0 {
                                done.to_string()
                            } else {
                                "-".into()
                            },
                            if cannot > 0 {
                                cannot.to_string()
                            } else {
                                "-".into()
                            },
                            format!("{:.1}s", h.ms as f64 / 1000.0),
                            h.error.clone().unwrap_or_default(),
                        ]);
                    }
                }
                if !rows.is_empty() {
                    println!(
                        "{}",
                        output::table(
                            &[
                                "COMPONENT",
                                "HOST",
                                "RESULT",
                                "CHANGES",
                                "NOT POSSIBLE",
                                "TIME",
                                "ERROR"
                            ],
                            rows
                        )
                    );
                }
                for r in reports {
                    for a in &r.stack_actions {
                        println!("{}: {a}", r.component);
                    }
                }
            }
            if !not_started.is_empty() {
                println!(
                    "not started (it needs a component that failed, or the run stopped after a failure): {}",
                    not_started.join(", ")
                );
            }
            let secs = t0.elapsed().as_secs_f64();
            if failed.is_empty() && !interrupted {
                if changes == 0 {
                    println!("No changes. ({secs:.2}s)");
                } else if planned {
                    println!("Plan: {changes} change(s). Run `foundry stack install` to apply. ({secs:.2}s)");
                } else {
                    println!("Applied {changes} change(s). ({secs:.2}s)");
                }
            }
            if let Some(l) = log {
                if !g.quiet {
                    eprintln!("run log: {}", l.display());
                }
            }
        }
    }
    if interrupted {
        return Err(fail(
            ExitClass::Interrupted,
            "interrupted: running steps finished, no new ones were started; re-run to continue",
        ));
    }
    if !failed.is_empty() {
        let ok_hosts = reports
            .iter()
            .flat_map(|r| r.host_reports())
            .filter(|h| !h.failed())
            .count();
        let class = if ok_hosts > 0 {
            ExitClass::Partial
        } else {
            ExitClass::StepFailed
        };
        let mut msg = format!("{} failure(s):\n  {}", failed.len(), failed.join("\n  "));
        if !not_started.is_empty() {
            msg.push_str(&format!("\nnot started: {}", not_started.join(", ")));
        }
        msg.push_str("\nfixed the cause? re-run: finished steps are detected and skipped");
        return Err(fail(class, msg));
    }
    Ok(0)
}

/// Component × host status; exit 7 when anything is not installed or unhealthy.
pub async fn status(g: &GlobalOpts) -> anyhow::Result<i32> {
    let setup = common::setup(g, RunKind::read("stack-status")).await?;
    let comps = registry::enabled_ordered(&setup.ctx.stack)?;
    report_status(g, &setup.ctx, comps, "component/host pair(s)").await
}

/// Status of components on their hosts plus their stack-level rows, one table (or JSON/YAML
/// list); exit 7 when anything is not installed or unhealthy. Status only reads, so all
/// components are asked at once.
pub async fn report_status(
    g: &GlobalOpts,
    ctx: &Arc<RunCtx>,
    comps: Vec<Arc<dyn crate::component::Component>>,
    what: &str,
) -> anyhow::Result<i32> {
    let per_component = futures::future::join_all(comps.iter().map(|c| async {
        let hosts = engine::status(ctx, c.clone()).await;
        let stack_rows = c.stack_status(ctx).await;
        (c.name().to_string(), hosts, stack_rows)
    }))
    .await;
    let mut rows = Vec::new();
    let mut doc = Vec::new();
    let mut bad = 0;
    let mut push = |comp: &str, host: &str, s: Result<HostStatus, String>, needs_install: bool| {
        let (installed, version, healthy, message) = match s {
            Ok(s) => (Some(s.installed), s.version, s.healthy, s.message),
            Err(e) => (None, None, false, e),
        };
        if !healthy || (needs_install && installed != Some(true)) {
            bad += 1;
        }
        rows.push(vec![
            comp.to_string(),
            host.to_string(),
            installed.map(yes_no).unwrap_or_else(|| "?".into()),
            version.clone().unwrap_or_else(|| "-".into()),
            yes_no(healthy),
            message.clone(),
        ]);
        doc.push(serde_json::json!({"component": comp, "host": host, "installed": installed, "version": version, "healthy": healthy, "message": message}));
    };
    for (comp, hosts, stack_rows) in per_component {
        for (host, r) in hosts {
            push(&comp, &host, r, true);
        }
        for (label, s) in stack_rows {
            push(&comp, &label, Ok(s), false);
        }
    }
    ctx.close().await;
    output::render(
        g.output,
        &[
            "COMPONENT",
            "HOST",
            "INSTALLED",
            "VERSION",
            "HEALTHY",
            "MESSAGE",
        ],
        rows,
        &doc,
    )?;
    if bad > 0 {
        return Err(fail(
            ExitClass::Unhealthy,
            format!("{bad} {what} not installed or unhealthy"),
        ));
    }
    Ok(0)
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

#[cfg(test)]
mod tests {
    use super::{AfterFailure, Next};

    /// The design's order plus a user service that needs only host-prep.
    const STACK: &[(&str, &[&str])] = &[
        ("host-prep", &[]),
        ("openbao", &["host-prep"]),
        ("service/web", &["host-prep"]),
        ("zot", &["host-prep", "openbao"]),
        ("k3s", &["host-prep", "openbao", "zot"]),
        ("contour", &["k3s"]),
        ("extra", &[]),
    ];

    /// Runs the loop of `converge_only` with `fails` failing; returns (ran, asked with).
    /// (failed, independent components still to come), as the question gets them.
    type Question = (Vec<String>, Vec<String>);

    fn run(fails: &str, answer: bool) -> (Vec<&'static str>, Vec<Question>) {
        let mut after = AfterFailure::default();
        let (mut ran, mut asked) = (Vec::new(), Vec::new());
        for i in 0..STACK.len() {
            let next = after.next(&STACK[i..], |q| {
                asked.push(q.clone());
                answer
            });
            if next == Next::Run {
                ran.push(STACK[i].0);
                if STACK[i].0 == fails {
                    after.failed.insert(fails.to_string());
                }
            }
        }
        (ran, asked)
    }

    #[test]
    fn dependents_of_a_failure_never_run_and_the_others_only_after_a_yes() {
        let (ran, asked) = run("openbao", true);
        assert_eq!(ran, ["host-prep", "openbao", "service/web", "extra"]);
        // asked once, naming the failed one and exactly the independent ones still to come
        assert_eq!(
            asked,
            [(
                vec!["openbao".to_string()],
                vec!["service/web".to_string(), "extra".to_string()]
            )]
        );
        let (ran, asked) = run("openbao", false);
        assert_eq!(ran, ["host-prep", "openbao"]);
        assert_eq!(asked.len(), 1);
        // no failure: never asked
        let (ran, asked) = run("none", false);
        assert_eq!(ran.len(), STACK.len());
        assert!(asked.is_empty());
        // the last component fails: nothing left to ask about
        let (_, asked) = run("extra", false);
        assert!(asked.is_empty());
    }

    #[test]
    fn an_interrupt_stops_everything() {
        let mut after = AfterFailure {
            interrupted: true,
            ..Default::default()
        };
        assert_eq!(after.next(&STACK[6..], |_| true), Next::Skip);
    }
}
