//! `foundry cluster status | node list | node remove`: thin rendering over `crate::cluster`.
//! The API client comes from `--kubeconfig` (or `FOUNDRY_KUBECONFIG`), else from the run's
//! usual sources (`component::cluster_api`: OpenBao, then ~/.foundry/<cluster>/kubeconfig).

use super::common::{self, RunKind, RunSetup};
use crate::cli::{ClusterCmd, GlobalOpts, KubeArgs, NodeCmd, NodeRemoveArgs, OutputFormat};
use crate::cluster::inventory::{Presence, Row, StackRole};
use crate::cluster::remove::host as host_part;
use crate::cluster::remove::{self, PlanError, RemoveOptions};
use crate::cluster::status;
use crate::cluster::view::age_text;
use crate::component::cluster_api;
use crate::error::{fail, ExitClass};
use crate::k8s::{Kube, KubeError};
use crate::output;
use std::time::Duration;

pub async fn run(g: &GlobalOpts, cmd: ClusterCmd) -> anyhow::Result<i32> {
    match cmd {
        ClusterCmd::Init { dry_run } => super::cluster_k3s::init(g, dry_run).await,
        ClusterCmd::Kubeconfig { merge, force } => {
            super::cluster_k3s::kubeconfig(g, merge, force).await
        }
        ClusterCmd::Status(k) => status_cmd(g, &k).await,
        ClusterCmd::Backup { name } => super::cluster_backup::backup(g, name).await,
        ClusterCmd::Restore { file, dry_run } => {
            super::cluster_backup::restore(g, &file, dry_run).await
        }
        ClusterCmd::Upgrade(a) => super::cluster_k3s::upgrade(g, &a).await,
        ClusterCmd::Node(NodeCmd::List(k)) => list_cmd(g, &k).await,
        ClusterCmd::Node(NodeCmd::Remove(a)) => remove_cmd(g, &a).await,
        ClusterCmd::Node(NodeCmd::Add { host, dry_run }) => {
            super::cluster_node_add::add(g, &host, dry_run).await
        }
    }
}

async fn client(run: &RunSetup, k: &KubeArgs) -> anyhow::Result<Kube> {
    match &k.kubeconfig {
        Some(p) => Kube::from_path(p, run.log.clone(), cluster_api::REQUEST_TIMEOUT)
            .await
            .map_err(kube_fail),
        None => cluster_api::client(&run.ctx).await,
    }
}

fn kube_fail(e: KubeError) -> anyhow::Error {
    fail(e.exit_class(), e.to_string())
}

fn dash(s: Option<String>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or_else(|| "-".into())
}

fn node_rows(rows: &[Row]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            let n = r.node.as_ref();
            vec![
                r.name.clone(),
                dash(r.address.clone()),
                match (n.map(|n| n.server), r.stack_role) {
                    (Some(true), _) | (None, Some(StackRole::Server)) => "server".into(),
                    _ => "agent".into(),
                },
                n.map(|n| n.ready.as_str().to_string())
                    .unwrap_or_else(|| "-".into()),
                dash(n.map(|n| n.kubelet_version.clone())),
                n.map(|n| age_text(n.age_seconds))
                    .unwrap_or_else(|| "-".into()),
                dash(n.and_then(|n| n.etcd_member.clone())),
                match r.presence {
                    Presence::Both => String::new(),
                    Presence::OnlyInStack => "in stack.yaml, not in the cluster".into(),
                    Presence::OnlyInCluster => "in the cluster, not in stack.yaml".into(),
                },
            ]
        })
        .collect()
}

const NODE_HEADER: [&str; 8] = [
    "NAME",
    "HOST",
    "ROLE",
    "READY",
    "VERSION",
    "AGE",
    "ETCD MEMBER",
    "NOTE",
];

async fn status_cmd(g: &GlobalOpts, k: &KubeArgs) -> anyhow::Result<i32> {
    let run = common::setup(g, RunKind::read("cluster-status")).await?;
    let kube = client(&run, k).await?;
    let st = status::gather(&kube, &run.ctx.stack)
        .await
        .map_err(kube_fail)?;
    if g.output == OutputFormat::Table {
        println!(
            "API {} (VIP {}): {}",
            st.api.endpoint,
            st.api.vip,
            match (st.api.answering, st.api.ready) {
                (false, _) => "NOT ANSWERING".to_string(),
                (true, true) => "ready".to_string(),
                (true, false) => format!("not ready ({})", st.api.failing_checks.join(", ")),
            }
        );
    }
    output::render(g.output, &NODE_HEADER, node_rows(&st.nodes), &st)?;
    if g.output == OutputFormat::Table {
        for p in &st.problems {
            println!("! {p}");
        }
    }
    if st.healthy {
        Ok(0)
    } else {
        Err(fail(
            ExitClass::Unhealthy,
            format!(
                "cluster {} is unhealthy: {}",
                st.cluster,
                st.problems.join("; ")
            ),
        ))
    }
}

async fn list_cmd(g: &GlobalOpts, k: &KubeArgs) -> anyhow::Result<i32> {
    let run = common::setup(g, RunKind::read("cluster-node-list")).await?;
    let kube = client(&run, k).await?;
    let rows = crate::cluster::inventory::list(&kube, &run.ctx.stack)
        .await
        .map_err(kube_fail)?;
    output::render(g.output, &NODE_HEADER, node_rows(&rows), &rows)?;
    Ok(0)
}

/// `--yes`, or a typed `yes` on a terminal; no terminal and no `--yes` refuses.
fn confirm(g: &GlobalOpts, node: &str) -> anyhow::Result<()> {
    super::prompt::confirm_typed(
        g.yes,
        "yes",
        &format!("Remove node {node} from the cluster?"),
        format!("removing node {node} needs confirmation and standard input is not a terminal; pass --yes (or --dry-run to only see the steps)"),
        format!("node {node} not removed: not confirmed"),
    )
}

async fn remove_cmd(g: &GlobalOpts, a: &NodeRemoveArgs) -> anyhow::Result<i32> {
    let run = common::setup(
        g,
        RunKind {
            command: "cluster-node-remove",
            mutating: !a.dry_run,
            dry_run: a.dry_run,
            hosts: &[],
        },
    )
    .await?;
    let kube = client(&run, &a.kube).await?;
    let opts = RemoveOptions {
        timeout: Duration::from_secs(a.timeout),
        delete_emptydir_data: a.delete_emptydir_data,
        force: a.force,
    };
    let plan = remove::plan(&kube, &a.host, &opts)
        .await
        .map_err(|e| match e {
            PlanError::Api(e) => kube_fail(e),
            e => fail(ExitClass::General, e.to_string()),
        })?;
    // The host part is planned up front too: the dry run and the confirmation show it all.
    let file = g.config_path().display().to_string();
    let host_state = host_part::probe(&run.ctx, &a.host).await;
    let host_lines = host_part::describe(&a.host, &host_state, &run.ctx.stack, &file);
    let role_edits = host_part::role_edits(&run.ctx.stack, &a.host);
    let host_work = !role_edits.is_empty()
        || matches!(&host_state, host_part::HostState::Reachable(l) if !l.is_empty());
    if !plan.present {
        eprintln!(
            "node {} is not in the cluster: nothing to do through the API",
            a.host
        );
        if !host_work {
            run.ctx.close().await;
            return Ok(0);
        }
    }
    for w in &plan.warnings {
        g.warn(w);
    }
    if g.output == OutputFormat::Table || a.dry_run {
        let verb = if a.dry_run { "would" } else { "will" };
        println!("Removing node {} {verb}:", plan.node);
        let all = plan
            .steps
            .iter()
            .map(|s| s.to_string())
            .chain(host_lines.iter().cloned());
        for (i, s) in all.enumerate() {
            println!("  {}. {s}", i + 1);
        }
        for (p, why) in &plan.skipped {
            println!("  (skipped: {p}, {})", why.as_str());
        }
    }
    if a.dry_run {
        run.ctx.close().await;
        return Ok(0);
    }
    confirm(g, &plan.node)?;
    let quiet = g.quiet;
    let mut progress = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    if plan.present {
        remove::execute(&kube, &plan, &opts, &mut progress)
            .await
            .map_err(|e| {
                fail(
                    ExitClass::StepFailed,
                    format!("removing node {} stopped: {e}", plan.node),
                )
            })?;
    }
    let uninstalled = host_part::uninstall(&run.ctx, &a.host, &host_state).await;
    run.ctx.close().await;
    match uninstalled {
        Ok(true) => println!("K3s uninstalled on {}", a.host),
        Ok(false) => {}
        Err(e) => {
            return Err(fail(
                ExitClass::StepFailed,
                format!(
                    "node {} is out of the cluster, but uninstalling K3s on the machine failed: {e:#}; run the command again",
                    a.host
                ),
            ))
        }
    }
    if let host_part::HostState::Unreachable(why) = &host_state {
        g.warn(&format!(
            "{} cannot be reached ({why}): K3s and its data stay on that machine; wipe it (or run `foundry component uninstall k3s --host {}` once it answers) before it boots into the network again",
            a.host, a.host
        ));
    }
    if !role_edits.is_empty() {
        let mut text = std::fs::read_to_string(g.config_path())?;
        for (i, roles) in &role_edits {
            text = crate::config::edit::set_value(
                &text,
                &format!("hosts[{i}].roles"),
                &crate::config::roles_text(roles),
            )?;
        }
        crate::config::edit::save_edited(&g.config_path(), &text)?;
        for (i, roles) in &role_edits {
            println!(
                "hosts[{i}].roles set to {} in {file}",
                crate::config::roles_text(roles)
            );
        }
        println!("(previous version: {file}.bak)");
    }
    if plan.present {
        println!("node {} removed from the cluster", plan.node);
    }
    Ok(0)
}
