//! The names a recipe imported from curl declares: which placeholders are inputs and which are
//! (secret) environment variables, the base URL's variable, and vendor text turned into
//! templates.
//!
//! Placeholders are `{{name}}` (and `{name}` in URLs; shell variables arrive as `{{NAME}}`).
//! One in a credential header, or named like a credential, is a secret environment variable;
//! a shell variable is an environment variable; any other is an input. Literal text that a
//! template would read as syntax is kept raw, and a literal credential is never copied.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value as Json;

use crate::emit::{Entry, Node};

pub(crate) static PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{\s*(\$?[A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}").expect("a valid regex"));
/// In URLs, OpenAPI-style `{name}` segments are placeholders too.
static URL_PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{\s*(\$?[A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}|\{([A-Za-z_][A-Za-z0-9_\-]*)\}").expect("a valid regex"));
static SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)token|secret|passw|api[_-]?key|apikey|auth|credential|cookie|session|bearer").expect("a valid regex")
});

/// A query, form or JSON field that carries a credential (`api_key`, `client_secret`,
/// `password`...): stricter than for headers, so `author` or `session_count` stay plain.
static CREDENTIAL_FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(^|[_.-])(token|secret|passw(or)?d|pwd|api[_-]?key|apikey|access[_-]?key|private[_-]?key|signature|credentials?)$|^(key|auth|sig)$")
        .expect("a valid regex")
});

/// Whether a header carries a credential.
pub(crate) fn is_credential_header(name: &str) -> bool {
    SECRET_NAME.is_match(name)
}

pub(crate) fn is_placeholder(text: &str) -> bool {
    PLACEHOLDER.find(text).is_some_and(|found| found.start() == 0 && found.end() == text.len())
}

/// `eligibleAdvisor` -> `eligible_advisor` (or `ELIGIBLE_ADVISOR`); anything but letters and
/// digits becomes `_`; a leading digit gets a `_` before it.
pub(crate) fn snake_case(text: &str, upper: bool) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && previous_lower {
                out.push('_');
            }
            out.push(if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() });
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.ends_with('_') {
                out.push('_');
            }
            previous_lower = false;
        }
    }
    let out = out.trim_matches('_').to_owned();
    if out.starts_with(|c: char| c.is_ascii_digit()) { format!("_{out}") } else { out }
}

/// A placeholder name as a recipe name: letters, digits and `_`, not starting with a digit.
fn input_name(raw: &str) -> String {
    let name: String = raw.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.is_empty() { format!("_{name}") } else { name }
}

/// The base URL: its variable and default.
pub(crate) struct Base {
    pub origin: String,
    pub variable: String,
    /// The origin is a placeholder (`{{baseUrl}}/path`), so the variable has no default.
    pub templated: bool,
}

/// An input or environment variable the recipe declares.
pub(crate) struct Declared {
    pub name: String,
    pub description: Option<String>,
    pub default: Option<String>,
    pub secret: bool,
}

impl Declared {
    pub(crate) fn input(&self) -> Entry {
        let mut fields = vec![Entry::new("type", Node::text("string"))];
        fields.extend(self.default.as_ref().map(|text| Entry::new("default", Node::text(text))));
        fields.extend(self.description.as_ref().map(|text| Entry::new("description", Node::text(text))));
        Entry::new(&self.name, Node::Map(fields))
    }

    pub(crate) fn env(&self) -> Entry {
        let mut fields = Vec::new();
        fields.extend(self.default.as_ref().map(|text| Entry::new("default", Node::text(text))));
        if self.secret {
            fields.push(Entry::new("secret", Node::Scalar(Json::Bool(true))));
        }
        fields.extend(self.description.as_ref().map(|text| Entry::new("description", Node::text(text))));
        Entry::new(&self.name, Node::Map(fields))
    }
}

/// How each placeholder is declared, and the declarations in order of first use.
pub(crate) struct Names {
    descriptions: BTreeMap<String, String>,
    /// Placeholders read from the environment, secret or not.
    env_placeholders: BTreeMap<String, bool>,
    pub inputs: Vec<Declared>,
    pub env: Vec<Declared>,
}

impl Names {
    /// Decides, before any step is written, which placeholders are environment variables.
    /// Decides, before any step is written, which placeholders are environment variables:
    /// those in `texts` marked as credentials or named like one (secret), and shell variables.
    pub(crate) fn classify<'a>(
        texts: impl IntoIterator<Item = (&'a str, bool)>,
        shell_vars: impl IntoIterator<Item = &'a str>,
        descriptions: BTreeMap<String, String>,
    ) -> Self {
        let mut env_placeholders = BTreeMap::new();
        for (text, credential) in texts {
            for captures in PLACEHOLDER.captures_iter(text) {
                if credential || SECRET_NAME.is_match(&captures[1]) {
                    env_placeholders.insert(captures[1].to_owned(), true);
                }
            }
        }
        for variable in shell_vars {
            env_placeholders.entry(variable.to_owned()).or_insert_with(|| SECRET_NAME.is_match(variable));
        }
        Self { descriptions, env_placeholders, inputs: Vec::new(), env: Vec::new() }
    }

    /// Declares the base URL's variable: named after the host (`MYKAARMA_BASE_URL`), with the
    /// origin as default; or the placeholder's variable, without one.
    pub(crate) fn base_url(&mut self, origin: &str) -> Base {
        if let Some(captures) = PLACEHOLDER.captures(origin) {
            let variable = self.declare_env(&snake_case(&captures[1], true), None, false, Some("the API's base URL"));
            self.env_placeholders.insert(captures[1].to_owned(), false);
            return Base { origin: origin.to_owned(), variable, templated: true };
        }
        let host = origin.split("://").nth(1).unwrap_or_default();
        let host = host.rsplit('@').next().unwrap_or_default().split(':').next().unwrap_or_default();
        let labels: Vec<&str> = host.split('.').collect();
        let label = match labels.len() {
            _ if labels.iter().all(|label| label.chars().all(|c| c.is_ascii_digit())) => None,
            0 | 1 => None,
            n if n >= 3 && ["co", "com", "org", "net", "gov", "ac", "edu"].contains(&labels[n - 2]) => Some(labels[n - 3]),
            n => Some(labels[n - 2]),
        };
        let name = label.map_or_else(|| "BASE_URL".to_owned(), |label| format!("{}_BASE_URL", snake_case(label, true)));
        let variable = self.declare_env(&name, Some(origin), false, Some("the API's base URL"));
        Base { origin: origin.to_owned(), variable, templated: false }
    }

    pub(crate) fn declare_env(&mut self, name: &str, default: Option<&str>, secret: bool, description: Option<&str>) -> String {
        if !self.env.iter().any(|var| var.name == name) {
            self.env.push(Declared {
                name: name.to_owned(),
                description: description.map(str::to_owned),
                default: default.map(str::to_owned),
                secret,
            });
        }
        name.to_owned()
    }

    /// An input with a default (a file curl's `-F` sent), declared once; returns its name.
    pub(crate) fn declare_input(&mut self, name: &str, default: &str, description: &str) -> String {
        let name = input_name(name);
        if !self.inputs.iter().any(|input| input.name == name) {
            self.inputs.push(Declared {
                name: name.clone(),
                description: Some(description.to_owned()),
                default: Some(default.to_owned()),
                secret: false,
            });
        }
        name
    }

    /// The template expression for a placeholder, declaring its name on first use.
    pub(crate) fn expression(&mut self, raw: &str) -> String {
        if matches!(raw, "$guid" | "$randomUUID" | "$uuid") {
            return "uuid()".into();
        }
        let raw = raw.trim_start_matches('$');
        if let Some(&secret) = self.env_placeholders.get(raw) {
            let name = snake_case(raw, true);
            let description = self.descriptions.get(raw).cloned();
            return format!("env.{}", self.declare_env(&name, None, secret, description.as_deref()));
        }
        let name = input_name(raw);
        if !self.inputs.iter().any(|input| input.name == name) {
            let description = self.descriptions.get(raw).cloned();
            self.inputs.push(Declared { name: name.clone(), description, default: None, secret: false });
        }
        format!("inputs.{name}")
    }

    /// Vendor text as a template: placeholders become expressions, and literal text that a
    /// template would read as syntax is kept raw.
    pub(crate) fn convert(&mut self, text: &str, url: bool) -> String {
        let pattern = if url { &*URL_PLACEHOLDER } else { &*PLACEHOLDER };
        let mut out = String::new();
        let mut last = 0;
        for captures in pattern.captures_iter(text) {
            let whole = captures.get(0).expect("a match has a whole");
            out.push_str(&literal(&text[last..whole.start()]));
            let raw = captures.get(1).or_else(|| captures.get(2)).map_or("", |m| m.as_str());
            out.push_str(&format!("{{{{ {} }}}}", self.expression(raw)));
            last = whole.end();
        }
        out.push_str(&literal(&text[last..]));
        out
    }

    /// A header value; a literal credential is replaced by a secret variable (keeping its
    /// scheme, such as `Bearer`), so the recipe never holds the vendor's sample secret.
    pub(crate) fn header(&mut self, name: &str, value: &str) -> String {
        if !is_credential_header(name) || PLACEHOLDER.is_match(value) || value.is_empty() {
            return self.convert(value, false);
        }
        let (scheme, credential) = match value.split_once(' ') {
            Some((scheme, rest))
                if ["basic", "bearer", "token", "digest", "bot", "apikey", "key"].contains(&scheme.to_lowercase().as_str()) =>
            {
                (Some(scheme), rest.trim())
            }
            _ => (None, value),
        };
        let shown = credential.trim_matches(['<', '>', '$', '{', '}']);
        let variable = if credential != shown && !shown.is_empty() && shown.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c)) {
            snake_case(shown, true)
        } else {
            match scheme.map(str::to_lowercase).as_deref() {
                Some("basic") => "BASIC_AUTH".into(),
                Some("bearer") => "BEARER_TOKEN".into(),
                Some(other) => format!("{}_TOKEN", snake_case(other, true)),
                None => snake_case(name, true),
            }
        };
        let description = format!("the `{name}` credential (the curl command's sample value is not copied)");
        let variable = self.declare_env(&variable, None, true, Some(&description));
        match scheme {
            Some(scheme) => format!("{scheme} {{{{ env.{variable} }}}}"),
            None => format!("{{{{ env.{variable} }}}}"),
        }
    }

    /// A literal credential in a field named like one (`?api_key=...`, `-d password=...`,
    /// `{"client_secret": "..."}`) becomes a secret variable, `{{ env.NAME }}`; `None` for any
    /// other field or value, which stays as written.
    pub(crate) fn credential(&mut self, field: &str, value: &str) -> Option<String> {
        if !CREDENTIAL_FIELD.is_match(field) || value.is_empty() || PLACEHOLDER.is_match(value) {
            return None;
        }
        let description = format!("the `{field}` credential (the curl command's sample value is not copied)");
        let variable = self.declare_env(&snake_case(field, true), None, true, Some(&description));
        Some(format!("{{{{ env.{variable} }}}}"))
    }

    /// JSON data as a `json:` tree: marker strings become typed expressions, other strings
    /// templates.
    pub(crate) fn json(&mut self, value: &Json, markers: &BTreeMap<String, String>) -> Node {
        match value {
            Json::String(text) => match markers.get(text) {
                Some(raw) => Node::text(format!("{{{{ {} }}}}", self.expression(raw))),
                None => Node::text(self.convert(text, false)),
            },
            Json::Array(items) => Node::list(items.iter().map(|item| self.json(item, markers)).collect()),
            Json::Object(entries) => Node::Map(
                entries
                    .iter()
                    .map(|(key, value)| {
                        let secret = match value {
                            Json::String(text) if !markers.contains_key(text) => self.credential(key, text),
                            _ => None,
                        };
                        Entry::new(key, secret.map_or_else(|| self.json(value, markers), Node::text))
                    })
                    .collect(),
            ),
            scalar => Node::Scalar(scalar.clone()),
        }
    }
}

/// Literal text inside a template: kept raw when the template engine would read it as syntax.
fn literal(text: &str) -> String {
    if text.contains("{{") || text.contains("{%") || text.contains("{#") || text.ends_with('{') {
        format!("{{% raw %}}{text}{{% endraw %}}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_template_syntax_is_kept_raw() {
        let mut names = Names::classify([], [], BTreeMap::new());
        assert_eq!(names.convert("a {% b {{x}}", false), "{% raw %}a {% b {% endraw %}{{ inputs.x }}");
        assert_eq!(names.convert("/users/{id}", true), "/users/{{ inputs.id }}");
    }

    #[test]
    fn literal_credentials_are_never_copied() {
        let mut names = Names::classify([], [], BTreeMap::new());
        assert_eq!(names.header("Authorization", "Bearer sk_live_abc"), "Bearer {{ env.BEARER_TOKEN }}");
        assert_eq!(names.header("X-Api-Key", "<YOUR_API_KEY>"), "{{ env.YOUR_API_KEY }}");
        assert_eq!(names.header("X-Api-Key", "abc123"), "{{ env.X_API_KEY }}");
        assert!(names.env.iter().all(|var| var.secret && var.default.is_none()));
    }
}
