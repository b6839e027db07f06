//! `JSONPath` expressions, parsed once when the recipe is read.
//!
//! A [`Path`] owns its text and its parsed query (jsonpath-rust, RFC 9535 syntax). Paths are
//! always static recipe text: values from inputs or responses are never spliced into a path;
//! comparisons against such values happen in `select`, on the selected nodes.

use jsonpath_rust::parser::model::{JpQuery, Segment, Selector};
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

use crate::diagnostic::Span;

#[derive(Debug, Clone)]
pub struct Path {
    pub text: String,
    pub span: Span,
    query: JpQuery,
}

impl Path {
    /// Parses `text`; the error is the parser's message.
    pub fn parse(text: &str, span: Span) -> Result<Self, String> {
        let query = parse_json_path(text).map_err(|error| error.to_string())?;
        Ok(Self { text: text.to_owned(), span, query })
    }

    /// True when the path names at most one node (only names and indexes, no wildcard,
    /// slice, filter, union or descendant): a binding through it yields a value, not a list.
    pub fn is_definite(&self) -> bool {
        self.query.segments.iter().all(|segment| matches!(segment, Segment::Selector(Selector::Name(_) | Selector::Index(_))))
    }

    /// The nodes the path selects in `value`, in document order.
    pub fn select<'a>(&self, value: &'a Value) -> Vec<&'a Value> {
        js_path_process(&self.query, value)
            .map(|refs| refs.into_iter().map(jsonpath_rust::query::QueryRef::val).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path(text: &str) -> Path {
        Path::parse(text, Span::default()).unwrap()
    }

    #[test]
    fn selects_nested_filters() {
        let doc = json!({"a": [{"b": [{"c": "x"}]}, {"b": [{"c": "y"}]}]});
        assert_eq!(path("$.a[?@.b[?@.c=='x']]").select(&doc), vec![&json!({"b": [{"c": "x"}]})]);
    }

    #[test]
    fn definite_paths_have_only_names_and_indexes() {
        assert!(path("$.customer.customerUuid").is_definite());
        assert!(path("$.vehicles[0].vin").is_definite());
        assert!(!path("$.vehicles[*].vin").is_definite());
        assert!(!path("$..vin").is_definite());
    }

    #[test]
    fn rejects_bad_syntax() {
        assert!(Path::parse("$.a[?@.b ==", Span::default()).is_err());
        assert!(Path::parse("customer", Span::default()).is_err());
    }
}
