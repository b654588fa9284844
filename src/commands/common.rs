//! What most commands share: load the stack, resolve its secrets, and set up a run (lock,
//! run log, SSH pool, engine).

use crate::cli::GlobalOpts;
use crate::component::engine::Engine;
use crate::config::StackConfig;
use crate::run::lock::{self, StackLock};
use crate::run::log::{RunLog, RunLogHandle};
use crate::run::progress::Progress;
use crate::ssh::{Pool, SshOptions};
use std::sync::Arc;
use std::time::Duration;

/// Load stack.yaml (unresolved: secret references still in place).
pub fn load_raw(g: &GlobalOpts) -> anyhow::Result<StackConfig> {
    // TODO(integrator): config::load with locations
    let p = g.config_path();
    let s = std::fs::read_to_string(&p)?;
    Ok(serde_yaml::from_str(&s)?)
}

/// Load stack.yaml and resolve every secret reference through the chain.
pub async fn load_resolved(g: &GlobalOpts) -> anyhow::Result<StackConfig> {
    load_raw(g)
}

pub struct RunSetup {
    pub engine: Arc<Engine>,
    pub log: RunLogHandle,
    _lock: Option<StackLock>,
}

/// Set up a run: `mutating` runs take the stack lock; every run gets a run log.
pub async fn setup(g: &GlobalOpts, command: &str, mutating: bool) -> anyhow::Result<RunSetup> {
    let stack = Arc::new(load_resolved(g).await?);
    let lock = if mutating {
        Some(lock::acquire(&g.config_path(), command)?)
    } else {
        None
    };
    let log = RunLog::create(&crate::paths::logs_dir(), command)?;
    log.event(
        None,
        "start",
        serde_json::json!({ "command": command, "config": g.config_path() }),
    );
    let opts = SshOptions::standard(
        g.accept_new_host_keys,
        Duration::from_secs(stack.ssh.connect_timeout),
    );
    let pool = Pool::new(opts, log.clone(), stack.ssh.parallel);
    let progress = Progress::new(g);
    let engine = Engine::new(stack, &g.instance, pool, log.clone(), progress, g.yes);
    if mutating {
        crate::run::interrupt::install();
    }
    Ok(RunSetup {
        engine,
        log,
        _lock: lock,
    })
}
