//! `pool.dataset.*`: entries carry ZFS properties as objects
//! `{parsed, rawvalue, value, source, source_info}` (api-behaviour.md B.3); foundry reads
//! `parsed` (bytes for sizes, lowercase strings for enums, `null` for an unset quota).

use super::client::Client;
use super::error::TruenasError;
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DatasetKind {
    Filesystem,
    Volume,
}

/// The part of a `pool.dataset.query` entry foundry uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dataset {
    /// Full name, e.g. `tank/k8s/volumes`.
    pub id: String,
    pub kind: DatasetKind,
    pub pool: String,
    /// `/mnt/tank/k8s/volumes`; None for volumes.
    pub mountpoint: Option<String>,
    pub used: Option<u64>,
    pub available: Option<u64>,
    /// None: no quota.
    pub quota: Option<u64>,
    /// Lowercase (`lz4`), as ZFS reports it.
    pub compression: Option<String>,
    pub comments: Option<String>,
}

fn parsed<'a>(v: &'a Value, prop: &str) -> Option<&'a Value> {
    v.get(prop)
        .and_then(|p| p.get("parsed"))
        .filter(|p| !p.is_null())
}

impl Dataset {
    /// Decode one entry; None when it lacks `id`.
    pub fn from_entry(v: &Value) -> Option<Dataset> {
        let id = v.get("id")?.as_str()?.to_string();
        let kind = match v.get("type").and_then(|t| t.as_str()) {
            Some("VOLUME") => DatasetKind::Volume,
            _ => DatasetKind::Filesystem,
        };
        let size = |p: &str| parsed(v, p).and_then(|x| x.as_u64());
        let text = |p: &str| {
            parsed(v, p)
                .and_then(|x| x.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        Some(Dataset {
            pool: v
                .get("pool")
                .and_then(|p| p.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| id.split('/').next().unwrap_or_default().to_string()),
            mountpoint: v
                .get("mountpoint")
                .and_then(|m| m.as_str())
                .map(str::to_string),
            used: size("used"),
            available: size("available"),
            quota: size("quota").filter(|q| *q > 0),
            compression: text("compression").map(|c| c.to_ascii_lowercase()),
            comments: text("comments"),
            kind,
            id,
        })
    }
}

fn entries(method: &str, v: Value) -> Result<Vec<Dataset>, TruenasError> {
    let items = v.as_array().ok_or_else(|| TruenasError::Protocol {
        method: method.into(),
        what: "the result is not a list".into(),
    })?;
    Ok(items.iter().filter_map(Dataset::from_entry).collect())
}

fn entry(method: &str, v: &Value) -> Result<Dataset, TruenasError> {
    Dataset::from_entry(v).ok_or_else(|| TruenasError::Protocol {
        method: method.into(),
        what: "the result is not a dataset entry".into(),
    })
}

impl Client {
    /// Every dataset of `pool`, flat (children as their own entries).
    pub async fn datasets(&self, pool: &str) -> Result<Vec<Dataset>, TruenasError> {
        let m = "pool.dataset.query";
        let v = self
            .call(
                m,
                json!([[["pool", "=", pool]], {"extra": {"flat": true, "retrieve_children": false}}]),
            )
            .await?;
        entries(m, v)
    }

    /// One dataset by full name; None when it does not exist (`get: true` → MatchNotFound).
    pub async fn dataset(&self, id: &str) -> Result<Option<Dataset>, TruenasError> {
        let m = "pool.dataset.query";
        match self
            .call(
                m,
                json!([[["id", "=", id]], {"get": true, "extra": {"retrieve_children": false}}]),
            )
            .await
        {
            Ok(v) => entry(m, &v).map(Some),
            Err(e) if e.rpc().is_some_and(|f| f.is_match_not_found()) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `pool.dataset.create [fields]`; returns the new entry.
    pub async fn create_dataset(&self, fields: Value) -> Result<Dataset, TruenasError> {
        let m = "pool.dataset.create";
        let v = self.call(m, json!([fields])).await?;
        entry(m, &v)
    }

    /// `pool.dataset.update [id, fields]`; returns the updated entry.
    pub async fn update_dataset(&self, id: &str, fields: Value) -> Result<Dataset, TruenasError> {
        let m = "pool.dataset.update";
        let v = self.call(m, json!([id, fields])).await?;
        entry(m, &v)
    }

    /// `pool.dataset.snapshot_count [id]`: the snapshots of that dataset (not of its children).
    pub async fn snapshot_count(&self, id: &str) -> Result<u64, TruenasError> {
        self.call_as("pool.dataset.snapshot_count", json!([id]))
            .await
    }

    /// `pool.dataset.delete [id, {recursive}]`. True when it was deleted now, false when it was
    /// already gone (`null`, or InstanceNotFound). TrueNAS also deletes the shares of its path.
    /// Not a job: the answer comes when the dataset is destroyed. Without `recursive` TrueNAS
    /// refuses a dataset with children (ENOTEMPTY) and ZFS one with snapshots.
    pub async fn delete_dataset(&self, id: &str, recursive: bool) -> Result<bool, TruenasError> {
        match self
            .call(
                "pool.dataset.delete",
                json!([id, {"recursive": recursive, "force": false}]),
            )
            .await
        {
            Ok(v) => Ok(v.as_bool().unwrap_or(false)),
            Err(e) if e.rpc().is_some_and(|f| f.is_not_found()) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_decode_property_objects() {
        // Assembled from api-behaviour.md B.3 (not a captured response).
        let v = json!({"id":"tank/x","type":"FILESYSTEM","name":"tank/x","pool":"tank",
            "mountpoint":"/mnt/tank/x","children":[],
            "used":{"parsed":98304,"rawvalue":"98304","value":"96 KiB","source":"NONE","source_info":null},
            "available":{"parsed":1099511627776u64,"rawvalue":"1099511627776","value":"1 TiB","source":"NONE","source_info":null},
            "quota":{"parsed":null,"rawvalue":"0","value":null,"source":"DEFAULT","source_info":null},
            "compression":{"parsed":"lz4","rawvalue":"lz4","value":"LZ4","source":"INHERITED","source_info":"tank"}});
        let d = Dataset::from_entry(&v).unwrap();
        assert_eq!(d.id, "tank/x");
        assert_eq!(d.used, Some(98304));
        assert_eq!(d.available, Some(1 << 40));
        assert_eq!(d.quota, None);
        assert_eq!(d.compression.as_deref(), Some("lz4"));
        assert_eq!(d.mountpoint.as_deref(), Some("/mnt/tank/x"));
    }
}
