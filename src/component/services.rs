//! User-defined container services (`components.services[]`): each is a component named
//! `service/<name>` that runs one container under a systemd unit on hosts of its role, using the
//! same machinery as OpenBao and Zot.

use super::service::{self, DirSpec, ServiceDesired};
use super::{Component, FileSpec, HostCtx, HostStatus, Step};
use crate::config::{HostConfig, Role, ServiceConfig, StackConfig};
use crate::host::container::{self, ContainerService};
use anyhow::anyhow;
use std::path::Path;

pub struct UserService {
    pub name: String,
    pub spec: ServiceConfig,
}

impl UserService {
    pub fn all(stack: &StackConfig) -> Vec<UserService> {
        stack
            .components
            .services
            .iter()
            .map(|s| UserService {
                name: format!("service/{}", s.name),
                spec: s.clone(),
            })
            .collect()
    }

    fn desired(&self, ctx: &HostCtx) -> anyhow::Result<ServiceDesired> {
        let runtime =
            container::choose(ctx.stack.components.runtime, &ctx.facts).map_err(|e| anyhow!(e))?;
        let image = container::rewrite_image(&self.spec.image, &ctx.stack.images);
        let mut dirs = Vec::new();
        let mut files = Vec::new();
        for (path, content) in &self.spec.files {
            if let Some(parent) = Path::new(path)
                .parent()
                .and_then(|p| p.to_str())
                .filter(|p| *p != "/")
            {
                if !dirs.iter().any(|d: &DirSpec| d.path == parent) {
                    dirs.push(DirSpec::new(parent, 0o755, "root", "root"));
                }
            }
            // A mode from stack.yaml wins over the default.
            files.push(FileSpec::new(
                path.clone(),
                content.content.clone(),
                content.mode.unwrap_or(0o644),
            ));
        }
        Ok(ServiceDesired {
            svc: ContainerService {
                name: self.spec.name.clone(),
                description: format!("service {}", self.spec.name),
                image,
                runtime,
                volumes: self.spec.volumes.clone(),
                env: self.spec.env.clone(),
                run_opts: vec![],
                args: self.spec.args.clone(),
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
    async fn plan(&self, ctx: &HostCtx) -> anyhow::Result<Vec<Step>> {
        service::plan(ctx, &self.desired(ctx)?).await
    }
    async fn status(&self, ctx: &HostCtx) -> anyhow::Result<HostStatus> {
        service::status(ctx, &self.desired(ctx)?).await
    }
    async fn uninstall_plan(&self, ctx: &HostCtx) -> anyhow::Result<Vec<Step>> {
        service::uninstall_plan(ctx, &self.desired(ctx)?).await
    }
}
