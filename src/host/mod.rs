//! Host facts, systemd and container runtime helpers.

pub mod facts;
