//! Parsing response bodies into [`serde_json::Value`], faster than `serde_json::from_slice`.
//!
//! A response body is parsed once per request, and in a batch that parse is the largest cost of
//! a row. `serde_json`'s own `Value` visitor inserts each key into an empty, order-keeping map,
//! which grows and rehashes several times per object, and grows each array the same way. This
//! visitor reads through the same `serde_json` deserializer (the same syntax, numbers, escapes,
//! errors and nesting limit), but gathers an object's entries and an array's items on a scratch
//! stack shared by the whole parse, then builds each map or vector once, at its final size. The
//! result is the value `serde_json` would give, keys in document order; a repeated key keeps its
//! first place and its last value, as `serde_json` does.
//!
//! [`parse_projected`] reads the same text through the same deserializer, but builds only what a
//! [`Projection`] reads: every other value is still read (so the same texts are accepted and
//! refused, with the same errors) but nothing is allocated for it.
//!
//! [`parse_sieved`] goes one step further for one array of the projection: each element is read
//! into a borrowed, flat form first ([`Flat`]: strings point into the text, nothing is hashed),
//! an [`ItemSieve`] looks at it, and only the elements it keeps are built; the others become
//! `null`. The same deserializer reads every byte, so the same texts are still accepted and
//! refused.
//!
//! Both go through a reader of our own first ([`scan`]), which gives the same value faster or
//! gives up, and then the `serde_json` path above runs for the exact value or error.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value as Json};

use crate::projection::{Projection, Segment};

mod scan;

/// Parses JSON text (the whole slice, with surrounding whitespace allowed).
///
/// # Errors
/// The `serde_json` error for text that is not one JSON value.
pub(crate) fn parse(bytes: &[u8]) -> Result<Json, serde_json::Error> {
    let mut scratch = Scratch::default();
    read(bytes, Seed(&mut scratch))
}

/// Reads one JSON value with `seed`: through a `&str` reader when the whole text is UTF-8
/// (checked once, rather than string by string), else through the byte reader, which then gives
/// `serde_json`'s own error for the bad byte.
fn read<S: for<'de> DeserializeSeed<'de, Value = Json>>(bytes: &[u8], seed: S) -> Result<Json, serde_json::Error> {
    fn finish<'de, R: serde_json::de::Read<'de>>(
        mut deserializer: serde_json::Deserializer<R>,
        seed: impl DeserializeSeed<'de, Value = Json>,
    ) -> Result<Json, serde_json::Error> {
        let value = seed.deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(value)
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => finish(serde_json::Deserializer::from_str(text), seed),
        Err(_) => finish(serde_json::Deserializer::from_slice(bytes), seed),
    }
}

/// Parses JSON text as [`parse`] does, keeping only what `projection` reads: the members it does
/// not read are left out, the elements it does not read are `null` (indexes and lengths stay).
///
/// # Errors
/// The `serde_json` error for text that is not one JSON value, exactly as [`parse`].
pub(crate) fn parse_projected(bytes: &[u8], projection: &Projection) -> Result<Json, serde_json::Error> {
    match scan::read(bytes, projection, None) {
        Some(value) => Ok(value),
        None => through_serde(bytes, projection, None),
    }
}

/// A projected (and sieved) parse driven through `serde_json`'s deserializer: what [`scan`]
/// gives up to, with the exact value or error.
fn through_serde(bytes: &[u8], projection: &Projection, cursor: Option<Cursor<'_>>) -> Result<Json, serde_json::Error> {
    let mut scratch = Scratch::default();
    read(bytes, Projected(&mut scratch, projection, cursor))
}

/// Decides, element by element, which elements of one array a parse builds.
pub(crate) trait ItemSieve {
    /// Where the array is: names and indexes from the document's root.
    fn at(&self) -> &[Segment];
    /// Whether to build this element (read as far as the projection reads it).
    fn keeps(&self, item: Flat<'_, '_>) -> bool;
}

/// Parses JSON text as [`parse_projected`] does, except that of the array at `sieve.at()` only
/// the elements the sieve keeps are built; the others are `null`. Also gives how many elements
/// were kept, `None` when there was no array there.
///
/// # Errors
/// The `serde_json` error for text that is not one JSON value, exactly as [`parse`].
pub(crate) fn parse_sieved(
    bytes: &[u8],
    projection: &Projection,
    sieve: &dyn ItemSieve,
) -> Result<(Json, Option<usize>), serde_json::Error> {
    let kept = Cell::new(None);
    let cursor = Cursor { sieve, depth: 0, kept: &kept };
    let value = if let Some(value) = scan::read(bytes, projection, Some(cursor)) {
        value
    } else {
        kept.set(None);
        through_serde(bytes, projection, Some(cursor))?
    };
    Ok((value, kept.get()))
}

/// Where a projected parse is on the way to the sieved array.
#[derive(Clone, Copy)]
struct Cursor<'g> {
    sieve: &'g dyn ItemSieve,
    /// How many of `sieve.at()`'s segments lead here.
    depth: usize,
    kept: &'g Cell<Option<usize>>,
}

impl Cursor<'_> {
    /// The cursor of a child, when the way to the array goes through it.
    fn child(self, segment: Child<'_>) -> Option<Self> {
        let next = match (self.sieve.at().get(self.depth)?, segment) {
            (Segment::Key(want), Child::Key(key)) if want == key => true,
            (Segment::Index(want), Child::Index(index)) => *want == index,
            _ => false,
        };
        next.then_some(Self { depth: self.depth + 1, ..self })
    }

    /// Whether this is the sieved array itself.
    fn arrived(self) -> bool {
        self.depth == self.sieve.at().len()
    }
}

/// A member or an element, as [`Cursor::child`] compares it.
enum Child<'a> {
    Key(&'a str),
    Index(usize),
}

/// The visitor methods of JSON's scalars, the same for a whole value and a projected one: only
/// arrays and objects differ.
macro_rules! scalars {
    () => {
        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("any valid JSON value")
        }

        fn visit_bool<E>(self, value: bool) -> Result<Json, E> {
            Ok(Json::Bool(value))
        }

        fn visit_i64<E>(self, value: i64) -> Result<Json, E> {
            Ok(Json::Number(value.into()))
        }

        fn visit_u64<E>(self, value: u64) -> Result<Json, E> {
            Ok(Json::Number(value.into()))
        }

        fn visit_f64<E>(self, value: f64) -> Result<Json, E> {
            Ok(Number::from_f64(value).map_or(Json::Null, Json::Number))
        }

        fn visit_str<E>(self, value: &str) -> Result<Json, E> {
            Ok(Json::String(value.to_owned()))
        }

        fn visit_string<E>(self, value: String) -> Result<Json, E> {
            Ok(Json::String(value))
        }

        fn visit_unit<E>(self) -> Result<Json, E> {
            Ok(Json::Null)
        }

        fn visit_none<E>(self) -> Result<Json, E> {
            Ok(Json::Null)
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
            deserializer.deserialize_any(self)
        }
    };
}

/// Entries and items of the objects and arrays still open, innermost last.
#[derive(Default)]
struct Scratch {
    entries: Vec<(String, Json)>,
    items: Vec<Json>,
}

/// Reads one value, gathering on the shared scratch stacks.
struct Seed<'s>(&'s mut Scratch);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Json;

    scalars!();

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let scratch = self.0;
        let start = scratch.items.len();
        loop {
            match seq.next_element_seed(Seed(scratch)) {
                Ok(Some(item)) => scratch.items.push(item),
                Ok(None) => break,
                Err(error) => {
                    scratch.items.truncate(start);
                    return Err(error);
                }
            }
        }
        Ok(Json::Array(scratch.items.drain(start..).collect()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let scratch = self.0;
        let start = scratch.entries.len();
        let read = loop {
            let key = match map.next_key::<String>() {
                Ok(Some(key)) => key,
                Ok(None) => break Ok(()),
                Err(error) => break Err(error),
            };
            match map.next_value_seed(Seed(scratch)) {
                Ok(value) => scratch.entries.push((key, value)),
                Err(error) => break Err(error),
            }
        };
        if let Err(error) = read {
            scratch.entries.truncate(start);
            return Err(error);
        }
        Ok(Json::Object(scratch.entries.drain(start..).collect::<Map<String, Json>>()))
    }
}

/// Reads one value as far as the projection goes (and through the sieve, on the way to it).
struct Projected<'s, 'p>(&'s mut Scratch, &'p Projection, Option<Cursor<'p>>);

impl<'de> DeserializeSeed<'de> for Projected<'_, '_> {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        if self.1.is_whole() {
            return Seed(self.0).deserialize(deserializer);
        }
        deserializer.deserialize_any(self)
    }
}

impl Projected<'_, '_> {
    /// The sieved array: each element read flat, built only when the sieve keeps it.
    fn sieved<'de, A: SeqAccess<'de>>(self, mut seq: A, cursor: Cursor<'_>) -> Result<Json, A::Error> {
        let (scratch, projection) = (self.0, self.1);
        let start = scratch.items.len();
        let mut nodes: Vec<Node<'de>> = Vec::new();
        let (mut index, mut kept) = (0, 0);
        loop {
            nodes.clear();
            let next = match projection.element(index) {
                Some(read) => seq.next_element_seed(FlatSeed(&mut nodes, read, None)).map(|read| read.map(|()| true)),
                None => seq.next_element_seed(Skip).map(|skipped| skipped.map(|()| false)),
            };
            let item = match next {
                Ok(Some(true)) if cursor.sieve.keeps(Flat { nodes: &nodes, at: 0 }) => {
                    kept += 1;
                    build(&nodes, 0).0
                }
                Ok(Some(_)) => Json::Null,
                Ok(None) => break,
                Err(error) => {
                    scratch.items.truncate(start);
                    return Err(error);
                }
            };
            scratch.items.push(item);
            index += 1;
        }
        cursor.kept.set(Some(kept));
        Ok(Json::Array(scratch.items.drain(start..).collect()))
    }
}

impl<'de> Visitor<'de> for Projected<'_, '_> {
    type Value = Json;

    scalars!();

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        if let Some(cursor) = self.2.filter(|cursor| cursor.arrived()) {
            return self.sieved(seq, cursor);
        }
        let (scratch, projection, cursor) = (self.0, self.1, self.2);
        let start = scratch.items.len();
        let mut index = 0;
        loop {
            let next = match projection.element(index) {
                Some(read) => seq.next_element_seed(Projected(scratch, read, cursor.and_then(|cursor| cursor.child(Child::Index(index))))),
                None => seq.next_element_seed(Skip).map(|skipped| skipped.map(|()| Json::Null)),
            };
            match next {
                Ok(Some(item)) => scratch.items.push(item),
                Ok(None) => break,
                Err(error) => {
                    scratch.items.truncate(start);
                    return Err(error);
                }
            }
            index += 1;
        }
        Ok(Json::Array(scratch.items.drain(start..).collect()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let (scratch, projection, cursor) = (self.0, self.1, self.2);
        let start = scratch.entries.len();
        let read = loop {
            let key = match map.next_key_seed(KeySeed) {
                Ok(Some(key)) => key,
                Ok(None) => break Ok(()),
                Err(error) => break Err(error),
            };
            let Some(read) = projection.member(key.as_str()) else {
                match map.next_value_seed(Skip) {
                    Ok(()) => continue,
                    Err(error) => break Err(error),
                }
            };
            let cursor = cursor.and_then(|cursor| cursor.child(Child::Key(key.as_str())));
            match map.next_value_seed(Projected(scratch, read, cursor)) {
                Ok(value) => scratch.entries.push((key.into_owned(), value)),
                Err(error) => break Err(error),
            }
        };
        if let Err(error) = read {
            scratch.entries.truncate(start);
            return Err(error);
        }
        Ok(Json::Object(scratch.entries.drain(start..).collect::<Map<String, Json>>()))
    }
}

/// An object's key, borrowed from the text when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl<'de> Key<'de> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(text) => text,
            Key::Owned(text) => text,
        }
    }

    fn into_owned(self) -> String {
        match self {
            Key::Borrowed(text) => text.to_owned(),
            Key::Owned(text) => text,
        }
    }

    fn into_cow(self) -> Cow<'de, str> {
        match self {
            Key::Borrowed(text) => Cow::Borrowed(text),
            Key::Owned(text) => Cow::Owned(text),
        }
    }
}

/// Reads a key without copying it when it can.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key<'de>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a string key")
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Key<'de>, E> {
        Ok(Key::Borrowed(value))
    }

    fn visit_str<E>(self, value: &str) -> Result<Key<'de>, E> {
        Ok(Key::Owned(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Key<'de>, E> {
        Ok(Key::Owned(value))
    }
}

/// One value of an element read flat: in document order, each array or object followed by its
/// children, each object's child with its key.
struct Node<'de> {
    key: Option<Cow<'de, str>>,
    value: Shape<'de>,
}

enum Shape<'de> {
    /// `null`, a boolean or a number (none of them allocates).
    Scalar(Json),
    Text(Cow<'de, str>),
    /// `len` children, the next node after them at `end`.
    Array {
        len: usize,
        end: usize,
    },
    Object {
        len: usize,
        end: usize,
    },
}

/// Reads one value as far as the projection goes, flat onto `nodes`; `key` is its member name.
struct FlatSeed<'n, 'de, 'p>(&'n mut Vec<Node<'de>>, &'p Projection, Option<Cow<'de, str>>);

impl<'de> FlatSeed<'_, 'de, '_> {
    fn push(self, value: Shape<'de>) {
        self.0.push(Node { key: self.2, value });
    }
}

impl<'de> DeserializeSeed<'de> for FlatSeed<'_, 'de, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FlatSeed<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<(), E> {
        self.push(Shape::Scalar(Json::Bool(value)));
        Ok(())
    }

    fn visit_i64<E>(self, value: i64) -> Result<(), E> {
        self.push(Shape::Scalar(Json::Number(value.into())));
        Ok(())
    }

    fn visit_u64<E>(self, value: u64) -> Result<(), E> {
        self.push(Shape::Scalar(Json::Number(value.into())));
        Ok(())
    }

    fn visit_f64<E>(self, value: f64) -> Result<(), E> {
        self.push(Shape::Scalar(Number::from_f64(value).map_or(Json::Null, Json::Number)));
        Ok(())
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<(), E> {
        self.push(Shape::Text(Cow::Borrowed(value)));
        Ok(())
    }

    fn visit_str<E>(self, value: &str) -> Result<(), E> {
        self.push(Shape::Text(Cow::Owned(value.to_owned())));
        Ok(())
    }

    fn visit_string<E>(self, value: String) -> Result<(), E> {
        self.push(Shape::Text(Cow::Owned(value)));
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.push(Shape::Scalar(Json::Null));
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        self.push(Shape::Scalar(Json::Null));
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (nodes, projection) = (self.0, self.1);
        let at = nodes.len();
        nodes.push(Node { key: self.2, value: Shape::Array { len: 0, end: 0 } });
        let mut len = 0;
        loop {
            let read = match projection.element(len) {
                Some(read) => seq.next_element_seed(FlatSeed(nodes, read, None))?,
                None => seq.next_element_seed(Skip)?.inspect(|()| nodes.push(Node { key: None, value: Shape::Scalar(Json::Null) })),
            };
            if read.is_none() {
                break;
            }
            len += 1;
        }
        nodes[at].value = Shape::Array { len, end: nodes.len() };
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (nodes, projection) = (self.0, self.1);
        let at = nodes.len();
        nodes.push(Node { key: self.2, value: Shape::Object { len: 0, end: 0 } });
        let mut len = 0;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match projection.member(key.as_str()) {
                Some(read) => {
                    map.next_value_seed(FlatSeed(nodes, read, Some(key.into_cow())))?;
                    len += 1;
                }
                None => map.next_value_seed(Skip)?,
            }
        }
        nodes[at].value = Shape::Object { len, end: nodes.len() };
        Ok(())
    }
}

/// Where the node after the one at `at` (and its children) is.
fn after(nodes: &[Node<'_>], at: usize) -> usize {
    match nodes[at].value {
        Shape::Array { end, .. } | Shape::Object { end, .. } => end,
        _ => at + 1,
    }
}

/// The value of the node at `at`, built as [`Projected`] builds it (a repeated key keeps its
/// first place and its last value), and where the next node is.
fn build(nodes: &[Node<'_>], at: usize) -> (Json, usize) {
    match &nodes[at].value {
        Shape::Scalar(value) => (value.clone(), at + 1),
        Shape::Text(text) => (Json::String(text.clone().into_owned()), at + 1),
        Shape::Array { len, end } => {
            let mut next = at + 1;
            let items = (0..*len)
                .map(|_| {
                    let (item, after) = build(nodes, next);
                    next = after;
                    item
                })
                .collect();
            (Json::Array(items), *end)
        }
        Shape::Object { len, end } => {
            let mut next = at + 1;
            let entries = (0..*len)
                .map(|_| {
                    let key = nodes[next].key.clone().unwrap_or_default().into_owned();
                    let (value, after) = build(nodes, next);
                    next = after;
                    (key, value)
                })
                .collect::<Map<String, Json>>();
            (Json::Object(entries), *end)
        }
    }
}

/// A value read flat, as an [`ItemSieve`] sees it: nothing of it is built unless asked.
#[derive(Clone, Copy)]
pub(crate) struct Flat<'a, 'de> {
    nodes: &'a [Node<'de>],
    at: usize,
}

impl<'a> Flat<'a, '_> {
    /// Whether any node `path` selects passes `test`: names, indexes and wildcards, selecting
    /// as a `JSONPath` does in the built value (a repeated key's last value, once).
    pub(crate) fn any(self, path: &[Segment], test: &mut dyn FnMut(Self) -> bool) -> bool {
        let Some((first, rest)) = path.split_first() else { return test(self) };
        let (len, object) = match self.nodes[self.at].value {
            Shape::Array { len, .. } => (len, false),
            Shape::Object { len, .. } => (len, true),
            _ => return false,
        };
        let children = || {
            let mut child = self.at + 1;
            (0..len).map(move |_| {
                let this = child;
                child = after(self.nodes, child);
                this
            })
        };
        let key = |at: usize| self.nodes[at].key.as_deref();
        match (first, object) {
            (Segment::Key(wanted), true) => children()
                .filter(|at| key(*at) == Some(wanted.as_str()))
                // The last one, going forwards: each child's place depends on the one before.
                .fold(None, |_, child| Some(child))
                .is_some_and(|at| Self { at, ..self }.any(rest, test)),
            (Segment::Index(wanted), false) => children().nth(*wanted).is_some_and(|at| Self { at, ..self }.any(rest, test)),
            (Segment::Every, false) => children().any(|at| Self { at, ..self }.any(rest, test)),
            (Segment::Every, true) => {
                // Each key once, with its last value, as in the built value: from the last
                // member back, skipping a key already seen.
                let members: Vec<usize> = children().collect();
                let mut seen = std::collections::HashSet::with_capacity(members.len());
                members.into_iter().rev().any(|at| seen.insert(key(at)) && Self { at, ..self }.any(rest, test))
            }
            _ => false,
        }
    }

    /// The text of a string node.
    pub(crate) fn as_str(self) -> Option<&'a str> {
        match &self.nodes[self.at].value {
            Shape::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The node's value, built.
    pub(crate) fn to_json(self) -> Json {
        build(self.nodes, self.at).0
    }
}

/// Reads one value and keeps nothing of it. Unlike `serde::de::IgnoredAny`, strings and numbers
/// go through the same checks as when they are kept (UTF-8, escapes, surrogates), so a text is
/// refused exactly when [`parse`] refuses it.
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Skip)?.is_some() {
            map.next_value_seed(Skip)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same value as `serde_json`, keys in the same order, or the same error.
    fn same(text: &str) {
        let ours = parse(text.as_bytes());
        let theirs = serde_json::from_str::<Json>(text);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "{text}");
                assert_eq!(serde_json::to_string(a).unwrap(), serde_json::to_string(b).unwrap(), "key order of {text}");
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
            _ => panic!("{text}: ours {ours:?}, serde_json {theirs:?}"),
        }
    }

    #[test]
    fn values_match_serde_json() {
        for text in [
            "null",
            " true ",
            "false",
            "0",
            "-0",
            "-12",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "1.5e300",
            "2.2250738585072014e-308",
            "0.1",
            "1e400",
            r#""""#,
            r#""a\"b\\c\u00e9\ud83d\ude00\n""#,
            "[]",
            "{}",
            "[1, [2, [3, []]], {}]",
            r#"{"z": 1, "a": 2, "m": {"y": [], "b": {}}}"#,
            r#"{"a": 1, "b": 2, "a": 3}"#,
            r#"{"customers": [{"uuid": "c1", "vehicles": [{"vin": "V1"}]}, {"uuid": "c2", "vehicles": []}], "total": 2}"#,
        ] {
            same(text);
        }
    }

    #[test]
    fn errors_match_serde_json() {
        for text in ["", "   ", "[1, 2", r#"{"a": }"#, r#"{"a" 1}"#, "[1,]", "tru", "{\"a\": 1} x", "\"\\x\"", "[\"\u{1}\"]", "01"] {
            same(text);
        }
        // Invalid UTF-8 inside a string.
        assert_eq!(parse(b"[\"a\xff\"]").unwrap_err().to_string(), serde_json::from_slice::<Json>(b"[\"a\xff\"]").unwrap_err().to_string());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        same(&deep);
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        same(&ok);
    }

    #[test]
    fn an_error_deep_inside_leaves_no_scratch_behind() {
        // The scratch stacks are per parse; a failed parse must not affect the next one.
        assert!(parse(br#"{"a": [1, {"b": [2, 3, }]}"#).is_err());
        same(r#"{"a": [1, {"b": [2, 3]}]}"#);
    }

    /// Writes a random JSON document.
    pub(super) fn build(next: &mut dyn FnMut() -> u64, depth: u32, out: &mut String) {
        let choice = next() % if depth > 4 { 6 } else { 8 };
        match choice {
            0 => out.push_str("null"),
            1 => out.push_str(if next().is_multiple_of(2) { "true" } else { "false" }),
            2 => out.push_str(&i64::from_ne_bytes(next().to_ne_bytes()).to_string()),
            3 => out.push_str(&format!("{:e}", f64::from_bits(next() >> 2))),
            4 => out.push_str(&format!("{}.{}", next() % 1000, next() % 1000)),
            5 => out.push_str(["\"plain\"", "\"tab\\t\\u0041\"", "\"é\"", "\"\\ud83d\\ude00\"", "\"\""][(next() % 5) as usize]),
            6 => {
                out.push('[');
                for i in 0..next() % 6 {
                    if i > 0 {
                        out.push(',');
                    }
                    build(next, depth + 1, out);
                }
                out.push(']');
            }
            _ => {
                out.push('{');
                for i in 0..next() % 7 {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&format!("\"k{}\":", next() % 5));
                    build(next, depth + 1, out);
                }
                out.push('}');
            }
        }
    }

    /// A deterministic stream of pseudo-random numbers (xorshift) from `seed`.
    pub(super) fn random(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    #[test]
    fn generated_documents_match_serde_json() {
        // A deterministic spread of shapes: nested objects and arrays, repeated keys, escapes,
        // numbers of every kind.
        let mut next = random(0x2545_f491_4f6c_dd1d);
        for _ in 0..500 {
            let mut text = String::new();
            build(&mut next, 0, &mut text);
            same(&text);
        }
    }

    mod projected {
        use proptest::prelude::*;

        use super::super::*;
        use crate::projection::Segment;

        fn document() -> impl Strategy<Value = Json> {
            let leaf = prop_oneof![
                Just(Json::Null),
                any::<bool>().prop_map(Json::Bool),
                any::<i64>().prop_map(Json::from),
                (-1e6f64..1e6).prop_map(Json::from),
                "[ab\u{e9}\"\\\\]{0,3}".prop_map(Json::String),
            ];
            leaf.prop_recursive(5, 60, 5, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5).prop_map(Json::Array),
                    prop::collection::vec(("[a-c]", inner), 0..5).prop_map(|entries| Json::Object(entries.into_iter().collect())),
                ]
            })
        }

        fn segment() -> impl Strategy<Value = Segment> {
            prop_oneof!["[a-c]".prop_map(Segment::Key), (0usize..4).prop_map(Segment::Index), Just(Segment::Every)]
        }

        fn projection(paths: &[Vec<Segment>]) -> Projection {
            let mut projection = Projection::default();
            for path in paths {
                projection.read(path);
            }
            projection.settle()
        }

        /// The `JSONPath` of plain segments.
        fn json_path(path: &[Segment]) -> String {
            let mut text = "$".to_owned();
            for segment in path {
                match segment {
                    Segment::Key(key) => text.push_str(&format!("['{key}']")),
                    Segment::Index(index) => text.push_str(&format!("[{index}]")),
                    Segment::Every => text.push_str("[*]"),
                }
            }
            text
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

            /// Parse-then-select and project-then-select find the same nodes, for every path
            /// the projection reads, and the projected parse is the projection of the whole.
            #[test]
            fn project_then_select_is_parse_then_select(document in document(), paths in prop::collection::vec(prop::collection::vec(segment(), 0..4), 0..4)) {
                let text = serde_json::to_string(&document).unwrap();
                let projection = projection(&paths);
                let whole = parse(text.as_bytes()).unwrap();
                let projected = parse_projected(text.as_bytes(), &projection).unwrap();
                prop_assert_eq!(&projected, &projection.apply(&whole));
                for path in &paths {
                    let path = crate::jsonpath::Path::parse(&json_path(path), crate::diagnostic::Span::default()).unwrap();
                    prop_assert_eq!(path.select(&projected), path.select(&whole), "{}", path.text);
                }
            }
        }

        #[test]
        fn projected_parses_accept_and_refuse_what_whole_parses_do() {
            let mut reads = Projection::default();
            reads.read(&[Segment::Key("k1".to_owned()), Segment::Index(0)]);
            reads.read(&[Segment::Every, Segment::Key("k3".to_owned())]);
            let reads = reads.settle();
            let mut next = super::random(0x9e37_79b9_7f4a_7c15);
            // Repeated keys, escapes and every kind of number, as text.
            for _ in 0..500 {
                let mut text = String::new();
                super::build(&mut next, 0, &mut text);
                let whole = parse(text.as_bytes()).unwrap();
                assert_eq!(parse_projected(text.as_bytes(), &reads).unwrap(), reads.apply(&whole), "{text}");
            }
            // Refused in a part that is not read: the same error.
            for text in [
                r#"{"x": [1, 2"#,
                r#"{"x": "\ud800"}"#,
                r#"{"x": "\q"}"#,
                r#"{"x": 01}"#,
                r#"{"x": [1,]}"#,
                "{\"x\": \"\u{1}\"}",
                r#"{"k1": [1], "x": {}} x"#,
                "",
            ] {
                let whole = parse(text.as_bytes()).map(|_| ()).map_err(|error| error.to_string());
                let projected = parse_projected(text.as_bytes(), &reads).map(|_| ()).map_err(|error| error.to_string());
                assert_eq!(projected, whole, "{text}");
                assert!(whole.is_err(), "{text}");
            }
            let invalid_utf8 = b"{\"x\": \"a\xff\"}";
            assert_eq!(parse_projected(invalid_utf8, &reads).unwrap_err().to_string(), parse(invalid_utf8).unwrap_err().to_string());
        }
    }
}
