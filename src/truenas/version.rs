//! Which TrueNAS API foundry speaks: `GET /api/versions` (unauthenticated) lists the versions a
//! server serves, ascending; `/api/current` is the newest of them. foundry talks to
//! `/api/current` only when that newest version is one it knows the methods and shapes of.

use super::endpoint::Endpoint;
use super::error::TruenasError;
use super::tls::Seen;
use crate::run::log::RunLogHandle;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// API versions (major.minor) whose methods foundry uses as they are documented in
/// docs/storage.md: auth.login_ex with API_KEY_PLAIN, pool.dataset.*, sharing.nfs.*,
/// service.control as a job.
pub const KNOWN: &[&str] = &["v25.10", "v26.0"];

/// `v25.10.5` → (25, 10, 5); anything else → None.
fn parse(v: &str) -> Option<(u32, u32, u32)> {
    let mut it = v.strip_prefix('v')?.split('.');
    let a = it.next()?.parse().ok()?;
    let b = it.next().map(|x| x.parse().ok()).unwrap_or(Some(0))?;
    let c = it.next().map(|x| x.parse().ok()).unwrap_or(Some(0))?;
    it.next().is_none().then_some((a, b, c))
}

fn is_known(v: &str) -> bool {
    parse(v).is_some_and(|(a, b, _)| {
        KNOWN
            .iter()
            .filter_map(|k| parse(k))
            .any(|(ka, kb, _)| (ka, kb) == (a, b))
    })
}

/// The newest version in `served` (what `/api/current` is), if foundry knows it.
pub fn current(url: &str, served: &[String]) -> Result<String, TruenasError> {
    let newest = served
        .iter()
        .filter(|v| parse(v).is_some())
        .max_by_key(|v| parse(v))
        .cloned()
        .ok_or_else(|| TruenasError::Versions {
            url: url.to_string(),
            what: format!("listed no API version foundry can read: {served:?}"),
        })?;
    if is_known(&newest) {
        Ok(newest)
    } else {
        Err(TruenasError::UnknownVersion {
            url: url.to_string(),
            version: newest,
            served: served.join(", "),
            known: KNOWN
                .iter()
                .map(|k| format!("{k}.x"))
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// Fetch `/api/versions` over TLS with foundry's trust settings and pick the current version.
pub async fn fetch(
    ep: &Endpoint,
    cfg: Arc<rustls::ClientConfig>,
    seen: &Seen,
    timeout: Duration,
    log: &RunLogHandle,
) -> Result<String, TruenasError> {
    let http = reqwest::Client::builder()
        .use_preconfigured_tls((*cfg).clone())
        .timeout(timeout)
        .build()
        .map_err(|e| TruenasError::Versions {
            url: ep.url.clone(),
            what: format!("could not set up HTTPS: {e}"),
        })?;
    super::tls::reset(seen);
    let start = Instant::now();
    let resp = http.get(ep.versions()).send().await;
    let took = start.elapsed();
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            log.http(&ep.base(), "GET", "/api/versions", None, took, false);
            return Err(match super::tls::refusal(seen) {
                Some((cause, fingerprint)) => TruenasError::Untrusted {
                    url: ep.url.clone(),
                    cause,
                    fingerprint,
                },
                None => TruenasError::Unreachable {
                    url: ep.url.clone(),
                    cause: chain(&e),
                },
            });
        }
    };
    let status = resp.status();
    log.http(
        &ep.base(),
        "GET",
        "/api/versions",
        Some(status.as_u16()),
        took,
        false,
    );
    if !status.is_success() {
        return Err(TruenasError::Versions {
            url: ep.url.clone(),
            what: format!("answered HTTP {status}; is this a TrueNAS 25.10 or later?"),
        });
    }
    let served: Vec<String> = resp.json().await.map_err(|e| TruenasError::Versions {
        url: ep.url.clone(),
        what: format!("did not return a JSON list of version strings ({e}); is this a TrueNAS 25.10 or later?"),
    })?;
    current(&ep.url, &served)
}

/// An error with its causes, `a: b: c` (reqwest hides the TLS reason in the source chain).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_newest_served_version_is_current() {
        let served = v(&["v25.04.0", "v25.10.0", "v25.10.5"]);
        assert_eq!(current("u", &served).unwrap(), "v25.10.5");
        // Ordering is numeric, not by position or as strings.
        let served = v(&["v26.0.0", "v25.10.4", "v25.04.2"]);
        assert_eq!(current("u", &served).unwrap(), "v26.0.0");
    }

    #[test]
    fn an_unknown_current_version_is_refused_by_name() {
        let served = v(&["v25.10.4", "v26.0.0", "v27.0.0"]);
        let e = current("https://nas", &served).unwrap_err().to_string();
        assert!(e.contains("serves API v27.0.0"), "{e}");
        assert!(e.contains("v26.0.x"), "{e}");
        assert!(current("u", &v(&["v24.10"])).is_err());
        assert!(current("u", &v(&["banana"])).is_err());
    }
}
