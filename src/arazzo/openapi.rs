//! The OpenAPI 3.1 description of the endpoints a recipe calls, which the Arazzo steps point at.
//!
//! It is minimal on purpose: one operation per method and path template, with the path, query
//! and header parameters the recipe sends, a request body's content type, and the statuses the
//! recipe expects. A URL's `{{ ... }}` parts become path parameters named after what they read
//! (`{{ inputs.department_uuid }}` is `{department_uuid}`); two URLs that differ only in those
//! names are one path, as OpenAPI requires. It knows nothing of runtime expressions (that is
//! `expression`).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value as Json, json};

use super::security::{Scheme, Security};
use crate::jsonpath::pointer_token;

static EXPRESSION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{\{-?\s*(.*?)\s*-?\}\}").expect("a valid regex"));
static NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[A-Za-z_][A-Za-z0-9_]*").expect("a valid regex"));

/// The statuses written for a request that accepts any 2xx: every 2xx status RFC 9110 defines,
/// explicit because runners check the response's status against the described ones.
pub(crate) const ANY_SUCCESS: [u16; 7] = [200, 201, 202, 203, 204, 205, 206];

/// Header parameters OpenAPI ignores (they are described by other fields).
const IGNORED_HEADERS: &[&str] = &["accept", "content-type", "authorization"];

/// A request URL, split: an absolute URL's origin, the path's literal and templated parts, and
/// the query string written in the URL.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Url {
    pub origin: Option<String>,
    pub path: Vec<Piece>,
    pub query: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Literal(String),
    /// A template part: its whole text (`{{ inputs.x }}`).
    Template(String),
}

/// Splits a URL template. Template statements (`{% ... %}`) make the whole URL one part.
pub(crate) fn split_url(text: &str) -> Url {
    let mut rest = text;
    let mut origin = None;
    for scheme in ["https://", "http://"] {
        if let Some(after) = text.strip_prefix(scheme) {
            let end = after.find(['/', '?']).unwrap_or(after.len());
            if !after[..end].contains('{') {
                origin = Some(format!("{scheme}{}", &after[..end]));
                rest = &after[end..];
            }
        }
    }
    if rest.contains("{%") || rest.contains("{#") {
        return Url { origin, path: vec![Piece::Literal("/".into()), Piece::Template(rest.to_owned())], query: None };
    }
    // The query starts at the first `?` outside a template.
    let inside = |index: usize| EXPRESSION.find_iter(rest).any(|found| found.start() < index && index < found.end());
    let mark = rest.match_indices('?').map(|(index, _)| index).find(|&index| !inside(index));
    let (path_text, query) = match mark {
        Some(mark) => (&rest[..mark], Some(rest[mark + 1..].to_owned())),
        None => (rest, None),
    };
    let mut path = Vec::new();
    let mut last = 0;
    for found in EXPRESSION.find_iter(path_text) {
        path.push(Piece::Literal(path_text[last..found.start()].to_owned()));
        path.push(Piece::Template(found.as_str().to_owned()));
        last = found.end();
    }
    path.push(Piece::Literal(path_text[last..].to_owned()));
    path.retain(|piece| piece != &Piece::Literal(String::new()));
    if !matches!(path.first(), Some(Piece::Literal(text)) if text.starts_with('/')) {
        path.insert(0, Piece::Literal("/".into()));
    }
    Url { origin, path, query: query.filter(|query| !query.is_empty()) }
}

/// A path value's template without its last `| urlencode`: a runner encodes a path parameter's
/// value itself (OpenAPI's `style: simple`), so `{{ each | urlencode }}` is `$...` of `each`.
pub(crate) fn unencoded(template: &str) -> String {
    static ENCODED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\{\{-?\s*(.*?)\s*\|\s*urlencode\s*-?\}\}$").expect("a valid regex"));
    ENCODED.replace(template, "{{ $1 }}").into_owned()
}

/// The name a path parameter gets from its template: the last name it reads.
fn parameter_name(template: &str) -> String {
    let template = unencoded(template);
    let inner = EXPRESSION.captures(&template).map_or_else(|| template.clone(), |captures| captures[1].to_owned());
    let names: Vec<&str> = NAME.find_iter(&inner).map(|found| found.as_str()).collect();
    match names.as_slice() {
        [.., last] if inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') => (*last).to_owned(),
        _ => "param".to_owned(),
    }
}

/// One parameter an operation declares.
#[derive(Debug, Clone)]
pub(crate) struct Parameter {
    pub name: String,
    pub location: &'static str,
    pub schema: Json,
}

/// One operation, as a step calls it.
#[derive(Debug, Clone)]
#[allow(clippy::struct_field_names, reason = "`operation_id` is the `OpenAPI` name")]
pub(crate) struct Operation {
    pub method: String,
    pub operation_id: String,
    pub summary: Option<String>,
    pub parameters: Vec<Parameter>,
    pub content_type: Option<String>,
    /// Expected statuses; empty means any 2xx.
    pub statuses: Vec<u16>,
    /// An absolute URL's origin, when it is not the base URL.
    pub server: Option<String>,
    pub security: Security,
}

struct PathItem {
    /// The path with `{}` for each parameter: what makes two templates the same path.
    shape: String,
    template: String,
    names: Vec<String>,
    operations: Vec<Operation>,
}

/// The endpoints, in the order the recipe first calls them.
pub(crate) struct Api {
    servers: Vec<Json>,
    paths: Vec<PathItem>,
    schemes: BTreeSet<Scheme>,
}

impl Api {
    pub(crate) fn new(servers: Vec<Json>) -> Self {
        Self { servers, paths: Vec::new(), schemes: BTreeSet::new() }
    }

    /// The path template for these parts, and its parameter names in order (those of the first
    /// URL with this shape).
    pub(crate) fn path(&mut self, pieces: &[Piece]) -> (String, Vec<String>) {
        let shape: String = pieces
            .iter()
            .map(|piece| match piece {
                Piece::Literal(text) => text.as_str(),
                Piece::Template(_) => "{}",
            })
            .collect();
        if let Some(item) = self.paths.iter().find(|item| item.shape == shape) {
            return (item.template.clone(), item.names.clone());
        }
        let mut names: Vec<String> = Vec::new();
        let mut template = String::new();
        for piece in pieces {
            match piece {
                Piece::Literal(text) => template.push_str(text),
                Piece::Template(text) => {
                    let base = parameter_name(text);
                    let name = super::unique(&base, |candidate| names.iter().any(|name| name == candidate));
                    template.push_str(&format!("{{{name}}}"));
                    names.push(name);
                }
            }
        }
        self.paths.push(PathItem { shape, template: template.clone(), names: names.clone(), operations: Vec::new() });
        (template, names)
    }

    /// Adds an operation on `template` (merging with the same method's, whose id it keeps);
    /// returns the JSON Pointer of the operation in the document.
    pub(crate) fn operation(&mut self, template: &str, operation: Operation) -> String {
        let pointer = format!("/paths/{}/{}", pointer_token(template), operation.method);
        if let Security::Scheme(scheme) = operation.security {
            self.schemes.insert(scheme);
        }
        let Some(item) = self.paths.iter_mut().find(|item| item.template == template) else { return pointer };
        match item.operations.iter_mut().find(|existing| existing.method == operation.method) {
            Some(existing) => {
                for parameter in operation.parameters {
                    if !existing.parameters.iter().any(|p| p.name == parameter.name && p.location == parameter.location) {
                        existing.parameters.push(parameter);
                    }
                }
                for status in operation.statuses {
                    if !existing.statuses.contains(&status) {
                        existing.statuses.push(status);
                    }
                }
            }
            None => item.operations.push(operation),
        }
        pointer
    }

    /// The OpenAPI document.
    pub(crate) fn document(&self, recipe_name: &str) -> Json {
        let mut paths = Map::new();
        for item in &self.paths {
            let mut operations = Map::new();
            for operation in &item.operations {
                operations.insert(operation.method.clone(), operation_object(operation));
            }
            paths.insert(item.template.clone(), Json::Object(operations));
        }
        let mut document = json!({
            "openapi": "3.1.0",
            "info": {
                "title": format!("{recipe_name}: the endpoints it calls"),
                "description": format!("Written by `recipe export arazzo` from the recipe `{recipe_name}`: only the operations and parameters the recipe sends are described."),
                "version": "1.0.0",
            },
        });
        if !self.servers.is_empty() {
            document["servers"] = Json::Array(self.servers.clone());
        }
        document["paths"] = Json::Object(paths);
        if !self.schemes.is_empty() {
            let schemes: Map<String, Json> = self.schemes.iter().map(|scheme| (scheme.name().to_owned(), scheme.object())).collect();
            document["components"] = json!({ "securitySchemes": schemes });
        }
        document
    }
}

fn operation_object(operation: &Operation) -> Json {
    let mut object = Map::new();
    object.insert("operationId".into(), json!(operation.operation_id));
    if let Some(summary) = &operation.summary {
        object.insert("summary".into(), json!(summary));
    }
    if let Some(server) = &operation.server {
        object.insert("servers".into(), json!([{ "url": server }]));
    }
    match operation.security {
        Security::Unspecified => {}
        Security::Anonymous => {
            object.insert("security".into(), json!([]));
        }
        Security::Scheme(scheme) => {
            object.insert("security".into(), json!([{ scheme.name(): [] }]));
        }
    }
    let parameters: Vec<Json> = operation
        .parameters
        .iter()
        .filter(|parameter| parameter.location != "header" || !IGNORED_HEADERS.contains(&parameter.name.to_ascii_lowercase().as_str()))
        .map(|parameter| {
            let mut object = json!({ "name": parameter.name, "in": parameter.location });
            if parameter.location == "path" {
                object["required"] = json!(true);
            }
            object["schema"] = parameter.schema.clone();
            object
        })
        .collect();
    if !parameters.is_empty() {
        object.insert("parameters".into(), Json::Array(parameters));
    }
    if let Some(content_type) = &operation.content_type {
        object.insert("requestBody".into(), json!({ "required": true, "content": { content_type: { "schema": {} } } }));
    }
    let responses: Map<String, Json> = if operation.statuses.is_empty() {
        ANY_SUCCESS.iter().map(|status| (status.to_string(), json!({ "description": "success (the recipe accepts any 2xx)" }))).collect()
    } else {
        operation.statuses.iter().map(|status| (status.to_string(), json!({ "description": "the status the recipe expects" }))).collect()
    };
    object.insert("responses".into(), Json::Object(responses));
    Json::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(text: &str) -> Piece {
        Piece::Template(text.into())
    }

    fn literal(text: &str) -> Piece {
        Piece::Literal(text.into())
    }

    #[test]
    fn splits_urls_into_origin_path_and_query() {
        let url = split_url("https://x.test/a/{{ inputs.id }}/b?c={{ inputs.c }}&d=1");
        assert_eq!(url.origin.as_deref(), Some("https://x.test"));
        assert_eq!(url.path, vec![literal("/a/"), template("{{ inputs.id }}"), literal("/b")]);
        assert_eq!(url.query.as_deref(), Some("c={{ inputs.c }}&d=1"));
        assert_eq!(split_url("items").path, vec![literal("/"), literal("items")]);
    }

    #[test]
    fn an_encoded_path_value_is_named_and_read_as_its_value() {
        assert_eq!(unencoded("{{ each | urlencode }}"), "{{ each }}");
        assert_eq!(unencoded("{{ inputs.id|urlencode }}"), "{{ inputs.id }}");
        assert_eq!(unencoded("{{ inputs.id | upper }}"), "{{ inputs.id | upper }}");
        assert_eq!(parameter_name("{{ inputs.customer_id | urlencode }}"), "customer_id");
    }

    #[test]
    fn same_shaped_paths_are_one_path() {
        let mut api = Api::new(Vec::new());
        let first = api.path(&[literal("/a/"), template("{{ inputs.dealer_uuid }}"), literal("/b/"), template("{{ vars.x | upper }}")]);
        assert_eq!(first, ("/a/{dealer_uuid}/b/{param}".to_owned(), vec!["dealer_uuid".to_owned(), "param".to_owned()]));
        let second = api.path(&[literal("/a/"), template("{{ inputs.other }}"), literal("/b/"), template("{{ inputs.y }}")]);
        assert_eq!(second, first);
        let operation = Operation {
            method: "get".into(),
            operation_id: "a".into(),
            summary: None,
            parameters: Vec::new(),
            content_type: None,
            statuses: Vec::new(),
            server: None,
            security: Security::Unspecified,
        };
        assert_eq!(api.operation(&first.0, operation), "/paths/~1a~1{dealer_uuid}~1b~1{param}/get");
    }
}
