//! Where a run gets the cluster's API from: the kubeconfig foundry keeps for the cluster.
//!
//! In order: the kubeconfig this run's K3s phases published ([`KubeconfigOutput`]), the
//! `FOUNDRY_KUBECONFIG` file (the `--kubeconfig` of cluster commands sets it), the copy in
//! OpenBao at `<instance>/k3s` key `kubeconfig`, then `~/.foundry/<cluster>/kubeconfig`.
//! One client per run: the first call builds it, later phases reuse it.

use super::RunCtx;
use crate::k8s::Kube;
use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

/// The OpenBao path (below the instance) and key of the cluster's kubeconfig.
pub const OPENBAO_PATH: &str = "k3s";
pub const OPENBAO_KEY: &str = "kubeconfig";

/// Each API request's timeout (a wait polls with many requests, each bounded by this).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The kubeconfig text published by the K3s phases of this run (server rewritten to the VIP).
#[derive(Clone)]
pub struct KubeconfigOutput(pub String);

impl std::fmt::Debug for KubeconfigOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubeconfigOutput(***)")
    }
}

/// The run's API client (cached in the run's outputs).
#[derive(Clone, Debug)]
struct ClientOutput(Kube);

/// `~/.foundry/<cluster>/kubeconfig`.
pub fn local_path(cluster: &str) -> PathBuf {
    crate::paths::foundry_home()
        .join(cluster)
        .join("kubeconfig")
}

/// The kubeconfig text, and where it came from (for messages).
pub async fn kubeconfig(ctx: &RunCtx) -> anyhow::Result<(String, String)> {
    if let Some(k) = ctx.outputs.get::<KubeconfigOutput>() {
        return Ok((k.0, "this run's K3s install".into()));
    }
    if let Some(p) = std::env::var_os("FOUNDRY_KUBECONFIG").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        let text = std::fs::read_to_string(&p)
            .with_context(|| format!("reading the kubeconfig {}", p.display()))?;
        return Ok((text, p.display().to_string()));
    }
    let mut tried = Vec::new();
    match ctx.openbao_handle().get_opt().await {
        Ok(Some(store)) => match store.get(OPENBAO_PATH, OPENBAO_KEY).await {
            Ok(Some(text)) => {
                return Ok((
                    text,
                    format!("OpenBao {}/{OPENBAO_PATH}:{OPENBAO_KEY}", ctx.instance),
                ))
            }
            Ok(None) => tried.push(format!(
                "OpenBao {}/{OPENBAO_PATH}:{OPENBAO_KEY} (not stored)",
                ctx.instance
            )),
            Err(e) => tried.push(format!("OpenBao ({e:#})")),
        },
        Ok(None) => tried.push("OpenBao (none in this stack, or no token stored)".into()),
        Err(e) => tried.push(format!("OpenBao ({e:#})")),
    }
    let local = local_path(&ctx.stack.cluster.name);
    match std::fs::read_to_string(&local) {
        Ok(text) => Ok((text, local.display().to_string())),
        Err(_) => {
            tried.push(format!("{} (absent)", local.display()));
            anyhow::bail!(
                "no kubeconfig for cluster `{}` (tried {}); install the cluster with `foundry cluster init`, or pass --kubeconfig",
                ctx.stack.cluster.name,
                tried.join(", ")
            )
        }
    }
}

/// The cluster's API client for this run, built on first use.
pub async fn client(ctx: &RunCtx) -> anyhow::Result<Kube> {
    if let Some(c) = ctx.outputs.get::<ClientOutput>() {
        return Ok(c.0);
    }
    let (text, from) = kubeconfig(ctx).await?;
    let kube = Kube::from_kubeconfig_yaml(&text, ctx.log.clone(), REQUEST_TIMEOUT)
        .await
        .with_context(|| format!("the kubeconfig from {from}"))?;
    ctx.outputs.put(ClientOutput(kube.clone()));
    Ok(kube)
}
