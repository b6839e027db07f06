//! `recipe export arazzo`: a checked recipe as an Arazzo 1.0.1 workflow, with the OpenAPI 3.1
//! description of the endpoints it calls.
//!
//! Every request step is an Arazzo step whose `operationPath` points into that description
//! ([`openapi`]); its URL's templated parts are path parameters, its `query` and headers (with
//! `http.headers`) parameters, a `json`, `form` or `body` its `requestBody`, `expect.status` its
//! `successCriteria`, and its definite `bind` paths its `outputs`. Templates become runtime
//! expressions where the languages meet ([`expression`]). What Arazzo cannot express is kept in
//! `x-recipe-*` extensions, never dropped: filter, pick, set, fail and call steps
//! (`x-recipe-steps`, on the request step they run before, or on the workflow after the last
//! one), untranslatable values (`x-recipe-template`), bindings (`x-recipe-outputs`, where a
//! `for_each` step's always go), `when`, `optional`, request options, a request step's other keys
//! (`x-recipe-for_each`, `x-recipe-assert`...) and HTTP defaults. This module builds plain JSON values; writing them is the caller's business.

pub(crate) mod expression;
pub(crate) mod openapi;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value as Json, json};

use crate::check::Plan;
use crate::model::{Action, Format, InputType, Recipe, Request, Step, Template, TemplateKind};
use expression::{Translated, Translator};
use openapi::{Api, Operation, Parameter, Piece};

/// The Arazzo document, and the OpenAPI description its `sourceDescriptions` names.
pub(crate) struct Export {
    pub arazzo: Json,
    pub openapi: Json,
}

/// The name of the one source description.
const SOURCE: &str = "api";

/// Exports a checked recipe; `openapi_url` is where the Arazzo document will find the OpenAPI
/// description (relative to itself). A recipe without a request step cannot be a workflow.
pub(crate) fn export(plan: &Plan, openapi_url: &str) -> Result<Export, String> {
    let recipe = plan.recipe();
    let raw = crate::yaml::parse(&plan.source.text).map_or(Json::Null, |(node, _)| node.to_json());
    let requests: BTreeSet<String> =
        recipe.steps.iter().filter(|step| matches!(step.action, Action::Request(_))).map(|step| step.id.text.clone()).collect();
    if requests.is_empty() {
        return Err(format!("the recipe `{}` sends no request, and an Arazzo workflow needs at least one step", recipe.name));
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
    let mut writer = Writer { recipe, raw: &raw, translator, api: Api::new(servers(recipe)) };
    let mut steps: Vec<StepOut> = Vec::new();
    let mut pending = Vec::new();
    for (index, step) in recipe.steps.iter().enumerate() {
        writer.translator.enter(Some(&step.id.text));
        if let Action::Request(request) = &step.action {
            let mut out = writer.request_step(index, step, request);
            out.before = std::mem::take(&mut pending);
            steps.push(out);
        } else {
            // Values of filter, pick and set steps have no runtime expression.
            let set = if let Action::Set(values) = &step.action { values.as_slice() } else { &[] };
            for name in set.iter().map(|(name, _)| name).chain(step.bind.iter().map(|(name, _)| name)) {
                writer.translator.bind(&name.text, None);
            }
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
        "sourceDescriptions": [{ "name": SOURCE, "url": openapi_url, "type": "openapi" }],
        "workflows": [workflow],
    });
    Ok(Export { arazzo, openapi: writer.api.document(&recipe.name) })
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
}

impl Writer<'_> {
    /// Query parameters from the URL and from `query:`, one parameter per name: a repeated name
    /// (`status=open&status=closed`) is one parameter whose value is the list; a name without `=`
    /// (`?verbose`) has the empty value; literal text is percent-decoded.
    fn query_parameters(&mut self, url_query: Option<&str>, request: &Request) -> Vec<Json> {
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
                parameter(&name, "query", value)
            })
            .collect()
    }

    fn request_step(&mut self, index: usize, step: &Step, request: &Request) -> StepOut {
        let raw_step = &self.raw["steps"][index];
        let id = step.id.text.clone();
        let url = openapi::split_url(&request.url.text);
        let (template, names) = self.api.path(&url.path);
        let mut parameters = Vec::new();
        let templates = url.path.iter().filter_map(|piece| if let Piece::Template(text) = piece { Some(text) } else { None });
        for (name, text) in names.iter().zip(templates) {
            let value = self.translator.text(text);
            parameters.push(parameter(name, "path", value));
        }
        parameters.extend(self.query_parameters(url.query.as_deref(), request));
        let mut headers: Vec<(&str, &str)> = Vec::new();
        for (name, value) in self.recipe.http.headers.iter().chain(&request.headers) {
            headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name.text));
            headers.push((&name.text, &value.text));
        }
        for (name, value) in headers {
            let value = self.translator.text(value);
            parameters.push(parameter(name, "header", value));
        }
        let (request_body, content_type) = self.request_body(request, &parameters);
        let statuses = step.expect.as_ref().map(|expect| expect.status.clone()).unwrap_or_default();
        let declared: Vec<Parameter> = parameters
            .iter()
            .map(|parameter| Parameter {
                name: parameter["name"].as_str().unwrap_or_default().to_owned(),
                location: match parameter["in"].as_str() {
                    Some("path") => "path",
                    Some("query") => "query",
                    _ => "header",
                },
                schema: self.schema_of(&parameter["value"]),
            })
            .collect();
        let operation = Operation {
            method: request.method.as_str().to_ascii_lowercase(),
            operation_id: id.clone(),
            summary: step.description.clone(),
            parameters: declared,
            content_type,
            statuses: statuses.clone(),
            server: url.origin.clone(),
        };
        let pointer = self.api.operation(&template, operation);
        let mut fields = Map::new();
        fields.insert("stepId".into(), json!(id));
        if let Some(description) = &step.description {
            fields.insert("description".into(), json!(description));
        }
        fields.insert("operationPath".into(), json!(format!("{{$sourceDescriptions.{SOURCE}.url}}#{pointer}")));
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
            }
        }
        let mut extensions = Map::new();
        if let Some(when) = &step.when {
            extensions.insert("x-recipe-when".into(), json!(when.text));
        }
        if step.optional {
            extensions.insert("x-recipe-optional".into(), json!(true));
        }
        let request_extras = without(&raw_step["request"], &["method", "url", "query", "headers", "json", "form", "body"]);
        if !request_extras.is_empty() {
            extensions.insert("x-recipe-request".into(), Json::Object(request_extras));
        }
        let expect_extras = without(&raw_step["expect"], &["status"]);
        if !expect_extras.is_empty() {
            extensions.insert("x-recipe-expect".into(), Json::Object(expect_extras));
        }
        // Every other key of the step (`for_each`, `max_items`, `concurrency`, `assert`, and any
        // added later) goes along as recipe text, never dropped.
        for (key, value) in without(raw_step, &["id", "description", "when", "optional", "request", "expect", "bind"]) {
            extensions.insert(format!("x-recipe-{key}"), value);
        }
        StepOut { id, fields, optional: step.optional, untranslated, before: Vec::new(), extensions }
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

    /// The `requestBody` and its content type, from `json`, `form` or `body`.
    fn request_body(&mut self, request: &Request, parameters: &[Json]) -> (Option<Json>, Option<String>) {
        let header =
            parameters.iter().find(|p| p["in"] == "header" && p["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case("content-type")));
        let declared = header.and_then(|p| p["value"].as_str()).filter(|v| !v.starts_with('$')).map(str::to_owned);
        let mut templates = BTreeMap::new();
        let (content_type, payload) = if let Some(json) = &request.json {
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
            return (None, None);
        };
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
                untranslated.insert(name.text.clone(), self.raw["outputs"][&name.text].clone());
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
        let http = without(&self.raw["http"], &["base_url", "headers"]);
        if !http.is_empty() {
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
    /// environment variables its steps read (marked `x-recipe-env`).
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
            schema["x-recipe-env"] = json!(var.name.text);
            if var.secret {
                schema["x-recipe-secret"] = json!(true);
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

/// The OpenAPI servers for `http.base_url`: environment variables become server variables with
/// their defaults (`{MYKAARMA_BASE_URL}`), a literal URL is itself.
fn servers(recipe: &Recipe) -> Vec<Json> {
    let Some(base) = &recipe.http.base_url else { return Vec::new() };
    let mut variables = Map::new();
    let mut url = String::new();
    let mut last = 0;
    let pattern = regex::Regex::new(r"\{\{-?\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}").expect("a valid regex");
    for captures in pattern.captures_iter(&base.text) {
        let whole = captures.get(0).expect("a match has a whole");
        let name = &captures[1];
        let Some(default) = recipe.env.iter().find(|var| var.name.text == name).and_then(|var| var.default.clone()) else {
            return vec![json!({ "url": "/", "x-recipe-template": base.text })];
        };
        url.push_str(&base.text[last..whole.start()]);
        url.push_str(&format!("{{{name}}}"));
        variables
            .insert(name.to_owned(), json!({ "default": default, "description": format!("the recipe's environment variable `{name}`") }));
        last = whole.end();
    }
    url.push_str(&base.text[last..]);
    if url.contains("{{") || url.contains("{%") {
        return vec![json!({ "url": "/", "x-recipe-template": base.text })];
    }
    let mut server = json!({ "url": url });
    if !variables.is_empty() {
        server["variables"] = Json::Object(variables);
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

fn parameter(name: &str, location: &str, value: Translated) -> Json {
    match value {
        Translated::Value(value) => json!({ "name": name, "in": location, "value": value }),
        Translated::Template(text) => json!({ "name": name, "in": location, "value": null, "x-recipe-template": text }),
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
