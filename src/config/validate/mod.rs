//! Semantic validation of a loaded stack: everything the schema can't express (addresses inside
//! the network, unique names, roles that every enabled component needs, well-formed secret
//! references, ...). Every finding names the field path and the position in the file.

mod components;
pub mod format;
mod hosts;
mod network;
mod refs;
mod storage;
mod values;

use super::load::Loaded;
use super::path::FieldPath;
use super::shown::{one_line, tidy};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// Field path, e.g. `hosts[1].address`; empty for the file as a whole.
    pub path: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl Finding {
    /// `file:line:col: error: hosts[1].address: message`
    pub fn render(&self, file: &str) -> String {
        let loc = match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
            _ => file.to_string(),
        };
        // One finding is one line, whatever a value in it holds.
        let message = one_line(&self.message);
        if self.path.is_empty() {
            format!("{loc}: {}: {message}", self.severity)
        } else {
            format!(
                "{loc}: {}: {}: {message}",
                self.severity,
                one_line(&self.path)
            )
        }
    }
}

/// Collects findings, each located through the file's index.
pub(crate) struct Checker<'a> {
    pub l: &'a Loaded,
    pub out: Vec<Finding>,
}

impl<'a> Checker<'a> {
    fn push(&mut self, severity: Severity, path: &FieldPath, message: String) {
        let pos = self.l.index.locate_nearest(path);
        self.out.push(Finding {
            severity,
            path: path.to_string(),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.col),
            message: tidy(&message),
        });
    }

    pub fn error(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.push(Severity::Error, path, message.into());
    }

    pub fn warn(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.push(Severity::Warning, path, message.into());
    }
}

/// `p("hosts")` etc.: a path from the top.
pub(crate) fn p(key: &str) -> FieldPath {
    FieldPath::root().key(key)
}

/// A value to check literally, or `None` when it holds a secret reference (its real value is only
/// known after resolution, so format checks would be guesses).
pub(crate) fn literal(s: &str) -> Option<&str> {
    if crate::secrets::reference::mentions_ref(s) {
        None
    } else {
        Some(s)
    }
}

/// Every semantic problem in the stack, sorted by position in the file.
pub fn validate(l: &Loaded) -> Vec<Finding> {
    let mut ck = Checker { l, out: Vec::new() };
    refs::check(&mut ck);
    let net = network::check_network(&mut ck);
    hosts::check(&mut ck, net.as_ref());
    network::check_addresses(&mut ck, net.as_ref());
    components::check(&mut ck, net.as_ref());
    values::check(&mut ck);
    storage::check(&mut ck);
    ck.out
        .sort_by_key(|f| (f.line.unwrap_or(0), f.column.unwrap_or(0)));
    ck.out
}

pub fn count(findings: &[Finding], s: Severity) -> usize {
    findings.iter().filter(|f| f.severity == s).count()
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use std::path::Path;

    /// A small valid stack; tests break one thing at a time.
    pub const BASE: &str = "\
cluster:
  name: lab
  domain: lab.example.com
  vip: 10.0.0.50
network:
  cidr: 10.0.0.0/24
  lb_range: 10.0.0.200-10.0.0.210
hosts:
  - hostname: node-1
    address: 10.0.0.11
    roles: [openbao, zot, cluster-control-plane]
  - hostname: node-2
    address: 10.0.0.12
    roles: [cluster-control-plane]
  - hostname: node-3
    address: 10.0.0.13
    roles: [cluster-control-plane]
components:
  openbao: {}
  zot: {}
  k3s:
    version: v1.33.5+k3s1
  kube_vip:
    version: v1.2.3
  contour:
    version: 0.7.0
  cert_manager:
    version: v1.21.1
";

    pub fn findings(src: &str) -> Vec<Finding> {
        let l = crate::config::load::load_str(Path::new("s.yaml"), src)
            .unwrap_or_else(|e| panic!("{e}"));
        validate(&l)
    }

    /// Findings for `BASE` with `from` replaced by `to` (which must occur).
    pub fn broken(from: &str, to: &str) -> Vec<Finding> {
        assert!(BASE.contains(from), "{from}");
        findings(&BASE.replacen(from, to, 1))
    }

    /// Assert exactly one finding of `sev` at `path` whose message contains `want`; return it.
    pub fn one(fs: &[Finding], sev: Severity, path: &str, want: &str) -> Finding {
        let hits: Vec<_> = fs
            .iter()
            .filter(|f| f.severity == sev && f.path == path && f.message.contains(want))
            .collect();
        assert_eq!(
            hits.len(),
            1,
            "want one {sev} at {path} containing {want:?}; got {fs:#?}"
        );
        hits[0].clone()
    }

    #[test]
    fn base_is_clean() {
        assert_eq!(findings(BASE), vec![]);
    }
}
