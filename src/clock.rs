//! Time for the runner: real, or virtual so that replays and tests never sleep.
//!
//! Retry waits and the run's time limit go through a [`Clock`]. The real clock sleeps with
//! tokio; the virtual clock only advances its own time and remembers every wait, so a replay of a
//! recorded retry is instant and a test can assert the exact delays. Request timeouts are not
//! the clock's business: they are the transport's, and a replay has none.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// The longest duration anything waits or a recipe may ask for (a week): recipes are refused
/// past it, and waits a server asks for are cut to it, so clock arithmetic never overflows.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

#[derive(Debug, Clone)]
pub enum Clock {
    Real { started: Instant },
    Virtual(Arc<Mutex<VirtualTime>>),
}

#[derive(Debug, Clone)]
pub struct VirtualTime {
    /// What `wall()` reports at the start.
    pub epoch: SystemTime,
    pub elapsed: Duration,
    /// Every wait, in order.
    pub sleeps: Vec<Duration>,
}

impl Clock {
    pub fn real() -> Self {
        Clock::Real { started: Instant::now() }
    }

    /// A virtual clock whose wall time starts at `epoch`.
    pub fn virtual_at(epoch: SystemTime) -> Self {
        Clock::Virtual(Arc::new(Mutex::new(VirtualTime { epoch, elapsed: Duration::ZERO, sleeps: Vec::new() })))
    }

    /// A virtual clock starting at a fixed instant (2026-01-01T00:00:00Z), for replays.
    pub fn fixed() -> Self {
        Self::virtual_at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600))
    }

    pub async fn sleep(&self, duration: Duration) {
        match self {
            Clock::Real { .. } => tokio::time::sleep(duration).await,
            Clock::Virtual(time) => {
                let mut time = time.lock().unwrap_or_else(PoisonError::into_inner);
                time.elapsed = time.elapsed.saturating_add(duration);
                time.sleeps.push(duration);
            }
        }
    }

    /// Time since the clock started.
    pub fn elapsed(&self) -> Duration {
        match self {
            Clock::Real { started } => started.elapsed(),
            Clock::Virtual(time) => time.lock().unwrap_or_else(PoisonError::into_inner).elapsed,
        }
    }

    /// The wall-clock time (for `Retry-After` dates).
    pub fn wall(&self) -> SystemTime {
        match self {
            Clock::Real { .. } => SystemTime::now(),
            Clock::Virtual(time) => {
                let time = time.lock().unwrap_or_else(PoisonError::into_inner);
                time.epoch.checked_add(time.elapsed).unwrap_or(time.epoch)
            }
        }
    }

    /// Every wait a virtual clock has seen (empty for the real clock).
    pub fn sleeps(&self) -> Vec<Duration> {
        match self {
            Clock::Real { .. } => Vec::new(),
            Clock::Virtual(time) => time.lock().unwrap_or_else(PoisonError::into_inner).sleeps.clone(),
        }
    }

    /// Whether waits are real (a live run) or only counted.
    pub fn is_virtual(&self) -> bool {
        matches!(self, Clock::Virtual(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_time_advances_without_sleeping() {
        let clock = Clock::fixed();
        let started = Instant::now();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            clock.sleep(Duration::from_secs(30)).await;
            clock.sleep(Duration::from_millis(200)).await;
        });
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(clock.elapsed(), Duration::from_millis(30_200));
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(30), Duration::from_millis(200)]);
        assert_eq!(clock.wall(), SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_630) + Duration::from_millis(200));
    }
}
