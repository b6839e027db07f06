//! The replay transport: answers from a fixture, in order, after checking that each request is
//! the one that was recorded. A difference is an error with a diff of the two requests.

use super::{FailureKind, Reply, Sent};
use crate::fixture::{Exchange, Fixture};
use crate::http::RequestSpec;
use crate::scrub::{Rules, Scrub};

pub struct Replay {
    exchanges: Vec<Exchange>,
    next: usize,
    /// Recorded exchanges whose place another request took (by index).
    replaced: Vec<usize>,
    /// Requests sent that no recorded exchange answered.
    unrecorded: Vec<Route>,
    /// The recipe's `recording.redact` paths, applied to sent requests as when recording.
    scrub: Scrub,
    strictness: Strictness,
}

/// How closely a sent request must match the recorded one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Everything that was recorded (`recipe run --replay`): a difference is an error.
    Exact,
    /// Method and path only (`recipe test`): the snapshot of the requests shows every other
    /// difference, so an edited body or query is reviewed as a snapshot diff.
    Route,
}

impl Replay {
    pub fn new(fixture: Fixture, rules: &Rules, strictness: Strictness) -> Self {
        let scrub = Scrub::new(rules.redact.clone(), rules.volatile.clone());
        Self { exchanges: fixture.exchanges, next: 0, replaced: Vec::new(), unrecorded: Vec::new(), scrub, strictness }
    }

    /// A called recipe starts: its `recording.redact` applies to its requests.
    pub(super) fn enter(&mut self, rules: &Rules) {
        self.scrub.enter(rules.redact.clone(), rules.volatile.clone());
    }

    /// The called recipe ended.
    pub(super) fn leave(&mut self) {
        self.scrub.leave();
    }

    pub fn send(&mut self, step: &str, request: &RequestSpec) -> Sent {
        let Some(recorded) = self.exchanges.get(self.next) else {
            self.unrecorded.push(Route::of(step, request));
            let recorded = match self.exchanges.last() {
                Some(last) => format!("only {} (the last for step `{}`)", self.exchanges.len(), last.step),
                None => "none".to_owned(),
            };
            return Sent::failed(
                FailureKind::Mismatch,
                format!(
                    "the recipe sent more requests than the fixture recorded: step `{step}` sends {} {} as request {}, but the \
                     fixture recorded {recorded} and expected no more",
                    request.method,
                    request.url,
                    self.exchanges.len() + 1
                ),
            );
        };
        self.next += 1;
        let actual = comparable(&self.scrub.request(request), &recorded.request);
        let mut expected = recorded.request.clone();
        expected.url = decoded(&expected.url);
        let differs = match self.strictness {
            Strictness::Exact => actual != expected,
            Strictness::Route => actual.method != expected.method || route(&actual.url) != route(&expected.url),
        };
        if differs {
            self.replaced.push(self.next - 1);
            self.unrecorded.push(Route::of(step, request));
            let mut message = format!("step `{step}` sent a request that differs from the recording (exchange {}", self.next);
            if recorded.step != step {
                message.push_str(&format!(", recorded for step `{}`", recorded.step));
            }
            message.push_str("):\n");
            message.push_str(&diff(&expected, &actual));
            return Sent::failed(FailureKind::Mismatch, message);
        }
        Sent { reply: Reply::from_parts(recorded.response.clone(), recorded.failure.clone()), redirects: recorded.redirects.clone() }
    }

    /// The recorded exchanges the run did not use, if any.
    pub fn unused(&self) -> Option<String> {
        let rest = &self.exchanges[self.next.min(self.exchanges.len())..];
        if rest.is_empty() {
            return None;
        }
        let expected = format!(
            "the recipe sent fewer requests than the fixture recorded ({} of {}): expected step `{}` to send {} {} next",
            self.next,
            self.exchanges.len(),
            rest[0].step,
            rest[0].request.method,
            rest[0].request.url
        );
        if rest.len() == 1 {
            return Some(expected);
        }
        let list: Vec<String> = rest.iter().map(|e| format!("  - step `{}`: {} {}", e.step, e.request.method, e.request.url)).collect();
        Some(format!("{expected}; not sent:\n{}", list.join("\n")))
    }
}

/// An exchange as `recipe test` names it in short: the step, the method and the path (the route
/// it is matched by), without the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub step: String,
    pub method: String,
    pub path: String,
}

impl Route {
    fn of(step: &str, request: &RequestSpec) -> Self {
        Self { step: step.to_owned(), method: request.method.clone(), path: route(&request.url).to_owned() }
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step `{}`: {} {}", self.step, self.method, self.path)
    }
}

/// Where a replayed run and its recording part ways, exchange by exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Discrepancies {
    /// Recorded, but not sent: the run stopped before them, or sent another request instead.
    pub not_made: Vec<Route>,
    /// Sent, but not recorded at that place.
    pub not_recorded: Vec<Route>,
}

impl Replay {
    /// What the run did not send of the recording, and what it sent that was not recorded.
    pub(crate) fn discrepancies(&self) -> Discrepancies {
        let rest = self.exchanges.iter().skip(self.next);
        let not_made = self.replaced.iter().filter_map(|&index| self.exchanges.get(index)).chain(rest);
        let not_made = not_made.map(|exchange| Route::of(&exchange.step, &exchange.request)).collect();
        Discrepancies { not_made, not_recorded: self.unrecorded.clone() }
    }
}

/// URLs are compared percent-decoded: `<volatile:1>` and `%3Cvolatile:1%3E` are one value. The
/// escapes of the characters that shape a URL stay escaped (upper-cased): `q=a%26b` is one
/// parameter and `q=a&b` two, `a%2Fb` one path segment and `a/b` two, so they never match.
fn decoded(url: &str) -> String {
    const SHAPING: &[u8] = b"&=/?#+%;";
    let bytes = url.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        let escaped = match bytes.get(at..at + 3) {
            Some([b'%', high, low]) => hex(*high).zip(hex(*low)).and_then(|(high, low)| u8::try_from(high * 16 + low).ok()),
            _ => None,
        };
        match escaped {
            Some(byte) if SHAPING.contains(&byte) => {
                out.extend_from_slice(format!("%{byte:02X}").as_bytes());
                at += 3;
            }
            Some(byte) => {
                out.push(byte);
                at += 3;
            }
            None => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn route(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// The request as the recording would have it: only the headers the recording kept count.
fn comparable(request: &RequestSpec, recorded: &RequestSpec) -> RequestSpec {
    let mut actual = request.clone();
    actual.url = decoded(&actual.url);
    actual.headers.retain(|name, _| recorded.headers.contains_key(name));
    actual.absolute_url = recorded.absolute_url.clone();
    actual
}

/// A unified diff of two requests, as YAML.
pub(super) fn diff(recorded: &RequestSpec, actual: &RequestSpec) -> String {
    let left = crate::emit::to_string(recorded).unwrap_or_default();
    let right = crate::emit::to_string(actual).unwrap_or_default();
    similar::TextDiff::from_lines(&left, &right).unified_diff().context_radius(3).header("recorded", "sent").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_match_decoded_but_never_across_a_delimiter() {
        assert_eq!(decoded("/x?v=%3Cvolatile:1%3E&n=caf%C3%A9"), "/x?v=<volatile:1>&n=café");
        assert_eq!(decoded("/search?q=Smith%20%26%20Sons"), "/search?q=Smith %26 Sons");
        assert_ne!(decoded("/search?q=Smith%20%26%20Sons"), decoded("/search?q=Smith%20&%20Sons"), "one parameter, not two");
        assert_ne!(decoded("/people/a%2Fb?name=x%26y%3Dz"), decoded("/people/a/b?name=x&y=z"));
        assert_ne!(decoded("/q?a=1%2B1"), decoded("/q?a=1+1"), "a plus sign, not a space");
        assert_eq!(decoded("/p/a%2fb"), decoded("/p/a%2Fb"), "escapes compare whatever their case");
        assert_eq!(decoded("/bad%zz%4"), "/bad%zz%4", "what is not an escape stays");
    }
}
