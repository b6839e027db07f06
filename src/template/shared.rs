//! Template values from JSON: a copy for small data (inputs, vars), or shared JSON that templates
//! read in place (response bodies), and the way back to JSON.

use std::sync::Arc;

use minijinja::Value;
use serde_json::Value as Json;

/// Turns JSON data into a template context value (a copy).
pub fn context(data: &Json) -> Value {
    Value::from(minijinja::value::Serde(data))
}

/// Shares JSON with templates without copying it: maps and lists are read in place, through
/// their path from the shared root. A response body of thousands of nodes costs nothing until a
/// template reads it, and then only what it reads.
pub(crate) fn shared_json(root: Arc<Json>) -> Value {
    JsonNode::wrap(&root, Vec::new(), &root)
}

/// A rendered value: JSON of its own, or a part of shared JSON.
pub enum Rendered {
    Owned(Json),
    Shared(Value),
}

impl Rendered {
    pub fn json(&self) -> &Json {
        match self {
            Rendered::Owned(json) => json,
            Rendered::Shared(value) => value.downcast_object_ref::<JsonNode>().map_or(&Json::Null, JsonNode::node),
        }
    }
}

/// One map or list inside a shared JSON document.
#[derive(Debug)]
pub(super) struct JsonNode {
    root: Arc<Json>,
    path: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    Key(String),
    Index(usize),
}

impl JsonNode {
    fn wrap(root: &Arc<Json>, path: Vec<Segment>, node: &Json) -> Value {
        match node {
            Json::Null => Value::from(()),
            Json::Bool(b) => Value::from(*b),
            Json::Number(n) => n
                .as_i64()
                .map(Value::from)
                .or_else(|| n.as_u64().map(Value::from))
                .unwrap_or_else(|| Value::from(n.as_f64().unwrap_or(f64::NAN))),
            Json::String(text) => Value::from(text.as_str()),
            Json::Array(_) | Json::Object(_) => Value::from_object(JsonNode { root: Arc::clone(root), path }),
        }
    }

    pub(super) fn node(&self) -> &Json {
        let mut node = &*self.root;
        for segment in &self.path {
            node = match (segment, node) {
                (Segment::Key(key), Json::Object(map)) => map.get(key).unwrap_or(&Json::Null),
                (Segment::Index(index), Json::Array(items)) => items.get(*index).unwrap_or(&Json::Null),
                _ => &Json::Null,
            };
        }
        node
    }

    fn child(&self, segment: Segment, node: &Json) -> Value {
        let mut path = self.path.clone();
        path.push(segment);
        Self::wrap(&self.root, path, node)
    }

    /// A copy of the node, for callers that need JSON back.
    pub(super) fn to_json(&self) -> Json {
        self.node().clone()
    }
}

impl minijinja::value::Object for JsonNode {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        match self.node() {
            Json::Array(_) => minijinja::value::ObjectRepr::Seq,
            _ => minijinja::value::ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match self.node() {
            Json::Object(map) => {
                let key = key.as_str()?;
                map.get(key).map(|child| self.child(Segment::Key(key.to_owned()), child))
            }
            Json::Array(items) => {
                let index = usize::try_from(key.as_i64()?).ok()?;
                items.get(index).map(|child| self.child(Segment::Index(index), child))
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        match self.node() {
            Json::Object(map) => minijinja::value::Enumerator::Values(map.keys().map(|key| Value::from(key.as_str())).collect()),
            Json::Array(items) => minijinja::value::Enumerator::Seq(items.len()),
            _ => minijinja::value::Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match self.node() {
            Json::Object(map) => Some(map.len()),
            Json::Array(items) => Some(items.len()),
            _ => Some(0),
        }
    }

    fn is_true(self: &Arc<Self>) -> bool {
        self.enumerator_len().is_some_and(|len| len > 0)
    }
}
