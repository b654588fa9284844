//! Reading stack.yaml: YAML syntax, then the schema (serde, with the failing field's path), with
//! every error pointing at `file:line:column` and saying what would be valid.

use super::de::{self, DeError, Patches, Problem};
use super::legacy;
use super::locate::LocationIndex;
use super::path::FieldPath;
use super::schema::StackConfig;
use super::shown::{one_line, shown};
use super::text;
use super::tree::Node;
use crate::error::{fail, ExitClass};
use std::fmt;
use std::path::{Path, PathBuf};

/// A stack file that parsed and matched the schema. `source` is the text as read, `index` maps
/// field paths to positions in it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub source: String,
    pub config: StackConfig,
    pub index: LocationIndex,
}

impl Loaded {
    /// `file:line:col` for a field path (the nearest ancestor present in the file).
    pub fn where_is(&self, path: &FieldPath) -> String {
        match self.index.locate_nearest(path) {
            Some(p) => format!("{}:{}:{}", self.path.display(), p.line, p.col),
            None => self.path.display().to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaKind {
    UnknownField,
    UnknownValue,
    Other,
}

/// Why a stack file could not be loaded. Displayed as one line; never contains a secret (the
/// schema errors quote at most a non-string value).
#[derive(Debug, Clone)]
pub enum ConfigError {
    Missing {
        path: PathBuf,
    },
    Read {
        path: PathBuf,
        message: String,
    },
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    Schema(Box<SchemaError>),
}

/// The stack file parsed but does not fit the schema (boxed: it is the large variant).
#[derive(Debug, Clone)]
pub struct SchemaError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The failing field; for an unknown field, including the unknown key.
    pub path: FieldPath,
    pub kind: SchemaKind,
    pub message: String,
    /// `; did you mean ...? (valid ...: ...)` or empty.
    pub hint: String,
}

impl ConfigError {
    pub fn file(&self) -> &Path {
        match self {
            ConfigError::Missing { path } | ConfigError::Read { path, .. } => path,
            ConfigError::Syntax { file, .. } => file,
            ConfigError::Schema(e) => &e.file,
        }
    }

    /// (field path, line, column, message) for `stack validate`'s finding list.
    pub fn parts(&self) -> (String, Option<usize>, Option<usize>, String) {
        match self {
            ConfigError::Missing { .. } | ConfigError::Read { .. } => {
                (String::new(), None, None, self.to_string())
            }
            ConfigError::Syntax {
                line,
                column,
                message,
                ..
            } => (
                String::new(),
                Some(*line),
                Some(*column),
                format!("YAML syntax error: {message}"),
            ),
            ConfigError::Schema(e) => (
                e.path.to_string(),
                e.line,
                e.column,
                format!("{}{}", e.message, e.hint),
            ),
        }
    }

    /// As an `anyhow::Error` that exits with the Config class (3).
    pub fn into_anyhow(self) -> anyhow::Error {
        fail(ExitClass::Config, self.to_string())
    }
}

fn loc(file: &Path, line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{}:{l}:{c}", file.display()),
        _ => file.display().to_string(),
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Missing { path } => write!(
                f,
                "no stack file at {}; create one with `foundry config init` or pass --config",
                path.display()
            ),
            ConfigError::Read { path, message } => {
                write!(f, "cannot read {}: {message}", path.display())
            }
            ConfigError::Syntax {
                file,
                line,
                column,
                message,
            } => write!(
                f,
                "{}:{line}:{column}: YAML syntax error: {message}",
                file.display()
            ),
            ConfigError::Schema(e) => {
                let SchemaError {
                    file,
                    line,
                    column,
                    path,
                    kind,
                    message,
                    hint,
                } = &**e;
                // An unknown field is reported at the mapping that holds it.
                let at = if *kind == SchemaKind::UnknownField {
                    path.parent()
                } else {
                    path.clone()
                };
                write!(f, "{message} at {at} ({}){hint}", loc(file, *line, *column))
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Read a stack file's text: UTF-8 with only the characters YAML allows, or a located error.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::Missing {
                path: path.to_path_buf(),
            })
        }
        Err(e) => {
            return Err(ConfigError::Read {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        }
    };
    match text::decode(&bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => Err(text_error(path, e)),
    }
}

fn text_error(path: &Path, e: text::TextError) -> ConfigError {
    ConfigError::Syntax {
        file: path.to_path_buf(),
        line: e.pos.line,
        column: e.pos.col,
        message: e.message,
    }
}

/// Read and load a stack file.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let source = read(path)?;
    load_str(path, &source)
}

/// `load` for command handlers: the error already carries exit class Config.
pub fn load_cli(path: &Path) -> anyhow::Result<Loaded> {
    load(path).map_err(ConfigError::into_anyhow)
}

/// Load from text; `path` is only used in messages. The first error only: `config::check`
/// finds all of them.
pub fn load_str(path: &Path, source: &str) -> Result<Loaded, ConfigError> {
    let index = parse(path, source)?;
    let Some(root) = index.root() else {
        return Err(empty(path));
    };
    let pass = schema_pass(path, root, 1);
    match (pass.errors.into_iter().next(), pass.config) {
        (Some(e), _) | (None, Err(e)) => Err(ConfigError::Schema(Box::new(e))),
        (None, Ok(config)) => Ok(Loaded {
            path: path.to_path_buf(),
            source: source.to_string(),
            config,
            index,
        }),
    }
}

/// Characters, YAML syntax, and something in the file.
pub(crate) fn parse(path: &Path, source: &str) -> Result<LocationIndex, ConfigError> {
    let file = path.to_path_buf();
    text::check_chars(source).map_err(|e| text_error(path, e))?;
    let index = LocationIndex::build(source).map_err(|e| ConfigError::Syntax {
        file: file.clone(),
        line: e.pos.line,
        column: e.pos.col,
        message: e.message,
    })?;
    if index.root().is_none() {
        return Err(empty(path));
    }
    Ok(index)
}

/// Nothing but comments and blank lines (or nothing at all).
pub(crate) fn empty(path: &Path) -> ConfigError {
    ConfigError::Schema(Box::new(SchemaError {
        file: path.to_path_buf(),
        line: None,
        column: None,
        path: FieldPath::root(),
        kind: SchemaKind::Other,
        message: "the file is empty".into(),
        hint: "; it needs at least `cluster` and `hosts` (see stack.example.yaml)".into(),
    }))
}

/// The schema errors of a parsed file, up to `limit`, and the config with the wrong parts
/// replaced by placeholders (`Err` with the last error when there was no way past it).
pub(crate) struct SchemaPass {
    pub errors: Vec<SchemaError>,
    pub config: Result<StackConfig, SchemaError>,
    pub patches: Patches,
}

pub(crate) fn schema_pass(path: &Path, root: &Node, limit: usize) -> SchemaPass {
    let mut patches = Patches::default();
    let mut errors = Vec::new();
    loop {
        match de::from_node::<StackConfig>(root, &patches) {
            Ok(config) => {
                return SchemaPass {
                    errors,
                    config: Ok(config),
                    patches,
                }
            }
            Err(e) => {
                let se = schema_error(path, &e);
                errors.push(se.clone());
                if errors.len() >= limit || !patches.step_around(&e) {
                    return SchemaPass {
                        errors,
                        config: Err(se),
                        patches,
                    };
                }
            }
        }
    }
}

fn schema_error(file: &Path, e: &DeError) -> SchemaError {
    let (pos, path) = e.at.clone().unwrap_or((
        crate::config::tree::Pos { line: 0, col: 0 },
        FieldPath::root(),
    ));
    let (line, column) = if pos.line == 0 {
        (None, None)
    } else {
        (Some(pos.line), Some(pos.col))
    };
    let kind = match e.problem {
        Problem::UnknownField => SchemaKind::UnknownField,
        Problem::UnknownValue => SchemaKind::UnknownValue,
        _ => SchemaKind::Other,
    };
    let (message, hint) = match (&kind, legacy::explain(&path)) {
        (SchemaKind::UnknownField, Some(why)) => (
            format!(
                "{} is not a field here",
                shown(path.last_key().unwrap_or(""))
            ),
            format!(": {why}"),
        ),
        _ => (one_line(&e.message), one_line(&e.hint)),
    };
    SchemaError {
        file: file.to_path_buf(),
        line,
        column,
        path,
        kind,
        message,
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "cluster:\n  name: lab\n  domain: lab.example.com\n  vip: 10.0.0.50\nhosts:\n  - hostname: a\n    address: 10.0.0.1\n    roles: [cluster-control-plane]\n";

    fn err(src: &str) -> ConfigError {
        load_str(Path::new("s.yaml"), src).unwrap_err()
    }

    #[test]
    fn loads_a_good_file() {
        let l = load_str(Path::new("s.yaml"), GOOD).unwrap();
        assert_eq!(l.config.hosts[0].hostname, "a");
        assert_eq!(l.index.locate("hosts[0].address"), Some((7, 14)));
    }

    #[test]
    fn unknown_field_points_at_the_key_and_suggests() {
        let e = err(&GOOD.replace("    address:", "    adress:"));
        let s = e.to_string();
        assert!(
            s.starts_with(
                "unknown field `adress` at hosts[0] (s.yaml:7:5); did you mean `address`?"
            ),
            "{s}"
        );
        let (path, line, col, _) = e.parts();
        assert_eq!(
            (path.as_str(), line, col),
            ("hosts[0].adress", Some(7), Some(5))
        );
    }

    #[test]
    fn unknown_role_lists_valid_values() {
        let e = err(&GOOD.replace("[cluster-control-plane]", "[cluster-contol-plane]"));
        let s = e.to_string();
        assert!(
            s.contains("unknown value `cluster-contol-plane` at hosts[0].roles[0] (s.yaml:8:13)"),
            "{s}"
        );
        assert!(s.contains("did you mean `cluster-control-plane`?"), "{s}");
        assert!(
            s.contains("openbao, zot, cluster-control-plane, cluster-worker"),
            "{s}"
        );
    }

    #[test]
    fn wrong_type_names_path_and_position() {
        let e = err(&GOOD.replace("    roles:", "    port: abc\n    roles:"));
        let s = e.to_string();
        assert!(s.contains("at hosts[0].port (s.yaml:8:11)"), "{s}");
        assert!(s.contains("0 to 65535"), "{s}");
    }

    #[test]
    fn syntax_and_missing_file_errors() {
        let e = err("cluster: [a\nhosts: b\n");
        assert!(matches!(e, ConfigError::Syntax { line: 2, .. }), "{e}");
        let e = load(Path::new("/nonexistent/stack.yaml")).unwrap_err();
        assert_eq!(e.to_string(), "no stack file at /nonexistent/stack.yaml; create one with `foundry config init` or pass --config");
        let e = err("");
        assert!(e.to_string().contains("empty"));
    }

    #[test]
    fn missing_field_points_at_the_mapping() {
        let e = err(&GOOD.replace("  vip: 10.0.0.50\n", ""));
        let s = e.to_string();
        assert!(
            s.starts_with("missing field `vip` at cluster (s.yaml:1:1)"),
            "{s}"
        );
    }
}
