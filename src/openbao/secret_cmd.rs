//! The OpenBao backend of `foundry secret get|set|list|generate`: thin wrappers over
//! [`SecretStore`] whose errors carry exit classes (sealed/unreachable/bad token: 4; missing
//! path or key: 3) and never contain a value.

use super::error::to_failure;
use super::store::{random_string, SecretStore, ALNUM};
use anyhow::bail;
use serde::Serialize;
use std::collections::VecDeque;

/// One secret in a listing: its path under the instance and its key names (never values).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SecretEntry {
    pub path: String,
    pub keys: Vec<String>,
}

/// How far `list` descends into folders (a guard against a pathological tree).
const MAX_LIST_DEPTH: usize = 32;

/// The value of `key` at `path`; a missing path and a missing key are distinct errors.
pub async fn get(store: &SecretStore, path: &str, key: &str) -> anyhow::Result<String> {
    store.require(path, key).await.map_err(to_failure)
}

/// Store `value` at `path`/`key` (other keys at the path are kept). Returns where it went.
pub async fn set(
    store: &SecretStore,
    path: &str,
    key: &str,
    value: &str,
) -> anyhow::Result<String> {
    store.put(path, key, value).await.map_err(to_failure)?;
    Ok(location(store, path, key))
}

/// Every secret under `prefix` (all when `None`), recursively, with key names only.
pub async fn list(store: &SecretStore, prefix: Option<&str>) -> anyhow::Result<Vec<SecretEntry>> {
    let root = prefix.unwrap_or("").trim_matches('/').to_string();
    let mut out = Vec::new();
    let mut queue: VecDeque<(String, usize)> = VecDeque::from([(root.clone(), 0)]);
    // A prefix may itself name a secret (`list truenas`).
    if !root.is_empty() {
        if let Some(d) = store.get_all(&root).await.map_err(to_failure)? {
            out.push(SecretEntry {
                path: root.clone(),
                keys: d.into_keys().collect(),
            });
        }
    }
    while let Some((folder, depth)) = queue.pop_front() {
        for name in store.list(&folder).await.map_err(to_failure)? {
            let child = if folder.is_empty() {
                name.trim_end_matches('/').to_string()
            } else {
                format!("{folder}/{}", name.trim_end_matches('/'))
            };
            if name.ends_with('/') {
                if depth < MAX_LIST_DEPTH {
                    queue.push_back((child, depth + 1));
                }
            } else if let Some(d) = store.get_all(&child).await.map_err(to_failure)? {
                out.push(SecretEntry {
                    path: child,
                    keys: d.into_keys().collect(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup();
    Ok(out)
}

/// Generate a random value (`alphabet`: `alnum`, `hex`, or a literal set of ASCII characters)
/// and store it. Refuses to replace an existing value — it may be a password in use; replace it
/// on purpose with `foundry secret set`. Returns where it was stored.
pub async fn generate(
    store: &SecretStore,
    path: &str,
    key: &str,
    len: usize,
    alphabet: &str,
) -> anyhow::Result<String> {
    let chars = parse_alphabet(alphabet)?;
    let value = random_string(len, &chars)?;
    let stored = store
        .put_if_absent(path, key, &value)
        .await
        .map_err(to_failure)?;
    if stored != value {
        return Err(crate::error::fail(
            crate::error::ExitClass::General,
            format!(
                "{} exists; use --force to replace it (whatever uses the current value stops working)",
                location(store, path, key)
            ),
        ));
    }
    Ok(location(store, path, key))
}

/// `openbao:secret/<instance>/<path>#<key>`: where a value lives, for messages.
fn location(store: &SecretStore, path: &str, key: &str) -> String {
    format!(
        "openbao:secret/{}/{}#{key}",
        store.instance(),
        path.trim_matches('/')
    )
}

/// `alnum`, `hex`, or the literal characters to draw from (printable ASCII, de-duplicated).
pub fn parse_alphabet(s: &str) -> anyhow::Result<Vec<u8>> {
    match s {
        "alnum" => Ok(ALNUM.to_vec()),
        "hex" => Ok(b"0123456789abcdef".to_vec()),
        lit => {
            if let Some(c) = lit.chars().find(|c| !c.is_ascii_graphic()) {
                bail!(
                    "alphabet: `{}` is not a printable ASCII character (use `alnum`, `hex` or a set like `abc123!`)",
                    c.escape_default()
                );
            }
            let mut v: Vec<u8> = lit.bytes().collect();
            v.sort_unstable();
            v.dedup();
            if v.len() < 2 {
                bail!("alphabet `{lit}` needs at least 2 distinct characters");
            }
            Ok(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabets() {
        assert_eq!(parse_alphabet("alnum").unwrap().len(), 62);
        assert_eq!(parse_alphabet("hex").unwrap().len(), 16);
        assert_eq!(parse_alphabet("aab!").unwrap(), b"!ab".to_vec());
        assert!(parse_alphabet("a").is_err());
        assert!(parse_alphabet("ab c").is_err());
        assert!(parse_alphabet("abé").is_err());
    }
}
