//! Secret masking: every text that leaves the process passes through a [`Masker`].
//!
//! A masker knows the values of the declared secret environment variables and replaces each
//! occurrence with `<NAME>`, the same placeholder replay uses, so masked requests and recorded
//! fixtures agree. Credential headers are masked whole even when their value holds no declared
//! secret.
//!
//! A secret rarely travels only as its raw text, so each one is masked in these forms too, all
//! replaced by the same `<NAME>`:
//!
//! - URL-encoded, as a form value, a percent-encoded path segment, and the way the `url` crate
//!   writes it into a path and a query;
//! - its standard base64 encoding, with and without `=` padding;
//! - as minijinja's `urlencode` filter writes it, and as the `url` crate writes it into the
//!   user information (`user:password@`);
//! - in any case: every form is matched with its ASCII letters in any case, as a server may echo
//!   a secret upper-cased and a URL's host is shown lowercased;
//! - JSON-escaped, as `serde_json` writes it inside a string (`"`, `\` and control characters
//!   escaped), as minijinja's `tojson` does (also `< > & '` as `\u003c`...), and with every `/`
//!   written `\/` as other JSON emitters do; a JSON number equal to a secret is masked too;
//! - when the secret is itself standard base64 of UTF-8 `user:password` text (HTTP basic
//!   credentials, such as `MYKAARMA_BASIC_AUTH`), the decoded `user:password` and the password
//!   alone, each again in the URL and JSON forms.
//!
//! Derived forms shorter than [`MIN_SECRET_LEN`] characters are not masked: they would hide
//! ordinary text and protect little. The longest forms are replaced first, so a secret that holds
//! another one masks whole. [`Masker::excerpt`] masks before it cuts, so a secret straddling the
//! cut never leaks its first characters; cut texts must go through it, never be cut then masked.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value as Json;

use crate::http::RequestSpec;

/// The text that stands for a secret in every output.
pub(crate) fn placeholder(name: &str) -> String {
    format!("<{name}>")
}

/// The shortest secret value, and the shortest derived form of one, that masking handles.
pub(crate) const MIN_SECRET_LEN: usize = 6;

const CREDENTIAL_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie", "set-cookie"];

#[derive(Clone, Default)]
pub struct Masker {
    /// (placeholder, value with its ASCII letters lowercased: secrets are found whatever their
    /// case), longest value first so overlapping secrets mask fully.
    secrets: Vec<(String, String)>,
    /// Bound secrets too short or too common to mask by value (`"string"`): (placeholder,
    /// value), masked only where the engine put them ([`Masker::request`]) and where they came
    /// from ([`Masker::exact_json`] on the response a bind read).
    exact: Vec<(String, String)>,
}

/// Whether a bound secret's value is unmistakable enough to mask wherever it appears: not
/// shorter than [`MIN_SECRET_LEN`], and not a plain word (letters only, in one case or
/// capitalised, up to 20 of them), which a fixture holds for other reasons (`string`, `true`,
/// `Bearer`).
pub(crate) fn unmistakable(value: &str) -> bool {
    let letters = value.chars().count();
    let word = value.chars().all(|c| c.is_ascii_alphabetic())
        && letters <= 20
        && (value.chars().skip(1).all(|c| c.is_ascii_lowercase()) || value.chars().all(|c| c.is_ascii_uppercase()));
    letters >= MIN_SECRET_LEN && !word
}

/// Never prints the values: only the placeholders.
impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.secrets.iter().map(|(placeholder, _)| placeholder.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let exact: Vec<&str> = self.exact.iter().map(|(placeholder, _)| placeholder.as_str()).collect();
        f.debug_struct("Masker").field("secrets", &names).field("forms", &self.secrets.len()).field("exact", &exact).finish()
    }
}

impl Masker {
    pub fn new(secrets: &[(String, String)]) -> Self {
        let mut secrets: Vec<(String, String)> = secrets
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .flat_map(|(name, value)| {
                let placeholder = placeholder(name);
                forms(value).into_iter().map(move |form| (placeholder.clone(), form.to_ascii_lowercase()))
            })
            .collect();
        secrets.sort_by_key(|(_, value)| std::cmp::Reverse(value.len()));
        secrets.dedup();
        Self { secrets, exact: Vec::new() }
    }

    /// This masker and one more secret masked only where it is sent and where it was read (a
    /// bound value too short or too common to mask by value: see [`unmistakable`]).
    #[must_use]
    pub fn with_exact(&self, name: &str, value: &str) -> Self {
        let mut masker = self.clone();
        if !value.is_empty() {
            masker.exact.push((placeholder(name), value.to_owned()));
        }
        masker
    }

    /// `value` with every string (or number) equal to an exactly-masked secret replaced by its
    /// placeholder: for the response a secret was bound from, and what the run rendered from it.
    pub fn exact_json(&self, value: &Json) -> Json {
        if self.exact.is_empty() {
            return value.clone();
        }
        match value {
            Json::String(text) => match self.exact.iter().find(|(_, secret)| secret == text) {
                Some((placeholder, _)) => Json::String(placeholder.clone()),
                None => value.clone(),
            },
            Json::Number(number) => match self.exact.iter().find(|(_, secret)| *secret == number.to_string()) {
                Some((placeholder, _)) => Json::String(placeholder.clone()),
                None => value.clone(),
            },
            Json::Array(items) => Json::Array(items.iter().map(|item| self.exact_json(item)).collect()),
            Json::Object(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), self.exact_json(v))).collect()),
            other => other.clone(),
        }
    }

    /// `text` with the exactly-masked secrets replaced where they stand in it whole (in a URL,
    /// a header value, a text body the engine rendered).
    fn exact_text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (placeholder, secret) in &self.exact {
            let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            for form in [secret.as_str(), encoded.as_str()] {
                if out.contains(form) {
                    out = out.replace(form, placeholder);
                }
            }
        }
        out
    }

    /// This masker and one more secret (a value bound at run time with `secret: true`), shown as
    /// `<NAME>`.
    #[must_use]
    pub fn with(&self, name: &str, value: &str) -> Self {
        let mut secrets = self.secrets.clone();
        if !value.is_empty() {
            let placeholder = placeholder(name);
            secrets.extend(forms(value).into_iter().map(|form| (placeholder.clone(), form.to_ascii_lowercase())));
        }
        secrets.sort_by_key(|(_, value)| std::cmp::Reverse(value.len()));
        secrets.dedup();
        Self { secrets, exact: self.exact.clone() }
    }

    /// `text` with every form of every secret replaced by its placeholder, whatever the case of
    /// its ASCII letters: a server that echoes a secret upper-cased (or a header value a proxy
    /// rewrote) must not show it.
    pub fn text(&self, text: &str) -> String {
        if self.secrets.is_empty() {
            return text.to_owned();
        }
        let mut out = text.to_owned();
        let mut lower = out.to_ascii_lowercase();
        for (placeholder, wanted) in &self.secrets {
            if lower.contains(wanted.as_str()) {
                out = replace_ignoring_case(&out, &lower, wanted, placeholder);
                lower = out.to_ascii_lowercase();
            }
        }
        out
    }

    /// `text` masked, then cut to at most `max_chars` characters, with `...` appended when cut.
    /// Masking first means a secret straddling the cut is never shown in part.
    pub fn excerpt(&self, text: &str, max_chars: usize) -> String {
        let masked = self.text(text);
        match masked.char_indices().nth(max_chars) {
            Some((end, _)) => format!("{}...", &masked[..end]),
            None => masked,
        }
    }

    pub fn json(&self, value: &Json) -> Json {
        if self.secrets.is_empty() {
            return value.clone();
        }
        match value {
            Json::String(text) => Json::String(self.text(text)),
            Json::Array(items) => Json::Array(items.iter().map(|item| self.json(item)).collect()),
            Json::Object(map) => Json::Object(map.iter().map(|(k, v)| (self.text(k), self.json(v))).collect()),
            // A number that is a secret (a PIN) becomes its placeholder, a string.
            Json::Number(number) if !self.secrets.is_empty() => {
                let text = number.to_string();
                match self.secrets.iter().find(|(_, value)| value.eq_ignore_ascii_case(&text)) {
                    Some((placeholder, _)) => Json::String(placeholder.clone()),
                    None => value.clone(),
                }
            }
            other => other.clone(),
        }
    }

    /// `Set-Cookie` values (joined by newlines) as recordings keep them: each cookie's name, its
    /// value redacted, without attributes.
    pub fn set_cookie(&self, value: &str) -> String {
        let pairs: Vec<&str> = value.lines().filter_map(|line| line.split(';').next()).collect();
        mask_cookies(&self.text(&pairs.join("\n")))
    }

    pub fn headers(&self, headers: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        headers
            .iter()
            .map(|(name, value)| {
                let masked = self.text(value);
                // Cookies keep their names: `sid=<redacted>`, so a replayed jar sends what was
                // recorded.
                if name == "cookie" || name == "set-cookie" {
                    return (name.clone(), mask_cookies(&masked));
                }
                // A credential is shown only as a scheme and one placeholder (`Bearer <TOKEN>`);
                // anything else (a literal, or a secret inside encoded text) is redacted whole,
                // so that a recording and its replay always agree.
                let masked = if CREDENTIAL_HEADERS.contains(&name.as_str()) && !is_placeholder_only(&masked) {
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
                ResponseBody::Json(value) => ResponseBody::Json(std::sync::Arc::new(self.json(value))),
                ResponseBody::Text(text) => ResponseBody::Text(self.text(text)),
            }),
        }
    }

    /// A request as the engine rendered it, masked: every secret by value, and the exactly-masked
    /// ones where they stand (the engine put them there).
    pub fn request(&self, request: &RequestSpec) -> RequestSpec {
        if self.secrets.is_empty() && self.exact.is_empty() {
            // Nothing to find: only the credential headers change (as below), and each part is
            // copied once rather than once per mask.
            return RequestSpec {
                method: request.method.clone(),
                url: request.url.clone(),
                headers: self.headers(&request.headers),
                body: request.body.clone(),
                absolute_url: request.absolute_url.clone(),
                parsed: crate::http::ParsedUrl::default(),
            };
        }
        self.every_part(request)
    }

    /// [`Masker::request`], each part through every mask.
    fn every_part(&self, request: &RequestSpec) -> RequestSpec {
        let exact_value = |text: &str| match self.exact.iter().find(|(_, secret)| secret == text) {
            Some((placeholder, _)) => placeholder.clone(),
            None => self.text(text),
        };
        let body = request.body.as_ref().map(|body| match body {
            crate::http::Body::Json(value) => crate::http::Body::Json(self.json(&self.exact_json(value))),
            crate::http::Body::Form(pairs) => crate::http::Body::Form(pairs.iter().map(|(k, v)| (k.clone(), exact_value(v))).collect()),
            crate::http::Body::Text(text) => crate::http::Body::Text(self.exact_text(&self.text(text))),
            crate::http::Body::Multipart(parts) => crate::http::Body::Multipart(
                parts.iter().map(|part| crate::http::Part { value: part.value.as_deref().map(&exact_value), ..part.clone() }).collect(),
            ),
        });
        let headers = request.headers.iter().map(|(name, value)| (name.clone(), self.exact_text(value))).collect();
        RequestSpec {
            method: request.method.clone(),
            url: self.exact_text(&self.text(&request.url)),
            headers: self.headers(&headers),
            body,
            absolute_url: self.exact_text(&self.text(&request.absolute_url)),
            // The masked copy is shown, never sent: it keeps no parsed URL (with its secrets).
            parsed: crate::http::ParsedUrl::default(),
        }
    }
}

/// `text` with every occurrence of `wanted` (lowercase ASCII) replaced by `with`, comparing
/// `lower` (`text` with its ASCII letters lowercased: the same bytes at the same places
/// otherwise).
fn replace_ignoring_case(text: &str, lower: &str, wanted: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for (at, _) in lower.match_indices(wanted) {
        out.push_str(&text[from..at]);
        out.push_str(with);
        from = at + wanted.len();
    }
    out.push_str(&text[from..]);
    out
}

/// True when a header value already carries a placeholder (replays use placeholders as values).
/// `a=1; b=2` -> `a=<redacted>; b=<redacted>`; `Set-Cookie` attributes after the first pair are
/// dropped, and several lines stay several lines.
fn mask_cookies(value: &str) -> String {
    let separator = if value.contains('\n') { "\n" } else { "; " };
    let pairs: Vec<String> = if separator == "\n" {
        value.lines().filter_map(|line| line.split(';').next()).map(str::to_owned).collect()
    } else {
        value.split(';').map(str::to_owned).collect()
    };
    let masked: Vec<String> = pairs
        .iter()
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let value = value.trim();
            let shown = if value.starts_with('<') && value.ends_with('>') { value } else { "<redacted>" };
            Some(format!("{}={shown}", name.trim()))
        })
        .collect();
    masked.join(separator)
}

/// `<NAME>` or `Scheme <NAME>`: one placeholder, after an optional scheme word.
fn is_placeholder_only(value: &str) -> bool {
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if !scheme.contains('<') => rest,
        _ => value,
    };
    token.starts_with('<') && token.ends_with('>') && token.len() > 2 && !token[1..token.len() - 1].contains(['<', '>', ' '])
}

/// Every form of one secret value that masking replaces, without duplicates.
fn forms(value: &str) -> Vec<String> {
    let long_enough = |text: &str| text.chars().count() >= MIN_SECRET_LEN;
    let encoded = base64_encode(value.as_bytes());
    let unpadded = encoded.trim_end_matches('=').to_owned();
    let mut derived = vec![encoded, unpadded];
    if let Some(credentials) = basic_credentials(value) {
        if let Some((_, password)) = credentials.split_once(':') {
            derived.push(password.to_owned());
        }
        derived.push(credentials);
    }
    derived.retain(|text| long_enough(text));
    let mut forms: Vec<String> = std::iter::once(value.to_owned())
        .chain(derived)
        .flat_map(|text| encodings(&text))
        .filter(|form| form == value || long_enough(form))
        .collect();
    forms.retain(|form| !form.is_empty());
    forms.sort();
    forms.dedup();
    forms
}

/// `text` as it is, and as URLs and JSON strings carry it.
fn encodings(text: &str) -> Vec<String> {
    // minijinja's `urlencode` filter keeps `/ . - _`.
    const URLENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'.').remove(b'-').remove(b'_');
    // A secret sent in a URL appears encoded there.
    let form: String = url::form_urlencoded::byte_serialize(text.as_bytes()).collect();
    let path = percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string();
    let urlencode = percent_encoding::utf8_percent_encode(text, URLENCODE).to_string();
    let json = json_escape(text);
    // minijinja's `tojson` also writes `< > & '` as `\u003c`...: safe inside HTML.
    let html_safe_json = json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026").replace('\'', "\\u0027");
    let mut variants =
        vec![text.replace('/', "\\/"), json.replace('/', "\\/"), json, html_safe_json, form, path, urlencode, text.to_owned()];
    // URLs lowercase their host: a secret in a host name (a tenant) is shown lowercased.
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        variants.push(text.to_ascii_lowercase());
    }
    // The forms the `url` crate itself writes into a path, a query and the user information.
    if let Ok(mut url) = url::Url::parse("http://user@host/") {
        url.set_path(text);
        variants.push(url.path().trim_start_matches('/').to_owned());
        url.set_query(Some(text));
        variants.extend(url.query().map(str::to_owned));
        if url.set_password(Some(text)).is_ok() {
            variants.extend(url.password().map(str::to_owned));
        }
        if url.set_username(text).is_ok() {
            variants.push(url.username().to_owned());
        }
    }
    variants
}

/// `text` as `serde_json` writes it between the quotes of a string.
fn json_escape(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted.strip_prefix('"').and_then(|inner| inner.strip_suffix('"')).unwrap_or(&quoted).to_owned()
}

/// The `user:password` text a secret holds when it is standard base64 of HTTP basic credentials.
fn basic_credentials(value: &str) -> Option<String> {
    let text = String::from_utf8(base64_decode(value)?).ok()?;
    (text.contains(':') && !text.contains(char::is_control)).then_some(text)
}

/// Standard base64 (RFC 4648 alphabet): written padded with `=`, read padded or not.
pub(crate) const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new().with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    base64::Engine::encode(&BASE64, bytes)
}

/// `None` when `text` is not base64. Padding is optional, but when there is some it is whole
/// (`Zg==` or `Zg`, never `Zg=`).
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    if text.ends_with('=') && !text.len().is_multiple_of(4) {
        return None;
    }
    base64::Engine::decode(&BASE64, text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_with_nothing_secret_to_find_loses_only_its_credentials() {
        let masker = Masker::new(&[]);
        let headers = BTreeMap::from([
            ("authorization".to_owned(), "Bearer literal".to_owned()),
            ("cookie".to_owned(), "sid=abc; theme=dark".to_owned()),
            ("accept".to_owned(), "application/json".to_owned()),
        ]);
        let bodies = [
            None,
            Some(crate::http::Body::Json(serde_json::json!({"a": [1, "two", {"b": null}]}))),
            Some(crate::http::Body::Form(vec![("k".to_owned(), "v w".to_owned())])),
            Some(crate::http::Body::Text("plain".to_owned())),
        ];
        for body in bodies {
            let request = RequestSpec {
                method: "POST".to_owned(),
                url: "/x?q=1".to_owned(),
                headers: headers.clone(),
                body,
                absolute_url: "http://h/x?q=1".to_owned(),
                parsed: crate::http::ParsedUrl::default(),
            };
            let masked = masker.request(&request);
            assert_eq!(masked, masker.every_part(&request));
            assert_eq!(masked.headers["authorization"], "<redacted>");
            assert_eq!(masked.headers["cookie"], masker.every_part(&request).headers["cookie"]);
            assert_eq!((masked.url.as_str(), masked.body.as_ref()), (request.url.as_str(), request.body.as_ref()));
        }
    }

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

    #[test]
    fn masks_the_forms_templates_and_urls_write() {
        let masker = Masker::new(&[("KEY".into(), "Ab/c+d e&f'g@h;i".into())]);
        // minijinja's `urlencode` (keeps `/`), its `tojson` (HTML-safe escapes), URL user
        // information, and a host name, lowercased.
        assert_eq!(masker.text("?k=Ab/c%2Bd%20e%26f%27g%40h%3Bi"), "?k=<KEY>");
        assert_eq!(masker.text(r#"{"k": "Ab/c+d e\u0026f\u0027g@h;i"}"#), r#"{"k": "<KEY>"}"#);
        let mut url = url::Url::parse("http://user@host/").unwrap();
        url.set_password(Some("Ab/c+d e&f'g@h;i")).unwrap();
        assert_eq!(masker.text(url.as_str()), "http://user:<KEY>@host/");
        let tenant = Masker::new(&[("TENANT".into(), "TenantXyz42".into())]);
        assert_eq!(tenant.text("cannot connect to http://tenantxyz42.invalid/x"), "cannot connect to http://<TENANT>.invalid/x");
    }

    #[test]
    fn masks_every_form_whatever_its_case() {
        let secret = "s3cr3t-Value/x y";
        let masker = Masker::new(&[("KEY".into(), secret.into())]);
        let base64 = base64_encode(secret.as_bytes());
        let forms = [
            secret.to_owned(),
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC).to_string(),
            secret.replace('/', "\\/"),
            base64.clone(),
            base64.trim_end_matches('=').to_owned(),
        ];
        for form in forms {
            for shown in [form.clone(), form.to_ascii_uppercase(), form.to_ascii_lowercase(), mixed(&form)] {
                let masked = masker.text(&format!("echo: {shown}!"));
                assert_eq!(masked, "echo: <KEY>!", "{shown}");
            }
        }
        // The text around a secret keeps its case, multi-byte characters included.
        assert_eq!(masker.text("Élan S3CR3T-VALUE/X Y é"), "Élan <KEY> é");
        assert_eq!(masker.json(&serde_json::json!({"k": "S3CR3T-VALUE/X Y"})), serde_json::json!({"k": "<KEY>"}));
    }

    /// Every other ASCII letter upper-cased.
    fn mixed(text: &str) -> String {
        text.chars().enumerate().map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect()
    }

    #[test]
    fn masks_a_number_that_is_a_secret() {
        let masker = Masker::new(&[("PIN".into(), "87654321".into())]);
        assert_eq!(masker.json(&serde_json::json!({"pin": 87_654_321, "n": 1})), serde_json::json!({"pin": "<PIN>", "n": 1}));
        assert_eq!(Masker::default().json(&serde_json::json!(87_654_321)), serde_json::json!(87_654_321));
    }

    #[test]
    fn masks_base64_padded_and_unpadded() {
        let masker = Masker::new(&[("KEY".into(), "s3cr3t-val".into())]);
        assert_eq!(masker.text("Basic czNjcjN0LXZhbA=="), "Basic <KEY>");
        assert_eq!(masker.text("token=czNjcjN0LXZhbA&x=1"), "token=<KEY>&x=1");
        // Padding percent-encoded in a query.
        assert_eq!(masker.text("token=czNjcjN0LXZhbA%3D%3D"), "token=<KEY>");
    }

    #[test]
    fn masks_json_escaped_forms() {
        let masker = Masker::new(&[("KEY".into(), "ab/cd/ef".into())]);
        assert_eq!(masker.text(r#"{"key":"ab\/cd\/ef"}"#), r#"{"key":"<KEY>"}"#);
        let masker = Masker::new(&[("KEY".into(), r#"pa"ss\w/rd"#.into())]);
        let written = serde_json::to_string(&serde_json::json!({ "key": r#"pa"ss\w/rd"# })).unwrap();
        assert_eq!(masker.text(&written), r#"{"key":"<KEY>"}"#);
        assert_eq!(masker.text(r#"{"key":"pa\"ss\\w\/rd"}"#), r#"{"key":"<KEY>"}"#);
        // A base64 secret holds `/`, which some emitters escape.
        let masker = Masker::new(&[("AUTH".into(), "bXl1c2VyOmh1bnRlcjIyL3B3".into())]);
        assert_eq!(masker.text(r#""auth":"bXl1c2VyOmh1bnRlcjIyL3B3""#), r#""auth":"<AUTH>""#);
        assert_eq!(masker.text(r#""pw":"hunter22\/pw""#), r#""pw":"<AUTH>""#);
    }

    #[test]
    fn masks_decoded_basic_credentials_and_the_password_alone() {
        // base64 of `myuser:hunter22/pw`, as `MYKAARMA_BASIC_AUTH` holds it.
        let masker = Masker::new(&[("MYKAARMA_BASIC_AUTH".into(), "bXl1c2VyOmh1bnRlcjIyL3B3".into())]);
        assert_eq!(masker.text("Basic bXl1c2VyOmh1bnRlcjIyL3B3"), "Basic <MYKAARMA_BASIC_AUTH>");
        assert_eq!(masker.text("login myuser:hunter22/pw failed"), "login <MYKAARMA_BASIC_AUTH> failed");
        assert_eq!(masker.text("password=hunter22/pw"), "password=<MYKAARMA_BASIC_AUTH>");
        assert_eq!(masker.text("password=hunter22%2Fpw"), "password=<MYKAARMA_BASIC_AUTH>");
        // The user name alone is not a secret.
        assert_eq!(masker.text("user myuser"), "user myuser");
    }

    #[test]
    fn skips_derived_forms_shorter_than_the_minimum() {
        // base64 of `user:abc`: the password is too short to mask alone, the pair is not.
        let masker = Masker::new(&[("AUTH".into(), "dXNlcjphYmM=".into())]);
        assert_eq!(masker.text("user:abc"), "<AUTH>");
        assert_eq!(masker.text("abc and cab"), "abc and cab");
        // A short value still masks as itself, but none of its short encodings.
        let masker = Masker::new(&[("PIN".into(), "a b".into())]);
        assert_eq!(masker.text("a b a+b YSBi"), "<PIN> a+b YSBi");
    }

    #[test]
    fn leaves_text_without_secrets_unchanged() {
        let masker = Masker::new(&[("AUTH".into(), "bXl1c2VyOmh1bnRlcjIyL3B3".into()), ("KEY".into(), "s3cr3t-val".into())]);
        let text = r#"{"status":"ok","items":[1,2,3],"url":"https:\/\/example.test\/a?b=c%20d","basic":"dXNlcjpvdGhlcg=="}"#;
        assert_eq!(masker.text(text), text);
        assert_eq!(masker.excerpt(text, 1000), text);
        assert_eq!(Masker::default().text(text), text);
    }

    #[test]
    fn excerpt_masks_before_cutting() {
        let masker = Masker::new(&[("TOKEN".into(), "abcdefghij".into())]);
        // The secret straddles the cut at 6 characters: cutting first would show `ab`.
        let cut = masker.excerpt("xxxxabcdefghij yy", 6);
        assert_eq!(cut, "xxxx<T...");
        assert!(!cut.contains("ab"));
        assert_eq!(masker.excerpt("xxxxabcdefghij yy", 100), "xxxx<TOKEN> yy");
        assert_eq!(masker.excerpt("xxxxabcdefghij yy", 14), "xxxx<TOKEN> yy");
        assert_eq!(masker.excerpt("xxxxabcdefghij yy", 13), "xxxx<TOKEN> y...");
        assert_eq!(masker.excerpt("héllo wörld", 4), "héll...");
        assert_eq!(masker.excerpt("", 0), "");
    }

    #[test]
    fn debug_shows_names_not_values() {
        let masker = Masker::new(&[("TOKEN".into(), "abcdefghij".into())]);
        let shown = format!("{masker:?}");
        assert!(shown.contains("<TOKEN>") && !shown.contains("abcdefghij"), "{shown}");
    }

    #[test]
    fn base64_round_trips_the_rfc_4648_vectors() {
        for (plain, encoded) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
            if !plain.is_empty() {
                assert_eq!(base64_decode(encoded).as_deref(), Some(plain.as_bytes()));
                assert_eq!(base64_decode(encoded.trim_end_matches('=')).as_deref(), Some(plain.as_bytes()));
            }
        }
        assert_eq!(base64_encode(&[0xfb, 0xff]), "+/8=");
        assert_eq!(base64_decode("").as_deref(), Some(&b""[..]), "the empty text encodes nothing");
        for bad in ["Z", "Zg=", "Zg===", "Zm9v!", "Zm-v", "Zm9v\n"] {
            assert_eq!(base64_decode(bad), None, "{bad:?}");
        }
        assert_eq!(basic_credentials("ZHJ5LXJ1bjpzZWNyZXQtdmFsdWUtOTk5").as_deref(), Some("dry-run:secret-value-999"));
        assert_eq!(basic_credentials("s3cr3t-val"), None);
    }
}
