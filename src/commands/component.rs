//! `foundry component list|status|install|uninstall`.

use super::common::RunKind;
use super::{common, stack};
use crate::cli::{ComponentCmd, GlobalOpts};
use crate::component::engine::{self, Mode};
use crate::component::report::ComponentReport;
use crate::component::{registry, targets};
use crate::error::{fail, ExitClass};
use crate::output;
use std::time::Instant;

pub async fn run(g: &GlobalOpts, cmd: ComponentCmd) -> anyhow::Result<i32> {
    match cmd {
        ComponentCmd::List => list(g).await,
        ComponentCmd::Status { name, hosts } => status(g, &name, &hosts).await,
        ComponentCmd::Install {
            name,
            dry_run,
            hosts,
        } => {
            let mode = if dry_run { Mode::Plan } else { Mode::Apply };
            one(g, &name, mode, &hosts, false).await
        }
        ComponentCmd::Uninstall {
            name,
            hosts,
            dry_run: true,
            purge,
        } => one(g, &name, Mode::UninstallPlan, &hosts, purge).await,
        ComponentCmd::Uninstall {
            name,
            hosts,
            dry_run: false,
            purge,
        } => {
            confirm_uninstall(g, &name)?;
            one(g, &name, Mode::Uninstall, &hosts, purge).await
        }
    }
}

/// Name, dependencies, target roles, enabled, and where it is installed (asks the hosts; an
/// unreachable host shows as `?host`).
async fn list(g: &GlobalOpts) -> anyhow::Result<i32> {
    let setup = common::setup(g, RunKind::read("component-list")).await?;
    let ctx = setup.ctx.clone();
    let mut rows = Vec::new();
    let mut doc = Vec::new();
    for c in registry::ordered(&ctx.stack)? {
        let enabled = c.enabled(&ctx.stack);
        let mut installed = Vec::new();
        if enabled {
            for (host, r) in engine::status(&ctx, c.clone()).await {
                match r {
                    Ok(s) if s.installed => installed.push(host),
                    Ok(_) => {}
                    Err(_) => installed.push(format!("?{host}")),
                }
            }
        }
        let roles: Vec<&str> = c.roles().iter().map(|r| r.as_str()).collect();
        let roles_s = if roles.is_empty() {
            "all".to_string()
        } else {
            roles.join(",")
        };
        let n_targets = targets(c.as_ref(), &ctx.stack).len();
        rows.push(vec![
            c.name().to_string(),
            if c.depends_on().is_empty() {
                "-".into()
            } else {
                c.depends_on().join(",")
            },
            format!("{roles_s} ({n_targets} host(s))"),
            if enabled { "yes" } else { "no" }.into(),
            if installed.is_empty() {
                "-".into()
            } else {
                installed.join(",")
            },
        ]);
        doc.push(serde_json::json!({"name": c.name(), "depends_on": c.depends_on(), "roles": roles, "enabled": enabled, "installed_on": installed}));
    }
    ctx.close().await;
    output::render(
        g.output,
        &[
            "COMPONENT",
            "DEPENDS ON",
            "TARGETS",
            "ENABLED",
            "INSTALLED ON",
        ],
        rows,
        &doc,
    )?;
    Ok(0)
}

async fn status(g: &GlobalOpts, name: &str, hosts: &[String]) -> anyhow::Result<i32> {
    let setup = common::setup(
        g,
        RunKind {
            hosts,
            ..RunKind::read("component-status")
        },
    )
    .await?;
    let c = registry::find(&setup.ctx.stack, name)?;
    stack::report_status(g, &setup.ctx, vec![c], &format!("{name} host(s)")).await
}

/// Install (converge) or uninstall one component, on all its hosts or only on `hosts`. Its
/// dependencies are not installed implicitly; a missing one is named. `purge` (uninstall only):
/// also delete what the component keeps in OpenBao and on this machine.
async fn one(
    g: &GlobalOpts,
    name: &str,
    mode: Mode,
    hosts: &[String],
    purge: bool,
) -> anyhow::Result<i32> {
    let t0 = Instant::now();
    let command = format!(
        "component-{}-{name}",
        if mode == Mode::Uninstall {
            "uninstall"
        } else {
            "install"
        }
    );
    let setup = common::setup(
        g,
        RunKind {
            command: &command,
            mutating: mode != Mode::Plan,
            dry_run: mode == Mode::Plan,
            hosts,
        },
    )
    .await?;
    let ctx = setup.ctx.clone();
    let c = registry::find(&ctx.stack, name)?;
    if !c.enabled(&ctx.stack) && mode != Mode::Uninstall {
        return Err(fail(
            ExitClass::Config,
            format!(
                "component `{name}` is not enabled in {}",
                g.config_path().display()
            ),
        ));
    }
    let mut report = engine::run_component(&ctx, c.clone(), mode).await;
    if matches!(mode, Mode::Uninstall | Mode::UninstallPlan) {
        purge_or_keep(&ctx, c.as_ref(), mode, purge, hosts, &mut report).await;
    }
    ctx.close().await;
    stack::finish(g, mode, &[report], &[], t0, setup.log.path())
}

/// After an uninstall: what the component keeps in OpenBao (and its local files) is deleted with
/// `--purge`, only once every host is done and only for a whole-component uninstall (a `--host`
/// run leaves other hosts that still use the tokens); otherwise the summary says what is kept.
async fn purge_or_keep(
    ctx: &std::sync::Arc<crate::component::RunCtx>,
    c: &dyn crate::component::Component,
    mode: Mode,
    purge: bool,
    hosts: &[String],
    report: &mut ComponentReport,
) {
    let stored = c.stored_secrets();
    let files = c.local_files(&ctx.stack);
    let instance = &ctx.instance;
    if !purge || !hosts.is_empty() {
        let kept: Vec<String> = stored
            .iter()
            .map(|(p, what)| format!("{instance}/{p} ({what})"))
            .collect();
        if !kept.is_empty() {
            let why = if purge {
                "--purge is ignored with --host"
            } else {
                "--purge deletes it"
            };
            report
                .stack_actions
                .push(format!("kept in OpenBao: {}; {why}", kept.join(", ")));
        }
        return;
    }
    if mode == Mode::UninstallPlan {
        for (p, what) in stored {
            report
                .stack_actions
                .push(format!("would delete OpenBao {instance}/{p} ({what})"));
        }
        for f in files.iter().filter(|f| f.exists()) {
            report
                .stack_actions
                .push(format!("would delete {}", f.display()));
        }
        return;
    }
    if report.failed() || report.interrupted() {
        report
            .stack_actions
            .push("nothing purged: the uninstall did not finish; run it again".into());
        return;
    }
    if !stored.is_empty() {
        match ctx.openbao().await {
            Ok(store) => {
                for (p, what) in stored {
                    match store.delete(p).await {
                        Ok(()) => report
                            .stack_actions
                            .push(format!("deleted OpenBao {instance}/{p} ({what})")),
                        Err(e) => {
                            report.error = Some(format!("deleting OpenBao {instance}/{p}: {e:#}"))
                        }
                    }
                }
            }
            Err(e) => report.error = Some(format!("purge: {e:#}")),
        }
    }
    for f in files {
        match std::fs::remove_file(&f) {
            Ok(()) => report
                .stack_actions
                .push(format!("deleted {}", f.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => report.error = Some(format!("deleting {}: {e}", f.display())),
        }
    }
}

/// Removing a component removes its data on its hosts: `--yes`, or the component's name typed
/// on a terminal. Without a terminal and without `--yes` nothing is contacted.
fn confirm_uninstall(g: &GlobalOpts, name: &str) -> anyhow::Result<()> {
    super::prompt::confirm_typed(
        g.yes,
        name,
        &format!("This stops {name} and deletes its files and data on its hosts."),
        format!("uninstalling {name} stops it and deletes its files and data on its hosts; see the steps with `foundry component uninstall {name} --dry-run`, then run again with --yes (no terminal to ask on)"),
        format!("not confirmed: {name} left as it is"),
    )
}
