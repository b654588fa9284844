//! One WebSocket connection speaking JSON-RPC 2.0: request ids, one reply per id, per-call
//! timeouts, server notifications (no `id`) ignored. A reader task routes replies to the
//! waiting calls; when the socket ends, every waiting call gets `Lost`.

use super::error::RpcFailure;
use super::tls::Seen;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// What came back for one call.
#[derive(Debug)]
pub(crate) enum Reply {
    Result(Value),
    Error(RpcFailure),
    /// The connection ended before the answer (the cause as text).
    Lost(String),
    /// No answer within the call's timeout.
    TimedOut,
}

/// Why a connection could not be opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// TCP, DNS or the WebSocket upgrade.
    Io(String),
    /// The TLS handshake failed after the server showed this leaf certificate.
    Untrusted { cause: String, fingerprint: String },
}

type Waiters = Arc<Mutex<HashMap<u64, oneshot::Sender<Reply>>>>;

pub(crate) struct Conn {
    out: mpsc::UnboundedSender<Message>,
    waiters: Waiters,
    next_id: AtomicU64,
    /// Set (with the cause) once the socket is gone.
    lost: Arc<Mutex<Option<String>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// TCP + TLS to `host:port` with `cfg`, within `timeout`.
pub(crate) async fn tls_stream(
    host: &str,
    port: u16,
    cfg: Arc<rustls::ClientConfig>,
    seen: &Seen,
    timeout: Duration,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, OpenError> {
    let tcp = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .map_err(|_| OpenError::Io(format!("no TCP connection within {}s", timeout.as_secs())))?
        .map_err(|e| OpenError::Io(e.to_string()))?;
    tcp.set_nodelay(true).ok();
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| OpenError::Io(format!("`{host}` is not a valid TLS server name: {e}")))?;
    super::tls::reset(seen);
    let connector = tokio_rustls::TlsConnector::from(cfg);
    match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
        Err(_) => Err(OpenError::Io(format!(
            "no TLS handshake within {}s",
            timeout.as_secs()
        ))),
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(match super::tls::refusal(seen) {
            Some((cause, fingerprint)) => OpenError::Untrusted { cause, fingerprint },
            None => OpenError::Io(format!("TLS handshake failed: {e}")),
        }),
    }
}

impl Conn {
    /// Connect and upgrade to a WebSocket at `url` (`wss://…/api/current`).
    pub(crate) async fn open(
        url: &str,
        host: &str,
        port: u16,
        cfg: Arc<rustls::ClientConfig>,
        seen: &Seen,
        timeout: Duration,
    ) -> Result<Conn, OpenError> {
        let tls = tls_stream(host, port, cfg, seen, timeout).await?;
        let (ws, _resp) = tokio::time::timeout(timeout, tokio_tungstenite::client_async(url, tls))
            .await
            .map_err(|_| {
                OpenError::Io(format!(
                    "no WebSocket upgrade within {}s",
                    timeout.as_secs()
                ))
            })?
            .map_err(|e| OpenError::Io(format!("WebSocket upgrade of {url} failed: {e}")))?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut rx) = mpsc::unbounded_channel::<Message>();
        let waiters: Waiters = Arc::new(Mutex::new(HashMap::new()));
        let lost: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));

        let lost_w = lost.clone();
        let writer = tokio::spawn(async move {
            while let Some(m) = rx.recv().await {
                if let Err(e) = sink.send(m).await {
                    lost_w
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get_or_insert(format!("sending failed: {e}"));
                    break;
                }
            }
        });
        let (w, l) = (waiters.clone(), lost.clone());
        let reader = tokio::spawn(async move {
            let cause = loop {
                match stream.next().await {
                    Some(Ok(Message::Text(t))) => route(&w, t.as_str()),
                    Some(Ok(Message::Close(f))) => {
                        break match f {
                            Some(f) => {
                                format!("closed by TrueNAS: {} {}", u16::from(f.code), f.reason)
                            }
                            None => "closed by TrueNAS".into(),
                        }
                    }
                    Some(Ok(_)) => {} // ping/pong/binary: tungstenite answers pings itself
                    Some(Err(e)) => break e.to_string(),
                    None => break "the connection ended".into(),
                }
            };
            let cause = l
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(cause)
                .clone();
            let drained: Vec<_> = w
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain()
                .collect();
            for (_, tx) in drained {
                let _ = tx.send(Reply::Lost(cause.clone()));
            }
        });
        Ok(Conn {
            out,
            waiters,
            next_id: AtomicU64::new(1),
            lost,
            tasks: vec![writer, reader],
        })
    }

    /// Send one request and wait for its reply.
    pub(crate) async fn call(&self, method: &str, params: Value, timeout: Duration) -> Reply {
        if let Some(c) = self.lost.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Reply::Lost(c);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        let req = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        if self.out.send(Message::text(req.to_string())).is_err() {
            self.forget(id);
            return Reply::Lost("the connection is closed".into());
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Reply::Lost("the connection is closed".into()),
            Err(_) => {
                self.forget(id);
                Reply::TimedOut
            }
        }
    }

    fn forget(&self, id: u64) {
        self.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// Close politely (a no-op when already gone).
    pub(crate) fn close(&self) {
        let _ = self.out.send(Message::Close(None));
    }
}

/// Deliver one text frame: a reply to its waiter; notifications (no `id`) and replies nobody
/// waits for any more (timed out) are dropped.
fn route(waiters: &Waiters, text: &str) {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        tracing::debug!("TrueNAS sent a frame that is not JSON; ignored");
        return;
    };
    let Some(id) = v.get("id").and_then(|i| i.as_u64()) else {
        // collection_update / notify_unsubscribed, or an error with `id: null`.
        tracing::debug!(
            "TrueNAS notification {:?} ignored",
            v.get("method").and_then(|m| m.as_str())
        );
        return;
    };
    let Some(tx) = waiters
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&id)
    else {
        return;
    };
    let reply = match (v.get("error"), v.get("result")) {
        (Some(e), _) if !e.is_null() => Reply::Error(RpcFailure::from_error(e)),
        (_, Some(r)) => Reply::Result(r.clone()),
        _ => Reply::Result(Value::Null),
    };
    let _ = tx.send(reply);
}
