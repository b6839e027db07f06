//! The fixture server's limits and its check of recordings, over raw TCP on 127.0.0.1. Every
//! read has a timeout, so a server that misbehaves fails a test instead of hanging it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use recipe::Fixture;
use recipe::hooks::serve::{Limits, start, start_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::block_on;

/// Longer than any wait a test expects; reaching it fails the test.
const PATIENCE: Duration = Duration::from_secs(3);

/// A fixture with one POST exchange per response given.
fn fixture(responses: &[serde_json::Value]) -> Fixture {
    let exchanges: Vec<serde_json::Value> = responses
        .iter()
        .enumerate()
        .map(|(index, response)| {
            serde_json::json!({"step": format!("step_{index}"), "request": {"method": "POST", "url": "/things"}, "response": response})
        })
        .collect();
    serde_json::from_value(serde_json::json!({"fixture": 1, "exchanges": exchanges})).expect("a valid fixture")
}

fn ok() -> serde_json::Value {
    serde_json::json!({"status": 201, "headers": {"content-type": "application/json"}, "json": {"id": 7}})
}

/// Sends `bytes` and reads until the server closes the connection.
async fn exchange_raw(address: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).await.expect("the server accepts");
    stream.write_all(bytes).await.expect("the request is sent");
    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection")
        .expect("a clean read");
    String::from_utf8_lossy(&received).into_owned()
}

fn post(headers: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!("POST /things HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n{headers}\r\n").into_bytes();
    request.extend_from_slice(body);
    request
}

#[test]
fn a_client_that_stalls_in_its_headers_is_disconnected() {
    let timeout = Duration::from_millis(200);
    block_on(async {
        let server = start_with(vec![fixture(&[ok()])], 0, Limits { header_read_timeout: timeout, ..Limits::default() }).await.unwrap();
        let mut stream = TcpStream::connect(server.address).await.unwrap();
        let started = Instant::now();
        stream.write_all(b"POST /things HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-le").await.unwrap();
        let mut received = Vec::new();
        let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received)).await;
        let elapsed = started.elapsed();
        // Closed (a 408 or nothing first, or a reset), and not before the timeout.
        assert!(read.is_ok(), "still connected after {PATIENCE:?}");
        assert!(elapsed >= timeout, "closed after {elapsed:?}, before the {timeout:?} timeout");
        let received = String::from_utf8_lossy(&received);
        assert!(received.is_empty() || received.starts_with("HTTP/1.1 408"), "{received}");
    });
}

#[test]
fn a_body_over_the_cap_gets_413_and_one_under_it_is_served() {
    let limits = Limits { max_body_bytes: 1024, ..Limits::default() };
    block_on(async {
        let server = start_with(vec![fixture(&[ok()])], 0, limits).await.unwrap();
        let big = vec![b'x'; 2048];
        // Declared too long: refused before reading.
        let declared = exchange_raw(server.address, &post("content-length: 2048\r\n", &big)).await;
        // Chunked, so only reading finds out.
        let mut chunked = b"800\r\n".to_vec();
        chunked.extend_from_slice(&big);
        chunked.extend_from_slice(b"\r\n0\r\n\r\n");
        let streamed = exchange_raw(server.address, &post("transfer-encoding: chunked\r\n", &chunked)).await;
        for response in [&declared, &streamed] {
            assert!(response.starts_with("HTTP/1.1 413 "), "{response}");
            assert!(response.contains("content-type: application/json"), "{response}");
            assert!(response.ends_with(r#"{"error":"the request body is over the limit of 1024 bytes"}"#), "{response}");
        }
        // Exactly at the cap is fine, and the recording is served.
        let served = exchange_raw(server.address, &post("content-length: 1024\r\n", &big[..1024])).await;
        assert!(served.starts_with("HTTP/1.1 201 "), "{served}");
        assert!(served.ends_with(r#"{"id":7}"#), "{served}");
    });
}

#[test]
fn a_recording_that_cannot_be_served_is_an_error_at_start_naming_the_exchange() {
    let cases = [
        (serde_json::json!({"status": 1000}), "`exchanges[1]` (step `step_1`): status 1000 is not an HTTP status (100 to 999)"),
        (serde_json::json!({"status": 42}), "`exchanges[1]` (step `step_1`): status 42 is not an HTTP status (100 to 999)"),
        (serde_json::json!({"status": 101}), "`exchanges[1]` (step `step_1`): status 101 cannot be served"),
        (
            serde_json::json!({"status": 200, "headers": {"bad name": "x"}}),
            r#"`exchanges[1]` (step `step_1`): header name "bad name" is not"#,
        ),
        (
            serde_json::json!({"status": 200, "headers": {"location": "/a\r\nset-cookie: x"}}),
            "`exchanges[1]` (step `step_1`): header `location` has a value that is not valid",
        ),
        (
            serde_json::json!({"status": 200, "headers": {"content-length": "3"}, "text": "abcdef"}),
            "`exchanges[1]` (step `step_1`): header `content-length` cannot be served",
        ),
    ];
    // A port already taken: an error about it would mean the server tried to bind first.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    block_on(async {
        for (response, expected) in cases {
            let error = start(vec![fixture(&[ok(), response])], port).await.err().expect("the recording is refused").to_string();
            assert!(error.starts_with("cannot serve the recording:\n"), "{error}");
            assert!(error.contains(expected), "{error}\ndoes not contain\n{expected}");
        }
        // With several fixtures, the fixture is named too, and every problem is listed.
        let error = start(vec![fixture(&[ok()]), fixture(&[serde_json::json!({"status": 1}), serde_json::json!({"status": 2})])], port)
            .await
            .err()
            .expect("the recording is refused");
        assert_eq!(error.exit(), recipe::Exit::Usage);
        assert_eq!(
            error.to_string(),
            "cannot serve the recording:\n\
             fixture 2: `exchanges[0]` (step `step_0`): status 1 is not an HTTP status (100 to 999)\n\
             fixture 2: `exchanges[1]` (step `step_1`): status 2 is not an HTTP status (100 to 999)"
        );
    });
    drop(taken);
}

#[test]
fn recipe_serve_suggests_a_command_that_fits_the_fixture() {
    use std::io::BufRead as _;
    let hint = |fixture: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_recipe"))
            .args(["serve", fixture, "--port", "0"])
            .current_dir(crate::support::root())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let found = lines.map_while(Result::ok).take(50).find(|line| line.starts_with("try:"));
        child.kill().unwrap();
        child.wait().unwrap();
        found.expect("a hint line")
    };
    let shop = hint("recipes/fixtures/token-auth/two_open_orders.yaml");
    assert!(
        shop.starts_with("try: SHOP_BASE_URL=http://127.0.0.1:")
            && shop.ends_with("recipe run recipes/token-auth.yaml --var customer_id=C-100"),
        "{shop}"
    );
    let other = hint("tests/data/replays/whoami-401.yaml");
    assert!(other.starts_with("try: point the recipe's `http.base_url` at http://127.0.0.1:"), "{other}");
}

#[test]
fn a_response_recorded_without_its_whole_body_is_not_served_as_complete() {
    // As `--record` keeps a 201 whose body was cut off: the head, and the failure beside it. The
    // second exchange is a refused redirect, which is recorded whole and served as it is.
    let exchange = |url: &str, response: serde_json::Value, failure: serde_json::Value| serde_json::json!({"step": "draft", "request": {"method": "POST", "url": url}, "response": response, "failure": failure});
    let fixture: Fixture = serde_json::from_value(serde_json::json!({"fixture": 1, "exchanges": [
        exchange(
            "/cut",
            serde_json::json!({"status": 201, "headers": {"content-type": "application/json"}}),
            serde_json::json!({"kind": "invalid_body", "message": "error decoding response body: connection closed before message completed"}),
        ),
        exchange(
            "/moved",
            serde_json::json!({"status": 303, "headers": {"location": "/elsewhere"}}),
            serde_json::json!({"kind": "redirect_refused", "message": "a redirect after POST is not followed"}),
        ),
    ]}))
    .expect("a valid fixture");
    block_on(async {
        let server = start(vec![fixture], 0).await.unwrap();
        let request = |url: &str| format!("POST {url} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
        let cut = exchange_raw(server.address, request("/cut").as_bytes()).await;
        assert!(cut.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{cut}");
        let body: serde_json::Value = serde_json::from_str(cut.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        let error = body["error"].as_str().unwrap();
        assert!(
            error.starts_with("cannot serve the recorded response to POST /cut: step `draft` recorded it without its whole body"),
            "{error}"
        );
        assert!(
            error.contains("(invalid_body: error decoding response body") && error.contains("status 201 and headers, not its body"),
            "{error}"
        );
        let moved = exchange_raw(server.address, request("/moved").as_bytes()).await;
        assert!(moved.starts_with("HTTP/1.1 303 See Other\r\n") && moved.contains("location: /elsewhere\r\n"), "{moved}");
    });
}
