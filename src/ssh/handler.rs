//! The russh client handler: host-key verification. russh only learns "accepted or not", so the
//! precise reason (unknown, changed, where recorded, fingerprints) is left in shared state for
//! `connect` to turn into the error message.

use super::known_hosts::{self, Verdict};
use super::target::SshOptions;
use russh::keys::PublicKeyOrCertificate;
use std::sync::{Arc, Mutex};

/// Why a host key was refused (or that it was newly recorded).
#[derive(Debug, Clone)]
pub(crate) enum KeyOutcome {
    Known,
    Recorded {
        fingerprint: String,
        file: String,
    },
    Unknown {
        fingerprint: String,
    },
    Changed {
        fingerprint: String,
        recorded: Vec<(String, String)>,
    },
    OtherTypes {
        fingerprint: String,
        alg: String,
        recorded: Vec<(String, String)>,
    },
    Revoked {
        fingerprint: String,
        at: String,
    },
    Certificate,
    RecordFailed {
        fingerprint: String,
        file: String,
        error: String,
    },
}

pub(crate) struct ClientHandler {
    pub address: String,
    pub port: u16,
    pub opts: SshOptions,
    pub outcome: Arc<Mutex<Option<KeyOutcome>>>,
}

impl ClientHandler {
    fn verify(&self, key: &russh::keys::PublicKey) -> KeyOutcome {
        let fp = known_hosts::fingerprint(key);
        let list = |v: &[known_hosts::Entry]| -> Vec<(String, String)> {
            v.iter()
                .map(|e| (known_hosts::fingerprint(&e.key), e.at.to_string()))
                .collect()
        };
        match known_hosts::check(&self.address, self.port, key, &self.opts.known_hosts_read) {
            Verdict::Known(_) => KeyOutcome::Known,
            Verdict::Changed(v) => KeyOutcome::Changed {
                fingerprint: fp,
                recorded: list(&v),
            },
            Verdict::OtherTypes(v) => KeyOutcome::OtherTypes {
                fingerprint: fp,
                alg: key.algorithm().to_string(),
                recorded: list(&v),
            },
            Verdict::Revoked(at) => KeyOutcome::Revoked {
                fingerprint: fp,
                at: at.to_string(),
            },
            Verdict::Unknown if !self.opts.accept_new => KeyOutcome::Unknown { fingerprint: fp },
            Verdict::Unknown => {
                let file = self.opts.known_hosts_write.display().to_string();
                match known_hosts::record(
                    &self.address,
                    self.port,
                    key,
                    &self.opts.known_hosts_write,
                ) {
                    Ok(()) => KeyOutcome::Recorded {
                        fingerprint: fp,
                        file,
                    },
                    Err(e) => KeyOutcome::RecordFailed {
                        fingerprint: fp,
                        file,
                        error: e.to_string(),
                    },
                }
            }
        }
    }
}

impl russh::client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let outcome = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => self.verify(key),
            PublicKeyOrCertificate::Certificate(_) => KeyOutcome::Certificate,
        };
        let ok = matches!(outcome, KeyOutcome::Known | KeyOutcome::Recorded { .. });
        if let KeyOutcome::Recorded { fingerprint, file } = &outcome {
            tracing::warn!(
                "recorded new host key for {}:{} ({fingerprint}) in {file}",
                self.address,
                self.port
            );
        }
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
        Ok(ok)
    }
}

/// The user-facing sentence for a refused key (None when the key was not the problem).
pub(crate) fn refusal_message(o: &KeyOutcome) -> Option<String> {
    let fmt_rec = |r: &[(String, String)]| {
        r.iter()
            .map(|(fp, at)| format!("{fp} at {at}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Some(match o {
        KeyOutcome::Known | KeyOutcome::Recorded { .. } => return None,
        KeyOutcome::Unknown { fingerprint } => format!(
            "unknown host key {fingerprint}: no known_hosts entry for this host; verify the fingerprint \
             (on the host: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and re-run with \
             --accept-new-host-keys to record it"
        ),
        KeyOutcome::Changed { fingerprint, recorded } => format!(
            "host key CHANGED: the host presented {fingerprint} but {} is recorded; this may be a \
             man-in-the-middle attack. If the host was reinstalled, remove the old line and connect again \
             (--accept-new-host-keys does not override a changed key)",
            fmt_rec(recorded)
        ),
        KeyOutcome::OtherTypes { fingerprint, alg, recorded } => format!(
            "host key of unexpected type: the host presented {alg} key {fingerprint}, but only keys of other \
             types are recorded ({}); refusing. Remove the old line(s) if the host's keys were replaced",
            fmt_rec(recorded)
        ),
        KeyOutcome::Revoked { fingerprint, at } => format!("host key {fingerprint} is marked @revoked at {at}"),
        KeyOutcome::Certificate => "the host presented a host certificate; foundry verifies plain host keys only".into(),
        KeyOutcome::RecordFailed { fingerprint, file, error } => {
            format!("could not record new host key {fingerprint} in {file}: {error}")
        }
    })
}
