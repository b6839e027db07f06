//! The fast paths: templates that are only plain dotted paths (`{{ steps.search.body }}`, with an
//! empty `| default(none)`, or interpolated in text such as `/customer/{{ inputs.uuid }}/list`)
//! are read from the context without compiling minijinja. They decide only what they are sure
//! of: a path that is there, text or an integer printed into text. Everything else (a missing
//! name, null, a float, a list...) is left to minijinja, so values and errors stay its own.

use minijinja::Value;
use minijinja::value::ValueKind;

use super::KEYWORDS;

/// A part of an interpolation: literal text, or a plain path printed into it.
pub(super) enum Piece {
    Literal(String),
    Path(Vec<String>),
}

/// The names of a plain dotted path (`steps.search.body`): identifiers joined by dots, none of
/// them a word the template language reserves. `None` for any other expression.
pub(super) fn plain_path(expression: &str) -> Option<Vec<String>> {
    const RESERVED: &[&str] = &["true", "false", "none", "True", "False", "None", "self"];
    let parts: Vec<String> = expression.split('.').map(str::to_owned).collect();
    let identifier = |part: &String| {
        let mut chars = part.chars();
        chars.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !RESERVED.contains(&part.as_str())
            && !KEYWORDS.contains(&part.as_str())
    };
    parts.iter().all(identifier).then_some(parts)
}

/// The names of a plain path with an empty default (`steps.customer.item.company | default(none)`,
/// a third of the draft recipe's expressions). When the path is there, the filter returns it
/// unchanged; when it is not, the caller asks minijinja, which applies the default. Only
/// literal empty defaults are taken (`boolean=true`, which also replaces falsy values, is not).
pub(super) fn defaulted_path(expression: &str) -> Option<Vec<String>> {
    let (path, filter) = expression.split_once('|')?;
    // ASCII whitespace only, as minijinja's lexer (other whitespace is its syntax error).
    let argument = filter.trim_ascii().strip_prefix("default")?.trim_ascii_start().strip_prefix('(')?.strip_suffix(')')?;
    if !matches!(argument.trim_ascii(), "none" | "None" | "''" | "\"\"" | "[]") {
        return None;
    }
    plain_path(path.trim_ascii())
}

/// The pieces of a text that is only literal text and `{{ plain.path }}` interpolations, or
/// `None` for anything else: a block or comment tag, whitespace control (`{{-`), any other
/// expression, or a trailing line break (minijinja drops one; the fast path does not try).
pub(super) fn interpolation(text: &str) -> Option<Vec<Piece>> {
    if text.contains("{%") || text.contains("{#") || text.ends_with(['\n', '\r']) {
        return None;
    }
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Literal(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}")?;
        let inner = &after[..end];
        if inner.starts_with(['-', '+']) || inner.ends_with(['-', '+']) {
            return None;
        }
        // minijinja skips only ASCII whitespace in a tag; anything else is its syntax error.
        pieces.push(Piece::Path(plain_path(inner.trim_ascii())?));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest.to_owned()));
    }
    Some(pieces)
}

/// Writes an interpolation when every path reads text or an integer, which print as
/// themselves; `None` leaves every other case to minijinja.
pub(super) fn interpolate(pieces: &[Piece], context: &Value) -> Option<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Literal(text) => out.push_str(text),
            Piece::Path(parts) => {
                let value = read_path(context, parts)?;
                match value.kind() {
                    ValueKind::String => out.push_str(value.as_str()?),
                    ValueKind::Number if value.is_integer() => write!(out, "{value}").ok()?,
                    _ => return None,
                }
            }
        }
    }
    Some(out)
}

/// Reads a plain path as minijinja's attribute lookups would: `None` as soon as a name is not
/// there (the caller then asks minijinja, which also knows globals and words the error).
pub(super) fn read_path(context: &Value, parts: &[String]) -> Option<Value> {
    let mut current = context.clone();
    for part in parts {
        current = current.get_attr(part).ok()?;
        if current.is_undefined() || current.kind() == minijinja::value::ValueKind::Invalid {
            return None;
        }
    }
    Some(current)
}
