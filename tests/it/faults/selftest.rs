//! The fault server's own tests: each fault seen from a raw TCP client or reqwest, with short timeouts.

use std::future::Future;
use std::io::ErrorKind;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use super::server::{Fault, FaultServer, Received, Reply};

/// The longest any one client step may take.
const LIMIT: Duration = Duration::from_secs(2);
/// How long "nothing arrives" is watched for.
const QUIET: Duration = Duration::from_millis(300);

async fn within<F: Future>(future: F) -> F::Output {
    timeout(LIMIT, future).await.expect("the client step finishes in time")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().no_gzip().timeout(LIMIT).build().expect("a client")
}

async fn connect(server: &FaultServer, request: &[u8]) -> TcpStream {
    let mut stream = within(TcpStream::connect(server.address)).await.expect("connects");
    within(stream.write_all(request)).await.expect("the request is written");
    stream
}

/// Reads until the peer closes: the bytes, and the error that ended the stream if it did not end cleanly.
async fn read_all(stream: &mut TcpStream) -> (Vec<u8>, Option<std::io::Error>) {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match within(stream.read(&mut chunk)).await {
            Ok(0) => return (bytes, None),
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(error) => return (bytes, Some(error)),
        }
    }
}

/// A response read off a raw stream: the head as text (lower-cased) and the body.
struct Raw {
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn status(&self) -> u16 {
        self.head[9..12].parse().expect("a status code")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
    }

    fn content_length(&self) -> usize {
        self.header("content-length").expect("a content-length").parse().expect("a number")
    }
}

/// Reads one response with a `Content-Length` body, leaving what follows in `buffer`.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Raw {
    let end = loop {
        if let Some(at) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
        let n = within(stream.read_buf(buffer)).await.expect("reads");
        assert!(n > 0, "the stream ended inside a response head: {:?}", String::from_utf8_lossy(buffer));
    };
    let head = String::from_utf8(buffer[..end].to_vec()).expect("an ASCII head").to_ascii_lowercase();
    let mut raw = Raw { head, body: Vec::new() };
    let length = raw.content_length();
    while buffer.len() < end + length {
        let n = within(stream.read_buf(buffer)).await.expect("reads");
        assert!(n > 0, "the stream ended inside a body");
    }
    raw.body = buffer[end..end + length].to_vec();
    buffer.drain(..end + length);
    raw
}

/// Waits (polling) until `condition` holds.
async fn until(condition: impl Fn() -> bool) {
    within(async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n").into_bytes()
}

fn ok() -> Reply {
    Reply::json(200, &json!({"ok": true}))
}

#[tokio::test(flavor = "current_thread")]
async fn responds_counts_and_records_requests() {
    let server = FaultServer::start(vec![
        ("GET", "/json", vec![Fault::Respond(Reply::json(201, &json!({"a": [1, 2]})).header("x-extra", "yes"))]),
        ("post", "/echo", vec![Fault::Respond(Reply::text(200, "text/plain; charset=utf-8", "héllo"))]),
    ])
    .await;
    let client = client();
    let response = within(client.get(server.url("/json?page=2")).send()).await.unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["x-extra"], "yes");
    assert_eq!(within(response.json::<serde_json::Value>()).await.unwrap(), json!({"a": [1, 2]}));

    let response =
        within(client.post(server.url("/echo?x=1")).header("X-Test", " Mixed Case ").body(vec![0xff, 0, 1]).send()).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(within(response.text()).await.unwrap(), "héllo");

    let response = within(client.get(server.url("/nowhere")).send()).await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert_eq!(
        within(response.json::<serde_json::Value>()).await.unwrap(),
        json!({"error": "no route", "method": "GET", "path": "/nowhere"})
    );

    assert_eq!((server.count("GET", "/json"), server.count("POST", "/echo"), server.count("get", "/nowhere?q")), (1, 1, 1));
    assert_eq!(server.count("GET", "/echo"), 0);
    let requests = server.requests();
    let methods: Vec<(&str, &str)> = requests.iter().map(|r| (r.method.as_str(), r.target.as_str())).collect();
    assert_eq!(methods, [("GET", "/json?page=2"), ("POST", "/echo?x=1"), ("GET", "/nowhere")]);
    let Received { headers, body, .. } = &requests[1];
    assert!(headers.contains(&("x-test".to_owned(), "Mixed Case".to_owned())), "{headers:?}");
    assert!(headers.contains(&("content-length".to_owned(), "3".to_owned())), "{headers:?}");
    assert_eq!(body, &[0xff, 0, 1]);
    assert!(requests[0].body.is_empty());
    // reqwest kept the connection alive across all three.
    assert_eq!(server.connections(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn the_script_advances_then_repeats_its_last_fault() {
    let server = FaultServer::start(vec![(
        "GET",
        "/flaky",
        vec![Fault::Respond(Reply::text(503, "text/plain", "busy")), Fault::ResetAfterRequest, Fault::Respond(ok())],
    )])
    .await;
    let client = client();
    let first = within(client.get(server.url("/flaky")).send()).await.unwrap();
    assert_eq!(first.status().as_u16(), 503);
    assert_eq!(within(first.text()).await.unwrap(), "busy");
    let second = within(client.get(server.url("/flaky")).send()).await;
    assert!(second.is_err(), "{second:?}");
    for _ in 0..3 {
        let response = within(client.get(server.url("/flaky")).send()).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    assert_eq!(server.count("GET", "/flaky"), 5);
}

#[tokio::test(flavor = "current_thread")]
async fn keep_alive_serves_pipelined_requests_and_honours_connection_close() {
    let server = FaultServer::start(vec![
        ("GET", "/a", vec![Fault::Respond(Reply::text(200, "text/plain", "first"))]),
        ("POST", "/b", vec![Fault::Respond(Reply::text(200, "text/plain", "second"))]),
    ])
    .await;
    let mut requests = get("/a");
    requests.extend_from_slice(b"POST /b HTTP/1.1\r\nhost: test\r\ncontent-length: 5\r\n\r\nhello");
    let mut stream = connect(&server, &requests).await;
    let mut buffer = Vec::new();
    let first = read_response(&mut stream, &mut buffer).await;
    let second = read_response(&mut stream, &mut buffer).await;
    assert_eq!((first.status(), first.body.as_slice()), (200, b"first".as_slice()));
    assert_eq!((second.status(), second.body.as_slice()), (200, b"second".as_slice()));
    assert_eq!(first.header("connection"), None);

    within(stream.write_all(b"GET /a HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")).await.unwrap();
    let last = read_response(&mut stream, &mut buffer).await;
    assert_eq!(last.header("connection"), Some("close"));
    let (rest, error) = read_all(&mut stream).await;
    assert!(buffer.is_empty() && rest.is_empty() && error.is_none(), "the server closes cleanly after Connection: close");
    assert_eq!(server.connections(), 1);
    assert_eq!(server.requests()[1].body, b"hello");
    assert_eq!((server.count("GET", "/a"), server.count("POST", "/b")), (2, 1));
}

#[tokio::test(flavor = "current_thread")]
async fn chunked_request_bodies_get_411_and_malformed_heads_400() {
    let server = FaultServer::start(vec![("POST", "/up", vec![Fault::Respond(ok())])]).await;
    let mut stream =
        connect(&server, b"POST /up HTTP/1.1\r\nhost: test\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n").await;
    let mut buffer = Vec::new();
    let response = read_response(&mut stream, &mut buffer).await;
    assert_eq!(response.status(), 411);
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(read_all(&mut stream).await.0, b"");
    assert_eq!(server.count("POST", "/up"), 1);

    let mut stream = connect(&server, b"NONSENSE\r\n\r\n").await;
    let response = read_response(&mut stream, &mut Vec::new()).await;
    assert_eq!(response.status(), 400);
    // The chunked request did not use up the script.
    let response = within(client().post(server.url("/up")).body("x").send()).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test(flavor = "current_thread")]
async fn refuse_after_accept_resets_without_counting() {
    let server =
        FaultServer::start(vec![("GET", "/door", vec![Fault::RefuseAfterAccept, Fault::RefuseAfterAccept, Fault::Respond(ok())])]).await;
    let mut stream = connect(&server, &get("/door")).await;
    let (bytes, error) = read_all(&mut stream).await;
    assert!(bytes.is_empty());
    assert_eq!(error.map(|error| error.kind()), Some(ErrorKind::ConnectionReset));
    assert_eq!(server.count("GET", "/door"), 0);

    let refused = within(client().get(server.url("/door")).send()).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(server.count("GET", "/door"), 0);
    assert!(server.requests().is_empty());

    let response = within(client().get(server.url("/door")).send()).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(server.count("GET", "/door"), 1);
    assert_eq!(server.connections(), 3);
}

#[tokio::test(flavor = "current_thread")]
async fn reset_after_request_reads_the_body_then_resets() {
    let server = FaultServer::start(vec![("POST", "/boom", vec![Fault::ResetAfterRequest])]).await;
    let body = vec![b'x'; 100_000];
    let mut request = format!("POST /boom HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
    request.extend_from_slice(&body);
    let mut stream = connect(&server, &request).await;
    let (bytes, error) = read_all(&mut stream).await;
    assert!(bytes.is_empty());
    assert_eq!(error.map(|error| error.kind()), Some(ErrorKind::ConnectionReset));
    assert_eq!(server.count("POST", "/boom"), 1);
    assert_eq!(server.requests()[0].body, body);

    let failed = within(client().post(server.url("/boom")).body("{}").send()).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(server.count("POST", "/boom"), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn stall_counts_then_sends_nothing_until_the_server_is_dropped() {
    let server = FaultServer::start(vec![("POST", "/void", vec![Fault::Stall])]).await;
    let mut stream = connect(&server, b"POST /void HTTP/1.1\r\nhost: test\r\ncontent-length: 2\r\n\r\nhi").await;
    until(|| server.requests().len() == 1).await;
    assert_eq!(server.count("POST", "/void"), 1);
    assert_eq!(server.requests()[0].body, b"hi");
    let mut chunk = [0u8; 64];
    assert!(timeout(QUIET, stream.read(&mut chunk)).await.is_err(), "nothing arrives while stalled");
    let waited = within(client().post(server.url("/void")).timeout(QUIET).body("{}").send()).await;
    assert!(waited.is_err_and(|error| error.is_timeout()));

    let address = server.address;
    drop(server);
    // Dropping the server closes the stalled socket and the listener.
    let (bytes, _) = read_all(&mut stream).await;
    assert!(bytes.is_empty());
    let refused = within(TcpStream::connect(address)).await;
    assert_eq!(refused.map_err(|error| error.kind()).err(), Some(ErrorKind::ConnectionRefused));
}

#[tokio::test(flavor = "current_thread")]
async fn headers_then_stall_promises_a_body_that_never_comes() {
    let server = FaultServer::start(vec![
        ("GET", "/half", vec![Fault::HeadersThenStall(Reply::json(200, &json!({"never": "sent"})))]),
        ("GET", "/empty", vec![Fault::HeadersThenStall(Reply::redirect(302, "/elsewhere"))]),
    ])
    .await;
    let mut stream = connect(&server, &get("/half")).await;
    let mut buffer = Vec::new();
    while !buffer.windows(4).any(|window| window == b"\r\n\r\n") {
        assert!(within(stream.read_buf(&mut buffer)).await.unwrap() > 0);
    }
    let head = String::from_utf8(buffer.clone()).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && head.ends_with("\r\n\r\n"), "{head}");
    assert!(head.contains("content-length: 16\r\n"), "{head}");
    assert!(timeout(QUIET, stream.read_buf(&mut buffer)).await.is_err(), "no body arrives");

    let response = within(client().get(server.url("/half")).send()).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(timeout(QUIET, response.bytes()).await.is_err(), "the body never completes");

    // An empty reply still promises a byte (the redirect is not followed: its headers arrive, the body does not).
    let raw = reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = within(raw.get(server.url("/empty")).send()).await.unwrap();
    assert_eq!(response.status().as_u16(), 302);
    assert_eq!(response.headers()["content-length"], "1");
    assert_eq!((server.count("GET", "/half"), server.count("GET", "/empty")), (2, 1));
}

#[tokio::test(flavor = "current_thread")]
async fn drip_sends_one_byte_per_interval() {
    let every = Duration::from_millis(10);
    let reply = Reply { status: 200, headers: Vec::new(), body: b"drip".to_vec() };
    let server = FaultServer::start(vec![("GET", "/slow", vec![Fault::Drip { reply, every }])]).await;
    let expected = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndrip";
    let mut stream = connect(&server, &get("/slow")).await;
    let started = Instant::now();
    let mut chunk = [0u8; 64];
    let first = within(stream.read(&mut chunk)).await.unwrap();
    assert_eq!(first, 1, "the first byte comes alone");
    let mut bytes = chunk[..1].to_vec();
    let mut reads = 1;
    while bytes.len() < expected.len() {
        let n = within(stream.read(&mut chunk)).await.unwrap();
        assert!(n > 0);
        bytes.extend_from_slice(&chunk[..n]);
        reads += 1;
    }
    let elapsed = started.elapsed();
    assert_eq!(bytes, expected);
    assert!(elapsed >= every * (u32::try_from(expected.len()).unwrap() - 1), "{elapsed:?}");
    assert!(reads >= expected.len() / 2, "{reads} reads");
    // The connection stays usable: the next request drips again.
    within(stream.write_all(&get("/slow"))).await.unwrap();
    let again = read_response(&mut stream, &mut Vec::new()).await;
    assert_eq!(again.body, b"drip");

    let slow = within(client().get(server.url("/slow")).timeout(Duration::from_millis(100)).send()).await;
    assert!(slow.is_err_and(|error| error.is_timeout()));
}

#[tokio::test(flavor = "current_thread")]
async fn truncated_sends_half_the_body_then_fin() {
    let server = FaultServer::start(vec![("GET", "/cut", vec![Fault::Truncated(Reply::text(200, "text/plain", "0123456789"))])]).await;
    let mut stream = connect(&server, &get("/cut")).await;
    let (bytes, error) = read_all(&mut stream).await;
    assert!(error.is_none(), "a clean close, not a reset: {error:?}");
    let text = String::from_utf8(bytes).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("content-length: 10"), "{head}");
    assert_eq!(body, "01234");

    let response = within(client().get(server.url("/cut")).send()).await.unwrap();
    assert_eq!(response.content_length(), Some(10));
    assert!(within(response.bytes()).await.is_err(), "reqwest sees the body end early");
    assert_eq!(server.count("GET", "/cut"), 2);
}

/// Reads a gzip member of stored blocks by hand, checking every field; the original bytes.
fn gunzip_stored(gz: &[u8]) -> Vec<u8> {
    assert_eq!(gz[..10], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff], "magic, deflate, no flags, no mtime, OS unknown");
    let mut at = 10;
    let mut out = Vec::new();
    loop {
        let header = gz[at];
        assert_eq!(header & 0b110, 0, "BTYPE 00: a stored block");
        let length = u16::from_le_bytes([gz[at + 1], gz[at + 2]]);
        let complement = u16::from_le_bytes([gz[at + 3], gz[at + 4]]);
        assert_eq!(length, !complement, "NLEN is the complement of LEN");
        let start = at + 5;
        out.extend_from_slice(&gz[start..start + usize::from(length)]);
        at = start + usize::from(length);
        if header & 1 == 1 {
            break;
        }
    }
    let crc = u32::from_le_bytes(gz[at..at + 4].try_into().unwrap());
    let size = u32::from_le_bytes(gz[at + 4..at + 8].try_into().unwrap());
    assert_eq!(at + 8, gz.len(), "nothing after ISIZE");
    assert_eq!(crc, bitwise_crc32(&out));
    assert_eq!(usize::try_from(size).unwrap(), out.len());
    out
}

/// CRC-32 one bit at a time (independent of the server's table).
fn bitwise_crc32(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB88320 } else { crc >> 1 };
        }
    }
    !crc
}

#[tokio::test(flavor = "current_thread")]
async fn gzip_is_a_valid_member_of_stored_blocks() {
    // The well-known check value of CRC-32.
    assert_eq!(bitwise_crc32(b"123456789"), 0xCBF43926);
    let small = Reply::text(200, "text/plain", "hello, gzip").gzip();
    assert_eq!(gunzip_stored(&small.body), b"hello, gzip");
    assert_eq!(small.body.len(), 10 + 5 + 11 + 8);
    assert_eq!(small.body[10], 1, "one final block");
    let empty = Reply::text(200, "text/plain", "").gzip();
    assert_eq!(empty.body, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
    let big = Reply::big(200, 200_000);
    let zipped = big.clone().gzip();
    assert_eq!(zipped.body.len(), 10 + 4 * 5 + 200_000 + 8, "four stored blocks");
    assert_eq!(gunzip_stored(&zipped.body), big.body);

    let server = FaultServer::start(vec![("GET", "/gz", vec![Fault::Respond(zipped)])]).await;
    let response = within(client().get(server.url("/gz")).send()).await.unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let body = within(response.bytes()).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&gunzip_stored(&body)).unwrap();
    assert!(json["items"].as_array().unwrap().len() > 1000);
}

#[tokio::test(flavor = "current_thread")]
async fn big_bodies_are_json_of_the_asked_size_and_bytes_pass_unchanged() {
    for size in [0, 12, 13, 100, 1000] {
        let reply = Reply::big(200, size);
        assert_eq!(reply.body.len(), size.max(12));
        serde_json::from_slice::<serde_json::Value>(&reply.body).unwrap();
    }
    let huge = Reply::big(200, 64 << 20);
    assert_eq!(huge.body.len(), 64 << 20);
    assert!(huge.body.starts_with(b"{\"items\":[{\"n\":0,") && huge.body.ends_with(b"}"));
    assert!(format!("{huge:?}").len() < 300, "Debug does not print the body");
    drop(huge);

    let size = 8 << 20;
    let binary = Reply { status: 200, headers: Vec::new(), body: vec![0xff, 0xfe, 0, b'\n', 0xc3] }
        .header("content-type", "application/octet-stream");
    let server = FaultServer::start(vec![
        ("GET", "/big", vec![Fault::Respond(Reply::big(200, size))]),
        ("GET", "/bin", vec![Fault::Respond(binary)]),
    ])
    .await;
    let client = client();
    let body = within(within(client.get(server.url("/big")).send()).await.unwrap().bytes()).await.unwrap();
    assert_eq!(body.len(), size);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(json["items"].as_array().unwrap().len() > 50_000);
    let body = within(within(client.get(server.url("/bin")).send()).await.unwrap().bytes()).await.unwrap();
    assert_eq!(body.as_ref(), [0xff, 0xfe, 0, b'\n', 0xc3]);
}

#[tokio::test(flavor = "current_thread")]
async fn two_servers_are_two_origins_for_a_redirect() {
    let target = FaultServer::start(vec![("GET", "/landing", vec![Fault::Respond(ok())])]).await;
    let origin =
        FaultServer::start(vec![("GET", "/start", vec![Fault::Respond(Reply::redirect(302, &target.url("/landing?from=origin")))])]).await;
    assert_ne!(origin.address, target.address);
    let response = within(client().get(origin.url("/start")).send()).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.url().as_str(), target.url("/landing?from=origin"));
    assert_eq!((origin.count("GET", "/start"), target.count("GET", "/landing")), (1, 1));
    let host = target.requests()[0].headers.iter().find(|(name, _)| name == "host").unwrap().1.clone();
    assert_eq!(host, target.address.to_string());
}
