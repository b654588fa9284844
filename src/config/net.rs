//! IPv4 networks and ranges for validating addresses in stack.yaml.

use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Net {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    /// `192.168.10.0/24`. Host bits set (`192.168.10.7/24`) are an error: it is almost always a
    /// typo for the network or for an address.
    pub fn parse_cidr(s: &str) -> Result<Ipv4Net, String> {
        let (a, p) = s.split_once('/').ok_or_else(|| {
            format!("`{s}` is not a CIDR network; expected ADDRESS/PREFIX like 192.168.10.0/24")
        })?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("`{a}` is not an IPv4 address (in `{s}`)"))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("`/{p}` is not a prefix length from 0 to 32 (in `{s}`)"))?;
        let net = Ipv4Net {
            network: mask_addr(addr, prefix),
            prefix,
        };
        if net.network != addr {
            return Err(format!("`{s}` has host bits set; the network is {net}"));
        }
        Ok(net)
    }

    /// A gateway address and a netmask, dotted (`255.255.255.0`) or as a length (`24`, `/24`).
    pub fn from_gateway(gateway: &str, netmask: &str) -> Result<Ipv4Net, String> {
        let gw: Ipv4Addr = gateway
            .parse()
            .map_err(|_| format!("`{gateway}` is not an IPv4 address"))?;
        let prefix = parse_netmask(netmask)?;
        Ok(Ipv4Net {
            network: mask_addr(gw, prefix),
            prefix,
        })
    }

    pub fn contains(&self, a: Ipv4Addr) -> bool {
        mask_addr(a, self.prefix) == self.network
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        let host_bits = if self.prefix == 32 {
            0
        } else {
            u32::MAX >> self.prefix
        };
        Ipv4Addr::from(u32::from(self.network) | host_bits)
    }

    /// Network and broadcast addresses can't be given to a machine (except in /31 and /32).
    pub fn is_usable_host(&self, a: Ipv4Addr) -> bool {
        self.contains(a) && (self.prefix >= 31 || (a != self.network && a != self.broadcast()))
    }

    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.network) || other.contains(self.network)
    }
}

impl std::fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn mask_addr(a: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix as u32)
    };
    Ipv4Addr::from(u32::from(a) & mask)
}

pub fn parse_netmask(s: &str) -> Result<u8, String> {
    let t = s.trim_start_matches('/');
    if let Ok(p) = t.parse::<u8>() {
        return if p <= 32 {
            Ok(p)
        } else {
            Err(format!("netmask `{s}` is longer than 32 bits"))
        };
    }
    let m: Ipv4Addr = t
        .parse()
        .map_err(|_| format!("`{s}` is not a netmask; expected e.g. 255.255.255.0 or 24"))?;
    let bits = u32::from(m);
    let prefix = bits.leading_ones();
    if bits.checked_shl(prefix).unwrap_or(0) != 0 {
        return Err(format!("netmask `{s}` is not contiguous"));
    }
    Ok(prefix as u8)
}

/// An inclusive address range `FIRST-LAST`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Range {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
}

impl Ipv4Range {
    pub fn parse(s: &str) -> Result<Ipv4Range, String> {
        let (a, b) = s.split_once('-').ok_or_else(|| {
            format!("`{s}` is not a range; expected FIRST-LAST like 192.168.10.200-192.168.10.220")
        })?;
        let first: Ipv4Addr = a
            .trim()
            .parse()
            .map_err(|_| format!("`{}` is not an IPv4 address (in range `{s}`)", a.trim()))?;
        let last: Ipv4Addr = b
            .trim()
            .parse()
            .map_err(|_| format!("`{}` is not an IPv4 address (in range `{s}`)", b.trim()))?;
        if first > last {
            return Err(format!(
                "range `{s}` is backwards: {first} comes after {last}"
            ));
        }
        Ok(Ipv4Range { first, last })
    }

    pub fn contains(&self, a: Ipv4Addr) -> bool {
        self.first <= a && a <= self.last
    }
}

/// RFC 1123 label: 1-63 of `[a-z0-9-]`, starting and ending alphanumeric (lowercase only: the
/// names end up as Kubernetes node names and systemd units).
pub fn is_rfc1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1123 DNS name: dot-separated labels, at most 253 characters.
pub fn is_dns_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.')
            .all(|l| is_rfc1123_label(&l.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_and_gateway_networks() {
        let n = Ipv4Net::parse_cidr("192.168.10.0/24").unwrap();
        assert!(n.contains("192.168.10.50".parse().unwrap()));
        assert!(!n.contains("192.168.11.1".parse().unwrap()));
        assert!(!n.is_usable_host("192.168.10.255".parse().unwrap()));
        assert!(Ipv4Net::parse_cidr("192.168.10.7/24")
            .unwrap_err()
            .contains("host bits"));
        assert!(Ipv4Net::parse_cidr("192.168.10.0").is_err());
        assert!(Ipv4Net::parse_cidr("192.168.10.0/33").is_err());
        assert_eq!(
            Ipv4Net::from_gateway("10.1.2.1", "255.255.0.0").unwrap(),
            Ipv4Net::parse_cidr("10.1.0.0/16").unwrap()
        );
        assert_eq!(Ipv4Net::from_gateway("10.1.2.1", "/20").unwrap().prefix, 20);
        assert!(parse_netmask("255.0.255.0").is_err());
    }

    #[test]
    fn ranges_and_names() {
        let r = Ipv4Range::parse("10.0.0.5-10.0.0.9").unwrap();
        assert!(r.contains("10.0.0.9".parse().unwrap()));
        assert!(!r.contains("10.0.0.10".parse().unwrap()));
        assert!(Ipv4Range::parse("10.0.0.9-10.0.0.5").is_err());
        assert!(is_rfc1123_label("node-1"));
        assert!(!is_rfc1123_label("Node_1"));
        assert!(!is_rfc1123_label("-a"));
        assert!(is_dns_name("home.example.com"));
        assert!(!is_dns_name("home..example.com"));
    }
}
