//! `foundry cluster backup [--name N]`: an etcd snapshot on a server, copied back and checked
//! (`crate::cluster::backup`). The first server that answers is used, in the resolved order.

use super::common::{self, RunKind};
use crate::cli::GlobalOpts;
use crate::cluster::backup;
use crate::component::k3s::{roles, token};
use crate::error::{fail, ExitClass};
use crate::redact;
use crate::ssh::Cmd;
use std::time::Duration;

/// `k3s etcd-snapshot save` of a large datastore takes a while.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(600);

pub async fn backup(g: &GlobalOpts, name: Option<String>) -> anyhow::Result<i32> {
    let name = name.unwrap_or_else(|| backup::default_name(std::time::SystemTime::now()));
    backup::check_name(&name).map_err(|e| fail(ExitClass::Usage, e))?;
    let setup = common::setup(
        g,
        RunKind {
            command: "cluster-backup",
            mutating: true,
            dry_run: false,
            hosts: &[],
        },
    )
    .await?;
    let ctx = setup.ctx.clone();
    let result = async {
        let store = ctx.openbao().await.map_err(|e| {
            e.context("a backup keeps the server token from OpenBao next to the snapshot")
        })?;
        let tok = store
            .get(token::PATH, token::KEY_CLUSTER_TOKEN)
            .await?
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no K3s server token in OpenBao ({}): is the cluster installed (`foundry cluster init`)?",
                    token::path(&ctx.instance)
                )
            })?;
        redact::register(&tok);
        let servers: Vec<_> = roles::resolve(&ctx.stack)
            .into_iter()
            .filter(|n| n.role.is_server())
            .filter_map(|n| ctx.stack.host(&n.host).cloned())
            .collect();
        let mut tried = Vec::new();
        for h in &servers {
            let host = match ctx.host(h).await {
                Ok(x) => x,
                Err(e) => {
                    tried.push(format!("{}: {e:#}", h.hostname));
                    continue;
                }
            };
            if !g.quiet {
                eprintln!("taking etcd snapshot {name} on {}", h.hostname);
            }
            let out = host
                .remote
                .exec(
                    &Cmd::mutate(backup::snapshot_script(&name))
                        .sudo()
                        .timeout(SNAPSHOT_TIMEOUT)
                        .label("k3s etcd-snapshot save"),
                )
                .await?
                .check("k3s etcd-snapshot save")?;
            let taken = backup::parse_taken(&out.stdout).map_err(|e| anyhow::anyhow!(e))?;
            let data = host
                .remote
                .read_file(&taken.path, true)
                .await?
                .ok_or_else(|| anyhow::anyhow!("{}: {} vanished before it was copied", h.hostname, taken.path))?;
            let dir = crate::paths::foundry_home()
                .join(&ctx.stack.cluster.name)
                .join("backups");
            let w = backup::store(&dir, &taken, &data, &tok)?;
            return Ok((h.hostname.clone(), taken, w));
        }
        anyhow::bail!(
            "no server could take the snapshot: {}",
            if tried.is_empty() {
                "the stack has no K3s server".to_string()
            } else {
                tried.join("; ")
            }
        )
    }
    .await;
    ctx.close().await;
    let (host, taken, w) = result.map_err(|e| fail(ExitClass::StepFailed, format!("{e:#}")))?;
    match g.output {
        crate::cli::OutputFormat::Table => {
            println!(
                "backup of cluster {} from {host} ({}):",
                ctx.stack.cluster.name, taken.path
            );
            println!(
                "  {}  ({} bytes, sha256 {})",
                w.snapshot.display(),
                w.bytes,
                w.sha256
            );
            println!("  {}  (check: sha256sum -c)", w.checksum.display());
            println!(
                "  {}  (the server token a restore needs: keep it as safe as the snapshot)",
                w.token.display()
            );
        }
        _ => {
            let doc = serde_json::json!({
                "cluster": ctx.stack.cluster.name, "host": host, "remote_path": taken.path,
                "snapshot": w.snapshot, "sha256": w.sha256, "bytes": w.bytes,
                "checksum_file": w.checksum, "token_file": w.token,
            });
            crate::output::render(g.output, &[], vec![], &doc)?;
        }
    }
    Ok(0)
}

/// `foundry cluster restore FILE [--dry-run]`: the snapshot checked against its `.sha256`, its
/// `.token` against OpenBao's server token (K3s cannot read a datastore encrypted with another
/// token), a typed confirmation, then `component::k3s::phases::restore`.
pub async fn restore(g: &GlobalOpts, file: &std::path::Path, dry_run: bool) -> anyhow::Result<i32> {
    let t0 = std::time::Instant::now();
    let backup::BackupFiles {
        name,
        bytes,
        token: kept,
        token_file,
    } = backup::read_backup(file).map_err(|e| {
        let class = match e {
            backup::ReadError::Missing(_) => ExitClass::Usage,
            backup::ReadError::Damaged(_) => ExitClass::Config,
        };
        fail(class, e.to_string())
    })?;
    redact::register(&kept);
    let setup = common::setup(
        g,
        RunKind {
            command: "cluster-restore",
            mutating: !dry_run,
            dry_run,
            hosts: &[],
        },
    )
    .await?;
    let ctx = setup.ctx.clone();
    let store = ctx.openbao().await?;
    let stored = store.get(token::PATH, token::KEY_CLUSTER_TOKEN).await?;
    if stored.as_deref() != Some(kept.as_str()) {
        ctx.close().await;
        return Err(fail(
            ExitClass::Config,
            format!(
                "the snapshot was taken with another server token than the one in OpenBao ({}); K3s could not read its datastore. Put the backup's token back first: `foundry secret set {} {} - < {}`; nothing was changed",
                token::path(&ctx.instance),
                token::PATH,
                token::KEY_CLUSTER_TOKEN,
                token_file.display()
            ),
        ));
    }
    if !dry_run {
        confirm_restore(g, &ctx.stack.cluster.name)?;
    }
    let stamp = backup::default_name(std::time::SystemTime::now())
        .trim_start_matches("foundry-")
        .to_string();
    let recipe = std::sync::Arc::new(crate::component::k3s::phases::restore::Restore {
        snapshot: crate::component::k3s::phases::restore::Snapshot {
            name,
            bytes: std::sync::Arc::new(bytes),
        },
        stamp,
    });
    let mode = if dry_run {
        crate::component::engine::Mode::Plan
    } else {
        crate::component::engine::Mode::Apply
    };
    let report = crate::component::engine::run_component(&ctx, recipe, mode).await;
    ctx.close().await;
    super::stack::finish(g, mode, &[report], &[], t0, setup.log.path().as_deref())
}

/// A restore replaces the whole cluster state: `--yes`, or the cluster's name typed.
fn confirm_restore(g: &GlobalOpts, cluster: &str) -> anyhow::Result<()> {
    super::prompt::confirm_typed(
        g.yes,
        cluster,
        &format!("This stops every server of {cluster} and replaces its state with the snapshot."),
        format!("restoring replaces everything in cluster {cluster} with the snapshot; see the steps with --dry-run, then run again with --yes (no terminal to ask on)"),
        format!("not confirmed: {cluster} left as it is"),
    )
}
