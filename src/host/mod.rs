//! Host facts, systemd and container runtime helpers.
