//! The ClusterIssuer phase: the webhook must admit a server-side dry-run Certificate (it is
//! retried while the webhook is not serving), then the issuer is applied and must report
//! Ready=True. For the `ca` kind, first the CA: read from OpenBao (generated and stored there
//! when missing), applied as the Secret `cert-manager/foundry-ca` (see [`super::ca`]). A no-op
//! re-run costs one GET (issuer unchanged, Ready, chart unchanged); the `ca` kind adds one
//! OpenBao read and one GET of the Secret.

use super::ca::{self, Ca, CaState};
use super::NAMESPACE;
use crate::component::api::{object_diff, ApiAction};
use crate::component::contour::values::INGRESS_CLASS;
use crate::component::helm::{self, state};
use crate::component::{cluster_api, HostSet, Phase, RunCtx, Step};
use crate::config::{IssuerKind, StackConfig};
use crate::k8s::{cluster_issuer_resource, wait_for, Kube, KubeError, Probe};
use anyhow::Context;
use k8s_openapi::api::core::v1::Secret;
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ACME_SERVER: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// The Certificate only ever dry-run to see the webhook admit writes.
const PROBE_CERT: &str = "foundry-webhook-probe";

/// cert-manager's `Certificate` (also `stack test`'s).
pub(crate) fn certificate_resource() -> ApiResource {
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

/// The issuer's kind (`cert_manager.issuer`, or its default).
pub fn kind(stack: &StackConfig) -> IssuerKind {
    stack
        .components
        .cert_manager
        .as_ref()
        .map(|c| c.issuer_kind())
        .unwrap_or(IssuerKind::Selfsigned)
}

/// The ClusterIssuer: self-signed, ACME (HTTP-01 through Contour, `acme_email`), or a CA whose
/// certificate and key are in the Secret [`ca::SECRET_NAME`].
pub fn desired(stack: &StackConfig) -> Value {
    let name = name(stack);
    let email = stack
        .components
        .cert_manager
        .as_ref()
        .and_then(|c| c.acme_email.clone());
    let spec = match (kind(stack), email) {
        (IssuerKind::Ca, _) => json!({"ca": {"secretName": ca::SECRET_NAME}}),
        (IssuerKind::Acme, Some(email)) => json!({"acme": {
            "email": email,
            "server": ACME_SERVER,
            "privateKeySecretRef": {"name": format!("{name}-account-key")},
            "solvers": [{"http01": {"ingress": {"ingressClassName": INGRESS_CLASS}}}],
        }}),
        // `acme` without an e-mail fails validation; self-signed is what is left.
        _ => json!({"selfSigned": {}}),
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
        let ca_plan = match kind(&ctx.stack) {
            IssuerKind::Ca => Some(plan_ca(ctx, &kube).await?),
            _ => None,
        };
        let secret_same = ca_plan.as_ref().is_none_or(|p| p.secret_step.is_none());
        if same && is_ready && !chart_changed && secret_same {
            return Ok(vec![]);
        }
        let d = chart.deadline;
        let mut steps = vec![];
        let mut secret_step = None;
        if let Some(p) = ca_plan {
            steps.extend(p.generate_step);
            secret_step = p.secret_step;
        }
        steps.push(Step::api(Arc::new(WebhookCheck {
            kube: kube.clone(),
            issuer: name.clone(),
            deadline: d,
        })));
        steps.extend(secret_step);
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

/// The CA's part of the plan: generate it (when OpenBao has none), apply its Secret (when the
/// live one differs).
struct CaPlan {
    generate_step: Option<Step>,
    secret_step: Option<Step>,
}

/// The CA the Secret step applies: read by the plan, or made by the generate step.
type CaCell = Arc<Mutex<Option<Ca>>>;

async fn plan_ca(ctx: &Arc<RunCtx>, kube: &Kube) -> anyhow::Result<CaPlan> {
    let state = ca::read(ctx).await?;
    let live = kube
        .get_opt::<Secret>(Some(NAMESPACE), ca::SECRET_NAME)
        .await?
        .map(|s| serde_json::to_value(s).unwrap_or_default());
    let known = match &state {
        CaState::Known(c) => Some(c.clone()),
        _ => None,
    };
    if let (Some(c), Some(l)) = (&known, &live) {
        if ca::secret_matches(l, c) {
            return Ok(CaPlan {
                generate_step: None,
                secret_step: None,
            });
        }
    }
    if let CaState::Unknown(why) = &state {
        ctx.note(format!(
            "cannot read the CA from OpenBao ({why}): the Secret {NAMESPACE}/{} is shown as changing",
            ca::SECRET_NAME
        ));
    }
    let cell: CaCell = Arc::new(Mutex::new(known.clone()));
    let generate_step = matches!(state, CaState::WouldGenerate).then(|| {
        Step::api(Arc::new(GenerateCa {
            ctx: ctx.clone(),
            cell: cell.clone(),
        }))
    });
    let want_view = ca::secret_view(&ctx.instance, known.as_ref());
    let live_view = live
        .as_ref()
        .map(|l| ca::live_view(&ctx.instance, l, known.as_ref()));
    let why = if live.is_some() { "changed" } else { "new" };
    let secret_step = Some(Step::api(Arc::new(ApplyCaSecret {
        kube: kube.clone(),
        cell,
        diff: object_diff(&want_view, live_view.as_ref()),
        why,
    })));
    Ok(CaPlan {
        generate_step,
        secret_step,
    })
}

#[derive(Debug)]
struct GenerateCa {
    ctx: Arc<RunCtx>,
    cell: CaCell,
}

#[async_trait::async_trait]
impl ApiAction for GenerateCa {
    fn describe(&self) -> String {
        format!(
            "generate a CA (ECDSA P-256, CN \"{}\", valid 10 years) and store it in OpenBao at {}",
            ca::common_name(&self.ctx.instance),
            ca::path(&self.ctx.instance)
        )
    }
    async fn execute(&self) -> anyhow::Result<()> {
        let (c, stored) = ca::ensure(&self.ctx).await?;
        let p = ca::path(&self.ctx.instance);
        self.ctx.note(if stored {
            format!("generated a CA and stored it in OpenBao at {p} (trust it: `bao kv get -mount=secret -field=tls.crt {p}`)")
        } else {
            format!("another run stored a CA in OpenBao at {p} first; using that one")
        });
        *self.cell.lock().unwrap_or_else(|e| e.into_inner()) = Some(c);
        Ok(())
    }
}

#[derive(Debug)]
struct ApplyCaSecret {
    kube: Kube,
    cell: CaCell,
    diff: String,
    why: &'static str,
}

#[async_trait::async_trait]
impl ApiAction for ApplyCaSecret {
    fn describe(&self) -> String {
        format!(
            "apply Secret {NAMESPACE}/{} (kubernetes.io/tls, the CA from OpenBao, {})",
            ca::SECRET_NAME,
            self.why
        )
    }
    fn diff(&self) -> Option<String> {
        Some(self.diff.clone())
    }
    async fn execute(&self) -> anyhow::Result<()> {
        let c = self
            .cell
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| {
                anyhow::anyhow!("internal: no CA to apply (the generate step did not run)")
            })?;
        let obj: Secret = serde_json::from_value(ca::secret(&c))?;
        // force: foundry owns these fields, also after someone edited them by hand.
        self.kube.apply(&obj, true).await?;
        Ok(())
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
