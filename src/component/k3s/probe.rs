//! The read-only preflight probe: one shell script per host (one round trip), and its parser.
//! The rules over the result are in `preflight.rs`.
//!
//! The script never prints the tokens: of an existing config.yaml it prints only the keys that
//! must match across servers (an awk filter runs on the host).

use super::config::API_PORT;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Without the `@ifN` suffix `ip` shows for veth peers.
    pub name: String,
    /// IPv4 addresses with their prefix length.
    pub addrs: Vec<(Ipv4Addr, u8)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub proto: Proto,
    pub port: u16,
    /// The first process `ss -p` names; None for kernel sockets (VXLAN) or unknown owners.
    pub process: Option<String>,
}

/// How the VIP answered when probed from a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum VipAnswer {
    /// Something accepted a TCP connection on VIP:6443.
    Tcp,
    /// It answered a ping.
    Icmp,
    /// The neighbour table has a MAC address for it (someone answered ARP).
    Arp,
}

impl VipAnswer {
    pub fn as_str(self) -> &'static str {
        match self {
            VipAnswer::Tcp => "a TCP connection on port 6443",
            VipAnswer::Icmp => "ping",
            VipAnswer::Arp => "ARP",
        }
    }
}

/// What the probe found on one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostProbe {
    pub interfaces: Vec<Interface>,
    pub listeners: Vec<Listener>,
    /// Active swap devices/files from /proc/swaps.
    pub swaps: Vec<String>,
    /// Loaded (or built-in) kernel modules.
    pub modules: BTreeSet<String>,
    pub vip_answers: BTreeSet<VipAnswer>,
    /// `k3s --version`'s first line when the binary is installed.
    pub k3s_version: Option<String>,
    /// `/var/lib/rancher/k3s/server/db` exists: this host is (or was) an etcd member.
    pub etcd_data: bool,
    /// The must-match lines of an existing /etc/rancher/k3s/config.yaml (YAML text).
    pub server_config: Option<String>,
}

impl HostProbe {
    /// The interface with an address on the subnet of `ip`, by each address's own prefix, and
    /// that address.
    pub fn interface_on_subnet_of(&self, ip: Ipv4Addr) -> Option<(&Interface, Ipv4Addr)> {
        self.interfaces.iter().find_map(|i| {
            i.addrs
                .iter()
                .find(|(a, p)| same_subnet(*a, ip, *p))
                .map(|(a, _)| (i, *a))
        })
    }

    pub fn has_address(&self, ip: Ipv4Addr) -> Option<&Interface> {
        self.interfaces
            .iter()
            .find(|i| i.addrs.iter().any(|(a, _)| *a == ip))
    }

    pub fn interface(&self, name: &str) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.name == name)
    }
}

/// The node's address and interface on the hosts' network, for config.yaml's `node-ip` and
/// `flannel-iface`: the interface holding the stack's `address` when it is an IP found on the
/// host, else the first address inside `network` (`network.cidr`). Multi-NIC hosts otherwise
/// get the default-route NIC from K3s, which may be another network.
pub fn node_net(
    probe: &HostProbe,
    stack_address: &str,
    network: Option<crate::config::net::Ipv4Net>,
) -> super::config::NodeNet {
    let by_address = stack_address
        .parse::<Ipv4Addr>()
        .ok()
        .and_then(|a| probe.has_address(a).map(|i| (i, a)));
    let by_network = || {
        let net = network?;
        probe.interfaces.iter().find_map(|i| {
            i.addrs
                .iter()
                // A /32 is kube-vip's VIP (`vip_subnet: 32`), never the node's own address.
                .find(|(a, prefix)| net.contains(*a) && *prefix < 32)
                .map(|(a, _)| (i, *a))
        })
    };
    match by_address.or_else(by_network) {
        Some((i, a)) => super::config::NodeNet {
            node_ip: Some(a),
            iface: Some(i.name.clone()),
        },
        None => super::config::NodeNet::default(),
    }
}

fn same_subnet(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let mask = u32::MAX << (32 - prefix.min(32) as u32);
    u32::from(a) & mask == u32::from(b) & mask
}

/// Keys of config.yaml the probe prints (see `config::MUST_MATCH`).
const CONFIG_KEYS: &str = "cluster-cidr|service-cidr|cluster-dns|cluster-domain|disable|disable-helm-controller|disable-kube-proxy|disable-network-policy|secrets-encryption";

/// The probe script. `modules`: the kernel modules to look for also under /sys/module (built-in
/// modules are not in /proc/modules). In a container (LXC, nspawn) neither may be visible: the
/// two K3s needs are also recognised by what they provide, `overlay` in /proc/filesystems and
/// `br_netfilter` by /proc/sys/net/bridge. An ARP entry counts as "the VIP answers" only when
/// REACHABLE (or PERMANENT): a STALE one is a memory of a machine that may be gone. Run as root (ss needs it to name other users' processes).
pub fn script(vip: Ipv4Addr, modules: &[String]) -> String {
    let mods: Vec<String> = modules
        .iter()
        .filter(|m| {
            m.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
        .cloned()
        .collect();
    format!(
        "echo '## addr'; ip -o -4 addr show 2>/dev/null\n\
         echo '## listen'; ss -H -ltnup 2>/dev/null\n\
         echo '## swaps'; cat /proc/swaps 2>/dev/null\n\
         echo '## modules'; cut -d' ' -f1 /proc/modules 2>/dev/null; for m in {mods}; do [ -d /sys/module/$m ] && echo $m; done\n\
         grep -qw overlay /proc/filesystems 2>/dev/null && echo overlay\n\
         [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] && echo br_netfilter\n\
         echo '## vip'\n\
         if timeout 2 bash -c ': </dev/tcp/{vip}/{API_PORT}' 2>/dev/null; then echo tcp; fi\n\
         if command -v ping >/dev/null 2>&1 && ping -c 1 -W 1 {vip} >/dev/null 2>&1; then echo icmp; fi\n\
         ip neigh show {vip} 2>/dev/null | grep -qE 'lladdr .*(REACHABLE|PERMANENT)' && echo arp\n\
         echo '## k3s'\n\
         [ -x /usr/local/bin/k3s ] && /usr/local/bin/k3s --version 2>/dev/null | head -n 1 | sed 's/^/version /'\n\
         [ -d /var/lib/rancher/k3s/server/db ] && echo etcd-data\n\
         echo '## config'\n\
         [ -f /etc/rancher/k3s/config.yaml ] && {{ echo '# present'; awk '/^[A-Za-z]/{{p=0}} /^({CONFIG_KEYS}):/{{p=1}} p' /etc/rancher/k3s/config.yaml; }}\n\
         true\n",
        mods = if mods.is_empty() { "none".to_string() } else { mods.join(" ") },
    )
}

/// `4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\ ...`
fn parse_addr(line: &str, out: &mut Vec<Interface>) {
    let f: Vec<&str> = line.split_whitespace().collect();
    let Some(pos) = f.iter().position(|w| *w == "inet") else {
        return;
    };
    let (Some(name), Some(cidr)) = (f.get(1), f.get(pos + 1)) else {
        return;
    };
    let name = name.trim_end_matches(':');
    let name = name.split('@').next().unwrap_or(name).to_string();
    let Some((a, p)) = cidr.split_once('/') else {
        return;
    };
    let (Ok(a), Ok(p)) = (a.parse::<Ipv4Addr>(), p.parse::<u8>()) else {
        return;
    };
    match out.iter_mut().find(|i| i.name == name) {
        Some(i) => i.addrs.push((a, p)),
        None => out.push(Interface {
            name,
            addrs: vec![(a, p)],
        }),
    }
}

/// `tcp LISTEN 0 4096 10.214.0.1:5000 0.0.0.0:* users:(("docker-registry",pid=22038,fd=3))`
fn parse_listen(line: &str) -> Option<Listener> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let proto = match *f.first()? {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        _ => return None,
    };
    let local = f.get(4)?;
    let port = local.rsplit(':').next()?.parse().ok()?;
    let process = line
        .split_once("((\"")
        .and_then(|(_, r)| r.split_once('"'))
        .map(|(name, _)| name.to_string());
    Some(Listener {
        proto,
        port,
        process,
    })
}

/// Parse the script's output. Unknown lines are ignored (a tool missing on the host leaves its
/// section empty, and the rules then report what they cannot see).
pub fn parse(out: &str) -> HostProbe {
    let mut p = HostProbe::default();
    let mut section = "";
    let mut config = String::new();
    let mut saw_config = false;
    for line in out.lines() {
        if let Some(s) = line.strip_prefix("## ") {
            section = match s.trim() {
                "addr" => "addr",
                "listen" => "listen",
                "swaps" => "swaps",
                "modules" => "modules",
                "vip" => "vip",
                "k3s" => "k3s",
                "config" => "config",
                _ => "",
            };
            continue;
        }
        match section {
            "addr" => parse_addr(line, &mut p.interfaces),
            "listen" => {
                if let Some(l) = parse_listen(line) {
                    if !p.listeners.contains(&l) {
                        p.listeners.push(l);
                    }
                }
            }
            "swaps" => {
                if let Some(dev) = line.split_whitespace().next() {
                    if dev != "Filename" {
                        p.swaps.push(dev.to_string());
                    }
                }
            }
            "modules" => {
                if let Some(m) = line.split_whitespace().next() {
                    p.modules.insert(m.to_string());
                }
            }
            "vip" => match line.trim() {
                "tcp" => {
                    p.vip_answers.insert(VipAnswer::Tcp);
                }
                "icmp" => {
                    p.vip_answers.insert(VipAnswer::Icmp);
                }
                "arp" => {
                    p.vip_answers.insert(VipAnswer::Arp);
                }
                _ => {}
            },
            "k3s" => {
                if let Some(v) = line.strip_prefix("version ") {
                    p.k3s_version = Some(v.trim().to_string());
                } else if line.trim() == "etcd-data" {
                    p.etcd_data = true;
                }
            }
            "config" => {
                saw_config = true;
                config.push_str(line);
                config.push('\n');
            }
            _ => {}
        }
    }
    if saw_config {
        p.server_config = Some(config);
    }
    p
}
