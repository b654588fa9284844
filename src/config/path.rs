//! Field paths inside stack.yaml, e.g. `hosts[1].roles[0]` or `components.k3s.version`.
//!
//! One format is shown everywhere (findings, errors, `config get/set`): mapping keys joined by `.`,
//! sequence indices as `[i]`, and keys that contain anything but `[A-Za-z0-9_-]` quoted as
//! `["net.ipv4.ip_forward"]`. Users may also write indices as `.0` (`hosts.0.address`).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A parsed path. `Key` segments made only of digits may also address a sequence index; the
/// tree walk (see `locate`) decides which, so `hosts.0.address` works.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn key(&self, k: &str) -> FieldPath {
        let mut v = self.0.clone();
        v.push(Seg::Key(k.to_string()));
        FieldPath(v)
    }

    pub fn index(&self, i: usize) -> FieldPath {
        let mut v = self.0.clone();
        v.push(Seg::Index(i));
        FieldPath(v)
    }

    pub fn parent(&self) -> FieldPath {
        let mut v = self.0.clone();
        v.pop();
        FieldPath(v)
    }

    pub fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Seg::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// Parse the user-facing syntax. Errors name the offending character position.
    pub fn parse(s: &str) -> Result<FieldPath, String> {
        let s = s.trim();
        let mut segs = Vec::new();
        let b: Vec<char> = s.chars().collect();
        let mut i = 0;
        if s.is_empty() || s == "." {
            return Ok(FieldPath::root());
        }
        let mut expect_key = true;
        while i < b.len() {
            match b[i] {
                '[' => {
                    let close = b[i..].iter().position(|&c| c == ']').map(|p| p + i);
                    let Some(close) = close else {
                        return Err(format!("unclosed `[` at position {} in `{s}`", i + 1));
                    };
                    let inner: String = b[i + 1..close].iter().collect();
                    let inner = inner.trim();
                    if let Some(q) = inner.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
                        segs.push(Seg::Key(q.to_string()));
                    } else if let Ok(n) = inner.parse::<usize>() {
                        segs.push(Seg::Index(n));
                    } else {
                        return Err(format!("`[{inner}]` in `{s}` is neither an index like [0] nor a quoted key like [\"a.b\"]"));
                    }
                    i = close + 1;
                    expect_key = false;
                }
                '.' => {
                    if expect_key {
                        return Err(format!("empty segment at position {} in `{s}`", i + 1));
                    }
                    i += 1;
                    expect_key = true;
                    if i == b.len() {
                        return Err(format!("`{s}` ends with `.`"));
                    }
                }
                _ => {
                    if !expect_key {
                        return Err(format!(
                            "expected `.` or `[` at position {} in `{s}`",
                            i + 1
                        ));
                    }
                    let start = i;
                    while i < b.len() && b[i] != '.' && b[i] != '[' {
                        i += 1;
                    }
                    let k: String = b[start..i].iter().collect();
                    segs.push(Seg::Key(k));
                    expect_key = false;
                }
            }
        }
        Ok(FieldPath(segs))
    }

    /// From serde_path_to_error's path (the same segments, its own rendering).
    pub fn from_serde(p: &serde_path_to_error::Path) -> FieldPath {
        use serde_path_to_error::Segment;
        let mut v = Vec::new();
        for s in p.iter() {
            match s {
                Segment::Seq { index } => v.push(Seg::Index(*index)),
                Segment::Map { key } => v.push(Seg::Key(key.clone())),
                Segment::Enum { variant } => v.push(Seg::Key(variant.clone())),
                Segment::Unknown => {}
            }
        }
        FieldPath(v)
    }
}

fn is_simple_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (n, s) in self.0.iter().enumerate() {
            match s {
                Seg::Index(i) => write!(f, "[{i}]")?,
                Seg::Key(k) if is_simple_key(k) => {
                    if n > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Seg::Key(k) => write!(f, "[{}]", serde_json::to_string(k).unwrap_or_default())?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_paths() {
        let p = FieldPath::parse("hosts[1].roles[0]").unwrap();
        assert_eq!(
            p.0,
            vec![
                Seg::Key("hosts".into()),
                Seg::Index(1),
                Seg::Key("roles".into()),
                Seg::Index(0)
            ]
        );
        assert_eq!(p.to_string(), "hosts[1].roles[0]");
        let p = FieldPath::parse("hosts.0.address").unwrap();
        assert_eq!(p.0[1], Seg::Key("0".into()));
        let p = FieldPath::parse(r#"components.host_prep.sysctls["net.ipv4.ip_forward"]"#).unwrap();
        assert_eq!(p.0.last(), Some(&Seg::Key("net.ipv4.ip_forward".into())));
        assert_eq!(
            p.to_string(),
            r#"components.host_prep.sysctls["net.ipv4.ip_forward"]"#
        );
        assert_eq!(FieldPath::root().to_string(), "(top level)");
    }

    #[test]
    fn rejects_malformed_paths() {
        assert!(FieldPath::parse("hosts[").is_err());
        assert!(FieldPath::parse("a..b").is_err());
        assert!(FieldPath::parse("a.").is_err());
        assert!(FieldPath::parse("a[x]").is_err());
        assert!(FieldPath::parse("a[0]b").is_err());
    }
}
