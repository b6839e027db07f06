//! XPath 1.0 over XML response bodies: the expressions of `bind: { x: { xpath: ... } }` and
//! `assert: [{ xpath: ... }]`, checked when the recipe is read and evaluated on a step's text
//! body.
//!
//! The `anyxml` crate parses the XML and evaluates the expression. This file owns what the recipe
//! language adds around it: the static check (syntax, the core function library, no variables,
//! the namespace prefixes a recipe declares in `http.namespaces`), the refusal of a body that is
//! not well-formed or declares a DTD, and how an XPath result becomes a JSON value. anyxml's
//! documents are not `Send`, so a document lives only inside one call here; the plan keeps the
//! expression's text.

use std::fmt;

use anyxml::sax::XMLReader;
use anyxml::sax::error::SAXParseError;
use anyxml::sax::{EntityResolver, ErrorHandler, SAXHandler};
use anyxml::tree::TreeBuildHandler;
use anyxml::xpath::{XPathExpression, XPathObject, compile};
use serde_json::Value as Json;

use crate::diagnostic::Span;

/// An XPath 1.0 expression of a recipe, with its place.
#[derive(Debug, Clone)]
pub struct XPath {
    pub text: String,
    pub span: Span,
}

/// The core function library of XPath 1.0 (its section 4): every function an expression may call.
const FUNCTIONS: &[&str] = &[
    "last",
    "position",
    "count",
    "id",
    "local-name",
    "namespace-uri",
    "name",
    "string",
    "concat",
    "starts-with",
    "contains",
    "substring-before",
    "substring-after",
    "substring",
    "string-length",
    "normalize-space",
    "translate",
    "boolean",
    "not",
    "true",
    "false",
    "lang",
    "number",
    "sum",
    "floor",
    "ceiling",
    "round",
];

/// The deepest nesting of brackets an expression may have, and of elements a body may have:
/// anyxml compiles, builds documents and evaluates by recursion, and 1,000 levels overflow a
/// 2 MiB thread stack in a debug build. Real expressions and API responses stay far below.
const MAX_EXPRESSION_DEPTH: usize = 64;
const MAX_ELEMENT_DEPTH: usize = 256;

/// Node tests that look like function calls (`text()`).
const NODE_TYPES: &[&str] = &["node", "text", "comment", "processing-instruction"];

/// Operator names, which a `(` may follow (`a and (b or c)`).
const OPERATORS: &[&str] = &["and", "or", "div", "mod"];

/// What is wrong with an expression, found without a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// anyxml cannot compile it; the reason is anyxml's.
    Syntax(String),
    /// A function XPath 1.0 does not have, with the nearest one that exists.
    UnknownFunction { name: String, suggestion: Option<&'static str> },
    /// `$name`: a recipe's expressions have no variables.
    Variable(String),
}

impl Problem {
    /// A hint for the diagnostic.
    pub(crate) fn hint(&self) -> String {
        match self {
            Problem::Syntax(_) => "write an XPath 1.0 expression, for example `/order/id` or `count(//item)`".to_owned(),
            Problem::UnknownFunction { suggestion: Some(suggestion), .. } => format!("did you mean `{suggestion}`?"),
            Problem::UnknownFunction { suggestion: None, .. } => {
                "XPath 1.0 has the core functions only (`count`, `string`, `contains`, `normalize-space`, ...)".to_owned()
            }
            Problem::Variable(_) => "write the value into the expression; a template is not rendered in `xpath`".to_owned(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Syntax(reason) => write!(f, "invalid XPath: {reason}"),
            Problem::UnknownFunction { name, .. } => write!(f, "XPath 1.0 has no function `{name}`"),
            Problem::Variable(name) => write!(f, "an XPath in a recipe has no variables, but this one reads `${name}`"),
        }
    }
}

impl std::error::Error for Problem {}

/// Every problem of an expression that shows without a document: its syntax, its functions and
/// its variables.
pub(crate) fn problems(text: &str) -> Vec<Problem> {
    // anyxml compiles by recursion: a deeper expression could overflow the stack.
    if nesting(text) > MAX_EXPRESSION_DEPTH {
        return vec![Problem::Syntax(format!("brackets nest more than {MAX_EXPRESSION_DEPTH} deep"))];
    }
    if let Err(error) = compile(text) {
        return vec![Problem::Syntax(reason(&format!("{error:?}")))];
    }
    let mut problems = Vec::new();
    for token in names(text) {
        match token {
            Name::Variable(name) => problems.push(Problem::Variable(name)),
            Name::Call(name) if !FUNCTIONS.contains(&name.as_str()) => {
                let suggestion = crate::diagnostic::did_you_mean(&name, FUNCTIONS.iter().copied());
                problems.push(Problem::UnknownFunction { name, suggestion });
            }
            Name::Call(_) | Name::Prefix(_) => {}
        }
    }
    problems
}

/// How deep `(` and `[` nest in an expression, outside its string literals.
fn nesting(text: &str) -> usize {
    let (mut depth, mut deepest, mut quote) = (0usize, 0usize, None);
    for c in text.chars() {
        match (quote, c) {
            (Some(open), _) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, ')' | ']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The namespace prefixes an expression uses (`o` in `/o:order/o:id`), in order, each once.
pub(crate) fn prefixes(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for token in names(text) {
        if let Name::Prefix(prefix) = token
            && !found.contains(&prefix)
            && prefix != "xml"
        {
            found.push(prefix);
        }
    }
    found
}

/// anyxml's compile error (`InvalidPredicate`) in words.
fn reason(debug: &str) -> String {
    let mut words = String::new();
    for (index, c) in debug.chars().enumerate() {
        if c.is_uppercase() && index > 0 {
            words.push(' ');
        }
        words.push(c.to_ascii_lowercase());
    }
    match words.as_str() {
        "invalid n c name" | "expression not terminated" | "unknown error" => {
            "the expression is incomplete or has a stray character".to_owned()
        }
        _ => words.replace("q name", "qualified name"),
    }
}

/// A name in an expression that the static check cares about.
enum Name {
    Call(String),
    Variable(String),
    Prefix(String),
}

/// The function calls, variables and prefixes of an expression, found by a small lexer that
/// skips string literals and numbers (the expression has already compiled).
fn names(text: &str) -> Vec<Name> {
    let chars: Vec<char> = text.chars().collect();
    let is_start = |c: char| c.is_alphabetic() || c == '_';
    let is_name = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
    let mut found = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        if c == '\'' || c == '"' {
            at += 1;
            while at < chars.len() && chars[at] != c {
                at += 1;
            }
            at += 1;
        } else if c.is_ascii_digit() {
            while at < chars.len() && (chars[at].is_ascii_digit() || chars[at] == '.') {
                at += 1;
            }
        } else if c == '$' || is_start(c) {
            let variable = c == '$';
            let start = if variable { at + 1 } else { at };
            let mut end = start;
            while end < chars.len() && is_name(chars[end]) {
                end += 1;
            }
            let mut name: String = chars[start..end].iter().collect();
            // `prefix:local` or `prefix:*`, but not the axis separator `::`.
            if end + 1 < chars.len() && chars[end] == ':' && chars[end + 1] != ':' {
                if !variable {
                    found.push(Name::Prefix(name.clone()));
                }
                end += 1;
                let local = end;
                while end < chars.len() && (is_name(chars[end]) || chars[end] == '*') {
                    end += 1;
                }
                name = format!("{name}:{}", chars[local..end].iter().collect::<String>());
            }
            let mut next = end;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            if variable {
                found.push(Name::Variable(name));
            } else if chars.get(next) == Some(&'(') && !NODE_TYPES.contains(&name.as_str()) && !OPERATORS.contains(&name.as_str()) {
                found.push(Name::Call(name));
            }
            at = end.max(at + 1);
        } else {
            at += 1;
        }
    }
    found
}

/// Why an XPath could not be evaluated on a step's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum XmlError {
    /// The result is JSON (or nothing), not a text body.
    NotText,
    /// The body declares a DTD, whose entities could expand without bound.
    Doctype,
    /// The body is not well-formed XML: the parser's first fatal error, with its place.
    NotWellFormed { line: usize, column: usize, message: String },
    /// The body nests elements deeper than [`MAX_ELEMENT_DEPTH`].
    TooDeep,
    /// anyxml could not evaluate the expression on this document.
    Evaluation(String),
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::NotText => write!(f, "an XPath reads an XML body, but the step's result is not text"),
            XmlError::Doctype => {
                write!(f, "the XML body declares a DTD (`<!DOCTYPE`), which is not read: its entities could expand without bound")
            }
            XmlError::NotWellFormed { line, column, message } => {
                write!(f, "the body is not well-formed XML (line {line}, column {column}: {message})")
            }
            XmlError::TooDeep => write!(
                f,
                "the body nests elements more than {MAX_ELEMENT_DEPTH} deep (or is not XML: an HTML page leaves tags open), which is not read"
            ),
            XmlError::Evaluation(reason) => write!(f, "the XPath cannot be evaluated: {}", self::reason(reason)),
        }
    }
}

impl std::error::Error for XmlError {}

/// The value an expression yields on a step's XML body: a string, number or boolean as XPath
/// computes it, a node-set's first node's string value, or `None` for an empty node-set.
pub(crate) fn evaluate(xpath: &str, namespaces: &[(String, String)], body: &Json) -> Result<Option<Json>, XmlError> {
    Ok(match run(xpath, namespaces, body)? {
        XPathObject::NodeSet(set) if set.is_empty() => None,
        XPathObject::Number(number) => Some(number_json(number)),
        XPathObject::Boolean(truth) => Some(Json::Bool(truth)),
        other => Some(Json::String(other.as_string().map_err(|error| XmlError::Evaluation(format!("{error:?}")))?.into())),
    })
}

/// Whether an expression holds on a step's XML body, by XPath's `boolean()`: a node-set that
/// selects something, a non-empty string, a number other than 0 and NaN, or `true`.
pub(crate) fn holds(xpath: &str, namespaces: &[(String, String)], body: &Json) -> Result<bool, XmlError> {
    run(xpath, namespaces, body)?.as_boolean().map_err(|error| XmlError::Evaluation(format!("{error:?}")))
}

fn run(xpath: &str, namespaces: &[(String, String)], body: &Json) -> Result<XPathObject, XmlError> {
    let Json::String(text) = body else { return Err(XmlError::NotText) };
    let mut expression: XPathExpression = compile(xpath).map_err(|error| XmlError::Evaluation(format!("{error:?}")))?;
    for (prefix, uri) in namespaces {
        expression.add_namespace(prefix, uri).map_err(|error| XmlError::Evaluation(format!("{error:?}")))?;
    }
    let document = parse(text)?;
    expression.evaluate(document).map_err(|error| XmlError::Evaluation(format!("{error:?}")))
}

/// A body parsed as XML, or why it is not well-formed. External entities are never loaded
/// (anyxml's default), and a DTD is refused before parsing, so no entity expands.
fn parse(text: &str) -> Result<anyxml::tree::Document, XmlError> {
    if text.contains("<!DOCTYPE") {
        return Err(XmlError::Doctype);
    }
    if element_depth(text) > MAX_ELEMENT_DEPTH {
        return Err(XmlError::TooDeep);
    }
    let text = placeholders_as_text(text);
    let mut handler = TreeBuildHandler::with_handler(Errors::default());
    handler.coalescing = true;
    let mut reader = XMLReader::builder().set_handler(handler).build();
    let parsed = reader.parse_str(&text, None);
    let handler = reader.handler;
    if let Some(first) = handler.handler.first {
        return Err(first);
    }
    match parsed {
        Err(error) if !handler.fatal_error => Err(XmlError::NotWellFormed { line: 1, column: 1, message: format!("{error:?}") }),
        Err(_) => Err(XmlError::NotWellFormed { line: 1, column: 1, message: "unreadable".to_owned() }),
        Ok(()) if handler.fatal_error => Err(XmlError::NotWellFormed { line: 1, column: 1, message: "unreadable".to_owned() }),
        Ok(()) => Ok(handler.document),
    }
}

/// How deep the elements of a body nest, counted without parsing: start tags (not `<x/>`) open,
/// end tags close; comments, CDATA sections and processing instructions are skipped, and quoted
/// attribute values may hold `>`. On text that is not XML the count may be off; the parser then
/// refuses it anyway.
fn element_depth(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut at, mut depth, mut deepest) = (0, 0usize, 0usize);
    let skip_to = |from: usize, end: &str| text[from..].find(end).map_or(bytes.len(), |found| from + found + end.len());
    while let Some(found) = text[at..].find('<') {
        at += found;
        let rest = &text[at..];
        if rest.starts_with("<!--") {
            at = skip_to(at, "-->");
        } else if rest.starts_with("<![CDATA[") {
            at = skip_to(at, "]]>");
        } else if rest.starts_with("<?") {
            at = skip_to(at, "?>");
        } else if rest.starts_with("</") {
            depth = depth.saturating_sub(1);
            at = skip_to(at, ">");
        } else {
            let mut quote = None;
            let mut end = at + 1;
            while end < bytes.len() {
                match (quote, bytes[end]) {
                    (Some(open), byte) if byte == open => quote = None,
                    (None, byte @ (b'"' | b'\'')) => quote = Some(byte),
                    (None, b'>') => break,
                    _ => {}
                }
                end += 1;
            }
            if bytes.get(end.wrapping_sub(1)) != Some(&b'/') {
                depth += 1;
                deepest = deepest.max(depth);
            }
            at = end + 1;
        }
        if at >= bytes.len() {
            break;
        }
    }
    deepest
}

/// The body with the masker's placeholders (`<vars.token>`, `<API_KEY>`, `<oauth2>`,
/// `<redacted>`, `<volatile:1>`) escaped as text, so that a recorded body, where a secret became
/// its placeholder, is still XML and an XPath reads the placeholder as the replay binds it. A
/// placeholder has no end tag: a real element of the same name (`<redacted>...</redacted>`) is
/// left alone.
fn placeholders_as_text(text: &str) -> std::borrow::Cow<'_, str> {
    static PLACEHOLDER: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"<(vars\.[A-Za-z_][A-Za-z0-9_]*|oauth2|redacted|volatile:[0-9]+|[A-Z_][A-Z0-9_]*)>").expect("a valid pattern")
    });
    PLACEHOLDER.replace_all(text, |found: &regex::Captures| {
        let name = &found[1];
        if text.contains(&format!("</{name}>")) { found[0].to_owned() } else { format!("&lt;{name}&gt;") }
    })
}

/// Keeps the parser's first fatal error (anyxml's default handler would print it).
#[derive(Default)]
struct Errors {
    first: Option<XmlError>,
}

impl ErrorHandler for Errors {
    fn fatal_error(&mut self, error: SAXParseError) {
        if self.first.is_none() {
            self.first = Some(XmlError::NotWellFormed { line: error.line, column: error.column, message: error.message.into_owned() });
        }
    }
}

impl EntityResolver for Errors {}
impl SAXHandler for Errors {}

/// An XPath number as JSON: whole numbers as integers, NaN and the infinities as XPath writes them.
fn number_json(number: f64) -> Json {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if number.is_finite() && number.fract() == 0.0 && number.abs() < EXACT {
        #[allow(clippy::cast_possible_truncation, reason = "a whole number under 2^53")]
        return Json::from(number as i64);
    }
    serde_json::Number::from_f64(number).map_or_else(
        || {
            Json::String(
                if number.is_nan() {
                    "NaN"
                } else if number > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                }
                .to_owned(),
            )
        },
        Json::Number,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: &str = "<order state='open'><id>7</id><item>a</item><item>b</item><total>12.5</total></order>";

    fn eval(xpath: &str) -> Result<Option<Json>, XmlError> {
        evaluate(xpath, &[], &Json::String(ORDER.to_owned()))
    }

    #[test]
    fn each_result_type_becomes_json() {
        assert_eq!(eval("/order/id").unwrap(), Some(Json::String("7".into())), "a node-set: its first node's string value");
        assert_eq!(eval("//item").unwrap(), Some(Json::String("a".into())), "the first in document order");
        assert_eq!(eval("/order/@state").unwrap(), Some(Json::String("open".into())));
        assert_eq!(eval("count(//item)").unwrap(), Some(Json::from(2)));
        assert_eq!(eval("number(/order/total)").unwrap(), Some(serde_json::json!(12.5)));
        assert_eq!(eval("number('x')").unwrap(), Some(Json::String("NaN".into())));
        assert_eq!(eval("/order/id = 7").unwrap(), Some(Json::Bool(true)));
        assert_eq!(eval("concat(/order/id, '-', //item[2])").unwrap(), Some(Json::String("7-b".into())));
        assert_eq!(eval("/order/missing").unwrap(), None, "an empty node-set is nothing");
    }

    #[test]
    fn namespaces_are_the_recipes() {
        let body = Json::String("<o:order xmlns:o='urn:shop'><o:id>9</o:id></o:order>".into());
        let namespaces = [("s".to_owned(), "urn:shop".to_owned())];
        assert_eq!(evaluate("/s:order/s:id", &namespaces, &body).unwrap(), Some(Json::String("9".into())));
        assert_eq!(evaluate("/order/id", &namespaces, &body).unwrap(), None, "an unprefixed name is in no namespace");
    }

    #[test]
    fn a_body_that_is_not_xml_is_refused_with_its_place() {
        let error = evaluate("/a", &[], &Json::String("<a><b></a>".into())).unwrap_err();
        assert!(matches!(error, XmlError::NotWellFormed { line: 1, column: 11, .. }), "{error:?}");
        assert!(error.to_string().contains("not well-formed XML (line 1, column 11"), "{error}");
        assert_eq!(evaluate("/a", &[], &serde_json::json!({"a": 1})).unwrap_err(), XmlError::NotText);
        let bomb = "<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>";
        assert_eq!(evaluate("/a", &[], &Json::String(bomb.into())).unwrap_err(), XmlError::Doctype);
    }

    #[test]
    fn a_recorded_placeholder_reads_as_text() {
        let recorded = Json::String("<a><token><vars.token></token><key><API_KEY></key><redacted>x</redacted></a>".into());
        assert_eq!(evaluate("/a/token", &[], &recorded).unwrap(), Some(Json::String("<vars.token>".into())));
        assert_eq!(evaluate("/a/key", &[], &recorded).unwrap(), Some(Json::String("<API_KEY>".into())));
        assert_eq!(evaluate("/a/redacted", &[], &recorded).unwrap(), Some(Json::String("x".into())), "a real element stays one");
    }

    #[test]
    fn what_would_overflow_the_stack_is_refused() {
        let deep = format!("{}{}", "<a>".repeat(MAX_ELEMENT_DEPTH + 1), "</a>".repeat(MAX_ELEMENT_DEPTH + 1));
        assert_eq!(evaluate("count(//a)", &[], &Json::String(deep)).unwrap_err(), XmlError::TooDeep);
        let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
        assert_eq!(evaluate("/a", &[], &Json::String(deep)).unwrap_err(), XmlError::TooDeep, "refused before parsing");
        let fine = format!("<r a='>'><!-- <x> --><![CDATA[<y>]]><?p <z>?>{}<e/>{}</r>", "<a>".repeat(200), "</a>".repeat(200));
        assert_eq!(element_depth(&fine), 201);
        assert_eq!(evaluate("count(//a)", &[], &Json::String(fine)).unwrap(), Some(Json::from(200)));
        let nested = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(problems(&nested), [Problem::Syntax("brackets nest more than 64 deep".into())]);
        assert!(problems(&format!("{}1{}", "(".repeat(64), ")".repeat(64))).is_empty());
        assert!(problems("string('((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((')").is_empty());
    }

    #[test]
    fn holds_is_xpaths_boolean() {
        let body = Json::String(ORDER.into());
        assert!(holds("/order/item", &[], &body).unwrap());
        assert!(!holds("/order/none", &[], &body).unwrap());
        assert!(holds("count(//item) = 2", &[], &body).unwrap());
        assert!(!holds("count(//item) > 2", &[], &body).unwrap());
    }

    #[test]
    fn static_problems() {
        assert!(problems("/order/id").is_empty());
        assert!(problems("//item[position() = last()]/text()").is_empty());
        assert!(problems("/a[b and (c or d)]").is_empty());
        assert!(problems("string(/a) = 'f(x)'").is_empty(), "a literal is not a call");
        assert!(problems("ancestor::node()").is_empty());
        assert!(matches!(problems("//a[").as_slice(), [Problem::Syntax(_)]));
        assert_eq!(
            problems("coutn(//a)"),
            [Problem::UnknownFunction { name: "coutn".into(), suggestion: Some("count") }],
            "a function XPath 1.0 lacks is found before any document"
        );
        assert_eq!(problems("/a[@id = $id]"), [Problem::Variable("id".into())]);
        assert_eq!(prefixes("/o:order/o:id | //x:*[@xml:lang] | child::p:a"), ["o", "x", "p"]);
        assert!(prefixes("ancestor::a | 'o:b'").is_empty());
    }
}
