//! `foundry cluster upgrade` on three real bed servers (systemd, sshd, a real OpenBao on the
//! first), one server at a time.
//!
//! THE K3S BINARY IS A STAND-IN and THE KUBERNETES API IS A MOCK (tests/support/k3s_standin.rs,
//! tests/bed/k3s-standin/k3s.rs, tests/support/fake_kube/): no K3s or kube-apiserver can run on
//! this machine. The "new release" is the stand-in rebuilt with another version string in the
//! air-gapped bundle; a restarted stand-in re-joins the mock cluster, whose Node then reports
//! the new kubelet version, as a real kubelet does after an upgrade. Proven for real on the
//! hosts: the version rules refuse before anything changes; the binary is swapped one server at
//! a time in the rolling order (from the run log); a failure on the second server leaves the
//! third untouched (old binary, service not restarted) and stack.yaml at the old version; a
//! re-run finishes without touching the first server again; cordons are lifted; then a
//! `stack install` changes nothing. Then `cluster backup` on the same cluster: the snapshot the
//! stand-in's `k3s etcd-snapshot save` wrote on the first server, copied back 0600 with a
//! checksum the test recomputes from the bytes and from the server's file, and the token. Then
//! `cluster node remove` of the third server: the Node deleted through the mock, K3s
//! uninstalled on the real host, stack.yaml edited (the others' counted roles pinned), a
//! re-run with nothing to do, and a `stack install` that still changes nothing; `cluster node
//! add` of the same machine (only it touched). Last `cluster restore` of the backup: refused
//! for a damaged copy and a foreign token, then the stand-in's `--cluster-reset-restore-path`
//! run on the first server with the uploaded snapshot and the other servers rejoining with
//! their etcd data moved aside.
//!
//! Not proven here (no K3s): etcd surviving a real binary swap, real pods being drained (the
//! drain's Eviction API handling is proven against the mock in tests/cluster_day2.rs).

#[path = "support/fake_kube/mod.rs"]
mod fake_kube;
#[path = "support/k3s_standin.rs"]
mod k3s_standin;
mod support;

use k3s_standin::{StandinCluster, VERSION};
use std::time::Duration;
use support::stackrun::{boot_hosts, foundry, install_expecting_no_changes, sandbox_with};
use support::{bed, Sandbox, TestHost};

/// One patch release after the installed one.
const NEW: &str = "v1.33.6+k3s1";

fn binary_version(h: &TestHost) -> String {
    h.ssh_ok("/usr/local/bin/k3s --version | head -n1")
}

fn pinned(sb: &Sandbox) -> String {
    let text = std::fs::read_to_string(sb.path(".foundry/stack.yaml")).unwrap();
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("k3s:"))
        .find_map(|l| l.trim().strip_prefix("version: ").map(str::to_string))
        .unwrap()
}

/// The hosts that ran mutating remote commands in the newest run, in order, each once.
fn mutated_hosts(sb: &Sandbox) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for h in sb.newest_log_counts().mutating_hosts {
        if !order.contains(&h) {
            order.push(h);
        }
    }
    order
}

fn node(k3s: &StandinCluster, name: &str) -> serde_json::Value {
    k3s.fake.object("", "nodes", "", name).expect("the Node")
}

#[test]
fn day_two_upgrade_backup_node_remove_and_add_then_restore() {
    let k3s = StandinCluster::start(k3s_standin::Options {
        vip_idx: 7,
        api_name: "ku.ku.test".into(),
        ready_after: Duration::from_millis(500),
        version: VERSION.into(),
    });
    bed().openbao_image();
    let hosts = boot_hosts("k3su", 3);
    let sb = sandbox_with(
        &hosts,
        &k3s_standin::stack_yaml_base("ku", "", &hosts, "[openbao, cluster]", &k3s),
    );
    let names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
    foundry(&sb, &["stack", "install", "--yes"]).ok();
    for h in &hosts {
        assert!(binary_version(h).contains(VERSION), "{}", h.name);
    }

    // The version rules, before anything changes: no downgrade, no skipped minor.
    for (v, why) in [
        ("v1.33.4+k3s1", "a downgrade"),
        ("v1.35.0+k3s1", "more than one minor version ahead"),
    ] {
        let r = foundry(&sb, &["cluster", "upgrade", "--version", v, "--yes"]);
        assert_ne!(r.code, 0, "{r}");
        assert!(r.stdout.contains(why) || r.stderr.contains(why), "{v}: {r}");
        assert_eq!(
            sb.newest_log_counts().exec_mutating,
            0,
            "{v} changed something"
        );
        assert_eq!(pinned(&sb), VERSION);
    }

    // The dry run names the rolling steps and changes nothing.
    k3s.rebuild(NEW);
    let plan = foundry(&sb, &["cluster", "upgrade", "--version", NEW, "--dry-run"]);
    plan.ok();
    for want in [
        &format!("K3s {VERSION} → {NEW}"),
        &format!("cordon Node {}", names[1]),
        &format!("drain Node {}", names[1]),
        &format!("wait until Node {} is Ready at {NEW}", names[2]),
    ] {
        assert!(
            plan.stdout.contains(want.as_str()),
            "plan lacks {want:?}:\n{plan}"
        );
    }
    assert_eq!(sb.newest_log_counts().exec_mutating, 0);
    assert!(binary_version(&hosts[0]).contains(VERSION));

    // The second server fails to come back: the run stops there.
    k3s.fail_next_join(&names[1]);
    let failed = foundry(&sb, &["cluster", "upgrade", "--version", NEW, "--yes"]);
    assert_ne!(failed.code, 0, "{failed}");
    assert_eq!(mutated_hosts(&sb), names[..2], "{failed}");
    assert!(binary_version(&hosts[0]).contains(NEW));
    assert!(
        binary_version(&hosts[2]).contains(VERSION),
        "the third server was touched"
    );
    assert_eq!(
        node(&k3s, &names[0])["status"]["nodeInfo"]["kubeletVersion"],
        NEW
    );
    assert_eq!(
        node(&k3s, &names[0])["spec"]["unschedulable"],
        serde_json::Value::Null,
        "uncordoned"
    );
    assert_eq!(
        node(&k3s, &names[1])["spec"]["unschedulable"],
        true,
        "still cordoned"
    );
    assert!(failed.stderr.contains("still pins K3s"), "{failed}");
    assert_eq!(
        pinned(&sb),
        VERSION,
        "stack.yaml changed by a failed upgrade"
    );

    // A plain re-run continues: the first server is left alone, the second finishes, the third
    // is upgraded; every cordon is lifted; stack.yaml now pins the new version.
    let rerun = foundry(&sb, &["cluster", "upgrade", "--version", NEW, "--yes"]);
    rerun.ok();
    assert_eq!(mutated_hosts(&sb), names[1..], "{rerun}");
    for h in &hosts {
        assert!(binary_version(h).contains(NEW), "{}", h.name);
        let n = node(&k3s, &h.name);
        assert_eq!(n["status"]["nodeInfo"]["kubeletVersion"], NEW);
        assert_eq!(
            n["spec"]["unschedulable"],
            serde_json::Value::Null,
            "{}",
            h.name
        );
        assert!(
            n["metadata"]["annotations"]
                .get("foundry.dev/cordoned-for")
                .is_none(),
            "{n}"
        );
    }
    assert_eq!(pinned(&sb), NEW);
    let text = std::fs::read_to_string(sb.path(".foundry/stack.yaml")).unwrap();
    assert!(text.contains("# the bed's hosts share"), "comments kept");

    install_expecting_no_changes(&sb);

    // cluster backup: a snapshot on a server, copied back 0600 with a checksum that matches
    // the bytes and the server's own file, and the server token a restore needs.
    let bad = foundry(&sb, &["cluster", "backup", "--name", "Bad Name"]);
    assert_eq!(bad.code, 2, "{bad}");
    let b = foundry(
        &sb,
        &["cluster", "backup", "--name", "nightly-1", "-o", "json"],
    );
    b.ok();
    let doc: serde_json::Value = serde_json::from_str(&b.stdout).expect("JSON");
    let local = std::path::PathBuf::from(doc["snapshot"].as_str().unwrap());
    assert!(
        local.starts_with(sb.path(".foundry/ku/backups")),
        "{}",
        local.display()
    );
    let name = local.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&format!("nightly-1-{}-", names[0])),
        "{name}"
    );
    use sha2::Digest;
    use std::os::unix::fs::PermissionsExt;
    let bytes = std::fs::read(&local).unwrap();
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    let sums = std::fs::read_to_string(local.with_file_name(format!("{name}.sha256"))).unwrap();
    assert_eq!(sums, format!("{sha}  {name}\n"));
    let remote = hosts[0].ssh_ok(&format!(
        "sha256sum /var/lib/rancher/k3s/server/db/snapshots/{name} | cut -d' ' -f1"
    ));
    assert_eq!(
        remote.trim(),
        sha,
        "the copy differs from the server's snapshot"
    );
    for f in [
        local.clone(),
        local.with_file_name(format!("{name}.sha256")),
        local.with_file_name(format!("{name}.token")),
    ] {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }
    let token = std::fs::read_to_string(local.with_file_name(format!("{name}.token"))).unwrap();
    assert_eq!(
        token.trim(),
        support::stackrun::kv_field(&sb, &hosts[0], "k3s", "cluster-token")
    );
    assert!(!b.stdout.contains(token.trim()) && !b.stderr.contains(token.trim()));

    // cluster node remove, the whole of it: through the API (the mock), then K3s uninstalled
    // on the machine, then stack.yaml edited so that the next install neither rejoins it nor
    // re-decides the others' roles by the smaller count. A re-run has nothing to do.
    let gone = &names[2];
    let plan = foundry(&sb, &["cluster", "node", "remove", gone, "--dry-run"]);
    plan.ok();
    assert!(
        plan.stdout
            .contains(&format!("stop and uninstall K3s on {gone}")),
        "{plan}"
    );
    assert!(plan.stdout.contains("its current role pinned"), "{plan}");
    assert_eq!(sb.newest_log_counts().exec_mutating, 0);
    let r = foundry(&sb, &["cluster", "node", "remove", gone, "--yes"]);
    r.ok();
    assert!(
        k3s.fake.object("", "nodes", "", gone).is_none(),
        "Node still there"
    );
    let left = hosts[2].ssh_ok(
        "ls -d /usr/local/bin/k3s /var/lib/rancher/k3s /etc/rancher/k3s 2>/dev/null | wc -l",
    );
    assert_eq!(left.trim(), "0", "K3s left on {gone}");
    let text = std::fs::read_to_string(sb.path(".foundry/stack.yaml")).unwrap();
    assert!(
        text.contains("roles: [openbao, cluster-control-plane]"),
        "{text}"
    );
    assert!(text.contains("roles: []"), "{text}");
    assert!(text.contains("# the bed's hosts share"), "comments kept");
    let again = foundry(&sb, &["cluster", "node", "remove", gone, "--yes"]);
    again.ok();
    assert_eq!(sb.newest_log_counts().exec_mutating, 0, "{again}");
    install_expecting_no_changes(&sb);

    // cluster node add: the wiped machine joins again as a server, and only it is touched.
    let no_role = foundry(&sb, &["cluster", "node", "add", gone]);
    assert_eq!(no_role.code, 2, "{no_role}");
    assert!(no_role.stderr.contains("has no cluster role"), "{no_role}");
    foundry(
        &sb,
        &["config", "set", "hosts[2].roles", "[cluster-control-plane]"],
    )
    .ok();
    let dry = foundry(&sb, &["cluster", "node", "add", gone, "--dry-run"]);
    dry.ok();
    assert!(
        dry.stdout
            .contains(&format!("wait until Node {gone} is Ready")),
        "{dry}"
    );
    assert_eq!(sb.newest_log_counts().exec_mutating, 0);
    let joins_before = k3s.joins().len();
    let added = foundry(&sb, &["cluster", "node", "add", gone]);
    added.ok();
    assert_eq!(mutated_hosts(&sb), std::slice::from_ref(gone), "{added}");
    let joined: Vec<_> = k3s.joins()[joins_before..]
        .iter()
        .map(|j| (j.node.clone(), j.accepted))
        .collect();
    assert_eq!(joined, [(gone.clone(), true)]);
    assert!(binary_version(&hosts[2]).contains(NEW));
    assert_eq!(
        node(&k3s, gone)["status"]["nodeInfo"]["kubeletVersion"],
        NEW
    );
    install_expecting_no_changes(&sb);

    // cluster restore of the backup: refused for a damaged copy and for a token that is not
    // OpenBao's (nothing touched); the dry run lists the steps; then the first server is reset
    // from the uploaded snapshot and the others rejoin with their old etcd data moved aside.
    let scratch = sb.path("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let copy = |tag: &str, data: &[u8], token: &str| {
        let d = scratch.join(tag);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(&name), data).unwrap();
        std::fs::copy(
            local.with_file_name(format!("{name}.sha256")),
            d.join(format!("{name}.sha256")),
        )
        .unwrap();
        std::fs::write(d.join(format!("{name}.token")), token).unwrap();
        d.join(&name)
    };
    let damaged = copy("damaged", b"not the snapshot", &token);
    let r = foundry(
        &sb,
        &["cluster", "restore", damaged.to_str().unwrap(), "--yes"],
    );
    assert_eq!(r.code, 3, "{r}");
    assert!(r.stderr.contains("does not match"), "{r}");
    let foreign = copy("foreign", &bytes, "K10abc::server:someone-elses-token\n");
    let r = foundry(
        &sb,
        &["cluster", "restore", foreign.to_str().unwrap(), "--yes"],
    );
    assert_eq!(r.code, 3, "{r}");
    assert!(r.stderr.contains("another server token"), "{r}");
    assert_eq!(sb.newest_log_counts().exec_mutating, 0, "{r}");
    let file = local.to_str().unwrap();
    let dry = foundry(&sb, &["cluster", "restore", file, "--dry-run"]);
    dry.ok();
    for want in [
        "stop k3s.service",
        "--cluster-reset-restore-path=",
        "move /var/lib/rancher/k3s/server/db aside",
    ] {
        assert!(dry.stdout.contains(want), "plan lacks {want:?}:\n{dry}");
    }
    assert_eq!(sb.newest_log_counts().exec_mutating, 0);
    let no_tty = foundry(&sb, &["cluster", "restore", file]);
    assert_eq!(no_tty.code, 2, "{no_tty}");
    let restored = foundry(&sb, &["cluster", "restore", file, "--yes"]);
    restored.ok();
    let reset_from = hosts[0].ssh_ok("cat /var/lib/rancher/k3s/server/db/reset-from");
    assert_eq!(
        reset_from.trim(),
        format!("/var/lib/rancher/k3s/server/db/snapshots/{name}")
    );
    let uploaded = hosts[0].ssh_ok(&format!(
        "stat -c %a /var/lib/rancher/k3s/server/db/snapshots/{name}; sha256sum < /var/lib/rancher/k3s/server/db/snapshots/{name} | cut -d' ' -f1"
    ));
    assert_eq!(
        uploaded.split_whitespace().collect::<Vec<_>>(),
        ["600", sha.as_str()]
    );
    for h in &hosts[1..] {
        let aside =
            h.ssh_ok("ls -d /var/lib/rancher/k3s/server/db.foundry-before-restore-* | wc -l");
        assert_eq!(
            aside.trim(),
            "1",
            "{}: old etcd data not moved aside",
            h.name
        );
    }
    for h in &hosts {
        assert_eq!(
            h.ssh_ok("systemctl is-active k3s").trim(),
            "active",
            "{}",
            h.name
        );
    }
    install_expecting_no_changes(&sb);
}
