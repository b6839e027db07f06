//! A session prepares one run from what the user gave: inputs, environment, and the transport
//! (live, recording, replaying or offline), and turns a recording run into a fixture.
//!
//! The CLI (`run`, `test`) and the project's tests all start runs here, so they resolve inputs
//! and secrets the same way. Nothing here prints.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::check::Plan;
use crate::clock::Clock;
use crate::dynamic::Dynamic;
use crate::fixture::Fixture;
use crate::inputs::{InputSources, resolve, resolve_env};
use crate::mask::Masker;
use crate::run::Params;
use crate::scrub::Scrub;
use crate::transport::{Backend, Live, Recorder, Replay, Settings, Strictness, Transport};

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

pub struct Session {
    pub params: Params,
    pub transport: Transport,
    pub masker: std::sync::Arc<Masker>,
}

/// Resolves inputs and environment and builds the transport; `Err` lists every problem.
pub fn prepare(plan: &Plan, options: Options) -> Result<Session, Vec<String>> {
    let recorded = match &options.mode {
        Mode::Replay(fixture, _) => fixture.inputs.clone(),
        _ => BTreeMap::new(),
    };
    let sources = InputSources { recorded, file: options.vars_file, cli: options.vars };
    let placeholders = matches!(options.mode, Mode::Replay(..) | Mode::Offline);
    let inputs = resolve(plan.recipe(), &sources);
    let env = resolve_env(plan.recipe(), options.lookup, &options.dotenv, placeholders);
    let (inputs, env) = match (inputs, env) {
        (Ok(inputs), Ok(env)) => (inputs, env),
        (inputs, env) => return Err([inputs.err(), env.err()].into_iter().flatten().flatten().collect()),
    };
    let masker = Masker::new(&env.secrets);
    let recording = &plan.recipe().recording;
    let scrub = Scrub::new(recording.redact.clone(), recording.volatile.clone());
    let masker = std::sync::Arc::new(masker);
    // Only a run that sends requests reads the recipe's TLS files and proxy: a replay or a dry
    // run works without them (a private key is often not in the repository).
    let live = || {
        let settings = network_settings(plan, &options.network, &env).map_err(|e| vec![e])?;
        Live::new(&settings, masker.clone()).map_err(|e| vec![e])
    };
    let replaying = matches!(options.mode, Mode::Replay(..) | Mode::Offline);
    let (transport, dynamic) = match options.mode {
        Mode::Replay(fixture, strictness) => {
            let dynamic = Dynamic::replay(fixture.dynamic.clone());
            (Transport::new(Backend::Replay(Replay::new(fixture, scrub, strictness)), None), dynamic)
        }
        Mode::Offline => (Transport::new(Backend::Offline, None), Dynamic::live()),
        Mode::Live => (Transport::new(Backend::Live(live()?), None), Dynamic::live()),
        Mode::Record => (
            Transport::new(Backend::Live(live()?), Some(Recorder::new((*masker).clone(), scrub, recording.headers.clone()))),
            Dynamic::live(),
        ),
    };
    let mut transport = transport;
    if plan.recipe().http.cookies {
        transport.cookies = Some(crate::transport::Jar::default());
    }
    let clock = options.clock.unwrap_or_else(|| if replaying { Clock::fixed() } else { Clock::real() });
    let jitter_seed = if clock.is_virtual() { 0 } else { uuid::Uuid::new_v4().as_u64_pair().0 };
    let params = Params {
        inputs,
        env,
        dry_run: options.dry_run,
        dynamic,
        clock,
        max_time: options.max_time,
        jitter_seed,
        masker: masker.clone(),
        keep_bodies: true,
        intents: None,
    };
    Ok(Session { params, transport, masker })
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
        let masker = run.secrets.iter().fold((*self.masker).clone(), |masker, (name, value)| masker.with(name, value));
        let exchanges = self
            .transport
            .recorder
            .as_ref()?
            .exchanges
            .iter()
            .map(|exchange| crate::fixture::Exchange {
                step: exchange.step.clone(),
                request: masker.request(&exchange.request),
                redirects: exchange
                    .redirects
                    .iter()
                    .map(|hop| crate::http::Hop { status: hop.status, location: masker.text(&hop.location) })
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
pub fn replay_case(
    plan: &Plan,
    fixture: Fixture,
    on_event: &mut crate::run::Listener<'_>,
) -> Result<crate::run::RunResult, Vec<String>> {
    let options = Options::new(&|_| None, Mode::Replay(fixture, Strictness::Route));
    let mut session = prepare(plan, options)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| vec![e.to_string()])?;
    Ok(runtime.block_on(crate::run::run(plan, &session.params, &mut session.transport, on_event)))
}
