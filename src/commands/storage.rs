//! `foundry storage configure|list|test|remove`: TrueNAS over its JSON-RPC API (no SSH).

use super::common;
use crate::cli::{GlobalOpts, OutputFormat, StorageCmd, StorageConfigureArgs, StorageRemoveArgs};
use crate::config::edit::{save_edited, set_value, write_atomic};
use crate::config::load::{load, load_str};
use crate::config::validate::{validate, Severity};
use crate::config::{StackConfig, TruenasConfig};
use crate::error::{fail, ExitClass};
use crate::redact;
use crate::run::log::{RunLog, RunLogHandle};
use crate::secrets::file;
use crate::truenas::remove;
use crate::truenas::selftest::{self, Outcome, StepReport};
use crate::truenas::size::human;
use crate::truenas::stack_edit::remove_dataset_entry;
use crate::truenas::{to_failure, Client, Settings, TruenasError, Trust};
use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::json;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Where the API key is kept (`${secret:truenas:api_key}`).
const KEY_PATH: &str = "truenas";
const KEY_NAME: &str = "api_key";

pub async fn run(g: &GlobalOpts, cmd: StorageCmd) -> Result<i32> {
    match cmd {
        StorageCmd::Configure(a) => configure(g, a).await,
        StorageCmd::List => list(g).await,
        StorageCmd::Test => test(g).await,
        StorageCmd::Remove(a) => remove(g, a).await,
    }
}

fn run_log(command: &str) -> Result<RunLogHandle> {
    let log = RunLog::create(&crate::paths::logs_dir(), command)?;
    log.event(None, "start", json!({ "command": command }));
    Ok(log)
}

/// The stack (validated) and its `storage.truenas` with the API key resolved. Only the key is
/// looked up: storage commands must not need the hosts' secrets.
async fn truenas_stack(g: &GlobalOpts) -> Result<(StackConfig, TruenasConfig)> {
    let stack = common::load_checked(g)?.config;
    let mut t = stack.storage.truenas.clone().ok_or_else(|| {
        fail(
            ExitClass::Config,
            format!(
                "{} has no storage.truenas; run `foundry storage configure`",
                g.config_path().display()
            ),
        )
    })?;
    let refs = crate::secrets::find_refs(&t.api_key)
        .map_err(|e| fail(ExitClass::Config, format!("storage.truenas.api_key: {e}")))?;
    if !refs.is_empty() {
        let chain = common::chain_for(Some(&stack), &g.instance);
        let mut values = Vec::new();
        for r in &refs {
            let v = chain
                .resolve(&g.instance, r)
                .await
                .map_err(|e| fail(ExitClass::Config, format!("storage.truenas.api_key: {e}")))?;
            redact::register(&v);
            values.push(v);
        }
        let mut it = values.into_iter();
        t.api_key = crate::secrets::reference::replace_refs(&t.api_key, &refs, |_| {
            it.next().unwrap_or_default()
        });
    }
    Ok((stack, t))
}

// ---- test ----------------------------------------------------------------------------------

fn print_step(r: &StepReport) {
    let mark = match r.outcome {
        Outcome::Ok => "ok  ",
        Outcome::Failed => "FAIL",
        Outcome::Skipped => "skip",
    };
    println!("{mark} {:<40} {} ({} ms)", r.step, r.detail, r.ms);
    std::io::stdout().flush().ok();
}

async fn test(g: &GlobalOpts) -> Result<i32> {
    let (_, t) = truenas_stack(g).await?;
    let settings = Settings::from_config(&t)?;
    let log = run_log("storage-test")?;
    // Ctrl-C: no create starts after it; a create already sent is still cleaned up (the
    // listener replaces the default handler, so the process is not killed mid-cleanup).
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
            eprintln!("\ninterrupted: cleaning up the temporary dataset, then stopping");
        }
    });
    let table = g.output == OutputFormat::Table;
    let mut on_step = |r: &StepReport| {
        if table {
            print_step(r)
        }
    };
    let res = selftest::run(settings, &t.pool, log, &interrupted, &mut on_step).await;
    if !table {
        crate::output::render(g.output, &[], vec![], &res.steps)?;
    }
    if let Some(e) = res.error {
        return Err(to_failure(anyhow::Error::new(e)));
    }
    if interrupted.load(Ordering::SeqCst) {
        return Err(fail(ExitClass::Interrupted, "interrupted"));
    }
    Ok(0)
}

// ---- list ----------------------------------------------------------------------------------

#[derive(Serialize)]
struct ShareView {
    id: i64,
    path: String,
    networks: Vec<String>,
    hosts: Vec<String>,
    read_only: bool,
    enabled: bool,
}

#[derive(Serialize)]
struct DatasetRow {
    name: String,
    #[serde(rename = "type")]
    kind: crate::truenas::DatasetKind,
    used: Option<u64>,
    available: Option<u64>,
    quota: Option<u64>,
    compression: Option<String>,
    /// Listed in stack.yaml (foundry manages it).
    in_stack: bool,
    nfs: Vec<ShareView>,
}

#[derive(Serialize)]
struct Listing {
    url: String,
    api_version: String,
    pool: Option<crate::truenas::Pool>,
    nfs_service: Option<crate::truenas::Service>,
    datasets: Vec<DatasetRow>,
}

async fn list(g: &GlobalOpts) -> Result<i32> {
    let (_, t) = truenas_stack(g).await?;
    let settings = Settings::from_config(&t)?;
    let log = run_log("storage-list")?;
    let c = Client::connect(settings, log)
        .await
        .map_err(|e| to_failure(e.into()))?;
    let read = async {
        let pool = c.pools().await?.into_iter().find(|p| p.name == t.pool);
        let datasets = c.datasets(&t.pool).await?;
        let shares = c.nfs_shares().await?;
        let nfs = c.service("nfs").await?;
        Ok::<_, TruenasError>((pool, datasets, shares, nfs))
    };
    let (pool, datasets, shares, nfs) = read.await.map_err(|e| to_failure(e.into()))?;
    let managed: Vec<String> = t
        .datasets
        .iter()
        .map(|d| format!("{}/{}", t.pool, d.name.trim_matches('/')))
        .collect();
    let rows: Vec<DatasetRow> = datasets
        .into_iter()
        .map(|d| DatasetRow {
            in_stack: managed.contains(&d.id),
            nfs: shares
                .iter()
                .filter(|s| d.mountpoint.as_deref() == Some(s.path.as_str()))
                .map(|s| ShareView {
                    id: s.id,
                    path: s.path.clone(),
                    networks: s.networks.clone(),
                    hosts: s.hosts.clone(),
                    read_only: s.ro,
                    enabled: s.enabled,
                })
                .collect(),
            name: d.id,
            kind: d.kind,
            used: d.used,
            available: d.available,
            quota: d.quota,
            compression: d.compression,
        })
        .collect();
    let listing = Listing {
        url: c.url().to_string(),
        api_version: c.api_version().to_string(),
        pool,
        nfs_service: nfs,
        datasets: rows,
    };
    c.close();
    if g.output != OutputFormat::Table {
        crate::output::render(g.output, &[], vec![], &listing)?;
        return Ok(0);
    }
    let size = |b: Option<u64>| b.map(human).unwrap_or_else(|| "-".into());
    match &listing.pool {
        Some(p) => println!(
            "TrueNAS {} (API {}): pool {} {}, {} free; NFS service {}",
            listing.url,
            listing.api_version,
            p.name,
            p.status,
            size(p.free),
            listing
                .nfs_service
                .as_ref()
                .map(|s| format!(
                    "{:?}{}",
                    s.state,
                    if s.enable {
                        ""
                    } else {
                        " (not started at boot)"
                    }
                )
                .to_lowercase())
                .unwrap_or_else(|| "unknown".into())
        ),
        None => println!(
            "TrueNAS {} (API {}): pool {} does not exist",
            listing.url, listing.api_version, t.pool
        ),
    }
    let rows = listing
        .datasets
        .iter()
        .map(|d| {
            let nfs = if d.nfs.is_empty() {
                "-".to_string()
            } else {
                d.nfs
                    .iter()
                    .map(|s| {
                        let mut who: Vec<String> = s.networks.clone();
                        who.extend(s.hosts.iter().cloned());
                        let who = if who.is_empty() {
                            "everyone".into()
                        } else {
                            who.join(", ")
                        };
                        format!(
                            "{who}{}{}",
                            if s.read_only { " (ro)" } else { "" },
                            if s.enabled { "" } else { " (disabled)" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            vec![
                d.name.clone(),
                format!("{:?}", d.kind).to_lowercase(),
                size(d.used),
                size(d.available),
                d.quota.map(human).unwrap_or_else(|| "none".into()),
                nfs,
                if d.in_stack { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    println!(
        "{}",
        crate::output::table(
            &[
                "DATASET",
                "TYPE",
                "USED",
                "AVAILABLE",
                "QUOTA",
                "NFS",
                "IN STACK"
            ],
            rows
        )
    );
    Ok(0)
}

// ---- remove --------------------------------------------------------------------------------

/// The stack.yaml text without the entry, checked to load and validate (nothing is contacted
/// or written when it does not).
fn edited_stack(path: &std::path::Path, source: &str, index: usize) -> Result<String> {
    let text = remove_dataset_entry(source, index).map_err(|e| {
        fail(
            ExitClass::Config,
            format!(
                "cannot remove the entry from {} in place: {e}; nothing changed",
                path.display()
            ),
        )
    })?;
    check_edited(
        path,
        &text,
        "stack.yaml without the entry does not load",
        "stack.yaml without the entry would not be valid",
        "nothing changed",
    )?;
    Ok(text)
}

/// An edit of stack.yaml is written only when the result loads and validates: `unloadable` /
/// `invalid` start the message, `outcome` says what was (not) done.
fn check_edited(
    path: &std::path::Path,
    text: &str,
    unloadable: &str,
    invalid: &str,
    outcome: &str,
) -> Result<()> {
    let loaded = load_str(path, text)
        .map_err(|e| fail(ExitClass::Config, format!("{unloadable} ({e}); {outcome}")))?;
    let errors: Vec<String> = validate(&loaded)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("  {}: {}", f.path, f.message))
        .collect();
    if !errors.is_empty() {
        return Err(fail(
            ExitClass::Config,
            format!("{invalid}; {outcome}:\n{}", errors.join("\n")),
        ));
    }
    Ok(())
}

async fn remove(g: &GlobalOpts, a: StorageRemoveArgs) -> Result<i32> {
    let (_, t) = truenas_stack(g).await?;
    let path = g.config_path();
    let shown_path = path.display().to_string();
    let target = remove::resolve(&t, &a.dataset).map_err(|e| fail(ExitClass::Usage, e))?;
    if a.destroy_data {
        let inside = remove::configured_inside(&t, &target);
        if !inside.is_empty() {
            return Err(fail(
                ExitClass::Usage,
                format!(
                    "destroying {} would destroy {} too, which stack.yaml still lists: remove {} first; nothing changed",
                    target.id,
                    inside.join(", "),
                    if inside.len() == 1 { "it" } else { "them" }
                ),
            ));
        }
    }
    let source = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    edited_stack(&path, &source, target.index)?;
    let gate = remove::gate(
        a.destroy_data,
        a.dry_run,
        g.yes,
        a.confirm.as_deref(),
        std::io::stdin().is_terminal(),
        &target.id,
    )
    .map_err(|e| fail(ExitClass::Usage, e))?;

    let settings = Settings::from_config(&t)?;
    let log = run_log("storage-remove")?;
    let c = Client::connect(settings, log.clone())
        .await
        .map_err(|e| to_failure(e.into()))?;
    let r = remove::read(&c, &target, a.destroy_data)
        .await
        .map_err(|e| to_failure(e.into()))?;

    let mut out = RemoveOutput::new(g, &target.id, c.url(), a.dry_run, &r.steps(&shown_path));
    out.say(format!(
        "{} {} (TrueNAS {}):",
        if a.dry_run {
            "would remove"
        } else {
            "removing"
        },
        target.id,
        c.url()
    ));
    for step in r.steps(&shown_path) {
        out.say(format!("  - {step}"));
    }
    if let Some(loss) = r.loss_text() {
        out.say(loss.trim_end().to_string());
    }
    let keep_note = |done: bool| {
        let verb = if done { "is kept" } else { "would be kept" };
        match &r.dataset {
            Some(d) => format!(
                "The data {verb}: dataset {} ({} used) stays on TrueNAS, no longer shared over NFS and no longer managed by foundry (which never touches a dataset stack.yaml does not list). To destroy it, run `foundry storage remove {} --destroy-data` while it is still in stack.yaml, or delete it in TrueNAS (Datasets → {} → Delete).",
                d.id,
                d.used.map(human).unwrap_or_else(|| "?".into()),
                target.name,
                d.id
            ),
            None => format!("Dataset {} does not exist on TrueNAS (nothing kept, nothing to destroy).", target.id),
        }
    };
    if a.dry_run {
        c.close();
        if !a.destroy_data {
            out.say(keep_note(false));
        }
        out.say("dry run: nothing changed".into());
        out.finish(false);
        return Ok(0);
    }
    if let remove::Gate::Ask(word) = &gate {
        let question = if r.destroys() {
            format!("Destroy {} and everything in it?", target.id)
        } else {
            format!(
                "Delete the NFS share of {} and remove it from stack.yaml (the data is kept)?",
                target.id
            )
        };
        super::prompt::confirm_typed(
            false,
            word,
            &question,
            format!("removing {} needs confirmation and standard input is not a terminal; nothing changed", target.id),
            format!("{} not removed: not confirmed; nothing changed", target.id),
        )?;
    }

    let mut done: Vec<String> = Vec::new();
    let res = remove::execute(&c, &r, &mut |line| {
        out.say(line.clone());
        done.push(line);
    })
    .await;
    c.close();
    if let Err(e) = res {
        let class = e.class();
        let unknown = matches!(
            e,
            TruenasError::ConnectionLost { .. } | TruenasError::Timeout { .. }
        );
        let so_far = match (done.is_empty(), unknown) {
            (true, false) => "nothing was changed".to_string(),
            (true, true) => "no step is known to be done".to_string(),
            (false, _) => format!("done: {}", done.join("; ")),
        };
        return Err(fail(
            class,
            redact::scrub(&format!(
                "{e}\n{so_far}; stack.yaml still lists `{}`. Run the same command again to finish: it reads the state first and skips what is already done",
                target.name
            )),
        ));
    }

    // stack.yaml last, from the file as it is now.
    let now = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    // The file may have been edited meanwhile: find the entry again by its name.
    let index = match load_str(&path, &now).map(|l| l.config.storage.truenas) {
        Ok(Some(t)) => remove::resolve(&t, &target.name).ok().map(|t| t.index),
        Ok(None) => None,
        // Not loadable now: edited_stack reports why.
        Err(_) => Some(target.index),
    };
    match index {
        None => out.say(format!(
            "`{}` is no longer in storage.truenas.datasets of {shown_path}: nothing to remove there",
            target.name
        )),
        Some(index) => {
            let text = edited_stack(&path, &now, index).map_err(|e| {
                fail(
                    ExitClass::Config,
                    format!(
                        "{e:#} (TrueNAS is done: {}); remove `{}` from storage.truenas.datasets by hand",
                        done.join("; "),
                        target.name
                    ),
                )
            })?;
            save_edited(&path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            log.event(
                None,
                "stack_edit",
                json!({"file": shown_path, "removed": format!("storage.truenas.datasets[{index}] ({})", target.name)}),
            );
            out.say(format!(
                "removed `{}` from storage.truenas.datasets in {shown_path}",
                target.name
            ));
            out.stack_edited = true;
        }
    }
    if !r.destroy {
        out.say(keep_note(true));
    }
    out.doc["done"] = json!(done);
    out.finish(true);
    Ok(0)
}

/// What `storage remove` says: line by line on the terminal, or (`-o json`) one document at
/// the end: the dataset, the planned steps, what was done, whether stack.yaml was edited, and
/// the same sentences as `notes`. Errors are the usual error object (main).
struct RemoveOutput {
    json: bool,
    doc: serde_json::Value,
    notes: Vec<String>,
    stack_edited: bool,
}

impl RemoveOutput {
    fn new(g: &GlobalOpts, id: &str, url: &str, dry_run: bool, steps: &[String]) -> RemoveOutput {
        RemoveOutput {
            json: matches!(g.output, OutputFormat::Json),
            doc: json!({"dataset": id, "truenas": url, "dry_run": dry_run, "steps": steps}),
            notes: Vec::new(),
            stack_edited: false,
        }
    }

    fn say(&mut self, line: String) {
        if self.json {
            self.notes.push(line);
        } else {
            println!("{line}");
            std::io::stdout().flush().ok();
        }
    }

    /// `applied`: the steps ran (not a dry run).
    fn finish(mut self, applied: bool) {
        if !self.json {
            return;
        }
        self.doc["applied"] = json!(applied);
        self.doc["stack_edited"] = json!(self.stack_edited);
        self.doc["notes"] = json!(self.notes);
        println!(
            "{}",
            serde_json::to_string_pretty(&self.doc).unwrap_or_default()
        );
    }
}

// ---- configure -----------------------------------------------------------------------------

fn prompt(label: &str, default: Option<&str>) -> Result<String> {
    let mut err = std::io::stderr();
    match default {
        Some(d) => write!(err, "{label} [{d}]: ")?,
        None => write!(err, "{label}: ")?,
    }
    err.flush()?;
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        return Err(fail(ExitClass::Usage, format!("no answer for {label}")));
    }
    let t = line.trim();
    Ok(if t.is_empty() {
        default.unwrap_or("").to_string()
    } else {
        t.to_string()
    })
}

/// A value from the flag, stack.yaml, a prompt, or a default; else a usage error naming the flag.
fn pick(
    interactive: bool,
    flag: Option<String>,
    existing: Option<String>,
    label: &str,
    default: Option<&str>,
    flag_name: &str,
) -> Result<String> {
    if let Some(v) = flag.filter(|v| !v.is_empty()) {
        return Ok(v);
    }
    let fallback = existing.filter(|v| !v.is_empty());
    if interactive {
        let d = fallback.as_deref().or(default);
        let v = prompt(label, d)?;
        if !v.is_empty() {
            return Ok(v);
        }
    }
    fallback.or(default.map(str::to_string)).ok_or_else(|| {
        fail(
            ExitClass::Usage,
            format!("{flag_name} is required without a terminal (or with --yes)"),
        )
    })
}

fn read_key(a: &StorageConfigureArgs, interactive: bool) -> Result<String> {
    let key = if a.api_key_stdin {
        let mut s = String::new();
        std::io::stdin().lock().read_to_string(&mut s)?;
        s.trim().to_string()
    } else if interactive {
        super::prompt::read_hidden("TrueNAS API key (input hidden): ")?
            .trim()
            .to_string()
    } else {
        return Err(fail(
            ExitClass::Usage,
            "give the API key on standard input with --api-key-stdin (or run on a terminal)",
        ));
    };
    if key.is_empty() {
        return Err(fail(ExitClass::Usage, "the API key is empty"));
    }
    redact::register(&key);
    Ok(key)
}

async fn configure(g: &GlobalOpts, a: StorageConfigureArgs) -> Result<i32> {
    let path = g.config_path();
    let source = std::fs::read_to_string(&path).map_err(|e| {
        fail(
            ExitClass::Config,
            format!(
                "cannot read {} ({e}); create it first with `foundry config init`",
                path.display()
            ),
        )
    })?;
    let existing = load(&path).ok().and_then(|l| l.config.storage.truenas);
    let interactive = !g.yes && std::io::stdin().is_terminal() && !a.api_key_stdin;
    let ex = |f: fn(&TruenasConfig) -> Option<String>| existing.as_ref().and_then(f);
    let url = pick(
        interactive,
        a.url.clone(),
        ex(|t| Some(t.url.clone())),
        "TrueNAS URL (https://…)",
        None,
        "--url",
    )?;
    let user = pick(
        interactive,
        a.user.clone(),
        ex(|t| Some(t.user.clone())),
        "API key owner",
        Some("truenas_admin"),
        "--user",
    )?;
    let key = read_key(&a, interactive)?;
    let mut fingerprint = a
        .tls_fingerprint
        .clone()
        .or(ex(|t| t.tls_fingerprint.clone()));
    let ca_file = a.ca_file.clone().or(ex(|t| t.ca_file.clone()));

    let log = run_log("storage-configure")?;
    let client = loop {
        let trust = Trust::from_settings(None, fingerprint.as_deref(), ca_file.as_deref())
            .map_err(|e| fail(ExitClass::Usage, e))?;
        let settings = Settings {
            url: url.clone(),
            user: user.clone(),
            api_key: key.clone(),
            trust,
            call_timeout: std::time::Duration::from_secs(60),
            connect_timeout: std::time::Duration::from_secs(15),
        };
        match Client::connect(settings, log.clone()).await {
            Ok(c) => break c,
            Err(TruenasError::Untrusted {
                fingerprint: fp,
                cause,
                ..
            }) if interactive && fingerprint.is_none() => {
                eprintln!("{url} presented a certificate foundry does not trust ({cause}).\nIts sha256 fingerprint is {fp}\nCompare it with the one in TrueNAS (System → Certificates).");
                if prompt("Trust exactly this certificate? [y/N]", None)?.eq_ignore_ascii_case("y")
                {
                    fingerprint = Some(fp);
                    continue;
                }
                return Err(fail(
                    ExitClass::Connection,
                    "certificate not trusted; nothing written",
                ));
            }
            Err(e) => return Err(to_failure(e.into())),
        }
    };
    println!(
        "connected to {url} (API {}), logged in as {user}",
        client.api_version()
    );
    let me = client.me().await.map_err(|e| to_failure(e.into()))?;
    let pools = client.pools().await.map_err(|e| to_failure(e.into()))?;
    let names: Vec<String> = pools.iter().map(|p| p.name.clone()).collect();
    let only = (names.len() == 1).then(|| names[0].clone());
    let pool = pick(
        interactive,
        a.pool.clone(),
        ex(|t| Some(t.pool.clone())).or(only),
        &format!("Pool ({})", names.join(", ")),
        None,
        "--pool",
    )?;
    if !names.contains(&pool) {
        return Err(fail(
            ExitClass::Config,
            format!(
                "pool `{pool}` does not exist on {url} (pools: {}); nothing written",
                names.join(", ")
            ),
        ));
    }
    println!(
        "the key works: auth.me is {}, pool {pool} is readable",
        me["pw_name"].as_str().unwrap_or("?")
    );
    let base = format!("{pool}/{}", a.dataset.trim_matches('/'));
    match client
        .dataset(&base)
        .await
        .map_err(|e| to_failure(e.into()))?
    {
        Some(_) => println!("dataset {base} exists"),
        None => {
            client
                .create_dataset(json!({"name": base, "type": "FILESYSTEM", "create_ancestors": true, "comments": "managed by foundry"}))
                .await
                .map_err(|e| to_failure(e.into()))?;
            println!("created dataset {base}");
        }
    }
    client.close();

    let place = store_key(g, &key).await?;
    println!(
        "stored the API key as ${{secret:{KEY_PATH}:{KEY_NAME}}} (instance {}) in {place}",
        g.instance
    );

    let mut text = source.clone();
    let mut set = |field: &str, value: &str| -> Result<()> {
        text = set_value(&text, &format!("storage.truenas.{field}"), value)?;
        Ok(())
    };
    set("url", &url)?;
    set("user", &user)?;
    set("api_key", &format!("${{secret:{KEY_PATH}:{KEY_NAME}}}"))?;
    set("pool", &pool)?;
    if let Some(fp) = &fingerprint {
        set("tls_fingerprint", fp)?;
    }
    if let Some(ca) = &ca_file {
        set("ca_file", ca)?;
    }
    if existing.as_ref().is_none_or(|t| t.datasets.is_empty()) {
        set(
            "datasets",
            &format!("[{{name: {}}}]", a.dataset.trim_matches('/')),
        )?;
    }
    check_edited(
        &path,
        &text,
        "the edited stack does not load",
        "the edited stack is not valid",
        "nothing written",
    )?;
    if text != source {
        write_atomic(&path, text.as_bytes(), 0o600, true)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote storage.truenas to {}", path.display());
    } else {
        println!("{} already has these settings", path.display());
    }
    Ok(0)
}

/// Keep the key in the stack's OpenBao when there is one (with a stored token), else in
/// ~/.foundryvars; returns where.
async fn store_key(g: &GlobalOpts, key: &str) -> Result<String> {
    if let Some(store) = common::openbao_store(g).await? {
        return crate::openbao::secret_cmd::set(&store, KEY_PATH, KEY_NAME, key).await;
    }
    file::set(&g.instance, KEY_PATH, KEY_NAME, key)
        .map_err(|e| fail(ExitClass::General, format!("{e:#}")))?;
    Ok(format!(
        "{} (no OpenBao with a stored token for this stack yet; move it there later with `foundry secret set truenas api_key -`)",
        crate::paths::foundryvars().display()
    ))
}
