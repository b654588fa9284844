//! OpenBao as foundry's secret store: the HTTP client, where its credentials live, bringing a
//! server to "initialised, unsealed, KV v2 at `secret/`", and the typed [`SecretStore`] other
//! components and `foundry secret` use. The component that installs it is
//! `component::openbao`; see docs/openbao.md.

pub mod address;
pub mod bootstrap;
pub mod client;
pub mod creds;
pub mod error;
pub mod resolver;
pub mod secret_cmd;
pub mod ssh_keys;
pub mod store;

pub use client::Client;
pub use error::OpenbaoError;
pub use resolver::LazyStore;
pub use ssh_keys::{migrate_local_keys, SshKeyPair};
pub use store::SecretStore;
