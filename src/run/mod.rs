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

use crate::http::{RequestSpec, ResponseData};
use crate::inputs::EnvValues;
use crate::mask::Masker;
use crate::model::{Action, Binding, Step, Template};
use crate::select::{self, Selected};
use crate::template::context;
use crate::transport::Transport;

mod request;

use request::{body_value, send};

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
            failed.response = response.map(|r| state.masker.response(&r));
            return failed;
        }
    };
    result.request = acted.request;
    result.response = acted.response.as_ref().map(|r| state.masker.response(r));
    // API warnings come from response bodies: masked like everything else that is kept.
    let warnings: Vec<String> = acted.warnings.iter().map(|w| state.masker.text(w)).collect();
    result.warnings = warnings.clone();
    if !warnings.is_empty() {
        state.warnings.insert(step.id.text.clone(), warnings);
    }
    if acted.not_sent {
        result.status = Status::NotSent;
        state.steps.insert(step.id.text.clone(), step_object(step, &Map::new(), "not_sent", None));
        return result;
    }
    state.steps.insert(step.id.text.clone(), step_object(step, &acted.result, "ok", None));
    // Bind.
    // A failed step binds nothing: values bound before the failure are rolled back.
    let mut previous = Vec::new();
    for (name, binding) in &step.bind {
        match bind(state, binding, &acted.value) {
            Ok(value) => {
                result.bindings.insert(name.text.clone(), state.masker.json(&value));
                previous.push((name.text.clone(), state.vars.insert(name.text.clone(), value)));
            }
            Err(message) => {
                restore(&mut state.vars, previous);
                result.bindings.clear();
                return fail(state, step, result, format!("cannot bind `{}`: {message}", name.text));
            }
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
            let mut previous = Vec::new();
            for (index, (name, template)) in values.iter().enumerate() {
                // Each value becomes `vars.NAME` at once, so later values of the step see it;
                // if one fails, the step binds nothing.
                let context = if index == 0 { context.clone() } else { state.context() };
                let value = match engine.render_tree(template, &context) {
                    Ok(value) => value,
                    Err(e) => {
                        restore(&mut state.vars, previous);
                        return Err(plain(format!("cannot render `{}`: {e}", name.text)));
                    }
                };
                previous.push((name.text.clone(), state.vars.insert(name.text.clone(), value.clone())));
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

/// Puts back the values some names had before a failed step bound them.
fn restore(vars: &mut Map<String, Json>, previous: Vec<(String, Option<Json>)>) {
    for (name, value) in previous.into_iter().rev() {
        match value {
            Some(value) => vars.insert(name, value),
            None => vars.remove(&name),
        };
    }
}

fn bind(state: &State, binding: &Binding, value: &Json) -> Result<Json, String> {
    match binding {
        // Nothing to bind from (an `optional` filter that matched nothing, an empty body).
        Binding::Path(_) if value.is_null() => Ok(Json::Null),
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
