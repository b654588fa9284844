//! The run context: everything a component, a phase or a step may read during one run, in one
//! value that is passed down (no globals, nothing reached for).
//!
//! - the stack **as written** (references unresolved) and the instance;
//! - the hosts: connected on first use (one connection per host per run), facts gathered once;
//! - secrets, resolved when a phase asks for them ([`RunCtx::resolve`]): a value generated
//!   earlier in the run can be referenced later, and a command that needs no value never fails
//!   on one;
//! - the run's one OpenBao store, opened on first use ([`RunCtx::openbao`]);
//! - typed outputs one phase publishes and a later one reads ([`Outputs`]);
//! - the host filter (`--host`), dry-run, `--yes`, the run log and the progress view.

use super::phase::HostSet;
use crate::config::load::Loaded;
use crate::config::path::FieldPath;
use crate::config::{HostConfig, SshDefaults, StackConfig};
use crate::host::facts::{self, Facts};
use crate::openbao::resolver::{LazyStore, OpenbaoResolver};
use crate::openbao::SecretStore;
use crate::run::log::RunLogHandle;
use crate::run::progress::Progress;
use crate::secrets::resolve::resolve_section;
use crate::secrets::Chain;
use crate::ssh::{Pool, Remote, Target};
use std::any::{Any, TypeId};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::{OnceCell, Semaphore};

/// Opens the connection to a host. The SSH [`Pool`] is the real one; engine unit tests use a
/// test double that answers from recorded outputs.
#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    async fn connect(&self, t: &Target) -> anyhow::Result<Arc<dyn Remote>>;
    async fn close_all(&self);
}

#[async_trait::async_trait]
impl Connector for Pool {
    async fn connect(&self, t: &Target) -> anyhow::Result<Arc<dyn Remote>> {
        Ok(Arc::new(self.get(t).await?))
    }
    async fn close_all(&self) {
        Pool::close_all(self).await
    }
}

/// A connected host: its stack.yaml entry (references resolved), the connection and its facts.
#[derive(Clone)]
pub struct RemoteHost {
    pub config: HostConfig,
    pub remote: Arc<dyn Remote>,
    pub facts: Arc<Facts>,
}

impl RemoteHost {
    pub fn name(&self) -> &str {
        &self.config.hostname
    }
}

/// Typed values published by one phase for later ones (Zot's mirror settings, K3s's join
/// token, the kubeconfig): one slot per type, so a reader names the type it wants.
#[derive(Default)]
pub struct Outputs {
    slots: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Outputs {
    pub fn put<T: Any + Send + Sync>(&self, value: T) {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(TypeId::of::<T>(), Arc::new(value));
    }

    pub fn get<T: Any + Send + Sync + Clone>(&self) -> Option<T> {
        self.slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>().cloned())
    }
}

/// Which hosts a run may touch: every target, or only the named ones (`--host`).
#[derive(Debug, Clone, Default)]
pub struct HostFilter(Option<BTreeSet<String>>);

impl HostFilter {
    pub fn all() -> HostFilter {
        HostFilter(None)
    }
    pub fn only<I: IntoIterator<Item = String>>(names: I) -> HostFilter {
        HostFilter(Some(names.into_iter().collect()))
    }
    pub fn admits(&self, host: &str) -> bool {
        self.0.as_ref().is_none_or(|s| s.contains(host))
    }
    pub fn names(&self) -> Option<&BTreeSet<String>> {
        self.0.as_ref()
    }
}

/// How a run is set up (what `RunCtx::new` needs besides the stack and the connector).
pub struct RunOptions {
    pub instance: String,
    pub dry_run: bool,
    pub assume_yes: bool,
    pub filter: HostFilter,
    pub log: RunLogHandle,
    pub progress: Arc<Progress>,
}

type HostSlot = Arc<OnceCell<RemoteHost>>;

pub struct RunCtx {
    /// The stack as written: `${secret:…}` references are still in place. Resolve what a
    /// phase needs with [`RunCtx::resolve`].
    pub stack: Arc<StackConfig>,
    pub instance: String,
    pub dry_run: bool,
    pub assume_yes: bool,
    pub filter: HostFilter,
    pub log: RunLogHandle,
    pub progress: Arc<Progress>,
    pub outputs: Outputs,
    loaded: Arc<Loaded>,
    chain: Chain,
    openbao: LazyStore,
    connector: Arc<dyn Connector>,
    hosts: Mutex<HashMap<String, HostSlot>>,
    parallel: Arc<Semaphore>,
    notes: Mutex<Vec<String>>,
}

impl RunCtx {
    /// `chain` holds the local backends (environment, `~/.foundryvars`); the stack's OpenBao
    /// is added behind them, opened only when a lookup reaches it.
    pub fn new(
        loaded: Loaded,
        mut chain: Chain,
        connector: Arc<dyn Connector>,
        o: RunOptions,
    ) -> Arc<RunCtx> {
        let stack = Arc::new(loaded.config.clone());
        let openbao = LazyStore::new(stack.clone(), &o.instance, o.log.clone());
        if openbao.configured() {
            chain.push(Box::new(OpenbaoResolver::new(openbao.clone())));
        }
        let parallel = Arc::new(Semaphore::new(stack.ssh.parallel.max(1)));
        Arc::new(RunCtx {
            stack,
            instance: o.instance,
            dry_run: o.dry_run,
            assume_yes: o.assume_yes,
            filter: o.filter,
            log: o.log,
            progress: o.progress,
            outputs: Outputs::default(),
            loaded: Arc::new(loaded),
            chain,
            openbao,
            connector,
            hosts: Mutex::new(HashMap::new()),
            parallel,
            notes: Mutex::new(Vec::new()),
        })
    }

    /// `section` (found at `path` in stack.yaml) with its secret references resolved.
    pub async fn resolve<T>(&self, path: &FieldPath, section: &T) -> anyhow::Result<T>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        resolve_section(section, path, &self.loaded, &self.chain, &self.instance).await
    }

    /// The stack's OpenBao store, opened on first use and shared by the whole run.
    pub async fn openbao(&self) -> anyhow::Result<Arc<SecretStore>> {
        self.openbao.get().await
    }

    /// The lazily opened store itself (for code that asks "is there one?" first).
    pub fn openbao_handle(&self) -> &LazyStore {
        &self.openbao
    }

    /// The SSH target of a host: its login secrets (password, sudo password, key material in
    /// `ssh_key`) resolved now, because connecting needs them.
    pub async fn target(&self, h: &HostConfig) -> anyhow::Result<(HostConfig, Target)> {
        let i = self
            .stack
            .hosts
            .iter()
            .position(|x| x.hostname == h.hostname)
            .unwrap_or(0);
        let host = self
            .resolve(&FieldPath::root().key("hosts").index(i), h)
            .await?;
        let ssh: SshDefaults = self
            .resolve(&FieldPath::root().key("ssh"), &self.stack.ssh)
            .await?;
        let t = Target::from_host(&host, &ssh);
        Ok((host, t))
    }

    /// The connected host with its facts (both once per run).
    pub async fn host(&self, h: &HostConfig) -> anyhow::Result<RemoteHost> {
        let slot = {
            let mut m = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
            m.entry(h.hostname.clone()).or_default().clone()
        };
        slot.get_or_try_init(|| async {
            let (config, target) = self.target(h).await?;
            let remote = self.connector.connect(&target).await?;
            let facts = Arc::new(facts::gather(remote.as_ref()).await?);
            Ok(RemoteHost {
                config,
                remote,
                facts,
            })
        })
        .await
        .cloned()
    }

    /// Hosts already connected this run (for API phases that want them, e.g. key migration).
    pub fn connected(&self) -> Vec<RemoteHost> {
        let m = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        m.values().filter_map(|s| s.get().cloned()).collect()
    }

    /// The bound on hosts worked on at once.
    pub(crate) fn parallel(&self) -> Arc<Semaphore> {
        self.parallel.clone()
    }

    /// Close every connection (end of a command).
    pub async fn close(&self) {
        self.connector.close_all().await;
    }

    /// A line about the whole stack (a warning, "initialised OpenBao …"): shown with the
    /// current component's result.
    pub fn note(&self, line: impl Into<String>) {
        let line = crate::redact::scrub(&line.into());
        self.notes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }

    /// The notes since the last call (the engine takes them after each component).
    pub(crate) fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The hosts of `hosts` a phase of this kind works on, then the host filter (a leader
    /// outside the filter is not replaced by another host: the phase has no host then).
    pub(crate) fn hosts_for(&self, set: HostSet, mut hosts: Vec<HostConfig>) -> Vec<HostConfig> {
        match set {
            HostSet::Leader => hosts.truncate(1),
            HostSet::Api => hosts.clear(),
            HostSet::Parallel | HostSet::Serial => {}
        }
        hosts.retain(|h| self.filter.admits(&h.hostname));
        hosts
    }
}

/// A connector for runs that reach no host (API-only tests and tools): every connect fails.
pub struct NoHosts;

#[async_trait::async_trait]
impl Connector for NoHosts {
    async fn connect(&self, t: &Target) -> anyhow::Result<Arc<dyn Remote>> {
        anyhow::bail!("{}: this run connects to no host", t.label())
    }
    async fn close_all(&self) {}
}

impl RunOptions {
    /// Silent progress, every host, no `--yes`.
    pub fn quiet(instance: &str, log: RunLogHandle, dry_run: bool) -> RunOptions {
        RunOptions {
            instance: instance.to_string(),
            dry_run,
            assume_yes: true,
            filter: HostFilter::all(),
            log,
            progress: Progress::silent(),
        }
    }
}

impl RunCtx {
    /// A context over a stack held as a value (tests, tools): it is written out as YAML and
    /// loaded back, so error locations point into that text.
    pub fn for_stack(
        stack: &StackConfig,
        connector: Arc<dyn Connector>,
        o: RunOptions,
    ) -> anyhow::Result<Arc<RunCtx>> {
        let text = serde_yaml::to_string(stack)?;
        let loaded = crate::config::load::load_str(std::path::Path::new("stack.yaml"), &text)?;
        Ok(RunCtx::new(
            loaded,
            crate::secrets::standard_chain(),
            connector,
            o,
        ))
    }
}

impl std::fmt::Debug for RunCtx {
    // Hand-written: the context holds secrets (the chain's cache) and connections.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunCtx")
            .field("instance", &self.instance)
            .field("dry_run", &self.dry_run)
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}
