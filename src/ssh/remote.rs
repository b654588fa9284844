//! What the engine and the components need from a connected host, as a trait: the SSH
//! [`Session`] is the real implementation; unit tests of plans and of the engine use a test
//! double that answers from recorded command outputs (`component::testing`).

use super::cmd::{Cmd, Output};
use super::session::Session;
use super::target::SudoMode;
use super::transfer::Upload;

#[async_trait::async_trait]
pub trait Remote: Send + Sync {
    /// The stack.yaml host name.
    fn name(&self) -> &str;
    /// `name (user@address:port)` for messages.
    fn label(&self) -> String;
    /// How privileged commands run (the facts probe feeds a sudo password on stdin).
    fn sudo_mode(&self) -> &SudoMode;
    /// Run a command; a non-zero exit is not an error (see `Output::check`).
    async fn exec(&self, c: &Cmd) -> anyhow::Result<Output>;
    /// Write a file atomically (one mutating command).
    async fn upload(&self, u: &Upload) -> anyhow::Result<()>;
    /// A file's bytes, `None` when it does not exist. Read-only.
    async fn read_file(&self, path: &str, sudo: bool) -> anyhow::Result<Option<Vec<u8>>>;
}

#[async_trait::async_trait]
impl Remote for Session {
    fn name(&self) -> &str {
        &self.target().name
    }
    fn label(&self) -> String {
        self.target().label()
    }
    fn sudo_mode(&self) -> &SudoMode {
        &self.target().sudo
    }
    async fn exec(&self, c: &Cmd) -> anyhow::Result<Output> {
        Session::exec(self, c).await
    }
    async fn upload(&self, u: &Upload) -> anyhow::Result<()> {
        Session::upload(self, u).await
    }
    async fn read_file(&self, path: &str, sudo: bool) -> anyhow::Result<Option<Vec<u8>>> {
        Session::read_file(self, path, sudo).await
    }
}
