//! The K3s component on the phase engine: the recipe, read top to bottom in [`K3s::phases`].
//! The pure pieces (roles, tokens, rendered files, probe, preflight rules) are the sibling
//! modules of `component::k3s`; the files here only read hosts, decide and return steps.

pub mod files;
pub mod kubeconfig;
pub mod preflight;
pub mod restore;
pub mod san;
pub mod start;
pub mod tokens;
pub mod uninstall;
pub mod upgrade;

#[cfg(test)]
mod tests;

use super::install::unit_name;
use super::roles::{self, NodeRole, CLUSTER_ROLES};
use crate::component::{Component, HostStatus, Phase, RemoteHost, RunCtx};
use crate::config::{HostConfig, Role, StackConfig};
use crate::host::systemd;
use crate::ssh::Cmd;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub const NAME: &str = "k3s";

/// State the phases of one run hand each other per host (the engine's typed outputs hold one
/// value per type; these are maps filled by parallel hosts).
#[derive(Default)]
pub struct Shared {
    /// Hosts whose config, unit or binary the files phase changes: their service restarts.
    changed: Mutex<BTreeMap<String, bool>>,
    /// The first server's `/etc/rancher/k3s/k3s.yaml` as read by the leader phase.
    k3s_yaml: Mutex<Option<String>>,
    /// The first server was (re)started in this run: the VIP check waits instead of asking once.
    first_started: Mutex<bool>,
    /// Each host's K3s unit as the files phase's probe saw it (read by the start phases).
    unit_states: Mutex<BTreeMap<String, systemd::UnitState>>,
    /// Running nodes at another K3s version: their binary waits for their start phase.
    upgrades: Mutex<BTreeMap<String, upgrade::Pending>>,
}

impl Shared {
    pub fn set_changed(&self, host: &str, changed: bool) {
        lock(&self.changed).insert(host.to_string(), changed);
    }
    pub fn changed(&self, host: &str) -> bool {
        lock(&self.changed).get(host).copied().unwrap_or(false)
    }
    pub fn set_k3s_yaml(&self, y: Option<String>) {
        *lock(&self.k3s_yaml) = y;
    }
    pub fn k3s_yaml(&self) -> Option<String> {
        lock(&self.k3s_yaml).clone()
    }
    pub fn set_unit_state(&self, host: &str, st: systemd::UnitState) {
        lock(&self.unit_states).insert(host.to_string(), st);
    }
    pub fn unit_state(&self, host: &str) -> Option<systemd::UnitState> {
        lock(&self.unit_states).get(host).cloned()
    }
    pub fn set_upgrade(&self, host: &str, p: upgrade::Pending) {
        lock(&self.upgrades).insert(host.to_string(), p);
    }
    pub fn upgrade(&self, host: &str) -> Option<upgrade::Pending> {
        lock(&self.upgrades).get(host).cloned()
    }
    pub fn set_first_started(&self, s: bool) {
        *lock(&self.first_started) = s;
    }
    pub fn first_started(&self) -> bool {
        *lock(&self.first_started)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The hosts of `targets` with one of the given roles, in resolved order (servers first).
pub fn select_roles(
    stack: &StackConfig,
    targets: &[HostConfig],
    want: &[NodeRole],
) -> Vec<HostConfig> {
    roles::resolve(stack)
        .into_iter()
        .filter(|n| want.contains(&n.role))
        .filter_map(|n| targets.iter().find(|h| h.hostname == n.host).cloned())
        .collect()
}

#[derive(Default)]
pub struct K3s;

#[async_trait::async_trait]
impl Component for K3s {
    fn name(&self) -> &str {
        NAME
    }
    fn summary(&self) -> &'static str {
        "K3s with embedded etcd behind a kube-vip VIP; traefik and servicelb off; images via Zot"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        // Tokens and the kubeconfig live in OpenBao; registries.yaml points at Zot (only when
        // Zot is enabled: a dependency on a disabled component is skipped by the order); the
        // design's order puts TrueNAS storage before the cluster.
        &["host-prep", "openbao", "zot", "storage"]
    }
    fn roles(&self) -> &'static [Role] {
        &CLUSTER_ROLES
    }
    fn stored_secrets(&self) -> &'static [(&'static str, &'static str)] {
        &[(super::token::PATH, "cluster-token, agent-token, kubeconfig")]
    }
    fn local_files(&self, stack: &StackConfig) -> Vec<std::path::PathBuf> {
        vec![crate::component::cluster_api::local_path(
            &stack.cluster.name,
        )]
    }
    fn enabled(&self, stack: &StackConfig) -> bool {
        stack.components.k3s.as_ref().is_some_and(|k| k.enabled)
    }
    fn describe(&self, stack: &StackConfig, host: &HostConfig) -> Vec<String> {
        super::describe_offline(stack, &host.hostname)
    }

    /// tokens (OpenBao) → preflight → files and binary → first server → kubeconfig read on
    /// it → the VIP answers, kubeconfig stored → join servers one by one → agents.
    fn phases(&self) -> Vec<Box<dyn Phase>> {
        let shared = Arc::new(Shared::default());
        vec![
            Box::new(tokens::TokensPhase),
            Box::new(preflight::Preflight::default()),
            Box::new(files::FilesAndBinary {
                shared: shared.clone(),
            }),
            Box::new(start::Start::first_server(shared.clone())),
            Box::new(kubeconfig::ReadKubeconfig {
                shared: shared.clone(),
            }),
            Box::new(kubeconfig::ReachVip {
                shared: shared.clone(),
            }),
            Box::new(start::Start::join_servers(shared.clone())),
            Box::new(start::Start::agents(shared)),
        ]
    }

    /// Agents, then joining servers one by one, the first server last (see `uninstall.rs`).
    fn uninstall_phases(&self) -> Vec<Box<dyn Phase>> {
        vec![
            Box::new(uninstall::Remove::agents()),
            Box::new(uninstall::Remove::joining_servers()),
            Box::new(uninstall::Remove::first_server()),
        ]
    }

    async fn status(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<HostStatus> {
        let Some(node) = roles::role_of(&ctx.stack, host.name()) else {
            return Ok(HostStatus {
                message: "not in the K3s cluster".into(),
                ..Default::default()
            });
        };
        let unit = unit_name(node.role.is_server());
        let script = format!(
            "{}\n[ -x {bin} ] && echo binary-present; :\n",
            systemd::probe_script(&format!("{unit}.service")),
            bin = super::install::BIN_PATH
        );
        let out = host
            .remote
            .exec(&Cmd::read(script).sudo().label("k3s status"))
            .await?
            .check("k3s status")?;
        let st = systemd::parse_probe(&out.stdout);
        let installed = out.stdout.lines().any(|l| l == "binary-present");
        let version = ctx.stack.components.k3s.as_ref().map(|k| k.version.clone());
        Ok(status_of(node.role, unit, installed, &st, version))
    }

    async fn stack_status(&self, ctx: &std::sync::Arc<RunCtx>) -> Vec<(String, HostStatus)> {
        start::nodes_ready_rows(ctx).await
    }
}

/// The status row from what the probe saw (pure, so each case is tested).
pub fn status_of(
    role: NodeRole,
    unit: &str,
    installed: bool,
    st: &systemd::UnitState,
    version: Option<String>,
) -> HostStatus {
    let message = if !installed {
        format!("{}: K3s not installed", role.as_str())
    } else if st.is_active() {
        format!("{}: {unit}.service active", role.as_str())
    } else {
        format!(
            "{}: {unit}.service {} (journalctl -u {unit})",
            role.as_str(),
            if st.active.is_empty() {
                "absent"
            } else {
                &st.active
            }
        )
    };
    HostStatus {
        installed,
        version: version.filter(|_| installed),
        healthy: installed && st.is_active(),
        message,
    }
}
