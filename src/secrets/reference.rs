//! Secret references: `${secret:PATH:KEY}` inside any string of stack.yaml.
//!
//! PATH is `segment(/segment)*`, KEY one name; both use `[A-Za-z0-9_.-]`. A value may be exactly a
//! reference (`api_key: ${secret:truenas:api_key}`) or contain several inside a larger string
//! (`url: https://${secret:dns:user}:${secret:dns:token}@example.com`). Other `${...}` text is
//! left alone; anything that starts like a reference (`${secret`, any case) must be well-formed.

use std::fmt;
use std::ops::Range;

const OPEN: &str = "${";
const EXPECTED: &str = "expected ${secret:PATH:KEY} with PATH like `truenas` or `hosts/node-1` and KEY like `api_key` (letters, digits, `_`, `.`, `-`)";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretRef {
    pub path: String,
    pub key: String,
    /// Byte range of the whole `${secret:...}` in the string it was found in.
    pub span: Range<usize>,
}

impl SecretRef {
    /// A reference built from its parts (as given to `secret get PATH KEY`), checked.
    pub fn new(path: &str, key: &str) -> Result<SecretRef, RefError> {
        check_path(path).map_err(|m| RefError {
            reference: format!("{path}:{key}"),
            message: m,
        })?;
        check_key(key).map_err(|m| RefError {
            reference: format!("{path}:{key}"),
            message: m,
        })?;
        Ok(SecretRef {
            path: path.to_string(),
            key: key.to_string(),
            span: 0..0,
        })
    }

    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.path.split('/')
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${{secret:{}:{}}}", self.path, self.key)
    }
}

/// A malformed reference: what is wrong, and the expected form. Quotes only the reference text,
/// never the rest of the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed secret reference `{reference}`: {message}; {EXPECTED}")]
pub struct RefError {
    pub reference: String,
    pub message: String,
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

fn check_name(what: &str, s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    if let Some(c) = s.chars().find(|c| !name_char(*c)) {
        return Err(format!(
            "the {what} `{s}` contains `{}`, which is not allowed",
            c.escape_default()
        ));
    }
    Ok(())
}

pub fn check_path(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("the PATH is empty".into());
    }
    for seg in p.split('/') {
        if seg.is_empty() {
            return Err(format!(
                "the PATH `{p}` has an empty segment (leading, trailing or doubled `/`)"
            ));
        }
        if seg == "." || seg == ".." {
            return Err(format!("the PATH `{p}` has a `{seg}` segment"));
        }
        check_name("PATH segment", seg)?;
    }
    Ok(())
}

pub fn check_key(k: &str) -> Result<(), String> {
    check_name("KEY", k)
}

/// True when `s` holds something that starts like a reference (cheap pre-check).
pub fn mentions_ref(s: &str) -> bool {
    s.match_indices(OPEN).any(|(i, _)| {
        s[i + 2..]
            .get(..6)
            .is_some_and(|w| w.eq_ignore_ascii_case("secret"))
    })
}

/// Every reference in `s`, in order. An error for the first malformed one.
pub fn find_refs(s: &str) -> Result<Vec<SecretRef>, RefError> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(rel) = s[from..].find(OPEN) {
        let start = from + rel;
        let body_start = start + OPEN.len();
        let rest = &s[body_start..];
        let looks_like_ref = rest
            .get(..6)
            .is_some_and(|w| w.eq_ignore_ascii_case("secret"));
        if !looks_like_ref {
            from = body_start;
            continue;
        }
        let Some(close_rel) = rest.find('}') else {
            let shown: String = s[start..].chars().take(60).collect();
            return Err(RefError {
                reference: shown,
                message: "there is no closing `}`".into(),
            });
        };
        let end = body_start + close_rel + 1;
        let whole = &s[start..end];
        let body = &rest[..close_rel];
        let Some(inner) = body.strip_prefix("secret:") else {
            let word: String = body.chars().take_while(|c| *c != ':').collect();
            return Err(RefError {
                reference: whole.into(),
                message: format!("it starts with `${{{word}` instead of `${{secret:`"),
            });
        };
        let parts: Vec<&str> = inner.split(':').collect();
        let (path, key) = match parts.as_slice() {
            [p, k] => (*p, *k),
            [_] => {
                return Err(RefError {
                    reference: whole.into(),
                    message: "there is no `:KEY` after the PATH".into(),
                })
            }
            _ => {
                return Err(RefError {
                    reference: whole.into(),
                    message: format!(
                        "it has {} `:` after `secret:`; PATH and KEY are separated by exactly one",
                        parts.len() - 1
                    ),
                })
            }
        };
        check_path(path)
            .and_then(|_| check_key(key))
            .map_err(|m| RefError {
                reference: whole.into(),
                message: m,
            })?;
        out.push(SecretRef {
            path: path.into(),
            key: key.into(),
            span: start..end,
        });
        from = end;
    }
    Ok(out)
}

/// True when the whole of `s` is one reference.
pub fn is_exact_ref(s: &str) -> bool {
    matches!(find_refs(s).as_deref(), Ok([r]) if r.span == (0..s.len()))
}

/// `s` with every reference replaced by `f(reference)`.
pub fn replace_refs(
    s: &str,
    refs: &[SecretRef],
    mut f: impl FnMut(&SecretRef) -> String,
) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for r in refs {
        out.push_str(&s[last..r.span.start]);
        out.push_str(&f(r));
        last = r.span.end;
    }
    out.push_str(&s[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exact_and_embedded_references() {
        let r = find_refs("${secret:truenas:api_key}").unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].path.as_str(), r[0].key.as_str()),
            ("truenas", "api_key")
        );
        assert!(is_exact_ref("${secret:truenas:api_key}"));
        let s = "https://${secret:dns/acme:user}:${secret:dns/acme:token.v2}@x/${HOME}";
        let r = find_refs(s).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].path, "dns/acme");
        assert_eq!(r[1].key, "token.v2");
        assert_eq!(&s[r[0].span.clone()], "${secret:dns/acme:user}");
        assert!(!is_exact_ref(s));
        assert_eq!(
            replace_refs(s, &r, |x| x.key.to_uppercase()),
            "https://USER:TOKEN.V2@x/${HOME}"
        );
        assert!(find_refs("plain ${HOME} $secret").unwrap().is_empty());
        assert_eq!(r[0].to_string(), "${secret:dns/acme:user}");
    }

    #[test]
    fn malformed_references_say_what_is_wrong() {
        let cases = [
            ("${secret:truenas}", "no `:KEY`"),
            ("${secret:truenas:api_key", "no closing"),
            ("${secret::k}", "PATH is empty"),
            ("${secret:a//b:k}", "empty segment"),
            ("${secret:/a:k}", "empty segment"),
            ("${secret:a:}", "KEY is empty"),
            ("${secret:a b:k}", "contains ` `"),
            ("${secret:a:b:c}", "2 `:`"),
            ("${secrets:a:b}", "instead of `${secret:`"),
            ("${SECRET:a:b}", "instead of"),
            ("${secret:../x:k}", "`..` segment"),
        ];
        for (s, want) in cases {
            let e = find_refs(s).unwrap_err().to_string();
            assert!(e.contains(want), "{s}: {e}");
            assert!(e.contains("expected ${secret:PATH:KEY}"), "{e}");
        }
        assert!(SecretRef::new("hosts/node-1", "sudo_password").is_ok());
        assert!(SecretRef::new("hosts/", "x").is_err());
    }
}
