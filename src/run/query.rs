//! Query parameters: the texts one rendered value sends as a parameter (a list repeats it, null
//! sends nothing). Shared by a request's `query` and `paginate.next.query`.

use serde_json::Value as Json;

/// The texts a query or form value sends: a list repeats the parameter, null sends nothing.
pub(super) fn query_values(name: &str, value: &Json) -> Result<Vec<String>, MapValue> {
    match value {
        Json::Null => Ok(Vec::new()),
        Json::String(text) => Ok(vec![text.clone()]),
        Json::Number(_) | Json::Bool(_) => Ok(vec![value.to_string()]),
        Json::Array(items) => items.iter().map(|item| query_values(name, item)).collect::<Result<Vec<_>, _>>().map(|v| v.concat()),
        Json::Object(_) => Err(MapValue(name.to_owned())),
    }
}

/// A query or form value that is a map, which has no text to send; it names the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query parameter `{0}` is a map; send a text, number, boolean or list")]
pub(super) struct MapValue(String);
