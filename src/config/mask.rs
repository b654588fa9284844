//! `config show`: the stack file as written (comments and all) with literal values of secret
//! fields replaced by `"***"`. References stay: they name a secret, they don't contain it.

use super::path::FieldPath;
use super::span::{scalar_span, LineMap};
use super::tree::{Kind, Node};
use crate::secrets::resolve::{mask_config, should_mask};
use std::ops::Range;

/// The masked text; falls back to re-rendering the (masked) YAML when a secret value's exact
/// place in the text can't be found, so a value is never shown by accident.
pub fn mask_source(source: &str, root: Option<&Node>) -> String {
    let Some(root) = root else {
        return source.to_string();
    };
    let lm = LineMap::new(source);
    let mut spans: Vec<Range<usize>> = Vec::new();
    let mut unplaced = false;
    collect(
        source,
        &lm,
        root,
        &FieldPath::root(),
        false,
        &mut spans,
        &mut unplaced,
    );
    if unplaced {
        let mut v: serde_yaml::Value = serde_yaml::from_str(source).unwrap_or_default();
        mask_config(&mut v, &FieldPath::root());
        return serde_yaml::to_string(&v).unwrap_or_default();
    }
    spans.sort_by_key(|r| std::cmp::Reverse(r.start));
    let mut out = source.to_string();
    for r in spans {
        out.replace_range(r, "\"***\"");
    }
    out
}

fn collect(
    src: &str,
    lm: &LineMap,
    node: &Node,
    path: &FieldPath,
    in_flow: bool,
    spans: &mut Vec<Range<usize>>,
    unplaced: &mut bool,
) {
    let in_flow = in_flow || node.flow;
    match &node.kind {
        Kind::Map(entries) => {
            for e in entries {
                let p = path.key(&e.key);
                match &e.value.kind {
                    Kind::Scalar { value, .. } if should_mask(&p, value) => match scalar_span(
                        src,
                        lm,
                        &e.value,
                        Some((e.key_pos, e.key_style)),
                        in_flow,
                    ) {
                        Some(r) if !r.is_empty() => spans.push(r),
                        _ => *unplaced = true,
                    },
                    _ => collect(src, lm, &e.value, &p, in_flow, spans, unplaced),
                }
            }
        }
        Kind::Seq(items) => {
            for (i, n) in items.iter().enumerate() {
                collect(src, lm, n, &path.index(i), in_flow, spans, unplaced);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_literal_secrets_only() {
        let src = "# hosts\nhosts:\n  - hostname: a # x\n    password: 'hunter2-pw'   # oops\n    sudo_password: ${secret:hosts/a:sudo}\n    ssh_key: ~/.ssh/id\nstorage: {truenas: {api_key: abc-123-key, url: x}}\n";
        let out = mask_source(src, crate::config::tree::parse(src).unwrap().as_ref());
        assert_eq!(
            out,
            src.replace("'hunter2-pw'", "\"***\"")
                .replace("abc-123-key", "\"***\"")
        );
    }

    #[test]
    fn falls_back_when_the_value_cannot_be_placed() {
        let src = "hosts:\n  - password: &pw hunter2-anchored\n";
        let out = mask_source(src, crate::config::tree::parse(src).unwrap().as_ref());
        assert!(!out.contains("hunter2-anchored"), "{out}");
    }
}
