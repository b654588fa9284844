//! Phases `read the kubeconfig` (leader: `/etc/rancher/k3s/k3s.yaml` from the first server,
//! a read) and `reach the VIP` (API: `https://VIP:6443/cacerts` answers from here, then the
//! kubeconfig rewritten to the VIP is published for the later phases and stored in OpenBao
//! and `~/.foundry/<cluster>/kubeconfig` (0600), each only when it differs).

use super::super::config::{tls_sans, API_PORT};
use super::super::kubeconfig::{rewrite, K3S_PATH};
use super::super::roles::NodeRole;
use super::super::token;
use super::san;
use super::start::WaitNodeReady;
use super::{select_roles, Shared};
use crate::component::api::ApiAction;
use crate::component::cluster_api::{self, KubeconfigOutput};
use crate::component::{HostSet, Phase, RemoteHost, RunCtx, Step};
use crate::config::HostConfig;
use anyhow::{anyhow, Context};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the VIP may take to answer after the first server started (kube-vip pulls its
/// image and wins the leader election first).
pub const VIP_WAIT: Duration = Duration::from_secs(180);

pub struct ReadKubeconfig {
    pub shared: Arc<Shared>,
}

#[async_trait::async_trait]
impl Phase for ReadKubeconfig {
    fn title(&self) -> String {
        "read the kubeconfig".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Leader
    }
    fn select(&self, ctx: &RunCtx, targets: &[HostConfig]) -> Vec<HostConfig> {
        select_roles(&ctx.stack, targets, &[NodeRole::FirstServer])
    }
    async fn plan_host(&self, _ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        let text = host
            .remote
            .read_file(K3S_PATH, true)
            .await?
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        self.shared.set_k3s_yaml(text);
        Ok(vec![])
    }
}

pub struct ReachVip {
    pub shared: Arc<Shared>,
}

/// `https://VIP:6443/cacerts`: K3s serves it without credentials, so it proves that the VIP
/// routes to a server without trusting anything yet.
pub fn cacerts_url(vip: &str) -> String {
    format!("https://{vip}:{API_PORT}/cacerts")
}

/// One GET of the cacerts URL (the certificate is not checked: it is what is being fetched).
async fn cacerts_once(ctx: &RunCtx, url: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let r = client.get(url).send().await;
    let status = r.as_ref().ok().map(|r| r.status().as_u16());
    ctx.log
        .http("k3s-vip", "GET", "/cacerts", status, t0.elapsed(), false);
    match r {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("HTTP {}", r.status())),
        Err(e) => Err(format!("{e}")),
    }
}

#[async_trait::async_trait]
impl Phase for ReachVip {
    fn title(&self) -> String {
        "reach the VIP".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Api
    }
    async fn plan_api(&self, ctx: &Arc<RunCtx>) -> anyhow::Result<Vec<Step>> {
        let vip = ctx.stack.cluster.vip.clone();
        let first = select_roles(&ctx.stack, &ctx.stack.hosts, &[NodeRole::FirstServer]);
        let first_outside = first
            .first()
            .is_some_and(|h| !ctx.filter.admits(&h.hostname));
        if first_outside {
            // A run for other hosts only (`cluster node add`, `--host`): the cluster exists,
            // its kubeconfig is the stored one; it only has to answer through the VIP.
            let url = cacerts_url(&vip);
            if let Err(e) = cacerts_once(ctx, &url).await {
                anyhow::bail!("{url} does not answer ({e}): a node joins a running cluster only; check `foundry cluster status`");
            }
            return Ok(vec![]);
        }
        let Some(raw) = self.shared.k3s_yaml() else {
            if ctx.dry_run {
                ctx.note(format!("{K3S_PATH} not on the first server yet: the kubeconfig is stored after the first install"));
                return Ok(vec![]);
            }
            anyhow::bail!(
                "the first server has no {K3S_PATH}; is K3s running there? (journalctl -u k3s)"
            );
        };
        let mut steps: Vec<Step> = Vec::new();
        let url = cacerts_url(&vip);
        if self.shared.first_started() {
            steps.push(Step::api(Arc::new(WaitVip {
                ctx: ctx.clone(),
                url,
            })));
        } else if let Err(e) = cacerts_once(ctx, &url).await {
            if !ctx.dry_run {
                steps.push(Step::api(Arc::new(WaitVip {
                    ctx: ctx.clone(),
                    url,
                })));
            } else {
                ctx.note(format!("{url} does not answer ({e})"));
            }
        }
        let kc = rewrite(&raw, &ctx.stack.cluster.name, &vip).map_err(|e| anyhow!(e))?;
        register_credentials(&kc);
        ctx.outputs.put(KubeconfigOutput(kc.clone()));
        // A (re)started first server is Ready and its etcd member a voter before any other
        // server joins: the joins then never start against a cluster that is still coming up.
        if self.shared.first_started() {
            steps.push(Step::api(Arc::new(san::CheckSans {
                vip: vip.clone(),
                ca_pem: san::kubeconfig_ca(&kc).map_err(|e| anyhow!(e))?,
                names: tls_sans(&ctx.stack),
            })));
            if let Some(h) = first.first() {
                let kube = cluster_api::client(ctx).await?;
                steps.push(Step::api(Arc::new(WaitNodeReady::new(
                    kube,
                    &h.hostname,
                    true,
                ))));
            }
        }
        let local = cluster_api::local_path(&ctx.stack.cluster.name);
        let local_same = std::fs::read_to_string(&local).is_ok_and(|t| t == kc);
        let stored_same = match ctx.openbao().await {
            Ok(s) => {
                s.get(token::PATH, token::KEY_KUBECONFIG).await?.as_deref() == Some(kc.as_str())
            }
            Err(_) if ctx.dry_run => false,
            Err(e) => return Err(e),
        };
        if !local_same || !stored_same {
            steps.push(Step::api(Arc::new(StoreKubeconfig {
                ctx: ctx.clone(),
                kubeconfig: kc,
                openbao: !stored_same,
                local: (!local_same).then_some(local),
            })));
        }
        Ok(steps)
    }
}

/// Waits (bounded) until the VIP answers.
#[derive(Debug)]
struct WaitVip {
    ctx: Arc<RunCtx>,
    url: String,
}

#[async_trait::async_trait]
impl ApiAction for WaitVip {
    fn describe(&self) -> String {
        format!(
            "wait until {} answers through the VIP (at most {}s)",
            self.url,
            VIP_WAIT.as_secs()
        )
    }
    fn mutates(&self) -> bool {
        false
    }
    async fn execute(&self) -> anyhow::Result<()> {
        let t0 = Instant::now();
        loop {
            match cacerts_once(&self.ctx, &self.url).await {
                Ok(()) => return Ok(()),
                Err(e) if t0.elapsed() + Duration::from_secs(2) > VIP_WAIT => {
                    anyhow::bail!(
                        "{} did not answer within {}s (last: {e}): kube-vip does not announce the VIP; check `kubectl -n kube-system logs ds/kube-vip-…` on the first server and that cluster.vip is free on the hosts' network",
                        self.url,
                        VIP_WAIT.as_secs()
                    )
                }
                Err(_) => tokio::time::sleep(Duration::from_secs(2)).await,
            }
        }
    }
}

/// Stores the kubeconfig where cluster commands look for it.
#[derive(Debug)]
struct StoreKubeconfig {
    ctx: Arc<RunCtx>,
    kubeconfig: String,
    openbao: bool,
    local: Option<std::path::PathBuf>,
}

#[async_trait::async_trait]
impl ApiAction for StoreKubeconfig {
    fn describe(&self) -> String {
        let mut to = Vec::new();
        if self.openbao {
            to.push(format!(
                "OpenBao {}:{}",
                token::path(&self.ctx.instance),
                token::KEY_KUBECONFIG
            ));
        }
        if let Some(l) = &self.local {
            to.push(format!("{} (0600)", l.display()));
        }
        format!("store the cluster kubeconfig in {}", to.join(" and "))
    }
    async fn execute(&self) -> anyhow::Result<()> {
        if self.openbao {
            let store = self.ctx.openbao().await?;
            store
                .put(token::PATH, token::KEY_KUBECONFIG, &self.kubeconfig)
                .await?;
        }
        if let Some(l) = &self.local {
            write_private(l, &self.kubeconfig)?;
        }
        Ok(())
    }
}

/// Write `text` to `path` with mode 0600 (directory 0700), atomically.
pub fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("{}: no directory", path.display()))?;
    crate::paths::private_dir(dir)?;
    let tmp = dir.join(format!(".kubeconfig.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Registers the kubeconfig's user credentials with the redactor (key data, tokens, passwords).
pub fn register_credentials(kubeconfig: &str) {
    let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(kubeconfig) else {
        return;
    };
    let users = doc
        .get("users")
        .and_then(|u| u.as_sequence())
        .cloned()
        .unwrap_or_default();
    for u in users {
        for key in ["client-key-data", "token", "password"] {
            if let Some(v) = u
                .get("user")
                .and_then(|x| x.get(key))
                .and_then(|v| v.as_str())
            {
                crate::redact::register(v);
            }
        }
    }
}
