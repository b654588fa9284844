//! `foundry host ...` as a user runs it: the real binary in a sandboxed HOME, against real sshd
//! hosts on the test bed (tests/support). Nothing is mocked.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};
use support::{bed, Run, Sandbox, TestHost};

const HEADER: &str = "cluster: {name: t, domain: t.lan, vip: 10.214.0.200}\n";

/// A stack.yaml with `hosts` (YAML flow mappings, one per line) and ssh defaults.
fn stack(sb: &Sandbox, ssh: &str, hosts: &[String]) -> std::path::PathBuf {
    let mut y = format!("{HEADER}ssh: {{{ssh}}}\nhosts:\n");
    if hosts.is_empty() {
        y = format!("{HEADER}ssh: {{{ssh}}}\nhosts: []\n");
    }
    for h in hosts {
        y.push_str(&format!("  - {h}\n"));
    }
    sb.write(".foundry/stack.yaml", &y)
}

fn host_entry(h: &TestHost, extra: &str) -> String {
    format!("{{hostname: {}, address: {}{extra}}}", h.name, h.ip)
}

fn rows(r: &Run) -> Vec<serde_json::Value> {
    serde_json::from_str::<Vec<serde_json::Value>>(&r.stdout)
        .unwrap_or_else(|e| panic!("not JSON rows ({e}): {r}"))
}

fn row<'a>(rows: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row {name} in {rows:?}"))
}

fn all_logs(sb: &Sandbox) -> String {
    sb.run_logs()
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

#[test]
fn host_test_checks_three_hosts_in_parallel_and_reports_a_stopped_one() {
    let hosts: Vec<TestHost> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|i| s.spawn(move || bed().host(&format!("ht-{i}"))))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let sb = Sandbox::new();
    for h in &hosts {
        sb.trust(h);
    }
    let entries: Vec<String> = hosts.iter().map(|h| host_entry(h, "")).collect();
    stack(&sb, "connect_timeout: 3", &entries);

    let r = sb.foundry(&["host", "test", "-o", "json"]);
    assert_eq!(r.code, 0, "{r}");
    let rs = rows(&r);
    assert_eq!(rs.len(), 3);
    for h in &hosts {
        let row = row(&rs, &h.name);
        assert_eq!(row["status"], "ok", "{r}");
        let f = &row["facts"];
        assert_eq!(f["hostname"], h.name.as_str());
        assert_eq!(f["init"], "systemd");
        assert_eq!(f["virt"], "systemd-nspawn");
        assert_eq!(f["os_id"], "debian");
        assert_eq!(f["runtimes"][0]["kind"], "podman");
        assert_eq!(f["sudo_ok"], true);
        let uname = h.ssh_ok("uname -m");
        let want = if uname.trim() == "x86_64" {
            "amd64"
        } else {
            "arm64"
        };
        assert_eq!(f["arch"], want);
        assert!(f["free_disk_mb"].as_u64().unwrap() > 0);
        assert!(f["listening_tcp"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(22)));
    }
    // The table form names each host with its status.
    let t = sb.foundry(&["host", "test"]);
    assert_eq!(t.code, 0, "{t}");
    for h in &hosts {
        assert!(
            t.stdout
                .lines()
                .any(|l| l.contains(&h.name) && l.contains(" ok ")),
            "{t}"
        );
    }

    // One host down: its row FAILED naming it and the cause, the others ok, exit 4.
    hosts[1].stop();
    let r = sb.foundry(&["host", "test", "-o", "json"]);
    assert_eq!(r.code, 4, "{r}");
    let rs = rows(&r);
    let bad = row(&rs, &hosts[1].name);
    assert_eq!(bad["status"], "FAILED");
    let cause = bad["error"].as_str().unwrap();
    assert!(
        cause.contains(&hosts[1].name) && cause.contains(&hosts[1].ip),
        "{cause}"
    );
    assert!(
        cause.contains("timed out") || cause.contains("no route") || cause.contains("refused"),
        "{cause}"
    );
    for i in [0, 2] {
        assert_eq!(row(&rs, &hosts[i].name)["status"], "ok", "{r}");
    }
    let t = sb.foundry(&["host", "test"]);
    assert_eq!(t.code, 4);
    assert!(
        t.stdout
            .lines()
            .any(|l| l.contains(&hosts[1].name) && l.contains("FAILED")),
        "{t}"
    );

    // Parallel, bounded by ssh.parallel: three peers that accept TCP but never speak SSH (a
    // listener on loopback that nobody accepts from) each cost exactly one connect timeout:
    // together with parallel: 8, one after the other with parallel: 1.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut with_silent = vec![entries[0].clone()];
    with_silent.extend(
        (1..=3).map(|i| format!("{{hostname: silent-{i}, address: 127.0.0.1, port: {port}}}")),
    );
    stack(&sb, "connect_timeout: 2, parallel: 8", &with_silent);
    let start = Instant::now();
    let r = sb.foundry(&["host", "test", "-o", "json"]);
    let parallel = start.elapsed();
    assert_eq!(r.code, 4, "{r}");
    let rs = rows(&r);
    assert_eq!(row(&rs, &hosts[0].name)["status"], "ok", "{r}");
    for i in 1..=3 {
        let cause = row(&rs, &format!("silent-{i}"))["error"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(cause.contains("timed out after 2s"), "{cause}");
    }
    assert!(
        parallel < Duration::from_millis(4500),
        "3 silent hosts took {parallel:?}: not in parallel"
    );
    stack(&sb, "connect_timeout: 2, parallel: 1", &with_silent);
    let start = Instant::now();
    let r = sb.foundry(&["host", "test"]);
    assert_eq!(r.code, 4, "{r}");
    assert!(
        start.elapsed() >= Duration::from_secs(6),
        "parallel: 1 was not honoured ({:?})",
        start.elapsed()
    );
    drop(silent);
}

#[test]
fn unknown_host_keys_need_the_flag_once_then_are_remembered() {
    let h = bed().host("ht-keys");
    let sb = Sandbox::new(); // empty ~/.ssh/known_hosts
    stack(&sb, "connect_timeout: 5", &[host_entry(&h, "")]);
    let r = sb.foundry(&["host", "test"]);
    assert_eq!(r.code, 4, "{r}");
    let fp = foundry::ssh::known_hosts::fingerprint(
        &russh::keys::PublicKey::from_openssh(&h.host_key).unwrap(),
    );
    assert!(
        r.stdout.contains(&fp) || r.stderr.contains(&fp),
        "fingerprint {fp} not shown: {r}"
    );
    assert!(r.stdout.contains("--accept-new-host-keys"), "{r}");
    assert!(!sb.path(".foundry/known_hosts").exists());

    sb.foundry(&["host", "test", "--accept-new-host-keys"]).ok();
    let kh = sb.path(".foundry/known_hosts");
    assert!(std::fs::read_to_string(&kh).unwrap().contains(&h.host_key));
    assert_eq!(
        std::fs::metadata(&kh).unwrap().permissions().mode() & 0o777,
        0o600
    );
    sb.foundry(&["host", "test"]).ok();

    // A changed key is refused even with the flag.
    let other = foundry::ssh::keygen::generate_ed25519("x")
        .unwrap()
        .public_openssh;
    let other = other.rsplit_once(' ').unwrap().0;
    std::fs::write(&kh, format!("{} {other}\n", h.ip)).unwrap();
    let r = sb.foundry(&["host", "test", "--accept-new-host-keys", "-o", "json"]);
    assert_eq!(r.code, 4, "{r}");
    let cause = rows(&r)[0]["error"].as_str().unwrap().to_string();
    assert!(cause.contains("CHANGED") && cause.contains(&fp), "{cause}");
    assert_eq!(
        std::fs::read_to_string(&kh).unwrap(),
        format!("{} {other}\n", h.ip),
        "known_hosts was modified"
    );
}

#[test]
fn sudo_with_a_password_from_a_secret_reference_never_shows_the_password() {
    let h = bed().host("ht-bob");
    let sb = Sandbox::new();
    sb.trust(&h);
    stack(
        &sb,
        "connect_timeout: 5",
        &[host_entry(
            &h,
            ", user: bob, sudo_password: \"${secret:hosts/bob:sudo}\"",
        )],
    );
    let env_ok = [(
        "FOUNDRY_SECRET_FOUNDRY_CORE__HOSTS__BOB__SUDO",
        "bob-sudo-pw",
    )];
    let r = sb.foundry_env(&["host", "test", "-o", "json", "-v"], &env_ok);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(rows(&r)[0]["facts"]["sudo_ok"], true, "{r}");

    let wrong = "wrong-bob-pw-7731";
    let r = sb.foundry_env(
        &["host", "test", "-o", "json", "-v"],
        &[("FOUNDRY_SECRET_FOUNDRY_CORE__HOSTS__BOB__SUDO", wrong)],
    );
    assert_eq!(r.code, 4, "{r}");
    let cause = rows(&r)[0]["error"].as_str().unwrap().to_string();
    assert!(
        cause.contains("sudo") && cause.contains("bob") && cause.contains(&h.name),
        "{cause}"
    );

    // Without the variable: a config error (exit 3) naming the field and the variable.
    let r = sb.foundry(&["host", "test", "-o", "json"]);
    assert_eq!(r.code, 3, "{r}");
    let cause = r.stderr.clone();
    assert!(
        cause.contains("hosts[0].sudo_password")
            && cause.contains("FOUNDRY_SECRET_FOUNDRY_CORE__HOSTS__BOB__SUDO"),
        "{cause}"
    );

    let everything = format!("{}{}", all_logs(&sb), r.stdout + &r.stderr);
    for pw in ["bob-sudo-pw", wrong] {
        assert!(!everything.contains(pw), "password {pw} leaked");
    }
    assert!(
        all_logs(&sb).contains("\"kind\":\"exec\""),
        "run logs were written"
    );
}

#[test]
fn host_add_bootstrap_password_installs_a_key_that_works_alone() {
    let h = bed().host("ht-carol");
    let sb = Sandbox::new();
    sb.trust(&h);
    // sshd answers a wrong password only after PAM's failure delay (2 s on Debian), and with
    // every other test of the suite running on 2 cores that took over 5 s once in CI: the
    // bound is for hosts that hang, not for a slow "no".
    let cfg = stack(&sb, "connect_timeout: 20", &[]);

    // --yes without a value: a usage error, nothing changed.
    let r = sb.foundry(&[
        "host",
        "add",
        "c1",
        "--address",
        &h.ip,
        "--user",
        "carol",
        "--bootstrap-password",
        "--yes",
    ]);
    assert_eq!(r.code, 2, "{r}");
    // A wrong password: connection error listing what was tried; no key left behind.
    let r = sb.foundry(&[
        "host",
        "add",
        "c1",
        "--address",
        &h.ip,
        "--user",
        "carol",
        "--bootstrap-password",
        "wrong-carol-pw",
    ]);
    assert_eq!(r.code, 4, "{r}");
    assert!(
        r.stderr.contains("authentication failed for user carol") && r.stderr.contains("password"),
        "{r}"
    );
    assert!(!r.stderr.contains("wrong-carol-pw"), "{r}");
    assert!(!sb.path(".foundry/keys/c1").exists());
    assert!(!std::fs::read_to_string(&cfg).unwrap().contains("c1"));

    // The real thing, password from a secret reference.
    let r = sb.foundry_env(
        &[
            "host",
            "add",
            "c1",
            "--address",
            &h.ip,
            "--user",
            "carol",
            "--roles",
            "cluster-worker",
            "--bootstrap-password",
            "${secret:hosts/c1:pw}",
        ],
        &[(
            "FOUNDRY_SECRET_FOUNDRY_CORE__HOSTS__C1__PW",
            "carol-login-pw",
        )],
    );
    assert_eq!(r.code, 0, "{r}");
    let key = sb.path(".foundry/keys/c1");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(key.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let public = std::fs::read_to_string(sb.path(".foundry/keys/c1.pub")).unwrap();
    let body = public.split_whitespace().nth(1).unwrap().to_string();
    let remote = h.ssh_ok("stat -c '%a %U' /home/carol/.ssh /home/carol/.ssh/authorized_keys; cat /home/carol/.ssh/authorized_keys");
    let mut lines = remote.lines();
    assert_eq!(lines.next(), Some("700 carol"));
    assert_eq!(lines.next(), Some("600 carol"));
    assert_eq!(lines.filter(|l| l.contains(&body)).count(), 1, "{remote}");
    let yaml = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        yaml.contains("ssh_key: ~/.foundry/keys/c1") && yaml.contains("user: carol"),
        "{yaml}"
    );

    // A later login with the key alone: carol has no password in stack.yaml, and the sandbox's
    // default key is not authorized for her, so only the new key can let foundry in.
    // (carol may not sudo on the bed, so the host FAILS the sudo check, after logging in.)
    let r = sb.foundry(&["host", "test", "c1", "-o", "json"]);
    assert_eq!(r.code, 4, "{r}");
    let row = &rows(&r)[0];
    assert_eq!(row["facts"]["user"], "carol", "{r}");
    assert!(
        row["error"]
            .as_str()
            .unwrap()
            .contains("sudo -n true` failed for user carol"),
        "{r}"
    );
    // Sanity of that claim: without ssh_key the sandbox's default key is refused.
    std::fs::write(&cfg, yaml.replace("ssh_key: ~/.foundry/keys/c1", "")).unwrap();
    let r = sb.foundry(&["host", "test", "c1", "-o", "json"]);
    assert_eq!(r.code, 4, "{r}");
    assert!(
        rows(&r)[0]["error"]
            .as_str()
            .unwrap()
            .contains("authentication failed for user carol"),
        "{r}"
    );
    assert!(!format!("{}{}{}", r.stdout, r.stderr, all_logs(&sb)).contains("carol-login-pw"));
}

#[test]
fn host_add_list_remove_edit_stack_yaml() {
    let sb = Sandbox::new();
    let h = "{hostname: n1, address: 10.214.0.250, roles: [openbao]}".to_string();
    stack(&sb, "user: admin", &[h]);
    sb.foundry(&[
        "host",
        "add",
        "n2",
        "--address",
        "10.214.0.251",
        "--port",
        "2222",
        "--roles",
        "zot,cluster-worker",
    ])
    .ok();
    let r = sb.foundry(&["host", "add", "n2", "--address", "10.214.0.9"]);
    assert_eq!(r.code, 2, "duplicate accepted: {r}");
    assert!(r.stderr.contains("already exists"), "{r}");
    let r = sb.foundry(&[
        "host",
        "add",
        "n3",
        "--address",
        "10.214.0.9",
        "--roles",
        "zott",
    ]);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("did you mean zot"), "{r}");
    let r = sb.foundry(&[
        "host",
        "add",
        "n4",
        "--address",
        "10.214.0.9",
        "--key",
        "k",
        "--bootstrap-password",
        "pw",
    ]);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("exclude each other"), "{r}");

    let r = sb.foundry(&["host", "list", "-o", "json"]);
    r.ok();
    let list: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        list,
        serde_json::json!([
            {"name": "n1", "address": "10.214.0.250", "port": 22, "user": "admin", "roles": ["openbao"]},
            {"name": "n2", "address": "10.214.0.251", "port": 2222, "user": "admin", "roles": ["zot", "cluster-worker"]}
        ])
    );
    let t = sb.foundry(&["host", "list"]);
    assert!(
        t.ok()
            .stdout
            .lines()
            .any(|l| l.contains("n2") && l.contains("2222") && l.contains("zot,cluster-worker")),
        "{t}"
    );

    sb.foundry(&["host", "remove", "n1"]).ok();
    let r = sb.foundry(&["host", "remove", "n1"]);
    assert_eq!(r.code, 2, "{r}");
    let r = sb.foundry(&["host", "list", "-o", "yaml"]);
    assert!(
        !r.ok().stdout.contains("n1") && r.stdout.contains("n2"),
        "{r}"
    );
}

/// `stack validate --check-hosts`: a valid file plus a connection to every host; a host that is
/// down makes the run fail (exit 4) naming it, and `-o json` stays one document.
#[test]
fn validate_check_hosts_connects_to_every_host() {
    let up = bed().host("vc");
    let down = bed().host("vc");
    let sb = Sandbox::new();
    sb.trust(&up);
    sb.trust(&down);
    let cfg = |hosts: &[&TestHost]| {
        let mut y = String::from(
            "cluster: {name: vc, domain: vc.test, vip: 10.214.0.250}\nnetwork: {cidr: 10.214.0.0/24}\nssh: {connect_timeout: 3}\nhosts:\n",
        );
        for h in hosts {
            y.push_str(&format!(
                "  - {{hostname: {}, address: {}, roles: [cluster-control-plane]}}\n",
                h.name, h.ip
            ));
        }
        y
    };
    sb.write(".foundry/stack.yaml", &cfg(&[&up]));
    let r = sb.foundry(&["stack", "validate", "--check-hosts"]);
    r.ok();
    assert!(
        r.stdout.contains(&format!("host {}: ok: Debian", up.name)),
        "{r}"
    );

    sb.write(".foundry/stack.yaml", &cfg(&[&up, &down]));
    down.stop();
    let r = sb.foundry(&["stack", "validate", "--check-hosts", "-o", "json"]);
    assert_eq!(r.code, 4, "{r}");
    let doc: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("one JSON document ({e}): {r}"));
    assert_eq!(doc["valid"], false, "{r}");
    let hosts = doc["hosts"].as_array().unwrap();
    let bad = hosts
        .iter()
        .find(|h| h["host"] == down.name.as_str())
        .unwrap();
    assert_eq!(bad["ok"], false);
    assert!(bad["message"].as_str().unwrap().contains(&down.ip), "{r}");
    assert_eq!(
        hosts
            .iter()
            .find(|h| h["host"] == up.name.as_str())
            .unwrap()["ok"],
        true
    );
}

/// `ssh_key` may hold the key itself through a secret reference — how a key stored in OpenBao
/// (`${secret:ssh-keys/<host>:private}`, written by `host add --bootstrap-password` once
/// OpenBao runs) is used. Here the environment backend supplies it; no key file exists.
#[test]
fn ssh_key_from_a_secret_reference_logs_in_and_is_never_shown() {
    let h = bed().host("km");
    let sb = Sandbox::new();
    sb.trust(&h);
    std::fs::remove_file(sb.path(".ssh/id_ed25519")).unwrap();
    let pem = std::fs::read_to_string(&bed().client_key).unwrap();
    stack(
        &sb,
        "connect_timeout: 3",
        &[host_entry(
            &h,
            ", ssh_key: \"${secret:ssh-keys/km:private}\"",
        )],
    );
    let var = "FOUNDRY_SECRET_FOUNDRY_CORE__SSH_KEYS__KM__PRIVATE";
    let r = sb.foundry_env(&["host", "test", "-o", "json"], &[(var, pem.as_str())]);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(row(&rows(&r), &h.name)["status"], "ok", "{r}");

    // Without the secret there is no key at all: a config error naming the field.
    let r = sb.foundry(&["host", "test"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(r.stderr.contains("hosts[0].ssh_key"), "{r}");

    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let seen = all_logs(&sb) + &r.stdout + &r.stderr;
    assert!(!seen.contains(&body[..40]), "key material leaked");
}
