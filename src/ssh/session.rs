//! One SSH connection to one host, shared by clones; every command runs on its own channel, so
//! many run in parallel over the single connection.

use super::auth::{self, AuthFailure};
use super::cmd::{self, Cmd, Output, StreamKind};
use super::handler::{refusal_message, ClientHandler, KeyOutcome};
use super::known_hosts;
use super::target::{SshOptions, Target};
use crate::error::{fail, ExitClass};
use crate::redact;
use crate::run::log::{ExecRecord, RunLogHandle};
use russh::client::Handle;
use russh::keys::Algorithm;
use russh::{ChannelMsg, ChannelReadHalf, Disconnect, Preferred, Sig};
use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// OpenSSH's default MaxSessions is 10; stay under it so parallel callers wait instead of
/// having channel opens refused.
const MAX_CHANNELS: usize = 8;
/// How long a refused session is retried (see `open_channel`): with other commands of ours
/// running on the connection, and with none.
const OPEN_RETRY_BUSY: Duration = Duration::from_secs(600);
const OPEN_RETRY_IDLE: Duration = Duration::from_secs(3);
/// A long run must survive idle stretches (a slow image pull on another host, say).
const KEEPALIVE: Duration = Duration::from_secs(15);
const KEEPALIVE_MAX: usize = 4;

struct Inner {
    handle: Handle<ClientHandler>,
    target: Target,
    log: RunLogHandle,
    /// Kept so the tunnel stays up as long as this session lives.
    bastion: Option<Session>,
    channels: tokio::sync::Semaphore,
}

/// A connected, authenticated host. Cheap to clone.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

/// Where `exec_streaming` hands each line.
pub(crate) type LineSink<'a> = Option<&'a mut (dyn FnMut(StreamKind, &str) + Send)>;

/// Raw result of one remote command.
pub(crate) struct RawOutput {
    pub exit: u32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

enum ConnectError {
    Transport(russh::Error),
    Tunnel(russh::Error),
    Auth(AuthFailure),
}

impl Session {
    /// Connect (through the bastion when the target has one), verify the host key and
    /// authenticate. Errors carry [`ExitClass::Connection`] and name the host and the cause.
    pub async fn connect(t: &Target, o: &SshOptions, log: RunLogHandle) -> anyhow::Result<Session> {
        let bastion = match &t.bastion {
            None => None,
            Some(b) => match Box::pin(Session::connect(b, o, log.clone())).await {
                Ok(s) => Some(s),
                Err(e) => {
                    return Err(fail(
                        ExitClass::Connection,
                        format!("{}: cannot reach the bastion: {e:#}", t.label()),
                    ));
                }
            },
        };
        let outcome = Arc::new(Mutex::new(None));
        let handler = ClientHandler {
            address: t.address.clone(),
            port: t.port,
            opts: o.clone(),
            outcome: outcome.clone(),
        };
        let config = Arc::new(client_config(t, o));
        let attempt = async {
            let mut handle = match &bastion {
                None => russh::client::connect(config, (t.address.as_str(), t.port), handler)
                    .await
                    .map_err(ConnectError::Transport)?,
                Some(b) => {
                    let ch = b
                        .inner
                        .handle
                        .channel_open_direct_tcpip(t.address.clone(), t.port as u32, "127.0.0.1", 0)
                        .await
                        .map_err(ConnectError::Tunnel)?;
                    russh::client::connect_stream(config, ch.into_stream(), handler)
                        .await
                        .map_err(ConnectError::Transport)?
                }
            };
            match auth::authenticate(&mut handle, t).await {
                Ok(()) => Ok(handle),
                Err(Ok(f)) => Err(ConnectError::Auth(f)),
                Err(Err(e)) => Err(ConnectError::Transport(e)),
            }
        };
        let started = Instant::now();
        let result = tokio::time::timeout(o.connect_timeout, attempt).await;
        let key_outcome = outcome.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let handle = match result {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => {
                let cause = describe(e, key_outcome.as_ref(), t);
                let msg = format!("{}: {}", t.label(), redact::scrub(&cause));
                log.connect(&t.name, started.elapsed(), Some(&msg));
                return Err(fail(ExitClass::Connection, msg));
            }
            Err(_) => {
                let stage = match key_outcome {
                    None => "TCP connect / SSH handshake",
                    Some(_) => "authentication",
                };
                let msg = format!(
                    "{}: timed out after {}s during {stage}",
                    t.label(),
                    o.connect_timeout.as_secs_f32()
                );
                log.connect(&t.name, started.elapsed(), Some(&msg));
                return Err(fail(ExitClass::Connection, msg));
            }
        };
        log.connect(&t.name, started.elapsed(), None);
        tracing::debug!("connected to {} as {}", t.label(), t.user);
        Ok(Session {
            inner: Arc::new(Inner {
                handle,
                target: t.clone(),
                log,
                bastion,
                channels: tokio::sync::Semaphore::new(MAX_CHANNELS),
            }),
        })
    }

    pub fn target(&self) -> &Target {
        &self.inner.target
    }

    /// Run a command; its output is collected. A non-zero exit is not an error.
    pub async fn exec(&self, c: &Cmd) -> anyhow::Result<Output> {
        self.exec_streaming(c, &mut |_, _| {}).await
    }

    /// Run a command, calling `on_line` for every complete line of stdout/stderr as it arrives
    /// (a final unterminated line too); the full output is returned as well.
    pub async fn exec_streaming(
        &self,
        c: &Cmd,
        on_line: &mut (dyn FnMut(StreamKind, &str) + Send),
    ) -> anyhow::Result<Output> {
        let raw = self.run(c, Some(on_line)).await?;
        Ok(Output {
            exit: raw.exit,
            stdout: String::from_utf8_lossy(&raw.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&raw.stderr).into_owned(),
        })
    }

    /// Close the connection (and the bastion's, when this session was its only user).
    pub async fn close(&self) {
        let _ = self
            .inner
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
        if let Some(b) = &self.inner.bastion {
            // Bastions are not pooled: each target keeps its own, so closing it is ours to do.
            let _ = b
                .inner
                .handle
                .disconnect(Disconnect::ByApplication, "", "en")
                .await;
        }
    }

    /// The one place commands are sent: wrap for sudo, log, run with the timeout, classify.
    pub(crate) async fn run(&self, c: &Cmd, on_line: LineSink<'_>) -> anyhow::Result<RawOutput> {
        let t = &self.inner.target;
        let w = cmd::wire(c, &t.sudo);
        let shown = redact::scrub(&w.line);
        let label = c.display_label();
        tracing::info!("{} $ {}", t.name, shown);
        let _permit = self
            .inner
            .channels
            .acquire()
            .await
            .map_err(|_| anyhow::anyhow!("{}: session closed", t.label()))?;
        let start = Instant::now();
        let result = self.run_channel(&w, c.timeout, on_line).await;
        let ms = start.elapsed().as_millis();
        let (exit, error) = match &result {
            Ok(r) => (Some(r.exit), None),
            Err(e) => (None, Some(e.clone())),
        };
        let rec = ExecRecord {
            cmd: &shown,
            mutating: c.mutating,
            sudo: w.sudo_used,
            exit,
            ms,
            error: error.map(|e| e.message(t, &label, c.timeout)),
        };
        self.inner.log.exec(&t.name, &rec);
        let raw = match result {
            Ok(r) => r,
            Err(e) => {
                let msg = e.message(t, &label, c.timeout);
                return Err(match e {
                    RunError::Timeout => anyhow::anyhow!(msg),
                    _ => fail(ExitClass::Connection, msg),
                });
            }
        };
        if w.sudo_used && raw.exit != 0 {
            if let Some(why) = sudo_refusal(&String::from_utf8_lossy(&raw.stderr), w.sudo_password)
            {
                return Err(fail(
                    ExitClass::Connection,
                    format!(
                        "{}: sudo as {} failed while running {label}: {why}",
                        t.label(),
                        t.user
                    ),
                ));
            }
        }
        Ok(raw)
    }

    /// Open a session channel, retrying a refusal. sshd answers "connect failed" when a new
    /// session would pass its MaxSessions: a hardened server may allow fewer than our
    /// `MAX_CHANNELS`, and even under the default 10 sshd frees a finished session only in the
    /// loop iteration after our CLOSE, so commands that end together and new ones that start at
    /// once can briefly count twice. While another command of ours runs on this connection a
    /// slot will come free, so we keep trying (bounded by `OPEN_RETRY_BUSY`); with none running
    /// the refusal is the server's answer after `OPEN_RETRY_IDLE`. Nothing ran on a refused
    /// channel, so a retry is safe.
    async fn open_channel(&self) -> Result<russh::Channel<russh::client::Msg>, RunError> {
        let start = Instant::now();
        let mut wait = Duration::from_millis(20);
        loop {
            let why = match self.inner.handle.channel_open_session().await {
                Ok(ch) => return Ok(ch),
                Err(russh::Error::ChannelOpenFailure(why)) => why,
                Err(e) => return Err(RunError::Lost(e.to_string())),
            };
            // Our own permit is one of the taken ones.
            let others_running = self.inner.channels.available_permits() + 1 < MAX_CHANNELS;
            let limit = if others_running {
                OPEN_RETRY_BUSY
            } else {
                OPEN_RETRY_IDLE
            };
            if start.elapsed() >= limit {
                return Err(RunError::Refused(format!("{why:?}")));
            }
            tracing::debug!(
                "{}: session refused ({why:?}); retrying in {wait:?}",
                self.inner.target.name
            );
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_millis(250));
        }
    }

    async fn run_channel(
        &self,
        w: &cmd::Wire,
        limit: Option<Duration>,
        on_line: LineSink<'_>,
    ) -> Result<RawOutput, RunError> {
        let ch = self.open_channel().await?;
        ch.exec(true, w.line.as_bytes())
            .await
            .map_err(|e| RunError::Lost(e.to_string()))?;
        let (mut rd, wr) = ch.split();
        let writer = async {
            // The command may exit without reading its input; a refused write is not an error.
            if let Some(b) = &w.stdin {
                let _ = wr.data(&b[..]).await;
            }
            let _ = wr.eof().await;
        };
        let both = async { tokio::join!(writer, read_all(&mut rd, on_line)).1 };
        let result = match limit {
            None => both.await,
            Some(d) => match tokio::time::timeout(d, both).await {
                Ok(r) => r,
                Err(_) => {
                    // Ask sshd to signal the process, then drop our end; sshd closes its pipes.
                    let _ = wr.signal(Sig::TERM).await;
                    let _ = wr.eof().await;
                    let _ = wr.close().await;
                    return Err(RunError::Timeout);
                }
            },
        };
        let _ = wr.close().await;
        result
    }
}

#[derive(Clone)]
enum RunError {
    Timeout,
    Lost(String),
    /// The server would not open a session channel (its reason, e.g. `ConnectFailed`).
    Refused(String),
    NoStatus,
}

impl RunError {
    fn message(&self, t: &Target, label: &str, limit: Option<Duration>) -> String {
        match self {
            RunError::Timeout => {
                let secs = limit
                    .map(|d| humantime::format_duration(d).to_string())
                    .unwrap_or_default();
                format!("{}: `{label}` timed out after {secs}", t.label())
            }
            RunError::Lost(e) => format!(
                "{}: connection lost while running `{label}`: {e}",
                t.label()
            ),
            RunError::Refused(why) => format!(
                "{}: the server refused a session for `{label}` ({why}) and kept refusing; \
                 check MaxSessions in its sshd_config",
                t.label()
            ),
            RunError::NoStatus => format!(
                "{}: `{label}` ended without an exit status (connection lost?)",
                t.label()
            ),
        }
    }
}

/// Read a channel to its end: stdout, stderr, the exit status; lines to `on_line` as they come.
async fn read_all(
    rd: &mut ChannelReadHalf,
    mut on_line: LineSink<'_>,
) -> Result<RawOutput, RunError> {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (mut out_pending, mut err_pending) = (0usize, 0usize);
    let mut exit = None;
    while let Some(msg) = rd.wait().await {
        match msg {
            ChannelMsg::Data { data } => {
                out.extend_from_slice(&data);
                emit(
                    &out,
                    &mut out_pending,
                    StreamKind::Stdout,
                    &mut on_line,
                    false,
                );
            }
            ChannelMsg::ExtendedData { data, ext: 1 } => {
                err.extend_from_slice(&data);
                emit(
                    &err,
                    &mut err_pending,
                    StreamKind::Stderr,
                    &mut on_line,
                    false,
                );
            }
            ChannelMsg::ExitStatus { exit_status } => exit = Some(exit_status),
            ChannelMsg::ExitSignal { signal_name, .. } => {
                exit = Some(128 + signal_number(&signal_name))
            }
            ChannelMsg::Failure => {
                return Err(RunError::Lost(
                    "the server refused to run the command".into(),
                ))
            }
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    emit(
        &out,
        &mut out_pending,
        StreamKind::Stdout,
        &mut on_line,
        true,
    );
    emit(
        &err,
        &mut err_pending,
        StreamKind::Stderr,
        &mut on_line,
        true,
    );
    match exit {
        Some(exit) => Ok(RawOutput {
            exit,
            stdout: out,
            stderr: err,
        }),
        None => Err(RunError::NoStatus),
    }
}

/// Hand complete lines after `*from` to the callback; with `flush`, the unterminated rest too.
fn emit(buf: &[u8], from: &mut usize, kind: StreamKind, on_line: &mut LineSink<'_>, flush: bool) {
    let Some(f) = on_line.as_mut() else { return };
    while let Some(nl) = buf[*from..].iter().position(|&b| b == b'\n') {
        let line = &buf[*from..*from + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        f(kind, &String::from_utf8_lossy(line));
        *from += nl + 1;
    }
    if flush && *from < buf.len() {
        f(kind, &String::from_utf8_lossy(&buf[*from..]));
        *from = buf.len();
    }
}

fn signal_number(s: &Sig) -> u32 {
    match s {
        Sig::HUP => 1,
        Sig::INT => 2,
        Sig::QUIT => 3,
        Sig::ILL => 4,
        Sig::ABRT => 6,
        Sig::FPE => 8,
        Sig::KILL => 9,
        Sig::USR1 => 10,
        Sig::SEGV => 11,
        Sig::PIPE => 13,
        Sig::ALRM => 14,
        Sig::TERM => 15,
        Sig::Custom(_) => 0,
    }
}

/// sudo's own refusals (as opposed to the command failing), from its stderr.
fn sudo_refusal(stderr: &str, with_password: bool) -> Option<String> {
    let s = stderr.to_ascii_lowercase();
    if with_password
        && (s.contains("incorrect password")
            || s.contains("sorry, try again")
            || s.contains("no password was provided"))
    {
        return Some("the sudo password was rejected (check sudo_password)".into());
    }
    if s.contains("a password is required") {
        return Some(
            "sudo needs a password: set sudo_password for this host, or allow NOPASSWD in sudoers"
                .into(),
        );
    }
    if s.contains("is not in the sudoers file") || s.contains("is not allowed to run sudo") {
        return Some(format!(
            "not allowed to use sudo: {}",
            cmd::tail_lines(stderr, 1)
        ));
    }
    if s.contains("sudo: command not found") || s.contains("sudo: not found") {
        return Some(
            "sudo is not installed on the host (set sudo: false, or log in as root)".into(),
        );
    }
    None
}

/// Per-connection client configuration: keepalive, and host-key algorithms ordered so that the
/// types already recorded for this host are negotiated first (as OpenSSH does); otherwise a
/// host known by its RSA key would present ed25519 and look "changed".
fn client_config(t: &Target, o: &SshOptions) -> russh::client::Config {
    let known: Vec<Algorithm> = known_hosts::entries_for(&t.address, t.port, &o.known_hosts_read)
        .into_iter()
        .filter(|e| !e.revoked)
        .map(|e| e.key.algorithm())
        .collect();
    let mut order: Vec<Algorithm> = Vec::new();
    for alg in Preferred::DEFAULT.key.iter() {
        let is_known = known
            .iter()
            .any(|k| k == alg || (k.clone().is_rsa() && alg.clone().is_rsa()));
        if is_known {
            order.push(alg.clone());
        }
    }
    for alg in Preferred::DEFAULT.key.iter() {
        if !order.contains(alg) {
            order.push(alg.clone());
        }
    }
    russh::client::Config {
        keepalive_interval: Some(KEEPALIVE),
        keepalive_max: KEEPALIVE_MAX,
        nodelay: true,
        preferred: Preferred {
            key: Cow::Owned(order),
            ..Preferred::default()
        },
        ..Default::default()
    }
}

/// The cause of a failed connect, in words.
fn describe(e: ConnectError, key: Option<&KeyOutcome>, t: &Target) -> String {
    if let Some(msg) = key.and_then(refusal_message) {
        return msg;
    }
    match e {
        ConnectError::Auth(f) => f.to_string(),
        ConnectError::Tunnel(e) => match e {
            russh::Error::ChannelOpenFailure(f) => {
                format!(
                    "the bastion could not open a connection to {}:{} ({})",
                    t.address,
                    t.port,
                    f.description()
                )
            }
            e => format!(
                "the bastion could not open a connection to {}:{}: {e}",
                t.address, t.port
            ),
        },
        ConnectError::Transport(e) => transport_cause(&e, t),
    }
}

fn transport_cause(e: &russh::Error, t: &Target) -> String {
    use std::io::ErrorKind;
    match e {
        russh::Error::IO(io) => match io.kind() {
            ErrorKind::ConnectionRefused => format!("connection refused (is sshd listening on port {}?)", t.port),
            ErrorKind::TimedOut => "TCP connection timed out".into(),
            ErrorKind::HostUnreachable => "no route to host".into(),
            ErrorKind::NetworkUnreachable => "network unreachable".into(),
            ErrorKind::NotFound => format!("cannot resolve {}", t.address),
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset => {
                "the host closed the connection during the SSH handshake (not an SSH server, or refusing us)".into()
            }
            _ => format!("{io}"),
        },
        russh::Error::Disconnect | russh::Error::HUP => "the host closed the connection during the SSH handshake".into(),
        russh::Error::UnknownKey => "host key refused".into(),
        russh::Error::NoCommonAlgo { kind, theirs, .. } => {
            format!("no common {kind:?} algorithm with the host (it offers: {})", theirs.join(", "))
        }
        e => format!("SSH error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_emitted_whole_and_flushed() {
        let mut seen: Vec<(StreamKind, String)> = Vec::new();
        let mut cb = |k: StreamKind, l: &str| seen.push((k, l.to_string()));
        let mut f: LineSink<'_> = Some(&mut cb);
        let mut pos = 0;
        let mut buf = b"one\ntw".to_vec();
        emit(&buf, &mut pos, StreamKind::Stdout, &mut f, false);
        buf.extend_from_slice(b"o\r\nthree");
        emit(&buf, &mut pos, StreamKind::Stdout, &mut f, false);
        emit(&buf, &mut pos, StreamKind::Stdout, &mut f, true);
        let lines: Vec<&str> = seen.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(lines, ["one", "two", "three"]);
    }

    #[test]
    fn sudo_refusals_are_recognised() {
        assert!(sudo_refusal(
            "Sorry, try again.\nsudo: 1 incorrect password attempt\n",
            true
        )
        .is_some());
        assert!(sudo_refusal("sudo: a password is required\n", false).is_some());
        assert!(sudo_refusal("grep: x: No such file\n", true).is_none());
    }

    #[test]
    fn ed25519_is_preferred_unless_only_rsa_is_known() {
        let d = tempfile::tempdir().unwrap();
        let kh = d.path().join("kh");
        let rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDHQmb2T1/xht6y8YZpIrJEKeXMYbzxtWWc1Yd+6TrIEkuZ2V6BPGHP64krNypkkNX5JhOSwHMnMB6/9jzzXtsZSyWKodWXQ7KiMIbpxWjvFLLYi5qILe6jMYMHwzJaUaUekcfEfIw5Vl1adomwCMO4Io1fJP0z6Z35B853C+o8bw==";
        std::fs::write(&kh, format!("10.0.0.5 {rsa}\n")).unwrap();
        let t = Target {
            name: "x".into(),
            address: "10.0.0.5".into(),
            port: 22,
            user: "root".into(),
            key_path: None,
            key_pem: None,
            password: None,
            sudo: super::super::SudoMode::None,
            bastion: None,
        };
        let o = SshOptions {
            known_hosts_read: vec![kh],
            known_hosts_write: d.path().join("w"),
            accept_new: false,
            connect_timeout: Duration::from_secs(1),
        };
        let c = client_config(&t, &o);
        assert!(c.preferred.key[0].clone().is_rsa(), "{:?}", c.preferred.key);
        let o2 = SshOptions {
            known_hosts_read: vec![],
            ..o
        };
        assert_eq!(client_config(&t, &o2).preferred.key[0], Algorithm::Ed25519);
    }
}
