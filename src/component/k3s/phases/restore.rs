//! `cluster restore FILE`: K3s's documented restore (component-facts §1) as a recipe on the
//! phase engine, so it has a plan (`--dry-run`), a run log and progress like every other run:
//!
//! 1. **stop the servers** (parallel): an etcd member that keeps running would carry on with
//!    the state the restore throws away;
//! 2. **reset the first server** (leader): upload the snapshot (0600) into its snapshots
//!    directory, run `k3s server --cluster-reset --cluster-reset-restore-path=…` (a one-shot
//!    run that rebuilds a one-member etcd from the snapshot and exits), start it, wait until
//!    the local API answers and its Node is Ready;
//! 3. **rejoin the other servers** (serial): move their `server/db` aside (K3s: "backup and
//!    delete ${datadir}/server/db on each peer etcd server and rejoin the nodes"; kept as
//!    `db.foundry-before-restore-<time>`), start, wait for the Node Ready and a voting member.
//!
//! Agents keep running and reconnect through the VIP. Nothing here is idempotent on purpose:
//! a restore is an explicit act, behind a typed confirmation.

use super::super::roles::{NodeRole, CLUSTER_ROLES};
use super::select_roles;
use super::start::{local_api_script, WaitNodeReady, LOCAL_API_WAIT_SECS};
use crate::cluster::backup::SNAPSHOT_DIR;
use crate::component::{
    cluster_api, Action, Component, FileSpec, HostSet, HostStatus, Phase, RemoteHost, RunCtx, Step,
};
use crate::config::{HostConfig, Role, StackConfig};
use crate::ssh::quote::quote;
use std::sync::Arc;

const DB_DIR: &str = "/var/lib/rancher/k3s/server/db";

/// The snapshot to restore: its file name and bytes (already checked against its checksum).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub name: String,
    pub bytes: Arc<Vec<u8>>,
}

impl Snapshot {
    pub fn remote_path(&self) -> String {
        format!("{SNAPSHOT_DIR}/{}", self.name)
    }
}

/// The restore recipe; a component of its own so that the engine runs it.
pub struct Restore {
    pub snapshot: Snapshot,
    /// Appended to the moved-aside `db` directories.
    pub stamp: String,
}

/// The script of the reset itself (fixed text; the path is quoted).
pub fn reset_script(path: &str) -> String {
    format!(
        "set -u\n\
         systemctl stop k3s.service 2>/dev/null\n\
         out=$(k3s server --cluster-reset --cluster-reset-restore-path={p} 2>&1) || {{ printf '%s\\n' \"$out\" | tail -n 10 >&2; exit 1; }}\n",
        p = quote(path)
    )
}

/// Moves a joining server's etcd data aside (the peer must rejoin the restored member).
pub fn move_db_script(stamp: &str) -> String {
    let to = quote(&format!("{DB_DIR}.foundry-before-restore-{stamp}"));
    let db = quote(DB_DIR);
    format!("set -e\nsystemctl stop k3s.service 2>/dev/null || true\nif [ -d {db} ]; then mv {db} {to}; fi\n")
}

/// Wait for the server's Node Ready and a voting etcd member (not planned in a dry run
/// without the API).
async fn wait_ready(ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Option<Step>> {
    match cluster_api::client(ctx).await {
        Ok(kube) => Ok(Some(Step::api(Arc::new(WaitNodeReady::new(
            kube,
            host.name(),
            true,
        ))))),
        Err(e) if ctx.dry_run => {
            ctx.note(format!("{}: Node Ready not planned ({e:#})", host.name()));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn start_step() -> Step {
    Step::exec_timeout(
        "start k3s.service",
        "systemctl start k3s.service\n",
        LOCAL_API_WAIT_SECS,
    )
}

struct StopServers;
struct ResetFirst(Snapshot);
struct RejoinServers(String);

#[async_trait::async_trait]
impl Phase for StopServers {
    fn title(&self) -> String {
        "stop the servers".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Parallel
    }
    fn select(&self, ctx: &RunCtx, targets: &[HostConfig]) -> Vec<HostConfig> {
        select_roles(
            &ctx.stack,
            targets,
            &[NodeRole::FirstServer, NodeRole::JoiningServer],
        )
    }
    async fn plan_host(&self, _ctx: &RunCtx, _host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        Ok(vec![Step::exec_timeout(
            "stop k3s.service",
            "systemctl stop k3s.service\n",
            120,
        )])
    }
}

#[async_trait::async_trait]
impl Phase for ResetFirst {
    fn title(&self) -> String {
        "reset the first server from the snapshot".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Leader
    }
    fn select(&self, ctx: &RunCtx, targets: &[HostConfig]) -> Vec<HostConfig> {
        select_roles(&ctx.stack, targets, &[NodeRole::FirstServer])
    }
    async fn plan_host(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        let path = self.0.remote_path();
        let mut steps = vec![
            Step {
                description: format!(
                    "upload the snapshot to {path} (0600, {} bytes)",
                    self.0.bytes.len()
                ),
                diff: None,
                action: Action::WriteFile(
                    FileSpec::new(path.clone(), self.0.bytes.as_slice(), 0o600).secret(),
                ),
            },
            Step::exec_timeout(
                format!("k3s server --cluster-reset --cluster-reset-restore-path={path}"),
                reset_script(&path),
                600,
            ),
            start_step(),
            Step::verify(
                "the local API answers https://127.0.0.1:6443/cacerts",
                local_api_script(),
                LOCAL_API_WAIT_SECS + 10,
            ),
        ];
        steps.extend(wait_ready(ctx, host).await?);
        Ok(steps)
    }
}

#[async_trait::async_trait]
impl Phase for RejoinServers {
    fn title(&self) -> String {
        "rejoin the other servers".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Serial
    }
    fn select(&self, ctx: &RunCtx, targets: &[HostConfig]) -> Vec<HostConfig> {
        select_roles(&ctx.stack, targets, &[NodeRole::JoiningServer])
    }
    async fn plan_host(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        let mut steps = vec![
            Step::exec(
                format!(
                    "move {DB_DIR} aside to {DB_DIR}.foundry-before-restore-{}",
                    self.0
                ),
                move_db_script(&self.0),
            ),
            start_step(),
        ];
        steps.extend(wait_ready(ctx, host).await?);
        Ok(steps)
    }
}

#[async_trait::async_trait]
impl Component for Restore {
    fn name(&self) -> &str {
        "k3s-restore"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }
    fn roles(&self) -> &'static [Role] {
        &CLUSTER_ROLES
    }
    fn enabled(&self, stack: &StackConfig) -> bool {
        stack.components.k3s.as_ref().is_some_and(|k| k.enabled)
    }
    fn describe(&self, _stack: &StackConfig, _host: &HostConfig) -> Vec<String> {
        vec![]
    }
    fn phases(&self) -> Vec<Box<dyn Phase>> {
        vec![
            Box::new(StopServers),
            Box::new(ResetFirst(self.snapshot.clone())),
            Box::new(RejoinServers(self.stamp.clone())),
        ]
    }
    fn uninstall_phases(&self) -> Vec<Box<dyn Phase>> {
        vec![]
    }
    /// A restore has no state of its own to show (`cluster status` shows the cluster).
    async fn status(&self, _ctx: &RunCtx, _host: &RemoteHost) -> anyhow::Result<HostStatus> {
        Ok(HostStatus::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_quote_the_path_and_keep_the_old_data() {
        let s = reset_script("/var/lib/rancher/k3s/server/db/snapshots/a'b");
        assert!(
            s.contains(
                "--cluster-reset-restore-path='/var/lib/rancher/k3s/server/db/snapshots/a'\\''b'"
            ),
            "{s}"
        );
        let m = move_db_script("20261202t150405z");
        assert!(m.contains("mv /var/lib/rancher/k3s/server/db /var/lib/rancher/k3s/server/db.foundry-before-restore-20261202t150405z"), "{m}");
        assert!(!m.contains("rm "), "{m}");
    }
}
