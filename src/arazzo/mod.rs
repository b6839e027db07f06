//! `recipe export arazzo`: a checked recipe as an Arazzo 1.0.1 workflow that a runner (Redocly's
//! Respect) runs as it is, with the OpenAPI 3.1 description of the endpoints it calls, or
//! pointing into an existing one (`--openapi`, [`described`]).
//!
//! Every request step is an Arazzo step whose `operationPath` (or reused `operationId`) names
//! its operation ([`openapi`]); its URL's templated parts are path parameters, its `query` and
//! headers (with `http.headers`) parameters, a `json`, `form` or `body` its `requestBody`,
//! `expect.status` its `successCriteria` and the operation's explicit responses, its `auth` a
//! security scheme and an `x-security` entry ([`security`]), and its definite `bind` paths its
//! `outputs`. A `pick` or `filter` that selects by position from one response (the first item,
//! or all of them) becomes outputs of that response's step. Templates become runtime
//! expressions where the languages meet ([`expression`]). What Arazzo cannot express is a
//! warning naming the step and the reason, and goes along as recipe text in `x-recipe-*`
//! extensions, only where the specification allows extensions (steps, parameters, request
//! bodies, the workflow), never inside a JSON Schema and never as a `null` value. This module
//! builds plain JSON values; writing them is the caller's business.

pub(crate) mod criteria;
pub(crate) mod described;
pub(crate) mod error;
pub(crate) mod expression;
pub(crate) mod import;

pub(crate) mod openapi;
pub(crate) mod security;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value as Json, json};

use crate::check::Plan;
use crate::model::{Action, Binding, Format, InputType, Recipe, Request, Step, Template, TemplateKind};
pub(crate) use error::ArazzoError;
use expression::{Translated, Translator};
use openapi::{Api, Operation, Parameter, Piece};
use security::{Credential, Security};

/// The Arazzo document, the OpenAPI description its `sourceDescriptions` names when it was
/// written here, and what could not be expressed (one line each, naming the step).
pub(crate) struct Export {
    pub arazzo: Json,
    pub openapi: Option<Json>,
    pub warnings: Vec<String>,
}

/// The OpenAPI description the workflow points at.
pub(crate) enum Source {
    /// Written by the export, at this URL (relative to the Arazzo document).
    Written(String),
    /// An existing description (`--openapi`), at this URL, whose operations are reused.
    Existing { url: String, document: Json },
}

/// The name of the one source description.
const SOURCE: &str = "api";

/// Exports a checked recipe against `source`. A recipe without a request step cannot be a
/// workflow.
pub(crate) fn export(plan: &Plan, source: &Source) -> Result<Export, ArazzoError> {
    let recipe = plan.recipe();
    let raw = crate::yaml::parse(&plan.source.text).map_or(Json::Null, |(node, _)| node.to_json());
    let requests: BTreeSet<String> =
        recipe.steps.iter().filter(|step| matches!(step.action, Action::Request(_))).map(|step| step.id.text.clone()).collect();
    if requests.is_empty() {
        return Err(ArazzoError::NoRequest(recipe.name.clone()));
    }
    let env_inputs: BTreeMap<String, String> = recipe
        .env
        .iter()
        .map(|var| {
            let name = &var.name.text;
            let taken = recipe.inputs.iter().any(|input| &input.name.text == name);
            (name.clone(), if taken { format!("env_{name}") } else { name.clone() })
        })
        .collect();
    let repeated = recipe
        .steps
        .iter()
        .filter(|step| matches!(step.action, Action::Request(_)) && step.for_each.is_some())
        .map(|step| step.id.text.clone())
        .collect();
    let translator = Translator::new(requests, env_inputs.clone()).with_repeated(repeated);
    let mut warnings = Vec::new();
    let (servers, url) = match source {
        Source::Written(url) => (servers(recipe, &mut warnings), url.clone()),
        Source::Existing { url, .. } => (Vec::new(), url.clone()),
    };
    let described = match source {
        Source::Existing { document, .. } => Some(described::Document::new(document)),
        Source::Written(_) => None,
    };
    let mut writer = Writer { recipe, raw: &raw, translator, api: Api::new(servers), described, warnings, criteria: BTreeMap::new() };
    let mut steps: Vec<StepOut> = Vec::new();
    let mut pending = Vec::new();
    for (index, step) in recipe.steps.iter().enumerate() {
        writer.translator.enter(Some(&step.id.text));
        if let Action::Request(request) = &step.action {
            let mut out = writer.request_step(index, step, request);
            out.before = std::mem::take(&mut pending);
            steps.push(out);
        } else if !writer.other_step(step) {
            // A selection that became outputs is expressed; anything else goes along as text.
            pending.push(extension_step(&raw["steps"][index]));
        }
    }
    writer.translator.enter(None);
    let workflow = writer.workflow(&steps, pending, &env_inputs);
    let mut info = json!({ "title": recipe.name });
    if let Some(description) = &recipe.description {
        info["description"] = json!(description);
    }
    info["version"] = json!("1.0.0");
    let arazzo = json!({
        "arazzo": "1.0.1",
        "info": info,
        "sourceDescriptions": [{ "name": SOURCE, "url": url, "type": "openapi" }],
        "workflows": [workflow],
    });
    let openapi = matches!(source, Source::Written(_)).then(|| writer.api.document(&recipe.name));
    Ok(Export { arazzo, openapi, warnings: writer.warnings })
}

/// One request step, before its outputs are known (later steps may add some).
struct StepOut {
    id: String,
    fields: Map<String, Json>,
    optional: bool,
    /// Bindings with no runtime expression: name and recipe text.
    untranslated: Map<String, Json>,
    /// Recipe steps without an operation that run before this one.
    before: Vec<Json>,
    /// Extensions written after the outputs.
    extensions: Map<String, Json>,
}

struct Writer<'a> {
    recipe: &'a Recipe,
    raw: &'a Json,
    translator: Translator,
    api: Api,
    /// The existing description (`--openapi`), when there is one.
    described: Option<described::Document>,
    warnings: Vec<String>,
    /// Criteria that later selection steps add to a request step, by its id.
    criteria: BTreeMap<String, Vec<Json>>,
}

/// How a step names its operation.
enum Target {
    Path(String),
    Id(String),
    /// No operation of the existing description: Respect's `x-operation`.
    Unmatched,
}

impl Writer<'_> {
    fn warn(&mut self, step: &str, message: impl std::fmt::Display) {
        self.warnings.push(format!("step `{step}`: {message}"));
    }

    /// A filter, pick, set, fail or call step: what it binds is an output where it selects by
    /// position from one response (then it returns true); otherwise it has no runtime
    /// expression, and a warning says so.
    fn other_step(&mut self, step: &Step) -> bool {
        let id = step.id.text.clone();
        let kind = match &step.action {
            Action::Request(_) => "request",
            Action::Filter(_) => "filter",
            Action::Pick(_) => "pick",
            Action::Set(_) => "set",
            Action::Fail(_) => "fail",
            Action::Call(_) => "call",
        };
        let (expressed, unfit) = match criteria::express(&step.action, &self.translator) {
            criteria::Fit::Expressed(expressed) => (Some(expressed), None),
            criteria::Fit::Unfit(reason) => (None, Some(reason)),
            criteria::Fit::Other => (None, None),
        };
        if let Some(expressed) = &expressed {
            if let Some(criterion) = &expressed.criterion {
                self.criteria.entry(expressed.step.clone()).or_default().push(criterion.clone());
            }
            if step.when.is_some() {
                self.warn(&id, "its `when` has no Arazzo form; the selection is exported as if it always ran");
            }
        }
        let Some(selected) = expressed.as_ref().and_then(|expressed| expressed.selected.clone()) else {
            let set = if let Action::Set(values) = &step.action { values.as_slice() } else { &[] };
            for name in set.iter().map(|(name, _)| name).chain(step.bind.iter().map(|(name, _)| name)) {
                self.translator.bind(&name.text, None);
            }
            if let Some(expressed) = expressed.as_ref().filter(|expressed| expressed.conditional) {
                // The check is expressed; what the conditions select is not, and only what
                // reads it (a binding here, a template elsewhere) is warned about.
                let source = &expressed.step;
                for (name, _) in &step.bind {
                    self.warn(&id, format!("`bind.{}` reads the item its conditions select, which has no runtime expression (the count is checked on step `{source}`)", name.text));
                }
                return step.bind.is_empty();
            }
            let reason = match (kind, unfit) {
                (_, Some(reason)) => reason,
                (_, None) if expressed.is_some() => "checks its count with a JSONPath criterion, but chooses by a strategy".to_owned(),
                ("set", None) => "computes values with templates, which have no runtime expression".to_owned(),
                ("fail", None) => "is a guard, which Arazzo cannot state".to_owned(),
                _ => "calls another recipe, which is no workflow of this document".to_owned(),
            };
            self.warn(
                &id,
                format!("a `{kind}` step {reason}; it is kept as recipe text in `x-recipe-steps`, and what reads it is not exported"),
            );
            return false;
        };
        let field = selected.field;
        self.translator.select(&id, selected);
        for (name, binding) in &step.bind {
            let expressed = match binding {
                Binding::Path(path) if field == "item" => {
                    path.pointer().and_then(|pointer| self.translator.bind_selected(&name.text, &id, &pointer))
                }
                _ => None,
            };
            if expressed.is_none() {
                self.translator.bind(&name.text, None);
                self.warn(&id, format!("`bind.{}` is no definite path into the selected item, so no output holds it", name.text));
            }
        }
        true
    }

    /// Query parameters from the URL and from `query:`, one parameter per name: a repeated name
    /// (`status=open&status=closed`) is one parameter whose value is the list; a name without `=`
    /// (`?verbose`) has the empty value; literal text is percent-decoded.
    fn query_parameters(&mut self, url_query: Option<&str>, request: &Request) -> Vec<(String, Translated)> {
        let decoded = |text: &str| {
            if text.contains("{{") { text.to_owned() } else { percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned() }
        };
        let mut query: Vec<(String, Vec<Translated>)> = Vec::new();
        let mut add = |name: String, value: Translated| match query.iter_mut().find(|(known, _)| *known == name) {
            Some((_, values)) => values.push(value),
            None => query.push((name, vec![value])),
        };
        for pair in url_query.iter().flat_map(|query| query.split('&')).filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            add(decoded(name), self.translator.text(&decoded(value)));
        }
        for (name, value) in &request.query {
            if !matches!(value, Template::Null) {
                add(name.text.clone(), self.tree_value(value));
            }
        }
        query
            .into_iter()
            .map(|(name, mut values)| {
                let value = if values.len() == 1 {
                    values.remove(0)
                } else {
                    let items = values.into_iter().map(|value| match value {
                        Translated::Value(value) => value,
                        Translated::Template(text) => Json::String(text),
                    });
                    Translated::Value(Json::Array(items.collect()))
                };
                (name, value)
            })
            .collect()
    }

    fn request_step(&mut self, index: usize, step: &Step, request: &Request) -> StepOut {
        let raw_step = &self.raw["steps"][index];
        let id = step.id.text.clone();
        let url = openapi::split_url(&request.url.text);
        let method = request.method.as_str().to_ascii_lowercase();
        let templates: Vec<&String> =
            url.path.iter().filter_map(|piece| if let Piece::Template(text) = piece { Some(text) } else { None }).collect();
        let mut parameters = Vec::new();
        let (target, template) = self.target(&id, &method, &url.path, &templates, &mut parameters);
        let query = self.query_parameters(url.query.as_deref(), request);
        for (name, value) in query {
            parameters.push(self.parameter(&id, &name, "query", value));
        }
        let mut headers: Vec<(&str, &str)> = Vec::new();
        for (name, value) in self.recipe.http.headers.iter().chain(&request.headers) {
            headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name.text));
            headers.push((&name.text, &value.text));
        }
        for (name, value) in headers {
            let value = self.translator.text(value);
            parameters.push(self.parameter(&id, name, "header", value));
        }
        let (request_body, content_type) = self.request_body(&id, request, &parameters);
        let (security, x_security) = self.security(&id, request);
        let statuses = step.expect.as_ref().map(|expect| expect.status.clone()).unwrap_or_default();
        let mut fields = Map::new();
        fields.insert("stepId".into(), json!(id));
        if let Some(description) = &step.description {
            fields.insert("description".into(), json!(description));
        }
        let operation = match target {
            Target::Path(_) if template.is_some() => {
                let declared = parameters.iter().map(|parameter| self.declared(parameter)).collect();
                let operation = Operation {
                    method: method.clone(),
                    operation_id: id.clone(),
                    summary: step.description.clone(),
                    parameters: declared,
                    content_type,
                    statuses: statuses.clone(),
                    server: url.origin.clone(),
                    security,
                };
                Target::Path(self.api.operation(template.as_deref().unwrap_or_default(), operation))
            }
            target => target,
        };
        self.name_operation(&mut fields, operation, &id, request);
        if let Some(entry) = x_security {
            fields.insert("x-security".into(), entry);
        }
        if !parameters.is_empty() {
            fields.insert("parameters".into(), Json::Array(parameters));
        }
        if let Some(body) = request_body {
            fields.insert("requestBody".into(), body);
        }
        fields.insert("successCriteria".into(), success_criteria(&statuses));
        let mut untranslated = Map::new();
        let repeated = step.for_each.is_some();
        for (name, binding) in &step.bind {
            // A `for_each` step binds one value per element, which no `$response` expression of
            // one response says: such bindings stay recipe text.
            if self.translator.bind(&name.text, (!repeated).then_some(binding)).is_none() {
                untranslated.insert(name.text.clone(), raw_step["bind"][&name.text].clone());
                let why = if repeated { "is bound once per `for_each` element" } else { "is no definite JSONPath or plain template" };
                self.warn(&id, format!("`bind.{}` {why}, so no output holds it (kept in `x-recipe-outputs`)", name.text));
            }
        }
        let extensions = self.step_extensions(&id, step, raw_step);
        StepOut { id, fields, optional: step.optional, untranslated, before: Vec::new(), extensions }
    }

    /// The operation a request calls: in the existing description (its path parameters added
    /// under the description's names), or a path of the written one (`Target::Path` empty, and
    /// the path template returned).
    fn target(
        &mut self,
        id: &str,
        method: &str,
        path: &[Piece],
        templates: &[&String],
        parameters: &mut Vec<Json>,
    ) -> (Target, Option<String>) {
        let Some(described) = &self.described else {
            let (template, names) = self.api.path(path);
            for (name, text) in names.iter().zip(templates) {
                let value = self.translator.text(text);
                parameters.push(self.parameter(id, name, "path", value));
            }
            return (Target::Path(String::new()), Some(template));
        };
        let Some(found) = described.find(method, path) else { return (Target::Unmatched, None) };
        for (name, value) in found.names {
            let value = match value {
                described::PathValue::Template(index) => self.translator.text(templates[index]),
                described::PathValue::Literal(text) => Translated::Value(json!(text)),
            };
            parameters.push(self.parameter(id, &name, "path", value));
        }
        (found.operation_id.map_or(Target::Path(found.pointer), Target::Id), None)
    }

    /// A parameter as the written operation declares it.
    fn declared(&self, parameter: &Json) -> Parameter {
        Parameter {
            name: parameter["name"].as_str().unwrap_or_default().to_owned(),
            location: match parameter["in"].as_str() {
                Some("path") => "path",
                Some("query") => "query",
                _ => "header",
            },
            schema: self.schema_of(&parameter["value"]),
        }
    }

    /// The step's `operationId`, `operationPath` or (with a warning) `x-operation`.
    fn name_operation(&mut self, fields: &mut Map<String, Json>, target: Target, id: &str, request: &Request) {
        match target {
            Target::Id(operation_id) => {
                fields.insert("operationId".into(), json!(operation_id));
            }
            Target::Path(pointer) => {
                fields.insert("operationPath".into(), json!(format!("{{$sourceDescriptions.{SOURCE}.url}}#{pointer}")));
            }
            Target::Unmatched => {
                let method = request.method.as_str();
                self.warn(
                    id,
                    format!(
                        "no operation of the OpenAPI description is `{method} {}`; the step names its request with Respect's `x-operation`",
                        request.url.text
                    ),
                );
                let mut url = match self.translator.text(&request.url.text) {
                    Translated::Value(Json::String(url)) => url,
                    _ => request.url.text.clone(),
                };
                if url.starts_with('/') {
                    let server = self.described.as_ref().and_then(|document| document.server.clone()).unwrap_or_default();
                    url = format!("{server}{url}");
                }
                fields.insert("x-operation".into(), json!({ "method": method.to_ascii_lowercase(), "url": url }));
            }
        }
    }

    /// The recipe keys of a request step that Arazzo cannot state, as `x-recipe-*` extensions,
    /// each with a warning.
    fn step_extensions(&mut self, id: &str, step: &Step, raw_step: &Json) -> Map<String, Json> {
        let mut extensions = Map::new();
        if let Some(when) = &step.when {
            extensions.insert("x-recipe-when".into(), json!(when.text));
            self.warn(id, "its `when` has no Arazzo form; the step always runs (the condition is kept in `x-recipe-when`)");
        }
        if step.optional {
            // Said by the `onFailure` action too; kept for the step with no next step.
            extensions.insert("x-recipe-optional".into(), json!(true));
        }
        let request_extras = without(&raw_step["request"], &["method", "url", "query", "headers", "json", "form", "body", "auth"]);
        // `idempotent` changes what the recipe's runner guards, not the request: no warning.
        let keys: Vec<String> = request_extras.keys().filter(|key| *key != "idempotent").map(|key| format!("`{key}`")).collect();
        if !keys.is_empty() {
            self.warn(id, format!("request option(s) {} have no Arazzo form (kept in `x-recipe-request`)", keys.join(", ")));
        }
        if !request_extras.is_empty() {
            extensions.insert("x-recipe-request".into(), Json::Object(request_extras));
        }
        let expect_extras = without(&raw_step["expect"], &["status"]);
        if !expect_extras.is_empty() {
            let keys: Vec<String> = expect_extras.keys().map(|key| format!("`expect.{key}`")).collect();
            self.warn(
                id,
                format!(
                    "{} {} no Arazzo criterion (kept in `x-recipe-expect`)",
                    keys.join(", "),
                    if keys.len() == 1 { "has" } else { "have" }
                ),
            );
            extensions.insert("x-recipe-expect".into(), Json::Object(expect_extras));
        }
        // Assertions of one response that JSONPath says are criteria of the step.
        let asserted = (step.for_each.is_none() && !step.assert.is_empty()).then(|| criteria::assertions(&step.assert)).flatten();
        let expressed_keys: &[&str] = if asserted.is_some() { &["assert"] } else { &[] };
        if let Some(asserted) = asserted {
            self.criteria.entry(id.to_owned()).or_default().extend(asserted);
        }
        // Every other key of the step (`for_each`, `max_items`, `concurrency`, `assert`, and any
        // added later) goes along as recipe text, never dropped.
        let skipped: Vec<&str> =
            ["id", "description", "when", "optional", "request", "expect", "bind"].iter().chain(expressed_keys).copied().collect();
        for (key, value) in without(raw_step, &skipped) {
            self.warn(id, format!("`{key}` has no Arazzo form (kept in `x-recipe-{key}`)"));
            extensions.insert(format!("x-recipe-{key}"), value);
        }
        extensions
    }

    /// The operation's security and the step's `x-security`, from the request's credential.
    fn security(&mut self, id: &str, request: &Request) -> (Security, Option<Json>) {
        match security::credential(self.recipe.http.auth.as_ref(), request.auth.as_ref()) {
            Credential::None => (Security::Unspecified, None),
            Credential::Anonymous => (Security::Anonymous, None),
            Credential::Unexpressed(reason) => {
                self.warn(id, reason);
                (Security::Unspecified, None)
            }
            Credential::Sent { scheme, values } => {
                let mut written = Map::new();
                for (key, text) in values {
                    match self.translator.text(text) {
                        Translated::Value(value) => {
                            written.insert(key.to_owned(), value);
                        }
                        Translated::Template(text) => {
                            self.warn(
                                id,
                                format!(
                                    "the credential's `{key}` is `{text}`, which has no runtime expression; the step sends no credential"
                                ),
                            );
                            return (Security::Scheme(scheme), None);
                        }
                    }
                }
                let declared = match &self.described {
                    Some(document) => document.scheme_name(scheme).map(str::to_owned),
                    None => Some(scheme.name().to_owned()),
                };
                (Security::Scheme(scheme), Some(security::step_entry(scheme, declared.as_deref(), written)))
            }
        }
    }

    /// A parameter: a value, or the recipe text where no runtime expression says it (with a
    /// warning; never `null`).
    fn parameter(&mut self, step: &str, name: &str, location: &str, value: Translated) -> Json {
        match value {
            Translated::Value(value) => json!({ "name": name, "in": location, "value": value }),
            Translated::Template(text) => {
                self.warn(step, format!("{location} parameter `{name}` is `{text}`, which has no runtime expression (written as that text, marked `x-recipe-template`)"));
                json!({ "name": name, "in": location, "value": text, "x-recipe-template": true })
            }
        }
    }

    /// A template tree as a parameter value: whole, or with the parts that stay templates.
    fn tree_value(&mut self, template: &Template) -> Translated {
        let mut templates = BTreeMap::new();
        let value = self.translator.tree(template, "", &mut templates);
        match templates.remove("") {
            Some(text) => Translated::Template(text),
            None if templates.is_empty() => Translated::Value(value),
            None => Translated::Template(serde_json::to_string(&templates).unwrap_or_default()),
        }
    }

    /// The `requestBody` and its content type, from `json`, `form` or `body`. A part with no
    /// runtime expression is written as its recipe text, listed by JSON Pointer in
    /// `x-recipe-template`, with a warning.
    fn request_body(&mut self, id: &str, request: &Request, parameters: &[Json]) -> (Option<Json>, Option<String>) {
        let header =
            parameters.iter().find(|p| p["in"] == "header" && p["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case("content-type")));
        let declared = header.and_then(|p| p["value"].as_str()).filter(|v| !v.starts_with('$')).map(str::to_owned);
        let mut templates = BTreeMap::new();
        let (content_type, mut payload) = if let Some(json) = &request.json {
            (declared.unwrap_or_else(|| "application/json".into()), self.translator.tree(json, "", &mut templates))
        } else if let Some(form) = &request.form {
            let entries = form.iter().map(|(name, value)| {
                let value = self.translator.tree(value, &format!("/{}", crate::jsonpath::pointer_token(&name.text)), &mut templates);
                (name.text.clone(), value)
            });
            ("application/x-www-form-urlencoded".to_owned(), Json::Object(entries.collect()))
        } else if let Some(body) = &request.body {
            let value = match self.translator.text(&body.text) {
                Translated::Value(value) => value,
                Translated::Template(text) => {
                    templates.insert(String::new(), text);
                    Json::Null
                }
            };
            (declared.unwrap_or_else(|| "text/plain".into()), value)
        } else {
            if request.multipart.is_some() {
                self.warn(id, "a `multipart` body has no Arazzo payload form; the step is written without a body");
            }
            return (None, None);
        };
        for (pointer, text) in &templates {
            if let Some(node) = if pointer.is_empty() { Some(&mut payload) } else { payload.pointer_mut(pointer) } {
                *node = json!(text);
            }
            let place = if pointer.is_empty() { "the body".to_owned() } else { format!("the body's `{pointer}`") };
            self.warn(
                id,
                format!("{place} is `{text}`, which has no runtime expression (written as that text, listed in `x-recipe-template`)"),
            );
        }
        let mut body = json!({ "contentType": content_type, "payload": payload });
        if !templates.is_empty() {
            body["x-recipe-template"] = json!(templates);
        }
        (Some(body), Some(content_type))
    }

    /// A parameter's schema: its input's type, or its literal's.
    fn schema_of(&self, value: &Json) -> Json {
        let input = value
            .as_str()
            .and_then(|text| text.strip_prefix("$inputs."))
            .and_then(|name| self.recipe.inputs.iter().find(|input| input.name.text == name));
        match (input, value) {
            (Some(input), _) => json!({ "type": type_name(input.kind) }),
            (None, Json::Bool(_)) => json!({ "type": "boolean" }),
            (None, Json::Number(number)) if number.is_i64() || number.is_u64() => json!({ "type": "integer" }),
            (None, Json::Number(_)) => json!({ "type": "number" }),
            (None, Json::Array(_)) => json!({ "type": "array" }),
            (None, Json::Object(_)) => json!({ "type": "object" }),
            (None, _) => json!({ "type": "string" }),
        }
    }

    fn workflow(&mut self, steps: &[StepOut], after: Vec<Json>, env_inputs: &BTreeMap<String, String>) -> Json {
        let mut outputs = Map::new();
        let mut untranslated = Map::new();
        for (name, template) in &self.recipe.outputs {
            let translated = match template {
                Template::String(text) => match &text.kind {
                    TemplateKind::Expression(expression) => self.translator.expression(expression),
                    _ => None,
                },
                _ => None,
            };
            if let Some(expression) = translated {
                outputs.insert(name.text.clone(), json!(expression));
            } else {
                let text = self.raw["outputs"][&name.text].clone();
                self.warnings.push(format!(
                    "output `{}` is `{}`, which has no runtime expression (kept in `x-recipe-outputs`)",
                    name.text,
                    text.as_str().map_or_else(|| text.to_string(), str::to_owned)
                ));
                untranslated.insert(name.text.clone(), text);
            }
        }
        let mut workflow = Map::new();
        let workflow_id: String =
            self.recipe.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '-' }).collect();
        workflow.insert("workflowId".into(), json!(workflow_id));
        if let Some(description) = &self.recipe.description {
            workflow.insert("description".into(), json!(description));
        }
        workflow.insert("inputs".into(), self.inputs(env_inputs));
        // Which inputs are environment variables: an extension of the workflow, where the
        // specification allows one (never inside the inputs' JSON Schema).
        let env: Map<String, Json> = self
            .recipe
            .env
            .iter()
            .filter(|var| self.translator.used_env().contains(&var.name.text))
            .map(|var| (env_inputs[&var.name.text].clone(), json!(var.name.text)))
            .collect();
        if !env.is_empty() {
            workflow.insert("x-recipe-env".into(), Json::Object(env));
        }
        let written: Vec<Json> = steps.iter().enumerate().map(|(index, step)| self.step_json(step, steps.get(index + 1))).collect();
        workflow.insert("steps".into(), Json::Array(written));
        if !outputs.is_empty() {
            workflow.insert("outputs".into(), Json::Object(outputs));
        }
        if !untranslated.is_empty() {
            workflow.insert("x-recipe-outputs".into(), Json::Object(untranslated));
        }
        if !after.is_empty() {
            workflow.insert("x-recipe-steps".into(), Json::Array(after));
        }
        let http = without(&self.raw["http"], &["base_url", "headers", "auth"]);
        if !http.is_empty() {
            let keys: Vec<String> = http.keys().map(|key| format!("`http.{key}`")).collect();
            self.warnings.push(format!(
                "{} {} no Arazzo form (kept in the workflow's `x-recipe-http`)",
                keys.join(", "),
                if keys.len() == 1 { "has" } else { "have" }
            ));
            workflow.insert("x-recipe-http".into(), Json::Object(http));
        }
        if let Some(recording) = self.raw.get("recording") {
            workflow.insert("x-recipe-recording".into(), recording.clone());
        }
        Json::Object(workflow)
    }

    fn step_json(&self, step: &StepOut, next: Option<&StepOut>) -> Json {
        let mut fields = step.fields.clone();
        if step.optional
            && let Some(next) = next
        {
            // An optional step's failure does not stop the run: go on with the next step.
            fields.insert("onFailure".into(), json!([{ "name": "optional", "type": "goto", "stepId": next.id }]));
        }
        if let Some(Json::Array(criteria)) = fields.get_mut("successCriteria") {
            criteria.extend(self.criteria.get(&step.id).into_iter().flatten().cloned());
        }
        let outputs: Map<String, Json> =
            self.translator.outputs(&step.id).iter().map(|(name, value)| (name.clone(), json!(value))).collect();
        if !outputs.is_empty() {
            fields.insert("outputs".into(), Json::Object(outputs));
        }
        if !step.untranslated.is_empty() {
            fields.insert("x-recipe-outputs".into(), Json::Object(step.untranslated.clone()));
        }
        fields.extend(step.extensions.clone());
        if !step.before.is_empty() {
            fields.insert("x-recipe-steps".into(), Json::Array(step.before.clone()));
        }
        Json::Object(fields)
    }

    /// The workflow's inputs: a JSON Schema object of the recipe's typed inputs, and of the
    /// environment variables its steps read (a secret one is `format: password`). Nothing but
    /// JSON Schema goes in: runners validate it strictly.
    fn inputs(&self, env_inputs: &BTreeMap<String, String>) -> Json {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for input in &self.recipe.inputs {
            let mut schema = json!({ "type": type_name(input.kind) });
            if let Some(description) = &input.description {
                schema["description"] = json!(description);
            }
            if let Some(pattern) = &input.pattern {
                schema["pattern"] = json!(pattern);
            }
            if let Some(format) = input.format {
                schema["format"] = json!(match format {
                    Format::Date => "date",
                    Format::DateTime => "date-time",
                    Format::Email => "email",
                });
            }
            if let Some(allowed) = &input.allowed {
                schema["enum"] = json!(allowed);
            }
            if let Some(default) = &input.default {
                schema["default"] = default.clone();
            }
            if input.is_required() {
                required.push(json!(input.name.text));
            }
            properties.insert(input.name.text.clone(), schema);
        }
        for var in self.recipe.env.iter().filter(|var| self.translator.used_env().contains(&var.name.text)) {
            let mut schema = json!({ "type": "string" });
            if let Some(description) = &var.description {
                schema["description"] = json!(description);
            }
            if let Some(default) = &var.default {
                schema["default"] = json!(default);
            } else {
                required.push(json!(env_inputs[&var.name.text]));
            }
            if var.secret {
                // A standard JSON Schema annotation: runners mask such inputs.
                schema["format"] = json!("password");
            }
            properties.insert(env_inputs[&var.name.text].clone(), schema);
        }
        let mut schema = json!({ "type": "object", "properties": properties });
        if !required.is_empty() {
            schema["required"] = Json::Array(required);
        }
        schema
    }
}

/// The OpenAPI servers for `http.base_url`: an environment variable's default in place of the
/// variable, so the URL resolves without any variable (runners override it, e.g. Respect's
/// `--server api=URL`); `x-recipe-env` names the variable. A base URL with no default, or
/// computed by a template, is `/` with a warning.
fn servers(recipe: &Recipe, warnings: &mut Vec<String>) -> Vec<Json> {
    let Some(base) = &recipe.http.base_url else { return Vec::new() };
    let mut names = Vec::new();
    let mut url = String::new();
    let mut last = 0;
    let pattern = regex::Regex::new(r"\{\{-?\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}").expect("a valid regex");
    let unresolved = |warnings: &mut Vec<String>, why: &str| {
        warnings.push(format!(
            "`http.base_url` is `{}`, {why}; the OpenAPI server is `/` (give the runner the URL, e.g. `--server {SOURCE}=URL`)",
            base.text
        ));
        vec![json!({ "url": "/", "x-recipe-template": base.text })]
    };
    for captures in pattern.captures_iter(&base.text) {
        let whole = captures.get(0).expect("a match has a whole");
        let name = &captures[1];
        let Some(default) = recipe.env.iter().find(|var| var.name.text == name).and_then(|var| var.default.clone()) else {
            return unresolved(warnings, &format!("and `{name}` has no default"));
        };
        url.push_str(&base.text[last..whole.start()]);
        url.push_str(&default);
        names.push(name.to_owned());
        last = whole.end();
    }
    url.push_str(&base.text[last..]);
    if url.contains("{{") || url.contains("{%") {
        return unresolved(warnings, "which a template computes");
    }
    let mut server = json!({ "url": url });
    if let [name] = names.as_slice() {
        server["x-recipe-env"] = json!(name);
    } else if !names.is_empty() {
        server["x-recipe-template"] = json!(base.text);
    }
    vec![server]
}

/// `expect.status` as criteria: any 2xx by default.
fn success_criteria(statuses: &[u16]) -> Json {
    match statuses {
        [] => json!([{ "condition": "$statusCode >= 200" }, { "condition": "$statusCode < 300" }]),
        statuses => {
            let condition = statuses.iter().map(|status| format!("$statusCode == {status}")).collect::<Vec<_>>().join(" || ");
            json!([{ "condition": condition }])
        }
    }
}

/// A filter, pick, set, fail or call step as recipe text, its action key prefixed:
/// `x-recipe-filter`.
fn extension_step(raw: &Json) -> Json {
    let Some(fields) = raw.as_object() else { return raw.clone() };
    let renamed = fields.iter().map(|(key, value)| {
        let key = if matches!(key.as_str(), "filter" | "pick" | "set" | "fail" | "call") { format!("x-recipe-{key}") } else { key.clone() };
        (key, value.clone())
    });
    Json::Object(renamed.collect())
}

/// The fields of a raw map other than `keys`.
fn without(raw: &Json, keys: &[&str]) -> Map<String, Json> {
    raw.as_object()
        .map(|fields| fields.iter().filter(|(key, _)| !keys.contains(&key.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn type_name(kind: InputType) -> &'static str {
    match kind {
        InputType::String => "string",
        InputType::Integer => "integer",
        InputType::Number => "number",
        InputType::Boolean => "boolean",
        InputType::Array => "array",
        InputType::Object => "object",
    }
}

/// `base`, or else `base_2`, `base_3`, ...: the first name `taken` says is free.
pub(crate) fn unique(base: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut candidate = base.to_owned();
    let mut number = 1;
    while taken(&candidate) {
        number += 1;
        candidate = format!("{base}_{number}");
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers_of(base_url: &str, env: &str) -> (Vec<Json>, Vec<String>) {
        let text = format!(
            "recipe: 1\nname: s\nenv:\n{env}http:\n  base_url: \"{base_url}\"\nsteps:\n  - id: a\n    request: {{ method: GET, url: /a }}\n"
        );
        let plan = crate::check::load_str("s.yaml", &text).unwrap_or_else(|report| panic!("{report}"));
        let mut warnings = Vec::new();
        (servers(plan.recipe(), &mut warnings), warnings)
    }

    #[test]
    fn a_server_url_resolves_without_variables() {
        let (servers, warnings) = servers_of("{{ env.API }}/v2", "  API: { default: \"https://api.test\" }\n");
        assert_eq!(servers, [json!({ "url": "https://api.test/v2", "x-recipe-env": "API" })]);
        assert!(warnings.is_empty());
        let (servers, warnings) = servers_of("{{ env.API }}", "  API: {}\n");
        assert_eq!(servers[0]["url"], "/");
        assert!(warnings[0].contains("`API` has no default"), "{warnings:?}");
    }
}
