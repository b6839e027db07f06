//! Reporting: turns run results into the text people read. It only formats; the CLI prints.
//!
//! Progress is one line per step on stderr (id, method and path or kind, status, time), with the
//! reason under a failed or skipped step. Outputs are JSON on stdout. A dry run prints the
//! rendered requests as YAML. Every text here comes from results the runner already masked.

use std::fmt::Write as _;

use serde::Serialize;

use crate::http::RequestSpec;
use crate::run::{RunResult, Status, StepResult};
use crate::testing::{Outcome, Verdict};

/// One progress line (and the reason, indented, when there is one).
pub fn progress(step: &StepResult) -> String {
    let label = match step.status {
        Status::Ok => "ok",
        Status::Skipped => "skipped",
        Status::FailedOptional => "failed (optional, continuing)",
        Status::Failed => "FAILED",
        Status::NotSent => "not sent",
    };
    let action = match &step.request {
        Some(request) => {
            let status = step.response.as_ref().map(|r| format!(" -> {}", r.status)).unwrap_or_default();
            format!("{} {}{status}", request.method, request.url)
        }
        None => step.kind.to_owned(),
    };
    let mut line = format!("{label:>7} {:<12} {action} ({}ms)", step.id, step.duration.as_millis());
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

/// The closing line on stderr when a run failed.
pub fn failure(result: &RunResult) -> Option<String> {
    if result.ok {
        return None;
    }
    if let Some(step) = result.steps.iter().find(|s| s.status == Status::Failed) {
        return Some(format!("error: the run failed at step `{}` ({})", step.id, step.location));
    }
    result.error.as_ref().map(|error| format!("error: {error}"))
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
