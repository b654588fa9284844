//! `foundry config init|show|get|set`.

use crate::cli::{ConfigCmd, ConfigInitArgs, GlobalOpts, OutputFormat};
use crate::config::edit::{save_edited, set_value, value_at, write_atomic};
use crate::config::init::{parse_host, render, InitValues};
use crate::config::load::{load_cli, load_str, ConfigError};
use crate::config::mask::mask_source;
use crate::config::path::FieldPath;
use crate::config::suggest;
use crate::config::tree;
use crate::config::validate::{count, validate, Severity};
use crate::error::{fail, ExitClass};
use crate::secrets::resolve::{mask_config, should_mask};
use anyhow::{Context, Result};
use serde_yaml::Value;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

pub async fn run(g: &GlobalOpts, cmd: ConfigCmd) -> Result<i32> {
    match cmd {
        ConfigCmd::Init(a) => init(g, a),
        ConfigCmd::Show => show(g),
        ConfigCmd::Get { path } => get(g, &path),
        ConfigCmd::Set { path, value } => set(g, &path, &value),
    }
}

fn read_source(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ConfigError::Missing {
            path: path.to_path_buf(),
        }
        .into_anyhow()),
        Err(e) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
        .into_anyhow()),
    }
}

// ---- init ----------------------------------------------------------------------------------

fn prompt(label: &str, default: Option<&str>) -> Result<String> {
    let mut err = std::io::stderr();
    match default {
        Some(d) => write!(err, "{label} [{d}]: ")?,
        None => write!(err, "{label}: ")?,
    }
    err.flush()?;
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        return Err(fail(
            ExitClass::Usage,
            format!("no answer for {label} (end of input)"),
        ));
    }
    let t = line.trim();
    Ok(if t.is_empty() {
        default.unwrap_or("").to_string()
    } else {
        t.to_string()
    })
}

fn init(g: &GlobalOpts, a: ConfigInitArgs) -> Result<i32> {
    let path = g.config_path();
    let exists = path.exists();
    if exists && !a.force {
        return Err(fail(
            ExitClass::Config,
            format!(
                "{} already exists; pass --force to overwrite it (the old file is kept as {}.bak)",
                path.display(),
                path.display()
            ),
        ));
    }
    let interactive = !g.yes && std::io::stdin().is_terminal();
    let mut missing = Vec::new();
    let mut ask =
        |flag: &str, label: &str, have: Option<String>, default: Option<&str>| -> Result<String> {
            if let Some(v) = have {
                return Ok(v);
            }
            if interactive {
                loop {
                    let v = prompt(label, default)?;
                    if !v.is_empty() {
                        return Ok(v);
                    }
                    eprintln!("{label} is required");
                }
            }
            match default {
                Some(d) => Ok(d.to_string()),
                None => {
                    missing.push(flag.to_string());
                    Ok(String::new())
                }
            }
        };
    let name = ask("--name", "Cluster name (e.g. homelab)", a.name, None)?;
    let domain = ask(
        "--domain",
        "Base domain (e.g. home.example.com)",
        a.domain,
        None,
    )?;
    let cidr = ask(
        "--cidr",
        "Hosts' network (e.g. 192.168.10.0/24)",
        a.cidr,
        None,
    )?;
    let vip = ask(
        "--vip",
        "Kubernetes API VIP: a free address in that network",
        a.vip,
        None,
    )?;
    let host = ask(
        "--host",
        "First host as NAME=ADDRESS (e.g. node-1=192.168.10.11)",
        a.host,
        None,
    )?;
    let user = ask("--user", "SSH user on the hosts", a.user, Some("root"))?;
    if !missing.is_empty() {
        return Err(fail(
            ExitClass::Usage,
            format!(
                "missing {} (required without a terminal or with --yes)",
                missing.join(", ")
            ),
        ));
    }
    let (host_name, host_address) = parse_host(&host).map_err(|e| fail(ExitClass::Usage, e))?;
    let text = render(&InitValues {
        name,
        domain,
        vip,
        cidr,
        host_name,
        host_address,
        user,
    });

    let loaded = load_str(&path, &text).map_err(|e| {
        fail(
            ExitClass::Config,
            format!("the given values don't make a valid stack: {e}"),
        )
    })?;
    let findings = validate(&loaded);
    let file = path.display().to_string();
    if count(&findings, Severity::Error) > 0 {
        let lines: Vec<String> = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("  {}: {}", f.path, f.message))
            .collect();
        return Err(fail(
            ExitClass::Config,
            format!(
                "the given values don't make a valid stack; nothing written:\n{}",
                lines.join("\n")
            ),
        ));
    }
    write_atomic(&path, text.as_bytes(), 0o600, exists)
        .with_context(|| format!("cannot write {file}"))?;
    println!("wrote {file}");
    for f in findings.iter().filter(|f| f.severity == Severity::Warning) {
        eprintln!("{}", f.render(&file));
    }
    Ok(0)
}

// ---- show ----------------------------------------------------------------------------------

fn show(g: &GlobalOpts) -> Result<i32> {
    let path = g.config_path();
    match g.output {
        OutputFormat::Table => {
            let source = read_source(&path)?;
            let root = tree::parse(&source).map_err(|e| {
                ConfigError::Syntax {
                    file: path.clone(),
                    line: e.pos.line,
                    column: e.pos.col,
                    message: e.message,
                }
                .into_anyhow()
            })?;
            let out = mask_source(&source, root.as_ref());
            print!("{out}");
            if !out.ends_with('\n') {
                println!();
            }
        }
        fmt => {
            // The effective configuration: defaults filled in, secrets masked.
            let l = load_cli(&path)?;
            let mut v = serde_yaml::to_value(&l.config)?;
            mask_config(&mut v, &FieldPath::root());
            print_value(fmt, &v)?;
        }
    }
    Ok(0)
}

fn print_value(fmt: OutputFormat, v: &Value) -> Result<()> {
    match fmt {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(v)?),
        _ => match v {
            Value::String(s) => println!("{s}"),
            Value::Null => println!("null"),
            Value::Bool(b) => println!("{b}"),
            Value::Number(n) => println!("{n}"),
            other => print!("{}", serde_yaml::to_string(other)?),
        },
    }
    Ok(())
}

// ---- get -----------------------------------------------------------------------------------

fn get(g: &GlobalOpts, path: &str) -> Result<i32> {
    let fp =
        FieldPath::parse(path).map_err(|e| fail(ExitClass::Usage, format!("bad path: {e}")))?;
    let l = load_cli(&g.config_path())?;
    // The effective value (defaults filled in), else what the file says (fields the schema
    // doesn't print back, like an explicit null).
    let effective = serde_yaml::to_value(&l.config)?;
    let raw: Value = serde_yaml::from_str(&l.source).unwrap_or_default();
    let found = match value_at(&effective, &fp) {
        Ok(v) => v.clone(),
        Err(miss) => match value_at(&raw, &fp) {
            Ok(v) => v.clone(),
            Err(_) => {
                let at = FieldPath(fp.0[..miss.depth].to_vec());
                let seg = FieldPath(vec![fp.0[miss.depth].clone()]).to_string();
                let hint = suggest::hint(&seg, miss.siblings.iter().map(String::as_str));
                let within = if at.is_root() {
                    "the file".to_string()
                } else {
                    at.to_string()
                };
                let avail = if miss.siblings.is_empty() {
                    String::new()
                } else {
                    format!(" (there: {})", miss.siblings.join(", "))
                };
                return Err(fail(
                    ExitClass::Config,
                    format!("{path}: no `{seg}` in {within}, or it is not set{hint}{avail}"),
                ));
            }
        },
    };
    let mut shown = found;
    match &shown {
        Value::String(s) if should_mask(&fp, s) => {
            shown = Value::String(crate::redact::MASK.into())
        }
        Value::Mapping(_) | Value::Sequence(_) => mask_config(&mut shown, &fp),
        _ => {}
    }
    print_value(g.output, &shown)?;
    Ok(0)
}

// ---- set -----------------------------------------------------------------------------------

fn set(g: &GlobalOpts, path: &str, value: &str) -> Result<i32> {
    let file = g.config_path();
    let source = read_source(&file)?;
    let new = set_value(&source, path, value)?;
    if new == source {
        println!(
            "{path} already has that value; {} unchanged",
            file.display()
        );
        return Ok(0);
    }
    let loaded = load_str(&file, &new).map_err(|e| {
        // Say whether this change broke it, or the file was broken already.
        let before = if load_str(&file, &source).is_ok() {
            "would no longer load"
        } else {
            "does not load (before and after this change)"
        };
        fail(
            ExitClass::Config,
            format!("refusing to set {path}: the file {before}: {e}"),
        )
    })?;
    save_edited(&file, &new).with_context(|| format!("cannot write {}", file.display()))?;
    println!(
        "set {path} in {} (previous version: {}.bak)",
        file.display(),
        file.display()
    );
    let findings = validate(&loaded);
    let errors = count(&findings, Severity::Error);
    if errors > 0 {
        let name = file.display().to_string();
        eprintln!("note: the stack now has {errors} validation error(s):");
        for f in findings.iter().filter(|f| f.severity == Severity::Error) {
            eprintln!("  {}", f.render(&name));
        }
    }
    Ok(0)
}
