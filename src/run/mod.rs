//! The runner: executes a checked [`Plan`] step by step and returns what happened as data.
//!
//! Each step goes through the same phases: decide (`when`), act (render and send a request, or
//! select, or compute), check (status, JSON, API error envelopes), bind. A step's result is
//! kept whatever happens, so reports and exit codes are computed afterwards from data. The
//! runner never prints: progress goes to a callback, and every text it keeps is already masked.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use minijinja::Value as Context;
use serde_json::{Map, Value as Json};

use crate::check::Plan;
use crate::clock::Clock;
use crate::dynamic::Dynamic;
use crate::http::{RequestSpec, ResponseData};
use crate::inputs::EnvValues;
use crate::mask::Masker;
use crate::model::{Action, Binding, Step, Template};
use crate::select::{self, Selected};
use crate::template::context;
use crate::transport::Transport;

mod assert;
mod attempts;
mod call;
mod each;
mod paginate;
mod query;
mod request;
mod result;
pub(crate) mod retry;

pub(crate) use result::{Attempt, OptionalFailure, SideEffect};
pub use result::{Cause, Effect, RunResult, Status, StepResult};

use attempts::body_value;
use request::send;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a run is given.
pub struct Params {
    pub inputs: BTreeMap<String, Json>,
    pub env: EnvValues,
    /// Keep going after failures and show what could be rendered (`--dry-run`).
    pub dry_run: bool,
    /// Where `now()`, `uuid()` and unseeded random picks get their values.
    pub dynamic: Arc<Dynamic>,
    /// Retry waits and the time limit; virtual under replay.
    pub clock: Clock,
    /// The run's time limit (`--max-time`), from the clock's start.
    pub max_time: Option<Duration>,
    /// Mixed into retry jitter: random for live runs, 0 for replays.
    pub jitter_seed: u64,
    /// Masks the env secrets in everything the run keeps; built once per process.
    pub masker: Arc<Masker>,
    /// Keep response bodies in the results (reports, snapshots), or only their heads (batch
    /// rows, whose results are reduced to one journal line).
    pub keep_bodies: bool,
    /// Where the intent to send a non-idempotent request is recorded before it leaves.
    pub intents: Option<Arc<dyn IntentLog>>,
    /// Asked to stop from outside (SIGTERM on a single run).
    pub stop: Option<Arc<Stop>>,
}

/// A request to stop a run at once (SIGTERM): the request in flight is abandoned and reported
/// as it stands (in doubt when it was not idempotent), a retry wait ends, and no later step
/// starts. The outputs that can render still do, as after any side effect.
#[derive(Debug, Default)]
pub struct Stop {
    asked: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl Stop {
    pub fn ask(&self) {
        self.asked.store(true, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn asked(&self) -> bool {
        self.asked.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves once asked.
    async fn wait(&self) {
        let notified = self.notify.notified();
        if !self.asked() {
            notified.await;
        }
    }
}

/// `work`, unless the run is asked to stop first (`None`).
async fn unless_stopped<T>(stop: Option<&Stop>, work: impl Future<Output = T>) -> Option<T> {
    let Some(stop) = stop else { return Some(work.await) };
    tokio::select! {
        biased;
        () = stop.wait() => None,
        done = work => Some(done),
    }
}

/// A journal of intents: a crash can never hide that a non-idempotent request may have been
/// sent, because its intent is durable before the request leaves.
pub trait IntentLog: Send + Sync {
    /// Records that `step` is about to send its request; the request waits for this, and is not
    /// sent if it fails.
    fn intent<'a>(&'a self, step: &'a str) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), IntentError>> + Send + 'a>>;

    /// Records that the last attempt of `step` was certainly not processed (a 429, a 503 with a
    /// `Retry-After`, a connection refused) and that the run now waits to retry: a run killed
    /// meanwhile has not had that step's effect. Not synced: a machine crash leaves the intent
    /// as the last word, which errs on the safe side.
    fn not_processed(&self, step: &str) -> Result<(), IntentError> {
        let _ = step;
        Ok(())
    }
}

/// Why an intent log could not record a line: which file (in the log's words) and the I/O error.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {file}: {source}")]
pub struct IntentError {
    pub file: &'static str,
    #[source]
    pub source: std::io::Error,
}

/// Hears the runner's [`Event`]s. `Send`, like everything a run holds, so a run's future can
/// move between the threads of a runtime.
pub type Listener<'l> = dyn FnMut(Event<'_>) + Send + 'l;

/// What the runner reports while it runs.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A non-idempotent request is about to be sent for the first time (after `Params::intents`
    /// has recorded it).
    Intent { step: &'a str },
    /// An attempt did not succeed and another follows after `wait`.
    Retrying { step: &'a str, attempt: &'a Attempt, wait: Duration, why: &'a str, server_asked: bool },
    /// A step is done.
    Step(&'a StepResult),
}

/// The state threaded through the steps. Values are kept as template values, converted once
/// when bound, so a render never re-serialises what earlier steps produced.
#[derive(Clone)]
struct State<'a> {
    plan: &'a Plan,
    params: &'a Params,
    /// `call.` inside a called recipe: qualifies step ids.
    prefix: String,
    /// The env secrets, and the values bound with `secret: true` so far.
    masker: Arc<Masker>,
    /// (name, value) of every value bound with `secret: true`.
    secrets: Vec<(String, String)>,
    /// (name, value) of the bound secrets masked only where they are sent and read.
    exact: Vec<(String, String)>,
    /// The steps whose responses such a secret was read from.
    exact_sources: Vec<String>,
    /// Inside a `for_each` step: the element and its index.
    each: Option<(Context, usize)>,
    /// `inputs`, `env` and the run's source of dynamic values.
    base: Context,
    vars: Arc<BTreeMap<String, Context>>,
    steps: Arc<BTreeMap<String, Context>>,
    warnings: BTreeMap<String, Vec<String>>,
}

impl<'a> State<'a> {
    /// A step id as transports, journals and reports know it: `call.inner` inside a call.
    fn qualified(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    /// Masks `value` as `<NAME>` from now on; true when it was not known yet. A value too short
    /// or too common to mask wherever it appears (`"string"`) is masked only where the run sends
    /// it and where it was read from ([`Self::exact`]).
    fn learn_secret(&mut self, name: &str, value: &str) -> bool {
        if value.is_empty()
            || self.secrets.iter().any(|(known, text)| known == name && text == value)
            || self.exact.iter().any(|(known, text)| known == name && text == value)
        {
            return false;
        }
        if !crate::mask::unmistakable(value) {
            self.masker = Arc::new(self.masker.with_exact(name, value));
            self.exact.push((name.to_owned(), value.to_owned()));
            return true;
        }
        self.masker = Arc::new(self.masker.with(name, value));
        self.secrets.push((name.to_owned(), value.to_owned()));
        true
    }

    fn new(plan: &'a Plan, params: &'a Params, prefix: &str) -> Self {
        let base = minijinja::context! { inputs => context(&serde_json::to_value(&params.inputs).unwrap_or_default()), env => context(&serde_json::to_value(&params.env.values).unwrap_or_default()) };
        let base = crate::dynamic::with_source(base, &params.dynamic);
        Self {
            plan,
            params,
            prefix: prefix.to_owned(),
            masker: Arc::clone(&params.masker),
            secrets: Vec::new(),
            exact: Vec::new(),
            exact_sources: Vec::new(),
            each: None,
            base,
            vars: Arc::default(),
            steps: Arc::default(),
            warnings: BTreeMap::new(),
        }
    }

    fn context(&self) -> Context {
        // `vars` and `steps` are shared with the context, not copied: a step that binds copies
        // them only while an earlier context still holds them.
        let context = minijinja::context! {
            vars => Context::from_dyn_object(Arc::clone(&self.vars)),
            steps => Context::from_dyn_object(Arc::clone(&self.steps)),
            ..self.base.clone()
        };
        match &self.each {
            Some((each, index)) => minijinja::context! { each => each.clone(), index => *index, ..context },
            None => context,
        }
    }

    /// A response as the results keep it: masked, and without its body unless bodies are kept.
    fn kept(&self, response: &ResponseData) -> ResponseData {
        if self.params.keep_bodies {
            self.masker.response(response)
        } else {
            ResponseData { status: response.status, headers: self.masker.headers(&response.headers), body: None }
        }
    }

    /// Sets `steps.ID`.
    fn set_step(&mut self, id: &str, object: Context) {
        Arc::make_mut(&mut self.steps).insert(id.to_owned(), object);
    }
}

/// What a request step sent and got, kept whether the step succeeds or fails.
#[derive(Debug, Default)]
struct Trace {
    request: Option<RequestSpec>,
    /// The last attempt's response as the results keep it (masked; its head only in a batch).
    kept: Option<ResponseData>,
    /// The last attempt's response as received, when the step failed: later steps still read
    /// its status and body.
    raw: Option<ResponseData>,
    attempts: Vec<Attempt>,
    effect: Option<Effect>,
    /// A called recipe's steps.
    inner: Vec<StepResult>,
    /// Secrets the step learned (a called recipe's env secrets and `secret: true` bindings, an
    /// OAuth2 access token): the run masks them from then on, and in its whole result.
    secrets: Vec<(String, String)>,
    /// A `for_each` step's elements' side effects.
    effects: Vec<result::ElementEffect>,
}

/// Why a step's action failed.
struct StepError {
    cause: Cause,
    message: String,
    trace: Box<Trace>,
}

impl StepError {
    fn new(cause: Cause, message: impl Into<String>) -> Self {
        Self::traced(cause, message, Trace::default())
    }

    fn traced(cause: Cause, message: impl Into<String>, trace: Trace) -> Self {
        Self { cause, message: message.into(), trace: Box::new(trace) }
    }
}

/// What one step's action produced before binding.
struct Acted {
    trace: Trace,
    warnings: Vec<String>,
    /// The fields of the step's result object (`steps.ID`) its kind produces.
    result: Vec<(&'static str, Context)>,
    /// What `bind` paths are relative to (a response body is shared, not copied).
    value: Arc<Json>,
    /// A `set` step's values, for the report.
    values: Option<Map<String, Json>>,
    not_sent: bool,
}

impl Acted {
    fn new(result: Vec<(&'static str, Context)>, value: Arc<Json>) -> Self {
        Self { trace: Trace::default(), warnings: Vec::new(), result, value, values: None, not_sent: false }
    }
}

/// Runs the plan through `transport`, reporting each retry and each finished step. The future
/// is `Send`: a multi-threaded runtime may move it between threads at any await.
pub fn run<'a>(
    plan: &'a Plan,
    params: &'a Params,
    transport: &'a mut Transport,
    on_event: &'a mut Listener<'_>,
) -> impl Future<Output = RunResult> + Send + 'a {
    run_as(plan, params, transport, on_event, "")
}

/// Runs a plan whose step ids are qualified by `prefix` (a called recipe's). Only the outermost
/// run settles the transport (unused recorded exchanges) and the dynamic values.
async fn run_as(plan: &Plan, params: &Params, transport: &mut Transport, on_event: &mut Listener<'_>, prefix: &str) -> RunResult {
    let mut state = State::new(plan, params, prefix);
    let mut results = Vec::new();
    let mut ok = true;
    // A dry run stands `<NAME>` for unset variables: what reads them may not render either.
    // Asked only of a dry run's failed step, not of every run (every batch row).
    let placeholders = || params.env.values.iter().any(|(name, value)| *value == crate::mask::placeholder(name));
    for step in &plan.recipe().steps {
        if params.stop.as_deref().is_some_and(Stop::asked) {
            ok = false;
            break;
        }
        let mut result = run_step(&mut state, step, transport, on_event).await;
        if transport.is_offline()
            && matches!(result.status, Status::Failed | Status::FailedOptional)
            && (transport.has_unanswered() || placeholders())
        {
            // A dry run without a fixture has no responses: what depends on them cannot render.
            // Before the first request without one (a called recipe's included), and with every
            // variable set, a failure is the recipe's own.
            result.status = Status::NotSent;
            result.reason = result.reason.map(|reason| format!("not rendered without responses: {reason}"));
        }
        on_event(Event::Step(&result));
        let fatal = result.status == Status::Failed;
        results.push(result);
        if fatal {
            ok = false;
            if !params.dry_run {
                break;
            }
        }
    }
    let outermost = prefix.is_empty();
    let stopped = params.stop.as_deref().is_some_and(Stop::asked);
    let mut error = if outermost && !stopped { transport.finish() } else { None };
    if stopped && ok {
        ok = false;
    }
    if stopped && results.iter().all(|step| step.cause != Some(Cause::Stopped)) {
        error = Some("stopped by SIGTERM before the next step started".to_owned());
    }
    if outermost && error.is_none() && params.dynamic.unused() > 0 {
        error =
            Some(format!("the fixture recorded {} dynamic value(s) the run did not use; re-record the fixture", params.dynamic.unused()));
    }
    // Outputs render when the run succeeded, and after a side effect whatever happened, so that
    // what was created is never lost.
    let effect = results.iter().any(|step| step.effect.is_some());
    let outputs = if (ok && error.is_none()) || effect {
        let (outputs, problems) = render_outputs(&state);
        if !problems.is_empty() && error.is_none() {
            error = Some(problems.join("\n"));
        }
        Some(outputs)
    } else {
        None
    };
    ok = ok && error.is_none();
    if !state.secrets.is_empty() {
        // Steps kept before a secret was bound are masked again now that it is known.
        for result in &mut results {
            result.remask(&state.masker);
        }
    }
    let mut run = RunResult::new(ok, results, outputs, error.map(|e| state.masker.text(&e)));
    run.secrets = state.secrets;
    run.exact_secrets = state.exact.into_iter().map(|(name, value)| (name, value, state.exact_sources.clone())).collect();
    run.stopped = stopped;
    run
}

/// Whether a template's text names `name` (`vars.token`).
fn mentions(template: &Template, name: &str) -> bool {
    match template {
        Template::String(text) => text.text.contains(name),
        Template::Seq(items) => items.iter().any(|item| mentions(item, name)),
        Template::Map(entries) => entries.iter().any(|(_, item)| mentions(item, name)),
        Template::Null | Template::Bool(_) | Template::Number(_) => false,
    }
}

/// Every output that renders, and a message for each that does not.
fn render_outputs(state: &State) -> (Map<String, Json>, Vec<String>) {
    let context = state.context();
    let engine = &state.plan.engine;
    let mut outputs = Map::new();
    let mut problems = Vec::new();
    for (name, template) in &state.plan.recipe().outputs {
        match engine.render_tree(template, &context) {
            Ok(value) => {
                let mut masked = state.masker.json(&value);
                // An output rendered from a secret masked exactly shows its placeholder; others
                // keep the same text (it is data there).
                if state.exact.iter().any(|(secret, _)| mentions(template, secret)) {
                    masked = state.masker.exact_json(&masked);
                }
                outputs.insert(name.text.clone(), masked);
            }
            Err(e) => problems.push(format!("cannot render output `{}`: {e}", name.text)),
        }
    }
    (outputs, problems)
}

async fn run_step(state: &mut State<'_>, step: &Step, transport: &mut Transport, on_event: &mut Listener<'_>) -> StepResult {
    let started = Instant::now();
    let location = format!("{}:{}", state.plan.source.name, step.id.span.line);
    let mut result = StepResult::started(state.qualified(&step.id.text), step.action.keyword(), location);
    // Decide.
    if let Some(when) = &step.when {
        let rendered = match state.plan.engine.render(when, &state.context()) {
            // `when: false` as written (YAML reads it as a boolean, kept as its text).
            Ok(Json::String(text)) if when.kind == crate::model::TemplateKind::Literal && matches!(text.as_str(), "true" | "false") => {
                Ok(Json::Bool(text == "true"))
            }
            other => other,
        };
        match rendered {
            Ok(Json::Bool(true)) => {}
            Ok(Json::Bool(false)) => {
                result.status = Status::Skipped;
                result.reason = Some(format!("`when` is false: {}", when.text));
                state.set_step(&step.id.text, step_object(step, Vec::new(), "skipped", None));
                return result;
            }
            Ok(other) => {
                let message = format!("`when` must render to true or false, got {}", select::short(&state.masker, &other));
                return fail(state, step, result, StepError::new(Cause::When, message));
            }
            Err(error) => {
                return fail(state, step, result, StepError::new(Cause::Render, format!("cannot render `when` ({}): {error}", when.text)));
            }
        }
    }
    // Act and bind: once, or once per element of `for_each`.
    let done = match &step.for_each {
        None => act_and_bind(state, step, transport, on_event).await,
        Some(list) => each::run(state, step, list, transport, on_event).await,
    };
    result.duration = started.elapsed();
    let done = match done {
        Ok(done) => done,
        Err(error) => return fail(state, step, result, error),
    };
    keep_trace(state, &mut result, done.trace);
    // API warnings come from response bodies: masked like everything else that is kept.
    let warnings: Vec<String> = done.warnings.iter().map(|w| state.masker.text(w)).collect();
    result.warnings = warnings.clone();
    if !warnings.is_empty() {
        state.warnings.insert(step.id.text.clone(), warnings);
    }
    if done.not_sent {
        result.status = Status::NotSent;
        state.set_step(&step.id.text, step_object(step, Vec::new(), "not_sent", None));
        return result;
    }
    state.set_step(&step.id.text, done.object);
    // Commit the bindings; a secret one joins the masker first (each text and number of it: a
    // `for_each` step binds a list), and what this step already kept is masked again.
    learn_secrets(state, step, &done.bindings, &mut result);
    for (name, value) in &done.bindings {
        let mut masked = state.masker.json(value);
        if step.secret_binds.contains(name) {
            masked = state.masker.exact_json(&masked);
        }
        result.bindings.insert(name.clone(), masked);
        Arc::make_mut(&mut state.vars).insert(name.clone(), context(value));
    }
    for (name, value) in done.values.iter().flatten() {
        result.bindings.insert(name.clone(), state.masker.json(value));
    }
    result
}

/// A step's secret bindings join the masker, and what the step already kept is masked again
/// (exactly masked secrets in its response too); a value too plain to mask by value is warned
/// about once per bind.
fn learn_secrets(state: &mut State, step: &Step, bindings: &[(String, Json)], result: &mut StepResult) {
    let mut learned = false;
    for (name, value) in bindings {
        if step.secret_binds.contains(name) {
            let secret = format!("vars.{name}");
            let exact = state.exact.len();
            for text in secret_texts(value) {
                learned |= state.learn_secret(&secret, &text);
            }
            if state.exact.len() > exact {
                // Once per bind: masking every occurrence of such a value would corrupt data.
                result.warnings.push(format!(
                    "`{secret}` is secret, but its value is short or a plain word: it is masked where it is sent and in this response, \
                     not wherever the same text appears"
                ));
                state.exact_sources.push(result.id.clone());
            }
        }
    }
    if learned {
        result.remask(&state.masker);
        if let Some(response) = &mut result.response {
            response.body = response.body.take().map(|body| match body {
                crate::http::ResponseBody::Json(json) => crate::http::ResponseBody::Json(Arc::new(state.masker.exact_json(&json))),
                text @ crate::http::ResponseBody::Text(_) => text,
            });
        }
    }
}

/// What a step's action and bindings produced, before anything is committed.
struct Done {
    trace: Trace,
    warnings: Vec<String>,
    /// `steps.ID`.
    object: Context,
    /// (name, value) to bind.
    bindings: Vec<(String, Json)>,
    /// A `set` step's values, for the report.
    values: Option<Map<String, Json>>,
    /// What assertions' paths read.
    value: Arc<Json>,
    not_sent: bool,
}

/// Runs the action once and computes the bindings (with `steps.ID` already readable).
async fn act_and_bind(
    state: &mut State<'_>,
    step: &Step,
    transport: &mut Transport,
    on_event: &mut Listener<'_>,
) -> Result<Done, StepError> {
    let acted = act(state, step, transport, on_event).await?;
    let object = step_object(step, acted.result, "ok", None);
    if acted.not_sent {
        return Ok(Done {
            trace: acted.trace,
            warnings: acted.warnings,
            object,
            bindings: Vec::new(),
            values: None,
            value: acted.value,
            not_sent: true,
        });
    }
    state.set_step(&step.id.text, object.clone());
    let mut bindings = Vec::new();
    for (name, binding) in &step.bind {
        match bind(state, binding, &acted.value) {
            Ok(value) => bindings.push((name.text.clone(), value)),
            Err(error) => {
                return Err(StepError::traced(Cause::Bind, format!("cannot bind `{}`: {error}", name.text), acted.trace));
            }
        }
    }
    // Assertions see `steps.ID` (and `each`), before anything is bound: a failed step binds nothing.
    if let Err(error) = assert::check(state, step, &acted.value) {
        return Err(StepError::traced(error.cause, error.message, acted.trace));
    }
    Ok(Done { trace: acted.trace, warnings: acted.warnings, object, bindings, values: acted.values, value: acted.value, not_sent: false })
}

/// Keeps what a request sent and got in the step's result, masked, with the secrets it learned.
fn keep_trace(state: &mut State, result: &mut StepResult, trace: Trace) {
    result.request = trace.request;
    result.response = trace.kept;
    result.attempts = trace.attempts;
    result.effect = trace.effect;
    result.inner = trace.inner;
    result.effects = trace.effects;
    let mut learned = false;
    for (name, value) in &trace.secrets {
        learned |= state.learn_secret(name, value);
    }
    if learned {
        result.remask(&state.masker);
    }
}

/// The texts a secret binding holds: itself when it is text or a number (a PIN); for a list or
/// map, its JSON and each text inside it long enough to be a secret (a token), not short words
/// or numbers (`"region": "us"`), which would be masked everywhere.
fn secret_texts(value: &Json) -> Vec<String> {
    fn leaves(value: &Json, out: &mut Vec<String>) {
        match value {
            Json::String(text) if text.chars().count() >= crate::mask::MIN_SECRET_LEN => out.push(text.clone()),
            Json::Array(items) => items.iter().for_each(|item| leaves(item, out)),
            Json::Object(map) => map.values().for_each(|item| leaves(item, out)),
            _ => {}
        }
    }
    match value {
        Json::String(text) => vec![text.clone()],
        Json::Number(number) => vec![number.to_string()],
        Json::Array(_) | Json::Object(_) => {
            let mut out = vec![value.to_string()];
            leaves(value, &mut out);
            out
        }
        Json::Bool(_) | Json::Null => Vec::new(),
    }
}

fn fail(state: &mut State, step: &Step, mut result: StepResult, error: StepError) -> StepResult {
    let mut trace = *error.trace;
    let response = trace.raw.take();
    keep_trace(state, &mut result, trace);
    let message = state.masker.text(&error.message);
    // An optional step's failure is passed over, but not one that may have taken effect: the run
    // stops in doubt (exit 5), as it would without `optional`, rather than end "completed".
    result.status = if step.optional && result.effect != Some(Effect::InDoubt) { Status::FailedOptional } else { Status::Failed };
    result.cause = Some(error.cause);
    // A failed request still shows its status and body to later steps (`steps.ID.status`).
    let fields = match &response {
        Some(response) => vec![
            ("status", Context::from(response.status)),
            ("headers", Context::from(minijinja::value::Serde(&response.headers))),
            ("body", crate::template::shared_json(body_value(response))),
        ],
        None => Vec::new(),
    };
    state.set_step(&step.id.text, step_object(step, fields, "failed", Some(&message)));
    result.reason = Some(message);
    result
}

/// `steps.ID`: every field the step's kind has, null when it did not get that far.
fn step_object(step: &Step, values: Vec<(&'static str, Context)>, outcome: &str, error: Option<&str>) -> Context {
    let fields = crate::check::result_fields(&step.action).iter().chain(&["results"]);
    let mut object: BTreeMap<&'static str, Context> = BTreeMap::new();
    object.insert("ok", Context::from(outcome == "ok"));
    object.insert("skipped", Context::from(outcome == "skipped"));
    object.insert("outcome", Context::from(outcome));
    object.insert("error", error.map_or(Context::from(()), Context::from));
    for field in fields {
        object.insert(field, Context::from(()));
    }
    for (field, value) in values {
        object.insert(field, value);
    }
    // Keyed by the static field names: no key is copied.
    Context::from_object(object)
}

async fn act(state: &mut State<'_>, step: &Step, transport: &mut Transport, on_event: &mut Listener<'_>) -> Result<Acted, StepError> {
    let engine = &state.plan.engine;
    let context = state.context();
    let render = |what: &str, e: crate::template::TemplateError| StepError::new(Cause::Render, format!("cannot render `{what}`: {e}"));
    match &step.action {
        Action::Request(request) => send(state, step, request, &context, transport, on_event).await,
        Action::Fail(message) => {
            let message = engine.render_text(message, &context).map_err(|e| render("fail", e))?;
            Err(StepError::new(Cause::Fail, message))
        }
        Action::Call(call) => call::run(state, step, call, &context, transport, on_event).await,
        Action::Filter(filter) => {
            let from = engine.render_shared(&filter.selection.from, &context).map_err(|e| render("from", e))?;
            let selected = select::filter(engine, &state.masker, filter, from.json(), &context)
                .map_err(|e| StepError::new(Cause::Selection, with_warnings(state, &filter.selection.from, e.to_string())))?;
            Ok(selected_result(selected))
        }
        Action::Pick(pick) => {
            let from = engine.render_shared(&pick.selection.from, &context).map_err(|e| render("from", e))?;
            let prefer = pick.prefer.as_ref().map(|p| engine.render_tree(p, &context)).transpose().map_err(|e| render("prefer", e))?;
            let selected = select::pick(engine, &state.masker, pick, from.json(), prefer.as_ref(), &context)
                .map_err(|e| StepError::new(Cause::Selection, with_warnings(state, &pick.selection.from, e.to_string())))?;
            Ok(selected_result(selected))
        }
        Action::Set(values) => {
            let mut rendered = Map::new();
            let mut previous = Vec::new();
            for (index, (name, template)) in values.iter().enumerate() {
                // Each value becomes `vars.NAME` at once, so later values of the step see it;
                // if one fails, the step binds nothing.
                let current = if index == 0 { context.clone() } else { state.context() };
                let value = match engine.render_tree(template, &current) {
                    Ok(value) => value,
                    Err(e) => {
                        restore(Arc::make_mut(&mut state.vars), previous);
                        return Err(StepError::new(Cause::Render, format!("cannot render `{}`: {e}", name.text)));
                    }
                };
                previous
                    .push((name.text.clone(), Arc::make_mut(&mut state.vars).insert(name.text.clone(), crate::template::context(&value))));
                rendered.insert(name.text.clone(), value);
            }
            let value = Arc::new(Json::Object(rendered.clone()));
            let mut acted = Acted::new(vec![("values", crate::template::shared_json(Arc::clone(&value)))], value);
            acted.values = Some(rendered);
            Ok(acted)
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
        if reads_step(text, id) {
            for warning in warnings {
                message.push_str(&format!("\nnote: step `{id}` reported the API warning {warning}"));
            }
        }
    }
    message
}

/// Whether template text reads `steps.ID` itself, not a step whose id merely starts with `ID`
/// (`steps.search` is not read by `steps.search_more`).
fn reads_step(text: &str, id: &str) -> bool {
    let needle = format!("steps.{id}");
    let is_name = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(&needle).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + needle.len()..].chars().next();
        !before.is_some_and(|c| is_name(c) || c == '.') && !after.is_some_and(is_name)
    })
}

fn selected_result(selected: Selected) -> Acted {
    let count = selected.items.len();
    let items = Arc::new(Json::Array(selected.items));
    let (item, value) = match selected.item {
        Some(item) => {
            let item = Arc::new(item);
            (crate::template::shared_json(Arc::clone(&item)), item)
        }
        None => (Context::from(()), Arc::clone(&items)),
    };
    let result = vec![("item", item), ("count", Context::from(count)), ("items", crate::template::shared_json(items))];
    Acted::new(result, value)
}

/// Puts back the values some names had before a failed step bound them.
fn restore(vars: &mut BTreeMap<String, Context>, previous: Vec<(String, Option<Context>)>) {
    for (name, value) in previous.into_iter().rev() {
        match value {
            Some(value) => vars.insert(name, value),
            None => vars.remove(&name),
        };
    }
}

/// Why a binding has no value; what was there is masked and cut short.
#[derive(Debug, thiserror::Error)]
enum BindError {
    #[error("`{path}` selected nothing: {why}")]
    Stopped { path: String, why: String },
    #[error("`{path}` selected nothing in {excerpt}")]
    Nothing { path: String, excerpt: String },
    #[error("{0}")]
    Template(crate::template::TemplateError),
    #[error("the regular expression `{pattern}` matches nothing in {excerpt}")]
    NoMatch { pattern: String, excerpt: String },
    #[error("the XPath `{xpath}` selected nothing in {excerpt}")]
    NoNode { xpath: String, excerpt: String },
    #[error("`{xpath}`: {reason} in {excerpt}")]
    XPath { xpath: String, reason: String, excerpt: String },
}

fn bind(state: &State, binding: &Binding, value: &Json) -> Result<Json, BindError> {
    let excerpt = || select::short(&state.masker, value);
    match binding {
        // Nothing to bind from (an `optional` filter that matched nothing, an empty body).
        Binding::Path(_) if value.is_null() => Ok(Json::Null),
        Binding::Path(path) => {
            let nodes = path.select(value);
            if path.is_definite() {
                nodes.first().map(|node| (*node).clone()).ok_or_else(|| match path.why_nothing(value) {
                    Some(why) => BindError::Stopped { path: path.text.clone(), why: state.masker.text(&why) },
                    None => BindError::Nothing { path: path.text.clone(), excerpt: excerpt() },
                })
            } else {
                Ok(Json::Array(nodes.into_iter().cloned().collect()))
            }
        }
        Binding::Template(template) => state.plan.engine.render_tree(template, &state.context()).map_err(BindError::Template),
        Binding::Regex(regex) => {
            let text = match value {
                Json::String(text) => std::borrow::Cow::Borrowed(text.as_str()),
                other => std::borrow::Cow::Owned(other.to_string()),
            };
            let captures =
                regex.captures(&text).ok_or_else(|| BindError::NoMatch { pattern: regex.as_str().to_owned(), excerpt: excerpt() })?;
            let found = captures.iter().skip(1).flatten().next().or_else(|| captures.get(0)).map_or("", |found| found.as_str());
            Ok(Json::String(found.to_owned()))
        }
        Binding::XPath(xpath) => {
            let namespaces = &state.plan.recipe().http.namespaces;
            match crate::xpath::evaluate(&xpath.text, namespaces, value) {
                Ok(Some(found)) => Ok(found),
                Ok(None) => Err(BindError::NoNode { xpath: xpath.text.clone(), excerpt: excerpt() }),
                Err(error) => {
                    Err(BindError::XPath { xpath: xpath.text.clone(), reason: state.masker.text(&error.to_string()), excerpt: excerpt() })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_read_by_its_own_id_only() {
        assert!(reads_step("{{ steps.search.body }}", "search"));
        assert!(reads_step("{{steps.search}}", "search"));
        assert!(!reads_step("{{ steps.search_more.body }}", "search"));
        assert!(!reads_step("{{ vars.steps.search }}", "search"));
        assert!(reads_step("{{ steps.search_more.body or steps.search.body }}", "search"));
    }

    #[test]
    fn a_secret_list_or_map_masks_its_json_and_its_long_texts_only() {
        let value = serde_json::json!({"token": "abcdefgh1234", "region": "us", "version": 2, "more": ["ijklmnop5678"]});
        let texts = secret_texts(&value);
        assert_eq!(texts[1..], ["abcdefgh1234", "ijklmnop5678"], "not `us` or 2, which would be masked everywhere");
        assert_eq!(texts[0], value.to_string());
        assert_eq!(secret_texts(&serde_json::json!(87_654_321)), ["87654321"], "a number alone is a secret (a PIN)");
        assert_eq!(secret_texts(&serde_json::json!("ab")), ["ab"], "text alone is masked as given");
    }
}
