//! Templating: one minijinja environment, strict about undefined values everywhere.
//!
//! This module owns how a [`TemplateString`] or a [`Template`] tree becomes JSON: a string that
//! is exactly `{{ expr }}` yields the expression's own value (number, list, ...), anything else
//! renders to text. Undefined values are errors, including under `tojson`, whose built-in
//! version would print `null`. It does not know where values come from; callers pass the
//! context.
//!
//! Every template is compiled once: the environment (filters and functions) is one per process,
//! and each [`Engine`] keeps the compiled form of every template string it has seen, keyed by
//! its text, so a batch of thousands of runs never parses a template twice.
//!
//! - `fast.rs`: plain paths, read without compiling minijinja;
//! - `filters.rs`: what the environment adds (printing into text, strict `tojson`, filters);
//! - `shared.rs`: JSON as template values, shared in place or copied, and back.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock};

mod fast;
mod filters;
mod shared;

use minijinja::value::ValueKind;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};
use serde_json::Value as Json;

use crate::model::{Template, TemplateKind, TemplateString};
use fast::{Piece, defaulted_path, interpolate, interpolation, plain_path, read_path};
use filters::{
    b64decode, b64encode, datetime_add, datetime_format, format_value, hmac_sha256, normalize, reshape, reveal, sha256, strict_tojson,
};
use shared::JsonNode;
pub use shared::context;
pub(crate) use shared::{Rendered, shared_json};

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
    env.add_filter("normalize", normalize);
    env.add_filter("reveal", reveal);
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
    /// What to write instead (a method's filter or test).
    pub instead: Option<String>,
}

/// Methods people reach for (Python's), and minijinja's way to say each: its values have no
/// methods, but filters and tests.
const METHODS_INSTEAD: &[(&str, &str)] = &[
    ("endswith", "x is endingwith('...')"),
    ("startswith", "x is startingwith('...')"),
    ("lower", "x | lower"),
    ("upper", "x | upper"),
    ("title", "x | title"),
    ("capitalize", "x | capitalize"),
    ("strip", "x | trim"),
    ("lstrip", "x | trim"),
    ("rstrip", "x | trim"),
    ("trim", "x | trim"),
    ("replace", "x | replace('a', 'b')"),
    ("split", "x | split(',')"),
    ("join", "x | join(',')"),
    ("items", "x | items"),
    ("keys", "x | list (a map lists its keys)"),
    ("values", "x | items (pairs of key and value)"),
    ("get", "x['key'] | default(none)"),
    ("count", "x | length, or 'a' in x"),
    ("find", "'a' in x"),
    ("index", "'a' in x"),
    ("contains", "'a' in x"),
    ("len", "x | length"),
    ("length", "x | length"),
    ("format", "'%s' | format(x)"),
    ("isdigit", "x is number, or x | int"),
    ("sort", "x | sort"),
    ("reverse", "x | reverse"),
    ("append", "x + [item]"),
    ("tojson", "x | tojson"),
];

/// The methods minijinja's own objects have: `loop.cycle(...)`, `loop.changed(...)`, and the
/// blocks of `self` and `super()` in a template.
fn has_method(receiver: &str, method: &str) -> bool {
    matches!((receiver, method), ("loop", "cycle" | "changed") | ("self" | "caller" | "super", _))
}

/// A method call minijinja cannot make, with what to write instead.
fn unknown_method(receiver: &str, method: &str, offset: usize) -> Option<Callable> {
    if has_method(receiver, method) {
        return None;
    }
    let instead = METHODS_INSTEAD.iter().find(|(name, _)| *name == method).map_or_else(
        || format!("values have no methods in minijinja: use a filter (`x | {method}`) or a test (`x is {method}`) if one exists"),
        |(_, instead)| format!("minijinja has no methods on values; write `{instead}`"),
    );
    Some(Callable { kind: "method", name: method.to_owned(), offset, known: Vec::new(), instead: Some(instead) })
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
    "normalize",
    "reveal",
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

pub(crate) fn known_names(kind: &str) -> Vec<String> {
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
    pub fn is_global(name: &str) -> bool {
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
    pub fn unknown_callables(template: &TemplateString) -> Vec<Callable> {
        Self::unknown_callables_in(&crate::template_code::code_only(&template.text))
    }

    /// The same, given the template's code (`template_code::code_only`).
    pub(crate) fn unknown_callables_in(code: &str) -> Vec<Callable> {
        let mut found = Vec::new();
        let mut named: HashSet<usize> = HashSet::new();
        for (names, kind) in [(crate::template_code::filters(code), "filter"), (crate::template_code::tests(code), "test")] {
            for name in names {
                named.insert(name.start);
                if !known(kind, name.text) {
                    found.push(Callable { kind, name: name.text.to_owned(), offset: name.start, known: known_names(kind), instead: None });
                }
            }
        }
        let calls = crate::template_code::calls(code);
        // `{% macro greet(name) %}` defines `greet` for the rest of the template.
        let macros: HashSet<&str> =
            calls.iter().filter(|name| code[..name.start].trim_end().ends_with("macro")).map(|name| name.text).collect();
        for name in calls {
            // A method (`x.items()`, or `(x).lower()` after a bracket): minijinja values have none.
            // Only with the bracket right after the name: `{{ a.b }} ({{ c }})` calls nothing.
            let called = code.as_bytes().get(name.start + name.text.len()) == Some(&b'(');
            if let (Some((receiver, method)), true) = (name.text.rsplit_once('.'), called) {
                let root = receiver.split('.').next().unwrap_or_default();
                found.extend(unknown_method(root, method, name.start + receiver.len() + 1));
                continue;
            }
            if name.text.contains('.') {
                continue;
            }
            if called && code[..name.start].ends_with('.') {
                found.extend(unknown_method("", name.text, name.start));
                continue;
            }
            // Filters and tests with arguments were seen above.
            if named.contains(&name.start) || KEYWORDS.contains(&name.text) || macros.contains(name.text) {
                continue;
            }
            if !known("function", name.text) {
                found.push(Callable {
                    kind: "function",
                    name: name.text.to_owned(),
                    offset: name.start,
                    known: known_names("function"),
                    instead: None,
                });
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

/// A template value as JSON: shared JSON is copied directly, anything else converted.
pub(crate) fn to_json(value: &Value) -> Result<Json, TemplateError> {
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
/// Classifies a template string: literal, one whole expression, or text.
pub(crate) fn classify(text: &str) -> TemplateKind {
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

    /// `inputs` and a response body at `steps.search.body`, shared as runs share it.
    fn test_context(inputs: Json, body: Arc<Json>) -> Value {
        Value::from_pairs([
            ("inputs", Value::from(minijinja::value::Serde(inputs))),
            ("steps", Value::from_pairs([("search", Value::from_pairs([("body", shared_json(body))]))])),
        ])
    }

    /// What minijinja itself gives for `expression`, with the engine's error wording.
    fn minijinja_evaluates(engine: &Engine, template: &TemplateString, expression: &str, context: &Value) -> Result<Json, TemplateError> {
        ENVIRONMENT
            .compile_expression(expression)
            .and_then(|compiled| compiled.eval(context))
            .map_err(|error| convert(&error))
            .and_then(|value| reject_undefined(&value).and_then(|()| to_json(&value)))
            .map_err(|error| engine.explain(template, context, error))
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
        let context = test_context(json!({"vin": "V1", "n": 3, "flag": false, "gone": null}), body);
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
            let theirs = minijinja_evaluates(&engine, &template, expression, &context);
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
        let context = test_context(json!({"vin": "V1", "gone": null}), body);
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
            let theirs = minijinja_evaluates(&engine, &template, expression, &context);
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
        let context = test_context(json!({"vin": "V1", "n": -3, "flag": false, "gone": null}), body);
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
        let flags = json!({"on": true, "off": false});
        assert_eq!(render("?on={{ on }}&off={{ off }}", &flags).unwrap(), json!("?on=true&off=false"), "not Python's True");
        assert_eq!(render("{{ off }}", &flags).unwrap(), json!(false), "a whole expression keeps its type");
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
        let found: Vec<(String, String)> = Engine::unknown_callables(&string(
                "{{ x | b64encod }} {{ y is definedd }} {{ nwo() }} {{ z | default('| nope') }} {{ a.items() }} {% macro greet(n) %}{{ n }}{% endmacro %}{{ greet(1) }}",
            ))
            .into_iter()
            .map(|c| (c.kind.to_owned(), c.name))
            .collect();
        assert_eq!(
            found,
            vec![
                ("filter".into(), "b64encod".into()),
                ("test".into(), "definedd".into()),
                ("function".into(), "nwo".into()),
                // minijinja's values have no methods (Python's `dict.items()` is `| items`).
                ("method".into(), "items".into())
            ]
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
