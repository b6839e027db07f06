//! The runner: executes a checked [`Plan`] step by step and returns what happened as data.
//!
//! Each step goes through the same phases: decide (`when`), act (render and send a request, or
//! select, or compute), check (status, JSON, API error envelopes), bind. A step's result is
//! kept whatever happens, so reports and exit codes are computed afterwards from data. The
//! runner never prints: progress goes to a callback, and every text it keeps is already masked.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use minijinja::Value as Context;
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::check::Plan;
use crate::dynamic::Dynamic;

use crate::envelope;
use crate::http::{Body, RequestSpec, ResponseBody, ResponseData};
use crate::inputs::EnvValues;
use crate::mask::Masker;
use crate::model::{Action, Binding, Expect, Request, Step, Template};
use crate::select::{self, Selected};
use crate::template::context;
use crate::transport::{Transport, TransportError};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a run is given.
pub struct Params {
    pub inputs: BTreeMap<String, Json>,
    pub env: EnvValues,
    /// Keep going after failures and show what could be rendered (`--dry-run`).
    pub dry_run: bool,
    /// Where `now()`, `uuid()` and unseeded random picks get their values.
    pub dynamic: Arc<Dynamic>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Skipped,
    /// Failed, and the step is optional: the run went on.
    FailedOptional,
    Failed,
    /// A dry run without a fixture: the request was rendered, not sent.
    NotSent,
}

/// Everything known about one step after it ran.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub id: String,
    pub kind: &'static str,
    pub status: Status,
    /// Why it was skipped, or why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseData>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub bindings: BTreeMap<String, Json>,
    #[serde(rename = "duration_ms", serialize_with = "milliseconds")]
    pub duration: Duration,
    /// `file:line` of the step, for error messages.
    #[serde(skip)]
    pub location: String,
}

fn milliseconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u128(duration.as_millis())
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub ok: bool,
    pub steps: Vec<StepResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Map<String, Json>>,
    /// A failure outside any step (outputs, an unused recording).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The state threaded through the steps.
struct State<'a> {
    plan: &'a Plan,
    params: &'a Params,
    masker: Masker,
    vars: Map<String, Json>,
    steps: Map<String, Json>,
    warnings: BTreeMap<String, Vec<String>>,
}

impl State<'_> {
    fn context(&self) -> Context {
        let data = context(&serde_json::json!({
            "inputs": self.params.inputs,
            "env": self.params.env.values,
            "vars": self.vars,
            "steps": self.steps,
        }));
        crate::dynamic::with_source(data, &self.params.dynamic)
    }
}

/// What one step's action produced before binding.
struct Acted {
    request: Option<RequestSpec>,
    response: Option<ResponseData>,
    warnings: Vec<String>,
    /// The step's result object (`steps.ID`).
    result: Map<String, Json>,
    /// What `bind` paths are relative to.
    value: Json,
    not_sent: bool,
}

/// Runs the plan through `transport`, calling `on_step` after each step.
pub async fn run(plan: &Plan, params: &Params, transport: &mut Transport, on_step: &mut dyn FnMut(&StepResult)) -> RunResult {
    let mut state =
        State { plan, params, masker: Masker::new(&params.env.secrets), vars: Map::new(), steps: Map::new(), warnings: BTreeMap::new() };
    let mut results = Vec::new();
    let mut ok = true;
    for step in &plan.recipe().steps {
        let mut result = run_step(&mut state, step, transport).await;
        if matches!(transport, Transport::Offline) && matches!(result.status, Status::Failed | Status::FailedOptional) {
            // A dry run without a fixture has no responses: what depends on them cannot render.
            result.status = Status::NotSent;
            result.reason = result.reason.map(|reason| format!("not rendered without responses: {reason}"));
        }
        on_step(&result);
        let fatal = result.status == Status::Failed;
        results.push(result);
        if fatal {
            ok = false;
            if !params.dry_run {
                break;
            }
        }
    }
    let mut error = transport.finish();
    if error.is_none() && params.dynamic.unused() > 0 {
        error =
            Some(format!("the fixture recorded {} dynamic value(s) the run did not use; re-record the fixture", params.dynamic.unused()));
    }
    let outputs = if ok && error.is_none() { render_outputs(&state).map_err(|e| error = Some(e)).ok() } else { None };
    ok = ok && error.is_none();
    RunResult { ok, steps: results, outputs, error: error.map(|e| state.masker.text(&e)) }
}

fn render_outputs(state: &State) -> Result<Map<String, Json>, String> {
    let context = state.context();
    let engine = &state.plan.engine;
    state
        .plan
        .recipe()
        .outputs
        .iter()
        .map(|(name, template)| {
            let value = engine.render_tree(template, &context).map_err(|e| format!("cannot render output `{}`: {e}", name.text))?;
            Ok((name.text.clone(), state.masker.json(&value)))
        })
        .collect()
}

async fn run_step(state: &mut State<'_>, step: &Step, transport: &mut Transport) -> StepResult {
    let started = Instant::now();
    let location = format!("{}:{}", state.plan.source.name, step.id.span.line);
    let mut result = StepResult {
        id: step.id.text.clone(),
        kind: step.action.keyword(),
        status: Status::Ok,
        reason: None,
        request: None,
        response: None,
        warnings: Vec::new(),
        bindings: BTreeMap::new(),
        duration: Duration::ZERO,
        location,
    };
    // Decide.
    if let Some(when) = &step.when {
        match state.plan.engine.render(when, &state.context()) {
            Ok(Json::Bool(true)) => {}
            Ok(Json::Bool(false)) => {
                result.status = Status::Skipped;
                result.reason = Some(format!("`when` is false: {}", when.text));
                state.steps.insert(step.id.text.clone(), step_object(step, &Map::new(), "skipped", None));
                return result;
            }
            Ok(other) => return fail(state, step, result, format!("`when` must render to true or false, got {}", select::short(&other))),
            Err(error) => return fail(state, step, result, format!("cannot render `when` ({}): {error}", when.text)),
        }
    }
    // Act.
    let acted = act(state, step, transport).await;
    result.duration = started.elapsed();
    let acted = match acted {
        Ok(acted) => acted,
        Err((message, request, response)) => {
            result.request = request;
            let failed = fail(state, step, result, message);
            // A failed request still shows its status and body to later steps (`steps.ID.status`).
            if let (Some(response), Some(Json::Object(object))) = (&response, state.steps.get_mut(&step.id.text)) {
                object.insert("status".into(), Json::from(response.status));
                object.insert("headers".into(), serde_json::to_value(&response.headers).unwrap_or_default());
                object.insert("body".into(), body_value(response));
            }
            let mut failed = failed;
            failed.response = response.map(|r| mask_response(&state.masker, &r));
            return failed;
        }
    };
    result.request = acted.request;
    result.response = acted.response.as_ref().map(|r| mask_response(&state.masker, r));
    result.warnings = acted.warnings.clone();
    if !acted.warnings.is_empty() {
        state.warnings.insert(step.id.text.clone(), acted.warnings);
    }
    if acted.not_sent {
        result.status = Status::NotSent;
        state.steps.insert(step.id.text.clone(), step_object(step, &Map::new(), "not_sent", None));
        return result;
    }
    state.steps.insert(step.id.text.clone(), step_object(step, &acted.result, "ok", None));
    // Bind.
    for (name, binding) in &step.bind {
        match bind(state, binding, &acted.value) {
            Ok(value) => {
                result.bindings.insert(name.text.clone(), state.masker.json(&value));
                state.vars.insert(name.text.clone(), value);
            }
            Err(message) => return fail(state, step, result, format!("cannot bind `{}`: {message}", name.text)),
        }
    }
    if let Action::Set(values) = &step.action {
        for (name, _) in values {
            if let Some(value) = acted.result.get("values").and_then(|values| values.get(&name.text)) {
                result.bindings.insert(name.text.clone(), state.masker.json(value));
            }
        }
    }
    result
}

fn fail(state: &mut State, step: &Step, mut result: StepResult, message: String) -> StepResult {
    let message = state.masker.text(&message);
    result.status = if step.optional { Status::FailedOptional } else { Status::Failed };
    state.steps.insert(step.id.text.clone(), step_object(step, &Map::new(), "failed", Some(&message)));
    result.reason = Some(message);
    result
}

/// `steps.ID`: every field the step's kind has, null when it did not get that far.
fn step_object(step: &Step, values: &Map<String, Json>, outcome: &str, error: Option<&str>) -> Json {
    let fields: &[&str] = match step.action {
        Action::Request(_) => &["status", "headers", "body", "warnings"],
        Action::Filter(_) | Action::Pick(_) => &["item", "items", "count"],
        Action::Set(_) => &["values"],
    };
    let mut object = Map::new();
    object.insert("ok".into(), Json::Bool(outcome == "ok"));
    object.insert("skipped".into(), Json::Bool(outcome == "skipped"));
    object.insert("outcome".into(), Json::String(outcome.into()));
    object.insert("error".into(), error.map_or(Json::Null, |e| Json::String(e.into())));
    for field in fields {
        object.insert((*field).into(), values.get(*field).cloned().unwrap_or(Json::Null));
    }
    Json::Object(object)
}

type Failure = (String, Option<RequestSpec>, Option<ResponseData>);

async fn act(state: &mut State<'_>, step: &Step, transport: &mut Transport) -> Result<Acted, Failure> {
    let engine = &state.plan.engine;
    let context = state.context();
    let plain = |message: String| (message, None, None);
    match &step.action {
        Action::Request(request) => send(state, step, request, &context, transport).await,
        Action::Filter(filter) => {
            let from = engine.render_tree(&filter.selection.from, &context).map_err(|e| plain(format!("cannot render `from`: {e}")))?;
            let selected =
                select::filter(engine, filter, &from, &context).map_err(|e| plain(with_warnings(state, &filter.selection.from, e)))?;
            Ok(selected_result(selected))
        }
        Action::Pick(pick) => {
            let from = engine.render_tree(&pick.selection.from, &context).map_err(|e| plain(format!("cannot render `from`: {e}")))?;
            let prefer = pick
                .prefer
                .as_ref()
                .map(|p| engine.render_tree(p, &context))
                .transpose()
                .map_err(|e| plain(format!("cannot render `prefer`: {e}")))?;
            let selected = select::pick(engine, pick, &from, prefer.as_ref(), &context)
                .map_err(|e| plain(with_warnings(state, &pick.selection.from, e)))?;
            Ok(selected_result(selected))
        }
        Action::Set(values) => {
            let mut rendered = Map::new();
            for (index, (name, template)) in values.iter().enumerate() {
                // Each value becomes `vars.NAME` at once, so later values of the step see it.
                let context = if index == 0 { context.clone() } else { state.context() };
                let value = engine.render_tree(template, &context).map_err(|e| plain(format!("cannot render `{}`: {e}", name.text)))?;
                state.vars.insert(name.text.clone(), value.clone());
                rendered.insert(name.text.clone(), value);
            }
            let value = Json::Object(rendered.clone());
            let mut result = Map::new();
            result.insert("values".into(), value.clone());
            Ok(Acted { request: None, response: None, warnings: Vec::new(), result, value, not_sent: false })
        }
    }
}

/// Adds the API warnings of the steps `from` reads, which usually explain an empty list.
fn with_warnings(state: &State, from: &Template, message: String) -> String {
    let text = match from {
        Template::String(text) => text.text.as_str(),
        _ => "",
    };
    let mut message = message;
    for (id, warnings) in &state.warnings {
        if text.contains(&format!("steps.{id}")) {
            for warning in warnings {
                message.push_str(&format!("\nnote: step `{id}` reported the API warning {warning}"));
            }
        }
    }
    message
}

fn selected_result(selected: Selected) -> Acted {
    let mut result = Map::new();
    result.insert("item".into(), selected.item.clone().unwrap_or(Json::Null));
    result.insert("count".into(), Json::from(selected.items.len()));
    result.insert("items".into(), Json::Array(selected.items.clone()));
    let value = selected.item.unwrap_or_else(|| Json::Array(selected.items));
    Acted { request: None, response: None, warnings: Vec::new(), result, value, not_sent: false }
}

fn bind(state: &State, binding: &Binding, value: &Json) -> Result<Json, String> {
    match binding {
        Binding::Path(path) => {
            let nodes = path.select(value);
            if path.is_definite() {
                nodes
                    .first()
                    .map(|node| (*node).clone())
                    .ok_or_else(|| format!("`{}` selected nothing in {}", path.text, select::short(value)))
            } else {
                Ok(Json::Array(nodes.into_iter().cloned().collect()))
            }
        }
        Binding::Template(template) => state.plan.engine.render_tree(template, &state.context()).map_err(|e| e.to_string()),
    }
}

fn mask_response(masker: &Masker, response: &ResponseData) -> ResponseData {
    crate::mask::response(masker, response)
}

async fn send(state: &State<'_>, step: &Step, request: &Request, context: &Context, transport: &mut Transport) -> Result<Acted, Failure> {
    let spec = render_request(state, request, context).map_err(|e| (e, None, None))?;
    let masked = state.masker.request(&spec);
    let timeout = request.timeout.or(state.plan.recipe().http.timeout).unwrap_or(DEFAULT_TIMEOUT);
    let response = match transport.send(&step.id.text, &spec, &masked, timeout).await {
        Ok(response) => response,
        Err(TransportError::NotSent) => {
            return Ok(Acted {
                request: Some(masked),
                response: None,
                warnings: Vec::new(),
                result: Map::new(),
                value: Json::Null,
                not_sent: true,
            });
        }
        Err(error) => return Err((error.to_string(), Some(masked), None)),
    };
    let body = body_value(&response);
    let warnings = envelope::warnings(&body);
    if let Err(message) = check_response(step.expect.as_ref(), &response, &body) {
        return Err((message, Some(masked), Some(response)));
    }
    let mut result = Map::new();
    result.insert("status".into(), Json::from(response.status));
    result.insert("headers".into(), serde_json::to_value(&response.headers).unwrap_or_default());
    result.insert("body".into(), body.clone());
    result.insert("warnings".into(), serde_json::to_value(&warnings).unwrap_or_default());
    Ok(Acted { request: Some(masked), response: Some(response), warnings, result, value: body, not_sent: false })
}

/// A response body as template data: JSON as is, text as a string, none as null.
fn body_value(response: &ResponseData) -> Json {
    match &response.body {
        Some(ResponseBody::Json(value)) => value.clone(),
        Some(ResponseBody::Text(text)) => Json::String(text.clone()),
        None => Json::Null,
    }
}

/// Status, JSON-ness and API error envelopes, in that order.
fn check_response(expect: Option<&Expect>, response: &ResponseData, body: &Json) -> Result<(), String> {
    let status_ok = match expect.map(|e| e.status.as_slice()) {
        Some(codes) if !codes.is_empty() => codes.contains(&response.status),
        _ => (200..300).contains(&response.status),
    };
    let api_errors = if expect.and_then(|e| e.api_errors).unwrap_or(true) { envelope::errors(body) } else { Vec::new() };
    if !status_ok {
        let wanted = match expect.map(|e| e.status.as_slice()) {
            Some(codes) if !codes.is_empty() => codes.iter().map(u16::to_string).collect::<Vec<_>>().join(" or "),
            _ => "2xx".to_owned(),
        };
        let mut message = format!("status {}, expected {wanted}", response.status);
        if !api_errors.is_empty() {
            message.push_str(&format!(": API error {}", api_errors.join("; ")));
        } else if let Some(ResponseBody::Text(text)) = &response.body {
            message.push_str(&format!("\n{}", excerpt(response.content_type(), text)));
        }
        return Err(message);
    }
    let wants_json = expect.and_then(|e| e.json).unwrap_or(true);
    if wants_json && let Some(ResponseBody::Text(text)) = &response.body {
        return Err(format!("expected a JSON response (status {}), but {}", response.status, excerpt(response.content_type(), text)));
    }
    if !api_errors.is_empty() {
        return Err(format!("the API reported an error (status {}): {}", response.status, api_errors.join("; ")));
    }
    Ok(())
}

/// The content type and the first lines of a body, for error messages.
fn excerpt(content_type: Option<&str>, text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).take(5).collect();
    let mut shown: String = lines.join("\n    ");
    if shown.chars().count() > 400 {
        shown = format!("{}...", shown.chars().take(400).collect::<String>());
    }
    format!("the body is `{}`:\n    {shown}", content_type.unwrap_or("without a content type"))
}

fn render_request(state: &State, request: &Request, context: &Context) -> Result<RequestSpec, String> {
    let engine = &state.plan.engine;
    let http = &state.plan.recipe().http;
    let path = engine.render_text(&request.url, context).map_err(|e| format!("cannot render `url` ({}): {e}", request.url.text))?;
    let base = match &http.base_url {
        Some(base) => Some(engine.render_text(base, context).map_err(|e| format!("cannot render `http.base_url` ({}): {e}", base.text))?),
        None => None,
    };
    // Under replay an unset variable stands as `<NAME>`; the host never matters there.
    let base = base.map(|base| if base.starts_with('<') && base.ends_with('>') { "http://placeholder.invalid".to_owned() } else { base });
    let absolute = if path.starts_with("http://") || path.starts_with("https://") {
        path.clone()
    } else {
        let base = base.as_deref().ok_or_else(|| format!("the url `{path}` is relative, but the recipe has no `http.base_url`"))?;
        format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
    };
    let mut url = url::Url::parse(&absolute).map_err(|e| format!("invalid URL `{}`: {e}", state.masker.text(&absolute)))?;
    if !request.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, template) in &request.query {
            let value = engine.render_tree(template, context).map_err(|e| format!("cannot render query `{}`: {e}", name.text))?;
            for text in query_values(&name.text, &value)? {
                pairs.append_pair(&name.text, &text);
            }
        }
    }
    let absolute_url = url.to_string();
    let relative = match base.as_deref() {
        Some(base) if absolute_url.starts_with(base.trim_end_matches('/')) => absolute_url[base.trim_end_matches('/').len()..].to_owned(),
        _ => url[url::Position::BeforePath..].to_owned(),
    };
    let mut headers = BTreeMap::new();
    for (name, template) in http.headers.iter().chain(&request.headers) {
        let value = engine.render_text(template, context).map_err(|e| format!("cannot render header `{}`: {e}", name.text))?;
        headers.insert(name.text.to_ascii_lowercase(), value);
    }
    let body = if let Some(json) = &request.json {
        Some(Body::Json(engine.render_tree(json, context).map_err(|e| format!("cannot render the JSON body: {e}"))?))
    } else if let Some(form) = &request.form {
        let mut pairs = Vec::new();
        for (name, template) in form {
            let value = engine.render_tree(template, context).map_err(|e| format!("cannot render form field `{}`: {e}", name.text))?;
            pairs.extend(query_values(&name.text, &value)?.into_iter().map(|v| (name.text.clone(), v)));
        }
        Some(Body::Form(pairs))
    } else if let Some(text) = &request.body {
        Some(Body::Text(engine.render_text(text, context).map_err(|e| format!("cannot render `body`: {e}"))?))
    } else {
        None
    };
    if let Some(body) = &body {
        headers.entry("content-type".into()).or_insert_with(|| body.content_type().to_owned());
    }
    Ok(RequestSpec { method: request.method.as_str().to_owned(), url: relative, headers, body, absolute_url })
}

/// The texts a query or form value sends: a list repeats the parameter, null sends nothing.
fn query_values(name: &str, value: &Json) -> Result<Vec<String>, String> {
    match value {
        Json::Null => Ok(Vec::new()),
        Json::String(text) => Ok(vec![text.clone()]),
        Json::Number(_) | Json::Bool(_) => Ok(vec![value.to_string()]),
        Json::Array(items) => items.iter().map(|item| query_values(name, item)).collect::<Result<Vec<_>, _>>().map(|v| v.concat()),
        Json::Object(_) => Err(format!("query parameter `{name}` is a map; send a text, number, boolean or list")),
    }
}
