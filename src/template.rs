//! Templating: one minijinja environment, strict about undefined values everywhere.
//!
//! This module owns how a [`TemplateString`] or a [`Template`] tree becomes JSON: a string that
//! is exactly `{{ expr }}` yields the expression's own value (number, list, ...), anything else
//! renders to text. Undefined values are errors, including under `tojson`, whose built-in
//! version would print `null`. It also provides the few filters recipes need for dates. It does
//! not know where values come from; callers pass the context.
//!
//! Every template is compiled once: the environment (filters and functions) is one per process,
//! and each [`Engine`] keeps the compiled form of every template string it has seen, keyed by
//! its text, so a batch of thousands of runs never parses a template twice.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock};

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};
use serde_json::Value as Json;

use crate::model::{Template, TemplateKind, TemplateString};

/// A template problem: the message and, when known, the byte range inside the template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub range: Option<std::ops::Range<usize>>,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The one template environment: strict undefined, no escaping, and the added filters.
static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_formatter(format_value);
    env.add_filter("tojson", strict_tojson);
    env.add_filter("datetime_add", datetime_add);
    env.add_filter("datetime_format", datetime_format);
    env.add_filter("reshape", reshape);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("sha256", sha256);
    env.add_filter("hmac_sha256", hmac_sha256);
    env.add_function("now", crate::dynamic::now);
    env.add_function("today", crate::dynamic::today);
    env.add_function("uuid", crate::dynamic::uuid);
    env
});

/// Template sources live as long as the process (compiled templates borrow them); each distinct
/// text is kept once.
fn interned(text: &str) -> &'static str {
    static SOURCES: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Mutex::default);
    let mut sources = SOURCES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(source) = sources.get(text) {
        return source;
    }
    let source: &'static str = Box::leak(text.to_owned().into_boxed_str());
    sources.insert(source);
    source
}

/// A filter, test or function a template calls.
#[derive(Debug, Clone)]
pub struct Callable {
    pub kind: &'static str,
    pub name: String,
    /// Byte offset in the template text.
    pub offset: usize,
    /// The names of that kind that do exist.
    pub known: Vec<String>,
}

const KEYWORDS: &[&str] = &["if", "else", "elif", "not", "and", "or", "in", "is", "for", "set", "loop", "caller", "super"];
/// The builtin filters and tests, for "did you mean" (membership is asked of the environment).
const FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "urlencode",
    "zip",
    "datetime_add",
    "datetime_format",
    "reshape",
    "b64encode",
    "b64decode",
    "sha256",
    "hmac_sha256",
];
const TESTS: &[&str] = &[
    "boolean",
    "defined",
    "divisibleby",
    "endingwith",
    "eq",
    "equalto",
    "escaped",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "greaterthan",
    "gt",
    "in",
    "integer",
    "iterable",
    "le",
    "lessthan",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "safe",
    "sameas",
    "sequence",
    "startingwith",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

/// Whether the environment has a filter, test or function of this name. The listed filters and
/// tests are known (a test asks the environment about each of them); any other name is asked of
/// the environment, once.
fn known(kind: &str, name: &str) -> bool {
    static CACHE: LazyLock<Mutex<HashMap<(String, String), bool>>> = LazyLock::new(Mutex::default);
    if (kind == "filter" && FILTERS.contains(&name)) || (kind == "test" && TESTS.contains(&name)) {
        return true;
    }
    let key = (kind.to_owned(), name.to_owned());
    if let Some(answer) = CACHE.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
        return *answer;
    }
    let answer = asks_environment(kind, name);
    CACHE.lock().unwrap_or_else(PoisonError::into_inner).insert(key, answer);
    answer
}

/// Whether the environment has a filter, test or function of this name, by rendering a template
/// that uses it.
fn asks_environment(kind: &str, name: &str) -> bool {
    if kind == "function" {
        ENVIRONMENT.globals().any(|(global, _)| global == name)
    } else {
        let probe = if kind == "filter" { format!("{{{{ none | {name} }}}}") } else { format!("{{{{ none is {name} }}}}") };
        let unknown = if kind == "filter" { ErrorKind::UnknownFilter } else { ErrorKind::UnknownTest };
        ENVIRONMENT.render_str(&probe, ()).err().is_none_or(|error| error.kind() != unknown)
    }
}

fn known_names(kind: &str) -> Vec<String> {
    match kind {
        "filter" => FILTERS.iter().map(|name| (*name).to_owned()).collect(),
        "test" => TESTS.iter().map(|name| (*name).to_owned()).collect(),
        _ => ENVIRONMENT.globals().map(|(name, _)| name.to_owned()).collect(),
    }
}

/// A compiled template string.
enum Compiled {
    /// A whole expression that is a plain dotted path (`inputs.vin`, `steps.search.body`), or
    /// one with an empty default (`| default(none)`): about two thirds of a recipe's
    /// expressions, read from the context without compiling anything. When a name is missing,
    /// minijinja decides (and applies the default), compiled once into the lock.
    Path(Vec<String>, std::sync::OnceLock<minijinja::Expression<'static, 'static>>),
    Expression(minijinja::Expression<'static, 'static>),
    /// Text made of literal text and plain paths only (request paths, `Basic {{ env.KEY }}`):
    /// written from the context without compiling anything while every path reads text or an
    /// integer. Anything else (a missing name, null, a list...) goes to minijinja, compiled once
    /// into the lock, so values and errors stay minijinja's own.
    Interpolation(Vec<Piece>, std::sync::OnceLock<minijinja::Template<'static, 'static>>),
    Text(minijinja::Template<'static, 'static>),
}

/// A part of an [`Compiled::Interpolation`].
enum Piece {
    Literal(String),
    Path(Vec<String>),
}

/// Renders template strings, compiling each one once.
#[derive(Default)]
pub struct Engine {
    compiled: RwLock<HashMap<String, Arc<Compiled>>>,
}

impl Engine {
    pub fn new() -> Self {
        Self::default()
    }

    /// The names of the functions and filters templates may call (not variables).
    pub fn is_global(&self, name: &str) -> bool {
        ENVIRONMENT.globals().any(|(global, _)| global == name)
    }

    /// Compiles a template string: a syntax error, or every variable path it reads
    /// (`steps.search.body`, `inputs.vin`, `item`...).
    /// Checking compiles into the same cache that rendering reads, so no template is compiled
    /// twice.
    pub fn variables(&self, template: &TemplateString) -> Result<BTreeSet<String>, TemplateError> {
        let expression = match &template.kind {
            TemplateKind::Literal => return Ok(BTreeSet::new()),
            TemplateKind::Expression(expression) => Some(expression.as_str()),
            TemplateKind::Text => None,
        };
        if let Ok(compiled) = self.compiled(&template.text, expression) {
            let variables = match &*compiled {
                Compiled::Path(parts, _) => return Ok(BTreeSet::from([parts.join(".")])),
                Compiled::Interpolation(pieces, _) => {
                    return Ok(pieces
                        .iter()
                        .filter_map(|piece| match piece {
                            Piece::Path(parts) => Some(parts.join(".")),
                            Piece::Literal(_) => None,
                        })
                        .collect());
                }
                Compiled::Expression(expression) => expression.undeclared_variables(true),
                Compiled::Text(text) => text.undeclared_variables(true),
            };
            return Ok(variables.into_iter().collect());
        }
        // A syntax error: compile the whole text, so the error's place is a place in the text.
        let compiled = ENVIRONMENT.template_from_str(interned(&template.text)).map_err(|error| convert(&error))?;
        Ok(compiled.undeclared_variables(true).into_iter().collect())
    }

    /// The filters, tests and functions a template calls that do not exist, with what does.
    pub fn unknown_callables(&self, template: &TemplateString) -> Vec<Callable> {
        let code = crate::template_code::code_only(&template.text);
        let mut found = Vec::new();
        let mut named: HashSet<usize> = HashSet::new();
        for (names, kind) in [(crate::template_code::filters(&code), "filter"), (crate::template_code::tests(&code), "test")] {
            for name in names {
                named.insert(name.start);
                if !known(kind, name.text) {
                    found.push(Callable { kind, name: name.text.to_owned(), offset: name.start, known: known_names(kind) });
                }
            }
        }
        for name in crate::template_code::calls(&code) {
            // Methods (`x.items()`), filters and tests with arguments were seen above.
            if name.text.contains('.') || named.contains(&name.start) || KEYWORDS.contains(&name.text) {
                continue;
            }
            if !known("function", name.text) {
                found.push(Callable { kind: "function", name: name.text.to_owned(), offset: name.start, known: known_names("function") });
            }
        }
        found
    }

    /// The compiled form of `text`, compiling it the first time.
    fn compiled(&self, text: &str, expression: Option<&str>) -> Result<Arc<Compiled>, TemplateError> {
        if let Some(found) = self.compiled.read().unwrap_or_else(PoisonError::into_inner).get(text) {
            return Ok(Arc::clone(found));
        }
        let compiled = Arc::new(match expression {
            Some(expression) if let Some(parts) = plain_path(expression).or_else(|| defaulted_path(expression)) => {
                Compiled::Path(parts, std::sync::OnceLock::new())
            }
            Some(expression) => {
                Compiled::Expression(ENVIRONMENT.compile_expression_owned(expression.to_owned()).map_err(|error| convert(&error))?)
            }
            None if let Some(pieces) = interpolation(text) => Compiled::Interpolation(pieces, std::sync::OnceLock::new()),
            None => Compiled::Text(ENVIRONMENT.template_from_str(interned(text)).map_err(|error| convert(&error))?),
        });
        self.compiled.write().unwrap_or_else(PoisonError::into_inner).insert(text.to_owned(), Arc::clone(&compiled));
        Ok(compiled)
    }

    /// Renders one template string to JSON (typed for a whole expression).
    pub fn render(&self, template: &TemplateString, context: &Value) -> Result<Json, TemplateError> {
        self.render_inner(template, context).map_err(|error| self.explain(template, context, error))
    }

    /// Names the variable behind an "undefined value" error, which minijinja does not.
    fn explain(&self, template: &TemplateString, context: &Value, mut error: TemplateError) -> TemplateError {
        if !error.message.starts_with("undefined value") || error.message.contains('`') {
            return error;
        }
        for path in self.variables(template).unwrap_or_default() {
            let mut current = context.clone();
            let mut walked: Vec<&str> = Vec::new();
            for part in path.split('.') {
                if current.is_none() && !walked.is_empty() {
                    error.message = format!("undefined value: `{}` is null, so it has no `{part}`", walked.join("."));
                    return error;
                }
                let next = current.get_attr(part).unwrap_or(Value::UNDEFINED);
                walked.push(part);
                if next.is_undefined() {
                    error.message = format!("undefined value: `{}` is not defined", walked.join("."));
                    return error;
                }
                current = next;
            }
        }
        error
    }

    fn render_inner(&self, template: &TemplateString, context: &Value) -> Result<Json, TemplateError> {
        let value = match &template.kind {
            TemplateKind::Literal => return Ok(Json::String(template.text.clone())),
            TemplateKind::Expression(expression) => self.evaluate(template, expression, context)?,
            TemplateKind::Text => Value::from(self.render_text(template, context)?),
        };
        to_json(&value)
    }

    fn evaluate(&self, template: &TemplateString, expression: &str, context: &Value) -> Result<Value, TemplateError> {
        let value = match &*self.compiled(&template.text, Some(expression))? {
            Compiled::Path(parts, fallback) => {
                if let Some(value) = read_path(context, parts) {
                    value
                } else {
                    // Not there (or a global, not a context value): minijinja decides, and words
                    // the error, exactly as for any other expression.
                    let compiled = if let Some(compiled) = fallback.get() {
                        compiled
                    } else {
                        let compiled = ENVIRONMENT.compile_expression_owned(expression.to_owned()).map_err(|error| convert(&error))?;
                        fallback.get_or_init(|| compiled)
                    };
                    compiled.eval(context).map_err(|error| convert(&error))?
                }
            }
            Compiled::Expression(compiled) => compiled.eval(context).map_err(|error| convert(&error))?,
            Compiled::Text(_) | Compiled::Interpolation(..) => unreachable!("an expression's text compiles to an expression"),
        };
        reject_undefined(&value)?;
        Ok(value)
    }

    /// Renders a tree, but lets a whole expression that reads shared JSON (`{{ steps.x.body }}`)
    /// borrow it instead of copying it.
    pub fn render_shared(&self, template: &Template, context: &Value) -> Result<Rendered, TemplateError> {
        if let Template::String(text) = template
            && let TemplateKind::Expression(expression) = &text.kind
        {
            let value = self.evaluate(text, expression, context).map_err(|error| self.explain(text, context, error))?;
            if value.downcast_object_ref::<JsonNode>().is_some() {
                return Ok(Rendered::Shared(value));
            }
            return to_json(&value).map(Rendered::Owned);
        }
        self.render_tree(template, context).map(Rendered::Owned)
    }

    /// Renders a template string to text: a whole expression yielding a string gives that
    /// string, any other value its JSON text; `null` is an error here, since it would be sent
    /// as the word "null".
    pub fn render_text(&self, template: &TemplateString, context: &Value) -> Result<String, TemplateError> {
        self.render_text_inner(template, context).map_err(|error| self.explain(template, context, error))
    }

    fn render_text_inner(&self, template: &TemplateString, context: &Value) -> Result<String, TemplateError> {
        match &template.kind {
            TemplateKind::Literal => Ok(template.text.clone()),
            TemplateKind::Expression(_) => match self.render(template, context)? {
                Json::String(text) => Ok(text),
                Json::Null => Err(TemplateError { message: "the expression is null where text is needed".into(), range: None }),
                other => Ok(other.to_string()),
            },
            TemplateKind::Text => match &*self.compiled(&template.text, None)? {
                Compiled::Text(compiled) => compiled.render(context).map_err(|error| convert(&error)),
                Compiled::Interpolation(pieces, fallback) => {
                    if let Some(text) = interpolate(pieces, context) {
                        return Ok(text);
                    }
                    let compiled = if let Some(compiled) = fallback.get() {
                        compiled
                    } else {
                        let compiled = ENVIRONMENT.template_from_str(interned(&template.text)).map_err(|error| convert(&error))?;
                        fallback.get_or_init(|| compiled)
                    };
                    compiled.render(context).map_err(|error| convert(&error))
                }
                Compiled::Path(..) | Compiled::Expression(_) => unreachable!("a text template's text compiles to a template"),
            },
        }
    }

    /// Renders a whole tree, keeping its shape.
    pub fn render_tree(&self, template: &Template, context: &Value) -> Result<Json, TemplateError> {
        Ok(match template {
            Template::Null => Json::Null,
            Template::Bool(b) => Json::Bool(*b),
            Template::Number(n) => Json::Number(n.clone()),
            Template::String(text) => self.render(text, context)?,
            Template::Seq(items) => Json::Array(items.iter().map(|item| self.render_tree(item, context)).collect::<Result<_, _>>()?),
            Template::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(name, value)| Ok((name.text.clone(), self.render_tree(value, context)?)))
                    .collect::<Result<_, TemplateError>>()?,
            ),
        })
    }
}

/// The names of a plain dotted path (`steps.search.body`): identifiers joined by dots, none of
/// them a word the template language reserves. `None` for any other expression.
fn plain_path(expression: &str) -> Option<Vec<String>> {
    const RESERVED: &[&str] = &["true", "false", "none", "True", "False", "None", "self"];
    let parts: Vec<String> = expression.split('.').map(str::to_owned).collect();
    let identifier = |part: &String| {
        let mut chars = part.chars();
        chars.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !RESERVED.contains(&part.as_str())
            && !KEYWORDS.contains(&part.as_str())
    };
    parts.iter().all(identifier).then_some(parts)
}

/// The names of a plain path with an empty default (`steps.customer.item.company | default(none)`,
/// a third of the draft recipe's expressions). When the path is there, the filter returns it
/// unchanged; when it is not, the caller asks minijinja, which applies the default. Only
/// literal empty defaults are taken (`boolean=true`, which also replaces falsy values, is not).
fn defaulted_path(expression: &str) -> Option<Vec<String>> {
    let (path, filter) = expression.split_once('|')?;
    // ASCII whitespace only, as minijinja's lexer (other whitespace is its syntax error).
    let argument = filter.trim_ascii().strip_prefix("default")?.trim_ascii_start().strip_prefix('(')?.strip_suffix(')')?;
    if !matches!(argument.trim_ascii(), "none" | "None" | "''" | "\"\"" | "[]") {
        return None;
    }
    plain_path(path.trim_ascii())
}

/// The pieces of a text that is only literal text and `{{ plain.path }}` interpolations, or
/// `None` for anything else: a block or comment tag, whitespace control (`{{-`), any other
/// expression, or a trailing line break (minijinja drops one; the fast path does not try).
fn interpolation(text: &str) -> Option<Vec<Piece>> {
    if text.contains("{%") || text.contains("{#") || text.ends_with(['\n', '\r']) {
        return None;
    }
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Literal(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}")?;
        let inner = &after[..end];
        if inner.starts_with(['-', '+']) || inner.ends_with(['-', '+']) {
            return None;
        }
        // minijinja skips only ASCII whitespace in a tag; anything else is its syntax error.
        pieces.push(Piece::Path(plain_path(inner.trim_ascii())?));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest.to_owned()));
    }
    Some(pieces)
}

/// Writes an interpolation when every path reads text or an integer, which print as
/// themselves; `None` leaves every other case to minijinja.
fn interpolate(pieces: &[Piece], context: &Value) -> Option<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Literal(text) => out.push_str(text),
            Piece::Path(parts) => {
                let value = read_path(context, parts)?;
                match value.kind() {
                    ValueKind::String => out.push_str(value.as_str()?),
                    ValueKind::Number if value.is_integer() => write!(out, "{value}").ok()?,
                    _ => return None,
                }
            }
        }
    }
    Some(out)
}

/// Reads a plain path as minijinja's attribute lookups would: `None` as soon as a name is not
/// there (the caller then asks minijinja, which also knows globals and words the error).
fn read_path(context: &Value, parts: &[String]) -> Option<Value> {
    let mut current = context.clone();
    for part in parts {
        current = current.get_attr(part).ok()?;
        if current.is_undefined() || current.kind() == minijinja::value::ValueKind::Invalid {
            return None;
        }
    }
    Some(current)
}

/// `"user:pass" | b64encode`: standard base64 of the text's UTF-8 bytes.
fn b64encode(value: &str) -> String {
    crate::mask::base64_encode(value.as_bytes())
}

/// `text | b64decode`: the UTF-8 text that base64 encodes.
fn b64decode(value: &str) -> Result<String, Error> {
    let bytes = crate::mask::base64_decode(value.trim())
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "b64decode: the value is not standard base64"))?;
    String::from_utf8(bytes).map_err(|_| Error::new(ErrorKind::InvalidOperation, "b64decode: the decoded bytes are not UTF-8 text"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
        use std::fmt::Write as _;
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// `text | sha256`: the SHA-256 of the text, in lower-case hex.
fn sha256(value: &str) -> String {
    use sha2::Digest as _;
    hex(&sha2::Sha256::digest(value.as_bytes()))
}

/// `text | hmac_sha256(key)`: the HMAC-SHA256 of the text with `key`, in lower-case hex.
fn hmac_sha256(value: &str, key: &str) -> Result<String, Error> {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes())
        .map_err(|_| Error::new(ErrorKind::InvalidOperation, "hmac_sha256: invalid key"))?;
    mac.update(value.as_bytes());
    Ok(hex(&mac.finalize().into_bytes()))
}

/// Turns JSON data into a template context value (a copy).
pub fn context(data: &Json) -> Value {
    Value::from(minijinja::value::Serde(data))
}

/// Shares JSON with templates without copying it: maps and lists are read in place, through
/// their path from the shared root. A response body of thousands of nodes costs nothing until a
/// template reads it, and then only what it reads.
pub fn shared_json(root: Arc<Json>) -> Value {
    JsonNode::wrap(&root, Vec::new(), &root)
}

/// A rendered value: JSON of its own, or a part of shared JSON.
pub enum Rendered {
    Owned(Json),
    Shared(Value),
}

impl Rendered {
    pub fn json(&self) -> &Json {
        match self {
            Rendered::Owned(json) => json,
            Rendered::Shared(value) => value.downcast_object_ref::<JsonNode>().map_or(&Json::Null, JsonNode::node),
        }
    }
}

/// One map or list inside a shared JSON document.
#[derive(Debug)]
struct JsonNode {
    root: Arc<Json>,
    path: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    Key(String),
    Index(usize),
}

impl JsonNode {
    fn wrap(root: &Arc<Json>, path: Vec<Segment>, node: &Json) -> Value {
        match node {
            Json::Null => Value::from(()),
            Json::Bool(b) => Value::from(*b),
            Json::Number(n) => n
                .as_i64()
                .map(Value::from)
                .or_else(|| n.as_u64().map(Value::from))
                .unwrap_or_else(|| Value::from(n.as_f64().unwrap_or(f64::NAN))),
            Json::String(text) => Value::from(text.as_str()),
            Json::Array(_) | Json::Object(_) => Value::from_object(JsonNode { root: Arc::clone(root), path }),
        }
    }

    fn node(&self) -> &Json {
        let mut node = &*self.root;
        for segment in &self.path {
            node = match (segment, node) {
                (Segment::Key(key), Json::Object(map)) => map.get(key).unwrap_or(&Json::Null),
                (Segment::Index(index), Json::Array(items)) => items.get(*index).unwrap_or(&Json::Null),
                _ => &Json::Null,
            };
        }
        node
    }

    fn child(&self, segment: Segment, node: &Json) -> Value {
        let mut path = self.path.clone();
        path.push(segment);
        Self::wrap(&self.root, path, node)
    }

    /// A copy of the node, for callers that need JSON back.
    fn to_json(&self) -> Json {
        self.node().clone()
    }
}

impl minijinja::value::Object for JsonNode {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        match self.node() {
            Json::Array(_) => minijinja::value::ObjectRepr::Seq,
            _ => minijinja::value::ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match self.node() {
            Json::Object(map) => {
                let key = key.as_str()?;
                map.get(key).map(|child| self.child(Segment::Key(key.to_owned()), child))
            }
            Json::Array(items) => {
                let index = usize::try_from(key.as_i64()?).ok()?;
                items.get(index).map(|child| self.child(Segment::Index(index), child))
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        match self.node() {
            Json::Object(map) => minijinja::value::Enumerator::Values(map.keys().map(|key| Value::from(key.as_str())).collect()),
            Json::Array(items) => minijinja::value::Enumerator::Seq(items.len()),
            _ => minijinja::value::Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match self.node() {
            Json::Object(map) => Some(map.len()),
            Json::Array(items) => Some(items.len()),
            _ => Some(0),
        }
    }

    fn is_true(self: &Arc<Self>) -> bool {
        self.enumerator_len().is_some_and(|len| len > 0)
    }
}

/// A template value as JSON: shared JSON is copied directly, anything else converted.
pub fn to_json(value: &Value) -> Result<Json, TemplateError> {
    if let Some(node) = value.downcast_object_ref::<JsonNode>() {
        return Ok(node.to_json());
    }
    serde_json::to_value(value).map_err(|error| TemplateError { message: error.to_string(), range: None })
}

fn convert(error: &Error) -> TemplateError {
    let message = match (error.kind(), error.detail()) {
        (ErrorKind::UndefinedError, Some(detail)) => format!("undefined value: {detail}"),
        (ErrorKind::UndefinedError, None) => "undefined value".to_owned(),
        (kind, Some(detail)) => format!("{kind}: {detail}"),
        (kind, None) => kind.to_string(),
    };
    TemplateError { message, range: error.range() }
}

fn reject_undefined(value: &Value) -> Result<(), TemplateError> {
    // Shared JSON holds no undefined values: no need to walk it.
    if value.downcast_object_ref::<JsonNode>().is_some() {
        return Ok(());
    }
    let undefined = || TemplateError { message: "undefined value".into(), range: None };
    match value.kind() {
        ValueKind::Undefined => Err(undefined()),
        ValueKind::Seq | ValueKind::Map => {
            for item in value.try_iter().map_err(|error| convert(&error))? {
                reject_undefined(&item)?;
                if value.kind() == ValueKind::Map {
                    reject_undefined(&value.get_item(&item).unwrap_or(Value::UNDEFINED))?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// How a value prints inside text: `null` is an error (it would be sent as a word), lists and
/// maps print as JSON rather than in Python's notation.
fn format_value(out: &mut minijinja::Output, state: &mut minijinja::State, value: &Value) -> Result<(), Error> {
    match value.kind() {
        ValueKind::None => Err(Error::new(ErrorKind::InvalidOperation, "a null value cannot be printed into text; use `default(...)`")),
        ValueKind::Seq | ValueKind::Map if !value.is_undefined() => {
            let json = serde_json::to_string(value).map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))?;
            out.write_str(&json).map_err(|e| Error::new(ErrorKind::WriteFailure, e.to_string()))
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// `tojson` that refuses undefined values instead of printing `null`.
fn strict_tojson(value: &Value, indent: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    if value.is_undefined() {
        return Err(Error::new(ErrorKind::UndefinedError, "`tojson` was given an undefined value"));
    }
    minijinja::filters::tojson(value, indent, kwargs)
}

/// Reads `yyyy-MM-dd HH:mm:ss`, `yyyy-MM-ddTHH:mm:ss` or `yyyy-MM-dd`.
fn parse_datetime(value: &Value) -> Result<jiff::civil::DateTime, Error> {
    let text = value
        .as_str()
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("expected a date-time string, got {}", value.kind())))?;
    let normalised = text.trim().replacen(' ', "T", 1);
    normalised
        .parse::<jiff::civil::DateTime>()
        .or_else(|_| normalised.parse::<jiff::civil::Date>().map(|date| date.to_datetime(jiff::civil::Time::midnight())))
        .map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("`{text}` is not a date-time like 2026-07-22T09:30:00")))
}

/// `{{ start | datetime_add(minutes=15, seconds=-1) }}`: civil (wall-clock) arithmetic,
/// yielding `yyyy-MM-ddTHH:mm:ss`.
fn datetime_add(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let mut end = parse_datetime(value)?;
    let invalid = |error: jiff::Error| Error::new(ErrorKind::InvalidOperation, error.to_string());
    // Each unit is added on its own: a jiff span carries a single sign.
    for unit in ["days", "hours", "minutes", "seconds"] {
        let amount: Option<i64> = kwargs.get(unit)?;
        if let Some(amount) = amount {
            let span = match unit {
                "days" => jiff::Span::new().try_days(amount),
                "hours" => jiff::Span::new().try_hours(amount),
                "minutes" => jiff::Span::new().try_minutes(amount),
                _ => jiff::Span::new().try_seconds(amount),
            }
            .map_err(invalid)?;
            end = end.checked_add(span).map_err(invalid)?;
        }
    }
    kwargs.assert_all_used()?;
    Ok(Value::from(end.strftime("%Y-%m-%dT%H:%M:%S").to_string()))
}

/// `{{ start | datetime_format("%Y-%m-%d") }}`, with strftime directives.
fn datetime_format(value: &Value, format: &str) -> Result<Value, Error> {
    let datetime = parse_datetime(value)?;
    let mut out = String::new();
    jiff::fmt::strtime::format(format, datetime)
        .map(|text| out.push_str(&text))
        .map_err(|error| Error::new(ErrorKind::InvalidOperation, error.to_string()))?;
    Ok(Value::from(out))
}

/// `{{ items | reshape(code='laborOpCode', price='totalPrice') }}`: a list of maps, each
/// rebuilt with the given keys taken from the named fields (missing fields become null).
fn reshape(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let fields: Vec<(String, String)> =
        kwargs.args().map(|key| Ok((key.to_owned(), kwargs.get::<String>(key)?))).collect::<Result<_, Error>>()?;
    kwargs.assert_all_used()?;
    let mut out = Vec::new();
    for item in value.try_iter()? {
        let entries: Vec<(Value, Value)> = fields
            .iter()
            .map(|(key, field)| {
                let found = item.get_attr(field).unwrap_or(Value::UNDEFINED);
                (Value::from(key.as_str()), if found.is_undefined() { Value::from(()) } else { found })
            })
            .collect();
        out.push(Value::from_pairs(entries));
    }
    Ok(Value::from(out))
}

/// Classifies a template string: literal, one whole expression, or text.
pub fn classify(text: &str) -> TemplateKind {
    if !text.contains("{{") && !text.contains("{%") && !text.contains("{#") {
        return TemplateKind::Literal;
    }
    let trimmed = text.trim();
    if let Some(inner) = trimmed.strip_prefix("{{").and_then(|rest| rest.strip_suffix("}}")) {
        let inner = inner.trim_start_matches('-').trim_end_matches('-');
        if !inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%") && trimmed == text {
            // minijinja skips only ASCII whitespace in a tag: anything else stays, for it to
            // report as a syntax error.
            return TemplateKind::Expression(inner.trim_ascii().to_owned());
        }
    }
    TemplateKind::Text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Span;
    use crate::yaml::Style;
    use serde_json::json;

    fn string(text: &str) -> TemplateString {
        TemplateString { text: text.into(), span: Span::default(), style: Style::Plain, kind: classify(text) }
    }

    fn render(text: &str, context: &Json) -> Result<Json, TemplateError> {
        Engine::new().render(&string(text), &super::context(context))
    }

    #[test]
    fn whole_expressions_keep_their_type() {
        let context = json!({"vars": {"codes": ["a", "b"], "n": 3}});
        assert_eq!(render("{{ vars.codes }}", &context).unwrap(), json!(["a", "b"]));
        assert_eq!(render("{{ vars.n + 1 }}", &context).unwrap(), json!(4));
        assert_eq!(render("n={{ vars.n }}", &context).unwrap(), json!("n=3"));
        assert_eq!(render("plain", &context).unwrap(), json!("plain"));
    }

    #[test]
    fn plain_paths_read_what_minijinja_reads() {
        let body = Arc::new(json!({"customers": [{"uuid": "c-1"}], "total": 1, "nothing": null}));
        let context = minijinja::Value::from_pairs([
            ("inputs", minijinja::Value::from(minijinja::value::Serde(json!({"vin": "V1", "n": 3, "flag": false, "gone": null})))),
            ("steps", minijinja::Value::from_pairs([("search", minijinja::Value::from_pairs([("body", shared_json(body))]))])),
        ]);
        let engine = Engine::new();
        for text in [
            "{{ inputs.vin }}",
            "{{ inputs.n }}",
            "{{ inputs.flag }}",
            "{{ inputs.gone }}",
            "{{ inputs }}",
            "{{ steps.search.body }}",
            "{{ steps.search.body.customers }}",
            "{{ steps.search.body.total }}",
            "{{ steps.search.body.nothing }}",
            "{{ inputs.missing }}",
            "{{ inputs.gone.x }}",
            "{{ nowhere.x }}",
            "{{ range }}",
            "{{ inputs.vin.upper }}",
        ] {
            let template = string(text);
            let TemplateKind::Expression(expression) = &template.kind else { panic!("{text} is an expression") };
            assert!(plain_path(expression).is_some(), "{text} takes the plain path");
            let ours = engine.render(&template, &context);
            // minijinja itself, then the same error wording.
            let theirs = ENVIRONMENT
                .compile_expression(expression)
                .and_then(|compiled| compiled.eval(&context))
                .map_err(|error| convert(&error))
                .and_then(|value| reject_undefined(&value).and_then(|()| to_json(&value)))
                .map_err(|error| engine.explain(&template, &context, error));
            assert_eq!(ours.as_ref().map_err(|e| &e.message), theirs.as_ref().map_err(|e| &e.message), "{text}");
            assert_eq!(engine.variables(&template).unwrap(), BTreeSet::from([expression.clone()]), "{text}");
        }
        // The context is really read (not everything undefined and left to minijinja).
        assert_eq!(engine.render(&string("{{ inputs.vin }}"), &context).unwrap(), json!("V1"));
        assert_eq!(engine.render(&string("{{ steps.search.body.total }}"), &context).unwrap(), json!(1));
        for text in ["true", "none", "a.if", "a .b", "a.b[0]", "a.0", "1a", "a.b()", "a|x", "loop.index"] {
            assert!(plain_path(text).is_none(), "{text}");
        }
        for text in [
            "a | default(0)",
            "a | default('', true)",
            "a | default(none) | upper",
            "a | d(none)",
            "a | default(none",
            "a |\u{a0}default(none)",
            "a\u{3000}| default(none)",
            "a | default(\u{b}none)",
        ] {
            assert!(defaulted_path(text).is_none(), "{text}");
        }
        // Whitespace that minijinja's lexer does not skip stays its syntax error, found by the check.
        for text in ["{{\u{a0}inputs.vin }}", "{{ inputs.vin\u{2028}}}", "{{ inputs.vin |\u{a0}default(none) }}"] {
            assert!(engine.variables(&string(text)).is_err(), "{text:?}");
        }
    }

    #[test]
    fn defaulted_paths_read_what_minijinja_reads() {
        let body = Arc::new(json!({"customer": {"company": "ACME", "nothing": null, "blank": "", "no": false}}));
        let context = minijinja::Value::from_pairs([
            ("inputs", minijinja::Value::from(minijinja::value::Serde(json!({"vin": "V1", "gone": null})))),
            ("steps", minijinja::Value::from_pairs([("search", minijinja::Value::from_pairs([("body", shared_json(body))]))])),
        ]);
        let engine = Engine::new();
        for text in [
            "{{ steps.search.body.customer.company | default(none) }}",
            "{{ steps.search.body.customer.nothing | default(none) }}",
            "{{ steps.search.body.customer.blank|default('') }}",
            "{{ steps.search.body.customer.no | default([]) }}",
            "{{ steps.search.body.customer.missing | default(none) }}",
            "{{ steps.search.body.customer.missing | default( [] ) }}",
            "{{ steps.search.body.customer.missing | default(\"\") }}",
            "{{ steps.search.body.gone.deeper | default(none) }}",
            "{{ inputs.gone.x | default(none) }}",
            "{{ nowhere | default(None) }}",
        ] {
            let template = string(text);
            let TemplateKind::Expression(expression) = &template.kind else { panic!("{text} is an expression") };
            assert!(defaulted_path(expression).is_some(), "{text} takes the plain path");
            let ours = engine.render(&template, &context);
            let theirs = ENVIRONMENT
                .compile_expression(expression)
                .and_then(|compiled| compiled.eval(&context))
                .map_err(|error| convert(&error))
                .and_then(|value| reject_undefined(&value).and_then(|()| to_json(&value)))
                .map_err(|error| engine.explain(&template, &context, error));
            assert_eq!(ours.as_ref().map_err(|e| &e.message), theirs.as_ref().map_err(|e| &e.message), "{text}");
            let variables = ENVIRONMENT.compile_expression(expression).unwrap().undeclared_variables(true);
            assert_eq!(engine.variables(&template).unwrap(), variables.into_iter().collect(), "{text}");
        }
        let read = |text: &str| engine.render(&string(text), &context).unwrap();
        assert_eq!(read("{{ steps.search.body.customer.company | default(none) }}"), json!("ACME"));
        assert_eq!(read("{{ steps.search.body.customer.missing | default([]) }}"), json!([]));
    }

    #[test]
    fn interpolations_write_what_minijinja_writes() {
        let body =
            Arc::new(json!({"uuid": "c-1", "total": 12, "big": 18446744073709551615u64, "price": 1.5, "nothing": null, "list": [1]}));
        let context = minijinja::Value::from_pairs([
            ("inputs", minijinja::Value::from(minijinja::value::Serde(json!({"vin": "V1", "n": -3, "flag": false, "gone": null})))),
            ("steps", minijinja::Value::from_pairs([("search", minijinja::Value::from_pairs([("body", shared_json(body))]))])),
        ]);
        let engine = Engine::new();
        let fast = [
            "/customer/{{ inputs.vin }}/list",
            "{{inputs.vin}}{{ steps.search.body.uuid }}",
            "n={{ inputs.n }}&total={{ steps.search.body.total }}&big={{ steps.search.body.big }}",
            "Basic {{ inputs.vin }} ",
            "a }} b {{ inputs.vin }} c }}",
            "\t{{\n inputs.vin\t}}",
            // Left to minijinja at render time: not text or an integer, or not there.
            "price {{ steps.search.body.price }}",
            "flag {{ inputs.flag }}",
            "gone {{ inputs.gone }}",
            "list {{ steps.search.body.list }}",
            "body {{ steps.search.body }}",
            "missing {{ inputs.missing }}",
            "deeper {{ inputs.gone.x }}",
            "global {{ now }}",
        ];
        for text in fast {
            let template = string(text);
            assert_eq!(template.kind, TemplateKind::Text, "{text}");
            assert!(interpolation(text).is_some(), "{text} takes the fast path");
            let ours = engine.render(&template, &context);
            let theirs = ENVIRONMENT
                .template_from_str(text)
                .and_then(|compiled| compiled.render(&context))
                .map(Json::String)
                .map_err(|error| engine.explain(&template, &context, convert(&error)));
            if !text.starts_with("global") {
                assert_eq!(ours.as_ref().map_err(|e| &e.message), theirs.as_ref().map_err(|e| &e.message), "{text}");
            }
            let variables = ENVIRONMENT.template_from_str(text).unwrap().undeclared_variables(true);
            assert_eq!(engine.variables(&template).unwrap(), variables.into_iter().collect(), "{text}");
        }
        assert!(engine.render(&string("global {{ now }}"), &context).is_ok_and(|text| text.as_str().is_some_and(|t| t.len() > 10)));
        let read = |text: &str| engine.render(&string(text), &context).unwrap();
        assert_eq!(read("/customer/{{ inputs.vin }}/list"), json!("/customer/V1/list"));
        assert_eq!(
            read("n={{ inputs.n }}&total={{ steps.search.body.total }}&big={{ steps.search.body.big }}"),
            json!("n=-3&total=12&big=18446744073709551615")
        );
        for text in ["x {{\u{a0}inputs.vin }}", "x {{\u{b}inputs.vin}}", "x {{ inputs.vin\u{3000}}}"] {
            assert!(interpolation(text).is_none(), "{text:?}");
            assert!(engine.variables(&string(text)).is_err(), "{text:?}: minijinja's syntax error");
        }
        for text in [
            "x {{- inputs.vin }}",
            "x {{ inputs.vin -}}",
            "x {{ inputs.vin | upper }}",
            "x {{ inputs['vin'] }}",
            "x {% if true %}{{ inputs.vin }}{% endif %}",
            "x {# note #}{{ inputs.vin }}",
            "x {{ inputs.vin }}\n",
            "x {{ inputs.vin }",
            "x {{{ inputs.vin }}",
            "x {{ true }}",
        ] {
            assert!(interpolation(text).is_none(), "{text}");
        }
    }

    #[test]
    fn undefined_is_an_error_everywhere() {
        let context = json!({"vars": {}});
        assert_eq!(render("{{ vars.missing }}", &context).unwrap_err().message, "undefined value: `vars.missing` is not defined");
        assert_eq!(
            render("{{ vars.gone.x }}", &json!({"vars": {"gone": null}})).unwrap_err().message,
            "undefined value: `vars.gone` is null, so it has no `x`"
        );
        assert!(render("x {{ vars.missing }}", &context).is_err());
        assert!(render("{{ vars.missing | tojson }}", &context).is_err());
        assert!(render("x {{ vars.missing | tojson }}", &context).is_err());
        assert_eq!(render("{{ vars.missing | default('') }}", &context).unwrap(), json!(""));
    }

    #[test]
    fn date_filters_do_wall_clock_arithmetic() {
        let context = json!({"slot": "2026-07-22 09:30:00"});
        assert_eq!(render("{{ slot | datetime_add(minutes=15, seconds=-1) }}", &context).unwrap(), json!("2026-07-22T09:44:59"));
        assert_eq!(render("{{ slot | datetime_format('%Y-%m-%d') }}", &context).unwrap(), json!("2026-07-22"));
        assert!(render("{{ 'soon' | datetime_add(minutes=1) }}", &context).is_err());
    }

    #[test]
    fn text_never_prints_null_or_python_lists() {
        let context = json!({"none": null, "list": ["a", "b"]});
        assert!(render("/x/{{ none }}", &context).unwrap_err().message.contains("null"));
        assert_eq!(render("v={{ list }}", &context).unwrap(), json!(r#"v=["a","b"]"#));
        assert_eq!(render("{{ none }}", &context).unwrap(), json!(null), "a whole expression keeps its type");
    }

    #[test]
    fn reshape_rebuilds_each_map() {
        let context = json!({"ops": [{"laborOpCode": "01OIL", "totalPrice": "59.95"}, {"laborOpCode": "02TIR"}]});
        assert_eq!(
            render("{{ ops | reshape(code='laborOpCode', price='totalPrice') }}", &context).unwrap(),
            json!([{"code": "01OIL", "price": "59.95"}, {"code": "02TIR", "price": null}])
        );
    }

    #[test]
    fn encoding_filters() {
        let empty = json!({});
        assert_eq!(render("{{ 'user:pass' | b64encode }}", &empty).unwrap(), json!("dXNlcjpwYXNz"));
        assert_eq!(render("{{ 'dXNlcjpwYXNz' | b64decode }}", &empty).unwrap(), json!("user:pass"));
        assert!(render("{{ '***' | b64decode }}", &empty).is_err());
        assert_eq!(
            render("{{ 'abc' | sha256 }}", &empty).unwrap(),
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        // RFC 4231, test case 2.
        assert_eq!(
            render("{{ 'what do ya want for nothing?' | hmac_sha256('Jefe') }}", &empty).unwrap(),
            json!("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        assert_eq!(render("{{ 'a b&c' | urlencode }}", &empty).unwrap(), json!("a%20b%26c"));
    }

    #[test]
    fn unknown_filters_tests_and_functions_are_found() {
        let engine = Engine::new();
        let found: Vec<(String, String)> = engine
            .unknown_callables(&string("{{ x | b64encod }} {{ y is definedd }} {{ nwo() }} {{ z | default('| nope') }} {{ a.items() }}"))
            .into_iter()
            .map(|c| (c.kind.to_owned(), c.name))
            .collect();
        assert_eq!(
            found,
            vec![("filter".into(), "b64encod".into()), ("test".into(), "definedd".into()), ("function".into(), "nwo".into())]
        );
    }

    #[test]
    fn the_listed_filters_and_tests_are_known_to_the_environment() {
        for filter in FILTERS {
            assert!(asks_environment("filter", filter), "{filter}");
        }
        for test in TESTS {
            assert!(asks_environment("test", test), "{test}");
        }
        assert!(!asks_environment("filter", "nope") && !asks_environment("test", "nope"));
    }

    #[test]
    fn classifies_strings() {
        assert_eq!(classify("{{ a.b }}"), TemplateKind::Expression("a.b".into()));
        assert_eq!(classify("{{ a }} {{ b }}"), TemplateKind::Text);
        assert_eq!(classify("/x/{{ a }}"), TemplateKind::Text);
        assert_eq!(classify("text"), TemplateKind::Literal);
    }
}
