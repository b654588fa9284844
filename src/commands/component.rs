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
        ComponentCmd::List { status } => list(g, status).await,
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

/// Without a stack file: every component foundry can install. With one: each component's
/// dependencies, the hosts it targets and whether it is enabled, read from the file alone (no
/// secret resolved, no host contacted); `--status` also asks the hosts where it is installed,
/// and names each unreachable host with its cause once.
async fn list(g: &GlobalOpts, with_status: bool) -> anyhow::Result<i32> {
    if g.config.is_none() && !g.config_path().exists() {
        return catalogue(g, with_status);
    }
    let loaded = common::load_checked(g)?;
    let stack = &loaded.config;
    let comps = registry::ordered(stack)?;
    let setup = if with_status {
        Some(common::setup_loaded(
            g,
            RunKind::read("component-list"),
            loaded.clone(),
        )?)
    } else {
        None
    };
    let mut rows = Vec::new();
    let mut doc = Vec::new();
    let mut unreachable: Vec<(String, String)> = Vec::new();
    for c in comps {
        let enabled = c.enabled(stack);
        let hosts: Vec<String> = targets(c.as_ref(), stack)
            .iter()
            .map(|h| h.hostname.clone())
            .collect();
        let runs_on = if !c.on_hosts() {
            "API".to_string()
        } else if hosts.is_empty() {
            "-".to_string()
        } else {
            hosts.join(",")
        };
        let mut row = vec![
            c.name().to_string(),
            dash_join(&c.depends_on_for(stack)),
            runs_on,
            if enabled { "yes" } else { "no" }.into(),
        ];
        let mut entry = serde_json::json!({
            "name": c.name(), "summary": c.summary(), "depends_on": c.depends_on_for(stack),
            "on_hosts": c.on_hosts(), "hosts": hosts, "enabled": enabled,
        });
        if let Some(setup) = &setup {
            let (mut installed, mut unknown) = (Vec::new(), Vec::new());
            if enabled {
                for (host, r) in engine::status(&setup.ctx, c.clone()).await {
                    match r {
                        Ok(s) if s.installed => installed.push(host),
                        Ok(_) => {}
                        Err(e) => {
                            if !unreachable.iter().any(|(h, _)| *h == host) {
                                unreachable.push((host.clone(), e));
                            }
                            unknown.push(host);
                        }
                    }
                }
            }
            let mut cell = dash_join(&installed);
            if !unknown.is_empty() {
                cell = format!("{cell} (unknown: {})", unknown.join(","));
            }
            row.push(cell);
            entry["installed_on"] = serde_json::json!(installed);
            entry["unknown_on"] = serde_json::json!(unknown);
        }
        rows.push(row);
        doc.push(entry);
    }
    if let Some(setup) = &setup {
        setup.ctx.close().await;
    }
    let mut header = vec!["COMPONENT", "DEPENDS ON", "HOSTS", "ENABLED"];
    if with_status {
        header.push("INSTALLED ON");
    }
    if with_status && g.output != crate::cli::OutputFormat::Table {
        let errs: Vec<_> = unreachable
            .iter()
            .map(|(h, e)| serde_json::json!({"host": h, "error": e}))
            .collect();
        let doc = serde_json::json!({"components": doc, "unreachable": errs});
        output::render(g.output, &header, rows, &doc)?;
    } else {
        output::render(g.output, &header, rows, &doc)?;
    }
    for (_, e) in &unreachable {
        eprintln!("status unknown: {e}");
    }
    Ok(if unreachable.is_empty() { 0 } else { 4 })
}

/// No stack file yet: what foundry can install, in install order.
fn catalogue(g: &GlobalOpts, with_status: bool) -> anyhow::Result<i32> {
    if with_status {
        return Err(fail(
            ExitClass::Config,
            format!(
                "--status needs a stack file; none at {} (create one with `foundry config init` or pass --config)",
                g.config_path().display()
            ),
        ));
    }
    let mut rows = Vec::new();
    let mut doc = Vec::new();
    for c in registry::builtin_ordered()? {
        rows.push(vec![
            c.name().to_string(),
            dash_join(c.depends_on()),
            c.summary().to_string(),
        ]);
        doc.push(serde_json::json!({"name": c.name(), "depends_on": c.depends_on(), "summary": c.summary()}));
    }
    output::render(
        g.output,
        &["COMPONENT", "DEPENDS ON", "WHAT IT IS"],
        rows,
        &doc,
    )?;
    if g.output == crate::cli::OutputFormat::Table && !g.quiet {
        eprintln!(
            "(no stack file at {}: these are the components foundry can install; `foundry config init` writes one)",
            g.config_path().display()
        );
    }
    Ok(0)
}

fn dash_join<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items
            .iter()
            .map(|s| s.as_ref())
            .collect::<Vec<_>>()
            .join(",")
    }
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
    stack::finish(g, mode, &[report], &[], t0, setup.log.path().as_deref())
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

/// What `component uninstall NAME` removes and what it keeps (each component's
/// `uninstall_phases`; docs/installation.md lists the same).
fn uninstall_effect(name: &str) -> &'static str {
    match name {
        "openbao" => "stops OpenBao and removes its systemd unit; its config and data directories (the data holds every secret) are kept",
        "zot" => "stops Zot and removes its systemd unit; its config and storage directories are kept",
        "k3s" => "stops K3s and deletes its unit, binary, config and data directory (etcd data included) on its hosts; the tokens and kubeconfig stay in OpenBao unless --purge",
        "contour" | "cert-manager" => "deletes its HelmChart from the cluster and waits for the release to be removed",
        "host-prep" => "removes foundry's kernel module and sysctl files from the hosts; packages, swap and time sync are left as they are",
        "storage" => "changes nothing: foundry never deletes a TrueNAS dataset or share",
        n if n.starts_with("service/") => "stops the service and removes its systemd unit; its files and data directories are kept",
        _ => "stops it and removes what it installed on its hosts",
    }
}

/// Uninstalling needs `--yes`, or the component's name typed on a terminal. Without a terminal
/// and without `--yes` nothing is contacted.
fn confirm_uninstall(g: &GlobalOpts, name: &str) -> anyhow::Result<()> {
    let effect = uninstall_effect(name);
    super::prompt::confirm_typed(
        g.yes,
        name,
        &format!("Uninstalling {name} {effect}."),
        format!("uninstalling {name} {effect}; see the steps with `foundry component uninstall {name} --dry-run`, then run again with --yes (no terminal to ask on)"),
        format!("not confirmed: {name} left as it is"),
    )
}
