//! `foundry secret get|set|list|generate`. `get` is the one place foundry prints a secret value,
//! on purpose; everything else prints names and locations only.

use crate::cli::{GlobalOpts, OutputFormat, SecretCmd};
use crate::error::{fail, ExitClass};
use crate::redact;
use crate::secrets::env::{set_vars, var_name};
use crate::secrets::{file, SecretRef};
use anyhow::Result;
use rand::rngs::OsRng;
use rand::Rng;
use serde::Serialize;
use std::io::{IsTerminal, Read};

pub async fn run(g: &GlobalOpts, cmd: SecretCmd) -> Result<i32> {
    match cmd {
        SecretCmd::Get { path, key } => get(g, &path, &key).await,
        SecretCmd::Set {
            path,
            key,
            value,
            backend,
        } => set(g, &path, &key, &value, backend.as_deref()).await,
        SecretCmd::List { prefix } => list(g, prefix.as_deref()).await,
        SecretCmd::Generate {
            path,
            key,
            length,
            alphabet,
            backend,
            force,
        } => {
            let how = Generate {
                length,
                alphabet: &alphabet,
                force,
            };
            generate(g, &path, &key, how, backend.as_deref()).await
        }
    }
}

fn secret_ref(path: &str, key: &str) -> Result<SecretRef> {
    SecretRef::new(path, key).map_err(|e| fail(ExitClass::Usage, e.to_string()))
}

async fn get(g: &GlobalOpts, path: &str, key: &str) -> Result<i32> {
    let r = secret_ref(path, key)?;
    let v = super::common::chain(g)
        .await?
        .resolve(&g.instance, &r)
        .await
        .map_err(|e| fail(ExitClass::Config, e.to_string()))?;
    // Printed unscrubbed on purpose: this command exists to show the value.
    println!("{v}");
    Ok(0)
}

/// Where a write goes: `~/.foundryvars` or the stack's OpenBao (the environment is read-only).
enum Backend {
    File,
    Openbao(crate::openbao::SecretStore),
}

/// `--backend`: explicit, or OpenBao when the stack has one with a stored token, else the file.
async fn backend(g: &GlobalOpts, name: Option<&str>) -> Result<Backend> {
    match name {
        None => Ok(match super::common::openbao_store(g).await? {
            Some(s) => Backend::Openbao(s),
            None => Backend::File,
        }),
        Some("file") => Ok(Backend::File),
        Some("openbao") => match super::common::openbao_store(g).await? {
            Some(s) => Ok(Backend::Openbao(s)),
            None => Err(fail(
                ExitClass::Config,
                format!(
                    "no OpenBao to write to: {} has no openbao host (or components.openbao.address), or no token is stored for instance {} (install it with `foundry component install openbao`)",
                    g.config_path().display(),
                    g.instance
                ),
            )),
        },
        Some("env") => Err(fail(ExitClass::Usage, "foundry can't set environment variables; export the variable yourself, or use --backend file")),
        Some(other) => Err(fail(ExitClass::Usage, format!("unknown backend `{other}`; use file or openbao"))),
    }
}

async fn store(g: &GlobalOpts, b: &Backend, r: &SecretRef, value: &str) -> Result<String> {
    match b {
        Backend::File => {
            file::set(&g.instance, &r.path, &r.key, value)
                .map_err(|e| fail(ExitClass::General, format!("{e:#}")))?;
            Ok(crate::paths::foundryvars().display().to_string())
        }
        Backend::Openbao(s) => {
            crate::openbao::secret_cmd::set(s, &r.path, &r.key, value).await?;
            Ok(format!(
                "openbao:secret/{}/{}#{}",
                g.instance, r.path, r.key
            ))
        }
    }
}

/// A value typed without echo (terminal) or read from standard input (one trailing newline
/// removed).
fn read_value_stdin(r: &SecretRef) -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return super::prompt::read_hidden(&format!("Value for {r} (input hidden): "));
    }
    let mut s = String::new();
    stdin.lock().read_to_string(&mut s)?;
    let s = s
        .strip_suffix('\n')
        .map(|x| x.strip_suffix('\r').unwrap_or(x))
        .unwrap_or(&s)
        .to_string();
    Ok(s)
}

async fn set(
    g: &GlobalOpts,
    path: &str,
    key: &str,
    value: &str,
    backend_name: Option<&str>,
) -> Result<i32> {
    let r = secret_ref(path, key)?;
    let b = backend(g, backend_name).await?;
    let v = if value == "-" {
        read_value_stdin(&r)?
    } else {
        g.warn(
            "the value came on the command line, so it is in your shell history and visible \
             to other users in `ps` while foundry runs; pass `-` to read it from standard input",
        );
        value.to_string()
    };
    if v.is_empty() {
        return Err(fail(
            ExitClass::Usage,
            format!("refusing to store an empty value for {r}"),
        ));
    }
    redact::register(&v);
    let place = store(g, &b, &r, &v).await?;
    println!("stored {r} (instance {}) in {place}", g.instance);
    shadow_note(g, &r);
    Ok(0)
}

/// The environment wins over the file: say so when a variable would hide what was just stored.
fn shadow_note(g: &GlobalOpts, r: &SecretRef) {
    let name = var_name(&g.instance, r);
    if std::env::var_os(&name).is_some_and(|v| !v.is_empty()) {
        eprintln!(
            "note: {name} is set in the environment and takes precedence over the stored value"
        );
    }
}

#[derive(Serialize)]
struct Listing {
    instance: String,
    file: String,
    entries: Vec<Entry>,
    env: Vec<String>,
}

#[derive(Serialize)]
struct Entry {
    path: String,
    key: String,
    backend: &'static str,
    /// Where it is: the `~/.foundryvars` file, or OpenBao's address and KV path.
    location: String,
}

async fn list(g: &GlobalOpts, prefix_arg: Option<&str>) -> Result<i32> {
    let prefix = prefix_arg.unwrap_or("").trim_end_matches('/');
    let matches = |p: &str| p.starts_with(prefix);
    let vars_file = crate::paths::foundryvars().display().to_string();
    let mut entries: Vec<Entry> = file::list(&g.instance)?
        .into_iter()
        .filter(|(p, _)| matches(p))
        .map(|(path, key)| Entry {
            path,
            key,
            backend: "file",
            location: vars_file.clone(),
        })
        .collect();
    if let Some(st) = super::common::openbao_store(g).await? {
        for e in crate::openbao::secret_cmd::list(&st, prefix_arg).await? {
            for key in e.keys {
                entries.push(Entry {
                    path: e.path.clone(),
                    key,
                    backend: "openbao",
                    location: format!("{} secret/{}/{}", st.client().address(), g.instance, e.path),
                });
            }
        }
    }
    let env_prefix = if prefix.is_empty() {
        crate::secrets::env::var_prefix(&g.instance)
    } else {
        // The variable name of PREFIX as a path, without the key part.
        let v = var_name(
            &g.instance,
            &SecretRef {
                path: prefix.to_string(),
                key: "x".into(),
                span: 0..0,
            },
        );
        v.strip_suffix("__X").unwrap_or(&v).to_string()
    };
    let env: Vec<String> = set_vars(&g.instance)
        .into_iter()
        .filter(|n| n.starts_with(&env_prefix))
        .collect();
    let listing = Listing {
        instance: g.instance.clone(),
        file: vars_file,
        entries,
        env,
    };
    match g.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&listing)?),
        OutputFormat::Yaml => print!("{}", serde_yaml::to_string(&listing)?),
        OutputFormat::Table => {
            if listing.entries.is_empty() {
                println!(
                    "no secrets for instance {} in {}",
                    listing.instance, listing.file
                );
            } else {
                let rows = listing
                    .entries
                    .iter()
                    .map(|e| {
                        vec![
                            e.path.clone(),
                            e.key.clone(),
                            format!("{} ({})", e.backend, e.location),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    crate::output::table(&["PATH", "KEY", "BACKEND"], rows)
                );
            }
            if !listing.env.is_empty() {
                println!("set in the environment (these take precedence):");
                for n in &listing.env {
                    println!("  {n}");
                }
            }
        }
    }
    Ok(0)
}

fn alphabet_chars(spec: &str) -> Result<(Vec<char>, String)> {
    let chars: Vec<char> = match spec {
        "alnum" => ('A'..='Z').chain('a'..='z').chain('0'..='9').collect(),
        "hex" => ('0'..='9').chain('a'..='f').collect(),
        literal => {
            let mut v: Vec<char> = literal.chars().collect();
            v.sort_unstable();
            v.dedup();
            v
        }
    };
    if chars.len() < 2 {
        return Err(fail(
            ExitClass::Usage,
            "--alphabet needs at least 2 different characters (or alnum, hex)",
        ));
    }
    if chars.iter().any(|c| c.is_control() || *c == '\n') {
        return Err(fail(
            ExitClass::Usage,
            "--alphabet must not contain control characters",
        ));
    }
    let name = if matches!(spec, "alnum" | "hex") {
        spec.to_string()
    } else {
        format!("{}-character", chars.len())
    };
    Ok((chars, name))
}

/// `length` characters drawn uniformly from `chars` with the OS's CSPRNG.
pub fn generate_value(chars: &[char], length: usize) -> String {
    let mut rng = OsRng;
    (0..length)
        .map(|_| chars[rng.gen_range(0..chars.len())])
        .collect()
}

/// `secret generate`'s choices.
struct Generate<'a> {
    length: usize,
    alphabet: &'a str,
    /// Replace an existing value.
    force: bool,
}

async fn generate(
    g: &GlobalOpts,
    path: &str,
    key: &str,
    how: Generate<'_>,
    backend_name: Option<&str>,
) -> Result<i32> {
    let r = secret_ref(path, key)?;
    let b = backend(g, backend_name).await?;
    let length = how.length;
    if !(1..=4096).contains(&length) {
        return Err(fail(ExitClass::Usage, "--length must be from 1 to 4096"));
    }
    let (chars, name) = alphabet_chars(how.alphabet)?;
    // Never overwrite silently: a generated secret may already be in use (a password set on a
    // host). OpenBao checks and writes in one check-and-set call.
    if let (Backend::Openbao(st), false) = (&b, how.force) {
        let place =
            crate::openbao::secret_cmd::generate(st, &r.path, &r.key, length, how.alphabet).await?;
        println!(
            "generated a {length}-character secret and stored it as {r} (instance {}) in {place}",
            g.instance
        );
        return Ok(0);
    }
    if !how.force && file::get(&g.instance, &r.path, &r.key)?.is_some() {
        return Err(exists(
            &r,
            &crate::paths::foundryvars().display().to_string(),
        ));
    }
    let v = generate_value(&chars, length);
    redact::register(&v);
    let place = store(g, &b, &r, &v).await?;
    let bits = (length as f64 * (chars.len() as f64).log2()).floor();
    let verb = if how.force { "replaced" } else { "stored" };
    println!("generated a {length}-character {name} secret (~{bits} bits) and {verb} it as {r} (instance {}) in {place}", g.instance);
    shadow_note(g, &r);
    Ok(0)
}

/// The one message for "already has a value".
fn exists(r: &SecretRef, place: &str) -> anyhow::Error {
    fail(
        ExitClass::General,
        format!("{r} exists in {place}; use --force to replace it (whatever uses the current value stops working)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_use_the_alphabet_and_differ() {
        let (chars, _) = alphabet_chars("hex").unwrap();
        let a = generate_value(&chars, 64);
        let b = generate_value(&chars, 64);
        assert_eq!(a.len(), 64);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
        let (chars, name) = alphabet_chars("ab").unwrap();
        assert_eq!(name, "2-character");
        let v = generate_value(&chars, 200);
        assert!(v.contains('a') && v.contains('b') && v.chars().all(|c| c == 'a' || c == 'b'));
        assert!(alphabet_chars("aaa").is_err());
    }
}
