//! One request step as an Arazzo step: the operation it calls (written, or found in an existing
//! description), its path, query and header parameters, its request body, the credential it
//! sends, its status criteria, its outputs, and a warning for each key Arazzo cannot state.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use super::expression::Translated;
use super::openapi::{self, Operation, Parameter, Piece};
use super::security::{self, Credential, Security};
use super::{SOURCE, StepOut, Writer, criteria, described, type_name, without};
use crate::model::{Request, Step, Template};

/// Where a request's operation is.
enum Target {
    /// At a path template of the description the export writes; the operation is added once the
    /// step's parameters are known.
    Written(String),
    /// In the existing description, or not there.
    Described(Named),
}

/// How a step names its operation.
enum Named {
    /// An `operationPath` pointer.
    Path(String),
    Id(String),
    /// No operation of the existing description: Respect's `x-operation`.
    Unmatched,
}

impl Writer<'_> {
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

    pub(super) fn request_step(&mut self, index: usize, step: &Step, request: &Request) -> StepOut {
        let raw_step = &self.raw["steps"][index];
        let id = step.id.text.clone();
        let url = openapi::split_url(&request.url.text);
        let method = request.method.as_str().to_ascii_lowercase();
        let templates: Vec<&String> =
            url.path.iter().filter_map(|piece| if let Piece::Template(text) = piece { Some(text) } else { None }).collect();
        let mut parameters = Vec::new();
        let target = self.target(&id, &method, &url.path, &templates, &mut parameters);
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
            Target::Written(template) => {
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
                Named::Path(self.api.operation(&template, operation))
            }
            Target::Described(named) => named,
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
    /// under the description's names), or a path of the written one.
    fn target(&mut self, id: &str, method: &str, path: &[Piece], templates: &[&String], parameters: &mut Vec<Json>) -> Target {
        let Some(described) = &self.described else {
            let (template, names) = self.api.path(path);
            for (name, text) in names.iter().zip(templates) {
                let value = self.translator.text(&openapi::unencoded(text));
                parameters.push(self.parameter(id, name, "path", value));
            }
            return Target::Written(template);
        };
        let Some(found) = described.find(method, path) else { return Target::Described(Named::Unmatched) };
        for (name, value) in found.names {
            let value = match value {
                described::PathValue::Template(index) => self.translator.text(&openapi::unencoded(templates[index])),
                described::PathValue::Literal(text) => Translated::Value(json!(text)),
            };
            parameters.push(self.parameter(id, &name, "path", value));
        }
        Target::Described(found.operation_id.map_or(Named::Path(found.pointer), Named::Id))
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
    fn name_operation(&mut self, fields: &mut Map<String, Json>, named: Named, id: &str, request: &Request) {
        match named {
            Named::Id(operation_id) => {
                fields.insert("operationId".into(), json!(operation_id));
            }
            Named::Path(pointer) => {
                fields.insert("operationPath".into(), json!(format!("{{$sourceDescriptions.{SOURCE}.url}}#{pointer}")));
            }
            Named::Unmatched => {
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
