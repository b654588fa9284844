//! What a host is: OS, architecture, init system, container runtimes, free disk, listening ports,
//! whether sudo works. Gathered in ONE read-only round trip: a script printing `key=value` lines.

use crate::ssh::{Cmd, Remote, SudoMode};
use anyhow::Context;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    pub hostname: String,
    /// `ID` from /etc/os-release, e.g. `debian`, `ubuntu`, `rocky`.
    pub os_id: String,
    pub os_version: String,
    pub os_pretty: String,
    /// Container-image arch names: amd64, arm64, arm, 386, ppc64le, s390x, riscv64 (else `uname -m`).
    pub arch: String,
    pub kernel: String,
    /// "systemd", or the name of PID 1.
    pub init: String,
    /// `systemd-detect-virt`: e.g. "systemd-nspawn", "kvm", "none".
    pub virt: String,
    pub runtimes: Vec<RuntimeInfo>,
    /// Available to unprivileged users on `/`, in MiB.
    pub free_disk_mb: u64,
    pub listening_tcp: Vec<u16>,
    /// Privileged commands will work: the user is root, or sudo (with the configured mode) works.
    pub sudo_ok: bool,
    pub user: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    Podman,
    Docker,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuntimeInfo {
    pub kind: RuntimeKind,
    pub version: String,
}

/// The sudo probe for each mode. With a password, sudo reads it from the script's stdin.
fn sudo_probe(mode: &SudoMode) -> &'static str {
    match mode {
        SudoMode::None => r#"if [ "$u" = root ]; then echo sudo=ok; else echo sudo=no; fi"#,
        SudoMode::Passwordless => {
            "if sudo -n true >/dev/null 2>&1; then echo sudo=ok; else echo sudo=no; fi"
        }
        SudoMode::Password(_) => {
            "if sudo -k -S -p '' true >/dev/null 2>&1; then echo sudo=ok; else echo sudo=no; fi"
        }
    }
}

/// The gathering script. Every probe tolerates a missing tool (minimal images lack `ss`, `df`
/// may lack -P on busybox, ...) so one absent program never hides the other facts.
///
/// It runs on every host at the start of every run, so it starts as few programs as it can
/// (shell builtins read /proc; each program started costs the host a few ms of CPU, and a
/// Raspberry Pi pays that on every CI run). The container runtimes' versions are asked only
/// with `versions` (`host test` shows them; a run only needs to know which runtime exists,
/// and `podman --version` alone costs tens of ms of CPU).
fn script(mode: &SudoMode, versions: bool) -> String {
    let runtimes = if versions {
        r#"# The runtimes' version calls are the slow part: run them alongside the rest. Each prints
# one short line (atomic on the pipe), so order does not matter.
if command -v podman >/dev/null 2>&1; then echo "podman=$(podman --version 2>/dev/null)" & fi
if command -v docker >/dev/null 2>&1; then echo "docker=$(docker --version 2>/dev/null)" & fi"#
    } else {
        r#"command -v podman >/dev/null 2>&1 && echo podman=present
command -v docker >/dev/null 2>&1 && echo docker=present"#
    };
    format!(
        r#"{runtimes}
if read -r h < /proc/sys/kernel/hostname 2>/dev/null; then echo "hostname=$h"; else echo "hostname=$(hostname 2>/dev/null)"; fi
if [ -r /etc/os-release ]; then . /etc/os-release; echo "os_id=$ID"; echo "os_version=$VERSION_ID"; echo "os_pretty=$PRETTY_NAME"; fi
set -- $(uname -m -r); echo "kernel=$1"; echo "arch=$2"
read -r i < /proc/1/comm 2>/dev/null; echo "init=$i"
echo "virt=$(systemd-detect-virt 2>/dev/null)"
df -Pk / 2>/dev/null | {{ read -r _; read -r _ _ _ a _; echo "disk_kb=$a"; }}
awk 'FNR > 1 && $4 == "0A" {{ n = split($2, a, ":"); print "listen=" a[n] }}' /proc/net/tcp /proc/net/tcp6 2>/dev/null
u=$(id -un); echo "user=$u"
{probe}
wait
"#,
        probe = sudo_probe(mode)
    )
}

/// Gather facts in one round trip. Read-only; the sudo probe runs only `true`.
pub async fn gather(s: &dyn Remote) -> anyhow::Result<Facts> {
    gather_with(s, false).await
}

/// [`gather`], plus the container runtimes' versions (for `host test`).
pub async fn gather_with_versions(s: &dyn Remote) -> anyhow::Result<Facts> {
    gather_with(s, true).await
}

async fn gather_with(s: &dyn Remote, versions: bool) -> anyhow::Result<Facts> {
    let mut c = Cmd::read(script(s.sudo_mode(), versions))
        .label("gather host facts")
        .timeout(Duration::from_secs(60));
    if let SudoMode::Password(pw) = s.sudo_mode() {
        c = c.stdin(format!("{pw}\n").into_bytes());
    }
    let out = s
        .exec(&c)
        .await?
        .check(&format!("{}: gathering host facts", s.label()))?;
    parse(&out.stdout)
        .with_context(|| format!("{}: unexpected output from the facts script", s.label()))
}

/// Map `uname -m` to the names container images use.
pub fn arch_name(uname_m: &str) -> String {
    match uname_m {
        "x86_64" | "amd64" => "amd64",
        "aarch64" | "arm64" => "arm64",
        "armv7l" | "armv7" | "armv6l" | "armhf" => "arm",
        "i386" | "i486" | "i586" | "i686" => "386",
        "ppc64le" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
    .to_string()
}

fn runtime_version(kind: RuntimeKind, text: &str) -> RuntimeInfo {
    if text == "present" {
        // Asked without versions.
        return RuntimeInfo {
            kind,
            version: String::new(),
        };
    }
    // "podman version 4.3.1" / "Docker version 20.10.24+dfsg1, build 297e128"
    let version = text
        .split_whitespace()
        .skip_while(|w| !w.eq_ignore_ascii_case("version"))
        .nth(1)
        .map(|v| v.trim_end_matches(',').to_string())
        .unwrap_or_else(|| text.trim().to_string());
    RuntimeInfo { kind, version }
}

fn parse(text: &str) -> anyhow::Result<Facts> {
    let mut f = Facts {
        hostname: String::new(),
        os_id: String::new(),
        os_version: String::new(),
        os_pretty: String::new(),
        arch: String::new(),
        kernel: String::new(),
        init: String::new(),
        virt: String::new(),
        runtimes: Vec::new(),
        free_disk_mb: 0,
        listening_tcp: Vec::new(),
        sudo_ok: false,
        user: String::new(),
    };
    let mut saw_user = false;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        match k {
            "hostname" => f.hostname = v.into(),
            "os_id" => f.os_id = v.into(),
            "os_version" => f.os_version = v.into(),
            "os_pretty" => f.os_pretty = v.into(),
            "arch" => f.arch = arch_name(v),
            "kernel" => f.kernel = v.into(),
            "init" => f.init = v.into(),
            "virt" => {
                f.virt = if v.is_empty() {
                    "unknown".into()
                } else {
                    v.into()
                }
            }
            "podman" if !v.is_empty() => f.runtimes.push(runtime_version(RuntimeKind::Podman, v)),
            "docker" if !v.is_empty() => f.runtimes.push(runtime_version(RuntimeKind::Docker, v)),
            "disk_kb" => f.free_disk_mb = v.parse::<u64>().map(|kb| kb / 1024).unwrap_or(0),
            "listen" => {
                if let Ok(p) = u16::from_str_radix(v, 16) {
                    f.listening_tcp.push(p);
                }
            }
            "user" => {
                f.user = v.into();
                saw_user = true;
            }
            "sudo" => f.sudo_ok = v == "ok",
            _ => {}
        }
    }
    anyhow::ensure!(
        saw_user && !f.arch.is_empty(),
        "missing user/arch lines in: {}",
        text.lines().take(3).collect::<Vec<_>>().join(" | ")
    );
    f.listening_tcp.sort_unstable();
    f.listening_tcp.dedup();
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_debian_nspawn_host() {
        let text = "hostname=hp-1\nos_id=debian\nos_version=12\nos_pretty=Debian GNU/Linux 12 (bookworm)\narch=x86_64\n\
                    kernel=6.1.0-18-amd64\ninit=systemd\nvirt=systemd-nspawn\npodman=podman version 4.3.1\n\
                    docker=Docker version 20.10.24+dfsg1, build 297e128\ndisk_kb=2048000\nlisten=0016\nlisten=1F90\nlisten=0016\n\
                    user=root\nsudo=ok\n";
        let f = parse(text).unwrap();
        assert_eq!(f.hostname, "hp-1");
        assert_eq!((f.os_id.as_str(), f.os_version.as_str()), ("debian", "12"));
        assert_eq!(f.arch, "amd64");
        assert_eq!(f.init, "systemd");
        assert_eq!(f.virt, "systemd-nspawn");
        assert_eq!(f.runtimes[0].kind, RuntimeKind::Podman);
        assert_eq!(f.runtimes[0].version, "4.3.1");
        assert_eq!(f.runtimes[1].version, "20.10.24+dfsg1");
        assert_eq!(f.free_disk_mb, 2000);
        assert_eq!(f.listening_tcp, vec![22, 8080]);
        assert!(f.sudo_ok);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse("bash: line 1: syntax error\n").is_err());
    }

    #[test]
    fn without_versions_no_runtime_binary_is_started() {
        let s = script(&SudoMode::None, false);
        assert!(!s.contains("--version"), "{s}");
        let f = parse("podman=present\nuser=root\narch=x86_64\n").unwrap();
        assert_eq!(f.runtimes[0].kind, RuntimeKind::Podman);
        assert_eq!(f.runtimes[0].version, "");
        assert!(script(&SudoMode::None, true).contains("podman --version"));
    }

    #[test]
    fn the_script_never_puts_the_sudo_password_on_a_command_line() {
        let s = script(&SudoMode::Password("hunter2-pw".into()), false);
        assert!(!s.contains("hunter2-pw"));
        assert!(s.contains("sudo -k -S -p '' true"));
    }
}
