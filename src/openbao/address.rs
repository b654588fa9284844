//! Where OpenBao is reached: each node's API URL (from its host address) and the one address
//! foundry uses for secrets (`openbao.address`, else the first node).

use crate::config::{OpenbaoConfig, Role, StackConfig};
use crate::error::{fail, ExitClass};

/// The OpenBao settings of a stack (defaults when the section is absent).
pub fn settings(stack: &StackConfig) -> OpenbaoConfig {
    stack.components.openbao.clone().unwrap_or_else(|| {
        serde_yaml::from_str("{}").expect("OpenbaoConfig has defaults for every field")
    })
}

/// TLS is on when both a certificate and a key are configured.
pub fn tls_enabled(cfg: &OpenbaoConfig) -> bool {
    cfg.tls_cert.is_some() && cfg.tls_key.is_some()
}

pub fn scheme(cfg: &OpenbaoConfig) -> &'static str {
    if tls_enabled(cfg) {
        "https"
    } else {
        "http"
    }
}

/// `scheme://host:port`, with an IPv6 literal in brackets.
pub fn url(scheme: &str, host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("{scheme}://[{host}]:{port}")
    } else {
        format!("{scheme}://{host}:{port}")
    }
}

/// (hostname, API URL) of every OpenBao node, in file order.
pub fn nodes(stack: &StackConfig) -> Vec<(String, String)> {
    let cfg = settings(stack);
    stack
        .hosts_with(Role::Openbao)
        .map(|h| (h.hostname.clone(), url(scheme(&cfg), &h.address, cfg.port)))
        .collect()
}

/// The address foundry talks to for secrets: `openbao.address`, else the first OpenBao host.
pub fn api_address(stack: &StackConfig) -> anyhow::Result<String> {
    let cfg = settings(stack);
    if let Some(a) = cfg.address.as_deref().filter(|a| !a.is_empty()) {
        return Ok(a.trim_end_matches('/').to_string());
    }
    nodes(stack)
        .into_iter()
        .next()
        .map(|(_, u)| u)
        .ok_or_else(|| {
            fail(
                ExitClass::Config,
                "no OpenBao address: no host in stack.yaml has the role `openbao` and `components.openbao.address` is not set",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_hosts_are_bracketed() {
        assert_eq!(url("http", "10.0.0.1", 8200), "http://10.0.0.1:8200");
        assert_eq!(url("https", "fd00::5", 8200), "https://[fd00::5]:8200");
        assert_eq!(url("http", "bao.lan", 1), "http://bao.lan:1");
    }

    #[test]
    fn defaults_exist_without_a_section() {
        let c = serde_yaml::from_str::<OpenbaoConfig>("{}").unwrap();
        assert_eq!(c.port, 8200);
        assert!(!tls_enabled(&c));
    }
}
