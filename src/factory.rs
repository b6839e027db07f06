//! The run factory: where every run's parts are built. `recipe run`, each batch row, each
//! `recipe test` case, a `call` step and a `for_each` element all get their parameters and
//! transport here, so they cannot drift apart.
//!
//! A [`Factory`] holds what the runs of one plan share: the checked plan, the environment, the
//! masker, the HTTP client, the rate gate and the OAuth2 token cache. [`Factory::start`] adds
//! what is each run's own: its inputs, clock, dynamic values, cookie jar and recorder (or the
//! fixture it replays). A called recipe's parameters come from [`called`], and a `for_each`
//! element's transport from [`element`]. Nothing here sends or prints.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;

use crate::check::Plan;
use crate::clock::Clock;
use crate::dynamic::Dynamic;
use crate::fixture::Fixture;
use crate::inputs::{EnvValues, resolve_env};
use crate::mask::Masker;
use crate::run::{IntentLog, Params};
use crate::setup::SetupError;
use crate::transport::{Backend, Gate, Live, Parts, Rate, Recorder, Replay, Settings, Strictness, Tokens, Transport};

/// How a factory's runs are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    /// Sent to the server.
    Live,
    /// Sent, and every attempt recorded for a fixture.
    Record,
    /// Answered from each run's fixture.
    Replay(Strictness),
    /// Not answered at all (`--dry-run` without a fixture).
    Offline,
}

impl Answers {
    /// Replays and dry runs stand placeholders for unset environment variables and never need
    /// the client's TLS files or proxy.
    fn sends(self) -> bool {
        matches!(self, Answers::Live | Answers::Record)
    }
}

/// What every run of a factory is given.
pub struct Setup<'a> {
    /// The process environment (or a stand-in: `recipe test` is hermetic).
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    /// Values from `.env`.
    pub dotenv: BTreeMap<String, String>,
    pub answers: Answers,
    /// Keep going after failures and show what could be rendered (`--dry-run`).
    pub dry_run: bool,
    /// Each run's time limit (`--max-time`).
    pub max_time: Option<Duration>,
    /// The clock for retry waits; by default real when sending and virtual otherwise.
    pub clock: Option<Clock>,
    /// The network flags (`--cacert`, `--proxy`, ...), over the recipe's `http` settings.
    pub network: Settings,
    /// Runs share one gate: a rate limit (`--rate`) and the pauses a server asks for. A batch's
    /// rows do; a single run has no one to share with.
    pub gate: Option<Option<Rate>>,
    /// Keep response bodies in the results (reports, snapshots), or only their heads (batch
    /// rows, whose results are reduced to one journal line).
    pub keep_bodies: bool,
}

impl<'a> Setup<'a> {
    /// One run answered as `answers` says, with no `.env`, no flags and the usual defaults.
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>, answers: Answers) -> Self {
        Self {
            lookup,
            dotenv: BTreeMap::new(),
            answers,
            dry_run: false,
            max_time: None,
            clock: None,
            network: Settings::default(),
            gate: None,
            keep_bodies: true,
        }
    }
}

/// What the runs of one plan share.
pub struct Factory<'p> {
    plan: &'p Plan,
    env: EnvValues,
    masker: Arc<Masker>,
    answers: Answers,
    /// The client and its settings, when requests are sent.
    client: Option<(Live, Settings)>,
    gate: Option<Arc<Gate>>,
    tokens: Arc<Tokens>,
    dry_run: bool,
    max_time: Option<Duration>,
    clock: Option<Clock>,
    keep_bodies: bool,
}

/// What one run is given beyond what its factory shares.
#[derive(Default)]
pub struct Start {
    /// The run's inputs, resolved and checked.
    pub inputs: BTreeMap<String, Json>,
    /// The recording a replay answers from.
    pub fixture: Option<Fixture>,
    /// Where the intent to send a non-idempotent request is made durable first.
    pub intents: Option<Arc<dyn IntentLog>>,
    /// Mixed into retry jitter (a batch row's number); random when absent.
    pub seed: Option<u64>,
}

/// One run's parameters and transport, ready for [`crate::run::run`].
pub struct Session {
    pub params: Params,
    pub transport: Transport,
}

impl<'p> Factory<'p> {
    /// Resolves the environment and builds the shared parts; `Err` lists every problem.
    pub fn new(plan: &'p Plan, setup: Setup) -> Result<Self, SetupError> {
        let env = resolve_env(plan.recipe(), setup.lookup, &setup.dotenv, !setup.answers.sends())
            .map_err(|problems| SetupError::Problems(problems.iter().map(ToString::to_string).collect()))?;
        let masker = Arc::new(Masker::new(&env.secrets));
        // Only a run that sends requests reads the recipe's TLS files and proxy: a replay or a
        // dry run works without them (a private key is often not in the repository).
        let client = if setup.answers.sends() {
            let settings = network_settings(plan, &setup.network, &env)?;
            let live = Live::new(&settings, Arc::clone(&masker)).map_err(SetupError::Client)?;
            Some((live, settings))
        } else {
            None
        };
        Ok(Self {
            plan,
            env,
            masker,
            answers: setup.answers,
            client,
            gate: setup.gate.map(|rate| Arc::new(Gate::new(rate))),
            tokens: Arc::default(),
            dry_run: setup.dry_run,
            max_time: setup.max_time,
            clock: setup.clock,
            keep_bodies: setup.keep_bodies,
        })
    }

    pub fn plan(&self) -> &'p Plan {
        self.plan
    }

    /// The environment's values and secrets.
    pub fn env(&self) -> &EnvValues {
        &self.env
    }

    /// Masks the environment's secrets.
    pub fn masker(&self) -> &Arc<Masker> {
        &self.masker
    }

    /// The factory's own client, when requests are sent.
    pub fn live(&self) -> Option<&Live> {
        self.client.as_ref().map(|(live, _)| live)
    }

    /// Another client with the same settings and its own connection pool, for another thread's
    /// runtime (a connection lives on the runtime that opened it). `None` when nothing is sent.
    pub fn client(&self) -> Option<Result<Live, SetupError>> {
        let (_, settings) = self.client.as_ref()?;
        Some(Live::new(settings, Arc::clone(&self.masker)).map_err(SetupError::Client))
    }

    /// One run, sending through the factory's own client.
    pub fn start(&self, start: Start) -> Session {
        self.start_on(self.live(), start)
    }

    /// One run, sending through `client` (a thread's own; see [`Factory::client`]).
    pub fn start_on(&self, client: Option<&Live>, start: Start) -> Session {
        let rules = crate::scrub::Rules::of(&self.plan.recipe().recording);
        let (backend, dynamic) = match (self.answers, start.fixture, client) {
            (Answers::Replay(strictness), Some(fixture), _) => {
                let dynamic = Dynamic::replay(fixture.dynamic.clone());
                (Backend::Replay(Replay::new(fixture, &rules, strictness)), dynamic)
            }
            (Answers::Live | Answers::Record, _, Some(live)) => (Backend::Live(live.clone()), Dynamic::live()),
            // A replay without a fixture, or a sending run without a client, answers nothing.
            _ => (Backend::Offline, Dynamic::live()),
        };
        let recorder = (self.answers == Answers::Record).then(|| Recorder::new((*self.masker).clone(), &rules));
        let parts = Parts { recorder, gate: self.gate.clone(), tokens: Arc::clone(&self.tokens), cookies: self.plan.recipe().http.cookies };
        let transport = Transport::new(backend, parts);
        let clock = self.clock.clone().unwrap_or_else(|| if self.answers.sends() { Clock::real() } else { Clock::fixed() });
        let jitter_seed = match start.seed {
            _ if clock.is_virtual() => 0,
            Some(seed) => seed,
            None => uuid::Uuid::new_v4().as_u64_pair().0,
        };
        let params = Params {
            inputs: start.inputs,
            env: self.env.clone(),
            dry_run: self.dry_run,
            dynamic,
            clock,
            max_time: self.max_time,
            jitter_seed,
            masker: Arc::clone(&self.masker),
            keep_bodies: self.keep_bodies,
            intents: start.intents,
            stop: None,
        };
        Session { params, transport }
    }
}

/// The client's settings: the command-line flags, over the recipe's `http.connect_timeout`,
/// `http.proxy` (rendered with `env`) and `http.tls` (its files relative to the recipe file).
/// `--client-cert` replaces the recipe's client certificate and key together.
fn network_settings(plan: &Plan, flags: &Settings, env: &crate::inputs::EnvValues) -> Result<Settings, SetupError> {
    let http = &plan.recipe().http;
    let mut settings = flags.clone();
    settings.connect_timeout = flags.connect_timeout.or(http.connect_timeout);
    if settings.proxy.is_none()
        && let Some(proxy) = &http.proxy
    {
        let context = crate::template::context(&serde_json::json!({ "env": env.values }));
        let proxy = plan.engine.render_text(proxy, &context).map_err(|reason| SetupError::Proxy { reason })?;
        settings.proxy = (!proxy.is_empty()).then_some(proxy);
    }
    let folder = std::path::Path::new(&plan.source.name).parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let read = |key: &str, file: &str| {
        crate::transport::Pem::read(&folder.join(file)).map_err(|source| SetupError::Tls { key: key.to_owned(), source })
    };
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

/// A called recipe's parameters: its `inputs`, and its environment variables with the caller's
/// values (else their defaults). It shares the caller's clock, dynamic values, time limit and
/// intent log, and masks what the caller masks and its own secrets.
pub(crate) fn called(caller: &Params, callee: &Plan, inputs: BTreeMap<String, Json>) -> Params {
    let mut env = EnvValues::default();
    let mut masker = (*caller.masker).clone();
    for var in &callee.recipe().env {
        let name = &var.name.text;
        let Some(value) = caller.env.values.get(name).cloned().or_else(|| var.default.clone()) else { continue };
        if var.secret {
            env.secrets.push((name.clone(), value.clone()));
            masker = masker.with(name, &value);
        }
        env.values.insert(name.clone(), value);
    }
    Params {
        inputs,
        env,
        dry_run: caller.dry_run,
        dynamic: Arc::clone(&caller.dynamic),
        clock: caller.clock.clone(),
        max_time: caller.max_time,
        jitter_seed: caller.jitter_seed,
        masker: Arc::new(masker),
        keep_bodies: caller.keep_bodies,
        intents: caller.intents.clone(),
        stop: caller.stop.clone(),
    }
}

/// A transport for one of several elements of a `for_each` step running at once: the same
/// client, gate and tokens. `None` when requests must keep one order: a replay answers them in
/// the recorded order, a recording writes one, a dry run sends nothing, and a cookie jar is one
/// sequence of responses.
pub(crate) fn element(transport: &Transport) -> Option<Transport> {
    transport.fan_out()
}

/// The one tokio runtime builder: a current-thread runtime with time and I/O. A batch runs one
/// per thread of rows; every other command runs one.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, SetupError> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(SetupError::Runtime)
}
