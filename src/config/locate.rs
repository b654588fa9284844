//! `LocationIndex`: field path → line and column in stack.yaml, so every finding can point at the
//! text the user has to change.

use super::path::{FieldPath, Seg};
use super::tree::{self, Entry, Node, Pos};

/// Where a path leads in the tree.
pub struct Found<'a> {
    pub node: &'a Node,
    /// The mapping entry holding the node, when its parent is a mapping.
    pub entry: Option<&'a Entry>,
    /// The path in canonical form (digit keys resolved to indices where they addressed a list).
    pub path: FieldPath,
}

/// Why a path does not lead anywhere: the deepest node reached and what was missing there.
pub struct Missing<'a> {
    pub found: Found<'a>,
    /// Index into the requested path of the first segment that could not be followed.
    pub at: usize,
    pub reason: MissReason,
}

pub enum MissReason {
    /// The parent is a mapping without this key; `siblings` are the keys it has.
    NoKey { key: String, siblings: Vec<String> },
    /// The parent is a sequence shorter than the index.
    NoIndex { index: usize, len: usize },
    /// The parent is a scalar (or alias): nothing to descend into.
    NotCollection,
}

/// Follow `path` from `root`.
pub fn walk<'a>(root: &'a Node, path: &FieldPath) -> Result<Found<'a>, Missing<'a>> {
    let mut cur = Found {
        node: root,
        entry: None,
        path: FieldPath::root(),
    };
    for (i, seg) in path.0.iter().enumerate() {
        let next = match (seg, &cur.node.kind) {
            (Seg::Key(k), tree::Kind::Map(entries)) => match entries.iter().find(|e| &e.key == k) {
                Some(e) => Ok(Found {
                    node: &e.value,
                    entry: Some(e),
                    path: cur.path.key(k),
                }),
                None => Err(MissReason::NoKey {
                    key: k.clone(),
                    siblings: entries.iter().map(|e| e.key.clone()).collect(),
                }),
            },
            (Seg::Index(n), tree::Kind::Seq(items)) => seq_item(items, *n, &cur.path),
            (Seg::Key(k), tree::Kind::Seq(items)) if k.parse::<usize>().is_ok() => {
                seq_item(items, k.parse().unwrap(), &cur.path)
            }
            (Seg::Key(k), tree::Kind::Seq(_)) => Err(MissReason::NoKey {
                key: k.clone(),
                siblings: Vec::new(),
            }),
            (Seg::Index(n), tree::Kind::Map(entries)) => {
                match entries.iter().find(|e| e.key == n.to_string()) {
                    Some(e) => Ok(Found {
                        node: &e.value,
                        entry: Some(e),
                        path: cur.path.key(&e.key),
                    }),
                    None => Err(MissReason::NoKey {
                        key: n.to_string(),
                        siblings: entries.iter().map(|e| e.key.clone()).collect(),
                    }),
                }
            }
            _ => Err(MissReason::NotCollection),
        };
        match next {
            Ok(f) => cur = f,
            Err(reason) => {
                return Err(Missing {
                    found: cur,
                    at: i,
                    reason,
                })
            }
        }
    }
    Ok(cur)
}

fn seq_item<'a>(items: &'a [Node], n: usize, parent: &FieldPath) -> Result<Found<'a>, MissReason> {
    items
        .get(n)
        .map(|node| Found {
            node,
            entry: None,
            path: parent.index(n),
        })
        .ok_or(MissReason::NoIndex {
            index: n,
            len: items.len(),
        })
}

/// The position to report for a node: a scalar's value, otherwise its key (or its first line).
fn report_pos(f: &Found<'_>) -> Pos {
    match (&f.node.kind, f.entry) {
        (tree::Kind::Scalar { value, .. }, Some(e)) if value.is_empty() => e.key_pos,
        (tree::Kind::Scalar { .. }, _) => f.node.pos,
        (_, Some(e)) => e.key_pos,
        (_, None) => f.node.pos,
    }
}

/// Field path → (line, column) of the YAML that defines it.
#[derive(Debug, Clone)]
pub struct LocationIndex {
    root: Option<Node>,
}

impl LocationIndex {
    pub fn build(source: &str) -> Result<LocationIndex, tree::SyntaxError> {
        Ok(LocationIndex {
            root: tree::parse(source)?,
        })
    }

    pub fn root(&self) -> Option<&Node> {
        self.root.as_ref()
    }

    /// `index.locate("hosts[1].address")` → `Some((line, column))`, both 1-based: the value for a
    /// scalar, the key for a mapping or list. `None` when the path is not in the file.
    pub fn locate(&self, path: &str) -> Option<(usize, usize)> {
        let p = FieldPath::parse(path).ok()?;
        self.locate_path(&p).map(|p| (p.line, p.col))
    }

    pub fn locate_path(&self, path: &FieldPath) -> Option<Pos> {
        walk(self.root.as_ref()?, path).ok().map(|f| report_pos(&f))
    }

    /// Position of the key of a mapping entry (e.g. to point at an unknown field's name).
    pub fn locate_key(&self, path: &FieldPath) -> Option<Pos> {
        let f = walk(self.root.as_ref()?, path).ok()?;
        Some(f.entry.map(|e| e.key_pos).unwrap_or(f.node.pos))
    }

    /// The position of `path`, or of its deepest ancestor that is in the file (a missing field is
    /// reported where it would have to be added). `None` only for an empty file.
    pub fn locate_nearest(&self, path: &FieldPath) -> Option<Pos> {
        let root = self.root.as_ref()?;
        Some(match walk(root, path) {
            Ok(f) => report_pos(&f),
            Err(m) => report_pos(&m.found),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "cluster:\n  name: lab\nhosts:\n  - hostname: a\n    address: 10.0.0.1\n  - hostname: b\n    address: 10.0.0.2\n    roles: [zot, openbao]\nnetwork:\n  lb_range:\n";

    #[test]
    fn locates_values_keys_and_items() {
        let idx = LocationIndex::build(SRC).unwrap();
        assert_eq!(idx.locate("hosts[1].address"), Some((7, 14)));
        assert_eq!(idx.locate("hosts.1.address"), Some((7, 14)));
        assert_eq!(idx.locate("cluster"), Some((1, 1)));
        assert_eq!(idx.locate("cluster.name"), Some((2, 9)));
        assert_eq!(idx.locate("hosts[1].roles[1]"), Some((8, 18)));
        assert_eq!(idx.locate("hosts[1]"), Some((6, 5)));
        // An empty value: point at its key.
        assert_eq!(idx.locate("network.lb_range"), Some((10, 3)));
        assert_eq!(idx.locate("hosts[2].address"), None);
        assert_eq!(idx.locate("cluster.vip"), None);
    }

    #[test]
    fn nearest_falls_back_to_the_ancestor() {
        let idx = LocationIndex::build(SRC).unwrap();
        let p = FieldPath::parse("cluster.vip").unwrap();
        assert_eq!(idx.locate_nearest(&p), Some(Pos { line: 1, col: 1 }));
    }

    #[test]
    fn walk_reports_siblings_of_a_missing_key() {
        let idx = LocationIndex::build(SRC).unwrap();
        let p = FieldPath::parse("hosts[0].adress").unwrap();
        match walk(idx.root().unwrap(), &p) {
            Err(Missing {
                reason: MissReason::NoKey { key, siblings },
                at,
                ..
            }) => {
                assert_eq!(key, "adress");
                assert_eq!(at, 2);
                assert_eq!(
                    siblings,
                    vec!["hostname".to_string(), "address".to_string()]
                );
            }
            _ => panic!("expected a missing key"),
        }
    }
}
