//! Resolving every secret reference in a loaded stack, and masking secret-bearing fields for
//! display (`config show`, `config get`).

use super::reference::{find_refs, replace_refs};
use super::resolver::Chain;
use crate::config::load::Loaded;
use crate::config::path::{FieldPath, Seg};
use crate::config::schema::StackConfig;
use crate::error::{fail, ExitClass};
use serde_yaml::Value;

/// The stack with every `${secret:...}` replaced by its value. All failures are reported together,
/// each with the reference, the field path and `file:line:col`; never a value.
pub async fn resolve_config(
    l: &Loaded,
    chain: &Chain,
    instance: &str,
) -> Result<StackConfig, anyhow::Error> {
    let mut v: Value = serde_yaml::from_str(&l.source)
        .map_err(|e| fail(ExitClass::Config, format!("{}: {e}", l.path.display())))?;
    let mut problems = Vec::new();
    resolve_value(
        &mut v,
        &FieldPath::root(),
        l,
        chain,
        instance,
        &mut problems,
    )
    .await;
    if !problems.is_empty() {
        let n = problems.len();
        let head = if n == 1 {
            "a secret reference did not resolve".to_string()
        } else {
            format!("{n} secret references did not resolve")
        };
        return Err(fail(
            ExitClass::Config,
            format!("{head}:\n  {}", problems.join("\n  ")),
        ));
    }
    serde_path_to_error::deserialize::<_, StackConfig>(v).map_err(|e| {
        let path = FieldPath::from_serde(e.path());
        // serde's message may quote the (now secret) value: only the field is named.
        fail(ExitClass::Config, format!("{} ({}): the value after resolving secret references does not fit the field's type", path, l.where_is(&path)))
    })
}

/// One section of the stack (a host, a component's settings) with its references resolved:
/// what a phase calls when it needs the values, so that nothing is resolved before it is
/// needed. `base` is the section's path in stack.yaml (for `file:line:col` in errors).
pub async fn resolve_section<T>(
    section: &T,
    base: &FieldPath,
    l: &Loaded,
    chain: &Chain,
    instance: &str,
) -> Result<T, anyhow::Error>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut v = serde_yaml::to_value(section)?;
    let mut problems = Vec::new();
    resolve_value(&mut v, base, l, chain, instance, &mut problems).await;
    if !problems.is_empty() {
        let n = problems.len();
        let head = if n == 1 {
            "a secret reference did not resolve".to_string()
        } else {
            format!("{n} secret references did not resolve")
        };
        return Err(fail(
            ExitClass::Config,
            format!("{head}:\n  {}", problems.join("\n  ")),
        ));
    }
    serde_yaml::from_value(v).map_err(|_| {
        fail(ExitClass::Config, format!("{} ({}): the value after resolving secret references does not fit the field's type", base, l.where_is(base)))
    })
}

/// Depth-first, in file order. Boxed because async recursion needs it.
fn resolve_value<'a>(
    v: &'a mut Value,
    path: &'a FieldPath,
    l: &'a Loaded,
    chain: &'a Chain,
    instance: &'a str,
    problems: &'a mut Vec<String>,
) -> futures::future::BoxFuture<'a, ()> {
    Box::pin(async move {
        match v {
            Value::String(s) => {
                let refs = match find_refs(s) {
                    Ok(r) => r,
                    Err(e) => {
                        problems.push(format!("{} ({}): {e}", path, l.where_is(path)));
                        return;
                    }
                };
                if refs.is_empty() {
                    return;
                }
                let mut values = Vec::with_capacity(refs.len());
                for r in &refs {
                    match chain.resolve(instance, r).await {
                        Ok(val) => values.push(val),
                        Err(e) => {
                            problems.push(format!("{} ({}): {e}", path, l.where_is(path)));
                            return;
                        }
                    }
                }
                let mut it = values.into_iter();
                *s = replace_refs(s, &refs, |_| it.next().unwrap_or_default());
            }
            Value::Sequence(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    resolve_value(item, &path.index(i), l, chain, instance, problems).await;
                }
            }
            Value::Mapping(m) => {
                for (k, item) in m.iter_mut() {
                    let key = k
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("{k:?}"));
                    resolve_value(item, &path.key(&key), l, chain, instance, problems).await;
                }
            }
            Value::Tagged(t) => {
                resolve_value(&mut t.value, path, l, chain, instance, problems).await
            }
            _ => {}
        }
    })
}

/// Does the field at `path` hold a secret? Passwords, tokens, API keys and anything named like
/// them (`*password*`, `*passwd*`, `*token*`, `*secret*`, `*key` / `*_key*`), except the fields
/// that are file paths or numbers: `ssh_key`, `ssh.key`, `tls_key`, `key_shares`, `key_threshold`.
pub fn is_secret_field(path: &FieldPath) -> bool {
    let Some(Seg::Key(name)) = path.0.last() else {
        return false;
    };
    let n = name.to_ascii_lowercase();
    if matches!(
        n.as_str(),
        "ssh_key" | "tls_key" | "key_shares" | "key_threshold"
    ) {
        return false;
    }
    if n == "key" && path.0.len() == 2 && path.0[0] == Seg::Key("ssh".into()) {
        return false;
    }
    ["password", "passwd", "token", "secret", "apikey", "api_key"]
        .iter()
        .any(|w| n.contains(w))
        || n.ends_with("key")
        || n.contains("_key_")
        || n.starts_with("key_")
}

/// Only references (and blanks) in `s`: showing it reveals nothing.
pub fn is_reference_only(s: &str) -> bool {
    match find_refs(s) {
        Ok(refs) if !refs.is_empty() => replace_refs(s, &refs, |_| String::new()).trim().is_empty(),
        _ => false,
    }
}

/// Should the scalar `value` at `path` be shown as `***`?
pub fn should_mask(path: &FieldPath, value: &str) -> bool {
    is_secret_field(path) && !value.is_empty() && !is_reference_only(value)
}

/// Replace literal values of secret fields with `***` in a config rendered as a YAML value;
/// references stay visible (they are names, not secrets). `base` is the path of `v`.
pub fn mask_config(v: &mut Value, base: &FieldPath) {
    match v {
        Value::Mapping(m) => {
            for (k, item) in m.iter_mut() {
                let Some(key) = k.as_str() else { continue };
                let p = base.key(key);
                match item {
                    Value::String(s) if should_mask(&p, s) => {
                        *item = Value::String(crate::redact::MASK.into())
                    }
                    Value::Number(_) | Value::Bool(_) if is_secret_field(&p) => {
                        *item = Value::String(crate::redact::MASK.into())
                    }
                    _ => mask_config(item, &p),
                }
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                mask_config(item, &base.index(i));
            }
        }
        Value::Tagged(t) => mask_config(&mut t.value, base),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::file::{set_at, FileResolver};
    use std::path::Path;

    fn fp(s: &str) -> FieldPath {
        FieldPath::parse(s).unwrap()
    }

    #[test]
    fn which_fields_are_secret() {
        for s in [
            "hosts[0].password",
            "hosts[0].sudo_password",
            "storage.truenas.api_key",
            "components.services[0].env.GITHUB_TOKEN",
            "x.private_key",
            "x.client_secret",
        ] {
            assert!(is_secret_field(&fp(s)), "{s}");
        }
        for s in [
            "hosts[0].ssh_key",
            "ssh.key",
            "components.openbao.tls_key",
            "components.openbao.key_shares",
            "hosts[0].address",
            "components.zot.admin_user",
        ] {
            assert!(!is_secret_field(&fp(s)), "{s}");
        }
    }

    #[test]
    fn masks_literals_but_not_references() {
        let mut v: Value = serde_yaml::from_str("hosts:\n- password: hunter22\n  sudo_password: ${secret:h:p}\n  address: 10.0.0.1\nssh: {key: ~/.ssh/id}\n").unwrap();
        mask_config(&mut v, &FieldPath::root());
        let s = serde_yaml::to_string(&v).unwrap();
        assert!(!s.contains("hunter22"));
        assert!(s.contains("password: '***'"), "{s}");
        assert!(s.contains("${secret:h:p}"));
        assert!(s.contains("~/.ssh/id"));
    }

    const STACK: &str = "cluster:\n  name: lab\n  domain: lab.example.com\n  vip: 10.0.0.50\nhosts:\n  - hostname: a\n    address: 10.0.0.1\n    sudo_password: pre-${secret:hosts/a:sudo}\nstorage:\n  truenas:\n    url: https://nas\n    api_key: ${secret:truenas:api_key}\n    pool: tank\n";

    #[tokio::test]
    async fn resolves_every_reference_through_the_chain() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("vars");
        set_at(&f, "lab", "truenas", "api_key", "resolve-test-key-1").unwrap();
        set_at(&f, "lab", "hosts/a", "sudo", "resolve-test-sudo").unwrap();
        let mut chain = Chain::empty();
        chain.push(Box::new(FileResolver::at(f)));
        let l = crate::config::load::load_str(Path::new("s.yaml"), STACK).unwrap();
        let c = resolve_config(&l, &chain, "lab").await.unwrap();
        assert_eq!(c.storage.truenas.unwrap().api_key, "resolve-test-key-1");
        assert_eq!(
            c.hosts[0].sudo_password.as_deref(),
            Some("pre-resolve-test-sudo")
        );
        assert!(crate::redact::contains_secret("resolve-test-key-1"));
    }

    #[tokio::test]
    async fn misses_name_reference_field_and_position_but_no_value() {
        let t = tempfile::tempdir().unwrap();
        let mut chain = Chain::empty();
        chain.push(Box::new(FileResolver::at(t.path().join("none"))));
        let l = crate::config::load::load_str(Path::new("s.yaml"), STACK).unwrap();
        let e = resolve_config(&l, &chain, "lab").await.unwrap_err();
        assert_eq!(crate::error::class_of(&e), ExitClass::Config);
        let s = format!("{e:#}");
        assert!(s.contains("2 secret references did not resolve"), "{s}");
        assert!(
            s.contains(
                "hosts[0].sudo_password (s.yaml:8:20): secret ${secret:hosts/a:sudo} not found"
            ),
            "{s}"
        );
        assert!(s.contains("storage.truenas.api_key (s.yaml:12:14)"), "{s}");
        assert!(s.contains("FOUNDRY_SECRET_LAB__TRUENAS__API_KEY"), "{s}");
    }
}
