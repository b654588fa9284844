//! Desired files on a host: probe many at once (one round trip: sha256, mode, owner), and turn
//! differences into `WriteFile` steps with a diff.

use super::{Action, Step};
use crate::ssh::{quote::quote, Cmd, Session};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct FileSpec {
    pub path: String,
    pub content: Vec<u8>,
    pub mode: u32,
    pub owner: String,
    pub group: String,
    /// Secret content: never diffed, never shown.
    pub secret: bool,
}

impl FileSpec {
    pub fn new(path: impl Into<String>, content: impl Into<Vec<u8>>, mode: u32) -> FileSpec {
        FileSpec {
            path: path.into(),
            content: content.into(),
            mode,
            owner: "root".into(),
            group: "root".into(),
            secret: false,
        }
    }
    pub fn owned(mut self, owner: &str, group: &str) -> FileSpec {
        self.owner = owner.into();
        self.group = group.into();
        self
    }
    pub fn secret(mut self) -> FileSpec {
        self.secret = true;
        self
    }
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.content))
    }
}

/// A file as it is on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct FileState {
    pub sha256: String,
    pub mode: u32,
    pub owner: String,
    pub group: String,
}

/// Shell snippet that reports every path's mode, owner, group, type and content hash with two
/// program starts for the whole list (one `stat`, one `sha256sum`), not three per file: the
/// probe runs on every host on every run. Absent paths print nothing.
pub fn probe_script(paths: &[&str]) -> String {
    if paths.is_empty() {
        return String::new();
    }
    let list = paths.iter().map(|p| quote(p)).collect::<Vec<_>>().join(" ");
    format!(
        "stat -c 'fstat %a %U %G %f %n' -- {list} 2>/dev/null; sha256sum -- {list} 2>/dev/null; :\n"
    )
}

/// The regular files found by [`probe_script`] (absent paths, directories and files whose hash
/// could not be read are not in the map: callers treat them as missing).
pub fn parse_probe(out: &str) -> HashMap<String, Option<FileState>> {
    let mut meta: HashMap<String, (u32, String, String)> = HashMap::new();
    let mut sums: HashMap<String, String> = HashMap::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("fstat ") {
            let parts: Vec<&str> = rest.splitn(5, ' ').collect();
            if let [mode, owner, group, raw, path] = parts.as_slice() {
                // `%f` is the raw mode in hex; S_IFMT 0xF000, S_IFREG 0x8000.
                let regular = u32::from_str_radix(raw, 16).is_ok_and(|m| m & 0xF000 == 0x8000);
                if regular {
                    meta.insert(
                        path.to_string(),
                        (
                            u32::from_str_radix(mode, 8).unwrap_or(0),
                            owner.to_string(),
                            group.to_string(),
                        ),
                    );
                }
            }
        } else if line.len() > 66 && line.as_bytes()[64..66] == *b"  " {
            // sha256sum's `<64 hex>  <path>`; a name it had to escape starts with `\` and is
            // not matched (its file then reads as changed: paths foundry writes have no `\`).
            let (sha, path) = line.split_at(64);
            if sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                sums.insert(path[2..].to_string(), sha.to_string());
            }
        }
    }
    meta.into_iter()
        .filter_map(|(p, (mode, owner, group))| {
            let sha256 = sums.remove(&p)?;
            Some((
                p,
                Some(FileState {
                    sha256,
                    mode,
                    owner,
                    group,
                }),
            ))
        })
        .collect()
}

/// Probe files in one read-only round trip.
pub async fn probe(
    session: &Session,
    paths: &[&str],
) -> anyhow::Result<HashMap<String, Option<FileState>>> {
    if paths.is_empty() {
        return Ok(HashMap::new());
    }
    let out = session
        .exec(&Cmd::read(probe_script(paths)).sudo().label("probe files"))
        .await?
        .check("probe files")?;
    Ok(parse_probe(&out.stdout))
}

/// How a desired file differs from the host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileChange {
    None,
    Create,
    Content,
    /// Same content, different mode or owner.
    Metadata,
}

pub fn compare(want: &FileSpec, have: Option<&FileState>) -> FileChange {
    match have {
        None => FileChange::Create,
        Some(h) if h.sha256 != want.sha256() => FileChange::Content,
        Some(h) if h.mode != want.mode || h.owner != want.owner || h.group != want.group => {
            FileChange::Metadata
        }
        Some(_) => FileChange::None,
    }
}

/// The step for a changed file, with a unified diff of the old content when it is not secret.
/// `old` is the current content when the caller fetched it (only done for changed files).
pub fn write_step(want: &FileSpec, change: FileChange, old: Option<&[u8]>) -> Step {
    let what = match change {
        FileChange::Create => "create",
        FileChange::Content => "update",
        FileChange::Metadata => "fix mode/owner of",
        FileChange::None => "keep",
    };
    let description = format!(
        "{what} {} ({:o} {}:{})",
        want.path, want.mode, want.owner, want.group
    );
    let diff = if want.secret || change == FileChange::Metadata {
        None
    } else {
        let old = old
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let new = String::from_utf8_lossy(&want.content);
        Some(
            similar::TextDiff::from_lines(old.as_str(), new.as_ref())
                .unified_diff()
                .context_radius(2)
                .header(
                    &format!("{} (on host)", want.path),
                    &format!("{} (wanted)", want.path),
                )
                .to_string(),
        )
    };
    Step {
        description,
        diff,
        action: Action::WriteFile(want.clone()),
    }
}

/// Plan a set of files: probe them all at once, fetch old content only for changed non-secret
/// files (for the diff), and return one step per file that differs plus the set of changed paths.
pub async fn plan_files(
    session: &Session,
    files: &[FileSpec],
) -> anyhow::Result<(Vec<Step>, Vec<String>)> {
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let states = probe(session, &paths).await?;
    let mut steps = Vec::new();
    let mut changed = Vec::new();
    for f in files {
        let change = compare(f, states.get(&f.path).and_then(|s| s.as_ref()));
        if change == FileChange::None {
            continue;
        }
        let old = if change == FileChange::Content && !f.secret {
            session.read_file(&f.path, true).await?
        } else {
            None
        };
        steps.push(write_step(f, change, old.as_deref()));
        changed.push(f.path.clone());
    }
    Ok((steps, changed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe script run by a real `sh` on real files: odd names, a directory and an
    /// absent path among them.
    #[test]
    fn probe_script_reports_regular_files_only_with_their_hash() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let odd = t.path().join("we ird 'x'.conf");
        std::fs::write(&odd, "hello\n").unwrap();
        std::fs::set_permissions(&odd, std::fs::Permissions::from_mode(0o640)).unwrap();
        let dir = t.path().join("a-dir");
        std::fs::create_dir(&dir).unwrap();
        let absent = t.path().join("nope");
        let paths: Vec<String> = [&odd, &dir, &absent]
            .iter()
            .map(|p| p.to_str().unwrap().to_string())
            .collect();
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(probe_script(&refs))
            .output()
            .unwrap();
        assert!(out.status.success());
        let m = parse_probe(&String::from_utf8(out.stdout).unwrap());
        let want = FileSpec::new(paths[0].clone(), "hello\n", 0o640);
        let got = m[&paths[0]].as_ref().unwrap();
        assert_eq!(got.sha256, want.sha256());
        assert_eq!(got.mode, 0o640);
        assert!(!m.contains_key(&paths[1]), "a directory is not a file");
        assert!(!m.contains_key(&paths[2]));
    }

    #[test]
    fn compare_detects_each_kind_of_difference() {
        let f = FileSpec::new("/x", "hello\n", 0o644);
        let same = FileState {
            sha256: f.sha256(),
            mode: 0o644,
            owner: "root".into(),
            group: "root".into(),
        };
        assert_eq!(compare(&f, Some(&same)), FileChange::None);
        assert_eq!(compare(&f, None), FileChange::Create);
        assert_eq!(
            compare(
                &f,
                Some(&FileState {
                    sha256: "0".into(),
                    ..same.clone()
                })
            ),
            FileChange::Content
        );
        assert_eq!(
            compare(
                &f,
                Some(&FileState {
                    mode: 0o600,
                    ..same
                })
            ),
            FileChange::Metadata
        );
    }

    #[test]
    fn secret_files_get_no_diff() {
        let f = FileSpec::new("/s", "token-value\n", 0o600).secret();
        let s = write_step(&f, FileChange::Content, Some(b"old-token\n"));
        assert!(s.diff.is_none());
        assert!(!s.description.contains("token"));
        let f = FileSpec::new("/p", "b\n", 0o644);
        let s = write_step(&f, FileChange::Content, Some(b"a\n"));
        let d = s.diff.unwrap();
        assert!(d.contains("-a") && d.contains("+b"), "{d}");
    }
}
