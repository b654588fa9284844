//! `foundry cluster node add HOST [--dry-run]`: host-prep and the K3s join for that host only
//! (a host filter: no other host is changed), as a server (one at a time, quorum-safe) or an
//! agent, waiting until its Node is Ready. The checks first (`crate::cluster::add`).

use super::common::{self, RunKind};
use super::stack;
use crate::cli::GlobalOpts;
use crate::cluster::add::{self, AddCheck};
use crate::component::engine::{self, Mode};
use crate::component::registry;
use crate::error::{fail, ExitClass};

pub async fn add(g: &GlobalOpts, host: &str, dry_run: bool) -> anyhow::Result<i32> {
    let t0 = std::time::Instant::now();
    let file = g.config_path().display().to_string();
    let loaded = common::load_checked(g)?;
    let stack_cfg = &loaded.config;
    if !stack_cfg.components.k3s.as_ref().is_some_and(|k| k.enabled) {
        return Err(fail(
            ExitClass::Config,
            format!("K3s is not enabled in {file}"),
        ));
    }
    match add::check(stack_cfg, host) {
        AddCheck::NotInStack => {
            return Err(fail(
                ExitClass::Usage,
                format!("{host} is not in {file}: add it first with `foundry host add {host} --address ADDRESS --roles cluster-control-plane` (or cluster-worker)"),
            ))
        }
        AddCheck::NoClusterRole => {
            let i = stack_cfg.hosts.iter().position(|h| h.hostname == host).unwrap_or(0);
            return Err(fail(
                ExitClass::Usage,
                format!("{host} has no cluster role in {file}: give it one, e.g. `foundry config set 'hosts[{i}].roles' '[cluster-worker]'`"),
            ));
        }
        AddCheck::ReDecides(changes) => {
            let v: Vec<String> = changes
                .iter()
                .map(|(h, a, b)| format!("{h} from {} to {}", a.as_str(), b.as_str()))
                .collect();
            return Err(fail(
                ExitClass::Config,
                format!("adding {host} re-decides the roles by count: {}; pin the existing hosts' roles (cluster-control-plane / cluster-worker) in {file} first", v.join(", ")),
            ));
        }
        AddCheck::Ok { role, even } => {
            if even && !g.yes && !dry_run {
                return Err(fail(
                    ExitClass::Usage,
                    format!("adding {host} as a {} makes the number of servers even, which tolerates no more failures than one server fewer; pass --yes to add it anyway, or add it as a cluster-worker", role.as_str()),
                ));
            }
            if !g.quiet {
                eprintln!("{host} joins as {}", role.as_str());
            }
        }
    }
    drop(loaded);
    let mode = if dry_run { Mode::Plan } else { Mode::Apply };
    let hosts = [host.to_string()];
    let setup = common::setup(
        g,
        RunKind {
            command: "cluster-node-add",
            mutating: !dry_run,
            dry_run,
            hosts: &hosts,
        },
    )
    .await?;
    let ctx = setup.ctx.clone();
    let mut reports = Vec::new();
    let mut not_started = Vec::new();
    for name in ["host-prep", crate::component::k3s::phases::NAME] {
        let c = registry::find(&ctx.stack, name)?;
        if reports
            .iter()
            .any(|r: &crate::component::report::ComponentReport| r.failed() || r.interrupted())
        {
            not_started.push(name.to_string());
            continue;
        }
        reports.push(engine::run_component(&ctx, c, mode).await);
    }
    ctx.close().await;
    stack::finish(
        g,
        mode,
        &reports,
        &not_started,
        t0,
        setup.log.path().as_deref(),
    )
}
