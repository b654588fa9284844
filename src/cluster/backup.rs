//! `cluster backup`: an etcd snapshot taken on a server over SSH (`k3s etcd-snapshot save`),
//! copied back and checked against the server's own sha256, kept as
//! `~/.foundry/<cluster>/backups/<snapshot>` (0600, directory 0700) with `<snapshot>.sha256`
//! (`sha256sum` format, so `sha256sum -c` checks it) and `<snapshot>.token`: the server token
//! from OpenBao, which a restore needs (K3s encrypts its bootstrap data in the datastore with
//! it). Nothing is written unless the copy matches.

use crate::ssh::quote::quote;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Where K3s keeps its snapshots on a server.
pub const SNAPSHOT_DIR: &str = "/var/lib/rancher/k3s/server/db/snapshots";

/// A snapshot name that is safe everywhere it ends up: a file name, an etcd key, and the name
/// of the ETCDSnapshotFile object K3s records (a lowercase RFC 1123 name).
pub fn check_name(n: &str) -> Result<(), String> {
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !n.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--name {n:?}: use 1 to 64 lowercase letters, digits and '-' (not first), like nightly-1"
        ))
    }
}

/// A snapshot file name to upload (K3s's `<name>-<node>-<unix time>`; node names may hold
/// dots): letters, digits, `.`, `_`, `-`, not starting with `.` or `-`, at most 255 bytes.
pub fn check_file_name(n: &str) -> Result<(), String> {
    let ok = !n.is_empty()
        && n.len() <= 255
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !n.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(format!("{n:?} is not a snapshot file name foundry wrote"))
    }
}

/// The default name: `foundry-yyyymmddthhmmssz` (UTC, lower case as [`check_name`] wants).
pub fn default_name(now: std::time::SystemTime) -> String {
    let stamp: String = humantime::format_rfc3339_seconds(now)
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("foundry-{}", stamp.to_ascii_lowercase())
}

/// One round trip: take the snapshot, then print the newest file of that name, its sha256 and
/// size. K3s names the file `<name>-<node>-<unix time>` and logs (not prints) where it is, so
/// the file is found in the directory rather than parsed from the output.
pub fn snapshot_script(name: &str) -> String {
    let d = quote(SNAPSHOT_DIR);
    let n = quote(name);
    format!(
        "set -e\n\
         err=$(k3s etcd-snapshot save --name {n} 2>&1 >/dev/null) || {{ printf '%s\\n' \"$err\" | tail -n 5 >&2; exit 1; }}\n\
         f=$(ls -1t {d}/{n}-* 2>/dev/null | head -n 1)\n\
         [ -n \"$f\" ] || {{ echo \"k3s etcd-snapshot save reported success but no {name}-* file is in {SNAPSHOT_DIR}\" >&2; exit 1; }}\n\
         echo \"file $f\"\n\
         echo \"sha256 $(sha256sum \"$f\" | cut -d' ' -f1)\"\n"
    )
}

/// What the script printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub path: String,
    pub sha256: String,
}

pub fn parse_taken(out: &str) -> Result<Taken, String> {
    let field = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{k} ")))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    match (field("file"), field("sha256")) {
        (Some(path), Some(sha256)) if sha256.len() == 64 => Ok(Taken { path, sha256 }),
        _ => Err(format!("unexpected output of the snapshot script: {out:?}")),
    }
}

/// The files a backup leaves on this machine.
#[derive(Debug, Clone)]
pub struct Written {
    pub snapshot: PathBuf,
    pub checksum: PathBuf,
    pub token: PathBuf,
    pub sha256: String,
    pub bytes: usize,
}

/// Check the copy against the server's checksum and write the three files (0600) into `dir`
/// (created 0700). Each file is written to a temporary name and renamed: a failed backup
/// leaves no partial snapshot.
pub fn store(dir: &Path, taken: &Taken, data: &[u8], token: &str) -> anyhow::Result<Written> {
    let sha = hex::encode(Sha256::digest(data));
    if sha != taken.sha256 {
        anyhow::bail!(
            "the copy of {} does not match the server's checksum (server {}, copy {sha}, {} bytes): nothing written; run the backup again",
            taken.path,
            taken.sha256,
            data.len()
        );
    }
    let base = taken
        .path
        .rsplit('/')
        .next()
        .filter(|b| !b.is_empty() && *b != "." && *b != "..")
        .ok_or_else(|| anyhow::anyhow!("snapshot path {:?} has no file name", taken.path))?;
    create_private_dir(dir)?;
    let snapshot = dir.join(base);
    let checksum = dir.join(format!("{base}.sha256"));
    let token_file = dir.join(format!("{base}.token"));
    write_private(&snapshot, data)?;
    write_private(&checksum, format!("{sha}  {base}\n").as_bytes())?;
    write_private(&token_file, format!("{token}\n").as_bytes())?;
    Ok(Written {
        snapshot,
        checksum,
        token: token_file,
        sha256: sha,
        bytes: data.len(),
    })
}

/// A backup as `cluster restore` reads it back: the snapshot (checked against its `.sha256`)
/// and the server token kept beside it.
#[derive(Debug)]
pub struct BackupFiles {
    pub name: String,
    pub bytes: Vec<u8>,
    pub token: String,
    pub token_file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A file is missing or unreadable, or the name is not one a backup writes.
    #[error("{0}")]
    Missing(String),
    /// The snapshot does not match its checksum.
    #[error("{0}")]
    Damaged(String),
}

pub fn read_backup(file: &Path) -> Result<BackupFiles, ReadError> {
    use ReadError::{Damaged, Missing};
    let bytes =
        std::fs::read(file).map_err(|e| Missing(format!("reading {}: {e}", file.display())))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| check_file_name(n).is_ok())
        .ok_or_else(|| {
            Missing(format!(
                "{}: not a snapshot file name foundry wrote",
                file.display()
            ))
        })?;
    let sums = file.with_file_name(format!("{name}.sha256"));
    let want = std::fs::read_to_string(&sums).map_err(|e| {
        Missing(format!(
            "reading {}: {e} (a backup keeps it next to the snapshot)",
            sums.display()
        ))
    })?;
    let have = hex::encode(Sha256::digest(&bytes));
    if want.split_whitespace().next() != Some(have.as_str()) {
        return Err(Damaged(format!("{} does not match {} (sha256 {have}): the snapshot is damaged or not the one backed up; nothing was changed", file.display(), sums.display())));
    }
    let token_file = file.with_file_name(format!("{name}.token"));
    let token = std::fs::read_to_string(&token_file).map_err(|e| {
        Missing(format!(
            "reading {}: {e} (a backup keeps the server token next to the snapshot)",
            token_file.display()
        ))
    })?;
    Ok(BackupFiles {
        name,
        bytes,
        token: token.trim().to_string(),
        token_file,
    })
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    crate::paths::private_dir(dir)
        .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    crate::config::edit::write_atomic(path, data, 0o600, false)
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn names() {
        assert!(check_name("nightly-1").is_ok());
        for bad in ["", "-x", "a b", "a/b", "x;rm", "Nightly", &"a".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_file_name("nightly-1-node-1.lab-1796223845").is_ok());
        for bad in ["", ".hidden", "-x", "a/b", "a b", "x;y"] {
            assert!(check_file_name(bad).is_err(), "{bad}");
        }
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_796_223_845);
        assert_eq!(default_name(t), "foundry-20261202t150405z");
        assert!(check_name(&default_name(t)).is_ok());
    }

    #[test]
    fn parses_the_script_output() {
        let sha = "a".repeat(64);
        let t = parse_taken(&format!("file /x/s-n-1\nsha256 {sha}\n")).unwrap();
        assert_eq!(t.path, "/x/s-n-1");
        assert!(parse_taken("file /x\nsha256 abc\n").is_err());
        assert!(parse_taken("").is_err());
    }

    #[test]
    fn stores_private_files_only_when_the_checksum_matches() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("backups");
        let data = b"snapshot bytes";
        let good = Taken {
            path: "/var/lib/rancher/k3s/server/db/snapshots/n-node-1-17".into(),
            sha256: hex::encode(Sha256::digest(data)),
        };
        let bad = Taken {
            sha256: "0".repeat(64),
            ..good.clone()
        };
        let e = store(&dir, &bad, data, "tok").unwrap_err().to_string();
        assert!(e.contains("does not match"), "{e}");
        assert!(!dir.join("n-node-1-17").exists());
        let w = store(&dir, &good, data, "tok").unwrap();
        assert_eq!(std::fs::read(&w.snapshot).unwrap(), data);
        for f in [&w.snapshot, &w.checksum, &w.token] {
            let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(
            std::fs::read_to_string(&w.checksum).unwrap(),
            format!("{}  n-node-1-17\n", good.sha256)
        );
        // What a restore reads back: the same bytes and token; a node name with dots is fine.
        let back = read_backup(&w.snapshot).unwrap();
        assert_eq!(
            (back.bytes.as_slice(), back.token.as_str()),
            (&data[..], "tok")
        );
        let dotted = Taken {
            path: "/x/n-node-1.lab-17".into(),
            ..good.clone()
        };
        let w2 = store(&dir, &dotted, data, "tok").unwrap();
        assert_eq!(read_backup(&w2.snapshot).unwrap().name, "n-node-1.lab-17");
        std::fs::write(&w2.snapshot, b"other").unwrap();
        assert!(matches!(
            read_backup(&w2.snapshot),
            Err(ReadError::Damaged(_))
        ));
    }
}
