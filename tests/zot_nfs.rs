//! Zot's storage on a TrueNAS NFS share (`components.zot.storage_dataset`) on a real bed host:
//! `stack install` puts storage before Zot, the MOCK TrueNAS (tests/support/fake_truenas.rs)
//! gets the dataset and its share, foundry writes the systemd mount unit, the host's real
//! systemd mounts it through the real `mount(8)`, and the Zot unit (STAND-IN image, see
//! tests/zot.rs) requires it (`RequiresMountsFor=`): a push lands on the mount.
//!
//! THE NFS MOUNT HELPER IS A STAND-IN: this machine's kernel has no NFS client and no NFS
//! server can run here, so the host's `/sbin/mount.nfs` (nfs-common) is replaced by a script
//! that records its arguments and mounts an overlay named after the export
//! (`nas.zn.test:/mnt/tank/registry`), or fails as mount.nfs does for a version the server
//! does not speak (`nfsvers=4.2`: "Protocol not supported"). Real: the unit
//! file and systemd's naming rule for it, `mount -t nfs` handing the export, the mount point and
//! the unit's `Options=` to the helper, the ordering of Zot after the mount, `findmnt` on the
//! result, the remount with Zot stopped around it, and the unmount on uninstall.

#[path = "support/fake_truenas.rs"]
mod fake_truenas;
mod support;

use fake_truenas::{FakeTruenas, API_KEY};
use support::stackrun::{foundry, install_expecting_no_changes, kv_field, INSTANCE};
use support::{authfile, bed, podman, push, Sandbox, TestHost, ZOT_VERSION};

const EXPORT: &str = "nas.zn.test:/mnt/tank/registry";
const STANDIN_LOG: &str = "/run/mount.nfs-standin.log";

/// Replaces nfs-common's helper on the host (see the file's doc comment). mount(8) calls it
/// as `mount.nfs SPEC DIR [-s] [-n] [-o OPTIONS]`, as it does the real one.
const STANDIN_HELPER: &str = r#"#!/bin/sh
# STAND-IN for nfs-common's mount.nfs (tests/zot_nfs.rs): no NFS in this kernel.
spec=$1; dir=$2; shift 2; opts=
while [ $# -gt 0 ]; do case $1 in -o) opts=$2; shift 2;; *) shift;; esac; done
echo "$spec $dir -o $opts" >> /run/mount.nfs-standin.log
case ",$opts," in *,nfsvers=4.2,*)
  # this stand-in server speaks NFS up to 4.1: what mount.nfs says then
  echo "mount.nfs: Protocol not supported" >&2; exit 32;;
esac
# The share's content lives on in /run/nfs-standin (an overlay's upper layer, named after the
# export like an NFS mount): a remount sees what was written before, as with a real share.
d=/run/nfs-standin/$(printf '%s' "$spec" | tr '/:' '__')
mkdir -p "$d/lower" "$d/upper" "$d/work"
exec mount -i -t overlay -o "lowerdir=$d/lower,upperdir=$d/upper,workdir=$d/work" "$spec" "$dir"
"#;

fn stack_yaml(h: &TestHost, t: &FakeTruenas, options: &str) -> String {
    format!(
        "cluster:\n  name: zn\n  domain: zn.test\n  vip: 10.214.0.250\n\
         network:\n  cidr: 10.214.0.0/24\n\
         hosts:\n  - hostname: {name}\n    address: {ip}\n    roles: [openbao, zot]\n\
         images:\n  registry: {reg}\n  insecure: true\n\
         components:\n  openbao:\n    key_shares: 1\n    key_threshold: 1\n\
         \x20 zot:\n    version: {ZOT_VERSION}\n    storage_dataset: registry\n{options}\
         storage:\n  truenas:\n    url: {url}\n    api_key: ${{secret:truenas:api_key}}\n\
         \x20   pool: tank\n    tls_fingerprint: {fp}\n    nfs_server: nas.zn.test\n    datasets:\n\
         \x20     - {{name: registry, nfs: true, nfs_maproot_user: root, nfs_maproot_group: root}}\n",
        name = h.name,
        ip = h.ip,
        reg = support::REGISTRY,
        url = t.url(),
        fp = t.fingerprint,
    )
}

/// stack.yaml with `storage_mount_options: OPTIONS`.
fn with_options(sb: &Sandbox, h: &TestHost, t: &FakeTruenas, options: &str) {
    sb.write(
        ".foundry/stack.yaml",
        &stack_yaml(h, t, &format!("    storage_mount_options: {options}\n")),
    );
}

/// The newest call of the helper: (export, mount point, options as a sorted list).
fn helper_call(h: &TestHost) -> (String, String, Vec<String>) {
    let line = h.ssh_ok(&format!("tail -n 1 {STANDIN_LOG}"));
    let w: Vec<&str> = line.split_whitespace().collect();
    assert!(w.len() == 4 && w[2] == "-o", "{line}");
    (w[0].to_string(), w[1].to_string(), opts(w[3]))
}

fn opts(o: &str) -> Vec<String> {
    let mut v: Vec<String> = o.split(',').map(str::to_string).collect();
    v.sort();
    v
}

fn source_of(h: &TestHost, path: &str) -> String {
    h.ssh_ok(&format!("findmnt -n -o SOURCE --target {path} | tail -n 1"))
        .trim()
        .to_string()
}

fn set_up() -> (FakeTruenas, TestHost, Sandbox) {
    let bed = bed();
    bed.openbao_image();
    bed.zot_standin_image();
    let truenas = FakeTruenas::start();
    let h = bed.host("zn");
    h.ssh_ok(&format!(
        "cat > /sbin/mount.nfs <<'EOF'\n{STANDIN_HELPER}EOF\nchmod 0755 /sbin/mount.nfs"
    ));
    let sb = Sandbox::new();
    sb.trust(&h);
    sb.write(".foundry/stack.yaml", &stack_yaml(&h, &truenas, ""));
    let vars = sb.write(
        ".foundryvars",
        &format!("{INSTANCE}/truenas:api_key={API_KEY}\n"),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&vars, std::fs::Permissions::from_mode(0o600)).unwrap();
    (truenas, h, sb)
}

#[test]
fn zot_on_a_truenas_share_mounts_before_zot_remounts_on_change_and_unmounts_on_uninstall() {
    let (truenas, h, sb) = set_up();

    // --- the plan already says storage comes first and what will be mounted ---
    let plan = foundry(&sb, &["stack", "plan", "--offline", "-o", "json"]);
    plan.ok();
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let order: Vec<&str> = doc
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["component"].as_str().unwrap())
        .collect();
    let pos = |n: &str| order.iter().position(|c| *c == n).unwrap();
    assert!(pos("storage") < pos("zot"), "{order:?}");
    assert!(plan.stdout.contains(EXPORT), "{plan}");

    // --- install: dataset + share on TrueNAS, the mount, then Zot on it ---
    let first = foundry(&sb, &["stack", "install", "--yes"]);
    first.ok();
    let at = |c: &str| {
        first
            .stdout
            .find(&format!("│ {c} "))
            .unwrap_or_else(|| panic!("{c}: {first}"))
    };
    assert!(at("storage") < at("zot"), "{first}");
    assert!(truenas.dataset_names().iter().any(|d| d == "tank/registry"));
    assert_eq!(truenas.share_paths(), ["/mnt/tank/registry"]);

    let unit = h.ssh_ok("cat /etc/systemd/system/var-lib-zot.mount");
    assert!(unit.contains(&format!("\nWhat={EXPORT}\n")), "{unit}");
    assert_eq!(
        h.ssh_ok("stat -c '%a %U:%G' /etc/systemd/system/var-lib-zot.mount")
            .trim(),
        "644 root:root"
    );
    assert_eq!(
        h.ssh_ok("systemctl is-enabled var-lib-zot.mount").trim(),
        "enabled"
    );
    assert_eq!(source_of(&h, "/var/lib/zot"), EXPORT);
    // mount(8) gave the helper the unit's options (in its own order, with its `rw`)
    assert_eq!(
        helper_call(&h),
        (
            EXPORT.to_string(),
            "/var/lib/zot".to_string(),
            opts("hard,noatime,rw")
        )
    );
    // systemd orders Zot after the mount and will not start it without
    let needs = h.ssh_ok("systemctl show zot.service -p RequiresMountsFor -p Requires -p After");
    assert!(needs.contains("RequiresMountsFor=/var/lib/zot"), "{needs}");
    assert!(
        needs
            .lines()
            .any(|l| l.starts_with("Requires=") && l.contains("var-lib-zot.mount")),
        "{needs}"
    );
    assert!(
        needs
            .lines()
            .any(|l| l.starts_with("After=") && l.contains("var-lib-zot.mount")),
        "{needs}"
    );
    assert_eq!(h.ssh_ok("systemctl is-active zot.service").trim(), "active");

    // --- a push lands on the share, not on the host's disk ---
    let pw = kv_field(&sb, &h, "zot/admin", "password");
    let reg = format!("{}:5000", h.ip);
    let tmp = tempfile::tempdir().unwrap();
    let auth = authfile(tmp.path(), "auth.json", &reg, "admin", &pw);
    let busybox = bed().busybox_image();
    assert!(podman(&["pull", "--tls-verify=false", &busybox])
        .status
        .success());
    let target = format!("{reg}/team/busybox:zn");
    let pushed = push(&auth, &busybox, &target);
    assert!(
        pushed.status.success(),
        "push: {}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let repo = "/var/lib/zot/docker/registry/v2/repositories/team/busybox";
    h.ssh_ok(&format!("test -d {repo}"));
    assert_eq!(
        source_of(&h, repo),
        EXPORT,
        "the pushed repository is on the share"
    );

    // --- status names the mount ---
    let st = foundry(&sb, &["component", "status", "zot"]);
    assert_eq!(st.code, 0, "{st}");
    assert!(
        st.stdout.contains(&format!("storage: {EXPORT} mounted")),
        "{st}"
    );

    // --- a second run changes nothing, on the host and on TrueNAS ---
    truenas.reset_calls();
    install_expecting_no_changes(&sb);
    assert_eq!(truenas.mutating_calls(), Vec::<String>::new());

    // --- new options: the unit is rewritten (a diff in the plan) and the share remounted with
    // Zot stopped around it; the pushed data is still there afterwards ---
    with_options(&sb, &h, &truenas, "hard,noatime,nfsvers=4.1");
    let dry = foundry(&sb, &["stack", "install", "--dry-run"]);
    dry.ok();
    assert!(
        dry.stdout.contains("-Options=hard,noatime")
            && dry.stdout.contains("+Options=hard,noatime,nfsvers=4.1"),
        "{dry}"
    );
    assert!(dry.stdout.contains("remount (options changed)"), "{dry}");
    let zot_started = |h: &TestHost| {
        h.ssh_ok("systemctl show zot.service -p ExecMainStartTimestampMonotonic --value")
            .trim()
            .to_string()
    };
    let before = zot_started(&h);
    let again = foundry(&sb, &["stack", "install", "--yes"]);
    again.ok();
    let c = sb.newest_log_counts();
    // the unit file written, then one command: stop Zot, remount, start Zot
    assert_eq!(c.exec_mutating, 2, "{:#?}", c.mutating_lines);
    assert_eq!(helper_call(&h).2, opts("hard,noatime,nfsvers=4.1,rw"));
    assert_eq!(h.ssh_ok("systemctl is-active zot.service").trim(), "active");
    assert_ne!(
        zot_started(&h),
        before,
        "Zot was restarted around the remount"
    );
    install_expecting_no_changes(&sb);

    // --- an option the server refuses: the run fails with mount.nfs's words, the previous
    // unit is put back and mounted, Zot runs again; going back to the working options is then
    // no change at all ---
    with_options(&sb, &h, &truenas, "hard,noatime,nfsvers=4.2");
    let failed = foundry(&sb, &["stack", "install", "--yes"]);
    assert_ne!(failed.code, 0, "{failed}");
    let text = failed.to_string();
    assert!(text.contains("Protocol not supported"), "{failed}");
    assert!(
        text.contains("the previous mount unit is back and mounted again"),
        "{failed}"
    );
    assert_eq!(
        h.ssh_ok("systemctl is-active zot.service").trim(),
        "active",
        "{failed}"
    );
    assert_eq!(helper_call(&h).2, opts("hard,noatime,nfsvers=4.1,rw"));
    h.ssh_ok("grep -qx 'Options=hard,noatime,nfsvers=4.1' /etc/systemd/system/var-lib-zot.mount");
    h.ssh_ok(&format!("test -d {repo}"));
    with_options(&sb, &h, &truenas, "hard,noatime,nfsvers=4.1");
    install_expecting_no_changes(&sb);

    // --- 2 a.m.: the share is gone (and Zot with it, systemd stops what requires it); status
    // says so, an install mounts it and starts Zot again ---
    h.ssh_ok("systemctl stop var-lib-zot.mount");
    assert_eq!(
        h.ssh("systemctl is-active zot.service").status.code(),
        Some(3),
        "Zot stopped with its storage"
    );
    let st = foundry(&sb, &["component", "status", "zot"]);
    assert_ne!(st.code, 0, "{st}");
    assert!(
        st.stdout.contains("storage /var/lib/zot is not mounted"),
        "{st}"
    );
    foundry(&sb, &["stack", "install", "--yes"]).ok();
    assert_eq!(source_of(&h, "/var/lib/zot"), EXPORT);
    assert_eq!(h.ssh_ok("systemctl is-active zot.service").trim(), "active");
    h.ssh_ok(&format!("test -d {repo}"));
    install_expecting_no_changes(&sb);

    // --- uninstall: Zot stopped, the share unmounted, the unit gone; the data stays ---
    let dry = foundry(&sb, &["component", "uninstall", "zot", "--dry-run"]);
    dry.ok();
    assert!(dry.stdout.contains(&format!("unmount /var/lib/zot ({EXPORT}) and remove var-lib-zot.mount (the data stays on TrueNAS)")), "{dry}");
    assert_eq!(
        source_of(&h, "/var/lib/zot"),
        EXPORT,
        "a dry run unmounts nothing"
    );
    foundry(&sb, &["component", "uninstall", "zot", "--yes"]).ok();
    h.ssh_ok("test ! -e /etc/systemd/system/var-lib-zot.mount");
    assert_eq!(
        h.ssh_ok("findmnt -n --mountpoint /var/lib/zot || echo none")
            .trim(),
        "none"
    );
    assert!(truenas.dataset_names().iter().any(|d| d == "tank/registry"));
    let nothing = foundry(&sb, &["component", "uninstall", "zot", "--yes"]);
    nothing.ok();
    assert_eq!(sb.newest_log_counts().exec_mutating, 0);
}
