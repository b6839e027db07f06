//! Reporting: turns run results into the text people read. It only formats; the CLI prints.
//!
//! Progress is one line per step on stderr (id, method and path or kind, status, time), with the
//! reason under a failed or skipped step. Outputs are JSON on stdout. A dry run prints the
//! rendered requests as YAML. Every text here comes from results the runner already masked.

use std::fmt::Write as _;

use serde::Serialize;

use crate::http::RequestSpec;
use crate::run::{Attempt, Cause, Effect, RunResult, Status, StepResult};
use crate::testing::{Outcome, Verdict};

/// One progress line (and the reason, indented, when there is one).
pub fn progress(step: &StepResult) -> String {
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
            format!("{} {}{status}", request.method, request.url)
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
    let mut line = format!("{label:>7} {:<12} {action} ({}ms{attempts})", step.id, step.duration.as_millis());
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

/// The progress line(s) of an event, if it shows any.
pub fn event(event: crate::run::Event) -> Option<String> {
    match event {
        crate::run::Event::Step(step) => Some(progress(step)),
        crate::run::Event::Retrying { attempt, wait, why, server_asked, .. } => Some(retrying(attempt, wait, why, server_asked)),
        crate::run::Event::Intent { .. } => None,
    }
}

/// The line shown while a retry waits.
pub fn retrying(attempt: &Attempt, wait: std::time::Duration, why: &str, server_asked: bool) -> String {
    let source = if server_asked { " (Retry-After)" } else { "" };
    format!("        attempt {}: {why}; retrying in {}{source}", attempt.number, crate::run::retry::seconds(wait))
}

/// The closing line of a run that succeeded past failed optional steps: nothing degrades silently.
pub fn completion(result: &RunResult) -> Option<String> {
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
pub fn failure(result: &RunResult) -> Option<String> {
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
pub fn side_effects(result: &RunResult) -> Option<String> {
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
pub fn outputs(result: &RunResult) -> String {
    let outputs = result.outputs.clone().unwrap_or_default();
    serde_json::to_string_pretty(&outputs).unwrap_or_default()
}

#[derive(Serialize)]
struct Rendered<'a> {
    step: &'a str,
    #[serde(flatten)]
    request: &'a RequestSpec,
}

/// Every rendered request of a dry run, as YAML.
pub fn dry_run(result: &RunResult) -> String {
    let requests: Vec<Rendered> =
        result.steps.iter().filter_map(|s| Some(Rendered { step: &s.id, request: s.request.as_ref()? })).collect();
    crate::yaml::to_string(&requests).unwrap_or_default()
}

/// One line per `recipe test` case, with the diff or error under it.
pub fn test_outcome(outcome: &Outcome) -> String {
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

/// The `recipe test --report json` document.
pub fn test_json(outcomes: &[Outcome]) -> serde_json::Value {
    let cases: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            let (verdict, detail) = match &o.verdict {
                Verdict::Passed => ("passed", None),
                Verdict::Accepted => ("accepted", None),
                Verdict::New => ("new", None),
                Verdict::Changed(diff) => ("changed", Some(diff.clone())),
                Verdict::Error(message) => ("error", Some(message.clone())),
            };
            serde_json::json!({
                "case": o.case.name,
                "fixture": o.case.fixture,
                "verdict": verdict,
                "detail": detail,
                "run_ok": o.run_ok,
                "duration_ms": o.duration.as_millis(),
            })
        })
        .collect();
    let passed = outcomes.iter().filter(|o| o.passed()).count();
    serde_json::json!({ "passed": passed, "failed": outcomes.len() - passed, "cases": cases })
}
