//! The integration-test harness: real hosts on foundry's test bed (tests/bed/bed.sh, see
//! docs/testing.md). Every integration test file does `mod support;` and uses:
//!
//! - [`bed()`]: the bed, prepared once per test process (`bed.sh prepare`);
//! - [`Bed::host`]: a fresh systemd-nspawn host with its own IP, removed again on drop;
//! - [`Sandbox`]: an isolated HOME in which to run the `foundry` binary.
//!
//! Nothing here is mocked: hosts run real systemd, OpenSSH and podman; the registry and the
//! OpenBao binary are real. A bed that cannot be built makes the tests fail, never skip.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod dev_bao;
mod host;
mod lease;
mod process;
mod sandbox;
pub mod stackrun;
pub mod tty;

pub use host::TestHost;
#[allow(unused_imports)] // not every test binary names them
pub use sandbox::{FoundryChild, LogCounts, Run, Sandbox, FOUNDRY_TIMEOUT};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// The Zot version the stand-in image is tagged with (foundry's default).
pub const ZOT_VERSION: &str = "v2.1.22";

/// The bed's registry (plain HTTP; hosts trust it as insecure).
pub const REGISTRY: &str = "10.214.0.1:5000";

/// How long one `bed.sh` step may take (a cold `prepare` builds the rootfs: ~2 min).
const BED_STEP_TIMEOUT: Duration = Duration::from_secs(900);

pub struct Bed {
    /// The bed's state dir (`FOUNDRY_BED_DIR`, default /var/tmp/foundry-bed).
    pub dir: PathBuf,
    /// Private key accepted by root, alice and bob on every host.
    pub client_key: PathBuf,
    /// `10.214.0.1:5000`
    pub registry: String,
    openbao_image: OnceLock<String>,
    busybox_image: OnceLock<String>,
    zot_image: OnceLock<String>,
}

/// The bed, prepared once per process. Panics with bed.sh's output when it cannot be built.
pub fn bed() -> &'static Bed {
    static BED: OnceLock<Result<Bed, String>> = OnceLock::new();
    let bed = BED.get_or_init(|| {
        let dir = state_dir();
        bed_sh(&["prepare"]).map(|_| Bed {
            client_key: dir.join("ssh/id_ed25519"),
            dir,
            registry: REGISTRY.to_string(),
            openbao_image: OnceLock::new(),
            busybox_image: OnceLock::new(),
            zot_image: OnceLock::new(),
        })
    });
    match bed {
        Ok(b) => b,
        Err(e) => panic!("the test bed could not be prepared:\n{e}"),
    }
}

impl Bed {
    /// Boots a fresh host named `t-<tag>-<idx>` at 10.214.0.<idx> and blocks until sshd answers
    /// and systemd has finished booting. The IDX is leased under the state dir, so concurrent
    /// tests and test binaries never collide; dropping the host frees it.
    pub fn host(&self, tag: &str) -> TestHost {
        TestHost::boot(self, tag)
    }

    /// `10.214.0.1:5000/openbao/openbao:2.7.2`: FROM scratch with the real `/bin/bao`, no
    /// ENTRYPOINT; run it with an explicit command, e.g. `bao server -config=/openbao/config`.
    pub fn openbao_image(&self) -> String {
        self.openbao_image
            .get_or_init(|| image(&["image-openbao"]))
            .clone()
    }

    /// `10.214.0.1:5000/library/busybox:stable`: Debian's busybox-static, applets in /bin.
    pub fn busybox_image(&self) -> String {
        self.busybox_image
            .get_or_init(|| image(&["image-busybox"]))
            .clone()
    }

    /// `10.214.0.1:5000/project-zot/zot-linux-amd64:<ZOT_VERSION>`: the Zot STAND-IN image
    /// (tests/bed/zot-standin: distribution's registry behind Zot's command line), built once.
    pub fn zot_standin_image(&self) -> String {
        self.zot_image
            .get_or_init(|| {
                let script =
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bed/zot-standin/build.sh");
                let out = Command::new("bash")
                    .arg(&script)
                    .arg(ZOT_VERSION)
                    .output()
                    .expect("run build.sh");
                assert!(
                    out.status.success(),
                    "building the Zot stand-in failed:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .to_string()
            })
            .clone()
    }

    /// The real OpenBao 2.7.2 binary on this machine (e.g. as a client: `bao operator init`).
    pub fn bao_binary(&self) -> PathBuf {
        self.openbao_image();
        self.dir.join("bin/bao")
    }
}

fn image(args: &[&str]) -> String {
    match bed_sh(args) {
        Ok(out) => out.lines().last().unwrap_or_default().trim().to_string(),
        Err(e) => panic!("bed.sh {} failed:\n{e}", args.join(" ")),
    }
}

pub(crate) fn state_dir() -> PathBuf {
    match std::env::var_os("FOUNDRY_BED_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("/var/tmp/foundry-bed"),
    }
}

pub(crate) fn bed_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bed/bed.sh")
}

/// Runs `bash tests/bed/bed.sh ARGS`; Ok(stdout) on exit 0, else Err(a report with both streams).
pub(crate) fn bed_sh(args: &[&str]) -> Result<String, String> {
    let mut cmd = Command::new("bash");
    cmd.arg(bed_script()).args(args);
    let out = process::run(cmd, BED_STEP_TIMEOUT);
    if out.code == 0 {
        Ok(out.stdout)
    } else {
        Err(format!(
            "bed.sh {} exited {}{}\n--- stdout ---\n{}--- stderr ---\n{}",
            args.join(" "),
            out.code,
            if out.timed_out {
                " (killed: timeout)"
            } else {
                ""
            },
            out.stdout,
            out.stderr
        ))
    }
}

/// podman on this machine (via bed.sh: the bed's containers.conf), e.g. to push to a registry
/// on a bed host.
pub fn podman(args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bed/bed.sh"))
        .arg("podman")
        .args(args)
        .output()
        .unwrap()
}

/// A registry auth file `dir/name` for podman's `--authfile` (so no password is on a command
/// line of this machine).
pub fn authfile(dir: &Path, name: &str, registry: &str, user: &str, pw: &str) -> PathBuf {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
    let p = dir.join(name);
    std::fs::write(
        &p,
        serde_json::json!({"auths": {registry: {"auth": auth}}}).to_string(),
    )
    .unwrap();
    p
}

/// `podman push` of the local `image` as `target` to a plain-HTTP bed registry with the
/// credentials of `auth` (an [`authfile`]); the local `target` tag is removed again.
pub fn push(auth: &Path, image: &str, target: &str) -> std::process::Output {
    let out = podman(&[
        "push",
        "--tls-verify=false",
        "--authfile",
        auth.to_str().unwrap(),
        image,
        target,
    ]);
    let _ = podman(&["rmi", "-f", target]);
    out
}
