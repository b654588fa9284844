//! Pools, services and jobs: `pool.query`, `service.query|update|control`, `core.get_jobs`,
//! `auth.me` (api-behaviour.md B.1, B.2, B.5).

use super::client::Client;
use super::error::TruenasError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    pub id: i64,
    pub name: String,
    /// `ONLINE`, `DEGRADED`, …
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub healthy: bool,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub allocated: Option<u64>,
    /// Raw pool free space (ignores parity); the root dataset's `available` is what fits.
    #[serde(default)]
    pub free: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ServiceState {
    Running,
    Stopped,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub id: i64,
    pub service: String,
    /// Started at boot.
    pub enable: bool,
    pub state: ServiceState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum JobState {
    Waiting,
    Running,
    Success,
    Failed,
    Aborted,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Deserialize)]
struct Job {
    state: JobState,
    #[serde(default)]
    result: Value,
    #[serde(default)]
    error: Option<String>,
}

impl Client {
    pub async fn pools(&self) -> Result<Vec<Pool>, TruenasError> {
        self.call_as("pool.query", json!([])).await
    }

    /// `auth.me`: who the key logs in as (needs a logged-in session).
    pub async fn me(&self) -> Result<Value, TruenasError> {
        self.call("auth.me", json!([])).await
    }

    pub async fn service(&self, name: &str) -> Result<Option<Service>, TruenasError> {
        let v: Vec<Service> = self
            .call_as("service.query", json!([[["service", "=", name]]]))
            .await?;
        Ok(v.into_iter().next())
    }

    /// Start `name` at boot (`service.update [name, {enable: true}]`).
    pub async fn enable_service(&self, name: &str) -> Result<(), TruenasError> {
        self.call("service.update", json!([name, {"enable": true}]))
            .await
            .map(|_| ())
    }

    /// `service.control START` is a job: its id comes back at once, the result (true) when
    /// the job ends. `silent: false` makes a failed start an error instead of `false`.
    pub async fn start_service(&self, name: &str) -> Result<(), TruenasError> {
        let m = "service.control";
        let id = self
            .call(
                m,
                json!(["START", name, {"ha_propagate": true, "silent": false, "timeout": 120}]),
            )
            .await?;
        let id = id.as_i64().ok_or_else(|| TruenasError::Protocol {
            method: m.into(),
            what: format!("expected a job id, got {id}"),
        })?;
        let result = self.wait_job(m, id, Duration::from_secs(150)).await?;
        if result == Value::Bool(false) {
            return Err(TruenasError::Job {
                method: m.into(),
                job_id: id,
                state: "SUCCESS".into(),
                error: format!("the {name} service did not start (see its logs in TrueNAS)"),
            });
        }
        Ok(())
    }

    /// Poll `core.get_jobs` until job `id` ends; its result on SUCCESS.
    pub async fn wait_job(
        &self,
        method: &str,
        id: i64,
        limit: Duration,
    ) -> Result<Value, TruenasError> {
        let start = Instant::now();
        loop {
            let jobs: Vec<Job> = self
                .call_as("core.get_jobs", json!([[["id", "=", id]]]))
                .await?;
            let job = jobs
                .into_iter()
                .next()
                .ok_or_else(|| TruenasError::Protocol {
                    method: "core.get_jobs".into(),
                    what: format!("job {id} of `{method}` is not listed"),
                })?;
            match job.state {
                JobState::Success => return Ok(job.result),
                JobState::Failed | JobState::Aborted | JobState::Unknown => {
                    return Err(TruenasError::Job {
                        method: method.into(),
                        job_id: id,
                        state: format!("{:?}", job.state).to_uppercase(),
                        error: job.error.unwrap_or_else(|| "no error text".into()),
                    })
                }
                JobState::Waiting | JobState::Running => {}
            }
            if start.elapsed() > limit {
                return Err(TruenasError::Timeout {
                    method: format!("{method} (job {id})"),
                    after: limit,
                });
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}
