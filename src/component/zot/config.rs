//! Zot's `config.json`, rendered from typed structs (field order = key order, so the output is
//! stable and diffs are readable).
//!
//! Field names checked against upstream (project-zot/zot):
//! - `pkg/api/config/config.go`: `storage{rootDirectory,dedupe,gc}`, `http{address,port,realm,
//!   tls{cert,key},auth{htpasswd{path}},accessControl,compat}`, `log{level}`;
//!   `AccessControlConfig{repositories{<glob>{policies,defaultPolicy,anonymousPolicy}},
//!   adminPolicy{users,actions},groups}` (v2 schema: repositories are nested under
//!   `repositories`, not at the top of `accessControl` as in v1 examples).
//! - `pkg/extensions/config/sync/config.go`: `sync{enable,registries[{urls,onDemand,tlsVerify,
//!   content[{prefix,destination,stripPrefix}]}]}`.
//! - `pkg/compat/compat.go`: the only compat value is `docker2s2`; `examples/config-docker-compat
//!   -sync.json` shows it with an on-demand Docker Hub sync from `https://index.docker.io`.
//! - `pkg/cli/server/root.go` `validateExtensionsConfig`: "failed to enable ui, search extension
//!   must be enabled" — so `ui` forces `search` here instead of producing a config Zot rejects.
//! - `examples/config-anonymous-authz.json`: `anonymousPolicy: ["read"]` for pulls without
//!   credentials; `examples/config-policy.json`: `adminPolicy`.
//!
//! Zot loads its config with `UnmarshalExact`: an unknown key is fatal, so nothing here is
//! speculative.

use super::upstream;
use crate::config::ZotConfig;
use serde::Serialize;
use std::collections::BTreeMap;

/// Where things live inside the container (the official image's layout: `CMD ["serve",
/// "/etc/zot/config.json"]`, storage `/var/lib/registry`).
pub const CONTAINER_CONFIG_DIR: &str = "/etc/zot";
pub const CONTAINER_CONFIG: &str = "/etc/zot/config.json";
pub const CONTAINER_HTPASSWD: &str = "/etc/zot/htpasswd";
pub const CONTAINER_STORAGE: &str = "/var/lib/registry";
pub const CONTAINER_TLS_CERT: &str = "/etc/zot-tls/server.crt";
pub const CONTAINER_TLS_KEY: &str = "/etc/zot-tls/server.key";

/// The distribution-spec version Zot v2.1.x implements (it only warns when this differs).
const DIST_SPEC_VERSION: &str = "1.1.1";

/// Actions the admin user gets on every repository.
const ADMIN_ACTIONS: [&str; 4] = ["read", "create", "update", "delete"];

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ZotFile {
    pub dist_spec_version: String,
    pub storage: Storage,
    pub http: Http,
    pub log: Log,
    pub extensions: Extensions,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Storage {
    pub root_directory: String,
    pub dedupe: bool,
    pub gc: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Http {
    pub address: String,
    /// A string in Zot's schema (`HTTPConfig.Port string`).
    pub port: String,
    /// Always `["docker2s2"]`: from v2.1.22 Zot rejects Docker schema-2 manifests without it,
    /// and most of Docker Hub is Docker schema 2.
    pub compat: Vec<String>,
    pub realm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    pub auth: Auth,
    pub access_control: AccessControl,
}

#[derive(Debug, Serialize)]
pub struct Tls {
    pub cert: String,
    pub key: String,
}

#[derive(Debug, Serialize)]
pub struct Auth {
    pub htpasswd: Htpasswd,
}

#[derive(Debug, Serialize)]
pub struct Htpasswd {
    pub path: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessControl {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub repositories: BTreeMap<String, PolicyGroup>,
    pub admin_policy: Policy,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyGroup {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anonymous_policy: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Policy {
    pub users: Vec<String>,
    pub actions: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Log {
    pub level: String,
}

#[derive(Debug, Serialize)]
pub struct Extensions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync: Option<Sync>,
    pub search: Enable,
    pub ui: Enable,
}

#[derive(Debug, Serialize)]
pub struct Enable {
    pub enable: bool,
}

#[derive(Debug, Serialize)]
pub struct Sync {
    pub enable: bool,
    pub registries: Vec<SyncRegistry>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRegistry {
    pub urls: Vec<String>,
    /// Pull-through: fetch an image from upstream the first time a client asks for it.
    pub on_demand: bool,
    pub tls_verify: bool,
    pub content: Vec<SyncContent>,
}

#[derive(Debug, Serialize)]
pub struct SyncContent {
    pub prefix: String,
    pub destination: String,
}

/// The rendered file plus what foundry changed relative to the stack config (shown to the user).
#[derive(Debug)]
pub struct Rendered {
    pub json: String,
    pub notes: Vec<String>,
}

/// Build the typed config from `components.zot`. Upstream names must already be valid
/// (`upstream::validate`).
pub fn build(z: &ZotConfig) -> (ZotFile, Vec<String>) {
    let mut notes = Vec::new();
    let search = z.search || z.ui;
    if z.ui && !z.search {
        notes.push(
            "components.zot.ui needs the search extension: search is enabled too (Zot refuses ui without it)"
                .to_string(),
        );
    }
    let mut repositories = BTreeMap::new();
    if z.anonymous_read {
        repositories.insert(
            "**".to_string(),
            PolicyGroup {
                anonymous_policy: vec!["read".to_string()],
            },
        );
    }
    let registries: Vec<SyncRegistry> = z
        .upstreams
        .iter()
        .map(|u| SyncRegistry {
            urls: vec![upstream::url(u)],
            on_demand: true,
            tls_verify: true,
            content: vec![SyncContent {
                prefix: "**".to_string(),
                destination: upstream::destination(u),
            }],
        })
        .collect();
    let file = ZotFile {
        dist_spec_version: DIST_SPEC_VERSION.to_string(),
        storage: Storage {
            root_directory: CONTAINER_STORAGE.to_string(),
            dedupe: z.dedupe,
            gc: z.gc,
        },
        http: Http {
            address: "0.0.0.0".to_string(),
            port: z.port.to_string(),
            compat: vec!["docker2s2".to_string()],
            realm: "zot".to_string(),
            tls: tls_enabled(z).then(|| Tls {
                cert: CONTAINER_TLS_CERT.to_string(),
                key: CONTAINER_TLS_KEY.to_string(),
            }),
            auth: Auth {
                htpasswd: Htpasswd {
                    path: CONTAINER_HTPASSWD.to_string(),
                },
            },
            access_control: AccessControl {
                repositories,
                admin_policy: Policy {
                    users: vec![z.admin_user.clone()],
                    actions: ADMIN_ACTIONS.iter().map(|a| a.to_string()).collect(),
                },
            },
        },
        log: Log {
            level: "info".to_string(),
        },
        extensions: Extensions {
            sync: (!registries.is_empty()).then_some(Sync {
                enable: true,
                registries,
            }),
            search: Enable { enable: search },
            ui: Enable { enable: z.ui },
        },
    };
    (file, notes)
}

/// TLS is on only when both the certificate and the key are configured (`validate` rejects one
/// without the other).
pub fn tls_enabled(z: &ZotConfig) -> bool {
    z.tls_cert.is_some() && z.tls_key.is_some()
}

/// Check what the renderer cannot fix by itself. Errors name the field.
pub fn validate(z: &ZotConfig) -> anyhow::Result<()> {
    upstream::validate(&z.upstreams)?;
    for (what, p) in [
        ("config_dir", Some(&z.config_dir)),
        ("storage_path", Some(&z.storage_path)),
        ("tls_cert", z.tls_cert.as_ref()),
        ("tls_key", z.tls_key.as_ref()),
    ] {
        if let Some(p) = p {
            if !p.starts_with('/') || p.contains([':', ',']) || p.trim_end_matches('/').is_empty() {
                anyhow::bail!(
                    "components.zot.{what} `{p}` must be an absolute path (not `/`) without `:` or `,` (it becomes a container volume)"
                );
            }
        }
    }
    match (&z.tls_cert, &z.tls_key) {
        (Some(_), None) => {
            anyhow::bail!("components.zot.tls_cert is set but tls_key is not: give both or neither")
        }
        (None, Some(_)) => {
            anyhow::bail!("components.zot.tls_key is set but tls_cert is not: give both or neither")
        }
        _ => {}
    }
    if z.admin_user.is_empty() || z.admin_user.contains([':', '\n', ' ']) {
        anyhow::bail!(
            "components.zot.admin_user `{}` is not a valid htpasswd user name (no `:`, spaces or newlines)",
            z.admin_user
        );
    }
    if z.port == 0 {
        anyhow::bail!("components.zot.port must not be 0");
    }
    Ok(())
}

/// The `config.json` text: pretty JSON, two-space indent, trailing newline.
pub fn render(z: &ZotConfig) -> anyhow::Result<Rendered> {
    validate(z)?;
    let (file, notes) = build(z);
    let mut json = serde_json::to_string_pretty(&file)?;
    json.push('\n');
    Ok(Rendered { json, notes })
}
