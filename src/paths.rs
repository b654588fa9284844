//! Where foundry keeps its own files on the operator's machine. Everything derives from
//! `FOUNDRY_HOME` (default `~/.foundry`) and `HOME`, so tests isolate themselves by setting
//! `HOME` to a temporary directory.

use std::path::{Path, PathBuf};

pub fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// `~/.foundry` unless `FOUNDRY_HOME` is set.
pub fn foundry_home() -> PathBuf {
    match std::env::var_os("FOUNDRY_HOME") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => home().join(".foundry"),
    }
}

/// Default stack file: `~/.foundry/stack.yaml`.
pub fn default_config() -> PathBuf {
    foundry_home().join("stack.yaml")
}

/// `~/.foundryvars`: `instance/path:key=value` lines (see docs/secrets.md).
pub fn foundryvars() -> PathBuf {
    match std::env::var_os("FOUNDRY_VARS") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => home().join(".foundryvars"),
    }
}

/// foundry's own known_hosts (written by `--accept-new-host-keys`); `~/.ssh/known_hosts` is read too.
pub fn known_hosts() -> PathBuf {
    foundry_home().join("known_hosts")
}

pub fn user_known_hosts() -> PathBuf {
    home().join(".ssh").join("known_hosts")
}

/// Private keys foundry generated, kept here (0600) until OpenBao exists.
pub fn keys_dir() -> PathBuf {
    foundry_home().join("keys")
}

/// One log file per run.
pub fn logs_dir() -> PathBuf {
    foundry_home().join("logs")
}

/// Create `dir` and its missing parents 0700 (foundry's folders hold keys, tokens, kubeconfigs
/// and logs: nobody else on the machine reads them). An existing folder is left as it is.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Expand a leading `~/` against `HOME`.
pub fn expand_tilde(p: &str) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/") {
        home().join(rest)
    } else if p == "~" {
        home()
    } else {
        PathBuf::from(p)
    }
}
