//! User authentication, in this order: the configured key file; otherwise the ssh-agent's keys
//! and the default key files (~/.ssh/id_ed25519, id_ecdsa, id_rsa); then the password when one
//! is configured. Every attempt is remembered so a failure can say what was tried.

use super::handler::ClientHandler;
use super::target::Target;
use crate::paths;
use russh::client::Handle;
use russh::keys::agent::client::AgentClient;
use russh::keys::agent::AgentIdentity;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use russh::MethodSet;
use std::path::Path;
use std::sync::Arc;

/// Why authentication did not succeed; `Display` is the user-facing sentence.
#[derive(Debug)]
pub(crate) struct AuthFailure {
    pub user: String,
    pub tried: Vec<String>,
    pub server_methods: Option<Vec<String>>,
    /// A local problem that stopped us early (unreadable or passphrase-protected key).
    pub local: Option<String>,
}

impl std::fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(l) = &self.local {
            write!(f, "{l}")?;
            if self.tried.is_empty() {
                return Ok(());
            }
            write!(f, "; ")?;
        }
        write!(f, "authentication failed for user {}", self.user)?;
        if self.tried.is_empty() {
            write!(f, ": no key or password to try (no ssh_key configured, no ssh-agent, no ~/.ssh/id_* key)")?;
        } else {
            write!(f, "; tried: {}", self.tried.join(", "))?;
        }
        if let Some(m) = &self.server_methods {
            write!(
                f,
                "; the server accepts: {}",
                if m.is_empty() {
                    "none".into()
                } else {
                    m.join(", ")
                }
            )?;
        }
        Ok(())
    }
}

enum Attempt {
    Ok,
    Denied(MethodSet),
}

/// true on success; on refusal remember what the server still accepts.
fn note(fail: &mut AuthFailure, r: Attempt) -> bool {
    match r {
        Attempt::Ok => true,
        Attempt::Denied(m) => {
            if !m.is_empty() {
                fail.server_methods = Some(method_names(&m));
            }
            false
        }
    }
}

fn method_names(m: &MethodSet) -> Vec<String> {
    m.iter().map(|k| <&str>::from(k).to_string()).collect()
}

/// Authenticate `handle` as `t.user`. Errors from the transport (connection lost) come back as
/// `Err(Err(..))`, a refusal as `Err(Ok(AuthFailure))`.
pub(crate) async fn authenticate(
    h: &mut Handle<ClientHandler>,
    t: &Target,
) -> Result<(), Result<AuthFailure, russh::Error>> {
    let mut fail = AuthFailure {
        user: t.user.clone(),
        tried: Vec::new(),
        server_methods: None,
        local: None,
    };

    if let Some(pem) = &t.key_pem {
        match parse_key(pem) {
            Ok(key) => {
                fail.tried.push("publickey (key from ssh_key's secret)".into());
                if note(&mut fail, with_key(h, &t.user, key).await.map_err(Err)?) {
                    return Ok(());
                }
            }
            Err(KeyLoad::Encrypted(_)) => {
                fail.local = Some("the key in ssh_key is protected by a passphrase: store an unencrypted key in the secret".into())
            }
            Err(KeyLoad::Other(e)) => fail.local = Some(format!("cannot use the key in ssh_key: {e}")),
        }
    } else if let Some(path) = &t.key_path {
        match load_key(path) {
            Ok(key) => {
                fail.tried.push(format!("publickey {}", path.display()));
                if note(&mut fail, with_key(h, &t.user, key).await.map_err(Err)?) {
                    return Ok(());
                }
            }
            Err(KeyLoad::Encrypted(public)) => {
                // OpenSSH would ask for the passphrase; we can't prompt per host mid-run. An agent
                // that holds the key can sign for it, though.
                let mut used_agent = false;
                if let Some(mut agent) = agent().await {
                    if let Ok(ids) = agent.request_identities().await {
                        if let Some(id) = ids.into_iter().find(|i| {
                            identity_key(i).map(|k| k.key_data()) == Some(public.key_data())
                        }) {
                            used_agent = true;
                            fail.tried
                                .push(format!("publickey {} (via ssh-agent)", path.display()));
                            if note(
                                &mut fail,
                                with_agent(h, &t.user, &mut agent, id).await.map_err(Err)?,
                            ) {
                                return Ok(());
                            }
                        }
                    }
                }
                if !used_agent {
                    fail.local = Some(format!(
                        "key {} is protected by a passphrase: add it to ssh-agent (ssh-add {}) or use a key without one",
                        path.display(),
                        path.display()
                    ));
                }
            }
            Err(KeyLoad::Other(e)) => {
                fail.local = Some(format!("cannot use key {}: {e}", path.display()))
            }
        }
    } else {
        let mut seen: Vec<PublicKey> = Vec::new();
        if let Some(mut agent) = agent().await {
            let ids = agent.request_identities().await.unwrap_or_default();
            for id in ids {
                let Some(pk) = identity_key(&id).cloned() else {
                    continue;
                };
                fail.tried
                    .push(format!("publickey {} (ssh-agent)", pk.algorithm()));
                seen.push(pk);
                if note(
                    &mut fail,
                    with_agent(h, &t.user, &mut agent, id).await.map_err(Err)?,
                ) {
                    return Ok(());
                }
            }
        }
        for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
            let path = paths::home().join(".ssh").join(name);
            if !path.exists() {
                continue;
            }
            match load_key(&path) {
                Ok(key) => {
                    if seen
                        .iter()
                        .any(|s| s.key_data() == key.public_key().key_data())
                    {
                        continue;
                    }
                    fail.tried.push(format!("publickey {}", path.display()));
                    if note(&mut fail, with_key(h, &t.user, key).await.map_err(Err)?) {
                        return Ok(());
                    }
                }
                Err(KeyLoad::Encrypted(_)) => fail
                    .tried
                    .push(format!("{} skipped (passphrase-protected)", path.display())),
                Err(KeyLoad::Other(e)) => {
                    fail.tried.push(format!("{} skipped ({e})", path.display()))
                }
            }
        }
    }

    if let Some(pw) = &t.password {
        fail.tried.push("password".into());
        let r = h.authenticate_password(&t.user, pw).await.map_err(Err)?;
        if r.success() {
            return Ok(());
        }
        if let russh::client::AuthResult::Failure {
            remaining_methods, ..
        } = r
        {
            fail.server_methods = Some(method_names(&remaining_methods));
        }
    }
    Err(Ok(fail))
}

enum KeyLoad {
    Encrypted(Box<PublicKey>),
    Other(String),
}

fn load_key(path: &Path) -> Result<PrivateKey, KeyLoad> {
    let text = std::fs::read_to_string(path).map_err(|e| KeyLoad::Other(e.to_string()))?;
    parse_key(&text)
}

fn parse_key(text: &str) -> Result<PrivateKey, KeyLoad> {
    let text = text.trim().to_string() + "\n";
    // An OpenSSH-format key says in clear whether it is encrypted and carries its public half.
    if let Ok(k) = PrivateKey::from_openssh(&text) {
        if k.is_encrypted() {
            return Err(KeyLoad::Encrypted(Box::new(k.public_key().clone())));
        }
    }
    russh::keys::decode_secret_key(&text, None).map_err(|e| match e {
        russh::keys::Error::KeyIsEncrypted => {
            KeyLoad::Other("the key is encrypted (passphrase-protected)".into())
        }
        e => KeyLoad::Other(e.to_string()),
    })
}

async fn with_key(
    h: &mut Handle<ClientHandler>,
    user: &str,
    key: PrivateKey,
) -> Result<Attempt, russh::Error> {
    // RSA signatures need the server's preferred hash (rsa-sha2-512/256); asking costs a wait
    // for the server's extension info, so only RSA keys ask.
    let hash = if key.algorithm().is_rsa() {
        h.best_supported_rsa_hash().await?.flatten()
    } else {
        None
    };
    let r = h
        .authenticate_publickey(user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
        .await?;
    Ok(to_attempt(r))
}

async fn with_agent(
    h: &mut Handle<ClientHandler>,
    user: &str,
    agent: &mut AgentClient<tokio::net::UnixStream>,
    id: AgentIdentity,
) -> Result<Attempt, russh::Error> {
    let Some(pk) = identity_key(&id).cloned() else {
        return Ok(Attempt::Denied(MethodSet::empty()));
    };
    let hash = if pk.algorithm().is_rsa() {
        h.best_supported_rsa_hash().await?.flatten()
    } else {
        None
    };
    match h.authenticate_publickey_with(user, pk, hash, agent).await {
        Ok(r) => Ok(to_attempt(r)),
        // The agent refused to sign (locked, confirmation denied): just not this key.
        Err(_) => Ok(Attempt::Denied(MethodSet::empty())),
    }
}

fn to_attempt(r: russh::client::AuthResult) -> Attempt {
    match r {
        russh::client::AuthResult::Success => Attempt::Ok,
        russh::client::AuthResult::Failure {
            remaining_methods, ..
        } => Attempt::Denied(remaining_methods),
    }
}

fn identity_key(id: &AgentIdentity) -> Option<&PublicKey> {
    match id {
        AgentIdentity::PublicKey { key, .. } => Some(key),
        AgentIdentity::Certificate { .. } => None,
    }
}

async fn agent() -> Option<AgentClient<tokio::net::UnixStream>> {
    if std::env::var_os("SSH_AUTH_SOCK").is_none_or(|v| v.is_empty()) {
        return None;
    }
    AgentClient::connect_env().await.ok()
}
