//! Waiting with a deadline. Every wait names what it waits for, and on timeout says what it
//! saw last, so "timed out" is never the whole message.

use super::error::KubeError;
use super::transport::Kube;
use kube::core::Resource;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::time::{Duration, Instant};

/// One look at the state being waited on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe<T> {
    /// The condition holds; the wait returns this value.
    Done(T),
    /// Not yet; the text describes the state seen (shown if the deadline passes).
    Waiting(String),
}

/// Errors a wait rides out (the API restarting, a CRD not served yet, throttling); any other
/// error ends the wait at once.
fn transient(e: &KubeError) -> bool {
    match e {
        KubeError::NotAnswering { .. }
        | KubeError::TooManyRequests { .. }
        | KubeError::EvictionBlocked { .. }
        | KubeError::NotReady { .. } => true,
        KubeError::NotFound { served, .. } => !served,
        KubeError::Api { status, .. } => *status >= 500,
        _ => false,
    }
}

/// Calls `probe` every `poll` until it returns [`Probe::Done`] or `deadline` has passed
/// ([`KubeError::WaitTimedOut`] with `what` and the last state seen).
pub async fn wait_for<T, F, Fut>(
    what: &str,
    deadline: Duration,
    poll: Duration,
    mut probe: F,
) -> Result<T, KubeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Probe<T>, KubeError>>,
{
    let start = Instant::now();
    loop {
        let last_seen = match probe().await {
            Ok(Probe::Done(v)) => return Ok(v),
            Ok(Probe::Waiting(state)) => state,
            Err(e) if transient(&e) => e.to_string(),
            Err(e) => return Err(e),
        };
        let waited = start.elapsed();
        if waited + poll > deadline {
            return Err(KubeError::WaitTimedOut {
                what: what.to_string(),
                waited,
                last_seen,
            });
        }
        tokio::time::sleep(poll).await;
    }
}

impl Kube {
    /// Waits until `ns/name` no longer exists (404), or was replaced by a new object with the
    /// same name (another UID), e.g. a pod after eviction.
    pub async fn wait_gone<K>(
        &self,
        ns: Option<&str>,
        name: &str,
        deadline: Duration,
        poll: Duration,
    ) -> Result<(), KubeError>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let kind = K::kind(&()).to_string();
        let full = match ns {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_string(),
        };
        let first_uid = std::sync::Mutex::new(None::<String>);
        let what = format!("{kind} {full} to be gone");
        wait_for(&what, deadline, poll, || {
            let fut = self.get_opt::<K>(ns, name);
            let (kind, full, first_uid) = (kind.clone(), full.clone(), &first_uid);
            async move {
                let Some(obj) = fut.await? else {
                    return Ok(Probe::Done(()));
                };
                let meta = obj.meta();
                let uid = meta.uid.clone().unwrap_or_default();
                let replaced = {
                    let mut first = first_uid.lock().unwrap_or_else(|e| e.into_inner());
                    first.get_or_insert_with(|| uid.clone()) != &uid
                };
                if replaced {
                    return Ok(Probe::Done(()));
                }
                Ok(Probe::Waiting(match &meta.deletion_timestamp {
                    Some(t) => format!("{kind} {full} still there, terminating since {}", t.0),
                    None => format!("{kind} {full} still there, not terminating"),
                }))
            }
        })
        .await
    }
}
