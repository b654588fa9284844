//! kube-vip on K3s, the documented way (kube-vip usage/k3s.md): RBAC and DaemonSet in the first
//! server's auto-deploy directory before it starts, plus kube-vip-cloud-provider and its
//! `kubevip` ConfigMap (`range-global` from `network.lb_range`) for LoadBalancer services.
//!
//! The interface problem: `vip_interface=eth0` crash-loops on nodes without eth0 (kube-vip
//! #559, #399) and an empty one picks the default-route NIC, wrong on multi-NIC hosts (#903).
//! kube-vip reads its interface from one env var per pod, and a DaemonSet has one pod template,
//! so hosts whose names differ cannot share one DaemonSet. Upstream-supported answer: one
//! DaemonSet per distinct interface name, `kube-vip-<iface>`, each with a node affinity on the
//! label `foundry.dev/vip-interface=<iface>` that foundry puts on every server through
//! config.yaml's `node-label` (set at registration, before kube-vip is scheduled). All pods
//! share the lease names (`plndr-cp-lock`, `plndr-svcs-lock`), so leader election spans the
//! DaemonSets: exactly one server holds the VIP. The layout is the same with one interface
//! name (one DaemonSet), so a later server with another NIC name only adds a DaemonSet.
//!
//! Without `network.lb_range` the cloud provider is not deployed (nothing to hand out);
//! services that set their address still get it announced (`svc_enable`).

use super::config::{NodeNet, API_PORT};
use crate::component::FileSpec;
use crate::config::StackConfig;
use crate::host::container::rewrite_image;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Node label naming the server's interface on the VIP's subnet.
pub const INTERFACE_LABEL: &str = "foundry.dev/vip-interface";
pub const MANIFESTS_DIR: &str = "/var/lib/rancher/k3s/server/manifests";
pub const KUBE_VIP_FILE: &str = "foundry-kube-vip.yaml";
pub const CLOUD_PROVIDER_FILE: &str = "foundry-kube-vip-cloud-provider.yaml";
const NS: &str = "kube-system";

/// The interface kube-vip uses on a server: `components.kube_vip.interface` when set, else the
/// one the probe found on the VIP's subnet. None when kube-vip is not enabled.
pub fn interface_for(stack: &StackConfig, net: &NodeNet) -> Option<String> {
    let kv = stack.components.kube_vip.as_ref().filter(|k| k.enabled)?;
    kv.interface.clone().or_else(|| net.iface.clone())
}

pub fn image(stack: &StackConfig) -> Option<String> {
    let kv = stack.components.kube_vip.as_ref()?;
    Some(match kv.image.as_deref().filter(|i| !i.is_empty()) {
        Some(i) => i.to_string(),
        None => rewrite_image(
            &format!("ghcr.io/kube-vip/kube-vip:{}", kv.version),
            &stack.images,
        ),
    })
}

pub fn cloud_provider_image(stack: &StackConfig) -> Option<String> {
    let kv = stack.components.kube_vip.as_ref()?;
    Some(
        match kv.cloud_provider_image.as_deref().filter(|i| !i.is_empty()) {
            Some(i) => i.to_string(),
            None => rewrite_image(
                &format!(
                    "ghcr.io/kube-vip/kube-vip-cloud-provider:{}",
                    kv.cloud_provider_version
                ),
                &stack.images,
            ),
        },
    )
}

/// A label value (and DaemonSet suffix) from an interface name; Linux allows names such as
/// `eth0@if3` that Kubernetes does not.
fn check_iface(host: &str, iface: &str) -> Result<(), String> {
    let ok = !iface.is_empty()
        && iface.len() <= 63
        && iface
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && iface.as_bytes()[0].is_ascii_alphanumeric()
        && iface.as_bytes()[iface.len() - 1].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(format!("{host}: interface `{iface}` cannot be a Kubernetes label value (letters, digits, `.`, `_`, `-`); set components.kube_vip.interface or rename the interface"))
    }
}

/// `kube-vip-<iface>` as an RFC 1123 name (`enp0s31f6`, `eth0.100` → `eth0-100`).
fn ds_name(iface: &str) -> String {
    let s: String = iface
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("kube-vip-{}", s.trim_matches('-'))
}

fn labels(component: &str) -> Value {
    json!({"app.kubernetes.io/name": component, "app.kubernetes.io/managed-by": "foundry"})
}

fn rbac() -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "kube-vip", "namespace": NS, "labels": labels("kube-vip")}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "system:kube-vip-role", "labels": labels("kube-vip")},
        "rules": [
          {"apiGroups": [""], "resources": ["services/status"], "verbs": ["update"]},
          {"apiGroups": [""], "resources": ["services", "endpoints"], "verbs": ["list", "get", "watch", "update"]},
          {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "get", "watch", "update", "patch"]},
          {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["list", "get", "watch", "update", "create"]},
          {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "get", "watch", "update"]},
          {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
          {"apiGroups": ["networking.k8s.io"], "resources": ["servicecidrs"], "verbs": ["list", "get", "watch"]}
        ]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "system:kube-vip-binding", "labels": labels("kube-vip")},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:kube-vip-role"},
               "subjects": [{"kind": "ServiceAccount", "name": "kube-vip", "namespace": NS}]}),
    ]
}

fn env(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

fn daemonset(stack: &StackConfig, image: &str, iface: &str) -> Value {
    let mut sel = serde_json::Map::new();
    sel.insert("app.kubernetes.io/name".into(), json!("kube-vip"));
    sel.insert(INTERFACE_LABEL.into(), json!(iface));
    let mut pod_labels = sel.clone();
    pod_labels.insert("app.kubernetes.io/managed-by".into(), json!("foundry"));
    json!({
      "apiVersion": "apps/v1", "kind": "DaemonSet",
      "metadata": {"name": ds_name(iface), "namespace": NS, "labels": labels("kube-vip")},
      "spec": {
        "selector": {"matchLabels": sel},
        "template": {
          "metadata": {"labels": pod_labels},
          "spec": {
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
              "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"},
                {"key": INTERFACE_LABEL, "operator": "In", "values": [iface]}
              ]}]}}},
            "containers": [{
              "name": "kube-vip",
              "image": image,
              "imagePullPolicy": "IfNotPresent",
              "args": ["manager"],
              "env": [
                env("vip_arp", "true"),
                env("port", &API_PORT.to_string()),
                env("vip_interface", iface),
                env("vip_subnet", "32"),
                env("address", &stack.cluster.vip),
                {"name": "vip_nodename", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                env("cp_enable", "true"),
                env("cp_namespace", NS),
                env("vip_leaderelection", "true"),
                env("vip_leaseduration", "5"),
                env("vip_renewdeadline", "3"),
                env("vip_retryperiod", "1"),
                env("svc_enable", "true")
              ],
              "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW", "SYS_TIME"]}}
            }],
            "hostNetwork": true,
            "serviceAccountName": "kube-vip",
            "tolerations": [
              {"effect": "NoSchedule", "operator": "Exists"},
              {"effect": "NoExecute", "operator": "Exists"}
            ]
          }
        }
      }
    })
}

fn cloud_provider(image: &str, lb_range: &str) -> Vec<Value> {
    let l = labels("kube-vip-cloud-provider");
    vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "kube-vip-cloud-controller", "namespace": NS, "labels": l}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "system:kube-vip-cloud-controller-role", "labels": l},
        "rules": [
          {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update", "list", "put"]},
          {"apiGroups": [""], "resources": ["configmaps", "endpoints", "events", "services/status", "leases"], "verbs": ["*"]},
          {"apiGroups": [""], "resources": ["nodes", "services"], "verbs": ["list", "get", "watch", "update"]}
        ]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": "system:kube-vip-cloud-controller-binding", "labels": l},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:kube-vip-cloud-controller-role"},
               "subjects": [{"kind": "ServiceAccount", "name": "kube-vip-cloud-controller", "namespace": NS}]}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "kubevip", "namespace": NS, "labels": l},
               "data": {"range-global": lb_range}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "kube-vip-cloud-provider", "namespace": NS, "labels": l},
        "spec": {
          "replicas": 1,
          "selector": {"matchLabels": {"app.kubernetes.io/name": "kube-vip-cloud-provider"}},
          "template": {
            "metadata": {"labels": l},
            "spec": {
              "serviceAccountName": "kube-vip-cloud-controller",
              "containers": [{
                "name": "kube-vip-cloud-provider",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["/kube-vip-cloud-provider", "--leader-elect-resource-name=kube-vip-cloud-controller"]
              }],
              // Runs on dedicated servers too (a cluster may have no agent).
              "tolerations": [
                {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}
              ]
            }
          }
        }}),
    ]
}

fn multi_doc(header: &str, docs: &[Value]) -> String {
    let mut out = format!("# Managed by foundry: {header}\n# K3s applies this file at start and on change; deleting it does not delete the objects.\n");
    for d in docs {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(d).unwrap_or_default());
    }
    out
}

/// The manifests for the first server: `(file name, content)`. `server_ifaces` is every server's
/// `(host, interface on the VIP's subnet)`. Errors name the host whose interface is unusable.
pub fn render(
    stack: &StackConfig,
    server_ifaces: &[(String, String)],
) -> Result<Vec<(&'static str, String)>, String> {
    let Some(img) = image(stack).filter(|_| {
        stack
            .components
            .kube_vip
            .as_ref()
            .is_some_and(|k| k.enabled)
    }) else {
        return Ok(vec![]);
    };
    if server_ifaces.is_empty() {
        return Err("kube-vip: no server interface is known; run the preflight probe first".into());
    }
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for (host, iface) in server_ifaces {
        check_iface(host, iface)?;
        let n = ds_name(iface);
        if let Some(other) = by_name.get(&n).filter(|o| *o != iface) {
            return Err(format!("{host}: interfaces `{iface}` and `{other}` both give DaemonSet name {n}; set components.kube_vip.interface"));
        }
        by_name.insert(n, iface.clone());
    }
    let mut docs = rbac();
    for iface in by_name.values() {
        docs.push(daemonset(stack, &img, iface));
    }
    let mut out = vec![(
        KUBE_VIP_FILE,
        multi_doc("kube-vip (API VIP and LoadBalancer announcements)", &docs),
    )];
    if let (Some(range), Some(cp)) = (
        stack.network.lb_range.as_deref(),
        cloud_provider_image(stack),
    ) {
        out.push((
            CLOUD_PROVIDER_FILE,
            multi_doc(
                "kube-vip-cloud-provider (LoadBalancer addresses from network.lb_range)",
                &cloud_provider(&cp, range),
            ),
        ));
    }
    Ok(out)
}

/// The files to write on the first server, 0600 in the manifests directory.
pub fn files(
    stack: &StackConfig,
    server_ifaces: &[(String, String)],
) -> Result<Vec<FileSpec>, String> {
    Ok(render(stack, server_ifaces)?
        .into_iter()
        .map(|(name, body)| FileSpec::new(format!("{MANIFESTS_DIR}/{name}"), body, 0o600))
        .collect())
}
