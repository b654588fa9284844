//! The chart phases (all API): apply the HelmChart when it differs from the live one, wait for
//! its `helm-install-<name>` Job, wait for the chart's workloads to roll out; and removal.
//! On a no-op re-run: one GET of the chart and one list per workload kind, no step.

use super::chart::{subset, Chart, WorkloadKind, CHART_NAMESPACE};
use super::rollout::{self, Rollout};
use super::state::{self, ChartState};
use super::{airgap, poll, ChartFn};
use crate::component::api::{object_diff, ApiAction};
use crate::component::{cluster_api, HostSet, Phase, RunCtx, Step};
use crate::k8s::{helm_chart_resource, wait_for, DeleteOutcome, Kube, KubeError, Probe, Selector};
use anyhow::Context;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::batch::v1::Job;
use kube::core::DynamicObject;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The `Failed=True` message of a live HelmChart, if its last install failed.
pub fn chart_failure(live: &Value) -> Option<String> {
    live["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Failed" && c["status"] == "True")
        .map(|c| {
            format!(
                "{}: {}",
                c["reason"].as_str().unwrap_or("Failed"),
                c["message"].as_str().unwrap_or("")
            )
        })
}

async fn live_chart(kube: &Kube, name: &str) -> Result<Option<Value>, KubeError> {
    let got = kube
        .dynamic(&helm_chart_resource())
        .get_opt(Some(CHART_NAMESPACE), name)
        .await;
    match got {
        Ok(o) => Ok(o.map(|o| serde_json::to_value(o).unwrap_or_default())),
        // The HelmChart CRD not served (yet): K3s is not up, so there is no chart either.
        Err(KubeError::NotFound { served: false, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

// ---- apply ------------------------------------------------------------------------------

pub struct ApplyChart(pub ChartFn);

#[async_trait::async_trait]
impl Phase for ApplyChart {
    fn title(&self) -> String {
        "apply HelmChart".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Api
    }
    async fn plan_api(&self, ctx: &Arc<RunCtx>) -> anyhow::Result<Vec<Step>> {
        let chart = (self.0)(&ctx.stack)?;
        let kube = cluster_api::client(ctx).await?;
        let desired = airgap::render(&ctx.stack, &chart);
        let live = live_chart(&kube, &chart.name).await?;
        if let Some(l) = &live {
            if !l["metadata"]["deletionTimestamp"].is_null() {
                anyhow::bail!(
                    "HelmChart {CHART_NAMESPACE}/{} is being deleted (its helm-delete Job runs); wait for `component uninstall` to finish, then install again",
                    chart.name
                );
            }
            let same = subset(&desired["spec"], &l["spec"])
                && subset(&desired["metadata"]["labels"], &l["metadata"]["labels"]);
            if same {
                state::put(
                    ctx,
                    &chart.name,
                    ChartState {
                        changed: false,
                        old_job_uid: None,
                        failed: chart_failure(l),
                    },
                );
                return Ok(vec![]);
            }
        }
        // Changed: remember the Job it replaces, so the wait does not take the old one's
        // "Complete" for the new install.
        // A labels-only change leaves the spec hash, and so the Job, as it was.
        let spec_same = live
            .as_ref()
            .is_some_and(|l| subset(&desired["spec"], &l["spec"]));
        let old_job_uid = if spec_same {
            None
        } else {
            kube.get_opt::<Job>(Some(CHART_NAMESPACE), &chart.install_job())
                .await?
                .and_then(|j| j.metadata.uid)
        };
        state::put(
            ctx,
            &chart.name,
            ChartState {
                changed: true,
                old_job_uid,
                failed: None,
            },
        );
        let why = if live.is_some() { "changed" } else { "new" };
        let from = if airgap::bundle_dir(&ctx.stack).is_some() {
            format!(
                "the air-gap bundle, served by K3s from {}",
                airgap::STATIC_DIR
            )
        } else {
            chart.repo.clone()
        };
        let live_spec = live.as_ref().map(|l| {
            serde_json::json!({"metadata": {"labels": l["metadata"]["labels"]}, "spec": l["spec"]})
        });
        let want = serde_json::json!({"metadata": {"labels": desired["metadata"]["labels"]}, "spec": desired["spec"]});
        Ok(vec![Step::api(Arc::new(ApplyChartAction {
            kube,
            description: format!(
                "apply HelmChart {CHART_NAMESPACE}/{} ({} {} from {}, {why})",
                chart.name, chart.chart, chart.version, from
            ),
            diff: object_diff(&want, live_spec.as_ref()),
            object: desired,
        }))])
    }
}

#[derive(Debug)]
struct ApplyChartAction {
    kube: Kube,
    description: String,
    diff: String,
    object: Value,
}

#[async_trait::async_trait]
impl ApiAction for ApplyChartAction {
    fn describe(&self) -> String {
        self.description.clone()
    }
    fn diff(&self) -> Option<String> {
        Some(self.diff.clone())
    }
    async fn execute(&self) -> anyhow::Result<()> {
        let obj: DynamicObject = serde_json::from_value(self.object.clone())?;
        // force: foundry owns these fields, also after someone edited them by hand.
        self.kube
            .dynamic(&helm_chart_resource())
            .apply(&obj, true)
            .await?;
        Ok(())
    }
}

// ---- install Job ------------------------------------------------------------------------

pub struct WaitInstallJob(pub ChartFn);

#[async_trait::async_trait]
impl Phase for WaitInstallJob {
    fn title(&self) -> String {
        "wait for the helm-install Job".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Api
    }
    async fn plan_api(&self, ctx: &Arc<RunCtx>) -> anyhow::Result<Vec<Step>> {
        let chart = (self.0)(&ctx.stack)?;
        let st = state::get(ctx, &chart.name);
        if !st.changed {
            if let Some(f) = st.failed {
                let kube = cluster_api::client(ctx).await?;
                let job = kube
                    .get_opt::<Job>(Some(CHART_NAMESPACE), &chart.install_job())
                    .await;
                let output = helm_output(&kube, &chart.install_job(), job).await;
                anyhow::bail!(
                    "HelmChart {CHART_NAMESPACE}/{} failed its last install ({f}); fix the chart's settings and run again{output}",
                    chart.name,
                );
            }
            return Ok(vec![]);
        }
        let kube = cluster_api::client(ctx).await?;
        Ok(vec![Step::api(Arc::new(WaitJob {
            kube,
            job: chart.install_job(),
            old_uid: st.old_job_uid,
            deadline: chart.deadline,
        }))])
    }
}

#[derive(Debug)]
struct WaitJob {
    kube: Kube,
    job: String,
    old_uid: Option<String>,
    deadline: Duration,
}

/// How many lines of a failed Job's log an error shows.
const LOG_LINES: u32 = 20;

/// The end of helm's output in a failed Job's pod, as the tail of an error message; where it
/// cannot be read, the `kubectl` command that would show it and why foundry could not.
async fn helm_output(kube: &Kube, job_name: &str, job: Result<Option<Job>, KubeError>) -> String {
    let kubectl = format!("`kubectl -n {CHART_NAMESPACE} logs job/{job_name}`");
    let tail = match job {
        Ok(Some(job)) => kube.job_log_tail(&job, LOG_LINES).await,
        Ok(None) => return format!("; the Job is gone, and helm's output with it: {kubectl}"),
        Err(e) => Err(e),
    };
    match tail {
        Ok(Some(tail)) if !tail.lines.is_empty() => {
            let mut out = format!(
                "\nhelm's output (last {} lines of pod {}):",
                tail.lines.len(),
                tail.source
            );
            for l in &tail.lines {
                out.push_str("\n  | ");
                out.push_str(l);
            }
            out
        }
        Ok(Some(tail)) => format!("; pod {} logged nothing", tail.source),
        Ok(None) => format!("; the Job has no pod left to show helm's output: {kubectl}"),
        Err(e) => format!("; helm's output could not be read ({e}): {kubectl}"),
    }
}

/// Complete (Ok) or Failed (Err with the failure condition), or None while it runs.
fn job_outcome(job: &Job) -> Option<Result<(), String>> {
    let conds = job.status.as_ref()?.conditions.as_ref()?;
    conds
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some(Ok(())),
            "Failed" => Some(Err(format!(
                "{}: {}",
                c.reason.as_deref().unwrap_or("Failed"),
                c.message.as_deref().unwrap_or("")
            ))),
            _ => None,
        })
}

#[async_trait::async_trait]
impl ApiAction for WaitJob {
    fn describe(&self) -> String {
        format!(
            "wait for Job {CHART_NAMESPACE}/{} to complete (≤ {}s)",
            self.job,
            self.deadline.as_secs()
        )
    }
    fn mutates(&self) -> bool {
        false
    }
    async fn execute(&self) -> anyhow::Result<()> {
        let what = format!("Job {CHART_NAMESPACE}/{} to complete", self.job);
        let outcome = wait_for(&what, self.deadline, poll(self.deadline), || async {
            let job = self
                .kube
                .get_opt::<Job>(Some(CHART_NAMESPACE), &self.job)
                .await?;
            Ok(match job {
                None => Probe::Waiting("the helm-controller has not created it yet".into()),
                Some(j) if j.metadata.uid.is_some() && j.metadata.uid == self.old_uid => {
                    Probe::Waiting("the previous install's Job is still there".into())
                }
                Some(j) => match job_outcome(&j) {
                    Some(o) => Probe::Done(o.map_err(|f| (f, j))),
                    None => Probe::Waiting(format!(
                        "running ({} active, {} failed attempts)",
                        j.status.as_ref().and_then(|s| s.active).unwrap_or(0),
                        j.status.as_ref().and_then(|s| s.failed).unwrap_or(0)
                    )),
                },
            })
        })
        .await
        .with_context(|| {
            format!(
                "see `kubectl -n {CHART_NAMESPACE} logs job/{}` for helm's output",
                self.job
            )
        })?;
        let Err((f, job)) = outcome else {
            return Ok(());
        };
        let output = helm_output(&self.kube, &self.job, Ok(Some(job))).await;
        anyhow::bail!(
            "Job {CHART_NAMESPACE}/{} failed ({f}); the chart is left as it is (failurePolicy abort): fix the settings and run again{output}",
            self.job,
        )
    }
}

// ---- rollout ----------------------------------------------------------------------------

/// One look at every workload of the chart: one list per kind it has.
async fn look(kube: &Kube, chart: &Chart) -> Result<Rollout, KubeError> {
    let ns = Some(chart.target_namespace.as_str());
    let has = |k| chart.workloads.iter().any(|w| w.kind == k);
    let deployments = if has(WorkloadKind::Deployment) {
        kube.list::<Deployment>(ns, &Selector::all()).await?
    } else {
        vec![]
    };
    let daemon_sets = if has(WorkloadKind::DaemonSet) {
        kube.list::<DaemonSet>(ns, &Selector::all()).await?
    } else {
        vec![]
    };
    Ok(rollout::all(
        &chart.target_namespace,
        &chart.workloads,
        &deployments,
        &daemon_sets,
    ))
}

pub async fn rollout_now(kube: &Kube, chart: &Chart) -> Result<Rollout, KubeError> {
    look(kube, chart).await
}

pub struct WaitRollout(pub ChartFn);

#[async_trait::async_trait]
impl Phase for WaitRollout {
    fn title(&self) -> String {
        "wait for the rollout".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Api
    }
    async fn plan_api(&self, ctx: &Arc<RunCtx>) -> anyhow::Result<Vec<Step>> {
        let chart = (self.0)(&ctx.stack)?;
        let st = state::get(ctx, &chart.name);
        let kube = cluster_api::client(ctx).await?;
        if !st.changed {
            match look(&kube, &chart).await? {
                Rollout::Done => return Ok(vec![]),
                Rollout::Failed(m) => anyhow::bail!(
                    "{m}; see `kubectl -n {} describe` of it",
                    chart.target_namespace
                ),
                Rollout::Waiting(_) => {}
            }
        }
        Ok(vec![Step::api(Arc::new(WaitRolloutAction { kube, chart }))])
    }
}

#[derive(Debug)]
struct WaitRolloutAction {
    kube: Kube,
    chart: Chart,
}

#[async_trait::async_trait]
impl ApiAction for WaitRolloutAction {
    fn describe(&self) -> String {
        let names: Vec<String> = self
            .chart
            .workloads
            .iter()
            .map(|w| format!("{} {}", w.kind.as_str(), w.name))
            .collect();
        format!(
            "wait for {} in {} to roll out (≤ {}s)",
            names.join(", "),
            self.chart.target_namespace,
            self.chart.deadline.as_secs()
        )
    }
    fn mutates(&self) -> bool {
        false
    }
    async fn execute(&self) -> anyhow::Result<()> {
        let d = self.chart.deadline;
        let what = format!("{}'s workloads to roll out", self.chart.name);
        let r = wait_for(&what, d, poll(d), || async {
            Ok(match look(&self.kube, &self.chart).await? {
                Rollout::Done => Probe::Done(Ok(())),
                Rollout::Failed(m) => Probe::Done(Err(m)),
                Rollout::Waiting(m) => Probe::Waiting(m),
            })
        })
        .await
        .with_context(|| {
            format!(
                "{} is not rolled out within its deadline of {}s; check `kubectl -n {} get pods` (image pulls through Zot, scheduling)",
                self.chart.name,
                d.as_secs(),
                self.chart.target_namespace
            )
        })?;
        r.map_err(anyhow::Error::msg)
    }
}

// ---- removal ----------------------------------------------------------------------------

pub struct DeleteChart(pub ChartFn);

#[async_trait::async_trait]
impl Phase for DeleteChart {
    fn title(&self) -> String {
        "delete HelmChart".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Api
    }
    async fn plan_api(&self, ctx: &Arc<RunCtx>) -> anyhow::Result<Vec<Step>> {
        let chart = (self.0)(&ctx.stack)?;
        let kube = cluster_api::client(ctx).await?;
        if live_chart(&kube, &chart.name).await?.is_none() {
            return Ok(vec![]);
        }
        Ok(vec![Step::api(Arc::new(DeleteChartAction { kube, chart }))])
    }
}

#[derive(Debug)]
struct DeleteChartAction {
    kube: Kube,
    chart: Chart,
}

#[async_trait::async_trait]
impl ApiAction for DeleteChartAction {
    fn describe(&self) -> String {
        format!(
            "delete HelmChart {CHART_NAMESPACE}/{} and wait for its helm-delete Job (≤ {}s)",
            self.chart.name,
            self.chart.deadline.as_secs()
        )
    }
    async fn execute(&self) -> anyhow::Result<()> {
        let name = &self.chart.name;
        let charts = self.kube.dynamic(&helm_chart_resource());
        if charts.delete(Some(CHART_NAMESPACE), name).await? == DeleteOutcome::AlreadyGone {
            return Ok(());
        }
        let d = self.chart.deadline;
        let del_job = format!("helm-delete-{name}");
        wait_for(&format!("HelmChart {CHART_NAMESPACE}/{name} to be gone"), d, poll(d), || async {
            if live_chart(&self.kube, name).await?.is_none() {
                return Ok(Probe::Done(()));
            }
            let job = self.kube.get_opt::<Job>(Some(CHART_NAMESPACE), &del_job).await?;
            Ok(Probe::Waiting(match job.as_ref().and_then(job_outcome) {
                None if job.is_none() => format!("Job {del_job} not created yet"),
                None => format!("Job {del_job} running"),
                Some(Ok(())) => format!("Job {del_job} complete, finalizer not released yet"),
                Some(Err(f)) => format!("Job {del_job} failed ({f})"),
            }))
        })
        .await
        .with_context(|| format!(
            "the chart stays behind finalizer wrangler.cattle.io/on-helm-chart-remove; see `kubectl -n {CHART_NAMESPACE} logs job/{del_job}`; to give up on helm's uninstall, remove the finalizer: `kubectl -n {CHART_NAMESPACE} patch helmchart {name} --type merge -p '{{\"metadata\":{{\"finalizers\":null}}}}'`"
        ))?;
        Ok(())
    }
}
