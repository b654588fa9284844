//! SSH login keys in OpenBao: `secret/<instance>/ssh-keys/<host>` with keys `private` and
//! `public`, and the move of foundry-generated key files (`~/.foundry/keys/<host>` and
//! `<host>.pub`) into it once OpenBao exists.

use super::store::SecretStore;
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A key pair as stored. Debug never shows the private half.
#[derive(Clone, PartialEq, Eq)]
pub struct SshKeyPair {
    pub private: String,
    pub public: String,
}

impl std::fmt::Debug for SshKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SshKeyPair {{ private: ***, public: {:?} }}",
            self.public
        )
    }
}

fn key_path(host: &str) -> String {
    format!("ssh-keys/{host}")
}

impl SecretStore {
    /// Store (replace) the login key of `host`.
    pub async fn put_ssh_key(
        &self,
        host: &str,
        private_pem: &str,
        public: &str,
    ) -> anyhow::Result<()> {
        let mut m = BTreeMap::new();
        m.insert("private".to_string(), private_pem.to_string());
        m.insert("public".to_string(), public.to_string());
        self.put_many(&key_path(host), m).await
    }

    /// The login key of `host`, if OpenBao has one.
    pub async fn get_ssh_key(&self, host: &str) -> anyhow::Result<Option<SshKeyPair>> {
        let Some(mut d) = self.get_all(&key_path(host)).await? else {
            return Ok(None);
        };
        Ok(d.remove("private").map(|private| SshKeyPair {
            private,
            public: d.remove("public").unwrap_or_default(),
        }))
    }
}

/// What a migration did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migration {
    /// Hosts whose key files moved into OpenBao (local files deleted).
    pub moved: Vec<String>,
    /// Key files left in place, each with the reason.
    pub kept: Vec<String>,
}

/// Move every `~/.foundry/keys/<host>` (+ `.pub`) into OpenBao: write, read back and compare,
/// then delete the local files. Returns the hosts moved.
pub async fn migrate_local_keys(store: &SecretStore) -> anyhow::Result<Vec<String>> {
    Ok(migrate_keys_in(store, &crate::paths::keys_dir(), &[])
        .await?
        .moved)
}

/// Move the key files in `dir` into OpenBao, except those in `keep` (paths something still
/// reads from disk, e.g. a host's `ssh_key` in stack.yaml). A key that OpenBao already holds
/// with different content is kept locally and reported, never overwritten.
pub async fn migrate_keys_in(
    store: &SecretStore,
    dir: &Path,
    keep: &[PathBuf],
) -> anyhow::Result<Migration> {
    let mut out = Migration::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.path())
        .collect();
    files.sort();
    for private_path in files {
        let Some(host) = private_path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if host.ends_with(".pub") || host.starts_with('.') {
            continue;
        }
        let host = host.to_string();
        if super::store::check_path(&host).is_err() {
            out.kept.push(format!(
                "{}: not a host name foundry can store",
                private_path.display()
            ));
            continue;
        }
        if keep.iter().any(|k| same_file(k, &private_path)) {
            out.kept.push(format!(
                "{}: still used as `ssh_key` in stack.yaml",
                private_path.display()
            ));
            continue;
        }
        let private = std::fs::read_to_string(&private_path)
            .with_context(|| format!("reading {}", private_path.display()))?;
        crate::redact::register(&private);
        let public_path = PathBuf::from(format!("{}.pub", private_path.display()));
        let public = match std::fs::read_to_string(&public_path) {
            Ok(s) => s.trim_end().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", public_path.display())),
        };
        match store.get_ssh_key(&host).await? {
            Some(existing) if existing.private != private => {
                out.kept.push(format!(
                    "{}: OpenBao already holds a different key for `{host}`; not overwriting it",
                    private_path.display()
                ));
                continue;
            }
            Some(_) => {}
            None => store.put_ssh_key(&host, &private, &public).await?,
        }
        // Delete only what OpenBao demonstrably holds.
        match store.get_ssh_key(&host).await? {
            Some(back) if back.private == private => {}
            _ => anyhow::bail!(
                "the SSH key of `{host}` did not read back from OpenBao as written; {} kept",
                private_path.display()
            ),
        }
        std::fs::remove_file(&private_path)
            .with_context(|| format!("removing {}", private_path.display()))?;
        if public_path.exists() {
            std::fs::remove_file(&public_path)
                .with_context(|| format!("removing {}", public_path.display()))?;
        }
        out.moved.push(host);
    }
    Ok(out)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
