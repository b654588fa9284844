//! `set_value`: change or add one value, keeping the rest of the file byte-for-byte.

use super::render::{render_input, yaml_string};
use super::text::{block_end, newline};
use super::value::set_at;
use crate::config::locate::{walk, Found, MissReason, Missing};
use crate::config::path::{FieldPath, Seg};
use crate::config::span::{flow_span, scalar_span, LineMap};
use crate::config::tree::{self, Kind, Node};
use crate::error::{fail, ExitClass};
use anyhow::Result;
use serde_yaml::Value;

fn err(msg: impl Into<String>) -> anyhow::Error {
    fail(ExitClass::Config, msg.into())
}

/// Set the value at `path` (`components.k3s.version`, `hosts[0].address`, `hosts.0.address`) to
/// `yaml_value` as typed on a command line (see `render_input`). An existing scalar or flow value
/// is replaced in place; a missing key under an existing mapping is added on a new line with the
/// mapping's indentation (missing parents are created too). Returns the new file text.
pub fn set_value(source: &str, path: &str, yaml_value: &str) -> Result<String> {
    let fp = FieldPath::parse(path).map_err(|e| err(format!("bad path: {e}")))?;
    if fp.is_root() {
        return Err(err("give a field path, e.g. components.k3s.version"));
    }
    let root = tree::parse(source).map_err(|e| {
        err(format!(
            "the file is not valid YAML (line {}, column {}: {}); fix it first",
            e.pos.line, e.pos.col, e.message
        ))
    })?;
    let Some(root) = root else {
        return Err(err("the file is empty"));
    };
    let (text, value) = render_input(yaml_value).map_err(err)?;
    let lm = LineMap::new(source);
    let (out, target) = match walk(&root, &fp) {
        Ok(found) => (
            replace(source, &lm, &root, &found, &text)?,
            found.path.0.clone(),
        ),
        Err(missing) => insert(source, &lm, &root, &fp, missing, &text)?,
    };
    verify(source, &out, &target, value)?;
    Ok(out)
}

/// True when some collection on the way to `path` is written in flow style (`{...}`, `[...]`).
fn inside_flow(root: &Node, path: &FieldPath) -> bool {
    let mut cur = root;
    for seg in &path.0 {
        if cur.flow {
            return true;
        }
        let next = match (seg, &cur.kind) {
            (Seg::Key(k), Kind::Map(es)) => es.iter().find(|e| &e.key == k).map(|e| &e.value),
            (Seg::Index(i), Kind::Seq(items)) => items.get(*i),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return false,
        }
    }
    false
}

fn replace(src: &str, lm: &LineMap, root: &Node, found: &Found<'_>, text: &str) -> Result<String> {
    let path = &found.path;
    let in_flow = inside_flow(root, path);
    let span = match &found.node.kind {
        Kind::Scalar { .. } => scalar_span(
            src,
            lm,
            found.node,
            found.entry.map(|e| (e.key_pos, e.key_style)),
            in_flow,
        ),
        Kind::Map(_) | Kind::Seq(_) if found.node.flow => flow_span(src, lm, found.node),
        Kind::Map(_) | Kind::Seq(_) => {
            let what = if matches!(found.node.kind, Kind::Map(_)) {
                "a mapping"
            } else {
                "a list"
            };
            return Err(err(format!(
                "{path} is {what} written over several lines (line {}); set its entries one at a time (e.g. {path}.FIELD or {path}[0]) or edit the file",
                found.node.pos.line
            )));
        }
        Kind::Alias(_) => {
            return Err(err(format!(
                "{path} is an alias (*name) at line {}; edit the file by hand",
                found.node.pos.line
            )))
        }
    };
    let Some(span) = span else {
        return Err(err(format!("cannot edit {path} in place (line {}: anchored, tagged or unusual scalar); edit the file by hand", found.node.pos.line)));
    };
    let glue = if span.is_empty() { " " } else { "" };
    Ok(format!(
        "{}{glue}{text}{}",
        &src[..span.start],
        &src[span.end..]
    ))
}

/// `k: v`, or with several keys a nested block (`a:\n  b: v`) / flow (`a: {b: v}`).
fn nested_block(keys: &[String], text: &str, indent: usize, unit: usize, nl: &str) -> String {
    let mut out = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let pad = " ".repeat(indent + i * unit);
        let k = yaml_string(k);
        if i + 1 == keys.len() {
            out.push(format!("{pad}{k}: {text}"));
        } else {
            out.push(format!("{pad}{k}:"));
        }
    }
    out.join(nl)
}

fn nested_flow(keys: &[String], text: &str) -> String {
    let mut s = text.to_string();
    for (i, k) in keys.iter().enumerate().rev() {
        s = if i == 0 {
            format!("{}: {s}", yaml_string(k))
        } else {
            format!("{{{}: {s}}}", yaml_string(k))
        };
    }
    s
}

/// Indentation step used in the file: from a block mapping nested in `map`, else 2.
fn indent_unit(map: &Node) -> usize {
    if let Kind::Map(es) = &map.kind {
        for e in es {
            if let Kind::Map(inner) = &e.value.kind {
                if let (false, Some(first)) = (e.value.flow, inner.first()) {
                    if first.key_pos.col > e.key_pos.col {
                        return first.key_pos.col - e.key_pos.col;
                    }
                }
            }
        }
    }
    2
}

fn insert(
    src: &str,
    lm: &LineMap,
    root: &Node,
    fp: &FieldPath,
    missing: Missing<'_>,
    text: &str,
) -> Result<(String, Vec<Seg>)> {
    let nl = newline(src);
    let parent = missing.found.node;
    let parent_path = &missing.found.path;
    if let MissReason::NoIndex { index, len } = &missing.reason {
        return Err(err(format!(
            "{parent_path} has {len} item(s); there is no [{index}]"
        )));
    }
    let rest = &fp.0[missing.at..];
    let keys: Vec<String> = rest
        .iter()
        .map(|s| match s {
            Seg::Key(k) => Ok(k.clone()),
            Seg::Index(_) => Err(err(format!("{fp}: list items can't be created with `config set`; add them in the file (or `foundry host add` for hosts)"))),
        })
        .collect::<Result<_>>()?;
    let mut target = parent_path.0.clone();
    target.extend(keys.iter().map(|k| Seg::Key(k.clone())));

    match (&missing.reason, &parent.kind) {
        (MissReason::NoIndex { .. }, _) => unreachable!("handled above"),
        (MissReason::NoKey { .. }, Kind::Seq(_)) => Err(err(format!(
            "{parent_path} is a list; address its items by index, e.g. {parent_path}[0]"
        ))),
        // Whether the new key exists in the schema is the caller's check (`config set` loads the
        // result and refuses unknown fields with a did-you-mean).
        (MissReason::NoKey { .. }, Kind::Map(entries)) => {
            if parent.flow {
                let end = lm
                    .offset(
                        src,
                        parent.end.ok_or_else(|| err("unterminated flow mapping"))?,
                    )
                    .ok_or_else(|| err("bad position"))?;
                let piece = nested_flow(&keys, text);
                let sep = if entries.is_empty() { "" } else { ", " };
                // Insert before the `}` (after trailing blanks of the last entry are kept).
                let before = src[..end].trim_end_matches([' ', '\t']);
                let cut = before.len();
                return Ok((
                    format!("{}{sep}{piece}{}", &src[..cut], &src[cut..]),
                    target,
                ));
            }
            let first = entries.first().ok_or_else(|| err("empty block mapping"))?;
            let indent = first.key_pos.col - 1;
            let last = entries.last().unwrap();
            let end_line = block_end(src, lm, last.key_pos.line, indent, true);
            let at = lm
                .line_end(src, end_line)
                .ok_or_else(|| err("bad position"))?;
            let block = nested_block(&keys, text, indent, indent_unit(parent), nl);
            Ok((format!("{}{nl}{block}{}", &src[..at], &src[at..]), target))
        }
        (MissReason::NotCollection, Kind::Scalar { value, .. }) if value.is_empty() => {
            // `storage:` with nothing after it: turn it into a mapping.
            let Some(entry) = missing.found.entry else {
                return Err(err("the file's top level is empty"));
            };
            let at = lm
                .line_end(src, entry.key_pos.line)
                .ok_or_else(|| err("bad position"))?;
            let unit = indent_unit(root);
            let block = nested_block(&keys, text, entry.key_pos.col - 1 + unit, unit, nl);
            Ok((format!("{}{nl}{block}{}", &src[..at], &src[at..]), target))
        }
        (MissReason::NotCollection, Kind::Scalar { value, .. }) => Err(err(format!(
            "{parent_path} is a plain value (`{}`), so it has no field `{}`",
            value_preview(value),
            keys[0]
        ))),
        (MissReason::NotCollection, _) | (MissReason::NoKey { .. }, _) => {
            Err(err(format!("{parent_path} can't hold {}", keys[0])))
        }
    }
}

/// Enough of a value to recognise it in a message; secret-looking fields never reach here
/// because paths below a scalar don't exist.
fn value_preview(v: &str) -> String {
    let s: String = v.chars().take(40).collect();
    if s.len() < v.len() {
        format!("{s}...")
    } else {
        s
    }
}

/// The edit must change exactly `target` to `value` and nothing else.
fn verify(old: &str, new: &str, target: &[Seg], value: Value) -> Result<()> {
    let mut want: Value =
        serde_yaml::from_str(old).map_err(|e| err(format!("the file does not parse: {e}")))?;
    set_at(&mut want, target, value)
        .ok_or_else(|| err(format!("{} can't be set", FieldPath(target.to_vec()))))?;
    let got: Value = serde_yaml::from_str(new).map_err(|e| {
        err(format!(
            "editing {} in place would break the file ({e}); edit it by hand",
            FieldPath(target.to_vec())
        ))
    })?;
    if got != want {
        return Err(err(format!("editing {} in place did not give the expected result (unusual formatting there); edit the file by hand", FieldPath(target.to_vec()))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "\
# The lab stack.
cluster:
  name: lab        # short name
  domain: 'lab.example.com'
  vip: 10.0.0.50

hosts:
  - hostname: node-1   # first
    address: 10.0.0.11
    roles: [openbao, zot]
  - hostname: node-2
    address: 10.0.0.12
components:
  k3s: {version: v1.33.5+k3s1}
  zot:
    port: 5000
storage:
# trailing comment
";

    fn set(path: &str, v: &str) -> String {
        set_value(SRC, path, v).unwrap_or_else(|e| panic!("{path}: {e:#}"))
    }

    #[test]
    fn replaces_scalars_keeping_everything_else() {
        let out = set("cluster.name", "homelab");
        assert_eq!(
            out,
            SRC.replace(
                "name: lab        # short name",
                "name: homelab        # short name"
            )
        );
        let out = set("cluster.domain", "home.example.com");
        assert_eq!(out, SRC.replace("'lab.example.com'", "home.example.com"));
        let out = set("hosts.1.address", "10.0.0.13");
        assert_eq!(out, SRC.replace("10.0.0.12", "10.0.0.13"));
        let out = set("hosts[0].roles[1]", "cluster-control-plane");
        assert_eq!(
            out,
            SRC.replace("[openbao, zot]", "[openbao, cluster-control-plane]")
        );
        let out = set("hosts[0].roles", "[zot]");
        assert_eq!(out, SRC.replace("[openbao, zot]", "[zot]"));
        let out = set("components.k3s.version", "v1.33.6+k3s1");
        assert_eq!(out, SRC.replace("v1.33.5+k3s1", "v1.33.6+k3s1"));
        let out = set("components.zot.port", "5001");
        assert_eq!(out, SRC.replace("port: 5000", "port: 5001"));
        let out = set("cluster.vip", "a: b");
        assert_eq!(out, SRC.replace("vip: 10.0.0.50", "vip: \"a: b\""));
    }

    #[test]
    fn inserts_missing_keys_with_the_right_indentation() {
        let out = set("hosts[1].user", "admin");
        assert_eq!(
            out,
            SRC.replace(
                "    address: 10.0.0.12\n",
                "    address: 10.0.0.12\n    user: admin\n"
            )
        );
        let out = set("components.zot.gc", "false");
        assert_eq!(
            out,
            SRC.replace("    port: 5000\n", "    port: 5000\n    gc: false\n")
        );
        let out = set("components.openbao.port", "8300");
        assert_eq!(
            out,
            SRC.replace(
                "    port: 5000\n",
                "    port: 5000\n  openbao:\n    port: 8300\n"
            )
        );
        let out = set("components.k3s.cluster_cidr", "10.42.0.0/16");
        assert_eq!(
            out,
            SRC.replace(
                "{version: v1.33.5+k3s1}",
                "{version: v1.33.5+k3s1, cluster_cidr: 10.42.0.0/16}"
            )
        );
        let out = set("storage.truenas.pool", "tank");
        assert_eq!(
            out,
            SRC.replace("storage:\n", "storage:\n  truenas:\n    pool: tank\n")
        );
        let out = set("network.cidr", "10.0.0.0/24");
        assert_eq!(
            out,
            SRC.replace(
                "storage:\n# trailing",
                "storage:\nnetwork:\n  cidr: 10.0.0.0/24\n# trailing"
            )
        );
        let out = set("cluster.extra", "1");
        assert_eq!(
            out,
            SRC.replace("  vip: 10.0.0.50\n", "  vip: 10.0.0.50\n  extra: 1\n")
        );
    }

    #[test]
    fn refuses_what_it_cannot_do_safely() {
        assert!(set_value(SRC, "hosts", "x")
            .unwrap_err()
            .to_string()
            .contains("a list written over several lines"));
        assert!(set_value(SRC, "hosts[5].address", "x")
            .unwrap_err()
            .to_string()
            .contains("has 2 item(s)"));
        assert!(set_value(SRC, "cluster.name.x", "y")
            .unwrap_err()
            .to_string()
            .contains("plain value"));
        assert!(set_value(SRC, "hosts[2]", "x").is_err());
        assert!(set_value("a: [b\n", "a", "x")
            .unwrap_err()
            .to_string()
            .contains("not valid YAML"));
        let multi = "a: first\n  continued\nb: 1\n";
        let e = set_value(multi, "a", "x").unwrap_err().to_string();
        assert!(e.contains("edit the file by hand"), "{e}");
    }

    #[test]
    fn crlf_files_stay_crlf() {
        let src = "a:\r\n  b: 1\r\nc: 2\r\n";
        assert_eq!(
            set_value(src, "a.d", "3").unwrap(),
            "a:\r\n  b: 1\r\n  d: 3\r\nc: 2\r\n"
        );
        assert_eq!(
            set_value(src, "a.b", "4").unwrap(),
            "a:\r\n  b: 4\r\nc: 2\r\n"
        );
    }
}
