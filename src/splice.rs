//! Values spliced into a URL's path (`/users/{{ inputs.id }}`): a `?` or `#` in such a value
//! would start the query or a fragment, so the server would get another path and another query
//! than the recipe says. `recipe check` warns at each such expression whose value is not known
//! to be URL-safe, and a run refuses a request whose spliced value holds `?` or `#` before it is
//! sent.
//!
//! An expression is spliced into the path when it stands after a literal `/` and before the
//! template's first literal `?`. It is known to be URL-safe when its last filter is
//! `urlencode`, when it reads `env` (the operator's settings), `index`, `loop.index` or
//! `uuid()`, or when it reads an input that cannot hold `?` or `#`: an integer, number or
//! boolean, an `enum` of such values, or a `pattern` anchored with `^` and `$` that matches
//! neither character. `&` is a plain character in a path; it splits the query only after a `?`.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use regex_syntax::hir::{Class, Hir, HirKind, Look};

use crate::model::{Input, InputType};

/// One `{{ expression }}` of a URL template spliced into its path whose value is not known to be
/// URL-safe: its byte range in the template's text and the expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Splice {
    pub start: usize,
    pub len: usize,
    pub expression: String,
}

/// The expressions of a URL template's path that may put `?` or `#` into it.
pub(crate) fn unsafe_splices(url: &str, inputs: &[Input]) -> Vec<Splice> {
    let mut found = Vec::new();
    let mut at = 0;
    let mut after_slash = false;
    while at < url.len() {
        let rest = &url[at..];
        if rest.starts_with("{%") || rest.starts_with("{#") {
            // Blocks and comments are not analysed; their end is skipped.
            let close = if rest.starts_with("{%") { "%}" } else { "#}" };
            at += rest.find(close).map_or(rest.len(), |end| end + 2);
        } else if let Some(inner) = rest.strip_prefix("{{") {
            let Some(end) = inner.find("}}") else { break };
            let expression = inner[..end].trim_matches(|c: char| c.is_whitespace() || c == '-');
            if after_slash && !known_safe(expression, inputs) {
                found.push(Splice { start: at, len: end + 4, expression: expression.to_owned() });
            }
            at += end + 4;
        } else if rest.starts_with('?') {
            break;
        } else {
            after_slash |= rest.starts_with('/');
            at += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    found
}

/// A value spliced into a URL's path that would change the request, found before sending.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SpliceError {
    #[error("cannot render `{expression}` of the url: {reason}")]
    Render { expression: String, reason: String },
    /// `value` is masked.
    #[error(
        "`{expression}` puts `{found}` into the URL's path (`{value}`), which would {}: nothing was sent; encode it with `| urlencode`",
        if *found == '?' { "start the query" } else { "start a fragment, never sent" }
    )]
    Changes { expression: String, found: char, value: String },
}

/// Why a rendered value spliced into a URL's path would change the request: the character.
pub(crate) fn changes_the_url(value: &str) -> Option<char> {
    value.chars().find(|c| matches!(c, '?' | '#'))
}

fn known_safe(expression: &str, inputs: &[Input]) -> bool {
    let filters: Vec<&str> = expression.split('|').map(str::trim).collect();
    let last = filters.last().copied().unwrap_or_default();
    if filters.len() > 1 && (last == "urlencode" || last.starts_with("urlencode(")) {
        return true;
    }
    if filters.len() > 1 {
        return false;
    }
    if expression.starts_with("env.") || matches!(expression, "index" | "loop.index" | "loop.index0" | "uuid()") {
        return true;
    }
    let Some(name) = expression.strip_prefix("inputs.") else { return false };
    inputs.iter().find(|input| input.name.text == name).is_some_and(safe_input)
}

fn safe_input(input: &Input) -> bool {
    if matches!(input.kind, InputType::Integer | InputType::Number | InputType::Boolean) {
        return true;
    }
    if let Some(allowed) = &input.allowed {
        return allowed.iter().all(|value| value.as_str().is_none_or(|text| changes_the_url(text).is_none()));
    }
    input.pattern.as_deref().is_some_and(|pattern| {
        // Every request asks again: each pattern is analysed once per process.
        static ANSWERS: LazyLock<Mutex<HashMap<String, bool>>> = LazyLock::new(Mutex::default);
        let mut answers = ANSWERS.lock().unwrap_or_else(PoisonError::into_inner);
        *answers.entry(pattern.to_owned()).or_insert_with(|| pattern_excludes(pattern))
    })
}

/// Whether every string an input `pattern` accepts is free of `?` and `#`: the pattern is
/// anchored at both ends, and no literal or class in it holds either character.
fn pattern_excludes(pattern: &str) -> bool {
    let Ok(hir) = regex_syntax::parse(pattern) else { return false };
    let HirKind::Concat(parts) = hir.kind() else { return false };
    let anchored = |part: Option<&Hir>, looks: &[Look]| matches!(part.map(Hir::kind), Some(HirKind::Look(look)) if looks.contains(look));
    anchored(parts.first(), &[Look::Start]) && anchored(parts.last(), &[Look::End]) && excludes(&hir)
}

fn excludes(hir: &Hir) -> bool {
    let bad = |c: char| matches!(c, '?' | '#');
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => true,
        HirKind::Literal(literal) => !literal.0.iter().any(|byte| bad(char::from(*byte))),
        HirKind::Class(Class::Unicode(class)) => {
            !class.ranges().iter().any(|range| ['?', '#'].iter().any(|c| (range.start()..=range.end()).contains(c)))
        }
        HirKind::Class(Class::Bytes(class)) => {
            !class.ranges().iter().any(|range| [b'?', b'#'].iter().any(|c| (range.start()..=range.end()).contains(c)))
        }
        HirKind::Repetition(repetition) => excludes(&repetition.sub),
        HirKind::Capture(capture) => excludes(&capture.sub),
        HirKind::Concat(parts) | HirKind::Alternation(parts) => parts.iter().all(excludes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Span;
    use crate::model::Name;

    fn input(name: &str, kind: InputType, pattern: Option<&str>, allowed: Option<Vec<serde_json::Value>>) -> Input {
        Input {
            name: Name { text: name.to_owned(), span: Span::new(1, 1, 1) },
            kind,
            required: None,
            default: None,
            description: None,
            pattern: pattern.map(str::to_owned),
            allowed,
            format: None,
        }
    }

    fn flagged(url: &str) -> Vec<String> {
        let inputs = [
            input("id", InputType::String, None, None),
            input("count", InputType::Integer, None, None),
            input("vin", InputType::String, Some("^[A-HJ-NPR-Z0-9]{17}$"), None),
            input("loose", InputType::String, Some("[A-Z]+"), None),
            input("any", InputType::String, Some("^.+$"), None),
            input("kind", InputType::String, None, Some(vec![serde_json::json!("car"), serde_json::json!("van")])),
        ];
        unsafe_splices(url, &inputs).into_iter().map(|splice| splice.expression).collect()
    }

    #[test]
    fn values_in_the_path_that_may_hold_a_question_mark_are_found() {
        assert_eq!(flagged("/users/{{ inputs.id }}/orders"), ["inputs.id"]);
        assert_eq!(flagged("/users/{{ steps.a.body.id }}?q={{ inputs.id }}"), ["steps.a.body.id"], "the query part is not the path");
        assert_eq!(flagged("/users/{{ inputs.id | urlencode }}"), Vec::<String>::new());
        assert_eq!(flagged("/users/{{ inputs.id | urlencode | upper }}"), ["inputs.id | urlencode | upper"]);
        assert_eq!(flagged("/v/{{ inputs.vin }}/{{ inputs.count }}/{{ inputs.kind }}/{{ env.REGION }}"), Vec::<String>::new());
        assert_eq!(flagged("/v/{{ inputs.loose }}/{{ inputs.any }}"), ["inputs.loose", "inputs.any"], "unanchored or `.` allow `?`");
        assert_eq!(flagged("{{ steps.page.body.next }}"), Vec::<String>::new(), "a whole URL from a response is not spliced");
        assert_eq!(flagged("{{ env.BASE }}/users/{{inputs.id}}"), ["inputs.id"]);
        let splice = &unsafe_splices("/users/{{ inputs.id }}", &[])[0];
        assert_eq!((splice.start, splice.len), (7, 15));
    }

    #[test]
    fn a_rendered_question_mark_or_hash_changes_the_url() {
        assert_eq!(changes_the_url("42?admin=1"), Some('?'));
        assert_eq!(changes_the_url("a#b"), Some('#'));
        assert_eq!(changes_the_url("a&b"), None);
    }
}
