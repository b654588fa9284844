//! Writing and reading whole files over an exec channel (no SFTP: sudo must apply, and sshd's
//! SFTP subsystem runs as the login user).

use super::cmd::Cmd;
use super::quote::quote;
use super::session::Session;

/// A file to put on a host. The parent directory must exist.
#[derive(Clone)]
pub struct Upload {
    pub path: String,
    pub content: Vec<u8>,
    /// Permission bits, e.g. 0o640.
    pub mode: u32,
    pub owner: Option<String>,
    pub group: Option<String>,
    /// Write as root (through sudo when the target needs it).
    pub sudo: bool,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("path", &self.path)
            .field("content", &format!("{} bytes", self.content.len()))
            .field("mode", &format!("{:o}", self.mode))
            .field("owner", &self.owner)
            .field("group", &self.group)
            .field("sudo", &self.sudo)
            .finish()
    }
}

/// Exit code the read script uses for "no such file".
const ABSENT: u32 = 100;

/// The remote script for an atomic write: a temp file next to the target (same file system, so
/// `mv` is a rename), permissions and owner set on it before it becomes visible, removed by the
/// EXIT trap on any failure. Content arrives on stdin, so it never appears on a command line.
pub(crate) fn upload_script(u: &Upload) -> String {
    let (dir, base) = match u.path.rsplit_once('/') {
        Some(("", b)) => ("/", b),
        Some((d, b)) => (d, b),
        None => (".", u.path.as_str()),
    };
    let sep = if dir.ends_with('/') { "" } else { "/" };
    let template = format!("{dir}{sep}.{base}.foundry-XXXXXX");
    let owner = match (&u.owner, &u.group) {
        (Some(o), Some(g)) => format!("chown {} \"$t\"\n", quote(&format!("{o}:{g}"))),
        (Some(o), None) => format!("chown {} \"$t\"\n", quote(o)),
        (None, Some(g)) => format!("chgrp {} \"$t\"\n", quote(g)),
        (None, None) => String::new(),
    };
    format!(
        "set -e\numask 077\nt=$(mktemp {tmpl})\ntrap 'rm -f \"$t\"' EXIT\ncat > \"$t\"\nchmod {mode:o} \"$t\"\n{owner}mv -f \"$t\" {path}\ntrap - EXIT\n",
        tmpl = quote(&template),
        mode = u.mode & 0o7777,
        path = quote(&u.path),
    )
}

impl Session {
    /// Write a file atomically (temp file in the same directory, chmod/chown, then rename).
    /// Recorded as ONE mutating command in the run log.
    pub async fn upload(&self, u: &Upload) -> anyhow::Result<()> {
        let mut c = Cmd::mutate(upload_script(u))
            .stdin(u.content.clone())
            .label(&format!("upload {}", u.path));
        if u.sudo {
            c = c.sudo();
        }
        self.exec(&c)
            .await?
            .check(&format!("{}: upload of {}", self.target().label(), u.path))?;
        Ok(())
    }

    /// A file's bytes, or None when it does not exist. Read-only.
    pub async fn read_file(&self, path: &str, sudo: bool) -> anyhow::Result<Option<Vec<u8>>> {
        let p = quote(path);
        let mut c = Cmd::read(format!(
            "if [ -e {p} ]; then exec cat -- {p}; else exit {ABSENT}; fi"
        ))
        .label(&format!("read {path}"));
        if sudo {
            c = c.sudo();
        }
        let raw = self.run(&c, None).await?;
        match raw.exit {
            0 => Ok(Some(raw.stdout)),
            ABSENT => Ok(None),
            exit => {
                let out = super::cmd::Output {
                    exit,
                    stdout: String::new(),
                    stderr: String::from_utf8_lossy(&raw.stderr).into_owned(),
                };
                let what = format!("{}: reading {path}", self.target().label());
                Err(out
                    .check(&what)
                    .err()
                    .unwrap_or_else(|| anyhow::anyhow!("{what} failed (exit {exit})")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_quotes_every_value() {
        let u = Upload {
            path: "/etc/it's here/a b.conf".into(),
            content: vec![],
            mode: 0o640,
            owner: Some("root".into()),
            group: Some("we$ird".into()),
            sudo: true,
        };
        let s = upload_script(&u);
        assert!(
            s.contains("mktemp '/etc/it'\\''s here/.a b.conf.foundry-XXXXXX'"),
            "{s}"
        );
        assert!(s.contains("chmod 640 \"$t\""));
        assert!(s.contains("chown 'root:we$ird' \"$t\""));
        assert!(s.contains("mv -f \"$t\" '/etc/it'\\''s here/a b.conf'"));
        let root = upload_script(&Upload {
            path: "/x".into(),
            owner: None,
            group: None,
            ..u
        });
        assert!(root.contains("mktemp /.x.foundry-XXXXXX"), "{root}");
    }
}
