//! The JSON reports: `recipe run --report json` (the whole run: recipe, inputs, outputs, every
//! step with its error, attempts, side effects, time) and `recipe test --report json` (one entry
//! per case). Everything in them was masked by the runner.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::RunReport;
use crate::run::{OptionalFailure, SideEffect, Status, StepResult};
use crate::testing::{Outcome, Verdict};

#[derive(Serialize)]
struct Document<'a> {
    recipe: &'a str,
    file: String,
    ok: bool,
    duration_ms: u128,
    /// Why the run failed; `null` when it succeeded.
    error: Option<String>,
    inputs: &'a BTreeMap<String, Json>,
    /// `null` when the run failed before its outputs could render.
    outputs: Option<&'a Map<String, Json>>,
    steps: Vec<Step<'a>>,
    optional_failures: &'a [OptionalFailure],
    side_effects: &'a [SideEffect],
}

/// A step with its error message, when it failed (optional or not).
#[derive(Serialize)]
struct Step<'a> {
    #[serde(flatten)]
    step: &'a StepResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// The `recipe run --report json` document.
pub(crate) fn run(report: &RunReport) -> Json {
    let result = report.result;
    let steps = result
        .steps
        .iter()
        .map(|step| {
            let failed = matches!(step.status, Status::Failed | Status::FailedOptional);
            Step { step, error: if failed { Some(step.reason.as_deref().unwrap_or("failed")) } else { None } }
        })
        .collect();
    let document = Document {
        recipe: report.recipe,
        file: report.file.display().to_string(),
        ok: result.ok,
        duration_ms: report.duration.as_millis(),
        error: super::run_error(result),
        inputs: &report.inputs,
        outputs: result.outputs.as_ref(),
        steps,
        optional_failures: &result.optional_failures,
        side_effects: &result.side_effects,
    };
    serde_json::to_value(document).unwrap_or_default()
}

/// The `recipe test --report json` document.
pub(crate) fn test(outcomes: &[Outcome]) -> Json {
    let cases: Vec<Json> = outcomes
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
