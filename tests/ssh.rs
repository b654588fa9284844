//! foundry's SSH layer against real sshd hosts on the test bed (systemd-nspawn machines running
//! OpenSSH; see tests/support). Nothing is mocked: host keys, users, sudo, the jump host and the
//! remote shell are the real thing.

mod support;

use foundry::error::{class_of, ExitClass};
use foundry::run::log::{RunLog, RunLogHandle};
use foundry::ssh::quote::quote;
use foundry::ssh::{
    keygen, known_hosts, Cmd, Pool, Session, SshOptions, StreamKind, SudoMode, Target, Upload,
};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{bed, TestHost};

const BOB_SUDO_PW: &str = "bob-sudo-pw";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A scratch directory with a known_hosts that trusts `hosts`, and a run log.
struct Scratch {
    dir: tempfile::TempDir,
    log: RunLogHandle,
}

impl Scratch {
    fn new(trusted: &[&TestHost]) -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let lines: String = trusted
            .iter()
            .map(|h| format!("{}\n", h.known_hosts_line()))
            .collect();
        std::fs::write(dir.path().join("known_hosts"), lines).unwrap();
        let log = RunLog::create(&dir.path().join("logs"), "ssh-test").unwrap();
        Scratch { dir, log }
    }

    fn opts(&self) -> SshOptions {
        SshOptions {
            known_hosts_read: vec![self.dir.path().join("known_hosts")],
            known_hosts_write: self.dir.path().join("foundry_known_hosts"),
            accept_new: false,
            connect_timeout: Duration::from_secs(10),
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path().unwrap()).unwrap()
    }
}

fn target(h: &TestHost, user: &str) -> Target {
    Target {
        name: h.name.clone(),
        address: h.ip.clone(),
        port: 22,
        user: user.into(),
        key_path: Some(bed().client_key.clone()),
        key_pem: None,
        password: None,
        sudo: if user == "root" {
            SudoMode::None
        } else {
            SudoMode::Passwordless
        },
        bastion: None,
    }
}

fn fingerprint_of(openssh_public: &str) -> String {
    known_hosts::fingerprint(&russh::keys::PublicKey::from_openssh(openssh_public).unwrap())
}

#[test]
fn unknown_host_key_is_refused_then_accepted_and_recorded_and_a_changed_key_always_refused() {
    let h = bed().host("ssh-keys");
    let s = Scratch::new(&[]);
    let fp = fingerprint_of(&h.host_key);
    rt().block_on(async {
        let t = target(&h, "root");
        let e = Session::connect(&t, &s.opts(), s.log.clone())
            .await
            .err()
            .expect("unknown key must be refused");
        let msg = format!("{e:#}");
        assert_eq!(class_of(&e), ExitClass::Connection);
        assert!(msg.contains(&fp), "no fingerprint {fp} in: {msg}");
        assert!(
            msg.contains("--accept-new-host-keys") && msg.contains(&h.name) && msg.contains(&h.ip),
            "{msg}"
        );
        assert!(
            !s.opts().known_hosts_write.exists(),
            "a refused key was recorded"
        );

        let accept = SshOptions {
            accept_new: true,
            ..s.opts()
        };
        let sess = Session::connect(&t, &accept, s.log.clone())
            .await
            .expect("accept-new connects");
        sess.close().await;
        let recorded = std::fs::read_to_string(&accept.known_hosts_write).unwrap();
        assert!(
            recorded.contains(&format!("{} {}", h.ip, h.host_key)),
            "recorded: {recorded}"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&accept.known_hosts_write)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);

        // Second run, no flag: the recorded key is read back.
        let again = SshOptions {
            known_hosts_read: vec![accept.known_hosts_write.clone()],
            ..s.opts()
        };
        Session::connect(&t, &again, s.log.clone())
            .await
            .expect("recorded key is trusted")
            .close()
            .await;

        // A different key recorded for this address: refused, even with accept_new.
        let other = keygen::generate_ed25519("impostor").unwrap().public_openssh;
        let other = other.rsplit_once(' ').unwrap().0.to_string();
        let bad = s.dir.path().join("changed_known_hosts");
        std::fs::write(&bad, format!("# comment line\n{} {other}\n", h.ip)).unwrap();
        let changed = SshOptions {
            known_hosts_read: vec![bad.clone()],
            known_hosts_write: s.dir.path().join("must_stay_absent"),
            accept_new: true,
            ..s.opts()
        };
        let e = Session::connect(&t, &changed, s.log.clone())
            .await
            .err()
            .expect("changed key must be refused");
        let msg = format!("{e:#}");
        assert_eq!(class_of(&e), ExitClass::Connection);
        assert!(msg.contains("CHANGED"), "{msg}");
        assert!(
            msg.contains(&fp) && msg.contains(&fingerprint_of(&other)),
            "both fingerprints expected: {msg}"
        );
        assert!(
            msg.contains(&format!("{}:2", bad.display())),
            "file:line expected: {msg}"
        );
        assert!(
            !changed.known_hosts_write.exists(),
            "a changed key was recorded"
        );
    });
}

#[test]
fn jump_host_reaches_the_target_through_the_bastion() {
    let (bastion, inner) = std::thread::scope(|s| {
        let a = s.spawn(|| bed().host("ssh-bastion"));
        let b = s.spawn(|| bed().host("ssh-inner"));
        (a.join().unwrap(), b.join().unwrap())
    });
    let s = Scratch::new(&[&bastion, &inner]);
    rt().block_on(async {
        let mut t = target(&inner, "root");
        t.bastion = Some(Box::new(target(&bastion, "root")));
        let sess = Session::connect(&t, &s.opts(), s.log.clone())
            .await
            .expect("connect via bastion");
        let out = sess
            .exec(&Cmd::read("hostname; echo $SSH_CONNECTION"))
            .await
            .unwrap()
            .check("probe")
            .unwrap();
        let mut lines = out.stdout.lines();
        assert_eq!(
            lines.next(),
            Some(inner.name.as_str()),
            "not the target host"
        );
        let client_ip = lines
            .next()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        assert_eq!(
            client_ip, bastion.ip,
            "the target saw {client_ip}, not the bastion, as the client"
        );
        sess.close().await;

        // The bastion's own host key is checked too.
        let only_inner = Scratch::new(&[&inner]);
        let e = Session::connect(&t, &only_inner.opts(), s.log.clone())
            .await
            .err()
            .expect("unknown bastion key");
        let msg = format!("{e:#}");
        assert!(
            msg.contains("bastion") && msg.contains(&fingerprint_of(&bastion.host_key)),
            "{msg}"
        );
    });
}

#[test]
fn sudo_passwordless_as_alice_and_with_password_as_bob() {
    let h = bed().host("ssh-sudo");
    let s = Scratch::new(&[&h]);
    let wrong = "wrong-sudo-pw-5821";
    rt().block_on(async {
        // alice: passwordless sudo
        let alice = Session::connect(&target(&h, "alice"), &s.opts(), s.log.clone())
            .await
            .unwrap();
        assert_eq!(
            alice
                .exec(&Cmd::read("id -un"))
                .await
                .unwrap()
                .stdout
                .trim(),
            "alice"
        );
        assert_eq!(
            alice
                .exec(&Cmd::read("id -u").sudo())
                .await
                .unwrap()
                .stdout
                .trim(),
            "0"
        );
        let f = foundry::host::facts::gather(&alice).await.unwrap();
        assert!(f.sudo_ok && f.user == "alice", "{f:?}");

        // bob: sudo asks for his password
        let mut tb = target(&h, "bob");
        tb.sudo = SudoMode::Password(BOB_SUDO_PW.into());
        let bob = Session::connect(&tb, &s.opts(), s.log.clone())
            .await
            .unwrap();
        let out = bob
            .exec(&Cmd::read("id -u").sudo())
            .await
            .unwrap()
            .check("sudo id")
            .unwrap();
        assert_eq!(out.stdout.trim(), "0");
        // The password line is consumed by sudo; the command's own stdin arrives intact.
        let out = bob
            .exec(&Cmd::read("cat").sudo().stdin(b"line1\nline2".to_vec()))
            .await
            .unwrap();
        assert_eq!(out.stdout, "line1\nline2");
        // Nobody on the host can see it in a process list while sudo runs.
        let ps = bob
            .exec(&Cmd::read("ps -eo args").sudo())
            .await
            .unwrap()
            .check("ps")
            .unwrap();
        assert!(
            ps.stdout.contains("sudo -k -S"),
            "ps should show our sudo: {}",
            ps.stdout
        );
        assert!(!ps.stdout.contains(BOB_SUDO_PW), "password visible in ps");
        let f = foundry::host::facts::gather(&bob).await.unwrap();
        assert!(f.sudo_ok, "{f:?}");

        // bob with a wrong password: a clear error, not a command failure.
        let mut tw = target(&h, "bob");
        tw.sudo = SudoMode::Password(wrong.into());
        let bad = Session::connect(&tw, &s.opts(), s.log.clone())
            .await
            .unwrap();
        let e = bad
            .exec(
                &Cmd::mutate("touch /root/should-not-exist")
                    .sudo()
                    .label("touch marker"),
            )
            .await
            .unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("sudo password was rejected")
                && msg.contains(&h.name)
                && msg.contains("bob"),
            "{msg}"
        );
        assert!(
            !msg.contains(wrong) && !msg.contains(BOB_SUDO_PW),
            "password in error: {msg}"
        );
        assert!(!foundry::host::facts::gather(&bad).await.unwrap().sudo_ok);
        assert_eq!(
            h.ssh("test -e /root/should-not-exist").status.code(),
            Some(1)
        );
    });
    // These passwords were never registered for redaction: they must simply never be written.
    let log = s.log_text();
    assert!(
        log.contains("\"sudo\":true"),
        "sudo commands are logged: {log}"
    );
    assert!(
        !log.contains(BOB_SUDO_PW) && !log.contains(wrong),
        "password in the run log:\n{log}"
    );
}

#[test]
fn upload_is_atomic_with_mode_and_owner_and_a_failure_leaves_nothing() {
    let h = bed().host("ssh-upload");
    let s = Scratch::new(&[&h]);
    h.ssh_ok("mkdir -p /srv/up && chmod 755 /srv/up");
    rt().block_on(async {
        let alice = Session::connect(&target(&h, "alice"), &s.opts(), s.log.clone())
            .await
            .unwrap();
        let content = b"first\nline with 'quotes' and $(not run)\n\x00\xffbinary".to_vec();
        let up = Upload {
            path: "/srv/up/app config.conf".into(),
            content: content.clone(),
            mode: 0o640,
            owner: Some("bob".into()),
            group: Some("alice".into()),
            sudo: true,
        };
        alice.upload(&up).await.unwrap();
        assert_eq!(
            h.ssh_ok("stat -c '%a %U %G' '/srv/up/app config.conf'")
                .trim(),
            "640 bob alice"
        );
        assert_eq!(
            alice
                .read_file("/srv/up/app config.conf", true)
                .await
                .unwrap(),
            Some(content)
        );

        // Replacing: new content, same guarantees.
        alice
            .upload(&Upload {
                content: b"second".to_vec(),
                mode: 0o600,
                ..up.clone()
            })
            .await
            .unwrap();
        assert_eq!(
            h.ssh_ok("stat -c '%a %U' '/srv/up/app config.conf'; cat '/srv/up/app config.conf'"),
            "600 bob\nsecond"
        );

        // A failure (no such owner) leaves neither the target nor a temp file.
        let e = alice
            .upload(&Upload {
                path: "/srv/up/never.conf".into(),
                owner: Some("no-such-user".into()),
                ..up.clone()
            })
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("/srv/up/never.conf"), "{e:#}");
        assert_eq!(
            h.ssh_ok("ls -A /srv/up").trim(),
            "app config.conf",
            "leftovers after a failed upload"
        );
        assert_eq!(
            alice.read_file("/srv/up/never.conf", true).await.unwrap(),
            None
        );
    });
    // Each upload is ONE mutating command in the run log (2 good + 1 failed).
    let log = s.log_text();
    let uploads = log
        .lines()
        .filter(|l| l.contains("\"mutating\":true") && l.contains("mktemp"))
        .count();
    assert_eq!(uploads, 3, "{log}");
    assert!(
        !log.contains("not run"),
        "file content leaked into the run log"
    );
}

#[test]
fn exit_status_streaming_and_timeout() {
    let h = bed().host("ssh-exec");
    let s = Scratch::new(&[&h]);
    rt().block_on(async {
        let sess = Session::connect(&target(&h, "root"), &s.opts(), s.log.clone())
            .await
            .unwrap();
        let out = sess
            .exec(&Cmd::read("echo out; echo err >&2; exit 7"))
            .await
            .unwrap();
        assert_eq!(
            (out.exit, out.stdout.as_str(), out.stderr.as_str()),
            (7, "out\n", "err\n")
        );
        assert!(!out.success());
        let e = out.check("the probe").unwrap_err().to_string();
        assert!(
            e.contains("the probe") && e.contains("exit 7") && e.contains("err"),
            "{e}"
        );

        // Lines arrive while the command still runs.
        let start = Instant::now();
        let seen: Arc<Mutex<Vec<(StreamKind, String, Duration)>>> = Arc::default();
        let sink = seen.clone();
        let mut cb = move |k: StreamKind, l: &str| {
            sink.lock()
                .unwrap()
                .push((k, l.to_string(), start.elapsed()))
        };
        let script = "echo first; echo warn >&2; sleep 2; printf 'last-no-newline'";
        let out = sess
            .exec_streaming(&Cmd::read(script), &mut cb)
            .await
            .unwrap();
        let seen = seen.lock().unwrap().clone();
        let lines: Vec<(StreamKind, &str)> =
            seen.iter().map(|(k, l, _)| (*k, l.as_str())).collect();
        assert_eq!(
            lines,
            [
                (StreamKind::Stdout, "first"),
                (StreamKind::Stderr, "warn"),
                (StreamKind::Stdout, "last-no-newline")
            ]
        );
        assert!(
            seen[0].2 < Duration::from_millis(1500),
            "first line came only after {:?}",
            seen[0].2
        );
        assert!(seen[2].2 >= Duration::from_secs(2));
        assert_eq!(out.stdout, "first\nlast-no-newline");

        // Timeout: fails in about the limit, naming host, command and limit.
        let start = Instant::now();
        let e = sess
            .exec(&Cmd::read("sleep 30").timeout(Duration::from_secs(1)))
            .await
            .unwrap_err();
        let took = start.elapsed();
        let msg = format!("{e:#}");
        assert!(took < Duration::from_secs(3), "timeout took {took:?}");
        assert!(
            msg.contains(&h.name) && msg.contains("sleep 30") && msg.contains("1s"),
            "{msg}"
        );
        // The session is still usable after a timed-out channel.
        assert_eq!(
            sess.exec(&Cmd::read("echo alive")).await.unwrap().stdout,
            "alive\n"
        );
        // A timed-out command does not live on on the host, also when run through sudo
        // (there the login user cannot signal it).
        let alice = Session::connect(&target(&h, "alice"), &s.opts(), s.log.clone())
            .await
            .unwrap();
        let e = alice
            .exec(
                &Cmd::mutate("sleep 31")
                    .sudo()
                    .timeout(Duration::from_secs(1)),
            )
            .await;
        assert!(format!("{:#}", e.unwrap_err()).contains("timed out after 1s"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = h.ssh_ok("pgrep -af 'sleep 3[01]' || true");
            if left.trim().is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "timed-out commands still running on the host: {left}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let log = s.log_text();
    assert!(
        log.contains("timed out after 1s") && log.contains("\"exit\":null"),
        "{log}"
    );
}

#[test]
fn parallel_commands_share_one_connection_and_the_pool_connects_once() {
    let h = bed().host("ssh-par");
    let s = Scratch::new(&[&h]);
    rt().block_on(async {
        let pool = Pool::new(s.opts(), s.log.clone(), 4);
        let t = target(&h, "root");
        // 12 tasks ask the pool at once, each runs a 1 s command: more than MaxSessions (10).
        let start = Instant::now();
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (pool, t) = (pool.clone(), t.clone());
                tokio::spawn(async move {
                    let sess = pool.get(&t).await.unwrap();
                    sess.exec(&Cmd::read("sleep 1; echo $SSH_CONNECTION"))
                        .await
                        .unwrap()
                        .check("probe")
                        .unwrap()
                        .stdout
                })
            })
            .collect();
        let mut conns = Vec::new();
        for t in tasks {
            conns.push(t.await.unwrap());
        }
        let took = start.elapsed();
        conns.sort();
        conns.dedup();
        assert_eq!(
            conns.len(),
            1,
            "expected one connection (one client port), got {conns:?}"
        );
        assert!(
            took < Duration::from_secs(6),
            "12 × 1 s commands took {took:?}: not parallel"
        );
        pool.close_all().await;

        // A hardened sshd allows fewer sessions than we open at once: the refused opens wait
        // for a free slot instead of failing the command (sshd answers "connect failed").
        h.ssh_ok("echo 'MaxSessions 2' >> /etc/ssh/sshd_config");
        h.reload_sshd();
        let tight = Pool::new(s.opts(), s.log.clone(), 4);
        let start = Instant::now();
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let (pool, t) = (tight.clone(), t.clone());
                tokio::spawn(async move {
                    let sess = pool.get(&t).await.unwrap();
                    sess.exec(&Cmd::read(format!("sleep 1; echo {i}")))
                        .await
                        .unwrap()
                        .check("probe")
                        .unwrap()
                        .stdout
                })
            })
            .collect();
        let mut got = Vec::new();
        for t in tasks {
            got.push(t.await.unwrap().trim().to_string());
        }
        got.sort();
        assert_eq!(got, ["0", "1", "2", "3", "4", "5"]);
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(3),
            "6 × 1 s under MaxSessions 2 took {took:?}: the limit was not in force"
        );
        tight.close_all().await;
        h.ssh_ok("sed -i '/^MaxSessions 2$/d' /etc/ssh/sshd_config");
        h.reload_sshd();

        // A failed connect is remembered for the run: the second caller gets it at once.
        let mut dead = target(&h, "root");
        dead.name = "dead".into();
        dead.port = 2;
        let e1 = pool.get(&dead).await.err().unwrap();
        let start = Instant::now();
        let e2 = pool.get(&dead).await.err().unwrap();
        assert!(start.elapsed() < Duration::from_millis(50));
        assert_eq!(format!("{e1:#}"), format!("{e2:#}"));
        assert_eq!(class_of(&e2), ExitClass::Connection);
        assert!(format!("{e2:#}").contains("refused"), "{e2:#}");
    });
}

/// Values as a config file could hold them: shell metacharacters, line breaks, option-like
/// dashes, unicode, and anything else (NUL handled separately: it cannot pass through argv).
fn shell_hostile_strings() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                Just('\''),
                Just('"'),
                Just('\\'),
                Just('$'),
                Just('`'),
                Just('\n'),
                Just('\r'),
                Just('\0'),
                Just(' '),
                Just('\t'),
                Just('-'),
                Just(';'),
                Just('|'),
                Just('&'),
                Just('*'),
                Just('~'),
                Just('#'),
                Just('%'),
                Just('('),
                Just('{'),
                any::<char>()
            ],
            0..40
        )
        .prop_map(|v| v.into_iter().collect::<String>()),
    ]
}

/// Property (issue 13 item 9): every way a config value reaches a remote command line —
/// `quote` (one word), `join` (a command of words) and the `systemctl` builder — delivers
/// exactly the intended arguments to a real `sh` on a bed host, and nothing else: the remote
/// side prints each argument it received NUL-terminated, and the list must match. 1,200
/// generated values plus fixed nasty ones, batched 100 to a command (one round trip each).
/// A value with a NUL cannot pass through any shell: validation refuses it before it gets here.
#[test]
fn quoting_round_trips_arbitrary_strings_through_a_real_remote_shell() {
    use foundry::config::validate::format;
    use foundry::host::systemd::systemctl;
    use foundry::ssh::quote::join;
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, TestRunner};
    let h = bed().host("ssh-quote");
    let s = Scratch::new(&[&h]);
    let rt = rt();
    let sess = rt
        .block_on(Session::connect(
            &target(&h, "alice"),
            &s.opts(),
            RunLog::disabled(),
        ))
        .unwrap();
    // `args` is a shell function printing every argument it got, NUL-terminated; so is
    // `systemctl`, so that the real builder's output runs as is.
    let prelude = "args() { for a in \"$@\"; do printf '%s\\0' \"$a\"; done; }\nsystemctl() { args \"$@\"; }\n";
    let run = |script: String| -> Vec<String> {
        let out = rt
            .block_on(sess.exec(&Cmd::read(format!("{prelude}{script}"))))
            .unwrap();
        assert_eq!(out.exit, 0, "script failed: {}\n{script}", out.stderr);
        let mut fields: Vec<String> = out.stdout.split('\0').map(str::to_string).collect();
        assert_eq!(
            fields.pop().as_deref(),
            Some(""),
            "output not NUL-terminated"
        );
        fields
    };
    let mut values: Vec<String> = [
        "",
        "-n",
        "--",
        "-e \\n",
        "'",
        "''",
        "\"",
        "$(id)",
        "`id`",
        "${HOME}",
        "a\\b",
        "\\",
        "\n",
        "a\nb\n",
        "*",
        "~",
        "#x",
        "é中🚀",
        " lead",
        "trail ",
        "a\rb",
        "%s%n",
        "$((1+1))",
        "!!",
        "a;b",
        "x && touch /tmp/pwned",
        "-oProxyCommand=touch /tmp/pwned",
    ]
    .iter()
    .map(|v| v.to_string())
    .collect();
    let mut runner = TestRunner::new(Config {
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = shell_hostile_strings();
    let mut with_nul = Vec::new();
    while values.len() < 1_200 {
        let v = strategy.new_tree(&mut runner).unwrap().current();
        if v.contains('\0') {
            with_nul.push(v);
        } else {
            values.push(v);
        }
    }
    assert!(!with_nul.is_empty(), "the generator should produce NULs");
    for v in &with_nul {
        assert!(
            format::one_line("a value", v).is_err(),
            "NUL accepted: {v:?}"
        );
    }
    assert!(values.len() >= 1_000, "{} cases", values.len());
    for batch in values.chunks(100) {
        // One word each.
        let script: String = batch
            .iter()
            .map(|v| format!("args {}\n", quote(v)))
            .collect();
        assert_eq!(run(script), batch, "quote");
        // All of them as one command line.
        let mut words = vec!["args".to_string()];
        words.extend(batch.iter().cloned());
        assert_eq!(run(join(&words)), batch, "join");
        // The systemctl builder: the verb, then the unit, and nothing else.
        let script: String = batch
            .iter()
            .map(|v| format!("{}\n", systemctl("show", v)))
            .collect();
        let want: Vec<String> = batch
            .iter()
            .flat_map(|v| ["show".to_string(), v.clone()])
            .collect();
        assert_eq!(run(script), want, "systemctl");
    }
    assert!(
        h.ssh_ok("ls /tmp/pwned 2>/dev/null || echo absent")
            .contains("absent"),
        "a value ran as a command"
    );
}

#[test]
fn authentication_failures_say_what_was_tried() {
    let h = bed().host("ssh-auth");
    let s = Scratch::new(&[&h]);
    rt().block_on(async {
        // carol accepts only her password: the bed key is refused.
        let e = Session::connect(&target(&h, "carol"), &s.opts(), s.log.clone())
            .await
            .err()
            .unwrap();
        let msg = format!("{e:#}");
        assert_eq!(class_of(&e), ExitClass::Connection);
        assert!(
            msg.contains("authentication failed for user carol"),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("publickey {}", bed().client_key.display())),
            "{msg}"
        );
        assert!(
            msg.contains("the server accepts: publickey, password"),
            "{msg}"
        );

        // wrong password after the key
        let mut t = target(&h, "carol");
        t.password = Some("not-carols-pw".into());
        let msg = format!(
            "{:#}",
            Session::connect(&t, &s.opts(), s.log.clone())
                .await
                .err()
                .unwrap()
        );
        assert!(
            msg.contains("tried: publickey") && msg.contains(", password"),
            "{msg}"
        );
        assert!(!msg.contains("not-carols-pw"));

        // right password: in
        t.password = Some("carol-login-pw".into());
        let sess = Session::connect(&t, &s.opts(), s.log.clone())
            .await
            .unwrap();
        assert_eq!(
            sess.exec(&Cmd::read("id -un")).await.unwrap().stdout.trim(),
            "carol"
        );

        // a passphrase-protected key: a clear local error
        let key = s.dir.path().join("locked_key");
        let st = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "a passphrase", "-f"])
            .arg(&key)
            .status()
            .unwrap();
        assert!(st.success());
        let mut t = target(&h, "root");
        t.key_path = Some(key.clone());
        let msg = format!(
            "{:#}",
            Session::connect(&t, &s.opts(), s.log.clone())
                .await
                .err()
                .unwrap()
        );
        assert!(
            msg.contains("passphrase") && msg.contains(&key.display().to_string()),
            "{msg}"
        );

        // a key file that does not exist
        t.key_path = Some(PathBuf::from("/nonexistent/key"));
        let msg = format!(
            "{:#}",
            Session::connect(&t, &s.opts(), s.log.clone())
                .await
                .err()
                .unwrap()
        );
        assert!(msg.contains("/nonexistent/key"), "{msg}");
    });
}

/// An ssh-agent (the real OpenSSH one, on a socket in a temp dir) holding an RSA key, and an RSA
/// key file: both must log in, which needs rsa-sha2-256/512 signatures (sshd refuses SHA-1).
#[test]
fn rsa_keys_from_a_file_and_from_ssh_agent() {
    let h = bed().host("ssh-rsa");
    let s = Scratch::new(&[&h]);
    let keygen = |name: &str| -> PathBuf {
        let p = s.dir.path().join(name);
        let st = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "rsa", "-b", "3072", "-N", "", "-f"])
            .arg(&p)
            .status()
            .unwrap();
        assert!(st.success());
        p
    };
    let (file_key, agent_key) = (keygen("rsa_file"), keygen("rsa_agent"));
    // Only carol gets these keys, and she has no other key: a login proves this key worked.
    let pubs = format!(
        "{}{}",
        std::fs::read_to_string(file_key.with_extension("pub")).unwrap(),
        std::fs::read_to_string(agent_key.with_extension("pub")).unwrap()
    );
    h.ssh_ok(&format!(
        "install -d -m 700 -o carol -g carol /home/carol/.ssh && printf %s {} > /home/carol/.ssh/authorized_keys && chown carol: /home/carol/.ssh/authorized_keys",
        quote(&pubs)
    ));
    let sock = s.dir.path().join("agent.sock");
    let mut agent = std::process::Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !sock.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let added = std::process::Command::new("ssh-add")
        .arg(&agent_key)
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );

    let result = std::panic::catch_unwind(|| {
        rt().block_on(async {
            let mut t = target(&h, "carol");
            t.key_path = Some(file_key.clone());
            let sess = Session::connect(&t, &s.opts(), s.log.clone())
                .await
                .expect("RSA key file");
            assert_eq!(
                sess.exec(&Cmd::read("id -un")).await.unwrap().stdout.trim(),
                "carol"
            );

            // No key configured: the agent's key. (No other test in this binary connects without
            // a key file, so setting the variable here affects nobody else.)
            std::env::set_var("SSH_AUTH_SOCK", &sock);
            t.key_path = None;
            let r = Session::connect(&t, &s.opts(), s.log.clone()).await;
            std::env::remove_var("SSH_AUTH_SOCK");
            let sess = r.expect("RSA key in ssh-agent");
            assert_eq!(
                sess.exec(&Cmd::read("id -un")).await.unwrap().stdout.trim(),
                "carol"
            );
        })
    });
    let _ = agent.kill();
    let _ = agent.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
