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

/// Every ASCII letter's case flipped on every other character.
fn mixed_case(text: &str) -> String {
    text.chars().enumerate().map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect()
}

/// Standard base64, padded.
fn base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let group = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4 {
            out.push(if i <= chunk.len() { char::from(ALPHABET[((group >> (18 - 6 * i)) & 0x3F) as usize]) } else { '=' });
        }
    }
    out
}

#[test]
fn secrets_echoed_in_upper_lower_or_mixed_case_are_masked_in_every_output() {
    const KEY: &str = "Sweep-Key-7f3a91/q";
    const BOUND: &str = "tok-Sweep-55e1c0x";
    let echoes = |secret: &str| {
        let encoded = format!("{}|{}", base64(secret), secret.replace('/', "%2F"));
        [secret.to_ascii_uppercase(), secret.to_ascii_lowercase(), mixed_case(secret), encoded.to_ascii_uppercase(), mixed_case(&encoded)]
    };
    let mut body = serde_json::Map::new();
    for (name, secret) in [("key", KEY), ("token", BOUND)] {
        for (i, echo) in echoes(secret).into_iter().enumerate() {
            body.insert(format!("{name}{i}"), json!(echo));
        }
    }
    let echo = Reply::json(200, &serde_json::Value::Object(body))
        .header("x-echo", &KEY.to_ascii_uppercase())
        .header("x-token-echo", &mixed_case(BOUND));
    let server = block_on(FaultServer::start(vec![
        ("POST", "/login", vec![Fault::Respond(Reply::json(200, &json!({"token": BOUND})))]),
        ("GET", "/echo", vec![Fault::Respond(echo)]),
    ]));
    let folder = folder("case");
    let recipe = folder.join("sweep.yaml");
    std::fs::write(
        &recipe,
        format!(
            "{HEAD}steps:\n  - id: login\n    request: {{ method: POST, url: /login, idempotent: true, headers: {{ X-Api-Key: \"{{{{ env.API_KEY }}}}\" }} }}\n    bind:\n      token: {{ path: $.token, secret: true }}\n  - id: echo\n    request: {{ method: GET, url: /echo, headers: {{ X-Token: \"{{{{ vars.token }}}}\" }} }}\n    expect: {{ status: 500 }}\noutputs:\n  shout: \"{{{{ steps.echo.body.key0 }}}}\"\n"
        ),
    )
    .unwrap();
    let fixture = folder.join("sweep.fixture.json");
    let report = folder.join("report.json");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_recipe"))
        .arg("run")
        .arg(&recipe)
        .args(["-vv", "--record", fixture.to_str().unwrap(), "--report", "json", "--report-file", report.to_str().unwrap()])
        .current_dir(&folder)
        .env("BASE_URL", server.url(""))
        .env("API_KEY", KEY)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // The echo step fails (it expects 500), so the failure message shows the body too.
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let mut everything = format!("{}\n{stderr}", String::from_utf8_lossy(&output.stdout));
    for written in std::fs::read_dir(&folder).unwrap() {
        let path = written.unwrap().path();
        if path != recipe {
            everything.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    assert!(everything.contains("x-echo") && everything.contains("token4"), "the echoes are not in the outputs:\n{everything}");
    let lower = everything.to_ascii_lowercase();
    for secret in [KEY, BOUND] {
        for form in [secret.to_owned(), base64(secret), secret.replace('/', "%2F")] {
            assert!(!lower.contains(&form.to_ascii_lowercase()), "`{form}` leaked in some case:\n{everything}");
        }
    }
    let _ = std::fs::remove_dir_all(&folder);
}

#[test]
fn a_secret_equal_to_a_common_word_is_masked_where_it_is_sent_and_read_and_nowhere_else() {
    // A mock server's login answers the literal token `"string"`, as Prism does; every other
    // string field of its answers is `"string"` too.
    let server = block_on(FaultServer::start(vec![
        ("POST", "/login", vec![Fault::Respond(Reply::json(200, &json!({"token": "string", "kind": "bearer"})))]),
        ("GET", "/pets/1", vec![Fault::Respond(Reply::json(200, &json!({"id": 1, "name": "string", "tag": "string"})))]),
    ]));
    let folder = folder("word");
    let recipe = folder.join("word.yaml");
    std::fs::write(
        &recipe,
        format!(
            "{HEAD}steps:\n  - id: login\n    request: {{ method: POST, url: /login, idempotent: true }}\n    bind:\n      token: {{ path: $.token, secret: true }}\n  - id: pet\n    request: {{ method: GET, url: \"/pets/1?t={{{{ vars.token }}}}\", headers: {{ X-Token: \"{{{{ vars.token }}}}\" }} }}\n    bind:\n      name: $.name\noutputs:\n  name: \"{{{{ vars.name }}}}\"\n  token: \"{{{{ vars.token }}}}\"\n"
        ),
    )
    .unwrap();
    let fixture = folder.join("word.fixture.json");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_recipe"))
            .arg("run")
            .arg(&recipe)
            .args(args)
            .current_dir(&folder)
            .env("BASE_URL", server.url(""))
            .env("API_KEY", API_KEY)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (code, stdout, stderr) = run(&["--record", fixture.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr.matches("`vars.token` is secret, but its value is short or a plain word").count(), 1, "warned once:\n{stderr}");
    let outputs: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(outputs, json!({"name": "string", "token": "<vars.token>"}), "the pet's name is data, the token is not");
    let recorded = std::fs::read_to_string(&fixture).unwrap();
    let data: serde_json::Value = recipe::hooks::yaml::from_str(&recorded).unwrap();
    let exchanges = &data["exchanges"];
    assert_eq!(exchanges[0]["response"]["json"], json!({"token": "<vars.token>", "kind": "bearer"}), "{recorded}");
    assert_eq!(exchanges[1]["request"]["url"], "/pets/1?t=<vars.token>", "{recorded}");
    assert_eq!(exchanges[1]["request"]["headers"], json!({"x-token": "<vars.token>"}), "{recorded}");
    assert_eq!(exchanges[1]["response"]["json"], json!({"id": 1, "name": "string", "tag": "string"}), "{recorded}");
    assert_eq!(recorded.matches("string").count(), 2, "only the pet's own values: {recorded}");
    // The fixture replays as it was recorded.
    let (code, _, stderr) = run(&["--replay", fixture.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    let _ = std::fs::remove_dir_all(&folder);
}
