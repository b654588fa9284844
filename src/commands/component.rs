//! `foundry component list|status|install|uninstall`.

use super::common::RunKind;
use super::{common, stack};
use crate::cli::{ComponentCmd, GlobalOpts};
use crate::component::engine::{self, Mode};
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
            one(g, &name, mode, &hosts).await
        }
        ComponentCmd::Uninstall {
            name,
            hosts,
            dry_run: true,
        } => one(g, &name, Mode::UninstallPlan, &hosts).await,
        ComponentCmd::Uninstall {
            name,
            hosts,
            dry_run: false,
        } => {
            confirm_uninstall(g, &name)?;
            one(g, &name, Mode::Uninstall, &hosts).await
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
/// dependencies are not installed implicitly; a missing one is named.
async fn one(g: &GlobalOpts, name: &str, mode: Mode, hosts: &[String]) -> anyhow::Result<i32> {
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
    let report = engine::run_component(&ctx, c, mode).await;
    ctx.close().await;
    stack::finish(g, mode, &[report], &[], t0, setup.log.path())
}

/// Removing a component removes its data on its hosts: `--yes`, or the component's name typed
/// on a terminal. Without a terminal and without `--yes` nothing is contacted.
fn confirm_uninstall(g: &GlobalOpts, name: &str) -> anyhow::Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    if g.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(fail(
            ExitClass::Usage,
            format!("uninstalling {name} stops it and deletes its files and data on its hosts; see the steps with `foundry component uninstall {name} --dry-run`, then run again with --yes (no terminal to ask on)"),
        ));
    }
    eprint!(
        "This stops {name} and deletes its files and data on its hosts. Type `{name}` to go on: "
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != name {
        return Err(fail(
            ExitClass::Usage,
            format!("not confirmed: {name} left as it is"),
        ));
    }
    Ok(())
}
