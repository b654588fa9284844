//! The end of a pod's log (`GET /api/v1/namespaces/NS/pods/NAME/log?tailLines=N&limitBytes=B`,
//! text/plain), and of the newest pod of a Job: what an installer shows when a Job it waited
//! for failed, instead of sending the user to `kubectl logs`.

use super::error::KubeError;
use super::objects::Selector;
use super::transport::{describe, Kube};
use crate::redact;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::core::subresource::LogParams;
use kube::core::Request;

/// At most this much of a log is read, however long its lines are.
const LIMIT_BYTES: i64 = 16 * 1024;

/// The last lines of one container's log, made safe to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTail {
    /// `ns/pod` (and `/container` when the pod has several).
    pub source: String,
    pub lines: Vec<String>,
}

impl Kube {
    /// The last `lines` lines of pod `ns/name`'s `container` (None: its only container).
    /// Known secrets are masked and control characters (terminal escapes) removed.
    pub async fn pod_log_tail(
        &self,
        ns: &str,
        name: &str,
        container: Option<&str>,
        lines: u32,
    ) -> Result<Vec<String>, KubeError> {
        let params = LogParams {
            container: container.map(String::from),
            tail_lines: Some(i64::from(lines)),
            limit_bytes: Some(LIMIT_BYTES),
            ..LogParams::default()
        };
        let req = Request::new(format!("/api/v1/namespaces/{ns}/pods"))
            .logs(name, &params)
            .map_err(|e| KubeError::Api {
                request: describe("GET", &format!("/api/v1/namespaces/{ns}/pods/{name}/log")),
                status: 0,
                reason: String::new(),
                message: e.to_string(),
            })?;
        let answer = self.send_ok(req).await?;
        let text = redact::scrub(&String::from_utf8_lossy(&answer.body));
        let mut out: Vec<String> = text.lines().map(printable).collect();
        // limitBytes may cut a long log mid-way: keep only the last `lines`.
        let skip = out.len().saturating_sub(lines as usize);
        out.drain(..skip);
        Ok(out)
    }

    /// The end of the log of the newest pod of `job` (found by the Job's own selector), or
    /// None when it has no pod (yet, or any more).
    pub async fn job_log_tail(&self, job: &Job, lines: u32) -> Result<Option<LogTail>, KubeError> {
        let ns = job.metadata.namespace.as_deref().unwrap_or("default");
        let Some(selector) = job_selector(job) else {
            return Ok(None);
        };
        let pods: Vec<Pod> = self.list(Some(ns), &Selector::labels(&selector)).await?;
        let Some(pod) = pods.into_iter().max_by(|a, b| {
            a.metadata
                .creation_timestamp
                .cmp(&b.metadata.creation_timestamp)
        }) else {
            return Ok(None);
        };
        let name = pod.metadata.name.clone().unwrap_or_default();
        let container = pick_container(&pod);
        let lines = self
            .pod_log_tail(ns, &name, container.as_deref(), lines)
            .await?;
        let source = match &container {
            Some(c) => format!("{ns}/{name}/{c}"),
            None => format!("{ns}/{name}"),
        };
        Ok(Some(LogTail { source, lines }))
    }
}

/// None for a pod with one container; else the first that exited non-zero, or the first.
fn pick_container(pod: &Pod) -> Option<String> {
    let containers = &pod.spec.as_ref()?.containers;
    if containers.len() < 2 {
        return None;
    }
    let failed = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .find(|c| {
            c.state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .is_some_and(|t| t.exit_code != 0)
        })
        .map(|c| c.name.clone());
    failed.or_else(|| Some(containers[0].name.clone()))
}

/// `k=v,k=v` from the Job's `spec.selector.matchLabels` (the apiserver sets it to the Job's
/// controller-uid label at create).
fn job_selector(job: &Job) -> Option<String> {
    let labels = job
        .spec
        .as_ref()?
        .selector
        .as_ref()?
        .match_labels
        .as_ref()?;
    if labels.is_empty() {
        return None;
    }
    Some(
        labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// A log line without control characters: a terminal escape in helm's output must not
/// repaint the user's terminal, and a CR must not hide the start of a line.
fn printable(line: &str) -> String {
    crate::output::terminal_safe(line).replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_dropped_and_tabs_become_spaces() {
        assert_eq!(printable("\u{1b}[31mError:\tbad\r"), "[31mError: bad");
    }

    #[test]
    fn the_selector_is_the_jobs_own() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "j", "namespace": "kube-system"},
            "spec": {"selector": {"matchLabels": {"controller-uid": "u-1"}},
                     "template": {"spec": {"containers": []}}}
        }))
        .unwrap();
        assert_eq!(job_selector(&job).as_deref(), Some("controller-uid=u-1"));
        let bare: Job =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "j"}})).unwrap();
        assert_eq!(job_selector(&bare), None);
    }
}
