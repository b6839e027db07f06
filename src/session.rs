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

pub use crate::factory::Session;

/// Resolves inputs and environment and builds one run through the [`Factory`]; `Err` lists
/// every problem.
pub fn prepare(plan: &Plan, options: Options) -> Result<Session, Vec<String>> {
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
        (inputs, factory) => return Err([inputs.err(), factory.err()].into_iter().flatten().flatten().collect()),
    };
    Ok(factory.start(Start { inputs, fixture, ..Start::default() }))
}

/// The client's settings: the command-line flags, over the recipe's `http.connect_timeout`,
/// `http.proxy` (rendered with `env`) and `http.tls` (its files relative to the recipe file).
/// `--client-cert` replaces the recipe's client certificate and key together.
pub fn network_settings(plan: &Plan, flags: &Settings, env: &crate::inputs::EnvValues) -> Result<Settings, String> {
    let http = &plan.recipe().http;
    let mut settings = flags.clone();
    settings.connect_timeout = flags.connect_timeout.or(http.connect_timeout);
    if settings.proxy.is_none()
        && let Some(proxy) = &http.proxy
    {
        let context = crate::template::context(&serde_json::json!({ "env": env.values }));
        let proxy = plan.engine.render_text(proxy, &context).map_err(|e| format!("cannot render `http.proxy`: {e}"))?;
        settings.proxy = (!proxy.is_empty()).then_some(proxy);
    }
    let folder = std::path::Path::new(&plan.source.name).parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let read = |key: &str, file: &str| crate::transport::Pem::read(&folder.join(file)).map_err(|e| format!("`http.tls.{key}`: {e}"));
    let tls = http.tls.as_ref();
    if settings.ca_certificates.is_none()
        && let Some(ca) = tls.and_then(|tls| tls.ca.as_ref())
    {
        settings.ca_certificates = Some(read("ca", ca)?);
    }
    if settings.client_identity.is_empty()
        && let Some(tls) = tls
        && let Some(certificate) = &tls.client_cert
    {
        settings.client_identity.push(read("client_cert", certificate)?);
        if let Some(key) = &tls.client_key {
            settings.client_identity.push(read("client_key", key)?);
        }
    }
    Ok(settings)
}

impl Session {
    /// The fixture a recording session captured (inputs and values masked like everything else,
    /// including the values the run bound with `secret: true`).
    pub fn fixture(&self, note: Option<String>, run: &crate::run::RunResult) -> Option<Fixture> {
        let masker = run.secrets.iter().fold((*self.params.masker).clone(), |masker, (name, value)| masker.with(name, value));
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
                response: exchange.response.as_ref().map(|response| masker.response(response)),
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
pub fn replay_case(plan: &Plan, fixture: Fixture, on_event: &mut crate::run::Listener<'_>) -> Result<crate::run::RunResult, Vec<String>> {
    let options = Options::new(&|_| None, Mode::Replay(fixture, Strictness::Route));
    let mut session = prepare(plan, options)?;
    let runtime = crate::factory::runtime().map_err(|e| vec![format!("cannot start the runtime: {e}")])?;
    Ok(runtime.block_on(crate::run::run(plan, &session.params, &mut session.transport, on_event)))
}
