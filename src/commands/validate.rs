//! `foundry stack validate`: syntax, schema and consistency of stack.yaml, as
//! `file:line:col: error: path: message` lines or JSON. Exit 0 without errors (warnings allowed),
//! 3 (Config) otherwise.

use crate::cli::{GlobalOpts, OutputFormat};
use crate::component::k3s::phases::preflight::Preflight;
use crate::component::k3s::roles::{self, ClusterNode};
use crate::component::Phase;
use crate::config::check::check;
use crate::config::load::ConfigError;
use crate::config::load::Loaded;
use crate::config::validate::{Finding, Severity};
use crate::error::ExitClass;
use serde::Serialize;

#[derive(Serialize)]
struct Report<'a> {
    file: String,
    valid: bool,
    errors: usize,
    warnings: usize,
    findings: &'a [Finding],
    /// Findings left out of `findings` (past the cap).
    #[serde(skip_serializing_if = "is_zero")]
    omitted: usize,
    /// The K3s role every cluster host resolves to (empty without K3s or with errors).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    k3s_roles: Vec<ClusterNode>,
    /// `--check-hosts`: one entry per host (`host`, `ok`, `message`).
    #[serde(skip_serializing_if = "Option::is_none")]
    hosts: Option<Vec<serde_json::Value>>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

pub async fn run(g: &GlobalOpts, check_hosts: bool) -> anyhow::Result<i32> {
    let path = g.config_path();
    let file = path.display().to_string();
    // Every schema and semantic problem in one run; only a missing/unreadable file is an error.
    let checked = check(&path).map_err(ConfigError::into_anyhow)?;
    let findings = checked.findings;
    let (errors, warnings, omitted) = (checked.errors, checked.warnings, checked.omitted);
    // Hosts are checked only for a valid file; in JSON/YAML their results join the one report.
    let hosts = match (&checked.loaded, check_hosts && errors == 0) {
        (Some(l), true) => Some(check_hosts_reachable(g, l.clone()).await?),
        _ => None,
    };
    // Roles are resolved from a file that loaded; with K3s off they decide nothing.
    let k3s_roles = match &checked.loaded {
        Some(l) if errors == 0 && l.config.components.k3s.is_some() => roles::resolve(&l.config),
        _ => Vec::new(),
    };
    let failed_hosts = hosts.as_ref().map_or(0, |h| {
        h.iter()
            .filter(|r| r["ok"] != serde_json::Value::Bool(true))
            .count()
    });
    let report = Report {
        file: file.clone(),
        valid: errors == 0 && failed_hosts == 0,
        errors,
        warnings,
        findings: &findings,
        omitted,
        k3s_roles,
        hosts,
    };
    match g.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Yaml => print!("{}", serde_yaml::to_string(&report)?),
        OutputFormat::Table => {
            for f in &findings {
                if g.quiet && f.severity == Severity::Warning {
                    continue;
                }
                println!("{}", f.render(&file));
            }
            for n in report.k3s_roles.iter().filter(|_| !g.quiet) {
                println!("{file}: k3s: {} is {}", n.host, n.describe());
            }
            if omitted > 0 {
                println!("{file}: … and {omitted} more (fix these and run again)");
            }
            if errors == 0 {
                let w = if warnings == 0 {
                    String::new()
                } else {
                    format!(" ({})", plural(warnings, "warning"))
                };
                println!("{file}: valid{w}");
            } else {
                println!(
                    "{file}: {}, {}",
                    plural(errors, "error"),
                    plural(warnings, "warning")
                );
            }
        }
    }
    if errors > 0 {
        return Ok(ExitClass::Config.code());
    }
    if failed_hosts > 0 {
        // The report (one document under -o json) already says which; exit 4.
        eprintln!(
            "error: {failed_hosts} host(s) could not be reached or cannot run privileged commands"
        );
        return Ok(ExitClass::Connection.code());
    }
    Ok(0)
}

/// `--check-hosts`: connect to every host (in parallel, `ssh.parallel` at a time), gather facts,
/// check that privileged commands work, and run the K3s preflight on the cluster hosts. One line per host; exit 4 if any host fails.
async fn check_hosts_reachable(
    g: &GlobalOpts,
    loaded: Loaded,
) -> anyhow::Result<Vec<serde_json::Value>> {
    // The file's findings are printed once, by the report; the run does not print them again.
    let setup =
        super::common::setup_loaded(g, super::common::RunKind::read("stack-validate"), loaded)?;
    let run = setup.ctx.clone();
    // With K3s on, the cluster hosts also get the K3s preflight checks (one probe per host,
    // shared by all: the same rules `stack plan` and the install apply).
    let k3s_on = run.stack.components.k3s.as_ref().is_some_and(|k| k.enabled);
    let preflight = std::sync::Arc::new(Preflight::default());
    let mut tasks = Vec::new();
    for h in run.stack.hosts.clone() {
        let run = run.clone();
        let preflight = preflight.clone();
        tasks.push(tokio::spawn(async move {
            let r = match run.host(&h).await {
                Ok(host) if host.facts.sudo_ok => {
                    let k3s = if k3s_on && roles::role_of(&run.stack, &h.hostname).is_some() {
                        preflight
                            .plan_host(&run, &host)
                            .await
                            .map(|_| ", K3s preflight ok")
                    } else {
                        Ok("")
                    };
                    match k3s {
                        Ok(k) => Ok(format!(
                            "{} {} ({}), {}{k}",
                            host.facts.os_pretty, host.facts.arch, host.facts.init, host.facts.user
                        )),
                        Err(e) => Err(format!("{e:#}")),
                    }
                }
                Ok(host) => Err(format!(
                    "connected as {}, but privileged commands fail (sudo)",
                    host.facts.user
                )),
                Err(e) => Err(format!("{e:#}")),
            };
            (h.hostname, r)
        }));
    }
    let mut rows = Vec::new();
    for t in tasks {
        let (host, r) = t.await?;
        if g.output == OutputFormat::Table {
            match &r {
                Ok(m) => println!("host {host}: ok: {m}"),
                Err(e) => println!("host {host}: FAILED: {e}"),
            }
        }
        rows.push(match r {
            Ok(m) => serde_json::json!({"host": host, "ok": true, "message": m}),
            Err(e) => serde_json::json!({"host": host, "ok": false, "message": e}),
        });
    }
    run.close().await;
    Ok(rows)
}
