//! What the stack.yaml deserializer reports: a message for people (no Rust type names), the
//! field path and the position, and what kind of problem it is, so that the caller can patch
//! around it and go on looking for the next one (see `config::check`).

use crate::config::path::FieldPath;
use crate::config::shown::shown;
use crate::config::suggest;
use crate::config::tree::Pos;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// A key the schema does not have (`at` is the key).
    UnknownField,
    /// A value outside a fixed set (a role, a runtime).
    UnknownValue,
    /// A required field is absent (`at` is the mapping).
    MissingField(&'static str),
    /// The same key twice in one mapping (`at` is the second one).
    DuplicateKey,
    /// Wrong kind of value (string for a number, null for a string, a list for a mapping, ...).
    WrongType,
    /// The file as a whole is refused (alias expansion over budget): nothing after it is checked.
    Fatal,
}

#[derive(Debug, Clone)]
pub(crate) struct DeError {
    pub problem: Problem,
    pub message: String,
    /// `; did you mean ...? (valid ...)` or empty.
    pub hint: String,
    /// Set by the innermost node the error passes through.
    pub at: Option<(Pos, FieldPath)>,
}

impl DeError {
    pub fn new(problem: Problem, message: impl Into<String>) -> DeError {
        DeError {
            problem,
            message: message.into(),
            hint: String::new(),
            at: None,
        }
    }

    /// Locate the error at `pos`/`path` unless a deeper node already did.
    pub fn at(mut self, pos: Pos, path: &FieldPath) -> DeError {
        if self.at.is_none() {
            self.at = Some((pos, path.clone()));
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.message, self.hint)
    }
}

impl std::error::Error for DeError {}

/// serde's descriptions of what a visitor wanted, in the words of the file's author.
pub(crate) fn plain_expected(exp: &str) -> String {
    let e = exp.trim();
    if e.starts_with("struct ") || e == "a map" || e.starts_with("map") {
        return "a mapping (`key: value` lines)".into();
    }
    if e.starts_with("a sequence") || e.starts_with("sequence") || e.starts_with("tuple") {
        return "a list".into();
    }
    if e.starts_with("enum ") || e.contains("variant") {
        return "one of the listed values".into();
    }
    if e.contains("identifier") {
        return "a field name".into();
    }
    match e {
        "u8" => "a whole number from 0 to 255".into(),
        "u16" => "a whole number from 0 to 65535".into(),
        "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)".into(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a string" | "a borrowed string" => "text".into(),
        "unit" => "nothing (null)".into(),
        other => other.to_string(),
    }
}

fn found(unexp: &serde::de::Unexpected<'_>) -> String {
    use serde::de::Unexpected as U;
    match unexp {
        U::Bool(b) => format!("`{b}`"),
        U::Unsigned(n) => format!("the number {n}"),
        U::Signed(n) => format!("the number {n}"),
        U::Float(n) => format!("the number {n}"),
        U::Char(c) => format!("the text {}", shown(&c.to_string())),
        U::Str(s) => format!("the text {}", shown(s)),
        U::Unit | U::Option => "null".into(),
        U::Seq => "a list".into(),
        U::Map => "a mapping".into(),
        _ => "a value of another kind".into(),
    }
}

impl serde::de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(Problem::WrongType, msg.to_string())
    }

    fn invalid_type(unexp: serde::de::Unexpected<'_>, exp: &dyn serde::de::Expected) -> Self {
        DeError::new(
            Problem::WrongType,
            format!(
                "expected {}, found {}",
                plain_expected(&exp.to_string()),
                found(&unexp)
            ),
        )
    }

    fn invalid_value(unexp: serde::de::Unexpected<'_>, exp: &dyn serde::de::Expected) -> Self {
        Self::invalid_type(unexp, exp)
    }

    fn invalid_length(len: usize, exp: &dyn serde::de::Expected) -> Self {
        DeError::new(
            Problem::WrongType,
            format!(
                "expected {}, found {len} entries",
                plain_expected(&exp.to_string())
            ),
        )
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut e = DeError::new(
            Problem::UnknownValue,
            format!("unknown value {}", shown(variant)),
        );
        e.hint = with_valid(variant, expected, "valid values");
        e
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let mut e = DeError::new(
            Problem::UnknownField,
            format!("unknown field {}", shown(field)),
        );
        e.hint = with_valid(field, expected, "valid fields");
        e
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::new(
            Problem::MissingField(field),
            format!("missing field `{field}`"),
        )
    }

    fn duplicate_field(field: &'static str) -> Self {
        DeError::new(
            Problem::DuplicateKey,
            format!("duplicate key `{field}`; the later one would silently win"),
        )
    }
}

fn with_valid(bad: &str, valid: &[&str], what: &str) -> String {
    let mut hint = suggest::hint(bad, valid.iter().copied());
    if valid.is_empty() {
        hint.push_str("; this mapping takes no fields");
    } else {
        hint.push_str(&format!(" ({what}: {})", valid.join(", ")));
    }
    hint
}
