//! The ClusterIssuer phase: the webhook must admit a server-side dry-run Certificate (it is
//! retried while the webhook is not serving), then the issuer is applied and must report
//! Ready=True. A no-op re-run costs one GET: issuer unchanged, Ready, chart unchanged.

use super::NAMESPACE;
use crate::component::api::{object_diff, ApiAction};
use crate::component::contour::values::INGRESS_CLASS;
use crate::component::helm::{self, state};
use crate::component::{cluster_api, HostSet, Phase, RunCtx, Step};
use crate::config::StackConfig;
use crate::k8s::{cluster_issuer_resource, wait_for, Kube, KubeError, Probe};
use anyhow::Context;
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const ACME_SERVER: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// The Certificate only ever dry-run to see the webhook admit writes.
const PROBE_CERT: &str = "foundry-webhook-probe";

fn certificate_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cert-manager.io", "v1", "Certificate"),
        "certificates",
    )
}

pub fn name(stack: &StackConfig) -> String {
    stack
        .components
        .cert_manager
        .as_ref()
        .map(|c| c.cluster_issuer.clone())
        .unwrap_or_else(|| "selfsigned-cluster-issuer".into())
}

/// The ClusterIssuer: self-signed, or ACME (HTTP-01 through Contour) with `acme_email`.
pub fn desired(stack: &StackConfig) -> Value {
    let name = name(stack);
    let email = stack
        .components
        .cert_manager
        .as_ref()
        .and_then(|c| c.acme_email.clone());
    let spec = match email {
        None => json!({"selfSigned": {}}),
        Some(email) => json!({"acme": {
            "email": email,
            "server": ACME_SERVER,
            "privateKeySecretRef": {"name": format!("{name}-account-key")},
            "solvers": [{"http01": {"ingress": {"ingressClassName": INGRESS_CLASS}}}],
        }}),
    };
    json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "foundry"}},
        "spec": spec,
    })
}

pub async fn live(kube: &Kube, name: &str) -> Result<Option<Value>, KubeError> {
    match kube
        .dynamic(&cluster_issuer_resource())
        .get_opt(None, name)
        .await
    {
        Ok(o) => Ok(o.map(|o| serde_json::to_value(o).unwrap_or_default())),
        // cert-manager's CRDs are not served yet.
        Err(KubeError::NotFound { served: false, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Ok when `Ready=True`, else what the issuer says.
pub fn ready(issuer: &Value) -> Result<(), String> {
    let c = issuer["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready");
    match c {
        Some(c) if c["status"] == "True" => Ok(()),
        Some(c) => Err(format!(
            "Ready={} ({}: {})",
            c["status"].as_str().unwrap_or("?"),
            c["reason"].as_str().unwrap_or(""),
            c["message"].as_str().unwrap_or("")
        )),
        None => Err("no Ready condition yet".into()),
    }
}

pub struct Issuer;

#[async_trait::async_trait]
impl Phase for Issuer {
    fn title(&self) -> String {
        "ClusterIssuer".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Api
    }
    async fn plan_api(&self, ctx: &Arc<RunCtx>) -> anyhow::Result<Vec<Step>> {
        let chart = super::chart(&ctx.stack)?;
        let kube = cluster_api::client(ctx).await?;
        let want = desired(&ctx.stack);
        let name = name(&ctx.stack);
        let current = live(&kube, &name).await?;
        let same = current.as_ref().is_some_and(|l| {
            helm::chart::subset(&want["spec"], &l["spec"])
                && helm::chart::subset(&want["metadata"]["labels"], &l["metadata"]["labels"])
        });
        let is_ready = current.as_ref().is_some_and(|l| ready(l).is_ok());
        let chart_changed = state::get(ctx, &chart.name).changed;
        if same && is_ready && !chart_changed {
            return Ok(vec![]);
        }
        let d = chart.deadline;
        let mut steps = vec![Step::api(Arc::new(WebhookCheck {
            kube: kube.clone(),
            issuer: name.clone(),
            deadline: d,
        }))];
        if !same {
            let live_view = current.as_ref().map(
                |l| json!({"metadata": {"labels": l["metadata"]["labels"]}, "spec": l["spec"]}),
            );
            let want_view =
                json!({"metadata": {"labels": want["metadata"]["labels"]}, "spec": want["spec"]});
            steps.push(Step::api(Arc::new(ApplyIssuer {
                kube: kube.clone(),
                diff: object_diff(&want_view, live_view.as_ref()),
                object: want,
                name: name.clone(),
            })));
        }
        steps.push(Step::api(Arc::new(WaitReady {
            kube,
            name,
            deadline: d,
        })));
        Ok(steps)
    }
}

#[derive(Debug)]
struct WebhookCheck {
    kube: Kube,
    issuer: String,
    deadline: Duration,
}

#[async_trait::async_trait]
impl ApiAction for WebhookCheck {
    fn describe(&self) -> String {
        format!(
            "wait until cert-manager's webhook admits a dry-run Certificate (≤ {}s)",
            self.deadline.as_secs()
        )
    }
    fn mutates(&self) -> bool {
        false
    }
    async fn execute(&self) -> anyhow::Result<()> {
        let cert: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": PROBE_CERT, "namespace": NAMESPACE},
            "spec": {"secretName": PROBE_CERT, "dnsNames": ["probe.foundry.invalid"],
                     "issuerRef": {"name": self.issuer, "kind": "ClusterIssuer"}},
        }))?;
        let api = self.kube.dynamic(&certificate_resource());
        let d = self.deadline;
        // A webhook not serving yet answers 500 "failed calling webhook": wait_for retries
        // 5xx and a CRD not served yet; anything else (a 4xx) ends the wait at once.
        wait_for(
            "cert-manager's webhook to admit a dry-run Certificate",
            d,
            helm::poll(d),
            || async { api.apply_dry_run(&cert).await.map(|_| Probe::Done(())) },
        )
        .await
        .with_context(|| {
            format!("check `kubectl -n {NAMESPACE} get pods` (the cert-manager-webhook pod) and `kubectl -n {NAMESPACE} logs deploy/cert-manager-webhook`")
        })
    }
}

#[derive(Debug)]
struct ApplyIssuer {
    kube: Kube,
    diff: String,
    object: Value,
    name: String,
}

#[async_trait::async_trait]
impl ApiAction for ApplyIssuer {
    fn describe(&self) -> String {
        format!("apply ClusterIssuer {}", self.name)
    }
    fn diff(&self) -> Option<String> {
        Some(self.diff.clone())
    }
    async fn execute(&self) -> anyhow::Result<()> {
        let obj: DynamicObject = serde_json::from_value(self.object.clone())?;
        self.kube
            .dynamic(&cluster_issuer_resource())
            .apply(&obj, true)
            .await?;
        Ok(())
    }
}

#[derive(Debug)]
struct WaitReady {
    kube: Kube,
    name: String,
    deadline: Duration,
}

#[async_trait::async_trait]
impl ApiAction for WaitReady {
    fn describe(&self) -> String {
        format!(
            "wait for ClusterIssuer {} to report Ready=True (≤ {}s)",
            self.name,
            self.deadline.as_secs()
        )
    }
    fn mutates(&self) -> bool {
        false
    }
    async fn execute(&self) -> anyhow::Result<()> {
        let d = self.deadline;
        wait_for(
            &format!("ClusterIssuer {} to be Ready", self.name),
            d,
            helm::poll(d),
            || async {
                Ok(match live(&self.kube, &self.name).await? {
                    None => Probe::Waiting("not there".into()),
                    Some(l) => match ready(&l) {
                        Ok(()) => Probe::Done(()),
                        Err(m) => Probe::Waiting(m),
                    },
                })
            },
        )
        .await
        .with_context(|| {
            format!(
                "see `kubectl describe clusterissuer {}` and `kubectl -n {NAMESPACE} logs deploy/cert-manager`",
                self.name
            )
        })
    }
}
