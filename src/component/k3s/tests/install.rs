//! Install inputs: release URLs, the checksum file, the local bundle check (on real files in
//! a temporary directory) and the systemd units (golden).

use super::golden;
use crate::component::k3s::install::{self, parse_checksums, release_url, verify_bundle, K3sArch};
use sha2::{Digest, Sha256};

#[test]
fn release_urls_encode_the_plus_and_name_assets_per_arch() {
    assert_eq!(
        release_url("v1.33.5+k3s1", K3sArch::Amd64.binary_asset()),
        "https://github.com/k3s-io/k3s/releases/download/v1.33.5%2Bk3s1/k3s"
    );
    assert_eq!(
        K3sArch::from_facts("arm64").unwrap().binary_asset(),
        "k3s-arm64"
    );
    assert_eq!(
        K3sArch::from_facts("aarch64").unwrap().checksum_asset(),
        "sha256sum-arm64.txt"
    );
    assert_eq!(
        K3sArch::from_facts("arm").unwrap().binary_asset(),
        "k3s-armhf"
    );
    assert_eq!(
        K3sArch::Amd64.images_assets()[0],
        "k3s-airgap-images-amd64.tar.zst"
    );
    assert!(K3sArch::from_facts("s390x").unwrap_err().contains("s390x"));
    let s = install::online_install_script("v1.33.5+k3s1", K3sArch::Arm64);
    assert!(
        s.contains("v1.33.5%2Bk3s1/k3s-arm64")
            && s.contains("sha256sum-arm64.txt")
            && s.contains("mv -f"),
        "{s}"
    );
}

#[test]
fn checksum_file_parses_and_rejects_junk() {
    let a = "a".repeat(64);
    let b = "B".repeat(64);
    let m = parse_checksums(&format!(
        "{a}  k3s\n{b} *k3s-airgap-images-amd64.tar.zst\n\n"
    ))
    .unwrap();
    assert_eq!(m["k3s"], a);
    assert_eq!(m["k3s-airgap-images-amd64.tar.zst"], "b".repeat(64));
    assert!(parse_checksums("deadbeef  k3s\n")
        .unwrap_err()
        .contains("line 1"));
    assert!(parse_checksums("\n").is_err());
}

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

#[test]
fn bundle_verified_against_its_checksum_file() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("k3s"), b"binary").unwrap();
    std::fs::write(p.join("k3s-airgap-images-amd64.tar.zst"), b"images").unwrap();
    let sums = format!(
        "{}  k3s\n{}  k3s-airgap-images-amd64.tar.zst\n",
        sha(b"binary"),
        sha(b"images")
    );
    std::fs::write(p.join("sha256sum-amd64.txt"), &sums).unwrap();
    let v = verify_bundle(p, K3sArch::Amd64).unwrap();
    assert_eq!(v.binary_sha, sha(b"binary"));
    assert_eq!(
        v.images_remote_path(),
        "/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst"
    );

    // A corrupt images tarball: the error names that file.
    std::fs::write(p.join("k3s-airgap-images-amd64.tar.zst"), b"imagez").unwrap();
    let e = verify_bundle(p, K3sArch::Amd64).unwrap_err();
    assert!(
        e.contains("k3s-airgap-images-amd64.tar.zst: sha256") && e.contains("download it again"),
        "{e}"
    );
    // The wrong arch's bundle: its checksum file is missing.
    let e = verify_bundle(p, K3sArch::Arm64).unwrap_err();
    assert!(e.contains("sha256sum-arm64.txt"), "{e}");
    // No images at all.
    std::fs::remove_file(p.join("k3s-airgap-images-amd64.tar.zst")).unwrap();
    let e = verify_bundle(p, K3sArch::Amd64).unwrap_err();
    assert!(e.contains("no images tarball"), "{e}");
    let e = verify_bundle(&p.join("nope"), K3sArch::Amd64).unwrap_err();
    assert!(e.contains("is not a directory"), "{e}");
}

#[test]
fn golden_units() {
    let s = install::unit(true);
    let a = install::unit(false);
    assert_eq!(
        (s.path.as_str(), a.path.as_str()),
        (
            "/etc/systemd/system/k3s.service",
            "/etc/systemd/system/k3s-agent.service"
        )
    );
    assert!(!s.secret && s.mode == 0o644);
    golden("k3s/k3s.service", std::str::from_utf8(&s.content).unwrap());
    golden(
        "k3s/k3s-agent.service",
        std::str::from_utf8(&a.content).unwrap(),
    );
}
