//! `foundry stack validate`: syntax, schema and consistency of stack.yaml, as
//! `file:line:col: error: path: message` lines or JSON. Exit 0 without errors (warnings allowed),
//! 3 (Config) otherwise.

use crate::cli::{GlobalOpts, OutputFormat};
use crate::config::load::{load, ConfigError};
use crate::config::validate::{count, validate, Finding, Severity};
use crate::error::{fail, ExitClass};
use serde::Serialize;

#[derive(Serialize)]
struct Report<'a> {
    file: String,
    valid: bool,
    errors: usize,
    warnings: usize,
    findings: &'a [Finding],
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

pub async fn run(g: &GlobalOpts, check_hosts: bool) -> anyhow::Result<i32> {
    let path = g.config_path();
    let file = path.display().to_string();
    let findings = match load(&path) {
        Ok(l) => validate(&l),
        // No file at all is not a finding inside one.
        Err(e @ (ConfigError::Missing { .. } | ConfigError::Read { .. })) => {
            return Err(e.into_anyhow())
        }
        Err(e) => {
            let (p, line, column, message) = e.parts();
            vec![Finding {
                severity: Severity::Error,
                path: p,
                line,
                column,
                message,
            }]
        }
    };
    let errors = count(&findings, Severity::Error);
    let warnings = count(&findings, Severity::Warning);
    let report = Report {
        file: file.clone(),
        valid: errors == 0,
        errors,
        warnings,
        findings: &findings,
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
    if check_hosts {
        return check_hosts_reachable(g).await;
    }
    Ok(0)
}

/// `--check-hosts`: connect to every host (in parallel, `ssh.parallel` at a time), gather facts,
/// and check that privileged commands work. One line per host; exit 4 if any host fails.
async fn check_hosts_reachable(g: &GlobalOpts) -> anyhow::Result<i32> {
    let setup = super::common::setup(g, "stack-validate", false).await?;
    let eng = setup.engine.clone();
    let mut tasks = Vec::new();
    for h in eng.stack.hosts.clone() {
        let eng = eng.clone();
        tasks.push(tokio::spawn(async move {
            let r = match eng.host_ctx(&h).await {
                Ok(ctx) if ctx.facts.sudo_ok => Ok(format!(
                    "{} {} ({}), {}",
                    ctx.facts.os_pretty, ctx.facts.arch, ctx.facts.init, ctx.facts.user
                )),
                Ok(ctx) => Err(format!(
                    "connected as {}, but privileged commands fail (sudo)",
                    ctx.facts.user
                )),
                Err(e) => Err(format!("{e:#}")),
            };
            (h.hostname, r)
        }));
    }
    let mut failed = 0;
    let mut rows = Vec::new();
    for t in tasks {
        let (host, r) = t.await?;
        match &r {
            Ok(m) => rows.push(serde_json::json!({"host": host, "ok": true, "message": m})),
            Err(e) => {
                failed += 1;
                rows.push(serde_json::json!({"host": host, "ok": false, "message": e}))
            }
        }
        if g.output == OutputFormat::Table {
            match r {
                Ok(m) => println!("host {host}: ok: {m}"),
                Err(e) => println!("host {host}: FAILED: {e}"),
            }
        }
    }
    eng.pool.close_all().await;
    if g.output == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    }
    if failed > 0 {
        return Err(fail(
            ExitClass::Connection,
            format!("{failed} host(s) could not be reached or cannot run privileged commands"),
        ));
    }
    Ok(0)
}
