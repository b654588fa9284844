//! Once per run, after every OpenBao host converged: wait for the API, initialise when needed,
//! unseal every node, mount KV v2 at `secret/`, and move local SSH keys in. With `dry_run`
//! (plans) only read-only GETs are made and the lines say what would happen.

use crate::component::RunCtx;
use crate::openbao::bootstrap::{
    self, ensure_initialised, unseal_with, wait_cluster_ready, wait_for_api,
};
use crate::openbao::client::Client;
use crate::openbao::creds;
use crate::openbao::ssh_keys::migrate_keys_in;
use crate::openbao::{address, OpenbaoError, SecretStore};
use crate::paths;
use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

/// A fresh container may need to pull nothing but still takes a moment to listen.
const API_WAIT: Duration = Duration::from_secs(90);
/// After unseal the server answers 429 briefly before it is active.
const READY_WAIT: Duration = Duration::from_secs(60);

pub async fn run(ctx: &RunCtx, dry_run: bool) -> anyhow::Result<Vec<String>> {
    let stack = &ctx.stack;
    let cfg = address::settings(stack);
    let nodes = address::nodes(stack);
    let Some((first_host, first_url)) = nodes.first().cloned() else {
        return Ok(vec![]);
    };
    let mut lines = Vec::new();
    let would_all = format!(
        "would initialise OpenBao at {first_url} ({} key shares, threshold {}), keep the root token and unseal keys in the OS keyring (or {}), unseal it and mount KV v2 at secret/",
        cfg.key_shares,
        cfg.key_threshold,
        creds::file_path(&ctx.instance)?.display()
    );

    // 1. Every node's API answers.
    let mut clients = Vec::new();
    for (host, url) in &nodes {
        let c = Client::new(url, None, ctx.log.clone())?;
        if dry_run {
            if c.health().await.is_err() {
                // Not installed yet (or down): nothing more can be read.
                return Ok(vec![would_all]);
            }
        } else {
            wait_for_api(&c, API_WAIT).await.with_context(|| {
                format!("OpenBao on {host} did not answer at {url} within {}s; see `journalctl -u openbao` on {host}", API_WAIT.as_secs())
            })?;
        }
        clients.push((host.clone(), c));
    }
    let first = &clients[0].1;

    // 2. Initialise through the first node.
    let mut stored = creds::load(&ctx.instance).await?;
    if !first.init_status().await? {
        if dry_run {
            return Ok(vec![would_all]);
        }
        let (c, loc) = ensure_initialised(first, &ctx.instance, cfg.key_shares, cfg.key_threshold)
            .await?
            .context("OpenBao reported itself initialised in the middle of initialisation")?;
        lines.push(format!(
            "initialised OpenBao on {first_host} ({} key shares, threshold {}); root token and unseal keys shown once above, a copy kept in {loc}",
            cfg.key_shares, cfg.key_threshold
        ));
        stored = Some((c, loc));
    }

    // 3. Unseal every sealed node.
    for (i, (host, c)) in clients.iter().enumerate() {
        let st = c.seal_status().await?;
        if !st.sealed {
            continue;
        }
        if dry_run {
            lines.push(format!("would unseal OpenBao on {host} (sealed)"));
            continue;
        }
        let Some((creds, loc)) = &stored else {
            return Err(OpenbaoError::Sealed { address: c.address().to_string() }).with_context(|| {
                format!(
                    "OpenBao on {host} is sealed and foundry has no unseal keys for instance `{}` (none in the OS keyring or {}); run `foundry openbao unseal` to enter them",
                    ctx.instance,
                    creds::file_path(&ctx.instance).map(|p| p.display().to_string()).unwrap_or_default()
                )
            });
        };
        unseal_with(c, &creds.unseal_keys, i > 0)
            .await
            .with_context(|| format!("unsealing OpenBao on {host} with the keys in {loc}"))?;
        lines.push(format!("unsealed OpenBao on {host}"));
    }
    if dry_run && !lines.is_empty() {
        lines.push("would check the KV v2 mount at secret/ once unsealed".into());
        return Ok(lines);
    }
    if !dry_run {
        let all: Vec<&Client> = clients.iter().map(|(_, c)| c).collect();
        wait_cluster_ready(&all, READY_WAIT).await?;
    }

    // 4. KV v2 at secret/ (through the address foundry uses for secrets, with the token).
    let token = match creds::token(&ctx.instance).await? {
        Some(t) => t,
        None if dry_run => {
            lines.push(
                "would check the KV v2 mount at secret/ (no token stored to check it now)".into(),
            );
            return Ok(lines);
        }
        None => {
            return Err(OpenbaoError::NoToken {
                instance: ctx.instance.clone(),
                file: creds::file_path(&ctx.instance)?.display().to_string(),
            }
            .into())
        }
    };
    let api = Client::new(&address::api_address(stack)?, Some(token), ctx.log.clone())?;
    if bootstrap::ensure_kv(&api, dry_run).await? {
        lines.push(if dry_run {
            "would mount KV v2 at secret/".to_string()
        } else {
            "mounted KV v2 at secret/".to_string()
        });
    }
    if dry_run {
        return Ok(lines);
    }

    // 5. foundry-generated SSH keys move into OpenBao — except files stack.yaml still names
    // as `ssh_key`: the SSH layer reads keys from disk, and deleting them would lock foundry
    // out of those hosts.
    let store = SecretStore::with_client(api, &ctx.instance);
    let mig = migrate_keys_in(&store, &paths::keys_dir(), &referenced_keys(ctx)).await?;
    for h in &mig.moved {
        lines.push(format!(
            "moved the SSH key of {h} into OpenBao (secret/{}/ssh-keys/{h}); local files removed",
            ctx.instance
        ));
    }
    for k in &mig.kept {
        tracing::info!("SSH key kept locally: {k}");
    }
    Ok(lines)
}

/// Key files stack.yaml points at (per host and the default).
fn referenced_keys(ctx: &RunCtx) -> Vec<PathBuf> {
    let s = &ctx.stack;
    s.hosts
        .iter()
        .filter_map(|h| h.ssh_key.as_deref())
        .chain(
            s.hosts
                .iter()
                .filter_map(|h| h.bastion.as_ref()?.ssh_key.as_deref()),
        )
        .chain(s.ssh.key.as_deref())
        .map(paths::expand_tilde)
        .collect()
}

/// How many foundry-generated key files in `~/.foundry/keys` the key migration would consider
/// (not `.pub`, not named by a host's `ssh_key`). Local only: no request.
pub fn local_keys_to_move(ctx: &RunCtx) -> usize {
    let keep = referenced_keys(ctx);
    let Ok(entries) = std::fs::read_dir(paths::keys_dir()) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or(".");
            !n.ends_with(".pub")
                && !n.starts_with('.')
                && !keep
                    .iter()
                    .any(|k| k == p || k.canonicalize().ok() == p.canonicalize().ok())
        })
        .count()
}
