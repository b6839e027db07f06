//! The fixture server: a real HTTP server on 127.0.0.1 that answers from fixture files.
//!
//! It lets a recipe run through the live transport without the real API (`recipe serve`, and
//! the project's own tests of the real HTTP path). A request is answered by the first recorded
//! exchange with the same method and URL that has not been served yet (or, once all have, the
//! last one that matches); anything else gets a 404 whose JSON body lists what it knows. A
//! response recorded without its whole body (the body was cut off, too large, or timed out when
//! it was recorded: the exchange has a `failure` beside its `response`) is never served as if it
//! were complete: it gets a 502 whose JSON body says so and names the step.
//!
//! It owns its own robustness too: every recorded response is checked at start, before binding,
//! so a recording it cannot serve (a bad status, a bad header, a framing header) is an error that
//! names the exchange. While running, [`Limits`] bound what a client can cost: a connection that
//! does not finish its request headers in time is dropped, a request body over the cap gets a 413
//! JSON error without being read to the end, and a failing `accept` (out of file descriptors, say)
//! backs off instead of spinning.

use std::collections::BTreeMap;
use std::error::Error;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, TRANSFER_ENCODING};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::fixture::{Exchange, Fixture};
use crate::http::ResponseData;

/// How long the accept loop waits after a failed `accept` before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What one client may cost the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A connection that has not sent complete request headers this long after it opened (or
    /// after its previous response) is closed.
    pub header_read_timeout: Duration,
    /// The largest request body read; a larger one gets a 413.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    /// 10 seconds for the headers, 16 MiB for the body.
    fn default() -> Self {
        Self { header_read_timeout: Duration::from_secs(10), max_body_bytes: 16 * 1024 * 1024 }
    }
}

struct Book {
    exchanges: Vec<Exchange>,
    served: Vec<bool>,
}

/// A running server; dropping the handle does not stop it (the task ends with the runtime).
pub struct Server {
    pub address: SocketAddr,
}

type ServiceError = Box<dyn Error + Send + Sync>;

/// Why `recipe serve` cannot start: a usage error either way (the recording or the port needs a
/// change).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A recorded response cannot be sent as it is: every problem, one a line.
    #[error("cannot serve the recording:\n{0}")]
    Unservable(String),
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: std::io::Error },
}

impl ServeError {
    /// Nothing was served: the recording or the port needs a change.
    pub fn exit(&self) -> crate::exit::Exit {
        match self {
            ServeError::Unservable(_) | ServeError::Listen { .. } => crate::exit::Exit::Usage,
        }
    }
}

/// Why one recorded response cannot be served.
#[derive(Debug, thiserror::Error)]
enum Unservable {
    #[error("status {0} cannot be served: a 1xx status is informational, not a final response")]
    Informational(u16),
    #[error("status {0} is not an HTTP status (100 to 999)")]
    NotAStatus(u16),
    #[error("header name {0:?} is not a valid HTTP header name")]
    HeaderName(String),
    #[error("header `{0}` cannot be served: the server frames the body itself")]
    Framing(HeaderName),
    #[error("header `{name}` has a value that is not valid in HTTP: {value:?}")]
    HeaderValue { name: HeaderName, value: String },
}

/// Binds 127.0.0.1:`port` (0 for any free port) and serves `fixtures` with the default
/// [`Limits`] until the runtime ends.
pub async fn start(fixtures: Vec<Fixture>, port: u16) -> Result<Server, ServeError> {
    start_with(fixtures, port, Limits::default()).await
}

/// Like [`start`], with the given limits. Fails before binding when a recorded response cannot
/// be served.
pub async fn start_with(fixtures: Vec<Fixture>, port: u16, limits: Limits) -> Result<Server, ServeError> {
    let several = fixtures.len() > 1;
    for (number, fixture) in (1..).zip(&fixtures) {
        let problems = unservable(&fixture.exchanges);
        if !problems.is_empty() {
            let problems = problems.join("\n");
            return Err(ServeError::Unservable(if several { prefix_lines(&format!("fixture {number}: "), &problems) } else { problems }));
        }
    }
    let listen = |source| ServeError::Listen { port, source };
    let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(listen)?;
    let address = listener.local_addr().map_err(listen)?;
    // Attempts recorded as failures (a timeout, a reset) have no response to serve.
    let exchanges: Vec<Exchange> = fixtures.into_iter().flat_map(|f| f.exchanges).filter(|e| e.response.is_some()).collect();
    let served = vec![false; exchanges.len()];
    let book = Arc::new(Mutex::new(Book { exchanges, served }));
    let mut connection = http1::Builder::new();
    connection.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of file descriptors and the like: retrying at once would spin.
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            };
            let book = Arc::clone(&book);
            let connection = connection.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| answer(Arc::clone(&book), limits.max_body_bytes, request));
                let _ = connection.serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok(Server { address })
}

/// Why recorded responses cannot be sent as they are: one line a problem, each naming its
/// exchange (`ServeError::Unservable` prefixes them); none when every one can.
fn unservable(exchanges: &[Exchange]) -> Vec<String> {
    exchanges
        .iter()
        .enumerate()
        .filter_map(|(index, exchange)| {
            let problem = recorded(exchange).and_then(|response| check(response).err())?;
            Some(format!("`exchanges[{index}]` (step `{}`): {problem}", exchange.step))
        })
        .collect()
}

/// The recorded response of an exchange, the one place that reads `exchange.response`.
fn recorded(exchange: &Exchange) -> Option<&ResponseData> {
    exchange.response.as_ref()
}

/// The first reason `response` cannot be served, if any.
fn check(response: &ResponseData) -> Result<(), Unservable> {
    status(response.status)?;
    for (name, value) in &response.headers {
        header(name, value)?;
    }
    Ok(())
}

fn status(code: u16) -> Result<StatusCode, Unservable> {
    match StatusCode::from_u16(code) {
        Ok(status) if status.is_informational() => Err(Unservable::Informational(code)),
        Ok(status) => Ok(status),
        Err(_) => Err(Unservable::NotAStatus(code)),
    }
}

fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), Unservable> {
    let parsed = HeaderName::from_bytes(name.as_bytes()).map_err(|_| Unservable::HeaderName(name.to_owned()))?;
    if parsed == CONTENT_LENGTH || parsed == TRANSFER_ENCODING {
        return Err(Unservable::Framing(parsed));
    }
    match HeaderValue::from_bytes(value.as_bytes()) {
        Ok(value) => Ok((parsed, value)),
        Err(_) => Err(Unservable::HeaderValue { name: parsed, value: value.to_owned() }),
    }
}

fn prefix_lines(prefix: &str, text: &str) -> String {
    text.lines().map(|line| format!("{prefix}{line}")).collect::<Vec<_>>().join("\n")
}

async fn answer(book: Arc<Mutex<Book>>, max_body_bytes: usize, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, ServiceError> {
    let method = request.method().as_str().to_owned();
    let url = request.uri().path_and_query().map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned());
    // Read the body so the connection stays usable, but never more than the cap; a declared
    // length over the cap is refused before reading anything.
    let declared = request.body().size_hint().lower();
    if usize::try_from(declared).map_or(true, |declared| declared > max_body_bytes) {
        return Ok(too_large(max_body_bytes));
    }
    match Limited::new(request.into_body(), max_body_bytes).collect().await {
        Ok(_) => {}
        Err(error) if error.is::<LengthLimitError>() => return Ok(too_large(max_body_bytes)),
        Err(error) => return Err(error),
    }
    let found = {
        let mut book = book.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let matching: Vec<usize> = (0..book.exchanges.len())
            .filter(|&i| book.exchanges[i].request.method == method && book.exchanges[i].request.url == url)
            .collect();
        let chosen = matching.iter().copied().find(|&i| !book.served[i]).or_else(|| matching.last().copied());
        if let Some(i) = chosen {
            book.served[i] = true;
        }
        chosen.map(|i| (recorded(&book.exchanges[i]).cloned(), body_lost(&book.exchanges[i]))).ok_or_else(|| {
            let known: Vec<String> = book.exchanges.iter().map(|e| format!("{} {}", e.request.method, e.request.url)).collect();
            known
        })
    };
    match found {
        Ok((Some(response), Some(lost))) => {
            let body = serde_json::json!({
                "error": format!(
                    "cannot serve the recorded response to {method} {url}: {lost}; the recording has its status {} and headers, \
                     not its body, so it is not served as if it were complete",
                    response.status
                )
            });
            Ok(json_response(StatusCode::BAD_GATEWAY, &body))
        }
        Ok((Some(response), None)) => Ok(replay(&response).unwrap_or_else(|problem| {
            let body = serde_json::json!({"error": format!("cannot serve the recorded response to {method} {url}: {problem}")});
            json_response(StatusCode::INTERNAL_SERVER_ERROR, &body)
        })),
        // A recorded transport failure: fail the connection the same way.
        Ok((None, _)) => Err(format!("the recording of {method} {url} has no response").into()),
        Err(known) => {
            let body = serde_json::json!({"error": format!("no recorded exchange for {method} {url}"), "known": known});
            Ok(json_response(StatusCode::NOT_FOUND, &body))
        }
    }
}

/// Why the recorded response of `exchange` lacks its body, if it does: the attempt failed after
/// the response's head (a body cut off, over `http.max_body`, or too slow), so the recording
/// holds a status and headers, and no body. A refused redirect is recorded whole.
fn body_lost(exchange: &Exchange) -> Option<String> {
    use crate::transport::FailureKind;
    let failure = exchange.failure.as_ref()?;
    match failure.kind {
        FailureKind::RedirectRefused | FailureKind::TooManyRedirects => None,
        kind => Some(format!("step `{}` recorded it without its whole body ({kind}: {})", exchange.step, failure.message)),
    }
}

/// The recorded response as sent; `validate` has already accepted it at start.
fn replay(recorded: &ResponseData) -> Result<Response<Full<Bytes>>, Unservable> {
    let mut response = Response::new(Full::new(Bytes::from(recorded.to_bytes())));
    *response.status_mut() = status(recorded.status)?;
    for (name, value) in &recorded.headers {
        let (name, value) = header(name, value)?;
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

fn too_large(max_body_bytes: usize) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"error": format!("the request body is over the limit of {max_body_bytes} bytes")});
    let mut response = json_response(StatusCode::PAYLOAD_TOO_LARGE, &body);
    // The rest of the body is left unread, so the connection cannot carry another request.
    response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A short listing of what a server answers, for `recipe serve`.
pub(crate) fn describe(fixtures: &[Fixture]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for exchange in fixtures.iter().flat_map(|f| &f.exchanges) {
        *counts.entry(format!("{} {}", exchange.request.method, exchange.request.url)).or_insert(0) += 1;
    }
    counts
}
