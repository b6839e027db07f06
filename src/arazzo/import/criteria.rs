//! An imported step's success criteria: `$statusCode == N` (joined by `||`) is `expect.status`,
//! and a `JSONPath` count check of the response body (as `recipe export arazzo` writes for a
//! `filter` or `pick`, and the Arazzo specification's examples do: `$[?count(@.pets) > 0]`)
//! is a `filter` step after the request, whose `expect` says the count; an equality of the
//! body (`$[?@.name == 'x']`, or the Goessner draft's `$.name == 'x'`) is an `assert`; a regex
//! `^200$` on `$statusCode` a status. Anything else is a warning at its place.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value as Json, json};

use super::{Builder, STATUS};
use crate::emit::{Entry, Node};

/// Name and index segments of an RFC 9535 singular query: `.a`, `['a']`, `[0]`.
const SEGMENTS: &str = r"(?:\.[A-Za-z_][A-Za-z0-9_]*|\['(?:[^'\\]|\\.)*'\]|\[[0-9]+\])*";
/// A literal: a single-quoted string, a number, `true` or `false`.
const LITERAL: &str = r"'(?:[^'\\]|\\.)*'|-?[0-9]+(?:\.[0-9]+)?|true|false";

/// `$[?count(@LIST[*]) OP N]` or `$[?count(@LIST[?CONDITIONS]) OP N]`.
static COUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"^\$\[\?\s*count\(@({SEGMENTS})\[(\*|\?(.+))\]\)\s*(==|>=|<=|>|<)\s*([0-9]+)\s*\]$")).expect("a valid regex")
});
/// An equality of the body: `$[?@PATH == LITERAL]` (RFC 9535 on the body, as Respect reads it)
/// or `$.PATH == LITERAL` (the Goessner draft's form of the specification's examples).
static ASSERTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"^(?:\$\[\?\s*@({SEGMENTS})\s*==\s*({LITERAL})\s*\]|\$({SEGMENTS})\s*==\s*({LITERAL}))$")).expect("a valid regex")
});
/// A regular expression on the status: `^200$`.
static STATUS_PATTERN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\^?([1-5][0-9][0-9])\$?$").expect("a valid regex"));
/// One condition: `@PATH == LITERAL`.
static EQUALS: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!(r"^@({SEGMENTS})\s*==\s*({LITERAL})$")).expect("a valid regex"));

/// What a step's criteria become.
pub(super) struct Criteria {
    /// `expect.status`, when the criteria name statuses.
    pub statuses: Option<Vec<u16>>,
    /// `filter` steps that run after the request.
    pub checks: Vec<Node>,
    /// The step's `assert` list: equalities of the body.
    pub assertions: Vec<Node>,
}

impl Builder<'_> {
    /// The criteria of `step` (the recipe step `id`).
    pub(super) fn criteria(&mut self, step: &Json, id: &str, place: &str) -> Criteria {
        let mut statuses = Vec::new();
        let mut checks = Vec::new();
        let mut assertions = Vec::new();
        for (index, criterion) in step["successCriteria"].as_array().into_iter().flatten().enumerate() {
            let here = format!("{place}/successCriteria/{index}");
            let condition = criterion["condition"].as_str().unwrap_or_default().trim();
            let kind = criterion["type"].as_str().or(criterion["type"]["type"].as_str()).unwrap_or("simple");
            if kind == "jsonpath" && criterion["context"] == "$response.body" {
                if let Some(assertion) = assertion(condition) {
                    assertions.push(assertion);
                } else if let Some(check) = count_check(condition, id, checks.len() + 1) {
                    checks.push(check);
                } else {
                    let known = "a count check (`$[?count(@.list[?@.a == 'x']) >= 1]`) becomes a `filter` step, an equality (`$[?@.a == 'x']`, `$.a == 'x'`) an `assert`";
                    self.warn(&here, format!("the JSONPath criterion `{condition}` has no recipe form; only {known} (left out)"));
                }
                continue;
            }
            if kind == "regex"
                && criterion["context"] == "$statusCode"
                && let Some(status) = STATUS_PATTERN.captures(condition).and_then(|c| c[1].parse().ok())
            {
                statuses.push(status);
                continue;
            }
            let simple = kind == "simple" && criterion.get("context").is_none();
            if simple && matches!(condition, "$statusCode >= 200" | "$statusCode < 300") {
                continue;
            }
            let parsed: Option<Vec<u16>> = simple
                .then(|| condition.split("||").map(|part| STATUS.captures(part.trim()).and_then(|c| c[1].parse().ok())).collect())
                .flatten();
            match parsed {
                Some(codes) => statuses.extend(codes),
                None => self.warn(
                    &here,
                    format!("the criterion `{condition}` has no recipe form; only `$statusCode == N` becomes `expect.status` (left out)"),
                ),
            }
        }
        Criteria { statuses: (!statuses.is_empty()).then_some(statuses), checks, assertions }
    }
}

/// A count check as a `filter` step named `ID_check_N`.
fn count_check(condition: &str, id: &str, number: usize) -> Option<Node> {
    let captures = COUNT.captures(condition)?;
    let (list, selector, comparison, count) = (&captures[1], &captures[2], &captures[4], captures[5].parse::<u64>().ok()?);
    let expect = match (comparison, count) {
        ("==", 1) => "one",
        (">=", 1) | (">", 0) => "at_least_one",
        ("<=", 1) | ("<", 2) => "optional",
        _ => return None,
    };
    let mut matches = Vec::new();
    if let Some(conditions) = captures.get(3) {
        for part in conditions.as_str().split("&&") {
            let equals = EQUALS.captures(part.trim())?;
            matches.push(Entry::new(format!("${}", &equals[1]), Node::Scalar(literal(&equals[2])?)));
        }
    }
    debug_assert!(selector == "*" || !matches.is_empty());
    let mut filter =
        vec![Entry::new("from", Node::text(format!("{{{{ steps.{id}.body }}}}"))), Entry::new("items", Node::text(format!("${list}[*]")))];
    if !matches.is_empty() {
        filter.push(Entry::new("match", Node::Map(matches)));
    }
    filter.push(Entry::new("expect", Node::text(expect)));
    Some(Node::Map(vec![
        Entry::new("id", Node::text(format!("{id}_check_{number}"))),
        Entry::new("description", Node::text(format!("A count check of step `{id}`'s response (an Arazzo JSONPath criterion)."))),
        Entry::new("filter", Node::Map(filter)),
    ]))
}

/// An equality of the body as an `assert` entry: `{ path, equals }`.
fn assertion(condition: &str) -> Option<Node> {
    let captures = ASSERTION.captures(condition)?;
    let (path, value) = match (captures.get(1), captures.get(2)) {
        (Some(path), Some(value)) => (path.as_str(), value.as_str()),
        _ => (captures.get(3)?.as_str(), captures.get(4)?.as_str()),
    };
    Some(Node::Map(vec![Entry::new("path", Node::text(format!("${path}"))), Entry::new("equals", Node::Scalar(literal(value)?))]))
}

/// An RFC 9535 literal as JSON.
fn literal(text: &str) -> Option<Json> {
    if let Some(inner) = text.strip_prefix('\'').and_then(|rest| rest.strip_suffix('\'')) {
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            out.push(if c == '\\' { chars.next()? } else { c });
        }
        return Some(json!(out));
    }
    serde_json::from_str(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_checks_become_filters() {
        let check = count_check("$[?count(@['orders'][?@['status'] == 'open' && @.n == 2]) >= 1]", "orders", 1).expect("a check");
        let text = crate::emit::document(&[], &[Entry::new("step", check)]);
        assert!(text.contains("from: \"{{ steps.orders.body }}\""), "{text}");
        assert!(text.contains("items: $['orders'][*]"), "{text}");
        assert!(text.contains("\"$['status']\": open") && text.contains("$.n: 2"), "{text}");
        assert!(text.contains("expect: at_least_one"), "{text}");
        assert!(count_check("$[?count(@.pets) > 0]", "s", 1).is_none(), "a count of the list itself, not of its items");
        assert!(count_check("$[?count(@.pets[*]) == 3]", "s", 1).is_none());
        assert_eq!(literal("'it\\'s'"), Some(json!("it's")));
        for condition in ["$[?@['name'] == 'Orca']", "$.name == 'Orca'"] {
            let text = crate::emit::document(&[], &[Entry::new("assert", assertion(condition).expect(condition))]);
            assert!(text.contains("equals: Orca"), "{text}");
        }
        assert!(assertion("$.name != 'Orca'").is_none());
    }
}
