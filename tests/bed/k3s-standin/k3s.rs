//! A STAND-IN for the K3s binary, for foundry's bed tests only (no K3s can run on the test
//! machine: no kernel of its own per host, no images, no internet). It is compiled by the test
//! (`rustc`, std only) and shipped in an air-gapped bundle as `k3s`, so foundry installs it
//! exactly as it installs the real binary: uploaded, checksum-verified, run by foundry's own
//! systemd unit (`k3s server`, Type=notify; `k3s agent`, Type=exec).
//!
//! What it does, as K3s would, on a real systemd host:
//! - reads `/etc/rancher/k3s/config.yaml` (the file foundry rendered: `token`, `agent-token`,
//!   `server`, `cluster-init`, `node-name`);
//! - a server refuses to start when its existing bootstrap token (`server/token`) differs from
//!   `token:` in config.yaml, with K3s's own message;
//! - "joins" by telling the test's control endpoint (plain HTTP on the bed bridge,
//!   `STANDIN_CONTROL` at compile time) who it is and which token it holds; the endpoint (the
//!   test's fake cluster) refuses a wrong token or a missing first server like K3s's supervisor
//!   does, registers the Node in the MOCK API, and brings up the VIP for the first server (as
//!   kube-vip would);
//! - a server writes `server/token` (`K10<ca-sha256>::server:<token>`), `server/db/` and the
//!   admin kubeconfig `/etc/rancher/k3s/k3s.yaml` (0600, server `https://127.0.0.1:6443`), and
//!   forwards `127.0.0.1:6443` to the VIP, where the mock API answers (`/cacerts` and all);
//! - reports READY=1 to systemd, then runs until stopped;
//! - `k3s --version` prints the compiled-in `STANDIN_VERSION` as K3s prints its version;
//! - `k3s etcd-snapshot save --name N` writes a snapshot file where K3s keeps them;
//! - `k3s server --cluster-reset [--cluster-reset-restore-path=F]` checks F, records the reset
//!   in `server/db/reset-from` and exits with K3s's "restart without --cluster-reset" message.
//!
//! What it does NOT do: run containerd, a kubelet, etcd, flannel, or import the images tarball.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::exit;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const VERSION: &str = env!("STANDIN_VERSION");
const CONTROL: &str = env!("STANDIN_CONTROL");
const CONFIG: &str = "/etc/rancher/k3s/config.yaml";
const SERVER_DIR: &str = "/var/lib/rancher/k3s/server";
const KUBECONFIG: &str = "/etc/rancher/k3s/k3s.yaml";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version") | Some("-v") | Some("version") => {
            println!("k3s version {VERSION} (5tand1n0)");
            println!("go version go1.24.0");
        }
        Some("server") if args.iter().any(|a| a == "--cluster-reset") => cluster_reset(&args),
        Some("server") => run(true),
        Some("agent") => run(false),
        Some("etcd-snapshot") => snapshot(&args[1..]),
        _ => fail(&format!("k3s stand-in: unsupported command line {args:?}")),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("{msg}");
    exit(1)
}

/// Top-level `key: value` pairs of config.yaml (lists are not needed here).
fn config() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(CONFIG)
        .unwrap_or_else(|e| fail(&format!("level=fatal msg=\"reading {CONFIG}: {e}\"")));
    text.lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('-') && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| {
            let v = v.trim().trim_matches('"').trim_matches('\'');
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

fn run(server: bool) {
    let cfg = config();
    let get = |k: &str| cfg.get(k).cloned().unwrap_or_default();
    let token = get("token");
    if token.is_empty() {
        fail("level=fatal msg=\"token is required\"");
    }
    let node = match get("node-name") {
        n if n.is_empty() => hostname(),
        n => n,
    };
    let token_file = format!("{SERVER_DIR}/token");
    if server {
        if let Ok(existing) = std::fs::read_to_string(&token_file) {
            let pass = existing.trim().rsplit(':').next().unwrap_or_default();
            if pass != token {
                fail("level=fatal msg=\"starting kubernetes: preparing server: failed to normalize server token; must be in format K10<CA-HASH>::<USERNAME>:<PASSWORD> or <PASSWORD>: bootstrap data already found and encrypted with different token\"");
            }
        }
    }
    let role = if server { "server" } else { "agent" };
    let first = get("cluster-init") == "true";
    let body = format!(
        "node={node}\nrole={role}\nfirst={first}\ntoken={token}\nagent-token={}\nserver={}\nversion={VERSION}\n",
        get("agent-token"),
        get("server"),
    );
    let reply = post("/join", &body);
    let mut lines = reply.splitn(3, '\n');
    let ca_hash = lines.next().unwrap_or_default().trim().to_string();
    let vip = lines.next().unwrap_or_default().trim().to_string();
    let kubeconfig = lines.next().unwrap_or_default().to_string();
    if server {
        std::fs::create_dir_all(format!("{SERVER_DIR}/db/snapshots")).unwrap_or_else(|e| {
            fail(&format!("level=fatal msg=\"creating {SERVER_DIR}/db: {e}\""))
        });
        write_private(&token_file, &format!("K10{ca_hash}::server:{token}\n"));
        write_private(KUBECONFIG, &kubeconfig);
        let listener = TcpListener::bind("127.0.0.1:6443")
            .unwrap_or_else(|e| fail(&format!("level=fatal msg=\"listen tcp 127.0.0.1:6443: {e}\"")));
        let upstream = format!("{vip}:6443");
        std::thread::spawn(move || forward(listener, upstream));
    }
    eprintln!("level=info msg=\"k3s stand-in {VERSION} running as {role} {node}\"");
    notify_ready();
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

fn write_private(path: &str, text: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = Path::new(path).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = format!("{path}.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .unwrap_or_else(|e| fail(&format!("level=fatal msg=\"writing {path}: {e}\"")));
    f.write_all(text.as_bytes())
        .and_then(|_| std::fs::rename(&tmp, path))
        .unwrap_or_else(|e| fail(&format!("level=fatal msg=\"writing {path}: {e}\"")));
}

/// One HTTP/1.0 POST to the control endpoint; exits with its message unless it answers 200.
fn post(path: &str, body: &str) -> String {
    let mut last = String::new();
    // The supervisor retries a server it cannot reach for a while, then gives up.
    for _ in 0..10 {
        match TcpStream::connect_timeout(
            &CONTROL.parse().expect("STANDIN_CONTROL is host:port"),
            Duration::from_secs(3),
        ) {
            Ok(mut s) => {
                let req = format!(
                    "POST {path} HTTP/1.0\r\nHost: {CONTROL}\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let mut resp = String::new();
                if s.write_all(req.as_bytes()).is_ok() && s.read_to_string(&mut resp).is_ok() {
                    let (head, rest) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
                    if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") {
                        return rest.to_string();
                    }
                    fail(&format!("level=fatal msg=\"{}\"", rest.trim()));
                }
                last = "the connection broke".into();
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    fail(&format!("level=fatal msg=\"cannot reach the cluster at {CONTROL}: {last}\""))
}

/// 127.0.0.1:6443 → the VIP: the host's own API port answers what the cluster's API answers.
fn forward(listener: TcpListener, upstream: String) {
    for conn in listener.incoming().flatten() {
        let up = upstream.clone();
        std::thread::spawn(move || {
            let Ok(remote) = TcpStream::connect(&up) else {
                return;
            };
            let (Ok(mut a), Ok(mut b)) = (conn.try_clone(), remote.try_clone()) else {
                return;
            };
            let t = std::thread::spawn(move || {
                let _ = std::io::copy(&mut a, &mut b);
                let _ = b.shutdown(Shutdown::Write);
            });
            let (mut c, mut r) = (conn, remote);
            let _ = std::io::copy(&mut r, &mut c);
            let _ = c.shutdown(Shutdown::Write);
            let _ = t.join();
        });
    }
}

/// sd_notify(READY=1) to $NOTIFY_SOCKET (a path or an abstract `@name`), from the main PID.
fn notify_ready() {
    use std::os::unix::net::UnixDatagram;
    let Some(sock) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sock = sock.to_string_lossy().into_owned();
    let Ok(d) = UnixDatagram::unbound() else {
        return;
    };
    if let Some(name) = sock.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        if let Ok(addr) = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()) {
            let _ = d.send_to_addr(b"READY=1", &addr);
        }
    } else {
        let _ = d.send_to(b"READY=1", &sock);
    }
}

/// `k3s etcd-snapshot save [--name N]`: a file in `server/db/snapshots/`, named as K3s names
/// them (`<name>-<node>-<unix time>`), printed as K3s logs it.
fn snapshot(args: &[String]) {
    if args.first().map(String::as_str) != Some("save") {
        fail(&format!("k3s stand-in: unsupported etcd-snapshot {args:?}"));
    }
    let name = args
        .windows(2)
        .find(|w| w[0] == "--name")
        .map(|w| w[1].clone())
        .unwrap_or_else(|| "on-demand".into());
    let dir = format!("{SERVER_DIR}/db/snapshots");
    if !Path::new(&format!("{SERVER_DIR}/db")).is_dir() {
        fail("level=fatal msg=\"etcd datastore is not started\"");
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let file = format!("{dir}/{name}-{}-{now}", hostname());
    let _ = std::fs::create_dir_all(&dir);
    let token = std::fs::read_to_string(format!("{SERVER_DIR}/token")).unwrap_or_default();
    let content = format!("k3s stand-in etcd snapshot\nnode {}\nat {now}\ntoken-sha-len {}\n", hostname(), token.len());
    write_private(&file, &content);
    eprintln!("level=info msg=\"Snapshot {name}-{}-{now} saved.\"", hostname());
    println!("{file}");
}

/// `k3s server --cluster-reset [--cluster-reset-restore-path=F]`: a one-shot run, as K3s's.
fn cluster_reset(args: &[String]) {
    let path = args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix("--cluster-reset-restore-path=")
            .map(String::from)
            .or_else(|| (a == "--cluster-reset-restore-path").then(|| args.get(i + 1).cloned().unwrap_or_default()))
    });
    if let Some(p) = &path {
        if !Path::new(p).is_file() {
            fail(&format!("level=fatal msg=\"starting kubernetes: preparing server: start managed database: restore snapshot: {p}: no such file or directory\""));
        }
    }
    let db = format!("{SERVER_DIR}/db");
    let _ = std::fs::create_dir_all(&db);
    write_private(&format!("{db}/reset-from"), &format!("{}\n", path.unwrap_or_else(|| "-".into())));
    eprintln!("level=info msg=\"Managed etcd cluster membership has been reset, restart without --cluster-reset flag now. Backup and delete ${{datadir}}/server/db on each peer etcd server and rejoin the nodes\"");
}
