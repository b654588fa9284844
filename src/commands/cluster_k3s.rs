//! `foundry cluster init` (the K3s component and everything it depends on, in the stack's
//! order) and `foundry cluster kubeconfig [--merge]` (print the cluster's kubeconfig, or merge
//! it into ~/.kube/config: backup first, context named after the cluster, another cluster's
//! context never replaced without --force).

use super::common::{self, RunKind};
use super::stack;
use crate::cli::{GlobalOpts, UpgradeArgs};
use crate::component::cluster_api;
use crate::component::engine;
use crate::component::engine::Mode;
use crate::component::k3s::kubeconfig::merge;
use crate::component::k3s::phases::kubeconfig::write_private;
use crate::component::k3s::phases::upgrade::UpgradeOptions;
use crate::component::k3s::phases::NAME;
use crate::component::k3s::version::K3sVersion;
use crate::component::registry;
use crate::error::{fail, ExitClass};
use std::path::PathBuf;

/// `cluster init [--dry-run]`.
pub async fn init(g: &GlobalOpts, dry_run: bool) -> anyhow::Result<i32> {
    let mode = if dry_run { Mode::Plan } else { Mode::Apply };
    stack::converge_only(g, mode, Some(crate::component::k3s::phases::NAME)).await
}

/// `cluster upgrade`: the K3s recipe alone at the target version. Nodes at another version get
/// their new binary in the rolling order (`component::k3s::phases::upgrade`); the version rules
/// (no downgrade, one minor at a time) are preflight checks, so a refusal changes nothing.
pub async fn upgrade(g: &GlobalOpts, a: &UpgradeArgs) -> anyhow::Result<i32> {
    let t0 = std::time::Instant::now();
    if let Some(v) = &a.version {
        if K3sVersion::parse(v).is_none() {
            return Err(fail(
                ExitClass::Usage,
                format!("--version {v:?}: not a K3s release (like v1.33.6+k3s1)"),
            ));
        }
    }
    let mode = if a.dry_run { Mode::Plan } else { Mode::Apply };
    let mut pinned = None;
    let setup = common::setup_with(
        g,
        RunKind {
            command: "cluster-upgrade",
            mutating: !a.dry_run,
            dry_run: a.dry_run,
            hosts: &[],
        },
        |loaded| {
            let k = loaded
                .config
                .components
                .k3s
                .as_mut()
                .filter(|k| k.enabled)
                .ok_or_else(|| {
                    fail(
                        ExitClass::Config,
                        format!("K3s is not enabled in {}", g.config_path().display()),
                    )
                })?;
            pinned = Some(k.version.clone());
            if let Some(v) = &a.version {
                k.version = v.clone();
            }
            Ok(())
        },
    )
    .await?;
    let ctx = setup.ctx.clone();
    ctx.outputs.put(UpgradeOptions {
        drain: !a.no_drain,
        delete_emptydir_data: a.delete_emptydir_data,
        timeout: std::time::Duration::from_secs(a.timeout),
    });
    let k3s = registry::find(&ctx.stack, NAME)?;
    let report = engine::run_component(&ctx, k3s, mode).await;
    ctx.close().await;
    let ok = !report.failed() && !report.interrupted();
    let result = stack::finish(g, mode, &[report], &[], t0, setup.log.path().as_deref());
    match (&a.version, pinned) {
        (Some(v), Some(old)) if *v != old && mode == Mode::Apply => {
            if ok {
                pin_version(g, v)?;
                println!(
                    "components.k3s.version set to {v} in {}",
                    g.config_path().display()
                );
            } else {
                eprintln!("{} still pins K3s {old}; run `foundry cluster upgrade --version {v}` again to continue where this run stopped", g.config_path().display());
            }
        }
        (Some(v), Some(old)) if *v != old => println!(
            "a real run also sets components.k3s.version to {v} in {} (it pins {old} now)",
            g.config_path().display()
        ),
        _ => {}
    }
    result
}

/// Pin the version in stack.yaml, comments and the rest kept byte for byte.
fn pin_version(g: &GlobalOpts, v: &str) -> anyhow::Result<()> {
    let file = g.config_path();
    let source = std::fs::read_to_string(&file)?;
    let new = crate::config::edit::set_value(&source, "components.k3s.version", v)?;
    crate::config::edit::save_edited(&file, &new)?;
    Ok(())
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
