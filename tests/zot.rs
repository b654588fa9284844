//! The `zot` component on a real test-bed host, with a real OpenBao (installed by foundry on the
//! same host) holding the admin password.
//!
//! THE REGISTRY IMAGE IS A STAND-IN (tests/bed/zot-standin): no Zot binary can be had on this
//! machine (no internet beyond crates.io/PyPI/Debian). The stand-in is Debian's
//! `docker-registry` (CNCF distribution 2.8, the same OCI Distribution API Zot speaks) behind an
//! entrypoint that accepts Zot's command line (`serve /etc/zot/config.json`) and reads the port,
//! storage root, htpasswd path and TLS files out of the config.json foundry wrote. So this test
//! verifies for real: the files and unit foundry installs, the container under systemd, bcrypt
//! htpasswd authentication with the password stored in OpenBao (push and pull with it, refusal
//! of wrong credentials), `component status` over the Distribution API, idempotence (zero
//! mutating commands on a re-run) and password rotation.
//!
//! Verified ONLY by golden files and unit tests (src/component/zot/tests.rs), because
//! distribution has no equivalent: the pull-through cache (`extensions.sync`, onDemand, URLs,
//! destinations), `http.compat: ["docker2s2"]`, `accessControl` (anonymousPolicy read,
//! adminPolicy) — the stand-in refuses anonymous pulls —, `extensions.search`/`ui`, and the
//! `/readyz` route (status falls back to `GET /v2/`, as it does for Zot < 2.1.6).

mod support;

use std::path::PathBuf;
use std::process::Command;
use support::stackrun::{bao, foundry, INSTANCE};
use support::{authfile, bed, podman, push, Sandbox, TestHost};

const VERSION: &str = support::ZOT_VERSION;

fn stack_yaml(h: &TestHost) -> String {
    format!(
        "cluster:\n  name: zt\n  domain: zt.test\n  vip: 10.214.0.250\n\
         network:\n  cidr: 10.214.0.0/24\n\
         hosts:\n  - hostname: {name}\n    address: {ip}\n    roles: [openbao, zot]\n\
         images:\n  registry: {reg}\n  insecure: true\n\
         components:\n  openbao:\n    key_shares: 1\n    key_threshold: 1\n  zot:\n    version: {VERSION}\n",
        name = h.name,
        ip = h.ip,
        reg = support::REGISTRY,
    )
}

fn stored_password(sb: &Sandbox, h: &TestHost) -> String {
    bao(
        sb,
        h,
        &[
            "kv",
            "get",
            "-mount=secret",
            "-field=password",
            &format!("{INSTANCE}/zot/admin"),
        ],
    )
}

/// Exec records of the newest run log: (total, mutating), plus mutating HTTP calls.
fn newest_log_counts(sb: &Sandbox) -> (usize, usize, usize, PathBuf) {
    let c = sb.newest_log_counts();
    (c.exec, c.exec_mutating, c.http_mutating, c.path)
}

/// HTTP status of `curl` against the registry from this machine.
fn http_code(url: &str, user_pw: Option<(&str, &str)>) -> String {
    let mut c = Command::new("curl");
    c.args([
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "10",
    ]);
    if let Some((u, p)) = user_pw {
        // via a config on stdin, so the password is not on this machine's command lines
        c.args(["-K", "-"]);
        c.stdin(std::process::Stdio::piped());
        let mut child = c
            .arg(url)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        writeln!(child.stdin.take().unwrap(), "user = \"{u}:{p}\"").unwrap();
        let out = child.wait_with_output().unwrap();
        return String::from_utf8_lossy(&out.stdout).to_string();
    }
    let out = c.arg(url).output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn status_json(sb: &Sandbox) -> (i32, serde_json::Value, String) {
    let r = foundry(sb, &["component", "status", "zot", "-o", "json"]);
    let v = serde_json::from_str(&r.stdout).unwrap_or(serde_json::Value::Null);
    (r.code, v, r.to_string())
}

#[test]
fn install_zot_then_push_pull_status_rerun_and_rotate_the_password() {
    let bed = bed();
    let image = bed.zot_standin_image();
    assert_eq!(
        image,
        format!(
            "{}/project-zot/zot-linux-amd64:{VERSION}",
            support::REGISTRY
        )
    );
    bed.openbao_image();
    let h = bed.host("zot");
    let sb = Sandbox::new();
    sb.trust(&h);
    sb.write(".foundry/stack.yaml", &stack_yaml(&h));

    foundry(&sb, &["component", "install", "openbao", "--yes"]).ok();

    // --- dry run: says what it would do, changes nothing (no password generated yet) ---
    let plan = foundry(&sb, &["component", "install", "zot", "--dry-run"]);
    plan.ok();
    assert!(
        plan.to_string()
            .contains("would generate the Zot admin password"),
        "{plan}"
    );
    let (_, mutating, http_mut, log) = newest_log_counts(&sb);
    assert_eq!(
        (mutating, http_mut),
        (0, 0),
        "dry run changed something: {}",
        log.display()
    );
    h.ssh_ok("test ! -e /etc/zot && test ! -e /etc/systemd/system/zot.service");

    // --- install ---
    let first = foundry(&sb, &["component", "install", "zot", "--yes"]);
    first.ok();
    let pw = stored_password(&sb, &h);
    assert_eq!(pw.len(), 32, "generated password length");
    for out in [&first.stdout, &first.stderr] {
        assert!(
            !out.contains(&pw),
            "the admin password leaked into foundry's output"
        );
    }
    let (_, _, _, log) = newest_log_counts(&sb);
    assert!(
        !std::fs::read_to_string(&log).unwrap().contains(&pw),
        "the admin password leaked into the run log"
    );
    assert_eq!(h.ssh_ok("systemctl is-active zot").trim(), "active");
    assert_eq!(h.ssh_ok("systemctl is-enabled zot").trim(), "enabled");
    let unit = h.ssh_ok("cat /etc/systemd/system/zot.service");
    assert!(
        unit.contains(&format!("{image} serve /etc/zot/config.json")),
        "{unit}"
    );
    assert!(unit.contains("--volume /etc/zot:/etc/zot:ro,z"), "{unit}");
    assert!(
        unit.contains("--volume /var/lib/zot:/var/lib/registry:z"),
        "{unit}"
    );
    // the config on the host is what foundry renders for this stack
    let installed: serde_json::Value =
        serde_json::from_str(&h.ssh_ok("cat /etc/zot/config.json")).unwrap();
    assert_eq!(
        installed["http"]["compat"],
        serde_json::json!(["docker2s2"])
    );
    assert_eq!(installed["http"]["port"], "5000");
    assert_eq!(
        installed["extensions"]["sync"]["registries"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    // htpasswd: secret (root 0600), bcrypt of the password in OpenBao
    assert_eq!(
        h.ssh_ok("stat -c '%a %U %G' /etc/zot/htpasswd").trim(),
        "600 root root"
    );
    let htpasswd = h.ssh_ok("cat /etc/zot/htpasswd");
    assert!(htpasswd.starts_with("admin:$2y$"), "{htpasswd}");
    let hash = htpasswd.trim().split_once(':').unwrap().1;
    assert!(bcrypt::verify(&pw, hash).unwrap());
    // ... and that hash is the one kept in OpenBao beside the password (a re-run compares
    // bytes instead of running bcrypt)
    let stored_hash = bao(
        &sb,
        &h,
        &[
            "kv",
            "get",
            "-mount=secret",
            "-field=htpasswd_hash",
            &format!("{INSTANCE}/zot/admin"),
        ],
    );
    assert_eq!(stored_hash.trim(), hash);

    // --- the registry with the stored credentials, from this machine ---
    let reg = format!("{}:5000", h.ip);
    assert_eq!(
        http_code(&format!("http://{reg}/v2/"), Some(("admin", &pw))),
        "200"
    );
    assert_eq!(
        http_code(
            &format!("http://{reg}/v2/"),
            Some(("admin", "wrong-password"))
        ),
        "401"
    );
    // stand-in: no anonymousPolicy, so anonymous requests are refused (real Zot would serve reads)
    assert_eq!(http_code(&format!("http://{reg}/v2/"), None), "401");

    let tmp = tempfile::tempdir().unwrap();
    let good = authfile(tmp.path(), "good.json", &reg, "admin", &pw);
    let bad = authfile(tmp.path(), "bad.json", &reg, "admin", "wrong-password");
    let busybox = bed.busybox_image();
    let pulled = podman(&["pull", "--tls-verify=false", &busybox]);
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    let target = format!("{reg}/team/busybox:zt");
    let denied = push(&bad, &busybox, &target);
    assert!(
        !denied.status.success(),
        "push with wrong credentials succeeded"
    );
    let pushed = push(&good, &busybox, &target);
    assert!(
        pushed.status.success(),
        "push: {}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let pull = podman(&[
        "pull",
        "--tls-verify=false",
        "--authfile",
        good.to_str().unwrap(),
        &target,
    ]);
    assert!(
        pull.status.success(),
        "pull: {}",
        String::from_utf8_lossy(&pull.stderr)
    );
    let _ = podman(&["rmi", "-f", &target]);
    // the pushed repository survives in the host's storage path
    h.ssh_ok("test -d /var/lib/zot/docker/registry/v2/repositories/team/busybox");

    // --- status: version, health over the Distribution API, repositories per upstream ---
    let (code, st, raw) = status_json(&sb);
    assert_eq!(code, 0, "{raw}");
    let row = &st.as_array().unwrap_or_else(|| panic!("{raw}"))[0];
    assert_eq!(row["version"], VERSION, "{raw}");
    assert_eq!(row["healthy"], true, "{raw}");
    let msg = row["message"].as_str().unwrap();
    assert!(
        msg.contains("credentials accepted, wrong ones refused"),
        "{msg}"
    );
    assert!(
        msg.contains("docker.io 0") && msg.contains("local 1"),
        "{msg}"
    );
    assert!(!raw.contains(&pw));

    // --- re-run: nothing to do, not one mutating command ---
    let again = foundry(&sb, &["component", "install", "zot", "--yes"]);
    again.ok();
    let (exec, mutating, http_mut, log) = newest_log_counts(&sb);
    assert!(
        exec > 0,
        "the re-run executed nothing at all? {}",
        log.display()
    );
    assert_eq!(
        (mutating, http_mut),
        (0, 0),
        "re-running install changed something; see {}:\n{}",
        log.display(),
        again
    );
    assert_eq!(
        h.ssh_ok("cat /etc/zot/htpasswd"),
        htpasswd,
        "htpasswd was re-hashed"
    );

    // --- rotation: a new password in OpenBao gives a new htpasswd and one restart ---
    let new_pw = "RotatedPassword0123456789abcdefXY";
    bao(
        &sb,
        &h,
        &[
            "kv",
            "patch",
            "-mount=secret",
            &format!("{INSTANCE}/zot/admin"),
            &format!("password={new_pw}"),
        ],
    );
    let restarts_before = h.ssh_ok("systemctl show -p NRestarts --value zot");
    let pid_before = h.ssh_ok("systemctl show -p MainPID --value zot");
    let rotated = foundry(&sb, &["component", "install", "zot", "--yes"]);
    rotated.ok();
    assert!(
        rotated
            .stdout
            .contains("restart zot.service (config changed)")
            || rotated
                .stderr
                .contains("restart zot.service (config changed)"),
        "{rotated}"
    );
    assert_ne!(
        h.ssh_ok("systemctl show -p MainPID --value zot"),
        pid_before
    );
    assert_eq!(
        h.ssh_ok("systemctl show -p NRestarts --value zot"),
        restarts_before,
        "the unit crash-looped"
    );
    assert_eq!(
        http_code(&format!("http://{reg}/v2/"), Some(("admin", new_pw))),
        "200"
    );
    assert_eq!(
        http_code(&format!("http://{reg}/v2/"), Some(("admin", &pw))),
        "401"
    );
    assert!(
        !rotated.to_string().contains(new_pw),
        "the new password leaked"
    );

    // --- a stopped registry is reported unhealthy ---
    h.ssh_ok("systemctl stop zot");
    let (code, st, raw) = status_json(&sb);
    assert_ne!(code, 0, "status of a stopped zot succeeded: {raw}");
    assert_eq!(st[0]["healthy"], false, "{raw}");
}
