//! `foundry openbao status|unseal`: the stack's OpenBao over its HTTP API (no SSH).

use crate::cli::{GlobalOpts, OpenbaoCmd, OutputFormat};
use crate::error::{fail, ExitClass};
use crate::openbao::bootstrap::{unseal_with, wait_cluster_ready};
use crate::openbao::client::Client;
use crate::openbao::{address, creds, error::to_failure};
use crate::output;
use crate::redact;
use crate::run::log::{RunLog, RunLogHandle};
use serde::Serialize;
use std::io::IsTerminal;
use std::time::Duration;

pub async fn run(g: &GlobalOpts, cmd: OpenbaoCmd) -> anyhow::Result<i32> {
    match cmd {
        OpenbaoCmd::Status => status(g).await,
        OpenbaoCmd::Unseal => unseal(g).await,
    }
}

fn run_log(command: &str) -> anyhow::Result<RunLogHandle> {
    let log = RunLog::create(&crate::paths::logs_dir(), command)?;
    log.event(None, "start", serde_json::json!({ "command": command }));
    Ok(log)
}

fn nodes_or_fail(stack: &crate::config::StackConfig) -> anyhow::Result<Vec<(String, String)>> {
    let nodes = address::nodes(stack);
    if nodes.is_empty() {
        return Err(fail(
            ExitClass::Config,
            "no host in stack.yaml has the role `openbao`",
        ));
    }
    Ok(nodes)
}

#[derive(Serialize)]
struct NodeStatus {
    host: String,
    address: String,
    reachable: bool,
    initialized: Option<bool>,
    sealed: Option<bool>,
    version: Option<String>,
    health: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Address, initialised, sealed, version and health code of every OpenBao node. Exit 0 when
/// all are unsealed and serving, 7 when one is sealed or not initialised, 4 when one is
/// unreachable.
async fn status(g: &GlobalOpts) -> anyhow::Result<i32> {
    // As written: OpenBao itself is asked for nothing here, so a reference that lives in it
    // (a host's `ssh_key`) must not be resolved (it cannot be while OpenBao is sealed).
    let stack = crate::config::load::load_cli(&g.config_path())?.config;
    let nodes = nodes_or_fail(&stack)?;
    let log = run_log("openbao-status")?;
    let cluster = nodes.len() > 1;
    let mut out = Vec::new();
    for (host, url) in nodes {
        let c = Client::new(&url, None, log.clone())?;
        out.push(match c.health().await {
            Ok(h) => NodeStatus {
                host,
                address: url,
                reachable: true,
                initialized: Some(h.initialized),
                sealed: Some(h.sealed || matches!(h.code, 501 | 503)),
                version: (!h.version.is_empty()).then(|| h.version.clone()),
                health: Some(h.code),
                error: None,
            },
            Err(e) => NodeStatus {
                host,
                address: url,
                reachable: false,
                initialized: None,
                sealed: None,
                version: None,
                health: None,
                error: Some(e.to_string()),
            },
        });
    }
    let yn = |b: Option<bool>| match b {
        Some(true) => "yes".to_string(),
        Some(false) => "no".to_string(),
        None => "?".to_string(),
    };
    let rows = out
        .iter()
        .map(|n| {
            vec![
                n.host.clone(),
                n.address.clone(),
                yn(n.initialized),
                yn(n.sealed),
                n.version.clone().unwrap_or_else(|| "-".into()),
                n.health
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into()),
                n.error.clone().unwrap_or_else(|| hint(n.health, cluster)),
            ]
        })
        .collect();
    output::render(
        g.output,
        &[
            "HOST",
            "ADDRESS",
            "INITIALIZED",
            "SEALED",
            "VERSION",
            "HEALTH",
            "NOTE",
        ],
        rows,
        &out,
    )?;
    if out.iter().any(|n| !n.reachable) {
        return Err(fail(
            ExitClass::Connection,
            "an OpenBao node is unreachable",
        ));
    }
    if out
        .iter()
        .any(|n| !(n.health == Some(200) || (cluster && n.health == Some(429))))
    {
        return Err(fail(
            ExitClass::Unhealthy,
            "OpenBao is sealed, not initialised or not serving",
        ));
    }
    Ok(0)
}

fn hint(code: Option<u16>, cluster: bool) -> String {
    match code {
        Some(200) => "active".into(),
        Some(429) if cluster => "standby".into(),
        Some(429) => "unsealed, becoming active".into(),
        Some(503) => "sealed: run `foundry openbao unseal`".into(),
        Some(501) => "not initialised: run `foundry component install openbao`".into(),
        Some(c) => format!("unexpected health HTTP {c}"),
        None => String::new(),
    }
}

#[derive(Serialize)]
struct Unsealed {
    host: String,
    address: String,
    /// It was sealed and foundry unsealed it now.
    unsealed_now: bool,
}

/// Unseal every sealed node with the stored keys, or with keys typed on a terminal when none
/// are stored (`--yes`: fail instead of prompting). Exit 0 when all are unsealed.
async fn unseal(g: &GlobalOpts) -> anyhow::Result<i32> {
    // As written: OpenBao itself is asked for nothing here, so a reference that lives in it
    // (a host's `ssh_key`) must not be resolved (it cannot be while OpenBao is sealed).
    let stack = crate::config::load::load_cli(&g.config_path())?.config;
    let nodes = nodes_or_fail(&stack)?;
    let log = run_log("openbao-unseal")?;
    let mut keys: Option<Vec<String>> = creds::load(&g.instance).await?.map(|(c, _)| c.unseal_keys);
    let mut done = Vec::new();
    for (i, (host, url)) in nodes.iter().enumerate() {
        let c = Client::new(url, None, log.clone())?;
        let st = c.seal_status().await.map_err(|e| to_failure(e.into()))?;
        if !st.sealed {
            done.push(Unsealed {
                host: host.clone(),
                address: url.clone(),
                unsealed_now: false,
            });
            continue;
        }
        if !st.initialized && i == 0 {
            return Err(to_failure(
                crate::openbao::OpenbaoError::NotInitialised {
                    address: url.clone(),
                }
                .into(),
            ));
        }
        if keys.is_none() {
            keys = Some(prompt_keys(g, host, url, st.t, st.progress)?);
        }
        let ks = keys.as_deref().unwrap_or_default();
        unseal_with(&c, ks, i > 0)
            .await
            .map_err(|e| to_failure(e.context(format!("unsealing OpenBao on {host}"))))?;
        done.push(Unsealed {
            host: host.clone(),
            address: url.clone(),
            unsealed_now: true,
        });
    }
    // Ready only once every node is unsealed: a raft cluster needs a quorum to elect a leader.
    let clients = nodes
        .iter()
        .map(|(_, url)| Client::new(url, None, log.clone()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    wait_cluster_ready(&clients.iter().collect::<Vec<_>>(), Duration::from_secs(60)).await?;
    match g.output {
        OutputFormat::Table => {
            for d in &done {
                println!(
                    "{} ({}): {}",
                    d.host,
                    d.address,
                    if d.unsealed_now {
                        "unsealed"
                    } else {
                        "already unsealed"
                    }
                );
            }
        }
        _ => output::render(g.output, &[], vec![], &done)?,
    }
    Ok(0)
}

/// Ask for `threshold` unseal keys on the terminal (no echo). Refused without a terminal or
/// with `--yes`.
fn prompt_keys(
    g: &GlobalOpts,
    host: &str,
    url: &str,
    threshold: u32,
    progress: u32,
) -> anyhow::Result<Vec<String>> {
    let file = creds::file_path(&g.instance)
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if g.yes || !std::io::stdin().is_terminal() {
        return Err(fail(
            ExitClass::Connection,
            format!(
                "OpenBao on {host} ({url}) is sealed and foundry has no unseal keys for instance `{}` (none in the OS keyring or {file}); run `foundry openbao unseal` on a terminal without --yes to type them",
                g.instance
            ),
        ));
    }
    let need = threshold.saturating_sub(progress).max(1);
    eprintln!(
        "OpenBao on {host} ({url}) is sealed and foundry has no stored unseal keys for instance `{}`. Enter {need} unseal key(s) (input is hidden):",
        g.instance
    );
    let mut v = Vec::new();
    for i in 1..=need {
        let k = super::prompt::read_hidden(&format!("unseal key {i}/{need}: "))?;
        let k = k.trim().to_string();
        if k.is_empty() {
            return Err(fail(ExitClass::Usage, "empty unseal key"));
        }
        redact::register(&k);
        v.push(k);
    }
    Ok(v)
}
