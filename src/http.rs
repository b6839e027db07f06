//! Plain data for one HTTP exchange: what was sent and what came back.
//!
//! These types cross the boundary between the runner and the transports, and are what fixtures
//! record and snapshots show. They know nothing about reqwest or the network.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// A fully rendered request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestSpec {
    pub method: String,
    /// Path and query, relative to the base URL (what fixtures record and compare).
    pub url: String,
    /// Header names in lower case.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    /// The absolute URL actually requested (not recorded).
    #[serde(skip)]
    pub absolute_url: String,
    /// `absolute_url` as the request was built from it, so it is not parsed again to be sent.
    #[serde(skip)]
    pub(crate) parsed: ParsedUrl,
}

/// The parsed form of a request's absolute URL, kept from when the request was built. It is
/// only used while it is still the URL the request names (see [`ParsedUrl::of`]); it is never
/// shown (its `Debug` prints nothing of it) and never makes two requests differ.
#[derive(Clone, Default)]
pub(crate) struct ParsedUrl(Option<url::Url>);

impl ParsedUrl {
    pub(crate) fn new(url: url::Url) -> Self {
        Self(Some(url))
    }

    /// The parsed URL, when it is still `absolute` (a later change of `absolute_url`, a next
    /// page, leaves it behind) and an `http` or `https` one.
    pub(crate) fn of(&self, absolute: &str) -> Option<&url::Url> {
        self.0.as_ref().filter(|url| url.as_str() == absolute && matches!(url.scheme(), "http" | "https"))
    }
}

impl PartialEq for ParsedUrl {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for ParsedUrl {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("ParsedUrl")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    Json(Json),
    Form(Vec<(String, String)>),
    Text(String),
    /// `multipart/form-data`: fixtures keep each file part's digest, never its bytes.
    Multipart(Vec<Part>),
}

/// One part of a multipart body: a text field or a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FilePart>,
}

/// A file sent as a part: recorded as its path, name, type, size and SHA-256 digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FilePart {
    /// As the recipe gives it, relative to the recipe.
    pub path: String,
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    /// The content, read when the request is rendered; never recorded.
    #[serde(skip)]
    pub bytes: std::sync::Arc<Vec<u8>>,
}

/// Two file parts are the same file when everything but the bytes, the digest included, is.
impl PartialEq for FilePart {
    fn eq(&self, other: &Self) -> bool {
        (&self.path, &self.filename, &self.content_type, self.size, &self.sha256)
            == (&other.path, &other.filename, &other.content_type, other.size, &other.sha256)
    }
}

impl FilePart {
    /// A file part of `bytes`, with their digest.
    pub fn new(path: String, filename: String, content_type: String, bytes: Vec<u8>) -> Self {
        use sha2::Digest;
        let sha256 = hex(&sha2::Sha256::digest(&bytes));
        Self { path, filename, content_type, size: bytes.len() as u64, sha256, bytes: std::sync::Arc::new(bytes) }
    }
}

impl Body {
    pub fn content_type(&self) -> String {
        match self {
            Body::Json(_) => "application/json".to_owned(),
            Body::Form(_) => "application/x-www-form-urlencoded".to_owned(),
            Body::Text(_) => "text/plain; charset=utf-8".to_owned(),
            Body::Multipart(parts) => format!("multipart/form-data; boundary={}", boundary(parts)),
        }
    }

    /// The bytes sent on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Body::Json(value) => serde_json::to_vec(value).unwrap_or_default(),
            Body::Form(pairs) => url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes(),
            Body::Text(text) => text.clone().into_bytes(),
            Body::Multipart(parts) => multipart_bytes(parts),
        }
    }
}

/// The content type of a file part from its extension; `application/octet-stream` otherwise.
pub(crate) fn guess_content_type(path: &str) -> &'static str {
    const TYPES: &[(&str, &str)] = &[
        ("csv", "text/csv"),
        ("gif", "image/gif"),
        ("html", "text/html"),
        ("jpeg", "image/jpeg"),
        ("jpg", "image/jpeg"),
        ("json", "application/json"),
        ("pdf", "application/pdf"),
        ("png", "image/png"),
        ("svg", "image/svg+xml"),
        ("txt", "text/plain"),
        ("xml", "application/xml"),
        ("zip", "application/zip"),
    ];
    let extension = path.rsplit_once('.').map(|(_, extension)| extension.to_ascii_lowercase()).unwrap_or_default();
    TYPES.iter().find(|(known, _)| *known == extension).map_or("application/octet-stream", |(_, kind)| kind)
}

/// A multipart body as reports show it: one line per part, a file by its name, size and digest.
pub(crate) fn multipart_summary(parts: &[Part]) -> String {
    let lines: Vec<String> = parts
        .iter()
        .map(|part| match (&part.value, &part.file) {
            (_, Some(file)) => format!(
                "{}: file `{}` ({}, {} bytes, sha256 {})",
                part.name,
                file.filename,
                file.content_type,
                file.size,
                &file.sha256[..file.sha256.len().min(16)]
            ),
            (value, None) => format!("{}={}", part.name, value.as_deref().unwrap_or_default()),
        })
        .collect();
    lines.join("\n")
}

/// Bytes as lower-case hexadecimal.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// The boundary of a multipart body: from a digest of its parts, so that the same body always
/// has the same `Content-Type` (a replay compares it) and no part can contain it.
fn boundary(parts: &[Part]) -> String {
    use sha2::Digest;
    let mut digest = sha2::Sha256::new();
    for part in parts {
        digest.update(part.name.as_bytes());
        digest.update([0]);
        match (&part.value, &part.file) {
            (Some(value), _) => digest.update(value.as_bytes()),
            (None, Some(file)) => digest.update(file.sha256.as_bytes()),
            (None, None) => {}
        }
        digest.update([1]);
    }
    format!("recipe-{}", hex(&digest.finalize()[..12]))
}

/// RFC 7578: each part with its `Content-Disposition` (and a file's `Content-Type`).
fn multipart_bytes(parts: &[Part]) -> Vec<u8> {
    let boundary = boundary(parts);
    let quoted = |text: &str| text.replace('\\', "\\\\").replace('"', "\\\"").replace(['\r', '\n'], " ");
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"", quoted(&part.name)).as_bytes());
        match (&part.value, &part.file) {
            (_, Some(file)) => {
                out.extend_from_slice(
                    format!("; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n", quoted(&file.filename), file.content_type).as_bytes(),
                );
                out.extend_from_slice(&file.bytes);
            }
            (value, None) => {
                out.extend_from_slice(b"\r\n\r\n");
                out.extend_from_slice(value.as_deref().unwrap_or_default().as_bytes());
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

/// A response as received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseData {
    pub status: u16,
    /// Header names in lower case.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub body: Option<ResponseBody>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseBody {
    /// Shared: a body parsed once may be handed to many runs (see `transport::bodies`).
    Json(std::sync::Arc<Json>),
    Text(String),
}

impl ResponseData {
    pub fn content_type(&self) -> Option<&str> {
        self.headers.get("content-type").map(String::as_str)
    }

    /// Builds a response from raw bytes: JSON when the bytes parse as JSON, else text.
    pub fn from_bytes(status: u16, headers: BTreeMap<String, String>, bytes: &[u8]) -> Self {
        Self::from_bytes_parsed(status, headers, bytes, |bytes| crate::json::parse(bytes).ok().map(std::sync::Arc::new))
    }

    /// The same, with `json` parsing the bytes (`None` when they are not JSON).
    pub fn from_bytes_parsed(
        status: u16,
        headers: BTreeMap<String, String>,
        bytes: &[u8],
        json: impl FnOnce(&[u8]) -> Option<std::sync::Arc<Json>>,
    ) -> Self {
        let body = if bytes.iter().all(u8::is_ascii_whitespace) {
            None
        } else if let Some(json) = json(bytes) {
            Some(ResponseBody::Json(json))
        } else {
            Some(ResponseBody::Text(String::from_utf8_lossy(bytes).into_owned()))
        };
        Self { status, headers, body }
    }

    /// The bytes to send back (for the fixture server).
    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.body {
            None => Vec::new(),
            Some(ResponseBody::Json(value)) => serde_json::to_vec(&**value).unwrap_or_default(),
            Some(ResponseBody::Text(text)) => text.clone().into_bytes(),
        }
    }
}

/// One redirect followed on the way to a response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    pub status: u16,
    /// Where it pointed (absolute, secrets masked).
    pub location: String,
    /// The cookies it set (`Set-Cookie` values joined by newlines), kept for the run's cookie
    /// jar: a form login sets its session cookie on the redirect that follows the `POST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_cookie: Option<String>,
}

/// Headers worth keeping in a recording: the rest are noise (dates, servers, lengths).
pub(crate) const RECORDED_RESPONSE_HEADERS: &[&str] = &["content-type", "location", "retry-after", "set-cookie"];

/// `401 Unauthorized`: a status with its standard reason phrase, or the number alone.
pub(crate) fn status_text(status: u16) -> String {
    match ::http::StatusCode::from_u16(status).ok().and_then(|code| code.canonical_reason()) {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parsed_url_is_used_only_while_it_is_the_requests_url_and_never_shown_or_compared() {
        let url = url::Url::parse("https://api.example.com/a?token=s3cr3t-value").unwrap();
        let parsed = ParsedUrl::new(url.clone());
        assert_eq!(parsed.of("https://api.example.com/a?token=s3cr3t-value"), Some(&url));
        // A next page changed the request's URL: the old parse is left behind.
        assert_eq!(parsed.of("https://api.example.com/a?token=s3cr3t-value&page=2"), None);
        assert_eq!(ParsedUrl::default().of("https://api.example.com/a"), None);
        let other = url::Url::parse("ftp://files.example.com/x").unwrap();
        assert_eq!(ParsedUrl::new(other).of("ftp://files.example.com/x"), None, "only http and https are sent");
        let request = RequestSpec {
            method: "GET".into(),
            url: "/a".into(),
            headers: BTreeMap::new(),
            body: None,
            absolute_url: url.to_string(),
            parsed: parsed.clone(),
        };
        assert!(!format!("{:?}", request.parsed).contains("s3cr3t"));
        assert_eq!(request, RequestSpec { parsed: ParsedUrl::default(), ..request.clone() });
    }
}
