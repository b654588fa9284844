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
            files.push(FileSpec::new(path.clone(), content.clone(), 0o644));
        }
        Ok(ServiceDesired {
            svc: ContainerService {
                name: spec.name.clone(),
                description: format!("service {}", spec.name),
                image,
                runtime,
                volumes: spec.volumes.clone(),
                env: spec.env.clone(),
                run_opts: vec![],
                args: spec.args.clone(),
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
