//! OpenBao, end to end and nothing mocked:
//! - on the test bed: `foundry component install openbao` on a fresh host runs the real OpenBao
//!   image under systemd in podman, initialises and unseals it; a re-run changes nothing; a
//!   restart seals it (`stack status` says so) and `foundry openbao unseal` heals it; TLS works
//!   with a self-signed certificate;
//! - on 127.0.0.1 with the real `bao` binary (v2.7.2): a dev server for the secret store and its
//!   distinct errors, raft servers for initialise → unseal → restart → sealed → unseal.

mod support;

use foundry::component::context::{NoHosts, RunOptions};
use foundry::component::openbao::finalize;
use foundry::component::openbao::Openbao;
use foundry::component::{Component, RunCtx};
use foundry::config::StackConfig;
use foundry::openbao::bootstrap::{unseal_with, wait_ready};
use foundry::openbao::client::Client;
use foundry::openbao::{creds, secret_cmd, OpenbaoError, SecretStore};
use foundry::run::log::{RunLog, RunLogHandle};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Process-wide test environment: HOME in a temp dir (foundry's files land there) and the file
/// credential store (no keyring on a test machine). Set once, before any test touches paths.
fn env() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let d = tempfile::tempdir().unwrap().keep();
        std::env::set_var("HOME", &d);
        std::env::remove_var("FOUNDRY_HOME");
        std::env::remove_var("FOUNDRY_OPENBAO_TOKEN");
        std::env::set_var("FOUNDRY_KEYRING", "file");
        d
    })
}

/// The real `bao` binary (the test bed's copy of OpenBao 2.7.2).
fn bao_binary() -> PathBuf {
    support::bed().bao_binary()
}

use support::dev_bao::free_port;

/// A real OpenBao server process, killed (and reaped) on drop.
struct Bao {
    child: Option<Child>,
    addr: String,
    port: u16,
    cluster_port: u16,
    dir: tempfile::TempDir,
    dev_token: Option<String>,
}

impl Bao {
    /// `bao server -dev` (in memory, unsealed, KV v2 at secret/) with a known root token.
    fn dev(token: &str) -> Bao {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let child = support::dev_bao::spawn(token, port, dir.path());
        let b = Bao {
            child: Some(child),
            addr: format!("http://127.0.0.1:{port}"),
            port,
            cluster_port: 0,
            dir,
            dev_token: Some(token.to_string()),
        };
        b.wait_listening();
        b
    }

    /// A raft server like the one the component configures, on 127.0.0.1; starts uninitialised.
    fn raft() -> Bao {
        let (port, cluster_port) = (free_port(), free_port());
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let mut b = Bao {
            child: None,
            addr: format!("http://127.0.0.1:{port}"),
            port,
            cluster_port,
            dir,
            dev_token: None,
        };
        b.start();
        b
    }

    fn start(&mut self) {
        let cfg = format!(
            "storage \"raft\" {{\n  path = \"{}\"\n  node_id = \"local-bao\"\n}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{}\"\n  cluster_address = \"127.0.0.1:{}\"\n  tls_disable = true\n}}\napi_addr = \"http://127.0.0.1:{}\"\ncluster_addr = \"https://127.0.0.1:{}\"\n",
            self.dir.path().join("data").display(),
            self.port,
            self.cluster_port,
            self.port,
            self.cluster_port
        );
        let path = self.dir.path().join("config.hcl");
        std::fs::write(&path, cfg).unwrap();
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        self.child = Some(
            Command::new(bao_binary())
                .args(["server", &format!("-config={}", path.display())])
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        self.wait_listening();
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn wait_listening(&self) {
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "bao did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn client(&self, token: Option<&str>, log: RunLogHandle) -> Client {
        Client::new(&self.addr, token.map(str::to_string), log).unwrap()
    }

    fn store(&self, instance: &str) -> SecretStore {
        let c = self.client(self.dev_token.as_deref(), RunLog::disabled());
        SecretStore::with_client(c, instance)
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        self.stop();
    }
}

fn kind(e: &anyhow::Error) -> OpenbaoError {
    foundry::openbao::error::as_openbao(e)
        .unwrap_or_else(|| panic!("not an OpenBao error: {e:#}"))
        .clone()
}

fn stack_for(b: &Bao, extra: &str) -> StackConfig {
    serde_yaml::from_str(&format!(
        "cluster: {{name: lab, domain: lab.example.com, vip: 10.0.0.100}}\n\
         hosts:\n  - {{hostname: local-bao, address: 127.0.0.1, roles: [openbao]}}\n\
         components:\n  openbao: {{port: {}, cluster_port: {}, key_shares: 3, key_threshold: 2{extra}}}\n",
        b.port, b.cluster_port
    ))
    .unwrap()
}

#[tokio::test]
async fn store_round_trip_merges_keys_and_lists() {
    env();
    let b = Bao::dev("root-token-roundtrip");
    let s = b.store("inst-a");
    s.put("db", "user", "app").await.unwrap();
    s.put("db", "password", "pw-123456").await.unwrap();
    assert_eq!(s.get("db", "user").await.unwrap().as_deref(), Some("app"));
    assert_eq!(
        s.get("db", "password").await.unwrap().as_deref(),
        Some("pw-123456"),
        "a second put keeps the first key"
    );
    assert_eq!(
        secret_cmd::get(&s, "db", "password").await.unwrap(),
        "pw-123456"
    );
    let (v, fresh) = s.get_or_generate("zot", "admin", 24).await.unwrap();
    assert!(fresh && v.len() == 24 && v.chars().all(|c| c.is_ascii_alphanumeric()));
    let (again, fresh2) = s.get_or_generate("zot", "admin", 24).await.unwrap();
    assert_eq!((again.as_str(), fresh2), (v.as_str(), false));
    assert!(foundry::redact::scrub(&v).contains("***"));

    let where_ = secret_cmd::generate(&s, "hosts/node-1", "token", 16, "hex")
        .await
        .unwrap();
    assert_eq!(where_, "openbao:secret/inst-a/hosts/node-1#token");
    let e = secret_cmd::generate(&s, "hosts/node-1", "token", 16, "hex")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("exists; use --force"), "{e}");

    assert_eq!(s.list("").await.unwrap(), vec!["db", "hosts/", "zot"]);
    let all = secret_cmd::list(&s, None).await.unwrap();
    let flat: Vec<(String, Vec<String>)> = all.into_iter().map(|e| (e.path, e.keys)).collect();
    assert_eq!(
        flat,
        vec![
            ("db".into(), vec!["password".into(), "user".into()]),
            ("hosts/node-1".into(), vec!["token".into()]),
            ("zot".into(), vec!["admin".into()]),
        ]
    );
    // Instances do not see each other's secrets.
    assert!(b.store("inst-b").list("").await.unwrap().is_empty());
}

#[tokio::test]
async fn missing_path_and_missing_key_are_distinct() {
    env();
    let b = Bao::dev("root-token-missing");
    let s = b.store("inst-m");
    s.put("truenas", "api_key", "k-0000000").await.unwrap();
    assert_eq!(s.get("nothing", "x").await.unwrap(), None);
    assert_eq!(s.get("truenas", "nope").await.unwrap(), None);
    let e = secret_cmd::get(&s, "nothing", "x").await.unwrap_err();
    assert_eq!(
        foundry::error::class_of(&e),
        foundry::error::ExitClass::Config
    );
    assert!(
        e.to_string().contains("no secret at `inst-m/nothing`"),
        "{e}"
    );
    let e = s.require("truenas", "nope").await.unwrap_err();
    assert_eq!(
        kind(&e),
        OpenbaoError::MissingKey {
            path: "inst-m/truenas".into(),
            key: "nope".into(),
            existing: "api_key".into()
        }
    );
    // Deleted secrets are missing again.
    s.delete("truenas").await.unwrap();
    assert!(matches!(
        kind(&s.require("truenas", "api_key").await.unwrap_err()),
        OpenbaoError::MissingPath { .. }
    ));
}

#[tokio::test]
async fn wrong_token_is_permission_denied() {
    env();
    let b = Bao::dev("root-token-right");
    let c = b.client(Some("s.not-the-token"), RunLog::disabled());
    let s = SecretStore::with_client(c, "inst-w");
    let e = s.get("db", "user").await.unwrap_err();
    assert!(
        matches!(kind(&e), OpenbaoError::PermissionDenied { .. }),
        "{e:#}"
    );
    let e = secret_cmd::set(&s, "db", "user", "x").await.unwrap_err();
    assert_eq!(
        foundry::error::class_of(&e),
        foundry::error::ExitClass::Connection
    );
    assert!(e.to_string().contains("HTTP 403"), "{e}");
    assert!(!e.to_string().contains("s.not-the-token"), "{e}");
}

#[tokio::test]
async fn sealed_server_is_its_own_error() {
    env();
    let b = Bao::dev("root-token-seal");
    let s = b.store("inst-s");
    s.put("a", "b", "value-1").await.unwrap();
    let http = reqwest::Client::new();
    let r = http
        .put(format!("{}/v1/sys/seal", b.addr))
        .header("X-Vault-Token", "root-token-seal")
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let e = s.get("a", "b").await.unwrap_err();
    assert_eq!(
        kind(&e),
        OpenbaoError::Sealed {
            address: b.addr.clone()
        }
    );
    assert!(e.to_string().contains("foundry openbao unseal"));
}

#[tokio::test]
async fn unreachable_names_the_address_and_cause() {
    env();
    let port = free_port(); // nothing listens there
    let c = Client::new(
        &format!("http://127.0.0.1:{port}"),
        Some("tok-unreach".into()),
        RunLog::disabled(),
    )
    .unwrap();
    let e = SecretStore::with_client(c, "x")
        .get("a", "b")
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(matches!(kind(&e), OpenbaoError::Unreachable { .. }));
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
}

#[tokio::test]
async fn not_initialised_is_its_own_error() {
    env();
    let b = Bao::raft();
    let s = SecretStore::with_client(b.client(Some("tok-uninit"), RunLog::disabled()), "x");
    let e = s.get("a", "b").await.unwrap_err();
    assert!(
        matches!(kind(&e), OpenbaoError::NotInitialised { .. }),
        "{e:#}"
    );
}

/// A run context over `stack` that connects to no host: the OpenBao phases are API-only.
fn ctx(stack: StackConfig, instance: &str, log: RunLogHandle, dry_run: bool) -> Arc<RunCtx> {
    RunCtx::for_stack(
        &stack,
        Arc::new(NoHosts),
        RunOptions::quiet(instance, log, dry_run),
    )
    .unwrap()
}

/// (http lines, mutating http lines) in a run log.
/// (HTTP calls, mutating ones) in a run log; a run that called nothing wrote no file.
fn http_counts(log: Option<std::path::PathBuf>) -> (usize, usize) {
    let Some(log) = log else { return (0, 0) };
    let text = std::fs::read_to_string(log).unwrap();
    let http: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("\"kind\":\"http\""))
        .collect();
    let m = http
        .iter()
        .filter(|l| l.contains("\"mutating\":true"))
        .count();
    (http.len(), m)
}

/// The component's once-per-stack work against a real raft server: plan says what it would
/// do without writing; install initialises (credentials in the 0600 file), unseals, mounts
/// KV v2 and moves a local SSH key in; a re-run makes no mutating call; after a restart the
/// server is sealed and the stored keys unseal it with the data intact. No key or token ever
/// reaches the run log.
#[tokio::test]
async fn finalize_initialises_unseals_and_is_idempotent() {
    let home = env();
    let mut b = Bao::raft();
    let stack = stack_for(&b, "");
    let logs = tempfile::tempdir().unwrap();
    let inst = "inst-final";

    // A foundry-generated key for some host, and one that stack.yaml still references.
    let keys = home.join(".foundry/keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(
        keys.join("node-9"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAnode9\n-----END OPENSSH PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::write(keys.join("node-9.pub"), "ssh-ed25519 AAAAnode9 foundry\n").unwrap();

    // Plan: read-only.
    let log = RunLog::create(logs.path(), "plan").unwrap();
    let lines = finalize::run(&ctx(stack.clone(), inst, log.clone(), true), true)
        .await
        .unwrap();
    assert!(
        lines.iter().any(|l| l.contains("would initialise")),
        "{lines:?}"
    );
    assert_eq!(http_counts(log.path()).1, 0);
    let fresh = Client::new(&b.addr, None, RunLog::disabled()).unwrap();
    assert!(
        !fresh.init_status().await.unwrap(),
        "plan must not initialise"
    );

    // Install.
    let log = RunLog::create(logs.path(), "install").unwrap();
    let lines = finalize::run(&ctx(stack.clone(), inst, log.clone(), false), false)
        .await
        .unwrap();
    let joined = lines.join("\n");
    assert!(
        joined.contains("initialised OpenBao on local-bao"),
        "{joined}"
    );
    assert!(joined.contains("mounted KV v2 at secret/"), "{joined}");
    assert!(joined.contains("moved the SSH key of node-9"), "{joined}");
    assert!(!keys.join("node-9").exists() && !keys.join("node-9.pub").exists());
    let (c, loc) = creds::load(inst)
        .await
        .unwrap()
        .expect("credentials stored");
    assert_eq!(c.unseal_keys.len(), 3);
    let file = home.join(".foundry/openbao").join(format!("{inst}.json"));
    assert_eq!(loc, creds::Location::File(file.clone()));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (_, mutating) = http_counts(log.path());
    assert!(
        mutating >= 4,
        "init + 2 unseal + mount + writes: {mutating}"
    );

    // The store works with the stored token; the SSH key is there.
    let store = SecretStore::connect(&stack, inst, RunLog::disabled())
        .await
        .unwrap();
    let k = store.get_ssh_key("node-9").await.unwrap().unwrap();
    assert!(k.private.contains("AAAAnode9") && k.public.starts_with("ssh-ed25519"));
    store
        .put("db", "password", "survives-restart")
        .await
        .unwrap();

    // Re-run: nothing to do, nothing mutating.
    let log2 = RunLog::create(logs.path(), "rerun").unwrap();
    let lines = finalize::run(&ctx(stack.clone(), inst, log2.clone(), false), false)
        .await
        .unwrap();
    assert!(lines.is_empty(), "{lines:?}");
    let (n, m) = http_counts(log2.path());
    assert!(n > 0 && m == 0, "http {n}, mutating {m}");

    // Restart: sealed; the status row says so; the stored keys unseal it; data intact.
    b.stop();
    b.start();
    let rows = Openbao
        .stack_status(&ctx(stack.clone(), inst, RunLog::disabled(), true))
        .await;
    assert_eq!(rows.len(), 1);
    assert!(
        !rows[0].1.healthy && rows[0].1.message.contains("sealed"),
        "{:?}",
        rows[0].1
    );
    let e = store.get("db", "password").await.unwrap_err();
    assert!(matches!(kind(&e), OpenbaoError::Sealed { .. }));
    let cl = Client::new(&b.addr, None, log2.clone()).unwrap();
    assert!(unseal_with(&cl, &c.unseal_keys, false).await.unwrap());
    wait_ready(&cl, Duration::from_secs(30), false)
        .await
        .unwrap();
    assert!(
        Openbao
            .stack_status(&ctx(stack.clone(), inst, RunLog::disabled(), true))
            .await[0]
            .1
            .healthy
    );
    assert_eq!(
        store.get("db", "password").await.unwrap().as_deref(),
        Some("survives-restart")
    );

    // No run log holds the token or a key.
    for entry in std::fs::read_dir(logs.path()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains(&c.root_token));
        for k in &c.unseal_keys {
            assert!(!text.contains(k.as_str()));
        }
    }
}

/// Wrong keys are refused clearly, and a server foundry holds no keys for reports that.
#[tokio::test]
async fn unseal_with_wrong_keys_fails_clearly() {
    env();
    let b = Bao::raft();
    let c = b.client(None, RunLog::disabled());
    let init = c.init(1, 1).await.unwrap();
    assert_eq!(init.keys.len(), 1);
    let other = Bao::raft();
    let oc = other.client(None, RunLog::disabled());
    oc.init(1, 1).await.unwrap();
    let e = unseal_with(&oc, &init.keys, false).await.unwrap_err();
    assert!(
        format!("{e:#}").contains("HTTP 400") || format!("{e:#}").contains("still sealed"),
        "{e:#}"
    );
}

/// Without a usable OS keyring (here: a D-Bus address where nothing listens) the credentials
/// go to the 0600 file and foundry says so on stderr. Runs itself as a child process so the
/// environment (no FOUNDRY_KEYRING, a dead D-Bus) does not leak into the other tests.
#[tokio::test]
async fn no_keyring_falls_back_to_the_file_and_says_so() {
    if std::env::var_os("FOUNDRY_TEST_KEYRING_CHILD").is_some() {
        let c = creds::Credentials {
            root_token: "s.child-token".into(),
            unseal_keys: vec!["child-key-1".into()],
            threshold: Some(1),
            address: None,
            created: None,
        };
        let loc = creds::save("inst-kr", &c).await.unwrap();
        println!("LOCATION={loc}");
        let (back, _) = creds::load("inst-kr").await.unwrap().unwrap();
        assert!(back == c);
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "no_keyring_falls_back_to_the_file_and_says_so",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FOUNDRY_TEST_KEYRING_CHILD", "1")
        .env("HOME", home.path())
        .env_remove("FOUNDRY_HOME")
        .env_remove("FOUNDRY_KEYRING")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}/no-bus", home.path().display()),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    let file = home.path().join(".foundry/openbao/inst-kr.json");
    assert!(
        stdout.contains(&format!("LOCATION={} (mode 0600)", file.display())),
        "{stdout}"
    );
    assert!(stderr.contains("no usable OS keyring"), "{stderr}");
    assert!(!stderr.contains("s.child-token"), "{stderr}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

// ---------------------------------------------------------------------------------------------
// On the test bed: the component, through the real `foundry` binary.

use support::{bed, Sandbox, TestHost};

fn bed_stack(h: &TestHost, openbao: &str) -> String {
    format!(
        "cluster: {{name: lab, domain: lab.example.com, vip: 10.214.0.250}}\n\
         network: {{cidr: 10.214.0.0/24}}\n\
         hosts:\n  - {{hostname: {}, address: {}, roles: [openbao]}}\n\
         images: {{registry: \"{}\", insecure: true}}\n\
         components:\n  host_prep: {{enabled: false}}\n  openbao: {{key_shares: 3, key_threshold: 2{openbao}}}\n",
        h.name,
        h.ip,
        support::REGISTRY
    )
}

const FILE_KEYRING: &[(&str, &str)] = &[("FOUNDRY_KEYRING", "file")];

fn newest_log(sb: &Sandbox) -> String {
    let logs = sb.run_logs();
    let last = logs.last().expect("a run log");
    std::fs::read_to_string(last).unwrap()
}

/// (mutating exec lines, mutating http lines) of a run log.
fn mutating_counts(log: &str) -> (usize, usize) {
    let count = |kind: &str| {
        log.lines()
            .filter(|l| {
                l.contains(&format!("\"kind\":\"{kind}\"")) && l.contains("\"mutating\":true")
            })
            .count()
    };
    (count("exec"), count("http"))
}

fn stored_creds(sb: &Sandbox) -> creds::Credentials {
    let text = std::fs::read_to_string(sb.path(".foundry/openbao/foundry-core.json"))
        .expect("credentials file");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn install_initialises_unseals_and_survives_a_restart() {
    let h = bed().host("bao");
    let sb = Sandbox::new();
    sb.trust(&h);
    // The component's default image, rewritten to the bed registry, is the bed's image.
    assert_eq!(
        bed().openbao_image(),
        format!("{}/openbao/openbao:2.7.2", support::REGISTRY)
    );
    sb.write(".foundry/stack.yaml", &bed_stack(&h, ""));

    // Plan first: nothing happens on the host or the API.
    let plan = sb.foundry_env(
        &["component", "install", "openbao", "--dry-run"],
        FILE_KEYRING,
    );
    plan.ok();
    assert!(plan.stdout.contains("would initialise"), "{plan}");
    assert_eq!(mutating_counts(&newest_log(&sb)), (0, 0), "{plan}");

    let run = sb.foundry_env(&["component", "install", "openbao"], FILE_KEYRING);
    run.ok();
    assert!(
        run.stdout
            .contains("WARNING: OpenBao listens on plain HTTP"),
        "{run}"
    );
    let c = stored_creds(&sb);
    assert_eq!(c.unseal_keys.len(), 3);
    // Shown once, on stderr; never on stdout.
    assert_eq!(
        run.stderr.matches(c.root_token.as_str()).count(),
        1,
        "{run}"
    );
    for k in &c.unseal_keys {
        assert_eq!(run.stderr.matches(k.as_str()).count(), 1, "{run}");
        assert!(!run.stdout.contains(k.as_str()));
    }
    assert!(run.stderr.contains("Store the token and the keys"), "{run}");
    assert!(!run.stdout.contains(c.root_token.as_str()));
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| std::fs::metadata(sb.path(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(".foundry/openbao/foundry-core.json"), 0o600);
    assert_eq!(mode(".foundry/openbao"), 0o700);
    assert_eq!(h.ssh_ok("systemctl is-active openbao").trim(), "active");
    assert_eq!(
        h.ssh_ok("stat -c '%a %U' /var/lib/openbao /etc/openbao /etc/openbao/config.hcl"),
        "700 root\n750 root\n640 root\n"
    );

    // Re-run: zero mutating remote commands, zero mutating API calls.
    let again = sb.foundry_env(&["component", "install", "openbao"], FILE_KEYRING);
    again.ok();
    assert_eq!(mutating_counts(&newest_log(&sb)), (0, 0), "{again}");
    assert!(!again.stderr.contains("Root token"), "{again}");

    // A secret round trip through the stored token.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = format!("http://{}:8200", h.ip);
    let store = || {
        SecretStore::with_client(
            Client::new(&url, Some(c.root_token.clone()), RunLog::disabled()).unwrap(),
            "foundry-core",
        )
    };
    rt.block_on(async {
        let s = store();
        let p = secret_cmd::set(&s, "apps/db", "password", "bed-secret-1")
            .await
            .unwrap();
        assert_eq!(p, "openbao:secret/foundry-core/apps/db#password");
        assert_eq!(
            secret_cmd::get(&s, "apps/db", "password").await.unwrap(),
            "bed-secret-1"
        );
    });

    let st = sb.foundry(&["stack", "status"]);
    st.ok();
    assert!(st.stdout.contains("unsealed"), "{st}");

    // Restart: sealed, and status says so with a non-zero exit.
    h.ssh_ok("systemctl restart openbao");
    let t0 = Instant::now();
    let sealed = loop {
        let st = sb.foundry(&["stack", "status"]);
        if st.stdout.contains("sealed (health 503)") || t0.elapsed() > Duration::from_secs(60) {
            break st;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(sealed.code, 7, "{sealed}");
    assert!(sealed.stdout.contains("foundry openbao unseal"), "{sealed}");
    let e = rt.block_on(store().get("apps/db", "password")).unwrap_err();
    assert!(matches!(kind(&e), OpenbaoError::Sealed { .. }), "{e:#}");
    let bs = sb.foundry(&["openbao", "status"]);
    assert_eq!(bs.code, 7, "{bs}");

    // Unseal with the stored keys: healthy again, data intact.
    let un = sb.foundry_env(&["openbao", "unseal"], FILE_KEYRING);
    un.ok();
    assert!(un.stdout.contains("unsealed"), "{un}");
    let js = sb.foundry(&["openbao", "status", "-o", "json"]);
    js.ok();
    let v: serde_json::Value = serde_json::from_str(&js.stdout).unwrap();
    assert_eq!(v[0]["health"], 200, "{js}");
    assert_eq!(v[0]["sealed"], false, "{js}");
    assert_eq!(v[0]["version"], "2.7.2", "{js}");
    sb.foundry(&["stack", "status"]).ok();
    assert_eq!(
        rt.block_on(store().get("apps/db", "password"))
            .unwrap()
            .as_deref(),
        Some("bed-secret-1")
    );

    // Without stored keys and without a terminal, unseal fails clearly instead of prompting.
    h.ssh_ok("systemctl restart openbao");
    std::fs::rename(
        sb.path(".foundry/openbao/foundry-core.json"),
        sb.path("creds.json"),
    )
    .unwrap();
    let t0 = Instant::now();
    while sb.foundry(&["openbao", "status"]).code != 7 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(500));
    }
    let no = sb.foundry_env(&["openbao", "unseal", "--yes"], FILE_KEYRING);
    assert_eq!(no.code, 4, "{no}");
    assert!(no.stderr.contains("no unseal keys"), "{no}");
    std::fs::rename(
        sb.path("creds.json"),
        sb.path(".foundry/openbao/foundry-core.json"),
    )
    .unwrap();
    sb.foundry_env(&["openbao", "unseal"], FILE_KEYRING).ok();

    // Uninstall removes the service and keeps the data.
    sb.foundry(&["component", "uninstall", "openbao", "--yes"])
        .ok();
    assert_ne!(h.ssh("systemctl is-active openbao").status.code(), Some(0));
    assert_eq!(
        h.ssh_ok("test -e /etc/systemd/system/openbao.service || echo gone; ls /var/lib/openbao"),
        "gone\nraft\nvault.db\n"
    );

    // The token and the keys are in no run log.
    for log in sb.run_logs() {
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(!text.contains(c.root_token.as_str()), "{}", log.display());
        for k in &c.unseal_keys {
            assert!(!text.contains(k.as_str()), "{}", log.display());
        }
    }
}

/// With tls_cert/tls_key the listener serves HTTPS with that certificate; foundry trusts a
/// self-signed one through FOUNDRY_OPENBAO_CACERT and initialises over TLS.
#[test]
fn install_with_tls() {
    let h = bed().host("baotls");
    let sb = Sandbox::new();
    sb.trust(&h);
    // A private CA and a server certificate it signed for the host's IP.
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-days",
                "2",
                "-subj",
                "/CN=test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-subj",
                "/CN=openbao",
                "-keyout",
                "tls.key",
                "-out",
                "tls.csr",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        p("ext.cnf"),
        format!(
            "subjectAltName=IP:{}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
            h.ip
        ),
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "tls.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "tls.crt",
    ]);
    let (crt, key) = (p("tls.crt"), p("tls.key"));
    for (src, dst, mode) in [
        (&crt, "/etc/bao-tls/tls.crt", "644"),
        (&key, "/etc/bao-tls/tls.key", "600"),
    ] {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(src).unwrap());
        h.ssh_ok(&format!(
            "mkdir -p /etc/bao-tls && echo {b64} | base64 -d > {dst} && chmod {mode} {dst}"
        ));
    }
    sb.write(
        ".foundry/stack.yaml",
        &bed_stack(
            &h,
            ", tls_cert: /etc/bao-tls/tls.crt, tls_key: /etc/bao-tls/tls.key",
        ),
    );
    let cacert = p("ca.crt").display().to_string();
    let env = [
        ("FOUNDRY_KEYRING", "file"),
        ("FOUNDRY_OPENBAO_CACERT", cacert.as_str()),
    ];
    let run = sb.foundry_env(&["component", "install", "openbao"], &env);
    run.ok();
    assert!(
        !run.stderr.contains("plain HTTP") && !run.stdout.contains("plain HTTP"),
        "{run}"
    );
    assert!(
        run.stderr.contains(&format!("https://{}:8200", h.ip)),
        "{run}"
    );
    let js = sb.foundry_env(&["openbao", "status", "-o", "json"], &env);
    js.ok();
    assert!(js.stdout.contains("\"health\": 200"), "{js}");
    // Without trusting the certificate the connection is refused, naming the cause.
    let bad = sb.foundry(&["openbao", "status"]);
    assert_eq!(bad.code, 4, "{bad}");
    assert!(bad.stdout.to_lowercase().contains("certificate"), "{bad}");
}

/// Two OpenBao hosts form one raft cluster: the second joins the first (`retry_join`), both are
/// unsealed with the same keys, one is active and the other a standby; a re-run changes nothing.
#[test]
fn two_hosts_form_one_raft_cluster() {
    let (a, b) = (bed().host("baoa"), bed().host("baob"));
    let sb = Sandbox::new();
    sb.trust(&a);
    sb.trust(&b);
    let yaml = bed_stack(&a, "").replace(
        "roles: [openbao]}\n",
        &format!(
            "roles: [openbao]}}\n  - {{hostname: {}, address: {}, roles: [openbao]}}\n",
            b.name, b.ip
        ),
    );
    sb.write(".foundry/stack.yaml", &yaml);
    let run = sb.foundry_env(&["component", "install", "openbao"], FILE_KEYRING);
    run.ok();
    let js = sb.foundry(&["openbao", "status", "-o", "json"]);
    js.ok();
    let v: serde_json::Value = serde_json::from_str(&js.stdout).unwrap();
    let codes: Vec<u64> = (0..2).map(|i| v[i]["health"].as_u64().unwrap()).collect();
    assert_eq!(codes, vec![200, 429], "{js}");
    assert_eq!(v[1]["initialized"], true, "{js}");
    let again = sb.foundry_env(&["component", "install", "openbao"], FILE_KEYRING);
    again.ok();
    assert_eq!(mutating_counts(&newest_log(&sb)), (0, 0), "{again}");
    // Both restart (sealed): unseal brings the cluster back (it needs both for a quorum).
    a.ssh_ok("systemctl restart openbao");
    b.ssh_ok("systemctl restart openbao");
    let t0 = Instant::now();
    while sb.foundry(&["openbao", "status"]).code != 7 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(500));
    }
    let un = sb.foundry_env(&["openbao", "unseal"], FILE_KEYRING);
    un.ok();
    assert_eq!(un.stdout.matches(": unsealed").count(), 2, "{un}");
    sb.foundry(&["openbao", "status"]).ok();
    // One cluster: a secret written through the active node is readable through the standby
    // (standbys forward requests to the active node).
    let c = stored_creds(&sb);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let via = |ip: &str| {
            SecretStore::with_client(
                Client::new(
                    &format!("http://{ip}:8200"),
                    Some(c.root_token.clone()),
                    RunLog::disabled(),
                )
                .unwrap(),
                "foundry-core",
            )
        };
        via(&a.ip)
            .put("shared", "k", "cluster-value")
            .await
            .unwrap();
        // Replication to the other node is asynchronous right after both restarted: allow it
        // a few seconds, but the value must arrive through the other node.
        let t0 = Instant::now();
        let mut seen = None;
        while t0.elapsed() < Duration::from_secs(15) {
            seen = via(&b.ip).get("shared", "k").await.unwrap();
            if seen.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        assert_eq!(seen.as_deref(), Some("cluster-value"));
    });
}

/// The resolver chain's OpenBao backend: a stored secret resolves, a missing one is a miss the
/// chain reports (naming where it looked), a sealed server is a backend error (no fallback).
#[tokio::test]
async fn resolver_backend_hits_misses_and_fails() {
    use foundry::openbao::resolver::{LazyStore, OpenbaoResolver};
    use foundry::secrets::{Chain, ResolveError, SecretRef};
    env();
    let b = Bao::dev("root-token-resolver");
    b.store("inst-r")
        .put("truenas", "api_key", "resolved-value-1")
        .await
        .unwrap();
    let mut chain = Chain::empty();
    chain.push(Box::new(OpenbaoResolver::new(LazyStore::opened(
        b.store("inst-r"),
    ))));
    let hit = SecretRef::new("truenas", "api_key").unwrap();
    assert_eq!(
        chain.resolve("inst-r", &hit).await.unwrap(),
        "resolved-value-1"
    );
    let miss = SecretRef::new("truenas", "other").unwrap();
    match chain.resolve("inst-r", &miss).await.unwrap_err() {
        ResolveError::NotFound { tried, .. } => {
            assert!(
                tried[0].contains("openbao") && tried[0].contains("secret/inst-r/truenas"),
                "{tried:?}"
            )
        }
        e => panic!("expected a miss: {e}"),
    }
    reqwest::Client::new()
        .put(format!("{}/v1/sys/seal", b.addr))
        .header("X-Vault-Token", "root-token-resolver")
        .send()
        .await
        .unwrap();
    let other = SecretRef::new("zot", "admin").unwrap();
    match chain.resolve("inst-r", &other).await.unwrap_err() {
        ResolveError::Backend {
            backend, message, ..
        } => {
            assert_eq!(backend, "openbao");
            assert!(message.contains("sealed"), "{message}");
        }
        e => panic!("expected a backend error: {e}"),
    }
}

/// `foundry openbao unseal` without stored keys asks for them on a terminal (a real pty made by
/// util-linux `script`), with the input hidden, and unseals; the server is a local raft server
/// initialised by the test, so foundry never saw its keys.
#[tokio::test]
async fn unseal_prompts_for_keys_on_a_terminal() {
    env();
    let b = Bao::raft();
    let init = b.client(None, RunLog::disabled()).init(3, 2).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".foundry")).unwrap();
    std::fs::write(
        home.path().join(".foundry/stack.yaml"),
        serde_yaml::to_string(&stack_for(&b, "")).unwrap(),
    )
    .unwrap();
    let foundry = env!("CARGO_BIN_EXE_foundry");
    let mut child = Command::new("script")
        .args(["-qec", &format!("{foundry} openbao unseal"), "/dev/null"])
        .env("HOME", home.path())
        .env("FOUNDRY_KEYRING", "file")
        .env_remove("FOUNDRY_HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        // Wait for the prompt before typing, as a person would (the pty drops early input).
        std::thread::sleep(Duration::from_secs(2));
        writeln!(stdin, "{}", init.keys[2]).unwrap();
        std::thread::sleep(Duration::from_millis(500));
        writeln!(stdin, "{}", init.keys[0]).unwrap();
        std::thread::sleep(Duration::from_secs(3));
    }
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("unseal key 1/2"), "{text}");
    assert!(text.contains("local-bao (http://127.0.0.1:"), "{text}");
    assert!(
        !text.contains(init.keys[2].as_str()),
        "typed key echoed: {text}"
    );
    let st = b
        .client(None, RunLog::disabled())
        .seal_status()
        .await
        .unwrap();
    assert!(!st.sealed);
}

/// A `${secret:...}` in stack.yaml resolves from OpenBao (stored there with `foundry secret set`,
/// whose default backend is OpenBao once it runs) when a later component renders a file with
/// it: the file on the host holds the value; no output and no run log does.
#[test]
fn a_reference_resolves_from_openbao_in_a_later_component_and_is_never_shown() {
    let h = bed().host("ref");
    bed().busybox_image();
    let sb = Sandbox::new();
    sb.trust(&h);
    sb.write(".foundry/stack.yaml", &bed_stack(&h, ""));
    sb.foundry_env(&["component", "install", "openbao"], FILE_KEYRING)
        .ok();

    let value = "db-pw-7Qx9Lm2Zr4Tt";
    let set = sb.foundry_env(
        &["secret", "set", "app/db", "password", value],
        FILE_KEYRING,
    );
    set.ok();
    assert!(
        set.stdout.contains("openbao:secret/foundry-core/app/db"),
        "{set}"
    );
    assert!(!std::fs::read_to_string(sb.path(".foundryvars"))
        .unwrap_or_default()
        .contains(value));
    // `secret list` says where it is: OpenBao's address and KV path, not the vars file
    let list = sb.foundry_env(&["secret", "list"], FILE_KEYRING);
    list.ok();
    let row = list
        .stdout
        .lines()
        .find(|l| l.contains("app/db") && l.contains("password"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        row.contains(&format!(
            "openbao (http://{}:8200 secret/foundry-core/app/db)",
            h.ip
        )),
        "{list}"
    );
    assert!(!row.contains(".foundryvars"), "{list}");
    assert!(!list.stdout.contains(value), "{list}");

    let with_service = bed_stack(&h, "")
        + "  services:\n\
           \x20   - name: app\n\
           \x20     image: library/busybox:stable\n\
           \x20     role: openbao\n\
           \x20     args: [sleep, \"100000\"]\n\
           \x20     files: {/etc/app/db.conf: \"password=${secret:app/db:password}\\n\"}\n";
    sb.write(".foundry/stack.yaml", &with_service);
    let plan = sb.foundry_env(&["stack", "plan"], FILE_KEYRING);
    plan.ok();
    assert!(
        plan.stdout.contains("+password=***"),
        "the diff is shown, masked:\n{plan}"
    );
    let install = sb.foundry_env(&["stack", "install"], FILE_KEYRING);
    install.ok();
    assert_eq!(
        h.ssh_ok("cat /etc/app/db.conf"),
        format!("password={value}\n")
    );

    let mut seen = format!("{plan}{install}");
    for l in sb.run_logs() {
        seen.push_str(&std::fs::read_to_string(l).unwrap());
    }
    assert!(
        !seen.contains(value),
        "the resolved value leaked into output or a run log"
    );
}

/// Once the stack has OpenBao, `host add --bootstrap-password` keeps the generated key there
/// (`<instance>/ssh-keys/<host>`) instead of a file, points `ssh_key` at it with a reference,
/// and later runs log in with the key read from OpenBao.
#[test]
fn host_add_keeps_the_new_key_in_openbao() {
    let bao = bed().host("hk");
    let newcomer = bed().host("hk");
    let sb = Sandbox::new();
    sb.trust(&bao);
    sb.trust(&newcomer);
    sb.write(".foundry/stack.yaml", &bed_stack(&bao, ""));
    sb.foundry_env(&["component", "install", "openbao"], FILE_KEYRING)
        .ok();

    let add = sb.foundry_env(
        &[
            "host",
            "add",
            "nc",
            "--address",
            &newcomer.ip,
            "--user",
            "carol",
            "--roles",
            "cluster-worker",
            "--bootstrap-password",
            "carol-login-pw",
        ],
        FILE_KEYRING,
    );
    add.ok();
    assert!(
        add.stderr
            .contains("kept in OpenBao foundry-core/ssh-keys/nc"),
        "{add}"
    );
    assert!(
        !sb.path(".foundry/keys/nc").exists(),
        "no local key file once OpenBao exists"
    );
    let stack = std::fs::read_to_string(sb.path(".foundry/stack.yaml")).unwrap();
    assert!(stack.contains("${secret:ssh-keys/nc:private}"), "{stack}");

    // A later command logs in with the key from OpenBao (carol has no sudo: the row says so,
    // after a successful login).
    let t = sb.foundry_env(&["host", "test", "nc", "-o", "json"], FILE_KEYRING);
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&t.stdout).unwrap_or_else(|e| panic!("{e}: {t}"));
    let err = rows[0]["error"].as_str().unwrap_or_default().to_string();
    assert!(
        err.contains("sudo") && err.contains("carol"),
        "logged in, then sudo refused: {t}"
    );
    let mut seen = format!("{add}{t}");
    for l in sb.run_logs() {
        seen.push_str(&std::fs::read_to_string(l).unwrap());
    }
    assert!(
        !seen.contains("BEGIN OPENSSH PRIVATE KEY"),
        "the private key leaked"
    );

    // OpenBao sealed while a host's `ssh_key` lives in it: the commands that do not need that
    // key still work — `openbao status` reports sealed (7, not a configuration error), `openbao
    // unseal` unseals with the stored keys, the offline plan needs nothing — and then the key
    // resolves again.
    bao.ssh_ok("systemctl restart openbao");
    let t0 = Instant::now();
    let st = loop {
        let st = sb.foundry(&["openbao", "status"]);
        if st.code == 7 || t0.elapsed() > Duration::from_secs(60) {
            break st;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(st.code, 7, "sealed, and said so: {st}");
    assert!(
        st.stdout.contains("sealed") || st.stdout.contains("true"),
        "{st}"
    );
    let plan = sb.foundry(&["stack", "plan", "--offline"]);
    plan.ok();
    let un = sb.foundry_env(&["openbao", "unseal"], FILE_KEYRING);
    un.ok();
    assert!(un.stdout.contains("unsealed"), "{un}");
    let t = sb.foundry_env(&["host", "test", "nc", "-o", "json"], FILE_KEYRING);
    assert!(
        t.stdout.contains("carol"),
        "the key from OpenBao logs in again after unseal: {t}"
    );
}
