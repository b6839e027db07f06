//! An existing OpenAPI description (`recipe export arazzo --openapi FILE`): the operations a
//! recipe's requests call, found by method and path, so the workflow reuses their operationIds
//! and parameter names instead of describing the endpoints itself.
//!
//! A path matches when it has as many segments as the request's: each literal segment equal,
//! each `{name}` segment standing for one templated (or literal) segment of the request. A
//! server URL's path (`https://api.test/v2`) may prefix the request's path. It reads the
//! document only; writing the steps is the caller's.

use serde_json::Value as Json;

use super::openapi::Piece;
use super::security::Scheme;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// One operation of the document.
struct Described {
    method: String,
    /// The path's segments, after the leading `/`.
    segments: Vec<String>,
    operation_id: Option<String>,
    /// JSON Pointer of the operation, for an `operationPath` when it has no id.
    pointer: String,
}

/// A request's operation in the document.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Found {
    pub operation_id: Option<String>,
    pub pointer: String,
    /// The path parameters, in the path's order, and what the request puts there.
    pub names: Vec<(String, PathValue)>,
}

/// What a request puts where the described path has a parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathValue {
    /// The request path's template with this index (among its templates).
    Template(usize),
    /// Literal text.
    Literal(String),
}

/// The operations of an OpenAPI document, and its server paths and security schemes.
pub(crate) struct Document {
    /// The first server's URL, for requests it has no operation for.
    pub server: Option<String>,
    operations: Vec<Described>,
    prefixes: Vec<Vec<String>>,
    schemes: Vec<(String, Json)>,
}

impl Document {
    pub(crate) fn new(document: &Json) -> Self {
        let mut operations = Vec::new();
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            for method in METHODS.iter().filter(|method| item.get(**method).is_some()) {
                operations.push(Described {
                    method: (*method).to_owned(),
                    segments: segments(path),
                    operation_id: item[*method]["operationId"].as_str().map(str::to_owned),
                    pointer: format!("/paths/{}/{method}", crate::jsonpath::pointer_token(path)),
                });
            }
        }
        let prefixes = document["servers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|server| server["url"].as_str())
            .map(|url| segments(server_path(url)))
            .filter(|prefix| !prefix.is_empty())
            .collect();
        let schemes = document["components"]["securitySchemes"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, scheme)| (name.clone(), scheme.clone()))
            .collect();
        let server = document["servers"][0]["url"].as_str().map(|url| url.trim_end_matches('/').to_owned());
        Self { server, operations, prefixes, schemes }
    }

    /// The declared scheme's name for `scheme`, if the document has one.
    pub(crate) fn scheme_name(&self, scheme: Scheme) -> Option<&str> {
        self.schemes.iter().find(|(_, object)| scheme.matches(object)).map(|(name, _)| name.as_str())
    }

    /// The operation `method` on the request path `pieces` calls.
    pub(crate) fn find(&self, method: &str, pieces: &[Piece]) -> Option<Found> {
        let request = request_segments(pieces)?;
        let mut candidates = vec![request.as_slice()];
        for prefix in &self.prefixes {
            if request.len() > prefix.len() && request.iter().zip(prefix).all(|(segment, literal)| segment.literal() == Some(literal)) {
                candidates.push(&request[prefix.len()..]);
            }
        }
        for candidate in candidates {
            for operation in self.operations.iter().filter(|operation| operation.method == method) {
                if let Some(names) = matched(&operation.segments, candidate) {
                    return Some(Found { operation_id: operation.operation_id.clone(), pointer: operation.pointer.clone(), names });
                }
            }
        }
        None
    }
}

/// One segment of a request's path: literal text, or a single template (its index among the
/// path's templates).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Template(usize),
}

impl Segment {
    fn literal(&self) -> Option<&String> {
        if let Segment::Literal(text) = self { Some(text) } else { None }
    }
}

/// The request path's segments; `None` when a segment mixes a template with text.
fn request_segments(pieces: &[Piece]) -> Option<Vec<Segment>> {
    let mut segments: Vec<Vec<Piece>> = vec![Vec::new()];
    for piece in pieces {
        match piece {
            Piece::Literal(text) => {
                let mut parts = text.split('/');
                if let Some(first) = parts.next().filter(|first| !first.is_empty()) {
                    segments.last_mut()?.push(Piece::Literal(first.to_owned()));
                }
                for part in parts {
                    segments.push(if part.is_empty() { Vec::new() } else { vec![Piece::Literal(part.to_owned())] });
                }
            }
            Piece::Template(text) => segments.last_mut()?.push(Piece::Template(text.clone())),
        }
    }
    let mut templates = 0;
    let mut out = Vec::new();
    for segment in segments.into_iter().filter(|segment| !segment.is_empty()) {
        match segment.as_slice() {
            [Piece::Literal(text)] => out.push(Segment::Literal(text.clone())),
            [Piece::Template(_)] => {
                out.push(Segment::Template(templates));
                templates += 1;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The path parameter names if `described` matches `request`.
fn matched(described: &[String], request: &[Segment]) -> Option<Vec<(String, PathValue)>> {
    if described.len() != request.len() {
        return None;
    }
    let mut names = Vec::new();
    for (pattern, segment) in described.iter().zip(request) {
        let parameter = pattern.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')).filter(|name| !name.contains(['{', '}']));
        match (parameter, segment) {
            (Some(name), Segment::Template(index)) => names.push((name.to_owned(), PathValue::Template(*index))),
            (Some(name), Segment::Literal(text)) => names.push((name.to_owned(), PathValue::Literal(text.clone()))),
            (None, Segment::Literal(text)) if text == pattern => {}
            _ => return None,
        }
    }
    Some(names)
}

fn segments(path: &str) -> Vec<String> {
    path.split('/').filter(|segment| !segment.is_empty()).map(str::to_owned).collect()
}

/// The path of a server URL (`https://h.test/v2` is `/v2`; a relative URL is itself).
fn server_path(url: &str) -> &str {
    let after = url.split_once("://").map_or(url, |(_, rest)| rest.find('/').map_or("", |index| &rest[index..]));
    after.split(['?', '#']).next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_match_by_method_and_path_template() {
        let document = serde_json::json!({
            "servers": [{ "url": "https://api.test/v2" }],
            "paths": {
                "/pets/{petId}": { "get": { "operationId": "showPetById" } },
                "/pets": { "get": { "operationId": "listPets" }, "post": {} },
            },
        });
        let document = Document::new(&document);
        let pieces = [Piece::Literal("/v2/pets/".into()), Piece::Template("{{ vars.id }}".into())];
        let found = document.find("get", &pieces).expect("a match");
        assert_eq!(found.operation_id.as_deref(), Some("showPetById"));
        assert_eq!(found.names, [("petId".to_owned(), PathValue::Template(0))]);
        let literal = document.find("get", &[Piece::Literal("/pets/7".into())]).expect("a literal segment matches a parameter");
        assert_eq!(literal.names, [("petId".to_owned(), PathValue::Literal("7".into()))]);
        let post = document.find("post", &[Piece::Literal("/pets".into())]).expect("an operation without an id");
        assert_eq!((post.operation_id, post.pointer.as_str()), (None, "/paths/~1pets/post"));
        assert_eq!(document.find("delete", &[Piece::Literal("/pets".into())]), None);
        assert_eq!(document.find("get", &[Piece::Literal("/owners".into())]), None);
    }
}
