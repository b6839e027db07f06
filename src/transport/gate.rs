//! The gate every request of a batch passes: one rate limit for all rows, and a pause that
//! holds every worker when the server asks one of them to wait (`Retry-After` on a 429 or 503).
//!
//! The rate is a token bucket without burst: requests leave at most one per `1/rate`, spaced
//! evenly. Time here is real (tokio's): a gate only exists in live runs.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// A rate that is not one.
#[derive(Debug, thiserror::Error)]
pub enum RateError {
    #[error("invalid rate `{0}`: write requests per second or per minute, such as `10/s` or `600/m`")]
    Invalid(String),
    #[error("the rate `{0}` is below one request an hour (`1/m` is one a minute)")]
    TooSlow(String),
}

/// Requests per second, as `N/s` or `N/m`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
}

impl Rate {
    /// Parses `10/s`, `600/m` or `2.5/s`.
    pub fn parse(text: &str) -> Result<Self, RateError> {
        let invalid = || RateError::Invalid(text.to_owned());
        let (count, unit) = text.trim().split_once('/').ok_or_else(invalid)?;
        let count: f64 = count.trim().parse().map_err(|_| invalid())?;
        if !count.is_finite() || count <= 0.0 {
            return Err(invalid());
        }
        let per_second = match unit.trim() {
            "s" => count,
            "m" => count / 60.0,
            _ => return Err(invalid()),
        };
        // One request an hour at the least: slower is surely a mistake (and an interval too long
        // to keep).
        if per_second < 1.0 / 3600.0 {
            return Err(RateError::TooSlow(text.to_owned()));
        }
        Ok(Self { per_second })
    }

    fn interval(self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second)
    }
}

#[derive(Debug)]
struct State {
    /// When the next request may leave.
    next: Instant,
    /// No request leaves before this (a server asked to wait).
    paused_until: Instant,
    /// When the last request left (or will leave, when it waits to keep its distance).
    left: Option<Instant>,
}

/// What a request must do to pass the gate.
enum Admission {
    Go,
    /// Its slot is taken: leave at this instant.
    At(Instant),
    /// Everyone waits until then, then asks again.
    Paused(Instant),
}

#[derive(Debug)]
pub struct Gate {
    rate: Option<Rate>,
    state: Mutex<State>,
}

impl Gate {
    pub fn new(rate: Option<Rate>) -> Self {
        let now = Instant::now();
        Self { rate, state: Mutex::new(State { next: now, paused_until: now, left: None }) }
    }

    /// Waits until a request may leave, and takes its slot.
    pub async fn admit(&self) {
        loop {
            match self.take() {
                Admission::Go => {}
                Admission::At(slot) => {
                    tokio::time::sleep_until(slot).await;
                    // A pause that began while this request waited for its slot holds it too;
                    // it then takes a new slot, after the pause.
                    if self.state.lock().unwrap_or_else(PoisonError::into_inner).paused_until > Instant::now() {
                        continue;
                    }
                }
                Admission::Paused(until) => {
                    tokio::time::sleep_until(until).await;
                    continue;
                }
            }
            if let Some(at) = self.depart() {
                tokio::time::sleep_until(at).await;
            }
            return;
        }
    }

    /// At its slot, a request still keeps one interval from the one that left before it, as
    /// both really leave: requests that woke late (a busy machine) leave one by one, never in a
    /// burst. `Some` when it must wait until then.
    fn depart(&self) -> Option<Instant> {
        let rate = self.rate?;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let at = state.left.map_or(now, |left| (left + rate.interval()).max(now));
        state.left = Some(at);
        (at > now).then_some(at)
    }

    fn take(&self) -> Admission {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if state.paused_until > now {
            return Admission::Paused(state.paused_until);
        }
        let Some(rate) = self.rate else { return Admission::Go };
        let slot = state.next.max(now);
        state.next = slot + rate.interval();
        if slot <= now { Admission::Go } else { Admission::At(slot) }
    }

    /// Holds every request for `wait` from now.
    pub fn pause(&self, wait: Duration) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let until = Instant::now().checked_add(wait.min(crate::clock::MAX_DURATION)).unwrap_or_else(Instant::now);
        state.paused_until = state.paused_until.max(until);
        // Slots resume after the pause, spaced as before.
        state.next = state.next.max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        assert!((Rate::parse("10/s").unwrap().per_second - 10.0).abs() < 1e-9);
        assert!((Rate::parse("600/m").unwrap().per_second - 10.0).abs() < 1e-9);
        assert!(Rate::parse("0/s").is_err());
        assert!(Rate::parse("10").is_err());
        assert!(Rate::parse("10/h").is_err());
        assert!(Rate::parse("1e-20/s").unwrap_err().to_string().contains("below one request an hour"), "its interval overflowed");
        assert!(Rate::parse("0.017/m").is_ok());
    }

    #[test]
    fn spaces_requests_and_pauses_everyone() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(async {
            let gate = Gate::new(Some(Rate::parse("10/s").unwrap()));
            let start = Instant::now();
            for _ in 0..5 {
                gate.admit().await;
            }
            // The first leaves at once, then one every 100ms.
            assert_eq!(start.elapsed(), Duration::from_millis(400));
            gate.pause(Duration::from_secs(2));
            gate.admit().await;
            assert_eq!(start.elapsed(), Duration::from_millis(2400));
        });
    }

    /// `count` requests waiting at the gate, each giving the time it was let through.
    fn waiting_for(gate: &std::sync::Arc<Gate>, count: usize, start: Instant) -> Vec<tokio::task::JoinHandle<Duration>> {
        (0..count)
            .map(|_| {
                let gate = std::sync::Arc::clone(gate);
                tokio::spawn(async move {
                    gate.admit().await;
                    start.elapsed()
                })
            })
            .collect()
    }

    /// When the waiting requests were let through, earliest first.
    async fn departures(waiting: Vec<tokio::task::JoinHandle<Duration>>) -> Vec<Duration> {
        let mut left = Vec::new();
        for task in waiting {
            left.push(task.await.unwrap());
        }
        left.sort();
        left
    }

    #[test]
    fn requests_that_wake_late_leave_one_interval_apart_not_in_a_burst() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(async {
            let gate = std::sync::Arc::new(Gate::new(Some(Rate::parse("10/s").unwrap())));
            let start = Instant::now();
            let waiting = waiting_for(&gate, 5, start);
            // They take the slots at 0, 100, 200, 300 and 400ms; then the clock jumps a second
            // before any of the others runs again, as when a busy machine wakes them late.
            tokio::task::yield_now().await;
            tokio::time::advance(Duration::from_secs(1)).await;
            let left = departures(waiting).await;
            let ms = Duration::from_millis;
            assert_eq!(left, [ms(0), ms(1000), ms(1100), ms(1200), ms(1300)]);
        });
    }

    #[test]
    fn a_pause_holds_the_requests_already_waiting_for_a_slot() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(async {
            let gate = std::sync::Arc::new(Gate::new(Some(Rate::parse("4/s").unwrap())));
            let start = Instant::now();
            gate.admit().await;
            // Three requests take the slots at 250, 500 and 750ms; then a server asks for 3s.
            let waiting = waiting_for(&gate, 3, start);
            tokio::task::yield_now().await;
            gate.pause(Duration::from_secs(3));
            let left = departures(waiting).await;
            assert_eq!(left, [Duration::from_secs(3), Duration::from_millis(3250), Duration::from_millis(3500)]);
        });
    }
}
