//! Read-only health of a chart for `stack status`: the HelmChart and its install Job, then the
//! rollout of its workloads.

use super::chart::{Chart, CHART_NAMESPACE};
use super::phases::{chart_failure, rollout_now};
use super::rollout::Rollout;
use crate::component::HostStatus;
use crate::k8s::{helm_chart_resource, Kube};

/// The cluster's API client and the HelmChart row of `chart`, the start of every chart
/// component's stack status; without a client, `Err` holds the one row that says why.
pub async fn client_and_chart_row(
    ctx: &crate::component::RunCtx,
    name: &str,
    chart: anyhow::Result<Chart>,
) -> Result<(Kube, HostStatus), Vec<(String, HostStatus)>> {
    let failed = |e: anyhow::Error| HostStatus {
        message: format!("{e:#}"),
        ..Default::default()
    };
    let kube = match crate::component::cluster_api::client(ctx).await {
        Ok(k) => k,
        Err(e) => return Err(vec![(format!("{name} (HelmChart)"), failed(e))]),
    };
    let row = match chart {
        Ok(c) => chart_row(&kube, &c).await,
        Err(e) => failed(e),
    };
    Ok((kube, row))
}

/// One row: installed = the HelmChart exists, healthy = not failed and rolled out.
pub async fn chart_row(kube: &Kube, chart: &Chart) -> HostStatus {
    let live = match kube
        .dynamic(&helm_chart_resource())
        .get_opt(Some(CHART_NAMESPACE), &chart.name)
        .await
    {
        Ok(Some(o)) => serde_json::to_value(o).unwrap_or_default(),
        Ok(None) => {
            return HostStatus {
                message: format!("no HelmChart {CHART_NAMESPACE}/{}", chart.name),
                ..Default::default()
            }
        }
        Err(e) => {
            return HostStatus {
                message: e.to_string(),
                ..Default::default()
            }
        }
    };
    // Air-gapped, the spec names the archive instead of a version (airgap.rs).
    let version = live["spec"]["version"]
        .as_str()
        .map(String::from)
        .or_else(|| {
            let archive = super::airgap::archive_name(&chart.chart, &chart.version);
            live["spec"]["chart"]
                .as_str()
                .is_some_and(|c| c.ends_with(&format!("/{archive}")))
                .then(|| chart.version.clone())
        });
    if let Some(f) = chart_failure(&live) {
        return HostStatus {
            installed: true,
            version,
            healthy: false,
            message: format!("Job {} failed: {f}", chart.install_job()),
        };
    }
    let (healthy, message) = match rollout_now(kube, chart).await {
        Ok(Rollout::Done) => (true, "Job complete, rolled out".to_string()),
        Ok(Rollout::Waiting(m)) | Ok(Rollout::Failed(m)) => (false, m),
        Err(e) => (false, e.to_string()),
    };
    HostStatus {
        installed: true,
        version,
        healthy,
        message,
    }
}
