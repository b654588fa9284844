//! The start phases: `first server` (leader: kube-vip manifests, the token check, start, wait
//! for the local API), `join servers` (serial: start, wait for the Node Ready through the API)
//! and `agents` (parallel: start). A service (re)starts only when it is not active or the
//! files phase changed its config, unit or binary on that host.

use super::super::install::unit_name;
use super::super::kube_vip;
use super::super::roles::NodeRole;
use super::super::token::{self, TokenCheck};
use super::files::{file_steps, mkdir_step, probe};
use super::preflight::ProbesOutput;
use super::{select_roles, upgrade, Shared};
use crate::component::api::ApiAction;
use crate::component::{cluster_api, HostSet, HostStatus, Phase, RemoteHost, RunCtx, Step};
use crate::config::HostConfig;
use crate::host::systemd::{self, UnitState};
use crate::k8s::{wait_for, Kube, Probe, Selector};
use crate::ssh::Cmd;
use anyhow::anyhow;
use k8s_openapi::api::core::v1::Node;
use std::sync::Arc;
use std::time::Duration;

/// How long a server may take to answer on its local API after a start.
pub const LOCAL_API_WAIT_SECS: u64 = 180;
/// How long a joining node may take to become Ready.
pub const NODE_READY_WAIT: Duration = Duration::from_secs(300);

/// What a node's service needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartDecision {
    /// Not active: enable and start.
    Start,
    /// Active, but its config, unit or binary changed: restart.
    Restart,
    /// Active and current, only not enabled at boot.
    Enable,
    Nothing,
}

impl StartDecision {
    /// The service is started by this run (a wait follows).
    pub fn starts(self) -> bool {
        matches!(self, StartDecision::Start | StartDecision::Restart)
    }
}

/// From the unit's state and whether the files phase changed this host.
pub fn decide(st: &UnitState, changed: bool) -> StartDecision {
    match (st.is_active(), changed) {
        (false, _) => StartDecision::Start,
        (true, true) => StartDecision::Restart,
        (true, false) if !st.is_enabled() => StartDecision::Enable,
        _ => StartDecision::Nothing,
    }
}

/// The steps of a decision.
pub fn start_steps(unit: &str, d: StartDecision) -> Vec<Step> {
    let u = format!("{unit}.service");
    let run = |verb: &str, why: &str| {
        Step::exec_timeout(
            format!("enable and {verb} {u} ({why})"),
            format!("systemctl daemon-reload\nsystemctl enable {u}\nsystemctl {verb} {u}\n"),
            LOCAL_API_WAIT_SECS,
        )
    };
    match d {
        StartDecision::Start => vec![run("start", "not active")],
        StartDecision::Restart => vec![run("restart", "config, unit or binary changed")],
        StartDecision::Enable => vec![Step::exec(
            format!("enable {u} (active, not enabled at boot)"),
            format!("systemctl enable {u}"),
        )],
        StartDecision::Nothing => vec![],
    }
}

/// After a server start: the local API answers `/cacerts` (K3s serves it without credentials).
pub fn local_api_script() -> String {
    format!(
        "command -v curl >/dev/null 2>&1 || {{ echo 'curl not installed: the local API was not checked' >&2; exit 0; }}\n\
         i=0; while [ $i -lt {LOCAL_API_WAIT_SECS} ]; do\n\
         c=$(curl -sk -o /dev/null -w '%{{http_code}}' --max-time 2 https://127.0.0.1:6443/cacerts 2>/dev/null)\n\
         [ \"$c\" = 200 ] && exit 0\n\
         i=$((i+1)); sleep 1; done\n\
         echo \"the K3s API did not answer on https://127.0.0.1:6443/cacerts within {LOCAL_API_WAIT_SECS}s (last: $c); see journalctl -u k3s\" >&2; exit 1\n"
    )
}

/// The first server's token file against OpenBao's: a mismatch stops the run (never rejoin
/// silently with another token).
pub fn token_check(host: &str, instance: &str, file: &str, stored: &str) -> anyhow::Result<()> {
    match token::compare(file, stored).map_err(|e| anyhow!("{host}: {e}"))? {
        TokenCheck::Match => Ok(()),
        TokenCheck::Mismatch {
            cluster: c,
            stored: s,
        } => Err(anyhow!(token::mismatch_message(host, instance, &c, &s))),
    }
}

pub struct Start {
    shared: Arc<Shared>,
    title: &'static str,
    set: HostSet,
    roles: &'static [NodeRole],
}

impl Start {
    pub fn first_server(shared: Arc<Shared>) -> Start {
        Start {
            shared,
            title: "first server",
            set: HostSet::Leader,
            roles: &[NodeRole::FirstServer],
        }
    }
    pub fn join_servers(shared: Arc<Shared>) -> Start {
        Start {
            shared,
            title: "join servers",
            set: HostSet::Serial,
            roles: &[NodeRole::JoiningServer],
        }
    }
    pub fn agents(shared: Arc<Shared>) -> Start {
        Start {
            shared,
            title: "agents",
            set: HostSet::Parallel,
            roles: &[NodeRole::Agent],
        }
    }
    fn first(&self) -> bool {
        self.roles == [NodeRole::FirstServer]
    }
}

#[async_trait::async_trait]
impl Phase for Start {
    fn title(&self) -> String {
        self.title.into()
    }
    fn hosts(&self) -> HostSet {
        self.set
    }
    fn select(&self, ctx: &RunCtx, targets: &[HostConfig]) -> Vec<HostConfig> {
        select_roles(&ctx.stack, targets, self.roles)
    }
    async fn plan_host(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        let server = self.roles[0].is_server();
        let unit = unit_name(server);
        let mut steps = Vec::new();
        let changed = self.shared.changed(host.name());
        if self.first() {
            let ifaces = ctx
                .outputs
                .get::<ProbesOutput>()
                .map(|p| p.server_interfaces().to_vec())
                .unwrap_or_default();
            let manifests = kube_vip::files(&ctx.stack, &ifaces).map_err(|e| anyhow!(e))?;
            let paths: Vec<&str> = manifests.iter().map(|f| f.path.as_str()).collect();
            let p = probe(
                host.remote.as_ref(),
                &paths,
                &[kube_vip::MANIFESTS_DIR],
                None,
            )
            .await?;
            steps.extend(mkdir_step(&p.missing_dirs));
            steps.extend(file_steps(host.remote.as_ref(), &p, &manifests).await?);
        }
        // Read with the files phase's probe of this run; asked here only when that did not run.
        let st = match self.shared.unit_state(host.name()) {
            Some(st) => st,
            None => {
                let out = host
                    .remote
                    .exec(
                        &Cmd::read(systemd::probe_script(&format!("{unit}.service")))
                            .sudo()
                            .label("k3s unit state"),
                    )
                    .await?
                    .check("k3s unit state")?;
                systemd::parse_probe(&out.stdout)
            }
        };
        let pending = self.shared.upgrade(host.name());
        // New kube-vip manifests are picked up by a running server: no restart for them.
        let d = match &pending {
            Some(_) if st.is_active() => StartDecision::Restart,
            Some(_) => StartDecision::Start,
            None => decide(&st, changed),
        };
        let started = d.starts();
        // The API is needed for the waits after a start and for an upgrade's cordon and drain;
        // not for a fresh first server (its kubeconfig is read only after it is up).
        let kube = if started && (!self.first() || pending.is_some()) {
            match cluster_api::client(ctx).await {
                Ok(k) => Some(k),
                Err(e) if ctx.dry_run => {
                    ctx.note(format!(
                        "{}: the API steps of the start are not planned ({e:#})",
                        host.name()
                    ));
                    None
                }
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        let node = host.name().to_string();
        let version = ctx
            .stack
            .components
            .k3s
            .as_ref()
            .map(|k| k.version.clone())
            .unwrap_or_default();
        let mut after = Vec::new();
        if let Some(kube) = &kube {
            // One read of the Node: an upgrade's cordon/drain/uncordon, or, for a start after a
            // failed upgrade (new binary, service down), lifting the cordon that run left.
            let live = kube.get_opt::<Node>(None, &node).await?;
            let state = upgrade::NodeState::of(live.as_ref());
            let opts = ctx
                .outputs
                .get::<upgrade::UpgradeOptions>()
                .unwrap_or_default();
            let around = match &pending {
                Some(p) => {
                    ctx.note(format!("{node}: K3s {} → {version}", p.from));
                    let count = kube.list::<Node>(None, &Selector::all()).await?.len();
                    upgrade::around(state, &opts, count)
                }
                None => upgrade::Around {
                    cordon: false,
                    drain: false,
                    uncordon: state.cordoned_by_foundry,
                },
            };
            if around.cordon {
                steps.push(Step::api(Arc::new(upgrade::Cordon {
                    kube: kube.clone(),
                    node: node.clone(),
                    version: version.clone(),
                })));
            }
            if around.drain {
                steps.push(Step::api(Arc::new(upgrade::Drain {
                    kube: kube.clone(),
                    node: node.clone(),
                    opts,
                })));
            }
            if around.uncordon {
                after.push(Step::api(Arc::new(upgrade::Uncordon {
                    kube: kube.clone(),
                    node: node.clone(),
                })));
            }
        }
        if let Some(p) = &pending {
            steps.extend(p.binary.iter().cloned());
        }
        steps.extend(start_steps(unit, d));
        if started && server {
            steps.push(Step::verify(
                "the local API answers https://127.0.0.1:6443/cacerts",
                local_api_script(),
                LOCAL_API_WAIT_SECS + 10,
            ));
        }
        if self.first() {
            self.shared.set_first_started(started);
        }
        // Joining servers wait (the next one joins only after), agents too (each in its own
        // parallel lane): "started" is not "joined". An upgraded node, the first server too,
        // waits until its kubelet reports the new version.
        if let Some(kube) = kube {
            let mut wait = WaitNodeReady::new(kube, &node, server);
            if pending.is_some() {
                wait = wait.at_version(&version);
            }
            steps.push(Step::api(Arc::new(wait)));
        }
        steps.extend(after);
        Ok(steps)
    }
}

/// Is the Node Ready? (Ready condition True.)
pub fn node_ready(n: &Node) -> Result<(), String> {
    let conds = n.status.as_ref().and_then(|s| s.conditions.as_ref());
    match conds.and_then(|c| c.iter().find(|c| c.type_ == "Ready")) {
        Some(c) if c.status == "True" => Ok(()),
        Some(c) => Err(format!(
            "Ready={} ({})",
            c.status,
            c.message.clone().unwrap_or_default()
        )),
        None => Err("no Ready condition yet".into()),
    }
}

/// A server's etcd member as K3s records it on the Node: the member annotation, and the
/// `EtcdIsVoter` condition True (a learner is promoted once it has caught up).
pub fn etcd_voter(n: &Node) -> Result<(), String> {
    use crate::cluster::view::{ETCD_MEMBER_ANNOTATION, ETCD_VOTER_CONDITION};
    let member = n
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ETCD_MEMBER_ANNOTATION))
        .filter(|m| !m.is_empty());
    if member.is_none() {
        return Err(format!(
            "no etcd member yet (annotation {ETCD_MEMBER_ANNOTATION})"
        ));
    }
    let conds = n.status.as_ref().and_then(|s| s.conditions.as_ref());
    match conds.and_then(|c| c.iter().find(|c| c.type_ == ETCD_VOTER_CONDITION)) {
        Some(c) if c.status == "True" => Ok(()),
        Some(c) => Err(format!(
            "etcd member is a learner ({ETCD_VOTER_CONDITION}={})",
            c.status
        )),
        None => Err(format!("no {ETCD_VOTER_CONDITION} condition yet")),
    }
}

/// Waits (bounded) until the joined node is Ready through the API and, for a server, its etcd
/// member is a voter (only then does the next server join: quorum is never at stake).
#[derive(Debug)]
pub struct WaitNodeReady {
    kube: Kube,
    node: String,
    etcd_voter: bool,
    /// After an upgrade: the kubelet must report this version.
    kubelet_version: Option<String>,
}

impl WaitNodeReady {
    pub fn new(kube: Kube, node: &str, etcd_voter: bool) -> WaitNodeReady {
        WaitNodeReady {
            kube,
            node: node.to_string(),
            etcd_voter,
            kubelet_version: None,
        }
    }
    pub fn at_version(mut self, v: &str) -> WaitNodeReady {
        self.kubelet_version = Some(v.to_string());
        self
    }
}

/// The Node's kubelet reports `want`.
pub fn kubelet_at(n: &Node, want: &str) -> Result<(), String> {
    let have = n
        .status
        .as_ref()
        .and_then(|s| s.node_info.as_ref())
        .map(|i| i.kubelet_version.as_str())
        .unwrap_or("");
    if have == want {
        Ok(())
    } else {
        Err(format!("kubelet at {have:?}, waiting for {want}"))
    }
}

#[async_trait::async_trait]
impl ApiAction for WaitNodeReady {
    fn describe(&self) -> String {
        format!(
            "wait until Node {} is Ready{}{} (at most {}s)",
            self.node,
            match &self.kubelet_version {
                Some(v) => format!(" at {v}"),
                None => String::new(),
            },
            if self.etcd_voter {
                " and a voting etcd member"
            } else {
                ""
            },
            NODE_READY_WAIT.as_secs()
        )
    }
    fn mutates(&self) -> bool {
        false
    }
    async fn execute(&self) -> anyhow::Result<()> {
        let what = format!("Node {} Ready", self.node);
        wait_for(&what, NODE_READY_WAIT, Duration::from_secs(2), || async {
            Ok(match self.kube.get_opt::<Node>(None, &self.node).await? {
                None => Probe::Waiting("not registered yet".into()),
                Some(n) => match node_ready(&n)
                    .and_then(|()| match &self.kubelet_version {
                        Some(v) => kubelet_at(&n, v),
                        None => Ok(()),
                    })
                    .and_then(|()| {
                        if self.etcd_voter {
                            etcd_voter(&n)
                        } else {
                            Ok(())
                        }
                    }) {
                    Ok(()) => Probe::Done(()),
                    Err(why) => Probe::Waiting(why),
                },
            })
        })
        .await
        .map_err(|e| anyhow!("{}: {e}; see `journalctl -u k3s` on it", self.node))
    }
}

/// `stack status` rows: each node's Ready condition, when the API answers.
pub async fn nodes_ready_rows(ctx: &RunCtx) -> Vec<(String, HostStatus)> {
    let Ok(kube) = cluster_api::client(ctx).await else {
        return vec![];
    };
    match kube.list::<Node>(None, &Selector::all()).await {
        Ok(nodes) => nodes
            .iter()
            .map(|n| {
                let name = n.metadata.name.clone().unwrap_or_default();
                let r = node_ready(n);
                (
                    format!("node {name}"),
                    HostStatus {
                        installed: true,
                        version: n
                            .status
                            .as_ref()
                            .and_then(|s| s.node_info.as_ref())
                            .map(|i| i.kubelet_version.clone()),
                        healthy: r.is_ok(),
                        message: r.err().unwrap_or_else(|| "Ready".into()),
                    },
                )
            })
            .collect(),
        Err(e) => vec![(
            "cluster API".into(),
            HostStatus {
                message: format!("not answering: {e}"),
                ..Default::default()
            },
        )],
    }
}
