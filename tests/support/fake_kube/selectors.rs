//! Label and field selectors (api-behaviour.md A.4): `a=b`, `a==b`, `a!=b`, `a`, `!a` for
//! labels; `path=value` / `path!=value` on any dotted field (spec.nodeName, metadata.name,
//! status.phase, ...).

use serde_json::Value;

fn field_value(obj: &Value, path: &str) -> String {
    let v = path.split('.').try_fold(obj, |cur, seg| cur.get(seg));
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub(crate) fn labels_match(obj: &Value, selector: &str) -> bool {
    let labels = &obj["metadata"]["labels"];
    selector
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .all(|term| {
            if let Some((k, v)) = term.split_once("!=") {
                labels[k.trim()].as_str() != Some(v.trim())
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                labels[k.trim()].as_str() == Some(v.trim())
            } else if let Some(k) = term.strip_prefix('!') {
                labels.get(k).is_none()
            } else {
                labels.get(term).is_some()
            }
        })
}

pub(crate) fn fields_match(obj: &Value, selector: &str) -> bool {
    selector
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .all(|term| {
            if let Some((k, v)) = term.split_once("!=") {
                field_value(obj, k.trim()) != v.trim()
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                field_value(obj, k.trim()) == v.trim()
            } else {
                false
            }
        })
}

/// A `matchLabels` selector (PDBs): empty or missing matches nothing.
pub(crate) fn match_labels(selector: &Value, obj: &Value) -> bool {
    let Some(ml) = selector["matchLabels"].as_object() else {
        return false;
    };
    !ml.is_empty()
        && ml
            .iter()
            .all(|(k, v)| obj["metadata"]["labels"].get(k) == Some(v))
}
