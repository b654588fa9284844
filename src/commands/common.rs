//! What most commands share: load the stack, resolve its secrets, and set up a run (lock,
//! run log, SSH pool, engine).

use crate::cli::GlobalOpts;
use crate::component::context::{HostFilter, RunOptions};
use crate::component::RunCtx;
use crate::config::load::{self, Loaded};
use crate::config::validate::{self, Severity};
use crate::config::StackConfig;
use crate::error::{fail, ExitClass};
use crate::openbao::resolver::{LazyStore, OpenbaoResolver};
use crate::openbao::SecretStore;
use crate::run::lock::{self, StackLock};
use crate::run::log::{RunLog, RunLogHandle};
use crate::run::progress::Progress;
use crate::secrets::resolve::resolve_config;
use crate::secrets::{standard_chain, Chain};
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

/// The resolver chain: environment, ~/.foundryvars, then the stack's OpenBao when it has one
/// (opened only when a lookup reaches it).
pub fn chain_for(stack: Option<&StackConfig>, instance: &str) -> Chain {
    let mut chain = standard_chain();
    if let Some(stack) = stack {
        let store = LazyStore::new(Arc::new(stack.clone()), instance, RunLog::disabled());
        if store.configured() {
            chain.push(Box::new(OpenbaoResolver::new(store)));
        }
    }
    chain
}

/// The chain for commands that may run without a stack file (secret get/set).
pub async fn chain(g: &GlobalOpts) -> anyhow::Result<Chain> {
    let stack = load::load(&g.config_path()).ok().map(|l| l.config);
    Ok(chain_for(stack.as_ref(), &g.instance))
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
    let chain = chain_for(Some(&loaded.config), &g.instance);
    resolve_config(&loaded, &chain, &g.instance).await
}

/// What kind of run a command sets up.
pub struct RunKind<'a> {
    /// Names the run log (`stack-install`, `component-status`, ...).
    pub command: &'a str,
    /// Takes the stack lock and handles Ctrl-C gracefully.
    pub mutating: bool,
    pub dry_run: bool,
    /// Only these hosts (`--host`); empty: all.
    pub hosts: &'a [String],
}

impl<'a> RunKind<'a> {
    /// A read-only run over every host (status, listings, checks).
    pub fn read(command: &'a str) -> RunKind<'a> {
        RunKind {
            command,
            mutating: false,
            dry_run: true,
            hosts: &[],
        }
    }
}

pub struct RunSetup {
    pub ctx: Arc<RunCtx>,
    pub log: RunLogHandle,
    _lock: Option<StackLock>,
}

/// Set up a run: load and validate stack.yaml (references stay unresolved until a phase needs
/// them), take the stack lock for mutating runs, open the run log, and build the run context.
pub async fn setup(g: &GlobalOpts, kind: RunKind<'_>) -> anyhow::Result<RunSetup> {
    setup_with(g, kind, |_| Ok(())).await
}

/// [`setup`] with the loaded stack changed in memory first (e.g. `cluster upgrade --version`,
/// which writes stack.yaml only once the run has succeeded).
pub async fn setup_with(
    g: &GlobalOpts,
    kind: RunKind<'_>,
    edit: impl FnOnce(&mut Loaded) -> anyhow::Result<()>,
) -> anyhow::Result<RunSetup> {
    let mut loaded = load_checked(g)?;
    edit(&mut loaded)?;
    setup_loaded(g, kind, loaded)
}

/// [`setup`] for a stack the command has loaded and checked already (its warnings shown once).
pub fn setup_loaded(g: &GlobalOpts, kind: RunKind<'_>, loaded: Loaded) -> anyhow::Result<RunSetup> {
    for h in kind.hosts {
        if loaded.config.host(h).is_none() {
            let known: Vec<&str> = loaded
                .config
                .hosts
                .iter()
                .map(|h| h.hostname.as_str())
                .collect();
            return Err(fail(
                ExitClass::Usage,
                format!(
                    "--host {h}: no such host in {} (hosts: {})",
                    g.config_path().display(),
                    known.join(", ")
                ),
            ));
        }
    }
    let lock = if kind.mutating {
        Some(lock::acquire(&g.config_path(), kind.command)?)
    } else {
        None
    };
    let log = RunLog::create(&crate::paths::logs_dir(), kind.command)?;
    log.event(
        None,
        "start",
        serde_json::json!({ "command": kind.command, "config": g.config_path(), "hosts": kind.hosts }),
    );
    let opts = SshOptions::standard(
        g.accept_new_host_keys,
        Duration::from_secs(loaded.config.ssh.connect_timeout),
    );
    let pool = Pool::new(opts, log.clone(), loaded.config.ssh.parallel);
    let filter = if kind.hosts.is_empty() {
        HostFilter::all()
    } else {
        HostFilter::only(kind.hosts.iter().cloned())
    };
    let ctx = RunCtx::new(
        loaded,
        standard_chain(),
        pool,
        RunOptions {
            instance: g.instance.clone(),
            dry_run: kind.dry_run,
            assume_yes: g.yes,
            filter,
            log: log.clone(),
            progress: Progress::new(g),
        },
    );
    if kind.mutating {
        crate::run::interrupt::install();
    }
    Ok(RunSetup {
        ctx,
        log,
        _lock: lock,
    })
}
