//! foundry on a terminal: util-linux `script` (bsdutils, Essential on Debian) makes a pty, runs
//! foundry in it and copies what the test "types" into it. The terminal stays open until
//! foundry exits; past the timeout the whole process group is killed (tests/support/process.rs).
//! Used by tests/support/sandbox.rs (bed tests) and, by `#[path]` beside process.rs, by
//! tests/truenas.rs (no bed).
#![allow(dead_code)]

use super::process;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub struct TtyRun {
    /// foundry's exit code (`script -e`).
    pub code: i32,
    /// The terminal's whole output (stdout and stderr as a user sees them), `\r\n` → `\n`.
    pub terminal: String,
    /// `script`'s own stderr.
    pub stderr: String,
}

/// `foundry ARGS` on a pty in `dir` with HOME = `dir`; environment variables for which `scrub`
/// is true are removed, then `env` is set; `input` is typed at once (the pty keeps it until
/// foundry reads). Panics when `script` is missing or foundry runs past `timeout`.
pub fn run(
    args: &[&str],
    dir: &Path,
    scrub: impl Fn(&str) -> bool,
    env: &[(&str, &str)],
    input: &str,
    timeout: Duration,
) -> TtyRun {
    let script = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("util-linux `script` (bsdutils) to run foundry on a terminal");
    let line = std::iter::once(env!("CARGO_BIN_EXE_foundry"))
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new(script);
    cmd.args(["-q", "-e", "-c", &line, "/dev/null"])
        .current_dir(dir);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if scrub(&k) {
            cmd.env_remove(k.as_ref());
        }
    }
    cmd.env("HOME", dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = process::spawn_typing(cmd, input, timeout).wait();
    assert!(
        !out.timed_out,
        "foundry {} on a terminal ran past {timeout:?}",
        args.join(" ")
    );
    TtyRun {
        code: out.code,
        terminal: out.stdout.replace("\r\n", "\n"),
        stderr: out.stderr,
    }
}
