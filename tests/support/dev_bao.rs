//! A real `bao server -dev` (the bed's OpenBao 2.7.2 binary) on 127.0.0.1: in memory, unsealed,
//! KV v2 at secret/, with a known root token. Shared by tests/openbao.rs and tests/helm.rs.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A free TCP port on 127.0.0.1 (bound and released; good enough for a test server).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start the dev server on `port` with root token `token`; `home` keeps its token helper
/// files out of the real HOME. The caller waits until it answers and kills it.
pub fn spawn(token: &str, port: u16, home: &Path) -> Child {
    Command::new(super::bed().bao_binary())
        .args([
            "server",
            "-dev",
            "-dev-no-store-token",
            &format!("-dev-root-token-id={token}"),
            &format!("-dev-listen-address=127.0.0.1:{port}"),
        ])
        .env("HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bao server -dev")
}
