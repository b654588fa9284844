//! The fake's HTTPS listener: TLS with the generated certificate, HTTP/1.1 (hyper), each request
//! turned into a [`Call`] for the cluster and recorded for the tests' request counts.

use super::cluster::{Call, Cluster, Recorded};
use super::status::Body;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub(crate) async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    cluster: Arc<Mutex<Cluster>>,
    ca_pem: Arc<str>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let (tcp, _) = tokio::select! {
            conn = listener.accept() => match conn { Ok(c) => c, Err(_) => continue },
            _ = &mut shutdown => return,
        };
        // Like kube-apiserver (Go's net package sets TCP_NODELAY on every connection): without
        // it, Nagle holds the second TLS record of a response for the client's delayed ACK and
        // each request looks ~40 ms slower than the real server.
        tcp.set_nodelay(true).ok();
        let acceptor = acceptor.clone();
        let cluster = cluster.clone();
        let ca_pem = ca_pem.clone();
        tokio::spawn(async move {
            // A client that rejects our certificate ends the handshake: nothing to serve.
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            // rustls verified it against the CA: a certificate here is the admin's.
            let client_cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .is_some_and(|c| !c.is_empty());
            let svc = service_fn(move |req| {
                let cluster = cluster.clone();
                let ca_pem = ca_pem.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        handle(req, &cluster, &ca_pem, client_cert).await,
                    )
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        });
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(kv), String::new()),
        })
        .collect()
}

async fn handle(
    req: Request<Incoming>,
    cluster: &Arc<Mutex<Cluster>>,
    ca_pem: &str,
    client_cert: bool,
) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let content_type = header("content-type").unwrap_or_default();
    let user_agent = header("user-agent").unwrap_or_default();
    let bearer = header("authorization").and_then(|a| a.strip_prefix("Bearer ").map(String::from));
    let impersonate = header("impersonate-user");
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let call = Call {
        method: method.clone(),
        path: path.clone(),
        query: parse_query(&query),
        content_type,
        user_agent,
        bearer,
        impersonate,
        client_cert,
        body,
    };
    if call.method == "GET" && call.path == "/cacerts" {
        // K3s's supervisor serves the cluster CA here without credentials (what joining nodes
        // and foundry's VIP check fetch); it is not part of the Kubernetes API.
        cluster
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .requests
            .push(Recorded {
                method,
                path,
                query,
                status: 200,
            });
        return Response::builder()
            .status(200)
            .header("Content-Type", "text/plain")
            .body(Full::new(Bytes::from(ca_pem.to_string())))
            .expect("a valid response");
    }
    let reply = {
        let mut c = cluster.lock().unwrap_or_else(|e| e.into_inner());
        let reply = c.handle(&call);
        c.requests.push(Recorded {
            method,
            path,
            query,
            status: reply.code,
        });
        reply
    };
    let mut resp = Response::builder().status(reply.code);
    let bytes = match reply.body {
        Body::Json(v) => {
            resp = resp.header("Content-Type", "application/json");
            serde_json::to_vec(&v).unwrap_or_default()
        }
        Body::Raw(s) => {
            resp = resp.header("Content-Type", "application/json");
            if let Some(secs) = serde_json::from_str::<serde_json::Value>(&s)
                .ok()
                .and_then(|v| v["details"]["retryAfterSeconds"].as_u64())
                .filter(|s| *s > 0)
            {
                resp = resp.header("Retry-After", secs.to_string());
            }
            s.into_bytes()
        }
        Body::Text(t) => {
            resp = resp
                .header("Content-Type", "text/plain; charset=utf-8")
                .header("X-Content-Type-Options", "nosniff");
            t.into_bytes()
        }
    };
    resp.body(Full::new(Bytes::from(bytes)))
        .expect("a valid response")
}
