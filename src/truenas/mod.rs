//! TrueNAS over its JSON-RPC 2.0 WebSocket API (`wss://HOST/api/current`): the client
//! (versions check, TLS trust, `auth.login_ex` with an API key, typed calls), and the storage
//! plan that turns `storage.truenas` into API actions. The REST API is gone in TrueNAS 26.
//!
//! Facts used here are in `docs/storage.md` and the reference it names; the fake server the
//! tests use is `tests/support/fake_truenas.rs`.

mod actions;
mod client;
mod conn;
mod datasets;
mod desired;
mod endpoint;
mod error;
mod nfs;
mod phase;
mod plan;
pub mod remove;
pub mod selftest;
pub mod size;
pub mod stack_edit;
mod system;
mod tls;
mod version;

pub use actions::{connect_for, plan, read_live, StorageAction};
pub use client::{Client, Settings};
pub use datasets::{Dataset, DatasetKind};
pub use desired::{dataset_id, desired, mount_path, Desired, DesiredDataset, DesiredShare};
pub use endpoint::Endpoint;
pub use error::{to_failure, FieldError, LoginRefusal, RpcCode, RpcFailure, TruenasError};
pub use nfs::NfsShare;
pub use phase::StoragePhase;
pub use plan::{changes, Change, Live};
pub use system::{Pool, Service, ServiceState};
pub use tls::{fingerprint, parse_fingerprint, Trust};
pub use version::KNOWN as KNOWN_API_VERSIONS;
