//! `foundry host add|list|remove|test`.

use crate::cli::{GlobalOpts, HostAddArgs, HostCmd};
use crate::config::{HostConfig, Role, StackConfig};
use crate::error::{fail, ExitClass};
use crate::host::facts::{self, Facts};
use crate::output;
use crate::paths;
use crate::redact;
use crate::run::log::{RunLog, RunLogHandle};
use crate::ssh::{keygen, Cmd, Pool, Session, SshOptions, SudoMode, Target};
use anyhow::Context;
use futures::StreamExt;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub async fn run(g: &GlobalOpts, cmd: HostCmd) -> anyhow::Result<i32> {
    match cmd {
        HostCmd::Add(a) => add(g, a).await,
        HostCmd::List => list(g),
        HostCmd::Remove { name } => remove(g, &name),
        HostCmd::Test { names } => test(g, &names).await,
    }
}

// ---------------------------------------------------------------- config access

/// The stack as written (validated elsewhere; host commands only need it to parse).
fn load_config(path: &Path) -> anyhow::Result<StackConfig> {
    Ok(crate::config::load::load_cli(path)?.config)
}

/// Replace stack.yaml with an edited text: atomic, mode kept, previous file kept as `.bak`.
fn save_text(path: &Path, text: &str) -> anyhow::Result<()> {
    crate::config::edit::save_edited(path, text)
        .with_context(|| format!("writing {}", path.display()))
}

/// Resolve every `${secret:...}` in a value through the standard chain (environment,
/// ~/.foundryvars, OpenBao). `field` names where the value came from, for the error.
async fn resolve_secret(g: &GlobalOpts, value: &str, field: &str) -> anyhow::Result<String> {
    let refs = crate::secrets::reference::find_refs(value)
        .map_err(|e| fail(ExitClass::Config, format!("{field}: {e}")))?;
    let chain = super::common::chain(g).await?;
    let mut out = value.to_string();
    for r in refs.iter().rev() {
        let v = chain
            .resolve(&g.instance, r)
            .await
            .map_err(|e| fail(ExitClass::Config, format!("{field}: {e}")))?;
        out.replace_range(r.span.clone(), &v);
    }
    Ok(out)
}

fn options(g: &GlobalOpts, cfg: &StackConfig) -> SshOptions {
    SshOptions::standard(
        g.accept_new_host_keys,
        Duration::from_secs(cfg.ssh.connect_timeout.max(1)),
    )
}

fn run_log(command: &str) -> RunLogHandle {
    RunLog::create(&paths::logs_dir(), command).unwrap_or_else(|e| {
        tracing::warn!(
            "cannot create a run log in {}: {e}",
            paths::logs_dir().display()
        );
        RunLog::disabled()
    })
}

fn unknown_host(name: &str, cfg: &StackConfig, path: &Path) -> anyhow::Error {
    let best = cfg
        .hosts
        .iter()
        .map(|h| (strsim::jaro_winkler(name, &h.hostname), &h.hostname))
        .filter(|(s, _)| *s > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let hint = best
        .map(|(_, n)| format!(" (did you mean {n}?)"))
        .unwrap_or_default();
    fail(
        ExitClass::Usage,
        format!("no host named {name} in {}{hint}", path.display()),
    )
}

// ---------------------------------------------------------------- add

fn parse_roles(raw: &[String]) -> anyhow::Result<Vec<Role>> {
    let mut roles = Vec::new();
    for r in raw.iter().map(|r| r.trim()).filter(|r| !r.is_empty()) {
        let Some(role) = Role::parse(r) else {
            let valid: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
            let hint = valid
                .iter()
                .map(|v| (strsim::jaro_winkler(r, v), v))
                .filter(|(s, _)| *s > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, v)| format!("did you mean {v}? "))
                .unwrap_or_default();
            return Err(fail(
                ExitClass::Usage,
                format!(
                    "unknown role {r:?}: {hint}valid roles: {}",
                    valid.join(", ")
                ),
            ));
        };
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    Ok(roles)
}

/// Host names end up in file names (`~/.foundry/keys/<name>`) and Kubernetes node names.
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && !name.starts_with(['-', '.'])
        && !name.ends_with(['-', '.']);
    if ok {
        Ok(())
    } else {
        Err(fail(ExitClass::Usage, format!("invalid host name {name:?}: use lower-case letters, digits, '-' and '.' (at most 63)")))
    }
}

/// `~/x` when `p` is under HOME, so stack.yaml stays portable between operators' machines.
fn tilde(p: &Path) -> String {
    match p.strip_prefix(paths::home()) {
        Ok(rest) => format!("~/{}", rest.display()),
        Err(_) => p.display().to_string(),
    }
}

async fn add(g: &GlobalOpts, a: HostAddArgs) -> anyhow::Result<i32> {
    let path = g.config_path();
    let cfg = load_config(&path)?;
    check_name(&a.name)?;
    let roles = parse_roles(&a.roles)?;
    if a.key.is_some() && a.bootstrap_password.is_some() {
        return Err(fail(
            ExitClass::Usage,
            "--key and --bootstrap-password exclude each other: the bootstrap generates the host's key",
        ));
    }
    if cfg.host(&a.name).is_some() {
        return Err(fail(
            ExitClass::Usage,
            format!("host {} already exists in {}", a.name, path.display()),
        ));
    }
    if let Some(other) = cfg
        .hosts
        .iter()
        .find(|h| h.address == a.address && h.port == a.port.unwrap_or(22))
    {
        g.warn(&format!(
            "host {} already uses {}:{}",
            other.hostname, a.address, other.port
        ));
    }
    let mut host = HostConfig {
        hostname: a.name.clone(),
        address: a.address.clone(),
        port: a.port.unwrap_or(22),
        user: a.user.clone(),
        roles,
        labels: BTreeMap::new(),
        taints: Vec::new(),
        ssh_key: a.key.clone(),
        password: None,
        sudo: None,
        sudo_password: None,
        bastion: None,
    };
    if let Some(pw) = &a.bootstrap_password {
        let pw = bootstrap_password(g, pw).await?;
        host.ssh_key = Some(bootstrap(g, &cfg, &host, &pw).await?);
    }
    let source = std::fs::read_to_string(&path)?;
    let edited = crate::config::edit::append_host(&source, &serde_yaml::to_string(&host)?)?;
    save_text(&path, &edited)?;
    let roles: Vec<&str> = host.roles.iter().map(|r| r.as_str()).collect();
    println!(
        "added host {} ({}:{}{}) to {}; check it with `foundry host test {}`",
        host.hostname,
        host.address,
        host.port,
        if roles.is_empty() {
            String::new()
        } else {
            format!(", roles: {}", roles.join(","))
        },
        path.display(),
        host.hostname
    );
    Ok(0)
}

/// The bootstrap password: the flag's value (a literal or a secret reference), else a prompt.
async fn bootstrap_password(g: &GlobalOpts, value: &str) -> anyhow::Result<String> {
    let pw = if value.is_empty() {
        if g.yes {
            return Err(fail(
                ExitClass::Usage,
                "--bootstrap-password needs a value (or a ${secret:...} reference) with --yes",
            ));
        }
        if unsafe { libc::isatty(0) } != 1 {
            return Err(fail(
                ExitClass::Usage,
                "--bootstrap-password needs a value: standard input is not a terminal to prompt on",
            ));
        }
        super::prompt::read_hidden("bootstrap password: ")?
    } else {
        resolve_secret(g, value, "--bootstrap-password").await?
    };
    if pw.is_empty() {
        return Err(fail(ExitClass::Usage, "the bootstrap password is empty"));
    }
    redact::register(&pw);
    Ok(pw)
}

/// Log in with the password, install a new foundry key, prove the key works. Returns the
/// value for the host's `ssh_key`: a reference to the key in OpenBao once the stack has one
/// (`<instance>/ssh-keys/<host>`), else the key file under `~/.foundry/keys/` (0600).
async fn bootstrap(
    g: &GlobalOpts,
    cfg: &StackConfig,
    host: &HostConfig,
    password: &str,
) -> anyhow::Result<String> {
    let store = super::common::openbao_store(g).await?;
    let key_file = paths::keys_dir().join(&host.hostname);
    if store.is_none() && key_file.exists() {
        return Err(fail(
            ExitClass::Usage,
            format!("{} already exists: remove it (and the matching authorized_keys line on the host) or use --key", key_file.display()),
        ));
    }
    let opts = options(g, cfg);
    let log = run_log("host-add");
    let mut with_pw = host.clone();
    with_pw.password = Some(password.to_string());
    with_pw.ssh_key = None;
    let mut target = Target::from_host(&with_pw, &cfg.ssh);
    // No configured key: the password is tried after any agent/default keys. Whichever gets
    // in, the new key is then installed and proven alone below.
    target.key_path = None;
    let session = Session::connect(&target, &opts, log.clone()).await?;
    let key = keygen::generate_ed25519(&format!("foundry@{}", host.hostname))?;
    let added = keygen::authorize_key(&session, &key.public_openssh).await;
    session.close().await;
    let added = added?;
    let mut key_only = target.clone();
    key_only.password = None;
    let (ssh_key, kept_in) = match &store {
        Some(st) => {
            let pem = key
                .key
                .to_openssh(russh::keys::ssh_key::LineEnding::LF)
                .context("encoding the private key")?
                .to_string();
            redact::register(pem.trim());
            st.put_ssh_key(&host.hostname, &pem, &key.public_openssh)
                .await?;
            key_only.key_pem = Some(pem);
            key_only.key_path = None;
            (
                format!("${{secret:ssh-keys/{}:private}}", host.hostname),
                format!("OpenBao {}/ssh-keys/{}", g.instance, host.hostname),
            )
        }
        None => {
            keygen::save_private_key(&key, &key_file)?;
            key_only.key_path = Some(key_file.clone());
            (tilde(&key_file), key_file.display().to_string())
        }
    };
    eprintln!(
        "{} the foundry key in {}@{}:~/.ssh/authorized_keys; private key kept in {kept_in}",
        if added { "installed" } else { "found" },
        target.user,
        host.address,
    );

    // Prove it: a fresh connection with the new key and nothing else.
    let check = async {
        let s = Session::connect(&key_only, &opts, log.clone()).await?;
        let out = s.exec(&Cmd::read("true").label("key login check")).await;
        s.close().await;
        out?.check("key login check")
    };
    check.await.with_context(|| {
        format!(
            "{}: the new key was installed but logging in with it failed",
            target.label()
        )
    })?;
    Ok(ssh_key)
}

// ---------------------------------------------------------------- list / remove

#[derive(Serialize)]
struct HostRow {
    name: String,
    address: String,
    port: u16,
    user: String,
    roles: Vec<String>,
}

fn list(g: &GlobalOpts) -> anyhow::Result<i32> {
    let cfg = load_config(&g.config_path())?;
    let rows: Vec<HostRow> = cfg
        .hosts
        .iter()
        .map(|h| HostRow {
            name: h.hostname.clone(),
            address: h.address.clone(),
            port: h.port,
            user: h.user.clone().unwrap_or_else(|| cfg.ssh.user.clone()),
            roles: h.roles.iter().map(|r| r.to_string()).collect(),
        })
        .collect();
    let table = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.address.clone(),
                r.port.to_string(),
                r.user.clone(),
                r.roles.join(","),
            ]
        })
        .collect();
    output::render(
        g.output,
        &["NAME", "ADDRESS", "PORT", "USER", "ROLES"],
        table,
        &rows,
    )?;
    Ok(0)
}

fn remove(g: &GlobalOpts, name: &str) -> anyhow::Result<i32> {
    let path = g.config_path();
    let cfg = load_config(&path)?;
    if cfg.host(name).is_none() {
        return Err(unknown_host(name, &cfg, &path));
    }
    let source = std::fs::read_to_string(&path)?;
    save_text(&path, &crate::config::edit::remove_host(&source, name)?)?;
    println!("removed host {name} from {}", path.display());
    let key = paths::keys_dir().join(name);
    if key.exists() {
        eprintln!(
            "note: its foundry key {} was kept (delete it when the host no longer trusts it)",
            key.display()
        );
    }
    Ok(0)
}

// ---------------------------------------------------------------- test

#[derive(Serialize)]
struct TestRow {
    name: String,
    address: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    facts: Option<Facts>,
}

async fn test(g: &GlobalOpts, names: &[String]) -> anyhow::Result<i32> {
    let path = g.config_path();
    // Validated, with every secret reference (password, sudo_password) resolved.
    let cfg = super::common::load_resolved_unchecked(g).await?;
    for n in names {
        if cfg.host(n).is_none() {
            return Err(unknown_host(n, &cfg, &path));
        }
    }
    let selected: Vec<&HostConfig> = cfg
        .hosts
        .iter()
        .filter(|h| names.is_empty() || names.contains(&h.hostname))
        .collect();
    if selected.is_empty() {
        return Err(fail(
            ExitClass::Config,
            format!("no hosts in {}", path.display()),
        ));
    }
    let log = run_log("host-test");
    let pool = Pool::new(options(g, &cfg), log, cfg.ssh.parallel);
    let parallel = cfg.ssh.parallel.max(1);
    let rows: Vec<TestRow> = futures::stream::iter(selected.into_iter().map(|h| {
        let pool = pool.clone();
        let defaults = cfg.ssh.clone();
        async move {
            let outcome = async {
                let target = Target::from_host(h, &defaults);
                let session = pool.get(&target).await?;
                let f = facts::gather_with_versions(&session).await?;
                if !f.sudo_ok {
                    let why = match &target.sudo {
                        SudoMode::None => format!("user {} is not root and sudo is disabled for this host", f.user),
                        SudoMode::Passwordless => format!("`sudo -n true` failed for user {} (needs a password? set sudo_password)", f.user),
                        SudoMode::Password(_) => format!("sudo as {} failed with the configured sudo_password", f.user),
                    };
                    return Err::<Facts, anyhow::Error>(fail(ExitClass::Connection, format!("{}: {why}", target.label())).context(FactsKept(f)));
                }
                Ok(f)
            }
            .await;
            match outcome {
                Ok(f) => TestRow { name: h.hostname.clone(), address: h.address.clone(), status: "ok", error: None, facts: Some(f) },
                Err(e) => TestRow {
                    name: h.hostname.clone(),
                    address: h.address.clone(),
                    status: "FAILED",
                    facts: e.downcast_ref::<FactsKept>().map(|k| k.0.clone()),
                    error: Some(redact::scrub(&root_message(&e))),
                },
            }
        }
    }))
    .buffered(parallel)
    .collect()
    .await;
    pool.close_all().await;

    let table = rows
        .iter()
        .map(|r| {
            let f = r.facts.as_ref();
            let get = |x: fn(&Facts) -> String| f.map(x).unwrap_or_default();
            vec![
                r.name.clone(),
                r.address.clone(),
                r.status.to_string(),
                get(|f| format!("{} {}", f.os_id, f.os_version).trim().to_string()),
                get(|f| f.arch.clone()),
                get(|f| f.init.clone()),
                get(|f| {
                    if f.runtimes.is_empty() {
                        "none".into()
                    } else {
                        f.runtimes
                            .iter()
                            .map(|r| format!("{} {}", serde_plain(&r.kind), r.version))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                }),
                get(|f| format!("{} MiB", f.free_disk_mb)),
                get(|f| if f.sudo_ok { "ok".into() } else { "no".into() }),
                r.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    output::render(
        g.output,
        &[
            "HOST", "ADDRESS", "STATUS", "OS", "ARCH", "INIT", "RUNTIME", "FREE /", "SUDO", "CAUSE",
        ],
        table,
        &rows,
    )?;
    let failed = rows.iter().filter(|r| r.status != "ok").count();
    if failed > 0 {
        eprintln!("{failed} of {} host(s) FAILED", rows.len());
        return Ok(ExitClass::Connection.code());
    }
    Ok(0)
}

/// Facts gathered before a host was judged failed (sudo broken), kept for the row.
#[derive(Debug)]
struct FactsKept(Facts);

impl std::fmt::Display for FactsKept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("host facts")
    }
}

/// The message without the FactsKept context wrapper.
fn root_message(e: &anyhow::Error) -> String {
    if e.downcast_ref::<FactsKept>().is_some() {
        e.chain()
            .nth(1)
            .map(|c| c.to_string())
            .unwrap_or_else(|| e.to_string())
    } else {
        format!("{e:#}")
    }
}

fn serde_plain<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_validated_with_a_hint() {
        assert_eq!(
            parse_roles(&["zot".into(), "openbao".into(), "zot".into()]).unwrap(),
            vec![Role::Zot, Role::Openbao]
        );
        let e = parse_roles(&["cluster-workr".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean cluster-worker?"), "{e}");
    }

    #[test]
    fn names_must_be_file_and_node_safe() {
        assert!(check_name("node-1.lan").is_ok());
        for bad in ["", "-a", "a/b", "A", "a b", "../x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
