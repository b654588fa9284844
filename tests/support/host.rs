//! One test host: a systemd-nspawn machine on the bed, booted by `bed.sh host-up`, removed by
//! `bed.sh host-down` on drop. `ssh`/`ssh_ok` use the OpenSSH client with the host key pinned;
//! they are for test assertions and fault injection, not a stand-in for foundry's own SSH.

use super::lease::{self, Lease};
use super::process;
use super::{bed_sh, Bed};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

/// Generous: a command may pull a large image inside the host.
const SSH_TIMEOUT: Duration = Duration::from_secs(300);

pub struct TestHost {
    pub name: String,
    pub ip: String,
    /// `ssh-ed25519 AAAA...` (stable per name across runs)
    pub host_key: String,
    idx: u8,
    lease: Lease,
    state: PathBuf,
    client_key: PathBuf,
    known_hosts: tempfile::NamedTempFile,
}

impl TestHost {
    pub(crate) fn boot(bed: &Bed, tag: &str) -> TestHost {
        let lease = lease::acquire(&bed.dir, tag);
        // a leftover with this name (killed test, hand-made host) must not lend us its disk
        if bed.dir.join("run/hosts").join(&lease.name).exists() {
            if let Err(e) = bed_sh(&["host-down", &lease.name]) {
                lease.release(&bed.dir);
                panic!("cannot clear leftover host {}:\n{e}", lease.name);
            }
        }
        let idx_s = lease.idx.to_string();
        let up = bed_sh(&["host-up", &lease.name, &idx_s]);
        let out = match up {
            Ok(out) => out,
            Err(e) => {
                // host-up stops a host that failed to boot; remove its state and the lease too
                let _ = bed_sh(&["host-down", &lease.name]);
                lease.release(&bed.dir);
                panic!("host {} did not come up:\n{e}", lease.name);
            }
        };
        let line = out.lines().last().unwrap_or_default().to_string();
        let mut it = line.split_whitespace();
        let (name, ip) = (
            it.next().unwrap_or_default().to_string(),
            it.next().unwrap_or_default().to_string(),
        );
        assert_eq!(name, lease.name, "unexpected host-up output: {out:?}");
        let host_key = match bed_sh(&["hostkey", &name]) {
            Ok(k) => k.trim().to_string(),
            Err(e) => panic!("hostkey {name}: {e}"),
        };
        assert!(
            host_key.starts_with("ssh-ed25519 "),
            "bad host key for {name}: {host_key:?}"
        );
        let mut known_hosts = tempfile::NamedTempFile::new().expect("temp known_hosts");
        writeln!(known_hosts, "{ip} {host_key}").expect("write known_hosts");
        TestHost {
            name,
            ip,
            host_key,
            idx: lease.idx,
            lease,
            state: bed.dir.clone(),
            client_key: bed.client_key.clone(),
            known_hosts,
        }
    }

    /// `<ip> ssh-ed25519 AAAA...`
    pub fn known_hosts_line(&self) -> String {
        format!("{} {}", self.ip, self.host_key)
    }

    /// The last octet of the IP (also in the host-side veth name `fdyv<idx>`).
    pub fn idx(&self) -> u8 {
        self.idx
    }

    /// Runs `cmd` (a remote shell command line) as root.
    pub fn ssh(&self, cmd: &str) -> Output {
        self.ssh_as("root", cmd)
    }

    /// Runs `cmd` as `user` (root, alice or bob log in with the bed's client key).
    pub fn ssh_as(&self, user: &str, cmd: &str) -> Output {
        let mut c = Command::new("ssh");
        c.args(["-F", "/dev/null", "-i"])
            .arg(&self.client_key)
            .args([
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=yes",
            ])
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                self.known_hosts.path().display()
            ))
            .args([
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "ConnectTimeout=5",
                "-o",
                "LogLevel=ERROR",
            ])
            .arg(format!("{user}@{}", self.ip))
            .arg("--")
            .arg(cmd)
            .env_remove("SSH_AUTH_SOCK");
        let out = process::run(c, SSH_TIMEOUT);
        Output {
            status: exit_status(out.code),
            stdout: out.stdout.into_bytes(),
            stderr: out.stderr.into_bytes(),
        }
    }

    /// Runs `cmd` as root, asserts exit 0, returns stdout.
    pub fn ssh_ok(&self, cmd: &str) -> String {
        let out = self.ssh(cmd);
        assert!(
            out.status.success(),
            "on {} ({}): `{cmd}` failed ({})\n--- stdout ---\n{}--- stderr ---\n{}",
            self.name,
            self.ip,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Reloads sshd after a config change and waits until it accepts a new login again: on
    /// SIGHUP sshd re-executes itself and closes its listening socket meanwhile, so a connect
    /// right after `systemctl reload` can be refused (CI saw exactly that).
    pub fn reload_sshd(&self) {
        self.ssh_ok("systemctl reload ssh || systemctl reload sshd");
        let t0 = std::time::Instant::now();
        while !self.ssh("true").status.success() {
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(20),
                "sshd on {} did not accept a login within 20 s of its reload",
                self.name
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Powers the host off (its disk is kept): a host that is down. Drop is still safe after.
    pub fn stop(&self) {
        if let Err(e) = bed_sh(&["host-stop", &self.name]) {
            panic!("stopping {}: {e}", self.name);
        }
    }

    /// Cuts the host off the network while it keeps running (its bridge port goes down):
    /// connections to and from it hang, as with a pulled cable.
    pub fn cut_network(&self) {
        if let Err(e) = bed_sh(&["net-cut", &self.name]) {
            panic!("cutting {} off: {e}", self.name);
        }
    }

    /// Undoes [`TestHost::cut_network`].
    pub fn restore_network(&self) {
        if let Err(e) = bed_sh(&["net-restore", &self.name]) {
            panic!("reconnecting {}: {e}", self.name);
        }
    }

    /// Boots a stopped host again, same IP, key and disk (a reboot seen from outside).
    pub fn start(&self) {
        if let Err(e) = bed_sh(&["host-up", &self.name, &self.idx.to_string()]) {
            panic!("starting {} again: {e}", self.name);
        }
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if let Err(e) = bed_sh(&["host-down", &self.name]) {
            // never panic in drop (it may run while a test is already unwinding)
            eprintln!("[harness] host-down {} failed: {e}", self.name);
        }
        self.lease.release(&self.state);
    }
}

fn exit_status(code: i32) -> std::process::ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    // wait(2) encoding: exit code in bits 8..15; -1 (killed) becomes SIGKILL
    if code < 0 {
        std::process::ExitStatus::from_raw(libc::SIGKILL)
    } else {
        std::process::ExitStatus::from_raw((code & 0xff) << 8)
    }
}
