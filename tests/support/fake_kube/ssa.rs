//! Server-side apply with managedFields-lite: the leaf fields each manager set are kept in
//! `metadata.managedFields` (FieldsV1 trees); an apply that changes a field another manager
//! owns is a 409 Conflict unless forced; an identical re-apply changes nothing (same
//! resourceVersion, same managedFields time) — api-behaviour.md A.3, samples 05-ssa-*.
//! Lists are atomic (no list-map keys), which is all foundry's objects need.

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) type Path = Vec<String>;

/// One managedFields entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub manager: String,
    pub apply: bool,
    pub api_version: String,
    pub time: String,
    pub fields: BTreeSet<Path>,
}

impl Entry {
    /// How a conflict names the manager: `"foundry"`, or `"kubectl" using v1` for an updater.
    pub fn display(&self) -> String {
        if self.apply {
            format!("\"{}\"", self.manager)
        } else {
            format!("\"{}\" using {}", self.manager, self.api_version)
        }
    }
}

/// The fields a client owns by setting them: every leaf except identity and server-set data.
pub(crate) fn leaf_paths(v: &Value) -> BTreeMap<Path, Value> {
    let mut out = BTreeMap::new();
    let Some(o) = v.as_object() else { return out };
    for (k, val) in o {
        match k.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                if let Some(m) = val.as_object() {
                    for (mk, mv) in m {
                        if matches!(
                            mk.as_str(),
                            "name"
                                | "namespace"
                                | "uid"
                                | "resourceVersion"
                                | "creationTimestamp"
                                | "managedFields"
                                | "generation"
                                | "deletionTimestamp"
                                | "deletionGracePeriodSeconds"
                        ) {
                            continue;
                        }
                        walk(&mut out, vec!["metadata".into(), mk.clone()], mv);
                    }
                }
            }
            _ => walk(&mut out, vec![k.clone()], val),
        }
    }
    out
}

fn walk(out: &mut BTreeMap<Path, Value>, path: Path, v: &Value) {
    match v.as_object() {
        Some(o) if !o.is_empty() => {
            for (k, val) in o {
                let mut p = path.clone();
                p.push(k.clone());
                walk(out, p, val);
            }
        }
        _ => {
            out.insert(path, v.clone());
        }
    }
}

pub(crate) fn get<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, seg| cur.get(seg))
}

fn set(v: &mut Value, path: &[String], val: Value) {
    let mut cur = v;
    for seg in &path[..path.len() - 1] {
        if !cur.get(seg).map(|c| c.is_object()).unwrap_or(false) {
            cur[seg.as_str()] = json!({});
        }
        cur = cur.get_mut(seg).expect("just set");
    }
    cur[path[path.len() - 1].as_str()] = val;
}

fn remove(v: &mut Value, path: &[String]) {
    fn rec(v: &mut Value, path: &[String]) {
        let Some(o) = v.as_object_mut() else { return };
        if path.len() == 1 {
            o.remove(&path[0]);
            return;
        }
        if let Some(child) = o.get_mut(&path[0]) {
            rec(child, &path[1..]);
            if child.as_object().map(|c| c.is_empty()).unwrap_or(false) {
                o.remove(&path[0]);
            }
        }
    }
    rec(v, path)
}

/// `.data.key` as conflicts print it.
pub(crate) fn dotted(path: &[String]) -> String {
    format!(".{}", path.join("."))
}

fn fields_v1(paths: &BTreeSet<Path>) -> Value {
    let mut root = Map::new();
    for p in paths {
        let mut cur = &mut root;
        for seg in p {
            cur = cur
                .entry(format!("f:{seg}"))
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("object");
        }
    }
    Value::Object(root)
}

fn paths_from_fields_v1(v: &Value, prefix: &mut Path, out: &mut BTreeSet<Path>) {
    let Some(o) = v.as_object() else { return };
    if o.is_empty() && !prefix.is_empty() {
        out.insert(prefix.clone());
        return;
    }
    for (k, child) in o {
        if let Some(name) = k.strip_prefix("f:") {
            prefix.push(name.to_string());
            paths_from_fields_v1(child, prefix, out);
            prefix.pop();
        }
    }
}

pub(crate) fn entries(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(|m| m.as_array())
        .into_iter()
        .flatten()
        .map(|e| {
            let mut fields = BTreeSet::new();
            paths_from_fields_v1(&e["fieldsV1"], &mut Vec::new(), &mut fields);
            Entry {
                manager: e["manager"].as_str().unwrap_or_default().into(),
                apply: e["operation"].as_str() == Some("Apply"),
                api_version: e["apiVersion"].as_str().unwrap_or_default().into(),
                time: e["time"].as_str().unwrap_or_default().into(),
                fields,
            }
        })
        .collect()
}

pub(crate) fn write_entries(obj: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            json!({
                "manager": e.manager,
                "operation": if e.apply { "Apply" } else { "Update" },
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": fields_v1(&e.fields),
            })
        })
        .collect();
    if let Some(meta) = obj.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// Conflicting (field, manager display) pairs.
pub(crate) type Conflicts = Vec<(Path, String)>;

/// The object after `manager` applied `applied` onto `existing` (a fresh skeleton for a create).
/// Err: the conflicts, when not forced.
pub(crate) fn apply(
    existing: &Value,
    applied: &Value,
    manager: &str,
    force: bool,
    api_version: &str,
    now: &str,
) -> Result<Value, Conflicts> {
    let want = leaf_paths(applied);
    let mut ents = entries(existing);
    let mut conflicts = Vec::new();
    for (path, val) in &want {
        let differs = get(existing, path).map(|cur| cur != val).unwrap_or(false);
        for e in ents.iter_mut().filter(|e| e.manager != manager || !e.apply) {
            if e.fields.contains(path) && differs {
                if force {
                    e.fields.remove(path);
                } else {
                    conflicts.push((path.clone(), e.display()));
                }
            }
        }
    }
    if !conflicts.is_empty() {
        conflicts.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        return Err(conflicts);
    }
    let mut out = existing.clone();
    let before: BTreeSet<Path> = ents
        .iter()
        .find(|e| e.manager == manager && e.apply)
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let new_set: BTreeSet<Path> = want.keys().cloned().collect();
    for dropped in before.difference(&new_set) {
        let owned_elsewhere = ents
            .iter()
            .any(|e| !(e.manager == manager && e.apply) && e.fields.contains(dropped));
        if !owned_elsewhere {
            remove(&mut out, dropped);
        }
    }
    for (path, val) in &want {
        set(&mut out, path, val.clone());
    }
    match ents.iter_mut().find(|e| e.manager == manager && e.apply) {
        Some(e) => {
            if e.fields != new_set || strip_managed(&out) != strip_managed(existing) {
                e.time = now.into();
            }
            e.fields = new_set;
            e.api_version = api_version.into();
        }
        None => ents.push(Entry {
            manager: manager.into(),
            apply: true,
            api_version: api_version.into(),
            time: now.into(),
            fields: new_set,
        }),
    }
    write_entries(&mut out, &ents);
    Ok(out)
}

/// After a non-apply write (create, update, patch) by `manager`: the leaf fields it changed
/// move to its Update entry (an update never conflicts; ownership just moves).
pub(crate) fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    now: &str,
) {
    let mut ents = old.map(entries).unwrap_or_default();
    let changed: BTreeSet<Path> = leaf_paths(new)
        .into_iter()
        .filter(|(p, v)| old.and_then(|o| get(o, p)) != Some(v))
        .map(|(p, _)| p)
        .collect();
    if changed.is_empty() {
        write_entries(new, &ents);
        return;
    }
    for e in ents.iter_mut() {
        e.fields.retain(|p| !changed.contains(p));
    }
    match ents.iter_mut().find(|e| e.manager == manager && !e.apply) {
        Some(e) => {
            e.fields.extend(changed);
            e.time = now.into();
        }
        None => ents.push(Entry {
            manager: manager.into(),
            apply: false,
            api_version: api_version.into(),
            time: now.into(),
            fields: changed,
        }),
    }
    write_entries(new, &ents);
}

/// The object without managedFields (for "did anything change").
pub(crate) fn strip_managed(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        m.remove("managedFields");
    }
    v
}

/// The 409 message (conflict.go): one conflict inline, several grouped by manager.
pub(crate) fn conflict_message(conflicts: &Conflicts) -> String {
    if conflicts.len() == 1 {
        let (p, m) = &conflicts[0];
        return format!(
            "Apply failed with 1 conflict: conflict with {m}: {}",
            dotted(p)
        );
    }
    let mut lines = vec![format!("Apply failed with {} conflicts: ", conflicts.len())];
    let mut by_mgr: BTreeMap<&String, Vec<&Path>> = BTreeMap::new();
    for (p, m) in conflicts {
        by_mgr.entry(m).or_default().push(p);
    }
    let mut first = true;
    for (m, paths) in by_mgr {
        let head = format!("conflicts with {m}:");
        if first {
            lines[0].push_str(&head);
            first = false;
        } else {
            lines.push(head);
        }
        for p in paths {
            lines.push(format!("- {}", dotted(p)));
        }
    }
    lines.join("\n")
}
