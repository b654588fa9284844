//! The engine over a toy component with a leader, a serial, a parallel and an API phase, on
//! hosts that are test doubles answering from recorded outputs (`testing.rs`): the order of
//! execution, a failure in the serial phase stopping the later hosts and phases, plans that
//! execute nothing, and the host filter.

use super::api::ApiAction;
use super::context::{HostFilter, RunOptions};
use super::engine::{run_component, Mode};
use super::report::{HostOutcome, PhaseState, StepState};
use super::testing::{failed, Journal, Recorded, RecordedHosts};
use super::{Component, HostSet, HostStatus, Phase, RemoteHost, RunCtx, Step};
use crate::config::{HostConfig, Role, StackConfig};
use crate::run::log::RunLog;
use std::sync::{Arc, Mutex};

const STACK: &str = "cluster: {name: lab, domain: lab.example.com, vip: 10.0.0.100}\nhosts:\n  - {hostname: a, address: 10.0.0.1}\n  - {hostname: b, address: 10.0.0.2}\n  - {hostname: c, address: 10.0.0.3}\n";

struct Toy {
    journal: Journal,
}

struct HostStep {
    title: &'static str,
    on: HostSet,
}

#[async_trait::async_trait]
impl Phase for HostStep {
    fn title(&self) -> String {
        self.title.into()
    }
    fn hosts(&self) -> HostSet {
        self.on
    }
    async fn plan_host(&self, _ctx: &RunCtx, host: &RemoteHost) -> anyhow::Result<Vec<Step>> {
        Ok(vec![Step::exec(
            format!("{} {}", self.title, host.name()),
            format!("true {}", self.title),
        )])
    }
}

#[derive(Debug)]
struct Record(Journal);

#[async_trait::async_trait]
impl ApiAction for Record {
    fn describe(&self) -> String {
        "apply an object".into()
    }
    async fn execute(&self) -> anyhow::Result<()> {
        self.0.lock().unwrap().push("api: apply an object".into());
        Ok(())
    }
}

struct Api(Journal);

#[async_trait::async_trait]
impl Phase for Api {
    fn title(&self) -> String {
        "api".into()
    }
    fn hosts(&self) -> HostSet {
        HostSet::Api
    }
    async fn plan_api(&self, _ctx: &Arc<RunCtx>) -> anyhow::Result<Vec<Step>> {
        Ok(vec![Step::api(Arc::new(Record(self.0.clone())))])
    }
}

#[async_trait::async_trait]
impl Component for Toy {
    fn name(&self) -> &str {
        "toy"
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }
    fn roles(&self) -> &'static [Role] {
        &[]
    }
    fn enabled(&self, _: &StackConfig) -> bool {
        true
    }
    fn describe(&self, _: &StackConfig, _: &HostConfig) -> Vec<String> {
        vec![]
    }
    fn phases(&self) -> Vec<Box<dyn Phase>> {
        vec![
            Box::new(HostStep {
                title: "first",
                on: HostSet::Leader,
            }),
            Box::new(HostStep {
                title: "join",
                on: HostSet::Serial,
            }),
            Box::new(HostStep {
                title: "agent",
                on: HostSet::Parallel,
            }),
            Box::new(Api(self.journal.clone())),
        ]
    }
    fn uninstall_phases(&self) -> Vec<Box<dyn Phase>> {
        vec![]
    }
    async fn status(&self, _: &RunCtx, _: &RemoteHost) -> anyhow::Result<HostStatus> {
        Ok(HostStatus::default())
    }
}

/// A run over hosts a, b, c; `fail_join_on` makes that host's join step exit 1.
fn run_ctx(
    journal: &Journal,
    fail_join_on: Option<&str>,
    dry_run: bool,
    filter: HostFilter,
) -> Arc<RunCtx> {
    let mut hosts = RecordedHosts::default();
    for h in ["a", "b", "c"] {
        let mut r = Recorded::new(h, journal.clone());
        if fail_join_on == Some(h) {
            r = r.answer("true join", failed(1, "join refused"));
        }
        hosts = hosts.with(r);
    }
    let loaded = crate::config::load::load_str(std::path::Path::new("s.yaml"), STACK).unwrap();
    let mut o = RunOptions::quiet("lab", RunLog::disabled(), dry_run);
    o.filter = filter;
    RunCtx::new(loaded, crate::secrets::Chain::empty(), Arc::new(hosts), o)
}

/// The journal without the facts probes (they run once per host, whenever it is first used).
fn executed(journal: &Journal) -> Vec<String> {
    journal
        .lock()
        .unwrap()
        .iter()
        .filter(|l| !l.ends_with("gather host facts"))
        .cloned()
        .collect()
}

fn pos(lines: &[String], l: &str) -> usize {
    lines
        .iter()
        .position(|x| x == l)
        .unwrap_or_else(|| panic!("`{l}` not executed: {lines:#?}"))
}

#[tokio::test]
async fn phases_run_in_order_on_their_host_sets() {
    let journal: Journal = Arc::new(Mutex::new(vec![]));
    let ctx = run_ctx(&journal, None, false, HostFilter::all());
    let toy = Arc::new(Toy {
        journal: journal.clone(),
    });
    let r = run_component(&ctx, toy, Mode::Apply).await;
    assert!(!r.failed(), "{r:#?}");
    let ex = executed(&journal);
    assert_eq!(ex.len(), 1 + 3 + 3 + 1, "{ex:#?}");
    // Leader: only the first host.
    assert_eq!(ex[0], "a: first a");
    assert!(!ex
        .iter()
        .any(|l| l.ends_with("first b") || l.ends_with("first c")));
    // Serial: in file order, after the leader.
    let (ja, jb, jc) = (
        pos(&ex, "a: join a"),
        pos(&ex, "b: join b"),
        pos(&ex, "c: join c"),
    );
    assert!(0 < ja && ja < jb && jb < jc, "{ex:#?}");
    // Parallel: all after the serial phase; the API phase last.
    for h in ["a", "b", "c"] {
        assert!(pos(&ex, &format!("{h}: agent {h}")) > jc, "{ex:#?}");
    }
    assert_eq!(ex.last().unwrap(), "api: apply an object");
    assert_eq!(r.changes(), 8);
}

#[tokio::test]
async fn a_serial_failure_stops_the_later_hosts_and_phases() {
    let journal: Journal = Arc::new(Mutex::new(vec![]));
    let ctx = run_ctx(&journal, Some("b"), false, HostFilter::all());
    let toy = Arc::new(Toy {
        journal: journal.clone(),
    });
    let r = run_component(&ctx, toy, Mode::Apply).await;
    assert!(r.failed());
    let ex = executed(&journal);
    assert_eq!(ex, vec!["a: first a", "a: join a", "b: join b"], "{ex:#?}");
    let join = &r.phases[1];
    assert_eq!(join.hosts[1].outcome, HostOutcome::Failed);
    assert!(join.hosts[1]
        .error
        .as_deref()
        .unwrap()
        .contains("join refused"));
    assert_eq!(join.hosts[1].steps[0].state, StepState::Failed);
    assert_eq!(join.hosts[2].outcome, HostOutcome::NotStarted);
    assert_eq!(r.phases[2].state, PhaseState::NotRun);
    assert_eq!(r.phases[3].state, PhaseState::NotRun);
}

#[tokio::test]
async fn a_plan_executes_nothing_and_lists_every_phase() {
    let journal: Journal = Arc::new(Mutex::new(vec![]));
    let ctx = run_ctx(&journal, None, true, HostFilter::all());
    let toy = Arc::new(Toy {
        journal: journal.clone(),
    });
    let r = run_component(&ctx, toy, Mode::Plan).await;
    assert!(executed(&journal).is_empty(), "{:#?}", executed(&journal));
    let steps: Vec<usize> = r
        .phases
        .iter()
        .map(|p| p.hosts.iter().map(|h| h.steps.len()).sum())
        .collect();
    assert_eq!(steps, vec![1, 3, 3, 1]);
    assert!(r
        .all_hosts()
        .flat_map(|h| &h.steps)
        .all(|s| s.state == StepState::Pending));
}

#[tokio::test]
async fn the_host_filter_keeps_every_phase_to_its_hosts() {
    let journal: Journal = Arc::new(Mutex::new(vec![]));
    let ctx = run_ctx(&journal, None, false, HostFilter::only(["c".to_string()]));
    let toy = Arc::new(Toy {
        journal: journal.clone(),
    });
    let r = run_component(&ctx, toy, Mode::Apply).await;
    assert!(!r.failed(), "{r:#?}");
    // The leader (a) is outside the filter: its phase has no host, and no other host
    // stands in for it.
    let ex = executed(&journal);
    assert_eq!(
        ex,
        vec!["c: join c", "c: agent c", "api: apply an object"],
        "{ex:#?}"
    );
    assert!(
        journal
            .lock()
            .unwrap()
            .iter()
            .all(|l| l.starts_with("c:") || l.starts_with("api:")),
        "a or b contacted"
    );
}
