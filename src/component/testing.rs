//! A test double for hosts: [`Recorded`] answers commands from recorded outputs instead of a
//! real SSH session, and [`RecordedHosts`] is the connector that hands them out. It lets the
//! engine and plan logic be unit-tested without root or the test bed; the bed tests
//! (`tests/engine.rs` and the component tests) remain the proof on real hosts.
//!
//! Every command and upload is appended to a shared journal as `host: label`, so a test can
//! assert the order of execution across hosts and phases.

use super::context::Connector;
use crate::ssh::{Cmd, Output, Remote, SudoMode, Target, Upload};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the facts script prints on a Debian 12 host with podman (recorded on a bed host; the
/// sudo probe answers `ok` as for root).
pub const DEBIAN_FACTS: &str = "podman=podman version 4.3.1\nhostname=HOST\nos_id=debian\nos_version=12\nos_pretty=Debian GNU/Linux 12 (bookworm)\narch=x86_64\nkernel=6.1.0-28-amd64\ninit=systemd\nvirt=none\ndisk_kb=20000000\nlisten=0016\nuser=root\nsudo=ok\n";

pub type Journal = Arc<Mutex<Vec<String>>>;

/// One host's recorded answers: the first rule whose needle is in the command's label or
/// script answers; unmatched commands succeed with no output.
pub struct Recorded {
    name: String,
    sudo: SudoMode,
    rules: Vec<(String, Output)>,
    journal: Journal,
}

impl Recorded {
    pub fn new(name: &str, journal: Journal) -> Recorded {
        let facts = DEBIAN_FACTS.replace("HOST", name);
        Recorded {
            name: name.to_string(),
            sudo: SudoMode::None,
            rules: vec![("gather host facts".into(), ok(&facts))],
            journal,
        }
    }

    /// Answer commands containing `needle` with `out` (rules added later are tried first).
    pub fn answer(mut self, needle: &str, out: Output) -> Recorded {
        self.rules.insert(0, (needle.to_string(), out));
        self
    }
}

pub fn ok(stdout: &str) -> Output {
    Output {
        exit: 0,
        stdout: stdout.to_string(),
        stderr: String::new(),
    }
}

pub fn failed(exit: u32, stderr: &str) -> Output {
    Output {
        exit,
        stdout: String::new(),
        stderr: stderr.to_string(),
    }
}

#[async_trait::async_trait]
impl Remote for Recorded {
    fn name(&self) -> &str {
        &self.name
    }
    fn label(&self) -> String {
        format!("{} (recorded)", self.name)
    }
    fn sudo_mode(&self) -> &SudoMode {
        &self.sudo
    }
    async fn exec(&self, c: &Cmd) -> anyhow::Result<Output> {
        let label = c.display_label();
        self.journal
            .lock()
            .unwrap()
            .push(format!("{}: {label}", self.name));
        Ok(self
            .rules
            .iter()
            .find(|(n, _)| label.contains(n.as_str()) || c.script.contains(n.as_str()))
            .map(|(_, o)| o.clone())
            .unwrap_or_else(|| ok("")))
    }
    async fn upload(&self, u: &Upload) -> anyhow::Result<()> {
        self.journal
            .lock()
            .unwrap()
            .push(format!("{}: upload {}", self.name, u.path));
        Ok(())
    }
    async fn read_file(&self, path: &str, _sudo: bool) -> anyhow::Result<Option<Vec<u8>>> {
        self.journal
            .lock()
            .unwrap()
            .push(format!("{}: read {path}", self.name));
        Ok(None)
    }
}

/// Hands out the recorded hosts by stack.yaml name; an unknown name fails like an unreachable
/// host.
#[derive(Default)]
pub struct RecordedHosts {
    hosts: HashMap<String, Arc<Recorded>>,
}

impl RecordedHosts {
    pub fn with(mut self, r: Recorded) -> RecordedHosts {
        self.hosts.insert(r.name.clone(), Arc::new(r));
        self
    }
}

#[async_trait::async_trait]
impl Connector for RecordedHosts {
    async fn connect(&self, t: &Target) -> anyhow::Result<Arc<dyn Remote>> {
        match self.hosts.get(&t.name) {
            Some(r) => Ok(r.clone()),
            None => anyhow::bail!("{}: connection refused (no recording)", t.label()),
        }
    }
    async fn close_all(&self) {}
}
