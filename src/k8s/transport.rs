//! [`Kube`]: the client built from a kubeconfig, and the one place every request goes through.
//! kube-rs supplies the kubeconfig parsing, TLS (rustls, the kubeconfig's CA) and credentials;
//! foundry sends each request with `Client::send` so it sees the raw status and body of every
//! answer (the plain-text 404 included), times it, records it in the run log and classifies
//! failures into [`KubeError`].

use super::error::KubeError;
use super::status::error_for;
use crate::run::log::RunLogHandle;
use crate::secrets::redact;
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::Path;
use std::time::{Duration, Instant};

/// The longest a TCP + TLS connect may take, whatever the request timeout.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A Kubernetes API client: one cluster, one user, timeouts, the run log.
#[derive(Clone)]
pub struct Kube {
    client: kube::Client,
    endpoint: String,
    log: RunLogHandle,
    timeout: Duration,
}

/// A raw answer: the HTTP status and the body.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Kube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kube")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Kube {
    /// A client from kubeconfig text (foundry keeps it in OpenBao). Uses the current context.
    /// `timeout` bounds each request; connecting is bounded by the smaller of it and 5 s.
    /// The kubeconfig's token, password and client key are registered as secrets.
    pub async fn from_kubeconfig_yaml(
        yaml: &str,
        log: RunLogHandle,
        timeout: Duration,
    ) -> Result<Kube, KubeError> {
        Self::build(yaml, "(from OpenBao)", log, timeout).await
    }

    /// A client from a kubeconfig file.
    pub async fn from_path(
        path: &Path,
        log: RunLogHandle,
        timeout: Duration,
    ) -> Result<Kube, KubeError> {
        let text = std::fs::read_to_string(path).map_err(|e| KubeError::Kubeconfig {
            source_name: path.display().to_string(),
            cause: e.to_string(),
        })?;
        Self::build(&text, &path.display().to_string(), log, timeout).await
    }

    async fn build(
        yaml: &str,
        source_name: &str,
        log: RunLogHandle,
        timeout: Duration,
    ) -> Result<Kube, KubeError> {
        register_credentials(yaml);
        let bad = |cause: String| KubeError::Kubeconfig {
            source_name: source_name.to_string(),
            cause: redact::scrub(&cause),
        };
        let kubeconfig = Kubeconfig::from_yaml(yaml).map_err(|e| bad(e.to_string()))?;
        let mut config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| bad(error_chain(&e)))?;
        config.connect_timeout = Some(timeout.min(MAX_CONNECT_TIMEOUT));
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
        // foundry decides itself when to retry (evictions back off on 429 with a deadline).
        config.default_retry = false;
        let endpoint = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let client = kube::Client::try_from(config).map_err(|e| bad(error_chain(&e)))?;
        Ok(Kube {
            client,
            endpoint,
            log,
            timeout,
        })
    }

    /// The API's address, e.g. `https://10.0.0.5:6443`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends one request and returns its answer whatever the status; records it in the run log.
    pub(crate) async fn send(&self, req: http::Request<Vec<u8>>) -> Result<Answer, KubeError> {
        let method = req.method().to_string();
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let mutating = is_mutating(&method, &path);
        let request = describe(&method, &path);
        let start = Instant::now();
        let (parts, body) = req.into_parts();
        let req = http::Request::from_parts(parts, kube::client::Body::from(body));
        let result = tokio::time::timeout(self.timeout, async {
            let resp = self.client.send(req).await?;
            let status = resp.status().as_u16();
            let body = resp.into_body().collect_bytes().await?;
            Ok::<_, kube::Error>(Answer {
                status,
                body: body.to_vec(),
            })
        })
        .await;
        let took = start.elapsed();
        match result {
            Ok(Ok(answer)) => {
                self.log.http(
                    &self.endpoint,
                    &method,
                    &path,
                    Some(answer.status),
                    took,
                    mutating,
                );
                Ok(answer)
            }
            Ok(Err(e)) => {
                self.log
                    .http(&self.endpoint, &method, &path, None, took, mutating);
                Err(self.transport_error(&request, &e))
            }
            Err(_) => {
                self.log
                    .http(&self.endpoint, &method, &path, None, took, mutating);
                Err(KubeError::NotAnswering {
                    endpoint: self.endpoint.clone(),
                    request,
                    cause: format!("no answer within {}s", self.timeout.as_secs_f64()),
                })
            }
        }
    }

    /// Sends and requires a 2xx; any other status becomes the matching [`KubeError`].
    pub(crate) async fn send_ok(&self, req: http::Request<Vec<u8>>) -> Result<Answer, KubeError> {
        let request = describe(
            req.method().as_str(),
            &req.uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
        );
        let answer = self.send(req).await?;
        if (200..300).contains(&answer.status) {
            Ok(answer)
        } else {
            Err(self.api_error(&request, &answer))
        }
    }

    /// The error for a non-2xx answer.
    pub(crate) fn api_error(&self, request: &str, answer: &Answer) -> KubeError {
        let body = redact::scrub(&String::from_utf8_lossy(&answer.body));
        error_for(&self.endpoint, request, answer.status, body.as_bytes())
    }

    fn transport_error(&self, request: &str, e: &kube::Error) -> KubeError {
        let cause = redact::scrub(&error_chain(e));
        let lower = cause.to_lowercase();
        let endpoint = self.endpoint.clone();
        let request = request.to_string();
        if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
            KubeError::Tls {
                endpoint,
                request,
                cause,
            }
        } else {
            KubeError::NotAnswering {
                endpoint,
                request,
                cause,
            }
        }
    }
}

/// `GET /api/v1/nodes` (query kept: it carries selectors and dryRun).
pub(crate) fn describe(method: &str, path: &str) -> String {
    format!("{method} {path}")
}

/// POST/PUT/PATCH/DELETE change state unless they are dry runs.
fn is_mutating(method: &str, path: &str) -> bool {
    let write = matches!(method, "POST" | "PUT" | "PATCH" | "DELETE");
    let dry = path
        .split_once('?')
        .map(|(_, q)| q.split('&').any(|kv| kv == "dryRun=All"))
        .unwrap_or(false);
    write && !dry
}

/// The error and its sources joined, most specific last ("client error (Connect): tcp connect
/// error: Connection refused (os error 111)").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// Registers the kubeconfig's credentials (tokens, passwords, client keys) as secrets, so no
/// log line or error message can carry them.
fn register_credentials(yaml: &str) {
    let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(yaml) else {
        return;
    };
    let Some(users) = doc.get("users").and_then(|u| u.as_sequence()) else {
        return;
    };
    for user in users {
        let Some(u) = user.get("user") else { continue };
        for key in ["token", "password", "client-key-data"] {
            if let Some(v) = u.get(key).and_then(|v| v.as_str()) {
                redact::register(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_runs_and_reads_do_not_mutate() {
        assert!(!is_mutating("GET", "/api/v1/nodes"));
        assert!(!is_mutating(
            "PATCH",
            "/api/v1/x?fieldManager=foundry&dryRun=All"
        ));
        assert!(is_mutating("PATCH", "/api/v1/x?fieldManager=foundry"));
        assert!(is_mutating("DELETE", "/api/v1/nodes/a"));
        assert!(is_mutating("POST", "/api/v1/namespaces/d/pods/p/eviction"));
    }
}
