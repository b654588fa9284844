//! `foundry storage test`: connect, log in, check the pool, create a temporary dataset and
//! delete it again, reporting each step. The delete always runs once a create was sent, also
//! after a failure, an interrupt, or a lost connection (then over a new connection).

use super::client::{Client, Settings};
use super::error::TruenasError;
use super::size::human;
use crate::redact::scrub;
use crate::run::log::RunLogHandle;
use serde::Serialize;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Failed,
    /// Not run because an earlier step failed or the run was interrupted.
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub step: String,
    pub outcome: Outcome,
    pub detail: String,
    pub ms: u128,
}

/// The result of the whole test: each step, and the first error (for the exit code).
pub struct SelfTest {
    pub steps: Vec<StepReport>,
    pub error: Option<TruenasError>,
}

struct Recorder<'a> {
    steps: Vec<StepReport>,
    on_step: &'a mut (dyn FnMut(&StepReport) + Send),
    error: Option<TruenasError>,
}

impl Recorder<'_> {
    fn push(
        &mut self,
        step: impl Into<String>,
        outcome: Outcome,
        detail: impl Into<String>,
        start: Instant,
    ) {
        let r = StepReport {
            step: step.into(),
            outcome,
            detail: scrub(&detail.into()),
            ms: start.elapsed().as_millis(),
        };
        (self.on_step)(&r);
        self.steps.push(r);
    }

    fn ok(&mut self, step: impl Into<String>, detail: impl Into<String>, start: Instant) {
        self.push(step, Outcome::Ok, detail, start);
    }

    fn failed(&mut self, step: impl Into<String>, e: TruenasError, start: Instant) {
        self.push(step, Outcome::Failed, e.to_string(), start);
        self.error.get_or_insert(e);
    }
}

/// The comment that marks foundry's temporary datasets (and only those are ever removed as
/// leftovers of an earlier, killed run).
const MARK: &str = "temporary: foundry storage test";
const PREFIX: &str = "foundry-test-";

/// A name no one else uses: `<pool>/foundry-test-<8 hex>`.
fn temp_name(pool: &str) -> String {
    let n: u32 = rand::random();
    format!("{pool}/{PREFIX}{n:08x}")
}

/// Run the test. `interrupted` is checked before the create (a Ctrl-C after it still cleans up).
pub async fn run(
    settings: Settings,
    pool: &str,
    log: RunLogHandle,
    interrupted: &AtomicBool,
    on_step: &mut (dyn FnMut(&StepReport) + Send),
) -> SelfTest {
    let mut rec = Recorder {
        steps: vec![],
        on_step,
        error: None,
    };
    let url = settings.url.clone();
    let user = settings.user.clone();
    let t = Instant::now();
    let client = match Client::connect(settings, log).await {
        Ok(c) => c,
        Err(e @ TruenasError::Login { .. }) => {
            rec.ok(
                "api versions",
                format!("{url}: TLS ok, API version known"),
                t,
            );
            rec.failed("login", e, t);
            return SelfTest {
                steps: rec.steps,
                error: rec.error,
            };
        }
        Err(e) => {
            rec.failed("api versions", e, t);
            return SelfTest {
                steps: rec.steps,
                error: rec.error,
            };
        }
    };
    rec.ok(
        "api versions",
        format!(
            "{url} serves {} (wss://…/api/current)",
            client.api_version()
        ),
        t,
    );
    rec.ok("login", format!("as {user} with API_KEY_PLAIN"), t);

    let t = Instant::now();
    match client.me().await {
        Ok(me) => {
            let roles = me
                .pointer("/privilege/roles/$set")
                .or_else(|| me.pointer("/privilege/roles"))
                .map(|r| r.to_string())
                .unwrap_or_else(|| "?".into());
            rec.ok(
                "auth.me",
                format!("{} (roles {roles})", me["pw_name"].as_str().unwrap_or("?")),
                t,
            );
        }
        Err(e) => rec.failed("auth.me", e, t),
    }

    let t = Instant::now();
    match client.pools().await {
        Ok(pools) => match pools.iter().find(|p| p.name == pool) {
            Some(p) => rec.ok(
                format!("pool {pool}"),
                format!(
                    "{}{}, {} free",
                    p.status,
                    if p.healthy { "" } else { " (unhealthy)" },
                    p.free.map(human).unwrap_or_else(|| "?".into())
                ),
                t,
            ),
            None => {
                let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
                rec.push(
                    format!("pool {pool}"),
                    Outcome::Failed,
                    format!("no such pool (pools: {})", names.join(", ")),
                    t,
                );
                rec.error.get_or_insert(TruenasError::Protocol {
                    method: "pool.query".into(),
                    what: format!("pool `{pool}` does not exist; set storage.truenas.pool"),
                });
                return SelfTest {
                    steps: rec.steps,
                    error: rec.error,
                };
            }
        },
        Err(e) => {
            rec.failed(format!("pool {pool}"), e, t);
            return SelfTest {
                steps: rec.steps,
                error: rec.error,
            };
        }
    }

    // Leftovers of a run that was killed (SIGKILL, power loss) before it could clean up.
    let t = Instant::now();
    if let Ok(all) = client.datasets(pool).await {
        let prefix = format!("{pool}/{PREFIX}");
        for d in all
            .iter()
            .filter(|d| d.id.starts_with(&prefix) && d.comments.as_deref() == Some(MARK))
        {
            match client.delete_dataset(&d.id, false).await {
                Ok(_) => rec.ok(
                    format!("delete leftover {}", d.id),
                    "from an earlier interrupted test",
                    t,
                ),
                Err(e) => rec.failed(format!("delete leftover {}", d.id), e, t),
            }
        }
    }

    let name = temp_name(pool);
    if interrupted.load(Ordering::SeqCst) {
        rec.push(
            format!("create {name}"),
            Outcome::Skipped,
            "interrupted",
            Instant::now(),
        );
        return SelfTest {
            steps: rec.steps,
            error: rec.error,
        };
    }
    let t = Instant::now();
    let created = client
        .create_dataset(json!({"name": name, "type": "FILESYSTEM", "comments": MARK}))
        .await;
    let mut lost = false;
    match created {
        Ok(d) => rec.ok(
            format!("create {name}"),
            format!("mounted at {}", d.mountpoint.unwrap_or_default()),
            t,
        ),
        Err(e) => {
            lost = e.is_connection_lost() || matches!(e, TruenasError::Timeout { .. });
            rec.failed(format!("create {name}"), e, t);
        }
    }

    // From here on: clean up whatever happened above.
    let reconnected;
    let c = if lost {
        let t = Instant::now();
        match client.reconnect().await {
            Ok(c2) => {
                rec.ok(
                    "reconnect",
                    "the connection was lost after the create; logged in again to clean up",
                    t,
                );
                reconnected = c2;
                &reconnected
            }
            Err(e) => {
                let msg = format!("{e}; delete {name} by hand in TrueNAS (Datasets)");
                rec.push("reconnect", Outcome::Failed, msg, t);
                rec.error.get_or_insert(e);
                return SelfTest {
                    steps: rec.steps,
                    error: rec.error,
                };
            }
        }
    } else {
        &client
    };
    let t = Instant::now();
    match c.delete_dataset(&name, false).await {
        Ok(true) => rec.ok(format!("delete {name}"), "deleted", t),
        Ok(false) => rec.ok(
            format!("delete {name}"),
            "was not there (the create did not happen)",
            t,
        ),
        Err(e) => {
            let msg = format!("{e}; delete {name} by hand in TrueNAS (Datasets)");
            rec.push(format!("delete {name}"), Outcome::Failed, msg, t);
            rec.error.get_or_insert(e);
            return SelfTest {
                steps: rec.steps,
                error: rec.error,
            };
        }
    }
    let t = Instant::now();
    match c.dataset(&name).await {
        Ok(None) => rec.ok("check", format!("{name} is gone"), t),
        Ok(Some(_)) => {
            rec.push(
                "check",
                Outcome::Failed,
                format!("{name} is still listed; delete it by hand"),
                t,
            );
            rec.error.get_or_insert(TruenasError::Protocol {
                method: "pool.dataset.delete".into(),
                what: format!("{name} still exists after the delete"),
            });
        }
        Err(e) => rec.failed("check", e, t),
    }
    c.close();
    SelfTest {
        steps: rec.steps,
        error: rec.error,
    }
}
