//! `openbao`: OpenBao in a container under systemd on hosts with the `openbao` role (raft
//! storage in `openbao.data_dir`, config.hcl in `openbao.config_dir`), then — once per run,
//! over its HTTP API — initialise it (root token and unseal keys shown once, kept in the OS
//! keyring or a 0600 file), unseal it, mount KV v2 at `secret/`, and move foundry's local SSH
//! keys into it. See docs/openbao.md.

pub mod config;
pub mod finalize;
#[cfg(test)]
mod tests;

use super::api::ApiAction;
use super::service::{self, DirSpec, ServiceDesired};
use super::{Component, FileSpec, HostSet, HostStatus, Phase, RemoteHost, RunCtx, Step};
use crate::config::{HostConfig, Role, StackConfig};
use crate::host::container::{self, ContainerService};
use crate::host::facts::RuntimeKind;
use crate::openbao::address;
use crate::openbao::client::Client;
use anyhow::{anyhow, bail};
use config::{ServerConfig, CONFIG_FILE, CONTAINER_CONFIG_DIR, CONTAINER_DATA_DIR};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const NAME: &str = "openbao";
pub const UPSTREAM_IMAGE: &str = "quay.io/openbao/openbao";

pub struct Openbao;

/// The image to run: `openbao.image`, else the upstream image at `openbao.version`; either way
/// through the `images.registry` rewrite.
pub fn image(stack: &StackConfig) -> String {
    let cfg = address::settings(stack);
    let base = cfg
        .image
        .clone()
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| format!("{UPSTREAM_IMAGE}:{}", cfg.version));
    container::rewrite_image(&base, &stack.images)
}

/// The warning shown in plan and install output while OpenBao listens without TLS.
pub fn plain_http_warning(stack: &StackConfig) -> Option<String> {
    let cfg = address::settings(stack);
    (!address::tls_enabled(&cfg)).then(|| {
        "WARNING: OpenBao listens on plain HTTP (no openbao.tls_cert/tls_key): the token and every secret cross the network unencrypted; set tls_cert and tls_key for anything beyond a lab".to_string()
    })
}

/// The desired container service on one host. Pure: the unit and config.hcl depend only on
/// stack.yaml, the host and the runtime.
pub fn desired_for(
    stack: &StackConfig,
    host: &HostConfig,
    runtime: RuntimeKind,
) -> anyhow::Result<ServiceDesired> {
    let cfg = address::settings(stack);
    for (what, p) in [
        ("data_dir", Some(&cfg.data_dir)),
        ("config_dir", Some(&cfg.config_dir)),
        ("tls_cert", cfg.tls_cert.as_ref()),
        ("tls_key", cfg.tls_key.as_ref()),
    ] {
        if let Some(p) = p {
            if !p.starts_with('/') || p.contains([':', ',']) {
                bail!("openbao.{what} `{p}` must be an absolute path without `:` or `,` (it becomes a container volume)");
            }
        }
    }
    if cfg.tls_cert.is_some() != cfg.tls_key.is_some() {
        bail!("openbao.tls_cert and openbao.tls_key must be set together (TLS needs both)");
    }
    let server = ServerConfig::for_host(stack, host);
    let conf_dir = cfg.config_dir.trim_end_matches('/').to_string();
    let data_dir = cfg.data_dir.trim_end_matches('/').to_string();
    // `z`: on SELinux hosts the container may read/write these (no-op elsewhere). Not applied to
    // the TLS files: relabelling a user's certificate could lock other services out of it.
    let mut volumes = vec![
        format!("{conf_dir}:{CONTAINER_CONFIG_DIR}:ro,z"),
        format!("{data_dir}:{CONTAINER_DATA_DIR}:z"),
    ];
    if let (Some(c), Some(k)) = (&cfg.tls_cert, &cfg.tls_key) {
        volumes.push(format!("{c}:{}:ro", config::CONTAINER_TLS_CERT));
        volumes.push(format!("{k}:{}:ro", config::CONTAINER_TLS_KEY));
    }
    let mut env = BTreeMap::new();
    // So `podman exec openbao bao status` talks to this server without flags.
    env.insert("BAO_ADDR".to_string(), server.api_addr.clone());
    Ok(ServiceDesired {
        svc: ContainerService {
            name: NAME.into(),
            description: "OpenBao secret store".into(),
            image: image(stack),
            runtime,
            volumes,
            env,
            secret_env: Default::default(),
            // Run `bao` directly, as root with every capability dropped:
            // - `--entrypoint bao` works with the upstream image (bao in /usr/bin, whose
            //   docker-entrypoint.sh would chown our bind mounts to its own `openbao` user) and
            //   with a bare FROM-scratch image holding only /bin/bao; PATH finds it in both.
            // - Root instead of the image's user: since 2.6.0 the upstream image runs as user
            //   `openbao`, whose uid differs between flavours (alpine: assigned by adduser; ubi:
            //   100; distroless: 65532) and may change between releases. Host directories owned
            //   by root (0700/0750) and a root process that owns them need no uid guessing and no
            //   chown on every start. `--cap-drop ALL` leaves that root without privileges
            //   beyond file ownership (mlock is gone since 2.0, so no IPC_LOCK), and
            //   no-new-privileges stops it from regaining any.
            run_opts: vec![
                "--user".into(),
                "0:0".into(),
                "--entrypoint".into(),
                "bao".into(),
                "--cap-drop".into(),
                "ALL".into(),
                "--security-opt".into(),
                "no-new-privileges".into(),
            ],
            args: vec!["server".into(), format!("-config={CONTAINER_CONFIG_DIR}")],
            requires_mounts: vec![],
        },
        dirs: vec![
            DirSpec::new(conf_dir.clone(), 0o750, "root", "root"),
            DirSpec::new(data_dir, 0o700, "root", "root"),
        ],
        files: vec![FileSpec::new(
            format!("{conf_dir}/{CONFIG_FILE}"),
            server.render(),
            0o640,
        )],
        insecure_registry: stack.images.insecure,
    })
}

/// The desired service on a connected host.
fn desired(ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<ServiceDesired> {
    let runtime =
        container::choose(ctx.stack.components.runtime, &host.facts).map_err(|e| anyhow!(e))?;
    desired_for(&ctx.stack, &host.config, runtime)
}

#[async_trait::async_trait]
impl Component for Openbao {
    fn name(&self) -> &str {
        NAME
    }
    fn summary(&self) -> &'static str {
        "OpenBao secrets store (raft), a container under systemd; keeps what foundry generates"
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["host-prep"]
    }

    fn roles(&self) -> &'static [Role] {
        &[Role::Openbao]
    }

    /// On when `components.openbao.enabled` (the default), or — without that section — when a
    /// host has the `openbao` role.
    fn enabled(&self, stack: &StackConfig) -> bool {
        match &stack.components.openbao {
            Some(c) => c.enabled,
            None => stack.hosts_with(Role::Openbao).next().is_some(),
        }
    }

    fn describe(&self, stack: &StackConfig, host: &HostConfig) -> Vec<String> {
        let cfg = address::settings(stack);
        let server = ServerConfig::for_host(stack, host);
        let mut v = vec![
            format!(
                "write {}/{CONFIG_FILE} (raft storage in {}, node {}, API {})",
                cfg.config_dir.trim_end_matches('/'),
                cfg.data_dir,
                server.node_id,
                server.api_addr
            ),
            format!(
                "run {} as systemd unit {NAME}.service (podman or docker, host network)",
                image(stack)
            ),
            format!(
                "initialise once ({} key shares, threshold {}), keep the root token and keys in the OS keyring or ~/.foundry/openbao/, unseal, mount KV v2 at secret/",
                cfg.key_shares, cfg.key_threshold
            ),
        ];
        if let Some(w) = plain_http_warning(stack) {
            v.push(w);
        }
        v
    }

    /// settings → the server on each host → initialise and unseal over the API.
    fn phases(&self) -> Vec<Box<dyn Phase>> {
        vec![
            Box::new(Settings),
            Box::new(RunServer),
            Box::new(InitUnseal),
        ]
    }

    fn uninstall_phases(&self) -> Vec<Box<dyn Phase>> {
        vec![Box::new(RemoveServer)]
    }

    async fn status(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<HostStatus> {
        service::status(host, &desired(ctx, host)?).await
    }

    async fn stack_status(&self, ctx: &Arc<RunCtx>) -> Vec<(String, HostStatus)> {
        let log = ctx.log.clone();
        let nodes = address::nodes(&ctx.stack);
        let many = nodes.len() > 1;
        let mut rows = Vec::new();
        for (host, url) in nodes {
            let label = format!("{host} (API {url})");
            let st = match Client::new(&url, None, log.clone()) {
                Err(e) => HostStatus {
                    message: format!("{e:#}"),
                    ..Default::default()
                },
                Ok(c) => match c.health().await {
                    Err(e) => HostStatus {
                        message: e.to_string(),
                        ..Default::default()
                    },
                    Ok(h) => api_status(&h, many),
                },
            };
            rows.push((label, st));
        }
        rows
    }
}

/// Warnings about the settings (plain HTTP), shown with the plan and the result.
struct Settings;

#[async_trait::async_trait]
impl Phase for Settings {
    fn title(&self) -> String {
        "check settings".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Api
    }
    async fn plan_api(&self, ctx: &Arc<RunCtx>) -> anyhow::Result<Vec<Step>> {
        if let Some(w) = plain_http_warning(&ctx.stack) {
            ctx.note(w);
        }
        Ok(vec![])
    }
}

/// config.hcl, directories, unit and image on every `openbao` host.
struct RunServer;

#[async_trait::async_trait]
impl Phase for RunServer {
    fn title(&self) -> String {
        "run the server".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Parallel
    }
    async fn plan_host(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        service::plan(host, &desired(ctx, host)?).await
    }
}

struct RemoveServer;

#[async_trait::async_trait]
impl Phase for RemoveServer {
    fn title(&self) -> String {
        "stop and remove the unit".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Parallel
    }
    async fn plan_host(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        service::uninstall_plan(host, &desired(ctx, host)?).await
    }
}

/// Initialise (once), unseal every node, mount KV v2, move local SSH keys in. The plan asks
/// the API read-only what is missing; the step does it (see `finalize.rs`).
struct InitUnseal;

#[async_trait::async_trait]
impl Phase for InitUnseal {
    fn title(&self) -> String {
        "initialise and unseal".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Api
    }
    async fn plan_api(&self, ctx: &Arc<RunCtx>) -> anyhow::Result<Vec<Step>> {
        let would = finalize::run(ctx, true).await?;
        let keys = finalize::local_keys_to_move(ctx);
        if ctx.dry_run {
            for l in would {
                ctx.note(l);
            }
            return Ok(vec![]);
        }
        if would.is_empty() && keys == 0 {
            return Ok(vec![]);
        }
        let mut what: Vec<String> = would
            .iter()
            .map(|l| l.strip_prefix("would ").unwrap_or(l).to_string())
            .collect();
        if keys > 0 {
            what.push(format!("move {keys} local SSH key(s) into OpenBao"));
        }
        Ok(vec![Step::api(Arc::new(Bootstrap {
            ctx: ctx.clone(),
            what: what.join("; "),
        }))])
    }
}

#[derive(Debug)]
struct Bootstrap {
    ctx: Arc<RunCtx>,
    what: String,
}

#[async_trait::async_trait]
impl ApiAction for Bootstrap {
    fn describe(&self) -> String {
        self.what.clone()
    }
    async fn execute(&self) -> anyhow::Result<()> {
        for l in finalize::run(&self.ctx, false).await? {
            self.ctx.note(l);
        }
        Ok(())
    }
}

/// A stack-status row from a health answer.
pub fn api_status(h: &crate::openbao::client::Health, cluster: bool) -> HostStatus {
    let version = (!h.version.is_empty()).then(|| h.version.clone());
    let (healthy, message) = match h.code {
        200 => (
            true,
            "initialised, unsealed, active (health 200)".to_string(),
        ),
        429 => (
            cluster,
            if cluster {
                "initialised, unsealed, standby (health 429)".to_string()
            } else {
                "unsealed but not active yet (health 429); check again in a moment".to_string()
            },
        ),
        503 => (
            false,
            "sealed (health 503): run `foundry openbao unseal`".to_string(),
        ),
        501 => (
            false,
            "not initialised (health 501): run `foundry component install openbao`".to_string(),
        ),
        c => (false, format!("unexpected health answer HTTP {c}")),
    };
    HostStatus {
        installed: h.initialized,
        version,
        healthy,
        message,
    }
}
