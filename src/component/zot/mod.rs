//! `zot`: the OCI registry and pull-through cache (docker.io, ghcr.io, quay.io, registry.k8s.io
//! on demand) on hosts with role `zot`, run as a container under systemd.
//!
//! - `prepare`: the admin password from OpenBao (generated and stored on first install).
//! - `plan`: config.json + htpasswd + unit through `service::plan` (one probe, steps only for
//!   what differs, one restart when anything the container reads changed); an htpasswd that
//!   still verifies against the stored password is kept byte for byte (bcrypt is salted).
//! - `status`: unit + image tag, then readiness, the Distribution API with the stored
//!   credentials (and wrong ones), and the cached repositories per upstream.
//!
//! See docs/zot.md.

pub mod config;
pub mod htpasswd;
pub mod probe;
pub mod secret;
pub mod upstream;

#[cfg(test)]
pub(crate) mod tests;

use super::service::{self, DirSpec, ServiceDesired};
use super::{Action, Component, FileSpec, HostCtx, HostStatus, StackCtx, Step};
use crate::config::{HostConfig, ImagesConfig, Role, StackConfig, ZotConfig};
use crate::host::container::{self, ContainerService};
use crate::ssh::quote::quote;
use anyhow::anyhow;
use secret::AdminPassword;
use std::sync::Mutex;

pub const NAME: &str = "zot";
const UNIT: &str = "zot";

/// Stands in for the htpasswd content when the password is not known (dry run): never written,
/// only compared, so the plan shows the file as changing.
const PLACEHOLDER: &[u8] = b"# password not known yet\n";

#[derive(Default)]
pub struct Zot {
    /// Set by `prepare`, read by `plan` on every host of the same run.
    password: Mutex<Option<AdminPassword>>,
}

impl Zot {
    pub fn new() -> Zot {
        Zot::default()
    }
}

fn cfg(stack: &StackConfig) -> anyhow::Result<&ZotConfig> {
    stack
        .components
        .zot
        .as_ref()
        .ok_or_else(|| anyhow!("components.zot is not configured"))
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
fn desired(ctx: &HostCtx, z: &ZotConfig, htpasswd: Vec<u8>) -> anyhow::Result<ServiceDesired> {
    let runtime =
        container::choose(ctx.stack.components.runtime, &ctx.facts).map_err(|e| anyhow!(e))?;
    let image = image(z, &ctx.stack.images, &ctx.facts.arch).map_err(|e| anyhow!(e))?;
    let rendered = config::render(z)?;
    let conf_dir = z.config_dir.trim_end_matches('/').to_string();
    let storage = z.storage_path.trim_end_matches('/').to_string();
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
        },
        dirs: vec![
            DirSpec::new(conf_dir, 0o755, "root", "root"),
            DirSpec::new(storage, 0o755, "root", "root"),
        ],
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
    fn depends_on(&self) -> &'static [&'static str] {
        // The admin password lives in OpenBao: `prepare` needs it installed and unsealed.
        &["host-prep", "openbao"]
    }
    fn roles(&self) -> &'static [Role] {
        &[Role::Zot]
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
    }

    async fn prepare(&self, ctx: &StackCtx) -> anyhow::Result<Vec<String>> {
        let z = cfg(&ctx.stack)?;
        let rendered = config::render(z)?;
        let (pw, line) =
            secret::ensure(&ctx.stack, &ctx.instance, ctx.log.clone(), ctx.dry_run).await?;
        *self.password.lock().unwrap_or_else(|e| e.into_inner()) = Some(pw);
        Ok(rendered.notes.into_iter().chain(line).collect())
    }

    async fn plan(&self, ctx: &HostCtx) -> anyhow::Result<Vec<Step>> {
        let z = cfg(&ctx.stack)?;
        if let Err(e) = image(z, &ctx.stack.images, &ctx.facts.arch) {
            return Ok(vec![Step::cannot("run Zot", e)]);
        }
        let pw = self
            .password
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let htpasswd = match pw {
            Some(AdminPassword::Known(pw)) => {
                let existing = ctx.session.read_file(&htpasswd_path(z), true).await?;
                htpasswd::desired(existing.as_deref(), &z.admin_user, &pw)?
            }
            Some(_) => PLACEHOLDER.to_vec(),
            None => anyhow::bail!("internal: zot plan ran before prepare"),
        };
        let want = desired(ctx, z, htpasswd)?;
        let mut steps = service::plan(ctx, &want).await?;
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

    async fn status(&self, ctx: &HostCtx) -> anyhow::Result<HostStatus> {
        let z = cfg(&ctx.stack)?;
        let want = desired(ctx, z, PLACEHOLDER.to_vec())?;
        let mut st = service::status(ctx, &want).await?;
        if !st.installed || !st.healthy {
            return Ok(st);
        }
        let pw = secret::lookup(&ctx.stack, &ctx.instance).await;
        let creds = pw.as_ref().ok().and_then(|p| p.as_deref());
        let p = probe::run(&ctx.session, &loopback_base(z), &z.admin_user, creds).await?;
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

    async fn uninstall_plan(&self, ctx: &HostCtx) -> anyhow::Result<Vec<Step>> {
        let z = cfg(&ctx.stack)?;
        service::uninstall_plan(ctx, &desired(ctx, z, PLACEHOLDER.to_vec())?).await
    }
}
