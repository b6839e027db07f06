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

/// Why a text is no `JSONPath`, in the parser's words (`--> 1:12` and `= expected ...`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

#[derive(Debug, Clone)]
pub struct Path {
    pub text: String,
    pub span: Span,
    query: JpQuery,
    /// Only names, indexes and wildcards: [`Path::select`] walks it directly.
    walkable: bool,
}

impl Path {
    /// Parses `text`; the error carries the parser's message.
    pub fn parse(text: &str, span: Span) -> Result<Self, ParseError> {
        let query = parse_json_path(text).map_err(|error| ParseError(error.to_string()))?;
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

    /// The path as plain segments, for a projection: names, indexes (a negative one counts from
    /// the end, so it may be any element) and wildcards. `None` for any other path.
    pub(crate) fn segments(&self) -> Option<Vec<crate::projection::Segment>> {
        use crate::projection::Segment as Plain;
        self.query
            .segments
            .iter()
            .map(|segment| match segment {
                Segment::Selector(Selector::Name(name)) => Some(Plain::Key(name.clone())),
                Segment::Selector(Selector::Index(index)) => Some(usize::try_from(*index).map_or(Plain::Every, Plain::Index)),
                Segment::Selector(Selector::Wildcard) => Some(Plain::Every),
                _ => None,
            })
            .collect()
    }

    /// The path as names, non-negative indexes and wildcards, each selecting exactly what it
    /// says (unlike [`Path::segments`], a negative index gives `None`).
    pub(crate) fn names_indexes_and_wildcards(&self) -> Option<Vec<crate::projection::Segment>> {
        exact(&self.query.segments, true)
    }

    /// For a path of names and non-negative indexes ending in one wildcard (`$.customers[*]`),
    /// the part before the wildcard; `None` for any other path.
    pub(crate) fn each_of(&self) -> Option<Vec<crate::projection::Segment>> {
        match self.query.segments.split_last()? {
            (Segment::Selector(Selector::Wildcard), before) => exact(before, false),
            _ => None,
        }
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
        let mut nodes = Vec::new();
        walk_into(&self.query.segments, value, &mut nodes).then_some(nodes)
    }
}

/// Adds the nodes `segments` (names, indexes and wildcards) select in `value` to `nodes`, in
/// the order segment-by-segment selection gives (each node's results in turn, so depth first
/// is the same order), without a list per segment; false at any other segment.
fn walk_into<'a>(segments: &[Segment], value: &'a Value, nodes: &mut Vec<&'a Value>) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        nodes.push(value);
        return true;
    };
    let Segment::Selector(selector) = first else { return false };
    match (selector, value) {
        (Selector::Name(name), Value::Object(map)) => map.get(name).is_none_or(|child| walk_into(rest, child, nodes)),
        (Selector::Index(index), Value::Array(list)) => element(list, *index).is_none_or(|child| walk_into(rest, child, nodes)),
        (Selector::Wildcard, Value::Array(list)) => list.iter().all(|child| walk_into(rest, child, nodes)),
        (Selector::Wildcard, Value::Object(map)) => map.values().all(|child| walk_into(rest, child, nodes)),
        (Selector::Name(_) | Selector::Index(_) | Selector::Wildcard, _) => true,
        _ => false,
    }
}

/// The element an index selects: from the start, or from the end when negative.
fn element(list: &[Value], index: i64) -> Option<&Value> {
    let at = if index < 0 { i64::try_from(list.len()).ok()?.checked_add(index)? } else { index };
    list.get(usize::try_from(at).ok()?)
}

/// The nodes one selector (a name, an index or a wildcard) selects in `nodes`.
fn apply<'a>(selector: &Selector, nodes: &[&'a Value]) -> Vec<&'a Value> {
    let mut next = Vec::with_capacity(nodes.len());
    for node in nodes {
        match (selector, node) {
            (Selector::Name(name), Value::Object(map)) => next.extend(map.get(name)),
            (Selector::Index(index), Value::Array(list)) => next.extend(element(list, *index)),
            (Selector::Wildcard, Value::Array(list)) => next.extend(list),
            (Selector::Wildcard, Value::Object(map)) => next.extend(map.values()),
            _ => {}
        }
    }
    next
}

impl Path {
    /// Why a path of names, indexes and wildcards selects nothing in `value`: the deepest part
    /// that matched, what is there (its keys, or its length), and a "did you mean" for a
    /// misspelt key, e.g. ``$.json has no key `acces_token`; its keys: `access_token`,
    /// `expires_in`; did you mean `$.json.access_token`?``. `None` for other paths, or when the
    /// path selects something. Keys are names, never values, so nothing secret is shown.
    pub fn why_nothing(&self, value: &Value) -> Option<String> {
        const SHOWN: usize = 20;
        if !self.walkable || !self.select(value).is_empty() {
            return None;
        }
        let mut nodes = vec![value];
        let mut matched = "$".to_owned();
        for (position, segment) in self.query.segments.iter().enumerate() {
            let Segment::Selector(selector) = segment else { return None };
            let found = apply(selector, &nodes);
            if !found.is_empty() {
                matched.push_str(&segment_text(selector));
                nodes = found;
                continue;
            }
            let keys: Vec<&str> = {
                let mut keys: Vec<&str> =
                    nodes.iter().filter_map(|node| node.as_object()).flat_map(|map| map.keys().map(String::as_str)).collect();
                let mut seen = std::collections::HashSet::new();
                keys.retain(|key| seen.insert(*key));
                keys
            };
            let kinds: Vec<&str> = nodes.iter().map(|node| kind(node)).collect();
            let what = match (selector, nodes.as_slice()) {
                (Selector::Name(name), _) if !keys.is_empty() => {
                    let mut shown: Vec<String> = keys.iter().take(SHOWN).map(|key| format!("`{key}`")).collect();
                    if keys.len() > SHOWN {
                        shown.push(format!("and {} more", keys.len() - SHOWN));
                    }
                    let mut text = format!("`{matched}` has no key `{name}`; its keys: {}", shown.join(", "));
                    if let Some(suggestion) = crate::diagnostic::did_you_mean(name, keys.iter().copied()) {
                        let rest: String = self.query.segments[position + 1..]
                            .iter()
                            .filter_map(|segment| match segment {
                                Segment::Selector(selector) => Some(segment_text(selector)),
                                Segment::Descendant(_) | Segment::Selectors(_) => None,
                            })
                            .collect();
                        text.push_str(&format!("; did you mean `{matched}{}{rest}`?", segment_text(&Selector::Name(suggestion.into()))));
                    }
                    text
                }
                (Selector::Index(index), [Value::Array(list)]) => format!("`{matched}` has {} item(s), none at index {index}", list.len()),
                (Selector::Wildcard, _) => format!("`{matched}` is empty"),
                _ => format!("`{matched}` is {}, which has no `{}`", kinds.join(" or "), segment_text(selector)),
            };
            return Some(what);
        }
        None
    }
}

/// A segment as written in a path: `.name` (or `['na me']`), `[0]`, `[*]`.
fn segment_text(selector: &Selector) -> String {
    match selector {
        Selector::Name(name) => name_segment(name),
        Selector::Index(index) => format!("[{index}]"),
        _ => "[*]".to_owned(),
    }
}

/// A member's segment: `.name` when the name is an identifier, else `['na me']`.
fn name_segment(name: &str) -> String {
    if name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        format!(".{name}")
    } else {
        format!("[{}]", quoted(name))
    }
}

/// Names, non-negative indexes and (when `wildcards`) wildcards, exactly; `None` for anything
/// else.
fn exact(segments: &[Segment], wildcards: bool) -> Option<Vec<crate::projection::Segment>> {
    use crate::projection::Segment as Plain;
    segments
        .iter()
        .map(|segment| match segment {
            Segment::Selector(Selector::Name(name)) => Some(Plain::Key(name.clone())),
            Segment::Selector(Selector::Index(index)) => usize::try_from(*index).ok().map(Plain::Index),
            Segment::Selector(Selector::Wildcard) if wildcards => Some(Plain::Every),
            _ => None,
        })
        .collect()
}

/// Text as an RFC 9535 string literal, single-quoted: `it's` is `'it\'s'`.
pub(crate) fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The reference tokens of a JSON Pointer, unescaped (the inverse of [`pointer_token`]):
/// `/a~1b/0` is `a/b` then `0`.
pub(crate) fn pointer_tokens(pointer: &str) -> impl Iterator<Item = String> + '_ {
    pointer.split('/').skip(1).map(|token| token.replace("~1", "/").replace("~0", "~"))
}

/// A JSON Pointer as a path: `/a/0/b c` is `$.a[0]['b c']`.
pub(crate) fn pointer_path(pointer: &str) -> String {
    let mut path = "$".to_owned();
    for token in pointer_tokens(pointer) {
        if !token.is_empty() && token.chars().all(|c| c.is_ascii_digit()) {
            path.push_str(&format!("[{token}]"));
        } else {
            path.push_str(&name_segment(&token));
        }
    }
    path
}

/// A JSON value's kind, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
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

    #[test]
    fn a_path_that_selects_nothing_says_what_is_there() {
        let path = |text: &str| Path::parse(text, Span::default()).unwrap();
        let body = serde_json::json!({"json": {"access_token": "t", "expires_in": 60}, "list": [1, 2], "name": "x"});
        assert_eq!(
            path("$.json.acces_token").why_nothing(&body).as_deref(),
            Some("`$.json` has no key `acces_token`; its keys: `access_token`, `expires_in`; did you mean `$.json.access_token`?")
        );
        assert_eq!(
            path("$.jsno.access_token").why_nothing(&body).as_deref(),
            Some("`$` has no key `jsno`; its keys: `json`, `list`, `name`; did you mean `$.json.access_token`?")
        );
        assert_eq!(path("$.list[5]").why_nothing(&body).as_deref(), Some("`$.list` has 2 item(s), none at index 5"));
        assert_eq!(path("$.name.first").why_nothing(&body).as_deref(), Some("`$.name` is a string, which has no `.first`"));
        assert_eq!(path("$.json.expires_in").why_nothing(&body), None, "it selects something");
        assert_eq!(path("$..access_token").why_nothing(&serde_json::json!({})), None, "not a walkable path");
    }
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
