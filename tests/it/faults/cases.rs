//! One test per fault: `tests/data/faults.yaml` (a `GET /lookup`, then a `POST /draft`) runs
//! through the live reqwest transport against the fault server on 127.0.0.1, with a virtual
//! clock. Each test asserts the error kind and message, the number of attempts, the retry waits
//! (from the virtual clock), and, from the server's own counter, that the POST arrived at most
//! once unless the server said it had not processed it.

use std::time::Duration;

use recipe::Clock;
use recipe::FailureKind;
use recipe::{Cause, Effect, RunResult, Status, StepResult, run};
use recipe::{Mode, Options, prepare};
use serde_json::json;

use super::server::{Fault, FaultServer, Reply};
use crate::support::{block_on, root};

const SECRET: &str = "fault-test-secret-7f3a9c";

struct Outcome {
    result: RunResult,
    waits: Vec<Duration>,
    /// Progress lines, retries included.
    lines: Vec<String>,
}

impl Outcome {
    fn step(&self, id: &str) -> &StepResult {
        self.result.steps.iter().find(|s| s.id == id).unwrap_or_else(|| panic!("no step `{id}` in {:#?}", self.result.steps))
    }

    fn reason(&self, id: &str) -> &str {
        self.step(id).reason.as_deref().unwrap_or_default()
    }
}

fn ok_lookup() -> Fault {
    Fault::Respond(Reply::json(200, &json!({"found": true})))
}

fn created() -> Fault {
    Fault::Respond(Reply::json(201, &json!({"id": "d-1"})))
}

fn ms(values: &[u64]) -> Vec<Duration> {
    values.iter().map(|v| Duration::from_millis(*v)).collect()
}

/// Runs the fault recipe against `base` (the server's URL, or any other).
async fn run_against(base: String) -> Outcome {
    run_plan(&crate::support::plan(&root().join("tests/data/faults.yaml")), base).await
}

async fn run_plan(plan: &recipe::Plan, base: String) -> Outcome {
    let lookup = move |name: &str| match name {
        "BASE_URL" => Some(base.clone()),
        "API_KEY" => Some(SECRET.to_owned()),
        _ => None,
    };
    let clock = Clock::fixed();
    let options = Options { clock: Some(clock.clone()), ..Options::new(&lookup, Mode::Live) };
    let mut session = prepare(plan, options).expect("the environment resolves");
    let mut lines = Vec::new();
    let result = run(plan, &session.params, &mut session.transport, &mut |event| lines.extend(recipe::hooks::event(event, 12))).await;
    let everything = format!("{}\n{}", serde_json::to_string(&result).unwrap(), lines.join("\n"));
    assert!(!everything.contains(SECRET), "the secret leaked:\n{everything}");
    Outcome { result, waits: clock.sleeps(), lines }
}

/// Serves `lookup` and `draft` scripts and runs the recipe; returns the outcome and the server.
fn with_faults(lookup: Vec<Fault>, draft: Vec<Fault>) -> (Outcome, FaultServer) {
    block_on(async {
        let server = FaultServer::start(vec![("GET", "/lookup", lookup), ("POST", "/draft", draft)]).await;
        let outcome = run_against(server.url("")).await;
        (outcome, server)
    })
}

fn assert_failed(step: &StepResult, cause: FailureKind, attempts: usize) {
    assert_eq!(step.status, Status::Failed, "{step:#?}");
    assert_eq!(step.cause, Some(Cause::Transport(cause)), "{step:#?}");
    assert_eq!(step.attempts.len(), attempts, "{step:#?}");
}

#[test]
fn refused_connections_are_retried_then_fail_as_connect_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let outcome = block_on(run_against(format!("http://127.0.0.1:{port}")));
    assert_failed(outcome.step("lookup"), FailureKind::ConnectRefused, 3);
    assert_eq!(outcome.waits, ms(&[100, 200]));
    assert!(
        outcome.reason("lookup").starts_with(&format!("cannot connect to http://127.0.0.1:{port}/lookup")),
        "{}",
        outcome.reason("lookup")
    );
    assert!(outcome.reason("lookup").ends_with("gave up after 3 attempts (`retry.attempts`)"));
    assert_eq!(outcome.lines.iter().filter(|l| l.contains("retrying in")).count(), 2, "{:#?}", outcome.lines);
}

#[test]
fn a_reset_before_the_body_was_read_on_a_get_is_retried() {
    let (outcome, server) = with_faults(vec![Fault::RefuseAfterAccept, ok_lookup()], vec![created()]);
    assert_eq!(outcome.step("lookup").status, Status::Ok, "{:#?}", outcome.result.steps);
    assert_eq!(outcome.step("lookup").attempts.len(), 2);
    assert_eq!(outcome.step("lookup").attempts[0].failure.as_ref().unwrap().kind, FailureKind::ResetAfterWrite);
    assert_eq!(outcome.waits, ms(&[100]));
    assert!(outcome.result.ok);
    assert_eq!(server.count("POST", "/draft"), 1);
}

#[test]
fn a_reset_on_the_post_is_in_doubt_and_never_sent_again() {
    // The server read the request head, then reset: the client cannot know whether it was
    // processed, so the POST is reported as possibly created and not retried.
    let (outcome, server) = with_faults(vec![ok_lookup()], vec![Fault::RefuseAfterAccept, created()]);
    let draft = outcome.step("draft");
    assert_failed(draft, FailureKind::ResetAfterWrite, 1);
    assert_eq!(draft.effect, Some(Effect::InDoubt));
    assert!(draft.reason.as_deref().unwrap().starts_with("the POST may have been created; check before running again"), "{draft:#?}");
    assert!(draft.reason.as_deref().unwrap().contains("not retried"), "{draft:#?}");
    assert_eq!(outcome.waits, Vec::<Duration>::new());
    assert_eq!(server.count("POST", "/draft"), 0);
    assert_eq!(outcome.result.worst_effect(), Some(Effect::InDoubt));
}

#[test]
fn a_reset_after_the_request_on_the_post_is_in_doubt() {
    let (outcome, server) = with_faults(vec![ok_lookup()], vec![Fault::ResetAfterRequest, created()]);
    let draft = outcome.step("draft");
    assert_failed(draft, FailureKind::ResetAfterWrite, 1);
    assert_eq!(draft.effect, Some(Effect::InDoubt));
    assert!(outcome.lines.last().unwrap().starts_with("IN DOUBT draft"), "{:#?}", outcome.lines);
    assert_eq!(server.count("POST", "/draft"), 1);
}

#[test]
fn a_reset_after_the_request_on_a_get_is_retried() {
    let (outcome, server) = with_faults(vec![Fault::ResetAfterRequest, Fault::ResetAfterRequest, ok_lookup()], vec![created()]);
    assert_eq!(outcome.step("lookup").status, Status::Ok);
    assert_eq!(outcome.step("lookup").attempts.len(), 3);
    assert_eq!(outcome.waits, ms(&[100, 200]));
    assert_eq!(server.count("GET", "/lookup"), 3);
    assert_eq!(server.count("POST", "/draft"), 1);
    assert_eq!(outcome.result.outputs.as_ref().unwrap()["draft_id"], "d-1");
}

#[test]
fn a_stall_times_out_and_is_retried_on_a_get() {
    let (outcome, server) = with_faults(vec![Fault::Stall], vec![created()]);
    assert_failed(outcome.step("lookup"), FailureKind::ResponseTimeout, 3);
    assert!(outcome.reason("lookup").starts_with(&format!("no response from {} within 300ms", server.url("/lookup"))));
    assert_eq!(outcome.waits, ms(&[100, 200]));
    assert_eq!(server.count("GET", "/lookup"), 3);
    assert_eq!(server.count("POST", "/draft"), 0);
}

#[test]
fn a_stall_on_the_post_is_in_doubt_and_not_retried() {
    let (outcome, server) = with_faults(vec![ok_lookup()], vec![Fault::Stall]);
    let draft = outcome.step("draft");
    assert_failed(draft, FailureKind::ResponseTimeout, 1);
    assert_eq!(draft.effect, Some(Effect::InDoubt));
    assert_eq!(server.count("POST", "/draft"), 1);
}

#[test]
fn headers_then_a_stall_time_out_with_the_status() {
    let (outcome, _server) = with_faults(vec![Fault::HeadersThenStall(Reply::json(200, &json!({"found": true})))], vec![created()]);
    assert_failed(outcome.step("lookup"), FailureKind::ResponseTimeout, 3);
    assert!(outcome.reason("lookup").contains("answered 200 but its body did not arrive within 300ms"), "{}", outcome.reason("lookup"));
}

#[test]
fn a_slow_drip_times_out() {
    let drip =
        Fault::Drip { reply: Reply::json(200, &json!({"found": true, "padding": "x".repeat(40)})), every: Duration::from_millis(50) };
    let (outcome, _server) = with_faults(vec![drip], vec![created()]);
    assert_failed(outcome.step("lookup"), FailureKind::ResponseTimeout, 3);
}

#[test]
fn a_truncated_body_is_invalid_and_not_retried_by_default() {
    let (outcome, server) =
        with_faults(vec![Fault::Truncated(Reply::json(200, &json!({"found": true, "padding": "yyyyyyyy"})))], vec![created()]);
    assert_failed(outcome.step("lookup"), FailureKind::InvalidBody, 1);
    assert!(outcome.reason("lookup").contains("was cut short"), "{}", outcome.reason("lookup"));
    assert_eq!(outcome.step("lookup").response.as_ref().unwrap().status, 200);
    assert_eq!(server.count("GET", "/lookup"), 1);
}

#[test]
fn invalid_utf8_is_an_invalid_body() {
    let reply =
        Reply { status: 200, headers: vec![("content-type".into(), "text/plain".into())], body: vec![b'o', b'k', 0xff, 0xfe, b'!'] };
    let (outcome, _server) = with_faults(vec![Fault::Respond(reply)], vec![created()]);
    assert_failed(outcome.step("lookup"), FailureKind::InvalidBody, 1);
    assert!(outcome.reason("lookup").contains("neither JSON nor UTF-8 text: invalid byte at offset 2"), "{}", outcome.reason("lookup"));
}

#[test]
fn an_oversized_body_is_refused_and_not_kept() {
    let (outcome, _server) = with_faults(vec![Fault::Respond(Reply::big(200, 3 * 1024 * 1024))], vec![created()]);
    let lookup = outcome.step("lookup");
    assert_failed(lookup, FailureKind::BodyTooLarge, 1);
    assert!(lookup.reason.as_deref().unwrap().contains("is larger than `http.max_body` (1 MiB)"), "{lookup:#?}");
    assert!(lookup.response.as_ref().unwrap().body.is_none());
    assert!(serde_json::to_string(&outcome.result).unwrap().len() < 10_000);
}

#[test]
fn a_500_fails_at_once() {
    let (outcome, server) = with_faults(vec![Fault::Respond(Reply::json(500, &json!({"message": "boom"})))], vec![created()]);
    let lookup = outcome.step("lookup");
    assert_eq!(lookup.cause, Some(Cause::Status));
    assert_eq!(lookup.attempts.len(), 1);
    assert_eq!(server.count("GET", "/lookup"), 1);
}

#[test]
fn a_502_and_a_504_on_a_get_are_retried() {
    let faults = vec![Fault::Respond(Reply::json(502, &json!({}))), Fault::Respond(Reply::json(504, &json!({}))), ok_lookup()];
    let (outcome, _server) = with_faults(faults, vec![created()]);
    assert_eq!(outcome.step("lookup").status, Status::Ok);
    let statuses: Vec<u16> = outcome.step("lookup").attempts.iter().map(|a| a.response.as_ref().unwrap().status).collect();
    assert_eq!(statuses, vec![502, 504, 200]);
    assert_eq!(outcome.waits, ms(&[100, 200]));
    assert!(outcome.lines.iter().any(|l| l.trim() == "lookup: attempt 1: status 502; retrying in 100ms"), "{:#?}", outcome.lines);
}

#[test]
fn a_502_and_a_503_without_retry_after_on_the_post_are_not_retried() {
    for status in [502, 503] {
        let (outcome, server) = with_faults(vec![ok_lookup()], vec![Fault::Respond(Reply::json(status, &json!({}))), created()]);
        let draft = outcome.step("draft");
        assert_eq!(draft.cause, Some(Cause::Status));
        assert_eq!(draft.attempts.len(), 1);
        assert!(draft.reason.as_deref().unwrap().contains("not retried: the POST may have taken effect"), "{draft:#?}");
        // The message says it may have taken effect, and so does the result: in doubt (exit 5).
        assert_eq!(draft.effect, Some(Effect::InDoubt), "{draft:#?}");
        assert!(draft.reason.as_deref().unwrap().starts_with("the POST may have been created; check before running again"), "{draft:#?}");
        assert_eq!(server.count("POST", "/draft"), 1);
    }
}

#[test]
fn a_500_or_504_on_the_post_is_in_doubt_and_a_4xx_or_501_is_not() {
    for (status, in_doubt) in [(500, true), (504, true), (507, true), (400, false), (409, false), (422, false), (501, false)] {
        let (outcome, server) =
            with_faults(vec![ok_lookup()], vec![Fault::Respond(Reply::json(status, &json!({"error": "x"}))), created()]);
        let draft = outcome.step("draft");
        assert_eq!((draft.status, draft.cause), (Status::Failed, Some(Cause::Status)), "{status}: {draft:#?}");
        assert_eq!(draft.effect, if in_doubt { Some(Effect::InDoubt) } else { None }, "{status}: {draft:#?}");
        assert_eq!(draft.reason.as_deref().unwrap().contains("may have been created"), in_doubt, "{status}: {draft:#?}");
        assert_eq!(outcome.result.worst_effect(), draft.effect, "{status}");
        assert_eq!(server.count("POST", "/draft"), 1, "{status}: sent once");
    }
    // A GET answered 500 is a plain failure: nothing was created.
    let (outcome, _server) = with_faults(vec![Fault::Respond(Reply::json(500, &json!({})))], vec![created()]);
    assert_eq!(outcome.step("lookup").effect, None);
    assert_eq!(outcome.result.worst_effect(), None);
}

#[test]
fn a_503_with_retry_after_on_the_post_is_retried_after_that_wait() {
    let busy = Fault::Respond(Reply::json(503, &json!({})).header("retry-after", "1"));
    let (outcome, server) = with_faults(vec![ok_lookup()], vec![busy, created()]);
    assert!(outcome.result.ok, "{:#?}", outcome.result);
    assert_eq!(outcome.step("draft").attempts.len(), 2);
    assert_eq!(outcome.waits, ms(&[1000]));
    // The server said it did not process the first one.
    assert_eq!(server.count("POST", "/draft"), 2);
    assert_eq!(outcome.step("draft").effect, Some(Effect::Created));
}

#[test]
fn a_429_waits_for_retry_after_in_seconds() {
    let limited = Fault::Respond(Reply::json(429, &json!({})).header("retry-after", "2"));
    let (outcome, _server) = with_faults(vec![limited, ok_lookup()], vec![created()]);
    assert!(outcome.result.ok);
    assert_eq!(outcome.waits, ms(&[2000]));
    assert!(
        outcome.lines.iter().any(|l| l.trim() == "lookup: attempt 1: status 429; retrying in 2s (Retry-After)"),
        "{:#?}",
        outcome.lines
    );
}

#[test]
fn a_429_waits_for_retry_after_as_a_date() {
    let limited = Fault::Respond(
        Reply::json(429, &json!({})).header("date", "Wed, 21 Oct 2026 07:28:00 GMT").header("retry-after", "Wed, 21 Oct 2026 07:28:03 GMT"),
    );
    let (outcome, _server) = with_faults(vec![limited, ok_lookup()], vec![created()]);
    assert!(outcome.result.ok);
    assert_eq!(outcome.waits, ms(&[3000]));
}

#[test]
fn a_retry_after_longer_than_max_delay_fails_and_says_so() {
    let limited = Fault::Respond(Reply::json(429, &json!({})).header("retry-after", "120"));
    let (outcome, _server) = with_faults(vec![limited], vec![created()]);
    assert_eq!(outcome.step("lookup").attempts.len(), 1);
    assert!(outcome.reason("lookup").contains("the server asked to wait 120s (`Retry-After`), longer than `retry.max_delay` (5s)"));
    assert!(outcome.waits.is_empty());
}

#[test]
fn a_307_loop_on_the_post_is_not_followed() {
    let (outcome, server) = with_faults(vec![ok_lookup()], vec![Fault::Respond(Reply::redirect(307, "/draft"))]);
    let draft = outcome.step("draft");
    assert_failed(draft, FailureKind::RedirectRefused, 1);
    assert!(draft.reason.as_deref().unwrap().contains(&format!("a redirect to {}", server.url("/draft"))), "{draft:#?}");
    assert_eq!(server.count("POST", "/draft"), 1);
}

#[test]
fn redirects_of_a_get_to_another_origin_drop_credentials() {
    for status in [301, 307, 308] {
        block_on(async {
            let other = FaultServer::start(vec![("GET", "/moved", vec![ok_lookup()])]).await;
            let server = FaultServer::start(vec![
                ("GET", "/lookup", vec![Fault::Respond(Reply::redirect(status, &other.url("/moved")))]),
                ("POST", "/draft", vec![created()]),
            ])
            .await;
            let outcome = run_against(server.url("")).await;
            assert!(outcome.result.ok, "{:#?}", outcome.result);
            let hops = &outcome.step("lookup").attempts[0].redirects;
            assert_eq!(hops.len(), 1);
            assert_eq!(hops[0].location, other.url("/moved"));
            assert!(outcome.lines[0].contains(&format!("redirected: {status} -> {}", other.url("/moved"))), "{:#?}", outcome.lines);
            let received = other.requests();
            assert_eq!(received.len(), 1);
            let names: Vec<&str> = received[0].headers.iter().map(|(name, _)| name.as_str()).collect();
            for dropped in ["authorization", "x-api-key", "referer"] {
                assert!(!names.contains(&dropped), "{status}: `{dropped}` went to the other origin: {names:?}");
            }
            assert!(!format!("{received:?}").contains(SECRET));
            // The same origin still got the credentials.
            assert!(server.requests()[0].headers.iter().any(|(name, _)| name == "x-api-key"));
        });
    }
}

#[test]
fn redirects_of_the_post_to_another_origin_are_refused() {
    for status in [301, 302, 303, 307, 308] {
        block_on(async {
            let other = FaultServer::start(vec![("POST", "/draft", vec![created()]), ("GET", "/draft", vec![created()])]).await;
            let server = FaultServer::start(vec![
                ("GET", "/lookup", vec![ok_lookup()]),
                ("POST", "/draft", vec![Fault::Respond(Reply::redirect(status, &other.url("/draft")))]),
            ])
            .await;
            let outcome = run_against(server.url("")).await;
            let draft = outcome.step("draft");
            assert_failed(draft, FailureKind::RedirectRefused, 1);
            let reason = draft.reason.as_deref().unwrap();
            // A 303 See Other says the POST was processed: the draft may exist.
            let reason = if status == 303 {
                reason.strip_prefix("the POST may have been created; check before running again\n").expect(reason)
            } else {
                reason
            };
            assert!(reason.starts_with(&format!("POST {} was answered with {status}", server.url("/draft"))), "{reason}");
            assert_eq!(other.requests().len(), 0, "{status}: the other origin was called");
            assert_eq!(server.count("POST", "/draft"), 1);
            assert!(outcome.lines.last().unwrap().contains(&format!("POST {} -> {status}", server.url("/draft"))), "{:#?}", outcome.lines);
        });
    }
}

#[test]
fn html_with_200_is_not_json() {
    let page = Fault::Respond(Reply::text(200, "text/html", "<!DOCTYPE html>\n<html><body>Sign in</body></html>"));
    let (outcome, _server) = with_faults(vec![page], vec![created()]);
    assert_eq!(outcome.step("lookup").cause, Some(Cause::NotJson));
    assert!(outcome.reason("lookup").contains("<!DOCTYPE html>"));
}

#[test]
fn an_empty_200_on_the_post_keeps_what_was_created() {
    let empty = Fault::Respond(Reply { status: 200, headers: Vec::new(), body: Vec::new() });
    let (outcome, server) = with_faults(vec![ok_lookup()], vec![empty]);
    assert!(!outcome.result.ok);
    assert_eq!(outcome.step("draft").status, Status::Ok);
    assert_eq!(outcome.step("draft").effect, Some(Effect::Created));
    assert!(outcome.result.error.as_deref().unwrap().contains("cannot render output `draft_id`"), "{:?}", outcome.result.error);
    assert_eq!(outcome.result.side_effects.len(), 1);
    assert_eq!(outcome.result.worst_effect(), Some(Effect::Created));
    assert_eq!(server.count("POST", "/draft"), 1);
}

#[test]
fn a_gzip_body_is_decoded() {
    let (outcome, _server) = with_faults(vec![Fault::Respond(Reply::json(200, &json!({"found": "zipped"})).gzip())], vec![created()]);
    assert!(outcome.result.ok, "{:#?}", outcome.result);
    let body = outcome.step("lookup").response.as_ref().unwrap().body.clone();
    assert_eq!(serde_json::to_value(body).unwrap(), json!({"json": {"found": "zipped"}}));
}

#[test]
fn a_reset_before_the_request_is_written_lets_even_a_post_be_retried() {
    // A listener on the test's own runtime that resets the first two connections as soon as it
    // accepts them: hyper has not started writing, so the POST certainly never arrived.
    let text = std::fs::read_to_string(root().join("tests/data/faults.yaml")).unwrap();
    let text = text.replace("  - id: lookup\n    request: { method: GET, url: /lookup }\n", "");
    let plan = recipe::load_str("faults-post-only.yaml", &text).unwrap_or_else(|report| panic!("{report}"));
    let (outcome, served) = block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&served);
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            for connection in 0..3 {
                let (mut stream, _) = listener.accept().await.unwrap();
                if connection < 2 {
                    stream.set_zero_linger().unwrap();
                    continue;
                }
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !String::from_utf8_lossy(&request).contains("1HGCM82633A004352") {
                    let read = stream.read(&mut buffer).await.unwrap();
                    assert!(read > 0, "the client closed before sending its body");
                    request.extend_from_slice(&buffer[..read]);
                }
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let body = r#"{"id":"d-1"}"#;
                let response =
                    format!("HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}", body.len());
                stream.write_all(response.as_bytes()).await.unwrap();
            }
        });
        let outcome = run_plan(&plan, format!("http://{address}")).await;
        server.abort();
        (outcome, served.load(std::sync::atomic::Ordering::SeqCst))
    });
    let draft = outcome.step("draft");
    assert!(outcome.result.ok, "{:#?}", outcome.result);
    let kinds: Vec<Option<FailureKind>> = draft.attempts.iter().map(|a| a.failure.as_ref().map(|f| f.kind)).collect();
    assert_eq!(kinds, vec![Some(FailureKind::ResetBeforeWrite), Some(FailureKind::ResetBeforeWrite), None]);
    assert_eq!(outcome.waits, ms(&[100, 200]));
    assert_eq!(served, 1, "the POST arrived once");
    assert_eq!(draft.effect, Some(Effect::Created));
}

/// The fault recipe with `extra` under the lookup request.
fn plan_with_lookup(extra: &str) -> recipe::Plan {
    let text = std::fs::read_to_string(root().join("tests/data/faults.yaml")).unwrap();
    let text = text.replace(
        "  - id: lookup\n    request: { method: GET, url: /lookup }\n",
        &format!("  - id: lookup\n    request:\n      method: GET\n      url: /lookup\n{extra}"),
    );
    recipe::load_str("faults-variant.yaml", &text).unwrap_or_else(|report| panic!("{report}"))
}

#[test]
fn until_polls_while_the_condition_is_false() {
    let plan = plan_with_lookup("      retry: { attempts: 5, until: \"{{ response.body.state == 'done' }}\" }\n");
    let pending = || Fault::Respond(Reply::json(200, &json!({"state": "pending"})));
    let done = Fault::Respond(Reply::json(200, &json!({"state": "done"})));
    let (outcome, server) = block_on(async {
        let server =
            FaultServer::start(vec![("GET", "/lookup", vec![pending(), pending(), done]), ("POST", "/draft", vec![created()])]).await;
        (run_plan(&plan, server.url("")).await, server)
    });
    assert!(outcome.result.ok, "{:#?}", outcome.result);
    assert_eq!(outcome.step("lookup").attempts.len(), 3);
    assert_eq!(outcome.waits, ms(&[100, 200]));
    assert!(outcome.lines.iter().any(|l| l.trim() == "lookup: attempt 1: `until` is false; retrying in 100ms"), "{:#?}", outcome.lines);
    assert_eq!(server.count("GET", "/lookup"), 3);

    let (outcome, _server) = block_on(async {
        let server = FaultServer::start(vec![("GET", "/lookup", vec![pending()]), ("POST", "/draft", vec![created()])]).await;
        (run_plan(&plan, server.url("")).await, server)
    });
    let lookup = outcome.step("lookup");
    assert_eq!(lookup.cause, Some(Cause::Until));
    assert_eq!(lookup.attempts.len(), 5);
    assert!(lookup.reason.as_deref().unwrap().starts_with("`retry.until` is still false after the last attempt"), "{lookup:#?}");
}

#[test]
fn max_time_cuts_the_run_short() {
    let plan = crate::support::plan(&root().join("tests/data/faults.yaml"));
    let started = std::time::Instant::now();
    let outcome = block_on(async {
        let server = FaultServer::start(vec![("GET", "/lookup", vec![Fault::Stall]), ("POST", "/draft", vec![created()])]).await;
        let base = server.url("");
        let lookup = move |name: &str| match name {
            "BASE_URL" => Some(base.clone()),
            "API_KEY" => Some(SECRET.to_owned()),
            _ => None,
        };
        let options =
            Options { max_time: Some(Duration::from_millis(450)), clock: Some(Clock::real()), ..Options::new(&lookup, Mode::Live) };
        let mut session = prepare(&plan, options).unwrap();
        run(&plan, &session.params, &mut session.transport, &mut |_| {}).await
    });
    let lookup = &outcome.steps[0];
    assert_eq!(lookup.cause, Some(Cause::Transport(FailureKind::ResponseTimeout)), "{lookup:#?}");
    // 300ms, a 100ms wait, then the second attempt gets only what is left.
    assert_eq!(lookup.attempts.len(), 2, "{lookup:#?}");
    let reason = lookup.reason.as_deref().unwrap();
    assert!(reason.contains("cut the request timeout short"), "{reason}");
    assert!(reason.contains("the run's time limit (`--max-time`) leaves no time"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn an_html_page_in_answer_to_the_post_is_in_doubt_not_created() {
    // A 200 with a login or proxy page, where the API speaks JSON: something other than the API
    // may have answered, or the API may have processed the draft. Neither is known.
    let page = Reply::text(200, "text/html; charset=utf-8", "<!DOCTYPE html><html><body>Sign in</body></html>");
    let (outcome, server) = with_faults(vec![ok_lookup()], vec![Fault::Respond(page)]);
    let draft = outcome.step("draft");
    assert_eq!((draft.status, draft.cause), (Status::Failed, Some(Cause::NotJson)), "{draft:#?}");
    assert_eq!(draft.effect, Some(Effect::InDoubt));
    let reason = draft.reason.as_deref().unwrap();
    assert!(reason.starts_with("the POST may have been created; check before running again"), "{reason}");
    assert!(reason.contains("expected a JSON response (status 200)") && reason.contains("text/html"), "{reason}");
    assert_eq!(outcome.result.worst_effect(), Some(Effect::InDoubt));
    assert_eq!(server.count("POST", "/draft"), 1, "sent once, never again");

    // When the step says its answer is not JSON, a text answer is what it expects: created.
    let text = std::fs::read_to_string(root().join("tests/data/faults.yaml"))
        .unwrap()
        .replace("json: { vin: 1HGCM82633A004352 } }", "json: { vin: 1HGCM82633A004352 } }\n    expect: { json: false }");
    let plan = recipe::load_str("faults.yaml", &text).unwrap_or_else(|report| panic!("{report}"));
    let outcome = block_on(async {
        let page = Reply::text(200, "text/plain", "created d-1");
        let server = FaultServer::start(vec![("GET", "/lookup", vec![ok_lookup()]), ("POST", "/draft", vec![Fault::Respond(page)])]).await;
        run_plan(&plan, server.url("")).await
    });
    assert_eq!(outcome.step("draft").effect, Some(Effect::Created), "{:#?}", outcome.step("draft"));
}
