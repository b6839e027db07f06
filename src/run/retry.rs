//! The retry policy, as a pure decision: given what an attempt produced, stop, retry after a
//! wait, or give up and say why. No I/O and no clock of its own; the runner sleeps.
//!
//! The rules that keep side effects single: a non-idempotent request (`POST`, `PATCH`) is sent
//! again only when it certainly did not reach the server (a connect failure, a connection closed
//! before the request was written) or the server said it did not process it (429, or 503 with
//! `Retry-After`), unless the recipe says `unsafe: true`. `Retry-After` (seconds or an HTTP date)
//! replaces the computed wait; a longer wait than `max_delay` gives up rather than waiting.

use std::time::{Duration, SystemTime};

use crate::model::{Backoff, Retry, RetryOn, TemplateString};
use crate::transport::{Delivery, FailureKind};

/// A retry policy with every default filled in.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub attempts: u32,
    pub delay: Duration,
    pub max_delay: Duration,
    pub backoff: Backoff,
    pub jitter: bool,
    pub on: Vec<RetryOn>,
    pub max_elapsed: Duration,
    pub until: Option<TemplateString>,
    pub allow_unsafe: bool,
}

pub(crate) const DEFAULT_ON: &[RetryOn] = &[
    RetryOn::Connect,
    RetryOn::Reset,
    RetryOn::Timeout,
    RetryOn::Status(429),
    RetryOn::Status(502),
    RetryOn::Status(503),
    RetryOn::Status(504),
];

impl Policy {
    /// The step's `retry` over the recipe's `http.retry`, field by field, over the defaults.
    pub(crate) fn resolve(http: Option<&Retry>, step: Option<&Retry>) -> Self {
        let pick = |field: fn(&Retry) -> Option<_>| step.and_then(field).or_else(|| http.and_then(field));
        Policy {
            attempts: step.and_then(|r| r.attempts).or_else(|| http.and_then(|r| r.attempts)).unwrap_or(3),
            delay: pick(|r| r.delay).unwrap_or(Duration::from_millis(200)),
            max_delay: pick(|r| r.max_delay).unwrap_or(Duration::from_secs(10)),
            backoff: step.and_then(|r| r.backoff).or_else(|| http.and_then(|r| r.backoff)).unwrap_or(Backoff::Exponential),
            jitter: step.and_then(|r| r.jitter).or_else(|| http.and_then(|r| r.jitter)).unwrap_or(true),
            on: step.and_then(|r| r.on.clone()).or_else(|| http.and_then(|r| r.on.clone())).unwrap_or_else(|| DEFAULT_ON.to_vec()),
            max_elapsed: pick(|r| r.max_elapsed).unwrap_or(Duration::from_secs(60)),
            until: step.and_then(|r| r.until.clone()).or_else(|| http.and_then(|r| r.until.clone())),
            allow_unsafe: step.and_then(|r| r.allow_unsafe).or_else(|| http.and_then(|r| r.allow_unsafe)).unwrap_or(false),
        }
    }
}

/// What an attempt produced, as far as the policy cares.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Observed<'a> {
    Response {
        status: u16,
        retry_after: Option<&'a str>,
        /// The server's `Date`, the reference for a `Retry-After` date.
        date: Option<&'a str>,
        /// `until` is false.
        until_unmet: bool,
    },
    Failure(FailureKind),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nothing to retry: the attempt stands.
    Stop,
    Retry {
        wait: Duration,
        /// Why, for progress: `status 503`, `response_timeout`, `` `until` is false ``.
        why: String,
        /// The wait came from `Retry-After`.
        server_asked: bool,
    },
    /// It would be retried, but may not be: the reason is added to the step's failure.
    GiveUp(String),
}

/// Decides after attempt number `attempt` (1-based). `elapsed` is the time since the first
/// attempt started; `remaining` is what the run's time limit leaves; `jitter_key` makes the
/// jitter reproducible.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decide(
    policy: &Policy,
    method: &str,
    idempotent: bool,
    attempt: u32,
    observed: Observed,
    elapsed: Duration,
    remaining: Option<Duration>,
    now: SystemTime,
    jitter_key: u64,
) -> Decision {
    let why = match observed {
        Observed::Failure(kind) => match retry_class(kind) {
            Some(class) if policy.on.contains(&class) => kind.as_str().to_owned(),
            _ => return Decision::Stop,
        },
        Observed::Response { status, until_unmet, .. } => {
            if policy.on.contains(&RetryOn::Status(status)) {
                format!("status {status}")
            } else if until_unmet {
                "`until` is false".to_owned()
            } else {
                return Decision::Stop;
            }
        }
    };
    if policy.attempts <= 1 {
        return Decision::Stop;
    }
    if !idempotent && !policy.allow_unsafe && !unprocessed(observed) {
        return Decision::GiveUp(format!(
            "not retried: the {method} may have taken effect ({why}); a {method} is retried only when it did not reach the server, \
             or after 429 or 503 with `Retry-After` (`retry: {{ unsafe: true }}` overrides this)"
        ));
    }
    if attempt >= policy.attempts {
        return Decision::GiveUp(format!("gave up after {attempt} attempts (`retry.attempts`)"));
    }
    let asked = match observed {
        Observed::Response { retry_after: Some(text), date, .. } => retry_after(text, date, now),
        _ => None,
    };
    let wait = match asked {
        Some(wait) if wait > policy.max_delay => {
            return Decision::GiveUp(format!(
                "the server asked to wait {} (`Retry-After`), longer than `retry.max_delay` ({})",
                seconds(wait),
                seconds(policy.max_delay)
            ));
        }
        Some(wait) => wait,
        None => backoff(policy, attempt, jitter_key),
    };
    if elapsed.saturating_add(wait) > policy.max_elapsed {
        return Decision::GiveUp(format!(
            "another attempt after {} would pass `retry.max_elapsed` ({})",
            seconds(wait),
            seconds(policy.max_elapsed)
        ));
    }
    if remaining.is_some_and(|remaining| wait >= remaining) {
        return Decision::GiveUp(format!(
            "the run's time limit (`--max-time`) leaves no time to wait {} for another attempt",
            seconds(wait)
        ));
    }
    Decision::Retry { wait, why, server_asked: asked.is_some() }
}

/// Whether a response leaves the outcome of a non-idempotent request unknown: a server error
/// (500, 502, 503, 504 and the other 5xx) may come after the server stored what was sent. Not
/// 501 or 505 (the server does not support the method or the HTTP version: nothing was done),
/// and not a 503 whose `Retry-After` the policy honours (the server says it did not process it).
/// A 4xx is a refusal, so never in doubt.
pub(crate) fn outcome_unknown(status: u16, retry_after: Option<&str>) -> bool {
    (500..600).contains(&status)
        && !matches!(status, 501 | 505)
        && !unprocessed(Observed::Response { status, retry_after, date: None, until_unmet: false })
}

/// The server certainly did not act on the request.
pub(crate) fn unprocessed(observed: Observed) -> bool {
    match observed {
        Observed::Failure(kind) => kind.delivery() == Delivery::NotDelivered,
        Observed::Response { status: 429, .. } => true,
        // A `Retry-After` the server bothered to give says it did not process the request; one
        // that does not parse (`soon`) proves nothing.
        Observed::Response { status: 503, retry_after, .. } => {
            retry_after.is_some_and(|text| self::retry_after(text, None, std::time::SystemTime::UNIX_EPOCH).is_some())
        }
        Observed::Response { .. } => false,
    }
}

/// The computed wait before attempt `attempt + 1`.
fn backoff(policy: &Policy, attempt: u32, jitter_key: u64) -> Duration {
    let base = match policy.backoff {
        Backoff::Constant => policy.delay,
        Backoff::Linear => policy.delay.saturating_mul(attempt),
        Backoff::Exponential => policy.delay.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1))),
    };
    let capped = base.min(policy.max_delay);
    if !policy.jitter {
        return capped;
    }
    // Between half and all of the wait, from a reproducible hash (SplitMix64).
    let mut x = jitter_key ^ u64::from(attempt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    #[allow(clippy::cast_precision_loss)]
    let fraction = (x >> 11) as f64 / (1u64 << 53) as f64;
    capped.mul_f64(0.5 + 0.5 * fraction)
}

/// A `Retry-After` value: seconds, or an HTTP date (relative to the response's `Date` when it
/// has one, else to `now`). A date in the past means no wait.
pub(crate) fn retry_after(text: &str, date: Option<&str>, now: SystemTime) -> Option<Duration> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // More seconds than a u64 holds is still a number of seconds: longer than any `max_delay`,
    // not an absent header (which would mean a quick retry).
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::MAX);
    }
    let at = http_date(text)?;
    let reference = date.and_then(http_date).unwrap_or(now);
    Some(at.duration_since(reference).unwrap_or(Duration::ZERO))
}

fn http_date(text: &str) -> Option<SystemTime> {
    let parsed = jiff::fmt::rfc2822::parse(text.trim()).ok()?;
    Some(SystemTime::from(parsed.timestamp()))
}

/// A duration for messages: `1s`, `1.5s`, `250ms`.
pub(crate) fn seconds(duration: Duration) -> String {
    if duration.as_millis() < 1000 {
        format!("{}ms", duration.as_millis())
    } else if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

/// The `retry.on` word that covers a failure of this kind, if a retry can help at all.
pub(crate) fn retry_class(kind: FailureKind) -> Option<RetryOn> {
    match kind {
        FailureKind::ConnectRefused | FailureKind::Dns | FailureKind::Tls | FailureKind::ConnectTimeout | FailureKind::Connect => {
            Some(RetryOn::Connect)
        }
        FailureKind::ResetBeforeWrite | FailureKind::ResetAfterWrite => Some(RetryOn::Reset),
        FailureKind::ResponseTimeout => Some(RetryOn::Timeout),
        FailureKind::InvalidBody => Some(RetryOn::Body),
        FailureKind::Certificate
        | FailureKind::BodyTooLarge
        | FailureKind::RedirectRefused
        | FailureKind::TooManyRedirects
        | FailureKind::InvalidRequest
        | FailureKind::Deadline
        | FailureKind::Mismatch => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy { jitter: false, attempts: 4, ..Policy::resolve(None, None) }
    }

    fn response(status: u16, retry_after: Option<&str>) -> Observed<'_> {
        Observed::Response { status, retry_after, date: None, until_unmet: false }
    }

    fn decide_at(policy: &Policy, method: &str, attempt: u32, observed: Observed) -> Decision {
        decide(policy, method, method != "POST", attempt, observed, Duration::ZERO, None, SystemTime::UNIX_EPOCH, 7)
    }

    #[test]
    fn a_retry_after_too_large_for_a_u64_is_a_very_long_wait_not_none() {
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(retry_after("18446744073709551616", None, now), Some(Duration::MAX));
        assert_eq!(retry_after("18446744073709551615", None, now), Some(Duration::from_secs(u64::MAX)));
        assert_eq!(retry_after("soon", None, now), None);
    }

    #[test]
    fn a_server_error_leaves_the_outcome_unknown_unless_the_server_says_otherwise() {
        for status in [500, 502, 503, 504, 507, 599] {
            assert!(outcome_unknown(status, None), "{status}");
        }
        assert!(outcome_unknown(503, Some("soon")), "an unreadable Retry-After proves nothing");
        assert!(outcome_unknown(502, Some("5")), "only a 503's Retry-After says it was not processed");
        assert!(!outcome_unknown(503, Some("5")));
        assert!(!outcome_unknown(503, Some("Wed, 21 Oct 2015 07:28:00 GMT")));
        for status in [200, 201, 400, 404, 409, 429, 501, 505] {
            assert!(!outcome_unknown(status, None), "{status}");
        }
    }

    #[test]
    fn backs_off_exponentially_up_to_max_delay() {
        let policy = Policy { max_delay: Duration::from_millis(500), ..policy() };
        let waits: Vec<Decision> = (1..=3).map(|n| decide_at(&policy, "GET", n, response(503, None))).collect();
        let waits: Vec<u128> = waits
            .into_iter()
            .map(|d| match d {
                Decision::Retry { wait, .. } => wait.as_millis(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(waits, vec![200, 400, 500]);
        assert_eq!(
            decide_at(&policy, "GET", 4, response(503, None)),
            Decision::GiveUp("gave up after 4 attempts (`retry.attempts`)".into())
        );
    }

    #[test]
    fn honours_retry_after_in_seconds_and_as_a_date() {
        let policy = policy();
        let Decision::Retry { wait, server_asked: true, .. } = decide_at(&policy, "GET", 1, response(429, Some("2"))) else { panic!() };
        assert_eq!(wait, Duration::from_secs(2));
        let observed = Observed::Response {
            status: 503,
            retry_after: Some("Wed, 21 Oct 2026 07:28:03 GMT"),
            date: Some("Wed, 21 Oct 2026 07:28:00 GMT"),
            until_unmet: false,
        };
        let Decision::Retry { wait, .. } = decide_at(&policy, "GET", 1, observed) else { panic!() };
        assert_eq!(wait, Duration::from_secs(3));
        let Decision::GiveUp(reason) = decide_at(&policy, "GET", 1, response(503, Some("120"))) else { panic!() };
        assert!(reason.contains("wait 120s"), "{reason}");
    }

    #[test]
    fn never_repeats_a_post_that_may_have_taken_effect() {
        let policy = policy();
        for observed in [
            Observed::Failure(FailureKind::ResetAfterWrite),
            Observed::Failure(FailureKind::ResponseTimeout),
            response(502, None),
            response(503, None),
        ] {
            assert!(matches!(decide_at(&policy, "POST", 1, observed), Decision::GiveUp(_)), "{observed:?}");
        }
        for observed in [
            Observed::Failure(FailureKind::ConnectRefused),
            Observed::Failure(FailureKind::ResetBeforeWrite),
            response(429, None),
            response(503, Some("1")),
        ] {
            assert!(matches!(decide_at(&policy, "POST", 1, observed), Decision::Retry { .. }), "{observed:?}");
        }
        let unsafe_policy = Policy { allow_unsafe: true, ..policy };
        assert!(matches!(decide_at(&unsafe_policy, "POST", 1, response(502, None)), Decision::Retry { .. }));
    }

    #[test]
    fn retries_only_what_it_is_told_and_keeps_to_max_elapsed() {
        let policy = Policy { on: vec![RetryOn::Timeout], ..policy() };
        assert_eq!(decide_at(&policy, "GET", 1, response(503, None)), Decision::Stop);
        assert_eq!(decide_at(&policy, "GET", 1, Observed::Failure(FailureKind::ConnectRefused)), Decision::Stop);
        let late = decide(
            &policy,
            "GET",
            true,
            1,
            Observed::Failure(FailureKind::ResponseTimeout),
            Duration::from_secs(60),
            None,
            SystemTime::UNIX_EPOCH,
            1,
        );
        assert!(matches!(late, Decision::GiveUp(reason) if reason.contains("max_elapsed")));
        let until = Observed::Response { status: 200, retry_after: None, date: None, until_unmet: true };
        assert!(matches!(decide_at(&policy, "GET", 1, until), Decision::Retry { .. }));
    }

    #[test]
    fn jitter_stays_between_half_and_all_and_is_reproducible() {
        let policy = Policy { jitter: true, ..policy() };
        let wait = |key| match decide(&policy, "GET", true, 2, response(503, None), Duration::ZERO, None, SystemTime::UNIX_EPOCH, key) {
            Decision::Retry { wait, .. } => wait,
            other => panic!("{other:?}"),
        };
        for key in 0..50 {
            assert!(wait(key) >= Duration::from_millis(200) && wait(key) <= Duration::from_millis(400));
            assert_eq!(wait(key), wait(key));
        }
    }
}
