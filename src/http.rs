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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body {
    Json(Json),
    Form(Vec<(String, String)>),
    Text(String),
}

impl Body {
    pub fn content_type(&self) -> &'static str {
        match self {
            Body::Json(_) => "application/json",
            Body::Form(_) => "application/x-www-form-urlencoded",
            Body::Text(_) => "text/plain; charset=utf-8",
        }
    }

    /// The bytes sent on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Body::Json(value) => serde_json::to_vec(value).unwrap_or_default(),
            Body::Form(pairs) => url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes(),
            Body::Text(text) => text.clone().into_bytes(),
        }
    }
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
