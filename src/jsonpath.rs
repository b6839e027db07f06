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
    /// Only names, indexes and wildcards: [`Path::select`] walks it directly.
    walkable: bool,
}

impl Path {
    /// Parses `text`; the error is the parser's message.
    pub fn parse(text: &str, span: Span) -> Result<Self, String> {
        let query = parse_json_path(text).map_err(|error| error.to_string())?;
        let walkable = query
            .segments
            .iter()
            .all(|segment| matches!(segment, Segment::Selector(Selector::Name(_) | Selector::Index(_) | Selector::Wildcard)));
        Ok(Self { text: text.to_owned(), span, query, walkable })
    }

    /// True when the path names at most one node (only names and indexes, no wildcard,
    /// slice, filter, union or descendant): a binding through it yields a value, not a list.
    pub fn is_definite(&self) -> bool {
        self.query.segments.iter().all(|segment| matches!(segment, Segment::Selector(Selector::Name(_) | Selector::Index(_))))
    }

    /// The JSON Pointer (RFC 6901) of a definite path: `$.vehicles[0].vin` is `/vehicles/0/vin`,
    /// `$` is the empty pointer. `None` for any other path, and for a negative index.
    pub fn pointer(&self) -> Option<String> {
        let mut pointer = String::new();
        for segment in &self.query.segments {
            pointer.push('/');
            match segment {
                Segment::Selector(Selector::Name(name)) => pointer.push_str(&pointer_token(name)),
                Segment::Selector(Selector::Index(index)) if *index >= 0 => pointer.push_str(&index.to_string()),
                _ => return None,
            }
        }
        Some(pointer)
    }

    /// The normalized locations (`$['a'][0]`) of the nodes the path selects.
    pub fn locations(&self, value: &Value) -> Vec<String> {
        js_path_process(&self.query, value)
            .map(|refs| refs.into_iter().map(jsonpath_rust::query::QueryRef::path).collect())
            .unwrap_or_default()
    }

    /// The nodes the path selects in `value`, in document order.
    pub fn select<'a>(&self, value: &'a Value) -> Vec<&'a Value> {
        if let Some(nodes) = self.walk(value) {
            return nodes;
        }
        js_path_process(&self.query, value)
            .map(|refs| refs.into_iter().map(jsonpath_rust::query::QueryRef::val).collect())
            .unwrap_or_default()
    }

    /// The nodes of a path made only of names, indexes and wildcards (`$.customers[*].uuid`,
    /// the common case), found by walking the value, with RFC 9535's meaning: a name selects
    /// nothing in a non-object, an index nothing in a non-array or out of range (negative counts
    /// from the end), a wildcard every element or member value in order. The general engine
    /// spells out every visited node's location as it goes; this does not. `None` for any other
    /// path.
    fn walk<'a>(&self, value: &'a Value) -> Option<Vec<&'a Value>> {
        if !self.walkable {
            return None;
        }
        let mut nodes = vec![value];
        for segment in &self.query.segments {
            let Segment::Selector(selector) = segment else { return None };
            let mut next = Vec::with_capacity(nodes.len());
            for node in nodes {
                match (selector, node) {
                    (Selector::Name(name), Value::Object(map)) => next.extend(map.get(name)),
                    (Selector::Index(index), Value::Array(list)) => {
                        let at = if *index < 0 { i64::try_from(list.len()).ok()?.checked_add(*index) } else { Some(*index) };
                        next.extend(at.and_then(|at| usize::try_from(at).ok()).and_then(|at| list.get(at)));
                    }
                    (Selector::Wildcard, Value::Array(list)) => next.extend(list),
                    (Selector::Wildcard, Value::Object(map)) => next.extend(map.values()),
                    _ => {}
                }
            }
            nodes = next;
        }
        Some(nodes)
    }
}

/// One reference token of a JSON Pointer: `~` is written `~0` and `/` is written `~1`.
pub(crate) fn pointer_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// The node at a normalized location (as [`Path::locations`] gives), for changing it.
pub(crate) fn node_at<'a>(value: &'a mut Value, location: &str) -> Option<&'a mut Value> {
    let mut current = value;
    let mut rest = location.strip_prefix('$')?;
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        if let Some(quoted) = inner.strip_prefix('\'') {
            // A name: `['...']`, with `\'` and `\\` escaped.
            let mut name = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                let (index, c) = chars.next()?;
                match c {
                    '\\' => name.push(chars.next()?.1),
                    '\'' => break index,
                    other => name.push(other),
                }
            };
            rest = quoted[end + 1..].strip_prefix(']')?;
            current = current.get_mut(name.as_str())?;
        } else {
            let close = inner.find(']')?;
            let index: usize = inner[..close].parse().ok()?;
            rest = &inner[close + 1..];
            current = current.get_mut(index)?;
        }
    }
    Some(current)
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
    fn locations_lead_back_to_their_nodes() {
        let mut doc = json!({"a": [{"b": 1}, {"b": 2}], "it's": {"x": 3}});
        for location in path("$.a[*].b").locations(&doc.clone()) {
            *node_at(&mut doc, &location).unwrap() = json!("changed");
        }
        assert_eq!(doc["a"], json!([{"b": "changed"}, {"b": "changed"}]));
        let location = path("$['it\\'s'].x").locations(&doc.clone()).pop().unwrap();
        assert_eq!(node_at(&mut doc, &location), Some(&mut json!(3)));
    }

    #[test]
    fn definite_paths_have_a_json_pointer() {
        assert_eq!(path("$.vehicles[0].vin").pointer().as_deref(), Some("/vehicles/0/vin"));
        assert_eq!(path("$['a/b']['c~d']").pointer().as_deref(), Some("/a~1b/c~0d"));
        assert_eq!(path("$").pointer().as_deref(), Some(""));
        assert_eq!(path("$.a[*]").pointer(), None);
        assert_eq!(path("$.a[-1]").pointer(), None);
    }

    #[test]
    fn rejects_bad_syntax() {
        assert!(Path::parse("$.a[?@.b ==", Span::default()).is_err());
        assert!(Path::parse("customer", Span::default()).is_err());
    }

    #[test]
    fn walked_paths_select_what_the_engine_selects() {
        let documents = [
            serde_json::json!({"customers": [{"uuid": "a", "vehicles": [{"vin": "V1"}, {"vin": "V2"}]}, {"uuid": "b", "vehicles": []}, {"uuid": "c"}], "n": 3, "m": {"x": 1, "y": [1, 2]}}),
            serde_json::json!([[1, 2, 3], {"a": [4]}, "s", null, {"customers": 7}]),
            serde_json::json!("scalar"),
            serde_json::json!({"": {"~/": [true, false]}, "k": {"k": {"k": 1}}}),
        ];
        let paths = [
            "$",
            "$.customers",
            "$.customers[*]",
            "$.customers[*].uuid",
            "$.customers[*].vehicles[*].vin",
            "$.customers[0].vehicles[-1].vin",
            "$.customers[-3].uuid",
            "$.customers[-4]",
            "$.customers[3]",
            "$.customers[-1].vehicles[0]",
            "$[*]",
            "$[*][*]",
            "$[0][-1]",
            "$[-9007199254740991]",
            "$[1].a[0]",
            "$.m.*",
            "$.*.*",
            "$['']['~/'][1]",
            "$.k.k.k",
            "$.n.x",
            "$[*].customers",
        ];
        for document in &documents {
            for text in paths {
                let path = Path::parse(text, Span::default()).unwrap();
                let walked = path.walk(document).expect("a simple path");
                let engine: Vec<&Value> = js_path_process(&path.query, document)
                    .map(|refs| refs.into_iter().map(jsonpath_rust::query::QueryRef::val).collect())
                    .unwrap_or_default();
                assert_eq!(walked, engine, "{text} in {document}");
            }
        }
        for text in ["$..vin", "$.customers[?@.uuid == 'a']", "$.customers[0:2]", "$['a','b']"] {
            assert!(Path::parse(text, Span::default()).unwrap().walk(&documents[0]).is_none(), "{text}");
        }
    }
}
