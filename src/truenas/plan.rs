//! The storage plan, pure: desired (stack.yaml) against live (TrueNAS' answers) gives the
//! changes, each shown as desired-vs-live of the fields foundry manages. Nothing that is not in
//! stack.yaml is ever deleted or touched: unknown datasets and shares are left alone, and only
//! the fields stack.yaml manages are compared and sent.

use super::datasets::Dataset;
use super::desired::{Desired, DesiredDataset, DesiredShare};
use super::nfs::NfsShare;
use super::size::human;
use super::system::{Service, ServiceState};
use serde_json::{json, Map, Value};

/// What TrueNAS has now.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub datasets: Vec<Dataset>,
    pub shares: Vec<NfsShare>,
    /// The `nfs` service (None: not listed).
    pub nfs: Option<Service>,
}

/// One change; `desired`/`live` are the views the plan shows as a diff.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    CreateDataset {
        id: String,
        /// `pool.dataset.create` fields.
        fields: Value,
        desired: Value,
    },
    UpdateDataset {
        id: String,
        /// Only the fields that differ.
        fields: Value,
        desired: Value,
        live: Value,
    },
    CreateShare {
        path: String,
        fields: Value,
        desired: Value,
    },
    UpdateShare {
        id: i64,
        path: String,
        fields: Value,
        desired: Value,
        live: Value,
    },
    /// The NFS service must start at boot and/or run now.
    StartNfs { enable: bool, start: bool },
}

impl Change {
    pub fn describe(&self) -> String {
        match self {
            Change::CreateDataset { id, .. } => format!("create dataset {id}"),
            Change::UpdateDataset { id, fields, .. } => {
                format!("update dataset {id} ({})", keys(fields))
            }
            Change::CreateShare { path, .. } => format!("create NFS share {path}"),
            Change::UpdateShare {
                path, id, fields, ..
            } => {
                format!("update NFS share {path} (id {id}: {})", keys(fields))
            }
            Change::StartNfs { enable, start } => match (enable, start) {
                (true, true) => "enable and start the NFS service".into(),
                (true, false) => "enable the NFS service at boot".into(),
                _ => "start the NFS service".into(),
            },
        }
    }

    /// Desired vs live as YAML; None for the service.
    pub fn diff(&self) -> Option<String> {
        let d = crate::component::api::object_diff;
        match self {
            Change::CreateDataset { desired, .. } | Change::CreateShare { desired, .. } => {
                Some(d(desired, None))
            }
            Change::UpdateDataset { desired, live, .. }
            | Change::UpdateShare { desired, live, .. } => Some(d(desired, Some(live))),
            Change::StartNfs { .. } => None,
        }
    }
}

fn keys(fields: &Value) -> String {
    fields
        .as_object()
        .map(|m| m.keys().cloned().collect::<Vec<_>>().join(", "))
        .unwrap_or_default()
}

fn quota_view(q: Option<u64>) -> Value {
    match q {
        None | Some(0) => json!("none"),
        Some(b) => json!(human(b)),
    }
}

/// The managed fields of a dataset, as shown in a plan.
fn dataset_view(
    id: &str,
    quota: Option<Option<u64>>,
    compression: Option<Option<&str>>,
    comments: Option<Option<&str>>,
) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(id));
    if let Some(q) = quota {
        m.insert("quota".into(), quota_view(q));
    }
    if let Some(c) = compression {
        m.insert("compression".into(), json!(c.unwrap_or("inherited")));
    }
    if let Some(c) = comments {
        m.insert("comments".into(), json!(c.unwrap_or("")));
    }
    Value::Object(m)
}

fn create_dataset(d: &DesiredDataset) -> Change {
    let mut f = Map::new();
    f.insert("name".into(), json!(d.id));
    f.insert("type".into(), json!("FILESYSTEM"));
    // Parents not listed in stack.yaml (e.g. `k8s` for `k8s/volumes`) are created with
    // TrueNAS' defaults.
    f.insert("create_ancestors".into(), json!(true));
    if let Some(q) = d.quota {
        f.insert("quota".into(), json!(q));
    }
    if let Some(c) = &d.compression {
        f.insert("compression".into(), json!(c.to_ascii_uppercase()));
    }
    if let Some(c) = &d.comments {
        f.insert("comments".into(), json!(c));
    }
    Change::CreateDataset {
        id: d.id.clone(),
        fields: Value::Object(f),
        desired: dataset_view(
            &d.id,
            d.quota.map(Some),
            d.compression.as_deref().map(Some),
            d.comments.as_deref().map(Some),
        ),
    }
}

fn update_dataset(d: &DesiredDataset, l: &Dataset) -> Option<Change> {
    let mut f = Map::new();
    let (mut want_q, mut have_q) = (None, None);
    if let Some(q) = d.quota {
        let q = (q > 0).then_some(q);
        if q != l.quota {
            f.insert("quota".into(), json!(q.unwrap_or(0)));
            (want_q, have_q) = (Some(q), Some(l.quota));
        }
    }
    let (mut want_c, mut have_c) = (None, None);
    if let Some(c) = &d.compression {
        if Some(c.as_str()) != l.compression.as_deref() {
            f.insert("compression".into(), json!(c.to_ascii_uppercase()));
            (want_c, have_c) = (Some(Some(c.as_str())), Some(l.compression.as_deref()));
        }
    }
    let (mut want_m, mut have_m) = (None, None);
    if let Some(c) = &d.comments {
        let live = l.comments.as_deref().unwrap_or("");
        if c != live {
            f.insert("comments".into(), json!(c));
            (want_m, have_m) = (Some(Some(c.as_str())), Some(Some(live)));
        }
    }
    if f.is_empty() {
        return None;
    }
    Some(Change::UpdateDataset {
        id: d.id.clone(),
        fields: Value::Object(f),
        desired: dataset_view(&d.id, want_q, want_c, want_m),
        live: dataset_view(&d.id, have_q, have_c, have_m),
    })
}

fn share_view(path: &str, s: &DesiredShare) -> Value {
    json!({
        "path": path,
        "networks": s.networks,
        "hosts": s.hosts,
        "ro": s.read_only,
        "maproot_user": s.maproot_user,
        "maproot_group": s.maproot_group,
        "enabled": true,
    })
}

fn live_share_view(l: &NfsShare) -> Value {
    let mut networks = l.networks.clone();
    networks.sort();
    let mut hosts = l.hosts.clone();
    hosts.sort();
    let blank = |s: &Option<String>| s.clone().filter(|x| !x.is_empty());
    json!({
        "path": l.path,
        "networks": networks,
        "hosts": hosts,
        "ro": l.ro,
        "maproot_user": blank(&l.maproot_user),
        "maproot_group": blank(&l.maproot_group),
        "enabled": l.enabled,
    })
}

fn share_change(s: &DesiredShare, live: Option<&NfsShare>) -> Option<Change> {
    let want = share_view(&s.path, s);
    let Some(l) = live else {
        let mut fields = want.clone();
        if let Some(m) = fields.as_object_mut() {
            m.insert("comment".into(), json!("managed by foundry"));
        }
        return Some(Change::CreateShare {
            path: s.path.clone(),
            fields,
            desired: want,
        });
    };
    let have = live_share_view(l);
    let (Some(w), Some(h)) = (want.as_object(), have.as_object()) else {
        return None;
    };
    let mut fields = Map::new();
    let (mut dv, mut lv) = (Map::new(), Map::new());
    dv.insert("path".into(), json!(s.path));
    lv.insert("path".into(), json!(l.path));
    for (k, v) in w {
        if k != "path" && h.get(k) != Some(v) {
            fields.insert(k.clone(), v.clone());
            dv.insert(k.clone(), v.clone());
            lv.insert(k.clone(), h.get(k).cloned().unwrap_or(Value::Null));
        }
    }
    if fields.is_empty() {
        return None;
    }
    Some(Change::UpdateShare {
        id: l.id,
        path: s.path.clone(),
        fields: Value::Object(fields),
        desired: Value::Object(dv),
        live: Value::Object(lv),
    })
}

/// Every change needed to go from `live` to `desired`, in the order they must run: datasets
/// (parents first), then shares, then the NFS service.
pub fn changes(desired: &Desired, live: &Live) -> Vec<Change> {
    let mut out = Vec::new();
    for d in &desired.datasets {
        match live.datasets.iter().find(|l| l.id == d.id) {
            None => out.push(create_dataset(d)),
            Some(l) => out.extend(update_dataset(d, l)),
        }
    }
    for s in desired.datasets.iter().filter_map(|d| d.share.as_ref()) {
        // Several shares of one path: the first is foundry's; the others are left alone.
        let live_share = live.shares.iter().find(|l| l.path == s.path);
        out.extend(share_change(s, live_share));
    }
    if desired.needs_nfs() {
        let (enable, start) = match &live.nfs {
            Some(svc) => (!svc.enable, svc.state != ServiceState::Running),
            None => (true, true),
        };
        if enable || start {
            out.push(Change::StartNfs { enable, start });
        }
    }
    out
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
