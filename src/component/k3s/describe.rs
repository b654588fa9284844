//! What the K3s component does on a host, without contacting it (`stack plan --offline`).

use super::config::{server_url, tls_sans, PATH as CONFIG_PATH};
use super::install::{unit_name, IMAGES_DIR};
use super::kube_vip::{CLOUD_PROVIDER_FILE, KUBE_VIP_FILE, MANIFESTS_DIR};
use super::registries::PATH as REGISTRIES_PATH;
use super::roles::{self, NodeRole};
use crate::config::StackConfig;

/// One line per thing done on `host`, in order; the resolved role first.
pub fn describe_offline(stack: &StackConfig, host: &str) -> Vec<String> {
    let Some(k) = stack.components.k3s.as_ref().filter(|k| k.enabled) else {
        return vec![];
    };
    let nodes = roles::resolve(stack);
    let Some(node) = nodes.iter().find(|n| n.host == host) else {
        return vec!["not in the K3s cluster (no cluster role)".into()];
    };
    let servers = nodes.iter().filter(|n| n.role.is_server()).count();
    let mut v = vec![format!("K3s role: {}", node.describe())];
    v.push(match &k.airgap_bundle {
        Some(dir) => format!(
            "install K3s {} air-gapped: verify {dir} against its sha256sum file, upload the binary to /usr/local/bin/k3s and the images tarball to {IMAGES_DIR}/",
            k.version
        ),
        None => format!(
            "install K3s {} online: download k3s and sha256sum-<arch>.txt from the release on the host, verify, install to /usr/local/bin/k3s",
            k.version
        ),
    });
    if stack.components.zot.as_ref().is_some_and(|z| z.enabled) {
        v.push(format!(
            "write {REGISTRIES_PATH} (0600, secret): pull docker.io, ghcr.io, quay.io, registry.k8s.io through Zot"
        ));
    }
    let cfg = match node.role {
        NodeRole::FirstServer => format!("cluster-init, tls-san [{}]", tls_sans(stack).join(", ")),
        NodeRole::JoiningServer => format!(
            "server {}, tls-san [{}]",
            server_url(stack),
            tls_sans(stack).join(", ")
        ),
        NodeRole::Agent => format!("server {}, agent token", server_url(stack)),
    };
    v.push(format!("write {CONFIG_PATH} (0600, secret): {cfg}"));
    let kube_vip_on = stack
        .components
        .kube_vip
        .as_ref()
        .is_some_and(|k| k.enabled);
    if node.role == NodeRole::FirstServer && kube_vip_on {
        v.push(format!(
                "write {MANIFESTS_DIR}/{KUBE_VIP_FILE}: kube-vip RBAC and one DaemonSet per server interface name (VIP {}, ARP, control plane + services, leader election)",
                stack.cluster.vip
            ));
        if let Some(r) = &stack.network.lb_range {
            v.push(format!(
                    "write {MANIFESTS_DIR}/{CLOUD_PROVIDER_FILE}: kube-vip-cloud-provider and ConfigMap kubevip (range-global {r})"
                ));
        }
    }
    let unit = unit_name(node.role.is_server());
    v.push(format!(
        "write /etc/systemd/system/{unit}.service, enable and start {unit}"
    ));
    v.push(match node.role {
        NodeRole::FirstServer => format!(
            "wait until {}/cacerts answers through the VIP and the API is ready",
            server_url(stack)
        ),
        NodeRole::JoiningServer => format!(
            "join after the first server, one server at a time ({servers} servers): wait for its Node Ready and its etcd member to be a voter"
        ),
        NodeRole::Agent => "join after all servers, agents in parallel: wait for its Node Ready".into(),
    });
    v
}
