//! The typed `helm.cattle.io/v1` HelmChart a component asks K3s's helm-controller for
//! (component-facts §1, api-behaviour A.9), rendered to the object foundry applies.

use crate::config::ImagesConfig;
use serde::Serialize;
use serde_json::{json, Value};
use std::time::Duration;

/// Where every HelmChart lives: the namespace K3s's helm-controller watches.
pub const CHART_NAMESPACE: &str = "kube-system";

/// The job image the helm-controller runs (`rancher/klipper-helm`), pinned so that it can be
/// mirrored; set on the chart only when `images.registry` rewrites images.
pub const JOB_IMAGE: &str = "docker.io/rancher/klipper-helm:v0.9.8-build20250709";

/// A workload the chart creates and whose rollout tells that the release is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    Deployment,
    DaemonSet,
}

impl WorkloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub name: String,
}

/// One chart as a component wants it installed.
#[derive(Debug, Clone)]
pub struct Chart {
    /// HelmChart name and Helm release name (`helm-install-<name>` is its Job).
    pub name: String,
    pub repo: String,
    pub chart: String,
    pub version: String,
    pub target_namespace: String,
    /// The chart's values, from the component's typed values struct.
    pub values: Value,
    /// `jobImage`, when images are rewritten to a private registry.
    pub job_image: Option<String>,
    /// What must be rolled out before the component counts as installed.
    pub workloads: Vec<Workload>,
    /// How long the install Job plus the rollout may take.
    pub deadline: Duration,
}

/// The HelmChart's spec, field names as the CRD spells them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Spec<'a> {
    repo: &'a str,
    chart: &'a str,
    version: &'a str,
    target_namespace: &'a str,
    create_namespace: bool,
    /// `abort`: the default `reinstall` uninstalls a failing release (helm-controller #246).
    failure_policy: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    job_image: Option<&'a str>,
    values_content: String,
}

impl Chart {
    /// The `jobImage` for these image settings (None: the controller's default).
    pub fn job_image_for(images: &ImagesConfig) -> Option<String> {
        images
            .registry
            .as_ref()
            .filter(|r| !r.is_empty())
            .map(|_| crate::host::container::rewrite_image(JOB_IMAGE, images))
    }

    /// The HelmChart object to apply (server-side, field manager `foundry`).
    pub fn render(&self) -> Value {
        let spec = Spec {
            repo: &self.repo,
            chart: &self.chart,
            version: &self.version,
            target_namespace: &self.target_namespace,
            create_namespace: true,
            failure_policy: "abort",
            job_image: self.job_image.as_deref(),
            values_content: serde_yaml::to_string(&self.values).unwrap_or_default(),
        };
        json!({
            "apiVersion": "helm.cattle.io/v1",
            "kind": "HelmChart",
            "metadata": {
                "name": self.name,
                "namespace": CHART_NAMESPACE,
                "labels": {"app.kubernetes.io/managed-by": "foundry"},
            },
            "spec": spec,
        })
    }

    /// `helm-install-<name>`.
    pub fn install_job(&self) -> String {
        format!("helm-install-{}", self.name)
    }
}

/// True when every field of `want` has the same value in `live` (objects compared key by key,
/// anything else by equality): what the controller or the API server adds does not count as a
/// difference, so an unchanged chart costs one GET.
pub fn subset(want: &Value, live: &Value) -> bool {
    match (want, live) {
        (Value::Object(w), Value::Object(l)) => w
            .iter()
            .all(|(k, v)| l.get(k).is_some_and(|lv| subset(v, lv))),
        _ => want == live,
    }
}
