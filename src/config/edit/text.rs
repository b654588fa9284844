//! Line-level helpers for block-style YAML.

use crate::config::span::{indent_of, is_blank_or_comment, LineMap};

/// The file's line ending.
pub(super) fn newline(src: &str) -> &'static str {
    if src.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    }
}

/// The last content line of a block that starts on `first_line` and continues on lines indented
/// deeper than `indent` (and, with `dash_items`, on `- ` items at exactly `indent`: YAML allows a
/// list under a key at the key's own indentation). Blank and comment lines in between belong to
/// the block only when more of it follows.
pub(super) fn block_end(
    src: &str,
    lm: &LineMap,
    first_line: usize,
    indent: usize,
    dash_items: bool,
) -> usize {
    let mut last = first_line;
    for line in first_line + 1..=lm.line_count() {
        let t = lm.line(src, line).unwrap_or("");
        if is_blank_or_comment(t) {
            continue;
        }
        let ind = indent_of(t);
        let rest = &t[ind..];
        if ind > indent || (dash_items && ind == indent && (rest.starts_with("- ") || rest == "-"))
        {
            last = line;
            continue;
        }
        break;
    }
    last
}

/// Indent every line of `block` (no trailing newline) by `n` spaces; the first line gets `first`
/// instead (e.g. `  - `), and lines are joined with `nl`.
pub(super) fn indent_block(block: &str, first: &str, n: usize, nl: &str) -> String {
    let pad = " ".repeat(n);
    block
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{first}{l}")
            } else if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join(nl)
}
