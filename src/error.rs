//! Error classes and exit codes. Every failure that should map to a specific exit code carries a
//! [`Failure`] somewhere in its anyhow chain; `main` looks for it. Everything else exits 1.

use std::fmt;

/// Documented exit codes (docs/exit-codes in README). Stable: scripts depend on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitClass {
    /// 1: anything not classified below.
    General = 1,
    /// 2: bad command line (clap uses 2 as well).
    Usage = 2,
    /// 3: stack.yaml could not be read, parsed or validated; a secret reference did not resolve.
    Config = 3,
    /// 4: a host (or OpenBao) could not be reached or authenticated, or its host key was refused.
    Connection = 4,
    /// 5: a step failed on every host it ran on, or a component-level step failed.
    StepFailed = 5,
    /// 6: partial: some hosts converged, others failed; later components were not started.
    Partial = 6,
    /// 7: `status` found something unhealthy or not installed.
    Unhealthy = 7,
    /// 8: another foundry run holds the lock on this stack.
    Locked = 8,
    /// 130: interrupted by Ctrl-C; running steps were allowed to finish.
    Interrupted = 130,
}

impl ExitClass {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// A stable word for programs (`-o json` error objects).
    pub fn name(self) -> &'static str {
        match self {
            ExitClass::General => "error",
            ExitClass::Usage => "usage",
            ExitClass::Config => "config",
            ExitClass::Connection => "connection",
            ExitClass::StepFailed => "step-failed",
            ExitClass::Partial => "partial",
            ExitClass::Unhealthy => "unhealthy",
            ExitClass::Locked => "locked",
            ExitClass::Interrupted => "interrupted",
        }
    }
}

/// The error object `-o json` / `-o yaml` print on stdout when a command fails:
/// `{"error": {"class", "exit_code", "message", "details"}}`. `message` is the first line of
/// the shown text; `details` the rest (one per finding of an invalid stack.yaml, say).
pub fn error_object(class: ExitClass, shown: &str) -> serde_json::Value {
    let mut lines = shown.lines();
    let message = lines.next().unwrap_or_default();
    let details: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    serde_json::json!({
        "error": {
            "class": class.name(),
            "exit_code": class.code(),
            "message": message,
            "details": details,
        }
    })
}

/// A failure with a class. Its message is shown to the user as-is, so it must never contain a
/// secret value (callers scrub with `secrets::redact::scrub` where user data is involved).
#[derive(Debug)]
pub struct Failure {
    pub class: ExitClass,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Build an `anyhow::Error` carrying an exit class.
pub fn fail(class: ExitClass, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        class,
        message: message.into(),
    })
}

/// The exit class of an error: the first [`Failure`] in its chain, else `General`.
pub fn class_of(err: &anyhow::Error) -> ExitClass {
    err.chain()
        .find_map(|e| e.downcast_ref::<Failure>().map(|f| f.class))
        .unwrap_or(ExitClass::General)
}
