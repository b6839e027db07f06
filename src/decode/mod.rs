//! Decoding: the located YAML tree becomes the [`model`](crate::model) types.
//!
//! This pass checks shape only: known keys (with a "did you mean"), value types, required keys,
//! one action per step, and the syntax of names, durations, `JSONPaths` and regular expressions.
//! It reports every problem it finds, each at its place, and keeps going. Meaning (templates,
//! references between steps) is `check`'s job.

use std::time::Duration;

use crate::clock::MAX_DURATION;

use crate::diagnostic::{Diagnostic, Diagnostics, Span, did_you_mean};
use crate::jsonpath::Path;
use crate::model::{Cardinality, EnvVar, Format, Input, InputType, Method, Name, Recipe, Recording, Strategy, Template, TemplateString};
use crate::template::classify;

mod http;
pub(crate) use http::parse_size;
mod steps;
use crate::yaml::{Key, Node, Style, Value};

pub const RECIPE_KEYS: &[&str] = &["recipe", "name", "description", "inputs", "env", "http", "steps", "outputs", "recording"];
pub const RECORDING_KEYS: &[&str] = &["redact", "volatile", "headers"];
pub const INPUT_KEYS: &[&str] = &["type", "required", "default", "description", "pattern", "enum", "format"];
pub const ENV_KEYS: &[&str] = &["default", "secret", "description"];
pub const HTTP_KEYS: &[&str] = &[
    "base_url",
    "headers",
    "timeout",
    "connect_timeout",
    "redirects",
    "max_body",
    "retry",
    "auth",
    "api_errors",
    "proxy",
    "tls",
    "cookies",
    "namespaces",
];
pub(crate) const TLS_KEYS: &[&str] = &["ca", "client_cert", "client_key"];
pub(crate) const AUTH_KEYS: &[&str] = &["basic", "bearer", "oauth2"];
pub(crate) const OAUTH2_KEYS: &[&str] = &["token_url", "client_id", "client_secret", "scope"];
pub(crate) const BASIC_KEYS: &[&str] = &["username", "password"];
pub(crate) const PAGINATE_KEYS: &[&str] = &["next", "items", "max_pages"];
pub(crate) const ASSERT_KEYS: &[&str] = &["that", "path", "xpath", "equals", "pattern", "message"];
pub(crate) const BIND_KEYS: &[&str] = &["path", "value", "regex", "xpath", "secret"];
pub(crate) const RETRY_KEYS: &[&str] = &["attempts", "delay", "max_delay", "backoff", "jitter", "on", "max_elapsed", "until", "unsafe"];
pub const STEP_KEYS: &[&str] = &[
    "id",
    "description",
    "when",
    "optional",
    "request",
    "filter",
    "pick",
    "set",
    "fail",
    "call",
    "expect",
    "bind",
    "for_each",
    "max_items",
    "concurrency",
    "assert",
];
pub(crate) const CALL_KEYS: &[&str] = &["recipe", "inputs"];
pub const REQUEST_KEYS: &[&str] = &[
    "method",
    "url",
    "query",
    "headers",
    "json",
    "form",
    "body",
    "multipart",
    "timeout",
    "retry",
    "idempotent",
    "paginate",
    "auth",
    "redirects",
];
pub(crate) const FILE_PART_KEYS: &[&str] = &["file", "content_type", "filename"];
pub(crate) const REDIRECT_KEYS: &[&str] = &["follow", "unsafe"];
pub const EXPECT_KEYS: &[&str] = &["status", "json", "api_errors"];
pub const SELECTION_KEYS: &[&str] = &["from", "items", "entries", "match", "where"];
pub const FILTER_KEYS: &[&str] = &["expect", "describe"];
pub const PICK_KEYS: &[&str] = &["strategy", "by", "prefer", "seed", "describe"];
pub const MATCHER_KEYS: &[&str] = &["equals", "pattern", "ignore_case", "trim"];
const ACTIONS: &[&str] = &["request", "filter", "pick", "set", "fail", "call"];

const INPUT_TYPES: &[(&str, InputType)] = &[
    ("string", InputType::String),
    ("integer", InputType::Integer),
    ("number", InputType::Number),
    ("boolean", InputType::Boolean),
    ("array", InputType::Array),
    ("object", InputType::Object),
];
const FORMATS: &[(&str, Format)] = &[("date", Format::Date), ("date-time", Format::DateTime), ("email", Format::Email)];
const METHODS: &[(&str, Method)] = &[
    ("GET", Method::Get),
    ("POST", Method::Post),
    ("PUT", Method::Put),
    ("PATCH", Method::Patch),
    ("DELETE", Method::Delete),
    ("HEAD", Method::Head),
];
const CARDINALITIES: &[(&str, Cardinality)] = &[
    ("one", Cardinality::One),
    ("first", Cardinality::First),
    ("optional", Cardinality::Optional),
    ("all", Cardinality::All),
    ("at_least_one", Cardinality::AtLeastOne),
];
const STRATEGIES: &[(&str, Strategy)] = &[
    ("first", Strategy::First),
    ("last", Strategy::Last),
    ("random", Strategy::Random),
    ("min_by", Strategy::MinBy),
    ("max_by", Strategy::MaxBy),
    ("prefer", Strategy::Prefer),
];

/// Decodes as much as can be decoded, with every problem found. A recipe with problems is
/// still returned when its outline is sound, so the checker can report its problems as well.
///
/// The steps that did not decode but have an id come with it: the check then takes reads of them
/// for granted instead of reporting every later use of them.
pub(crate) fn decode_with_broken(root: &Node) -> (Option<Recipe>, Vec<Diagnostic>, Vec<BrokenStep>) {
    let mut decoder = Decoder::default();
    let recipe = decoder.recipe(root);
    (recipe, decoder.problems.into_vec(), decoder.broken)
}

/// A step whose id decoded but whose action (or something it needs) did not.
#[derive(Debug, Clone)]
pub(crate) struct BrokenStep {
    /// How many decoded steps come before it.
    pub position: usize,
    pub id: String,
    /// The names its `bind` would bind.
    pub binds: Vec<String>,
}

/// The entries of one YAML map, checked against the keys it may have.
pub(super) struct Fields<'a> {
    entries: &'a [(Key, Node)],
    span: Span,
}

impl<'a> Fields<'a> {
    fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries.iter().find(|(k, _)| k.text == key).map(|(_, node)| node)
    }
}

#[derive(Default)]
pub(super) struct Decoder {
    problems: Diagnostics,
    broken: Vec<BrokenStep>,
}

impl Decoder {
    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.problems.error(span, message);
    }

    fn expected(&mut self, node: &Node, what: &str) {
        let mut diagnostic = Diagnostic::at(format!("expected {what}, found {}", node.kind()), node.span);
        if let Value::String(text, Style::Plain) = &node.value
            && let Some(hint) = crate::yaml::leading_zero_hint(text)
        {
            diagnostic = diagnostic.with_hint(hint);
        }
        self.problems.push(diagnostic);
    }

    /// A map with only `allowed` keys; unknown keys are reported with a suggestion.
    fn fields<'a>(&mut self, node: &'a Node, what: &str, allowed: &[&[&str]]) -> Option<Fields<'a>> {
        let Value::Map(entries) = &node.value else {
            self.expected(node, &format!("a map ({what})"));
            return None;
        };
        for (key, _) in entries {
            if !allowed.iter().any(|keys| keys.contains(&key.text.as_str())) {
                let mut diagnostic = Diagnostic::at(format!("unknown key `{}` in {what}", key.text), key.span);
                let candidates = allowed.iter().flat_map(|keys| keys.iter().copied());
                if let Some(suggestion) = did_you_mean(&key.text, candidates) {
                    diagnostic = diagnostic.with_hint(format!("did you mean `{suggestion}`?"));
                } else {
                    let all: Vec<String> = allowed.iter().flat_map(|keys| keys.iter()).map(|k| format!("`{k}`")).collect();
                    diagnostic = diagnostic.with_hint(format!("expected one of {}", all.join(", ")));
                }
                self.problems.push(diagnostic);
            }
        }
        Some(Fields { entries, span: node.span })
    }

    fn required<'a>(&mut self, fields: &Fields<'a>, key: &str, what: &str) -> Option<&'a Node> {
        let node = fields.get(key);
        if node.is_none() {
            self.error(fields.span, format!("{what} is missing the key `{key}`"));
        }
        node
    }

    fn string(&mut self, node: &Node) -> Option<String> {
        if let Value::String(text, _) = &node.value {
            Some(text.clone())
        } else {
            self.expected(node, "a string");
            None
        }
    }

    fn bool(&mut self, node: &Node) -> Option<bool> {
        if let Value::Bool(b) = node.value {
            Some(b)
        } else {
            self.expected(node, "`true` or `false`");
            None
        }
    }

    fn optional_bool(&mut self, fields: &Fields, key: &str) -> Option<bool> {
        fields.get(key).and_then(|node| self.bool(node))
    }

    fn optional_string(&mut self, fields: &Fields, key: &str) -> Option<String> {
        fields.get(key).and_then(|node| self.string(node))
    }

    fn name(&mut self, text: &str, span: Span, what: &str) -> Name {
        let valid = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.problems.push(
                Diagnostic::at(format!("`{text}` is not a valid {what}"), span)
                    .with_hint("use letters, digits and `_`, starting with a letter or `_`, so templates can name it"),
            );
        }
        Name { text: text.to_owned(), span }
    }

    /// The entries of a map whose keys the user chooses (inputs, bind, headers...).
    fn user_map<'a>(&mut self, node: &'a Node, what: &str) -> &'a [(Key, Node)] {
        match &node.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            _ => {
                self.expected(node, &format!("a map ({what})"));
                &[]
            }
        }
    }

    fn template_string(&mut self, node: &Node) -> Option<TemplateString> {
        let style = match &node.value {
            Value::String(_, style) => *style,
            _ => Style::Plain,
        };
        let text = match &node.value {
            Value::String(text, _) => text.clone(),
            Value::Int(i) => i.to_string(),
            Value::UInt(u) => u.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                self.expected(node, "a string");
                return None;
            }
        };
        // A YAML boolean (`when: false`) stays a boolean.
        let kind =
            if matches!(node.value, Value::Bool(_)) { crate::model::TemplateKind::Expression(text.clone()) } else { classify(&text) };
        Some(TemplateString { text, span: node.span, style, kind })
    }

    fn template(&mut self, node: &Node) -> Template {
        match &node.value {
            Value::Null => Template::Null,
            Value::Bool(b) => Template::Bool(*b),
            Value::Int(i) => Template::Number((*i).into()),
            Value::UInt(u) => Template::Number((*u).into()),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Template::Null, Template::Number),
            Value::String(..) => self.template_string(node).map_or(Template::Null, Template::String),
            Value::Seq(items) => Template::Seq(items.iter().map(|item| self.template(item)).collect()),
            Value::Map(entries) => Template::Map(
                entries.iter().map(|(key, value)| (Name { text: key.text.clone(), span: key.span }, self.template(value))).collect(),
            ),
        }
    }

    fn template_map(&mut self, node: &Node, what: &str) -> Vec<(Name, Template)> {
        let entries = self.user_map(node, what);
        entries.iter().map(|(key, value)| (Name { text: key.text.clone(), span: key.span }, self.template(value))).collect()
    }

    fn string_template_map(&mut self, node: &Node, what: &str) -> Vec<(Name, TemplateString)> {
        let entries = self.user_map(node, what);
        entries
            .iter()
            .filter_map(|(key, value)| Some((Name { text: key.text.clone(), span: key.span }, self.template_string(value)?)))
            .collect()
    }

    /// Request headers: names HTTP allows, each once whatever its case (two spellings of one
    /// name would send only one of them), and literal values without line breaks.
    fn headers(&mut self, node: &Node) -> Vec<(Name, TemplateString)> {
        let headers = self.string_template_map(node, "headers");
        let mut seen: Vec<&Name> = Vec::new();
        for (name, value) in &headers {
            if ::http::HeaderName::from_bytes(name.text.as_bytes()).is_err() {
                self.problems.push(
                    Diagnostic::at(format!("`{}` is not a valid header name", name.text), name.span)
                        .with_hint("a header name is letters, digits and `!#$%&'*+-.^_`|~`, without spaces"),
                );
            } else if let Some(first) = seen.iter().find(|first| first.text.eq_ignore_ascii_case(&name.text)) {
                self.problems.push(Diagnostic::at(
                    format!(
                        "the header `{}` is given twice (as `{}` at line {}): header names ignore case",
                        name.text, first.text, first.span.line
                    ),
                    name.span,
                ));
            } else {
                seen.push(name);
            }
            if value.kind == crate::model::TemplateKind::Literal && value.text.contains(|c: char| c.is_ascii_control() && c != '\t') {
                self.problems.push(Diagnostic::at(
                    format!("the value of the header `{}` holds a line break or control character", name.text),
                    value.span,
                ));
            }
        }
        headers
    }

    fn path(&mut self, node: &Node) -> Option<Path> {
        let text = self.string(node)?;
        self.path_text(&text, node.span)
    }

    fn path_text(&mut self, text: &str, span: Span) -> Option<Path> {
        match Path::parse(text, span) {
            Ok(path) => Some(path),
            Err(error) => {
                let message = error.to_string();
                let diagnostic = Diagnostic::at(format!("invalid JSONPath `{text}`"), span);
                // Past the `$`, the parser says where and what it expected (`--> 1:12` and
                // `= expected comparable`, in its grammar's words).
                let at = message.split_once("--> 1:").and_then(|(_, rest)| rest.split_whitespace().next());
                let expected = message.lines().find_map(|line| line.trim().strip_prefix("= "));
                let hint = match (at, expected) {
                    _ if !text.trim_start().starts_with('$') => {
                        "a JSONPath starts with `$`, e.g. `$.matchingCustomers[*]` or `$.customer.lastName`".to_owned()
                    }
                    (Some(at), Some(expected)) => format!("at character {at}: {expected}"),
                    _ => message.lines().next().unwrap_or_default().to_owned(),
                };
                self.problems.push(diagnostic.with_hint(hint));
                None
            }
        }
    }

    fn duration(&mut self, node: &Node) -> Option<Duration> {
        let parsed = match &node.value {
            Value::Int(seconds) if *seconds > 0 => Some(Duration::from_secs(seconds.unsigned_abs())).filter(|d| *d <= MAX_DURATION),
            Value::String(text, _) => parse_duration(text),
            _ => None,
        };
        if parsed.is_none() {
            self.problems.push(
                Diagnostic::at("invalid duration", node.span)
                    .with_hint("write a positive whole number with a unit, at most a week (`10080m`): `500ms`, `30s` or `2m`"),
            );
        }
        parsed
    }

    fn regex(&mut self, text: &str, span: Span) -> Option<regex::Regex> {
        self.regex_with_case(text, span, false)
    }

    fn regex_with_case(&mut self, text: &str, span: Span, ignore_case: bool) -> Option<regex::Regex> {
        match crate::pattern::compile(text, ignore_case) {
            Ok(regex) => Some(regex),
            Err(error) => {
                let detail = error.to_string().lines().last().unwrap_or_default().to_owned();
                self.problems.push(Diagnostic::at(format!("invalid regular expression `{text}`"), span).with_label(detail));
                None
            }
        }
    }

    /// An XPath 1.0 expression: its syntax, functions and variables checked at its place (its
    /// prefixes are checked against `http.namespaces` once the recipe is read).
    fn xpath(&mut self, node: &Node) -> Option<crate::xpath::XPath> {
        let text = self.string(node)?;
        let problems = crate::xpath::problems(&text);
        for problem in &problems {
            self.problems.push(Diagnostic::at(format!("{problem} in `{text}`"), node.span).with_hint(problem.hint()));
        }
        problems.is_empty().then_some(crate::xpath::XPath { text, span: node.span })
    }

    /// Every prefix an `xpath` uses must be declared in `http.namespaces`.
    fn xpath_prefixes(&mut self, steps: &[crate::model::Step], namespaces: &[(String, String)]) {
        let xpaths = steps.iter().flat_map(|step| {
            let binds = step.bind.iter().filter_map(|(_, binding)| match binding {
                crate::model::Binding::XPath(xpath) => Some(xpath),
                _ => None,
            });
            binds.chain(step.assert.iter().filter_map(|assertion| assertion.xpath.as_ref()))
        });
        let mut problems = Vec::new();
        for xpath in xpaths {
            for prefix in crate::xpath::prefixes(&xpath.text) {
                if !namespaces.iter().any(|(declared, _)| *declared == prefix) {
                    problems.push(
                        Diagnostic::at(
                            format!("the XPath `{}` uses the namespace prefix `{prefix}`, which is not declared", xpath.text),
                            xpath.span,
                        )
                        .with_hint(format!(
                            "declare it: `http: {{ namespaces: {{ {prefix}: \"urn:...\" }} }}`, the namespace URI the body uses"
                        )),
                    );
                }
            }
        }
        for problem in problems {
            self.problems.push(problem);
        }
    }

    fn recipe(&mut self, root: &Node) -> Option<Recipe> {
        let fields = self.fields(root, "the recipe", &[RECIPE_KEYS])?;
        let version = self.required(&fields, "recipe", "the recipe").and_then(|node| {
            if let Value::Int(1) = node.value {
                Some(1)
            } else {
                self.problems
                    .push(Diagnostic::at("unsupported recipe version", node.span).with_hint("this version of `recipe` reads `recipe: 1`"));
                None
            }
        });
        let name = self.required(&fields, "name", "the recipe").and_then(|node| self.string(node));
        let description = self.optional_string(&fields, "description");
        let inputs = fields.get("inputs").map(|node| self.inputs(node)).unwrap_or_default();
        let env = fields.get("env").map(|node| self.env(node)).unwrap_or_default();
        let http = fields.get("http").map(|node| self.http(node)).unwrap_or_default();
        let steps = match self.required(&fields, "steps", "the recipe") {
            Some(Node { value: Value::Seq(items), .. }) => {
                let mut steps = Vec::new();
                for item in items {
                    match self.step(item) {
                        Ok(step) => steps.push(step),
                        Err(Some(broken)) => self.broken.push(BrokenStep { position: steps.len(), ..broken }),
                        Err(None) => {}
                    }
                }
                steps
            }
            Some(node) => {
                self.expected(node, "a list of steps");
                Vec::new()
            }
            None => Vec::new(),
        };
        self.xpath_prefixes(&steps, &http.namespaces);
        let outputs = fields.get("outputs").map(|node| self.template_map(node, "outputs")).unwrap_or_default();
        let recording = fields.get("recording").map(|node| self.recording(node)).unwrap_or_default();
        Some(Recipe { version: version?, name: name?, description, inputs, env, http, steps, outputs, recording })
    }

    fn recording(&mut self, node: &Node) -> Recording {
        let Some(fields) = self.fields(node, "recording", &[RECORDING_KEYS]) else { return Recording::default() };
        let mut paths = |key: &str| match fields.get(key) {
            None => Vec::new(),
            Some(Node { value: Value::Seq(items), .. }) => items.iter().filter_map(|item| self.path(item)).collect(),
            Some(other) => {
                self.expected(other, "a list of JSONPaths");
                Vec::new()
            }
        };
        let redact = paths("redact");
        let volatile = paths("volatile");
        let headers = match fields.get("headers") {
            None => Vec::new(),
            Some(Node { value: Value::Seq(items), .. }) => {
                items.iter().filter_map(|item| self.string(item)).map(|name| name.to_ascii_lowercase()).collect()
            }
            Some(other) => {
                self.expected(other, "a list of header names");
                Vec::new()
            }
        };
        Recording { redact, volatile, headers }
    }

    fn inputs(&mut self, node: &Node) -> Vec<Input> {
        let entries = self.user_map(node, "inputs");
        entries.iter().filter_map(|(key, spec)| self.input(key, spec)).collect()
    }

    fn input(&mut self, key: &Key, spec: &Node) -> Option<Input> {
        let name = self.name(&key.text, key.span, "input name");
        if let Value::String(..) = spec.value {
            // Short form: `vin: string`.
            let kind = self.input_type(spec)?;
            return Some(Input {
                name,
                kind,
                required: None,
                default: None,
                description: None,
                pattern: None,
                allowed: None,
                format: None,
            });
        }
        let fields = self.fields(spec, &format!("input `{}`", key.text), &[INPUT_KEYS])?;
        let kind = fields.get("type").and_then(|node| self.input_type(node)).unwrap_or_default();
        let pattern = fields.get("pattern").and_then(|node| {
            let text = self.string(node)?;
            self.regex(&text, node.span).map(|_| text)
        });
        let allowed = fields.get("enum").and_then(|node| {
            if let Value::Seq(items) = &node.value {
                Some(items.iter().map(Node::to_json).collect())
            } else {
                self.expected(node, "a list of allowed values");
                None
            }
        });
        let format = fields.get("format").and_then(|node| self.keyword(node, "format", FORMATS, false));
        Some(Input {
            name,
            kind,
            required: self.optional_bool(&fields, "required"),
            default: fields.get("default").map(Node::to_json),
            description: self.optional_string(&fields, "description"),
            pattern,
            allowed,
            format,
        })
    }

    fn one_of(&mut self, span: Span, what: &str, found: &str, allowed: &[&str]) {
        let mut diagnostic = Diagnostic::at(format!("unknown {what} `{found}`"), span);
        diagnostic = match did_you_mean(found, allowed.iter().copied()) {
            Some(suggestion) => diagnostic.with_hint(format!("did you mean `{suggestion}`?")),
            None => {
                diagnostic.with_hint(format!("expected one of {}", allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")))
            }
        };
        self.problems.push(diagnostic);
    }

    fn input_type(&mut self, node: &Node) -> Option<InputType> {
        self.keyword(node, "type", INPUT_TYPES, false)
    }

    /// One of a fixed set of words (`ignore_case` for HTTP methods); an unknown word is reported
    /// with the closest allowed one.
    fn keyword<T: Copy>(&mut self, node: &Node, what: &str, table: &[(&str, T)], ignore_case: bool) -> Option<T> {
        let text = self.string(node)?;
        let found = table.iter().find(|(word, _)| if ignore_case { word.eq_ignore_ascii_case(&text) } else { *word == text });
        if found.is_none() {
            let words: Vec<&str> = table.iter().map(|(word, _)| *word).collect();
            self.one_of(node.span, what, &text, &words);
        }
        found.map(|(_, value)| *value)
    }

    fn env(&mut self, node: &Node) -> Vec<EnvVar> {
        let entries = self.user_map(node, "env");
        let mut vars = Vec::new();
        for (key, spec) in entries {
            let name = self.name(&key.text, key.span, "environment variable name");
            if matches!(spec.value, Value::Null) {
                vars.push(EnvVar { name, default: None, secret: false, description: None });
                continue;
            }
            let Some(fields) = self.fields(spec, &format!("env `{}`", key.text), &[ENV_KEYS]) else { continue };
            let default = fields.get("default").and_then(|node| match &node.value {
                Value::String(text, _) => Some(text.clone()),
                Value::Int(_) | Value::UInt(_) | Value::Float(_) | Value::Bool(_) => Some(node.to_json().to_string()),
                _ => {
                    self.expected(node, "a string");
                    None
                }
            });
            let secret = self.optional_bool(&fields, "secret").unwrap_or(false);
            if secret && default.is_some() {
                self.error(key.span, format!("secret `{}` has a default", key.text));
            }
            vars.push(EnvVar { name, default, secret, description: self.optional_string(&fields, "description") });
        }
        vars
    }
}

/// `500ms`, `30s`, `2m`.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok().filter(|n| *n > 0)?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.checked_mul(60)?),
        _ => return None,
    };
    (duration <= MAX_DURATION).then_some(duration)
}

/// Decodes a whole recipe; `Err` holds every problem found.
#[cfg(test)]
pub(crate) fn recipe(root: &Node) -> Result<Recipe, Vec<Diagnostic>> {
    match decode_with_broken(root) {
        (Some(recipe), problems, _) if problems.is_empty() => Ok(recipe),
        (_, problems, _) => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        let root = crate::yaml::parse(text).unwrap().0;
        match recipe(&root) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.iter().map(|p| format!("{}:{} {}", p.span.unwrap().line, p.span.unwrap().col, p.message)).collect(),
        }
    }

    #[test]
    fn reports_every_problem_with_its_place() {
        let text = "recipe: 1\nname: x\nstepz: []\nsteps:\n  - id: a\n    reqest: {}\n  - id: b\n    set: {}\n    filter: {from: x}\n";
        assert_eq!(
            problems(text),
            vec![
                "3:1 unknown key `stepz` in the recipe",
                "6:5 unknown key `reqest` in a step",
                "5:5 a step needs an action",
                "9:5 a step has one action, but this one also has `filter`",
            ]
        );
    }

    #[test]
    fn accepts_a_minimal_recipe() {
        assert!(problems("recipe: 1\nname: x\nsteps:\n  - id: a\n    set: {x: 1}\n").is_empty());
    }

    #[test]
    fn checks_jsonpaths_and_durations() {
        let text = "recipe: 1\nname: x\nhttp: {timeout: soon}\nsteps:\n  - id: a\n    filter: {from: x, items: 'matching[*]'}\n";
        assert_eq!(problems(text), vec!["3:17 invalid duration", "6:30 invalid JSONPath `matching[*]`"]);
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("5h"), None);
        assert_eq!(parse_duration("10080m"), Some(MAX_DURATION));
        assert_eq!(parse_duration("10081m"), None, "over a week");
        assert_eq!(parse_duration("18446744073709551615s"), None, "a retry this long overflowed the clock");
        let text = "recipe: 1\nname: x\nhttp:\n  retry: { delay: 18446744073709551615s, max_elapsed: 604801 }\nsteps: []\n";
        assert_eq!(problems(text), vec!["4:19 invalid duration", "4:55 invalid duration"]);
    }

    #[test]
    fn an_invalid_jsonpath_says_where_and_what_the_parser_expected() {
        let text = "recipe: 1\nname: x\nsteps:\n  - id: a\n    filter: { from: '{{ x }}', items: '$.a[?@.b ==]' }\n  - id: b\n    filter: { from: '{{ x }}', items: 'a.b' }\n";
        let root = crate::yaml::parse(text).unwrap().0;
        let problems = recipe(&root).err().unwrap();
        let hints: Vec<&str> = problems.iter().flat_map(|p| p.hints.iter().map(String::as_str)).collect();
        assert_eq!(
            hints,
            vec![
                "at character 12: expected comparable",
                "a JSONPath starts with `$`, e.g. `$.matchingCustomers[*]` or `$.customer.lastName`"
            ]
        );
    }

    #[test]
    fn paginate_next_changes_url_or_query() {
        let text = "recipe: 1\nname: x\nsteps:\n  - id: a\n    request:\n      method: GET\n      url: /a\n      paginate: { next: { querry: { c: '{{ response.body.c }}' } } }\n";
        assert_eq!(problems(text), vec!["8:27 `paginate.next` may change `url` and `query`, not `querry`"]);
    }

    #[test]
    fn headers_are_valid_and_given_once() {
        let text = "recipe: 1\nname: x\nhttp:\n  headers: { X-A: '1', 'bad header': x }\nsteps:\n  - id: a\n    request: { method: GET, url: /a, headers: { X-B: '{{ inputs.v }}', x-b: dup, X-C: \"a\\nb\" } }\n";
        assert_eq!(
            problems(text),
            vec![
                "4:24 `bad header` is not a valid header name",
                "7:72 the header `x-b` is given twice (as `X-B` at line 7): header names ignore case",
                "7:87 the value of the header `X-C` holds a line break or control character",
            ]
        );
    }
}
