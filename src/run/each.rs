//! `for_each`: a step run once per element of a list, with `each` and `index` in scope. The
//! step's result keeps every iteration's result as `steps.ID.results`, and each binding becomes
//! the list of its values. The first iteration that fails fails the step.

use std::sync::Arc;

use minijinja::Value as Context;
use serde_json::Value as Json;

use super::{Cause, Done, Event, State, StepError, Trace, act_and_bind, step_object};
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
    on_event: &mut dyn FnMut(Event),
) -> Result<Done, StepError> {
    let items = match state.plan.engine.render(list, &state.context()) {
        Ok(Json::Array(items)) => items,
        Ok(other) => {
            return Err(StepError::new(Cause::Each, format!("`for_each` must render to a list, got {}", crate::select::short(&other))));
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
    let mut trace = Trace::default();
    let mut warnings = Vec::new();
    let mut results = Vec::new();
    let mut values = Vec::new();
    let mut lists: Vec<Vec<Json>> = vec![Vec::new(); step.bind.len()];
    let mut not_sent = false;
    for (index, item) in items.into_iter().enumerate() {
        state.each = Some((context(&item), index));
        let done = act_and_bind(state, step, transport, on_event).await;
        state.each = None;
        let done = match done {
            Ok(done) => done,
            Err(mut error) => {
                error.message = format!("item {index}: {}", error.message);
                // What earlier iterations sent (and created) stays in the result.
                let mut attempts = std::mem::take(&mut trace.attempts);
                attempts.append(&mut error.trace.attempts);
                error.trace.attempts = attempts;
                error.trace.effect = error.trace.effect.or(trace.effect);
                return Err(error);
            }
        };
        trace.attempts.extend(done.trace.attempts);
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
    let object = step_object(step, vec![("results", Context::from(results))], "ok", None);
    let bindings = step.bind.iter().zip(lists).map(|((name, _), list)| (name.text.clone(), Json::Array(list))).collect();
    Ok(Done { trace, warnings, object, bindings, values: None, value: Arc::new(Json::Array(values)), not_sent })
}
