//! K3s behind a kube-vip VIP: everything the K3s component's phases need that is pure (no SSH,
//! no network): node roles, tokens, rendered files (config.yaml, registries.yaml, kube-vip
//! manifests, the systemd unit), install inputs, the kubeconfig rewrite and merge, and the
//! preflight probe and rules. The phases themselves live in the engine. See docs/k3s.md.

pub mod config;
pub mod describe;
pub mod install;
pub mod kube_vip;
pub mod kubeconfig;
pub mod phases;
pub mod preflight;
pub mod probe;
pub mod registries;
pub mod roles;
pub mod token;
pub mod version;

#[cfg(test)]
mod tests;

pub use config::{node_config, NodeConfig, NodeNet};
pub use describe::describe_offline;
pub use install::{verify_bundle, K3sArch, VerifiedBundle};
pub use phases::K3s;
pub use preflight::{Finding, Outcome};
pub use probe::{node_net, HostProbe};
pub use registries::MirrorSettings;
pub use roles::{resolve as resolve_roles, ClusterNode, NodeRole, CLUSTER_ROLES};
pub use token::Tokens;
