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

#[derive(Debug)]
pub struct RunLog {
    path: Option<PathBuf>,
    file: Mutex<Option<File>>,
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
    /// Create `~/.foundry/logs/<timestamp>-<command>.log` (0600).
    pub fn create(dir: &Path, command: &str) -> std::io::Result<RunLogHandle> {
        std::fs::create_dir_all(dir)?;
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
        let mut opts = OpenOptions::new();
        opts.create_new(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&path)?;
        Ok(Arc::new(RunLog {
            path: Some(path),
            file: Mutex::new(Some(file)),
        }))
    }

    /// A log that writes nothing (offline plan, unit tests).
    pub fn disabled() -> RunLogHandle {
        Arc::new(RunLog {
            path: None,
            file: Mutex::new(None),
        })
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn write(&self, kind: &str, host: Option<&str>, body: serde_json::Value) {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let Some(f) = guard.as_mut() else { return };
        let line = Line {
            ts: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            kind,
            host,
            body,
        };
        if let Ok(s) = serde_json::to_string(&line) {
            let _ = writeln!(f, "{}", redact::scrub(&s));
        }
    }

    /// Record a remote command.
    pub fn exec(&self, host: &str, rec: &ExecRecord<'_>) {
        self.write(
            "exec",
            Some(host),
            serde_json::to_value(rec).unwrap_or_default(),
        );
    }

    /// Record an event (step started/finished, component done, ...).
    pub fn event(&self, host: Option<&str>, what: &str, detail: serde_json::Value) {
        self.write(
            "event",
            host,
            serde_json::json!({ "event": what, "detail": detail }),
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
        );
    }
}
