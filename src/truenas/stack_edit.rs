//! Removing one entry of `storage.truenas.datasets` from stack.yaml in place: only that entry's
//! text goes, every other byte (comments, order, formatting) stays. Built on the positioned tree
//! and line spans of `crate::config` (as `config::edit` is), and verified the same way: the
//! result is re-parsed and must differ from the original in exactly that one list item, else
//! nothing is written.

use crate::config::span::{after_colon, flow_span, indent_of, is_blank_or_comment, LineMap};
use crate::config::tree::{self, Entry, Kind, Node};
use serde_yaml::Value;

fn datasets_entry(root: &Node) -> Result<&Entry, String> {
    root.get("storage")
        .and_then(|s| s.value.get("truenas"))
        .and_then(|t| t.value.get("datasets"))
        .ok_or_else(|| "the file has no `storage.truenas.datasets`".to_string())
}

fn datasets_value(src: &str) -> Result<(Value, Vec<Value>), String> {
    let mut v: Value =
        serde_yaml::from_str(src).map_err(|e| format!("the result does not parse: {e}"))?;
    let list = v
        .get_mut("storage")
        .and_then(|s| s.get_mut("truenas"))
        .and_then(|t| t.as_mapping_mut())
        .and_then(|t| t.remove("datasets"));
    let items = match list {
        Some(Value::Sequence(s)) => s,
        _ => Vec::new(),
    };
    Ok((v, items))
}

/// The last line of the list item whose `-` is on `first_line` at column `dash` (0-based): the
/// following lines indented deeper than the dash. Blank and comment lines in between belong to
/// it only when more of it follows.
fn item_end(src: &str, lm: &LineMap, first_line: usize, dash: usize) -> usize {
    let mut last = first_line;
    for line in first_line + 1..=lm.line_count() {
        let t = lm.line(src, line).unwrap_or("");
        if is_blank_or_comment(t) {
            continue;
        }
        if indent_of(t) > dash {
            last = line;
            continue;
        }
        break;
    }
    last
}

/// Remove item `index` of `storage.truenas.datasets` from `source`. A block list loses the
/// item's lines (a comment above it stays, as `host remove` keeps one); a flow list
/// (`[{name: a}, {name: b}]`, as `storage configure` writes it) is rewritten from its other
/// items' own text. Removing the last item leaves `datasets: []`. Returns the new text.
pub fn remove_dataset_entry(source: &str, index: usize) -> Result<String, String> {
    let root = tree::parse(source)
        .map_err(|e| {
            format!(
                "the file is not valid YAML (line {}, column {}: {}); fix it first",
                e.pos.line, e.pos.col, e.message
            )
        })?
        .ok_or_else(|| "the file is empty".to_string())?;
    let entry = datasets_entry(&root)?;
    let list = &entry.value;
    let Kind::Seq(items) = &list.kind else {
        return Err("`storage.truenas.datasets` is not a list".into());
    };
    if index >= items.len() {
        return Err(format!(
            "`storage.truenas.datasets` has no item {index} (it has {})",
            items.len()
        ));
    }
    let lm = LineMap::new(source);
    let bad = || "unusual formatting of `storage.truenas.datasets`".to_string();
    let out = if list.flow {
        let whole = flow_span(source, &lm, list).ok_or_else(bad)?;
        let mut kept = Vec::new();
        for (i, n) in items.iter().enumerate() {
            if i == index {
                continue;
            }
            // Items of a flow list are flow mappings here; anything else is edited by hand.
            let span = flow_span(source, &lm, n).ok_or_else(bad)?;
            kept.push(&source[span]);
        }
        format!(
            "{}[{}]{}",
            &source[..whole.start],
            kept.join(", "),
            &source[whole.end..]
        )
    } else {
        let dash = list.pos.col - 1;
        // The item's `-` is on its first line or above it (`-` alone on a line).
        let mut start_line = items[index].pos.line;
        while start_line > list.pos.line {
            let t = lm.line(source, start_line).unwrap_or("");
            if t.len() > dash && t[dash..].starts_with('-') && t[..dash].trim().is_empty() {
                break;
            }
            start_line -= 1;
        }
        let end_line = item_end(source, &lm, start_line, dash);
        let start = lm.line_start(start_line).ok_or_else(bad)?;
        let end = lm.line_start(end_line + 1).unwrap_or(source.len());
        let mut out = format!("{}{}", &source[..start], &source[end..]);
        if items.len() == 1 {
            // `datasets:` with nothing under it would be null: make it an empty list.
            let at =
                after_colon(source, &lm, entry.key_pos, entry.key_style, false).ok_or_else(bad)?;
            out.insert_str(at, " []");
        }
        out
    };
    // Exactly that item is gone, nothing else changed.
    let (rest_old, mut want) = datasets_value(source)?;
    want.remove(index);
    let (rest_new, got) = datasets_value(&out)?;
    if got != want || rest_new != rest_old {
        return Err(format!(
            "removing the entry in place did not give the expected result ({})",
            bad()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "\
# my lab
storage:
  truenas:
    url: https://nas.lab   # the NAS
    pool: tank
    datasets:
      # for the cluster
      - name: k8s/volumes        # relative to the pool
        csi: volumes
        nfs: true

      - {name: k8s/snapshots, csi: snapshots}
      - name: zot
# the end
other: 1
";

    #[test]
    fn a_block_item_goes_and_every_comment_stays() {
        let out = remove_dataset_entry(SRC, 0).unwrap();
        assert_eq!(
            out,
            SRC.replace(
                "      - name: k8s/volumes        # relative to the pool\n        csi: volumes\n        nfs: true\n",
                ""
            )
        );
        let out = remove_dataset_entry(SRC, 1).unwrap();
        assert_eq!(
            out,
            SRC.replace("      - {name: k8s/snapshots, csi: snapshots}\n", "")
        );
        let out = remove_dataset_entry(SRC, 2).unwrap();
        assert!(
            out.ends_with("csi: snapshots}\n# the end\nother: 1\n"),
            "{out}"
        );
    }

    #[test]
    fn the_last_item_leaves_an_empty_list() {
        let src =
            "storage:\n  truenas:\n    pool: tank\n    datasets:\n      - name: a\n    user: x\n";
        assert_eq!(
            remove_dataset_entry(src, 0).unwrap(),
            "storage:\n  truenas:\n    pool: tank\n    datasets: []\n    user: x\n"
        );
        // Indentless list.
        let src =
            "storage:\n  truenas:\n    datasets:\n    - name: a\n    - name: b\n    pool: t\n";
        assert_eq!(
            remove_dataset_entry(src, 1).unwrap(),
            "storage:\n  truenas:\n    datasets:\n    - name: a\n    pool: t\n"
        );
    }

    #[test]
    fn flow_lists_as_configure_writes_them() {
        let src = "storage:\n  truenas:\n    datasets: [{name: foundry}, {name: zot, nfs: true}]  # mine\n";
        assert_eq!(
            remove_dataset_entry(src, 0).unwrap(),
            "storage:\n  truenas:\n    datasets: [{name: zot, nfs: true}]  # mine\n"
        );
        assert_eq!(
            remove_dataset_entry(src, 1).unwrap(),
            "storage:\n  truenas:\n    datasets: [{name: foundry}]  # mine\n"
        );
        let one = "storage:\n  truenas:\n    datasets: [{name: foundry}]\n";
        assert_eq!(
            remove_dataset_entry(one, 0).unwrap(),
            "storage:\n  truenas:\n    datasets: []\n"
        );
    }

    #[test]
    fn refusals() {
        assert!(remove_dataset_entry("x: 1\n", 0)
            .unwrap_err()
            .contains("no `storage.truenas.datasets`"));
        assert!(remove_dataset_entry(SRC, 3)
            .unwrap_err()
            .contains("no item 3"));
        assert!(
            remove_dataset_entry("storage: {truenas: {datasets: 1}}\n", 0)
                .unwrap_err()
                .contains("not a list")
        );
    }
}
