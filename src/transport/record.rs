//! The recording sink: every attempt of a live run, as the fixture will hold it.
//!
//! Requests arrive already masked; responses are masked here, scrubbed (`recording.redact` and
//! `volatile`), and keep only the headers replay needs. A failed attempt is recorded with its
//! failure, so a replay fails the same way and a reset after a `POST` is never lost.

use crate::fixture::Exchange;
use crate::http::{RECORDED_RESPONSE_HEADERS, RequestSpec};
use crate::mask::Masker;
use crate::scrub::{Rules, Scrub};

use super::Sent;

pub struct Recorder {
    masker: Masker,
    scrub: Scrub,
    /// `recording.headers`: response headers kept beyond the usual ones.
    headers: Vec<String>,
    /// The callers' `recording.headers` while a called recipe runs.
    outer: Vec<Vec<String>>,
    pub exchanges: Vec<Exchange>,
}

impl Recorder {
    pub fn new(masker: Masker, rules: &Rules) -> Self {
        Self {
            masker,
            scrub: Scrub::new(rules.redact.clone(), rules.volatile.clone()),
            headers: rules.headers.clone(),
            outer: Vec::new(),
            exchanges: Vec::new(),
        }
    }

    /// A called recipe starts: its `recording` settings apply to its own requests.
    pub(super) fn enter(&mut self, rules: &Rules) {
        self.scrub.enter(rules.redact.clone(), rules.volatile.clone());
        self.outer.push(std::mem::replace(&mut self.headers, rules.headers.clone()));
    }

    /// The called recipe ended.
    pub(super) fn leave(&mut self) {
        self.scrub.leave();
        if let Some(headers) = self.outer.pop() {
            self.headers = headers;
        }
    }

    pub fn record(&mut self, step: &str, masked: &RequestSpec, sent: &Sent) {
        let Some(reply) = &sent.reply else { return };
        let request = self.scrub.request(masked);
        let response = reply.response().map(|response| {
            let mut kept = self.scrub.response(&self.masker.response(response));
            // A `Retry-After` date is relative to the server's `Date`: keep both, so replays wait alike.
            let dated = kept.headers.contains_key("retry-after");
            kept.headers.retain(|name, _| {
                RECORDED_RESPONSE_HEADERS.contains(&name.as_str()) || self.headers.contains(name) || (dated && name == "date")
            });
            kept
        });
        let failure = reply.failure().cloned().map(|mut failure| {
            failure.message = self.masker.text(&failure.message);
            failure
        });
        self.exchanges.push(Exchange { step: step.to_owned(), request, redirects: sent.redirects.clone(), response, failure });
    }
}
