//! The seams the run factory closed: what a run, a called recipe and a redirect share, tested
//! against a real HTTP server on 127.0.0.1.

use std::path::PathBuf;

use recipe::run;
use recipe::{Mode, Options, prepare};
use serde_json::json;

use crate::faults::server::{Fault, FaultServer, Reply};
use crate::support::block_on;

/// The run's future can move between threads: a multi-threaded runtime may run it.
#[test]
fn the_run_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let plan = recipe::load_str("send.yaml", "recipe: 1\nname: t\nsteps:\n  - id: a\n    set: { x: 1 }\n").unwrap();
    let mut session = prepare(&plan, Options::new(&|_| None, Mode::Offline)).unwrap();
    let mut quiet = |_: recipe::Event| {};
    let future = run(&plan, &session.params, &mut session.transport, &mut quiet);
    assert_send(&future);
    let result = block_on(future);
    assert!(result.ok);
}

/// Records the recipe `file` of `folder` live against `base`, then replays it exactly.
fn record_and_replay(folder: &std::path::Path, file: &str, base: &str) -> (recipe::RunResult, recipe::Fixture, recipe::RunResult) {
    crate::support::record_and_replay(&folder.join(file), base)
}

fn folder(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("recipe-seams-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    for (file, text) in files {
        std::fs::write(folder.join(file), text).unwrap();
    }
    folder
}

const LOGIN: &str = "recipe: 1\nname: login\nenv:\n  BASE_URL: {}\nhttp:\n  base_url: \"{{ env.BASE_URL }}\"\n  cookies: true\nsteps:\n  - id: login\n    request: { method: GET, url: /login }\n  - id: profile\n    request: { method: GET, url: /profile }\n    bind: { name: $.name }\noutputs:\n  name: \"{{ vars.name }}\"\n";

/// A login answered by a 302 that sets the session cookie: the next hop and every later request
/// send it, live and under replay (before the factory, the cookie of a redirect hop was lost).
#[test]
fn a_cookie_set_on_a_redirect_hop_is_kept_for_the_next_hop_and_later_requests() {
    let server = block_on(FaultServer::start(vec![
        ("GET", "/login", vec![Fault::Respond(Reply::redirect(302, "/home").header("set-cookie", "sid=s3ss10n; Path=/; HttpOnly"))]),
        ("GET", "/home", vec![Fault::Respond(Reply::json(200, &json!({"home": true})).header("set-cookie", "theme=dark"))]),
        ("GET", "/profile", vec![Fault::Respond(Reply::json(200, &json!({"name": "Ada"})))]),
    ]));
    let folder = folder("cookies", &[("login.yaml", LOGIN)]);
    let (result, fixture, replayed) = record_and_replay(&folder, "login.yaml", &server.url(""));
    assert!(result.ok, "{:#?}", result.steps);
    let cookie = |path: &str| -> Vec<String> {
        server
            .requests()
            .iter()
            .filter(|request| request.target == path)
            .flat_map(|request| request.headers.iter().filter(|(name, _)| name == "cookie").map(|(_, value)| value.clone()))
            .collect()
    };
    assert_eq!(cookie("/login"), Vec::<String>::new(), "nothing to send yet");
    assert_eq!(cookie("/home"), vec!["sid=s3ss10n".to_owned()], "the hop after the 302 sends the cookie it set");
    assert_eq!(cookie("/profile"), vec!["sid=s3ss10n; theme=dark".to_owned()], "later requests send every cookie");
    // The fixture keeps the cookies' names, never their values, and the replay's jar sends them.
    assert_eq!(fixture.exchanges[0].redirects[0].set_cookie.as_deref(), Some("sid=<redacted>"));
    assert_eq!(fixture.exchanges[1].request.headers.get("cookie").map(String::as_str), Some("sid=<redacted>; theme=<redacted>"));
    assert!(replayed.ok, "the replay sends the same cookies: {:#?}", replayed.steps);
    std::fs::remove_dir_all(&folder).unwrap();
}

const CALLER: &str = "recipe: 1\nname: caller\nenv:\n  BASE_URL: {}\nhttp:\n  base_url: \"{{ env.BASE_URL }}\"\nsteps:\n  - id: token\n    call: { recipe: callee.yaml }\n  - id: order\n    request: { method: GET, url: /order }\n";

const CALLEE: &str = "recipe: 1\nname: callee\nenv:\n  BASE_URL: {}\nhttp:\n  base_url: \"{{ env.BASE_URL }}\"\nrecording:\n  redact: [$.card]\n  volatile: [$.requestId]\n  headers: [x-trace]\nsteps:\n  - id: fetch\n    request: { method: GET, url: /token }\n";

/// A called recipe's own `recording` settings apply to its requests (before the factory, the
/// caller's settings were used and the callee's card number was written to the fixture).
#[test]
fn a_called_recipes_recording_settings_apply_to_its_own_requests() {
    let server = block_on(FaultServer::start(vec![
        (
            "GET",
            "/token",
            vec![Fault::Respond(
                Reply::json(200, &json!({"card": "4111111111111111", "requestId": "r-77", "ok": 1})).header("x-trace", "t-1"),
            )],
        ),
        ("GET", "/order", vec![Fault::Respond(Reply::json(200, &json!({"card": "kept", "requestId": "r-78"})).header("x-trace", "t-2"))]),
    ]));
    let folder = folder("recording", &[("caller.yaml", CALLER), ("callee.yaml", CALLEE)]);
    let (result, fixture, replayed) = record_and_replay(&folder, "caller.yaml", &server.url(""));
    assert!(result.ok, "{:#?}", result.steps);
    let called = &fixture.exchanges[0];
    assert_eq!(called.step, "token.fetch");
    let body = serde_json::to_value(&called.response.as_ref().unwrap().body).unwrap();
    assert_eq!(body, json!({"json": {"card": "<redacted>", "requestId": "<volatile:1>", "ok": 1}}), "the callee's redact and volatile");
    assert!(called.response.as_ref().unwrap().headers.contains_key("x-trace"), "the callee's recording.headers");
    let own = &fixture.exchanges[1];
    let body = serde_json::to_value(&own.response.as_ref().unwrap().body).unwrap();
    assert_eq!(body, json!({"json": {"card": "kept", "requestId": "r-78"}}), "the caller's own (empty) settings apply to its requests");
    assert!(!own.response.as_ref().unwrap().headers.contains_key("x-trace"));
    assert!(replayed.ok, "{:#?}", replayed.steps);
    std::fs::remove_dir_all(&folder).unwrap();
}
