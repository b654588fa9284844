//! Checks on the raw YAML tree: every secret reference well-formed. (Duplicate keys are schema
//! errors, reported by the deserializer at the second key.)

use super::Checker;
use crate::config::path::FieldPath;
use crate::config::tree::{Kind, Node};
use crate::secrets::reference::{find_refs, mentions_ref};

pub(super) fn check(ck: &mut Checker<'_>) {
    let Some(root) = ck.l.index.root() else {
        return;
    };
    let root = root.clone();
    walk(ck, &root, &FieldPath::root());
}

fn walk(ck: &mut Checker<'_>, node: &Node, path: &FieldPath) {
    match &node.kind {
        Kind::Scalar { value, .. } => {
            if let Err(e) = find_refs(value) {
                ck.error(path, e.to_string());
            }
        }
        Kind::Map(entries) => {
            for e in entries {
                let child = path.key(&e.key);
                if mentions_ref(&e.key) {
                    ck.error(&child, "a secret reference in a key is not resolved; references work in values only");
                }
                walk(ck, &e.value, &child);
            }
        }
        Kind::Seq(items) => {
            for (i, n) in items.iter().enumerate() {
                walk(ck, n, &path.index(i));
            }
        }
        Kind::Alias(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::Severity;

    #[test]
    fn malformed_reference_anywhere_is_an_error() {
        let fs = broken(
            "    version: v1.2.3\n",
            "    version: v1.2.3\n    interface: ${secret:net:}\n",
        );
        let f = one(
            &fs,
            Severity::Error,
            "components.kube_vip.interface",
            "KEY is empty",
        );
        assert_eq!(
            (f.line, f.column),
            Some((25, 16)).map(|(l, c)| (Some(l), Some(c))).unwrap()
        );
    }

    #[test]
    fn good_reference_is_fine() {
        let fs = broken(
            "    version: v1.2.3\n",
            "    version: v1.2.3\n    interface: ${secret:net/x:iface}\n",
        );
        assert!(fs.is_empty(), "{fs:#?}");
    }
}
