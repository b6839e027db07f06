//! A session is one run prepared from what the user gave (inputs, environment, how requests are
//! answered), through the run [`Factory`]; a recording session's exchanges become a fixture.
//!
//! `recipe run`, `recipe test` and the project's tests start single runs here; a batch uses the
//! factory directly. Nothing here prints.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::check::Plan;
use crate::clock::Clock;
use crate::factory::{Answers, Factory, Setup, Start};
use crate::fixture::Fixture;
use crate::inputs::{InputSources, resolve};
use crate::setup::SetupError;
use crate::transport::{Settings, Strictness};

/// How requests are answered.
pub enum Mode {
    Live,
    Record,
    Replay(Fixture, Strictness),
    /// `--dry-run` without a fixture.
    Offline,
}

/// What the user gave for one run.
pub struct Options<'a> {
    /// `--var name=value` pairs.
    pub vars: Vec<(String, String)>,
    /// The `--vars` file's values.
    pub vars_file: BTreeMap<String, Json>,
    /// Values from `.env`.
    pub dotenv: BTreeMap<String, String>,
    /// The process environment (or a stand-in in tests).
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    pub mode: Mode,
    pub dry_run: bool,
    /// The run's time limit (`--max-time`).
    pub max_time: Option<std::time::Duration>,
    /// The clock for retry waits; by default real for live runs and virtual for replays.
    pub clock: Option<Clock>,
    /// The network flags (`--cacert`, `--proxy`, ...); the recipe's `http.connect_timeout`
    /// applies when `--connect-timeout` is not given.
    pub network: Settings,
}

impl<'a> Options<'a> {
    /// No inputs, no `.env`, real defaults: what tests and `recipe test` start from.
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>, mode: Mode) -> Self {
        Self {
            vars: Vec::new(),
            vars_file: BTreeMap::new(),
            dotenv: BTreeMap::new(),
            lookup,
            mode,
            dry_run: false,
            max_time: None,
            clock: None,
            network: Settings::default(),
        }
    }
}

pub(crate) use crate::factory::Session;

/// Resolves inputs and environment and builds one run through the [`Factory`]; `Err` lists
/// every problem.
pub fn prepare(plan: &Plan, options: Options) -> Result<Session, SetupError> {
    let (answers, fixture) = match options.mode {
        Mode::Live => (Answers::Live, None),
        Mode::Record => (Answers::Record, None),
        Mode::Replay(fixture, strictness) => (Answers::Replay(strictness), Some(fixture)),
        Mode::Offline => (Answers::Offline, None),
    };
    let recorded = fixture.as_ref().map(|fixture| fixture.inputs.clone()).unwrap_or_default();
    let sources = InputSources { recorded, file: options.vars_file, cli: options.vars };
    let setup = Setup {
        dotenv: options.dotenv,
        dry_run: options.dry_run,
        max_time: options.max_time,
        clock: options.clock,
        network: options.network,
        ..Setup::new(options.lookup, answers)
    };
    let (inputs, factory) = match (resolve(plan.recipe(), &sources), Factory::new(plan, setup)) {
        (Ok(inputs), Ok(factory)) => (inputs, factory),
        (inputs, factory) => {
            let mut problems: Vec<String> = inputs.err().iter().flatten().map(ToString::to_string).collect();
            problems.extend(factory.err().iter().flat_map(SetupError::problems));
            return Err(SetupError::Problems(problems));
        }
    };
    Ok(factory.start(Start { inputs, fixture, ..Start::default() }))
}

impl Session {
    /// The fixture a recording session captured (inputs and values masked like everything else,
    /// including the values the run bound with `secret: true`).
    pub fn fixture(&self, note: Option<String>, run: &crate::run::RunResult) -> Option<Fixture> {
        let masker = run.secrets.iter().fold((*self.params.masker).clone(), |masker, (name, value)| masker.with(name, value));
        let masker = run.exact_secrets.iter().fold(masker, |masker, (name, value, _)| masker.with_exact(name, value));
        // A secret masked exactly is masked in the responses it was read from, not in others.
        let source = |step: &str| run.exact_secrets.iter().any(|(_, _, steps)| steps.iter().any(|s| s == step));
        let exchanges = self
            .transport
            .recorder()?
            .exchanges
            .iter()
            .map(|exchange| crate::fixture::Exchange {
                step: exchange.step.clone(),
                request: masker.request(&exchange.request),
                redirects: exchange
                    .redirects
                    .iter()
                    .map(|hop| crate::http::Hop {
                        status: hop.status,
                        location: masker.text(&hop.location),
                        set_cookie: hop.set_cookie.as_deref().map(|set| masker.set_cookie(set)),
                    })
                    .collect(),
                response: exchange.response.as_ref().map(|response| {
                    let mut masked = masker.response(response);
                    if source(&exchange.step)
                        && let Some(crate::http::ResponseBody::Json(json)) = &masked.body
                    {
                        masked.body = Some(crate::http::ResponseBody::Json(std::sync::Arc::new(masker.exact_json(json))));
                    }
                    masked
                }),
                failure: exchange.failure.clone().map(|mut failure| {
                    failure.message = masker.text(&failure.message);
                    failure
                }),
            })
            .collect();
        Some(Fixture {
            fixture: 1,
            note,
            inputs: self.params.inputs.iter().map(|(k, v)| (k.clone(), masker.json(v))).collect(),
            exchanges,
            dynamic: self
                .params
                .dynamic
                .used()
                .into_iter()
                .map(|mut r| {
                    r.value = masker.json(&r.value);
                    r
                })
                .collect(),
        })
    }
}

/// Replays a fixture case as `recipe test` does: hermetic (no process environment), and
/// matching requests by route, so the snapshot shows what changed.
pub fn replay_case(plan: &Plan, fixture: Fixture, on_event: &mut crate::run::Listener<'_>) -> Result<crate::run::RunResult, SetupError> {
    replay_case_compared(plan, fixture, on_event).map(|(result, _)| result)
}

/// The same, with where the run and the recording part ways (what `recipe test` says of a
/// case that failed).
pub(crate) fn replay_case_compared(
    plan: &Plan,
    fixture: Fixture,
    on_event: &mut crate::run::Listener<'_>,
) -> Result<(crate::run::RunResult, crate::transport::Discrepancies), SetupError> {
    let options = Options::new(&|_| None, Mode::Replay(fixture, Strictness::Route));
    let mut session = prepare(plan, options)?;
    let runtime = crate::factory::runtime()?;
    let result = runtime.block_on(crate::run::run(plan, &session.params, &mut session.transport, on_event));
    Ok((result, session.transport.discrepancies()))
}
