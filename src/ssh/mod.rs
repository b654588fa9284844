//! SSH: sessions, exec, upload, known_hosts, quoting.
//! TEMPORARY STUB of the API contract (replaced by the ssh branch).
#![allow(unused)]
use crate::config::{HostConfig, SshDefaults};
use crate::run::log::RunLogHandle;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub mod quote {
    pub fn quote(s: &str) -> String {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
    pub fn join<S: AsRef<str>>(args: &[S]) -> String {
        args.iter()
            .map(|a| quote(a.as_ref()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Debug, Clone)]
pub enum SudoMode {
    None,
    Passwordless,
    Password(String),
}
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
    pub key_path: Option<PathBuf>,
    pub password: Option<String>,
    pub sudo: SudoMode,
    pub bastion: Option<Box<Target>>,
}
impl Target {
    pub fn from_host(h: &HostConfig, d: &SshDefaults) -> Target {
        unimplemented!()
    }
}
#[derive(Debug, Clone)]
pub struct SshOptions {
    pub known_hosts_read: Vec<PathBuf>,
    pub known_hosts_write: PathBuf,
    pub accept_new: bool,
    pub connect_timeout: Duration,
}
impl SshOptions {
    pub fn standard(accept_new: bool, connect_timeout: Duration) -> Self {
        unimplemented!()
    }
}
#[derive(Clone)]
pub struct Session {}
impl Session {
    pub async fn connect(t: &Target, o: &SshOptions, log: RunLogHandle) -> anyhow::Result<Session> {
        unimplemented!()
    }
    pub fn target(&self) -> &Target {
        unimplemented!()
    }
    pub async fn exec(&self, c: &Cmd) -> anyhow::Result<Output> {
        unimplemented!()
    }
    pub async fn upload(&self, u: &Upload) -> anyhow::Result<()> {
        unimplemented!()
    }
    pub async fn read_file(&self, path: &str, sudo: bool) -> anyhow::Result<Option<Vec<u8>>> {
        unimplemented!()
    }
    pub async fn close(&self) {}
}
pub struct Cmd {
    pub script: String,
    pub sudo: bool,
    pub mutating: bool,
    pub stdin: Option<Vec<u8>>,
    pub timeout: Option<Duration>,
    pub label: Option<String>,
}
impl Cmd {
    pub fn read(script: impl Into<String>) -> Cmd {
        unimplemented!()
    }
    pub fn mutate(script: impl Into<String>) -> Cmd {
        unimplemented!()
    }
    pub fn sudo(self) -> Cmd {
        self
    }
    pub fn stdin(self, b: Vec<u8>) -> Cmd {
        self
    }
    pub fn timeout(self, d: Duration) -> Cmd {
        self
    }
    pub fn label(self, l: &str) -> Cmd {
        self
    }
}
pub struct Output {
    pub exit: u32,
    pub stdout: String,
    pub stderr: String,
}
impl Output {
    pub fn success(&self) -> bool {
        self.exit == 0
    }
    pub fn check(self, what: &str) -> anyhow::Result<Output> {
        unimplemented!()
    }
}
pub struct Upload {
    pub path: String,
    pub content: Vec<u8>,
    pub mode: u32,
    pub owner: Option<String>,
    pub group: Option<String>,
    pub sudo: bool,
}
pub struct Pool {}
impl Pool {
    pub fn new(o: SshOptions, log: RunLogHandle, max_parallel: usize) -> Arc<Pool> {
        unimplemented!()
    }
    pub async fn get(&self, t: &Target) -> anyhow::Result<Session> {
        unimplemented!()
    }
    pub async fn close_all(&self) {}
}
