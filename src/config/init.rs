//! The stack.yaml written by `foundry config init`: one host that runs everything, commented so
//! the file explains itself. Values are inserted as YAML scalars (quoted where needed).

use super::edit::yaml_string;

/// What `config init` asks for.
#[derive(Debug, Clone)]
pub struct InitValues {
    pub name: String,
    pub domain: String,
    pub vip: String,
    pub cidr: String,
    pub host_name: String,
    pub host_address: String,
    pub user: String,
}

/// Parse `NAME=ADDRESS`.
pub fn parse_host(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((n, a)) if !n.trim().is_empty() && !a.trim().is_empty() => {
            Ok((n.trim().to_string(), a.trim().to_string()))
        }
        _ => Err(format!(
            "`{s}` is not NAME=ADDRESS (e.g. node-1=192.168.10.11)"
        )),
    }
}

pub fn render(v: &InitValues) -> String {
    let q = |s: &str| yaml_string(s);
    format!(
        r#"# foundry stack file, written by `foundry config init`.
# Check it with `foundry stack validate`; every field is described in docs/configuration.md.
# Secrets never go in here: write ${{secret:PATH:KEY}} and store the value with `foundry secret set`.

cluster:
  # Short name (RFC 1123 label): file names, kubeconfig context, OpenBao paths.
  name: {name}
  # Base DNS domain of the platform's services.
  domain: {domain}
  # Free address in the hosts' network that kube-vip announces for the Kubernetes API.
  vip: {vip}

network:
  # The network the hosts share; the VIP and the host addresses must be inside it.
  cidr: {cidr}
  # Addresses for LoadBalancer services (Envoy needs one). Pick a range no DHCP server hands
  # out, then uncomment:
  # lb_range: FIRST-LAST

ssh:
  # Login user on the hosts (sudo is used when it isn't root).
  user: {user}

hosts:
  - hostname: {host_name}
    address: {host_address}
    roles: [openbao, zot, cluster-control-plane]

components:
  openbao:
    key_shares: 5
    key_threshold: 3
  zot: {{}}
  k3s:
    version: v1.33.5+k3s1
  kube_vip:
    version: v1.2.3
  contour:
    version: 0.7.0
  cert_manager:
    version: v1.21.0
"#,
        name = q(&v.name),
        domain = q(&v.domain),
        vip = q(&v.vip),
        cidr = q(&v.cidr),
        user = q(&v.user),
        host_name = q(&v.host_name),
        host_address = q(&v.host_address),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::validate::{count, validate, Severity};

    #[test]
    fn rendered_file_loads_and_validates() {
        let v = InitValues {
            name: "lab".into(),
            domain: "lab.example.com".into(),
            vip: "10.1.0.50".into(),
            cidr: "10.1.0.0/24".into(),
            host_name: "node-1".into(),
            host_address: "10.1.0.11".into(),
            user: "admin".into(),
        };
        let text = render(&v);
        let l = crate::config::load::load_str(std::path::Path::new("s.yaml"), &text).unwrap();
        assert_eq!(l.config.ssh.user, "admin");
        let f = validate(&l);
        assert_eq!(count(&f, Severity::Error), 0, "{f:#?}");
        // The one expected warning: no LoadBalancer range yet.
        assert_eq!(count(&f, Severity::Warning), 1, "{f:#?}");
        assert_eq!(
            parse_host("a=1.2.3.4").unwrap(),
            ("a".into(), "1.2.3.4".into())
        );
        assert!(parse_host("a").is_err());
    }
}
