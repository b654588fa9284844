//! foundry: install and operate a small self-hosted platform over SSH.
//!
//! Module map: `config` (stack.yaml), `secrets` (references, resolver chain, redaction),
//! `ssh` (sessions, quoting, known_hosts), `host` (facts, systemd, container runtime),
//! `component` (trait, registry, plan/apply engine, one folder per component),
//! `run` (run log, lock, progress, interrupt), `commands` (thin CLI handlers).

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod component;
pub mod config;
pub mod error;
pub mod host;
pub mod k8s;
pub mod openbao;
pub mod output;
pub mod paths;
pub mod redact;
pub mod run;
pub mod secrets;
pub mod ssh;
pub mod truenas;
