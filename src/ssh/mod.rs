//! SSH: sessions, exec, upload, known_hosts, quoting.
//!
//! - [`quote`]: the one POSIX quoting function; every value sent to a remote shell goes through it.
//! - [`Target`] / [`SshOptions`]: who to connect to, and how host keys are checked.
//! - [`Session`]: one authenticated connection; [`Cmd`]s run on channels multiplexed over it.
//! - [`Remote`]: what the engine needs from a connected host (a trait, so plans can be unit-tested).
//! - [`Pool`]: one session per host per run, shared by all tasks.
//! - [`keygen`]: foundry-generated login keys (`host add --bootstrap-password`).

mod auth;
mod cmd;
mod handler;
pub mod keygen;
pub mod known_hosts;
mod pool;
pub mod quote;
mod remote;
mod session;
mod target;
mod transfer;

pub use cmd::{Cmd, Output, StreamKind};
pub use pool::Pool;
pub use remote::Remote;
pub use session::Session;
pub use target::{SshOptions, SudoMode, Target};
pub use transfer::Upload;
