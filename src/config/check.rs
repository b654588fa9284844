//! Everything wrong with a stack file, in one run (`stack validate`): schema errors and semantic
//! findings together, sorted by position and capped at `MAX_FINDINGS`.
//!
//! The schema pass steps around each error it meets (`de::Patches`) and deserializes again, so
//! one wrong port does not hide a typo further down; semantic checks then run on the result,
//! and findings about a stand-in value are dropped.

use super::load::{self, ConfigError, Loaded, SchemaError};
use super::validate::{self, Finding, Severity};
use std::path::Path;

/// Findings shown; the rest are counted ("and N more").
pub const MAX_FINDINGS: usize = 50;

/// The outcome of checking one file.
#[derive(Debug)]
pub struct Checked {
    /// Sorted by position, at most `MAX_FINDINGS`.
    pub findings: Vec<Finding>,
    /// Totals, including the findings left out.
    pub errors: usize,
    pub warnings: usize,
    pub omitted: usize,
    /// The loaded stack, when it matched the schema.
    pub loaded: Option<Loaded>,
}

/// Read and check a file. `Err` only when there is no text to check (missing, unreadable).
pub fn check(path: &Path) -> Result<Checked, ConfigError> {
    let source = match load::read(path) {
        Ok(s) => s,
        Err(e @ (ConfigError::Missing { .. } | ConfigError::Read { .. })) => return Err(e),
        Err(e) => return Ok(finish(vec![from_error(&e)], None)),
    };
    Ok(check_str(path, &source))
}

/// Check text; `path` is only used in messages.
pub fn check_str(path: &Path, source: &str) -> Checked {
    let index = match load::parse(path, source) {
        Ok(i) => i,
        Err(e) => return finish(vec![from_error(&e)], None),
    };
    let Some(root) = index.root() else {
        return finish(vec![from_error(&load::empty(path))], None);
    };
    let pass = load::schema_pass(path, root, MAX_FINDINGS + 1);
    let mut findings: Vec<Finding> = pass.errors.iter().map(from_schema).collect();
    let Ok(config) = pass.config else {
        return finish(findings, None);
    };
    let loaded = Loaded {
        path: path.to_path_buf(),
        source: source.to_string(),
        config,
        index,
    };
    findings.extend(
        validate::validate(&loaded)
            .into_iter()
            .filter(|f| !pass.patches.covers(&f.path)),
    );
    let clean = pass.errors.is_empty();
    finish(findings, clean.then_some(loaded))
}

fn finish(mut findings: Vec<Finding>, loaded: Option<Loaded>) -> Checked {
    findings.sort_by_key(|f| (f.line.unwrap_or(0), f.column.unwrap_or(0)));
    let errors = validate::count(&findings, Severity::Error);
    let warnings = validate::count(&findings, Severity::Warning);
    let omitted = findings.len().saturating_sub(MAX_FINDINGS);
    findings.truncate(MAX_FINDINGS);
    Checked {
        findings,
        errors,
        warnings,
        omitted,
        loaded,
    }
}

fn from_schema(e: &SchemaError) -> Finding {
    // An unknown field is named with its own path (the key), like every other finding.
    Finding {
        severity: Severity::Error,
        path: e.path.to_string(),
        line: e.line,
        column: e.column,
        message: format!("{}{}", e.message, e.hint),
    }
}

fn from_error(e: &ConfigError) -> Finding {
    let (path, line, column, message) = e.parts();
    Finding {
        severity: Severity::Error,
        path,
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "cluster:\n  name: lab\n  domain: lab.example.com\n  vip: 10.0.0.50\nnetwork:\n  cidr: 10.0.0.0/24\nhosts:\n  - hostname: a\n    address: 10.0.0.1\n    roles: [cluster-control-plane]\n";

    fn run(src: &str) -> Checked {
        check_str(Path::new("s.yaml"), src)
    }

    fn errors(c: &Checked) -> impl Iterator<Item = &Finding> {
        c.findings.iter().filter(|f| f.severity == Severity::Error)
    }

    #[test]
    fn good_file_has_no_errors() {
        let c = run(GOOD);
        assert_eq!(c.errors, 0, "{:#?}", c.findings);
        assert!(c.loaded.is_some());
    }

    #[test]
    fn every_schema_error_at_once_in_file_order() {
        let src = GOOD
            .replace("  name: lab\n", "  name: lab\n  nmae: x\n")
            .replace(
                "    address: 10.0.0.1\n",
                "    address: 10.0.0.1\n    port: \"22\"\n",
            )
            .replace("[cluster-control-plane]", "[cluster-control-plane, wizard]");
        let c = run(&src);
        let got: Vec<_> = errors(&c)
            .map(|f| (f.path.as_str(), f.line, f.column))
            .collect();
        assert_eq!(
            got,
            vec![
                ("cluster.nmae", Some(3), Some(3)),
                ("hosts[0].port", Some(11), Some(11)),
                ("hosts[0].roles[1]", Some(12), Some(36)),
            ],
            "{:#?}",
            c.findings
        );
        assert_eq!(c.errors, 3);
        assert!(c.loaded.is_none());
    }

    #[test]
    fn missing_field_does_not_stop_the_search() {
        let src = GOOD.replace("  vip: 10.0.0.50\n", "").replace(
            "    address: 10.0.0.1\n",
            "    address: 10.0.0.1\n    port: x\n",
        );
        let c = run(&src);
        let errs: Vec<_> = errors(&c).collect();
        let paths: Vec<_> = errs.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, vec!["cluster", "hosts[0].port"], "{:#?}", c.findings);
        assert!(errs[0].message.contains("missing field `vip`"));
    }

    #[test]
    fn cap_counts_the_rest() {
        let extra: String = (0..70).map(|i| format!("  bad{i}: 1\n")).collect();
        let src = GOOD.replace("  name: lab\n", &format!("  name: lab\n{extra}"));
        let c = run(&src);
        assert_eq!(c.findings.len(), MAX_FINDINGS);
        assert!(c.omitted > 0, "{}", c.omitted);
    }
}
