//! User-defined container services (`components.services[]`): each is a component named
//! `service/<name>` that runs one container under a systemd unit on hosts of its role, using the
//! same machinery as OpenBao and Zot.

use super::service::{self, DirSpec, ServiceDesired};
use super::{Component, FileSpec, HostSet, HostStatus, Phase, RemoteHost, RunCtx, Step};
use crate::config::path::FieldPath;
use crate::config::{HostConfig, Role, ServiceConfig, StackConfig};
use crate::host::container::{self, ContainerService};
use anyhow::anyhow;
use std::path::Path;

/// Where secret values of user services live on the host (root-only).
pub const SECRET_DIR: &str = "/etc/foundry/secrets";

/// Did the value as written in stack.yaml hold a `${secret:…}` reference?
fn holds_reference(raw: &str) -> bool {
    crate::secrets::find_refs(raw).is_ok_and(|r| !r.is_empty())
}

#[derive(Clone)]
pub struct UserService {
    pub name: String,
    /// Its place in `components.services` (where its references are).
    pub index: usize,
    /// As written: references unresolved.
    pub spec: ServiceConfig,
}

impl UserService {
    pub fn all(stack: &StackConfig) -> Vec<UserService> {
        stack
            .components
            .services
            .iter()
            .enumerate()
            .map(|(index, s)| UserService {
                name: format!("service/{}", s.name),
                index,
                spec: s.clone(),
            })
            .collect()
    }

    /// The desired service on a host, with the spec's secret references resolved now (its env
    /// and files may hold them).
    async fn desired(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<ServiceDesired> {
        let at = FieldPath::root()
            .key("components")
            .key("services")
            .index(self.index);
        let spec: ServiceConfig = ctx.resolve(&at, &self.spec).await?;
        let runtime =
            container::choose(ctx.stack.components.runtime, &host.facts).map_err(|e| anyhow!(e))?;
        let image = container::rewrite_image(&spec.image, &ctx.stack.images);
        let mut dirs = Vec::new();
        let mut files = Vec::new();
        for (path, content) in &spec.files {
            if let Some(parent) = Path::new(path)
                .parent()
                .and_then(|p| p.to_str())
                .filter(|p| *p != "/")
            {
                if !dirs.iter().any(|d: &DirSpec| d.path == parent) {
                    dirs.push(DirSpec::new(parent, 0o755, "root", "root"));
                }
            }
            // A file whose content came from a secret reference is root-only (0600); a mode
            // from stack.yaml wins over either default (validation warns when it is wider
            // than 0640).
            let secret = self
                .spec
                .files
                .get(path)
                .is_some_and(|raw| holds_reference(&raw.content));
            let default = if secret { 0o600 } else { 0o644 };
            let f = FileSpec::new(
                path.clone(),
                content.content.clone(),
                content.mode.unwrap_or(default),
            );
            // The diff stays visible: it is scrubbed of every resolved secret (`***`).
            files.push(f);
        }
        // Environment values that came from a secret reference leave the unit's command line:
        // each goes into a root-only file that the unit turns into a podman secret (docker:
        // one env file).
        let mut env = spec.env.clone();
        let mut secret_env = std::collections::BTreeMap::new();
        let secret_vars: Vec<String> = self
            .spec
            .env
            .iter()
            .filter(|(_, raw)| holds_reference(raw))
            .map(|(k, _)| k.clone())
            .collect();
        if !secret_vars.is_empty() {
            let dir = format!("{SECRET_DIR}/{}", spec.name);
            dirs.push(DirSpec::new(SECRET_DIR, 0o700, "root", "root"));
            dirs.push(DirSpec::new(dir.clone(), 0o700, "root", "root"));
            let mut env_file = String::new();
            for k in &secret_vars {
                let v = env.remove(k).unwrap_or_default();
                match runtime {
                    crate::host::facts::RuntimeKind::Podman => {
                        let path = format!("{dir}/{k}");
                        files.push(FileSpec::new(path.clone(), v, 0o600).secret());
                        secret_env.insert(k.clone(), path);
                    }
                    crate::host::facts::RuntimeKind::Docker => {
                        env_file.push_str(&format!("{k}={v}\n"));
                        secret_env.insert(k.clone(), format!("{dir}/env"));
                    }
                }
            }
            if !env_file.is_empty() {
                files.push(FileSpec::new(format!("{dir}/env"), env_file, 0o600).secret());
            }
        }
        Ok(ServiceDesired {
            svc: ContainerService {
                name: spec.name.clone(),
                description: format!("service {}", spec.name),
                image,
                runtime,
                volumes: spec.volumes.clone(),
                env,
                secret_env,
                run_opts: vec![],
                args: spec.args.clone(),
                requires_mounts: vec![],
            },
            dirs,
            files,
            insecure_registry: ctx.stack.images.insecure,
        })
    }
}

#[async_trait::async_trait]
impl Component for UserService {
    fn name(&self) -> &str {
        &self.name
    }
    fn summary(&self) -> &'static str {
        "A container from stack.yaml's `services:`, run by podman/docker under systemd"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["host-prep"]
    }
    fn roles(&self) -> &'static [Role] {
        match self.spec.role {
            None => &[],
            Some(Role::Openbao) => &[Role::Openbao],
            Some(Role::Zot) => &[Role::Zot],
            Some(Role::ClusterControlPlane) => &[Role::ClusterControlPlane],
            Some(Role::ClusterWorker) => &[Role::ClusterWorker],
            Some(Role::Cluster) => &[
                Role::Cluster,
                Role::ClusterControlPlane,
                Role::ClusterWorker,
            ],
        }
    }
    fn enabled(&self, _stack: &StackConfig) -> bool {
        true
    }
    fn describe(&self, stack: &StackConfig, _host: &HostConfig) -> Vec<String> {
        let image = container::rewrite_image(&self.spec.image, &stack.images);
        let mut v: Vec<String> = self
            .spec
            .files
            .keys()
            .map(|p| format!("write {p}"))
            .collect();
        v.push(format!(
            "run {image} as systemd unit {}.service (podman or docker, host network)",
            self.spec.name
        ));
        v
    }
    fn phases(&self) -> Vec<Box<dyn Phase>> {
        vec![Box::new(Converge(self.clone()))]
    }
    fn uninstall_phases(&self) -> Vec<Box<dyn Phase>> {
        vec![Box::new(Remove(self.clone()))]
    }
    async fn status(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<HostStatus> {
        service::status(host, &self.desired(ctx, host).await?).await
    }
}

/// Files, unit, image and a (re)start where they differ, on every host of the role at once.
struct Converge(UserService);

#[async_trait::async_trait]
impl Phase for Converge {
    fn title(&self) -> String {
        "run the container".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Parallel
    }
    async fn plan_host(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        service::plan(host, &self.0.desired(ctx, host).await?).await
    }
}

struct Remove(UserService);

#[async_trait::async_trait]
impl Phase for Remove {
    fn title(&self) -> String {
        "stop and remove the unit".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Parallel
    }
    async fn plan_host(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        service::uninstall_plan(host, &self.0.desired(ctx, host).await?).await
    }
}
