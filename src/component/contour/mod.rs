//! Contour: the project's own chart (not the discontinued Bitnami one) as a K3s HelmChart,
//! Envoy a DaemonSet behind a LoadBalancer Service (address from kube-vip's `lb_range`, or
//! `contour.load_balancer_ip`), the default IngressClass. Phases: see `component::helm`.

#[cfg(test)]
mod tests;
pub mod values;

use super::helm::{self, phases, Chart, ChartFn, Workload, WorkloadKind};
use super::{Component, HostStatus, Phase, RemoteHost, RunCtx};
use crate::config::{HostConfig, Role, StackConfig};
use k8s_openapi::api::core::v1::Service;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

pub const NAME: &str = "contour";
pub const NAMESPACE: &str = "projectcontour";
pub const REPO: &str = "https://projectcontour.github.io/helm-charts/";
/// The chart's Envoy Service (`<release>-envoy`).
pub const ENVOY_SERVICE: &str = "contour-envoy";
const DEADLINE: Duration = Duration::from_secs(300);
/// How long `stack status` waits for Envoy's HTTP answer.
const ENVOY_HTTP_TIMEOUT: Duration = Duration::from_secs(3);

pub struct Contour;

/// `FIRST-LAST` of `network.lb_range`.
fn lb_range(s: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let (a, b) = s.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// The fixed Envoy address, checked to be one kube-vip may hand out.
fn load_balancer_ip(stack: &StackConfig) -> anyhow::Result<Option<String>> {
    let Some(ip) = stack
        .components
        .contour
        .as_ref()
        .and_then(|c| c.load_balancer_ip.clone())
    else {
        return Ok(None);
    };
    let range = stack.network.lb_range.as_deref();
    let addr: Ipv4Addr = ip.parse().map_err(|_| {
        anyhow::anyhow!("components.contour.load_balancer_ip `{ip}` is not an IPv4 address")
    })?;
    match range.and_then(lb_range) {
        Some((first, last)) if first <= addr && addr <= last => Ok(Some(ip)),
        Some(_) => anyhow::bail!(
            "components.contour.load_balancer_ip {ip} is outside network.lb_range {}; kube-vip hands out only addresses of that range: pick one inside it or widen the range",
            range.unwrap_or_default()
        ),
        None => anyhow::bail!(
            "components.contour.load_balancer_ip {ip} needs network.lb_range (`FIRST-LAST`) containing it: kube-vip's cloud provider assigns LoadBalancer addresses from that range"
        ),
    }
}

/// The HelmChart for this stack.
pub fn chart(stack: &StackConfig) -> anyhow::Result<Chart> {
    let c = stack
        .components
        .contour
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("components.contour is not set"))?;
    let ip = load_balancer_ip(stack)?;
    let registry = stack.images.registry.as_deref().filter(|r| !r.is_empty());
    let values = values::Values::new(ip.as_deref(), registry);
    Ok(Chart {
        name: NAME.into(),
        repo: REPO.into(),
        chart: "contour".into(),
        version: c.version.clone(),
        target_namespace: NAMESPACE.into(),
        values: serde_json::to_value(values)?,
        job_image: Chart::job_image_for(&stack.images),
        workloads: vec![
            Workload {
                kind: WorkloadKind::Deployment,
                name: "contour-contour".into(),
            },
            Workload {
                kind: WorkloadKind::DaemonSet,
                name: "contour-envoy".into(),
            },
        ],
        deadline: helm::deadline(DEADLINE),
    })
}

fn chart_fn() -> ChartFn {
    Arc::new(chart)
}

/// Envoy's external address, or why there is none yet.
pub async fn envoy_address(kube: &crate::k8s::Kube) -> Result<String, String> {
    let svc = kube
        .get_opt::<Service>(Some(NAMESPACE), ENVOY_SERVICE)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no Service {NAMESPACE}/{ENVOY_SERVICE}"))?;
    svc.status
        .and_then(|s| s.load_balancer)
        .and_then(|lb| lb.ingress)
        .into_iter()
        .flatten()
        .find_map(|i| i.ip.or(i.hostname))
        .ok_or_else(|| {
            format!("Service {NAMESPACE}/{ENVOY_SERVICE} has no external address yet (kube-vip's cloud provider assigns it from network.lb_range)")
        })
}

/// An HTTP request to Envoy's address from this machine: any answer counts as up (with no
/// route for `/`, Envoy answers 404 itself), no answer is the reason it is down. A short
/// timeout, no redirects followed, recorded in the run log like every API request.
pub async fn envoy_answers(ctx: &RunCtx, address: &str) -> Result<u16, String> {
    let host = match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => address.to_string(),
    };
    let client = reqwest::Client::builder()
        .timeout(ENVOY_HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let t0 = std::time::Instant::now();
    let r = client.get(format!("http://{host}/")).send().await;
    let status = r.as_ref().ok().map(|r| r.status().as_u16());
    ctx.log.http(
        &format!("http://{host}"),
        "GET",
        "/",
        status,
        t0.elapsed(),
        false,
    );
    match r {
        Ok(r) => Ok(r.status().as_u16()),
        Err(e) => {
            let why = if e.is_timeout() {
                format!("no answer within {}s", ENVOY_HTTP_TIMEOUT.as_secs())
            } else if e.is_connect() {
                "connection refused or unreachable".to_string()
            } else {
                e.to_string()
            };
            Err(format!(
                "Envoy's address {address} does not answer HTTP on port 80 from this machine ({why}): check the envoy pods on the node holding it (`kubectl -n {NAMESPACE} get pods -o wide`) and that kube-vip announces it"
            ))
        }
    }
}

#[async_trait::async_trait]
impl Component for Contour {
    fn name(&self) -> &str {
        NAME
    }
    fn summary(&self) -> &'static str {
        "Contour + Envoy ingress, a K3s HelmChart (Kubernetes API)"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        // The chart goes to K3s's helm-controller through the cluster's API.
        &["k3s"]
    }
    /// Only through the cluster's API: its health is in `stack_status`.
    fn on_hosts(&self) -> bool {
        false
    }
    fn roles(&self) -> &'static [Role] {
        // In-cluster: its phases use the API only; the cluster's servers stand for it in
        // per-host status, the real rows come from `stack_status`.
        &[Role::ClusterControlPlane]
    }
    fn enabled(&self, stack: &StackConfig) -> bool {
        stack.components.contour.as_ref().is_some_and(|c| c.enabled)
    }
    fn describe(&self, stack: &StackConfig, _host: &HostConfig) -> Vec<String> {
        match chart(stack) {
            Ok(c) => vec![format!(
                "HelmChart kube-system/{NAME}: chart contour {} from {REPO} into {NAMESPACE}; Envoy DaemonSet behind a LoadBalancer Service",
                c.version
            )],
            Err(e) => vec![format!("{e:#}")],
        }
    }
    fn phases(&self) -> Vec<Box<dyn Phase>> {
        vec![
            Box::new(phases::ApplyChart(chart_fn())),
            Box::new(phases::WaitInstallJob(chart_fn())),
            Box::new(phases::WaitRollout(chart_fn())),
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
        let envoy = match envoy_address(&kube).await {
            Ok(a) => match envoy_answers(ctx, &a).await {
                Ok(code) => HostStatus {
                    installed: true,
                    version: None,
                    healthy: true,
                    message: format!("Envoy at {a} answers HTTP ({code})"),
                },
                Err(m) => HostStatus {
                    installed: true,
                    message: m,
                    ..Default::default()
                },
            },
            Err(m) => HostStatus {
                installed: chart_row.installed,
                message: m,
                ..Default::default()
            },
        };
        vec![
            (format!("{NAME} (HelmChart, rollout)"), chart_row),
            (format!("{NAME} (Envoy address, HTTP)"), envoy),
        ]
    }
}
