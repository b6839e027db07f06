//! Secrets a server echoes back, or that travel in forms other than their raw text, never reach
//! a result, a fixture or `-v` output: each case here is one a tester made leak, run against
//! real servers on 127.0.0.1.

use recipe::Clock;
use recipe::run;
use recipe::{Mode, Options, prepare};
use serde_json::json;

use crate::faults::server::{Fault, FaultServer, Reply};
use crate::support::block_on;

/// Has `+`, `/`, a space, `&` and `'`: its `urlencode` and `tojson` forms differ from the
/// other encodings.
const API_KEY: &str = "wJal/K7MD+ENG key&x'9";
const TOKEN: &str = "tok-SUPERSECRET-123";
const PIN: u64 = 87_654_321;

/// Runs `text` (a recipe file in `folder`, so its calls resolve) live and recorded.
fn run_recorded(folder: &std::path::Path, text: &str, base: &str) -> (recipe::RunResult, String) {
    let path = folder.join("main.yaml");
    std::fs::write(&path, text).unwrap();
    let plan = recipe::load(&path).unwrap_or_else(|error| panic!("{error}"));
    let base = base.to_owned();
    block_on(async move {
        let lookup = move |name: &str| match name {
            "BASE_URL" => Some(base.clone()),
            "API_KEY" => Some(API_KEY.to_owned()),
            _ => None,
        };
        let options = Options { clock: Some(Clock::fixed()), ..Options::new(&lookup, Mode::Record) };
        let mut session = prepare(&plan, options).unwrap();
        let result = run(&plan, &session.params, &mut session.transport, &mut |_| {}).await;
        let fixture = session.fixture(None, &result).unwrap();
        let everything = format!("{}\n{}", serde_json::to_string(&result).unwrap(), recipe::hooks::yaml::to_string(&fixture).unwrap());
        (result, everything)
    })
}

fn folder(name: &str) -> std::path::PathBuf {
    let folder = std::env::temp_dir().join(format!("recipe-leaks-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

/// Every text a leak would show: the raw values and the encoded forms these recipes send.
fn assert_no_leak(everything: &str) {
    let urlencoded = "wJal/K7MD%2BENG%20key%26x%279";
    let tojson = "wJal/K7MD+ENG key\\u0026x\\u00279";
    for leak in [API_KEY, urlencoded, tojson, TOKEN, &PIN.to_string()] {
        assert!(!everything.contains(leak), "`{leak}` leaked:\n{everything}");
    }
}

const HEAD: &str = "recipe: 1\nname: t\nenv:\n  BASE_URL: {}\n  API_KEY: { secret: true }\nhttp:\n  base_url: \"{{ env.BASE_URL }}\"\n  retry: { attempts: 1 }\n";

#[test]
fn bound_and_encoded_secrets_stay_masked_and_never_follow_a_redirect_elsewhere() {
    let other = block_on(FaultServer::start(vec![("GET", "/landed", vec![Fault::Respond(Reply::json(200, &json!({})))])]));
    let landed = other.url(&format!("/landed?t={TOKEN}"));
    let server = block_on(FaultServer::start(vec![
        ("POST", "/login", vec![Fault::Respond(Reply::json(200, &json!({"token": TOKEN, "pin": PIN})))]),
        ("GET", "/hop", vec![Fault::Respond(Reply::redirect(302, &landed))]),
        ("GET", "/echo", vec![Fault::Respond(Reply::json(200, &json!({"pin": PIN, "query": "k=wJal/K7MD%2BENG%20key%26x%279"})))]),
        ("POST", "/raw", vec![Fault::Respond(Reply::text(200, "text/plain", "{\"password\": \"wJal/K7MD+ENG key\\u0026x\\u00279\"}"))]),
        ("GET", "/bad", vec![Fault::Respond(Reply::redirect(302, &format!("http://[{TOKEN}")))]),
    ]));
    let text = format!(
        "{HEAD}steps:\n  - id: login\n    request: {{ method: POST, url: /login, idempotent: true }}\n    bind:\n      token: {{ path: $.token, secret: true }}\n      pin: {{ path: $.pin, secret: true }}\n  - id: hop\n    request: {{ method: GET, url: /hop, headers: {{ X-Token: \"{{{{ vars.token }}}}\", X-Plain: visible }} }}\n  - id: echo\n    request: {{ method: GET, url: \"/echo?k={{{{ env.API_KEY | urlencode }}}}\" }}\n  - id: raw\n    request:\n      method: POST\n      url: /raw\n      idempotent: true\n      headers: {{ content-type: application/json }}\n      body: '{{\"password\": {{{{ env.API_KEY | tojson }}}}}}'\n  - id: bad\n    optional: true\n    request: {{ method: GET, url: /bad }}\noutputs:\n  pin: \"{{{{ vars.pin }}}}\"\n  echoed: \"{{{{ steps.echo.body.pin }}}}\"\n"
    );
    let (result, everything) = run_recorded(&folder("redirect"), &text, &server.url(""));
    assert!(result.ok, "{:#?}", result.steps);
    // The redirect to another origin kept the plain header and dropped the one with the token.
    let arrived = other.requests().into_iter().next().expect("the redirect was followed");
    assert!(arrived.headers.iter().any(|(name, value)| name == "x-plain" && value == "visible"), "{:?}", arrived.headers);
    assert!(!arrived.headers.iter().any(|(name, _)| name == "x-token"), "{:?}", arrived.headers);
    // The secrets did go out.
    assert!(server.requests().iter().any(|r| r.target == "/echo?k=wJal/K7MD%2BENG%20key%26x%279"));
    assert_no_leak(&everything);
    assert_eq!(result.outputs.as_ref().unwrap()["pin"], "<vars.pin>");
    assert_eq!(result.outputs.as_ref().unwrap()["echoed"], "<vars.pin>");
}

#[test]
fn a_called_recipes_secrets_and_an_oauth2_token_are_masked_in_the_callers_results() {
    let server = block_on(FaultServer::start(vec![
        ("POST", "/token", vec![Fault::Respond(Reply::json(200, &json!({"access_token": TOKEN, "expires_in": 3600})))]),
        ("POST", "/login", vec![Fault::Respond(Reply::json(200, &json!({"token": TOKEN})))]),
        ("GET", "/me", vec![Fault::Respond(Reply::json(200, &json!({"seen": format!("Bearer {TOKEN}"), "key": API_KEY})))]),
    ]));
    let folder = folder("call");
    // The callee logs in and binds the token as a secret; the caller does not know it.
    let callee = format!(
        "{HEAD}steps:\n  - id: login\n    request: {{ method: POST, url: /login, idempotent: true }}\n    bind:\n      token: {{ path: $.token, secret: true }}\n  - id: me\n    request: {{ method: GET, url: /me, headers: {{ X-Token: \"{{{{ vars.token }}}}\" }} }}\noutputs:\n  seen: \"{{{{ steps.me.body.seen }}}}\"\n"
    );
    std::fs::write(folder.join("login.yaml"), callee).unwrap();
    let caller = "recipe: 1\nname: caller\nenv:\n  BASE_URL: {}\n  API_KEY: {}\nsteps:\n  - id: sub\n    call: { recipe: login.yaml }\noutputs:\n  seen: \"{{ steps.sub.outputs.seen }}\"\n";
    let (result, everything) = run_recorded(&folder, caller, &server.url(""));
    assert!(result.ok, "{:#?}", result.steps);
    assert_no_leak(&everything);
    assert_eq!(result.outputs.as_ref().unwrap()["seen"], "Bearer <vars.token>");

    // An OAuth2 access token a server echoes is masked like any secret.
    let text = format!(
        "{HEAD}  auth:\n    oauth2: {{ token_url: /token, client_id: c, client_secret: \"{{{{ env.API_KEY }}}}\" }}\nsteps:\n  - id: me\n    request: {{ method: GET, url: /me }}\noutputs:\n  seen: \"{{{{ steps.me.body.seen }}}}\"\n"
    );
    let (result, everything) = run_recorded(&folder, &text, &server.url(""));
    assert!(result.ok, "{:#?}", result.steps);
    assert_no_leak(&everything);
    assert_eq!(result.outputs.as_ref().unwrap()["seen"], "Bearer <oauth2>");
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn verbose_output_never_shows_a_secret_the_step_itself_binds() {
    let server = block_on(FaultServer::start(vec![("POST", "/login", vec![Fault::Respond(Reply::json(200, &json!({"token": TOKEN})))])]));
    let folder = folder("verbose");
    let path = folder.join("login.yaml");
    let text = format!(
        "{HEAD}steps:\n  - id: login\n    request: {{ method: POST, url: /login, idempotent: true }}\n    bind:\n      token: {{ path: $.token, secret: true }}\n"
    );
    std::fs::write(&path, text).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_recipe"))
        .args(["-vv", "run"])
        .arg(&path)
        .env("BASE_URL", server.url(""))
        .env("API_KEY", API_KEY)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("<vars.token>"), "the response is shown, masked:\n{stderr}");
    assert!(!stderr.contains(TOKEN), "{stderr}");
    std::fs::remove_dir_all(&folder).unwrap();
}
