//! Why an attempt got no usable response, as a kind a retry policy, a report and an exit code
//! can read, plus the message a person reads.
//!
//! Each kind knows whether the request may have reached the server ([`Delivery`]): that is what
//! decides whether a `POST` can be sent again and whether a failed one may have created
//! something.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Nothing listens at the address.
    ConnectRefused,
    /// The host name does not resolve.
    Dns,
    /// The TLS handshake failed (protocol, or a connection broken during it).
    Tls,
    /// A certificate was refused during the handshake: the server's (not signed by a trusted CA,
    /// expired, for another name) or the client's (missing, or not accepted by the server).
    /// Sending again cannot help, so it is never retried.
    Certificate,
    /// No connection within `http.connect_timeout`.
    ConnectTimeout,
    /// Any other failure to connect.
    Connect,
    /// The connection closed before the request was written: the server saw nothing usable.
    ResetBeforeWrite,
    /// The connection broke after the request was written, before a response arrived.
    ResetAfterWrite,
    /// No (complete) response within the timeout.
    ResponseTimeout,
    /// The body is larger than `http.max_body`.
    BodyTooLarge,
    /// The body was cut short, could not be decoded, or is not text.
    InvalidBody,
    /// A redirect the policy does not follow (a non-idempotent request).
    RedirectRefused,
    /// More redirects than `http.redirects`.
    TooManyRedirects,
    /// The request cannot be built (invalid URL, header or method).
    InvalidRequest,
    /// The run's time limit (`--max-time`) was reached.
    Deadline,
    /// Under replay: the request differs from the recording, or none is left.
    Mismatch,
}

/// Whether a request may have reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Certainly not processed: sending it again is safe.
    NotDelivered,
    /// It may have been processed.
    Unknown,
    /// The server answered (a redirect, a body too large or cut short).
    Answered,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::ConnectRefused => "connect_refused",
            FailureKind::Dns => "dns",
            FailureKind::Tls => "tls",
            FailureKind::Certificate => "certificate",
            FailureKind::ConnectTimeout => "connect_timeout",
            FailureKind::Connect => "connect",
            FailureKind::ResetBeforeWrite => "reset_before_write",
            FailureKind::ResetAfterWrite => "reset_after_write",
            FailureKind::ResponseTimeout => "response_timeout",
            FailureKind::BodyTooLarge => "body_too_large",
            FailureKind::InvalidBody => "invalid_body",
            FailureKind::RedirectRefused => "redirect_refused",
            FailureKind::TooManyRedirects => "too_many_redirects",
            FailureKind::InvalidRequest => "invalid_request",
            FailureKind::Deadline => "deadline",
            FailureKind::Mismatch => "mismatch",
        }
    }

    pub fn delivery(self) -> Delivery {
        match self {
            FailureKind::ConnectRefused
            | FailureKind::Dns
            | FailureKind::Tls
            | FailureKind::Certificate
            | FailureKind::ConnectTimeout
            | FailureKind::Connect
            | FailureKind::ResetBeforeWrite
            | FailureKind::InvalidRequest
            | FailureKind::Deadline
            | FailureKind::Mismatch => Delivery::NotDelivered,
            FailureKind::ResetAfterWrite | FailureKind::ResponseTimeout => Delivery::Unknown,
            FailureKind::BodyTooLarge | FailureKind::InvalidBody | FailureKind::RedirectRefused | FailureKind::TooManyRedirects => {
                Delivery::Answered
            }
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed attempt: its kind and what happened, already masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
