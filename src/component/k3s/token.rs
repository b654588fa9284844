//! The cluster's join tokens: generated once from the OS CSPRNG, kept in OpenBao at
//! `<instance>/k3s` (keys `cluster-token`, `agent-token`, and later `kubeconfig`), never
//! regenerated once stored.
//!
//! On a re-run the first server's `/var/lib/rancher/k3s/server/token` is read and compared with
//! OpenBao's. K3s always writes that file in the *secure* format (docs.k3s.io/cli/token):
//! `K10<sha256 of the cluster CA>::<username>:<password>`, the username `server` for the server
//! token (the agent token file holds `...::node:<password>`). The password part is what the
//! first server was started with (`token:` in config.yaml); a short token such as ours is what
//! K3s puts after `server:`. A user may also have stored a full secure token: then both are
//! compared by their credentials.
//!
//! Mismatch messages show fingerprints (a sha256 prefix), never the tokens.

use rand::rngs::OsRng;
use rand::Rng;
use sha2::{Digest, Sha256};

/// The secret's path below the instance (the store prefixes `<instance>/`).
pub const PATH: &str = "k3s";
pub const KEY_CLUSTER_TOKEN: &str = "cluster-token";
pub const KEY_AGENT_TOKEN: &str = "agent-token";
pub const KEY_KUBECONFIG: &str = "kubeconfig";

/// Where K3s keeps the tokens on a server.
pub const SERVER_TOKEN_FILE: &str = "/var/lib/rancher/k3s/server/token";
pub const AGENT_TOKEN_FILE: &str = "/var/lib/rancher/k3s/server/agent-token";

/// Generated token length: 48 alphanumerics ≈ 285 bits; no `:` so K3s never mistakes it for a
/// `username:password` pair, safe unquoted in YAML.
pub const LEN: usize = 48;

/// `<instance>/k3s`, for messages.
pub fn path(instance: &str) -> String {
    format!("{instance}/{PATH}")
}

/// A fresh token from the OS random source.
pub fn generate() -> String {
    OsRng
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(LEN)
        .map(char::from)
        .collect()
}

/// `sha256:1a2b3c4d5e6f`: enough to tell two tokens apart in a message, useless to an attacker.
pub fn fingerprint(token: &str) -> String {
    let h = hex::encode(Sha256::digest(token.as_bytes()));
    format!("sha256:{}", &h[..12])
}

/// The two tokens a node's config.yaml carries (servers both, agents the agent token).
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    /// `token:` on servers: joins servers and encrypts the bootstrap data.
    pub cluster: String,
    /// `agent-token:` on servers, `token:` on agents: joins agents only.
    pub agent: String,
}

impl Tokens {
    pub fn generate() -> Tokens {
        Tokens {
            cluster: generate(),
            agent: generate(),
        }
    }
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tokens {{ cluster: {}, agent: {} }}",
            fingerprint(&self.cluster),
            fingerprint(&self.agent)
        )
    }
}

/// A token as K3s writes it, or as a user gave it.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedToken {
    /// sha256 of the cluster CA (hex), for secure tokens.
    pub ca_hash: Option<String>,
    /// `server` / `node` for `username:password` credentials, None for a bare secret.
    pub username: Option<String>,
    /// The password (or bearer token): what `token:` in config.yaml carries.
    pub secret: String,
}

impl std::fmt::Debug for ParsedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedToken")
            .field("ca_hash", &self.ca_hash)
            .field("username", &self.username)
            .field("secret", &fingerprint(&self.secret))
            .finish()
    }
}

/// Parse a token file's content (or a configured token). Errors never quote the content.
pub fn parse(text: &str) -> Result<ParsedToken, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("the token is empty".into());
    }
    let Some(rest) = t.strip_prefix("K10") else {
        return Ok(ParsedToken {
            ca_hash: None,
            username: None,
            secret: t.to_string(),
        });
    };
    let (hash, creds) = rest.split_once("::").ok_or(
        "the token starts with K10 but has no `::` after the CA hash (expected K10<ca-sha256>::<credentials>)",
    )?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "the CA hash in the K10 token is not 64 hex digits (it has {} characters)",
            hash.len()
        ));
    }
    if creds.is_empty() {
        return Err("the K10 token has no credentials after `::`".into());
    }
    let (username, secret) = match creds.split_once(':') {
        Some((u, p)) if !u.is_empty() && !p.is_empty() => (Some(u.to_string()), p.to_string()),
        Some(_) => return Err("the K10 token's credentials are not `username:password`".into()),
        None => (None, creds.to_string()),
    };
    Ok(ParsedToken {
        ca_hash: Some(hash.to_ascii_lowercase()),
        username,
        secret,
    })
}

/// Does the token the cluster runs with (the server's token file) belong to the stored one?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    Match,
    /// Different secrets: never rejoin silently (k3s #3888: "bootstrap data already found and
    /// encrypted with different token").
    Mismatch {
        cluster: String,
        stored: String,
    },
}

/// Compare the first server's token file with the token kept in OpenBao.
pub fn compare(server_file: &str, stored: &str) -> Result<TokenCheck, String> {
    let running = parse(server_file).map_err(|e| format!("{SERVER_TOKEN_FILE}: {e}"))?;
    let stored_p = parse(stored).map_err(|e| format!("the stored cluster-token: {e}"))?;
    let hashes_differ =
        matches!((&running.ca_hash, &stored_p.ca_hash), (Some(a), Some(b)) if a != b);
    if running.secret == stored_p.secret && !hashes_differ {
        Ok(TokenCheck::Match)
    } else {
        Ok(TokenCheck::Mismatch {
            cluster: fingerprint(&running.secret),
            stored: fingerprint(&stored_p.secret),
        })
    }
}

/// The message that stops a run on a mismatch.
pub fn mismatch_message(host: &str, instance: &str, cluster: &str, stored: &str) -> String {
    format!(
        "k3s token mismatch on {host}: the cluster runs with token {cluster} ({SERVER_TOKEN_FILE}), \
         OpenBao has {stored} at {}:{KEY_CLUSTER_TOKEN}. Joining with the stored token would fail \
         or split the cluster. If the cluster is right, store its token: \
         `foundry secret set {PATH} {KEY_CLUSTER_TOKEN} -` with the part after `::server:` of that file; \
         if OpenBao is right, this cluster was built by someone else: uninstall it first",
        path(instance)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "a3f1c2e4b5d6a7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70";

    #[test]
    fn generated_tokens_are_long_alphanumeric_and_distinct() {
        let a = generate();
        let b = generate();
        assert_eq!(a.len(), LEN);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn parses_what_k3s_writes() {
        let server = format!("K10{CA}::server:s3cr3tTokenValue\n");
        let p = parse(&server).unwrap();
        assert_eq!(p.ca_hash.as_deref(), Some(CA));
        assert_eq!(p.username.as_deref(), Some("server"));
        assert_eq!(p.secret, "s3cr3tTokenValue");
        let agent = parse(&format!("K10{CA}::node:agentPw")).unwrap();
        assert_eq!(agent.username.as_deref(), Some("node"));
        assert_eq!(agent.secret, "agentPw");
        let bootstrap = parse(&format!("K10{CA}::abcdef.0123456789abcdef")).unwrap();
        assert_eq!(bootstrap.username, None);
        assert_eq!(bootstrap.secret, "abcdef.0123456789abcdef");
        let short = parse("plainsecret\n").unwrap();
        assert_eq!((short.ca_hash, short.secret), (None, "plainsecret".into()));
    }

    #[test]
    fn malformed_tokens_are_refused_without_quoting_them() {
        for bad in [
            "".to_string(),
            "K10deadbeef::server:pw".into(),
            format!("K10{CA}server:pw"),
            format!("K10{CA}::"),
            format!("K10{CA}:::pw"),
        ] {
            let e = parse(&bad).unwrap_err();
            assert!(!e.contains("pw"), "{e}");
        }
    }

    #[test]
    fn compare_matches_short_and_secure_forms() {
        let file = format!("K10{CA}::server:tok123\n");
        assert_eq!(compare(&file, "tok123").unwrap(), TokenCheck::Match);
        assert_eq!(compare(&file, &file).unwrap(), TokenCheck::Match);
        let other_ca = format!("K10{}::server:tok123", "0".repeat(64));
        assert!(matches!(
            compare(&file, &other_ca).unwrap(),
            TokenCheck::Mismatch { .. }
        ));
        match compare(&file, "other").unwrap() {
            TokenCheck::Mismatch { cluster, stored } => {
                assert_eq!(cluster, fingerprint("tok123"));
                assert_eq!(stored, fingerprint("other"));
                let m = mismatch_message("node-1", "foundry-core", &cluster, &stored);
                assert!(m.contains(&cluster) && m.contains(&stored), "{m}");
                assert!(!m.contains("tok123") && !m.contains("other "), "{m}");
                assert!(m.contains("foundry-core/k3s:cluster-token"), "{m}");
            }
            TokenCheck::Match => panic!("different tokens matched"),
        }
    }

    #[test]
    fn fingerprint_is_a_stable_sha256_prefix() {
        // sha256("abc") = ba7816bf8f01cfea...
        assert_eq!(fingerprint("abc"), "sha256:ba7816bf8f01");
    }
}
