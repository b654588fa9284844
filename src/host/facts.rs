//! TEMPORARY STUB (replaced by the ssh branch).
#![allow(unused)]
use serde::Serialize;
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub enum RuntimeKind {
    Podman,
    Docker,
}
#[derive(Debug, Clone, Serialize)]
pub struct RuntimeInfo {
    pub kind: RuntimeKind,
    pub version: String,
}
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    pub hostname: String,
    pub os_id: String,
    pub os_version: String,
    pub os_pretty: String,
    pub arch: String,
    pub kernel: String,
    pub init: String,
    pub virt: String,
    pub runtimes: Vec<RuntimeInfo>,
    pub free_disk_mb: u64,
    pub listening_tcp: Vec<u16>,
    pub sudo_ok: bool,
    pub user: String,
}
pub async fn gather(s: &crate::ssh::Session) -> anyhow::Result<Facts> {
    unimplemented!()
}
