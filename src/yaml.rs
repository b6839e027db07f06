//! Every YAML call in the project goes through this module.
//!
//! Recipes are read into a [`Node`] tree that keeps the line and column of every key and value,
//! built from the marked events of `yaml-rust2`, so that every later diagnostic can point into
//! the file. Duplicate keys and second documents are rejected here, with their places. Data
//! files (vars files, fixtures) are read by the same parser, then into their types as JSON data.
//! Writing is [`crate::emit`]'s. `serde_yaml` only reads a data file holding a raw U+2028 or
//! U+2029, as fixtures and snapshots written by earlier builds of `recipe` may (see [`from_str`]).

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::diagnostic::{Diagnostic, Span};

/// How a scalar was written; templates inside quoted scalars are shifted by the quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
    Block,
}

/// A YAML value with the place it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer above `i64::MAX` (up to `u64::MAX`), kept exact rather than made a float.
    UInt(u64),
    Float(f64),
    String(String, Style),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key (always a string in recipes) with its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub text: String,
    pub span: Span,
    /// A plain `<<`: a merge key (a quoted `"<<"` is a key like any other).
    merge: bool,
}

impl Node {
    /// A short name of this node's type for messages ("a string", "a map", ...).
    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::UInt(_) => "an integer above 9223372036854775807",
            Value::Float(_) => "a number",
            Value::String(..) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }

    /// The node as plain JSON data (no positions).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::UInt(u) => J::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::String(s, _) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(entries.iter().map(|(k, v)| (k.text.clone(), v.to_json())).collect()),
        }
    }
}

/// Parses one YAML document into a located tree; an empty file is an empty map.
///
/// A syntax error is fatal. Duplicate keys are not: the tree keeps the first of them and the
/// problems come back beside it, so later passes can report their own problems too.
pub fn parse(text: &str) -> Result<(Node, Vec<Diagnostic>), Vec<Diagnostic>> {
    // A byte order mark (an editor's "UTF-8 with BOM") is not content.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // The parser takes a NUL for the end of the input and would silently ignore the rest.
    if let Some(span) = nul(text) {
        return Err(vec![Diagnostic::at("invalid YAML: a NUL character (U+0000); YAML does not allow it", span)]);
    }
    if text.len() > MAX_SIZE {
        return Err(vec![Diagnostic::at(
            format!("the file has {} bytes, over the limit of {MAX_SIZE} bytes for a recipe or data file", text.len()),
            Span::new(1, 1, 1),
        )]);
    }
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    // Every document is scanned, so that anything after the first one is reported, not ignored.
    if let Err(error) = parser.load(&mut builder, true) {
        let marker = error.marker();
        let span = Span::new(marker.line(), marker.col() + 1, 1);
        return Err(vec![Diagnostic::at(format!("invalid YAML: {}", error.info()), span)]);
    }
    let root = builder.root.unwrap_or(Node { value: Value::Map(Vec::new()), span: Span::new(1, 1, 1) });
    let mut problems = builder.problems;
    if problems.len() > MAX_PROBLEMS {
        // The same mistake repeated (a pasted block, a generated file) is said once per kind,
        // not thousands of times.
        let more = problems.len() - MAX_PROBLEMS;
        let last = problems[MAX_PROBLEMS].span.unwrap_or(Span::new(1, 1, 1));
        problems.truncate(MAX_PROBLEMS);
        problems.push(Diagnostic::at(format!("{more} more problem(s) of the file are not shown; fix the ones above first"), last));
    }
    Ok((root, problems))
}

/// Where the first NUL character is, if any.
fn nul(text: &str) -> Option<Span> {
    let at = text.find('\0')?;
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
    Some(Span::new(line, col, 1))
}

/// Builds the tree as the parser reads it, event by event: the lists and maps being read are on
/// a stack, and each finished value goes into the one on top.
#[derive(Default)]
struct Builder {
    /// The lists and maps open around the current event, innermost last.
    open: Vec<Open>,
    /// The document's value, once read; later events are ignored.
    root: Option<Node>,
    anchors: HashMap<usize, Node>,
    problems: Vec<Diagnostic>,
    /// Values produced by expanding aliases so far.
    expanded: usize,
    too_large: bool,
    /// A map went over [`MAX_KEYS`] (said once).
    too_many_keys: bool,
    /// A `---` started another document, which is reported once and not read.
    second_document: bool,
}

/// A list or map being read, with the anchor it gets when it is finished.
struct Open {
    mark: Marker,
    anchor: usize,
    items: Items,
}

enum Items {
    Seq(Vec<Node>),
    /// The entries so far, the key read before its value, and where each key is in the entries
    /// (a duplicate is found in constant time, not by reading every key again).
    Map(Vec<(Key, Node)>, Option<Node>, HashMap<String, usize>),
}

const MAX_EXPANDED_NODES: usize = 100_000;

/// The most keys one map may have: far above any recipe or data file written by hand, and low
/// enough that every later check of the map stays quick.
const MAX_KEYS: usize = 10_000;

/// The most bytes a recipe or data file may have.
pub(crate) const MAX_SIZE: usize = 8 << 20;

/// Problems listed one by one; the rest are counted in one last line.
const MAX_PROBLEMS: usize = 50;

fn size(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        Value::Map(entries) => 1 + entries.iter().map(|(_, value)| size(value)).sum::<usize>(),
        _ => 1,
    }
}

fn span_of(mark: Marker, len: usize) -> Span {
    Span::new(mark.line(), mark.col() + 1, len)
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.root.is_some() {
            if matches!(event, Event::DocumentStart) && !self.second_document {
                self.second_document = true;
                self.problems.push(
                    Diagnostic::at("a second YAML document: a file holds one", span_of(mark, 3))
                        .with_hint("remove the `---` line and what follows it, or put it in a file of its own"),
                );
            }
            return;
        }
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let quoted = !matches!(style, TScalarStyle::Plain);
                let len = text.chars().count() + if quoted { 2 } else { 0 };
                let style = match style {
                    TScalarStyle::Literal | TScalarStyle::Folded => Style::Block,
                    TScalarStyle::Plain => Style::Plain,
                    _ => Style::Quoted,
                };
                let value = match &tag {
                    Some(tag) => match tagged(tag, &text, span_of(mark, len)) {
                        Ok(Some(value)) => value,
                        Ok(None) => Value::String(text, style),
                        Err(problem) => {
                            self.problems.push(problem);
                            Value::Null
                        }
                    },
                    None if quoted => Value::String(text, style),
                    None => plain_scalar(&text),
                };
                self.finished(Node { value, span: span_of(mark, len) }, anchor);
            }
            Event::SequenceStart(anchor, tag) => self.open_collection(mark, anchor, tag.as_ref(), true),
            Event::MappingStart(anchor, tag) => self.open_collection(mark, anchor, tag.as_ref(), false),
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(Open { mark, anchor, items }) = self.open.pop() else { return };
                let node = match items {
                    Items::Seq(items) => Node { value: Value::Seq(items), span: span_of(mark, 1) },
                    Items::Map(entries, _, _) => {
                        let span = entries.first().map_or(span_of(mark, 1), |(k, _)| k.span);
                        let entries = self.merged(entries);
                        Node { value: Value::Map(entries), span }
                    }
                };
                self.finished(node, anchor);
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().unwrap_or(Node { value: Value::Null, span: span_of(mark, 1) });
                // Aliases of aliases grow exponentially ("billion laughs"): bound the expansion.
                self.expanded += size(&node);
                if self.expanded > MAX_EXPANDED_NODES {
                    if !self.too_large {
                        self.too_large = true;
                        self.problems.push(Diagnostic::at("aliases expand to too many values", span_of(mark, 1)));
                    }
                    self.finished(Node { value: Value::Null, span: span_of(mark, 1) }, 0);
                    return;
                }
                self.finished(node, 0);
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart | Event::DocumentEnd => {}
        }
    }
}

/// Whether `tag` is the YAML core schema's `!!NAME`.
fn is_core(tag: &yaml_rust2::parser::Tag, name: &str) -> bool {
    tag.handle == "tag:yaml.org,2002:" && tag.suffix == name
}

fn unsupported_tag(tag: &yaml_rust2::parser::Tag, span: Span) -> Diagnostic {
    let shown = if tag.handle == "tag:yaml.org,2002:" { format!("!!{}", tag.suffix) } else { format!("{}{}", tag.handle, tag.suffix) };
    Diagnostic::at(format!("the YAML tag `{shown}` is not supported"), span).with_hint(
        "values are text, numbers, booleans, null, lists and maps; the tags `!!str`, `!!int`, `!!float`, `!!bool` and `!!null` say which",
    )
}

/// A scalar under a tag: the core schema's tags give their type (`None`: text as written), any
/// other tag is refused rather than dropped.
fn tagged(tag: &yaml_rust2::parser::Tag, text: &str, span: Span) -> Result<Option<Value>, Diagnostic> {
    let core = |name: &str| is_core(tag, name);
    let wrong = |what: &str| Err(Diagnostic::at(format!("`{text}` is not {what}, as its tag `!!{}` says", tag.suffix), span));
    if core("str") {
        Ok(None)
    } else if core("int") {
        match (text.parse::<i64>(), text.parse::<u64>()) {
            (Ok(int), _) => Ok(Some(Value::Int(int))),
            (_, Ok(uint)) => Ok(Some(Value::UInt(uint))),
            _ => wrong("a whole number"),
        }
    } else if core("float") {
        match text.parse::<f64>() {
            Ok(float) if float.is_finite() => Ok(Some(Value::Float(float))),
            _ => wrong("a finite number"),
        }
    } else if core("bool") {
        match text {
            "true" | "True" | "TRUE" => Ok(Some(Value::Bool(true))),
            "false" | "False" | "FALSE" => Ok(Some(Value::Bool(false))),
            _ => wrong("`true` or `false`"),
        }
    } else if core("null") {
        match text {
            "" | "~" | "null" | "Null" | "NULL" => Ok(Some(Value::Null)),
            _ => wrong("null"),
        }
    } else {
        Err(unsupported_tag(tag, span))
    }
}

impl Builder {
    /// A map's merge keys applied (`<<: *defaults`, or a list of maps): their entries join the
    /// map, where the `<<` was, unless the map gives the key itself (the first merged map wins
    /// over later ones). A merged value keeps the place it was written at.
    fn merged(&mut self, entries: Vec<(Key, Node)>) -> Vec<(Key, Node)> {
        if !entries.iter().any(|(key, _)| key.merge) {
            return entries;
        }
        let own: Vec<String> = entries.iter().filter(|(key, _)| !key.merge).map(|(key, _)| key.text.clone()).collect();
        let mut taken: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for (key, node) in entries {
            if !key.merge {
                out.push((key, node));
                continue;
            }
            let sources = match node.value {
                Value::Map(map) => vec![map],
                Value::Seq(items) if items.iter().all(|item| matches!(item.value, Value::Map(_))) => {
                    items.into_iter().filter_map(|item| if let Value::Map(map) = item.value { Some(map) } else { None }).collect()
                }
                _ => {
                    self.problems.push(
                        Diagnostic::at("a merge key `<<` takes a map or a list of maps", key.span)
                            .with_hint("`<<: *defaults` merges the map anchored `&defaults` into this one"),
                    );
                    continue;
                }
            };
            for (merged_key, merged) in sources.into_iter().flatten() {
                if !own.contains(&merged_key.text) && !taken.contains(&merged_key.text) {
                    taken.push(merged_key.text.clone());
                    out.push((merged_key, merged));
                }
            }
        }
        out
    }

    /// A list or map begins; a tag other than `!!seq` or `!!map` on it is refused.
    fn open_collection(&mut self, mark: Marker, anchor: usize, tag: Option<&yaml_rust2::parser::Tag>, seq: bool) {
        if let Some(tag) = tag.filter(|tag| !is_core(tag, if seq { "seq" } else { "map" })) {
            self.problems.push(unsupported_tag(tag, span_of(mark, 1)));
        }
        let items = if seq { Items::Seq(Vec::new()) } else { Items::Map(Vec::new(), None, HashMap::new()) };
        self.open.push(Open { mark, anchor, items });
    }

    /// A value is read: it is kept under its anchor, and goes into the list or map around it.
    fn finished(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.open.last_mut().map(|open| &mut open.items) {
            None => self.root = Some(node),
            Some(Items::Seq(items)) => items.push(node),
            Some(Items::Map(_, key @ None, _)) => *key = Some(node),
            Some(Items::Map(entries, key, index)) => {
                let key_node = key.take().expect("a key was read");
                let merge = matches!(&key_node.value, Value::String(text, Style::Plain) if text == "<<");
                let key = match key_node.value {
                    Value::String(text, _) => text,
                    Value::Int(i) => i.to_string(),
                    Value::UInt(u) => u.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Float(f) => f.to_string(),
                    Value::Null => "null".to_owned(),
                    Value::Seq(_) | Value::Map(_) => {
                        self.problems.push(Diagnostic::at("a map key must be a plain value, not a list or map", key_node.span));
                        return;
                    }
                };
                if let Some(first) = index.get(&key).map(|&at| &entries[at].0) {
                    self.problems.push(
                        Diagnostic::at(format!("duplicate key `{key}`"), key_node.span)
                            .with_hint(format!("`{key}` is first defined at line {}, column {}", first.span.line, first.span.col)),
                    );
                    return;
                }
                if entries.len() >= MAX_KEYS {
                    if !self.too_many_keys {
                        self.too_many_keys = true;
                        self.problems.push(Diagnostic::at(format!("a map may have at most {MAX_KEYS} keys"), key_node.span));
                    }
                    return;
                }
                index.insert(key.clone(), entries.len());
                entries.push((Key { text: key, span: key_node.span, merge }, node));
            }
        }
    }
}

/// For a plain number written with a leading zero (`007`), which is read as text: why, and how
/// to write the number. `None` for anything else.
pub(crate) fn leading_zero_hint(text: &str) -> Option<String> {
    let (sign, digits) = match text.strip_prefix(['-', '+']) {
        Some(digits) => (&text[..1], digits),
        None => ("", text),
    };
    if digits.len() < 2 || !digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = digits.trim_start_matches('0');
    let number = if number.is_empty() { "0" } else { number };
    let sign = if sign == "-" { "-" } else { "" };
    Some(format!(
        "`{text}` has a leading zero, so it is read as text (codes such as ZIP codes keep their zeros); write `{sign}{number}` for the number"
    ))
}

/// Resolves a plain scalar the way YAML 1.2's core schema does (a number with a leading zero
/// excepted: it stays text).
fn plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    // A leading zero (`007`, a ZIP or dealer code) keeps the text: read as a number, the zeros
    // would be lost.
    if leading_zero_hint(text).is_some() {
        return Value::String(text.to_owned(), Style::Plain);
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::Int(i);
    }
    if let Ok(u) = text.parse::<u64>() {
        return Value::UInt(u);
    }
    let looks_numeric = text.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'-' || b == b'+' || b == b'.');
    if looks_numeric
        && let Ok(f) = text.parse::<f64>()
        && f.is_finite()
    {
        return Value::Float(f);
    }
    Value::String(text.to_owned(), Style::Plain)
}

/// Why a data file could not be read: where, when the YAML itself is at fault, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct DataError {
    pub span: Option<Span>,
    pub message: String,
}

impl DataError {
    /// `file:line:col: what is wrong` (or `file: what is wrong`), with `what` (e.g. "invalid
    /// fixture") before the message.
    /// Standard input (`-`) is called `<stdin>`, as in recipe diagnostics.
    pub fn in_file(&self, file: &std::path::Path, what: &str) -> String {
        let file = if file == std::path::Path::new("-") { "<stdin>".into() } else { file.display().to_string() };
        match self.span {
            Some(span) => format!("{file}:{}:{}: {what}: {}", span.line, span.col, self.message),
            None => format!("{file}: {what}: {}", self.message),
        }
    }
}

impl std::fmt::Display for DataError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.span {
            Some(span) => write!(f, "line {}, column {}: {}", span.line, span.col, self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Reads a data file (vars, fixtures) into `T`: the same parser as recipes, so a duplicate key
/// or a second document is refused with its place, then the values as JSON data into `T`.
///
/// Text holding a raw U+2028 or U+2029 goes through `serde_yaml` instead (by way of its `Value`,
/// which also refuses duplicate keys): earlier versions wrote data with `serde_yaml`, which
/// writes these two raw, as the line breaks YAML 1.1 takes them for, and only a YAML 1.1 reader
/// reads such a file back as it was written. `emit.rs` escapes them.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, DataError> {
    from_str_checked(text, |_| Ok(()))
}

/// [`from_str`], with `check` first looking at the tree (its places known) before it becomes `T`:
/// keys `T` would ignore, values out of range. Not called for text read by `serde_yaml`.
pub(crate) fn from_str_checked<T: DeserializeOwned>(
    text: &str,
    check: impl FnOnce(&Node) -> Result<(), DataError>,
) -> Result<T, DataError> {
    if text.contains(['\u{2028}', '\u{2029}']) && nul(text).is_none() {
        let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|error| DataError { span: None, message: error.to_string() })?;
        return serde_yaml::from_value(value).map_err(|error| DataError { span: None, message: error.to_string() });
    }
    let located = |diagnostic: &Diagnostic| {
        let mut message = diagnostic.message.clone();
        for hint in &diagnostic.hints {
            message.push_str("; ");
            message.push_str(hint);
        }
        DataError { span: diagnostic.span, message }
    };
    let (root, problems) = parse(text)
        .map_err(|problems| problems.first().map_or_else(|| DataError { span: None, message: "invalid YAML".into() }, located))?;
    if let Some(problem) = problems.first() {
        return Err(located(problem));
    }
    check(&root)?;
    serde_json::from_value(root.to_json()).map_err(|error| DataError { span: None, message: error.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_keeps_leading_zeros_and_ignores_a_byte_order_mark() {
        let read: serde_json::Value = from_str("\u{feff}# vars\nzip: 02134\ncodes: [007, 0012, -01, 0, -0, 7]\n").unwrap();
        assert_eq!(read, serde_json::json!({"zip": "02134", "codes": ["007", "0012", "-01", 0, 0, 7]}));
    }

    #[test]
    fn merge_keys_merge_and_own_keys_win() {
        let text = "base: &b { x: 1, y: 2 }\nmore: &m { y: 8, z: 3 }\none: { <<: *b, y: 9 }\nmany: { <<: [*b, *m], w: 0 }\n";
        let read: serde_json::Value = from_str(text).unwrap();
        assert_eq!(read["one"], serde_json::json!({"x": 1, "y": 9}));
        assert_eq!(read["many"], serde_json::json!({"x": 1, "y": 2, "z": 3, "w": 0}));
        let error = from_str::<serde_json::Value>("a: { <<: 5 }\n").unwrap_err();
        assert_eq!(error.span.map(|s| (s.line, s.col)), Some((1, 6)), "{error}");
        assert!(error.message.starts_with("a merge key `<<` takes a map"), "{error}");
    }

    #[test]
    fn core_tags_give_their_type_and_other_tags_are_refused() {
        let read: serde_json::Value = from_str("n: !!int 5\nf: !!float 1\nb: !!bool true\nz: !!null\ns: !!str 5\nl: !!seq [1]\n").unwrap();
        assert_eq!(read, serde_json::json!({"n": 5, "f": 1.0, "b": true, "z": null, "s": "5", "l": [1]}));
        for (text, place, message) in [
            ("a: !custom hi\n", (1, 12), "the YAML tag `!custom` is not supported"),
            ("a: !!binary aGk=\n", (1, 13), "the YAML tag `!!binary` is not supported"),
            ("a: !!int five\n", (1, 10), "`five` is not a whole number, as its tag `!!int` says"),
            ("a: !!set {x: null}\n", (1, 10), "the YAML tag `!!set` is not supported"),
        ] {
            let error = from_str::<serde_json::Value>(text).unwrap_err();
            assert_eq!(error.span.map(|s| (s.line, s.col)), Some(place), "{text}: {error}");
            assert!(error.message.starts_with(message), "{text}: {error}");
        }
    }

    #[test]
    fn data_errors_say_where() {
        let error = from_str::<serde_json::Value>("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(error.span.map(|s| (s.line, s.col)), Some((3, 1)), "{error}");
        assert!(error.message.contains("duplicate key `a`") && error.message.contains("line 1, column 1"), "{error}");
        let error = from_str::<serde_json::Value>("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(error.span.map(|s| s.line), Some(2), "{error}");
        assert!(error.message.contains("second YAML document"), "{error}");
        // A NUL would end the parser's input there, silently dropping the rest.
        let error = from_str::<serde_json::Value>("zip: z\n# \0\nn: 5\n").unwrap_err();
        assert_eq!(error.span.map(|s| (s.line, s.col)), Some((2, 3)), "{error}");
        assert!(error.message.contains("NUL"), "{error}");
        let problems = parse("recipe: 1\nname: x\0\nsteps: []\n").unwrap_err();
        assert_eq!(problems[0].span.map(|s| (s.line, s.col)), Some((2, 8)));
        let error = from_str::<serde_json::Value>("a: [1, 2\n").unwrap_err();
        assert!(error.span.is_some() && error.message.starts_with("invalid YAML"), "{error}");
        let error = from_str::<std::collections::BTreeMap<String, u8>>("a: 300\n").unwrap_err();
        assert_eq!(error.span, None);
        assert!(error.message.contains("300"), "{error}");
        assert_eq!(
            error.in_file(std::path::Path::new("v.yaml"), "invalid vars file"),
            format!("v.yaml: invalid vars file: {}", error.message)
        );
    }

    #[test]
    fn keeps_positions_of_keys_and_values() {
        let (node, _) = parse("a: 1\nsteps:\n  - id: x\n").unwrap();
        let Value::Map(entries) = node.value else { panic!("not a map") };
        assert_eq!(entries[1].0.span, Span::new(2, 1, 5));
        let Value::Seq(items) = &entries[1].1.value else { panic!("not a list") };
        let Value::Map(step) = &items[0].value else { panic!("not a map") };
        assert_eq!(step[0].1.span, Span::new(3, 9, 1));
    }

    #[test]
    fn rejects_duplicate_keys_with_both_places() {
        let (_, problems) = parse("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].message, "duplicate key `a`");
        assert_eq!(problems[0].span, Some(Span::new(3, 1, 1)));
    }

    #[test]
    fn reports_syntax_errors_with_a_place() {
        let problems = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(problems[0].message.starts_with("invalid YAML"), "{problems:?}");
        assert!(problems[0].span.is_some());
    }

    #[test]
    fn resolves_plain_scalars_but_not_quoted_ones() {
        assert_eq!(plain_scalar("42"), Value::Int(42));
        assert_eq!(plain_scalar("1.5"), Value::Float(1.5));
        assert_eq!(plain_scalar("yes"), Value::String("yes".into(), Style::Plain));
        let (node, _) = parse("a: '42'").unwrap();
        let Value::Map(entries) = node.value else { panic!() };
        assert_eq!(entries[0].1.value, Value::String("42".into(), Style::Quoted));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x]\n");
        for i in 1..40 {
            text.push_str(&format!("a{i}: &a{i} [*a{}, *a{}]\n", i - 1, i - 1));
        }
        let (_, problems) = parse(&text).unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].message, "aliases expand to too many values");
    }

    #[test]
    fn too_many_keys_and_repeated_problems_are_said_once_and_quickly() {
        let started = std::time::Instant::now();
        let mut text = String::from("inputs:\n");
        for i in 0..30_000 {
            text.push_str(&format!("  k{i}: 1\n"));
        }
        let (node, problems) = parse(&text).unwrap();
        let Value::Map(entries) = node.value else { panic!() };
        let Value::Map(inputs) = &entries[0].1.value else { panic!() };
        assert_eq!(inputs.len(), MAX_KEYS);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].message, "a map may have at most 10000 keys");
        let duplicates = "k: 1\n".repeat(20_000);
        let (_, problems) = parse(&duplicates).unwrap();
        assert_eq!(problems.len(), MAX_PROBLEMS + 1);
        assert_eq!(problems[MAX_PROBLEMS].message, "19949 more problem(s) of the file are not shown; fix the ones above first");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn data_files_reject_duplicate_keys() {
        let result: Result<serde_json::Value, _> = from_str("a: 1\na: 2\n");
        assert!(result.is_err());
    }
}
