//! Phase `files and binary` (parallel): config.yaml (0600), registries.yaml (when there is a
//! Zot), the systemd unit and the K3s binary, air-gapped from `components.k3s.airgap_bundle`
//! (verified locally, uploaded only when the host's sha256 differs) or online (the pinned
//! release, downloaded and verified on the host). One probe per host reads every file's hash
//! and the directories; steps only for what differs. Whether anything changed is kept for the
//! start phases (a changed host restarts its service).

use super::super::config::{self as k3s_config, NodeNet};
use super::super::install::{self, K3sArch, VerifiedBundle, BIN_PATH};
use super::super::registries::{self, MirrorSettings};
use super::super::roles;
use super::super::token::Tokens;
use super::preflight::ProbesOutput;
use super::tokens::TokensOutput;
use super::Shared;
use crate::component::files::{self, FileChange, FileSpec, FileState};
use crate::component::{Action, HostSet, RemoteHost, RunCtx, Step};
use crate::config::net::Ipv4Net;
use crate::config::path::FieldPath;
use crate::config::{K3sConfig, StackConfig};
use crate::host::systemd::{self, UnitState};
use crate::ssh::quote::quote;
use crate::ssh::{Cmd, Remote};
use anyhow::{anyhow, Context};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::component::helm::airgap::STATIC_DIR as STATIC_CHARTS_DIR;

/// Stands in for tokens a dry run does not know: only compared, never written.
const UNKNOWN_TOKEN: &str = "not-known-yet";

/// Files a host should have, the directories they live in, and the probe's view of them.
pub struct Probed {
    pub files: HashMap<String, Option<FileState>>,
    pub missing_dirs: Vec<String>,
    /// The state of `unit`, when asked for (the start phase then needs no round trip of its own).
    pub unit: Option<UnitState>,
}

/// One read-only round trip: every path's hash, which directories are missing and, with
/// `unit`, that systemd unit's state.
pub async fn probe(
    remote: &dyn Remote,
    paths: &[&str],
    dirs: &[&str],
    unit: Option<&str>,
) -> anyhow::Result<Probed> {
    let mut script = files::probe_script(paths);
    for d in dirs {
        script.push_str(&format!(
            "[ -d {q} ] || echo 'missing-dir {d}'\n",
            q = quote(d)
        ));
    }
    if let Some(u) = unit {
        script.push_str(&systemd::probe_script(u));
        script.push('\n');
    }
    script.push_str(":\n");
    let out = remote
        .exec(&Cmd::read(script).sudo().label("probe k3s files"))
        .await?
        .check("probe k3s files")?;
    Ok(Probed {
        files: files::parse_probe(&out.stdout),
        missing_dirs: out
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("missing-dir "))
            .map(String::from)
            .collect(),
        unit: unit.map(|_| systemd::parse_probe(&out.stdout)),
    })
}

/// `mkdir -p` for missing directories (0755: the secret files inside are 0600 themselves).
pub fn mkdir_step(missing: &[String]) -> Option<Step> {
    if missing.is_empty() {
        return None;
    }
    let list: Vec<String> = missing.iter().map(|d| quote(d)).collect();
    Some(Step::exec(
        format!("create {}", missing.join(", ")),
        format!("mkdir -p -m 0755 {}", list.join(" ")),
    ))
}

/// Steps for the files that differ (old content fetched for the diff of non-secret text files).
pub async fn file_steps(
    remote: &dyn Remote,
    p: &Probed,
    want: &[FileSpec],
) -> anyhow::Result<Vec<Step>> {
    let mut steps = Vec::new();
    for f in want {
        let change = files::compare(f, p.files.get(&f.path).and_then(|s| s.as_ref()));
        if change == FileChange::None {
            continue;
        }
        let old = if change == FileChange::Content && !f.secret {
            remote.read_file(&f.path, true).await?
        } else {
            None
        };
        steps.push(files::write_step(f, change, old.as_deref()));
    }
    Ok(steps)
}

/// A large file compared by its (already known) sha256 only; its bytes are read from the
/// bundle only when the host's copy differs. No diff: it is binary.
pub fn blob_step(
    path: &str,
    local: &std::path::Path,
    sha: &str,
    mode: u32,
    have: Option<&FileState>,
) -> anyhow::Result<Option<Step>> {
    let same = have.is_some_and(|h| h.sha256 == sha);
    let meta_ok = have.is_some_and(|h| h.mode == mode && h.owner == "root" && h.group == "root");
    if same && meta_ok {
        return Ok(None);
    }
    let bytes = std::fs::read(local).with_context(|| format!("reading {}", local.display()))?;
    let what = if have.is_none() {
        "upload"
    } else if same {
        "fix mode/owner of"
    } else {
        "replace"
    };
    Ok(Some(Step {
        description: format!(
            "{what} {path} ({mode:o} root:root, sha256 {})",
            &sha[..12.min(sha.len())]
        ),
        diff: None,
        action: Action::WriteFile(FileSpec::new(path, bytes, mode)),
    }))
}

/// Online install: needed when the probe saw no binary or another version.
pub fn online_needed(probed_version: Option<&str>, want: &str) -> bool {
    !probed_version.is_some_and(|v| v.split_whitespace().any(|w| w == want))
}

/// The installed version when the host runs another K3s release than `want` (an upgrade, left
/// to the start phases); `None` for a fresh host or the same version.
pub fn upgrade_from(probed_version: Option<&str>, want: &str) -> Option<String> {
    let seen = super::super::version::K3sVersion::from_version_output(probed_version?)?;
    let want = super::super::version::K3sVersion::parse(want)?;
    (seen != want).then(|| seen.to_string())
}

pub struct FilesAndBinary {
    pub shared: Arc<Shared>,
}

/// The bundle verified once per run (hashing it is the slow part).
#[derive(Clone, Debug)]
struct BundleOutput(Arc<Mutex<HashMap<String, Result<VerifiedBundle, String>>>>);

fn bundle(ctx: &RunCtx, dir: &str, arch: K3sArch) -> Result<VerifiedBundle, String> {
    let cache = ctx.outputs.get::<BundleOutput>().unwrap_or_else(|| {
        let b = BundleOutput(Arc::default());
        ctx.outputs.put(b.clone());
        b
    });
    let key = format!("{dir}|{}", arch.as_str());
    let mut m = cache.0.lock().unwrap_or_else(|e| e.into_inner());
    m.entry(key)
        .or_insert_with(|| install::verify_bundle(std::path::Path::new(dir), arch))
        .clone()
}

/// The stack with `components.k3s` resolved (its values may reference secrets).
pub async fn resolved_stack(ctx: &RunCtx) -> anyhow::Result<(StackConfig, K3sConfig)> {
    let k = ctx
        .stack
        .components
        .k3s
        .as_ref()
        .ok_or_else(|| anyhow!("components.k3s is not configured"))?;
    let k: K3sConfig = ctx
        .resolve(&FieldPath::root().key("components").key("k3s"), k)
        .await?;
    let mut stack = (*ctx.stack).clone();
    stack.components.k3s = Some(k.clone());
    Ok((stack, k))
}

/// The node's network from the preflight probe.
pub fn node_net(ctx: &RunCtx, host: &RemoteHost) -> NodeNet {
    let net = ctx
        .stack
        .network
        .cidr
        .as_deref()
        .and_then(|c| Ipv4Net::parse_cidr(c).ok());
    ctx.outputs
        .get::<ProbesOutput>()
        .and_then(|p| p.probe(host.name()).cloned())
        .map(|p| super::super::probe::node_net(&p, &host.config.address, net))
        .unwrap_or_default()
}

/// The tokens for rendering: the known ones, or placeholders in a dry run.
pub fn tokens_for_render(ctx: &RunCtx) -> anyhow::Result<Tokens> {
    match ctx.outputs.get::<TokensOutput>() {
        Some(t) if t.known().is_some() => Ok(t.known().cloned().unwrap_or_else(|| unreachable!())),
        Some(_) if ctx.dry_run => Ok(Tokens {
            cluster: UNKNOWN_TOKEN.into(),
            agent: UNKNOWN_TOKEN.into(),
        }),
        _ => anyhow::bail!("internal: the K3s tokens phase did not run before the files phase"),
    }
}

async fn mirror(ctx: &RunCtx) -> anyhow::Result<Option<MirrorSettings>> {
    let Some(z) = ctx.stack.components.zot.as_ref().filter(|z| z.enabled) else {
        return Ok(None);
    };
    let creds = if z.anonymous_read {
        None
    } else {
        match crate::component::zot::secret::lookup(ctx).await {
            Ok(Some(pw)) => Some((z.admin_user.clone(), pw)),
            Ok(None) if ctx.dry_run => None,
            Ok(None) => anyhow::bail!("registries.yaml needs the Zot admin password, which is not in OpenBao yet: install zot first"),
            Err(e) if ctx.dry_run => {
                ctx.note(format!("registries.yaml: Zot password not readable ({e:#})"));
                None
            }
            Err(e) => return Err(e),
        }
    };
    Ok(MirrorSettings::from_stack(&ctx.stack, creds))
}

#[async_trait::async_trait]
impl crate::component::Phase for FilesAndBinary {
    fn title(&self) -> String {
        "files and binary".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Parallel
    }
    async fn plan_host(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        let (stack, k) = resolved_stack(ctx).await?;
        let node = roles::role_of(&stack, host.name())
            .ok_or_else(|| anyhow!("{}: not in the K3s cluster", host.name()))?;
        let server = node.role.is_server();
        let tokens = tokens_for_render(ctx)?;
        let cfg = k3s_config::node_config(&stack, &node, &tokens, &node_net(ctx, host))
            .map_err(|e| anyhow!("components.k3s: {e}"))?;
        let mut want = vec![cfg.file(), install::unit(server)];
        if let Some(m) = mirror(ctx).await? {
            want.push(registries::file(&m)?);
        }
        let mut dirs = vec!["/etc/rancher/k3s"];
        let arch = K3sArch::from_facts(&host.facts.arch).map_err(|e| anyhow!(e))?;
        let verified = match &k.airgap_bundle {
            Some(dir) => Some(bundle(ctx, dir, arch).map_err(|e| anyhow!(e))?),
            None => None,
        };
        let images_path = verified.as_ref().map(|b| b.images_remote_path());
        // Air-gapped charts: the servers serve the archives the HelmCharts name.
        let charts = if server {
            crate::component::helm::airgap::static_charts(&stack)?
        } else {
            Vec::new()
        };
        let mut paths: Vec<&str> = want.iter().map(|f| f.path.as_str()).collect();
        if let Some(ip) = &images_path {
            paths.push(BIN_PATH);
            paths.push(ip);
            dirs.push(install::IMAGES_DIR);
        }
        if !charts.is_empty() {
            paths.extend(charts.iter().map(|c| c.remote.as_str()));
            dirs.push(STATIC_CHARTS_DIR);
        }
        let unit = format!("{}.service", install::unit_name(server));
        let p = probe(host.remote.as_ref(), &paths, &dirs, Some(&unit)).await?;
        if let Some(st) = &p.unit {
            self.shared.set_unit_state(host.name(), st.clone());
        }
        let (charts_dir_missing, missing): (Vec<String>, Vec<String>) = p
            .missing_dirs
            .iter()
            .cloned()
            .partition(|d| d == STATIC_CHARTS_DIR);
        let mut steps: Vec<Step> = mkdir_step(&missing).into_iter().collect();
        steps.extend(file_steps(host.remote.as_ref(), &p, &want).await?);
        let seen = ctx
            .outputs
            .get::<ProbesOutput>()
            .and_then(|o| o.probe(host.name()).and_then(|p| p.k3s_version.clone()));
        let mut binary = Vec::new();
        match (&verified, &images_path) {
            (Some(b), Some(ip)) => {
                let bin = p.files.get(BIN_PATH).and_then(|s| s.as_ref());
                binary.extend(blob_step(BIN_PATH, &b.binary, &b.binary_sha, 0o755, bin)?);
                // The images of a release go with its binary (an upgrade defers both).
                let img = p.files.get(ip.as_str()).and_then(|s| s.as_ref());
                binary.extend(blob_step(ip, &b.images, &b.images_sha, 0o644, img)?);
            }
            _ => {
                if online_needed(seen.as_deref(), &k.version) {
                    binary.push(Step::exec_timeout(
                        format!("download and install K3s {} ({})", k.version, arch.as_str()),
                        install::online_install_script(&k.version, arch),
                        600,
                    ));
                }
            }
        }
        match upgrade_from(seen.as_deref(), &k.version) {
            // Another version is installed: the node's start phase swaps it, in the rolling order.
            Some(from) if !binary.is_empty() => {
                self.shared
                    .set_upgrade(host.name(), super::upgrade::Pending { from, binary });
            }
            _ => steps.extend(binary),
        }
        self.shared
            .set_changed(host.name(), steps.iter().any(|s| s.mutates()));
        // K3s serves static files as they are: a new archive needs no restart, so these come
        // after the "changed" mark.
        steps.extend(mkdir_step(&charts_dir_missing));
        for c in &charts {
            let have = p.files.get(c.remote.as_str()).and_then(|s| s.as_ref());
            steps.extend(blob_step(&c.remote, &c.local, &c.sha256, 0o644, have)?);
        }
        Ok(steps)
    }
}
