//! Read-only health of a chart for `stack status`: the HelmChart and its install Job, then the
//! rollout of its workloads.

use super::chart::{Chart, CHART_NAMESPACE};
use super::phases::{chart_failure, rollout_now};
use super::rollout::Rollout;
use crate::component::HostStatus;
use crate::k8s::{helm_chart_resource, Kube};

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
    let version = live["spec"]["version"].as_str().map(String::from);
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
