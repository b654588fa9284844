//! Secrets in `~/.foundryvars` (or `$FOUNDRY_VARS`): one `instance/path:key=value` per line,
//! `#` comments and blank lines allowed; the value is everything after the first `=`, verbatim.
//! The file should be mode 0600; a group/world-readable file is used but warned about once.

use super::reference::{check_key, check_path, SecretRef};
use super::resolver::{ResolveError, Resolver};
use crate::config::edit::write_atomic;
use anyhow::{bail, Context, Result};
use futures::future::BoxFuture;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarsEntry {
    pub instance: String,
    pub path: String,
    pub key: String,
    pub value: String,
    /// 1-based line number in the file.
    pub line: usize,
}

/// Parse one line: `Ok(None)` for blank/comment lines, `Err(reason)` for a malformed one (the
/// reason never quotes the value).
fn parse_line(line: &str) -> Result<Option<(String, String, String, String)>, String> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let t = line.trim_start();
    if t.is_empty() || t.starts_with('#') {
        return Ok(None);
    }
    let (name, value) = t
        .split_once('=')
        .ok_or("no `=`; expected instance/path:key=value")?;
    let name = name.trim();
    let (ip, key) = name
        .rsplit_once(':')
        .ok_or("no `:KEY` before `=`; expected instance/path:key=value")?;
    let (instance, path) = ip
        .split_once('/')
        .ok_or("no `/` after the instance; expected instance/path:key=value")?;
    check_key(instance).map_err(|m| format!("instance: {m}"))?;
    check_path(path)?;
    check_key(key)?;
    Ok(Some((
        instance.into(),
        path.into(),
        key.into(),
        value.into(),
    )))
}

/// All entries; malformed lines are reported once each (by line number) and skipped.
pub fn parse(text: &str) -> (Vec<VarsEntry>, Vec<(usize, String)>) {
    let mut entries = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        match parse_line(line) {
            Ok(Some((instance, path, key, value))) => entries.push(VarsEntry {
                instance,
                path,
                key,
                value,
                line: i + 1,
            }),
            Ok(None) => {}
            Err(reason) => bad.push((i + 1, reason)),
        }
    }
    (entries, bad)
}

static WARNED_MODE: AtomicBool = AtomicBool::new(false);
static WARNED_SYNTAX: AtomicBool = AtomicBool::new(false);

/// Read and parse the file; a missing file is empty.
pub fn read_at(path: &Path) -> Result<Vec<VarsEntry>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if let Ok(m) = std::fs::metadata(path) {
        let mode = m.permissions().mode() & 0o777;
        if mode & 0o077 != 0 && !WARNED_MODE.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "{} has mode {mode:04o}: other users can read your secrets; run `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
    }
    let (entries, bad) = parse(&text);
    if !bad.is_empty() && !WARNED_SYNTAX.swap(true, Ordering::Relaxed) {
        for (line, reason) in &bad {
            tracing::warn!("{}:{line}: ignored: {reason}", path.display());
        }
    }
    Ok(entries)
}

pub fn get_at(file: &Path, instance: &str, path: &str, key: &str) -> Result<Option<String>> {
    Ok(read_at(file)?
        .into_iter()
        .find(|e| e.instance == instance && e.path == path && e.key == key)
        .map(|e| e.value))
}

/// `(path, key)` of every entry of `instance`, sorted, without values.
pub fn list_at(file: &Path, instance: &str) -> Result<Vec<(String, String)>> {
    let mut v: Vec<(String, String)> = read_at(file)?
        .into_iter()
        .filter(|e| e.instance == instance)
        .map(|e| (e.path, e.key))
        .collect();
    v.sort();
    v.dedup();
    Ok(v)
}

/// Store a value: replaces the first entry with the same name (dropping later duplicates) or
/// appends; every other line is kept. Written atomically with mode 0600.
pub fn set_at(file: &Path, instance: &str, path: &str, key: &str, value: &str) -> Result<()> {
    check_key(instance).map_err(|m| anyhow::anyhow!("instance: {m}"))?;
    check_path(path).map_err(anyhow::Error::msg)?;
    check_key(key).map_err(anyhow::Error::msg)?;
    if value.contains('\n') || value.contains('\r') {
        bail!("a ~/.foundryvars value can't contain a line break; use an environment variable (or OpenBao) for multi-line secrets");
    }
    let old = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    };
    let new_line = format!("{instance}/{path}:{key}={value}");
    let mut out: Vec<String> = Vec::new();
    let mut replaced = false;
    let body = old.strip_suffix('\n').unwrap_or(&old);
    if !body.is_empty() {
        for line in body.split('\n') {
            let same = matches!(parse_line(line), Ok(Some((i, p, k, _))) if i == instance && p == path && k == key);
            if same {
                if !replaced {
                    out.push(new_line.clone());
                    replaced = true;
                }
            } else {
                out.push(line.to_string());
            }
        }
    }
    if !replaced {
        out.push(new_line);
    }
    let mut text = out.join("\n");
    text.push('\n');
    write_atomic(file, text.as_bytes(), 0o600, false)
        .with_context(|| format!("cannot write {}", file.display()))
}

pub fn get(instance: &str, path: &str, key: &str) -> Result<Option<String>> {
    get_at(&crate::paths::foundryvars(), instance, path, key)
}

pub fn set(instance: &str, path: &str, key: &str, value: &str) -> Result<()> {
    set_at(&crate::paths::foundryvars(), instance, path, key, value)
}

pub fn list(instance: &str) -> Result<Vec<(String, String)>> {
    list_at(&crate::paths::foundryvars(), instance)
}

/// The ~/.foundryvars backend.
pub struct FileResolver {
    path: PathBuf,
}

impl FileResolver {
    pub fn at(path: PathBuf) -> FileResolver {
        FileResolver { path }
    }

    pub fn default_path() -> FileResolver {
        FileResolver::at(crate::paths::foundryvars())
    }
}

impl Resolver for FileResolver {
    fn name(&self) -> &str {
        "file"
    }

    fn describe(&self, _instance: &str, _r: &SecretRef) -> String {
        format!("file {}", self.path.display())
    }

    fn lookup<'a>(
        &'a self,
        instance: &'a str,
        r: &'a SecretRef,
    ) -> BoxFuture<'a, Result<Option<String>, ResolveError>> {
        Box::pin(async move {
            get_at(&self.path, instance, &r.path, &r.key).map_err(|e| ResolveError::Backend {
                backend: "file".into(),
                reference: r.to_string(),
                message: format!("{e:#}"),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_comments_and_values_with_equals() {
        let (e, bad) = parse("# c\n\nfoundry-core/truenas:api_key=a=b c \nfoundry-core/hosts/n1:sudo=x\nbroken line\n");
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].path.as_str(), e[0].key.as_str(), e[0].value.as_str()),
            ("truenas", "api_key", "a=b c ")
        );
        assert_eq!(e[1].path, "hosts/n1");
        assert_eq!(e[1].line, 4);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 5);
    }

    #[test]
    fn set_replaces_in_place_and_keeps_other_lines() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("vars");
        std::fs::write(&f, "# mine\ni/a:k=old\ni/b:k=keep\ni/a:k=dup\n").unwrap();
        set_at(&f, "i", "a", "k", "new").unwrap();
        assert_eq!(
            std::fs::read_to_string(&f).unwrap(),
            "# mine\ni/a:k=new\ni/b:k=keep\n"
        );
        set_at(&f, "i", "c/d", "k2", "v").unwrap();
        assert_eq!(
            std::fs::read_to_string(&f).unwrap(),
            "# mine\ni/a:k=new\ni/b:k=keep\ni/c/d:k2=v\n"
        );
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(get_at(&f, "i", "c/d", "k2").unwrap().as_deref(), Some("v"));
        assert_eq!(get_at(&f, "other", "c/d", "k2").unwrap(), None);
        assert_eq!(
            list_at(&f, "i").unwrap(),
            vec![
                ("a".into(), "k".into()),
                ("b".into(), "k".into()),
                ("c/d".into(), "k2".into())
            ]
        );
        assert!(set_at(&f, "i", "a", "k", "two\nlines").is_err());
        assert!(set_at(&f, "i", "a/", "k", "v").is_err());
    }

    #[tokio::test]
    async fn resolver_reads_the_file() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("vars");
        set_at(&f, "inst", "truenas", "api_key", "file-secret-1").unwrap();
        let r = FileResolver::at(f.clone());
        let sr = SecretRef::new("truenas", "api_key").unwrap();
        assert_eq!(
            r.lookup("inst", &sr).await.unwrap().as_deref(),
            Some("file-secret-1")
        );
        assert_eq!(r.lookup("other", &sr).await.unwrap(), None);
        assert_eq!(
            FileResolver::at(t.path().join("missing"))
                .lookup("inst", &sr)
                .await
                .unwrap(),
            None
        );
    }
}
