//! OpenBao: the client, the typed secret store, init/unseal and their errors against REAL
//! OpenBao servers (the `bao` binary, v2.7.2) run on 127.0.0.1 by these tests — a dev server
//! for the store and error cases, a raft server (the same storage the component configures) for
//! initialise → unseal → restart → sealed → unseal. Nothing is mocked.

use foundry::component::openbao::Openbao;
use foundry::component::{Component, StackCtx};
use foundry::config::StackConfig;
use foundry::openbao::bootstrap::{unseal_with, wait_ready};
use foundry::openbao::client::Client;
use foundry::openbao::{creds, secret_cmd, OpenbaoError, SecretStore};
use foundry::run::log::{RunLog, RunLogHandle};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

/// Process-wide test environment: HOME in a temp dir (foundry's files land there) and the file
/// credential store (no keyring on a test machine). Set once, before any test touches paths.
fn env() -> &'static Path {
    static ONCE: Once = Once::new();
    static mut HOME: Option<PathBuf> = None;
    ONCE.call_once(|| {
        let d = tempfile::tempdir().unwrap().keep();
        std::env::set_var("HOME", &d);
        std::env::remove_var("FOUNDRY_HOME");
        std::env::remove_var("FOUNDRY_OPENBAO_TOKEN");
        std::env::set_var("FOUNDRY_KEYRING", "file");
        unsafe { HOME = Some(d) };
    });
    #[allow(static_mut_refs)]
    unsafe {
        HOME.as_deref().unwrap()
    }
}

/// The real `bao` binary: FOUNDRY_TEST_BAO, else the test bed's copy.
fn bao_binary() -> PathBuf {
    let p = std::env::var_os("FOUNDRY_TEST_BAO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/foundry-bed/bin/bao"));
    assert!(
        p.exists(),
        "{} missing: run `tests/bed/bed.sh image-openbao` or set FOUNDRY_TEST_BAO",
        p.display()
    );
    p
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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
        let child = Command::new(bao_binary())
            .args([
                "server",
                "-dev",
                "-dev-no-store-token",
                &format!("-dev-root-token-id={token}"),
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .env("HOME", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
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
    assert!(foundry::secrets::redact::scrub(&v).contains("***"));

    let where_ = secret_cmd::generate(&s, "hosts/node-1", "token", 16, "hex")
        .await
        .unwrap();
    assert_eq!(where_, "openbao:secret/inst-a/hosts/node-1#token");
    let e = secret_cmd::generate(&s, "hosts/node-1", "token", 16, "hex")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already has a value"), "{e}");

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

fn ctx(stack: StackConfig, instance: &str, log: RunLogHandle, dry_run: bool) -> StackCtx {
    StackCtx {
        stack: Arc::new(stack),
        instance: instance.to_string(),
        hosts: vec![],
        dry_run,
        log,
        assume_yes: true,
    }
}

/// (http lines, mutating http lines) in a run log.
fn http_counts(log: &Path) -> (usize, usize) {
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
    let lines = Openbao
        .finalize(&ctx(stack.clone(), inst, log.clone(), true))
        .await
        .unwrap();
    assert!(
        lines.iter().any(|l| l.contains("would initialise")),
        "{lines:?}"
    );
    assert_eq!(http_counts(log.path().unwrap()).1, 0);
    let fresh = Client::new(&b.addr, None, RunLog::disabled()).unwrap();
    assert!(
        !fresh.init_status().await.unwrap(),
        "plan must not initialise"
    );

    // Install.
    let log = RunLog::create(logs.path(), "install").unwrap();
    let lines = Openbao
        .finalize(&ctx(stack.clone(), inst, log.clone(), false))
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
    let (_, mutating) = http_counts(log.path().unwrap());
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
    let lines = Openbao
        .finalize(&ctx(stack.clone(), inst, log2.clone(), false))
        .await
        .unwrap();
    assert!(lines.is_empty(), "{lines:?}");
    let (n, m) = http_counts(log2.path().unwrap());
    assert!(n > 0 && m == 0, "http {n}, mutating {m}");

    // Restart: sealed; the status row says so; the stored keys unseal it; data intact.
    b.stop();
    b.start();
    let rows = Openbao.stack_status(&stack, inst).await;
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
    assert!(Openbao.stack_status(&stack, inst).await[0].1.healthy);
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
    assert!(stdout.contains(&format!("LOCATION={} (mode 0600)", file.display())), "{stdout}");
    assert!(stderr.contains("no usable OS keyring"), "{stderr}");
    assert!(!stderr.contains("s.child-token"), "{stderr}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
}
