//! docs/k3s.md lists every preflight message verbatim (for example values): this keeps the
//! list from drifting when a message changes.

use crate::component::k3s::preflight::Finding;
use crate::component::k3s::probe::Proto;
use crate::component::k3s::version::K3sVersion;
use std::net::Ipv4Addr;

fn v(s: &str) -> K3sVersion {
    K3sVersion::parse(s).unwrap()
}

/// One finding of every kind, with the values docs/k3s.md uses.
pub fn examples() -> Vec<Finding> {
    let vip = Ipv4Addr::new(192, 168, 10, 50);
    let h = || "node-2".to_string();
    vec![
        Finding::VipInvalid {
            vip: "api.lab".into(),
        },
        Finding::VipOutsideNetwork {
            vip,
            net: "10.0.0.0/24".into(),
        },
        Finding::VipIsHostAddress { vip, host: h() },
        Finding::VipInLbRange {
            vip,
            range: "192.168.10.40-192.168.10.60".into(),
        },
        Finding::VipAnswers {
            vip,
            host: h(),
            how: "ping, ARP".into(),
        },
        Finding::NoInterfaceOnVipSubnet {
            host: h(),
            vip,
            seen: "eth0 172.16.0.3/16".into(),
        },
        Finding::ConfiguredInterfaceMissing {
            host: h(),
            iface: "eth0".into(),
            seen: "enp1s0 192.168.10.12/24".into(),
        },
        Finding::ConfiguredInterfaceOffSubnet {
            host: h(),
            iface: "eth0".into(),
            vip,
        },
        Finding::ServerConfigMismatch {
            host: h(),
            key: "cluster-cidr".into(),
            running: "10.42.0.0/16".into(),
            desired: "10.52.0.0/16".into(),
        },
        Finding::PortInUse {
            host: h(),
            proto: Proto::Tcp,
            port: 6443,
            process: "haproxy".into(),
        },
        Finding::SwapOn {
            host: h(),
            devices: "/swapfile".into(),
        },
        Finding::ModuleMissing {
            host: h(),
            module: "br_netfilter".into(),
        },
        Finding::NotProbed { host: h() },
        Finding::VersionRefused {
            host: h(),
            from: v("v1.33.5+k3s1"),
            to: v("v1.32.9+k3s1"),
        },
        Finding::VersionRefused {
            host: h(),
            from: v("v1.31.4+k3s1"),
            to: v("v1.33.5+k3s1"),
        },
    ]
}

#[test]
fn docs_list_every_preflight_message() {
    let doc = include_str!("../../../../docs/k3s.md");
    let missing: Vec<String> = examples()
        .iter()
        .map(|f| f.message())
        .filter(|m| !doc.contains(m.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/k3s.md lacks these messages verbatim:\n{}",
        missing.join("\n")
    );
}
