//! A YAML document as a tree of nodes that remember where they are in the source text. Built from
//! yaml-rust2's marked event parser (serde_yaml keeps no positions). Used to point findings at
//! a line and column (`locate`) and to edit the file in place (`edit`).

use std::collections::HashMap;
use std::sync::Arc;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deeper nesting than this is refused while parsing: no stack.yaml needs it, and every walk
/// over the tree (and dropping it) recurses.
pub const MAX_DEPTH: usize = 64;

/// A position in the source: line and column, both 1-based, column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    fn from_marker(m: Marker) -> Pos {
        // yaml-rust2: lines are 1-based, columns 0-based.
        Pos {
            line: m.line(),
            col: m.col() + 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

impl From<TScalarStyle> for Style {
    fn from(s: TScalarStyle) -> Style {
        match s {
            TScalarStyle::SingleQuoted => Style::SingleQuoted,
            TScalarStyle::DoubleQuoted => Style::DoubleQuoted,
            TScalarStyle::Literal => Style::Literal,
            TScalarStyle::Folded => Style::Folded,
            _ => Style::Plain,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Kind {
    Scalar {
        value: String,
        style: Style,
        /// Carries an anchor (`&a`) or a tag (`!!str`): the position is not where the text starts.
        decorated: bool,
        /// The tag, if any, with the standard `tag:yaml.org,2002:` prefix written as `!!`.
        tag: Option<String>,
    },
    Map(Vec<Entry>),
    Seq(Vec<Node>),
    /// `*name`: the anchored node it stands for (shared, not copied: expanding aliases is the
    /// deserializer's job, under a budget).
    Alias(Arc<Node>),
}

#[derive(Debug, Clone)]
pub struct Node {
    /// Scalars: the value's first character (the opening quote of a quoted one, the first
    /// content line of a block scalar). Block mappings: the first key. Block sequences: the
    /// first `-`. Flow collections: the `{` or `[`.
    pub pos: Pos,
    /// Flow collections: position of the closing `}` or `]`.
    pub end: Option<Pos>,
    pub flow: bool,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub key_style: Style,
    pub value: Node,
}

impl Node {
    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.kind {
            Kind::Map(e) => Some(e),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.iter().find(|e| e.key == key)
    }

    /// The last source line this node occupies, as far as events tell (block scalars may run on).
    pub fn last_line(&self) -> usize {
        match &self.kind {
            Kind::Map(es) => {
                let inner = es
                    .iter()
                    .map(|e| e.value.last_line().max(e.key_pos.line))
                    .max()
                    .unwrap_or(self.pos.line);
                inner.max(self.end.map(|p| p.line).unwrap_or(0))
            }
            Kind::Seq(items) => {
                let inner = items
                    .iter()
                    .map(|n| n.last_line())
                    .max()
                    .unwrap_or(self.pos.line);
                inner.max(self.end.map(|p| p.line).unwrap_or(0))
            }
            _ => self.pos.line,
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

/// Parse the first document of `source`. `Ok(None)` for an empty document.
/// More than one document (a second `---`) is an error: stack.yaml is one document, and a second
/// one silently ignored would be a setting silently ignored.
pub fn parse(source: &str) -> Result<Option<Node>, SyntaxError> {
    let mut b = Builder {
        chars: source.chars().collect(),
        stack: Vec::new(),
        root: None,
        anchors: HashMap::new(),
        documents: 0,
        error: None,
    };
    // Events are pulled one by one rather than through `Parser::load`, which recurses per
    // nesting level: the depth limit must stop the parse before the stack grows.
    let mut parser = Parser::new_from_str(source);
    while b.error.is_none() {
        let (ev, mark) = parser.next_token().map_err(|e| SyntaxError {
            pos: Pos::from_marker(*e.marker()),
            message: e.info().to_string(),
        })?;
        if ev == Event::StreamEnd {
            break;
        }
        b.on_event(ev, mark);
    }
    match b.error {
        Some(e) => Err(e),
        None => Ok(b.root),
    }
}

/// `!!str` for the standard tags, else handle + suffix as written.
fn tag_name(t: &Tag) -> String {
    if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" {
        format!("!!{}", t.suffix)
    } else {
        format!("{}{}", t.handle, t.suffix)
    }
}

enum Frame {
    Map {
        node: Node,
        anchor: usize,
        entries: Vec<Entry>,
        pending_key: Option<(String, Pos, Style)>,
    },
    Seq {
        node: Node,
        anchor: usize,
        items: Vec<Node>,
    },
}

struct Builder {
    chars: Vec<char>,
    stack: Vec<Frame>,
    root: Option<Node>,
    /// Anchor id → the anchored node, for aliases.
    anchors: HashMap<usize, Arc<Node>>,
    documents: usize,
    /// The first problem the parser itself does not report; later events are ignored.
    error: Option<SyntaxError>,
}

impl Builder {
    /// The character at a marker (by its character index: constant time, so a long line
    /// of flow collections stays linear).
    fn char_at(&self, m: Marker) -> Option<char> {
        self.chars.get(m.index()).copied()
    }

    /// The `-` at or before `m` on the same line with only blanks in between, else `p` (the
    /// position of `m`).
    fn dash_before(&self, p: Pos, m: Marker) -> Pos {
        let at = m.index();
        if self.chars.get(at) == Some(&'-') {
            return p;
        }
        let mut c = at.min(self.chars.len());
        while c > 0 {
            c -= 1;
            match self.chars[c] {
                '-' => {
                    return Pos {
                        line: p.line,
                        col: p.col.saturating_sub(at - c).max(1),
                    }
                }
                ' ' | '\t' => continue,
                _ => break,
            }
        }
        p
    }

    /// Remember an anchored node for the aliases that follow.
    fn anchor(&mut self, id: usize, node: &Node) {
        if id != 0 {
            self.anchors.insert(id, Arc::new(node.clone()));
        }
    }

    fn refuse(&mut self, pos: Pos, message: String) {
        if self.error.is_none() {
            self.error = Some(SyntaxError { pos, message });
        }
    }

    /// Attach a finished node (or a key scalar) to the innermost open collection.
    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                node: map,
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => {
                    // This node is a key.
                    let (key, style) = match &node.kind {
                        Kind::Scalar { value, style, .. } => (value.clone(), *style),
                        _ => ("?".to_string(), Style::Plain),
                    };
                    if entries.is_empty() && !map.flow {
                        // Block mappings' start events carry a useless position; use the first key's.
                        map.pos = node.pos;
                    }
                    *pending_key = Some((key, node.pos, style));
                }
                Some((key, key_pos, key_style)) => entries.push(Entry {
                    key,
                    key_pos,
                    key_style,
                    value: node,
                }),
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let pos = Pos::from_marker(mark);
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.refuse(
                        pos,
                        "a second YAML document starts here; stack.yaml holds exactly one (remove this `---` and what follows, or merge it into the first)".into(),
                    );
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                let node = Node {
                    pos,
                    end: None,
                    flow: false,
                    kind: Kind::Scalar {
                        value,
                        style: style.into(),
                        decorated: anchor != 0 || tag.is_some(),
                        tag: tag.as_ref().map(tag_name),
                    },
                };
                self.anchor(anchor, &node);
                self.push_node(node);
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(target) => self.push_node(Node {
                    pos,
                    end: None,
                    flow: false,
                    kind: Kind::Alias(target),
                }),
                // The parser rejects unknown anchors itself; an alias of a node still open
                // (`&a [*a]`) would be a cycle.
                None => self.refuse(
                    pos,
                    "this alias refers to a node that contains it (a cycle)".into(),
                ),
            },
            Event::MappingStart(..) | Event::SequenceStart(..) if self.stack.len() >= MAX_DEPTH => {
                self.refuse(
                    pos,
                    format!("nesting deeper than {MAX_DEPTH} levels; stack.yaml never needs that"),
                );
            }
            Event::MappingStart(anchor, _) => {
                let flow = self.char_at(mark) == Some('{');
                let node = Node {
                    pos,
                    end: None,
                    flow,
                    kind: Kind::Map(Vec::new()),
                };
                self.stack.push(Frame::Map {
                    node,
                    anchor,
                    entries: Vec::new(),
                    pending_key: None,
                });
            }
            Event::SequenceStart(anchor, _) => {
                let flow = self.char_at(mark) == Some('[');
                // An indentless list (`key:\n- item`) starts at its first item's content; move
                // back to the `-` so the list's indentation is right.
                let pos = if flow {
                    pos
                } else {
                    self.dash_before(pos, mark)
                };
                let node = Node {
                    pos,
                    end: None,
                    flow,
                    kind: Kind::Seq(Vec::new()),
                };
                self.stack.push(Frame::Seq {
                    node,
                    anchor,
                    items: Vec::new(),
                });
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    mut node,
                    anchor,
                    entries,
                    ..
                }) = self.stack.pop()
                {
                    if node.flow {
                        node.end = Some(pos);
                    }
                    node.kind = Kind::Map(entries);
                    self.anchor(anchor, &node);
                    self.push_node(node);
                }
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    mut node,
                    anchor,
                    items,
                }) = self.stack.pop()
                {
                    if node.flow {
                        node.end = Some(pos);
                    }
                    node.kind = Kind::Seq(items);
                    self.anchor(anchor, &node);
                    self.push_node(node);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_positions_of_keys_and_values() {
        let src = "a: 1 # c\nhosts:\n  - hostname: x\n    address: \"1.2.3.4\"\nm: {k: [p, 'q']}\n";
        let root = parse(src).unwrap().unwrap();
        let hosts = &root.get("hosts").unwrap().value;
        assert!(!hosts.flow);
        assert_eq!(hosts.pos, Pos { line: 3, col: 3 });
        let h0 = &hosts.as_seq().unwrap()[0];
        assert_eq!(h0.pos, Pos { line: 3, col: 5 });
        let addr = h0.get("address").unwrap();
        assert_eq!(addr.key_pos, Pos { line: 4, col: 5 });
        assert_eq!(addr.value.pos, Pos { line: 4, col: 14 });
        assert_eq!(addr.value.as_scalar(), Some("1.2.3.4"));
        let m = &root.get("m").unwrap().value;
        assert!(m.flow);
        assert_eq!(m.end, Some(Pos { line: 5, col: 16 }));
        assert_eq!(
            m.get("k").unwrap().value.end,
            Some(Pos { line: 5, col: 15 })
        );
    }

    #[test]
    fn indentless_lists_start_at_their_dash() {
        let root = parse("hosts:\n- hostname: a\n  address: b\n- x\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            root.get("hosts").unwrap().value.pos,
            Pos { line: 2, col: 1 }
        );
        let root = parse("a:\n  b:\n    -   c\n").unwrap().unwrap();
        assert_eq!(
            root.get("a").unwrap().value.get("b").unwrap().value.pos,
            Pos { line: 3, col: 5 }
        );
    }

    #[test]
    fn aliases_tags_depth_and_documents() {
        let root = parse("a: &x {k: v}\nb: *x\nc: !!str 8200\n")
            .unwrap()
            .unwrap();
        match &root.get("b").unwrap().value.kind {
            Kind::Alias(t) => assert_eq!(t.get("k").unwrap().value.as_scalar(), Some("v")),
            k => panic!("{k:?}"),
        }
        match &root.get("c").unwrap().value.kind {
            Kind::Scalar { tag, .. } => assert_eq!(tag.as_deref(), Some("!!str")),
            k => panic!("{k:?}"),
        }
        let deep = format!(
            "a: {}{}\n",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("nesting deeper"), "{}", e.message);
        assert_eq!(e.pos.line, 1);
        let e = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(e.pos.line, 2, "{}", e.message);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse("a: [b\nc: d\n").unwrap_err();
        assert_eq!(e.pos.line, 2);
        assert!(parse("").unwrap().is_none());
    }
}
