//! A **fake (mock) TrueNAS** middleware for tests: no TrueNAS can run on this machine. It
//! listens on 127.0.0.1 with TLS (a throw-away CA and a leaf certificate for `127.0.0.1` and
//! `localhost`, made with rcgen), serves `GET /api/versions` and JSON-RPC 2.0 over a WebSocket
//! at `/api/current`, and answers the way the real middleware does as documented in
//! `/work/shared/reference/api-behaviour.md` Part B (read from truenas/middleware):
//!
//! - one JSON-RPC object per text frame; batches are -32700; no `id`: no answer at all;
//! - -32601 `Method does not exist`; every validation error is -32602 with `data.error` 22
//!   and the real errno only in `data.extra`; `get: true` without a match is -32001
//!   `MatchNotFound()`; a call before login is -32001 `[ENOTAUTHENTICATED] Not authenticated`;
//! - `auth.login_ex` never errors on bad credentials: `response_type` AUTH_ERR / EXPIRED / …;
//!   an API key that arrives over plain `ws://` is **revoked** (EXPIRED now, AUTH_ERR later),
//!   as the real server does for a non-loopback peer;
//! - property objects `{parsed, rawvalue, value, source, source_info}` on datasets;
//!   `pool.dataset.delete` also removes the NFS shares under the dataset's path;
//! - `service.control` is a job: it returns a job id, `core.get_jobs` reports its state.
//!
//! Plain TCP on the same port (anything that does not start a TLS handshake) is served as the
//! real server's plain HTTP would be, and recorded, so a test can prove that foundry sent
//! nothing there. Test hooks: drop the connection after the N-th `pool.dataset.create` (or the
//! N-th call of any method), answer a method slowly, force a login `response_type`, change the
//! version list; calls are counted by method. Snapshots are only counted
//! (`pool.dataset.snapshot_count`); they block a non-recursive `pool.dataset.delete`.

#![allow(dead_code)]

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The API key the fake accepts (`<id>-<secret>`, as TrueNAS makes them).
pub const API_KEY: &str = "7-fakeKeyForTheMockTrueNASdoNotUse0123456789";
/// Its owner.
pub const USER: &str = "truenas_admin";
/// What a TrueNAS 26 beta serves (api-behaviour.md B.6).
pub const VERSIONS_26: &[&str] = &[
    "v25.04.0", "v25.04.1", "v25.04.2", "v25.10.0", "v25.10.1", "v25.10.2", "v25.10.3", "v25.10.4",
    "v26.0.0",
];

const GIB: u64 = 1 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tls,
    Plain,
}

/// Knobs a test turns before or while foundry talks to the fake.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// Close the connection (no answer) right after applying the N-th `pool.dataset.create`.
    pub drop_after_create: Option<usize>,
    /// Close the connection (no answer) right after applying the N-th successful call of this
    /// method (e.g. `sharing.nfs.delete`): the change is made, its answer is lost.
    pub drop_after_call: Option<(String, usize)>,
    /// Answer this method only after the delay.
    pub slow: Option<(String, Duration)>,
    /// Answer every `auth.login_ex` with this result instead of checking the key.
    pub login_result: Option<Value>,
    /// Override `GET /api/versions`.
    pub versions: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
struct FakeDataset {
    quota: u64,
    compression: String,
    comments: String,
    used: u64,
}

#[derive(Debug, Default)]
pub struct State {
    pub hooks: Hooks,
    datasets: BTreeMap<String, FakeDataset>,
    /// Snapshot count per dataset (only counted: foundry never lists or makes snapshots).
    snapshots: BTreeMap<String, u64>,
    pub shares: Vec<Value>,
    next_share_id: i64,
    pub nfs_enable: bool,
    pub nfs_running: bool,
    jobs: HashMap<i64, Value>,
    next_job_id: i64,
    creates: usize,
    /// Successful calls per method, for `drop_after_call`.
    succeeded: HashMap<String, usize>,
    revoked: bool,
    /// Every method called, in order (also unknown ones and calls before login).
    pub calls: Vec<String>,
    /// Every API key that arrived in an `auth.login_ex`, with the transport it came over.
    pub keys_received: Vec<(Transport, String)>,
    /// TCP connections that did not start with a TLS handshake.
    pub plain_connections: usize,
}

pub struct FakeTruenas {
    pub port: u16,
    /// PEM of the CA that signed the server's certificate (for `ca_file`).
    pub ca_pem: String,
    /// `sha256:AB:…` of the leaf certificate (for `tls_fingerprint`).
    pub fingerprint: String,
    pub state: Arc<Mutex<State>>,
    _rt: tokio::runtime::Runtime,
}

impl FakeTruenas {
    /// Start the fake with pool `tank` (1 TiB) and the NFS service stopped and disabled.
    pub fn start() -> FakeTruenas {
        let (ca_pem, leaf_der, key_der) = certificates();
        let fingerprint = foundry::truenas::fingerprint(&leaf_der);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf_der.into()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key_der.into()),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        let mut st = State {
            next_share_id: 1,
            next_job_id: 100,
            ..Default::default()
        };
        st.datasets.insert("tank".into(), fake_dataset("", 0));
        let state = Arc::new(Mutex::new(st));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        let s = state.clone();
        rt.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                // Like the middleware's aiohttp server (TCP_NODELAY on): without it Nagle
                // delays a reply's second TLS record by the client's delayed ACK (~40 ms).
                tcp.set_nodelay(true).ok();
                let (s, acceptor) = (s.clone(), acceptor.clone());
                tokio::spawn(async move { serve(tcp, acceptor, s).await });
            }
        });
        FakeTruenas {
            port,
            ca_pem,
            fingerprint,
            state,
            _rt: rt,
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    pub fn hooks(&self, f: impl FnOnce(&mut Hooks)) {
        f(&mut self.state.lock().unwrap().hooks)
    }

    /// Names of the datasets that exist, pool root included.
    pub fn dataset_names(&self) -> Vec<String> {
        self.with(|s| s.datasets.keys().cloned().collect())
    }

    /// How often `method` was called.
    pub fn count(&self, method: &str) -> usize {
        self.with(|s| s.calls.iter().filter(|m| *m == method).count())
    }

    /// Calls that change something (create/update/delete, service update/control).
    pub fn mutating_calls(&self) -> Vec<String> {
        self.with(|s| {
            s.calls
                .iter()
                .filter(|m| {
                    [".create", ".update", ".delete", ".control"]
                        .iter()
                        .any(|x| m.ends_with(x))
                })
                .cloned()
                .collect()
        })
    }

    pub fn reset_calls(&self) {
        self.with(|s| s.calls.clear())
    }

    /// Did any API key arrive over a plain (non-TLS) connection, or at all?
    pub fn keys(&self) -> Vec<(Transport, String)> {
        self.with(|s| s.keys_received.clone())
    }
}

/// A CA, and a leaf for 127.0.0.1/localhost signed by it: (CA PEM, leaf DER, leaf key PKCS#8).
fn certificates() -> (String, Vec<u8>, Vec<u8>) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "fake TrueNAS test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate().unwrap()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (ca.pem(), leaf.der().to_vec(), key.serialize_der())
}

fn fake_dataset(comments: &str, quota: u64) -> FakeDataset {
    FakeDataset {
        quota,
        compression: "lz4".into(),
        comments: comments.into(),
        used: 98304,
    }
}

// ---- transport -----------------------------------------------------------------------------

async fn serve(tcp: TcpStream, acceptor: tokio_rustls::TlsAcceptor, state: Arc<Mutex<State>>) {
    let mut first = [0u8; 1];
    if tcp.peek(&mut first).await.unwrap_or(0) == 0 {
        return;
    }
    if first[0] == 0x16 {
        if let Ok(tls) = acceptor.accept(tcp).await {
            http(tls, Transport::Tls, state).await;
        }
    } else {
        state.lock().unwrap().plain_connections += 1;
        http(tcp, Transport::Plain, state).await;
    }
}

/// Read one HTTP request head; serve `/api/versions`, or upgrade `/api/current` to a WebSocket.
async fn http<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    mut s: S,
    transport: Transport,
    state: Arc<Mutex<State>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 16384 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let mut lines = text.split("\r\n");
    let request = lines.next().unwrap_or_default().to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let path = request.split(' ').nth(1).unwrap_or("/").to_string();
    let upgrade = headers
        .get("upgrade")
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        let (status, body) = if path == "/api/versions" {
            let versions = state
                .lock()
                .unwrap()
                .hooks
                .versions
                .clone()
                .unwrap_or_else(|| VERSIONS_26.iter().map(|s| s.to_string()).collect());
            ("200 OK", serde_json::to_string(&versions).unwrap())
        } else {
            ("404 Not Found", "{\"message\":\"not found\"}".to_string())
        };
        let resp = format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        let _ = s.write_all(resp.as_bytes()).await;
        let _ = s.shutdown().await;
        return;
    }
    if !(path == "/api/current" || path.starts_with("/api/v")) {
        let _ = s
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
        return;
    }
    let Some(key) = headers.get("sec-websocket-key") else {
        return;
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let resp = format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n");
    if s.write_all(resp.as_bytes()).await.is_err() {
        return;
    }
    let ws = WebSocketStream::from_raw_socket(s, Role::Server, None).await;
    session(ws, transport, state).await;
}

/// One WebSocket session. Requests are handled in order; a slow answer is sent later from its
/// own task, so later calls are not held up (the real middleware runs calls concurrently).
async fn session<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    ws: WebSocketStream<S>,
    transport: Transport,
    state: Arc<Mutex<State>>,
) {
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Message>();
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if sink.send(m).await.is_err() {
                break;
            }
        }
    });
    let mut logged_in = false;
    while let Some(Ok(msg)) = stream.next().await {
        let text = match msg {
            Message::Text(t) => t.to_string(),
            Message::Binary(_) => {
                let _ = tx.send(Message::Close(None));
                break;
            }
            Message::Close(_) => break,
            _ => continue,
        };
        let (reply, delay, drop_now) = {
            let mut st = state.lock().unwrap();
            let out = handle(&mut st, &text, transport, &mut logged_in);
            let delay = match (&st.hooks.slow, &out.method) {
                (Some((m, d)), Some(called)) if m == called => Some(*d),
                _ => None,
            };
            (out.reply, delay, out.drop_connection)
        };
        if drop_now {
            // The TCP connection goes away with no answer and no close frame.
            writer.abort();
            return;
        }
        let Some(r) = reply else { continue };
        let m = Message::text(r.to_string());
        match delay {
            Some(d) => {
                let tx = tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(d).await;
                    let _ = tx.send(m);
                });
            }
            None => {
                let _ = tx.send(m);
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}

// ---- JSON-RPC ------------------------------------------------------------------------------

struct Outcome {
    reply: Option<Value>,
    method: Option<String>,
    drop_connection: bool,
}

fn error_reply(id: &Value, error: Value) -> Value {
    json!({"jsonrpc": "2.0", "error": error, "id": id})
}

/// -32602 for one validation error: `data.error` is always EINVAL, the errno is in `extra`.
fn validation(attr: &str, msg: &str, errno: i64) -> Value {
    let name = errname(errno);
    json!({"code": -32602, "message": "Invalid params", "data": {
        "error": 22, "errname": "EINVAL", "reason": format!("[{name}] {attr}: {msg}\n"),
        "trace": null, "extra": [[attr, msg, errno]]}})
}

/// `InstanceNotFound`: a ValidationError with attribute None.
fn instance_not_found(msg: &str) -> Value {
    json!({"code": -32602, "message": "Invalid params", "data": {
        "error": 22, "errname": "EINVAL", "reason": format!("[ENOENT] None: {msg}"),
        "trace": null, "extra": [[null, msg, 2]]}})
}

fn call_error(errno: i64, msg: &str) -> Value {
    let name = errname(errno);
    json!({"code": -32001, "message": "Method call error", "data": {
        "error": errno, "errname": name, "reason": format!("[{name}] {msg}"),
        "trace": {"class": "CallError", "formatted": "", "repr": ""}, "extra": null}})
}

fn match_not_found() -> Value {
    json!({"code": -32001, "message": "Method call error", "data": {
        "error": 22, "errname": "EINVAL", "reason": "MatchNotFound()",
        "trace": {"class": "MatchNotFound", "formatted": "", "repr": "MatchNotFound()"}, "extra": null}})
}

fn errname(errno: i64) -> &'static str {
    match errno {
        2 => "ENOENT",
        13 => "EACCES",
        16 => "EBUSY",
        17 => "EEXIST",
        22 => "EINVAL",
        39 => "ENOTEMPTY",
        207 => "ENOTAUTHENTICATED",
        _ => "EUNKNOWN",
    }
}

fn handle(st: &mut State, text: &str, transport: Transport, logged_in: &mut bool) -> Outcome {
    let none = |reply| Outcome {
        reply,
        method: None,
        drop_connection: false,
    };
    let req: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return none(Some(error_reply(
                &Value::Null,
                json!({"code": -32700, "message": e.to_string()}),
            )))
        }
    };
    if req.is_array() {
        return none(Some(error_reply(
            &Value::Null,
            json!({"code": -32700, "message": "Batch messages are not supported at this time"}),
        )));
    }
    let Some(id) = req.get("id").cloned() else {
        return none(None); // a notification: never answered
    };
    if req.get("jsonrpc") != Some(&json!("2.0")) {
        return none(Some(error_reply(
            &id,
            json!({"code": -32600, "message": "Missing 'jsonrpc' member"}),
        )));
    }
    let Some(method) = req
        .get("method")
        .and_then(|m| m.as_str())
        .map(str::to_string)
    else {
        return none(Some(error_reply(
            &id,
            json!({"code": -32600, "message": "Missing 'method' member"}),
        )));
    };
    let params = req.get("params").cloned().unwrap_or(json!([]));
    if !params.is_array() {
        return none(Some(error_reply(
            &id,
            json!({"code": -32600, "message": "'params' member must be of type array"}),
        )));
    }
    st.calls.push(method.clone());
    let p = params.as_array().cloned().unwrap_or_default();
    let result = if method == "auth.login_ex" {
        login(st, &p, transport, logged_in)
    } else if method == "core.ping" {
        Ok(json!("pong"))
    } else if !KNOWN_METHODS.contains(&method.as_str()) {
        Err(json!({"code": -32601, "message": "Method does not exist"}))
    } else if !*logged_in {
        Err(call_error(207, "Not authenticated"))
    } else {
        dispatch(st, &method, &p)
    };
    let mut drop_connection = false;
    if method == "pool.dataset.create" && result.is_ok() {
        st.creates += 1;
        drop_connection = st.hooks.drop_after_create == Some(st.creates);
    }
    if result.is_ok() {
        let n = st.succeeded.entry(method.clone()).or_default();
        *n += 1;
        let n = *n;
        if st
            .hooks
            .drop_after_call
            .as_ref()
            .is_some_and(|(m, at)| *m == method && *at == n)
        {
            drop_connection = true;
        }
    }
    let reply = match result {
        Ok(r) => json!({"jsonrpc": "2.0", "result": r, "id": id}),
        Err(e) => error_reply(&id, e),
    };
    Outcome {
        reply: Some(reply),
        method: Some(method),
        drop_connection,
    }
}

const KNOWN_METHODS: &[&str] = &[
    "auth.me",
    "pool.query",
    "pool.dataset.query",
    "pool.dataset.create",
    "pool.dataset.update",
    "pool.dataset.delete",
    "pool.dataset.snapshot_count",
    "sharing.nfs.query",
    "sharing.nfs.create",
    "sharing.nfs.update",
    "sharing.nfs.delete",
    "service.query",
    "service.update",
    "service.control",
    "core.get_jobs",
];

fn login(
    st: &mut State,
    p: &[Value],
    transport: Transport,
    logged_in: &mut bool,
) -> Result<Value, Value> {
    let a = p.first().cloned().unwrap_or(json!({}));
    let mechanism = a.get("mechanism").and_then(|m| m.as_str()).unwrap_or("");
    if mechanism != "API_KEY_PLAIN" {
        return Err(call_error(95, "mechanism not supported by the fake"));
    }
    let user = a.get("username").and_then(|u| u.as_str()).unwrap_or("");
    let key = a.get("api_key").and_then(|k| k.as_str()).unwrap_or("");
    st.keys_received.push((transport, key.to_string()));
    if let Some(r) = st.hooks.login_result.clone() {
        return Ok(r);
    }
    let right = user == USER && key == API_KEY;
    if right && st.revoked {
        // TrueNAS 26: a revoked key is AUTH_ERR ("API key is revoked").
        return Ok(json!({"response_type": "AUTH_ERR"}));
    }
    if right && transport == Transport::Plain {
        // The real server revokes a key used over an insecure transport and says EXPIRED.
        st.revoked = true;
        return Ok(json!({"response_type": "EXPIRED"}));
    }
    if !right {
        return Ok(json!({"response_type": "AUTH_ERR"}));
    }
    *logged_in = true;
    Ok(json!({"response_type": "SUCCESS", "authenticator": "LEVEL_1", "user_info": me()}))
}

fn me() -> Value {
    json!({"pw_name": USER, "pw_gecos": "TrueNAS Administrator", "pw_dir": "/home/truenas_admin",
        "pw_shell": "/usr/bin/zsh", "pw_uid": 950, "pw_gid": 950, "grouplist": [544, 950],
        "sid": null, "source": "LOCAL", "local": true, "attributes": {}, "two_factor_config": {},
        "privilege": {"roles": {"$set": ["FULL_ADMIN"]}, "web_shell": true}, "account_attributes": ["LOCAL"]})
}

fn dispatch(st: &mut State, method: &str, p: &[Value]) -> Result<Value, Value> {
    match method {
        "auth.me" => Ok(me()),
        "pool.query" => Ok(
            json!([{"id": 1, "name": "tank", "guid": "1234", "path": "/mnt/tank",
            "status": "ONLINE", "healthy": true, "warning": false, "status_code": "OK",
            "status_detail": null, "size": 2u64 << 40, "allocated": 100 * GIB,
            "free": (2u64 << 40) - 100 * GIB, "freeing": 0, "size_str": (2u64 << 40).to_string(),
            "allocated_str": (100 * GIB).to_string(), "free_str": ((2u64 << 40) - 100 * GIB).to_string(),
            "freeing_str": "0", "topology": {}, "scan": null}]),
        ),
        "pool.dataset.query" => {
            let items: Vec<Value> = st
                .datasets
                .iter()
                .map(|(n, d)| dataset_entry(n, d))
                .collect();
            query(items, p)
        }
        "pool.dataset.create" => dataset_create(st, p),
        "pool.dataset.update" => dataset_update(st, p),
        "pool.dataset.delete" => dataset_delete(st, p),
        // `[dataset]` → int (api/v25_10_0/pool_snapshot_count.py, plugins/pool_/snapshot_count.py).
        // The answer for a missing dataset was not checked; the fake says InstanceNotFound.
        "pool.dataset.snapshot_count" => {
            let id = p.first().and_then(|i| i.as_str()).unwrap_or("");
            if !st.datasets.contains_key(id) {
                return Err(instance_not_found(&format!(
                    "PoolDataset {id} does not exist"
                )));
            }
            Ok(json!(st.snapshots.get(id).copied().unwrap_or(0)))
        }
        "sharing.nfs.query" => query(st.shares.clone(), p),
        "sharing.nfs.create" => share_create(st, p),
        "sharing.nfs.update" => share_update(st, p),
        "sharing.nfs.delete" => {
            let id = p.first().and_then(|i| i.as_i64()).unwrap_or(-1);
            let before = st.shares.len();
            st.shares.retain(|s| s["id"] != json!(id));
            if st.shares.len() == before {
                return Err(instance_not_found(&format!(
                    "SharingNFS {id} does not exist"
                )));
            }
            Ok(json!(true))
        }
        "service.query" => query(
            vec![json!({"id": 3, "service": "nfs", "enable": st.nfs_enable,
                "state": if st.nfs_running { "RUNNING" } else { "STOPPED" }, "pids": []})],
            p,
        ),
        "service.update" => {
            if p.first() != Some(&json!("nfs")) {
                return Err(call_error(
                    2,
                    &format!(
                        "Service {} not found.",
                        p.first().cloned().unwrap_or_default()
                    ),
                ));
            }
            if let Some(e) = p
                .get(1)
                .and_then(|o| o.get("enable"))
                .and_then(|e| e.as_bool())
            {
                st.nfs_enable = e;
            }
            Ok(json!(3))
        }
        "service.control" => {
            let verb = p.first().and_then(|v| v.as_str()).unwrap_or("");
            if p.get(1) != Some(&json!("nfs")) {
                return Err(call_error(2, "Service not found."));
            }
            st.nfs_running = matches!(verb, "START" | "RESTART" | "RELOAD");
            st.next_job_id += 1;
            let id = st.next_job_id;
            st.jobs.insert(id, json!({"id": id, "method": "service.control", "arguments": p,
                "transient": false, "description": null, "abortable": false, "logs_path": null,
                "logs_excerpt": null, "progress": {"percent": 100, "description": "", "extra": null},
                "result": true, "result_encoding_error": null, "error": null, "exception": null,
                "exc_info": null, "state": "SUCCESS", "time_started": {"$date": 0},
                "time_finished": {"$date": 0}, "credentials": null, "message_ids": []}));
            Ok(json!(id))
        }
        "core.get_jobs" => query(st.jobs.values().cloned().collect(), p),
        _ => Err(json!({"code": -32601, "message": "Method does not exist"})),
    }
}

/// `[filters, options]` with `=` filters on top-level fields and `get: true`.
fn query(items: Vec<Value>, p: &[Value]) -> Result<Value, Value> {
    let filters = p
        .first()
        .and_then(|f| f.as_array())
        .cloned()
        .unwrap_or_default();
    let opts = p.get(1).cloned().unwrap_or(json!({}));
    let hits: Vec<Value> = items
        .into_iter()
        .filter(|it| {
            filters
                .iter()
                .all(|f| match f.as_array().map(|a| a.as_slice()) {
                    Some([k, op, v]) if op == "=" => {
                        k.as_str().is_some_and(|k| it.get(k) == Some(v))
                    }
                    _ => true,
                })
        })
        .collect();
    if opts.get("get") == Some(&json!(true)) {
        return hits.into_iter().next().ok_or_else(match_not_found);
    }
    if opts.get("count") == Some(&json!(true)) {
        return Ok(json!(hits.len()));
    }
    Ok(Value::Array(hits))
}

fn size_prop(bytes: u64, source: &str) -> Value {
    json!({"parsed": bytes, "rawvalue": bytes.to_string(),
        "value": foundry::truenas::size::human(bytes), "source": source, "source_info": null})
}

fn dataset_entry(name: &str, d: &FakeDataset) -> Value {
    let pool = name.split('/').next().unwrap_or(name);
    let quota = if d.quota == 0 {
        json!({"parsed": null, "rawvalue": "0", "value": null, "source": "DEFAULT", "source_info": null})
    } else {
        size_prop(d.quota, "LOCAL")
    };
    let available = if d.quota == 0 {
        1u64 << 40
    } else {
        d.quota - d.used
    };
    json!({"id": name, "type": "FILESYSTEM", "name": name, "pool": pool,
        "encrypted": false, "encryption_root": null, "key_loaded": false, "locked": false,
        "mountpoint": format!("/mnt/{name}"), "children": [], "user_properties": {},
        "used": size_prop(d.used, "NONE"), "available": size_prop(available, "NONE"),
        "quota": quota,
        "compression": {"parsed": d.compression, "rawvalue": d.compression,
            "value": d.compression.to_uppercase(), "source": "LOCAL", "source_info": null},
        "comments": {"parsed": d.comments, "rawvalue": d.comments, "value": d.comments,
            "source": "LOCAL", "source_info": null},
        "readonly": {"parsed": false, "rawvalue": "off", "value": "OFF", "source": "DEFAULT", "source_info": null}})
}

const DATASET_FIELDS: &[&str] = &[
    "name",
    "type",
    "comments",
    "sync",
    "compression",
    "exec",
    "copies",
    "snapdir",
    "deduplication",
    "checksum",
    "readonly",
    "share_type",
    "create_ancestors",
    "quota",
    "refquota",
    "atime",
    "recordsize",
    "user_properties",
    "encryption",
    "inherit_encryption",
];

fn extra_fields(prefix: &str, obj: &Value, allowed: &[&str]) -> Result<(), Value> {
    if let Some(k) = obj
        .as_object()
        .and_then(|m| m.keys().find(|k| !allowed.contains(&k.as_str())))
    {
        return Err(validation(
            &format!("{prefix}.{k}"),
            "Extra inputs are not permitted",
            22,
        ));
    }
    Ok(())
}

fn apply_props(d: &mut FakeDataset, f: &Value, prefix: &str) -> Result<(), Value> {
    if let Some(q) = f.get("quota") {
        let q = match q {
            Value::Null => 0,
            v => v.as_u64().ok_or_else(|| {
                validation(
                    &format!("{prefix}.quota"),
                    "Input should be a valid integer",
                    22,
                )
            })?,
        };
        if q != 0 && q < GIB {
            return Err(validation(
                &format!("{prefix}.quota"),
                "Input should be greater than or equal to 1073741824",
                22,
            ));
        }
        d.quota = q;
    }
    if let Some(c) = f.get("compression").and_then(|c| c.as_str()) {
        if c != c.to_uppercase() {
            return Err(validation(
                &format!("{prefix}.compression"),
                "Input should be 'ON', 'OFF', 'LZ4', 'GZIP', 'ZSTD', ... ",
                22,
            ));
        }
        d.compression = if c == "INHERIT" {
            "lz4".into()
        } else {
            c.to_lowercase()
        };
    }
    if let Some(c) = f.get("comments").and_then(|c| c.as_str()) {
        d.comments = c.to_string();
    }
    Ok(())
}

fn dataset_create(st: &mut State, p: &[Value]) -> Result<Value, Value> {
    let f = p.first().cloned().unwrap_or(json!({}));
    let pre = "pool_dataset_create";
    extra_fields(pre, &f, DATASET_FIELDS)?;
    let Some(name) = f.get("name").and_then(|n| n.as_str()).map(str::to_string) else {
        return Err(validation(&format!("{pre}.name"), "Field required", 22));
    };
    let Some((parent, _)) = name.rsplit_once('/') else {
        return Err(validation(
            &format!("{pre}.name"),
            "You need a full name, e.g. pool/newdataset",
            22,
        ));
    };
    let pool = name.split('/').next().unwrap_or_default();
    if !st.datasets.contains_key(pool) {
        return Err(validation(
            &format!("{pre}.name"),
            &format!("zpool ({pool}) does not exist."),
            22,
        ));
    }
    if st.datasets.contains_key(&name) {
        return Err(validation(
            &format!("{pre}.name"),
            &format!("Path /mnt/{name} already exists"),
            22,
        ));
    }
    if !st.datasets.contains_key(parent) {
        if f.get("create_ancestors") != Some(&json!(true)) {
            return Err(validation(
                &format!("{pre}.name"),
                &format!("Parent dataset ({parent}) does not exist."),
                22,
            ));
        }
        let mut cur = String::new();
        for part in parent.split('/') {
            cur = if cur.is_empty() {
                part.to_string()
            } else {
                format!("{cur}/{part}")
            };
            st.datasets
                .entry(cur.clone())
                .or_insert_with(|| fake_dataset("", 0));
        }
    }
    let mut d = fake_dataset("", 0);
    apply_props(&mut d, &f, pre)?;
    st.datasets.insert(name.clone(), d.clone());
    Ok(dataset_entry(&name, &d))
}

fn dataset_update(st: &mut State, p: &[Value]) -> Result<Value, Value> {
    let id = p.first().and_then(|i| i.as_str()).unwrap_or("").to_string();
    let f = p.get(1).cloned().unwrap_or(json!({}));
    let allowed: Vec<&str> = DATASET_FIELDS
        .iter()
        .copied()
        .filter(|k| !matches!(*k, "name" | "type" | "share_type" | "create_ancestors"))
        .collect();
    extra_fields("pool_dataset_update", &f, &allowed)?;
    let Some(mut d) = st.datasets.get(&id).cloned() else {
        return Err(validation("id", &format!("{id} does not exist"), 2));
    };
    apply_props(&mut d, &f, "pool_dataset_update")?;
    st.datasets.insert(id.clone(), d.clone());
    Ok(dataset_entry(&id, &d))
}

fn dataset_delete(st: &mut State, p: &[Value]) -> Result<Value, Value> {
    let id = p.first().and_then(|i| i.as_str()).unwrap_or("").to_string();
    let recursive = p
        .get(1)
        .and_then(|o| o.get("recursive"))
        .and_then(|r| r.as_bool())
        .unwrap_or(false);
    if !st.datasets.contains_key(&id) {
        return Err(instance_not_found(&format!(
            "PoolDataset {id} does not exist"
        )));
    }
    let prefix = format!("{id}/");
    let children: Vec<String> = st
        .datasets
        .keys()
        .filter(|k| k.starts_with(&prefix))
        .cloned()
        .collect();
    if !children.is_empty() && !recursive {
        return Err(call_error(
            39,
            &format!("Failed to delete dataset: cannot destroy '{id}': filesystem has children"),
        ));
    }
    // ZFS refuses a non-recursive destroy of a dataset with snapshots (middleware test
    // `test_zfs_resource_destroy_non_recursive_with_snapshots_fails` checks only that the
    // message says "snapshots"; errno and exact text are not verified).
    if !recursive && st.snapshots.get(&id).is_some_and(|n| *n > 0) {
        return Err(call_error(
            16,
            &format!("cannot destroy '{id}': filesystem has snapshots"),
        ));
    }
    for c in children {
        st.datasets.remove(&c);
        st.snapshots.remove(&c);
    }
    st.datasets.remove(&id);
    st.snapshots.remove(&id);
    // Attachments (NFS shares) under the mountpoint go first on the real server.
    let mount = format!("/mnt/{id}");
    st.shares.retain(|s| {
        let path = s["path"].as_str().unwrap_or("");
        !(path == mount || path.starts_with(&format!("{mount}/")))
    });
    Ok(json!(true))
}

const SHARE_FIELDS: &[&str] = &[
    "path",
    "aliases",
    "comment",
    "networks",
    "hosts",
    "ro",
    "maproot_user",
    "maproot_group",
    "mapall_user",
    "mapall_group",
    "security",
    "enabled",
    "expose_snapshots",
];

fn share_checks(st: &State, pre: &str, s: &Value, own_id: Option<i64>) -> Result<(), Value> {
    let path = s["path"].as_str().unwrap_or("");
    let Some(rest) = path.strip_prefix("/mnt/") else {
        return Err(validation(
            &format!("{pre}.path"),
            "The path must reside within a pool mount point",
            22,
        ));
    };
    if !st.datasets.contains_key(rest) {
        return Err(call_error(2, &format!("Path {path} not found")));
    }
    let nets: Vec<&str> = s["networks"]
        .as_array()
        .map(|a| a.iter().filter_map(|n| n.as_str()).collect())
        .unwrap_or_default();
    for other in st
        .shares
        .iter()
        .filter(|o| o["path"] == s["path"] && Some(o["id"].as_i64().unwrap_or(-1)) != own_id)
    {
        for n in &nets {
            if other["networks"]
                .as_array()
                .is_some_and(|a| a.contains(&json!(n)))
            {
                return Err(validation(
                    &format!("{pre}.networks"),
                    &format!("ERROR - Another NFS share already exports {path} for network {n}"),
                    22,
                ));
            }
        }
    }
    if s["maproot_group"].as_str().is_some_and(|g| !g.is_empty())
        && s["maproot_user"].as_str().is_none_or(|u| u.is_empty())
    {
        return Err(validation(
            &format!("{pre}.maproot_user"),
            "This field is required when map group is specified",
            22,
        ));
    }
    Ok(())
}

fn share_create(st: &mut State, p: &[Value]) -> Result<Value, Value> {
    let f = p.first().cloned().unwrap_or(json!({}));
    let pre = "sharingnfs_create";
    extra_fields(pre, &f, SHARE_FIELDS)?;
    if f.get("path").and_then(|x| x.as_str()).is_none() {
        return Err(validation(&format!("{pre}.path"), "Field required", 22));
    }
    let id = st.next_share_id;
    let mut s = json!({"id": id, "path": "", "aliases": [], "comment": "", "networks": [],
        "hosts": [], "ro": false, "maproot_user": null, "maproot_group": null,
        "mapall_user": null, "mapall_group": null, "security": [], "enabled": true,
        "locked": false, "expose_snapshots": false});
    for (k, v) in f.as_object().unwrap() {
        s[k] = v.clone();
    }
    share_checks(st, pre, &s, None)?;
    st.next_share_id += 1;
    st.shares.push(s.clone());
    Ok(s)
}

fn share_update(st: &mut State, p: &[Value]) -> Result<Value, Value> {
    let id = p.first().and_then(|i| i.as_i64()).unwrap_or(-1);
    let f = p.get(1).cloned().unwrap_or(json!({}));
    let pre = "sharingnfs_update";
    extra_fields(pre, &f, SHARE_FIELDS)?;
    let Some(i) = st.shares.iter().position(|s| s["id"] == json!(id)) else {
        return Err(instance_not_found(&format!(
            "SharingNFS {id} does not exist"
        )));
    };
    let mut s = st.shares[i].clone();
    for (k, v) in f.as_object().unwrap() {
        s[k] = v.clone();
    }
    share_checks(st, pre, &s, Some(id))?;
    st.shares[i] = s.clone();
    Ok(s)
}

// ---- helpers for tests ---------------------------------------------------------------------

impl FakeTruenas {
    /// Set the networks of the share at `path` behind foundry's back.
    pub fn set_share_networks(&self, path: &str, networks: &[&str]) {
        self.with(|s| {
            for sh in s.shares.iter_mut().filter(|sh| sh["path"] == json!(path)) {
                sh["networks"] = json!(networks);
            }
        })
    }

    /// A dataset (with parents) that exists before foundry runs.
    pub fn add_dataset(&self, name: &str) {
        self.with(|s| {
            s.datasets.insert(name.to_string(), fake_dataset("", 0));
        })
    }

    /// A dataset with a comment (e.g. a leftover of an earlier run).
    pub fn add_dataset_with_comment(&self, name: &str, comment: &str) {
        self.with(|s| {
            s.datasets
                .insert(name.to_string(), fake_dataset(comment, 0));
        })
    }

    /// `n` snapshots of `name` (they only count: they block a non-recursive delete).
    pub fn add_snapshots(&self, name: &str, n: u64) {
        self.with(|s| {
            s.snapshots.insert(name.to_string(), n);
        })
    }

    pub fn share_paths(&self) -> Vec<String> {
        self.with(|s| {
            s.shares
                .iter()
                .filter_map(|x| x["path"].as_str().map(str::to_string))
                .collect()
        })
    }
}
