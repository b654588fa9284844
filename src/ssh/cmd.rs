//! A remote command, its result, and how it becomes the command line sent over SSH.

use super::quote::quote;
use super::target::SudoMode;
use crate::redact;
use std::time::Duration;

/// A shell script to run on a host. Build with [`Cmd::read`] (changes nothing) or
/// [`Cmd::mutate`] (may change the host; counted by the run log's idempotency checks).
#[derive(Clone)]
pub struct Cmd {
    /// Run by `sh -c`, so the login shell does not matter.
    pub script: String,
    /// Run through sudo when the target needs it (ignored for root / sudo disabled).
    pub sudo: bool,
    pub mutating: bool,
    /// Fed to the script's standard input, then EOF. Never logged.
    pub stdin: Option<Vec<u8>>,
    /// On expiry the command is signalled and its channel closed; `exec` returns an error.
    pub timeout: Option<Duration>,
    /// Short name for messages (`apt-get install`); defaults to the script's first line.
    pub label: Option<String>,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cmd")
            .field("script", &redact::scrub(&self.script))
            .field("sudo", &self.sudo)
            .field("mutating", &self.mutating)
            .field(
                "stdin",
                &self.stdin.as_ref().map(|b| format!("{} bytes", b.len())),
            )
            .field("timeout", &self.timeout)
            .field("label", &self.label)
            .finish()
    }
}

impl Cmd {
    fn new(script: String, mutating: bool) -> Cmd {
        Cmd {
            script,
            sudo: false,
            mutating,
            stdin: None,
            timeout: None,
            label: None,
        }
    }

    /// A command that only reads.
    pub fn read(script: impl Into<String>) -> Cmd {
        Cmd::new(script.into(), false)
    }

    /// A command that may change the host.
    pub fn mutate(script: impl Into<String>) -> Cmd {
        Cmd::new(script.into(), true)
    }

    pub fn sudo(mut self) -> Cmd {
        self.sudo = true;
        self
    }

    pub fn stdin(mut self, b: Vec<u8>) -> Cmd {
        self.stdin = Some(b);
        self
    }

    pub fn timeout(mut self, d: Duration) -> Cmd {
        self.timeout = Some(d);
        self
    }

    pub fn label(mut self, l: &str) -> Cmd {
        self.label = Some(l.to_string());
        self
    }

    /// The label, else the script's first line shortened: how the command is named in errors.
    pub fn display_label(&self) -> String {
        let raw = match &self.label {
            Some(l) => l.clone(),
            None => {
                let first = self
                    .script
                    .lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim();
                if first.chars().count() > 60 {
                    format!("{}…", first.chars().take(60).collect::<String>())
                } else {
                    first.to_string()
                }
            }
        };
        redact::scrub(&raw)
    }
}

/// How a command is wrapped for the target's sudo mode: the command line and the bytes to write
/// on its standard input (the sudo password line first, when there is one).
pub(crate) struct Wire {
    pub line: String,
    pub stdin: Option<Vec<u8>>,
    pub sudo_used: bool,
    pub sudo_password: bool,
}

/// Extra time the remote guard gives a command beyond its limit, so that the client-side
/// timeout (with its precise message) always fires first.
const REMOTE_GRACE_SECS: u64 = 2;

pub(crate) fn wire(c: &Cmd, mode: &SudoMode) -> Wire {
    // With a limit, coreutils `timeout` guards the command on the host too: sshd does not deliver
    // `signal` requests to root sessions, nor can a user's signal reach a sudo'd process, so
    // closing the channel alone would leave e.g. a hung package manager holding its lock.
    let inner = match c.timeout {
        None => format!("sh -c {}", quote(&c.script)),
        Some(d) => {
            let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0) + REMOTE_GRACE_SECS;
            format!("timeout -k 5 {secs} sh -c {}", quote(&c.script))
        }
    };
    match (c.sudo, mode) {
        (true, SudoMode::Passwordless) => Wire {
            line: format!("sudo -n -- {inner}"),
            stdin: c.stdin.clone(),
            sudo_used: true,
            sudo_password: false,
        },
        (true, SudoMode::Password(pw)) => {
            // -k: always ask, so the password line is consumed by sudo even when a cached
            // credential exists, and never reaches the command. -p '': no prompt text on stderr.
            let mut input =
                Vec::with_capacity(pw.len() + 1 + c.stdin.as_ref().map_or(0, |b| b.len()));
            input.extend_from_slice(pw.as_bytes());
            input.push(b'\n');
            if let Some(b) = &c.stdin {
                input.extend_from_slice(b);
            }
            Wire {
                line: format!("sudo -k -S -p '' -- {inner}"),
                stdin: Some(input),
                sudo_used: true,
                sudo_password: true,
            }
        }
        _ => Wire {
            line: inner,
            stdin: c.stdin.clone(),
            sudo_used: false,
            sudo_password: false,
        },
    }
}

/// Which stream a line came from in `exec_streaming`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Stdout,
    Stderr,
}

/// What a finished command left. A non-zero `exit` is a result, not an error: call
/// [`Output::check`] where failure should stop the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Exit status; 128 + signal number when the command was killed by a signal.
    pub exit: u32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.exit == 0
    }

    /// Ok(self) on exit 0; otherwise an error naming `what`, the exit code and the last lines
    /// of stderr (scrubbed).
    pub fn check(self, what: &str) -> anyhow::Result<Output> {
        if self.success() {
            return Ok(self);
        }
        let tail = tail_lines(&self.stderr, 5);
        let tail = if tail.is_empty() {
            tail_lines(&self.stdout, 5)
        } else {
            tail
        };
        let detail = if tail.is_empty() {
            String::new()
        } else {
            format!(": {tail}")
        };
        anyhow::bail!(
            "{} failed (exit {}){}",
            redact::scrub(what),
            self.exit,
            redact::scrub(&detail)
        )
    }
}

/// The last `n` non-empty lines joined with " | ".
pub(crate) fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms() {
        let c = Cmd::read("echo 'hi'").sudo();
        assert_eq!(wire(&c, &SudoMode::None).line, "sh -c 'echo '\\''hi'\\'''");
        assert_eq!(
            wire(&c, &SudoMode::Passwordless).line,
            "sudo -n -- sh -c 'echo '\\''hi'\\'''"
        );
        let w = wire(
            &c.clone().stdin(b"data".to_vec()),
            &SudoMode::Password("pw-secret".into()),
        );
        assert_eq!(w.line, "sudo -k -S -p '' -- sh -c 'echo '\\''hi'\\'''");
        assert!(!w.line.contains("pw-secret"));
        assert_eq!(w.stdin.unwrap(), b"pw-secret\ndata".to_vec());
        // A limit adds a remote guard a little beyond it.
        let t = Cmd::read("sleep 9")
            .sudo()
            .timeout(Duration::from_millis(1500));
        assert_eq!(
            wire(&t, &SudoMode::Passwordless).line,
            "sudo -n -- timeout -k 5 4 sh -c 'sleep 9'"
        );
        // Without .sudo() the mode does not matter.
        assert_eq!(
            wire(&Cmd::read("id"), &SudoMode::Password("x".into())).line,
            "sh -c id"
        );
    }

    #[test]
    fn check_names_what_exit_and_stderr_tail() {
        let o = Output {
            exit: 3,
            stdout: String::new(),
            stderr: "a\nb\n\nc\n".into(),
        };
        let e = o.check("install thing").unwrap_err().to_string();
        assert_eq!(e, "install thing failed (exit 3): a | b | c");
        assert!(Output {
            exit: 0,
            stdout: "x".into(),
            stderr: String::new()
        }
        .check("x")
        .is_ok());
    }
}
