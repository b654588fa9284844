//! A stack with every K3s feature in use, shared by the golden tests.

use crate::component::k3s::{NodeNet, Tokens};
use crate::config::StackConfig;
use std::net::Ipv4Addr;

/// Four `cluster` hosts (three servers, one agent) and a pinned worker; node-2 has another
/// NIC name than node-1 and node-3 (the case kube-vip's per-interface DaemonSets handle).
pub const STACK: &str = "\
cluster: {name: homelab, domain: home.example.com, vip: 192.168.10.50}
network: {cidr: 192.168.10.0/24, lb_range: 192.168.10.200-192.168.10.220}
hosts:
  - {hostname: node-1, address: 192.168.10.11, roles: [openbao, zot, cluster]}
  - hostname: node-2
    address: 192.168.10.12
    roles: [cluster]
    labels: {topology.kubernetes.io/zone: rack-a}
  - {hostname: node-3, address: 192.168.10.13, roles: [cluster]}
  - hostname: node-4
    address: 192.168.10.14
    roles: [cluster]
    taints: ['gpu=true:NoSchedule']
  - {hostname: bao, address: 192.168.10.5, roles: [openbao]}
components:
  zot: {}
  k3s:
    version: v1.33.5+k3s1
    cluster_cidr: 10.42.0.0/16
    extra_args: ['--kube-apiserver-arg=audit-log-maxage=30', '--disable=local-storage']
  kube_vip: {version: v1.2.3}
";

pub fn stack() -> StackConfig {
    serde_yaml::from_str(STACK).unwrap()
}

/// Fixed, obviously fake tokens (real ones come from `token::generate`).
pub fn tokens() -> Tokens {
    Tokens {
        cluster: "CLUSTERTOKENexample0123456789".into(),
        agent: "AGENTTOKENexample0123456789".into(),
    }
}

pub fn iface(host: &str) -> &'static str {
    if host == "node-2" {
        "enp1s0"
    } else {
        "eth0"
    }
}

pub fn net(host: &str) -> NodeNet {
    let last: u8 = host.trim_start_matches("node-").parse().unwrap_or(99);
    NodeNet {
        node_ip: Some(Ipv4Addr::new(192, 168, 10, 10 + last)),
        iface: Some(iface(host).into()),
    }
}
