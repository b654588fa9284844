//! The resolver chain: backends asked in order for a reference; the first that has it wins.
//! The standard local order is `secrets::standard_chain()`; OpenBao is pushed by its own module.

use super::env::var_name;
use super::reference::SecretRef;
use crate::redact;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

/// One place secrets can come from.
pub trait Resolver: Send + Sync {
    /// Short name shown in messages: `env`, `file`, `openbao`.
    fn name(&self) -> &str;
    /// The value, `Ok(None)` when this backend doesn't have it, an error when the backend itself
    /// failed (unreachable, unreadable). Errors must not contain the value.
    fn lookup<'a>(
        &'a self,
        instance: &'a str,
        r: &'a SecretRef,
    ) -> BoxFuture<'a, Result<Option<String>, ResolveError>>;
    /// Where exactly this backend looked, for a miss message (e.g. the file path).
    fn describe(&self, instance: &str, r: &SecretRef) -> String {
        let _ = (instance, r);
        self.name().to_string()
    }
}

#[derive(Debug, Clone)]
pub enum ResolveError {
    /// No backend had the reference.
    NotFound {
        reference: String,
        instance: String,
        tried: Vec<String>,
        env_var: String,
        path: String,
        key: String,
    },
    /// A backend failed; the chain stops there rather than fall back to a possibly stale value.
    Backend {
        backend: String,
        reference: String,
        message: String,
    },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::NotFound { reference, instance, tried, env_var, path, key } => write!(
                f,
                "secret {reference} not found for instance {instance} (tried {}); set {env_var}, or store it with `foundry secret set {path} {key} -`",
                tried.join(", ")
            ),
            ResolveError::Backend { backend, reference, message } => write!(f, "{backend}: cannot look up {reference}: {message}"),
        }
    }
}

impl std::error::Error for ResolveError {}

/// Resolvers in priority order, with a per-process cache.
pub struct Chain {
    resolvers: Vec<Box<dyn Resolver>>,
    cache: Mutex<HashMap<(String, String, String), String>>,
}

impl Chain {
    pub fn empty() -> Chain {
        Chain {
            resolvers: Vec::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Add a backend after the existing ones (OpenBao goes last: local overrides win).
    pub fn push(&mut self, r: Box<dyn Resolver>) {
        self.resolvers.push(r);
    }

    pub fn names(&self) -> Vec<&str> {
        self.resolvers.iter().map(|r| r.name()).collect()
    }

    /// The value of `r` in `instance`. Registered with `redact` before it is returned.
    pub async fn resolve(&self, instance: &str, r: &SecretRef) -> Result<String, ResolveError> {
        let ck = (instance.to_string(), r.path.clone(), r.key.clone());
        if let Some(v) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&ck)
        {
            return Ok(v.clone());
        }
        let reference = SecretRef {
            span: 0..0,
            ..r.clone()
        }
        .to_string();
        let mut tried = Vec::new();
        for res in &self.resolvers {
            match res.lookup(instance, r).await {
                Ok(Some(v)) => {
                    redact::register(&v);
                    tracing::debug!("{reference} resolved from {}", res.name());
                    self.cache
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(ck, v.clone());
                    return Ok(v);
                }
                Ok(None) => tried.push(res.describe(instance, r)),
                Err(e) => return Err(e),
            }
        }
        Err(ResolveError::NotFound {
            reference,
            instance: instance.to_string(),
            tried,
            env_var: var_name(instance, r),
            path: r.path.clone(),
            key: r.key.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed in-memory backend: stands in for a real one only to test the chain's ordering.
    struct Fixed(&'static str, Option<&'static str>);
    impl Resolver for Fixed {
        fn name(&self) -> &str {
            self.0
        }
        fn lookup<'a>(
            &'a self,
            _: &'a str,
            _: &'a SecretRef,
        ) -> BoxFuture<'a, Result<Option<String>, ResolveError>> {
            Box::pin(async move { Ok(self.1.map(str::to_string)) })
        }
    }

    #[tokio::test]
    async fn first_backend_with_the_value_wins_and_it_is_registered() {
        let mut c = Chain::empty();
        c.push(Box::new(Fixed("a", None)));
        c.push(Box::new(Fixed("b", Some("chain-secret-b"))));
        c.push(Box::new(Fixed("c", Some("chain-secret-c"))));
        let r = SecretRef::new("x/y", "k").unwrap();
        assert_eq!(c.resolve("inst", &r).await.unwrap(), "chain-secret-b");
        assert!(redact::contains_secret("... chain-secret-b ..."));
    }

    #[tokio::test]
    async fn a_miss_names_reference_backends_and_variable() {
        let mut c = Chain::empty();
        c.push(Box::new(Fixed("env", None)));
        c.push(Box::new(Fixed("file", None)));
        let r = SecretRef::new("hosts/node-1", "sudo_password").unwrap();
        let e = c.resolve("foundry-core", &r).await.unwrap_err().to_string();
        assert!(e.contains("${secret:hosts/node-1:sudo_password}"), "{e}");
        assert!(e.contains("tried env, file"), "{e}");
        assert!(
            e.contains("FOUNDRY_SECRET_FOUNDRY_CORE__HOSTS__NODE_1__SUDO_PASSWORD"),
            "{e}"
        );
    }
}
