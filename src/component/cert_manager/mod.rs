//! cert-manager as a K3s HelmChart (jetstack chart, CRDs enabled), then its ClusterIssuer
//! (`cert_manager.issuer`): self-signed by default, ACME with `acme_email` and an HTTP-01
//! solver through Contour's IngressClass, or `ca`: a CA foundry keeps in OpenBao (`ca.rs`).
//! Ready only when the webhook admits a dry-run Certificate and the issuer reports Ready=True
//! (component-facts §5).

pub mod ca;
pub mod issuer;
#[cfg(test)]
mod tests;

use super::helm::{self, phases, Chart, ChartFn, Workload, WorkloadKind};
use super::{Component, HostStatus, Phase, RemoteHost, RunCtx};
use crate::config::{HostConfig, IssuerKind, Role, StackConfig};
use crate::host::container::rewrite_image;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub const NAME: &str = "cert-manager";
pub const NAMESPACE: &str = "cert-manager";
pub const REPO: &str = "https://charts.jetstack.io";
const DEADLINE: Duration = Duration::from_secs(300);

pub struct CertManager;

/// The chart's values: CRDs installed and kept by the chart (`crds.enabled`; `installCRDs` is
/// deprecated); with `images.registry`, every image repository rewritten.
fn values(stack: &StackConfig) -> serde_json::Value {
    let mut v = json!({"crds": {"enabled": true}});
    if stack
        .images
        .registry
        .as_deref()
        .is_some_and(|r| !r.is_empty())
    {
        let repo = |name: &str| rewrite_image(&format!("quay.io/jetstack/{name}"), &stack.images);
        v["image"] = json!({"repository": repo("cert-manager-controller")});
        v["webhook"] = json!({"image": {"repository": repo("cert-manager-webhook")}});
        v["cainjector"] = json!({"image": {"repository": repo("cert-manager-cainjector")}});
        v["startupapicheck"] =
            json!({"image": {"repository": repo("cert-manager-startupapicheck")}});
    }
    v
}

pub fn chart(stack: &StackConfig) -> anyhow::Result<Chart> {
    let c = stack
        .components
        .cert_manager
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("components.cert_manager is not set"))?;
    let workload = |n: &str| Workload {
        kind: WorkloadKind::Deployment,
        name: n.into(),
    };
    Ok(Chart {
        name: NAME.into(),
        repo: REPO.into(),
        chart: "cert-manager".into(),
        version: c.version.clone(),
        target_namespace: NAMESPACE.into(),
        values: values(stack),
        job_image: Chart::job_image_for(&stack.images),
        workloads: vec![
            workload("cert-manager"),
            workload("cert-manager-cainjector"),
            workload("cert-manager-webhook"),
        ],
        deadline: helm::deadline(DEADLINE),
    })
}

fn chart_fn() -> ChartFn {
    Arc::new(chart)
}

#[async_trait::async_trait]
impl Component for CertManager {
    fn name(&self) -> &str {
        NAME
    }
    fn summary(&self) -> &'static str {
        "cert-manager and its ClusterIssuer, a K3s HelmChart (Kubernetes API)"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        // ACME's HTTP-01 solver answers through Contour's IngressClass.
        &["k3s", "contour"]
    }
    /// Only through the cluster's API: its health is in `stack_status`.
    fn on_hosts(&self) -> bool {
        false
    }
    fn roles(&self) -> &'static [Role] {
        &[Role::ClusterControlPlane]
    }
    fn enabled(&self, stack: &StackConfig) -> bool {
        stack
            .components
            .cert_manager
            .as_ref()
            .is_some_and(|c| c.enabled)
    }
    fn describe(&self, stack: &StackConfig, _host: &HostConfig) -> Vec<String> {
        let Some(c) = stack.components.cert_manager.as_ref() else {
            return vec![];
        };
        vec![
            format!("HelmChart kube-system/{NAME}: chart cert-manager {} from {REPO} into {NAMESPACE} (CRDs enabled)", c.version),
            format!("ClusterIssuer {} ({})", c.cluster_issuer, match c.issuer_kind() {
                IssuerKind::Selfsigned => "self-signed".to_string(),
                IssuerKind::Acme => "ACME, HTTP-01 through Contour".to_string(),
                IssuerKind::Ca => format!("CA from OpenBao <instance>/{}, Secret {NAMESPACE}/{}", ca::PATH, ca::SECRET_NAME),
            }),
        ]
    }
    fn phases(&self) -> Vec<Box<dyn Phase>> {
        vec![
            Box::new(phases::ApplyChart(chart_fn())),
            Box::new(phases::WaitInstallJob(chart_fn())),
            Box::new(phases::WaitRollout(chart_fn())),
            Box::new(issuer::Issuer),
        ]
    }
    fn uninstall_phases(&self) -> Vec<Box<dyn Phase>> {
        vec![Box::new(phases::DeleteChart(chart_fn()))]
    }
    /// Never asked: `on_hosts` is false, so no host is a target (health is in `stack_status`).
    async fn status(&self, _ctx: &RunCtx, _host: &RemoteHost) -> anyhow::Result<HostStatus> {
        anyhow::bail!("internal: {NAME} has no host status")
    }
    async fn stack_status(&self, ctx: &std::sync::Arc<RunCtx>) -> Vec<(String, HostStatus)> {
        let (kube, chart_row) =
            match helm::status::client_and_chart_row(ctx, NAME, chart(&ctx.stack)).await {
                Ok(x) => x,
                Err(rows) => return rows,
            };
        let name = issuer::name(&ctx.stack);
        let kind = issuer::kind(&ctx.stack).as_str();
        let issuer_row = match issuer::live(&kube, &name).await {
            Ok(Some(l)) => HostStatus {
                installed: true,
                version: None,
                healthy: issuer::ready(&l).is_ok(),
                message: issuer::ready(&l).err().unwrap_or_else(|| "Ready".into()),
            },
            Ok(None) => HostStatus {
                message: format!("no ClusterIssuer {name}"),
                ..Default::default()
            },
            Err(e) => HostStatus {
                message: e.to_string(),
                ..Default::default()
            },
        };
        vec![
            (format!("{NAME} (HelmChart, rollout)"), chart_row),
            (format!("{NAME} (ClusterIssuer {name}, {kind})"), issuer_row),
        ]
    }
}
