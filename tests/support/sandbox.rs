//! An isolated HOME in which to run the real `foundry` binary: its own ~/.ssh (the bed's client
//! key, an empty known_hosts) and ~/.foundry; nothing of the developer's environment leaks in.

use super::process;
use super::TestHost;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime};

/// A foundry run taking longer than this is killed and its test fails.
pub const FOUNDRY_TIMEOUT: Duration = Duration::from_secs(300);

/// Variables removed before running foundry (besides every `FOUNDRY_*`): an agent or a
/// desktop keyring/config of the developer must not influence or receive anything.
const SCRUBBED_ENV: &[&str] = &[
    "SSH_AUTH_SOCK",
    "SSH_AGENT_PID",
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "XDG_RUNTIME_DIR",
];

pub struct Sandbox {
    pub home: tempfile::TempDir,
}

/// A foundry process started by [`Sandbox::spawn_foundry`].
pub struct FoundryChild {
    running: process::Running,
    cmdline: String,
}

impl FoundryChild {
    pub fn pid(&self) -> u32 {
        self.running.id()
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// `foundry ARGS` as run, for failure messages.
    pub cmdline: String,
}

impl Run {
    /// Panics, showing the command, stdout and stderr, unless foundry exited 0.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        if self.code != 0 {
            panic!("{self}");
        }
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` exited {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmdline, self.code, self.stdout, self.stderr
        )
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// HOME with `.ssh/id_ed25519` (the bed's client key, 0600) and an empty `.ssh/known_hosts`.
    /// Prepares the bed (the key comes from it).
    pub fn new() -> Sandbox {
        let bed = super::bed();
        let home = tempfile::Builder::new()
            .prefix("foundry-test-home-")
            .tempdir()
            .expect("temp HOME");
        let ssh = home.path().join(".ssh");
        fs::create_dir(&ssh).expect("mkdir ~/.ssh");
        fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700)).expect("chmod ~/.ssh");
        for (src, dst, mode) in [
            (bed.client_key.clone(), "id_ed25519", 0o600),
            (
                bed.client_key.with_extension("pub"),
                "id_ed25519.pub",
                0o644,
            ),
        ] {
            let dst = ssh.join(dst);
            fs::copy(&src, &dst)
                .unwrap_or_else(|e| panic!("copy {} to {}: {e}", src.display(), dst.display()));
            fs::set_permissions(&dst, fs::Permissions::from_mode(mode)).expect("chmod key");
        }
        fs::write(ssh.join("known_hosts"), "").expect("write known_hosts");
        Sandbox { home }
    }

    /// Appends `h`'s known_hosts line to `~/.ssh/known_hosts`.
    pub fn trust(&self, h: &TestHost) {
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(self.path(".ssh/known_hosts"))
            .expect("open known_hosts");
        writeln!(f, "{}", h.known_hosts_line()).expect("append known_hosts");
    }

    /// `HOME/rel`
    pub fn path(&self, rel: &str) -> PathBuf {
        self.home.path().join(rel)
    }

    /// Writes `HOME/rel` (parent dirs created) and returns its path.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.path(rel);
        if let Some(dir) = p.parent() {
            fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        }
        fs::write(&p, content).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// Runs `foundry ARGS` with HOME = the sandbox (also the working directory), stdin null.
    pub fn foundry(&self, args: &[&str]) -> Run {
        self.foundry_env(args, &[])
    }

    /// As [`Sandbox::foundry`], with extra environment variables (applied last).
    pub fn foundry_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.wait_foundry(self.spawn_foundry_env(args, env))
    }

    /// Starts `foundry ARGS` in the background (for fault injection while it runs); finish
    /// with [`Sandbox::wait_foundry`]. The timeout counts from here.
    pub fn spawn_foundry(&self, args: &[&str]) -> FoundryChild {
        self.spawn_foundry_env(args, &[])
    }

    pub fn spawn_foundry_env(&self, args: &[&str], env: &[(&str, &str)]) -> FoundryChild {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_foundry"));
        cmd.args(args).current_dir(self.home.path());
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("FOUNDRY_") || SCRUBBED_ENV.contains(&k.as_ref()) {
                cmd.env_remove(k.as_ref());
            }
        }
        cmd.env("HOME", self.home.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        FoundryChild {
            running: process::spawn(cmd, FOUNDRY_TIMEOUT),
            cmdline: format!("foundry {}", args.join(" ")),
        }
    }

    /// Runs `foundry ARGS` on a terminal (a pty made by util-linux `script`, see
    /// tests/support/tty.rs) with `input` typed into it. `stdout` is the terminal's whole
    /// output (stdout and stderr as a user sees them).
    pub fn foundry_on_terminal(&self, args: &[&str], env: &[(&str, &str)], input: &str) -> Run {
        let r = super::tty::run(
            args,
            self.home.path(),
            |k| k.starts_with("FOUNDRY_") || SCRUBBED_ENV.contains(&k),
            env,
            input,
            FOUNDRY_TIMEOUT,
        );
        Run {
            code: r.code,
            stdout: r.terminal,
            stderr: r.stderr,
            cmdline: format!("foundry {} (on a terminal)", args.join(" ")),
        }
    }

    /// Waits for a foundry started with [`Sandbox::spawn_foundry`].
    pub fn wait_foundry(&self, child: FoundryChild) -> Run {
        let out = child.running.wait();
        Run {
            code: out.code,
            stdout: out.stdout,
            stderr: out.stderr,
            cmdline: child.cmdline,
        }
    }

    /// Files under `HOME/.foundry/logs`, oldest first.
    pub fn run_logs(&self) -> Vec<PathBuf> {
        let Ok(rd) = fs::read_dir(self.path(".foundry/logs")) else {
            return vec![];
        };
        let mut files: Vec<(SystemTime, PathBuf)> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .map(|e| {
                (
                    e.metadata()
                        .and_then(|m| m.modified())
                        .unwrap_or(SystemTime::UNIX_EPOCH),
                    e.path(),
                )
            })
            .collect();
        files.sort();
        files.into_iter().map(|(_, p)| p).collect()
    }
}

/// What the newest run log recorded: remote commands and API calls, and how many could change
/// something (`"mutating": true`).
#[derive(Debug, Clone, Default)]
pub struct LogCounts {
    pub exec: usize,
    pub exec_mutating: usize,
    pub http: usize,
    pub http_mutating: usize,
    /// The mutating records themselves (for a failure message).
    pub mutating_lines: Vec<String>,
    /// The host of each mutating remote command, in the order they ran.
    pub mutating_hosts: Vec<String>,
    pub path: PathBuf,
}

impl Sandbox {
    /// Counts of the newest run log (panics if there is none).
    pub fn newest_log_counts(&self) -> LogCounts {
        let path = self.run_logs().pop().expect("a run log");
        let text = fs::read_to_string(&path).expect("read the run log");
        let mut c = LogCounts {
            path,
            ..LogCounts::default()
        };
        for line in text.lines() {
            let Ok(j) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let mutating = j["mutating"] == true;
            match j["kind"].as_str() {
                Some("exec") => {
                    c.exec += 1;
                    c.exec_mutating += usize::from(mutating);
                    if mutating {
                        c.mutating_hosts
                            .push(j["host"].as_str().unwrap_or_default().to_string());
                    }
                }
                Some("http") => {
                    c.http += 1;
                    c.http_mutating += usize::from(mutating);
                }
                _ => continue,
            }
            if mutating {
                c.mutating_lines.push(line.to_string());
            }
        }
        c
    }
}
