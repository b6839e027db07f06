//! Transports: the closed set of ways a rendered request reaches an answer.
//!
//! [`Transport::Live`] sends through reqwest (and may record), [`Transport::Replay`] answers
//! from a fixture and checks each request against the recorded one, [`Transport::Offline`]
//! answers nothing (a dry run without a fixture). Nothing outside this module knows reqwest.

mod live;
mod replay;

use std::time::Duration;

pub use live::Live;
pub use replay::{Replay, Strictness};

use crate::http::{RequestSpec, ResponseData};

pub enum Transport {
    Live(Live),
    Replay(Replay),
    Offline,
}

/// Why no response came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// Network failure, timeout, invalid URL.
    Failed(String),
    /// The request differs from the recording, or there is none left.
    Mismatch(String),
    /// A dry run without a fixture: nothing was sent.
    NotSent,
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Failed(message) | TransportError::Mismatch(message) => f.write_str(message),
            TransportError::NotSent => f.write_str("not sent (dry run)"),
        }
    }
}

impl Transport {
    /// Sends one request. `masked` is the request as it may be shown or recorded.
    pub async fn send(
        &mut self,
        step: &str,
        request: &RequestSpec,
        masked: &RequestSpec,
        timeout: Duration,
    ) -> Result<ResponseData, TransportError> {
        match self {
            Transport::Live(live) => live.send(step, request, masked, timeout).await,
            Transport::Replay(replay) => replay.send(step, masked),
            Transport::Offline => Err(TransportError::NotSent),
        }
    }

    /// After the run: anything the transport must still report (unused recorded exchanges).
    pub fn finish(&self) -> Option<String> {
        match self {
            Transport::Replay(replay) => replay.unused(),
            Transport::Live(_) | Transport::Offline => None,
        }
    }
}
