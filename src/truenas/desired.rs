//! What stack.yaml asks of TrueNAS: datasets under the pool with their properties, and an NFS
//! share per dataset with `nfs: true` (networks default to the hosts' network).

use super::size::parse_size;
use crate::config::net::Ipv4Net;
use crate::config::{DatasetConfig, StackConfig, TruenasConfig};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredDataset {
    /// Full name: `tank/k8s/volumes`.
    pub id: String,
    /// None: not managed; Some(0): no quota.
    pub quota: Option<u64>,
    /// Lowercase, e.g. `lz4`; None: not managed (inherited).
    pub compression: Option<String>,
    pub comments: Option<String>,
    pub share: Option<DesiredShare>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesiredShare {
    /// `/mnt/tank/k8s/volumes`
    pub path: String,
    pub networks: Vec<String>,
    pub hosts: Vec<String>,
    pub read_only: bool,
    pub maproot_user: Option<String>,
    pub maproot_group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Desired {
    pub pool: String,
    /// Parents before children.
    pub datasets: Vec<DesiredDataset>,
}

impl Desired {
    /// True when some dataset is shared: the NFS service must then run.
    pub fn needs_nfs(&self) -> bool {
        self.datasets.iter().any(|d| d.share.is_some())
    }
}

/// The hosts' network as CIDR (`network.cidr`, or gateway + netmask).
fn hosts_network(stack: &StackConfig) -> Option<String> {
    let n = &stack.network;
    if let Some(c) = &n.cidr {
        return Ipv4Net::parse_cidr(c).ok().map(|n| n.to_string());
    }
    match (&n.gateway, &n.netmask) {
        (Some(g), Some(m)) => Ipv4Net::from_gateway(g, m).ok().map(|n| n.to_string()),
        _ => None,
    }
}

fn blank_none(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
}

/// A configured dataset's full ZFS name: `tank` + `k8s/volumes` → `tank/k8s/volumes`.
pub fn dataset_id(pool: &str, name: &str) -> String {
    format!("{pool}/{}", name.trim_matches('/'))
}

/// Where TrueNAS mounts a dataset, and so the path its NFS share exports: `/mnt/<id>`.
pub fn mount_path(id: &str) -> String {
    format!("/mnt/{id}")
}

fn dataset(
    pool: &str,
    d: &DatasetConfig,
    default_net: Option<&str>,
) -> Result<DesiredDataset, String> {
    let id = dataset_id(pool, &d.name);
    let quota = match &d.quota {
        None => None,
        Some(q) => Some(parse_size(q).map_err(|e| format!("datasets `{}`: quota: {e}", d.name))?),
    };
    let share = d.nfs.then(|| {
        let mut networks = if d.nfs_networks.is_empty() {
            default_net.map(|n| vec![n.to_string()]).unwrap_or_default()
        } else {
            d.nfs_networks.clone()
        };
        networks.sort();
        let mut hosts = d.nfs_hosts.clone();
        hosts.sort();
        DesiredShare {
            path: mount_path(&id),
            networks,
            hosts,
            read_only: d.nfs_read_only,
            maproot_user: blank_none(&d.nfs_maproot_user),
            maproot_group: blank_none(&d.nfs_maproot_group),
        }
    });
    Ok(DesiredDataset {
        quota,
        compression: blank_none(&d.compression).map(|c| c.to_ascii_lowercase()),
        comments: d.comments.clone(),
        share,
        id,
    })
}

/// The desired state of `storage.truenas` in `stack` (which must have that section).
pub fn desired(stack: &StackConfig, t: &TruenasConfig) -> Result<Desired, String> {
    let net = hosts_network(stack);
    let mut datasets = t
        .datasets
        .iter()
        .map(|d| dataset(&t.pool, d, net.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    // Parents first (stable within one depth, so the file's order is kept).
    datasets.sort_by_key(|d| d.id.matches('/').count());
    Ok(Desired {
        pool: t.pool.clone(),
        datasets,
    })
}
