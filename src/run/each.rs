//! `for_each`: a step run once per element of a list, with `each` and `index` in scope. The
//! step's result keeps every iteration's result as `steps.ID.results`, and each binding becomes
//! the list of its values, in the list's order.
//!
//! Elements run one after another, or with `concurrency: N` up to N at once in a live run, each
//! with its own copy of the run's state and a transport sharing the client (see
//! [`crate::factory::element`]). Once an element fails no new one starts, and the ones already
//! running finish (stopping a request half-way would leave its effect unknown). The step fails
//! with the first failed element in list order, and keeps what every element that ran sent.

use std::sync::Arc;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;

use minijinja::Value as Context;
use serde_json::Value as Json;

use super::{Cause, Done, Event, Listener, State, StepError, Trace, act_and_bind, step_object};
use crate::model::{Step, TemplateString};
use crate::template::context;
use crate::transport::Transport;

/// The most elements a `for_each` takes unless `max_items` says otherwise.
const DEFAULT_MAX_ITEMS: u32 = 1000;

pub(super) async fn run(
    state: &mut State<'_>,
    step: &Step,
    list: &TemplateString,
    transport: &mut Transport,
    on_event: &mut Listener<'_>,
) -> Result<Done, StepError> {
    let items = match state.plan.engine.render(list, &state.context()) {
        Ok(Json::Array(items)) => items,
        Ok(other) => {
            return Err(StepError::new(
                Cause::Each,
                format!("`for_each` must render to a list, got {}", crate::select::short(&state.masker, &other)),
            ));
        }
        Err(error) => return Err(StepError::new(Cause::Render, format!("cannot render `for_each` ({}): {error}", list.text))),
    };
    let max = step.max_items.unwrap_or(DEFAULT_MAX_ITEMS);
    if items.len() > max as usize {
        return Err(StepError::new(
            Cause::Each,
            format!("`for_each` gave {} items, more than `max_items` ({max}); raise `max_items` if that is expected", items.len()),
        ));
    }
    let at_once = step.concurrency.map_or(1, |n| n as usize);
    let outcomes = match crate::factory::element(transport) {
        Some(_) if at_once > 1 && items.len() > 1 => concurrently(state, step, items, at_once, transport, on_event).await,
        _ => one_by_one(state, step, items, transport, on_event).await,
    };
    assemble(step, outcomes)
}

/// Each element in turn, stopping at the first that fails.
async fn one_by_one(
    state: &mut State<'_>,
    step: &Step,
    items: Vec<Json>,
    transport: &mut Transport,
    on_event: &mut Listener<'_>,
) -> Vec<Result<Done, StepError>> {
    let mut outcomes = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        state.each = Some((context(&item), index));
        let done = act_and_bind(state, step, transport, on_event).await;
        state.each = None;
        let failed = done.is_err();
        outcomes.push(done);
        if failed {
            break;
        }
    }
    outcomes
}

/// Up to `at_once` elements running together; none starts after one failed. The outcomes come
/// back in list order, up to the last element that started.
async fn concurrently(
    state: &State<'_>,
    step: &Step,
    items: Vec<Json>,
    at_once: usize,
    transport: &Transport,
    on_event: &mut Listener<'_>,
) -> Vec<Result<Done, StepError>> {
    // The elements share the listener; each event is passed on whole, never across an await.
    let events = std::sync::Mutex::new(on_event);
    let events = &events;
    let start = |index: usize, item: &Json| {
        let mut own = state.clone();
        own.each = Some((context(item), index));
        let mut transport = crate::factory::element(transport)?;
        Some(async move {
            let mut forward = |event: Event| (events.lock().unwrap_or_else(std::sync::PoisonError::into_inner))(event);
            (index, act_and_bind(&mut own, step, &mut transport, &mut forward).await)
        })
    };
    let mut outcomes: Vec<Option<Result<Done, StepError>>> = Vec::with_capacity(items.len());
    let mut running = FuturesUnordered::new();
    let mut failed = false;
    for (index, item) in items.iter().enumerate() {
        if running.len() == at_once
            && let Some((done, outcome)) = running.next().await
        {
            let outcome: Result<Done, StepError> = outcome;
            failed |= outcome.is_err();
            outcomes[done] = Some(outcome);
        }
        if failed {
            break;
        }
        outcomes.push(None);
        match start(index, item) {
            Some(element) => running.push(element),
            None => break,
        }
    }
    while let Some((done, outcome)) = running.next().await {
        outcomes[done] = Some(outcome);
    }
    outcomes
        .into_iter()
        .enumerate()
        .map(|(index, outcome)| outcome.unwrap_or_else(|| Err(StepError::new(Cause::Each, format!("item {index}: could not be started")))))
        .collect()
}

/// The step's result from its elements' outcomes, in list order: the first failure fails the
/// step, keeping what every element sent (and created).
fn assemble(step: &Step, outcomes: Vec<Result<Done, StepError>>) -> Result<Done, StepError> {
    let mut trace = Trace::default();
    let mut warnings = Vec::new();
    let mut results = Vec::new();
    let mut values = Vec::new();
    let mut lists: Vec<Vec<Json>> = vec![Vec::new(); step.bind.len()];
    let mut not_sent = false;
    let mut first_failure: Option<(usize, StepError)> = None;
    for (index, outcome) in outcomes.into_iter().enumerate() {
        let done = match outcome {
            Ok(done) => done,
            Err(mut error) => {
                element_effect(&error.trace, &mut trace.effects);
                trace.attempts.append(&mut error.trace.attempts);
                trace.secrets.append(&mut error.trace.secrets);
                trace.effect = error.trace.effect.or(trace.effect);
                first_failure.get_or_insert((index, error));
                continue;
            }
        };
        element_effect(&done.trace, &mut trace.effects);
        trace.attempts.extend(done.trace.attempts);
        trace.secrets.extend(done.trace.secrets);
        trace.request = done.trace.request.or(trace.request);
        trace.kept = done.trace.kept.or(trace.kept);
        trace.effect = done.trace.effect.or(trace.effect);
        warnings.extend(done.warnings);
        results.push(done.object);
        values.push((*done.value).clone());
        for (list, (_, value)) in lists.iter_mut().zip(done.bindings) {
            list.push(value);
        }
        not_sent |= done.not_sent;
    }
    if let Some((index, mut error)) = first_failure {
        error.message = format!("item {index}: {}", error.message);
        // What every element sent (and created) stays in the result.
        error.trace.attempts = trace.attempts;
        error.trace.secrets = trace.secrets;
        error.trace.effects = trace.effects;
        error.trace.effect = error.trace.effect.or(trace.effect);
        return Err(error);
    }
    let object = step_object(step, vec![("results", Context::from(results))], "ok", None);
    let bindings = step.bind.iter().zip(lists).map(|((name, _), list)| (name.text.clone(), Json::Array(list))).collect();
    Ok(Done { trace, warnings, object, bindings, values: None, value: Arc::new(Json::Array(values)), not_sent })
}

/// An element's side effect, kept with its own request and response: a loop lists every draft it
/// created, and never calls a failed element's request the created one.
fn element_effect(element: &Trace, effects: &mut Vec<super::result::ElementEffect>) {
    if let (Some(effect), Some(request)) = (element.effect, &element.request) {
        effects.push(super::result::ElementEffect { request: request.clone(), response: element.kept.clone(), effect });
    }
}
