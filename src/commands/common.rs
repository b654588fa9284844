//! What most commands share: load the stack, resolve its secrets, and set up a run (lock,
//! run log, SSH pool, engine).

use crate::cli::GlobalOpts;
use crate::component::engine::Engine;
use crate::config::load::{self, Loaded};
use crate::config::validate::{self, Severity};
use crate::config::StackConfig;
use crate::error::{fail, ExitClass};
use crate::openbao::SecretStore;
use crate::run::lock::{self, StackLock};
use crate::run::log::{RunLog, RunLogHandle};
use crate::run::progress::Progress;
use crate::secrets::openbao::OpenbaoResolver;
use crate::secrets::resolve::resolve_config;
use crate::secrets::resolver::Chain;
use crate::ssh::{Pool, SshOptions};
use std::sync::Arc;
use std::time::Duration;

/// Load stack.yaml (unresolved: secret references still in place) and validate it: errors stop
/// the run (exit 3, each with file:line:column and the field), warnings are printed.
pub fn load_checked(g: &GlobalOpts) -> anyhow::Result<Loaded> {
    let path = g.config_path();
    let loaded = load::load_cli(&path)?;
    let findings = validate::validate(&loaded);
    let file = path.display().to_string();
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.render(&file))
        .collect();
    if !g.quiet {
        for f in findings.iter().filter(|f| f.severity == Severity::Warning) {
            eprintln!("{}", f.render(&file));
        }
    }
    if !errors.is_empty() {
        return Err(fail(
            ExitClass::Config,
            format!("{} is not valid:\n{}", file, errors.join("\n")),
        ));
    }
    Ok(loaded)
}

/// The stack as written (references unresolved): for offline plans and listings.
pub fn load_raw(g: &GlobalOpts) -> anyhow::Result<StackConfig> {
    Ok(load_checked(g)?.config)
}

/// The resolver chain: environment, ~/.foundryvars, then the stack's OpenBao when it exists
/// (an `openbao` host or `components.openbao.address`, and a stored token).
pub async fn chain_for(stack: Option<&StackConfig>, instance: &str) -> anyhow::Result<Chain> {
    let mut chain = Chain::standard();
    if let Some(stack) = stack {
        if let Some(r) = OpenbaoResolver::for_stack(stack, instance, RunLog::disabled()).await? {
            chain.push(Box::new(r));
        }
    }
    Ok(chain)
}

/// The chain for commands that may run without a stack file (secret get/set).
pub async fn chain(g: &GlobalOpts) -> anyhow::Result<Chain> {
    let stack = load::load(&g.config_path()).ok().map(|l| l.config);
    chain_for(stack.as_ref(), &g.instance).await
}

/// The stack's OpenBao secret store, when the stack has one and a token is stored.
pub async fn openbao_store(g: &GlobalOpts) -> anyhow::Result<Option<SecretStore>> {
    let Ok(l) = load::load(&g.config_path()) else {
        return Ok(None);
    };
    if crate::openbao::address::api_address(&l.config).is_err()
        || crate::openbao::creds::token(&g.instance).await?.is_none()
    {
        return Ok(None);
    }
    Ok(Some(
        SecretStore::connect(&l.config, &g.instance, RunLog::disabled()).await?,
    ))
}

/// Load stack.yaml (schema only, no consistency checks) and resolve its secret references: for
/// host commands, which must work on a stack that is still being written.
pub async fn load_resolved_unchecked(g: &GlobalOpts) -> anyhow::Result<StackConfig> {
    let loaded = load::load_cli(&g.config_path())?;
    let chain = chain_for(Some(&loaded.config), &g.instance).await?;
    resolve_config(&loaded, &chain, &g.instance).await
}

/// Load stack.yaml, validate it, and resolve every secret reference through the chain.
pub async fn load_resolved(g: &GlobalOpts) -> anyhow::Result<StackConfig> {
    let loaded = load_checked(g)?;
    let chain = chain_for(Some(&loaded.config), &g.instance).await?;
    resolve_config(&loaded, &chain, &g.instance).await
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
