//! `foundry cluster init` (the K3s component and everything it depends on, in the stack's
//! order) and `foundry cluster kubeconfig [--merge]` (print the cluster's kubeconfig, or merge
//! it into ~/.kube/config: backup first, context named after the cluster, another cluster's
//! context never replaced without --force).

use super::common::{self, RunKind};
use super::stack;
use crate::cli::GlobalOpts;
use crate::component::cluster_api;
use crate::component::engine::Mode;
use crate::component::k3s::kubeconfig::merge;
use crate::component::k3s::phases::kubeconfig::write_private;
use crate::error::{fail, ExitClass};
use std::path::PathBuf;

/// `cluster init [--dry-run]`.
pub async fn init(g: &GlobalOpts, dry_run: bool) -> anyhow::Result<i32> {
    let mode = if dry_run { Mode::Plan } else { Mode::Apply };
    stack::converge_only(g, mode, Some(crate::component::k3s::phases::NAME)).await
}

/// Where `--merge` writes: the first file of $KUBECONFIG, else ~/.kube/config (kubectl's rule).
fn kube_config_path() -> PathBuf {
    if let Some(first) = std::env::var_os("KUBECONFIG")
        .and_then(|v| std::env::split_paths(&v).find(|p| !p.as_os_str().is_empty()))
    {
        return first;
    }
    crate::paths::home().join(".kube").join("config")
}

/// `cluster kubeconfig [--merge [--force]]`.
pub async fn kubeconfig(g: &GlobalOpts, merge_it: bool, force: bool) -> anyhow::Result<i32> {
    let setup = common::setup(g, RunKind::read("cluster-kubeconfig")).await?;
    let ctx = setup.ctx.clone();
    let got = cluster_api::kubeconfig(&ctx).await;
    ctx.close().await;
    let (text, from) = got.map_err(|e| fail(ExitClass::Config, format!("{e:#}")))?;
    let name = ctx.stack.cluster.name.clone();
    if !merge_it {
        print!("{text}");
        return Ok(0);
    }
    let path = kube_config_path();
    let existing = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(fail(ExitClass::General, format!("{}: {e}", path.display()))),
    };
    let merged =
        merge(&existing, &text, &name, force).map_err(|e| fail(ExitClass::Config, e.message()))?;
    if merged == existing {
        println!("{}: context `{name}` is up to date", path.display());
        return Ok(0);
    }
    if !existing.is_empty() {
        let stamp = chrono_free_stamp();
        let backup = path.with_file_name(format!(
            "{}.foundry-backup-{stamp}",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("config")
        ));
        write_private(&backup, &existing)?;
        println!("backup: {}", backup.display());
    }
    write_private(&path, &merged)?;
    println!(
        "merged context `{name}` (from {from}) into {}; use it with `kubectl --context {name}`",
        path.display()
    );
    Ok(0)
}

/// Seconds since the epoch: unique enough for a backup name, sortable, no date crate.
fn chrono_free_stamp() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
