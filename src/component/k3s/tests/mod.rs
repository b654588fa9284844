//! Golden files (`UPDATE_GOLDEN=1 cargo test --lib k3s` rewrites them, the Zot helper) and
//! table tests for the pure parts of the K3s component.

pub(super) use crate::component::zot::tests::golden;

mod config;
mod describe;
mod docs;
mod fixture;
mod install;
mod kube_vip;
mod kubeconfig;
mod preflight;
mod probe;
mod registries;
