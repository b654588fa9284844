//! The probe parser on recorded output: `probe-this-machine.txt` is the real script's output on
//! the development machine (Debian 12 container: no /proc/modules, overlay built in, a docker
//! registry listening); `SERVER` is a K3s server in the shapes those tools print (ss lines as
//! ss 1.x prints them, /proc/modules as proc(5) documents), built by hand because no K3s can
//! run here.

use crate::component::k3s::probe::{self, HostProbe, Listener, Proto, VipAnswer};
use std::net::Ipv4Addr;

const RECORDED: &str = include_str!("probe-this-machine.txt");

const SERVER: &str = "\
## addr
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: host0@if7    inet 192.168.10.11/24 brd 192.168.10.255 scope global host0\\       valid_lft forever preferred_lft forever
2: host0@if7    inet 192.168.10.50/32 scope global host0\\       valid_lft forever preferred_lft forever
5: flannel.1    inet 10.42.0.0/32 scope global flannel.1\\       valid_lft forever preferred_lft forever
6: cni0    inet 10.42.0.1/24 brd 10.42.0.255 scope global cni0\\       valid_lft forever preferred_lft forever
## listen
udp   UNCONN 0      0            0.0.0.0:8472       0.0.0.0:*
tcp   LISTEN 0      4096       127.0.0.1:10248      0.0.0.0:*    users:((\"k3s-server\",pid=1021,fd=171))
tcp   LISTEN 0      4096   192.168.10.11:2379       0.0.0.0:*    users:((\"k3s-server\",pid=1021,fd=9))
tcp   LISTEN 0      4096   192.168.10.11:2380       0.0.0.0:*    users:((\"k3s-server\",pid=1021,fd=8))
tcp   LISTEN 0      4096               *:6443             *:*    users:((\"k3s-server\",pid=1021,fd=15))
tcp   LISTEN 0      4096               *:10250            *:*    users:((\"k3s-server\",pid=1021,fd=178))
tcp   LISTEN 0      128          0.0.0.0:22         0.0.0.0:*    users:((\"sshd\",pid=412,fd=3))
tcp   LISTEN 0      128             [::]:22            [::]:*    users:((\"sshd\",pid=412,fd=4))
## swaps
Filename				Type		Size		Used		Priority
/dev/sda3                               partition	1998844		0		-2
## modules
br_netfilter 32768 0 - Live 0x0000000000000000
overlay 151552 3 - Live 0x0000000000000000
vxlan 110592 0 - Live 0x0000000000000000
overlay
br_netfilter
## vip
tcp
arp
## k3s
version k3s version v1.33.5+k3s1 (c5fa0a15)
etcd-data
## config
# present
disable:
- servicelb
- traefik
cluster-cidr: 10.42.0.0/16
";

#[test]
fn parses_the_recorded_output_of_this_machine() {
    let p = probe::parse(RECORDED);
    let names: Vec<&str> = p.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["lo", "eth0", "fdybr0"]);
    assert_eq!(
        p.interfaces[1].addrs,
        vec![(Ipv4Addr::new(192, 0, 2, 2), 24)]
    );
    assert!(p.listeners.contains(&Listener {
        proto: Proto::Tcp,
        port: 5000,
        process: Some("docker-registry".into()),
    }));
    // A socket of another user's process without a name still counts as a listener.
    assert!(p
        .listeners
        .iter()
        .any(|l| l.port == 2024 && l.process.is_none()));
    assert!(p.swaps.is_empty());
    assert!(p.modules.contains("overlay"), "{:?}", p.modules);
    assert!(p.vip_answers.is_empty());
    assert_eq!(
        (p.k3s_version.clone(), p.etcd_data, p.server_config.clone()),
        (None, false, None)
    );
    let (i, a) = p
        .interface_on_subnet_of(Ipv4Addr::new(10, 214, 0, 250))
        .unwrap();
    assert_eq!(
        (i.name.as_str(), a),
        ("fdybr0", Ipv4Addr::new(10, 214, 0, 1))
    );
}

#[test]
fn parses_a_running_server() {
    let p: HostProbe = probe::parse(SERVER);
    let host0 = p.interface("host0").expect("the @ifN suffix is dropped");
    assert_eq!(host0.addrs.len(), 2);
    assert!(p.interface("flannel.1").is_some());
    assert_eq!(
        p.listeners.iter().filter(|l| l.port == 22).count(),
        1,
        "v4 and v6 sockets of one port are one listener"
    );
    let vx = p.listeners.iter().find(|l| l.proto == Proto::Udp).unwrap();
    assert_eq!((vx.port, vx.process.clone()), (8472, None));
    let api = p.listeners.iter().find(|l| l.port == 6443).unwrap();
    assert_eq!(api.process.as_deref(), Some("k3s-server"));
    assert_eq!(p.swaps, ["/dev/sda3"]);
    assert!(p.modules.contains("br_netfilter") && p.modules.contains("vxlan"));
    assert_eq!(
        p.vip_answers.iter().copied().collect::<Vec<_>>(),
        [VipAnswer::Tcp, VipAnswer::Arp]
    );
    assert_eq!(
        p.k3s_version.as_deref(),
        Some("k3s version v1.33.5+k3s1 (c5fa0a15)")
    );
    assert!(p.etcd_data);
    let cfg = p.server_config.as_deref().unwrap();
    assert!(
        cfg.contains("cluster-cidr: 10.42.0.0/16") && !cfg.contains("token"),
        "{cfg}"
    );
    // The VIP (a /32 held by kube-vip) is found as the host's own address.
    assert!(p.has_address(Ipv4Addr::new(192, 168, 10, 50)).is_some());
}

#[test]
fn the_script_filters_the_config_keys_and_quotes_nothing_from_the_stack() {
    let s = probe::script(
        Ipv4Addr::new(192, 168, 10, 50),
        &["overlay".into(), "x; rm -rf /".into()],
    );
    assert!(s.contains("/dev/tcp/192.168.10.50/6443"));
    assert!(
        s.contains("for m in overlay; do"),
        "module names that are not plain words are dropped: {s}"
    );
    assert!(!s.contains("rm -rf"));
    assert!(s.contains("awk") && !s.contains("cat /etc/rancher/k3s/config.yaml"));
}

#[test]
fn node_net_prefers_the_stack_address_then_the_network() {
    use crate::config::net::Ipv4Net;
    let p = probe::parse(SERVER);
    let net = Ipv4Net::parse_cidr("192.168.10.0/24").ok();
    let n = probe::node_net(&p, "192.168.10.11", net);
    assert_eq!(
        (n.node_ip, n.iface.as_deref()),
        (Some(Ipv4Addr::new(192, 168, 10, 11)), Some("host0"))
    );
    // A DNS name in stack.yaml: the first address on network.cidr that is not the VIP (even
    // when kube-vip's /32 is listed first).
    let mut p2 = p.clone();
    p2.interfaces[1].addrs.reverse();
    let n = probe::node_net(&p2, "node-1.lan", net);
    assert_eq!(
        (n.node_ip, n.iface.as_deref()),
        (Some(Ipv4Addr::new(192, 168, 10, 11)), Some("host0"))
    );
    // Nothing known: K3s picks (no node-ip, no flannel-iface).
    let n = probe::node_net(&p, "node-1.lan", Ipv4Net::parse_cidr("10.99.0.0/16").ok());
    assert_eq!(n, Default::default());
}
