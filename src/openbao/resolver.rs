//! OpenBao as a backend of the resolver chain, and the run's one lazily opened store.
//!
//! `${secret:PATH:KEY}` in instance INSTANCE is key KEY of the KV v2 secret
//! `secret/<INSTANCE>/<PATH>`. A missing path or key is `Ok(None)` (the chain reports the miss);
//! sealed, unreachable or a refused token is an error, so the chain stops rather than carry on
//! without a secret that exists.
//!
//! Nothing here talks to OpenBao before a value is needed: a command that resolves no
//! reference works while OpenBao is sealed or not installed yet.

use super::{address, creds, SecretStore};
use crate::config::StackConfig;
use crate::run::log::RunLogHandle;
use crate::secrets::reference::SecretRef;
use crate::secrets::resolver::{ResolveError, Resolver};
use futures::future::BoxFuture;
use std::sync::Arc;

/// The stack's OpenBao store, opened on first use and then shared by every component, phase
/// and secret lookup of the run. A failure is not kept: a store asked for after this run
/// initialised OpenBao (and stored its token) opens then.
#[derive(Clone)]
pub struct LazyStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Where to open it from; `None` for a store handed in already open.
    stack: Option<Arc<StackConfig>>,
    instance: String,
    log: Option<RunLogHandle>,
    cell: tokio::sync::OnceCell<Arc<SecretStore>>,
}

impl LazyStore {
    pub fn new(stack: Arc<StackConfig>, instance: &str, log: RunLogHandle) -> LazyStore {
        LazyStore {
            inner: Arc::new(Inner {
                stack: Some(stack),
                instance: instance.to_string(),
                log: Some(log),
                cell: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// A store that is open already (a caller that built its own client).
    pub fn opened(store: SecretStore) -> LazyStore {
        LazyStore {
            inner: Arc::new(Inner {
                stack: None,
                instance: store.instance().to_string(),
                log: None,
                cell: tokio::sync::OnceCell::new_with(Some(Arc::new(store))),
            }),
        }
    }

    /// Does the stack have an OpenBao to ask (an `openbao` host or `openbao.address`)?
    pub fn configured(&self) -> bool {
        self.inner.cell.initialized()
            || self
                .inner
                .stack
                .as_ref()
                .is_some_and(|s| address::api_address(s).is_ok())
    }

    /// The API address, for messages.
    fn address(&self) -> Option<String> {
        if let Some(s) = self.inner.cell.get() {
            return Some(s.client().address().to_string());
        }
        address::api_address(self.inner.stack.as_ref()?).ok()
    }

    /// The store; an error names what is missing (no OpenBao in the stack, no token stored).
    pub async fn get(&self) -> anyhow::Result<Arc<SecretStore>> {
        let i = &self.inner;
        i.cell
            .get_or_try_init(|| async {
                let (Some(stack), Some(log)) = (&i.stack, &i.log) else {
                    anyhow::bail!("no OpenBao in this stack");
                };
                SecretStore::connect(stack, &i.instance, log.clone())
                    .await
                    .map(Arc::new)
            })
            .await
            .cloned()
    }

    /// The store when there is one to ask: `None` without an OpenBao in the stack or without a
    /// stored token (before OpenBao is initialised).
    pub async fn get_opt(&self) -> anyhow::Result<Option<Arc<SecretStore>>> {
        if let Some(s) = self.inner.cell.get() {
            return Ok(Some(s.clone()));
        }
        if !self.configured() || creds::token(&self.inner.instance).await?.is_none() {
            return Ok(None);
        }
        self.get().await.map(Some)
    }
}

pub struct OpenbaoResolver {
    store: LazyStore,
}

impl OpenbaoResolver {
    /// A resolver over the run's store; it opens the store only when a reference is looked up.
    pub fn new(store: LazyStore) -> OpenbaoResolver {
        OpenbaoResolver { store }
    }
}

fn reference(r: &SecretRef) -> String {
    format!("${{secret:{}:{}}}", r.path, r.key)
}

impl Resolver for OpenbaoResolver {
    fn name(&self) -> &str {
        "openbao"
    }

    fn lookup<'a>(
        &'a self,
        instance: &'a str,
        r: &'a SecretRef,
    ) -> BoxFuture<'a, Result<Option<String>, ResolveError>> {
        Box::pin(async move {
            let backend = |message: String| ResolveError::Backend {
                backend: "openbao".into(),
                reference: reference(r),
                message,
            };
            let store = match self.store.get_opt().await {
                Ok(Some(s)) => s,
                Ok(None) => return Ok(None),
                Err(e) => return Err(backend(format!("{e:#}"))),
            };
            // The chain names the instance per lookup; the store's own instance is only its
            // default, so build the KV path here.
            let path = format!("{instance}/{}", r.path);
            match store.client().kv_get(&path).await {
                Ok(Some(mut data)) => Ok(data.remove(&r.key)),
                Ok(None) => Ok(None),
                Err(e) => Err(backend(e.to_string())),
            }
        })
    }

    fn describe(&self, instance: &str, r: &SecretRef) -> String {
        match self.store.address() {
            Some(a) => format!("openbao ({a} secret/{instance}/{} key {})", r.path, r.key),
            None => "openbao (not in this stack)".into(),
        }
    }
}
