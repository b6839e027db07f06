//! Writing YAML that people read and edit: block style, keys in the order given, short maps and
//! lists of scalars in flow style, multi-line strings as literal blocks, and comments.
//!
//! `recipe import curl` writes its recipes with it, because a generated recipe is a starting
//! point that someone will edit, and some of its decisions need a comment beside them. It owns
//! only the layout; reading YAML, and writing data files, is [`crate::yaml`]. Every string is
//! written plain only when YAML reads it back as that same string; otherwise it is
//! double-quoted with JSON escapes, which YAML shares.

use serde_json::Value as Json;

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
    out.push_str(&scalar_text(&entry.key, false));
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
            let parts: Option<Vec<String>> =
                items.iter().map(|item| if let Node::Scalar(json) = item { Some(scalar(json, true)) } else { None }).collect();
            Some(format!("[{}]", parts?.join(", "))).filter(|text| text.chars().count() <= FLOW_WIDTH)
        }
    }
}

/// Whether a multi-line string can be a literal block: printable text whose first line does not
/// start with a space (the block's indentation would be misread).
fn literal_block_fits(text: &str) -> bool {
    !text.starts_with([' ', '\t', '\n']) && text.chars().all(|c| c == '\n' || c == '\t' || !c.is_control())
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
    if is_plain_safe(text, flow) { text.to_owned() } else { Json::String(text.to_owned()).to_string() }
}

/// Conservative: a plain scalar that cannot be read as anything but this string, in block or flow
/// context.
fn is_plain_safe(text: &str, flow: bool) -> bool {
    const RESERVED: &[&str] = &["true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"];
    let Some(first) = text.chars().next() else { return false };
    if !(first.is_alphabetic() || first == '_' || first == '/' || first == '$') {
        return false;
    }
    if text.ends_with([' ', ':']) || text.contains(": ") || text.contains(" #") || RESERVED.contains(&text.to_lowercase().as_str()) {
        return false;
    }
    let forbidden: &[char] = if flow { &['"', '\'', '`', '#', ',', '[', ']', '{', '}'] } else { &['"', '`', '#', '\t'] };
    text.chars().all(|c| !c.is_control() && !forbidden.contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

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
