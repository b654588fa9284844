//! foundry on a terminal: util-linux `script` (bsdutils, Essential on Debian) makes a pty, runs
//! foundry in it and copies what the test "types" into it. The terminal stays open until
//! foundry exits. Used by tests/support/sandbox.rs (bed tests) and, by `#[path]`, by
//! tests/truenas.rs (no bed).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start script");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut b = Vec::new();
            r.read_to_end(&mut b).ok();
            String::from_utf8_lossy(&b).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!(
                "foundry {} on a terminal ran past {timeout:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(stdin);
    TtyRun {
        code: status.code().unwrap_or(-1),
        terminal: out.join().unwrap().replace("\r\n", "\n"),
        stderr: err.join().unwrap(),
    }
}
