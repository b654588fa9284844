//! TrueNAS: foundry's JSON-RPC client, storage plan and `foundry storage` commands against a
//! **fake (mock) TrueNAS** on loopback (`support/fake_truenas.rs`): no TrueNAS can run here.
//! The fake answers with the documented shapes and errors (api-behaviour.md Part B). These
//! tests need no test-bed hosts.

#[path = "support/fake_truenas.rs"]
mod fake_truenas;
#[allow(dead_code)] // tty.rs uses a part of it
#[path = "support/process.rs"]
mod process;
#[path = "support/tty.rs"]
mod tty;

use fake_truenas::{FakeTruenas, Transport, API_KEY, USER};
use foundry::run::log::RunLog;
use foundry::truenas::{Client, LoginRefusal, Settings, TruenasError, Trust};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn settings(fake: &FakeTruenas) -> Settings {
    Settings {
        url: fake.url(),
        user: USER.into(),
        api_key: API_KEY.into(),
        trust: Trust::Pinned(foundry::truenas::parse_fingerprint(&fake.fingerprint).unwrap()),
        call_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(10),
    }
}

fn connect(s: Settings) -> Result<Client, TruenasError> {
    rt().block_on(Client::connect(s, RunLog::disabled()))
}

fn login_err(fake: &FakeTruenas, result: serde_json::Value) -> TruenasError {
    fake.hooks(|h| h.login_result = Some(result));
    connect(settings(fake)).expect_err("login must fail")
}

#[test]
fn every_login_response_type_has_its_own_outcome() {
    let fake = FakeTruenas::start();
    let c = connect(settings(&fake)).expect("SUCCESS logs in");
    assert_eq!(c.api_version(), "v26.0.0");
    assert_eq!(c.user_info().unwrap()["pw_name"], USER);

    let cases = [
        (
            json!({"response_type": "AUTH_ERR"}),
            LoginRefusal::AuthErr,
            "AUTH_ERR",
        ),
        (
            json!({"response_type": "EXPIRED"}),
            LoginRefusal::Expired,
            "expired",
        ),
        (
            json!({"response_type": "OTP_REQUIRED", "username": USER}),
            LoginRefusal::OtpRequired,
            "one-time password",
        ),
        (
            json!({"response_type": "REDIRECT", "urls": ["wss://10.0.0.9/api/current"]}),
            LoginRefusal::Redirect(vec!["wss://10.0.0.9/api/current".into()]),
            "standby node",
        ),
        (
            json!({"response_type": "DENIED"}),
            LoginRefusal::Denied,
            "DENIED",
        ),
    ];
    for (answer, want, text) in cases {
        let e = login_err(&fake, answer);
        let TruenasError::Login { reason, user, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!((reason, user.as_str()), (&want, USER));
        let msg = e.to_string();
        assert!(msg.contains(text), "{msg}");
        assert!(!msg.contains(API_KEY), "{msg}");
    }
}

#[test]
fn a_wrong_key_is_auth_err_and_calls_before_login_are_refused() {
    let fake = FakeTruenas::start();
    let mut s = settings(&fake);
    s.api_key = "7-wrongKeyWrongKeyWrongKey".into();
    let e = connect(s).unwrap_err();
    assert!(
        matches!(
            &e,
            TruenasError::Login {
                reason: LoginRefusal::AuthErr,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("storage.truenas.user"), "{e}");
}

#[test]
fn plain_http_and_ws_urls_are_refused_before_any_key_is_sent() {
    let fake = FakeTruenas::start();
    for url in [
        format!("http://127.0.0.1:{}", fake.port),
        format!("ws://127.0.0.1:{}/api/current", fake.port),
    ] {
        let mut s = settings(&fake);
        s.url = url.clone();
        let e = connect(s).unwrap_err();
        assert!(
            matches!(e, TruenasError::InsecureUrl { .. }),
            "{url}: {e:?}"
        );
        assert!(e.to_string().contains("revokes an API key"), "{e}");
    }
    // The fake saw no connection at all, so certainly no key.
    assert_eq!(fake.with(|s| s.plain_connections), 0);
    assert_eq!(fake.keys(), vec![]);
}

/// The fake behaves like the real server when a key does arrive over plain WebSocket: it
/// revokes it. This is what the refusal above protects against (and proves the fake records
/// keys on plain connections).
#[test]
fn the_fake_revokes_a_key_sent_over_plain_ws() {
    let fake = FakeTruenas::start();
    rt().block_on(async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", fake.port))
            .await
            .unwrap();
        let (mut ws, _) = tokio_tungstenite::client_async(
            format!("ws://127.0.0.1:{}/api/current", fake.port),
            tcp,
        )
        .await
        .unwrap();
        use futures::{SinkExt, StreamExt};
        let req = json!({"jsonrpc":"2.0","id":1,"method":"auth.login_ex","params":[{"mechanism":"API_KEY_PLAIN","username":USER,"api_key":API_KEY}]});
        ws.send(tokio_tungstenite::tungstenite::Message::text(req.to_string()))
            .await
            .unwrap();
        let answer = ws.next().await.unwrap().unwrap().into_text().unwrap();
        assert!(answer.contains("EXPIRED"), "{answer}");
    });
    assert_eq!(fake.keys(), vec![(Transport::Plain, API_KEY.to_string())]);
    // Later logins with that key fail, also over TLS.
    let e = connect(settings(&fake)).unwrap_err();
    assert!(
        matches!(
            e,
            TruenasError::Login {
                reason: LoginRefusal::AuthErr,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn an_unknown_api_version_is_refused_by_name_before_login() {
    let fake = FakeTruenas::start();
    fake.hooks(|h| h.versions = Some(vec!["v26.0.0".into(), "v27.0.0".into()]));
    let e = connect(settings(&fake)).unwrap_err();
    assert!(matches!(e, TruenasError::UnknownVersion { .. }), "{e:?}");
    assert!(e.to_string().contains("serves API v27.0.0"), "{e}");
    assert_eq!(fake.keys(), vec![]);
}

#[test]
fn tls_trust_pin_ca_file_and_an_unpinned_certificate() {
    let fake = FakeTruenas::start();
    // The CA that signed the fake's certificate, name checked (it is for 127.0.0.1).
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &fake.ca_pem).unwrap();
    let mut s = settings(&fake);
    s.trust = Trust::CaFile {
        path: ca,
        check_name: true,
    };
    connect(s).expect("CA file trust");
    // Public roots: refused, and the message shows the fingerprint to pin.
    let mut s = settings(&fake);
    s.trust = Trust::PublicRoots;
    let e = connect(s).unwrap_err();
    assert!(matches!(e, TruenasError::Untrusted { .. }), "{e:?}");
    assert!(e.to_string().contains(&fake.fingerprint), "{e}");
    // A wrong pin: refused.
    let mut s = settings(&fake);
    s.trust = Trust::Pinned([7; 32]);
    assert!(matches!(connect(s), Err(TruenasError::Untrusted { .. })));
    assert_eq!(
        fake.keys().len(),
        1,
        "only the trusted connection sent the key"
    );
}

#[test]
fn rpc_errors_are_typed_and_name_the_call() {
    let fake = FakeTruenas::start();
    rt().block_on(async {
        let c = Client::connect(settings(&fake), RunLog::disabled())
            .await
            .unwrap();
        // get: true without a match is MatchNotFound: the client says "absent".
        assert_eq!(c.dataset("tank/nope").await.unwrap(), None);
        // Validation: -32602, errno only in extra.
        let e = c
            .create_dataset(json!({"name": "tank/a/b", "type": "FILESYSTEM"}))
            .await
            .unwrap_err();
        let f = e.rpc().expect("an RPC failure");
        assert_eq!(f.code, foundry::truenas::RpcCode::InvalidParams);
        let msg = e.to_string();
        assert!(msg.contains("`pool.dataset.create`"), "{msg}");
        assert!(
            msg.contains("Parent dataset (tank/a) does not exist."),
            "{msg}"
        );
        // Deleting what is not there: InstanceNotFound, reported as "already gone".
        assert!(!c.delete_dataset("tank/nope", false).await.unwrap());
        // Unknown method.
        let e = c
            .call("pool.dataset.frobnicate", json!([]))
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("does not exist on this TrueNAS"),
            "{e}"
        );
    });
}

#[test]
fn a_slow_answer_times_out_naming_the_call() {
    let fake = FakeTruenas::start();
    fake.hooks(|h| h.slow = Some(("pool.query".into(), Duration::from_secs(3))));
    let mut s = settings(&fake);
    s.call_timeout = Duration::from_millis(500);
    rt().block_on(async {
        let c = Client::connect(s, RunLog::disabled()).await.unwrap();
        let e = c.pools().await.unwrap_err();
        assert!(matches!(e, TruenasError::Timeout { .. }), "{e:?}");
        assert!(e.to_string().contains("`pool.query`"), "{e}");
        // The connection is still usable afterwards (the late answer is dropped).
        assert!(c.nfs_shares().await.unwrap().is_empty());
    });
}

const STACK: &str = "\
cluster: {name: lab, domain: lab.example.com, vip: 10.0.0.50}
network: {cidr: 10.0.0.0/24}
hosts:
  - {hostname: n1, address: 10.0.0.11, roles: [openbao]}
storage:
  truenas:
    url: URL
    user: truenas_admin
    api_key: ${secret:truenas:api_key}
    pool: tank
    tls_fingerprint: FP
    datasets:
      - {name: k8s/volumes, csi: volumes, quota: 10GiB, nfs: true, nfs_maproot_user: root, nfs_maproot_group: wheel}
      - {name: k8s/snapshots, csi: snapshots}
";

fn stack_for(fake: &FakeTruenas) -> String {
    STACK
        .replace("URL", &fake.url())
        .replace("FP", &fake.fingerprint)
}

/// Plan + execute, as the engine would: the steps' API actions.
fn converge(fake: &FakeTruenas, stack_src: &str) -> Vec<(String, Option<String>)> {
    let loaded = foundry::config::load::load_str(Path::new("s.yaml"), stack_src).unwrap();
    let mut stack = loaded.config;
    stack.storage.truenas.as_mut().unwrap().api_key = API_KEY.into();
    let s = Settings::from_config(stack.storage.truenas.as_ref().unwrap()).unwrap();
    let _ = fake;
    rt().block_on(async {
        let c = std::sync::Arc::new(Client::connect(s, RunLog::disabled()).await.unwrap());
        let steps = foundry::truenas::plan(&stack, c).await.unwrap();
        let mut shown = vec![];
        for st in &steps {
            shown.push((st.description.clone(), st.diff.clone()));
            let foundry::component::Action::Api(a) = &st.action else {
                panic!("not an API step: {}", st.description)
            };
            a.execute()
                .await
                .unwrap_or_else(|e| panic!("{}: {e:#}", st.description));
        }
        shown
    })
}

#[test]
fn the_plan_creates_then_only_fixes_a_changed_network_then_is_empty() {
    let fake = FakeTruenas::start();
    let src = stack_for(&fake);
    let first = converge(&fake, &src);
    assert_eq!(
        first.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
        [
            "create dataset tank/k8s/volumes",
            "create dataset tank/k8s/snapshots",
            "create NFS share /mnt/tank/k8s/volumes",
            "enable and start the NFS service",
        ]
    );
    assert!(fake.dataset_names().contains(&"tank/k8s".to_string()));
    assert!(fake.with(|s| s.nfs_running && s.nfs_enable));

    // Someone changes the share's network in the TrueNAS UI.
    fake.set_share_networks("/mnt/tank/k8s/volumes", &["192.168.1.0/24"]);
    fake.reset_calls();
    let second = converge(&fake, &src);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(
        second[0].0,
        "update NFS share /mnt/tank/k8s/volumes (id 1: networks)"
    );
    let diff = second[0].1.as_deref().unwrap();
    assert!(
        diff.contains("-- 192.168.1.0/24") && diff.contains("+- 10.0.0.0/24"),
        "{diff}"
    );
    assert_eq!(fake.mutating_calls(), ["sharing.nfs.update"]);
    assert_eq!(
        fake.with(|s| s.shares[0]["networks"].clone()),
        json!(["10.0.0.0/24"])
    );

    fake.reset_calls();
    assert_eq!(converge(&fake, &src), vec![]);
    assert_eq!(fake.mutating_calls(), Vec::<String>::new());
    assert!(fake.count("pool.dataset.query") >= 1, "the plan read first");
}

#[test]
fn datasets_and_shares_not_in_stack_yaml_are_never_touched() {
    let fake = FakeTruenas::start();
    fake.add_dataset("tank/media");
    let src = stack_for(&fake);
    converge(&fake, &src);
    assert!(fake.dataset_names().contains(&"tank/media".to_string()));
    assert!(!fake.mutating_calls().iter().any(|m| m.ends_with(".delete")));
}

// ---- the CLI -------------------------------------------------------------------------------

/// A HOME with stack.yaml and the API key in ~/.foundryvars (no test-bed host needed).
struct Home {
    dir: tempfile::TempDir,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Home {
    fn new(stack: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".foundry")).unwrap();
        std::fs::write(dir.path().join(".foundry/stack.yaml"), stack).unwrap();
        let vars = dir.path().join(".foundryvars");
        std::fs::write(&vars, format!("foundry-core/truenas:api_key={API_KEY}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&vars, std::fs::Permissions::from_mode(0o600)).unwrap();
        Home { dir }
    }

    fn foundry(&self, args: &[&str], stdin: Option<&str>) -> Out {
        Self::finish(self.spawn(args, stdin))
    }

    fn finish(child: std::process::Child) -> Out {
        let out = child.wait_with_output().unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        }
    }

    fn spawn(&self, args: &[&str], stdin: Option<&str>) -> std::process::Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_foundry"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("FOUNDRY_") || k.starts_with("XDG_") || k == "DBUS_SESSION_BUS_ADDRESS"
            {
                cmd.env_remove(k);
            }
        }
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        child
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        if let Ok(rd) = std::fs::read_dir(self.dir.path().join(".foundry/logs")) {
            for e in rd.flatten() {
                all.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        all
    }
}

fn temp_datasets(fake: &FakeTruenas) -> Vec<String> {
    fake.dataset_names()
        .into_iter()
        .filter(|n| n.contains("foundry-test"))
        .collect()
}

#[test]
fn storage_test_reports_each_step_and_cleans_up() {
    let fake = FakeTruenas::start();
    let home = Home::new(&stack_for(&fake));
    let out = home.foundry(&["storage", "test"], None);
    assert_eq!(out.code, 0, "{out:?}");
    for step in ["versions", "login", "pool", "create", "delete"] {
        assert!(out.stdout.contains(step), "{step} missing: {out:?}");
    }
    assert!(out.stdout.contains("v26.0.0"), "{out:?}");
    assert_eq!(temp_datasets(&fake), Vec::<String>::new());
    assert_eq!(fake.count("pool.dataset.create"), 1);
    assert_eq!(fake.count("pool.dataset.delete"), 1);
    let logs = home.logs();
    assert!(logs.contains("\"method\":\"RPC\""), "{logs}");
    assert!(logs.contains("\"path\":\"pool.dataset.create\""), "{logs}");
    assert!(!logs.contains(API_KEY), "the key leaked into the run log");
    assert!(!out.stdout.contains(API_KEY) && !out.stderr.contains(API_KEY));
}

#[test]
fn storage_test_removes_leftovers_of_a_killed_run_but_nothing_else() {
    let fake = FakeTruenas::start();
    fake.add_dataset_with_comment(
        "tank/foundry-test-0badf00d",
        "temporary: foundry storage test",
    );
    // Same prefix, but not marked by foundry: someone's own dataset.
    fake.add_dataset_with_comment("tank/foundry-test-mine", "my data");
    let home = Home::new(&stack_for(&fake));
    let out = home.foundry(&["storage", "test"], None);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("delete leftover tank/foundry-test-0badf00d"),
        "{out:?}"
    );
    assert_eq!(temp_datasets(&fake), ["tank/foundry-test-mine"]);
}

#[test]
fn storage_test_reconnects_and_deletes_when_the_connection_drops_after_the_create() {
    let fake = FakeTruenas::start();
    fake.hooks(|h| h.drop_after_create = Some(1));
    let home = Home::new(&stack_for(&fake));
    let out = home.foundry(&["storage", "test"], None);
    // The create did happen on TrueNAS, but its answer was lost: the test fails, and the
    // temporary dataset is still removed over a new connection.
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("reconnect"), "{out:?}");
    assert_eq!(temp_datasets(&fake), Vec::<String>::new(), "{out:?}");
    assert_eq!(fake.count("auth.login_ex"), 2, "{out:?}");
}

#[test]
fn storage_test_cleans_up_when_interrupted_during_the_create() {
    let fake = FakeTruenas::start();
    // The create takes 2 s to answer; Ctrl-C (SIGINT) arrives while it is on its way.
    fake.hooks(|h| h.slow = Some(("pool.dataset.create".into(), Duration::from_secs(2))));
    let home = Home::new(&stack_for(&fake));
    let child = home.spawn(&["storage", "test"], None);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while fake.count("pool.dataset.create") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no create within 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = Home::finish(child);
    assert_eq!(out.code, 130, "{out:?}");
    assert!(out.stdout.contains("delete"), "{out:?}");
    assert_eq!(temp_datasets(&fake), Vec::<String>::new(), "{out:?}");
    assert_eq!(fake.count("pool.dataset.delete"), 1, "{out:?}");
}

#[test]
fn storage_commands_refuse_a_plain_http_url_and_send_no_key() {
    let fake = FakeTruenas::start();
    let src = stack_for(&fake).replace("https://", "http://");
    let home = Home::new(&src);
    let out = home.foundry(&["storage", "test"], None);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("http://"), "{out:?}");
    assert!(out.stderr.contains("revokes"), "{out:?}");
    assert_eq!(fake.with(|s| s.plain_connections), 0);
    assert_eq!(fake.keys(), vec![]);
}

#[test]
fn storage_list_shows_datasets_with_their_shares() {
    let fake = FakeTruenas::start();
    let src = stack_for(&fake);
    converge(&fake, &src);
    fake.reset_calls();
    let home = Home::new(&src);
    let out = home.foundry(&["storage", "list", "-o", "json"], None);
    assert_eq!(out.code, 0, "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let ds = v["datasets"].as_array().unwrap();
    let vol = ds.iter().find(|d| d["name"] == "tank/k8s/volumes").unwrap();
    assert_eq!(vol["nfs"][0]["networks"], json!(["10.0.0.0/24"]));
    assert_eq!(vol["quota"], json!(10u64 << 30));
    let table = home.foundry(&["storage", "list"], None);
    assert_eq!(table.code, 0, "{table:?}");
    assert!(table.stdout.contains("tank/k8s/volumes"), "{table:?}");
    assert!(table.stdout.contains("10.0.0.0/24"), "{table:?}");
    assert_eq!(fake.mutating_calls(), Vec::<String>::new());
}

const BARE_STACK: &str = "\
# my lab
cluster: {name: lab, domain: lab.example.com, vip: 10.0.0.50}
network: {cidr: 10.0.0.0/24}   # hosts' LAN
hosts:
  - {hostname: n1, address: 10.0.0.11, roles: [openbao]}
";

#[test]
fn storage_configure_checks_the_key_creates_the_base_dataset_and_writes_only_a_reference() {
    let fake = FakeTruenas::start();
    let home = Home::new(BARE_STACK);
    std::fs::remove_file(home.dir.path().join(".foundryvars")).unwrap();
    let url = fake.url();
    let args = [
        "storage",
        "configure",
        "--url",
        &url,
        "--user",
        USER,
        "--api-key-stdin",
        "--tls-fingerprint",
        &fake.fingerprint,
        "--pool",
        "tank",
    ];
    // A wrong key: refused, nothing written.
    let out = home.foundry(&args, Some("7-notTheKeyAtAll\n"));
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("AUTH_ERR"), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(home.dir.path().join(".foundry/stack.yaml")).unwrap(),
        BARE_STACK
    );

    let out = home.foundry(&args, Some(&format!("{API_KEY}\n")));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("created dataset tank/foundry"),
        "{out:?}"
    );
    let stack = std::fs::read_to_string(home.dir.path().join(".foundry/stack.yaml")).unwrap();
    assert!(stack.starts_with("# my lab\n"), "{stack}");
    assert!(stack.contains("# hosts' LAN"), "{stack}");
    assert!(
        stack.contains("api_key: ${secret:truenas:api_key}"),
        "{stack}"
    );
    assert!(stack.contains(&fake.fingerprint), "{stack}");
    assert!(!stack.contains(API_KEY), "{stack}");
    let vars = std::fs::read_to_string(home.dir.path().join(".foundryvars")).unwrap();
    assert!(
        vars.contains(&format!("foundry-core/truenas:api_key={API_KEY}")),
        "{vars}"
    );
    assert!(fake.dataset_names().contains(&"tank/foundry".to_string()));
    assert!(!out.stdout.contains(API_KEY) && !out.stderr.contains(API_KEY));

    // Again: nothing to create, nothing to write; the written stack works for `storage test`.
    let out = home.foundry(&args, Some(&format!("{API_KEY}\n")));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("dataset tank/foundry exists"),
        "{out:?}"
    );
    assert!(out.stdout.contains("already has these settings"), "{out:?}");
    assert_eq!(fake.count("pool.dataset.create"), 1);
    let out = home.foundry(&["storage", "test"], None);
    assert_eq!(out.code, 0, "{out:?}");
}

/// The engine's side: the storage phase resolves the key through the run context's secret
/// chain (here the environment), logs in and plans.
#[test]
fn the_storage_phase_plans_through_the_run_context() {
    use foundry::component::context::{NoHosts, RunCtx, RunOptions};
    use foundry::component::phase::{HostSet, Phase};
    let fake = FakeTruenas::start();
    std::env::set_var("FOUNDRY_SECRET_FOUNDRY_CORE__TRUENAS__API_KEY", API_KEY);
    let loaded = foundry::config::load::load_str(Path::new("s.yaml"), &stack_for(&fake)).unwrap();
    let ctx = RunCtx::for_stack(
        &loaded.config,
        std::sync::Arc::new(NoHosts),
        RunOptions::quiet("foundry-core", RunLog::disabled(), true),
    )
    .unwrap();
    let phase = foundry::truenas::StoragePhase;
    assert_eq!(phase.hosts(), HostSet::Api);
    assert!(phase.should_run(&ctx));
    let steps = rt().block_on(phase.plan_api(&ctx)).unwrap();
    assert_eq!(steps.len(), 4, "{steps:?}");
    assert!(steps.iter().all(|s| s.mutates()));
    assert_eq!(
        fake.mutating_calls(),
        Vec::<String>::new(),
        "planning only reads"
    );
    assert_eq!(fake.keys(), vec![(Transport::Tls, API_KEY.to_string())]);
}

// ---- storage remove ------------------------------------------------------------------------

const REMOVE_STACK: &str = "\
# my lab: this comment stays
cluster: {name: lab, domain: lab.example.com, vip: 10.0.0.50}
network: {cidr: 10.0.0.0/24}   # hosts' LAN
hosts:
  - {hostname: n1, address: 10.0.0.11, roles: [openbao]}
storage:
  truenas:
    url: URL
    user: truenas_admin
    api_key: ${secret:truenas:api_key}
    pool: tank
    tls_fingerprint: FP
    datasets:
      # the CSI parents
      - {name: k8s/volumes, csi: volumes, quota: 10GiB, nfs: true, nfs_maproot_user: root, nfs_maproot_group: wheel}
      - name: k8s/snapshots   # a sibling, never inside volumes
        csi: snapshots
";

/// A TrueNAS converged to REMOVE_STACK (datasets, the share of k8s/volumes, NFS running) and a
/// HOME with that stack.yaml.
fn remove_setup() -> (FakeTruenas, Home, String) {
    let fake = FakeTruenas::start();
    let src = REMOVE_STACK
        .replace("URL", &fake.url())
        .replace("FP", &fake.fingerprint);
    converge(&fake, &src);
    assert_eq!(fake.share_paths(), ["/mnt/tank/k8s/volumes"]);
    fake.reset_calls();
    fake.with(|s| s.keys_received.clear());
    let home = Home::new(&src);
    (fake, home, src)
}

impl Home {
    fn stack(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(".foundry/stack.yaml")).unwrap()
    }
}

/// The run log's RPC lines: (method, mutating).
fn rpc_lines(logs: &str) -> Vec<(String, bool)> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["detail"]["method"] == "RPC" || v["method"] == "RPC")
        .map(|v| {
            let d = if v["detail"].is_object() {
                &v["detail"]
            } else {
                &v
            };
            (
                d["path"].as_str().unwrap_or_default().to_string(),
                d["mutating"].as_bool().unwrap_or(true),
            )
        })
        .collect()
}

#[test]
fn storage_remove_without_destroy_data_deletes_only_the_share_and_the_entry() {
    let (fake, home, src) = remove_setup();
    // Unknown names: refused with the configured ones, nothing contacted.
    let out = home.foundry(&["--yes", "storage", "remove", "media"], None);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("configured: k8s/volumes, k8s/snapshots"),
        "{out:?}"
    );
    // No terminal and no --yes: refused before anything is contacted.
    let out = home.foundry(&["storage", "remove", "k8s/volumes"], None);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("pass --yes"), "{out:?}");
    assert_eq!(fake.keys(), vec![], "TrueNAS was contacted");
    assert_eq!(home.stack(), src);

    let out = home.foundry(&["--yes", "storage", "remove", "k8s/volumes"], None);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(fake.mutating_calls(), ["sharing.nfs.delete"]);
    assert_eq!(fake.share_paths(), Vec::<String>::new());
    assert!(fake
        .dataset_names()
        .contains(&"tank/k8s/volumes".to_string()));
    assert!(out.stdout.contains("The data is kept"), "{out:?}");
    assert!(out.stdout.contains("--destroy-data"), "{out:?}");
    let stack = home.stack();
    assert!(!stack.contains("k8s/volumes"), "{stack}");
    assert!(
        stack.contains("name: k8s/snapshots   # a sibling"),
        "{stack}"
    );
    assert!(
        stack.starts_with("# my lab: this comment stays\n"),
        "{stack}"
    );
    assert!(stack.contains("# hosts' LAN") && stack.contains("# the CSI parents"));
    assert_eq!(
        stack,
        src.replace(
            &src.lines()
                .find(|l| l.contains("name: k8s/volumes"))
                .map(|l| format!("{l}\n"))
                .unwrap(),
            ""
        )
    );
    // Every call is in the run log, the delete as the only mutating one.
    let rpcs = rpc_lines(&home.logs());
    assert!(
        rpcs.contains(&("sharing.nfs.query".into(), false)),
        "{rpcs:?}"
    );
    let mutating: Vec<&str> = rpcs
        .iter()
        .filter(|(_, m)| *m)
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(mutating, ["sharing.nfs.delete"], "{rpcs:?}");
    // The entry is gone: the name is unknown now, and TrueNAS is not touched again.
    fake.reset_calls();
    let out = home.foundry(&["--yes", "storage", "remove", "k8s/volumes"], None);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(fake.with(|s| s.calls.len()), 0);
}

#[test]
fn storage_remove_destroy_data_needs_the_exact_full_name() {
    let (fake, home, src) = remove_setup();
    fake.add_dataset("tank/k8s/volumes/pvc-1");
    fake.add_snapshots("tank/k8s/volumes", 2);
    let base = ["storage", "remove", "k8s/volumes", "--destroy-data"];
    let with = |extra: &[&str]| -> Vec<String> {
        extra
            .iter()
            .chain(base.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        home.foundry(&a, None)
    };
    // No terminal, no --confirm: refused, and --yes does not change that.
    let out = run(with(&[]));
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("--confirm tank/k8s/volumes")
            && out.stderr.contains("--yes alone is not enough"),
        "{out:?}"
    );
    let out = run(with(&["--yes"]));
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--yes does not confirm"), "{out:?}");
    // A wrong name (the relative one is not the full name): refused.
    for wrong in ["k8s/volumes", "tank/k8s/volume", "tank/k8s/snapshots"] {
        let mut a = with(&[]);
        a.extend(["--confirm".into(), wrong.into()]);
        let out = run(a);
        assert_eq!(out.code, 2, "{wrong}: {out:?}");
        assert!(
            out.stderr.contains("is not the dataset's full name"),
            "{out:?}"
        );
    }
    assert_eq!(fake.count("pool.dataset.delete"), 0);
    assert_eq!(fake.count("sharing.nfs.delete"), 0);
    assert_eq!(fake.keys(), vec![], "TrueNAS was contacted");
    assert_eq!(home.stack(), src);

    // The right name: the share, then the dataset (with its child and snapshots), then stack.yaml.
    let mut a = with(&["--yes"]);
    a.extend(["--confirm".into(), "tank/k8s/volumes".into()]);
    let out = run(a);
    assert_eq!(out.code, 0, "{out:?}");
    for want in [
        "THIS DESTROYS DATA",
        "dataset:   tank/k8s/volumes",
        "children:  1 (tank/k8s/volumes/pvc-1)",
        "snapshots: 2",
        "destroyed dataset tank/k8s/volumes",
    ] {
        assert!(out.stdout.contains(want), "{want}: {out:?}");
    }
    assert_eq!(
        fake.mutating_calls(),
        ["sharing.nfs.delete", "pool.dataset.delete"]
    );
    let names = fake.dataset_names();
    assert!(
        !names.iter().any(|n| n.starts_with("tank/k8s/volumes")),
        "{names:?}"
    );
    assert!(names.contains(&"tank/k8s/snapshots".to_string()));
    let stack = home.stack();
    assert!(!stack.contains("k8s/volumes") && stack.contains("k8s/snapshots"));
    assert!(stack.contains("# my lab: this comment stays"));
}

#[test]
fn storage_remove_dry_run_changes_nothing() {
    let (fake, home, src) = remove_setup();
    for args in [
        &["storage", "remove", "k8s/volumes", "--dry-run"][..],
        &[
            "storage",
            "remove",
            "tank/k8s/volumes",
            "--destroy-data",
            "--dry-run",
        ][..],
    ] {
        let out = home.foundry(args, None);
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
        assert!(
            out.stdout.contains("would remove tank/k8s/volumes"),
            "{out:?}"
        );
        assert!(out.stdout.contains("delete NFS share 1"), "{out:?}");
        assert!(out.stdout.contains("dry run: nothing changed"), "{out:?}");
    }
    let out = home.foundry(
        &[
            "storage",
            "remove",
            "k8s/volumes",
            "--destroy-data",
            "--dry-run",
        ],
        None,
    );
    assert!(out.stdout.contains("THIS DESTROYS DATA"), "{out:?}");
    assert_eq!(fake.mutating_calls(), Vec::<String>::new());
    let rpcs = rpc_lines(&home.logs());
    assert!(rpcs.len() >= 6, "{rpcs:?}");
    assert!(rpcs.iter().all(|(_, m)| !m), "{rpcs:?}");
    assert_eq!(home.stack(), src);
    assert_eq!(fake.share_paths(), ["/mnt/tank/k8s/volumes"]);
}

#[test]
fn storage_remove_finishes_on_a_rerun_after_a_lost_connection() {
    // The change is made on TrueNAS, but its answer never arrives: once after the share
    // delete, once after the dataset delete.
    for method in ["sharing.nfs.delete", "pool.dataset.delete"] {
        let (fake, home, src) = remove_setup();
        fake.hooks(|h| h.drop_after_call = Some((method.into(), 1)));
        let args = [
            "storage",
            "remove",
            "k8s/volumes",
            "--destroy-data",
            "--confirm",
            "tank/k8s/volumes",
        ];
        let out = home.foundry(&args, None);
        assert_eq!(out.code, 4, "{method}: {out:?}");
        assert!(out.stderr.contains(&format!("`{method}`")), "{out:?}");
        assert!(out.stderr.contains("Run the same command again"), "{out:?}");
        assert_eq!(home.stack(), src, "stack.yaml is edited last");
        assert_eq!(
            fake.dataset_names()
                .contains(&"tank/k8s/volumes".to_string()),
            method == "sharing.nfs.delete"
        );

        let out = home.foundry(&args, None);
        assert_eq!(out.code, 0, "{method}: {out:?}");
        assert!(out.stdout.contains("none (nothing to delete)"), "{out:?}");
        assert!(!fake
            .dataset_names()
            .contains(&"tank/k8s/volumes".to_string()));
        assert_eq!(fake.share_paths(), Vec::<String>::new());
        assert!(!home.stack().contains("k8s/volumes"));
        assert_eq!(
            fake.count("pool.dataset.delete"),
            1,
            "{method}: a destroyed dataset is not deleted again"
        );
    }
}

impl Home {
    /// Run foundry on a terminal (tests/support/tty.rs) with `input` typed into it; `stdout`
    /// is the terminal's whole output.
    fn foundry_tty(&self, args: &[&str], input: &str) -> Out {
        let r = tty::run(
            args,
            self.dir.path(),
            |k| k.starts_with("FOUNDRY_") || k.starts_with("XDG_"),
            &[],
            input,
            Duration::from_secs(120),
        );
        Out {
            code: r.code,
            stdout: r.terminal,
            stderr: r.stderr,
        }
    }
}

#[test]
fn storage_remove_on_a_terminal_asks_for_the_full_name() {
    let (fake, home, src) = remove_setup();
    let args = ["storage", "remove", "k8s/volumes", "--destroy-data"];
    // `script` comes with bsdutils (Essential on Debian): missing is a broken machine, not a skip.
    let out = home.foundry_tty(&args, "k8s/volumes\n");
    // The relative name is not the full name: aborted after showing what would be lost.
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.contains("THIS DESTROYS DATA"), "{out:?}");
    assert!(out.stdout.contains("Type `tank/k8s/volumes`"), "{out:?}");
    assert!(
        out.stdout.contains("not confirmed; nothing changed"),
        "{out:?}"
    );
    assert_eq!(fake.mutating_calls(), Vec::<String>::new());
    assert_eq!(home.stack(), src);

    let out = home.foundry_tty(&args, "tank/k8s/volumes\n");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("destroyed dataset tank/k8s/volumes"),
        "{out:?}"
    );
    assert_eq!(
        fake.mutating_calls(),
        ["sharing.nfs.delete", "pool.dataset.delete"]
    );
    assert!(!home.stack().contains("k8s/volumes"));
}

/// Zot's storage is not removed from under it: the edited stack.yaml would no longer validate
/// (`components.zot.storage_dataset` names a dataset that is gone), so nothing is contacted,
/// deleted or written.
#[test]
fn storage_remove_refuses_zots_own_dataset_before_contacting_truenas() {
    let fake = FakeTruenas::start();
    let src = REMOVE_STACK
        .replace("URL", &fake.url())
        .replace("FP", &fake.fingerprint)
        .replace(
            "roles: [openbao]}\n",
            "roles: [openbao, zot]}\ncomponents:\n  zot: {storage_dataset: registry}\n",
        )
        + "      - {name: registry, nfs: true, nfs_maproot_user: root}\n";
    let home = Home::new(&src);
    let out = home.foundry(
        &[
            "storage",
            "remove",
            "registry",
            "--destroy-data",
            "--confirm",
            "tank/registry",
        ],
        None,
    );
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr
            .contains("storage_dataset `registry` is not in storage.truenas.datasets"),
        "{out:?}"
    );
    assert!(out.stderr.contains("nothing changed"), "{out:?}");
    assert_eq!(fake.keys(), vec![], "TrueNAS was contacted");
    assert_eq!(home.stack(), src);
}

/// `-o json`: one document on stdout (the dataset, the planned steps, applied or not, whether
/// stack.yaml was edited, what was done), nothing else there; a dry run applies nothing.
#[test]
fn storage_remove_speaks_json() {
    let (fake, home, src) = remove_setup();
    let out = home.foundry(
        &[
            "-o",
            "json",
            "storage",
            "remove",
            "k8s/volumes",
            "--dry-run",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    let doc: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(doc["dataset"], "tank/k8s/volumes");
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["applied"], false);
    assert!(
        doc["steps"].as_array().is_some_and(|s| !s.is_empty()),
        "{doc}"
    );
    assert_eq!(fake.mutating_calls(), Vec::<String>::new());
    assert_eq!(home.stack(), src);

    let out = home.foundry(
        &["-o", "json", "--yes", "storage", "remove", "k8s/volumes"],
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    let doc: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    assert_eq!(doc["applied"], true);
    assert_eq!(doc["stack_edited"], true);
    assert_eq!(doc["done"].as_array().map(Vec::len), Some(1), "{doc}");
    assert_eq!(fake.mutating_calls(), ["sharing.nfs.delete"]);
    assert!(!home.stack().contains("k8s/volumes"));
}
