//! OpenBao as a backend of the resolver chain: `${secret:PATH:KEY}` in instance INSTANCE is key
//! KEY of the KV v2 secret `secret/<INSTANCE>/<PATH>`. A missing path or key is `Ok(None)` (the
//! chain reports the miss); sealed, unreachable or a refused token is an error, so the chain
//! stops rather than carry on without a secret that exists.

use super::reference::SecretRef;
use super::resolver::{ResolveError, Resolver};
use crate::config::StackConfig;
use crate::openbao::{address, creds, SecretStore};
use crate::run::log::RunLogHandle;
use futures::future::BoxFuture;

pub struct OpenbaoResolver {
    store: SecretStore,
}

impl OpenbaoResolver {
    pub fn new(store: SecretStore) -> OpenbaoResolver {
        OpenbaoResolver { store }
    }

    /// A resolver for the stack's OpenBao when there is one to ask: an address (an `openbao`
    /// host or `openbao.address`) and a token (env, keyring or file). `None` otherwise — before
    /// OpenBao is installed the chain simply has no OpenBao backend.
    pub async fn for_stack(
        stack: &StackConfig,
        instance: &str,
        log: RunLogHandle,
    ) -> anyhow::Result<Option<OpenbaoResolver>> {
        if address::api_address(stack).is_err() || creds::token(instance).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(OpenbaoResolver::new(
            SecretStore::connect(stack, instance, log).await?,
        )))
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
            // The chain names the instance per lookup; the store's own instance is only its
            // default, so build the KV path here.
            let path = format!("{instance}/{}", r.path);
            match self.store.client().kv_get(&path).await {
                Ok(Some(mut data)) => Ok(data.remove(&r.key)),
                Ok(None) => Ok(None),
                Err(e) => Err(ResolveError::Backend {
                    backend: "openbao".into(),
                    reference: reference(r),
                    message: e.to_string(),
                }),
            }
        })
    }

    fn describe(&self, instance: &str, r: &SecretRef) -> String {
        format!(
            "openbao ({} secret/{instance}/{} key {})",
            self.store.client().address(),
            r.path,
            r.key
        )
    }
}
