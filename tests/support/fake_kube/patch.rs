//! Non-apply patches: JSON merge patch (RFC 7386) and strategic merge patch, the latter as a
//! merge patch whose lists of objects keyed by `type` (conditions) or `name` (containers)
//! merge item by item — enough for status patches and cordon.

use serde_json::Value;

pub(crate) fn merge(target: &mut Value, patch: &Value, strategic: bool) {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let t = target.as_object_mut().expect("object");
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else if strategic && v.is_array() && t.get(k).map(|c| c.is_array()).unwrap_or(false) {
            merge_list(t.get_mut(k).expect("present"), v);
        } else {
            merge(t.entry(k.clone()).or_insert(Value::Null), v, strategic);
        }
    }
}

fn merge_list(target: &mut Value, patch: &Value) {
    let key = ["type", "name"].into_iter().find(|key| {
        patch
            .as_array()
            .map(|a| !a.is_empty() && a.iter().all(|i| i.get(*key).is_some()))
            .unwrap_or(false)
    });
    let Some(key) = key else {
        *target = patch.clone();
        return;
    };
    let items = target.as_array_mut().expect("array");
    for p in patch.as_array().expect("array") {
        match items.iter_mut().find(|i| i.get(key) == p.get(key)) {
            Some(existing) => merge(existing, p, true),
            None => items.push(p.clone()),
        }
    }
}
