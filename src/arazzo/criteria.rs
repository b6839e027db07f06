//! `filter`, `pick` and `assert` in Arazzo terms, where they fit: `JSONPath` criteria (RFC 9535,
//! on the response body as the Arazzo specification's examples write them, and as Respect
//! evaluates them: the body is the one node of `$`).
//!
//! A selection from the list of one request step's response (`from: "{{ steps.S.body... }}"`,
//! `items: $.list[*]`) whose conditions are equalities with literals has its count check as a
//! criterion of step `S` (`$[?count(@.list[?@.status == 'open']) >= 1]`), and, without
//! conditions, what it selects by position becomes a place in that response: the first item
//! (`$response.body#/list/0`) or the whole list. A request step's `assert` of a definite path
//! equal to a literal is a criterion of the step itself (`$[?@.status == 'open']`). Anything
//! else (a `where`, matchers with options or templates, strategies other than `first`,
//! `entries`, `that` templates) is not expressed here.

use serde_json::{Value as Json, json};

use super::expression::{Selected, Translator};
use crate::jsonpath::quoted;
use crate::model::{Action, Assertion, Cardinality, Selection, Strategy, Template, TemplateKind};

/// What a selection step becomes.
pub(crate) struct Expressed {
    /// The request step whose response it selects from.
    pub step: String,
    /// The count check, a criterion of that step.
    pub criterion: Option<Json>,
    /// The selected value's place, for a selection by position without conditions.
    pub selected: Option<Selected>,
    /// Whether it has conditions (then what it selects has no runtime expression).
    pub conditional: bool,
}

/// How a `filter` or `pick` step fits Arazzo.
pub(crate) enum Fit {
    Expressed(Expressed),
    /// Why it does not: the words after "a `filter` step ...".
    Unfit(String),
    /// Not a selection step.
    Other,
}

/// A `filter` or `pick` step in Arazzo terms, or why it does not fit.
pub(crate) fn express(action: &Action, translator: &Translator) -> Fit {
    let (selection, comparison, field) = match action {
        Action::Pick(pick) => {
            let by_position = pick.strategy == Strategy::First && pick.by.is_none() && pick.prefer.is_none();
            (&pick.selection, Some(">= 1"), by_position.then_some("item"))
        }
        Action::Filter(filter) => match filter.expect {
            Cardinality::One => (&filter.selection, Some("== 1"), Some("item")),
            Cardinality::First => (&filter.selection, Some(">= 1"), Some("item")),
            Cardinality::AtLeastOne => (&filter.selection, Some(">= 1"), Some("items")),
            Cardinality::Optional => (&filter.selection, Some("<= 1"), None),
            Cardinality::All => (&filter.selection, None, Some("items")),
        },
        _ => return Fit::Other,
    };
    if selection.where_.is_some() {
        return Fit::Unfit("selects with a `where` template".into());
    }
    if selection.entries {
        return Fit::Unfit("selects among a map's entries".into());
    }
    let Some((step, base)) = translator.body_of(&selection.from) else {
        return Fit::Unfit("selects from a value that is no single response's body".into());
    };
    let list = match &selection.items {
        None => Some(String::new()),
        Some(path) => path.text.strip_suffix("[*]").and_then(|prefix| crate::jsonpath::Path::parse(prefix, path.span).ok()?.pointer()),
    };
    let Some(list) = list else {
        return Fit::Unfit("selects `items` by a path that is no definite list path ending in `[*]`".into());
    };
    let list_pointer = format!("{base}{list}");
    let condition = match conditions(selection) {
        Ok(condition) => condition,
        Err(Unfit(reason)) => return Fit::Unfit(reason),
    };
    let criterion = comparison.map(|comparison| {
        let nodes = if condition.is_empty() { "[*]".to_owned() } else { format!("[?{condition}]") };
        json!({ "context": "$response.body", "condition": format!("$[?count(@{}{nodes}) {comparison}]", query(&list_pointer)), "type": "jsonpath" })
    });
    let conditional = !condition.is_empty();
    let selected = field.filter(|_| !conditional).map(|field| {
        let pointer = if field == "item" { format!("{list_pointer}/0") } else { list_pointer.clone() };
        Selected { step: step.clone(), pointer, field }
    });
    if criterion.is_none() && selected.is_none() {
        return Fit::Unfit("keeps all items that satisfy its conditions, a list no runtime expression states".into());
    }
    Fit::Expressed(Expressed { step, criterion, selected, conditional })
}

/// Why a selection's conditions have no `JSONPath` form.
struct Unfit(String);

/// The `match` conditions as an RFC 9535 logical expression on `@` (empty for none), or why
/// one is not an equality of a definite path with a literal.
fn conditions(selection: &Selection) -> Result<String, Unfit> {
    let mut parts = Vec::new();
    for condition in &selection.matches {
        let (matcher, path) = (&condition.matcher, &condition.path.text);
        let options: Vec<&str> =
            [("`ignore_case`", matcher.ignore_case), ("`trim`", matcher.trim), ("`pattern`", matcher.pattern.is_some())]
                .into_iter()
                .filter_map(|(name, set)| set.then_some(name))
                .collect();
        if !options.is_empty() {
            return Err(Unfit(format!("matches `{path}` with {}, which a JSONPath equality cannot say", options.join(" and "))));
        }
        let Some(pointer) = condition.path.pointer() else {
            return Err(Unfit(format!("matches `{path}`, a path that may select several nodes (any of which matches)")));
        };
        let Some(literal) = matcher.equals.as_ref().and_then(literal) else {
            return Err(Unfit(format!("matches `{path}` against a template, `null` or a structure, not a literal")));
        };
        parts.push(format!("@{} == {literal}", query(&pointer)));
    }
    Ok(parts.join(" && "))
}

/// A literal recipe value as an RFC 9535 literal; `None` for templates, `null` (which a missing
/// node never equals in RFC 9535) and structures.
fn literal(template: &Template) -> Option<String> {
    match template {
        Template::Bool(value) => Some(value.to_string()),
        Template::Number(number) => Some(number.to_string()),
        Template::String(text) if text.kind == TemplateKind::Literal => Some(quoted(&text.text)),
        _ => None,
    }
}

/// A request step's assertions as criteria of its own response, when every one is a definite
/// path equal to a literal (a `message` has no Arazzo form and is not kept).
pub(crate) fn assertions(assertions: &[Assertion]) -> Option<Vec<Json>> {
    assertions
        .iter()
        .map(|assertion| {
            if assertion.that.is_some() || assertion.pattern.is_some() {
                return None;
            }
            let path = query(&assertion.path.as_ref()?.pointer()?);
            let condition = format!("$[?@{path} == {}]", literal(assertion.equals.as_ref()?)?);
            Some(json!({ "context": "$response.body", "condition": condition, "type": "jsonpath" }))
        })
        .collect()
}

/// A JSON Pointer as the segments of an RFC 9535 query (`/a/0` is `['a'][0]`).
fn query(pointer: &str) -> String {
    crate::jsonpath::pointer_tokens(pointer)
        .map(|token| {
            if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
                format!("[{token}]")
            } else {
                format!("[{}]", quoted(&token))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_query_segments_and_strings_quoted_literals() {
        assert_eq!(query("/orders/0/it's"), "['orders'][0]['it\\'s']");
        assert_eq!(query(""), "");
        assert_eq!(quoted("a'b"), "'a\\'b'");
    }
}
