//! `call`: run another (checked) recipe as a step. Its inputs are rendered here and checked
//! against its declarations; its environment variables take this run's values (else their
//! defaults; see [`crate::factory::called`]); it shares this run's transport, clock, dynamic
//! values and masker, its own `recording` settings apply to its requests, and its step ids
//! are qualified (`call.inner`) in progress, fixtures and snapshots. Its outputs become
//! `steps.ID.outputs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::Value as Context;
use serde_json::Value as Json;

use super::{Acted, Cause, Listener, State, Status, StepError, Trace, run_as};
use crate::inputs::{InputSources, resolve};
use crate::model::{Call, Step};
use crate::transport::Transport;

pub(super) fn run<'a>(
    state: &'a State<'a>,
    step: &'a Step,
    call: &'a Call,
    context: &'a Context,
    transport: &'a mut Transport,
    on_event: &'a mut Listener<'_>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Acted, StepError>> + Send + 'a>> {
    // Boxed as a `Send` future: a call's run may hold another call, and the box ends the
    // recursion of types.
    Box::pin(async move {
        let callee = state
            .plan
            .calls
            .get(&step.id.text)
            .ok_or_else(|| StepError::new(Cause::Render, format!("`{}` was not loaded", call.recipe)))?;
        let mut given = BTreeMap::new();
        for (name, template) in &call.inputs {
            let value =
                state.plan.engine.render_tree(template, context).map_err(|e| {
                    StepError::new(Cause::Render, format!("cannot render the input `{}` of `{}`: {e}", name.text, call.recipe))
                })?;
            given.insert(name.text.clone(), value);
        }
        let inputs = resolve(callee.recipe(), &InputSources { file: given, ..InputSources::default() }).map_err(|problems| {
            StepError::new(
                Cause::Render,
                format!("the inputs of `{}`: {}", call.recipe, problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
            )
        })?;
        let params = crate::factory::called(state.params, callee, inputs);
        let prefix = format!("{}.", state.qualified(&step.id.text));
        // The callee's own `recording` settings (redact, volatile, headers) apply to its requests.
        transport.enter(&crate::scrub::Rules::of(&callee.recipe().recording));
        let result = run_as(callee, &params, transport, on_event, &prefix).await;
        transport.leave();
        // The caller masks what the called recipe knew as secret (its env secrets and bindings).
        let secrets = params.env.secrets.iter().chain(&result.secrets).cloned().collect();
        let trace = Trace { effect: result.worst_effect(), inner: result.steps.clone(), secrets, ..Trace::default() };
        if !result.ok {
            let failed = result.steps.iter().find(|s| s.status == Status::Failed);
            let (cause, reason) = match failed {
                Some(failed) => {
                    (failed.cause.unwrap_or(Cause::Render), format!("step `{}`: {}", failed.id, failed.reason.clone().unwrap_or_default()))
                }
                None => (Cause::Render, result.error.clone().unwrap_or_default()),
            };
            return Err(StepError::traced(cause, format!("`{}` failed at {reason}", call.recipe), trace));
        }
        let outputs = Arc::new(Json::Object(result.outputs.clone().unwrap_or_default()));
        let mut acted = Acted::new(vec![("outputs", crate::template::shared_json(Arc::clone(&outputs)))], outputs);
        acted.trace = trace;
        Ok(acted)
    })
}
