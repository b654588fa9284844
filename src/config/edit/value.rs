//! Paths over `serde_yaml::Value` (for `config get` and for checking edits).

use crate::config::path::{FieldPath, Seg};
use serde_yaml::Value;

fn key_matches(k: &Value, want: &str) -> bool {
    match k {
        Value::String(s) => s == want,
        Value::Number(n) => n.to_string() == want,
        Value::Bool(b) => b.to_string() == want,
        _ => false,
    }
}

/// Where a path stopped: how many segments were followed, and the keys available there.
#[derive(Debug)]
pub struct ValueMiss {
    pub depth: usize,
    pub siblings: Vec<String>,
}

fn seg_index(seg: &Seg) -> Option<usize> {
    match seg {
        Seg::Index(i) => Some(*i),
        Seg::Key(k) => k.parse().ok(),
    }
}

fn seg_key(seg: &Seg) -> String {
    match seg {
        Seg::Index(i) => i.to_string(),
        Seg::Key(k) => k.clone(),
    }
}

/// The value at `path`; digit segments index lists.
pub fn value_at<'a>(v: &'a Value, path: &FieldPath) -> Result<&'a Value, ValueMiss> {
    let mut cur = v;
    for (depth, seg) in path.0.iter().enumerate() {
        let next = match cur {
            Value::Mapping(m) => m
                .iter()
                .find(|(k, _)| key_matches(k, &seg_key(seg)))
                .map(|(_, v)| v),
            Value::Sequence(s) => seg_index(seg).and_then(|i| s.get(i)),
            Value::Tagged(t) => {
                return value_at(&t.value, &FieldPath(path.0[depth..].to_vec())).map_err(|m| {
                    ValueMiss {
                        depth: depth + m.depth,
                        ..m
                    }
                })
            }
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => {
                let siblings = match cur {
                    Value::Mapping(m) => m
                        .keys()
                        .filter_map(|k| k.as_str().map(str::to_string))
                        .collect(),
                    Value::Sequence(s) => (0..s.len()).map(|i| format!("[{i}]")).collect(),
                    _ => Vec::new(),
                };
                return Err(ValueMiss { depth, siblings });
            }
        }
    }
    Ok(cur)
}

/// Set `path` to `new`, creating missing mapping keys. `None` when the path can't exist.
pub(super) fn set_at(v: &mut Value, path: &[Seg], new: Value) -> Option<()> {
    let Some((seg, rest)) = path.split_first() else {
        *v = new;
        return Some(());
    };
    if v.is_null() {
        *v = Value::Mapping(Default::default());
    }
    match v {
        Value::Mapping(m) => {
            let key = seg_key(seg);
            let existing = m.keys().find(|k| key_matches(k, &key)).cloned();
            let k = existing.unwrap_or(Value::String(key));
            let slot = m.entry(k).or_insert(Value::Null);
            set_at(slot, rest, new)
        }
        Value::Sequence(s) => set_at(s.get_mut(seg_index(seg)?)?, rest, new),
        _ => None,
    }
}
