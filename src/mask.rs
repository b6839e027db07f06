//! Secret masking: every text that leaves the process passes through a [`Masker`].
//!
//! A masker knows the values of the declared secret environment variables and replaces each
//! occurrence with `<NAME>`, the same placeholder replay uses, so masked requests and recorded
//! fixtures agree. Credential headers are masked whole even when their value holds no declared
//! secret.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::http::RequestSpec;

const CREDENTIAL_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie", "set-cookie"];

#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// (placeholder, value), longest value first so overlapping secrets mask fully.
    secrets: Vec<(String, String)>,
}

impl Masker {
    pub fn new(secrets: &[(String, String)]) -> Self {
        let mut secrets: Vec<(String, String)> = secrets
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .flat_map(|(name, value)| {
                // A secret sent in a URL appears encoded there.
                let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
                let path = percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string();
                let mut variants = vec![value.clone(), form, path];
                // The forms the `url` crate itself writes into a path and a query.
                if let Ok(mut url) = url::Url::parse("http://host/") {
                    url.set_path(value);
                    variants.push(url.path().trim_start_matches('/').to_owned());
                    url.set_query(Some(value));
                    variants.extend(url.query().map(str::to_owned));
                }
                variants.retain(|variant| !variant.is_empty());
                variants.sort();
                variants.dedup();
                variants.into_iter().map(move |variant| (crate::inputs::placeholder(name), variant))
            })
            .collect();
        secrets.sort_by_key(|(_, value)| std::cmp::Reverse(value.len()));
        Self { secrets }
    }

    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (placeholder, value) in &self.secrets {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), placeholder);
            }
        }
        out
    }

    pub fn json(&self, value: &Json) -> Json {
        match value {
            Json::String(text) => Json::String(self.text(text)),
            Json::Array(items) => Json::Array(items.iter().map(|item| self.json(item)).collect()),
            Json::Object(map) => Json::Object(map.iter().map(|(k, v)| (self.text(k), self.json(v))).collect()),
            other => other.clone(),
        }
    }

    pub fn headers(&self, headers: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        headers
            .iter()
            .map(|(name, value)| {
                let masked = self.text(value);
                let masked = if CREDENTIAL_HEADERS.contains(&name.as_str()) && masked == *value && !is_placeholder_only(value) {
                    "<redacted>".to_owned()
                } else {
                    masked
                };
                (name.clone(), masked)
            })
            .collect()
    }

    /// A response with every secret masked.
    pub fn response(&self, response: &crate::http::ResponseData) -> crate::http::ResponseData {
        use crate::http::ResponseBody;
        crate::http::ResponseData {
            status: response.status,
            headers: self.headers(&response.headers),
            body: response.body.as_ref().map(|body| match body {
                ResponseBody::Json(value) => ResponseBody::Json(self.json(value)),
                ResponseBody::Text(text) => ResponseBody::Text(self.text(text)),
            }),
        }
    }

    pub fn request(&self, request: &RequestSpec) -> RequestSpec {
        let body = request.body.as_ref().map(|body| match body {
            crate::http::Body::Json(value) => crate::http::Body::Json(self.json(value)),
            crate::http::Body::Form(pairs) => crate::http::Body::Form(pairs.iter().map(|(k, v)| (k.clone(), self.text(v))).collect()),
            crate::http::Body::Text(text) => crate::http::Body::Text(self.text(text)),
        });
        RequestSpec {
            method: request.method.clone(),
            url: self.text(&request.url),
            headers: self.headers(&request.headers),
            body,
            absolute_url: self.text(&request.absolute_url),
        }
    }
}

/// True when a header value already carries a placeholder (replays use placeholders as values).
fn is_placeholder_only(value: &str) -> bool {
    value.contains('<') && value.contains('>')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_url_encoded_secrets_too() {
        let masker = Masker::new(&[("KEY".into(), "a b/c=".into())]);
        assert_eq!(masker.text("/x?key=a+b%2Fc%3D"), "/x?key=<KEY>");
        assert_eq!(masker.text("/x/a%20b%2Fc%3D"), "/x/<KEY>");
        let masker = Masker::new(&[("TOKEN".into(), "p@ss word!".into())]);
        let mut url = url::Url::parse("http://h/").unwrap();
        url.set_path("/x/p@ss word!");
        url.set_query(Some("k=p@ss word!"));
        assert_eq!(masker.text(url.as_str()), "http://h/x/<TOKEN>?k=<TOKEN>");
    }

    #[test]
    fn masks_every_occurrence_and_credential_headers() {
        let masker = Masker::new(&[("TOKEN".into(), "s3cr3t".into())]);
        assert_eq!(masker.text("Basic s3cr3t and s3cr3t"), "Basic <TOKEN> and <TOKEN>");
        let headers = BTreeMap::from([("authorization".to_owned(), "Bearer literal".to_owned()), ("accept".to_owned(), "x".to_owned())]);
        let masked = masker.headers(&headers);
        assert_eq!(masked["authorization"], "<redacted>");
        assert_eq!(masked["accept"], "x");
    }
}
