//! `zot`: the OCI registry and pull-through cache (docker.io, ghcr.io, quay.io, registry.k8s.io
//! on demand) on hosts with role `zot`, run as a container under systemd.
//!
//! - `prepare`: the admin password from OpenBao (generated and stored on first install).
//! - `plan`: config.json + htpasswd + unit through `service::plan` (one probe, steps only for
//!   what differs, one restart when anything the container reads changed); the htpasswd line
//!   is `admin_user:` + the bcrypt hash kept in OpenBao, so a re-run compares bytes and never
//!   runs bcrypt (secret.rs).
//! - `status`: unit + image tag, then readiness, the Distribution API with the stored
//!   credentials (and wrong ones), and the cached repositories per upstream.
//!
//! See docs/zot.md.

pub mod config;
pub mod htpasswd;
pub mod nfs;
pub mod probe;
pub mod secret;
pub mod upstream;

#[cfg(test)]
mod nfs_tests;
#[cfg(test)]
pub(crate) mod tests;

use super::api::ApiAction;
use super::service::{self, DirSpec, ServiceDesired};
use super::{Action, Component, FileSpec, HostSet, HostStatus, Phase, RemoteHost, RunCtx, Step};
use crate::config::{HostConfig, ImagesConfig, Role, StackConfig, ZotConfig};
use crate::host::container::{self, ContainerService};
use crate::ssh::quote::quote;
use anyhow::anyhow;
use secret::AdminPassword;
use std::sync::Arc;

pub const NAME: &str = "zot";
const UNIT: &str = "zot";

/// Stands in for the htpasswd content when the password is not known (dry run): never written,
/// only compared, so the plan shows the file as changing.
const PLACEHOLDER: &[u8] = b"# password not known yet\n";

#[derive(Default)]
pub struct Zot;

impl Zot {
    pub fn new() -> Zot {
        Zot
    }
}

fn cfg(stack: &StackConfig) -> anyhow::Result<&ZotConfig> {
    stack
        .components
        .zot
        .as_ref()
        .ok_or_else(|| anyhow!("components.zot is not configured"))
}

/// Zot's storage is a TrueNAS dataset (whether or not the rest of that is configured right:
/// the order must not depend on validation).
pub fn uses_nfs(stack: &StackConfig) -> bool {
    stack
        .components
        .zot
        .as_ref()
        .is_some_and(|z| z.enabled && z.storage_dataset.as_deref().is_some_and(|d| !d.is_empty()))
        && stack.storage.truenas.is_some()
}

/// Zot publishes one image per architecture (`zot-linux-amd64`, `zot-linux-arm64`).
pub fn zot_arch(arch: &str) -> Option<&'static str> {
    match arch {
        "x86_64" | "amd64" => Some("amd64"),
        "aarch64" | "arm64" => Some("arm64"),
        _ => None,
    }
}

/// The image to run: `components.zot.image` verbatim when set, else
/// `ghcr.io/project-zot/zot-linux-<arch>:<version>` rewritten to `images.registry`.
pub fn image(z: &ZotConfig, images: &ImagesConfig, arch: &str) -> Result<String, String> {
    if let Some(i) = z.image.as_deref().filter(|i| !i.is_empty()) {
        return Ok(i.to_string());
    }
    let a = zot_arch(arch).ok_or_else(|| {
        format!("Zot publishes images for amd64 and arm64 only; this host is `{arch}` (set components.zot.image to run another)")
    })?;
    Ok(container::rewrite_image(
        &format!("ghcr.io/project-zot/zot-linux-{a}:{}", z.version),
        images,
    ))
}

pub fn config_path(z: &ZotConfig) -> String {
    format!("{}/config.json", z.config_dir.trim_end_matches('/'))
}

pub fn htpasswd_path(z: &ZotConfig) -> String {
    format!("{}/htpasswd", z.config_dir.trim_end_matches('/'))
}

/// How nodes reach the registry, for K3s's registries.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZotEndpoint {
    /// `address:port` of the first `zot` host.
    pub host_port: String,
    /// True when Zot serves plain HTTP (no `tls_cert`/`tls_key`).
    pub plain_http: bool,
}

pub fn endpoint(stack: &StackConfig) -> Option<ZotEndpoint> {
    let z = stack.components.zot.as_ref().filter(|z| z.enabled)?;
    let h = stack.hosts_with(Role::Zot).next()?;
    Some(ZotEndpoint {
        host_port: format!("{}:{}", h.address, z.port),
        plain_http: !config::tls_enabled(z),
    })
}

/// The container service and everything it reads, with the given htpasswd content.
fn desired(
    ctx: &RunCtx,
    host: &RemoteHost,
    z: &ZotConfig,
    htpasswd: Vec<u8>,
) -> anyhow::Result<ServiceDesired> {
    let runtime =
        container::choose(ctx.stack.components.runtime, &host.facts).map_err(|e| anyhow!(e))?;
    let image = image(z, &ctx.stack.images, &host.facts.arch).map_err(|e| anyhow!(e))?;
    let rendered = config::render(z)?;
    let conf_dir = z.config_dir.trim_end_matches('/').to_string();
    let storage = z.storage_path.trim_end_matches('/').to_string();
    // On a TrueNAS share the directory is the share's root, owned by TrueNAS: not created or
    // chmod-ed here, and the unit waits for the mount.
    let mount = nfs::NfsMount::for_stack(&ctx.stack).ok().flatten();
    // `z`: on SELinux hosts the container may use these (no-op elsewhere); not applied to the
    // TLS files, whose labels other services may depend on.
    let mut volumes = vec![
        format!("{conf_dir}:{}:ro,z", config::CONTAINER_CONFIG_DIR),
        format!("{storage}:{}:z", config::CONTAINER_STORAGE),
    ];
    if let (Some(c), Some(k)) = (&z.tls_cert, &z.tls_key) {
        volumes.push(format!("{c}:{}:ro", config::CONTAINER_TLS_CERT));
        volumes.push(format!("{k}:{}:ro", config::CONTAINER_TLS_KEY));
    }
    Ok(ServiceDesired {
        svc: ContainerService {
            name: UNIT.into(),
            description: "Zot OCI registry and pull-through cache".into(),
            image,
            runtime,
            volumes,
            env: Default::default(),
            secret_env: Default::default(),
            // Root in the container (the image has no USER) but without capabilities: Zot binds
            // an unprivileged port and only touches files it owns.
            run_opts: vec![
                "--cap-drop".into(),
                "ALL".into(),
                "--security-opt".into(),
                "no-new-privileges".into(),
            ],
            // The image's ENTRYPOINT is /usr/bin/zot.
            args: vec!["serve".into(), config::CONTAINER_CONFIG.into()],
            requires_mounts: mount.iter().map(|m| m.mount_point.clone()).collect(),
        },
        dirs: std::iter::once(DirSpec::new(conf_dir, 0o755, "root", "root"))
            .chain(
                mount
                    .is_none()
                    .then(|| DirSpec::new(storage, 0o755, "root", "root")),
            )
            .collect(),
        files: vec![
            FileSpec::new(config_path(z), rendered.json, 0o644),
            // The image runs as root (upstream build/Dockerfile has no USER), so root:root 0600
            // is readable by Zot and by nobody else.
            FileSpec::new(htpasswd_path(z), htpasswd, 0o600).secret(),
        ],
        insecure_registry: ctx.stack.images.insecure,
    })
}

/// `http(s)://127.0.0.1:<port>`: probes run on the host itself.
fn loopback_base(z: &ZotConfig) -> String {
    let scheme = if config::tls_enabled(z) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://127.0.0.1:{}", z.port)
}

/// After a (re)start: wait until the registry answers, `/readyz` 200 or (no such route) `/v2/`
/// 200/401. Prints the last codes when it gives up.
fn answers_script(base: &str) -> String {
    let b = quote(base);
    format!(
        "command -v curl >/dev/null 2>&1 || {{ echo 'curl not installed: registry answer not checked' >&2; exit 0; }}\n\
         i=0; while [ $i -lt 60 ]; do\n\
         r=$(curl -sS -k -o /dev/null -w '%{{http_code}}' --max-time 3 {b}/readyz 2>/dev/null)\n\
         [ \"$r\" = 200 ] && exit 0\n\
         v=$(curl -sS -k -o /dev/null -w '%{{http_code}}' --max-time 3 {b}/v2/ 2>/dev/null)\n\
         if [ \"$r\" != 503 ]; then case $v in 200|401) exit 0;; esac; fi\n\
         i=$((i+1)); sleep 1; done\n\
         echo \"registry did not answer on {base}: /readyz $r, /v2/ $v\" >&2; exit 1"
    )
}

#[async_trait::async_trait]
impl Component for Zot {
    fn name(&self) -> &str {
        NAME
    }
    fn summary(&self) -> &'static str {
        "Zot registry and pull-through cache (docker.io, ghcr.io, quay.io, registry.k8s.io), a container under systemd"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        // The admin password lives in OpenBao: `prepare` needs it installed and unsealed.
        &["host-prep", "openbao"]
    }
    /// On a TrueNAS share (`storage_dataset`), the dataset and its share must exist before
    /// the mount: storage comes first then (and no longer after Zot).
    fn depends_on_for(&self, stack: &StackConfig) -> Vec<&'static str> {
        let mut d = self.depends_on().to_vec();
        if uses_nfs(stack) {
            d.push(super::storage::NAME);
        }
        d
    }
    fn roles(&self) -> &'static [Role] {
        &[Role::Zot]
    }
    fn stored_secrets(&self) -> &'static [(&'static str, &'static str)] {
        &[(secret::PATH, "the admin password")]
    }
    fn enabled(&self, stack: &StackConfig) -> bool {
        stack.components.zot.as_ref().is_some_and(|z| z.enabled)
    }

    fn describe(&self, stack: &StackConfig, _host: &HostConfig) -> Vec<String> {
        let Some(z) = stack.components.zot.as_ref() else {
            return vec![];
        };
        let img = image(z, &stack.images, "x86_64").unwrap_or_else(|e| e);
        vec![
            format!(
                "write {} (port {}, storage {}, pull-through cache for {})",
                config_path(z),
                z.port,
                z.storage_path,
                if z.upstreams.is_empty() {
                    "nothing".to_string()
                } else {
                    z.upstreams.join(", ")
                }
            ),
            format!(
                "write {} (user {}, password from OpenBao {})",
                htpasswd_path(z),
                z.admin_user,
                secret::path("<instance>")
            ),
            format!("run {img} (arch from the host) as systemd unit {UNIT}.service"),
        ]
        .into_iter()
        .chain(match nfs::NfsMount::for_stack(stack) {
            Ok(Some(m)) => Some(format!(
                "mount TrueNAS {} ({}) at {} with {} (options {}); Zot requires the mount",
                m.dataset,
                m.what,
                m.mount_point,
                m.unit_name(),
                m.options
            )),
            Ok(None) => None,
            Err(e) => Some(e),
        })
        .collect()
    }

    /// the admin password (OpenBao) → the TrueNAS share mounted (when `storage_dataset`) →
    /// the registry on each `zot` host.
    fn phases(&self) -> Vec<Box<dyn Phase>> {
        vec![
            Box::new(Password),
            Box::new(nfs::MountStorage),
            Box::new(RunRegistry),
        ]
    }

    fn uninstall_phases(&self) -> Vec<Box<dyn Phase>> {
        vec![Box::new(RemoveRegistry), Box::new(nfs::UnmountStorage)]
    }

    async fn status(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<HostStatus> {
        let z = cfg(&ctx.stack)?;
        let want = desired(ctx, host, z, PLACEHOLDER.to_vec())?;
        let mut st = service::status(host, &want).await?;
        if let Ok(Some(m)) = nfs::NfsMount::for_stack(&ctx.stack) {
            let (mounted, why) = m.probe(host).await?.describe(&m);
            st.healthy &= mounted;
            st.message = format!("{}; {why}", st.message);
        }
        if !st.installed || !st.healthy {
            return Ok(st);
        }
        let pw = secret::lookup(ctx).await;
        let creds = pw.as_ref().ok().and_then(|p| p.as_deref());
        let p = probe::run(
            host.remote.as_ref(),
            &loopback_base(z),
            &z.admin_user,
            creds,
        )
        .await?;
        if p.curl_missing {
            st.message
                .push_str("; curl not installed on the host: registry API not checked");
            return Ok(st);
        }
        let (ready, why) = p.ready();
        let mut parts = vec![st.message.clone(), why];
        let mut healthy = ready;
        match &pw {
            Ok(Some(_)) => {
                let (ok, why) = p.auth_ok();
                healthy &= ok;
                parts.push(why);
                match p.cached(&z.upstreams) {
                    Some(c) => {
                        let list: Vec<String> = c.iter().map(|(u, n)| format!("{u} {n}")).collect();
                        let total: usize = c.iter().map(|(_, n)| n).sum();
                        let at_least = if total >= probe::CATALOG_PAGE {
                            " (first page only)"
                        } else {
                            ""
                        };
                        parts.push(format!("repositories: {}{at_least}", list.join(", ")));
                    }
                    None => parts.push("catalog not readable".into()),
                }
            }
            Ok(None) => {
                healthy = false;
                parts.push(format!(
                    "no admin password in OpenBao at {}: run `foundry component install zot`",
                    secret::path(&ctx.instance)
                ));
            }
            Err(e) => parts.push(format!("credentials not checked (OpenBao: {e:#})")),
        }
        st.healthy = healthy;
        st.message = parts.join("; ");
        Ok(st)
    }
}

/// The admin password for this run, published for the registry phase.
#[derive(Clone, Debug)]
struct PasswordOutput(AdminPassword);

/// Read the admin password from OpenBao; generate and store it when missing (a step, so a
/// plan shows it and changes nothing).
struct Password;

#[async_trait::async_trait]
impl Phase for Password {
    fn title(&self) -> String {
        "admin password".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Api
    }
    async fn plan_api(&self, ctx: &Arc<RunCtx>) -> anyhow::Result<Vec<Step>> {
        let z = cfg(&ctx.stack)?;
        for n in config::render(z)?.notes {
            ctx.note(n);
        }
        let (pw, line) = secret::read(ctx).await?;
        let store = match &pw {
            AdminPassword::WouldGenerate => Some(false),
            AdminPassword::NeedsHash(_) => Some(true),
            _ => None,
        };
        ctx.outputs.put(PasswordOutput(pw));
        if let (Some(hash_only), false) = (store, ctx.dry_run) {
            return Ok(vec![Step::api(Arc::new(GeneratePassword {
                ctx: ctx.clone(),
                hash_only,
            }))]);
        }
        if let Some(l) = line {
            ctx.note(l);
        }
        Ok(vec![])
    }
}

#[derive(Debug)]
struct GeneratePassword {
    ctx: Arc<RunCtx>,
    /// The password is there; only its htpasswd hash is missing or stale.
    hash_only: bool,
}

#[async_trait::async_trait]
impl ApiAction for GeneratePassword {
    fn describe(&self) -> String {
        let what = if self.hash_only {
            "hash the Zot admin password for htpasswd and store the hash"
        } else {
            "generate the Zot admin password and store it with its htpasswd hash"
        };
        format!("{what} in OpenBao at {}", secret::path(&self.ctx.instance))
    }
    async fn execute(&self) -> anyhow::Result<()> {
        let (pw, line) = secret::ensure(&self.ctx).await?;
        if let Some(l) = line {
            self.ctx.note(l);
        }
        self.ctx.outputs.put(PasswordOutput(pw));
        Ok(())
    }
}

/// config.json, htpasswd, unit and image on every `zot` host; a check that it answers.
struct RunRegistry;

#[async_trait::async_trait]
impl Phase for RunRegistry {
    fn title(&self) -> String {
        "run the registry".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Parallel
    }
    async fn plan_host(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        let z = cfg(&ctx.stack)?;
        if let Err(e) = image(z, &ctx.stack.images, &host.facts.arch) {
            return Ok(vec![Step::cannot("run Zot", e)]);
        }
        let htpasswd = match ctx.outputs.get::<PasswordOutput>().map(|p| p.0) {
            Some(AdminPassword::Known { hash, .. }) => htpasswd::content(&z.admin_user, &hash),
            Some(_) => PLACEHOLDER.to_vec(),
            None => anyhow::bail!("internal: the zot registry phase ran before its password phase"),
        };
        let want = desired(ctx, host, z, htpasswd)?;
        let mut steps = service::plan(host, &want).await?;
        if steps
            .iter()
            .any(|s| matches!(s.action, Action::Verify { .. }))
        {
            steps.push(Step::verify(
                format!("registry answers on port {}", z.port),
                answers_script(&loopback_base(z)),
                90,
            ));
        }
        Ok(steps)
    }
}

struct RemoveRegistry;

#[async_trait::async_trait]
impl Phase for RemoveRegistry {
    fn title(&self) -> String {
        "stop and remove the unit".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Parallel
    }
    async fn plan_host(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        let z = cfg(&ctx.stack)?;
        service::uninstall_plan(host, &desired(ctx, host, z, PLACEHOLDER.to_vec())?).await
    }
}
