//! `storage`: the TrueNAS datasets and NFS shares of `storage.truenas`, converged over
//! TrueNAS' JSON-RPC API (an API phase: no host is touched). In the design's order it comes
//! after OpenBao (the API key lives there) and Zot, and before K3s; when Zot's storage is a
//! TrueNAS share (`components.zot.storage_dataset`), before Zot. See docs/storage.md.

use super::{Component, HostStatus, Phase, RemoteHost, RunCtx};
use crate::config::{HostConfig, Role, StackConfig};
use crate::truenas::StoragePhase;
use std::sync::Arc;

pub const NAME: &str = "storage";

pub struct Storage;

#[async_trait::async_trait]
impl Component for Storage {
    fn name(&self) -> &str {
        NAME
    }
    fn summary(&self) -> &'static str {
        "TrueNAS datasets and NFS shares (TrueNAS JSON-RPC API)"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["openbao", "zot"]
    }
    /// After Zot in the design's order, except when Zot's own storage is one of the datasets:
    /// then before it (Zot depends on storage, see `Zot::depends_on_for`).
    fn depends_on_for(&self, stack: &StackConfig) -> Vec<&'static str> {
        if crate::component::zot::uses_nfs(stack) {
            vec!["openbao"]
        } else {
            self.depends_on().to_vec()
        }
    }
    fn roles(&self) -> &'static [Role] {
        &[]
    }
    /// Only through the API: no host is a target.
    fn on_hosts(&self) -> bool {
        false
    }
    fn enabled(&self, stack: &StackConfig) -> bool {
        stack.storage.truenas.is_some()
    }
    fn describe(&self, _stack: &StackConfig, _host: &HostConfig) -> Vec<String> {
        vec![]
    }
    fn describe_stack(&self, stack: &StackConfig) -> Vec<String> {
        let Some(t) = &stack.storage.truenas else {
            return vec![];
        };
        let mut v = vec![format!(
            "connect to {} (JSON-RPC over wss, API key from the secret chain), pool {}",
            t.url, t.pool
        )];
        for d in &t.datasets {
            v.push(format!(
                "ensure dataset {}/{}{}",
                t.pool,
                d.name,
                if d.nfs { " with its NFS share" } else { "" }
            ));
        }
        v
    }
    fn phases(&self) -> Vec<Box<dyn Phase>> {
        vec![Box::new(StoragePhase)]
    }
    /// Datasets hold data: they are never removed by an uninstall (see `storage` commands).
    fn uninstall_phases(&self) -> Vec<Box<dyn Phase>> {
        vec![]
    }
    async fn status(&self, _ctx: &RunCtx, _host: &RemoteHost) -> anyhow::Result<HostStatus> {
        anyhow::bail!("internal: storage has no host status")
    }
    async fn stack_status(&self, ctx: &Arc<RunCtx>) -> Vec<(String, HostStatus)> {
        let Some(t) = &ctx.stack.storage.truenas else {
            return vec![];
        };
        let label = format!("TrueNAS {}", t.url);
        // The plan is the status: in sync when it has no step.
        let st = match StoragePhase.plan_api(ctx).await {
            Ok(steps) if steps.is_empty() => HostStatus {
                installed: true,
                version: None,
                healthy: true,
                message: format!("{} dataset(s) and their shares in sync", t.datasets.len()),
            },
            Ok(steps) => HostStatus {
                installed: false,
                version: None,
                healthy: false,
                message: format!(
                    "{} change(s) pending, first: {}; run `foundry component install storage`",
                    steps.len(),
                    steps[0].description
                ),
            },
            Err(e) => HostStatus {
                message: crate::redact::scrub(&format!("{e:#}")),
                ..Default::default()
            },
        };
        vec![(label, st)]
    }
}
