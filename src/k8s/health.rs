//! `/readyz?verbose` parsed into checks, and `/version`.

use super::error::KubeError;
use super::transport::{describe, Kube};
use k8s_openapi::apimachinery::pkg::version::Info;

/// One line of `/readyz?verbose`: `[+]etcd ok` or `[-]etcd failed: reason withheld`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub name: String,
    pub ok: bool,
}

/// The API server's readiness as `/readyz?verbose` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// 200 and `readyz check passed`.
    pub ready: bool,
    pub checks: Vec<HealthCheck>,
}

impl Readiness {
    /// The names of the failing checks.
    pub fn failing(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.clone())
            .collect()
    }

    /// Parses the text/plain body (api-behaviour.md A.6: 200 when all pass, 500 otherwise).
    pub(crate) fn parse(status: u16, body: &str) -> Readiness {
        let checks = body
            .lines()
            .filter_map(|l| {
                let (ok, rest) = if let Some(r) = l.strip_prefix("[+]") {
                    (true, r)
                } else {
                    (false, l.strip_prefix("[-]")?)
                };
                let name = rest.split_whitespace().next()?.to_string();
                Some(HealthCheck { name, ok })
            })
            .collect::<Vec<_>>();
        let ready = status == 200 && checks.iter().all(|c| c.ok);
        Readiness { ready, checks }
    }
}

impl Kube {
    /// `GET /readyz?verbose`: answers whether the API is ready and which checks fail.
    pub async fn readyz(&self) -> Result<Readiness, KubeError> {
        let path = "/readyz?verbose";
        let req = http::Request::get(path)
            .body(Vec::new())
            .expect("a static request");
        let answer = self.send(req).await?;
        let body = String::from_utf8_lossy(&answer.body).to_string();
        match answer.status {
            200 | 500 => Ok(Readiness::parse(answer.status, &body)),
            _ => Err(self.api_error(&describe("GET", path), &answer)),
        }
    }

    /// Ok when `/readyz` passes, else [`KubeError::NotReady`] naming the failing checks.
    pub async fn require_ready(&self) -> Result<Readiness, KubeError> {
        let r = self.readyz().await?;
        if r.ready {
            Ok(r)
        } else {
            let mut failing = r.failing();
            if failing.is_empty() {
                failing.push("(none listed)".into());
            }
            Err(KubeError::NotReady {
                endpoint: self.endpoint().to_string(),
                failing,
            })
        }
    }

    /// `GET /version`: gitVersion (e.g. `v1.33.5+k3s1`), platform, ...
    pub async fn version(&self) -> Result<Info, KubeError> {
        let req = http::Request::get("/version")
            .body(Vec::new())
            .expect("a static request");
        let answer = self.send_ok(req).await?;
        serde_json::from_slice(&answer.body).map_err(|e| KubeError::Decode {
            request: "GET /version".into(),
            status: answer.status,
            cause: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_checks_are_named() {
        let body = "[+]ping ok\n[-]etcd failed: reason withheld\n[+]log ok\nreadyz check failed\n";
        let r = Readiness::parse(500, body);
        assert!(!r.ready);
        assert_eq!(r.failing(), vec!["etcd".to_string()]);
        assert_eq!(r.checks.len(), 3);
    }
}
