//! Preflight rules (issue 9 item 5) as pure functions over the probe results: run by
//! `stack plan`, `stack validate --check-hosts` and before install. Each finding names the
//! host, the check and the fix ([`Finding::message`]); docs/k3s.md lists every message.

use super::config::{self, API_PORT};
use super::probe::{HostProbe, Proto, VipAnswer};
use super::roles::ClusterNode;
use super::version::{self, K3sVersion};
use crate::config::net::{Ipv4Net, Ipv4Range};
use crate::config::StackConfig;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// flannel's VXLAN port (udp), opened by the kernel.
pub const VXLAN_PORT: u16 = 8472;
const SERVER_TCP: [u16; 4] = [API_PORT, 10250, 2379, 2380];
const AGENT_TCP: [u16; 1] = [10250];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    VipInvalid {
        vip: String,
    },
    VipOutsideNetwork {
        vip: Ipv4Addr,
        net: String,
    },
    VipIsHostAddress {
        vip: Ipv4Addr,
        host: String,
    },
    VipInLbRange {
        vip: Ipv4Addr,
        range: String,
    },
    VipAnswers {
        vip: Ipv4Addr,
        host: String,
        how: String,
    },
    NoInterfaceOnVipSubnet {
        host: String,
        vip: Ipv4Addr,
        seen: String,
    },
    ConfiguredInterfaceMissing {
        host: String,
        iface: String,
        seen: String,
    },
    ConfiguredInterfaceOffSubnet {
        host: String,
        iface: String,
        vip: Ipv4Addr,
    },
    ServerConfigMismatch {
        host: String,
        key: String,
        running: String,
        desired: String,
    },
    PortInUse {
        host: String,
        proto: Proto,
        port: u16,
        process: String,
    },
    SwapOn {
        host: String,
        devices: String,
    },
    ModuleMissing {
        host: String,
        module: String,
    },
    NotProbed {
        host: String,
    },
    /// The installed K3s cannot move to the pinned one (a downgrade, or a minor skipped).
    VersionRefused {
        host: String,
        from: K3sVersion,
        to: K3sVersion,
    },
}

impl Finding {
    /// The host the finding is about (`stack` for stack.yaml itself).
    pub fn host(&self) -> &str {
        use Finding::*;
        match self {
            VipInvalid { .. } | VipOutsideNetwork { .. } | VipInLbRange { .. } => "stack",
            VipIsHostAddress { host, .. }
            | VipAnswers { host, .. }
            | NoInterfaceOnVipSubnet { host, .. }
            | ConfiguredInterfaceMissing { host, .. }
            | ConfiguredInterfaceOffSubnet { host, .. }
            | ServerConfigMismatch { host, .. }
            | PortInUse { host, .. }
            | SwapOn { host, .. }
            | ModuleMissing { host, .. }
            | NotProbed { host }
            | VersionRefused { host, .. } => host,
        }
    }

    /// `<host>: <check>: <what is wrong>. Fix: <what to do>.`
    pub fn message(&self) -> String {
        use Finding::*;
        let h = self.host();
        match self {
            VipInvalid { vip } => format!("{h}: VIP: cluster.vip `{vip}` is not an IPv4 address. Fix: set cluster.vip to a free address in network.cidr."),
            VipOutsideNetwork { vip, net } => format!("{h}: VIP: {vip} is outside network.cidr {net}; kube-vip can only announce it by ARP on the hosts' own network. Fix: pick a free address inside {net}."),
            VipIsHostAddress { vip, .. } => format!("{h}: VIP: {vip} is this host's own address; the VIP must be an address no machine has. Fix: pick a free address for cluster.vip."),
            VipInLbRange { vip, range } => format!("{h}: VIP: {vip} is inside network.lb_range {range}; kube-vip-cloud-provider could give it to a Service. Fix: move cluster.vip or lb_range so they do not overlap."),
            VipAnswers { vip, how, .. } => format!("{h}: VIP: {vip} already answers ({how}) although no K3s server runs yet; another machine or a DHCP lease has it. Fix: free the address or pick another cluster.vip."),
            NoInterfaceOnVipSubnet { vip, seen, .. } => format!("{h}: VIP interface: no interface has an address on the subnet of the VIP {vip} (found: {seen}); kube-vip could not announce it from this server. Fix: give the host an address on that network, or make it an agent (roles: [cluster-worker])."),
            ConfiguredInterfaceMissing { iface, seen, .. } => format!("{h}: VIP interface: components.kube_vip.interface `{iface}` does not exist here (found: {seen}). Fix: remove the setting so foundry detects the interface per host, or rename it."),
            ConfiguredInterfaceOffSubnet { iface, vip, .. } => format!("{h}: VIP interface: components.kube_vip.interface `{iface}` has no address on the subnet of the VIP {vip}. Fix: remove the setting so foundry detects the interface per host."),
            ServerConfigMismatch { key, running, desired, .. } => format!("{h}: server config: `{key}` is `{running}` on the running cluster but stack.yaml gives `{desired}`; K3s refuses the join (\"critical configuration value mismatch\"). Fix: set components.k3s back to `{running}`; these options cannot change on an existing cluster."),
            PortInUse { proto, port, process, .. } => format!("{h}: ports: {port}/{} is in use by {process}; K3s needs it. Fix: stop that service or move it to another port.", proto.as_str()),
            SwapOn { devices, .. } => format!("{h}: swap: swap is on ({devices}); the kubelet expects it off. Fix: run host-prep (`foundry component install host-prep`) or `swapoff -a` and remove it from /etc/fstab."),
            ModuleMissing { module, .. } => format!("{h}: kernel modules: `{module}` is not loaded; containerd and flannel need it. Fix: run host-prep, or `modprobe {module}` on the machine (in a container: on its host)."),
            VersionRefused { from, to, .. } => version::refusal(h, *from, *to).unwrap_or_default(),
            NotProbed { .. } => format!("{h}: probe: no probe result for this host, so nothing about it was checked. Fix: make it reachable (`foundry host test`) and run again."),
        }
    }
}

fn seen(p: &HostProbe) -> String {
    let v: Vec<String> = p
        .interfaces
        .iter()
        .filter(|i| i.name != "lo")
        .map(|i| {
            let a: Vec<String> = i.addrs.iter().map(|(a, n)| format!("{a}/{n}")).collect();
            format!("{} {}", i.name, a.join(","))
        })
        .collect();
    if v.is_empty() {
        "no IPv4 interface".into()
    } else {
        v.join("; ")
    }
}

/// The VIP against stack.yaml: an IPv4 address inside `network.cidr`, outside `lb_range`.
/// Returns the address when it parses and is inside the network (outside it, the per-host VIP
/// checks would only repeat the same cause).
pub fn check_vip_config(stack: &StackConfig, out: &mut Vec<Finding>) -> Option<Ipv4Addr> {
    let Ok(vip) = stack.cluster.vip.parse::<Ipv4Addr>() else {
        out.push(Finding::VipInvalid {
            vip: stack.cluster.vip.clone(),
        });
        return None;
    };
    if let Some(net) = stack
        .network
        .cidr
        .as_deref()
        .and_then(|c| Ipv4Net::parse_cidr(c).ok())
    {
        if !net.is_usable_host(vip) {
            out.push(Finding::VipOutsideNetwork {
                vip,
                net: net.to_string(),
            });
            return None;
        }
    }
    if let Some(r) = stack.network.lb_range.as_deref() {
        if Ipv4Range::parse(r).is_ok_and(|range| range.contains(vip)) {
            out.push(Finding::VipInLbRange {
                vip,
                range: r.to_string(),
            });
        }
    }
    for h in &stack.hosts {
        if h.address.parse::<Ipv4Addr>() == Ok(vip) {
            out.push(Finding::VipIsHostAddress {
                vip,
                host: h.hostname.clone(),
            });
        }
    }
    Some(vip)
}

/// The interface kube-vip will use on one server, or the finding why there is none.
pub fn vip_interface(
    stack: &StackConfig,
    host: &str,
    p: &HostProbe,
    vip: Ipv4Addr,
) -> Result<String, Finding> {
    let configured = stack
        .components
        .kube_vip
        .as_ref()
        .and_then(|k| k.interface.clone());
    match configured {
        Some(iface) => {
            let Some(i) = p.interface(&iface) else {
                return Err(Finding::ConfiguredInterfaceMissing {
                    host: host.into(),
                    iface,
                    seen: seen(p),
                });
            };
            if p.interface_on_subnet_of(vip)
                .is_none_or(|(j, _)| j.name != i.name)
            {
                return Err(Finding::ConfiguredInterfaceOffSubnet {
                    host: host.into(),
                    iface,
                    vip,
                });
            }
            Ok(iface)
        }
        None => p
            .interface_on_subnet_of(vip)
            .map(|(i, _)| i.name.clone())
            .ok_or_else(|| Finding::NoInterfaceOnVipSubnet {
                host: host.into(),
                vip,
                seen: seen(p),
            }),
    }
}

/// What the rules conclude: the findings, and every server's kube-vip interface (the input of
/// `kube_vip::render`; names may differ per host).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub server_interfaces: Vec<(String, String)>,
}

fn ports(host: &str, p: &HostProbe, server: bool, out: &mut Vec<Finding>) {
    let tcp: &[u16] = if server { &SERVER_TCP } else { &AGENT_TCP };
    let k3s_own =
        |process: &Option<String>| process.as_deref().is_some_and(|n| n.starts_with("k3s"));
    for l in &p.listeners {
        let wanted = match l.proto {
            Proto::Tcp => tcp.contains(&l.port),
            Proto::Udp => l.port == VXLAN_PORT,
        };
        if !wanted || k3s_own(&l.process) {
            continue;
        }
        // The VXLAN socket belongs to the kernel: it is flannel's when flannel.1 exists.
        if l.proto == Proto::Udp && l.process.is_none() && p.interface("flannel.1").is_some() {
            continue;
        }
        out.push(Finding::PortInUse {
            host: host.into(),
            proto: l.proto,
            port: l.port,
            process: l
                .process
                .clone()
                .unwrap_or_else(|| "a kernel socket or an unknown process".into()),
        });
    }
}

/// Every rule, over the resolved nodes and their probes (keyed by host name). `desired_server`
/// is the must-match map of the rendered server config (`NodeConfig::must_match`).
pub fn check(
    stack: &StackConfig,
    nodes: &[ClusterNode],
    probes: &BTreeMap<String, HostProbe>,
    desired_server: &BTreeMap<&'static str, String>,
) -> Outcome {
    let mut o = Outcome::default();
    let vip = check_vip_config(stack, &mut o.findings);
    let modules = &stack.components.host_prep.kernel_modules;
    // An existing cluster answers on its VIP; that is only a conflict before the first install.
    let cluster_exists = nodes.iter().filter(|n| n.role.is_server()).any(|n| {
        probes
            .get(&n.host)
            .is_some_and(|p| p.etcd_data || p.k3s_version.is_some())
    });
    let mut mismatch_reported = false;
    let pinned = stack
        .components
        .k3s
        .as_ref()
        .and_then(|k| K3sVersion::parse(&k.version));
    for n in nodes {
        let Some(p) = probes.get(&n.host) else {
            o.findings.push(Finding::NotProbed {
                host: n.host.clone(),
            });
            continue;
        };
        let server = n.role.is_server();
        if let Some(vip) = vip {
            if p.has_address(vip).is_some() && !cluster_exists {
                o.findings.push(Finding::VipIsHostAddress {
                    vip,
                    host: n.host.clone(),
                });
            }
            if !cluster_exists && !p.vip_answers.is_empty() {
                let how: Vec<&str> = p
                    .vip_answers
                    .iter()
                    .map(|a| VipAnswer::as_str(*a))
                    .collect();
                o.findings.push(Finding::VipAnswers {
                    vip,
                    host: n.host.clone(),
                    how: how.join(", "),
                });
            }
            if server {
                match vip_interface(stack, &n.host, p, vip) {
                    Ok(i) => o.server_interfaces.push((n.host.clone(), i)),
                    Err(f) => o.findings.push(f),
                }
            }
        }
        if server && !mismatch_reported {
            if let Some(running) = p.server_config.as_deref().filter(|_| p.etcd_data) {
                if let Ok(running) = config::must_match_from_yaml(running) {
                    for (key, r, d) in config::must_match_diff(&running, desired_server) {
                        mismatch_reported = true;
                        o.findings.push(Finding::ServerConfigMismatch {
                            host: n.host.clone(),
                            key: key.into(),
                            running: r,
                            desired: d,
                        });
                    }
                }
            }
        }
        if let (Some(to), Some(from)) = (
            pinned,
            p.k3s_version
                .as_deref()
                .and_then(K3sVersion::from_version_output),
        ) {
            if version::refusal(&n.host, from, to).is_some() {
                o.findings.push(Finding::VersionRefused {
                    host: n.host.clone(),
                    from,
                    to,
                });
            }
        }
        ports(&n.host, p, server, &mut o.findings);
        if !p.swaps.is_empty() {
            o.findings.push(Finding::SwapOn {
                host: n.host.clone(),
                devices: p.swaps.join(", "),
            });
        }
        for m in modules {
            if !p.modules.contains(m) {
                o.findings.push(Finding::ModuleMissing {
                    host: n.host.clone(),
                    module: m.clone(),
                });
            }
        }
    }
    // stack.yaml's host address and the probed interface can both say the VIP is a host's.
    let mut seen_msgs = std::collections::HashSet::new();
    o.findings.retain(|f| seen_msgs.insert(f.message()));
    o
}
