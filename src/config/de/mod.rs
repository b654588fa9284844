//! A serde deserializer over the located YAML tree (`config::tree`), so that every schema error
//! knows its line, column and field path, speaks the file author's language, and stack.yaml's
//! rules hold: null is not a string, a number is written as a number (`"8200"` and `!!str 8200`
//! are text, not a port), a key appears once per mapping, and aliases expand within a budget.
//!
//! `Patches` let the caller step around an error and deserialize again to find the next one
//! (`config::check`): an unknown or duplicate key is skipped, a bad value or a missing field is
//! replaced by a `Placeholder` that deserializes as any type.

mod error;
mod noun;
mod placeholder;

pub(crate) use error::{DeError, Problem};

use crate::config::path::FieldPath;
use crate::config::shown::shown;
use crate::config::tree::{Entry, Kind, Node, Pos, Style};
use placeholder::Placeholder;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Visitor};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};

/// Values (nodes) one deserialization may visit, aliases expanded. A real stack.yaml has a few
/// hundred; an alias bomb has billions and is stopped here, before its copies are built.
pub const MAX_NODES: usize = 50_000;
/// Bytes of text (scalars and keys) one deserialization may copy, aliases expanded.
pub const MAX_BYTES: usize = 4 << 20;

/// Where the caller steps around errors already reported.
#[derive(Debug, Default)]
pub(crate) struct Patches {
    /// Mapping entries to leave out, by the position of their key.
    pub skip: HashSet<Pos>,
    /// Values to replace by a placeholder, by field path.
    pub placeholder: HashSet<FieldPath>,
    /// Required fields to supply (as placeholders) in the mapping at a path.
    pub add: HashMap<FieldPath, Vec<&'static str>>,
}

impl Patches {
    /// Record how to step around `e`; `false` when there is no way past it (or it was tried).
    pub fn step_around(&mut self, e: &DeError) -> bool {
        let Some((pos, path)) = &e.at else {
            return false;
        };
        match e.problem {
            Problem::Fatal => false,
            Problem::UnknownField | Problem::DuplicateKey => self.skip.insert(*pos),
            Problem::MissingField(f) => {
                let fields = self.add.entry(path.clone()).or_default();
                if fields.contains(&f) {
                    return false;
                }
                fields.push(f);
                true
            }
            Problem::UnknownValue | Problem::WrongType => {
                !path.is_root() && self.placeholder.insert(path.clone())
            }
        }
    }

    /// Whether a finding at `path` is about a value put in by a patch (and so not the user's).
    pub fn covers(&self, path: &str) -> bool {
        let under = |p: &FieldPath| {
            let p = p.to_string();
            path == p || path.starts_with(&format!("{p}.")) || path.starts_with(&format!("{p}["))
        };
        self.placeholder.iter().any(under)
            || self
                .add
                .iter()
                .any(|(m, fs)| fs.iter().any(|f| under(&m.key(f))))
    }
}

struct Ctx<'p> {
    patches: &'p Patches,
    nodes: Cell<usize>,
    bytes: Cell<usize>,
    /// The outermost alias being expanded: where an over-budget error points.
    alias: RefCell<Option<(Pos, FieldPath)>>,
}

impl Ctx<'_> {
    fn spend(&self, nodes: usize, bytes: usize, at: Pos, path: &FieldPath) -> Result<(), DeError> {
        self.nodes.set(self.nodes.get() + nodes);
        self.bytes.set(self.bytes.get() + bytes);
        if self.nodes.get() > MAX_NODES || self.bytes.get() > MAX_BYTES {
            let (at, path) = self.alias.borrow().clone().unwrap_or((at, path.clone()));
            return Err(DeError::new(
                Problem::Fatal,
                format!(
                    "the file's aliases (*name) expand to more than {MAX_NODES} values or {} MiB of text; foundry stops reading it here (remove the aliases, or write the values out)",
                    MAX_BYTES >> 20
                ),
            )
            .at(at, &path));
        }
        Ok(())
    }
}

/// Deserialize `root` into `T`, stepping around what `patches` name.
pub(crate) fn from_node<T: DeserializeOwned>(root: &Node, patches: &Patches) -> Result<T, DeError> {
    let ctx = Ctx {
        patches,
        nodes: Cell::new(0),
        bytes: Cell::new(0),
        alias: RefCell::new(None),
    };
    value(
        PhantomSeed::<T>::default(),
        root,
        root.pos,
        FieldPath::root(),
        &ctx,
    )
}

struct PhantomSeed<T>(std::marker::PhantomData<T>);

impl<T> Default for PhantomSeed<T> {
    fn default() -> Self {
        PhantomSeed(std::marker::PhantomData)
    }
}

impl<'de, T: de::Deserialize<'de>> DeserializeSeed<'de> for PhantomSeed<T> {
    type Value = T;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        T::deserialize(d)
    }
}

/// Deserialize one value: a placeholder where a patch says so, aliases followed.
fn value<'de, S: DeserializeSeed<'de>>(
    seed: S,
    node: &Node,
    at: Pos,
    path: FieldPath,
    ctx: &Ctx<'_>,
) -> Result<S::Value, DeError> {
    if ctx.patches.placeholder.contains(&path) {
        return seed.deserialize(Placeholder);
    }
    let mut node = node;
    let outermost = matches!(node.kind, Kind::Alias(_)) && ctx.alias.borrow().is_none();
    while let Kind::Alias(target) = &node.kind {
        node = target;
    }
    if outermost {
        *ctx.alias.borrow_mut() = Some((at, path.clone()));
    }
    ctx.spend(1, 0, at, &path)?;
    let r = seed.deserialize(NodeDe {
        node,
        at,
        path,
        ctx,
    });
    if outermost {
        *ctx.alias.borrow_mut() = None;
    }
    r
}

/// Where to point for an entry's value: the value, or the key for an empty value or a
/// collection.
fn entry_at(e: &Entry) -> Pos {
    match &e.value.kind {
        Kind::Scalar { value, style, .. } if value.is_empty() && *style == Style::Plain => {
            e.key_pos
        }
        Kind::Scalar { .. } | Kind::Alias(_) => e.value.pos,
        _ => e.key_pos,
    }
}

struct NodeDe<'a, 'p> {
    node: &'a Node,
    at: Pos,
    path: FieldPath,
    ctx: &'a Ctx<'p>,
}

/// A scalar as read: text, quoted or not, tag.
struct Scalar<'a> {
    text: &'a str,
    plain: bool,
    tag: Option<&'a str>,
}

impl Scalar<'_> {
    fn is_null(&self) -> bool {
        match self.tag {
            Some("!!null") => true,
            Some(_) => false,
            None => self.plain && matches!(self.text, "" | "~" | "null" | "Null" | "NULL"),
        }
    }

    /// May this scalar be read as a number or a boolean? (Plain or tagged so; never quoted or
    /// `!!str`.)
    fn untyped(&self, want_tag: &str) -> bool {
        match self.tag {
            Some(t) => t == want_tag,
            None => self.plain,
        }
    }
}

impl<'a, 'p> NodeDe<'a, 'p> {
    fn scalar(&self) -> Option<Scalar<'a>> {
        match &self.node.kind {
            Kind::Scalar {
                value, style, tag, ..
            } => Some(Scalar {
                text: value,
                plain: *style == Style::Plain,
                tag: tag.as_deref(),
            }),
            _ => None,
        }
    }

    /// "null", "a list", "the quoted text `8200`", ... for "expected X, found Y".
    fn found(&self) -> String {
        match (&self.node.kind, self.scalar()) {
            (_, Some(s)) if s.is_null() => "null".into(),
            (_, Some(s)) if s.tag == Some("!!str") => {
                format!("{} tagged `!!str`, which makes it text", shown(s.text))
            }
            (_, Some(s)) if !s.plain => format!("the quoted text {}", shown(s.text)),
            (_, Some(s)) => shown(s.text),
            (Kind::Map(_), _) => "a mapping".into(),
            (Kind::Seq(_), _) => "a list".into(),
            _ => "a value of another kind".into(),
        }
    }

    fn wrong(&self, expected: &str) -> DeError {
        let mut e = DeError::new(
            Problem::WrongType,
            format!("expected {expected}, found {}", self.found()),
        );
        if let Some(s) = self.scalar() {
            if !s.plain
                && !s.is_null()
                && (s.text.parse::<f64>().is_ok() || s.text == "true" || s.text == "false")
            {
                e.hint = "; write it without quotes".into();
            } else if s.tag == Some("!!str") {
                e.hint = "; write it without the tag".into();
            }
        }
        e.at(self.at, &self.path)
    }

    fn text(&self, expected: &str) -> Result<&'a str, DeError> {
        match self.scalar() {
            Some(s) if !s.is_null() => {
                self.ctx.spend(0, s.text.len(), self.at, &self.path)?;
                Ok(s.text)
            }
            _ => Err(self.wrong(expected)),
        }
    }

    fn unsigned(&self, max: u64, expected: &str) -> Result<u64, DeError> {
        let n = self
            .scalar()
            .filter(|s| s.untyped("!!int") && !s.text.is_empty())
            .filter(|s| s.text.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.text.parse::<u64>().ok());
        match n {
            Some(n) if n <= max => Ok(n),
            _ => Err(self.wrong(expected)),
        }
    }

    fn signed(&self) -> Result<i64, DeError> {
        self.scalar()
            .filter(|s| s.untyped("!!int"))
            .and_then(|s| s.text.parse::<i64>().ok())
            .ok_or_else(|| self.wrong("a whole number"))
    }

    fn float(&self) -> Result<f64, DeError> {
        self.scalar()
            .filter(|s| s.untyped("!!float") || s.tag == Some("!!int"))
            .and_then(|s| s.text.parse::<f64>().ok())
            .ok_or_else(|| self.wrong("a number"))
    }

    fn noun(&self) -> &'static str {
        noun::text_noun(&self.path)
    }

    fn located<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| e.at(self.at, &self.path))
    }

    fn map_access(&self, entries: &'a [Entry]) -> MapAcc<'a, 'p> {
        let extra = self
            .ctx
            .patches
            .add
            .get(&self.path)
            .cloned()
            .unwrap_or_default();
        MapAcc {
            entries,
            i: 0,
            path: self.path.clone(),
            ctx: self.ctx,
            seen: HashMap::new(),
            extra,
            extra_i: 0,
            cur: Cur::Nothing,
        }
    }
}

macro_rules! unsigned {
    ($name:ident, $visit:ident, $t:ty, $what:expr) => {
        fn $name<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            let n = self.unsigned(<$t>::MAX as u64, $what)?;
            self.located(v.$visit(n as $t))
        }
    };
}

impl<'de> de::Deserializer<'de> for NodeDe<'_, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let r = match (&self.node.kind, self.scalar()) {
            (_, Some(s)) if s.is_null() => v.visit_unit(),
            (_, Some(s)) if s.untyped("!!bool") && matches!(s.text, "true" | "false") => {
                v.visit_bool(s.text == "true")
            }
            (_, Some(s)) if s.untyped("!!int") && s.text.parse::<u64>().is_ok() => {
                v.visit_u64(s.text.parse().unwrap_or_default())
            }
            (_, Some(s)) if s.untyped("!!int") && s.text.parse::<i64>().is_ok() => {
                v.visit_i64(s.text.parse().unwrap_or_default())
            }
            (_, Some(_)) => {
                let t = self.text("text")?;
                v.visit_str(t)
            }
            (Kind::Map(entries), _) => v.visit_map(self.map_access(entries)),
            (Kind::Seq(items), _) => v.visit_seq(SeqAcc {
                items,
                i: 0,
                path: self.path.clone(),
                ctx: self.ctx,
            }),
            _ => Err(self.wrong("a value")),
        };
        self.located(r)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.scalar() {
            Some(s) if s.untyped("!!bool") && matches!(s.text, "true" | "True" | "TRUE") => {
                self.located(v.visit_bool(true))
            }
            Some(s) if s.untyped("!!bool") && matches!(s.text, "false" | "False" | "FALSE") => {
                self.located(v.visit_bool(false))
            }
            _ => Err(self.wrong("true or false")),
        }
    }

    unsigned!(deserialize_u8, visit_u8, u8, "a whole number from 0 to 255");
    unsigned!(
        deserialize_u16,
        visit_u16,
        u16,
        "a whole number from 0 to 65535"
    );
    unsigned!(
        deserialize_u32,
        visit_u32,
        u32,
        "a whole number from 0 to 4294967295"
    );
    unsigned!(
        deserialize_u64,
        visit_u64,
        u64,
        "a whole number (0 or more)"
    );

    fn deserialize_i8<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_i64(v)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_i64(v)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_i64(v)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let n = self.signed()?;
        self.located(v.visit_i64(n))
    }
    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(v)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let n = self.float()?;
        self.located(v.visit_f64(n))
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let t = self.text(self.noun())?;
        self.located(v.visit_str(t))
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.wrong("text"))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, DeError> {
        Err(self.wrong("text"))
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        if self.scalar().is_some_and(|s| s.is_null()) {
            self.located(v.visit_none())
        } else {
            let (at, path) = (self.at, self.path.clone());
            v.visit_some(self).map_err(|e| e.at(at, &path))
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        if self.scalar().is_some_and(|s| s.is_null()) {
            self.located(v.visit_unit())
        } else {
            Err(self.wrong("nothing (null)"))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        let (at, path) = (self.at, self.path.clone());
        v.visit_newtype_struct(self).map_err(|e| e.at(at, &path))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Seq(items) => self.located(v.visit_seq(SeqAcc {
                items,
                i: 0,
                path: self.path.clone(),
                ctx: self.ctx,
            })),
            _ => {
                let mut e = self.wrong("a list");
                if self.scalar().is_some_and(|s| s.is_null()) {
                    e.hint = "; write [] for an empty list, or leave the key out".into();
                }
                Err(e)
            }
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Map(entries) => {
                let mut acc = self.map_access(entries);
                let r = v.visit_map(&mut acc);
                // An error raised by the visitor itself (a missing field) belongs to the mapping.
                self.located(r)
            }
            _ => {
                let mut e = self.wrong("a mapping (`key: value` lines)");
                if self.scalar().is_some_and(|s| s.is_null()) {
                    e.hint = "; write {} for all defaults, or leave the key out".into();
                }
                Err(e)
            }
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match self.scalar() {
            Some(s) if !s.is_null() => self.located(v.visit_enum(EnumAcc {
                value: s.text,
                at: self.at,
                path: self.path.clone(),
            })),
            _ => Err(self.wrong(&format!("one of: {}", variants.join(", ")))),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.located(v.visit_unit())
    }
}

enum Cur<'a> {
    Nothing,
    Entry(&'a Entry),
    Extra,
}

struct MapAcc<'a, 'p> {
    entries: &'a [Entry],
    i: usize,
    path: FieldPath,
    ctx: &'a Ctx<'p>,
    /// Key → line of its first occurrence.
    seen: HashMap<&'a str, usize>,
    /// Required fields the patches supply.
    extra: Vec<&'static str>,
    extra_i: usize,
    cur: Cur<'a>,
}

impl<'de, 'a> de::MapAccess<'de> for MapAcc<'a, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        while let Some(e) = self.entries.get(self.i) {
            self.i += 1;
            if self.ctx.patches.skip.contains(&e.key_pos) {
                continue;
            }
            let kp = self.path.key(&e.key);
            if let Some(first) = self.seen.get(e.key.as_str()) {
                return Err(DeError::new(
                    Problem::DuplicateKey,
                    format!(
                        "duplicate key {} (first at line {first}); the later one would silently win",
                        shown(&e.key)
                    ),
                )
                .at(e.key_pos, &kp));
            }
            self.seen.insert(&e.key, e.key_pos.line);
            self.ctx.spend(0, e.key.len(), e.key_pos, &kp)?;
            self.cur = Cur::Entry(e);
            return seed
                .deserialize(KeyDe {
                    key: &e.key,
                    at: e.key_pos,
                    path: kp,
                })
                .map(Some);
        }
        while let Some(f) = self.extra.get(self.extra_i).copied() {
            self.extra_i += 1;
            if self.seen.contains_key(f) {
                continue;
            }
            self.cur = Cur::Extra;
            return seed
                .deserialize(KeyDe {
                    key: f,
                    at: Pos { line: 0, col: 0 },
                    path: self.path.key(f),
                })
                .map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        match std::mem::replace(&mut self.cur, Cur::Nothing) {
            Cur::Entry(e) => value(seed, &e.value, entry_at(e), self.path.key(&e.key), self.ctx),
            Cur::Extra | Cur::Nothing => seed.deserialize(Placeholder),
        }
    }
}

struct SeqAcc<'a, 'p> {
    items: &'a [Node],
    i: usize,
    path: FieldPath,
    ctx: &'a Ctx<'p>,
}

impl<'de> de::SeqAccess<'de> for SeqAcc<'_, '_> {
    type Error = DeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, DeError> {
        let Some(item) = self.items.get(self.i) else {
            return Ok(None);
        };
        let path = self.path.index(self.i);
        self.i += 1;
        value(seed, item, item.pos, path, self.ctx).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.i)
    }
}

/// A mapping key (or an enum's value): always text.
struct KeyDe<'a> {
    key: &'a str,
    at: Pos,
    path: FieldPath,
}

impl<'de> de::Deserializer<'de> for KeyDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_str(self.key)
            .map_err(|e: DeError| e.at(self.at, &self.path))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct EnumAcc<'a> {
    value: &'a str,
    at: Pos,
    path: FieldPath,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumAcc<'a> {
    type Error = DeError;
    type Variant = UnitOnly;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, UnitOnly), DeError> {
        let v = seed.deserialize(KeyDe {
            key: self.value,
            at: self.at,
            path: self.path.clone(),
        })?;
        Ok((v, UnitOnly))
    }
}

struct UnitOnly;

impl<'de> de::VariantAccess<'de> for UnitOnly {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, _seed: S) -> Result<S::Value, DeError> {
        Err(DeError::new(
            Problem::WrongType,
            "expected one of the listed plain values",
        ))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _v: V) -> Result<V::Value, DeError> {
        Err(DeError::new(
            Problem::WrongType,
            "expected one of the listed plain values",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _v: V,
    ) -> Result<V::Value, DeError> {
        Err(DeError::new(
            Problem::WrongType,
            "expected one of the listed plain values",
        ))
    }
}
