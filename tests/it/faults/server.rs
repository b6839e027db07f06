//! A test-only HTTP/1.1 server on loopback (127.0.0.1) that misbehaves on purpose.
//!
//! It is written on raw `tokio::net` sockets, not hyper, so a test can script byte-level faults per
//! route: resets, stalls, dripped or truncated responses, besides ordinary replies. Each
//! [`FaultServer`] runs on its own thread with its own single-threaded runtime, so it keeps serving
//! while the test's runtime is busy or blocked; dropping it stops the thread and closes every socket.
//!
//! Limits: request bodies need `Content-Length` (a `Transfer-Encoding` request gets 411 and the
//! connection closes), `Expect: 100-continue` is not answered, heads over 64 KiB get 431.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

/// The longest request head (request line and headers) the server reads.
const MAX_HEAD: usize = 64 * 1024;
/// The largest request body the server accepts.
const MAX_BODY: usize = 256 * 1024 * 1024;

/// A running fault server; dropping it stops the accept loop and closes every connection.
pub struct FaultServer {
    pub address: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What to do with one request (one connection, or one request on a keep-alive connection).
#[derive(Clone, Debug)]
pub enum Fault {
    /// A normal response.
    Respond(Reply),
    /// Close the connection with RST (`SO_LINGER` 0) without answering or counting the request. The
    /// server has to see the request line to know the route, so it closes as soon as the head has
    /// arrived, before reading the body; nothing is counted or recorded.
    RefuseAfterAccept,
    /// Read the whole request (head and `Content-Length` body), count it, then close with RST.
    ResetAfterRequest,
    /// Read the whole request, count it, then send nothing and hold the socket until the server is dropped.
    Stall,
    /// Send the status line and headers (with a `Content-Length` of at least 1), then nothing.
    HeadersThenStall(Reply),
    /// Send the whole response one byte at a time: the first byte at once, then one byte per `every`.
    Drip { reply: Reply, every: Duration },
    /// Send headers with `Content-Length` N, then only N/2 bytes of body, then close with FIN.
    Truncated(Reply),
}

/// A response. The server adds `content-length` (the body's length) unless `headers` has one, which
/// is then sent as given; a `connection: close` header makes the server close after the response.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// One route's script: the faults for `method` and `path` (without query), used in order, the last repeating.
pub struct Route {
    method: String,
    path: String,
    script: Vec<Arc<Fault>>,
    used: usize,
}

/// A request as the server read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub method: String,
    /// Path and query, as in the request line.
    pub target: String,
    /// In order, names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the whole request head had arrived (the server's clock): for rates and pauses.
    pub arrived_at: std::time::Instant,
}

impl Reply {
    /// A JSON response (`content-type: application/json`).
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        let body = serde_json::to_vec(body).expect("a JSON value serializes");
        Self { status, headers: vec![("content-type".to_owned(), "application/json".to_owned())], body }
    }

    pub fn text(status: u16, content_type: &str, body: &str) -> Self {
        Self { status, headers: vec![("content-type".to_owned(), content_type.to_owned())], body: body.as_bytes().to_vec() }
    }

    /// A redirect with an empty body.
    pub fn redirect(status: u16, location: &str) -> Self {
        Self { status, headers: vec![("location".to_owned(), location.to_owned())], body: Vec::new() }
    }

    /// Adds a header (after the existing ones; a name may repeat).
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Gzip-encodes the body (DEFLATE stored blocks, no compression) and sets `content-encoding: gzip`.
    #[must_use]
    pub fn gzip(mut self) -> Self {
        self.body = gzip_stored(&self.body);
        self.header("content-encoding", "gzip")
    }

    /// A JSON document of exactly `size` bytes (at least the 12 of `{"items":[]}`): an array of small
    /// objects, padded with spaces. Built in memory; 64 MiB takes a moment in a debug build.
    pub fn big(status: u16, size: usize) -> Self {
        use std::io::Write as _;
        const OPEN: &[u8] = b"{\"items\":[";
        const CLOSE: &[u8] = b"]}";
        let mut body = Vec::with_capacity(size.max(OPEN.len() + CLOSE.len()));
        body.extend_from_slice(OPEN);
        let mut item = Vec::with_capacity(128);
        for n in 0usize.. {
            item.clear();
            if n > 0 {
                item.push(b',');
            }
            write!(item, "{{\"n\":{n},\"text\":\"lorem ipsum dolor sit amet, consectetur adipiscing elit\"}}").expect("writes to memory");
            if body.len() + item.len() + CLOSE.len() > size {
                break;
            }
            body.extend_from_slice(&item);
        }
        body.push(b']');
        body.resize(size.max(body.len() + 1) - 1, b' ');
        body.push(b'}');
        Self { status, headers: vec![("content-type".to_owned(), "application/json".to_owned())], body }
    }
}

impl fmt::Debug for Reply {
    /// Shows the body's size and start, not megabytes of it.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let start = String::from_utf8_lossy(&self.body[..self.body.len().min(64)]);
        formatter
            .debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &format_args!("{} bytes {start:?}", self.body.len()))
            .finish()
    }
}

impl Route {
    fn current(&self) -> &Arc<Fault> {
        &self.script[self.used.min(self.script.len() - 1)]
    }

    fn take(&mut self) -> Arc<Fault> {
        let fault = Arc::clone(self.current());
        self.used += 1;
        fault
    }
}

#[derive(Default)]
struct State {
    routes: Vec<Route>,
    /// Requests per (method, path) whose head was read.
    counts: Vec<((String, String), usize)>,
    requests: Vec<Received>,
    connections: usize,
}

/// What the server does with a request whose head it has read.
enum Plan {
    Refuse,
    LengthRequired,
    /// The route's fault; `None` for an unknown route (404).
    Serve(Option<Arc<Fault>>),
}

impl State {
    fn decide(&mut self, method: &str, path: &str, chunked: bool) -> Plan {
        let index = self.routes.iter().position(|route| route.method == method && route.path == path);
        if let Some(i) = index
            && matches!(**self.routes[i].current(), Fault::RefuseAfterAccept)
        {
            self.routes[i].used += 1;
            return Plan::Refuse;
        }
        match self.counts.iter_mut().find(|((m, p), _)| m == method && p == path) {
            Some((_, count)) => *count += 1,
            None => self.counts.push(((method.to_owned(), path.to_owned()), 1)),
        }
        if chunked {
            return Plan::LengthRequired;
        }
        Plan::Serve(index.map(|i| self.routes[i].take()))
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FaultServer {
    /// Starts on 127.0.0.1:0. `routes`: for each (METHOD, path) a list of faults used in order, one per
    /// request; once the list is exhausted, the last one repeats. Unknown routes get 404 JSON.
    /// Methods are upper-cased. Panics on an empty script or a repeated route.
    pub async fn start(routes: Vec<(&str, &str, Vec<Fault>)>) -> FaultServer {
        let mut state = State::default();
        for (method, path, script) in routes {
            let method = method.to_ascii_uppercase();
            assert!(!script.is_empty(), "the fault server route {method} {path} has no faults");
            assert!(
                !state.routes.iter().any(|route| route.method == method && route.path == path),
                "the fault server route {method} {path} is given twice"
            );
            state.routes.push(Route { method, path: path.to_owned(), script: script.into_iter().map(Arc::new).collect(), used: 0 });
        }
        let state = Arc::new(Mutex::new(state));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("the fault server binds a loopback port");
        listener.set_nonblocking(true).expect("the listener becomes non-blocking");
        let address = listener.local_addr().expect("the listener has an address");
        let (stop, stopped) = oneshot::channel();
        let (ready, started) = oneshot::channel();
        let shared = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name(format!("fault-server-{}", address.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("the fault server runtime builds");
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("the listener registers");
                    let _ = ready.send(());
                    accept_loop(listener, shared, stopped).await;
                });
                // Dropping the runtime drops every connection task, closing its socket.
            })
            .expect("the fault server thread starts");
        started.await.expect("the fault server thread is running");
        FaultServer { address, state, stop: Some(stop), thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// How many requests arrived for (METHOD, path; a query is ignored) so far, counted when the request
    /// head was read, including requests then reset or stalled. `RefuseAfterAccept` counts nothing.
    pub fn count(&self, method: &str, path: &str) -> usize {
        let method = method.to_ascii_uppercase();
        let path = path.split('?').next().unwrap_or_default();
        lock(&self.state).counts.iter().find(|((m, p), _)| *m == method && p == path).map_or(0, |(_, count)| *count)
    }

    /// The requests received, in order (recorded once the body was read, or cut short).
    pub fn requests(&self) -> Vec<Received> {
        lock(&self.state).requests.clone()
    }

    /// When each request arrived, as seconds after the first, earliest first.
    pub fn arrivals(&self) -> Vec<f64> {
        let requests = self.requests();
        let Some(first) = requests.iter().map(|r| r.arrived_at).min() else { return Vec::new() };
        let mut offsets: Vec<f64> = requests.iter().map(|r| r.arrived_at.duration_since(first).as_secs_f64()).collect();
        offsets.sort_by(f64::total_cmp);
        offsets
    }

    /// How many TCP connections were accepted so far (to tell keep-alive reuse from new connections).
    pub fn connections(&self) -> usize {
        lock(&self.state).connections
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<Mutex<State>>, mut stop: oneshot::Receiver<()>) {
    // Connection tasks live in the set, so they end with the loop.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    lock(&state).connections += 1;
                    connections.spawn(serve_connection(stream, Arc::clone(&state)));
                }
                // Out of descriptors or the like: wait a little rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next() => {}
        }
    }
}

/// A request head.
struct Head {
    method: String,
    target: String,
    http_1_0: bool,
    headers: Vec<(String, String)>,
    /// When the head had been read.
    at: std::time::Instant,
}

enum HeadError {
    Closed,
    TooLarge,
    Malformed,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, value)| value.as_str())
    }

    fn wants_close(&self) -> bool {
        let tokens = |value: &str, token: &str| value.split(',').any(|t| t.trim().eq_ignore_ascii_case(token));
        match self.header("connection") {
            Some(value) if tokens(value, "close") => true,
            Some(value) if tokens(value, "keep-alive") => false,
            _ => self.http_1_0,
        }
    }

    fn received(&self, body: Vec<u8>) -> Received {
        Received { method: self.method.clone(), target: self.target.clone(), headers: self.headers.clone(), body, arrived_at: self.at }
    }
}

fn parse_head(bytes: &[u8]) -> Option<Head> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || method.is_empty() || target.is_empty() || !version.starts_with("HTTP/1.") {
        return None;
    }
    let mut headers = Vec::new();
    for line in lines.filter(|line| !line.is_empty()) {
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Some(Head {
        method: method.to_owned(),
        target: target.to_owned(),
        http_1_0: version == "HTTP/1.0",
        headers,
        at: std::time::Instant::now(),
    })
}

/// Reads more bytes into `buffer`; false at end of stream or on an error.
async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> bool {
    buffer.reserve(16 * 1024);
    matches!(stream.read_buf(buffer).await, Ok(n) if n > 0)
}

/// Reads one request head off the front of `buffer` (reading more as needed); what follows stays buffered.
async fn read_head(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<Head, HeadError> {
    let mut searched = 0usize;
    let end = loop {
        let from = searched.saturating_sub(3);
        if let Some(at) = buffer[from..].windows(4).position(|window| window == b"\r\n\r\n") {
            break from + at + 4;
        }
        if buffer.len() > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
        searched = buffer.len();
        if !read_more(stream, buffer).await {
            return Err(HeadError::Closed);
        }
    };
    let rest = buffer.split_off(end);
    let head = std::mem::replace(buffer, rest);
    parse_head(&head[..end - 4]).ok_or(HeadError::Malformed)
}

/// Reads a body of `length` bytes; `Err` with what arrived if the stream ended first.
async fn read_body(stream: &mut TcpStream, buffer: &mut Vec<u8>, length: usize) -> Result<Vec<u8>, Vec<u8>> {
    while buffer.len() < length {
        if !read_more(stream, buffer).await {
            return Err(std::mem::take(buffer));
        }
    }
    let rest = buffer.split_off(length);
    Ok(std::mem::replace(buffer, rest))
}

fn record(state: &Mutex<State>, received: Received) {
    lock(state).requests.push(received);
}

async fn serve_connection(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    // One segment per write, so a drip really is one byte at a time.
    let _ = stream.set_nodelay(true);
    let mut buffer = Vec::new();
    loop {
        let head = match read_head(&mut stream, &mut buffer).await {
            Ok(head) => head,
            Err(HeadError::Closed) => return,
            Err(HeadError::TooLarge) => return finish(stream, problem(431, "the request head is too large")).await,
            Err(HeadError::Malformed) => return finish(stream, problem(400, "malformed request head")).await,
        };
        let path = head.target.split('?').next().unwrap_or_default().to_owned();
        let chunked = head.header("transfer-encoding").is_some();
        let plan = lock(&state).decide(&head.method, &path, chunked);
        let fault = match plan {
            Plan::Refuse => return reset(stream),
            Plan::LengthRequired => {
                record(&state, head.received(Vec::new()));
                return finish(stream, problem(411, "send the body with Content-Length")).await;
            }
            Plan::Serve(fault) => fault,
        };
        let length = match head.header("content-length").map(str::parse::<usize>) {
            None => 0,
            Some(Ok(length)) if length <= MAX_BODY => length,
            Some(Ok(_)) => {
                record(&state, head.received(Vec::new()));
                return finish(stream, problem(413, "the request body is too large")).await;
            }
            Some(Err(_)) => {
                record(&state, head.received(Vec::new()));
                return finish(stream, problem(400, "invalid Content-Length")).await;
            }
        };
        let (body, complete) = match read_body(&mut stream, &mut buffer, length).await {
            Ok(body) => (body, true),
            Err(partial) => (partial, false),
        };
        record(&state, head.received(body));
        if !complete {
            return;
        }
        let close = head.wants_close();
        let Some(fault) = fault else {
            let reply = Reply::json(404, &serde_json::json!({"error": "no route", "method": head.method, "path": path}));
            if !respond(&mut stream, &reply, close).await || close {
                return close_gracefully(stream).await;
            }
            continue;
        };
        let close = match &*fault {
            Fault::Respond(reply) => {
                let close = close || closes(reply);
                if !respond(&mut stream, reply, close).await {
                    return;
                }
                close
            }
            Fault::RefuseAfterAccept | Fault::ResetAfterRequest => return reset(stream),
            Fault::Stall => return stall(stream).await,
            Fault::HeadersThenStall(reply) => {
                let _ = stream.write_all(&response_head(reply, Some(reply.body.len().max(1)), false)).await;
                return stall(stream).await;
            }
            Fault::Drip { reply, every } => {
                let close = close || closes(reply);
                let mut bytes = response_head(reply, None, close);
                bytes.extend_from_slice(&reply.body);
                if !drip(&mut stream, &bytes, *every).await {
                    return;
                }
                close
            }
            Fault::Truncated(reply) => {
                let length = reply.body.len();
                if stream.write_all(&response_head(reply, Some(length), false)).await.is_ok() {
                    let _ = stream.write_all(&reply.body[..length / 2]).await;
                }
                return close_gracefully(stream).await;
            }
        };
        if close {
            return close_gracefully(stream).await;
        }
    }
}

/// A JSON error the server itself answers with, closing the connection.
fn problem(status: u16, message: &str) -> Reply {
    Reply::json(status, &serde_json::json!({ "error": message })).header("connection", "close")
}

fn closes(reply: &Reply) -> bool {
    reply.headers.iter().any(|(name, value)| name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close"))
}

/// The status line and headers. `length`: the `content-length` to send instead of the reply's own
/// (or, without one in the reply, the body's length).
fn response_head(reply: &Reply, length: Option<usize>, close: bool) -> Vec<u8> {
    let reason = reqwest::StatusCode::from_u16(reply.status).ok().and_then(|status| status.canonical_reason()).unwrap_or("Unknown");
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", reply.status);
    let has_length = reply.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-length"));
    for (name, value) in &reply.headers {
        if !(length.is_some() && name.eq_ignore_ascii_case("content-length")) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    match length {
        Some(length) => head.push_str(&format!("content-length: {length}\r\n")),
        None if !has_length => head.push_str(&format!("content-length: {}\r\n", reply.body.len())),
        None => {}
    }
    if close && !closes(reply) {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// Writes a whole response; false if the client went away.
async fn respond(stream: &mut TcpStream, reply: &Reply, close: bool) -> bool {
    stream.write_all(&response_head(reply, None, close)).await.is_ok() && stream.write_all(&reply.body).await.is_ok()
}

async fn drip(stream: &mut TcpStream, bytes: &[u8], every: Duration) -> bool {
    for (i, byte) in bytes.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(every).await;
        }
        if stream.write_all(std::slice::from_ref(byte)).await.is_err() {
            return false;
        }
    }
    true
}

/// Answers and closes.
async fn finish(mut stream: TcpStream, reply: Reply) {
    if respond(&mut stream, &reply, true).await {
        close_gracefully(stream).await;
    }
}

/// Sends FIN, then reads until the client closes too, so unread input cannot turn the close into a reset.
async fn close_gracefully(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let mut scratch = [0u8; 4096];
    while matches!(stream.read(&mut scratch).await, Ok(n) if n > 0) {}
}

/// Closes with RST: `SO_LINGER` 0 makes the close abortive.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// Holds the socket open, sending nothing, until the server is dropped (which drops this task).
async fn stall(stream: TcpStream) {
    std::future::pending::<()>().await;
    drop(stream);
}

/// Gzip with DEFLATE stored blocks: header, blocks of at most 65535 bytes, CRC-32 and ISIZE (RFC 1951, 1952).
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 5 * (data.len() / 0xffff + 1) + 18);
    // Magic, CM = 8 (deflate), FLG = 0, MTIME = 0, XFL = 0, OS = 255 (unknown).
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    let mut blocks = data.chunks(0xffff).peekable();
    if data.is_empty() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        // BFINAL in bit 0, BTYPE = 00 (stored); the rest of the byte pads to the boundary.
        out.push(u8::from(blocks.peek().is_none()));
        let length = u16::try_from(block.len()).expect("a stored block holds at most 65535 bytes");
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&(!length).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    let size = u64::try_from(data.len()).expect("a length fits 64 bits") & u64::from(u32::MAX);
    out.extend_from_slice(&u32::try_from(size).expect("masked to 32 bits").to_le_bytes());
    out
}

/// CRC-32 (IEEE, reflected, polynomial 0xEDB88320), as gzip uses it.
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut n = 0u32;
        while n < 256 {
            let mut c = n;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 { 0xEDB88320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            table[n as usize] = c;
            n += 1;
        }
        table
    };
    !data.iter().fold(u32::MAX, |crc, &byte| TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8))
}
