//! Secrets from environment variables (CI, one-off overrides).
//!
//! `${secret:PATH:KEY}` in instance INSTANCE is read from
//! `FOUNDRY_SECRET_<INSTANCE>__<SEG1>__<SEG2>...__<KEY>`: each part upper-cased, every character
//! other than A-Z and 0-9 turned into `_`, runs of `_` squeezed to one and trimmed from the ends,
//! so `__` only ever separates parts. Example: instance `foundry-core`,
//! `${secret:hosts/node-1:sudo_password}` → `FOUNDRY_SECRET_FOUNDRY_CORE__HOSTS__NODE_1__SUDO_PASSWORD`.
//! Names that differ only in case or in `-`/`.`/`_` share a variable. An empty variable counts
//! as unset.

use super::reference::SecretRef;
use super::resolver::{ResolveError, Resolver};
use futures::future::BoxFuture;

pub const PREFIX: &str = "FOUNDRY_SECRET_";

fn part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        };
        if c == '_' && (out.is_empty() || out.ends_with('_')) {
            continue;
        }
        out.push(c);
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        // A part made only of punctuation: keep it visible rather than vanish.
        out.push('X');
    }
    out
}

/// `FOUNDRY_SECRET_<INSTANCE>__` : every variable of one instance starts with this.
pub fn var_prefix(instance: &str) -> String {
    format!("{PREFIX}{}__", part(instance))
}

/// The variable that holds `r` for `instance`.
pub fn var_name(instance: &str, r: &SecretRef) -> String {
    let mut parts: Vec<String> = r.segments().map(part).collect();
    parts.push(part(&r.key));
    format!("{}{}", var_prefix(instance), parts.join("__"))
}

/// Names (never values) of the set, non-empty variables for `instance`.
pub fn set_vars(instance: &str) -> Vec<String> {
    let prefix = var_prefix(instance);
    let mut v: Vec<String> = std::env::vars_os()
        .filter_map(|(k, val)| {
            let k = k.into_string().ok()?;
            (k.starts_with(&prefix) && !val.is_empty()).then_some(k)
        })
        .collect();
    v.sort();
    v
}

pub struct EnvResolver;

impl Resolver for EnvResolver {
    fn name(&self) -> &str {
        "env"
    }

    fn describe(&self, instance: &str, r: &SecretRef) -> String {
        format!("env {}", var_name(instance, r))
    }

    fn lookup<'a>(
        &'a self,
        instance: &'a str,
        r: &'a SecretRef,
    ) -> BoxFuture<'a, Result<Option<String>, ResolveError>> {
        let name = var_name(instance, r);
        Box::pin(async move {
            match std::env::var_os(&name) {
                None => Ok(None),
                Some(v) if v.is_empty() => Ok(None),
                Some(v) => v
                    .into_string()
                    .map(Some)
                    .map_err(|_| ResolveError::Backend {
                        backend: "env".into(),
                        reference: r.to_string(),
                        message: format!("{name} is not valid UTF-8"),
                    }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names() {
        let r = SecretRef::new("truenas", "api_key").unwrap();
        assert_eq!(
            var_name("foundry-core", &r),
            "FOUNDRY_SECRET_FOUNDRY_CORE__TRUENAS__API_KEY"
        );
        let r = SecretRef::new("hosts/node-1", "sudo_password").unwrap();
        assert_eq!(
            var_name("foundry-core", &r),
            "FOUNDRY_SECRET_FOUNDRY_CORE__HOSTS__NODE_1__SUDO_PASSWORD"
        );
        // `__` inside a name can't be confused with the separator.
        let r = SecretRef::new("a__b", "c").unwrap();
        assert_eq!(var_name("i", &r), "FOUNDRY_SECRET_I__A_B__C");
        let r = SecretRef::new("-", ".x.").unwrap();
        assert_eq!(var_name("i", &r), "FOUNDRY_SECRET_I__X__X");
    }

    #[tokio::test]
    async fn reads_the_variable() {
        let r = SecretRef::new("envtest/unique", "k1").unwrap();
        let name = var_name("inst", &r);
        assert_eq!(EnvResolver.lookup("inst", &r).await.unwrap(), None);
        // The variable name is unique to this test.
        std::env::set_var(&name, "env-value-1");
        assert_eq!(
            EnvResolver.lookup("inst", &r).await.unwrap().as_deref(),
            Some("env-value-1")
        );
        assert_eq!(set_vars("inst"), vec![name.clone()]);
        std::env::set_var(&name, "");
        assert_eq!(EnvResolver.lookup("inst", &r).await.unwrap(), None);
        std::env::remove_var(&name);
    }
}
