//! `foundry stack test`: the design's last manual check, automated. A tiny workload from an
//! image pulled through Zot, a Service, a Certificate from the stack's ClusterIssuer and an
//! Ingress of Contour's class, all in a namespace of their own; then an HTTPS request to
//! Envoy's address for the workload's host name must answer 200 with that certificate. Every
//! object is removed again afterwards, also when a step failed or Ctrl-C was pressed.
//!
//! Each step is reported as it ends ([`Step`]): created, rolled out, certificate Ready, answered.

use crate::component::cert_manager::issuer::certificate_resource;
use crate::component::contour::{self, values::INGRESS_CLASS};
use crate::component::helm::rollout::{self, Rollout};
use crate::k8s::{wait_for, Kube, KubeError, Probe};
use anyhow::Context;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::core::DynamicObject;
use serde_json::json;
use std::time::{Duration, Instant};

/// The workload: nginx answers 200 on `/` as any user, from docker.io (so through Zot's cache).
pub const DEFAULT_IMAGE: &str = "docker.io/library/nginx:1.27-alpine";

/// Labels every object of a test carries (how `--keep`'s leftovers are found by hand).
pub const LABEL: &str = "foundry.dev/stack-test";

/// What the test needs from the stack.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `foundry-test-<random>`: namespace and object names.
    pub name: String,
    /// `<name>.<cluster.domain>`: the Ingress host and the certificate's DNS name.
    pub host: String,
    pub image: String,
    pub issuer: String,
    pub deadline: Duration,
}

impl Settings {
    pub fn new(domain: &str, image: String, issuer: String, deadline: Duration) -> Settings {
        let suffix =
            crate::openbao::store::random_string(6, b"abcdefghijklmnopqrstuvwxyz0123456789")
                .unwrap_or_else(|_| format!("{:06}", std::process::id() % 1_000_000));
        let name = format!("foundry-test-{suffix}");
        Settings {
            host: format!("{name}.{}", domain.trim_end_matches('.')),
            name,
            image,
            issuer,
            deadline,
        }
    }
    fn tls_secret(&self) -> String {
        format!("{}-tls", self.name)
    }
}

/// One finished step, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    pub step: String,
    pub ok: bool,
    pub detail: String,
    pub ms: u128,
}

fn labels() -> serde_json::Value {
    json!({LABEL: "true", "app.kubernetes.io/managed-by": "foundry", "app": "foundry-test"})
}

/// The five objects, in creation order (the namespace first).
pub fn objects(s: &Settings) -> anyhow::Result<Objects> {
    let ns = &s.name;
    Ok(Objects {
        namespace: serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": labels()}
        }))?,
        deployment: serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": ns, "namespace": ns, "labels": labels()},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "foundry-test"}},
                "template": {
                    "metadata": {"labels": labels()},
                    "spec": {"containers": [{
                        "name": "web", "image": s.image,
                        "ports": [{"containerPort": 80, "name": "http"}],
                        "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 2}
                    }]}
                }
            }
        }))?,
        service: serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": ns, "namespace": ns, "labels": labels()},
            "spec": {"selector": {"app": "foundry-test"},
                     "ports": [{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"}]}
        }))?,
        certificate: serde_json::from_value(json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": ns, "namespace": ns, "labels": labels()},
            "spec": {"secretName": s.tls_secret(), "dnsNames": [s.host],
                     "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": s.issuer}}
        }))?,
        ingress: serde_json::from_value(json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": ns, "namespace": ns, "labels": labels()},
            "spec": {
                "ingressClassName": INGRESS_CLASS,
                "tls": [{"hosts": [s.host], "secretName": s.tls_secret()}],
                "rules": [{"host": s.host, "http": {"paths": [{"path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": ns, "port": {"number": 80}}}}]}}]
            }
        }))?,
    })
}

pub struct Objects {
    pub namespace: Namespace,
    pub deployment: Deployment,
    pub service: Service,
    pub certificate: DynamicObject,
    pub ingress: Ingress,
}

/// Runs the test and always cleans up unless `keep`. The steps in order; the first failed
/// one ends the test (cleanup is the last step either way).
pub async fn run(
    kube: &Kube,
    s: &Settings,
    keep: bool,
    mut report: impl FnMut(&Step),
) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut push = |st: Step, steps: &mut Vec<Step>| {
        report(&st);
        steps.push(st);
    };
    let outcome = exercise(kube, s, &mut |st| push(st, &mut steps)).await;
    if let Err(e) = outcome {
        push(
            Step {
                step: e.0,
                ok: false,
                detail: e.1,
                ms: e.2,
            },
            &mut steps,
        );
    }
    if keep {
        push(
            Step {
                step: "clean up".into(),
                ok: true,
                detail: format!(
                    "kept (--keep): `kubectl delete namespace {}` removes it",
                    s.name
                ),
                ms: 0,
            },
            &mut steps,
        );
    } else {
        let t0 = Instant::now();
        let r = cleanup(kube, s).await;
        push(
            Step {
                step: "clean up".into(),
                ok: r.is_ok(),
                detail: match r {
                    Ok(()) => format!("deleted namespace {} and its objects", s.name),
                    Err(e) => format!(
                        "{e:#}; remove it by hand: `kubectl delete namespace {}`",
                        s.name
                    ),
                },
                ms: t0.elapsed().as_millis(),
            },
            &mut steps,
        );
    }
    steps
}

/// (step, why, ms) of the step that failed.
type Failed = (String, String, u128);

fn interrupted(step: &str, t0: Instant) -> Result<(), Failed> {
    if crate::run::interrupt::interrupted() {
        return Err((
            step.into(),
            "interrupted (Ctrl-C)".into(),
            t0.elapsed().as_millis(),
        ));
    }
    Ok(())
}

async fn exercise(kube: &Kube, s: &Settings, done: &mut dyn FnMut(Step)) -> Result<(), Failed> {
    let poll = Duration::from_millis(500)
        .min(s.deadline / 20)
        .max(Duration::from_millis(100));
    let fail = |step: &str, t0: Instant, e: String| (step.to_string(), e, t0.elapsed().as_millis());

    // Envoy's address first: without it nothing else can be shown.
    let t0 = Instant::now();
    let step = "Envoy's address";
    let addr = contour::envoy_address(kube)
        .await
        .map_err(|e| fail(step, t0, e))?;
    let ip: std::net::IpAddr = addr.parse().map_err(|_| {
        fail(
            step,
            t0,
            format!("Envoy's address `{addr}` is not an IP address"),
        )
    })?;
    done(Step {
        step: step.into(),
        ok: true,
        detail: addr.clone(),
        ms: t0.elapsed().as_millis(),
    });

    let t0 = Instant::now();
    let step = "create the test objects";
    let o = objects(s).map_err(|e| fail(step, t0, format!("{e:#}")))?;
    let err = |what: &str, e: KubeError| fail(step, t0, format!("{what}: {e}"));
    kube.apply(&o.namespace, true)
        .await
        .map_err(|e| err("Namespace", e))?;
    kube.apply(&o.deployment, true)
        .await
        .map_err(|e| err("Deployment", e))?;
    kube.apply(&o.service, true)
        .await
        .map_err(|e| err("Service", e))?;
    kube.dynamic(&certificate_resource())
        .apply(&o.certificate, true)
        .await
        .map_err(|e| err("Certificate", e))?;
    kube.apply(&o.ingress, true)
        .await
        .map_err(|e| err("Ingress", e))?;
    done(Step {
        step: step.into(),
        ok: true,
        detail: format!(
            "namespace {ns}: Deployment ({image}), Service, Certificate ({issuer}), Ingress {host}",
            ns = s.name,
            image = s.image,
            issuer = s.issuer,
            host = s.host
        ),
        ms: t0.elapsed().as_millis(),
    });

    let t0 = Instant::now();
    let step = "workload rolled out";
    interrupted(step, t0)?;
    let hint = format!(
        "the image comes through Zot: check `kubectl -n {} describe pod`",
        s.name
    );
    // Done(Err): it will not get there by waiting (progress deadline exceeded).
    let rolled = wait_for(
        &format!("Deployment {0}/{0}", s.name),
        s.deadline,
        poll,
        || async {
            if crate::run::interrupt::interrupted() {
                return Ok(Probe::Done(Ok(())));
            }
            let Some(d) = kube.get_opt::<Deployment>(Some(&s.name), &s.name).await? else {
                return Ok(Probe::Waiting(format!("no Deployment {0}/{0}", s.name)));
            };
            Ok(match rollout::deployment(&s.name, &d) {
                Rollout::Done => Probe::Done(Ok(())),
                Rollout::Waiting(m) => Probe::Waiting(m),
                Rollout::Failed(m) => Probe::Done(Err(m)),
            })
        },
    )
    .await
    .map_err(|e| fail(step, t0, format!("{e}; {hint}")))?;
    rolled.map_err(|m| fail(step, t0, format!("{m}; {hint}")))?;
    interrupted(step, t0)?;
    done(Step {
        step: step.into(),
        ok: true,
        detail: format!("{} available", s.image),
        ms: t0.elapsed().as_millis(),
    });

    let t0 = Instant::now();
    let step = "certificate Ready";
    let certs = kube.dynamic(&certificate_resource());
    wait_for(
        &format!("Certificate {0}/{0}", s.name),
        s.deadline,
        poll,
        || async {
            if crate::run::interrupt::interrupted() {
                return Ok(Probe::Done(()));
            }
            let c = certs.get_opt(Some(&s.name), &s.name).await?;
            let v = c
                .map(|c| serde_json::to_value(c).unwrap_or_default())
                .unwrap_or_default();
            let ready = v["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["type"] == "Ready");
            Ok(match ready {
                Some(c) if c["status"] == "True" => Probe::Done(()),
                Some(c) => Probe::Waiting(format!(
                    "Ready={} ({}: {})",
                    c["status"].as_str().unwrap_or("?"),
                    c["reason"].as_str().unwrap_or(""),
                    c["message"].as_str().unwrap_or("")
                )),
                None => Probe::Waiting("no Ready condition yet".into()),
            })
        },
    )
    .await
    .map_err(|e| {
        fail(
            step,
            t0,
            format!("{e}; see `kubectl -n {} describe certificate`", s.name),
        )
    })?;
    interrupted(step, t0)?;
    let secret = kube
        .get_opt::<Secret>(Some(&s.name), &s.tls_secret())
        .await
        .map_err(|e| fail(step, t0, e.to_string()))?
        .ok_or_else(|| {
            fail(
                step,
                t0,
                format!(
                    "Certificate Ready but no Secret {}/{}",
                    s.name,
                    s.tls_secret()
                ),
            )
        })?;
    let leaf = secret
        .data
        .as_ref()
        .and_then(|d| d.get("tls.crt"))
        .and_then(|b| first_cert_der(&b.0))
        .ok_or_else(|| {
            fail(
                step,
                t0,
                format!(
                    "Secret {}/{} has no PEM certificate in tls.crt",
                    s.name,
                    s.tls_secret()
                ),
            )
        })?;
    done(Step {
        step: step.into(),
        ok: true,
        detail: format!("issued by ClusterIssuer {} for {}", s.issuer, s.host),
        ms: t0.elapsed().as_millis(),
    });

    let t0 = Instant::now();
    let step = "answers through Envoy";
    let client = reqwest::Client::builder()
        .resolve(&s.host, std::net::SocketAddr::new(ip, 443))
        // The certificate is checked below against the one cert-manager issued: the issuer
        // may be self-signed or a private CA this machine does not trust.
        .danger_accept_invalid_certs(true)
        .tls_info(true)
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| fail(step, t0, e.to_string()))?;
    let url = format!("https://{}/", s.host);
    let mut last;
    loop {
        interrupted(step, t0)?;
        match client.get(&url).send().await {
            Ok(r) => {
                let served = r
                    .extensions()
                    .get::<reqwest::tls::TlsInfo>()
                    .and_then(|t| t.peer_certificate())
                    .map(|c| c.to_vec());
                let code = r.status().as_u16();
                if code == 200 && served.as_deref() == Some(leaf.as_slice()) {
                    done(Step {
                        step: step.into(),
                        ok: true,
                        detail: format!("{url} → {ip}:443 answered 200 with the certificate cert-manager issued"),
                        ms: t0.elapsed().as_millis(),
                    });
                    return Ok(());
                }
                last = if code != 200 {
                    format!("HTTP {code}")
                } else {
                    "200, but Envoy served another certificate (not yet the issued one)".into()
                };
            }
            Err(e) => last = format!("{e}"),
        }
        if t0.elapsed() + poll > s.deadline {
            return Err(fail(
                step,
                t0,
                format!("{url} via {ip}:443 did not answer 200 within {}s (last: {last}); check `kubectl -n {} get ingress,httpproxy` and Envoy's logs", s.deadline.as_secs(), s.name),
            ));
        }
        tokio::time::sleep(poll).await;
    }
}

/// The first certificate of a PEM bundle, DER.
fn first_cert_der(pem: &[u8]) -> Option<Vec<u8>> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    CertificateDer::pem_slice_iter(pem)
        .next()?
        .ok()
        .map(|c| c.to_vec())
}

/// Deletes what the test created, newest first, then the namespace (which would take the rest
/// with it on a real cluster; deleting each object first makes the result visible at once).
/// Already gone is fine.
async fn cleanup(kube: &Kube, s: &Settings) -> anyhow::Result<()> {
    let ns = Some(s.name.as_str());
    let mut errors = Vec::new();
    let mut note = |what: &str, r: Result<crate::k8s::DeleteOutcome, KubeError>| {
        if let Err(e) = r {
            if !e.is_not_found() {
                errors.push(format!("{what}: {e}"));
            }
        }
    };
    note("Ingress", kube.delete::<Ingress>(ns, &s.name).await);
    note(
        "Certificate",
        kube.dynamic(&certificate_resource())
            .delete(ns, &s.name)
            .await,
    );
    note("Secret", kube.delete::<Secret>(ns, &s.tls_secret()).await);
    note("Service", kube.delete::<Service>(ns, &s.name).await);
    note("Deployment", kube.delete::<Deployment>(ns, &s.name).await);
    note("Namespace", kube.delete::<Namespace>(None, &s.name).await);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!(errors.join("; "))).context("deleting the test objects")
    }
}
