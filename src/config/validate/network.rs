//! The hosts' network, the VIP and the LoadBalancer range.

use super::{literal, p, Checker};
use crate::config::net::{Ipv4Net, Ipv4Range};
use std::net::Ipv4Addr;

/// The hosts' network from `network.cidr` or `network.gateway` + `network.netmask`, with the
/// name of the setting it came from (for messages).
pub(crate) struct HostNet {
    pub net: Ipv4Net,
    pub from: &'static str,
}

pub(super) fn check_network(ck: &mut Checker<'_>) -> Option<HostNet> {
    let n = ck.l.config.network.clone();
    let np = p("network");
    let cidr = match n.cidr.as_deref().and_then(literal) {
        Some(c) => match Ipv4Net::parse_cidr(c) {
            Ok(net) => Some(net),
            Err(e) => {
                ck.error(&np.key("cidr"), e);
                return None;
            }
        },
        None => None,
    };
    let gw = match (
        n.gateway.as_deref().and_then(literal),
        n.netmask.as_deref().and_then(literal),
    ) {
        (Some(g), Some(m)) => match Ipv4Net::from_gateway(g, m) {
            Ok(net) => Some(net),
            Err(e) => {
                let field = if g.parse::<Ipv4Addr>().is_err() {
                    "gateway"
                } else {
                    "netmask"
                };
                ck.error(&np.key(field), e);
                return None;
            }
        },
        (Some(_), None) if cidr.is_none() => {
            ck.error(&np.key("gateway"), "network.gateway needs network.netmask (e.g. 255.255.255.0), or set network.cidr instead");
            return None;
        }
        (None, Some(_)) if cidr.is_none() => {
            ck.error(
                &np.key("netmask"),
                "network.netmask needs network.gateway, or set network.cidr instead",
            );
            return None;
        }
        _ => None,
    };
    if let Some(g) = n.gateway.as_deref().and_then(literal) {
        match g.parse::<Ipv4Addr>() {
            Err(_) => ck.error(&np.key("gateway"), format!("`{g}` is not an IPv4 address")),
            Ok(a) => {
                if let Some(c) = cidr {
                    if !c.is_usable_host(a) {
                        ck.error(
                            &np.key("gateway"),
                            format!("gateway {a} is not a usable address in network.cidr {c}"),
                        );
                    }
                }
            }
        }
    }
    if let (Some(c), Some(g), Some(_)) = (cidr, gw, n.netmask.as_deref()) {
        if c.prefix != g.prefix {
            ck.error(
                &np.key("netmask"),
                format!(
                    "netmask gives a /{} network but network.cidr is {c}",
                    g.prefix
                ),
            );
        }
    }
    match (cidr, gw) {
        (Some(net), _) => Some(HostNet {
            net,
            from: "network.cidr",
        }),
        (None, Some(net)) => Some(HostNet {
            net,
            from: "network.gateway/netmask",
        }),
        (None, None) => {
            if n.cidr.is_none() && n.gateway.is_none() {
                ck.error(&np, "the hosts' network is not set: add network.cidr (e.g. 192.168.10.0/24) or network.gateway + network.netmask; the VIP and host addresses are checked against it");
            }
            None
        }
    }
}

/// Literal IPv4 addresses of the hosts, with their index (DNS names are skipped).
fn host_ips(ck: &Checker<'_>) -> Vec<(usize, Ipv4Addr)> {
    ck.l.config
        .hosts
        .iter()
        .enumerate()
        .filter_map(|(i, h)| literal(&h.address)?.parse().ok().map(|a| (i, a)))
        .collect()
}

/// VIP, gateway, LoadBalancer range and Envoy's fixed IP against the network and the hosts.
pub(super) fn check_addresses(ck: &mut Checker<'_>, net: Option<&HostNet>) {
    let c = ck.l.config.clone();
    let ips = host_ips(ck);
    let gateway: Option<Ipv4Addr> = c
        .network
        .gateway
        .as_deref()
        .and_then(literal)
        .and_then(|g| g.parse().ok());
    let vp = p("cluster").key("vip");
    let vip = match literal(&c.cluster.vip) {
        None => None,
        Some(v) => match v.parse::<Ipv4Addr>() {
            Err(_) => {
                ck.error(&vp, format!("`{v}` is not an IPv4 address; the VIP is a free address in the hosts' network that kube-vip announces"));
                None
            }
            Ok(a) => {
                if let Some(n) = net {
                    if !n.net.contains(a) {
                        ck.error(
                            &vp,
                            format!(
                                "VIP {a} is outside the hosts' network {} ({})",
                                n.net, n.from
                            ),
                        );
                    } else if !n.net.is_usable_host(a) {
                        ck.error(
                            &vp,
                            format!("VIP {a} is the network or broadcast address of {}", n.net),
                        );
                    }
                }
                for (i, h) in &ips {
                    if *h == a {
                        ck.error(&vp, format!("VIP {a} is also the address of host `{}` (hosts[{i}].address); the VIP must be an unused address", c.hosts[*i].hostname));
                    }
                }
                if gateway == Some(a) {
                    ck.error(&vp, format!("VIP {a} is the gateway address"));
                }
                Some(a)
            }
        },
    };
    if let Some(g) = gateway {
        for (i, h) in &ips {
            if *h == g {
                ck.error(
                    &p("hosts").index(*i).key("address"),
                    format!("{h} is the gateway address (network.gateway)"),
                );
            }
        }
    }

    let lp = p("network").key("lb_range");
    let range = match c.network.lb_range.as_deref().and_then(literal) {
        None => None,
        Some(r) => match Ipv4Range::parse(r) {
            Err(e) => {
                ck.error(&lp, e);
                None
            }
            Ok(range) => {
                if let Some(n) = net {
                    for end in [range.first, range.last] {
                        if !n.net.contains(end) {
                            ck.error(
                                &lp,
                                format!(
                                    "{end} is outside the hosts' network {} ({})",
                                    n.net, n.from
                                ),
                            );
                        }
                    }
                    if n.net.contains(range.first)
                        && n.net.contains(range.last)
                        && n.net.prefix < 31
                    {
                        for special in [n.net.network, n.net.broadcast()] {
                            if range.contains(special) {
                                ck.error(&lp, format!("the range contains {special}, the network or broadcast address of {}", n.net));
                            }
                        }
                    }
                }
                if let Some(v) = vip.filter(|v| range.contains(*v)) {
                    ck.error(&lp, format!("the range contains the VIP {v} (cluster.vip); kube-vip would hand it to a service"));
                }
                for (i, h) in &ips {
                    if range.contains(*h) {
                        ck.error(&lp, format!("the range contains {h}, the address of host `{}` (hosts[{i}].address)", c.hosts[*i].hostname));
                    }
                }
                if let Some(g) = gateway.filter(|g| range.contains(*g)) {
                    ck.error(&lp, format!("the range contains the gateway {g}"));
                }
                Some(range)
            }
        },
    };

    if let Some(contour) = c.components.contour.as_ref().filter(|x| x.enabled) {
        let cp = p("components").key("contour").key("load_balancer_ip");
        match contour.load_balancer_ip.as_deref() {
            None if c.network.lb_range.is_none() => ck.warn(
                &p("components").key("contour"),
                "contour is enabled but neither network.lb_range nor components.contour.load_balancer_ip is set: Envoy's LoadBalancer service would get no address",
            ),
            None => {}
            Some(ip) => match literal(ip).map(|s| s.parse::<Ipv4Addr>()) {
                None => {}
                Some(Err(_)) => ck.error(&cp, format!("`{ip}` is not an IPv4 address")),
                Some(Ok(a)) => {
                    if let Some(n) = net.filter(|n| !n.net.contains(a)) {
                        ck.error(&cp, format!("{a} is outside the hosts' network {}", n.net));
                    }
                    if let Some(r) = range.filter(|r| !r.contains(a)) {
                        ck.error(&cp, format!("{a} is outside network.lb_range {}-{}", r.first, r.last));
                    }
                    if vip == Some(a) {
                        ck.error(&cp, format!("{a} is the VIP (cluster.vip)"));
                    }
                    if let Some((i, _)) = ips.iter().find(|(_, h)| *h == a) {
                        ck.error(&cp, format!("{a} is the address of host `{}`", c.hosts[*i].hostname));
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::Severity::*;

    #[test]
    fn vip_outside_network() {
        let fs = broken("vip: 10.0.0.50", "vip: 10.0.1.50");
        let f = one(
            &fs,
            Error,
            "cluster.vip",
            "outside the hosts' network 10.0.0.0/24",
        );
        assert_eq!((f.line, f.column), (Some(4), Some(8)));
    }

    #[test]
    fn vip_equal_to_a_host() {
        let fs = broken("vip: 10.0.0.50", "vip: 10.0.0.12");
        one(
            &fs,
            Error,
            "cluster.vip",
            "also the address of host `node-2`",
        );
    }

    #[test]
    fn vip_not_an_address_and_broadcast() {
        one(
            &broken("vip: 10.0.0.50", "vip: api.lab"),
            Error,
            "cluster.vip",
            "not an IPv4 address",
        );
        one(
            &broken("vip: 10.0.0.50", "vip: 10.0.0.255"),
            Error,
            "cluster.vip",
            "broadcast",
        );
    }

    #[test]
    fn network_is_required_and_checked() {
        let fs = broken("  cidr: 10.0.0.0/24\n", "");
        one(&fs, Error, "network", "not set");
        one(
            &broken("cidr: 10.0.0.0/24", "cidr: 10.0.0.0/33"),
            Error,
            "network.cidr",
            "prefix",
        );
        one(
            &broken("cidr: 10.0.0.0/24", "cidr: 10.0.0.1/24"),
            Error,
            "network.cidr",
            "host bits",
        );
        // gateway + netmask works instead of cidr
        let fs = broken(
            "  cidr: 10.0.0.0/24\n",
            "  gateway: 10.0.0.1\n  netmask: 255.255.255.0\n",
        );
        assert!(fs.is_empty(), "{fs:#?}");
        one(
            &broken("  cidr: 10.0.0.0/24\n", "  gateway: 10.0.0.1\n"),
            Error,
            "network.gateway",
            "needs network.netmask",
        );
        one(
            &broken(
                "  cidr: 10.0.0.0/24\n",
                "  gateway: 10.0.0.1\n  netmask: 255.0.255.0\n",
            ),
            Error,
            "network.netmask",
            "not contiguous",
        );
        one(
            &broken(
                "  cidr: 10.0.0.0/24\n",
                "  cidr: 10.0.0.0/24\n  gateway: 10.0.0.11\n",
            ),
            Error,
            "hosts[0].address",
            "gateway",
        );
    }

    #[test]
    fn lb_range_rules() {
        one(
            &broken("10.0.0.200-10.0.0.210", "10.0.0.210-10.0.0.200"),
            Error,
            "network.lb_range",
            "backwards",
        );
        one(
            &broken("10.0.0.200-10.0.0.210", "10.0.0.200"),
            Error,
            "network.lb_range",
            "expected FIRST-LAST",
        );
        one(
            &broken("10.0.0.200-10.0.0.210", "10.0.0.200-10.0.1.10"),
            Error,
            "network.lb_range",
            "10.0.1.10 is outside",
        );
        one(
            &broken("10.0.0.200-10.0.0.210", "10.0.0.40-10.0.0.60"),
            Error,
            "network.lb_range",
            "contains the VIP",
        );
        one(
            &broken("10.0.0.200-10.0.0.210", "10.0.0.10-10.0.0.11"),
            Error,
            "network.lb_range",
            "host `node-1`",
        );
        one(
            &broken("10.0.0.200-10.0.0.210", "10.0.0.250-10.0.0.255"),
            Error,
            "network.lb_range",
            "broadcast",
        );
    }

    #[test]
    fn contour_without_addresses_warns_and_lb_ip_is_checked() {
        one(
            &broken("  lb_range: 10.0.0.200-10.0.0.210\n", ""),
            Warning,
            "components.contour",
            "no address",
        );
        let fs = broken(
            "    version: 0.7.0\n",
            "    version: 0.7.0\n    load_balancer_ip: 10.0.0.190\n",
        );
        one(
            &fs,
            Error,
            "components.contour.load_balancer_ip",
            "outside network.lb_range",
        );
    }
}
