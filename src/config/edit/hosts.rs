//! Adding and removing hosts in stack.yaml's `hosts:` list, keeping the rest of the file.

use super::text::{block_end, indent_block, newline};
use crate::config::span::{after_colon, LineMap};
use crate::config::suggest;
use crate::config::tree::{self, Kind, Node};
use crate::error::{fail, ExitClass};
use anyhow::Result;
use serde_yaml::Value;

fn err(msg: impl Into<String>) -> anyhow::Error {
    fail(ExitClass::Config, msg.into())
}

fn hostname_of(n: &Node) -> Option<&str> {
    n.get("hostname")?.value.as_scalar()
}

fn parse_root(source: &str) -> Result<Node> {
    tree::parse(source)
        .map_err(|e| {
            err(format!(
                "the file is not valid YAML (line {}, column {}: {}); fix it first",
                e.pos.line, e.pos.col, e.message
            ))
        })?
        .ok_or_else(|| err("the file is empty"))
}

fn hosts_value(src: &str) -> Result<Vec<Value>> {
    let v: Value =
        serde_yaml::from_str(src).map_err(|e| err(format!("the result does not parse: {e}")))?;
    Ok(match v.get("hosts") {
        Some(Value::Sequence(s)) => s.clone(),
        _ => Vec::new(),
    })
}

fn without_hosts(src: &str) -> Result<Value> {
    let mut v: Value =
        serde_yaml::from_str(src).map_err(|e| err(format!("the result does not parse: {e}")))?;
    if let Value::Mapping(m) = &mut v {
        m.remove("hosts");
    }
    Ok(v)
}

/// Check that `new` differs from `old` only in its hosts list, which must equal `want`.
fn verify(old: &str, new: &str, want: Vec<Value>, what: &str) -> Result<()> {
    if hosts_value(new)? != want || without_hosts(new)? != without_hosts(old)? {
        return Err(err(format!("{what} in place did not give the expected result (unusual formatting of `hosts:`); edit the file by hand")));
    }
    Ok(())
}

/// Append a host to `hosts:`. `host_yaml` is one host as a block-style YAML mapping without
/// indentation (e.g. `serde_yaml::to_string(&host)`); it is indented to match the list.
pub fn append_host(source: &str, host_yaml: &str) -> Result<String> {
    let host: Value = serde_yaml::from_str(host_yaml)
        .map_err(|e| err(format!("the new host is not valid YAML: {e}")))?;
    let name = host
        .get("hostname")
        .and_then(Value::as_str)
        .ok_or_else(|| err("the new host has no `hostname`"))?
        .to_string();
    let root = parse_root(source)?;
    let lm = LineMap::new(source);
    let nl = newline(source);
    let body = host_yaml.trim_end_matches(['\n', '\r']);
    let mut want = hosts_value(source)?;
    want.push(host);

    let out = match root.get("hosts") {
        None => {
            let sep = if source.is_empty() || source.ends_with('\n') {
                ""
            } else {
                nl
            };
            format!(
                "{source}{sep}hosts:{nl}{}{nl}",
                indent_block(body, "  - ", 4, nl)
            )
        }
        Some(entry) => match &entry.value.kind {
            Kind::Seq(items) if !entry.value.flow => {
                if let Some(dup) = items.iter().find(|n| hostname_of(n) == Some(name.as_str())) {
                    return Err(err(format!(
                        "a host named `{name}` already exists (line {})",
                        dup.pos.line
                    )));
                }
                let dash = entry.value.pos.col - 1;
                // Where the first item's content starts (`- hostname` → 2 after the dash).
                let content = items
                    .first()
                    .map(|n| n.pos.col - 1)
                    .filter(|c| *c > dash)
                    .unwrap_or(dash + 2);
                let last_line = items
                    .last()
                    .map(|n| n.pos.line)
                    .unwrap_or(entry.value.pos.line);
                let end_line = block_end(source, &lm, last_line, dash, false);
                let at = lm
                    .line_end(source, end_line)
                    .ok_or_else(|| err("bad position"))?;
                let first = format!("{}-{}", " ".repeat(dash), " ".repeat(content - dash - 1));
                format!(
                    "{}{nl}{}{}",
                    &source[..at],
                    indent_block(body, &first, content, nl),
                    &source[at..]
                )
            }
            Kind::Seq(items) if items.is_empty() => {
                // `hosts: []` → a block list under the key.
                let span = crate::config::span::flow_span(source, &lm, &entry.value)
                    .ok_or_else(|| err("bad position of `hosts: []`"))?;
                let start = source[..span.start].trim_end_matches([' ', '\t']).len();
                let indent = entry.key_pos.col - 1 + 2;
                let block =
                    indent_block(body, &format!("{}- ", " ".repeat(indent)), indent + 2, nl);
                format!("{}{nl}{block}{}", &source[..start], &source[span.end..])
            }
            Kind::Scalar { value, .. } if value.is_empty() => {
                let at = after_colon(source, &lm, entry.key_pos, entry.key_style, false)
                    .ok_or_else(|| err("bad position of `hosts:`"))?;
                let line_end = lm.line_end(source, lm.line_of(at)).unwrap_or(at);
                let indent = entry.key_pos.col - 1 + 2;
                let block =
                    indent_block(body, &format!("{}- ", " ".repeat(indent)), indent + 2, nl);
                format!("{}{nl}{block}{}", &source[..line_end], &source[line_end..])
            }
            _ => {
                return Err(err(format!(
                    "`hosts:` at line {} is not a block list; add the host by hand",
                    entry.key_pos.line
                )))
            }
        },
    };
    verify(source, &out, want, "adding the host")?;
    Ok(out)
}

/// Remove the host named `hostname` from `hosts:` (its lines only; comments above it and the
/// rest of the file stay). Removing the last host leaves `hosts: []`.
pub fn remove_host(source: &str, hostname: &str) -> Result<String> {
    let root = parse_root(source)?;
    let lm = LineMap::new(source);
    let entry = root
        .get("hosts")
        .ok_or_else(|| err("the file has no `hosts:`"))?;
    let Kind::Seq(items) = &entry.value.kind else {
        return Err(err("`hosts:` is not a list"));
    };
    let Some(i) = items.iter().position(|n| hostname_of(n) == Some(hostname)) else {
        let names: Vec<&str> = items.iter().filter_map(hostname_of).collect();
        let hint = suggest::hint(hostname, names.iter().copied());
        return Err(err(format!(
            "no host named `{hostname}`{hint} (hosts: {})",
            names.join(", ")
        )));
    };
    if entry.value.flow {
        return Err(err(format!(
            "`hosts:` at line {} is written as a flow list; remove the host by hand",
            entry.key_pos.line
        )));
    }
    let dash = entry.value.pos.col - 1;
    // The item's `-` is on its first line or above it (`-` alone on a line).
    let mut start_line = items[i].pos.line;
    while start_line > entry.value.pos.line {
        let t = lm.line(source, start_line).unwrap_or("");
        if t.len() > dash && t[dash..].starts_with('-') && t[..dash].trim().is_empty() {
            break;
        }
        start_line -= 1;
    }
    let end_line = block_end(source, &lm, start_line, dash, false);
    let start = lm
        .line_start(start_line)
        .ok_or_else(|| err("bad position"))?;
    let end = lm.line_start(end_line + 1).unwrap_or(source.len());
    let mut out = format!("{}{}", &source[..start], &source[end..]);
    if items.len() == 1 {
        let at = after_colon(source, &lm, entry.key_pos, entry.key_style, false)
            .ok_or_else(|| err("bad position of `hosts:`"))?;
        out.insert_str(at, " []");
    }
    let mut want = hosts_value(source)?;
    want.remove(i);
    verify(source, &out, want, "removing the host")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "\
cluster: {name: lab}
# Machines
hosts:
  # controller
  - hostname: node-1
    address: 10.0.0.11   # eth0
    roles:
      - openbao

  - hostname: node-2
    address: 10.0.0.12
# the rest
components: {}
";

    const NEW: &str = "hostname: node-3\naddress: 10.0.0.13\nroles:\n- cluster-worker\n";

    #[test]
    fn append_keeps_everything_else() {
        let out = append_host(SRC, NEW).unwrap();
        let want = SRC.replace(
            "    address: 10.0.0.12\n",
            "    address: 10.0.0.12\n  - hostname: node-3\n    address: 10.0.0.13\n    roles:\n    - cluster-worker\n",
        );
        assert_eq!(out, want);
        assert!(append_host(SRC, "hostname: node-1\naddress: x\n")
            .unwrap_err()
            .to_string()
            .contains("already exists"));
    }

    #[test]
    fn append_to_empty_or_missing_list() {
        assert_eq!(
            append_host("hosts: []\nx: 1\n", "hostname: a\naddress: b\n").unwrap(),
            "hosts:\n  - hostname: a\n    address: b\nx: 1\n"
        );
        assert_eq!(
            append_host("x: 1\n", "hostname: a\naddress: b\n").unwrap(),
            "x: 1\nhosts:\n  - hostname: a\n    address: b\n"
        );
        assert_eq!(
            append_host("hosts:\nx: 1\n", "hostname: a\naddress: b\n").unwrap(),
            "hosts:\n  - hostname: a\n    address: b\nx: 1\n"
        );
    }

    #[test]
    fn indentless_lists_keep_their_style() {
        let src = "hosts:\n- hostname: a\n  address: b\n- hostname: c\n  address: d\nx: 1\n";
        let out = append_host(src, "hostname: e\naddress: f\n").unwrap();
        assert_eq!(
            out,
            src.replace("x: 1", "- hostname: e\n  address: f\nx: 1")
        );
        assert_eq!(
            remove_host(src, "a").unwrap(),
            "hosts:\n- hostname: c\n  address: d\nx: 1\n"
        );
    }

    #[test]
    fn remove_takes_only_the_host_lines() {
        let out = remove_host(SRC, "node-1").unwrap();
        assert_eq!(out, SRC.replace("  - hostname: node-1\n    address: 10.0.0.11   # eth0\n    roles:\n      - openbao\n", ""));
        let out = remove_host(SRC, "node-2").unwrap();
        assert_eq!(
            out,
            SRC.replace("  - hostname: node-2\n    address: 10.0.0.12\n", "")
        );
        let e = remove_host(SRC, "node-9").unwrap_err().to_string();
        assert!(e.contains("no host named `node-9`"), "{e}");
        let one = "hosts:\n  - hostname: a\n    address: b\nx: 1\n";
        assert_eq!(remove_host(one, "a").unwrap(), "hosts: []\nx: 1\n");
    }
}
