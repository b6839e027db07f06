//! Transports: the closed set of ways a rendered request reaches an answer, and the recording
//! sink around them.
//!
//! [`Backend::Live`] sends through one shared reqwest client (redirect policy, body size cap
//! and typed failures live there), [`Backend::Replay`] answers from a fixture and checks each
//! request against the recorded one, [`Backend::Offline`] answers nothing (a dry run without a
//! fixture). A [`Recorder`] keeps every attempt of a live run for the fixture. One call to
//! [`Transport::send`] is one attempt; retries are the runner's decision. Nothing outside this
//! module knows reqwest.

pub(crate) mod bodies;
mod client_error;
mod cookies;
mod error;
mod gate;
mod live;
mod record;
mod replay;
mod tokens;

use std::time::Duration;

pub use client_error::{ClientError, PemError};
pub(crate) use cookies::Jar;
pub use error::FailureKind;
pub(crate) use error::{Delivery, Failure};
pub(crate) use gate::{Gate, Rate};
pub(crate) use live::{Live, Pem, Settings};
pub(crate) use record::Recorder;
pub(crate) use replay::Discrepancies;
pub(crate) use replay::Replay;
pub use replay::Strictness;
pub(crate) use tokens::{TokenRequest, Tokens};

use crate::http::{Hop, RequestSpec, ResponseData};
use crate::mask::Masker;

pub enum Backend {
    Live(Live),
    Replay(Replay),
    Offline,
}

/// One run's way to its answers: built by [`crate::factory`], never assembled field by field.
pub struct Transport {
    backend: Backend,
    /// When recording: every attempt, masked and scrubbed.
    recorder: Option<Recorder>,
    /// A batch's shared rate limit and pause.
    gate: Option<std::sync::Arc<Gate>>,
    /// OAuth2 tokens, shared by the rows of a batch.
    tokens: std::sync::Arc<Tokens>,
    /// `http.cookies: true`: the run's cookie jar.
    cookies: Option<Jar>,
    /// Requests a dry run without a fixture did not send (called recipes' included).
    unanswered: usize,
}

/// What a transport shares with other runs, and what is its own.
pub struct Parts {
    pub recorder: Option<Recorder>,
    pub gate: Option<std::sync::Arc<Gate>>,
    pub tokens: std::sync::Arc<Tokens>,
    /// A cookie jar (`http.cookies: true`).
    pub cookies: bool,
}

/// Per-attempt limits, and what of the body is read.
#[derive(Debug, Clone)]
pub struct Limits {
    /// For the whole exchange: connect, send, headers and body.
    pub timeout: Duration,
    /// Redirects a request may follow.
    pub redirects: u32,
    /// Whether a method other than `GET` or `HEAD` follows redirects (a request's
    /// `redirects: { unsafe: true }`).
    pub unsafe_redirects: bool,
    pub max_body: u64,
    /// The parts of a JSON body the run reads (a batch row's, see `crate::reads`): a live
    /// transport without a recorder builds only those, for a 2xx answer. `None`: the whole body.
    pub(crate) reads: Option<crate::reads::Read>,
}

/// What one attempt produced: its reply, `None` when nothing was sent (a dry run without a
/// fixture), and the redirects it followed.
#[derive(Debug, Clone, Default)]
pub struct Sent {
    pub reply: Option<Reply>,
    pub redirects: Vec<Hop>,
}

/// How an attempt that was sent ended.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A response, read whole.
    Answered(ResponseData),
    /// The attempt failed; `head` is the response (its head when the body was refused or cut
    /// short) when one came, as when a redirect was not followed.
    Failed { failure: Failure, head: Option<ResponseData> },
}

impl Reply {
    /// A recorded exchange's parts; `None` when it holds neither.
    pub fn from_parts(response: Option<ResponseData>, failure: Option<Failure>) -> Option<Self> {
        match (response, failure) {
            (head, Some(failure)) => Some(Self::Failed { failure, head }),
            (Some(response), None) => Some(Self::Answered(response)),
            (None, None) => None,
        }
    }

    /// The response, or its head.
    pub fn response(&self) -> Option<&ResponseData> {
        match self {
            Self::Answered(response) | Self::Failed { head: Some(response), .. } => Some(response),
            Self::Failed { head: None, .. } => None,
        }
    }

    /// The response, or its head, given up.
    fn into_response(self) -> Option<ResponseData> {
        match self {
            Self::Answered(response) | Self::Failed { head: Some(response), .. } => Some(response),
            Self::Failed { head: None, .. } => None,
        }
    }

    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Self::Failed { failure, .. } => Some(failure),
            Self::Answered(_) => None,
        }
    }
}

impl Sent {
    /// An attempt that failed before any response came.
    pub fn failed(kind: FailureKind, message: impl Into<String>) -> Self {
        Self { reply: Some(Reply::Failed { failure: Failure::new(kind, message), head: None }), redirects: Vec::new() }
    }

    /// The same attempt, failed for `failure`; what came back is kept as the response.
    pub(crate) fn failing(self, failure: Failure) -> Self {
        let head = self.reply.and_then(Reply::into_response);
        Self { reply: Some(Reply::Failed { failure, head }), redirects: self.redirects }
    }

    pub fn response(&self) -> Option<&ResponseData> {
        self.reply.as_ref().and_then(Reply::response)
    }
}

impl Transport {
    pub fn new(backend: Backend, parts: Parts) -> Self {
        let Parts { recorder, gate, tokens, cookies } = parts;
        Self { backend, recorder, gate, tokens, cookies: cookies.then(Jar::default), unanswered: 0 }
    }

    /// The OAuth2 token cache this run shares.
    pub fn tokens(&self) -> &std::sync::Arc<Tokens> {
        &self.tokens
    }

    /// The live client, when requests are really sent.
    pub fn live(&self) -> Option<&Live> {
        match &self.backend {
            Backend::Live(live) => Some(live),
            Backend::Replay(_) | Backend::Offline => None,
        }
    }

    /// The recorder of a recording run.
    pub fn recorder(&self) -> Option<&Recorder> {
        self.recorder.as_ref()
    }

    /// A called recipe starts: its own `recording` settings apply to its requests.
    pub fn enter(&mut self, rules: &crate::scrub::Rules) {
        if let Some(recorder) = &mut self.recorder {
            recorder.enter(rules);
        }
        if let Backend::Replay(replay) = &mut self.backend {
            replay.enter(rules);
        }
    }

    /// The called recipe ended: the caller's settings apply again.
    pub fn leave(&mut self) {
        if let Some(recorder) = &mut self.recorder {
            recorder.leave();
        }
        if let Backend::Replay(replay) = &mut self.backend {
            replay.leave();
        }
    }

    /// Holds every request that shares this transport's gate (a server asked to wait).
    pub fn pause(&self, wait: Duration) {
        if let (Some(gate), Backend::Live(_)) = (&self.gate, &self.backend) {
            gate.pause(wait);
        }
    }

    /// Waits for the batch's gate (`--rate`, and a pause a server asked for): called before each
    /// attempt, before its intent is journaled, so that a run killed while waiting has provably
    /// sent nothing.
    pub async fn admit(&self) {
        if let (Some(gate), Backend::Live(_)) = (&self.gate, &self.backend) {
            gate.admit().await;
        }
    }

    /// Sends one attempt, admitted first ([`Transport::admit`]). `masked` is the request as it
    /// may be shown or recorded.
    pub async fn send(&mut self, step: &str, request: &RequestSpec, masked: &RequestSpec, mut limits: Limits, masker: &Masker) -> Sent {
        if self.recorder.is_some() {
            // A recording keeps whole bodies.
            limits.reads = None;
        }
        // The jar's cookies go on the request as it is shown and recorded; a live client sends
        // them itself, hop by hop, as its redirects set them.
        let masked_with_cookies = self.cookies.as_ref().and_then(|jar| jar.give(masked));
        let masked = masked_with_cookies.as_ref().unwrap_or(masked);
        let sent = match &mut self.backend {
            Backend::Live(live) => live.send(request, masked, limits, masker, self.cookies.as_mut()).await,
            Backend::Replay(replay) => replay.send(step, masked),
            Backend::Offline => {
                self.unanswered += 1;
                Sent::default()
            }
        };
        if let Some(recorder) = &mut self.recorder {
            recorder.record(step, masked, &sent);
        }
        if let Some(jar) = &mut self.cookies {
            // Under replay the recorded hops and response feed the jar as the live ones did.
            for set in sent.redirects.iter().filter_map(|hop| hop.set_cookie.as_deref()) {
                jar.take_lines(set);
            }
            if let Some(response) = sent.response() {
                jar.take(response);
            }
        }
        sent
    }

    /// A transport for one of several elements of a step running at once: the same client,
    /// gate and tokens. `None` when requests must keep one order: a replay answers them in the
    /// recorded order, a recording writes one, a dry run sends nothing, and a cookie jar is one
    /// sequence of responses.
    pub fn fan_out(&self) -> Option<Self> {
        match (&self.backend, &self.recorder, &self.cookies) {
            (Backend::Live(live), None, None) => Some(Self {
                backend: Backend::Live(live.clone()),
                recorder: None,
                gate: self.gate.clone(),
                tokens: std::sync::Arc::clone(&self.tokens),
                cookies: None,
                unanswered: 0,
            }),
            _ => None,
        }
    }

    pub fn is_offline(&self) -> bool {
        matches!(self.backend, Backend::Offline)
    }

    /// Whether a dry run has sent nothing for some request (so later steps lack its response).
    pub fn has_unanswered(&self) -> bool {
        self.unanswered > 0
    }

    /// After the run: anything the transport must still report (unused recorded exchanges).
    pub fn finish(&self) -> Option<String> {
        match &self.backend {
            Backend::Replay(replay) => replay.unused(),
            Backend::Live(_) | Backend::Offline => None,
        }
    }

    /// A replay's exchanges not sent and requests not recorded; none for other backends.
    pub(crate) fn discrepancies(&self) -> Discrepancies {
        match &self.backend {
            Backend::Replay(replay) => replay.discrepancies(),
            Backend::Live(_) | Backend::Offline => Discrepancies::default(),
        }
    }
}
