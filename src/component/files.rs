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

/// Shell snippet printing one `file <path-hex> <mode> <owner> <group> <sha>` or
/// `missing <path-hex>` line per path. Paths are hex-encoded in the output so any byte survives.
pub fn probe_script(paths: &[&str]) -> String {
    let mut s = String::new();
    for p in paths {
        let q = quote(p);
        let h = hex::encode(p.as_bytes());
        s.push_str(&format!(
            "if [ -f {q} ]; then printf 'file {h} %s %s\\n' \"$(stat -c '%a %U %G' {q})\" \"$(sha256sum < {q} | cut -d' ' -f1)\"; else echo 'missing {h}'; fi\n"
        ));
    }
    s
}

pub fn parse_probe(out: &str) -> HashMap<String, Option<FileState>> {
    let mut m = HashMap::new();
    for line in out.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let path = |h: &str| hex::decode(h).ok().and_then(|b| String::from_utf8(b).ok());
        match parts.as_slice() {
            ["file", h, mode, owner, group, sha] => {
                if let Some(p) = path(h) {
                    let mode = u32::from_str_radix(mode, 8).unwrap_or(0);
                    m.insert(
                        p,
                        Some(FileState {
                            sha256: sha.to_string(),
                            mode,
                            owner: owner.to_string(),
                            group: group.to_string(),
                        }),
                    );
                }
            }
            ["missing", h] => {
                if let Some(p) = path(h) {
                    m.insert(p, None);
                }
            }
            _ => {}
        }
    }
    m
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

    #[test]
    fn probe_output_round_trips_odd_paths() {
        let p = "/etc/we ird/'x'.conf";
        let h = hex::encode(p);
        let out = format!(
            "file {h} 600 root root abc\nmissing {}\n",
            hex::encode("/nope")
        );
        let m = parse_probe(&out);
        assert_eq!(
            m[p],
            Some(FileState {
                sha256: "abc".into(),
                mode: 0o600,
                owner: "root".into(),
                group: "root".into()
            })
        );
        assert_eq!(m["/nope"], None);
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
