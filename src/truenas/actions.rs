//! The storage plan as engine steps: each [`Change`] becomes an API action that owns its client
//! and the fields to send, so the engine only calls `execute`.

use super::client::Client;
use super::desired::desired;
use super::plan::{changes, Change, Live};
use crate::component::api::ApiAction;
use crate::component::Step;
use crate::config::StackConfig;
use crate::error::{fail, ExitClass};
use std::sync::Arc;

/// One change on TrueNAS.
pub struct StorageAction {
    client: Arc<Client>,
    change: Change,
}

impl std::fmt::Debug for StorageAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageAction")
            .field("change", &self.change)
            .finish()
    }
}

impl StorageAction {
    pub fn change(&self) -> &Change {
        &self.change
    }
}

#[async_trait::async_trait]
impl ApiAction for StorageAction {
    fn describe(&self) -> String {
        self.change.describe()
    }

    fn diff(&self) -> Option<String> {
        self.change.diff()
    }

    async fn execute(&self) -> anyhow::Result<()> {
        let c = &self.client;
        match &self.change {
            Change::CreateDataset { fields, .. } => {
                c.create_dataset(fields.clone()).await?;
            }
            Change::UpdateDataset { id, fields, .. } => {
                c.update_dataset(id, fields.clone()).await?;
            }
            Change::CreateShare { fields, .. } => {
                c.create_nfs_share(fields.clone()).await?;
            }
            Change::UpdateShare { id, fields, .. } => {
                c.update_nfs_share(*id, fields.clone()).await?;
            }
            Change::StartNfs { enable, start } => {
                if *enable {
                    c.enable_service("nfs").await?;
                }
                if *start {
                    c.start_service("nfs").await?;
                }
            }
        }
        Ok(())
    }
}

/// Read what TrueNAS has for `pool`: its datasets, every NFS share, the NFS service.
pub async fn read_live(client: &Client, pool: &str) -> anyhow::Result<Live> {
    Ok(Live {
        datasets: client.datasets(pool).await?,
        shares: client.nfs_shares().await?,
        nfs: client.service("nfs").await?,
    })
}

/// A logged-in client for the stack's `storage.truenas` (secrets already resolved), or None
/// when the stack has no TrueNAS. Errors are exit-classed and scrubbed.
pub async fn connect_for(
    stack: &StackConfig,
    log: crate::run::log::RunLogHandle,
) -> anyhow::Result<Option<Arc<Client>>> {
    let Some(t) = &stack.storage.truenas else {
        return Ok(None);
    };
    let settings = super::client::Settings::from_config(t)?;
    let client = Client::connect(settings, log)
        .await
        .map_err(|e| super::error::to_failure(e.into()))?;
    Ok(Some(Arc::new(client)))
}

/// The storage steps for `stack`: read TrueNAS (queries only), compare with `storage.truenas`,
/// one API step per change. Empty when TrueNAS already matches (or the stack has no TrueNAS).
pub async fn plan(stack: &StackConfig, client: Arc<Client>) -> anyhow::Result<Vec<Step>> {
    let Some(t) = &stack.storage.truenas else {
        return Ok(vec![]);
    };
    let want =
        desired(stack, t).map_err(|e| fail(ExitClass::Config, format!("storage.truenas: {e}")))?;
    let pools = client.pools().await?;
    if !pools.iter().any(|p| p.name == want.pool) {
        let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
        return Err(fail(
            ExitClass::Config,
            format!(
                "storage.truenas.pool `{}` does not exist on {} (pools there: {}); set it to one of them",
                want.pool,
                client.url(),
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            ),
        ));
    }
    let live = read_live(&client, &want.pool).await?;
    Ok(changes(&want, &live)
        .into_iter()
        .map(|change| {
            Step::api(Arc::new(StorageAction {
                client: client.clone(),
                change,
            }))
        })
        .collect())
}
