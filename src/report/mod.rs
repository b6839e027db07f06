//! Reporting: turns run results into the text people read and the files tools read. It only
//! formats; the CLI prints.
//!
//! Progress is one line per step on stderr (id, method and full URL or kind, status, time), with
//! the reason under a failed or skipped step; `exchange` adds the requests and responses for
//! `-v`. Outputs are JSON on stdout. A dry run prints the rendered requests as YAML. The report
//! files are `json`, `junit` and `html`. Every text here comes from results the runner already
//! masked; the printer escapes control characters (`crate::printable`) and the markup reports
//! escape their own way.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value as Json;

use crate::http::{Body, RequestSpec};
use crate::run::{Attempt, Cause, Effect, RunResult, Status, StepResult};
use crate::testing::{Outcome, Verdict};

pub(crate) mod exchange;
pub(crate) mod html;
pub(crate) mod json;
pub(crate) mod junit;
mod markup;

/// A run as the report files describe it: its result, and what only the caller knows.
pub(crate) struct RunReport<'a> {
    /// The recipe's `name`.
    pub recipe: &'a str,
    pub file: &'a Path,
    /// The resolved inputs, masked.
    pub inputs: BTreeMap<String, Json>,
    /// The whole run, from the first step to the outputs.
    pub duration: Duration,
    pub result: &'a RunResult,
}

/// Why the run failed, in one message: the failed step's reason, or the run's own error.
pub(crate) fn run_error(result: &RunResult) -> Option<String> {
    if result.ok {
        return None;
    }
    Some(match result.steps.iter().find(|s| s.status == Status::Failed) {
        Some(step) => format!("step `{}` failed: {}", step.id, step.reason.as_deref().unwrap_or("no reason given")),
        None => result.error.clone().unwrap_or_else(|| "the run failed".to_owned()),
    })
}

/// The width of the step id column: the longest id of the plan.
pub(crate) fn id_width(plan: &crate::check::Plan) -> usize {
    plan.recipe().steps.iter().map(|step| step.id.text.chars().count()).max().unwrap_or(0)
}

/// The URL a request was sent to: absolute (secrets masked) when known, else as recorded.
pub(crate) fn shown_url(request: &RequestSpec) -> &str {
    if request.absolute_url.is_empty() { &request.url } else { &request.absolute_url }
}

/// One progress line (and the reason, indented, when there is one); `width` is the id column's.
pub fn progress(step: &StepResult, width: usize) -> String {
    let label = match (step.status, step.cause) {
        (Status::Ok, _) => "ok",
        (Status::Skipped, _) => "skipped",
        (Status::FailedOptional, Some(Cause::Render)) => "failed to render (optional, continuing)",
        (Status::FailedOptional, _) => "failed (optional, continuing)",
        (Status::Failed, _) if step.effect == Some(Effect::InDoubt) => "IN DOUBT",
        (Status::Failed, _) => "FAILED",
        (Status::NotSent, _) => "not sent",
    };
    let action = match &step.request {
        Some(request) => {
            let status = step.response.as_ref().map(|r| format!(" -> {}", r.status)).unwrap_or_default();
            format!("{} {}{status}", request.method, shown_url(request))
        }
        None => step.kind.to_owned(),
    };
    // Pages and `for_each` items are requests of their own; retries are the attempts beyond them.
    let requests = step.attempts.iter().filter(|attempt| attempt.number == 1).count();
    let retries = step.attempts.len() - requests;
    let attempts = match (requests, retries) {
        (0 | 1, 0) => String::new(),
        (0 | 1, _) => format!(", {} attempts", step.attempts.len()),
        (_, 0) => format!(", {requests} requests"),
        (_, _) => format!(", {requests} requests, {retries} retries"),
    };
    let mut line = format!("{label:>7} {:<width$} {action} ({}ms{attempts})", step.id, step.duration.as_millis());
    if let Some(last) = step.attempts.last()
        && !last.redirects.is_empty()
    {
        let chain: Vec<String> = last.redirects.iter().map(|hop| format!("{} -> {}", hop.status, hop.location)).collect();
        let _ = write!(line, "\n        redirected: {}", chain.join(", "));
    }
    if let Some(reason) = &step.reason {
        for (index, text) in reason.lines().enumerate() {
            let lead = if index == 0 { "        " } else { "          " };
            let _ = write!(line, "\n{lead}{text}");
        }
    }
    for warning in &step.warnings {
        let _ = write!(line, "\n        warning: {warning}");
    }
    line
}

/// What `run -v` prints for one event of a replayed test case: its progress line and, for a
/// finished step, its exchange.
pub(crate) fn case_event(plan: &crate::check::Plan, event: crate::run::Event, detail: exchange::Detail) -> Vec<String> {
    let mut lines: Vec<String> = self::event(event, id_width(plan)).into_iter().collect();
    if let crate::run::Event::Step(step) = event {
        lines.extend(exchange::exchange(step, detail));
    }
    lines
}

/// The progress line(s) of an event, if it shows any.
pub fn event(event: crate::run::Event, width: usize) -> Option<String> {
    match event {
        crate::run::Event::Step(step) => Some(progress(step, width)),
        crate::run::Event::Retrying { step, attempt, wait, why, server_asked } => Some(retrying(step, attempt, wait, why, server_asked)),
        crate::run::Event::Intent { .. } => None,
    }
}

/// The line shown while a retry waits. It comes before its step's own line (which waits for the
/// step to end), so it names the step.
pub(crate) fn retrying(step: &str, attempt: &Attempt, wait: std::time::Duration, why: &str, server_asked: bool) -> String {
    let source = if server_asked { " (Retry-After)" } else { "" };
    format!("        {step}: attempt {}: {why}; retrying in {}{source}", attempt.number, crate::run::retry::seconds(wait))
}

/// The closing line of a run that succeeded past failed optional steps: nothing degrades silently.
pub(crate) fn completion(result: &RunResult) -> Option<String> {
    if !result.ok || result.optional_failures.is_empty() {
        return None;
    }
    let (render, other): (Vec<_>, Vec<_>) = result.optional_failures.iter().partition(|f| f.error_kind == Some(Cause::Render));
    let names = |list: &[&crate::run::OptionalFailure]| list.iter().map(|f| f.step.as_str()).collect::<Vec<_>>().join(", ");
    let mut parts = Vec::new();
    if !other.is_empty() {
        parts.push(format!("{} optional step{} failed: {}", other.len(), plural(other.len()), names(&other)));
    }
    if !render.is_empty() {
        parts.push(format!(
            "{} optional step{} could not be rendered (a recipe or data problem, not the API's): {}",
            render.len(),
            plural(render.len()),
            names(&render)
        ));
    }
    Some(format!("completed; {}", parts.join("; ")))
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// The closing lines on stderr when a run failed.
pub(crate) fn failure(result: &RunResult) -> Option<String> {
    if result.ok {
        return None;
    }
    let mut message = if let Some(step) = result.steps.iter().find(|s| s.status == Status::Failed) {
        format!("error: the run failed at step `{}` ({})", step.id, step.location)
    } else {
        format!("error: {}", result.error.as_deref().unwrap_or("the run failed"))
    };
    for effect in &result.side_effects {
        let _ = match effect.effect {
            Effect::Created => write!(
                message,
                "\nnote: step `{}` already created something ({} {} -> {}); its outputs and response are on stdout: do not simply run again",
                effect.step,
                effect.method,
                effect.url,
                effect.status.map_or_else(|| "?".to_owned(), |s| s.to_string())
            ),
            Effect::InDoubt => write!(
                message,
                "\nnote: step `{}` ({} {}) may have been created: its outcome is unknown; check before running again",
                effect.step, effect.method, effect.url
            ),
        };
    }
    Some(message)
}

/// What a failed run that had side effects prints on stdout, so nothing it created is lost.
pub(crate) fn side_effects(result: &RunResult) -> Option<String> {
    if result.ok || result.side_effects.is_empty() {
        return None;
    }
    let value = serde_json::json!({
        "completed": false,
        "outputs": result.outputs.clone().unwrap_or_default(),
        "side_effects": result.side_effects,
    });
    Some(serde_json::to_string_pretty(&value).unwrap_or_default())
}

/// The outputs as pretty JSON.
pub(crate) fn outputs(result: &RunResult) -> String {
    let outputs = result.outputs.clone().unwrap_or_default();
    serde_json::to_string_pretty(&outputs).unwrap_or_default()
}

/// A rendered request as a dry run shows it: with its full URL.
#[derive(Serialize)]
struct Rendered<'a> {
    step: &'a str,
    method: &'a str,
    url: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    headers: &'a BTreeMap<String, String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    body: &'a Option<Body>,
}

/// Every rendered request of a dry run, as YAML.
pub(crate) fn dry_run(result: &RunResult) -> String {
    let requests: Vec<Rendered> = result
        .steps
        .iter()
        .filter_map(|s| {
            let request = s.request.as_ref()?;
            Some(Rendered { step: &s.id, method: &request.method, url: shown_url(request), headers: &request.headers, body: &request.body })
        })
        .collect();
    crate::emit::to_string(&requests).unwrap_or_default()
}

/// One line per `recipe test` case, with the diff or error under it.
pub(crate) fn test_outcome(outcome: &Outcome) -> String {
    let name = &outcome.case.name;
    match &outcome.verdict {
        Verdict::Passed => format!("     ok {name}"),
        Verdict::Accepted => format!("accepted {name} ({})", crate::snapshot::path_for(&outcome.case.fixture).display()),
        Verdict::New => format!("    new {name}: no snapshot yet ({})", crate::snapshot::path_for(&outcome.case.fixture).display()),
        Verdict::Changed(diff) => format!(" FAILED {name}: the snapshot differs\n{}", indent(diff)),
        Verdict::Error(message) => format!("  ERROR {name}: {}", message.trim_end()),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("    {line}")).collect::<Vec<_>>().join("\n")
}
