//! The storage plan as one API phase of the engine (no host): resolve the API key, log in,
//! read TrueNAS, and return one `Step::api` per change. Registering a storage component that
//! runs it (after Zot, before K3s) is the engine's side.

use crate::component::context::RunCtx;
use crate::component::phase::{HostSet, Phase};
use crate::component::Step;
use crate::config::path::FieldPath;
use crate::config::TruenasConfig;
use std::sync::Arc;

/// "datasets and NFS shares": converge `storage.truenas` (see `plan`).
pub struct StoragePhase;

#[async_trait::async_trait]
impl Phase for StoragePhase {
    fn title(&self) -> String {
        "TrueNAS datasets and NFS shares".into()
    }

    fn hosts(&self) -> HostSet {
        HostSet::Api
    }

    fn should_run(&self, ctx: &RunCtx) -> bool {
        ctx.stack.storage.truenas.is_some()
    }

    async fn plan_api(&self, ctx: &Arc<RunCtx>) -> anyhow::Result<Vec<Step>> {
        let Some(raw) = &ctx.stack.storage.truenas else {
            return Ok(vec![]);
        };
        let at = FieldPath::root().key("storage").key("truenas");
        let t: TruenasConfig = ctx.resolve(&at, raw).await?;
        let mut stack = (*ctx.stack).clone();
        stack.storage.truenas = Some(t);
        let Some(client) = super::connect_for(&stack, ctx.log.clone()).await? else {
            return Ok(vec![]);
        };
        super::plan(&stack, client).await
    }
}
