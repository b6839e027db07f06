//! Scrubbing recorded data: the fields a recipe marks as `redact` or `volatile`.
//!
//! Secrets are masked by `mask` everywhere; this module handles what only the recipe knows.
//! `redact` paths (in request and response bodies) become `<redacted>`. `volatile` paths (in
//! response bodies: timestamps, generated ids) become `<volatile:N>`, numbered in order of
//! appearance, and a later request that sends the same value records the same placeholder, so
//! re-recording the same flow gives the same fixture. Replay redacts the sent request the same
//! way before comparing it with the recording.

use serde_json::Value as Json;

use crate::http::{Body, RequestSpec, ResponseBody, ResponseData};
use crate::jsonpath::{Path, node_at};

/// One recipe's `recording` settings, as the recorder and the replay apply them.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub redact: Vec<Path>,
    pub volatile: Vec<Path>,
    /// Response headers kept beyond the usual ones.
    pub headers: Vec<String>,
}

impl Rules {
    pub fn of(recording: &crate::model::Recording) -> Self {
        Self { redact: recording.redact.clone(), volatile: recording.volatile.clone(), headers: recording.headers.clone() }
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Scrub {
    redact: Vec<Path>,
    volatile: Vec<Path>,
    /// The rules of the recipes that called the one running now (their `redact` and
    /// `volatile`), restored when a called recipe ends.
    outer: Vec<(Vec<Path>, Vec<Path>)>,
    /// (value as text, placeholder), in order of appearance: shared by a recipe and the
    /// recipes it calls, so a value numbered in one keeps its number in the other.
    seen: Vec<(String, String)>,
}

impl Scrub {
    pub(crate) fn new(redact: Vec<Path>, volatile: Vec<Path>) -> Self {
        Self { redact, volatile, outer: Vec::new(), seen: Vec::new() }
    }

    /// A called recipe starts: its own `recording` rules apply to its requests and responses.
    pub(crate) fn enter(&mut self, redact: Vec<Path>, volatile: Vec<Path>) {
        let outer = (std::mem::replace(&mut self.redact, redact), std::mem::replace(&mut self.volatile, volatile));
        self.outer.push(outer);
    }

    /// The called recipe ended: its caller's rules apply again.
    pub(crate) fn leave(&mut self) {
        if let Some((redact, volatile)) = self.outer.pop() {
            self.redact = redact;
            self.volatile = volatile;
        }
    }

    /// A request as it is recorded (or compared under replay).
    pub(crate) fn request(&self, request: &RequestSpec) -> RequestSpec {
        let mut request = request.clone();
        if !self.seen.is_empty() {
            request.url = self.substitute_url(&request.url);
            for header in request.headers.values_mut() {
                if let Some(placeholder) = self.placeholder_for(header) {
                    *header = placeholder;
                }
            }
        }
        request.body = request.body.map(|body| match body {
            Body::Json(mut json) => {
                self.substitute(&mut json);
                redact(&self.redact, &mut json);
                Body::Json(json)
            }
            other => other,
        });
        request
    }

    /// A response as it is recorded; volatile values found here are remembered.
    pub(crate) fn response(&mut self, response: &ResponseData) -> ResponseData {
        let mut response = response.clone();
        if let Some(ResponseBody::Json(shared)) = &mut response.body {
            let json = std::sync::Arc::make_mut(shared);
            redact(&self.redact, json);
            for path in &self.volatile {
                for location in path.locations(&json.clone()) {
                    let Some(node) = node_at(json, &location) else { continue };
                    let text = match node {
                        Json::String(text) => text.clone(),
                        Json::Number(number) => number.to_string(),
                        _ => continue,
                    };
                    let placeholder = if let Some((_, placeholder)) = self.seen.iter().find(|(value, _)| *value == text) {
                        placeholder.clone()
                    } else {
                        let placeholder = format!("<volatile:{}>", self.seen.len() + 1);
                        self.seen.push((text, placeholder.clone()));
                        placeholder
                    };
                    *node = Json::String(placeholder);
                }
            }
        }
        response
    }

    fn placeholder_for(&self, text: &str) -> Option<String> {
        self.seen.iter().find(|(value, _)| value == text).map(|(_, placeholder)| placeholder.clone())
    }

    /// Replaces whole path segments and whole query values equal to a volatile value (never
    /// parts of them: `/dept/1500` keeps its digits when `5` is volatile).
    fn substitute_url(&self, url: &str) -> String {
        let (path, query) = match url.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (url, None),
        };
        let decode = |text: &str| percent_encoding::percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned();
        let path: Vec<String> =
            path.split('/').map(|segment| self.placeholder_for(&decode(segment)).unwrap_or_else(|| segment.to_owned())).collect();
        let mut out = path.join("/");
        if let Some(query) = query {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, value)) => match self.placeholder_for(&decode(value)) {
                        Some(placeholder) => format!("{name}={placeholder}"),
                        None => pair.to_owned(),
                    },
                    None => pair.to_owned(),
                })
                .collect();
            out.push('?');
            out.push_str(&pairs.join("&"));
        }
        out
    }

    fn substitute(&self, json: &mut Json) {
        match json {
            Json::String(text) => {
                if let Some((_, placeholder)) = self.seen.iter().find(|(value, _)| value == text) {
                    *text = placeholder.clone();
                }
            }
            Json::Number(number) => {
                let text = number.to_string();
                if let Some((_, placeholder)) = self.seen.iter().find(|(value, _)| *value == text) {
                    *json = Json::String(placeholder.clone());
                }
            }
            Json::Array(items) => items.iter_mut().for_each(|item| self.substitute(item)),
            Json::Object(map) => map.values_mut().for_each(|item| self.substitute(item)),
            Json::Bool(_) | Json::Null => {}
        }
    }
}

fn redact(paths: &[Path], json: &mut Json) {
    for path in paths {
        for location in path.locations(&json.clone()) {
            if let Some(node) = node_at(json, &location) {
                *node = Json::String("<redacted>".into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Span;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn path(text: &str) -> Path {
        Path::parse(text, Span::default()).unwrap()
    }

    #[test]
    fn volatile_values_get_stable_placeholders_that_later_requests_share() {
        let mut scrub = Scrub::new(vec![path("$.phone")], vec![path("$.requestId"), path("$.items[*].id")]);
        let response = ResponseData {
            status: 200,
            headers: BTreeMap::new(),
            body: Some(ResponseBody::Json(json!({"requestId": "r-991", "phone": "+1310", "items": [{"id": 7}, {"id": "r-991"}]}).into())),
        };
        let recorded = scrub.response(&response);
        assert_eq!(
            recorded.body,
            Some(ResponseBody::Json(
                json!({"requestId": "<volatile:1>", "phone": "<redacted>", "items": [{"id": "<volatile:2>"}, {"id": "<volatile:1>"}]})
                    .into()
            ))
        );
        let request = RequestSpec {
            method: "POST".into(),
            url: "/things/r-991".into(),
            headers: BTreeMap::new(),
            body: Some(Body::Json(json!({"ref": 7, "phone": "+1310"}))),
            absolute_url: String::new(),
            parsed: crate::http::ParsedUrl::default(),
        };
        let scrubbed = scrub.request(&request);
        assert_eq!(scrubbed.url, "/things/<volatile:1>");
        let partial = RequestSpec { url: "/dept/17/r-9911?max=7&n=70".into(), body: None, ..request.clone() };
        assert_eq!(scrub.request(&partial).url, "/dept/17/r-9911?max=<volatile:2>&n=70", "whole segments and values only");
        assert_eq!(scrubbed.body, Some(Body::Json(json!({"ref": "<volatile:2>", "phone": "<redacted>"}))));
    }
}
