//! Decoding of request defaults (`http:`) and retry policies (`retry:` under `http:` or a
//! request): timeouts, redirect limits, body size limits, and every retry field.

use super::{AUTH_KEYS, BASIC_KEYS, Decoder, HTTP_KEYS, OAUTH2_KEYS, REDIRECT_KEYS, RETRY_KEYS, TLS_KEYS};
use crate::diagnostic::Diagnostic;
use crate::model::{ApiErrors, Auth, Backoff, Http, OAuth2, Redirects, Retry, RetryOn, Tls};
use crate::yaml::{Node, Value};

const BACKOFFS: &[(&str, Backoff)] = &[("exponential", Backoff::Exponential), ("linear", Backoff::Linear), ("constant", Backoff::Constant)];
const RETRY_KINDS: &[(&str, RetryOn)] =
    &[("connect", RetryOn::Connect), ("reset", RetryOn::Reset), ("timeout", RetryOn::Timeout), ("body", RetryOn::Body)];
/// The most redirects a recipe may allow.
const MAX_REDIRECTS: i64 = 50;
/// How many redirects are followed when no count is given.
const DEFAULT_REDIRECTS: u32 = 5;

impl Decoder {
    pub(super) fn http(&mut self, node: &Node) -> Http {
        let Some(fields) = self.fields(node, "http", &[HTTP_KEYS]) else { return Http::default() };
        Http {
            base_url: fields.get("base_url").and_then(|node| self.template_string(node)),
            headers: fields.get("headers").map(|node| self.headers(node)).unwrap_or_default(),
            timeout: fields.get("timeout").and_then(|node| self.duration(node)),
            connect_timeout: fields.get("connect_timeout").and_then(|node| self.duration(node)),
            redirects: fields.get("redirects").and_then(|node| self.redirects(node)),
            max_body: fields.get("max_body").and_then(|node| self.size(node)),
            retry: fields.get("retry").and_then(|node| self.retry(node)),
            auth: fields.get("auth").and_then(|node| self.shared_auth(node)),
            api_errors: fields.get("api_errors").and_then(|node| self.api_errors(node)),
            proxy: fields.get("proxy").and_then(|node| self.template_string(node)),
            cookies: self.optional_bool(&fields, "cookies").unwrap_or(false),
            namespaces: fields.get("namespaces").map(|node| self.namespaces(node)).unwrap_or_default(),
            tls: fields.get("tls").and_then(|node| {
                let tls = self.fields(node, "tls", &[TLS_KEYS])?;
                let client_key = self.optional_string(&tls, "client_key");
                if client_key.is_some()
                    && tls.get("client_cert").is_none()
                    && let Some(key) = tls.get("client_key")
                {
                    let span = key.span;
                    self.problems.push(
                        Diagnostic::at("`client_key` needs `client_cert`", span)
                            .with_hint("add `client_cert: FILE`, the certificate that goes with this key"),
                    );
                }
                Some(Tls { ca: self.optional_string(&tls, "ca"), client_cert: self.optional_string(&tls, "client_cert"), client_key })
            }),
        }
    }

    /// `namespaces: { o: "urn:example:orders" }`: XML namespace prefixes for every `xpath`.
    fn namespaces(&mut self, node: &Node) -> Vec<(String, String)> {
        let mut namespaces = Vec::new();
        for (key, value) in self.user_map(node, "namespaces") {
            let valid = key.text.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && key.text.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid || key.text.eq_ignore_ascii_case("xml") || key.text.eq_ignore_ascii_case("xmlns") {
                self.problems.push(
                    Diagnostic::at(format!("`{}` cannot be a namespace prefix", key.text), key.span)
                        .with_hint("a prefix is a name without `:` (not `xml` or `xmlns`), such as `o` or `soap`"),
                );
                continue;
            }
            match self.string(value) {
                Some(uri) if !uri.is_empty() => namespaces.push((key.text.clone(), uri)),
                Some(_) => self.error(value.span, "a namespace URI cannot be empty"),
                None => {}
            }
        }
        namespaces
    }

    fn api_errors(&mut self, node: &Node) -> Option<ApiErrors> {
        match &node.value {
            Value::String(text, _) if text == "mykaarma" => Some(ApiErrors::Mykaarma),
            Value::Seq(items) => Some(ApiErrors::Paths(items.iter().filter_map(|item| self.path(item)).collect())),
            _ => {
                self.problems.push(
                    Diagnostic::at("invalid `api_errors`", node.span)
                        .with_hint("write `mykaarma`, or a list of JSONPaths such as `[$.errors[*]]`"),
                );
                None
            }
        }
    }

    /// `auth: { basic: { username, password } }` or `auth: { bearer: "{{ vars.token }}" }`.
    pub(super) fn auth(&mut self, node: &Node) -> Option<Auth> {
        if let Value::String(text, _) = &node.value
            && text == "none"
        {
            return Some(Auth::None);
        }
        let fields = self.fields(node, "auth", &[AUTH_KEYS])?;
        if let Some(node) = fields.get("oauth2") {
            if fields.get("basic").is_some() || fields.get("bearer").is_some() {
                self.problems.push(Diagnostic::at("`auth` takes one of `basic`, `bearer` or `oauth2`", node.span));
            }
            let oauth = self.fields(node, "oauth2", &[OAUTH2_KEYS])?;
            let mut required = |key: &str| self.required(&oauth, key, "oauth2").and_then(|n| self.template_string(n));
            let (token_url, client_id, client_secret) = (required("token_url"), required("client_id"), required("client_secret"));
            let scope = oauth.get("scope").and_then(|n| self.template_string(n));
            return Some(Auth::Oauth2(OAuth2 { token_url: token_url?, client_id: client_id?, client_secret: client_secret?, scope }));
        }
        match (fields.get("basic"), fields.get("bearer")) {
            (Some(basic), None) => {
                let basic_fields = self.fields(basic, "basic auth", &[BASIC_KEYS])?;
                let username = self.required(&basic_fields, "username", "basic auth").and_then(|n| self.template_string(n));
                let password = self.required(&basic_fields, "password", "basic auth").and_then(|n| self.template_string(n));
                Some(Auth::Basic { username: username?, password: password? })
            }
            (None, Some(bearer)) => self.template_string(bearer).map(Auth::Bearer),
            _ => {
                self.problems.push(Diagnostic::at("`auth` takes one of `basic`, `bearer` or `oauth2`", node.span));
                None
            }
        }
    }

    /// `http.auth`: any form but `none`, which belongs to a request.
    fn shared_auth(&mut self, node: &Node) -> Option<Auth> {
        let auth = self.auth(node)?;
        if let Auth::None = auth {
            self.problems.push(
                Diagnostic::at("`auth: none` belongs to a request", node.span)
                    .with_hint("leave `http.auth` out, or give the requests that send nothing `auth: none`"),
            );
            return None;
        }
        Some(auth)
    }

    fn redirects(&mut self, node: &Node) -> Option<u32> {
        match node.value {
            Value::Int(count) if (0..=MAX_REDIRECTS).contains(&count) => u32::try_from(count).ok(),
            _ => {
                self.expected(node, &format!("a number of redirects (0 to {MAX_REDIRECTS})"));
                None
            }
        }
    }

    /// A request's `redirects`: a count, or `{ follow, unsafe }`.
    pub(super) fn request_redirects(&mut self, node: &Node) -> Option<Redirects> {
        match node.value {
            Value::Int(_) => return self.redirects(node).map(|follow| Redirects { follow, allow_unsafe: false }),
            Value::Map(_) => {}
            _ => {
                self.expected(node, "a number of redirects, or `{ follow: 5, unsafe: true }`");
                return None;
            }
        }
        let fields = self.fields(node, "redirects", &[REDIRECT_KEYS])?;
        let follow = match fields.get("follow") {
            Some(node) => self.redirects(node)?,
            None => DEFAULT_REDIRECTS,
        };
        Some(Redirects { follow, allow_unsafe: self.optional_bool(&fields, "unsafe").unwrap_or(false) })
    }

    fn size(&mut self, node: &Node) -> Option<u64> {
        let parsed = match &node.value {
            Value::Int(bytes) if *bytes > 0 => Some(bytes.unsigned_abs()),
            Value::String(text, _) => parse_size(text),
            _ => None,
        };
        if parsed.is_none() {
            self.problems.push(
                Diagnostic::at("invalid size", node.span)
                    .with_hint("write a positive number of bytes or a size with a unit: `16MiB`, `512KiB`, `2MB`"),
            );
        }
        parsed
    }

    pub(super) fn retry(&mut self, node: &Node) -> Option<Retry> {
        let fields = self.fields(node, "retry", &[RETRY_KEYS])?;
        let attempts = fields.get("attempts").and_then(|node| match node.value {
            Value::Int(count) if (1..=100).contains(&count) => u32::try_from(count).ok(),
            _ => {
                self.expected(node, "a number of attempts (1 to 100)");
                None
            }
        });
        let on = fields.get("on").map(|node| {
            if let Value::Seq(items) = &node.value {
                items.iter().filter_map(|item| self.retry_on(item)).collect()
            } else {
                self.expected(node, "a list of failure kinds and status codes, e.g. `[connect, timeout, 503]`");
                Vec::new()
            }
        });
        Some(Retry {
            attempts,
            delay: fields.get("delay").and_then(|node| self.duration(node)),
            max_delay: fields.get("max_delay").and_then(|node| self.duration(node)),
            backoff: fields.get("backoff").and_then(|node| self.keyword(node, "backoff", BACKOFFS, false)),
            jitter: self.optional_bool(&fields, "jitter"),
            on,
            max_elapsed: fields.get("max_elapsed").and_then(|node| self.duration(node)),
            until: fields.get("until").and_then(|node| self.template_string(node)),
            allow_unsafe: self.optional_bool(&fields, "unsafe"),
        })
    }

    fn retry_on(&mut self, node: &Node) -> Option<RetryOn> {
        match &node.value {
            Value::Int(_) => self.status(node).map(RetryOn::Status),
            Value::String(..) => self.keyword(node, "failure kind", RETRY_KINDS, false),
            _ => {
                self.expected(node, "a failure kind (`connect`, `reset`, `timeout`, `body`) or a status code");
                None
            }
        }
    }
}

/// `16MiB`, `512KiB`, `2MB`, `100B` or a bare number of bytes: the one grammar of sizes, in
/// recipes and on the command line.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok().filter(|n| *n > 0)?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1000,
        "KiB" => 1024,
        "MB" => 1000 * 1000,
        "MiB" => 1024 * 1024,
        "GB" => 1000 * 1000 * 1000,
        "GiB" => 1024 * 1024 * 1024,
        _ => return None,
    };
    number.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    fn problems(text: &str) -> Vec<String> {
        let root = crate::yaml::parse(text).unwrap().0;
        match crate::decode::recipe(&root) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.iter().map(|p| format!("{}:{} {}", p.span.unwrap().line, p.span.unwrap().col, p.message)).collect(),
        }
    }

    #[test]
    fn checks_every_retry_and_limit_field_at_its_place() {
        let text = "recipe: 1\nname: t\nhttp:\n  redirects: -1\n  max_body: 16mb\n  connect_timeout: soon\n  retry:\n    attempts: 0\n    delay: fast\n    backoff: fibonacci\n    jitter: maybe\n    on: [connect, 503, teapot, 999]\n    unsafe: 1\n    tries: 3\nsteps:\n  - id: a\n    request: {method: GET, url: /x, retry: {on: timeout}}\n";
        assert_eq!(
            problems(text),
            vec![
                "6:20 invalid duration",
                "4:14 expected a number of redirects (0 to 50), found an integer",
                "5:13 invalid size",
                "14:5 unknown key `tries` in retry",
                "8:15 expected a number of attempts (1 to 100), found an integer",
                "12:24 unknown failure kind `teapot`",
                "12:32 expected an HTTP status code (100 to 599), found an integer",
                "9:12 invalid duration",
                "10:14 unknown backoff `fibonacci`",
                "11:13 expected `true` or `false`, found a string",
                "13:13 expected `true` or `false`, found an integer",
                "17:49 expected a list of failure kinds and status codes, e.g. `[connect, timeout, 503]`, found a string",
            ]
        );
        let fine = "recipe: 1\nname: t\nhttp:\n  redirects: 0\n  max_body: 512KiB\n  retry: {attempts: 4, delay: 200ms, max_delay: 10s, backoff: exponential, jitter: true, on: [connect, timeout, 429, 502, 503, 504], max_elapsed: 60s, until: \"{{ response.status == 200 }}\", unsafe: false}\nsteps:\n  - id: a\n    request: {method: POST, url: /x, idempotent: true, retry: {attempts: 1}}\n";
        assert_eq!(problems(fine), Vec::<String>::new());
    }

    #[test]
    fn a_requests_redirects_are_a_count_or_follow_and_unsafe() {
        let request = |redirects: &str| {
            problems(&format!("recipe: 1\nname: t\nsteps:\n  - id: a\n    request: {{method: POST, url: /x, redirects: {redirects}}}\n"))
        };
        assert_eq!(request("0"), Vec::<String>::new());
        assert_eq!(request("{ follow: 3, unsafe: true }"), Vec::<String>::new());
        assert_eq!(request("{ unsafe: true }"), Vec::<String>::new());
        assert_eq!(request("51"), vec!["5:49 expected a number of redirects (0 to 50), found an integer"]);
        assert_eq!(
            request("{ follow: 99, unsave: true }"),
            vec!["5:63 unknown key `unsave` in redirects", "5:59 expected a number of redirects (0 to 50), found an integer"]
        );
        assert_eq!(request("{ unsafe: yes please }"), vec!["5:59 expected `true` or `false`, found a string"]);
        assert_eq!(request("many"), vec!["5:49 expected a number of redirects, or `{ follow: 5, unsafe: true }`, found a string"]);
    }

    #[test]
    fn a_client_key_needs_its_certificate() {
        let steps = "steps:\n  - id: a\n    request: {method: GET, url: /x}\n";
        let alone = format!("recipe: 1\nname: t\nhttp:\n  tls: {{ client_key: client.key }}\n{steps}");
        assert_eq!(problems(&alone), vec!["4:22 `client_key` needs `client_cert`"]);
        let both = format!("recipe: 1\nname: t\nhttp:\n  tls: {{ ca: ca.pem, client_cert: c.pem, client_key: c.key }}\n{steps}");
        assert_eq!(problems(&both), Vec::<String>::new());
        let typo = format!("recipe: 1\nname: t\nhttp:\n  tls: {{ client_crt: c.pem }}\n{steps}");
        assert_eq!(problems(&typo), vec!["4:10 unknown key `client_crt` in tls"]);
    }

    #[test]
    fn parses_sizes() {
        assert_eq!(parse_size("16MiB"), Some(16 * 1024 * 1024));
        assert_eq!(parse_size("512 KiB"), Some(512 * 1024));
        assert_eq!(parse_size("2MB"), Some(2_000_000));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("0MiB"), None);
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("16mb"), None);
    }
}
