//! `/etc/rancher/k3s/registries.yaml`: every node pulls docker.io, ghcr.io, quay.io and
//! registry.k8s.io images through Zot.
//!
//! Format (k3s docs, installation/private-registry.md): `mirrors.<registry>.endpoint[]` and
//! `rewrite{<regex>: <replacement>}`; `configs.<host:port>.auth{username,password}` and
//! `.tls{ca_file,insecure_skip_verify}`. Rules kept here:
//! - one explicit mirror per upstream, never the `"*"` catch-all (its fallback broke with
//!   containerd 2.0 in K3s v1.32.2/v1.31.6);
//! - `http://` endpoints when Zot serves plain HTTP (containerd otherwise speaks TLS to it);
//! - the rewrite puts the upstream name in front of the repository, matching the sync
//!   `destination` Zot stores it under (`crate::component::zot::upstream`);
//! - `tls` only when a CA file or skip-verify is explicitly configured.
//!
//! The file holds the registry password: [`file`] is 0600 and secret.

use crate::component::zot::upstream;

/// What a node needs to know about the Zot mirror: published by the Zot component into the run
/// context, read by the K3s component for every node's registries.yaml.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MirrorSettings {
    /// `host:port` as the nodes reach Zot (no scheme).
    pub endpoint: String,
    /// Zot serves plain HTTP (then endpoints are `http://`).
    pub plain_http: bool,
    /// CA bundle on the node that signed Zot's certificate.
    pub ca_file: Option<String>,
    /// Pull credentials for `configs.<endpoint>.auth` (both or neither).
    pub username: Option<String>,
    pub password: Option<String>,
    /// Skip TLS verification (only when explicitly configured).
    pub insecure_skip_verify: bool,
    /// Upstream registries Zot mirrors (`components.zot.upstreams`).
    pub upstreams: Vec<String>,
}

impl std::fmt::Debug for MirrorSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MirrorSettings")
            .field("endpoint", &self.endpoint)
            .field("plain_http", &self.plain_http)
            .field("ca_file", &self.ca_file)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("upstreams", &self.upstreams)
            .finish()
    }
}

impl MirrorSettings {
    /// The settings for the stack's Zot (the first `zot` host), with the pull credentials the
    /// Zot component holds (`None` when anonymous pulls are on). `None` without an enabled Zot.
    pub fn from_stack(
        stack: &crate::config::StackConfig,
        credentials: Option<(String, String)>,
    ) -> Option<MirrorSettings> {
        let ep = crate::component::zot::endpoint(stack)?;
        let z = stack.components.zot.as_ref()?;
        let (username, password) = credentials
            .map(|(u, p)| (Some(u), Some(p)))
            .unwrap_or_default();
        Some(MirrorSettings {
            endpoint: ep.host_port,
            plain_http: ep.plain_http,
            ca_file: None,
            username,
            password,
            insecure_skip_verify: false,
            upstreams: z.upstreams.clone(),
        })
    }
}

/// Where the file goes on every node.
pub const PATH: &str = "/etc/rancher/k3s/registries.yaml";

/// The regex every mirror rewrites with: the whole repository path.
pub const REWRITE_FROM: &str = "^(.*)$";

/// The endpoint URL nodes use for Zot.
pub fn endpoint_url(m: &MirrorSettings) -> String {
    let scheme = if m.plain_http { "http" } else { "https" };
    format!("{scheme}://{}", m.endpoint)
}

/// A YAML double-quoted scalar. JSON string syntax is a subset of it, so serde_json's escaping
/// is exact; quoting every value keeps YAML 1.1 parsers (K3s uses Go's yaml) from reading
/// `host:port` keys or `^(.*)$` as anything but strings.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Render the file. Errors name what is wrong (an endpoint with a scheme, a bad upstream).
pub fn render(m: &MirrorSettings) -> anyhow::Result<String> {
    if m.endpoint.is_empty() || m.endpoint.contains("://") || m.endpoint.contains('/') {
        anyhow::bail!(
            "registries.yaml: the Zot endpoint must be `host:port` without scheme or path, got `{}`",
            m.endpoint
        );
    }
    upstream::validate(&m.upstreams)?;
    let url = endpoint_url(m);
    let mut out = String::from(
        "# Managed by foundry: images from these registries are pulled through Zot.\n\
         # Changes are overwritten on the next `foundry stack install`; K3s reads it at start.\n\
         mirrors:\n",
    );
    let mut ups: Vec<&String> = m.upstreams.iter().collect();
    ups.sort();
    for u in ups {
        out.push_str(&format!(
            "  {}:\n    endpoint:\n      - {}\n    rewrite:\n      {}: {}\n",
            q(u),
            q(&url),
            q(REWRITE_FROM),
            q(&format!("{}/$1", upstream::repo_prefix(u)))
        ));
    }
    let auth = match (&m.username, &m.password) {
        (Some(u), Some(p)) => Some((u, p)),
        (None, None) => None,
        _ => anyhow::bail!(
            "registries.yaml: the Zot pull credentials need both a username and a password"
        ),
    };
    let tls = m.ca_file.is_some() || m.insecure_skip_verify;
    if auth.is_some() || tls {
        out.push_str(&format!("configs:\n  {}:\n", q(&m.endpoint)));
        if let Some((user, pw)) = auth {
            out.push_str(&format!(
                "    auth:\n      username: {}\n      password: {}\n",
                q(user),
                q(pw)
            ));
        }
        if tls {
            out.push_str("    tls:\n");
            if let Some(ca) = &m.ca_file {
                out.push_str(&format!("      ca_file: {}\n", q(ca)));
            }
            if m.insecure_skip_verify {
                out.push_str("      insecure_skip_verify: true\n");
            }
        }
    }
    Ok(out)
}

/// The file for a node: 0600, secret (it holds the pull password).
pub fn file(m: &MirrorSettings) -> anyhow::Result<crate::component::FileSpec> {
    Ok(crate::component::FileSpec::new(PATH, render(m)?, 0o600).secret())
}
