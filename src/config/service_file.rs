//! One entry of a service's `files:`: either just the content (`/etc/app.conf: "text"`, the
//! original form, still valid) or `{content: ..., mode: "0640"}` to set the file mode.

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceFile {
    pub content: String,
    /// Permission bits from stack.yaml (`mode: "0640"`); `None` = foundry's default.
    pub mode: Option<u32>,
}

impl ServiceFile {
    pub fn new(content: impl Into<String>) -> ServiceFile {
        ServiceFile {
            content: content.into(),
            mode: None,
        }
    }
}

/// `"0640"`, `640` or `0o640` → 0o640; only permission bits (at most 0o7777).
pub fn parse_mode(s: &str) -> Option<u32> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o7777)
}

impl Serialize for ServiceFile {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.mode {
            None => s.serialize_str(&self.content),
            Some(m) => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("content", &self.content)?;
                map.serialize_entry("mode", &format!("{m:04o}"))?;
                map.end()
            }
        }
    }
}

const FIELDS: &[&str] = &["content", "mode"];

struct FileVisitor;

impl<'de> Visitor<'de> for FileVisitor {
    type Value = ServiceFile;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the file's content, or a mapping with `content` and `mode`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ServiceFile, E> {
        Ok(ServiceFile::new(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ServiceFile, E> {
        Ok(ServiceFile::new(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ServiceFile, E> {
        Ok(ServiceFile::new(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ServiceFile, E> {
        Ok(ServiceFile::new(v.to_string()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<ServiceFile, E> {
        Ok(ServiceFile::new(v.to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ServiceFile, A::Error> {
        let mut content: Option<String> = None;
        let mut mode: Option<u32> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "content" => content = Some(map.next_value()?),
                "mode" => {
                    let ModeText(text) = map.next_value()?;
                    mode = Some(parse_mode(&text).ok_or_else(|| {
                        de::Error::custom(format!(
                            "mode {} is not an octal file mode; write it quoted, like \"0640\"",
                            crate::config::shown::shown(&text)
                        ))
                    })?);
                }
                other => return Err(de::Error::unknown_field(other, FIELDS)),
            }
        }
        let content = content.ok_or_else(|| de::Error::missing_field("content"))?;
        Ok(ServiceFile { content, mode })
    }
}

/// A mode as written: text (`"0640"`), or a plain number whose digits are read as octal (a YAML
/// 1.2 reader takes `0640` for the integer 640).
struct ModeText(String);

impl<'de> Deserialize<'de> for ModeText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ModeText, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ModeText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an octal file mode like \"0640\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ModeText, E> {
                Ok(ModeText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ModeText, E> {
                Ok(ModeText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ModeText, E> {
                Ok(ModeText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for ServiceFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ServiceFile, D::Error> {
        d.deserialize_any(FileVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0640"), Some(0o640));
        assert_eq!(parse_mode("0o600"), Some(0o600));
        assert_eq!(parse_mode("644"), Some(0o644));
        assert_eq!(parse_mode("0844"), None);
        assert_eq!(parse_mode("-1"), None);
        assert_eq!(parse_mode(""), None);
    }
}
