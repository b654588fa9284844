//! Host facts, systemd and container runtime helpers.

pub mod container;
pub mod facts;
pub mod systemd;
