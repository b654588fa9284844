//! The typed secret store other components use: KV v2 at `secret/`, every path under the
//! instance (`secret/<instance>/<path>`). Values returned are registered for redaction.

use super::address;
use super::client::Client;
use super::creds;
use super::error::OpenbaoError;
use crate::config::StackConfig;
use crate::redact;
use crate::run::log::RunLogHandle;
use anyhow::bail;
use rand::Rng;
use std::collections::BTreeMap;

/// Letters and digits: safe in URLs, shells, YAML and config files without quoting.
pub const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Check-and-set retries when another writer changed the same secret in between.
const CAS_ATTEMPTS: usize = 5;

pub struct SecretStore {
    client: Client,
    instance: String,
}

impl SecretStore {
    /// Connect to the stack's OpenBao: address from config (`openbao.address` or
    /// `http(s)://<first openbao host>:<port>`), token from `FOUNDRY_OPENBAO_TOKEN`, else the
    /// keyring/file where foundry stored it at initialisation. Makes no request yet.
    pub async fn connect(
        stack: &StackConfig,
        instance: &str,
        log: RunLogHandle,
    ) -> anyhow::Result<SecretStore> {
        let addr = address::api_address(stack)?;
        let token = creds::token(instance)
            .await?
            .ok_or_else(|| OpenbaoError::NoToken {
                instance: instance.to_string(),
                file: creds::file_path(instance)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| "~/.foundry/openbao/".into()),
            })?;
        Ok(SecretStore::with_client(
            Client::new(&addr, Some(token), log)?,
            instance,
        ))
    }

    /// A store over an existing client (tests, or a caller that already has one).
    pub fn with_client(client: Client, instance: &str) -> SecretStore {
        SecretStore {
            client,
            instance: instance.to_string(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The KV path of `path` under this instance.
    pub fn full_path(&self, path: &str) -> anyhow::Result<String> {
        check_path(path)?;
        Ok(format!("{}/{}", self.instance, path.trim_matches('/')))
    }

    /// One key of the secret at `<instance>/<path>`; `None` when the path or the key is absent.
    pub async fn get(&self, path: &str, key: &str) -> anyhow::Result<Option<String>> {
        let full = self.full_path(path)?;
        Ok(self
            .client
            .kv_get(&full)
            .await?
            .and_then(|mut d| d.remove(key)))
    }

    /// Like [`get`](Self::get), but a missing path and a missing key are distinct errors.
    pub async fn require(&self, path: &str, key: &str) -> anyhow::Result<String> {
        let full = self.full_path(path)?;
        let Some(mut data) = self.client.kv_get(&full).await? else {
            return Err(OpenbaoError::MissingPath { path: full }.into());
        };
        match data.remove(key) {
            Some(v) => Ok(v),
            None => Err(OpenbaoError::MissingKey {
                path: full,
                key: key.to_string(),
                existing: if data.is_empty() {
                    "none".into()
                } else {
                    data.keys().cloned().collect::<Vec<_>>().join(", ")
                },
            }
            .into()),
        }
    }

    /// Every key of the secret at `<instance>/<path>` (`None` when absent).
    pub async fn get_all(&self, path: &str) -> anyhow::Result<Option<BTreeMap<String, String>>> {
        Ok(self.client.kv_get(&self.full_path(path)?).await?)
    }

    /// Set one key, keeping the other keys at that path.
    pub async fn put(&self, path: &str, key: &str, value: &str) -> anyhow::Result<()> {
        let mut one = BTreeMap::new();
        one.insert(key.to_string(), value.to_string());
        self.put_many(path, one).await
    }

    /// Set several keys at once, keeping the others. A check-and-set write, so a concurrent
    /// writer's keys are never lost: re-read and retry when the version moved.
    pub async fn put_many(
        &self,
        path: &str,
        values: BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        check_key_names(values.keys())?;
        for v in values.values() {
            redact::register(v);
        }
        let full = self.full_path(path)?;
        for _ in 0..CAS_ATTEMPTS {
            let (current, version) = self.client.kv_read(&full).await?;
            let mut data = current.unwrap_or_default();
            if values.iter().all(|(k, v)| data.get(k) == Some(v)) {
                return Ok(());
            }
            data.extend(values.clone());
            if self.client.kv_put_cas(&full, &data, Some(version)).await? {
                return Ok(());
            }
        }
        bail!("writing `{full}` in OpenBao: another writer kept changing it ({CAS_ATTEMPTS} attempts); try again")
    }

    /// Names directly under `<instance>/<prefix>` (folders end in `/`), sorted.
    pub async fn list(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let p = prefix.trim_matches('/');
        let full = if p.is_empty() {
            self.instance.clone()
        } else {
            self.full_path(p)?
        };
        let mut v = self.client.kv_list(&full).await?;
        v.sort();
        Ok(v)
    }

    /// Delete the secret at `<instance>/<path>` (all keys and versions).
    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        Ok(self.client.kv_delete(&self.full_path(path)?).await?)
    }

    /// The value of `key`, generating (CSPRNG, letters and digits) and storing one of `len`
    /// characters when there is none. `true` when it was generated now.
    pub async fn get_or_generate(
        &self,
        path: &str,
        key: &str,
        len: usize,
    ) -> anyhow::Result<(String, bool)> {
        if let Some(v) = self.get(path, key).await? {
            return Ok((v, false));
        }
        let v = random_string(len, ALNUM)?;
        let stored = self.put_if_absent(path, key, &v).await?;
        let generated = stored == v;
        Ok((stored, generated))
    }

    /// Store `value` under `key` unless the key already has a value; returns the value stored
    /// afterwards (a concurrent writer's value wins and is never overwritten).
    pub async fn put_if_absent(
        &self,
        path: &str,
        key: &str,
        value: &str,
    ) -> anyhow::Result<String> {
        check_key_names(std::iter::once(&key.to_string()))?;
        redact::register(value);
        let full = self.full_path(path)?;
        for _ in 0..CAS_ATTEMPTS {
            let (current, version) = self.client.kv_read(&full).await?;
            let mut data = current.unwrap_or_default();
            if let Some(existing) = data.get(key) {
                return Ok(existing.clone());
            }
            data.insert(key.to_string(), value.to_string());
            if self.client.kv_put_cas(&full, &data, Some(version)).await? {
                return Ok(value.to_string());
            }
        }
        bail!("writing `{full}` in OpenBao: another writer kept changing it ({CAS_ATTEMPTS} attempts); try again")
    }
}

/// A random string from `alphabet` (the OS CSPRNG, uniform). Registered for redaction.
pub fn random_string(len: usize, alphabet: &[u8]) -> anyhow::Result<String> {
    if len == 0 {
        bail!("a generated secret needs a length of at least 1");
    }
    if alphabet.len() < 2 {
        bail!("a generated secret needs an alphabet of at least 2 characters");
    }
    let mut rng = rand::rngs::OsRng;
    let s: String = (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect();
    redact::register(&s);
    Ok(s)
}

/// A secret path: `/`-separated segments of letters, digits, `_`, `.`, `-` (no `.`/`..`).
pub fn check_path(path: &str) -> anyhow::Result<()> {
    let p = path.trim_matches('/');
    if p.is_empty() {
        bail!("empty secret path");
    }
    for seg in p.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." || !seg.chars().all(name_char) {
            bail!("secret path `{path}`: segment `{seg}` must be letters, digits, `_`, `.` or `-` (and not `.` or `..`)");
        }
    }
    Ok(())
}

fn check_key_names<'a>(mut keys: impl Iterator<Item = &'a String>) -> anyhow::Result<()> {
    if let Some(k) = keys.find(|k| k.is_empty() || !k.chars().all(name_char)) {
        bail!("secret key `{k}` must be letters, digits, `_`, `.` or `-`");
    }
    Ok(())
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_strings_use_the_alphabet_and_differ() {
        let a = random_string(40, ALNUM).unwrap();
        let b = random_string(40, ALNUM).unwrap();
        assert_eq!(a.len(), 40);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        let h = random_string(64, b"0123456789abcdef").unwrap();
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(random_string(0, ALNUM).is_err());
        assert!(random_string(5, b"a").is_err());
    }

    #[test]
    fn paths_are_checked() {
        assert!(check_path("truenas").is_ok());
        assert!(check_path("ssh-keys/node-1").is_ok());
        assert!(check_path("a/../b").is_err());
        assert!(check_path("a b").is_err());
        assert!(check_path("").is_err());
    }
}
