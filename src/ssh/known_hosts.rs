//! known_hosts: look up a host's recorded keys in every file, decide whether a presented key is
//! known, new, or changed, and record new keys.
//!
//! russh 0.65 ships `russh::keys::known_hosts`, but it stops at the first unparsable matching
//! line, miscounts line numbers after comments, and knows neither wildcards nor `@revoked`, so the
//! file format (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT") is read here.

use hmac::{Hmac, Mac};
use russh::keys::{ssh_key::PublicKey, HashAlg};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where a key was found: for messages that tell the user which line to fix.
#[derive(Debug, Clone)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One known_hosts line that applies to the host being checked.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: PublicKey,
    pub revoked: bool,
    pub at: Location,
}

/// The outcome of checking a presented host key.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// A line records exactly this key.
    Known(Location),
    /// No line applies to this host.
    Unknown,
    /// Lines record other key(s) of the same type: possible man-in-the-middle.
    Changed(Vec<Entry>),
    /// Only keys of other types are recorded; the server did not offer any of them.
    OtherTypes(Vec<Entry>),
    /// The key is marked `@revoked`.
    Revoked(Location),
}

/// `SHA256:...` as OpenSSH prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The name a host is recorded under: `addr`, or `[addr]:port` when the port is not 22.
pub fn host_pattern_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Every entry in `files` that applies to `host:port` (missing files are skipped; unreadable or
/// malformed lines are skipped too, as OpenSSH does).
pub fn entries_for(host: &str, port: u16, files: &[PathBuf]) -> Vec<Entry> {
    let name = host_pattern_name(host, port);
    let mut out = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (i, raw) in text.lines().enumerate() {
            if let Some((revoked, key)) = parse_line(raw, &name) {
                out.push(Entry {
                    key,
                    revoked,
                    at: Location {
                        file: file.clone(),
                        line: i + 1,
                    },
                });
            }
        }
    }
    out
}

/// Check a presented key against every entry for the host.
pub fn check(host: &str, port: u16, key: &PublicKey, files: &[PathBuf]) -> Verdict {
    let entries = entries_for(host, port, files);
    let same = |e: &Entry| e.key.key_data() == key.key_data();
    if let Some(e) = entries.iter().find(|e| e.revoked && same(e)) {
        return Verdict::Revoked(e.at.clone());
    }
    let live: Vec<Entry> = entries.into_iter().filter(|e| !e.revoked).collect();
    if let Some(e) = live.iter().find(|e| same(e)) {
        return Verdict::Known(e.at.clone());
    }
    if live.is_empty() {
        return Verdict::Unknown;
    }
    let same_type: Vec<Entry> = live
        .iter()
        .filter(|e| e.key.algorithm() == key.algorithm())
        .cloned()
        .collect();
    if same_type.is_empty() {
        Verdict::OtherTypes(live)
    } else {
        Verdict::Changed(same_type)
    }
}

/// Append `host key` to `file`, creating it (0600) and its directory (0700) when missing.
pub fn record(host: &str, port: u16, key: &PublicKey, file: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = file.parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            crate::paths::private_dir(dir)?;
        }
    }
    let mut key = key.clone();
    key.set_comment("");
    let line = key.to_openssh().map_err(std::io::Error::other)?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)?;
    // A file edited by hand may lack its final newline; don't glue our line onto its last one.
    let needs_nl = std::fs::read(file)
        .map(|b| !b.is_empty() && !b.ends_with(b"\n"))
        .unwrap_or(false);
    let prefix = if needs_nl { "\n" } else { "" };
    writeln!(
        f,
        "{prefix}{} {}",
        host_pattern_name(host, port),
        line.trim_end()
    )
}

/// Parse one line; Some((revoked, key)) when it applies to `name`.
fn parse_line(raw: &str, name: &str) -> Option<(bool, PublicKey)> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut fields = line.split_whitespace();
    let mut first = fields.next()?;
    let mut revoked = false;
    if let Some(marker) = first.strip_prefix('@') {
        match marker {
            "revoked" => revoked = true,
            // Host certificates are not supported: such a line never vouches for a plain key.
            _ => return None,
        }
        first = fields.next()?;
    }
    let alg = fields.next()?;
    let b64 = fields.next()?;
    if !hosts_match(first, name) {
        return None;
    }
    let key = PublicKey::from_openssh(&format!("{alg} {b64}")).ok()?;
    Some((revoked, key))
}

/// A comma-separated host list matches when some positive pattern matches and no negated one
/// does. Hashed entries (`|1|salt|hmac`) compare HMAC-SHA1(salt, name).
fn hosts_match(list: &str, name: &str) -> bool {
    if let Some(hashed) = list.strip_prefix("|1|") {
        return hashed_match(hashed, name);
    }
    let mut hit = false;
    for pat in list.split(',') {
        if let Some(neg) = pat.strip_prefix('!') {
            if glob(neg, name) {
                return false;
            }
        } else if glob(pat, name) {
            hit = true;
        }
    }
    hit
}

fn hashed_match(hashed: &str, name: &str) -> bool {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut parts = hashed.split('|');
    let (Some(salt), Some(hash)) = (parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (b64.decode(salt), b64.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// `*` and `?` wildcards, case-insensitive (host names are).
fn glob(pat: &str, name: &str) -> bool {
    fn rec(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => rec(&p[1..], n) || (!n.is_empty() && rec(p, &n[1..])),
            (Some(b'?'), Some(_)) => rec(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => rec(&p[1..], &n[1..]),
            _ => false,
        }
    }
    rec(pat.as_bytes(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPh3Xcmw/+CikKcSVVhRxp9dSRNN2iVnqde/rn3AFAW8";
    const K2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILOMQGKukiYo392FN/khc8Xlmtvfruq7eG5uNubV/rul";

    fn key(s: &str) -> PublicKey {
        PublicKey::from_openssh(s).unwrap()
    }

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("known_hosts");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn plain_port_and_list_entries() {
        let (_d, p) = file(&format!(
            "# comment\n\nhp-1,10.0.0.1 {K1}\n[10.0.0.2]:2222 {K2}\n"
        ));
        let files = vec![p.clone()];
        match check("10.0.0.1", 22, &key(K1), &files) {
            Verdict::Known(at) => assert_eq!(at.line, 3),
            v => panic!("{v:?}"),
        }
        assert!(matches!(
            check("10.0.0.2", 2222, &key(K2), &files),
            Verdict::Known(_)
        ));
        // Same address on port 22 is a different host name.
        assert!(matches!(
            check("10.0.0.2", 22, &key(K2), &files),
            Verdict::Unknown
        ));
        match check("10.0.0.1", 22, &key(K2), &files) {
            Verdict::Changed(e) => assert_eq!(e[0].at.line, 3),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn hashed_wildcard_negated_and_revoked() {
        // The `ssh-keygen -H` form of "example.com" with a fixed salt.
        let salt = [7u8; 20];
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&salt).unwrap();
        mac.update(b"example.com");
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD;
        let hashed = format!(
            "|1|{}|{}",
            b.encode(salt),
            b.encode(mac.finalize().into_bytes())
        );
        let (_d, p) = file(&format!("{hashed} {K1}\n*.lan,!bad.lan {K2}\n"));
        let files = vec![p];
        assert!(matches!(
            check("example.com", 22, &key(K1), &files),
            Verdict::Known(_)
        ));
        assert!(matches!(
            check("example.org", 22, &key(K1), &files),
            Verdict::Unknown
        ));
        assert!(matches!(
            check("x.lan", 22, &key(K2), &files),
            Verdict::Known(_)
        ));
        assert!(matches!(
            check("bad.lan", 22, &key(K2), &files),
            Verdict::Unknown
        ));
        let (_d2, revoked) = file(&format!("@revoked * {K1}\n"));
        let files = vec![files[0].clone(), revoked];
        assert!(matches!(
            check("example.com", 22, &key(K1), &files),
            Verdict::Revoked(_)
        ));
    }

    #[test]
    fn record_creates_private_file_and_is_found_again() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/known_hosts");
        record("10.0.0.9", 2200, &key(K1), &p).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(matches!(
            check("10.0.0.9", 2200, &key(K1), &[p]),
            Verdict::Known(_)
        ));
    }
}
