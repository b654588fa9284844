//! Who to connect to and how: a host from stack.yaml turned into connection parameters.

use crate::config::{BastionConfig, HostConfig, SshDefaults};
use crate::paths;
use crate::redact;
use std::path::PathBuf;
use std::time::Duration;

/// How privileged commands (`Cmd::sudo`) are run on a host.
#[derive(Clone, PartialEq, Eq)]
pub enum SudoMode {
    /// Run as the login user: it is root, or sudo is disabled for the host.
    None,
    /// `sudo -n`: the user may sudo without a password.
    Passwordless,
    /// `sudo -S` fed this password on standard input (never on a command line).
    Password(String),
}

impl std::fmt::Debug for SudoMode {
    // Hand-written so a password can never reach a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SudoMode::None => f.write_str("None"),
            SudoMode::Passwordless => f.write_str("Passwordless"),
            SudoMode::Password(_) => f.write_str("Password(***)"),
        }
    }
}

/// One SSH endpoint. `name` is the stack.yaml hostname (used in messages and as the pool key);
/// `address` is what is dialled and what known_hosts entries are looked up by.
#[derive(Clone)]
pub struct Target {
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub key_path: Option<PathBuf>,
    /// The private key itself (OpenSSH/PEM text), when `ssh_key` held key material rather than
    /// a path — typically `${secret:ssh-keys/<host>:private}` resolved from OpenBao.
    pub key_pem: Option<String>,
    /// Password authentication, already resolved (no `${secret:}` left).
    pub password: Option<String>,
    pub sudo: SudoMode,
    pub bastion: Option<Box<Target>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("key_path", &self.key_path)
            .field("key_pem", &self.key_pem.as_ref().map(|_| "***"))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("sudo", &self.sudo)
            .field("bastion", &self.bastion)
            .finish()
    }
}

/// `ssh_key` is a file path (`~/` expanded) or, once resolved from a secret reference, the key
/// itself. Key material is registered for redaction.
fn key_source(v: Option<&str>) -> (Option<PathBuf>, Option<String>) {
    match v {
        Some(k) if k.trim_start().starts_with("-----BEGIN ") => {
            redact::register(k.trim());
            (None, Some(k.to_string()))
        }
        Some(p) => (Some(paths::expand_tilde(p)), None),
        None => (None, None),
    }
}

impl Target {
    /// Build a target from a host whose secret references are already resolved. The login user
    /// is the host's, else `ssh.user`; the key the host's `ssh_key`, else `ssh.key`, else none
    /// (then ssh-agent and the default key files are tried). sudo defaults to on unless the user
    /// is root. Password values are registered for redaction here, so no caller can forget.
    pub fn from_host(h: &HostConfig, d: &SshDefaults) -> Target {
        let user = h.user.clone().unwrap_or_else(|| d.user.clone());
        let (key_path, key_pem) = key_source(h.ssh_key.as_deref().or(d.key.as_deref()));
        if let Some(p) = &h.password {
            redact::register(p);
        }
        let sudo_wanted = h.sudo.unwrap_or(user != "root");
        let sudo = if !sudo_wanted || user == "root" {
            SudoMode::None
        } else if let Some(p) = &h.sudo_password {
            redact::register(p);
            SudoMode::Password(p.clone())
        } else {
            SudoMode::Passwordless
        };
        Target {
            name: h.hostname.clone(),
            address: h.address.clone(),
            port: h.port,
            user,
            key_path,
            key_pem,
            password: h.password.clone(),
            sudo,
            bastion: h.bastion.as_ref().map(|b| Box::new(Target::bastion(b, d))),
        }
    }

    fn bastion(b: &BastionConfig, d: &SshDefaults) -> Target {
        Target {
            name: format!("bastion {}", b.address),
            address: b.address.clone(),
            port: b.port,
            user: b.user.clone().unwrap_or_else(|| d.user.clone()),
            key_path: key_source(b.ssh_key.as_deref().or(d.key.as_deref())).0,
            key_pem: key_source(b.ssh_key.as_deref().or(d.key.as_deref())).1,
            password: None,
            sudo: SudoMode::None,
            bastion: None,
        }
    }

    /// `name (address:port)`, plus ` via bastion` when jumping: how a host is named in errors.
    pub fn label(&self) -> String {
        let mut s = if self.name == self.address {
            format!("{}:{}", self.address, self.port)
        } else {
            format!("{} ({}:{})", self.name, self.address, self.port)
        };
        if let Some(b) = &self.bastion {
            s.push_str(&format!(" via {}:{}", b.address, b.port));
        }
        s
    }
}

/// Where host keys are checked and recorded, and how long a connection may take.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// Every file consulted for known host keys, in order.
    pub known_hosts_read: Vec<PathBuf>,
    /// Where `accept_new` records a first-seen key (created 0600).
    pub known_hosts_write: PathBuf,
    /// Record the key of a host seen for the first time instead of refusing it.
    pub accept_new: bool,
    /// TCP connect + SSH handshake + authentication, per hop.
    pub connect_timeout: Duration,
}

impl SshOptions {
    /// Read `~/.ssh/known_hosts` and `~/.foundry/known_hosts`; write new keys to the latter.
    pub fn standard(accept_new: bool, connect_timeout: Duration) -> Self {
        let own = paths::known_hosts();
        SshOptions {
            known_hosts_read: vec![paths::user_known_hosts(), own.clone()],
            known_hosts_write: own,
            accept_new,
            connect_timeout,
        }
    }
}
