//! Filtering while parsing: which elements of an array in a response body a batch row builds.
//!
//! A `filter` or `pick` can be the only reader of an array's elements (`src/reads.rs` decides,
//! and gives its [`SieveSpec`]). When its `match` conditions compare with values that cannot
//! change between the request and the selection (literals, `inputs`, `env`, or `vars` that no
//! step in between binds), a batch row renders them before the request ([`SieveSpec::render`]),
//! and the parse builds only the elements that meet every condition (`json::parse_sieved`); the
//! others become `null`, which no condition matches. The selection then keeps exactly the
//! elements it would have kept from the whole body. When the number kept is one the selection
//! would refuse (none for a `filter` that expects one), the body is parsed again without the
//! sieve, so that the selection's error lists every candidate and why it was ruled out.

use std::sync::Arc;

use minijinja::Value as Context;
use serde_json::Value as Json;

use crate::json::{Flat, ItemSieve};
use crate::model::Matcher;
use crate::projection::{Projection, Segment};
use crate::template::Engine;

/// What the check knows of a sieve: where the array is, the selection's conditions, and how
/// many elements the selection accepts.
#[derive(Debug)]
pub(crate) struct SieveSpec {
    at: Vec<Segment>,
    conditions: Vec<(Vec<Segment>, Matcher)>,
    accepted: (usize, usize),
}

impl SieveSpec {
    /// `at`: names and indexes to the array; `conditions`: each `match` path (names, indexes
    /// and wildcards, relative to an element) and its matcher; `accepted`: the least and most
    /// elements the selection keeps without failing.
    pub(crate) fn new(at: Vec<Segment>, conditions: Vec<(Vec<Segment>, Matcher)>, accepted: (usize, usize)) -> Self {
        Self { at, conditions, accepted }
    }

    /// Names and indexes to the array, from the body's root.
    pub(crate) fn at(&self) -> &[Segment] {
        &self.at
    }

    /// The sieve for a body parsed into `projection`, with its expected values rendered in
    /// `context`; `None` when one does not render (the selection then reports it, on the whole
    /// body).
    pub(crate) fn render(self: &Arc<Self>, projection: &Arc<Projection>, engine: &Engine, context: &Context) -> Option<Sieve> {
        let expected = self
            .conditions
            .iter()
            .map(|(_, matcher)| match &matcher.equals {
                None => Some(None),
                Some(equals) => engine.render_tree(equals, context).ok().map(Some),
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Sieve { spec: Arc::clone(self), projection: Arc::clone(projection), expected })
    }
}

/// A sieve for one response: the projection, and the conditions with their expected values.
#[derive(Debug)]
pub(crate) struct Sieve {
    spec: Arc<SieveSpec>,
    projection: Arc<Projection>,
    expected: Vec<Option<Json>>,
}

impl Sieve {
    /// Parses a body into the projection, building only the elements the selection keeps; the
    /// whole projection when the selection would fail on what is kept.
    ///
    /// # Errors
    /// The `serde_json` error for text that is not one JSON value.
    pub(crate) fn parse(&self, bytes: &[u8]) -> Result<Json, serde_json::Error> {
        let (value, kept) = crate::json::parse_sieved(bytes, &self.projection, self)?;
        let (least, most) = self.spec.accepted;
        match kept {
            Some(kept) if kept < least || kept > most => crate::json::parse_projected(bytes, &self.projection),
            _ => Ok(value),
        }
    }
}

impl ItemSieve for Sieve {
    fn at(&self) -> &[Segment] {
        self.spec.at()
    }

    fn keeps(&self, item: Flat<'_, '_>) -> bool {
        self.spec.conditions.iter().zip(&self.expected).all(|((path, matcher), expected)| {
            item.any(path, &mut |node| match node.as_str() {
                Some(text) => crate::select::matches_text(matcher, text, expected.as_ref()),
                None => crate::select::matches(matcher, &node.to_json(), expected.as_ref()),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::check::Plan;
    use crate::mask::Masker;
    use crate::model::Action;
    use crate::reads::Read;

    /// A recipe whose step `s` filters `$.list[*]` of step `r`'s body with `conditions` (YAML
    /// flow mappings by path) and `expect`, reading each kept item's `k`.
    fn plan(conditions: &str, expect: &str) -> Plan {
        let text = format!(
            "recipe: 1\nname: t\nsteps:\n- {{ id: r, request: {{ method: GET, url: 'http://127.0.0.1:9/r' }} }}\n\
             - {{ id: s, filter: {{ from: '{{{{ steps.r.body }}}}', items: '$.list[*]', match: {{ {conditions} }}, expect: {expect} }}, bind: {{ k: $.k }} }}\n"
        );
        crate::check::load_str("t.yaml", &text).unwrap_or_else(|report| panic!("{text}\n{report:?}"))
    }

    /// The sieve of `plan`'s step `r`, rendered without inputs.
    fn sieve(plan: &Plan) -> Sieve {
        match plan.reads.read("r", &plan.engine, &minijinja::Value::from(())) {
            Some(Read::Sieved(sieve)) => Arc::into_inner(sieve).expect("not shared"),
            other => panic!("no sieve: {other:?}"),
        }
    }

    /// What the filter of `plan` gives on `text` parsed into the projection, with or without the
    /// sieve: the outcome as text, so that errors compare too.
    fn filtered(plan: &Plan, text: &str, sieved: bool) -> String {
        let projection = plan.reads.of("r").expect("a projection");
        let from = if sieved { sieve(plan).parse(text.as_bytes()) } else { crate::json::parse_projected(text.as_bytes(), projection) };
        let Ok(from) = from else { return "not JSON".to_owned() };
        let Action::Filter(filter) = &plan.recipe().steps[1].action else { unreachable!("a filter") };
        format!("{:?}", crate::select::filter(&plan.engine, &Masker::default(), filter, &from, &minijinja::Value::from(())))
    }

    #[test]
    fn only_the_kept_elements_are_built_and_a_refused_count_parses_them_all() {
        let plan = plan("'$.a': X, '$.b[0].c': { equals: 2 }", "one");
        let text = r#"{"list": [{"a": "X", "b": [{"c": 2.0}], "k": 1, "z": 9}, {"a": "Y", "b": [{"c": 2}], "k": 2}, {"a": "X", "b": [], "k": 3}], "n": 1}"#;
        let sieve = sieve(&plan);
        assert_eq!(sieve.parse(text.as_bytes()).unwrap(), json!({"list": [{"a": "X", "b": [{"c": 2.0}], "k": 1}, null, null]}));
        // Two kept where the filter wants one: every candidate is built, for the error.
        let two = text.replace(r#""a": "Y""#, r#""a": "X""#);
        assert_eq!(
            sieve.parse(two.as_bytes()).unwrap(),
            json!({"list": [{"a": "X", "b": [{"c": 2.0}], "k": 1}, {"a": "X", "b": [{"c": 2}], "k": 2}, {"a": "X", "b": [], "k": 3}]})
        );
        assert!(filtered(&plan, &two, true).contains(r#"found: "2""#), "{}", filtered(&plan, &two, true));
        assert_eq!(filtered(&plan, &two, true), filtered(&plan, &two, false));
    }

    #[test]
    fn a_repeated_key_is_tested_with_its_last_value_as_the_filter_sees_it() {
        let plan = plan("'$.a': X", "all");
        let text = r#"{"list": [{"a": "Y", "a": "X", "k": 1}, {"a": "X", "a": "Y", "k": 2}]}"#;
        let sieve = sieve(&plan);
        assert_eq!(sieve.parse(text.as_bytes()).unwrap(), json!({"list": [{"a": "X", "k": 1}, null]}));
    }

    #[test]
    fn a_wildcard_condition_keeps_an_element_when_any_node_matches() {
        let plan = plan("'$.cars[*].vin': { equals: ab1, ignore_case: true }", "one");
        let text =
            r#"{"list": [{"cars": [{"vin": "X"}, {"vin": "AB1"}], "k": 1}, {"cars": {"a": {"vin": "ab1"}, "a": {"vin": "Z"}}, "k": 2}]}"#;
        let sieve = sieve(&plan);
        // The second element's first `a` is replaced by its second, as in the built value.
        assert_eq!(sieve.parse(text.as_bytes()).unwrap(), json!({"list": [{"cars": [{"vin": "X"}, {"vin": "AB1"}], "k": 1}, null]}));
    }

    /// An element as JSON text: keys from a small set (repeated keys too), values that the
    /// conditions may or may not match.
    fn element() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("2".to_owned()),
            Just("2.0".to_owned()),
            Just("-0".to_owned()),
            Just(r#""X""#.to_owned()),
            Just(r#""x""#.to_owned()),
            Just(r#"" X ""#.to_owned()),
            Just(r#""\u0058""#.to_owned()),
            Just(r#""Y""#.to_owned()),
        ];
        let object = |entries: Vec<(String, String)>| {
            format!("{{{}}}", entries.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(","))
        };
        let value = leaf.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(|items| format!("[{}]", items.join(","))),
                prop::collection::vec(("[aabk]", inner), 0..5).prop_map(object),
            ]
        });
        // Mostly objects, often with a repeated key.
        prop_oneof![4 => prop::collection::vec(("[aabk]", value.clone()), 0..5).prop_map(object), 1 => value]
    }

    fn condition() -> impl Strategy<Value = String> {
        let path = prop_oneof![
            Just("$.a"),
            Just("$.b"),
            Just("$.a.b"),
            Just("$.b[0]"),
            Just("$.a[1].k"),
            Just("$.b[*]"),
            Just("$.a.*"),
            Just("$.*.k"),
            Just("$.b[*].a"),
            Just("$.*")
        ];
        let equals = prop_oneof![Just("X"), Just("'2'"), Just("2"), Just("null"), Just("true"), Just("[2]"), Just("{ k: X }")];
        (path, equals, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(path, equals, case, trim, pattern)| {
            let pattern = if pattern { ", pattern: '^x'" } else { "" };
            format!("'{path}': {{ equals: {equals}, ignore_case: {case}, trim: {trim}{pattern} }}")
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

        /// The filter gives the same outcome (kept items, or the same error with every
        /// candidate) on a sieved parse as on the projection without the sieve.
        #[test]
        fn a_sieved_parse_filters_as_the_whole_projection(
            elements in prop::collection::vec(element(), 0..6),
            conditions in prop::collection::btree_set(condition(), 1..3),
            expect in prop_oneof![Just("one"), Just("first"), Just("optional"), Just("all"), Just("at_least_one")],
        ) {
            let conditions: Vec<String> = conditions.into_iter().collect();
            // A path given twice is one YAML key: keep the first.
            let mut seen = std::collections::BTreeSet::new();
            let conditions: Vec<&String> = conditions.iter().filter(|c| seen.insert(c.split(':').next().unwrap_or_default().to_owned())).collect();
            let conditions = conditions.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ");
            let plan = plan(&conditions, expect);
            let text = format!(r#"{{"list": [{}], "n": 1}}"#, elements.join(","));
            prop_assert_eq!(filtered(&plan, &text, true), filtered(&plan, &text, false), "{}", text);
            // Before any second parse, the sieve builds exactly the elements the filter keeps.
            let all = self::plan(&conditions, "all");
            let sieve = sieve(&all);
            let projection = all.reads.of("r").unwrap();
            if let (Ok((sieved, _)), Ok(whole)) = (crate::json::parse_sieved(text.as_bytes(), projection, &sieve), crate::json::parse_projected(text.as_bytes(), projection)) {
                let Action::Filter(filter) = &all.recipe().steps[1].action else { unreachable!("a filter") };
                for (index, element) in whole["list"].as_array().into_iter().flatten().enumerate() {
                    let one = json!({"list": [element]});
                    let kept = crate::select::filter(&all.engine, &Masker::default(), filter, &one, &minijinja::Value::from(())).is_ok_and(|selected| !selected.items.is_empty());
                    let built = if kept { element.clone() } else { serde_json::Value::Null };
                    prop_assert_eq!(&sieved["list"][index], &built, "element {} of {}", index, text);
                }
            }
        }
    }
}
