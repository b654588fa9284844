//! `sharing.nfs.*` (api-behaviour.md B.4): shares are matched by `path`; `networks` and `hosts`
//! empty mean "everyone", maproot fields are a name or null.

use super::client::Client;
use super::error::TruenasError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NfsShare {
    pub id: i64,
    pub path: String,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub networks: Vec<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub ro: bool,
    #[serde(default)]
    pub maproot_user: Option<String>,
    #[serde(default)]
    pub maproot_group: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl Client {
    pub async fn nfs_shares(&self) -> Result<Vec<NfsShare>, TruenasError> {
        self.call_as("sharing.nfs.query", json!([[], {}])).await
    }

    pub async fn create_nfs_share(&self, fields: Value) -> Result<NfsShare, TruenasError> {
        self.call_as("sharing.nfs.create", json!([fields])).await
    }

    pub async fn update_nfs_share(&self, id: i64, fields: Value) -> Result<NfsShare, TruenasError> {
        self.call_as("sharing.nfs.update", json!([id, fields]))
            .await
    }

    /// `sharing.nfs.delete [id]`. True when it was deleted now, false when it was already gone
    /// (InstanceNotFound `SharingNFS <id> does not exist`).
    pub async fn delete_nfs_share(&self, id: i64) -> Result<bool, TruenasError> {
        match self.call("sharing.nfs.delete", json!([id])).await {
            Ok(_) => Ok(true),
            Err(e) if e.rpc().is_some_and(|f| f.is_not_found()) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
