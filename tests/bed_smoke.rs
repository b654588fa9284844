//! The test bed itself: what every other integration test relies on. Real hosts, real
//! registry, real OpenBao; nothing mocked.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{bed, TestHost};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// HTTP status of `GET path` on ip:port, or None while nothing answers.
fn http_status(ip: &str, port: u16, path: &str) -> Option<u16> {
    let addr = format!("{ip}:{port}").parse().ok()?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn wait_http_status(ip: &str, port: u16, path: &str, want: u16, within: Duration) -> Option<u16> {
    let end = Instant::now() + within;
    let mut last = None;
    while Instant::now() < end {
        last = http_status(ip, port, path);
        if last == Some(want) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    last
}

#[test]
fn two_hosts_are_separate_machines_on_the_bed_network_only() {
    let bed = bed();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| bed.host("smoke-a"));
        let b = s.spawn(|| bed.host("smoke-b"));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a.ip, b.ip);
    assert_eq!(a.ssh_ok("hostname").trim(), a.name);
    assert_eq!(
        a.ssh_ok("hostname -I").trim(),
        a.ip,
        "one address, the bed one"
    );

    a.ssh_ok("echo from-a > /etc/bed-smoke-marker");
    assert_eq!(a.ssh_ok("cat /etc/bed-smoke-marker").trim(), "from-a");
    let on_b = b.ssh("test -e /etc/bed-smoke-marker");
    assert_eq!(
        on_b.status.code(),
        Some(1),
        "a file written on {} is visible on {}",
        a.name,
        b.name
    );
    assert!(
        !Path::new("/etc/bed-smoke-marker").exists(),
        "a host wrote to this machine's /etc"
    );

    for h in [&a, &b] {
        assert_eq!(
            h.ssh_ok("readlink /proc/1/exe").trim(),
            "/usr/lib/systemd/systemd"
        );
        let state = stdout(&h.ssh("systemctl is-system-running"));
        assert!(
            state == "running" || state == "degraded",
            "{}: system state {state:?}; failed units: {}",
            h.name,
            h.ssh_ok("systemctl --failed --no-legend --plain")
        );
        assert_eq!(
            h.ssh_ok("ip -4 route show default").trim(),
            "",
            "{} has a default route",
            h.name
        );
        assert_eq!(
            h.ssh_ok("getent hosts testbed-registry")
                .split_whitespace()
                .next(),
            Some("10.214.0.1")
        );
        h.ssh_ok("curl -fsS --max-time 5 http://testbed-registry:5000/v2/");
    }
    a.ssh_ok(&format!("ping -c1 -W2 {}", b.ip));
    // no way off the bed: this machine forwards IPv4, and answers on its other addresses,
    // but a host has no route to any of them
    let off_bed = machine_address_off_the_bed();
    let out = a.ssh(&format!("ping -c1 -W2 {off_bed}"));
    assert_ne!(
        out.status.code(),
        Some(0),
        "a host reached {off_bed}, an address off the bed"
    );
}

/// One of this machine's own IPv4 addresses outside 10.214.0.0/24 (it always answers pings).
fn machine_address_off_the_bed() -> String {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3))
        .map(|cidr| cidr.split('/').next().unwrap_or_default().to_string())
        .find(|ip| !ip.starts_with("10.214.0."))
        .expect("this machine has an IPv4 address besides the bed's")
}

#[test]
fn podman_in_a_host_runs_the_busybox_image_from_the_registry() {
    let bed = bed();
    let image = bed.busybox_image();
    assert_eq!(
        image,
        format!("{}/library/busybox:stable", support::REGISTRY)
    );
    let h = bed.host("smoke-podman");
    let out = h.ssh_ok(&format!("podman run --rm {image} busybox echo bed-ok"));
    assert_eq!(out.trim(), "bed-ok");
    // as foundry runs services: a systemd unit running a container on the host network
    h.ssh_ok(&format!(
        "mkdir -p /srv/www && echo hello-from-httpd > /srv/www/index.html && \
         systemd-run --unit web podman run --rm --name web --network host -v /srv/www:/www:ro \
         {image} busybox httpd -f -p 8080 -h /www"
    ));
    assert_eq!(
        wait_http_status(&h.ip, 8080, "/", 200, Duration::from_secs(60)),
        Some(200)
    );
    assert_eq!(http_status(&h.ip, 8080, "/missing"), Some(404));
    assert_eq!(h.ssh_ok("systemctl is-active web").trim(), "active");
}

#[test]
fn test_users_alice_bob_carol_log_in_and_sudo_as_documented() {
    let h = bed().host("smoke-users");
    let alice = h.ssh_as("alice", "sudo -n id -u");
    assert!(
        alice.status.success(),
        "alice: {}",
        String::from_utf8_lossy(&alice.stderr)
    );
    assert_eq!(stdout(&alice), "0");

    let bob = h.ssh_as("bob", "whoami; sudo -n true");
    assert_eq!(stdout(&bob), "bob", "bob logs in by key");
    assert!(!bob.status.success(), "bob's sudo must ask for a password");
    assert!(String::from_utf8_lossy(&bob.stderr).contains("password is required"));
    let bob_pw = h.ssh_as("bob", "echo bob-sudo-pw | sudo -S -p '' id -u");
    assert_eq!(
        stdout(&bob_pw),
        "0",
        "bob with his password: {}",
        String::from_utf8_lossy(&bob_pw.stderr)
    );
    let bob_wrong = h.ssh_as("bob", "echo wrong | sudo -S -p '' true");
    assert!(
        !bob_wrong.status.success(),
        "bob's sudo accepted a wrong password"
    );

    let carol_key = h.ssh_as("carol", "true");
    assert_eq!(
        carol_key.status.code(),
        Some(255),
        "carol has no authorized key"
    );
    assert_eq!(carol_by_password(&h, "carol-login-pw"), "carol");
    assert_ne!(carol_by_password(&h, "not-her-password"), "carol");
}

/// ssh as carol with password authentication only (the password comes from SSH_ASKPASS).
fn carol_by_password(h: &TestHost, password: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let askpass = dir.path().join("askpass");
    std::fs::write(&askpass, format!("#!/bin/sh\necho '{password}'\n")).unwrap();
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o755)).unwrap();
    let kh = dir.path().join("known_hosts");
    std::fs::write(&kh, format!("{}\n", h.known_hosts_line())).unwrap();
    let out = Command::new("timeout")
        .arg("60")
        .arg("ssh")
        .args([
            "-F",
            "/dev/null",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
        ])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", kh.display()))
        .args([
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password",
        ])
        .args(["-o", "NumberOfPasswordPrompts=1", "-o", "LogLevel=ERROR"])
        .arg(format!("carol@{}", h.ip))
        .arg("whoami")
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env_remove("SSH_AUTH_SOCK")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    stdout(&out)
}

#[test]
fn a_stopped_host_is_unreachable_and_boots_again_with_its_disk() {
    let h = bed().host("smoke-stop");
    h.ssh_ok("echo kept > /var/lib/bed-smoke-disk");
    h.stop();
    let out = h.ssh("true");
    assert_eq!(
        out.status.code(),
        Some(255),
        "ssh to a stopped host must fail"
    );
    h.start();
    assert_eq!(h.ssh_ok("cat /var/lib/bed-smoke-disk").trim(), "kept");
}

#[test]
fn host_down_leaves_no_veth_mount_cgroup_or_process() {
    let bed = bed();
    let h = bed.host("smoke-down");
    let (name, veth) = (h.name.clone(), format!("fdyv{}", h.idx()));
    let host_dir = bed.dir.join("run/hosts").join(&name);
    let leftovers = || -> Vec<String> {
        let mut found = vec![];
        if Command::new("ip")
            .args(["link", "show", &veth])
            .output()
            .unwrap()
            .status
            .success()
        {
            found.push(format!("veth {veth}"));
        }
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let prefix = host_dir.to_string_lossy().to_string();
        for line in mountinfo.lines() {
            if let Some(mp) = line.split(' ').nth(4) {
                if mp == prefix || mp.starts_with(&format!("{prefix}/")) {
                    found.push(format!("mount {mp}"));
                }
            }
        }
        for ctrl in ["unified", "systemd", "memory", "pids", "cpuacct"] {
            let cg = format!("/sys/fs/cgroup/{ctrl}/foundry-bed/{name}");
            if Path::new(&cg).exists() {
                found.push(format!("cgroup {cg}"));
            }
        }
        let machine = format!("--machine={name}");
        for p in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(cmd) = std::fs::read(p.path().join("cmdline")) {
                if String::from_utf8_lossy(&cmd)
                    .split('\0')
                    .any(|a| a == machine)
                {
                    found.push(format!("process {}", p.file_name().to_string_lossy()));
                }
            }
        }
        if host_dir.exists() {
            found.push(format!("dir {}", host_dir.display()));
        }
        let propagate = format!("/run/systemd/nspawn/propagate/{name}");
        if Path::new(&propagate).exists() {
            found.push(format!("nspawn dir {propagate}"));
        }
        found
    };
    // the check sees a running host's pieces (so it can fail) ...
    let while_up = leftovers();
    for want in ["veth", "mount", "cgroup", "process", "dir"] {
        assert!(
            while_up.iter().any(|f| f.starts_with(want)),
            "no {want} seen while up: {while_up:?}"
        );
    }
    drop(h);
    // ... and none of them after host-down
    assert_eq!(leftovers(), Vec::<String>::new());
}

#[test]
fn openbao_image_serves_from_a_host_and_the_bao_binary_talks_to_it() {
    let bed = bed();
    let image = bed.openbao_image();
    assert_eq!(
        image,
        format!("{}/openbao/openbao:2.7.2", support::REGISTRY)
    );
    let bao = bed.bao_binary();
    let version = Command::new(&bao).arg("version").output().unwrap();
    assert!(
        stdout(&version).contains("OpenBao v2.7.2"),
        "{}",
        stdout(&version)
    );

    let h = bed.host("smoke-bao");
    let ip = &h.ip;
    h.ssh_ok(&format!(
        r#"mkdir -p /etc/openbao /var/lib/openbao && cat > /etc/openbao/config.hcl <<'EOF'
storage "raft" {{
  path    = "/openbao/file"
  node_id = "n1"
}}
listener "tcp" {{
  address     = "0.0.0.0:8200"
  tls_disable = true
}}
api_addr      = "http://{ip}:8200"
cluster_addr  = "http://{ip}:8201"
disable_mlock = true
EOF
systemd-run --unit openbao podman run --rm --name openbao --network host \
  -v /etc/openbao:/openbao/config:ro -v /var/lib/openbao:/openbao/file \
  {image} bao server -config=/openbao/config"#
    ));
    // 501: up, not initialized
    let got = wait_http_status(ip, 8200, "/v1/sys/health", 501, Duration::from_secs(90));
    assert_eq!(
        got,
        Some(501),
        "journal:\n{}",
        h.ssh_ok("journalctl -u openbao --no-pager | tail -30")
    );
    let status = Command::new(&bao)
        .args(["status", "-format=json"])
        .env("BAO_ADDR", format!("http://{ip}:8200"))
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap_or_else(|e| {
        panic!(
            "bao status: {e}: {}",
            String::from_utf8_lossy(&status.stderr)
        )
    });
    assert_eq!(json["initialized"], false);
    assert_eq!(json["storage_type"], "raft");
}

#[test]
fn cut_network_isolates_a_running_host_until_restored() {
    let h = bed().host("smoke-cut");
    // a clock inside the host, to prove it keeps running while cut off
    h.ssh_ok(
        "systemd-run --unit tick sh -c 'while :; do date +%s >> /root/ticks; sleep 0.5; done'",
    );
    h.cut_network();
    let out = h.ssh("true");
    assert_eq!(out.status.code(), Some(255), "ssh reached a cut-off host");
    assert_eq!(http_status(&h.ip, 22, "/"), None);
    h.restore_network();
    let ticks = h
        .ssh_ok("wc -l < /root/ticks")
        .trim()
        .parse::<u32>()
        .unwrap();
    assert!(
        ticks >= 8,
        "only {ticks} ticks: the host did not run while cut off"
    );
    assert_eq!(
        h.ssh_ok("hostname -I").trim(),
        h.ip,
        "the host kept its address"
    );
}

#[test]
fn sandbox_runs_foundry_with_an_isolated_home() {
    let sb = support::Sandbox::new();
    let key = sb.path(".ssh/id_ed25519");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        std::fs::read_to_string(sb.path(".ssh/known_hosts")).unwrap(),
        ""
    );
    let child = sb.spawn_foundry(&["--version"]);
    let run = sb.wait_foundry(child);
    run.ok();
    assert!(run.stdout.starts_with("foundry "), "{run}");
    let run = sb.foundry(&["--no-such-flag"]);
    assert_ne!(run.code, 0, "{run}");
}

/// VIPs on the bridge (the K3s and Envoy stand-ins put them there) must not make the bed look
/// down. bed.sh once checked the bridge with `ip addr | grep -q` under `pipefail`: with more
/// than one address, grep could quit before `ip` wrote its last line, `ip` died of SIGPIPE and
/// the check failed (measured: 173 of 2,000 checks in a loop, 5 of 300 first checks); `host-up`
/// then took the bed for a crashed one and stopped every running host (a CI run lost two of the
/// benchmark's three hosts that way). The race is too rare to catch reliably in a short run, so
/// the first half of this test is a rule on the script: no `CMD | grep -q` pipeline anywhere.
/// The second half does what CI did: VIPs up, then another host-up, and the first host lives.
/// VIPs 8 and 9 are used by no other test.
#[test]
fn vips_on_the_bridge_never_make_the_bed_look_down() {
    let script = std::fs::read_to_string(support::bed_script()).unwrap();
    let early_quit = script
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#'))
        .filter(|(_, l)| {
            l.split('|').skip(1).any(|rhs| {
                let mut words = rhs.split_whitespace();
                words.next() == Some("grep")
                    && words.any(|w| w.starts_with('-') && !w.starts_with("--") && w.contains('q'))
            })
        })
        .map(|(n, l)| format!("bed.sh:{}: {}", n + 1, l.trim()))
        .collect::<Vec<_>>();
    assert_eq!(
        early_quit,
        Vec::<String>::new(),
        "`| grep -q` under pipefail"
    );

    let bed = bed();
    let a = bed.host("smoke-vip-a");
    for idx in ["8", "9", "8"] {
        support::bed_sh(&["vip-up", idx]).expect("vip-up (idempotent)");
    }
    let absent = (0..50)
        .filter(|_| {
            // status exits 1 when it finds the bridge (or the registry) down: that counts too
            !support::bed_sh(&["status"]).is_ok_and(|out| out.contains("bridge:   fdybr0 "))
        })
        .count();
    let b = bed.host("smoke-vip-b");
    for idx in ["8", "9"] {
        support::bed_sh(&["vip-down", idx]).expect("vip-down");
    }
    assert_eq!(
        absent, 0,
        "bed.sh status saw no bridge {absent} times in 50"
    );
    assert_eq!(
        a.ssh_ok("hostname").trim(),
        a.name,
        "host-up of b stopped a"
    );
    assert_eq!(b.ssh_ok("hostname").trim(), b.name);
}
