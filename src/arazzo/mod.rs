//! `recipe export arazzo`: a checked recipe as an Arazzo 1.0.1 workflow that a runner (Redocly's
//! Respect) runs as it is, with the OpenAPI 3.1 description of the endpoints it calls, or
//! pointing into an existing one (`--openapi`, [`described`]).
//!
//! Every request step is an Arazzo step ([`request`]) whose `operationPath` (or reused
//! `operationId`) names its operation ([`openapi`]); its URL's templated parts are path
//! parameters, its `query` and headers (with `http.headers`) parameters, a `json`, `form` or
//! `body` its `requestBody`, `expect.status` its `successCriteria` and the operation's explicit
//! responses, its `auth` a security scheme and an `x-security` entry ([`security`]), and its
//! definite `bind` paths its `outputs`. A `pick` or `filter` from one response's list has its
//! count check as a `JSONPath` criterion of that step, and what it selects by position (the first
//! item, or all of them) becomes outputs; an `assert` equality is a criterion too
//! ([`criteria`]). This module writes the workflow around the steps. Templates become runtime
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
mod request;
pub(crate) mod security;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value as Json, json};

use crate::check::Plan;
use crate::model::{Action, Binding, Format, InputType, Recipe, Step, Template, TemplateKind};
pub(crate) use error::ArazzoError;
use expression::Translator;
use openapi::Api;

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

impl Writer<'_> {
    fn warn(&mut self, step: &str, message: impl std::fmt::Display) {
        self.warnings.push(format!("step `{step}`: {message}"));
    }

    /// A filter, pick, set, fail or call step: what it binds is an output where it selects by
    /// position from one response (then it returns true); otherwise it has no runtime
    /// expression, and a warning says so.
    fn other_step(&mut self, step: &Step) -> bool {
        let id = step.id.text.clone();
        let kind = step.action.keyword();
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
