//! The admin kubeconfig: K3s writes `/etc/rancher/k3s/k3s.yaml` with `server:
//! https://127.0.0.1:6443` and every name `default`. Foundry rewrites the server to the VIP and
//! the cluster/user/context names to the cluster name (on the parsed document: string
//! replacing "default" breaks certificates and other entries, k3sup #81), keeping the
//! certificate data as it is, and merges it into `~/.kube/config` without touching other
//! entries (hetzner-k3s #107 overwrote the file; k0sctl #792 always named the user "admin").

use serde_yaml::Value;

pub const K3S_PATH: &str = "/etc/rancher/k3s/k3s.yaml";

fn err(what: &str) -> String {
    format!("the kubeconfig K3s wrote ({K3S_PATH}) {what}; is K3s healthy on the first server?")
}

/// Rewrite K3s's kubeconfig for use from outside: one cluster, user and context, all named
/// `name`, server `https://<vip>:6443`.
pub fn rewrite(k3s_yaml: &str, name: &str, vip: &str) -> Result<String, String> {
    let mut doc: Value =
        serde_yaml::from_str(k3s_yaml).map_err(|e| err(&format!("is not YAML ({e})")))?;
    let server = format!("https://{vip}:{}", super::config::API_PORT);
    for (list, inner) in [
        ("clusters", "cluster"),
        ("users", "user"),
        ("contexts", "context"),
    ] {
        let seq = doc
            .get_mut(list)
            .and_then(Value::as_sequence_mut)
            .ok_or_else(|| err(&format!("has no `{list}` list")))?;
        if seq.len() != 1 {
            return Err(err(&format!(
                "has {} `{list}` entries, expected 1",
                seq.len()
            )));
        }
        let entry = seq[0]
            .as_mapping_mut()
            .ok_or_else(|| err(&format!("has a `{list}` entry that is not a mapping")))?;
        entry.insert("name".into(), name.into());
        let body = entry
            .get_mut(inner)
            .and_then(Value::as_mapping_mut)
            .ok_or_else(|| err(&format!("has a `{list}` entry without `{inner}`")))?;
        match inner {
            "cluster" => {
                body.insert("server".into(), server.clone().into());
            }
            "context" => {
                body.insert("cluster".into(), name.into());
                body.insert("user".into(), name.into());
            }
            _ => {}
        }
    }
    doc.as_mapping_mut()
        .ok_or_else(|| err("is not a mapping"))?
        .insert("current-context".into(), name.into());
    serde_yaml::to_string(&doc).map_err(|e| e.to_string())
}

/// Why a merge was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeError {
    /// A context (or its cluster) of that name points at another API server.
    Conflict {
        name: String,
        existing_server: String,
        new_server: String,
    },
    Invalid(String),
}

impl MergeError {
    pub fn message(&self) -> String {
        match self {
            MergeError::Conflict {
                name,
                existing_server,
                new_server,
            } => format!(
                "~/.kube/config already has a context `{name}` for {existing_server}, not {new_server}; \
                 rename or delete it (`kubectl config delete-context {name}`), or pass --force to replace it"
            ),
            MergeError::Invalid(e) => format!("~/.kube/config: {e}; fix the file or move it away"),
        }
    }
}

fn named<'a>(seq: &'a [Value], name: &str) -> Option<&'a Value> {
    seq.iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
}

fn server_of(doc: &Value, cluster: &str) -> Option<String> {
    let seq = doc.get("clusters")?.as_sequence()?;
    named(seq, cluster)?
        .get("cluster")?
        .get("server")?
        .as_str()
        .map(String::from)
}

/// Merge the rewritten kubeconfig `ours` (one cluster/user/context named `name`) into the text
/// of an existing `~/.kube/config` (empty = none yet). Entries with other names are kept as
/// they are; ours replace same-named ones only when they point at the same server, or with
/// `force`. The current context is set only when the file had none. (Comments in the existing
/// file are not kept: the caller backs the file up first.)
pub fn merge(existing: &str, ours: &str, name: &str, force: bool) -> Result<String, MergeError> {
    let ours: Value = serde_yaml::from_str(ours).map_err(|e| MergeError::Invalid(e.to_string()))?;
    let mut doc: Value = if existing.trim().is_empty() {
        serde_yaml::from_str("{apiVersion: v1, kind: Config, preferences: {}}").unwrap()
    } else {
        serde_yaml::from_str(existing)
            .map_err(|e| MergeError::Invalid(format!("not YAML ({e})")))?
    };
    if !doc.is_mapping() {
        return Err(MergeError::Invalid("not a mapping".into()));
    }
    let new_server = server_of(&ours, name).unwrap_or_default();
    let ctx_cluster = doc
        .get("contexts")
        .and_then(Value::as_sequence)
        .and_then(|s| named(s, name))
        .and_then(|c| c.get("context")?.get("cluster")?.as_str().map(String::from));
    for cluster in [Some(name.to_string()), ctx_cluster].into_iter().flatten() {
        if let Some(existing_server) = server_of(&doc, &cluster) {
            if existing_server != new_server && !force {
                return Err(MergeError::Conflict {
                    name: name.into(),
                    existing_server,
                    new_server,
                });
            }
        }
    }
    let map = doc.as_mapping_mut().expect("checked above");
    for list in ["clusters", "users", "contexts"] {
        let entry = ours
            .get(list)
            .and_then(Value::as_sequence)
            .and_then(|s| named(s, name))
            .cloned()
            .ok_or_else(|| {
                MergeError::Invalid(format!("foundry's kubeconfig has no {list} entry `{name}`"))
            })?;
        let seq = map
            .entry(list.into())
            .or_insert_with(|| Value::Sequence(vec![]));
        if seq.is_null() {
            *seq = Value::Sequence(vec![]);
        }
        let seq = seq
            .as_sequence_mut()
            .ok_or_else(|| MergeError::Invalid(format!("`{list}` is not a list")))?;
        match seq
            .iter_mut()
            .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
        {
            Some(e) => *e = entry,
            None => seq.push(entry),
        }
    }
    let has_current = map
        .get("current-context")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if !has_current {
        map.insert("current-context".into(), name.into());
    }
    serde_yaml::to_string(&doc).map_err(|e| MergeError::Invalid(e.to_string()))
}
