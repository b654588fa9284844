//! The per-run log: one JSON object per line under `~/.foundry/logs/`, one file per run.
//! Every remote command is recorded with its host, whether it mutates, its exit code and its
//! duration. Text passes through `secrets::redact::scrub` before it is written.
//!
//! Tests count `"kind":"exec"` lines with `"mutating":true` to prove a re-run changes nothing.

use crate::redact;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// A run's log. The file is created by the first record of a remote command or an API call:
/// a run that contacts nothing (a listing, an offline plan, a refused config) leaves no file
/// behind. Events before that are kept and written first.
#[derive(Debug)]
pub struct RunLog {
    /// Where the file goes; None for a disabled log.
    path: Option<PathBuf>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    file: Option<File>,
    /// Lines recorded before the file exists.
    pending: Vec<String>,
    /// Opening failed once: stop trying (a run is not failed by its log).
    broken: bool,
}

pub type RunLogHandle = Arc<RunLog>;

#[derive(Serialize)]
struct Line<'a> {
    ts: String,
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(flatten)]
    body: serde_json::Value,
}

/// One remote command as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct ExecRecord<'a> {
    /// The command line as sent (after scrubbing).
    pub cmd: &'a str,
    pub mutating: bool,
    pub sudo: bool,
    /// None when the command did not finish (timeout, connection lost).
    pub exit: Option<u32>,
    pub ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl RunLog {
    /// A log at `~/.foundry/logs/<timestamp>-<command>.log` (0600, in a 0700 directory),
    /// created when the run first contacts a host or an API.
    pub fn create(dir: &Path, command: &str) -> std::io::Result<RunLogHandle> {
        let ts = humantime::format_rfc3339_millis(SystemTime::now())
            .to_string()
            .replace(':', "");
        let safe: String = command
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let mut path = dir.join(format!("{ts}-{safe}.log"));
        let mut n = 1;
        while path.exists() {
            path = dir.join(format!("{ts}-{safe}-{n}.log"));
            n += 1;
        }
        Ok(Arc::new(RunLog {
            path: Some(path),
            state: Mutex::new(State::default()),
        }))
    }

    /// A log that writes nothing (offline plan, unit tests).
    pub fn disabled() -> RunLogHandle {
        Arc::new(RunLog {
            path: None,
            state: Mutex::new(State::default()),
        })
    }

    /// The file, once the run has written it (None while nothing was contacted).
    pub fn path(&self) -> Option<PathBuf> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.file.as_ref().and(self.path.clone())
    }

    fn open(path: &Path) -> std::io::Result<File> {
        if let Some(dir) = path.parent() {
            crate::paths::private_dir(dir)?;
        }
        let mut opts = OpenOptions::new();
        opts.create_new(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        opts.open(path)
    }

    /// `opens`: this record is contact with a host or an API, so the file must exist now.
    fn write(&self, kind: &str, host: Option<&str>, body: serde_json::Value, opens: bool) {
        let Some(path) = &self.path else { return };
        let line = Line {
            ts: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            kind,
            host,
            body,
        };
        let Ok(text) = serde_json::to_string(&line) else {
            return;
        };
        let text = redact::scrub(&text);
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.file.is_none() && opens && !st.broken {
            match Self::open(path) {
                Ok(mut f) => {
                    for l in st.pending.drain(..) {
                        let _ = writeln!(f, "{l}");
                    }
                    st.file = Some(f);
                }
                Err(e) => {
                    st.broken = true;
                    tracing::warn!("run log {}: {e}", path.display());
                }
            }
        }
        let st = &mut *st;
        match st.file.as_mut() {
            Some(f) => {
                let _ = writeln!(f, "{text}");
            }
            None if !st.broken => st.pending.push(text),
            None => {}
        }
    }

    /// Record a remote command.
    pub fn exec(&self, host: &str, rec: &ExecRecord<'_>) {
        self.write(
            "exec",
            Some(host),
            serde_json::to_value(rec).unwrap_or_default(),
            true,
        );
    }

    /// Record an event (step started/finished, component done, ...).
    pub fn event(&self, host: Option<&str>, what: &str, detail: serde_json::Value) {
        self.write(
            "event",
            host,
            serde_json::json!({ "event": what, "detail": detail }),
            false,
        );
    }

    /// Record an SSH connection attempt (its error when it failed).
    pub fn connect(&self, host: &str, took: Duration, error: Option<&str>) {
        self.write(
            "connect",
            Some(host),
            serde_json::json!({ "ms": took.as_millis(), "error": error }),
            true,
        );
    }

    /// Record an HTTP call made by foundry (OpenBao, Zot, Kubernetes APIs).
    pub fn http(
        &self,
        target: &str,
        method: &str,
        path: &str,
        status: Option<u16>,
        took: Duration,
        mutating: bool,
    ) {
        self.write(
            "http",
            Some(target),
            serde_json::json!({ "method": method, "path": path, "status": status, "ms": took.as_millis(), "mutating": mutating }),
            true,
        );
    }
}
