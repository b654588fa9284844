//! One table row per preflight rule, each over hand-built probe results; the messages are
//! checked for host, check and fix.

use super::fixture::stack;
use crate::component::k3s::config::must_match_from_yaml;
use crate::component::k3s::preflight::{check, Finding};
use crate::component::k3s::probe::{HostProbe, Interface, Listener, Proto, VipAnswer};
use crate::component::k3s::roles;
use crate::config::StackConfig;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// A clean host: `iface` with its stack address /24, modules loaded, nothing listening.
fn clean(iface: &str, addr: &str) -> HostProbe {
    HostProbe {
        interfaces: vec![
            Interface {
                name: "lo".into(),
                addrs: vec![(ip("127.0.0.1"), 8)],
            },
            Interface {
                name: iface.into(),
                addrs: vec![(ip(addr), 24)],
            },
        ],
        modules: ["overlay", "br_netfilter"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ..Default::default()
    }
}

/// Probes for every host of the fixture, node-2 with another NIC name.
fn probes(s: &StackConfig) -> BTreeMap<String, HostProbe> {
    s.hosts
        .iter()
        .map(|h| {
            let iface = super::fixture::iface(&h.hostname);
            (h.hostname.clone(), clean(iface, &h.address))
        })
        .collect()
}

fn desired() -> BTreeMap<&'static str, String> {
    must_match_from_yaml(
        "cluster-cidr: 10.42.0.0/16\ndisable: [local-storage, servicelb, traefik]\n",
    )
    .unwrap()
}

fn run(s: &StackConfig, p: &BTreeMap<String, HostProbe>) -> Vec<Finding> {
    check(s, &roles::resolve(s), p, &desired()).findings
}

#[test]
fn clean_hosts_pass_and_interfaces_are_found_per_host() {
    let s = stack();
    let o = check(&s, &roles::resolve(&s), &probes(&s), &desired());
    assert_eq!(o.findings, vec![]);
    assert_eq!(
        o.server_interfaces,
        vec![
            ("node-1".to_string(), "eth0".to_string()),
            ("node-2".into(), "enp1s0".into()),
            ("node-3".into(), "eth0".into()),
        ]
    );
}

/// `(what is broken, the probe/stack change, the finding's host, words the message must have)`
type Case = (
    &'static str,
    fn(&mut StackConfig, &mut BTreeMap<String, HostProbe>),
    &'static str,
    &'static [&'static str],
);

#[test]
fn every_rule_names_host_check_and_fix() {
    let cases: &[Case] = &[
        (
            "vip outside the network",
            |s, _| s.cluster.vip = "10.9.9.9".into(),
            "stack",
            &["VIP:", "outside network.cidr", "Fix:"],
        ),
        (
            "vip not an address",
            |s, _| s.cluster.vip = "api.lab".into(),
            "stack",
            &["not an IPv4 address"],
        ),
        (
            "vip in lb_range",
            |s, _| s.cluster.vip = "192.168.10.205".into(),
            "stack",
            &["inside network.lb_range", "Fix:"],
        ),
        (
            "vip is a host address",
            |s, _| s.cluster.vip = "192.168.10.13".into(),
            "node-3",
            &["this host's own address"],
        ),
        (
            "vip answers before install",
            |_, p| {
                p.get_mut("node-4")
                    .unwrap()
                    .vip_answers
                    .insert(VipAnswer::Icmp);
            },
            "node-4",
            &["already answers (ping)", "pick another cluster.vip"],
        ),
        (
            "a server without the VIP's subnet",
            |_, p| {
                let n = p.get_mut("node-3").unwrap();
                n.interfaces[1].addrs = vec![(ip("172.16.0.3"), 16)];
            },
            "node-3",
            &["VIP interface:", "eth0 172.16.0.3/16", "make it an agent"],
        ),
        (
            "configured interface missing on one host",
            |s, _| {
                s.components.kube_vip.as_mut().unwrap().interface = Some("eth0".into());
            },
            "node-2",
            &[
                "`eth0` does not exist here",
                "enp1s0 192.168.10.12/24",
                "detects the interface per host",
            ],
        ),
        (
            "configured interface off the subnet",
            |s, p| {
                s.components.kube_vip.as_mut().unwrap().interface = Some("eth0".into());
                let n2 = p.get_mut("node-2").unwrap();
                n2.interfaces.push(Interface {
                    name: "eth0".into(),
                    addrs: vec![(ip("10.1.0.1"), 24)],
                });
            },
            "node-2",
            &["`eth0` has no address on the subnet"],
        ),
        (
            "server config differs from the running cluster",
            |_, p| {
                let n = p.get_mut("node-1").unwrap();
                n.etcd_data = true;
                n.server_config = Some("# present\ncluster-cidr: 10.52.0.0/16\ndisable: [local-storage, servicelb, traefik]\n".into());
            },
            "node-1",
            &[
                "server config:",
                "`cluster-cidr` is `10.52.0.0/16`",
                "critical configuration value mismatch",
            ],
        ),
        (
            "api port taken on a server",
            |_, p| {
                p.get_mut("node-2").unwrap().listeners.push(Listener {
                    proto: Proto::Tcp,
                    port: 6443,
                    process: Some("haproxy".into()),
                });
            },
            "node-2",
            &["ports: 6443/tcp is in use by haproxy"],
        ),
        (
            "etcd port taken on a server",
            |_, p| {
                p.get_mut("node-1").unwrap().listeners.push(Listener {
                    proto: Proto::Tcp,
                    port: 2379,
                    process: Some("etcd".into()),
                });
            },
            "node-1",
            &["2379/tcp is in use by etcd"],
        ),
        (
            "kubelet port taken on an agent",
            |_, p| {
                p.get_mut("node-4").unwrap().listeners.push(Listener {
                    proto: Proto::Tcp,
                    port: 10250,
                    process: Some("kubelet".into()),
                });
            },
            "node-4",
            &["10250/tcp is in use by kubelet"],
        ),
        (
            "vxlan port held without flannel",
            |_, p| {
                p.get_mut("node-4").unwrap().listeners.push(Listener {
                    proto: Proto::Udp,
                    port: 8472,
                    process: None,
                });
            },
            "node-4",
            &["8472/udp", "kernel socket"],
        ),
        (
            "swap on",
            |_, p| p.get_mut("node-3").unwrap().swaps.push("/swapfile".into()),
            "node-3",
            &["swap: swap is on (/swapfile)", "swapoff -a"],
        ),
        (
            "module missing",
            |_, p| {
                p.get_mut("node-4").unwrap().modules.remove("br_netfilter");
            },
            "node-4",
            &[
                "kernel modules: `br_netfilter` is not loaded",
                "modprobe br_netfilter",
            ],
        ),
        (
            "a downgrade",
            |_, p| {
                p.get_mut("node-2").unwrap().k3s_version =
                    Some("k3s version v1.34.1+k3s1 (abc)".into())
            },
            "node-2",
            &[
                "version: K3s v1.34.1+k3s1 runs here",
                "pins v1.33.5+k3s1, a downgrade",
            ],
        ),
        (
            "a skipped minor",
            |_, p| {
                p.get_mut("node-3").unwrap().k3s_version =
                    Some("k3s version v1.31.0+k3s1 (abc)".into())
            },
            "node-3",
            &["more than one minor version ahead", "v1.32.x release first"],
        ),
        (
            "host not probed",
            |_, p| {
                p.remove("node-2");
            },
            "node-2",
            &["no probe result"],
        ),
    ];
    for (what, break_it, host, words) in cases {
        let mut s = stack();
        let mut p = probes(&s);
        break_it(&mut s, &mut p);
        let fs = run(&s, &p);
        assert_eq!(fs.len(), 1, "{what}: want one finding, got {fs:#?}");
        assert_eq!(fs[0].host(), *host, "{what}");
        let m = fs[0].message();
        assert!(m.starts_with(&format!("{host}: ")), "{what}: {m}");
        assert!(m.contains("Fix:"), "{what}: {m}");
        for w in *words {
            assert!(m.contains(w), "{what}: {m:?} lacks {w:?}");
        }
    }
}

#[test]
fn k3s_own_ports_and_an_existing_cluster_are_fine() {
    let s = stack();
    let mut p = probes(&s);
    for h in ["node-1", "node-2", "node-3"] {
        let n = p.get_mut(h).unwrap();
        n.etcd_data = true;
        n.k3s_version = Some("k3s version v1.33.5+k3s1 (c5fa0a15)".into());
        for port in [6443, 10250, 2379, 2380] {
            n.listeners.push(Listener {
                proto: Proto::Tcp,
                port,
                process: Some("k3s-server".into()),
            });
        }
        n.listeners.push(Listener {
            proto: Proto::Udp,
            port: 8472,
            process: None,
        });
        n.interfaces.push(Interface {
            name: "flannel.1".into(),
            addrs: vec![(ip("10.42.0.0"), 32)],
        });
        n.vip_answers.insert(VipAnswer::Tcp);
        n.server_config = Some("# present\ncluster-cidr: 10.42.0.0/16\ndisable:\n- servicelb\n- traefik\n- local-storage\n".into());
    }
    // kube-vip holds the VIP on node-2 now: expected once the cluster runs.
    p.get_mut("node-2").unwrap().interfaces[1]
        .addrs
        .push((ip("192.168.10.50"), 32));
    assert_eq!(run(&s, &p), vec![]);
}
