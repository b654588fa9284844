//! What installing K3s needs, online or air-gapped: release asset names and URLs, the checksum
//! file, the local bundle (verified here, before anything is uploaded), and foundry's own
//! systemd unit (the install script is not used: re-running it without its earlier options
//! loses them, facts §1).
//!
//! Release assets (github.com/k3s-io/k3s/releases, per version): `k3s` (amd64), `k3s-arm64`,
//! `k3s-armhf`; `sha256sum-<arch>.txt` listing every asset of that arch; images
//! `k3s-airgap-images-<arch>.tar.zst` (also `.tar.gz`, `.tar`). The `+` of a version such as
//! `v1.33.5+k3s1` is written `%2B` in the URL path.

use crate::component::FileSpec;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const BIN_PATH: &str = "/usr/local/bin/k3s";
/// K3s imports every tarball here at start (air-gapped images).
pub const IMAGES_DIR: &str = "/var/lib/rancher/k3s/agent/images";
const RELEASES: &str = "https://github.com/k3s-io/k3s/releases/download";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum K3sArch {
    Amd64,
    Arm64,
    Arm,
}

impl K3sArch {
    /// From `Facts::arch` (`amd64`, `arm64`, `arm`) or `uname -m`.
    pub fn from_facts(arch: &str) -> Result<K3sArch, String> {
        match arch {
            "amd64" | "x86_64" => Ok(K3sArch::Amd64),
            "arm64" | "aarch64" => Ok(K3sArch::Arm64),
            "arm" | "armv7l" | "armhf" => Ok(K3sArch::Arm),
            other => Err(format!(
                "K3s is released for amd64, arm64 and arm (armhf); this host is `{other}`"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            K3sArch::Amd64 => "amd64",
            K3sArch::Arm64 => "arm64",
            K3sArch::Arm => "arm",
        }
    }

    pub fn binary_asset(self) -> &'static str {
        match self {
            K3sArch::Amd64 => "k3s",
            K3sArch::Arm64 => "k3s-arm64",
            K3sArch::Arm => "k3s-armhf",
        }
    }

    pub fn checksum_asset(self) -> String {
        format!("sha256sum-{}.txt", self.as_str())
    }

    /// Image tarball names, preferred first.
    pub fn images_assets(self) -> [String; 3] {
        let a = self.as_str();
        [
            format!("k3s-airgap-images-{a}.tar.zst"),
            format!("k3s-airgap-images-{a}.tar.gz"),
            format!("k3s-airgap-images-{a}.tar"),
        ]
    }
}

/// `https://github.com/k3s-io/k3s/releases/download/v1.33.5%2Bk3s1/<asset>`
pub fn release_url(version: &str, asset: &str) -> String {
    format!("{RELEASES}/{}/{asset}", version.replace('+', "%2B"))
}

/// `sha256sum` output: `<64 hex>  <name>` (a `*` before the name marks binary mode).
pub fn parse_checksums(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (sum, name) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("line {}: expected `<sha256>  <file>`", i + 1))?;
        let name = name.trim_start().trim_start_matches('*');
        if sum.len() != 64 || !sum.bytes().all(|b| b.is_ascii_hexdigit()) || name.is_empty() {
            return Err(format!(
                "line {}: expected `<sha256>  <file>`, got `{line}`",
                i + 1
            ));
        }
        out.insert(name.to_string(), sum.to_ascii_lowercase());
    }
    if out.is_empty() {
        return Err("no checksums in the file".into());
    }
    Ok(out)
}

/// The binary's checksum from the arch's checksum file.
pub fn binary_sha(checksums: &BTreeMap<String, String>, arch: K3sArch) -> Result<String, String> {
    checksums.get(arch.binary_asset()).cloned().ok_or_else(|| {
        format!(
            "{} lists no `{}`",
            arch.checksum_asset(),
            arch.binary_asset()
        )
    })
}

/// Shell for the online path, run on the host: download the pinned binary and checksum file,
/// verify, then move the binary into place. Reads nothing from stack.yaml beyond version/arch.
pub fn online_install_script(version: &str, arch: K3sArch) -> String {
    let bin = release_url(version, arch.binary_asset());
    let sums = release_url(version, &arch.checksum_asset());
    let asset = arch.binary_asset();
    format!(
        "set -eu\n\
         t=$(mktemp -d /usr/local/bin/.foundry-k3s.XXXXXX)\n\
         trap 'rm -rf \"$t\"' EXIT\n\
         curl -fsSL --retry 3 -o \"$t/{asset}\" '{bin}'\n\
         curl -fsSL --retry 3 -o \"$t/sums\" '{sums}'\n\
         want=$(awk '$2 == \"{asset}\" || $2 == \"*{asset}\" {{print $1}}' \"$t/sums\")\n\
         [ -n \"$want\" ] || {{ echo 'sha256sum file lists no {asset}' >&2; exit 1; }}\n\
         got=$(sha256sum \"$t/{asset}\" | cut -d' ' -f1)\n\
         [ \"$got\" = \"$want\" ] || {{ echo \"checksum mismatch for {asset}: got $got, want $want\" >&2; exit 1; }}\n\
         chmod 0755 \"$t/{asset}\"\n\
         mv -f \"$t/{asset}\" {BIN_PATH}\n"
    )
}

/// A bundle directory checked against its own checksum file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBundle {
    pub binary: PathBuf,
    pub binary_sha: String,
    pub checksums: PathBuf,
    pub images: PathBuf,
    pub images_sha: String,
}

impl VerifiedBundle {
    /// Where the images tarball goes on the host (its name keeps the compression suffix K3s
    /// looks at).
    pub fn images_remote_path(&self) -> String {
        let name = self
            .images
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("images.tar");
        format!("{IMAGES_DIR}/{name}")
    }
}

fn sha256_file(p: &Path) -> Result<String, String> {
    let mut f = std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(hex::encode(h.finalize()))
}

/// Check `components.k3s.airgap_bundle`: the binary, `sha256sum-<arch>.txt` and an images
/// tarball must be there and match the checksum file. Every error names the file and the fix.
pub fn verify_bundle(dir: &Path, arch: K3sArch) -> Result<VerifiedBundle, String> {
    let hint = format!(
        "download them for {} from the K3s release page into {}",
        arch.as_str(),
        dir.display()
    );
    if !dir.is_dir() {
        return Err(format!(
            "components.k3s.airgap_bundle: {} is not a directory; {hint}",
            dir.display()
        ));
    }
    let sums_path = dir.join(arch.checksum_asset());
    let text = std::fs::read_to_string(&sums_path)
        .map_err(|e| format!("{}: {e}; {hint}", sums_path.display()))?;
    let sums = parse_checksums(&text).map_err(|e| format!("{}: {e}", sums_path.display()))?;
    let binary = dir.join(arch.binary_asset());
    if !binary.is_file() {
        return Err(format!(
            "{} is missing from the bundle; {hint}",
            binary.display()
        ));
    }
    let images = arch
        .images_assets()
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "the bundle has no images tarball ({}); {hint}",
                arch.images_assets().join(", ")
            )
        })?;
    let check = |p: &Path| -> Result<String, String> {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let want = sums.get(name).ok_or_else(|| {
            format!(
                "{} lists no checksum for {name}; the bundle's files are from different releases",
                sums_path.display()
            )
        })?;
        let got = sha256_file(p)?;
        if &got != want {
            return Err(format!(
                "{}: sha256 {got} does not match {want} from {}; the file is corrupt or from another release: download it again",
                p.display(),
                sums_path.display()
            ));
        }
        Ok(got)
    };
    let binary_sha = check(&binary)?;
    let images_sha = check(&images)?;
    Ok(VerifiedBundle {
        binary,
        binary_sha,
        checksums: sums_path,
        images,
        images_sha,
    })
}

/// `k3s` for servers, `k3s-agent` for agents: upstream's unit names, so its docs and
/// `journalctl -u k3s` habits apply.
pub fn unit_name(server: bool) -> &'static str {
    if server {
        "k3s"
    } else {
        "k3s-agent"
    }
}

/// Foundry's unit, modelled on the one install.sh writes. No environment file: every setting,
/// the tokens included, is in config.yaml (0600), so nothing secret is in the unit.
pub fn unit(server: bool) -> FileSpec {
    let (cmd, ty) = if server {
        ("server", "notify")
    } else {
        ("agent", "exec")
    };
    let text = format!(
        "# Managed by foundry: K3s {cmd}. Settings are in /etc/rancher/k3s/config.yaml.\n\
         [Unit]\n\
         Description=Lightweight Kubernetes ({cmd}, managed by foundry)\n\
         Documentation=https://docs.k3s.io\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         # notify: `systemctl start` returns once K3s reports ready (servers); agents run as exec.\n\
         Type={ty}\n\
         KillMode=process\n\
         Delegate=yes\n\
         LimitNOFILE=1048576\n\
         LimitNPROC=infinity\n\
         LimitCORE=infinity\n\
         TasksMax=infinity\n\
         TimeoutStartSec=0\n\
         Restart=always\n\
         RestartSec=5s\n\
         ExecStartPre=-/sbin/modprobe br_netfilter\n\
         ExecStartPre=-/sbin/modprobe overlay\n\
         ExecStart={BIN_PATH} {cmd}\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    );
    FileSpec::new(
        format!("/etc/systemd/system/{}.service", unit_name(server)),
        text,
        0o644,
    )
}
