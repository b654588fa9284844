//! Where foundry keeps the OpenBao root token and unseal keys of an instance: the OS keyring
//! (service `foundry`, account `<instance>/openbao`), or — when there is no keyring (headless
//! machines, CI) — a JSON file `~/.foundry/openbao/<instance>.json` (file 0600, dir 0700). The
//! fallback is always announced on stderr. `FOUNDRY_KEYRING=file` forces the file,
//! `FOUNDRY_KEYRING=keyring` forbids it.

use crate::redact;
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const KEYRING_SERVICE: &str = "foundry";
/// `file` | `keyring` | unset (keyring, else file).
pub const KEYRING_ENV: &str = "FOUNDRY_KEYRING";
/// A token that overrides the stored root token (e.g. a less privileged one).
pub const TOKEN_ENV: &str = "FOUNDRY_OPENBAO_TOKEN";

/// A keyring that does not answer within this time counts as absent (a D-Bus call can hang).
const KEYRING_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct Credentials {
    pub root_token: String,
    pub unseal_keys: Vec<String>,
    /// Keys needed to unseal.
    #[serde(default)]
    pub threshold: Option<u8>,
    /// The address OpenBao was initialised through (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// RFC 3339 time of initialisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Credentials {{ root_token: ***, {} unseal key(s) }}",
            self.unseal_keys.len()
        )
    }
}

impl Credentials {
    fn register(&self) {
        redact::register(&self.root_token);
        for k in &self.unseal_keys {
            redact::register(k);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Keyring { account: String },
    File(PathBuf),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Keyring { account } => write!(
                f,
                "the OS keyring (service `{KEYRING_SERVICE}`, account `{account}`)"
            ),
            Location::File(p) => write!(f, "{} (mode 0600)", p.display()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Auto,
    FileOnly,
    KeyringOnly,
}

fn mode() -> anyhow::Result<Mode> {
    match std::env::var(KEYRING_ENV).unwrap_or_default().as_str() {
        "" | "auto" => Ok(Mode::Auto),
        "file" => Ok(Mode::FileOnly),
        "keyring" => Ok(Mode::KeyringOnly),
        other => bail!("{KEYRING_ENV}={other}: expected `file`, `keyring` or `auto`"),
    }
}

/// The keyring account of an instance.
pub fn account(instance: &str) -> String {
    format!("{instance}/openbao")
}

/// `~/.foundry/openbao/<instance>.json`.
pub fn file_path(instance: &str) -> anyhow::Result<PathBuf> {
    if instance.is_empty() || instance.starts_with('.') || instance.contains(['/', '\\', '\0']) {
        bail!("instance name `{instance}` cannot be used in a file name");
    }
    Ok(crate::paths::foundry_home()
        .join("openbao")
        .join(format!("{instance}.json")))
}

/// Run a blocking keyring call off the async threads, with a time limit.
async fn keyring_call<T: Send + 'static>(
    f: impl FnOnce() -> keyring::Result<T> + Send + 'static,
) -> Result<T, String> {
    match tokio::time::timeout(KEYRING_TIMEOUT, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(r)) => r.map_err(|e| e.to_string()),
        Ok(Err(e)) => Err(format!("keyring call failed: {e}")),
        Err(_) => Err(format!(
            "the keyring did not answer within {}s",
            KEYRING_TIMEOUT.as_secs()
        )),
    }
}

async fn keyring_get(account: &str) -> Result<Option<String>, String> {
    let account = account.to_string();
    let r = keyring_call(move || {
        let e = keyring::Entry::new(KEYRING_SERVICE, &account)?;
        match e.get_password() {
            Ok(s) => Ok(Some(s)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        }
    })
    .await?;
    Ok(r)
}

async fn keyring_set(account: &str, secret: &str) -> Result<(), String> {
    let (a, s) = (account.to_string(), secret.to_string());
    keyring_call(move || keyring::Entry::new(KEYRING_SERVICE, &a)?.set_password(&s)).await?;
    // Read it back: a backend that accepts writes but keeps nothing must not be trusted with
    // the only copy of the unseal keys.
    match keyring_get(account).await? {
        Some(back) if back == secret => Ok(()),
        _ => Err("the keyring accepted the secret but did not return it".into()),
    }
}

/// Load the stored credentials of `instance` (keyring first, then the file). `None` when
/// foundry has none. Every value is registered for redaction.
pub async fn load(instance: &str) -> anyhow::Result<Option<(Credentials, Location)>> {
    let m = mode()?;
    let acct = account(instance);
    if m != Mode::FileOnly {
        match keyring_get(&acct).await {
            Ok(Some(s)) => {
                let c: Credentials = serde_json::from_str(&s).with_context(|| {
                    format!("the OpenBao credentials in the OS keyring (account `{acct}`) are not valid JSON")
                })?;
                c.register();
                return Ok(Some((c, Location::Keyring { account: acct })));
            }
            Ok(None) => {}
            Err(e) if m == Mode::KeyringOnly => {
                bail!("{KEYRING_ENV}=keyring but the OS keyring is not usable: {e}")
            }
            Err(e) => tracing::debug!("keyring unavailable ({e}); trying the file"),
        }
        if m == Mode::KeyringOnly {
            return Ok(None);
        }
    }
    let path = file_path(instance)?;
    match read_file(&path)? {
        Some(c) => {
            c.register();
            Ok(Some((c, Location::File(path))))
        }
        None => Ok(None),
    }
}

/// Store the credentials of `instance`: keyring, else the file (announced on stderr).
pub async fn save(instance: &str, creds: &Credentials) -> anyhow::Result<Location> {
    creds.register();
    let m = mode()?;
    let acct = account(instance);
    let json = serde_json::to_string(creds)?;
    if m != Mode::FileOnly {
        match keyring_set(&acct, &json).await {
            Ok(()) => return Ok(Location::Keyring { account: acct }),
            Err(e) if m == Mode::KeyringOnly => {
                bail!("{KEYRING_ENV}=keyring but storing in the OS keyring failed: {e}")
            }
            Err(e) => {
                let path = file_path(instance)?;
                eprintln!(
                    "foundry: no usable OS keyring ({}); storing the OpenBao credentials in {} (mode 0600) instead",
                    redact::scrub(&e),
                    path.display()
                );
            }
        }
    }
    let path = file_path(instance)?;
    write_file(&path, creds)?;
    Ok(Location::File(path))
}

fn read_file(path: &Path) -> anyhow::Result<Option<Credentials>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(md) = std::fs::metadata(path) {
            if md.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    "{} is readable by other users; run `chmod 600 {}`",
                    path.display(),
                    path.display()
                );
            }
        }
    }
    let c = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid OpenBao credentials JSON", path.display()))?;
    Ok(Some(c))
}

/// Write atomically: a 0600 temp file in the 0700 directory, then rename.
fn write_file(path: &Path, creds: &Credentials) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = path.parent().context("credentials path has no directory")?;
    crate::paths::private_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("chmod 700 {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("creds"),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(serde_json::to_string_pretty(creds)?.as_bytes())
        .and_then(|_| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// The token foundry uses for an instance: `FOUNDRY_OPENBAO_TOKEN`, else the stored root token.
pub async fn token(instance: &str) -> anyhow::Result<Option<String>> {
    if let Ok(t) = std::env::var(TOKEN_ENV) {
        if !t.is_empty() {
            redact::register(&t);
            return Ok(Some(t));
        }
    }
    Ok(load(instance).await?.map(|(c, _)| c.root_token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_is_private_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("openbao").join("inst.json");
        let c = Credentials {
            root_token: "s.abcdefgh".into(),
            unseal_keys: vec!["k1k1k1".into(), "k2k2k2".into()],
            threshold: Some(2),
            address: Some("http://h:8200".into()),
            created: None,
        };
        write_file(&path, &c).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
        assert!(read_file(&path).unwrap().unwrap() == c);
        // Overwrite works (atomic rename over the old file).
        write_file(&path, &c).unwrap();
        assert!(read_file(&dir.path().join("none.json")).unwrap().is_none());
    }

    #[test]
    fn debug_hides_secrets() {
        let c = Credentials {
            root_token: "s.topsecret".into(),
            unseal_keys: vec!["unsealkey1".into()],
            threshold: None,
            address: None,
            created: None,
        };
        let d = format!("{c:?}");
        assert!(!d.contains("topsecret") && !d.contains("unsealkey1"));
    }

    #[test]
    fn instance_names_cannot_escape_the_directory() {
        assert!(file_path("../x").is_err());
        assert!(file_path(".hidden").is_err());
        assert!(file_path("").is_err());
        assert!(file_path("foundry-core")
            .unwrap()
            .ends_with("openbao/foundry-core.json"));
    }
}
