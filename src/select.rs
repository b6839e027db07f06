//! Selection: the pure logic of `filter` and `pick` steps.
//!
//! Given the rendered `from` value, this module finds the candidate items, tests each against
//! the `match` conditions (values compared as data, never spliced into a `JSONPath`) and the
//! `where` template, then applies a filter's cardinality or a pick's strategy. When the data
//! disagrees with the recipe, the error lists every candidate and what ruled it out.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::Write as _;

use minijinja::Value as Context;
use serde_json::Value as Json;

use crate::mask::Masker;
use crate::model::{Cardinality, Filter, Matcher, Pick, Selection, Strategy};
use crate::template::Engine;

/// What a selection step produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    /// The chosen item (`one`, `first`, `optional` and every pick).
    pub item: Option<Json>,
    /// Every kept item.
    pub items: Vec<Json>,
}

/// One candidate, borrowed from `from` where it can be, and whether it met every condition.
/// Why a candidate was ruled out is only worked out when a message needs it.
struct Candidate<'a> {
    value: Cow<'a, Json>,
    kept: bool,
}

/// The candidates of a selection and the rendered `equals` values they were compared with.
struct Candidates<'a> {
    list: Vec<Candidate<'a>>,
    expected: Vec<Option<Json>>,
}

impl Candidates<'_> {
    fn kept(&self) -> Vec<Json> {
        self.list.iter().filter(|c| c.kept).map(|c| c.value.clone().into_owned()).collect()
    }
}

/// Why a `filter` or `pick` step selected nothing usable. The unmet cardinality carries the
/// list of candidates with why each was ruled out (already masked).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectError {
    /// `wanted` items were expected and `found` kept; `candidates` lists what was there.
    #[error("expected {wanted}, found {found}{candidates}")]
    Cardinality { wanted: &'static str, found: String, candidates: String },
    #[error("nothing to pick{candidates}")]
    NothingToPick { candidates: String },
    /// A template of the selection (`match`, `where`, `by`) failed: which, and why.
    #[error("{what}: {error}")]
    Render { what: String, error: String },
    #[error("`where` must render to true or false, got {0}")]
    WhereNotBoolean(String),
    #[error("this strategy needs `by`")]
    NoBy,
    #[error("cannot order the keys {0} and {1}")]
    Unordered(String, String),
    #[error("`entries` needs a map, found {0}")]
    EntriesNotAMap(&'static str),
    #[error("`entries` needs one map, but the items path selected {0} nodes")]
    EntriesNodes(usize),
    #[error("`from` is {0}, not a list; give `items` (a JSONPath) or `entries: true`")]
    NotAList(&'static str),
    /// The recorded random seed of a replay is unusable.
    #[error(transparent)]
    Seed(#[from] crate::dynamic::ReplayError),
}

/// Runs a filter step on its rendered `from` value; `masker` hides secrets in the values its
/// messages quote, before they are cut short.
pub fn filter(engine: &Engine, masker: &Masker, filter: &Filter, from: &Json, context: &Context) -> Result<Selected, SelectError> {
    let candidates = candidates(engine, &filter.selection, from, context)?;
    let kept = candidates.kept();
    let ok = match filter.expect {
        Cardinality::One => kept.len() == 1,
        Cardinality::First | Cardinality::AtLeastOne => !kept.is_empty(),
        Cardinality::Optional => kept.len() <= 1,
        Cardinality::All => true,
    };
    if !ok {
        let wanted = match filter.expect {
            Cardinality::One => "exactly one item",
            Cardinality::Optional => "at most one item",
            _ => "at least one item",
        };
        let found = match kept.len() {
            0 => "none".to_owned(),
            n => n.to_string(),
        };
        let candidates = list_candidates(engine, masker, &filter.selection, filter.describe.as_ref(), &candidates, context);
        return Err(SelectError::Cardinality { wanted, found, candidates });
    }
    let item = match filter.expect {
        Cardinality::One | Cardinality::First | Cardinality::Optional => Some(kept.first().cloned().unwrap_or(Json::Null)),
        Cardinality::All | Cardinality::AtLeastOne => None,
    };
    Ok(Selected { item, items: kept })
}

/// Runs a pick step on its rendered `from` value.
pub fn pick(
    engine: &Engine,
    masker: &Masker,
    pick: &Pick,
    from: &Json,
    prefer: Option<&Json>,
    context: &Context,
) -> Result<Selected, SelectError> {
    let candidates = candidates(engine, &pick.selection, from, context)?;
    let kept = candidates.kept();
    if kept.is_empty() {
        let candidates = list_candidates(engine, masker, &pick.selection, pick.describe.as_ref(), &candidates, context);
        return Err(SelectError::NothingToPick { candidates });
    }
    let index = match pick.strategy {
        Strategy::First => 0,
        Strategy::Last => kept.len() - 1,
        Strategy::Random => {
            let seed = match pick.seed {
                Some(seed) => seed,
                None => crate::dynamic::random_seed(context)?,
            };
            usize::try_from(splitmix64(seed) % kept.len() as u64).unwrap_or(0)
        }
        Strategy::MinBy | Strategy::MaxBy | Strategy::Prefer => {
            let by = pick.by.as_ref().ok_or(SelectError::NoBy)?;
            let keys = kept
                .iter()
                .map(|item| {
                    engine
                        .render(by, &with_item(context, item))
                        .map_err(|e| SelectError::Render { what: "`by`".into(), error: e.to_string() })
                })
                .collect::<Result<Vec<_>, _>>()?;
            match pick.strategy {
                Strategy::Prefer => keys.iter().position(|key| Some(key) == prefer).unwrap_or(0),
                strategy => extreme(&keys, strategy == Strategy::MaxBy)?,
            }
        }
    };
    Ok(Selected { item: Some(kept[index].clone()), items: kept })
}

/// The index of the smallest (or largest) key; the first one wins ties.
fn extreme(keys: &[Json], largest: bool) -> Result<usize, SelectError> {
    let mut best = 0;
    for (index, key) in keys.iter().enumerate().skip(1) {
        let ordering = compare_keys(key, &keys[best]).ok_or_else(|| SelectError::Unordered(keys[best].to_string(), key.to_string()))?;
        if (largest && ordering == Ordering::Greater) || (!largest && ordering == Ordering::Less) {
            best = index;
        }
    }
    Ok(best)
}

fn compare_keys(a: &Json, b: &Json) -> Option<Ordering> {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Json::String(x), Json::String(y)) => Some(x.cmp(y)),
        (Json::Bool(x), Json::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// A well-mixed number from a seed, so `random` is repeatable.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn with_item(context: &Context, item: &Json) -> Context {
    minijinja::context! { item => Context::from(minijinja::value::Serde(item)), ..context.clone() }
}

/// The list the selection reads, before conditions: borrowed from `from`, except `entries`.
fn items<'a>(selection: &Selection, from: &'a Json) -> Result<Vec<Cow<'a, Json>>, SelectError> {
    let borrowed = |list: &'a [Json]| list.iter().map(Cow::Borrowed).collect();
    let nodes: Vec<&'a Json> = match &selection.items {
        Some(path) => {
            let nodes = path.select(from);
            match nodes.as_slice() {
                // A definite path naming a list (`$.advisors`) means its elements.
                [Json::Array(list)] if path.is_definite() && !selection.entries => return Ok(borrowed(list)),
                _ => nodes,
            }
        }
        None => vec![from],
    };
    if selection.entries {
        return match nodes.as_slice() {
            [Json::Object(map)] => {
                Ok(map.iter().map(|(key, value)| Cow::Owned(serde_json::json!({ "key": key, "value": value }))).collect())
            }
            [other] => Err(SelectError::EntriesNotAMap(kind(other))),
            _ => Err(SelectError::EntriesNodes(nodes.len())),
        };
    }
    match (selection.items.is_some(), nodes.as_slice()) {
        (true, _) => Ok(nodes.into_iter().map(Cow::Borrowed).collect()),
        (false, [Json::Array(list)]) => Ok(borrowed(list)),
        (false, [other]) => Err(SelectError::NotAList(kind(other))),
        (false, _) => Ok(nodes.into_iter().map(Cow::Borrowed).collect()),
    }
}

pub(crate) fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a map",
    }
}

fn candidates<'a>(engine: &Engine, selection: &Selection, from: &'a Json, context: &Context) -> Result<Candidates<'a>, SelectError> {
    let expected: Vec<Option<Json>> = selection
        .matches
        .iter()
        .map(|condition| {
            condition
                .matcher
                .equals
                .as_ref()
                .map(|equals| {
                    engine
                        .render_tree(equals, context)
                        .map_err(|e| SelectError::Render { what: format!("`match` `{}`", condition.path.text), error: e.to_string() })
                })
                .transpose()
        })
        .collect::<Result<_, _>>()?;
    let mut list = Vec::new();
    for value in items(selection, from)? {
        let mut kept = selection.matches.iter().zip(&expected).all(|(condition, expected)| {
            condition.path.select(&value).iter().any(|node| matches(&condition.matcher, node, expected.as_ref()))
        });
        if kept && let Some(where_) = &selection.where_ {
            kept = where_holds(engine, where_, context, &value)?;
        }
        list.push(Candidate { value, kept });
    }
    Ok(Candidates { list, expected })
}

fn where_holds(engine: &Engine, where_: &crate::model::TemplateString, context: &Context, item: &Json) -> Result<bool, SelectError> {
    match engine.render(where_, &with_item(context, item)) {
        Ok(Json::Bool(holds)) => Ok(holds),
        Ok(other) => Err(SelectError::WhereNotBoolean(other.to_string())),
        Err(error) => Err(SelectError::Render { what: "`where`".into(), error: error.to_string() }),
    }
}

/// Why a candidate was ruled out, condition by condition.
fn failures(
    engine: &Engine,
    masker: &Masker,
    selection: &Selection,
    expected: &[Option<Json>],
    item: &Json,
    context: &Context,
) -> Vec<String> {
    let mut failures = Vec::new();
    for (condition, expected) in selection.matches.iter().zip(expected) {
        let nodes = condition.path.select(item);
        if !nodes.iter().any(|node| matches(&condition.matcher, node, expected.as_ref())) {
            failures.push(explain(masker, &condition.path, item, &nodes, &condition.matcher, expected.as_ref()));
        }
    }
    if let Some(where_) = &selection.where_ {
        match where_holds(engine, where_, context, item) {
            Ok(true) => {}
            Ok(false) => failures.push(format!("`where` is false: {}", where_.text)),
            Err(error) => failures.push(error.to_string()),
        }
    }
    failures
}

fn normalise<'a>(matcher: &Matcher, text: &'a str) -> Cow<'a, str> {
    let text = if matcher.trim { text.trim() } else { text };
    if matcher.ignore_case { Cow::Owned(text.to_lowercase()) } else { Cow::Borrowed(text) }
}

/// Whether one node satisfies a condition.
pub(crate) fn matches(matcher: &Matcher, node: &Json, expected: Option<&Json>) -> bool {
    if let Json::String(text) = node {
        return matches_text(matcher, text, expected);
    }
    // Only a string can match a pattern.
    if matcher.regex.is_some() {
        return false;
    }
    match (expected, node) {
        (None, _) => true,
        (Some(Json::Number(want)), Json::Number(have)) => want.as_f64() == have.as_f64(),
        (Some(want), have) => want == have,
    }
}

/// Whether a string node with this text satisfies a condition (as [`matches`], without the node).
pub(crate) fn matches_text(matcher: &Matcher, text: &str, expected: Option<&Json>) -> bool {
    if let Some(regex) = &matcher.regex {
        // The regex itself ignores case when asked; only trimming applies to the text.
        let trimmed = if matcher.trim { text.trim() } else { text };
        if !regex.is_match(trimmed) {
            return false;
        }
    }
    match expected {
        None => true,
        Some(Json::String(want)) => normalise(matcher, want) == normalise(matcher, text),
        Some(_) => false,
    }
}

fn explain(
    masker: &Masker,
    path: &crate::jsonpath::Path,
    item: &Json,
    nodes: &[&Json],
    matcher: &Matcher,
    expected: Option<&Json>,
) -> String {
    let (path, why) = (path.text.as_str(), path.why_nothing(item));
    let wanted = match (expected, &matcher.pattern) {
        (Some(value), Some(pattern)) => format!("{value} matching `{pattern}`"),
        (Some(value), None) => value.to_string(),
        (None, Some(pattern)) => format!("a string matching `{pattern}`"),
        (None, None) => "a value".to_owned(),
    };
    let options = match (matcher.ignore_case, matcher.trim) {
        (true, true) => " (ignoring case and surrounding spaces)",
        (true, false) => " (ignoring case)",
        (false, true) => " (ignoring surrounding spaces)",
        (false, false) => "",
    };
    match nodes {
        [] => match why {
            Some(why) => format!("`{path}` selected nothing: {}", masker.text(&why)),
            None => format!("`{path}` selected nothing"),
        },
        [node] => format!("`{path}` is {}, expected {wanted}{options}", short(masker, node)),
        many => {
            let shown: Vec<String> = many.iter().take(5).map(|n| short(masker, n)).collect();
            let more = if many.len() > 5 { ", ..." } else { "" };
            format!("no node of `{path}` ({}{more}) equals {wanted}{options}", shown.join(", "))
        }
    }
}

/// A value for a message, masked, then cut to a readable length: cut first, a secret straddling
/// the cut would no longer be recognised, and its first part would show.
pub(crate) fn short(masker: &Masker, value: &Json) -> String {
    let text = masker.text(&value.to_string());
    if text.chars().count() > 80 { format!("{}...", text.chars().take(77).collect::<String>()) } else { text }
}

fn list_candidates(
    engine: &Engine,
    masker: &Masker,
    selection: &Selection,
    describe: Option<&crate::model::TemplateString>,
    candidates: &Candidates,
    context: &Context,
) -> String {
    let expected = &candidates.expected;
    let candidates = &candidates.list;
    if candidates.is_empty() {
        return "; there were no candidates at all".to_owned();
    }
    let mut out = format!(" among {} candidate{}:", candidates.len(), if candidates.len() == 1 { "" } else { "s" });
    for candidate in candidates.iter().take(20) {
        let label = describe
            .and_then(|template| engine.render_text(template, &with_item(context, &candidate.value)).ok())
            .unwrap_or_else(|| short(masker, &candidate.value));
        if candidate.kept {
            let _ = write!(out, "\n  - {label}: matches");
        } else {
            let _ = write!(out, "\n  - {label}: {}", failures(engine, masker, selection, expected, &candidate.value, context).join("; "));
        }
    }
    if candidates.len() > 20 {
        let _ = write!(out, "\n  ... and {} more", candidates.len() - 20);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn step(yaml: &str) -> crate::model::Action {
        let text = format!("recipe: 1\nname: t\nsteps:\n  - id: s\n{yaml}");
        let plan = crate::check::load_str("t.yaml", &text).unwrap_or_else(|report| panic!("{report}"));
        plan.recipe().steps[0].action.clone()
    }

    fn run_filter(yaml: &str, from: &Json) -> Result<Selected, SelectError> {
        let crate::model::Action::Filter(filter) = step(yaml) else { panic!("not a filter") };
        filter_value(&filter, from)
    }

    fn filter_value(filter: &Filter, from: &Json) -> Result<Selected, SelectError> {
        super::filter(&Engine::new(), &Masker::default(), filter, from, &crate::template::context(&json!({})))
    }

    fn run_pick(yaml: &str, from: &Json, prefer: Option<&Json>) -> Result<Selected, SelectError> {
        let crate::model::Action::Pick(pick) = step(yaml) else { panic!("not a pick") };
        super::pick(&Engine::new(), &Masker::default(), &pick, from, prefer, &crate::template::context(&json!({})))
    }

    #[test]
    fn a_value_cut_short_is_masked_first() {
        let secret = "sk_live_0123456789abcdefghij";
        let masker = Masker::new(&[("API_KEY".to_owned(), secret.to_owned())]);
        // The secret straddles the cut at 77 characters: cut first, its first part would show.
        let value = json!({ "padding": "x".repeat(40), "key": secret, "more": "y".repeat(40) });
        let shown = short(&masker, &value);
        assert!(shown.ends_with("...") && shown.chars().count() == 80, "{shown}");
        assert!(shown.contains("<API_KEY>") && !shown.contains("sk_live"), "{shown}");
        let unmasked = short(&Masker::default(), &value);
        assert!(unmasked.contains("sk_live_0123") && !unmasked.contains(secret), "the cut falls inside the secret: {unmasked}");
    }

    #[test]
    fn cardinalities() {
        let people = json!([{"name": "Ann"}, {"name": "Bob"}, {"name": "ann "}]);
        let matching = "    filter:\n      from: x\n      match:\n        $.name: { equals: ann, ignore_case: true, trim: true }\n";
        let one = run_filter(&format!("{matching}      expect: one\n"), &people).unwrap_err().to_string();
        assert!(one.starts_with("expected exactly one item, found 2 among 3 candidates:"), "{one}");
        assert!(one.contains(r#"`$.name` is "Bob", expected "ann""#), "{one}");
        let first = run_filter(&format!("{matching}      expect: first\n"), &people).unwrap();
        assert_eq!(first.item, Some(json!({"name": "Ann"})));
        let all = run_filter(&format!("{matching}      expect: all\n"), &people).unwrap();
        assert_eq!(all.items.len(), 2);
        assert_eq!(all.item, None);
        let optional = run_filter("    filter:\n      from: x\n      match: { $.name: Zed }\n      expect: optional\n", &people).unwrap();
        assert_eq!(optional.item, Some(Json::Null));
        assert!(run_filter("    filter:\n      from: x\n      match: { $.name: Zed }\n      expect: at_least_one\n", &people).is_err());
    }

    #[test]
    fn values_are_data_not_jsonpath() {
        let people = json!([{"name": "O'Brien"}, {"name": "x' || true"}]);
        let found = run_filter("    filter:\n      from: x\n      match: { $.name: \"O'Brien\" }\n", &people).unwrap();
        assert_eq!(found.item, Some(json!({"name": "O'Brien"})));
    }

    #[test]
    fn any_node_of_a_multi_node_path_may_match() {
        let customers = json!([{"vins": [{"v": "A"}, {"v": "B"}]}, {"vins": [{"v": "C"}]}]);
        let found = run_filter("    filter:\n      from: x\n      match: { '$.vins[*].v': B }\n", &customers).unwrap();
        assert_eq!(found.item, Some(customers[0].clone()));
    }

    #[test]
    fn pick_strategies() {
        let slots = json!([{"t": "10:00"}, {"t": "09:30"}, {"t": "11:00"}]);
        let min = run_pick("    pick: { from: x, strategy: min_by, by: '{{ item.t }}' }\n", &slots, None).unwrap();
        assert_eq!(min.item, Some(json!({"t": "09:30"})));
        let max = run_pick("    pick: { from: x, strategy: max_by, by: '{{ item.t }}' }\n", &slots, None).unwrap();
        assert_eq!(max.item, Some(json!({"t": "11:00"})));
        let last = run_pick("    pick: { from: x, strategy: last }\n", &slots, None).unwrap();
        assert_eq!(last.item, Some(json!({"t": "11:00"})));
        let prefer = "    pick: { from: x, strategy: prefer, by: '{{ item.t }}', prefer: 'x' }\n";
        assert_eq!(run_pick(prefer, &slots, Some(&json!("11:00"))).unwrap().item, Some(json!({"t": "11:00"})));
        assert_eq!(run_pick(prefer, &slots, Some(&json!("none"))).unwrap().item, Some(json!({"t": "10:00"})), "falls back to the first");
        let random = "    pick: { from: x, strategy: random, seed: 7 }\n";
        assert_eq!(run_pick(random, &slots, None).unwrap().item, run_pick(random, &slots, None).unwrap().item, "seeded, so repeatable");
        assert!(matches!(run_pick("    pick: { from: x }\n", &json!([]), None).unwrap_err(), SelectError::NothingToPick { .. }));
    }

    #[test]
    fn entries_turn_a_map_into_key_value_items() {
        let map = json!({"slots": {"b": 2, "a": 1}});
        let picked =
            run_pick("    pick: { from: x, items: $.slots, entries: true, strategy: min_by, by: '{{ item.key }}' }\n", &map, None).unwrap();
        assert_eq!(picked.item, Some(json!({"key": "a", "value": 1})));
    }
}
