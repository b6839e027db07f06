//! The one YAML writer: YAML that people read and edit, with block style, keys in the order
//! given, short maps and lists of scalars in flow style, multi-line strings as literal blocks,
//! and comments.
//!
//! `recipe import curl` writes its recipes with it (a generated recipe is a starting point that
//! someone will edit, and some of its decisions need a comment beside them), `recipe export` its
//! documents, and [`to_string`] every data file: fixtures, snapshots, the requests of a dry run.
//! Reading YAML is [`crate::yaml`]. Every string is written plain only when any YAML reader,
//! 1.1 or 1.2, reads it back as that same string (`yes`, `19:00:00` and `2026-07-22` are
//! quoted); otherwise it is double-quoted with JSON escapes, which YAML shares, and the line and
//! paragraph separators escaped too.

use serde::Serialize;
use serde_json::Value as Json;

/// A value that is no JSON data (a map whose keys are not strings, for one).
#[derive(Debug, thiserror::Error)]
#[error("cannot write YAML: {0}")]
pub struct WriteError(serde_json::Error);

/// Writes data as YAML (a fixture, a snapshot): its JSON form, laid out as `document` does.
pub fn to_string<T: Serialize>(value: &T) -> Result<String, WriteError> {
    let value = serde_json::to_value(value).map_err(WriteError)?;
    Ok(data(&value))
}

/// JSON data as a YAML document of its own kind: a map, a list or a scalar at the top.
pub(crate) fn data(value: &Json) -> String {
    match Node::from_json(value) {
        Node::Map(entries) if !entries.is_empty() => document(&[], &entries),
        node @ Node::Seq { .. } if inline(&node).is_none() => {
            let mut out = String::new();
            // A list at the top is written as a key's value is, one level less indented.
            let mut nested = String::new();
            write_value(&mut nested, &node, 0);
            for line in nested.strip_prefix('\n').unwrap_or(&nested).split_inclusive('\n') {
                out.push_str(line.strip_prefix("  ").unwrap_or(line));
            }
            out
        }
        // A text of several lines at the top is written quoted, on one line.
        Node::Scalar(Json::String(text)) => format!("{}\n", scalar_text(&text, false)),
        node => format!("{}\n", inline(&node).unwrap_or_default()),
    }
}

/// A value to write.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// `null`, a boolean, a number or a string.
    Scalar(Json),
    Map(Vec<Entry>),
    /// A list; `spaced` puts a blank line between items (the steps of a recipe).
    Seq {
        items: Vec<Node>,
        spaced: bool,
    },
}

/// One key of a map, with comment lines written above it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: String,
    pub value: Node,
    pub comment: Option<String>,
}

impl Entry {
    pub(crate) fn new(key: impl Into<String>, value: Node) -> Self {
        Self { key: key.into(), value, comment: None }
    }

    #[must_use]
    pub(crate) fn with_comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }
}

impl Node {
    pub(crate) fn text(text: impl Into<String>) -> Self {
        Node::Scalar(Json::String(text.into()))
    }

    pub(crate) fn list(items: Vec<Node>) -> Self {
        Node::Seq { items, spaced: false }
    }

    /// JSON data as a node, keys in their order.
    pub(crate) fn from_json(value: &Json) -> Self {
        match value {
            Json::Array(items) => Node::list(items.iter().map(Node::from_json).collect()),
            Json::Object(entries) => Node::Map(entries.iter().map(|(key, value)| Entry::new(key, Node::from_json(value))).collect()),
            scalar => Node::Scalar(scalar.clone()),
        }
    }
}

/// The longest map or list written on one line.
const FLOW_WIDTH: usize = 90;

/// The longest key written on the line of its value (YAML 1.2 allows 1024 characters; libyaml
/// and YAML 1.1 readers, 128).
const MAX_IMPLICIT_KEY: usize = 128;

/// A whole document: comment lines, then the top-level map with a blank line between keys whose
/// values span several lines.
pub(crate) fn document(header: &[String], entries: &[Entry]) -> String {
    let mut out = String::new();
    for line in header {
        comment(&mut out, line, 0);
    }
    for (index, entry) in entries.iter().enumerate() {
        if index > 0 && !is_inline(&entry.value) {
            out.push('\n');
        }
        write_entry(&mut out, entry, 0, false);
    }
    out
}

/// JSON data as a document: an object's keys become the top-level map.
pub(crate) fn json_document(header: &[String], value: &Json) -> String {
    match Node::from_json(value) {
        Node::Map(entries) => document(header, &entries),
        other => document(header, &[Entry::new("value", other)]),
    }
}

fn comment(out: &mut String, text: &str, indent: usize) {
    for line in text.lines() {
        out.push_str(&" ".repeat(indent));
        out.push('#');
        if !line.is_empty() {
            out.push(' ');
            out.push_str(line);
        }
        out.push('\n');
    }
}

/// Writes `key: value`; with `continued`, the first line's indentation was already written (the
/// first key of a list item, after `- `).
fn write_entry(out: &mut String, entry: &Entry, indent: usize, continued: bool) {
    if let Some(text) = &entry.comment {
        if continued {
            // A comment cannot follow `- ` on the same line: start the item on the next one.
            out.push('\n');
        }
        comment(out, text, indent);
        out.push_str(&" ".repeat(indent));
    } else if !continued {
        out.push_str(&" ".repeat(indent));
    }
    let key = scalar_text(&entry.key, false);
    if key.chars().count() > MAX_IMPLICIT_KEY {
        // Longer than YAML allows a key on the line of its value: `? key`, then `: value`.
        out.push_str("? ");
        out.push_str(&key);
        out.push('\n');
        out.push_str(&" ".repeat(indent));
    } else {
        out.push_str(&key);
    }
    out.push(':');
    write_value(out, &entry.value, indent);
}

/// Writes what follows a key's colon (or a list item's dash), and the line end.
fn write_value(out: &mut String, value: &Node, indent: usize) {
    if let Some(inline) = inline(value) {
        out.push(' ');
        out.push_str(&inline);
        out.push('\n');
        return;
    }
    match value {
        Node::Scalar(Json::String(text)) => block_scalar(out, text, indent + 2),
        Node::Scalar(json) => {
            out.push(' ');
            out.push_str(&scalar(json, false));
            out.push('\n');
        }
        Node::Map(entries) => {
            out.push('\n');
            for entry in entries {
                write_entry(out, entry, indent + 2, false);
            }
        }
        Node::Seq { items, spaced } => {
            out.push('\n');
            for (index, item) in items.iter().enumerate() {
                if *spaced && index > 0 {
                    out.push('\n');
                }
                out.push_str(&" ".repeat(indent + 2));
                out.push('-');
                match item {
                    Node::Map(entries) if !entries.is_empty() && inline(item).is_none() => {
                        out.push(' ');
                        for (position, entry) in entries.iter().enumerate() {
                            write_entry(out, entry, indent + 4, position == 0);
                        }
                    }
                    _ => write_value(out, item, indent + 2),
                }
            }
        }
    }
}

fn is_inline(value: &Node) -> bool {
    inline(value).is_some()
}

/// The value on one line, when it fits there: scalars, empty collections, and short maps and
/// lists of scalars without comments.
fn inline(value: &Node) -> Option<String> {
    match value {
        Node::Scalar(Json::String(text)) if text.contains('\n') && literal_block_fits(text) => None,
        Node::Scalar(json) => Some(scalar(json, false)),
        Node::Map(entries) if entries.is_empty() => Some("{}".into()),
        Node::Seq { items, .. } if items.is_empty() => Some("[]".into()),
        Node::Map(entries) => {
            let mut parts = Vec::new();
            for entry in entries {
                let Node::Scalar(json) = &entry.value else { return None };
                if entry.comment.is_some() {
                    return None;
                }
                parts.push(format!("{}: {}", scalar_text(&entry.key, true), scalar(json, true)));
            }
            Some(format!("{{ {} }}", parts.join(", "))).filter(|text| text.chars().count() <= FLOW_WIDTH)
        }
        Node::Seq { items, .. } => {
            let parts: Option<Vec<String>> = items
                .iter()
                .map(|item| match item {
                    Node::Scalar(Json::String(text)) if text.contains('\n') && literal_block_fits(text) => None,
                    Node::Scalar(json) => Some(scalar(json, true)),
                    _ => None,
                })
                .collect();
            Some(format!("[{}]", parts?.join(", "))).filter(|text| text.chars().count() <= FLOW_WIDTH)
        }
    }
}

/// Whether a multi-line string can be a literal block: printable text whose first line does not
/// start with a space (the block's indentation would be misread).
fn literal_block_fits(text: &str) -> bool {
    !text.starts_with([' ', '\t', '\n']) && text.chars().all(|c| c == '\n' || c == '\t' || !breaks_plain(c))
}

/// Characters never written raw: controls, and what YAML 1.1 takes for line breaks (NEL, the
/// line and paragraph separators) or a byte order mark.
fn breaks_plain(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// A literal block (`|`), with the chomping indicator that keeps the text's trailing newlines.
fn block_scalar(out: &mut String, text: &str, indent: usize) {
    let body = text.trim_end_matches('\n');
    let chomping = match text.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    };
    out.push_str(&format!(" |{chomping}\n"));
    for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
        if !line.is_empty() {
            out.push_str(&" ".repeat(indent));
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn scalar(value: &Json, flow: bool) -> String {
    match value {
        Json::String(text) => scalar_text(text, flow),
        Json::Array(_) | Json::Object(_) => value.to_string(),
        other => other.to_string(),
    }
}

/// A string, plain when YAML reads it back as the same string, else double-quoted.
fn scalar_text(text: &str, flow: bool) -> String {
    if is_plain_safe(text, flow) {
        return text.to_owned();
    }
    let quoted = Json::String(text.to_owned()).to_string();
    if !quoted.contains(['\u{2028}', '\u{2029}', '\u{feff}']) {
        return quoted;
    }
    quoted.replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029").replace('\u{feff}', "\\ufeff")
}

/// Conservative: a plain scalar that cannot be read as anything but this string, in block or flow
/// context.
fn is_plain_safe(text: &str, flow: bool) -> bool {
    const RESERVED: &[&str] = &["true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"];
    let Some(first) = text.chars().next() else { return false };
    // A text starting with a digit is a number, a date, a time or a sexagesimal number to some
    // YAML reader unless it holds a letter none of those forms uses (`69BsW...`, `01OIL`).
    let not_a_number = || text.chars().any(|c| c.is_ascii_alphabetic() && !"abcdefABCDEFxXoObBtTzZ".contains(c));
    // `<` starts a placeholder (`<vars.token>`); only `<<` alone is special (a merge key).
    let placeholder = first == '<' && text != "<<";
    if !(first.is_alphabetic() || matches!(first, '_' | '/' | '$') || placeholder || (first.is_ascii_digit() && not_a_number())) {
        return false;
    }
    if text.ends_with([' ', ':']) || text.contains(": ") || text.contains(" #") || RESERVED.contains(&text.to_lowercase().as_str()) {
        return false;
    }
    let forbidden: &[char] = if flow { &['"', '\'', '`', '#', ',', '[', ']', '{', '}'] } else { &['"', '`', '#', '\t'] };
    text.chars().all(|c| !breaks_plain(c) && !forbidden.contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_reads_back_what_was_written() {
        let strings = [
            "50",
            "00012",
            "+1",
            "-0",
            "1.",
            ".5",
            "1e3",
            "1E-3",
            "0x10",
            "0o17",
            "1_000",
            "NaN",
            ".nan",
            ".inf",
            "-.inf",
            "inf",
            "Infinity",
            "~",
            "null",
            "Null",
            "NULL",
            "TRUE",
            "False",
            "yes",
            "No",
            "2026-07-22",
            "07:00:00",
            "1:2",
            "",
            " lead",
            "trail ",
            "a: b",
            "x #y",
            "-d",
            "- d",
            "[1]",
            "{a}",
            "it's",
            "\"q\"",
            "tab\there",
            "line\nbreak",
            "9223372036854775808",
            "18446744073709551616",
            "<MYKAARMA_BASIC_AUTH>",
            "!tag",
            "&anchor",
            "*alias",
            "%x",
            "@x",
            "`x`",
            "é",
            "?",
            ":",
            "a\u{2028}b",
            "end\u{2029}\nnext line\n",
            "\u{feff}bom",
            "a\nyes",
            "2026-07-22\n19:00:00\n",
        ];
        let value = serde_json::json!({
            "strings": strings.as_slice(),
            "keys": strings.iter().map(|s| ((*s).to_owned(), serde_json::json!(1))).collect::<serde_json::Map<_, _>>(),
            "numbers": [0, -1, 12, i64::MAX, i64::MIN, u64::MAX, 1.5, -0.25, 1e300, 5e-324],
            "other": [true, false, null, [], {}, [[]], {"a": {"b": [1, {"c": null}]}}],
            "complex": { "a\nb": "x\nyes\nc: on", "k".repeat(130): "yes\nno", "k2".repeat(70): "on" },
        });
        let text = to_string(&value).unwrap();
        let back: serde_json::Value = crate::yaml::from_str(&text).unwrap_or_else(|error| panic!("{error}\n{text}"));
        assert_eq!(back, value, "{text}");
    }

    #[test]
    fn quotes_what_yaml_1_1_would_misread() {
        let value = serde_json::json!({
            "latest": "19:00:00", "date": "2026-07-22", "at": "2026-07-22T09:30:00", "word": "yes", "n": "1_000",
            "plain": "hello: world", "number": 12, "time": "09:00", "list": ["no", "ok"],
            "2026-07-22 10:00:00": { "vacant": true }, "text": "line one\n19:00:00\n"
        });
        let text = to_string(&value).unwrap();
        for written in [
            "latest: \"19:00:00\"\n",
            "date: \"2026-07-22\"\n",
            "at: \"2026-07-22T09:30:00\"\n",
            "word: \"yes\"\n",
            "\"n\": \"1_000\"\n",
            "plain: \"hello: world\"\n",
            "number: 12\n",
            "list: [\"no\", ok]\n",
            "\"2026-07-22 10:00:00\": { vacant: true }\n",
            // Block scalar content is written as it is.
            "text: |\n  line one\n  19:00:00\n",
        ] {
            assert!(text.contains(written), "{written:?} in\n{text}");
        }
        assert_eq!(crate::yaml::from_str::<Json>(&text).unwrap(), value);
        // A key over 128 characters is written as a complex key (`? key` then `: value`).
        let long = serde_json::json!({ "k".repeat(130): "yes" });
        let text = to_string(&long).unwrap();
        assert!(text.starts_with("? kkk") && text.contains("\n: \"yes\""), "{text}");
        assert_eq!(crate::yaml::from_str::<Json>(&text).unwrap(), long);
    }

    #[test]
    fn a_list_or_a_scalar_at_the_top_is_written_as_it_is() {
        for value in [
            serde_json::json!([{ "method": "GET", "url": "/a", "headers": { "accept": "application/json" } }, [1, [2]], "x\ny\n"]),
            serde_json::json!([]),
            serde_json::json!({}),
            serde_json::json!("text"),
            serde_json::json!(":\n"),
            serde_json::json!(null),
        ] {
            let text = to_string(&value).unwrap();
            assert_eq!(crate::yaml::from_str::<Json>(&text).unwrap(), value, "{text}");
        }
        let list = to_string(&serde_json::json!([{ "a": "x\ny", "b": [1, { "c": 2, "d": "long ".repeat(30) }] }])).unwrap();
        assert!(list.starts_with("- a: |-\n    x\n    y\n  b:\n    - 1\n"), "{list}");
    }

    proptest::proptest! {
        /// Any JSON data reads back as it was written: strings of any characters, keys of any
        /// length, numbers, nesting.
        #[test]
        fn any_data_reads_back_as_written(value in json(3)) {
            let text = to_string(&value).unwrap();
            let back: Json = crate::yaml::from_str(&text).unwrap_or_else(|error| panic!("{error}\n{text}"));
            proptest::prop_assert_eq!(back, value, "{}", text);
        }
    }

    fn json(depth: u32) -> impl proptest::strategy::Strategy<Value = Json> {
        use proptest::prelude::*;
        let text = prop_oneof![
            "[ -~]{0,12}",
            "\\PC{0,8}",
            proptest::sample::select(vec![
                "yes",
                "No",
                "19:00:00",
                "2026-07-22",
                "null",
                "~",
                "- x",
                "a: b",
                " lead",
                "x\n",
                "\u{2028}",
                "#"
            ])
            .prop_map(str::to_owned),
            "[a-z\\n: #-]{0,20}",
            "[\\x00-\\x1f\\x7f\\u{85}\\u{2028}\\u{2029}\\u{feff}a ]{0,6}",
        ];
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(Json::from),
            any::<u64>().prop_map(Json::from),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Json::from),
            text.clone().prop_map(Json::String),
        ];
        leaf.prop_recursive(depth, 48, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
                proptest::collection::vec((text.clone(), inner), 0..6).prop_map(|entries| Json::Object(entries.into_iter().collect())),
            ]
        })
    }

    fn roundtrip(entries: &[Entry]) -> Json {
        let text = document(&[], entries);
        crate::yaml::from_str(&text).unwrap_or_else(|error| panic!("{error}\n{text}"))
    }

    #[test]
    fn strings_read_back_as_written() {
        let tricky = [
            "50",
            "true",
            "No",
            "",
            " lead",
            "a: b",
            "x #y",
            "-d",
            "{{ inputs.x }}",
            "Basic {{ env.X }}",
            "[1]",
            "it's",
            "tab\there",
            "1.5",
            "1.5kg",
            "69BsWgYL",
            "0x1F",
            "0b101",
            "2001-12-14t21:59:43.10Z",
            "1e3",
            "12:30",
            "190:20:30",
            "<<",
            "<vars.token>",
            "<volatile:1>",
        ];
        let entries: Vec<Entry> = tricky.iter().map(|text| Entry::new(*text, Node::text(*text))).collect();
        let flow = vec![Entry::new("flow", Node::Map(entries.clone()))];
        let expected: serde_json::Map<String, Json> = tricky.iter().map(|t| ((*t).to_owned(), Json::String((*t).to_owned()))).collect();
        assert_eq!(roundtrip(&entries), Json::Object(expected.clone()));
        assert_eq!(roundtrip(&flow)["flow"], Json::Object(expected));
    }

    #[test]
    fn multi_line_strings_keep_their_newlines() {
        for text in ["{\n\"a\": 1\n}", "{\n\"a\": 1\n}\n", "a\n\nb\n\n", "  indented\nsecond"] {
            let entries = vec![Entry::new("body", Node::text(text))];
            assert_eq!(roundtrip(&entries)["body"], Json::String(text.into()), "{}", document(&[], &entries));
        }
    }

    #[test]
    fn lays_out_steps_with_comments() {
        let step = Node::Map(vec![
            Entry::new("id", Node::text("list")),
            Entry::new("request", Node::Map(vec![Entry::new("body", Node::text("x")).with_comment("why")])),
        ]);
        let text = document(&["header".into()], &[Entry::new("steps", Node::Seq { items: vec![step.clone(), step], spaced: true })]);
        assert_eq!(
            text,
            "# header\nsteps:\n  - id: list\n    request:\n      # why\n      body: x\n\n  - id: list\n    request:\n      # why\n      body: x\n"
        );
    }
}
