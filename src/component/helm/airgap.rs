//! Air-gapped charts: with `components.k3s.airgap_bundle` set, a chart comes from the bundle's
//! `charts/` directory instead of its repository. K3s serves every file under
//! `/var/lib/rancher/k3s/server/static/` through its API, and helm-controller substitutes
//! `%{KUBERNETES_API}%` in `spec.chart`, so the HelmChart names
//! `https://%{KUBERNETES_API}%/static/charts/<archive>` (no `repo`, no `version`: "version when
//! installing from a repository") and the K3s files phase puts the archive on every server
//! (component-facts §5, K3s docs add-ons/helm). `chartContent` is not used: an object is
//! limited to 1 MiB (helm-controller #267).

use super::Chart;
use crate::config::StackConfig;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Where K3s serves static files from (`/static/charts/...` on its API port).
pub const STATIC_DIR: &str = "/var/lib/rancher/k3s/server/static/charts";

/// The bundle's folder for chart archives.
pub const BUNDLE_SUBDIR: &str = "charts";

/// `<chart>-<version>.tgz`: the name `helm pull` and `helm package` give the archive.
pub fn archive_name(chart: &str, version: &str) -> String {
    format!("{chart}-{version}.tgz")
}

/// The URL helm-controller fetches an archive from, inside the cluster.
pub fn chart_url(archive: &str) -> String {
    format!("https://%{{KUBERNETES_API}}%/static/charts/{archive}")
}

/// The bundle directory when K3s (and so every chart) installs air-gapped.
pub fn bundle_dir(stack: &StackConfig) -> Option<&str> {
    stack
        .components
        .k3s
        .as_ref()
        .filter(|k| k.enabled)
        .and_then(|k| k.airgap_bundle.as_deref())
        .filter(|d| !d.is_empty())
}

/// `chart` as applied in this stack: from the bundle when air-gapped, else as rendered.
pub fn render(stack: &StackConfig, chart: &Chart) -> Value {
    let mut v = chart.render();
    if bundle_dir(stack).is_some() {
        if let Some(spec) = v["spec"].as_object_mut() {
            spec.remove("repo");
            spec.remove("version");
            spec.insert(
                "chart".into(),
                Value::String(chart_url(&archive_name(&chart.chart, &chart.version))),
            );
        }
    }
    v
}

/// One archive a server must serve.
#[derive(Debug, Clone)]
pub struct StaticChart {
    /// In the bundle, on the machine running foundry.
    pub local: PathBuf,
    /// On every server, under [`STATIC_DIR`].
    pub remote: String,
    pub sha256: String,
}

/// Every archive the stack's enabled chart components need, checked to be in the bundle (the
/// error names the file and the command that fetches it). Empty when not air-gapped.
pub fn static_charts(stack: &StackConfig) -> anyhow::Result<Vec<StaticChart>> {
    let Some(dir) = bundle_dir(stack) else {
        return Ok(Vec::new());
    };
    let mut charts = Vec::new();
    let contour = crate::component::contour::Contour;
    let cert_manager = crate::component::cert_manager::CertManager;
    use crate::component::Component;
    if contour.enabled(stack) {
        charts.push(crate::component::contour::chart(stack)?);
    }
    if cert_manager.enabled(stack) {
        charts.push(crate::component::cert_manager::chart(stack)?);
    }
    charts
        .iter()
        .map(|c| static_chart(Path::new(dir), c))
        .collect()
}

fn static_chart(dir: &Path, c: &Chart) -> anyhow::Result<StaticChart> {
    let name = archive_name(&c.chart, &c.version);
    let local = dir.join(BUNDLE_SUBDIR).join(&name);
    let bytes = std::fs::read(&local).map_err(|e| {
        anyhow::anyhow!(
            "components.k3s.airgap_bundle: {} ({e}): an air-gapped install takes the {} chart from the bundle; fetch it where there is internet with `helm pull {} --repo {} --version {} -d {}`",
            local.display(),
            c.name,
            c.chart,
            c.repo,
            c.version,
            dir.join(BUNDLE_SUBDIR).display()
        )
    })?;
    // helm-controller fails late and vaguely on a file that is not a gzip'd tar: say it now.
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        anyhow::bail!(
            "components.k3s.airgap_bundle: {} is not a gzip'd chart archive (a .tgz from `helm pull` or `helm package`)",
            local.display()
        );
    }
    Ok(StaticChart {
        local,
        remote: format!("{STATIC_DIR}/{name}"),
        sha256: hex::encode(Sha256::digest(&bytes)),
    })
}
