//! Recipe templates as Arazzo runtime expressions, where the two languages meet.
//!
//! `{{ inputs.x }}` is `$inputs.x`; `{{ env.X }}` is `$inputs.X` (environment variables become
//! workflow inputs); `{{ vars.x }}` is `$steps.S.outputs.x` when a request step `S` binds `x`
//! through a definite `JSONPath` (`$response.body#/json/pointer`); `{{ steps.S.body.a.b }}`,
//! `steps.S.status` and `steps.S.headers.h` add an output to step `S` and read it. Text around
//! expressions is kept by embedding them (`Basic {$inputs.X}`). Anything else (filters, function
//! calls, values bound by filter, pick and set steps, statements) cannot be written as a runtime
//! expression: it is returned as untranslatable, and the caller keeps the template text in an
//! `x-recipe-template` extension. This module keeps the outputs it adds to steps.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value as Json;

use crate::jsonpath::pointer_token;
use crate::model::{Binding, Template, TemplateKind};

/// A value for the Arazzo document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Translated {
    /// A literal value, a runtime expression (`$inputs.x`) or a string embedding some.
    Value(Json),
    /// Recipe template text with no runtime-expression equivalent.
    Template(String),
}

static EXPRESSION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{\{-?\s*(.*?)\s*-?\}\}").expect("a valid regex"));
static DOTTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\])*$").expect("a valid regex"));
static PART: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+").expect("a valid regex"));

/// Translation state for one workflow: where each `vars` name comes from, and every step's
/// outputs (bound or added).
pub(crate) struct Translator {
    /// Recipe steps that are Arazzo steps (requests).
    request_steps: BTreeSet<String>,
    /// Request steps with `for_each`: one response per element, so `steps.ID.body` read by any
    /// other step is no single response's value.
    repeated: BTreeSet<String>,
    /// `vars.x` -> the Arazzo step and output that hold it; `None` when no output can.
    vars: BTreeMap<String, Option<(String, String)>>,
    /// Each step's outputs in order: name and runtime expression.
    outputs: BTreeMap<String, Vec<(String, String)>>,
    /// The workflow input each environment variable becomes.
    env_inputs: BTreeMap<String, String>,
    used_env: BTreeSet<String>,
    /// The step being written: its own response is `$response`, not `$steps.S.outputs`.
    current: Option<String>,
    /// `pick` and `filter` steps that select by position from one request step's response:
    /// their `item` (or `items`) as that step and a JSON Pointer into its body.
    selections: BTreeMap<String, Selected>,
}

/// What a `pick` or `filter` step stands for: a place in one request step's response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selected {
    /// The request step whose body it selects from.
    pub step: String,
    /// The JSON Pointer of the selected value in that body.
    pub pointer: String,
    /// `item` (one value) or `items` (the list).
    pub field: &'static str,
}

impl Translator {
    pub(crate) fn new(request_steps: BTreeSet<String>, env_inputs: BTreeMap<String, String>) -> Self {
        Self {
            request_steps,
            repeated: BTreeSet::new(),
            vars: BTreeMap::new(),
            outputs: BTreeMap::new(),
            env_inputs,
            used_env: BTreeSet::new(),
            current: None,
            selections: BTreeMap::new(),
        }
    }

    /// Marks the request steps that run once per `for_each` element.
    #[must_use]
    pub(crate) fn with_repeated(mut self, repeated: BTreeSet<String>) -> Self {
        self.repeated = repeated;
        self
    }

    /// Starts (or ends, with `None`) the translation of one step.
    pub(crate) fn enter(&mut self, step: Option<&str>) {
        self.current = step.map(str::to_owned);
    }

    /// The outputs of `step`, bound and added.
    pub(crate) fn outputs(&self, step: &str) -> &[(String, String)] {
        self.outputs.get(step).map_or(&[], Vec::as_slice)
    }

    /// Environment variables read by a translated value.
    pub(crate) fn used_env(&self) -> &BTreeSet<String> {
        &self.used_env
    }

    /// Records a step's binding: an output of the current (request) step when it can be one;
    /// otherwise `vars.name` has no runtime expression. Returns the output's expression.
    pub(crate) fn bind(&mut self, name: &str, binding: Option<&Binding>) -> Option<String> {
        let step = self.current.clone().filter(|step| self.request_steps.contains(step));
        let expression = match (binding, &step) {
            (Some(Binding::Path(path)), Some(_)) => path.pointer().map(|pointer| body_expression(&pointer)),
            (Some(Binding::Template(Template::String(text))), Some(_)) => match &text.kind {
                TemplateKind::Expression(expression) => self.expression(expression),
                _ => None,
            },
            _ => None,
        };
        let target = match (step, &expression) {
            (Some(step), Some(expression)) => {
                let name = self.add_output(&step, name, expression);
                Some((step, name))
            }
            _ => None,
        };
        self.vars.insert(name.to_owned(), target);
        expression
    }

    /// The request step and body pointer a `from:` template reads (`{{ steps.S.body.a }}`), when
    /// it is one response's body: a `for_each` step's is not.
    pub(crate) fn body_of(&self, from: &Template) -> Option<(String, String)> {
        let Template::String(text) = from else { return None };
        let TemplateKind::Expression(expression) = &text.kind else { return None };
        if !DOTTED.is_match(expression.trim()) {
            return None;
        }
        let parts: Vec<&str> = PART.find_iter(expression).map(|found| found.as_str()).collect();
        match parts.as_slice() {
            ["steps", step, "body", rest @ ..] if self.request_steps.contains(*step) && !self.repeated.contains(*step) => {
                Some(((*step).to_owned(), rest.iter().flat_map(|part| ["/".to_owned(), pointer_token(part)]).collect()))
            }
            _ => None,
        }
    }

    /// Records that the `pick` or `filter` step `id` stands for a place in a response.
    pub(crate) fn select(&mut self, id: &str, selected: Selected) {
        self.selections.insert(id.to_owned(), selected);
    }

    /// Records a binding of a selecting step: a definite path into what it selected, as an
    /// output of the request step it selects from. Returns the output's expression.
    pub(crate) fn bind_selected(&mut self, name: &str, selection: &str, pointer: &str) -> Option<String> {
        let selected = self.selections.get(selection)?.clone();
        let expression = body_expression(&format!("{}{pointer}", selected.pointer));
        let output = self.add_output(&selected.step, name, &expression);
        self.vars.insert(name.to_owned(), Some((selected.step, output)));
        Some(expression)
    }

    /// A template string: a literal, a runtime expression, text with embedded expressions, or
    /// untranslatable.
    pub(crate) fn text(&mut self, text: &str) -> Translated {
        match crate::template::classify(text) {
            TemplateKind::Literal => Translated::Value(Json::String(text.to_owned())),
            TemplateKind::Expression(expression) => {
                self.expression(&expression).map_or_else(|| Translated::Template(text.to_owned()), |e| Translated::Value(Json::String(e)))
            }
            TemplateKind::Text => {
                self.embedded(text).map_or_else(|| Translated::Template(text.to_owned()), |e| Translated::Value(Json::String(e)))
            }
        }
    }

    /// A template tree (a `json:` body, a query value) as a value; untranslatable strings are
    /// `null` in the value and listed, by JSON Pointer, in `templates`.
    pub(crate) fn tree(&mut self, template: &Template, pointer: &str, templates: &mut BTreeMap<String, String>) -> Json {
        match template {
            Template::Null => Json::Null,
            Template::Bool(value) => Json::Bool(*value),
            Template::Number(number) => Json::Number(number.clone()),
            Template::String(text) => match self.text(&text.text) {
                Translated::Value(value) => value,
                Translated::Template(text) => {
                    templates.insert(pointer.to_owned(), text);
                    Json::Null
                }
            },
            Template::Seq(items) => Json::Array(
                items.iter().enumerate().map(|(index, item)| self.tree(item, &format!("{pointer}/{index}"), templates)).collect(),
            ),
            Template::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(name, value)| {
                        (name.text.clone(), self.tree(value, &format!("{pointer}/{}", pointer_token(&name.text)), templates))
                    })
                    .collect(),
            ),
        }
    }

    /// Text whose every `{{ ... }}` translates, with them embedded as `{$...}`.
    fn embedded(&mut self, text: &str) -> Option<String> {
        if text.contains("{%") || text.contains("{#") {
            return None;
        }
        let mut out = String::new();
        let mut last = 0;
        for captures in EXPRESSION.captures_iter(text) {
            let whole = captures.get(0)?;
            let literal = &text[last..whole.start()];
            if literal.contains(['{', '}']) {
                return None;
            }
            out.push_str(literal);
            out.push('{');
            out.push_str(&self.expression(&captures[1])?);
            out.push('}');
            last = whole.end();
        }
        let literal = &text[last..];
        if literal.contains(['{', '}']) {
            return None;
        }
        out.push_str(literal);
        Some(out)
    }

    /// One minijinja expression as a runtime expression, when it is a plain name path.
    pub(crate) fn expression(&mut self, expression: &str) -> Option<String> {
        let expression = expression.trim();
        if !DOTTED.is_match(expression) {
            return None;
        }
        let parts: Vec<&str> = PART.find_iter(expression).map(|found| found.as_str()).collect();
        match parts.as_slice() {
            ["inputs", name] => Some(format!("$inputs.{name}")),
            ["env", name] => {
                let input = self.env_inputs.get(*name)?.clone();
                self.used_env.insert((*name).to_owned());
                Some(format!("$inputs.{input}"))
            }
            ["vars", name] => {
                let (step, output) = self.vars.get(*name)?.clone()?;
                Some(format!("$steps.{step}.outputs.{output}"))
            }
            ["steps", step, field, rest @ ..] if self.selections.get(*step).is_some_and(|selected| selected.field == *field) => {
                let selected = self.selections[*step].clone();
                let pointer: String = rest.iter().flat_map(|part| ["/".to_owned(), pointer_token(part)]).collect();
                let hint = rest.iter().rev().find(|part| !part.chars().all(|c| c.is_ascii_digit())).copied().unwrap_or(step);
                let output = self.add_output(&selected.step, hint, &body_expression(&format!("{}{pointer}", selected.pointer)));
                Some(format!("$steps.{}.outputs.{output}", selected.step))
            }
            ["steps", step, field, rest @ ..]
                if self.request_steps.contains(*step) && (!self.repeated.contains(*step) || self.current.as_deref() == Some(*step)) =>
            {
                let (hint, response) = match (*field, rest) {
                    ("body", rest) => {
                        let pointer: String = rest.iter().flat_map(|part| ["/".to_owned(), pointer_token(part)]).collect();
                        let hint = rest.iter().rev().find(|part| !part.chars().all(|c| c.is_ascii_digit())).copied().unwrap_or("body");
                        (hint, body_expression(&pointer))
                    }
                    ("status", []) => ("status", "$statusCode".to_owned()),
                    ("headers", [header]) => (*header, format!("$response.header.{header}")),
                    _ => return None,
                };
                if self.current.as_deref() == Some(*step) {
                    return Some(response);
                }
                let output = self.add_output(step, hint, &response);
                Some(format!("$steps.{step}.outputs.{output}"))
            }
            _ => None,
        }
    }

    /// Adds an output to `step` (or finds the one with this expression); returns its name.
    fn add_output(&mut self, step: &str, hint: &str, expression: &str) -> String {
        let outputs = self.outputs.entry(step.to_owned()).or_default();
        if let Some((name, _)) = outputs.iter().find(|(_, existing)| existing == expression) {
            return name.clone();
        }
        let base: String = hint.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
        let name = super::unique(&base, |candidate| outputs.iter().any(|(name, _)| name == candidate));
        outputs.push((name.clone(), expression.to_owned()));
        name
    }
}

/// `$response.body`, with a JSON Pointer fragment when the pointer is not empty.
fn body_expression(pointer: &str) -> String {
    if pointer.is_empty() { "$response.body".to_owned() } else { format!("$response.body#{pointer}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translator() -> Translator {
        let steps = ["search", "draft"].iter().map(|s| (*s).to_owned()).collect();
        Translator::new(steps, BTreeMap::from([("TOKEN".to_owned(), "TOKEN".to_owned())]))
    }

    fn value(text: &str) -> Json {
        Json::String(text.into())
    }

    #[test]
    fn names_become_runtime_expressions() {
        let mut t = translator();
        assert_eq!(t.text("{{ inputs.vin }}"), Translated::Value(value("$inputs.vin")));
        assert_eq!(t.text("Basic {{ env.TOKEN }}"), Translated::Value(value("Basic {$inputs.TOKEN}")));
        assert_eq!(t.text("/a/{{ inputs.x }}/b"), Translated::Value(value("/a/{$inputs.x}/b")));
        assert_eq!(t.text("{{ steps.draft.body.shortUrl }}"), Translated::Value(value("$steps.draft.outputs.shortUrl")));
        assert_eq!(t.outputs("draft"), [("shortUrl".to_owned(), "$response.body#/shortUrl".to_owned())]);
        assert_eq!(t.text("{{ steps.search.status }}"), Translated::Value(value("$steps.search.outputs.status")));
    }

    #[test]
    fn what_has_no_equivalent_stays_a_template() {
        let mut t = translator();
        for text in ["{{ inputs.x | default('') }}", "{{ uuid() }}", "{{ vars.unknown }}", "{% if x %}y{% endif %}", "{ {{ inputs.x }} }"] {
            assert_eq!(t.text(text), Translated::Template(text.into()), "{text}");
        }
        t.enter(Some("customer"));
        t.bind("customer_uuid", None);
        assert_eq!(t.text("{{ vars.customer_uuid }}"), Translated::Template("{{ vars.customer_uuid }}".into()));
    }

    #[test]
    fn bindings_of_request_steps_are_outputs() {
        let mut t = translator();
        t.enter(Some("search"));
        let path = crate::jsonpath::Path::parse("$.customer.customerUuid", crate::diagnostic::Span::default()).unwrap();
        assert_eq!(t.bind("id", Some(&Binding::Path(path))).as_deref(), Some("$response.body#/customer/customerUuid"));
        t.enter(Some("draft"));
        assert_eq!(t.text("{{ vars.id }}"), Translated::Value(value("$steps.search.outputs.id")));
        assert_eq!(t.text("{{ steps.draft.body.x }}"), Translated::Value(value("$response.body#/x")));
    }

    #[test]
    fn a_for_each_step_is_no_single_response_to_other_steps() {
        let mut t = translator().with_repeated(["search".to_owned()].into());
        t.enter(Some("draft"));
        for text in ["{{ steps.search.body.total }}", "{{ steps.search.status }}"] {
            assert_eq!(t.text(text), Translated::Template(text.into()), "{text}");
        }
        assert!(t.outputs("search").is_empty());
        assert_eq!(
            t.body_of(&Template::String(crate::model::TemplateString {
                text: "{{ steps.search.body }}".into(),
                span: crate::diagnostic::Span::default(),
                style: crate::yaml::Style::Quoted,
                kind: TemplateKind::Expression("steps.search.body".into()),
            })),
            None
        );
        // Its own templates (an `assert`, run per element) read each element's response.
        t.enter(Some("search"));
        assert_eq!(t.text("{{ steps.search.status }}"), Translated::Value(value("$statusCode")));
    }
}

#[cfg(test)]
mod selection_tests {
    use super::*;

    #[test]
    fn a_selection_by_position_reads_the_response_it_selects_from() {
        let mut t = Translator::new(["orders".to_owned()].into(), BTreeMap::new());
        t.select("first", Selected { step: "orders".into(), pointer: "/orders/0".into(), field: "item" });
        t.enter(Some("order"));
        assert_eq!(t.text("{{ steps.first.item.id }}"), Translated::Value(Json::String("$steps.orders.outputs.id".into())));
        assert_eq!(t.bind_selected("total", "first", "/total").as_deref(), Some("$response.body#/orders/0/total"));
        assert_eq!(t.text("{{ vars.total }}"), Translated::Value(Json::String("$steps.orders.outputs.total".into())));
        assert_eq!(t.text("{{ steps.first.items }}"), Translated::Template("{{ steps.first.items }}".into()));
        assert_eq!(t.outputs("orders").len(), 2);
    }
}
