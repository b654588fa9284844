//! OpenBao's server configuration (config.hcl), rendered from typed values. Paths inside the
//! container are fixed; the host directories are mounted onto them by the unit.

use crate::config::{HostConfig, StackConfig};
use crate::openbao::address;

/// Where the unit mounts things inside the container.
pub const CONTAINER_CONFIG_DIR: &str = "/openbao/config";
pub const CONTAINER_DATA_DIR: &str = "/openbao/file";
pub const CONTAINER_TLS_CERT: &str = "/openbao/tls/tls.crt";
pub const CONTAINER_TLS_KEY: &str = "/openbao/tls/tls.key";

/// The file name inside `openbao.config_dir`.
pub const CONFIG_FILE: &str = "config.hcl";

/// Everything config.hcl says, for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub cluster_name: String,
    pub node_id: String,
    pub api_addr: String,
    pub cluster_addr: String,
    pub port: u16,
    pub cluster_port: u16,
    pub tls: bool,
    /// API URLs of the other nodes (raft `retry_join`), empty for a single node.
    pub peers: Vec<String>,
}

impl ServerConfig {
    pub fn for_host(stack: &StackConfig, host: &HostConfig) -> ServerConfig {
        let cfg = address::settings(stack);
        let scheme = address::scheme(&cfg);
        ServerConfig {
            cluster_name: stack.cluster.name.clone(),
            node_id: host.hostname.clone(),
            api_addr: address::url(scheme, &host.address, cfg.port),
            // Cluster traffic between nodes is always TLS (OpenBao makes its own certificates).
            cluster_addr: address::url("https", &host.address, cfg.cluster_port),
            port: cfg.port,
            cluster_port: cfg.cluster_port,
            tls: address::tls_enabled(&cfg),
            peers: address::nodes(stack)
                .into_iter()
                .filter(|(name, _)| *name != host.hostname)
                .map(|(_, url)| url)
                .collect(),
        }
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str(
            "# Managed by foundry: changes are overwritten on the next `foundry stack install`.\n",
        );
        s.push_str(&format!("cluster_name = {}\n", hcl_str(&self.cluster_name)));
        s.push_str(&format!("api_addr     = {}\n", hcl_str(&self.api_addr)));
        s.push_str(&format!("cluster_addr = {}\n", hcl_str(&self.cluster_addr)));
        s.push_str("ui           = true\n");
        // Standbys forward every request to the active node instead of answering reads from
        // their own replica: read-after-write consistency, which foundry relies on (merging
        // check-and-set writes, reading a migrated key back before deleting the local copy).
        s.push_str("disable_standby_reads = true\n\n");
        s.push_str("storage \"raft\" {\n");
        s.push_str(&format!("  path    = {}\n", hcl_str(CONTAINER_DATA_DIR)));
        s.push_str(&format!("  node_id = {}\n", hcl_str(&self.node_id)));
        for p in &self.peers {
            s.push_str(&format!(
                "\n  retry_join {{\n    leader_api_addr = {}\n  }}\n",
                hcl_str(p)
            ));
        }
        s.push_str("}\n\n");
        s.push_str("listener \"tcp\" {\n");
        s.push_str(&format!(
            "  address         = {}\n",
            hcl_str(&format!("0.0.0.0:{}", self.port))
        ));
        s.push_str(&format!(
            "  cluster_address = {}\n",
            hcl_str(&format!("0.0.0.0:{}", self.cluster_port))
        ));
        if self.tls {
            s.push_str(&format!(
                "  tls_cert_file   = {}\n",
                hcl_str(CONTAINER_TLS_CERT)
            ));
            s.push_str(&format!(
                "  tls_key_file    = {}\n",
                hcl_str(CONTAINER_TLS_KEY)
            ));
        } else {
            s.push_str("  # No openbao.tls_cert/tls_key: plain HTTP. Tokens and secrets cross the network unencrypted.\n");
            s.push_str("  tls_disable     = true\n");
        }
        s.push_str("}\n");
        s
    }
}

/// An HCL string literal: quotes, backslashes and control characters escaped, and template
/// sequences (`${`, `%{`) doubled so they stay literal text.
pub fn hcl_str(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_strings_are_escaped() {
        assert_eq!(hcl_str("plain"), "\"plain\"");
        assert_eq!(hcl_str("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(hcl_str("${x} %{y} $z"), "\"$${x} %%{y} $z\"");
        assert_eq!(hcl_str("l1\nl2"), "\"l1\\nl2\"");
    }
}
