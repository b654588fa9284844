//! `/etc/rancher/k3s/config.yaml` per node: a typed struct serialized to YAML (K3s reads flag
//! names as keys, repeatable flags as lists; docs/installation/configuration.md).
//!
//! What every node gets, and why:
//! - servers: `token` (cluster token) and `agent-token`; agents: `token` = the agent token, so
//!   an agent's file cannot join a server;
//! - servers: `tls-san: [VIP, <cluster>.<domain>]` from the first boot: adding SANs later often
//!   does not take (k3s #3369, #4149, #12500);
//! - the first server `cluster-init: true`; every other node `server: https://VIP:6443`;
//! - servers: `disable: [servicelb, traefik]` (kube-vip answers LoadBalancer services, and
//!   servicelb would advertise node IPs beside it: kube-vip #836); Contour replaces Traefik;
//! - `node-name` = the stack's host name, so the API waits know what to look for;
//! - `node-ip` and `flannel-iface` when the address/interface on the hosts' network is known:
//!   on multi-NIC hosts K3s otherwise picks the default-route NIC;
//! - `write-kubeconfig-mode: "0600"` (the admin kubeconfig is root's only).
//!
//! Not set: `disable-cloud-controller`. kube-vip-cloud-provider only allocates LoadBalancer
//! addresses; node initialisation (addresses, the `uninitialized` taint) stays with K3s's
//! embedded cloud controller, which leaves LoadBalancer services alone once servicelb is
//! disabled.
//!
//! The file holds tokens: it is written 0600 and never diffed (`FileSpec::secret`).

use super::kube_vip::INTERFACE_LABEL;
use super::roles::{ClusterNode, NodeRole, CONTROL_PLANE_TAINT};
use super::token::Tokens;
use crate::component::FileSpec;
use crate::config::StackConfig;
use serde::Serialize;
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

pub const PATH: &str = "/etc/rancher/k3s/config.yaml";
pub const API_PORT: u16 = 6443;
/// Always disabled on servers, see the module comment.
pub const DISABLED: [&str; 2] = ["servicelb", "traefik"];

/// Keys foundry sets itself; `extra_args` may not override them.
const MANAGED: [&str; 14] = [
    "token",
    "token-file",
    "agent-token",
    "agent-token-file",
    "server",
    "cluster-init",
    "node-name",
    "node-ip",
    "flannel-iface",
    "write-kubeconfig-mode",
    "cluster-cidr",
    "service-cidr",
    "data-dir",
    "config",
];
/// List keys `extra_args` may add items to.
const APPENDABLE: [&str; 4] = ["disable", "tls-san", "node-label", "node-taint"];

/// What the probe found about a node's place on the hosts' network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeNet {
    /// The node's address on `network.cidr`.
    pub node_ip: Option<Ipv4Addr>,
    /// The interface holding it (also kube-vip's interface on servers).
    pub iface: Option<String>,
}

/// config.yaml, field order as written. `Debug` shows token fingerprints only.
#[derive(Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct NodeConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_init: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_token: Option<String>,
    pub node_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flannel_iface: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls_san: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disable: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_cidr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_cidr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_kubeconfig_mode: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub node_label: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub node_taint: Vec<String>,
    /// From `components.k3s.extra_args`.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl std::fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.clone();
        shown.token = super::token::fingerprint(&self.token);
        shown.agent_token = self.agent_token.as_deref().map(super::token::fingerprint);
        // Serialized (not derived) so no field can slip past the redaction above.
        f.write_str(&serde_yaml::to_string(&shown).unwrap_or_default())
    }
}

/// `https://VIP:6443`: every joining node's `server`.
pub fn server_url(stack: &StackConfig) -> String {
    format!("https://{}:{API_PORT}", stack.cluster.vip)
}

/// The API names every server certificate must carry.
pub fn tls_sans(stack: &StackConfig) -> Vec<String> {
    vec![
        stack.cluster.vip.clone(),
        format!("{}.{}", stack.cluster.name, stack.cluster.domain),
    ]
}

/// `components.k3s.extra_args` as config.yaml keys: `--flag=value` → `flag: value`,
/// `--flag` → `flag: true`, a repeated flag → a list.
pub fn parse_extra_args(args: &[String]) -> Result<BTreeMap<String, Value>, String> {
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for a in args {
        let Some(body) = a.strip_prefix("--") else {
            return Err(format!(
                "extra_args `{a}` must be a flag starting with `--`, e.g. --kube-apiserver-arg=audit-log-maxage=30"
            ));
        };
        let (key, value) = match body.split_once('=') {
            Some((k, v)) => (k, Value::String(v.to_string())),
            None => (body, Value::Bool(true)),
        };
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!("extra_args `{a}`: `{key}` is not a K3s flag name"));
        }
        if MANAGED.contains(&key) {
            return Err(format!(
                "extra_args `{a}` sets `{key}`, which foundry manages (tokens, server URL, node name and address, CIDRs are derived from stack.yaml); use the matching stack.yaml field instead"
            ));
        }
        match out.get_mut(key) {
            None => {
                out.insert(key.to_string(), value);
            }
            Some(Value::Sequence(seq)) => seq.push(value),
            Some(prev) => {
                let first = prev.clone();
                *prev = Value::Sequence(vec![first, value]);
            }
        }
    }
    Ok(out)
}

/// Items an extra list flag adds (`--disable=local-storage`), and the flag removed from `extra`.
fn take_list(extra: &mut BTreeMap<String, Value>, key: &str) -> Vec<String> {
    match extra.remove(key) {
        None => vec![],
        Some(Value::Sequence(s)) => s
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        Some(Value::String(s)) => s.split(',').map(|x| x.trim().to_string()).collect(),
        Some(_) => vec![],
    }
}

fn push_unique(v: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for i in items {
        if !i.is_empty() && !v.contains(&i) {
            v.push(i);
        }
    }
}

/// The config of one node.
pub fn node_config(
    stack: &StackConfig,
    node: &ClusterNode,
    tokens: &Tokens,
    net: &NodeNet,
) -> Result<NodeConfig, String> {
    let host = stack
        .host(&node.host)
        .ok_or_else(|| format!("host `{}` is not in stack.yaml", node.host))?;
    let k = stack.components.k3s.as_ref();
    let mut extra = parse_extra_args(k.map(|k| k.extra_args.as_slice()).unwrap_or(&[]))?;
    let server = node.role.is_server();
    let mut labels: Vec<String> = host
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut taints = host.taints.clone();
    let mut tls_san = vec![];
    let mut disable = vec![];
    if server {
        tls_san = tls_sans(stack);
        disable = DISABLED.iter().map(|s| s.to_string()).collect();
        if !node.workloads && !taints.iter().any(|t| t == CONTROL_PLANE_TAINT) {
            taints.push(CONTROL_PLANE_TAINT.into());
        }
        if let Some(i) = super::kube_vip::interface_for(stack, net) {
            labels.push(format!("{INTERFACE_LABEL}={i}"));
        }
    }
    push_unique(
        &mut tls_san,
        take_list(&mut extra, "tls-san")
            .into_iter()
            .filter(|_| server),
    );
    push_unique(
        &mut disable,
        take_list(&mut extra, "disable")
            .into_iter()
            .filter(|_| server),
    );
    push_unique(&mut labels, take_list(&mut extra, "node-label"));
    push_unique(&mut taints, take_list(&mut extra, "node-taint"));
    debug_assert!(APPENDABLE.iter().all(|a| !extra.contains_key(*a)));
    disable.sort();
    Ok(NodeConfig {
        cluster_init: (node.role == NodeRole::FirstServer).then_some(true),
        server: (node.role != NodeRole::FirstServer).then(|| server_url(stack)),
        token: if server {
            tokens.cluster.clone()
        } else {
            tokens.agent.clone()
        },
        agent_token: server.then(|| tokens.agent.clone()),
        node_name: node.host.clone(),
        node_ip: net.node_ip.map(|a| a.to_string()),
        flannel_iface: net.iface.clone(),
        tls_san,
        disable,
        cluster_cidr: k.and_then(|k| k.cluster_cidr.clone()).filter(|_| server),
        service_cidr: k.and_then(|k| k.service_cidr.clone()).filter(|_| server),
        write_kubeconfig_mode: server.then(|| "0600".to_string()),
        node_label: labels,
        node_taint: taints,
        extra,
    })
}

impl NodeConfig {
    pub fn to_yaml(&self) -> String {
        let body = serde_yaml::to_string(self).unwrap_or_default();
        format!(
            "# Managed by foundry from stack.yaml; changes are overwritten on the next install.\n{body}"
        )
    }

    /// The file to write: 0600, secret (it holds the tokens).
    pub fn file(&self) -> FileSpec {
        FileSpec::new(PATH, self.to_yaml(), 0o600).secret()
    }

    /// The options that must be identical on every server, see [`must_match`].
    pub fn must_match(&self) -> BTreeMap<&'static str, String> {
        must_match_value(&serde_yaml::to_value(self).unwrap_or(Value::Null))
    }
}

/// Server options that must be identical on every server, or a join fails with "critical
/// configuration value mismatch" (docs/datastore/ha-embedded.md), with K3s's defaults filled
/// in so that an unset key and its default compare equal.
const MUST_MATCH: [(&str, &str); 9] = [
    ("cluster-cidr", "10.42.0.0/16"),
    ("service-cidr", "10.43.0.0/16"),
    ("cluster-dns", "10.43.0.10"),
    ("cluster-domain", "cluster.local"),
    ("disable", ""),
    ("disable-helm-controller", "false"),
    ("disable-kube-proxy", "false"),
    ("disable-network-policy", "false"),
    ("secrets-encryption", "false"),
];

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Sequence(s) => {
            let mut items: Vec<String> = s
                .iter()
                .map(scalar)
                .flat_map(|x| {
                    x.split(',')
                        .map(|p| p.trim().to_string())
                        .collect::<Vec<_>>()
                })
                .filter(|x| !x.is_empty())
                .collect();
            items.sort();
            items.dedup();
            items.join(",")
        }
        _ => String::new(),
    }
}

fn must_match_value(v: &Value) -> BTreeMap<&'static str, String> {
    MUST_MATCH
        .iter()
        .map(|(k, default)| {
            let got = v.get(*k).map(scalar).filter(|s| !s.is_empty());
            let val = match *k {
                "disable" => v.get(*k).map(scalar).unwrap_or_default(),
                _ => got.unwrap_or_else(|| default.to_string()),
            };
            (*k, val)
        })
        .collect()
}

/// The must-match options of a config.yaml as found on a server (the token in it is dropped
/// here, never returned).
pub fn must_match_from_yaml(text: &str) -> Result<BTreeMap<&'static str, String>, String> {
    let v: Value = serde_yaml::from_str(text)
        .map_err(|e| format!("{PATH} is not valid YAML ({e}); fix or remove it"))?;
    Ok(must_match_value(&v))
}

/// The must-match options that differ: (key, running, desired).
pub fn must_match_diff(
    running: &BTreeMap<&'static str, String>,
    desired: &BTreeMap<&'static str, String>,
) -> Vec<(&'static str, String, String)> {
    desired
        .iter()
        .filter_map(|(k, d)| {
            let r = running.get(k).cloned().unwrap_or_default();
            (r != *d).then(|| (*k, r, d.clone()))
        })
        .collect()
}
