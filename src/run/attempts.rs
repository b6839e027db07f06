//! The attempt loop of a request: one page sent as many times as the retry policy allows (each
//! sending an [`Attempt`]), then the last response checked (status, JSON, API error envelopes),
//! and whether the request created something (or may have). `request` sends a step's first page
//! through it and `paginate` the next ones.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use minijinja::Value as Context;
use serde_json::Value as Json;

use super::retry::{Decision, Observed, Policy, decide};
use super::{Acted, Attempt, Cause, DEFAULT_TIMEOUT, Effect, Event, Listener, State, StepError, Trace};
use crate::envelope;
use crate::http::{RequestSpec, ResponseBody, ResponseData};
use crate::model::{Expect, Request, Step};
use crate::transport::{Delivery, FailureKind, Limits, Reply, Transport};

const DEFAULT_REDIRECTS: u32 = 5;
const DEFAULT_MAX_BODY: u64 = 16 * 1024 * 1024;

#[allow(clippy::too_many_arguments)]
/// One page: the request as rendered (or as `paginate.next` changed it), sent with its retries
/// and judged; `not_sent` when nothing was sent (a dry run without a fixture).
pub(super) async fn page(
    state: &State<'_>,
    step: &Step,
    request: &Request,
    context: &Context,
    transport: &mut Transport,
    on_event: &mut Listener<'_>,
    spec: &RequestSpec,
    oauth: bool,
) -> Result<Acted, StepError> {
    let mut masked = state.masker.request(spec);
    // An OAuth2 token is shown, recorded and replayed as `<oauth2>`.
    if oauth && let Some(value) = masked.headers.get_mut("authorization") {
        *value = "Bearer <oauth2>".to_owned();
    }
    let mut trace = Trace { request: Some(masked.clone()), ..Trace::default() };
    if let Some(last) = attempts(state, step, request, context, transport, on_event, (spec, &masked), &mut trace).await? {
        return conclude(state, step, request, last, trace);
    }
    let mut acted = Acted::new(Vec::new(), Arc::new(Json::Null));
    acted.trace = trace;
    acted.not_sent = true;
    Ok(acted)
}

/// The last attempt, and why no other followed.
struct Last {
    reply: Reply,
    until_unmet: bool,
    /// The policy would have retried, but may not.
    gave_up: Option<String>,
}

/// Sends the request until it succeeds or the retry policy stops; `None` when nothing was sent
/// (a dry run without a fixture). One linear loop, each phase commented: wait for the gate,
/// journal the intent, send, judge, then wait to retry.
#[allow(clippy::too_many_arguments, clippy::too_many_lines)]
async fn attempts(
    state: &State<'_>,
    step: &Step,
    request: &Request,
    context: &Context,
    transport: &mut Transport,
    on_event: &mut Listener<'_>,
    (spec, masked): (&RequestSpec, &RequestSpec),
    trace: &mut Trace,
) -> Result<Option<Last>, StepError> {
    let http = &state.plan.recipe().http;
    let policy = Policy::resolve(http.retry.as_ref(), request.retry.as_ref());
    // Results that keep bodies (a single run, `-v`, reports) show them whole, and so does an
    // error about an unexpected status: a projection is only for a step that takes any 2xx (the
    // transport projects only those).
    let whole = state.params.keep_bodies || step.expect.as_ref().is_some_and(|expect| !expect.status.is_empty());
    let limits = Limits {
        timeout: request.timeout.or(http.timeout).unwrap_or(DEFAULT_TIMEOUT),
        redirects: request.redirects.map_or(http.redirects.unwrap_or(DEFAULT_REDIRECTS), |own| own.follow),
        unsafe_redirects: request.redirects.is_some_and(|own| own.allow_unsafe),
        max_body: http.max_body.unwrap_or(DEFAULT_MAX_BODY),
        reads: if whole { None } else { state.plan.reads.read(&step.id.text, &state.plan.engine, context) },
    };
    let idempotent = request.is_idempotent();
    let clock = &state.params.clock;
    let first_started = clock.elapsed();
    let remaining = || state.params.max_time.map(|limit| limit.saturating_sub(clock.elapsed()));
    let mut wait = Duration::ZERO;
    let qualified = state.qualified(&step.id.text);
    let stop = state.params.stop.as_deref();
    let journaled = !idempotent && !transport.is_offline();
    // An intent in the journal that no attempt since has proved unprocessed.
    let mut intent_open = false;
    let mut number = 0;
    loop {
        number += 1;
        if remaining() == Some(Duration::ZERO) {
            let message = "the run's time limit (`--max-time`) was reached before this request was sent";
            return Err(StepError::traced(Cause::Transport(FailureKind::Deadline), message, std::mem::take(trace)));
        }
        // The rate limit and any pause a server asked for come first: the intent is written
        // immediately before the request leaves.
        if super::unless_stopped(stop, transport.admit()).await.is_none() {
            let message = "stopped by SIGTERM before the request was sent";
            let message =
                if trace.effect == Some(Effect::InDoubt) { in_doubt(request.method.as_str(), message) } else { message.to_owned() };
            return Err(StepError::traced(Cause::Stopped, message, std::mem::take(trace)));
        }
        if journaled && !intent_open {
            if let Some(intents) = &state.params.intents {
                intents
                    .intent(&qualified)
                    .await
                    .map_err(|reason| StepError::traced(Cause::Journal, format!("not sent: {reason}"), std::mem::take(trace)))?;
            }
            intent_open = true;
            if number == 1 {
                on_event(Event::Intent { step: &qualified });
            }
        }
        let attempt_limits = Limits { timeout: remaining().map_or(limits.timeout, |r| r.min(limits.timeout)), ..limits.clone() };
        let started = Instant::now();
        let sending = transport.send(&qualified, spec, masked, attempt_limits.clone(), &state.masker);
        let Some(sent) = super::unless_stopped(stop, sending).await else {
            // SIGTERM with the request in flight: whether it arrived is unknown.
            let mut message = "stopped by SIGTERM while the request was in flight".to_owned();
            if !idempotent {
                trace.effect = Some(Effect::InDoubt);
                message = in_doubt(request.method.as_str(), &message);
            }
            return Err(StepError::traced(Cause::Stopped, message, std::mem::take(trace)));
        };
        let Some(mut reply) = sent.reply else { return Ok(None) };
        if let Reply::Failed { failure, .. } = &mut reply
            && failure.kind == FailureKind::ResponseTimeout
            && attempt_limits.timeout < limits.timeout
        {
            failure.message.push_str(" (the run's time limit, `--max-time`, cut the request timeout short)");
        }
        if !idempotent && may_have_acted(&reply) {
            trace.effect = Some(Effect::InDoubt);
        }
        let until_unmet = match &reply {
            Reply::Answered(response) => {
                !until_met(state, &policy, response, context).map_err(|error| StepError::new(Cause::Render, error.to_string()))?
            }
            Reply::Failed { .. } => false,
        };
        let observed = match &reply {
            Reply::Failed { failure, .. } => Observed::Failure(failure.kind),
            Reply::Answered(response) => Observed::Response {
                status: response.status,
                retry_after: response.headers.get("retry-after").map(String::as_str),
                date: response.headers.get("date").map(String::as_str),
                until_unmet,
            },
        };
        let unprocessed = super::retry::unprocessed(observed);
        let decision = decide(
            &policy,
            request.method.as_str(),
            idempotent,
            number,
            observed,
            clock.elapsed().saturating_sub(first_started),
            remaining(),
            clock.wall(),
            jitter_key(state, &step.id.text),
        );
        trace.attempts.push(Attempt {
            number,
            request: format!("{} {}", masked.method, masked.url),
            wait,
            redirects: sent.redirects,
            response: reply.response().map(|r| state.kept(r)),
            // Messages can quote what the server answered (a `Location`): masked like the rest.
            failure: reply.failure().cloned().map(|mut failure| {
                failure.message = state.masker.text(&failure.message);
                failure
            }),
            duration: started.elapsed(),
        });
        match decision {
            Decision::Stop => return Ok(Some(Last { reply, until_unmet, gave_up: None })),
            Decision::GiveUp(reason) => return Ok(Some(Last { reply, until_unmet, gave_up: Some(reason) })),
            Decision::Retry { wait: next, why, server_asked } => {
                if intent_open && unprocessed && trace.effect.is_none() {
                    // Killed during the wait, the row has provably not sent this step.
                    if let Some(intents) = &state.params.intents {
                        intents
                            .not_processed(&qualified)
                            .map_err(|reason| StepError::traced(Cause::Journal, reason.to_string(), std::mem::take(trace)))?;
                    }
                    intent_open = false;
                }
                let attempt = trace.attempts.last().expect("an attempt was just kept");
                on_event(Event::Retrying { step: &qualified, attempt, wait: next, why: &why, server_asked });
                if server_asked {
                    // The server asked everyone to wait, not only this run.
                    transport.pause(next);
                }
                if super::unless_stopped(stop, clock.sleep(next)).await.is_none() {
                    let message = "stopped by SIGTERM while waiting to retry";
                    let message =
                        if trace.effect == Some(Effect::InDoubt) { in_doubt(request.method.as_str(), message) } else { message.to_owned() };
                    return Err(StepError::traced(Cause::Stopped, message, std::mem::take(trace)));
                }
                wait = next;
            }
        }
    }
}

/// Judges the last attempt: a failure, a response the step does not accept, or success; and
/// whether a non-idempotent request created something. The body is moved, never copied, into
/// what later steps read.
fn conclude(state: &State, step: &Step, request: &Request, last: Last, mut trace: Trace) -> Result<Acted, StepError> {
    let Last { reply, until_unmet, gave_up } = last;
    trace.kept = reply.response().map(|r| state.kept(r));
    let method = request.method.as_str();
    let explain = |message: String, trace: &Trace| {
        let message = match &gave_up {
            Some(reason) => format!("{message}\n{reason}"),
            None => message,
        };
        if trace.effect == Some(Effect::InDoubt) { in_doubt(method, &message) } else { message }
    };
    let response = match reply {
        Reply::Failed { failure, head } => {
            let message = explain(failure.message, &trace);
            trace.raw = head;
            return Err(StepError::traced(Cause::Transport(failure.kind), message, trace));
        }
        Reply::Answered(response) => response,
    };
    let checks_envelopes = step.expect.as_ref().and_then(|e| e.api_errors).unwrap_or(true);
    let api_errors = match (&response.body, &state.plan.recipe().http.api_errors) {
        (Some(ResponseBody::Json(body)), Some(setting)) if checks_envelopes => api_errors(&state.masker, setting, body),
        _ => Vec::new(),
    };
    if !request.is_idempotent() && (200..300).contains(&response.status) && api_errors.is_empty() {
        // A success status with a body that is not the API's kind (an HTML login or proxy page
        // where JSON was expected) does not say that the API did it: in doubt, not created.
        let foreign =
            step.expect.as_ref().and_then(|e| e.json).unwrap_or(!step.reads_xml()) && matches!(response.body, Some(ResponseBody::Text(_)));
        trace.effect = Some(if foreign { Effect::InDoubt } else { Effect::Created });
    }
    if let Err((cause, message)) = check_response(state, step.expect.as_ref(), step.reads_xml(), &response, &api_errors) {
        let message = explain(message, &trace);
        trace.raw = Some(response);
        return Err(StepError::traced(cause, message, trace));
    }
    if until_unmet {
        let message = explain("`retry.until` is still false after the last attempt".to_owned(), &trace);
        trace.raw = Some(response);
        return Err(StepError::traced(Cause::Until, message, trace));
    }
    let ResponseData { status, headers, body } = response;
    let body = match body {
        Some(ResponseBody::Json(value)) => value,
        Some(ResponseBody::Text(text)) => Arc::new(Json::String(text)),
        None => Arc::new(Json::Null),
    };
    let warnings = match &state.plan.recipe().http.api_errors {
        Some(crate::model::ApiErrors::Mykaarma) => envelope::warnings(&state.masker, &body),
        _ => Vec::new(),
    };
    let result = vec![
        ("status", Context::from(status)),
        ("headers", Context::from(minijinja::value::Serde(&headers))),
        ("body", crate::template::shared_json(Arc::clone(&body))),
        ("warnings", Context::from(minijinja::value::Serde(&warnings))),
    ];
    let mut acted = Acted::new(result, body);
    acted.trace = trace;
    acted.warnings = warnings;
    Ok(acted)
}

/// The errors a body reports under the recipe's `http.api_errors` setting.
fn api_errors(masker: &crate::mask::Masker, setting: &crate::model::ApiErrors, body: &Json) -> Vec<String> {
    match setting {
        crate::model::ApiErrors::Mykaarma => envelope::errors(masker, body),
        crate::model::ApiErrors::Paths(paths) => paths
            .iter()
            .flat_map(|path| {
                path.select(body).into_iter().filter(|node| !matches!(node, Json::Null | Json::Bool(false)) && !is_empty(node)).map(
                    |node| match node {
                        Json::String(text) => text.clone(),
                        other => crate::select::short(masker, other),
                    },
                )
            })
            .collect(),
    }
}

fn is_empty(value: &Json) -> bool {
    match value {
        Json::String(text) => text.is_empty(),
        Json::Array(items) => items.is_empty(),
        Json::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// Whether a non-idempotent request that did not succeed may have taken effect: its outcome is
/// unknown (a reset or timeout after it was written); the server answered 2xx (or 303 See Other)
/// but the answer could not be read in full (cut short, corrupt, too large), so it did process
/// it; or the server answered a server error (500, 502, 503 without a `Retry-After` the policy
/// honours, 504), which may come after it stored what was sent. A 4xx is a refusal.
fn may_have_acted(reply: &Reply) -> bool {
    match reply {
        Reply::Failed { failure, head } => {
            failure.kind.delivery() == Delivery::Unknown || head.as_ref().is_some_and(|r| (200..300).contains(&r.status) || r.status == 303)
        }
        Reply::Answered(response) => {
            super::retry::outcome_unknown(response.status, response.headers.get("retry-after").map(String::as_str))
        }
    }
}

/// The message of a non-idempotent request whose outcome is unknown.
fn in_doubt(method: &str, message: &str) -> String {
    format!("the {method} may have been created; check before running again\n{message}")
}

/// Whether the policy's `until` holds for this response (true without an `until`).
/// Why `retry.until` could not say whether to stop.
#[derive(Debug, thiserror::Error)]
enum UntilError {
    /// What it rendered instead, masked and cut short.
    #[error("`retry.until` must render to true or false, got {0}")]
    NotABoolean(String),
    #[error("cannot render `retry.until` ({text}): {reason}")]
    Render { text: String, reason: crate::template::TemplateError },
}

fn until_met(state: &State, policy: &Policy, response: &ResponseData, context: &Context) -> Result<bool, UntilError> {
    let Some(until) = &policy.until else { return Ok(true) };
    let data = serde_json::json!({ "status": response.status, "headers": response.headers, "body": *body_value(response) });
    let context = minijinja::context! { response => crate::template::context(&data), ..context.clone() };
    match state.plan.engine.render(until, &context) {
        Ok(Json::Bool(met)) => Ok(met),
        Ok(other) => Err(UntilError::NotABoolean(crate::select::short(&state.masker, &other))),
        Err(reason) => Err(UntilError::Render { text: until.text.clone(), reason }),
    }
}

/// A reproducible jitter per step (and per run when live).
fn jitter_key(state: &State, step: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    step.hash(&mut hasher);
    hasher.finish() ^ state.params.jitter_seed
}

/// A response body as template data: JSON as is (shared, not copied), text as a string, none
/// as null.
pub(super) fn body_value(response: &ResponseData) -> Arc<Json> {
    match &response.body {
        Some(ResponseBody::Json(value)) => Arc::clone(value),
        Some(ResponseBody::Text(text)) => Arc::new(Json::String(text.clone())),
        None => Arc::new(Json::Null),
    }
}

/// Status, JSON-ness and API error envelopes, in that order.
/// `reads_xml`: the step reads its body with XPath, so a text body is what it expects unless
/// `expect.json` says otherwise.
fn check_response(
    state: &State,
    expect: Option<&Expect>,
    reads_xml: bool,
    response: &ResponseData,
    api_errors: &[String],
) -> Result<(), (Cause, String)> {
    let status_ok = match expect.map(|e| e.status.as_slice()) {
        Some(codes) if !codes.is_empty() => codes.contains(&response.status),
        _ => (200..300).contains(&response.status),
    };
    if !status_ok {
        let wanted = match expect.map(|e| e.status.as_slice()) {
            Some(codes) if !codes.is_empty() => codes.iter().map(u16::to_string).collect::<Vec<_>>().join(" or "),
            _ => "2xx".to_owned(),
        };
        let mut message = format!("status {}, expected {wanted}", crate::http::status_text(response.status));
        if let Some(location) = response.headers.get("location") {
            message.push_str(&format!(" (`Location: {}`)", state.masker.text(location)));
        }
        if !api_errors.is_empty() {
            message.push_str(&format!(": API error {}", api_errors.join("; ")));
        }
        match &response.body {
            Some(ResponseBody::Text(text)) => message.push_str(&format!("\n{}", excerpt(&state.masker, response.content_type(), text))),
            Some(ResponseBody::Json(json)) => {
                let text = serde_json::to_string_pretty(json).unwrap_or_default();
                message.push_str(&format!("\n{}", excerpt(&state.masker, response.content_type(), &text)));
            }
            None => {}
        }
        return Err((Cause::Status, message));
    }
    let wants_json = expect.and_then(|e| e.json).unwrap_or(!reads_xml);
    if wants_json && let Some(ResponseBody::Text(text)) = &response.body {
        return Err((
            Cause::NotJson,
            format!("expected a JSON response (status {}), but {}", response.status, excerpt(&state.masker, response.content_type(), text)),
        ));
    }
    if !api_errors.is_empty() {
        return Err((Cause::ApiError, format!("the API reported an error (status {}): {}", response.status, api_errors.join("; "))));
    }
    Ok(())
}

/// The content type and the first lines of a body (JSON comes pretty-printed), for error messages:
/// masked first, then cut, so a secret across the cut never shows its first characters. The
/// whole body is masked before it is split into lines: a secret holding a line break (a PEM
/// key) would no longer match once its lines were re-joined.
fn excerpt(masker: &crate::mask::Masker, content_type: Option<&str>, text: &str) -> String {
    let masked = masker.text(text);
    let lines: Vec<&str> = masked.lines().filter(|line| !line.trim().is_empty()).take(12).collect();
    let shown = masker.excerpt(&lines.join("\n    "), 600);
    format!("the body is `{}`:\n    {shown}", content_type.unwrap_or("without a content type"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_excerpt_masks_a_secret_that_spans_lines() {
        let key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
        let masker = crate::mask::Masker::new(&[("CLIENT_KEY".to_owned(), key.to_owned())]);
        let body = format!("<html>\n\n<pre>{key}</pre>\n</html>");
        let shown = excerpt(&masker, Some("text/html"), &body);
        assert!(shown.contains("<CLIENT_KEY>") && !shown.contains("MIIEvQ"), "{shown}");
        assert!(shown.starts_with("the body is `text/html`:\n    <html>\n    <pre><CLIENT_KEY></pre>"), "{shown}");
    }
}
