//! Phase `preflight` (parallel): the K3s probe on every cluster host, then the rules over all
//! of them at once (some rules compare hosts: "does a cluster exist already", the kube-vip
//! interface of every server). A host with a finding about it (or about stack.yaml) fails with
//! the finding's message, which names host, check and fix. The probes and the rules' outcome
//! are published for the later phases (node-ip, flannel-iface, kube-vip interfaces).

use super::super::config::{node_config, NodeNet};
use super::super::preflight::{self, Finding, Outcome};
use super::super::probe::{self, HostProbe};
use super::super::roles::{self, ClusterNode, NodeRole};
use super::super::token::{self, Tokens};
use super::start::token_check;
use super::tokens::TokensOutput;
use crate::component::{HostSet, Phase, RemoteHost, RunCtx, Step};
use crate::config::StackConfig;
use crate::ssh::Cmd;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// Every probed host's result and the rules' outcome.
#[derive(Clone, Debug, Default)]
pub struct ProbesOutput {
    pub probes: Arc<BTreeMap<String, HostProbe>>,
    pub outcome: Arc<Outcome>,
}

impl ProbesOutput {
    pub fn probe(&self, host: &str) -> Option<&HostProbe> {
        self.probes.get(host)
    }
    /// The kube-vip interface the rules chose per server.
    pub fn server_interfaces(&self) -> &[(String, String)] {
        &self.outcome.server_interfaces
    }
}

/// The server options every server must share, from a rendered server config (tokens and
/// network do not take part in the comparison).
pub fn desired_server(
    stack: &StackConfig,
    nodes: &[ClusterNode],
) -> BTreeMap<&'static str, String> {
    let Some(first) = nodes.iter().find(|n| n.role == NodeRole::FirstServer) else {
        return BTreeMap::new();
    };
    let t = Tokens {
        cluster: String::new(),
        agent: String::new(),
    };
    node_config(stack, first, &t, &NodeNet::default())
        .map(|c| c.must_match())
        .unwrap_or_default()
}

/// The findings that fail `host`: those about it and those about stack.yaml.
pub fn findings_for<'a>(outcome: &'a Outcome, host: &str) -> Vec<&'a Finding> {
    outcome
        .findings
        .iter()
        .filter(|f| f.host() == host || f.host() == "stack")
        .collect()
}

#[derive(Default)]
pub struct Preflight {
    /// Probed once for all hosts by whichever host plans first.
    probed: OnceCell<ProbesOutput>,
}

async fn probe_one(ctx: &RunCtx, name: &str, script: &str) -> Option<(String, HostProbe)> {
    let cfg = ctx.stack.host(name)?.clone();
    let host = ctx.host(&cfg).await.ok()?;
    let out = host
        .remote
        .exec(&Cmd::read(script.to_string()).sudo().label("k3s probe"))
        .await
        .ok()?;
    out.success()
        .then(|| (name.to_string(), probe::parse(&out.stdout)))
}

impl Preflight {
    async fn probe_all(&self, ctx: &RunCtx) -> ProbesOutput {
        let stack = &ctx.stack;
        let nodes = roles::resolve(stack);
        let shown: Vec<String> = nodes
            .iter()
            .map(|n| format!("{} {}", n.host, n.describe()))
            .collect();
        ctx.note(format!("K3s roles: {}", shown.join("; ")));
        let vip = stack
            .cluster
            .vip
            .parse::<Ipv4Addr>()
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        let script = probe::script(vip, &stack.components.host_prep.kernel_modules);
        // The first server is probed (read-only) even when the run is for other hosts only:
        // the rules must see that the cluster exists (its VIP answering is then no conflict).
        let names: Vec<&str> = nodes
            .iter()
            .filter(|n| ctx.filter.admits(&n.host) || n.role == NodeRole::FirstServer)
            .map(|n| n.host.as_str())
            .collect();
        // The phase already runs hosts in parallel; a host that cannot be probed here is
        // reported by the rules as not probed (its own plan then fails with that message).
        let found =
            futures::future::join_all(names.iter().map(|n| probe_one(ctx, n, &script))).await;
        let probes: BTreeMap<String, HostProbe> = found.into_iter().flatten().collect();
        let outcome = preflight::check(stack, &nodes, &probes, &desired_server(stack, &nodes));
        let out = ProbesOutput {
            probes: Arc::new(probes),
            outcome: Arc::new(outcome),
        };
        ctx.outputs.put(out.clone());
        out
    }
}

#[async_trait::async_trait]
impl Phase for Preflight {
    fn title(&self) -> String {
        "preflight".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Parallel
    }
    async fn plan_host(&self, ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        let out = self.probed.get_or_init(|| self.probe_all(ctx)).await;
        let bad = findings_for(&out.outcome, host.name());
        if !bad.is_empty() {
            let msgs: Vec<String> = bad.iter().map(|f| f.message()).collect();
            anyhow::bail!("K3s preflight failed:\n  {}", msgs.join("\n  "));
        }
        // Before any file is written: a first server already running with another token than
        // OpenBao's stops the run here, so no host gets a config.yaml with the wrong token.
        let first = roles::role_of(&ctx.stack, host.name())
            .is_some_and(|n| n.role == NodeRole::FirstServer);
        if let (true, Some(t)) = (
            first,
            ctx.outputs
                .get::<TokensOutput>()
                .and_then(|t| t.known().cloned()),
        ) {
            if let Some(file) = host
                .remote
                .read_file(token::SERVER_TOKEN_FILE, true)
                .await?
            {
                let file = String::from_utf8_lossy(&file).to_string();
                crate::redact::register(file.trim());
                token_check(host.name(), &ctx.instance, &file, &t.cluster)?;
            }
        }
        Ok(vec![])
    }
}
