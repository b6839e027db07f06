//! What a run produces, as data: each step's status, typed cause of failure, attempts, side
//! effect and bindings, and the run's outputs. Reports, snapshots and exit codes are all computed
//! from these values after the run.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value as Json};

use crate::http::{Hop, RequestSpec, ResponseData};
use crate::transport::{Failure, FailureKind};

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

/// Why a step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A template could not be rendered: a recipe or data problem, not the API's.
    Render,
    /// `when` did not yield a boolean.
    When,
    /// No usable response: the transport's failure kind.
    Transport(FailureKind),
    /// A status the step does not accept.
    Status,
    /// A body that should be JSON is not.
    NotJson,
    /// An API error envelope in the body.
    ApiError,
    /// A filter or pick found the wrong number of items.
    Selection,
    /// A `bind` could not be computed.
    Bind,
    /// `retry.until` stayed false.
    Until,
    /// The request was not sent because its intent could not be journaled.
    Journal,
    /// A `fail` step.
    Fail,
    /// An `assert` did not hold.
    Assert,
    /// `for_each` did not yield a usable list.
    Each,
    /// Pagination needed more than `max_pages` pages.
    Pages,
    /// No OAuth2 token could be had.
    Auth,
    /// Stopped by SIGTERM while the request was in flight or waiting to be retried.
    Stopped,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Render => "render",
            Cause::When => "when",
            Cause::Transport(kind) => kind.as_str(),
            Cause::Status => "status",
            Cause::NotJson => "not_json",
            Cause::ApiError => "api_error",
            Cause::Selection => "selection",
            Cause::Bind => "bind",
            Cause::Until => "until",
            Cause::Journal => "journal",
            Cause::Fail => "fail",
            Cause::Assert => "assert",
            Cause::Each => "for_each",
            Cause::Pages => "max_pages",
            Cause::Auth => "auth",
            Cause::Stopped => "stopped",
        }
    }
}

impl Serialize for Cause {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// What a non-idempotent request did to the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// It succeeded: something was created or changed.
    Created,
    /// Its outcome is unknown (a timeout or reset after it was written, a 5xx answer, a 2xx that
    /// is not the API's): it may have been created.
    InDoubt,
}

/// One sending of a request.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// 1-based: 1 for each page or `for_each` item, then each retry of it.
    pub number: u32,
    /// `METHOD path?query`, masked, relative to the base URL.
    pub request: String,
    /// The wait before this attempt.
    #[serde(rename = "wait_ms", serialize_with = "milliseconds")]
    pub wait: Duration,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redirects: Vec<Hop>,
    /// The response (masked), or its head when the body was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    #[serde(rename = "duration_ms", serialize_with = "milliseconds")]
    pub duration: Duration,
}

impl Attempt {
    /// `503`, `response_timeout`, `307 -> redirect_refused`: what came of it, in a word or two.
    pub fn summary(&self) -> String {
        let status = self.response.as_ref().map(|r| r.status.to_string());
        let failure = self.failure.as_ref().map(|f| f.kind.as_str().to_owned());
        match (status, failure) {
            (Some(status), Some(failure)) => format!("{status}, {failure}"),
            (Some(status), None) => status,
            (None, Some(failure)) => failure,
            (None, None) => "not sent".into(),
        }
    }
}

/// Everything known about one step after it ran.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub id: String,
    pub kind: &'static str,
    pub status: Status,
    /// Why it failed (absent when it did not).
    #[serde(rename = "error_kind", skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// Why it was skipped, or why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestSpec>,
    /// The last attempt's response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseData>,
    /// Every sending of the request, retries included.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub bindings: BTreeMap<String, Json>,
    #[serde(rename = "duration_ms", serialize_with = "milliseconds")]
    pub duration: Duration,
    /// A `call` step's own steps, with qualified ids (`call.inner`).
    #[serde(rename = "steps", skip_serializing_if = "Vec::is_empty")]
    pub inner: Vec<StepResult>,
    /// In a `for_each` step: each element's side effect (its request, response and effect), so
    /// that every draft a loop created is listed, not only the last request's.
    #[serde(skip)]
    pub effects: Vec<ElementEffect>,
    /// `file:line` of the step, for error messages.
    #[serde(skip)]
    pub location: String,
}

impl StepResult {
    /// A step that has not done anything yet: `Ok`, nothing sent, bound or kept.
    pub(crate) fn started(id: String, kind: &'static str, location: String) -> Self {
        StepResult {
            id,
            kind,
            status: Status::Ok,
            cause: None,
            reason: None,
            request: None,
            response: None,
            attempts: Vec::new(),
            effect: None,
            warnings: Vec::new(),
            bindings: BTreeMap::new(),
            duration: Duration::ZERO,
            inner: Vec::new(),
            effects: Vec::new(),
            location,
        }
    }

    /// How many times this step sent a request, retries and a called recipe's steps included
    /// (a redirect hop belongs to its attempt, and an OAuth2 token request is none).
    pub(crate) fn attempts_sent(&self) -> usize {
        self.attempts.len() + self.inner.iter().map(StepResult::attempts_sent).sum::<usize>()
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn milliseconds<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u128(duration.as_millis())
}

/// One element's side effect in a `for_each` step.
#[derive(Debug, Clone)]
pub struct ElementEffect {
    pub request: RequestSpec,
    pub response: Option<ResponseData>,
    pub effect: Effect,
}

impl StepResult {
    /// Masks again with a masker that knows more secrets (values bound with `secret: true`
    /// after this step kept them).
    pub fn remask(&mut self, masker: &crate::mask::Masker) {
        self.reason = self.reason.as_deref().map(|reason| masker.text(reason));
        self.request = self.request.as_ref().map(|request| masker.request(request));
        self.response = self.response.as_ref().map(|response| masker.response(response));
        for attempt in &mut self.attempts {
            attempt.response = attempt.response.as_ref().map(|response| masker.response(response));
            for hop in &mut attempt.redirects {
                hop.location = masker.text(&hop.location);
            }
            if let Some(failure) = &mut attempt.failure {
                failure.message = masker.text(&failure.message);
            }
        }
        self.warnings = self.warnings.iter().map(|warning| masker.text(warning)).collect();
        self.bindings = self.bindings.iter().map(|(name, value)| (name.clone(), masker.json(value))).collect();
        for inner in &mut self.inner {
            inner.remask(masker);
        }
        for element in &mut self.effects {
            element.request = masker.request(&element.request);
            element.response = element.response.as_ref().map(|response| masker.response(response));
        }
    }
}

/// An optional step that failed while the run went on.
#[derive(Debug, Clone, Serialize)]
pub struct OptionalFailure {
    pub step: String,
    pub error_kind: Option<Cause>,
    pub reason: String,
}

/// A non-idempotent request that created something, or may have.
#[derive(Debug, Clone, Serialize)]
pub struct SideEffect {
    pub step: String,
    pub effect: Effect,
    pub method: String,
    /// Masked, relative to the base URL.
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The response body (masked), for what the request created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Json>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub ok: bool,
    pub steps: Vec<StepResult>,
    /// The outputs that rendered: all of them when the run succeeded; when it failed after a side
    /// effect, those that could.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Map<String, Json>>,
    /// A failure outside any step (outputs, an unused recording).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub optional_failures: Vec<OptionalFailure>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub side_effects: Vec<SideEffect>,
    /// Values bound with `secret: true` (placeholder name, value): a recording masks them too.
    #[serde(skip)]
    pub secrets: Vec<(String, String)>,
    /// Values bound with `secret: true` too short or common to mask by value (name, value, and
    /// the steps whose responses they were read from): a recording masks them where they were
    /// sent and in those responses only.
    #[serde(skip)]
    pub exact_secrets: Vec<(String, String, Vec<String>)>,
    /// Stopped by SIGTERM ([`super::Stop`]) before it could finish.
    #[serde(skip)]
    pub stopped: bool,
}

impl RunResult {
    /// Computes the summaries from the steps.
    pub fn new(ok: bool, steps: Vec<StepResult>, outputs: Option<Map<String, Json>>, error: Option<String>) -> Self {
        let optional_failures = steps
            .iter()
            .filter(|step| step.status == Status::FailedOptional)
            .map(|step| OptionalFailure { step: step.id.clone(), error_kind: step.cause, reason: step.reason.clone().unwrap_or_default() })
            .collect();
        let side_effect = |step: &StepResult, effect: Effect, request: &RequestSpec, response: Option<&ResponseData>| SideEffect {
            step: step.id.clone(),
            effect,
            method: request.method.clone(),
            url: request.url.clone(),
            status: response.map(|r| r.status),
            body: response.and_then(|r| r.body.as_ref()).map(|body| match body {
                crate::http::ResponseBody::Json(json) => Json::clone(json),
                crate::http::ResponseBody::Text(text) => Json::String(text.clone()),
            }),
        };
        let side_effects = steps
            .iter()
            .flat_map(|step| -> Vec<SideEffect> {
                if !step.effects.is_empty() {
                    return step.effects.iter().map(|e| side_effect(step, e.effect, &e.request, e.response.as_ref())).collect();
                }
                match (step.effect, step.request.as_ref()) {
                    (Some(effect), Some(request)) => vec![side_effect(step, effect, request, step.response.as_ref())],
                    _ => Vec::new(),
                }
            })
            .collect();
        Self { ok, steps, outputs, error, optional_failures, side_effects, secrets: Vec::new(), exact_secrets: Vec::new(), stopped: false }
    }

    /// The side effect that makes a failed run's exit code: one in doubt outranks one created.
    pub fn worst_effect(&self) -> Option<Effect> {
        let effects = self.side_effects.iter().map(|s| s.effect);
        effects.clone().find(|e| *e == Effect::InDoubt).or_else(|| effects.clone().next())
    }
}

/// The exit status of a run, computed from its result: the command line passes it on.
impl RunResult {
    /// A run's status: success, or a failure made worse by what the run did to the world (a
    /// request in doubt outranks one that created something, which outranks a plain failure).
    pub fn exit(&self) -> crate::exit::Exit {
        use crate::exit::Exit;
        if self.ok {
            return Exit::Success;
        }
        match self.worst_effect() {
            Some(Effect::InDoubt) => Exit::InDoubt,
            Some(Effect::Created) => Exit::SideEffect,
            None if self.stopped => Exit::Terminated,
            None => Exit::RunFailed,
        }
    }

    /// A dry run's status: it fails only when a step failed on its own, before any request went
    /// unanswered (what needed a response, outputs included, is no failure of a dry run).
    pub fn dry_run_exit(&self) -> crate::exit::Exit {
        let step_failed = self.steps.iter().any(|step| step.status == Status::Failed);
        if !self.ok && step_failed { crate::exit::Exit::RunFailed } else { crate::exit::Exit::Success }
    }

    /// The status of a run after a file it was asked for (report, fixture) could not be written:
    /// a usage error when the run changed nothing, but after a side effect 4 (5 in doubt), never
    /// 2, so that no one runs it again blindly.
    pub fn exit_after_write_failure(&self) -> crate::exit::Exit {
        use crate::exit::Exit;
        if self.side_effects.is_empty() { Exit::Usage } else { Exit::SideEffect.worst(self.exit()) }
    }

    /// The status of a run whose outputs could not be delivered (stdout closed or full): a plain
    /// failure, unless the run created something, which must not be run again blindly.
    pub fn exit_without_outputs(&self) -> crate::exit::Exit {
        if self.side_effects.is_empty() { crate::exit::Exit::RunFailed } else { crate::exit::Exit::SideEffect }
    }
}

#[cfg(test)]
mod exit_tests {
    use super::{Effect, RunResult, SideEffect, Status, StepResult};
    use crate::exit::Exit;

    fn step(status: Status) -> StepResult {
        StepResult { status, ..StepResult::started("create".into(), "request", "recipe.yaml:3".into()) }
    }

    fn with_effects(ok: bool, effects: &[Effect]) -> RunResult {
        let mut result = RunResult::new(ok, vec![step(if ok { Status::Ok } else { Status::Failed })], None, None);
        result.side_effects = effects
            .iter()
            .map(|effect| SideEffect {
                step: "create".into(),
                effect: *effect,
                method: "POST".into(),
                url: "/drafts".into(),
                status: None,
                body: None,
            })
            .collect();
        result
    }

    #[test]
    fn a_run_that_succeeded_exits_0_even_after_creating_something() {
        assert_eq!(with_effects(true, &[]).exit(), Exit::Success);
        assert_eq!(with_effects(true, &[Effect::Created]).exit(), Exit::Success);
    }

    #[test]
    fn a_failed_run_exits_by_its_worst_side_effect() {
        assert_eq!(with_effects(false, &[]).exit(), Exit::RunFailed);
        assert_eq!(with_effects(false, &[Effect::Created]).exit(), Exit::SideEffect);
        assert_eq!(with_effects(false, &[Effect::Created, Effect::InDoubt]).exit(), Exit::InDoubt);
        assert_eq!(with_effects(false, &[Effect::InDoubt, Effect::Created]).exit().code(), 5);
    }

    #[test]
    fn a_dry_run_fails_only_on_a_failed_step() {
        assert_eq!(with_effects(false, &[]).dry_run_exit(), Exit::RunFailed);
        let unanswered = RunResult::new(false, vec![step(Status::Ok)], None, Some("an output needs a response".into()));
        assert_eq!(unanswered.dry_run_exit(), Exit::Success);
        assert_eq!(with_effects(true, &[]).dry_run_exit(), Exit::Success);
    }

    #[test]
    fn outputs_lost_after_a_side_effect_say_so() {
        assert_eq!(with_effects(true, &[]).exit_without_outputs(), Exit::RunFailed);
        assert_eq!(with_effects(true, &[Effect::Created]).exit_without_outputs(), Exit::SideEffect);
    }
}
