//! A request's own `redirects`: a count over `http.redirects`, and `{ follow, unsafe: true }` for
//! a method other than `GET` or `HEAD` (a form login's `POST` answered by a 302 or 303), against
//! the fault server on 127.0.0.1, recorded and replayed.

use recipe::FailureKind;
use serde_json::json;

use crate::faults::server::{Fault, FaultServer, Received, Reply};
use crate::support::block_on;

/// Runs `text` live against `base` and records it; then replays the recording exactly.
fn record_and_replay(name: &str, text: &str, base: &str) -> (recipe::RunResult, recipe::RunResult) {
    let folder = std::env::temp_dir().join(format!("recipe-redirects-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("recipe.yaml");
    std::fs::write(&path, text).unwrap();
    let (result, _, replayed) = crate::support::record_and_replay(&path, base);
    std::fs::remove_dir_all(&folder).unwrap();
    (result, replayed)
}

fn header<'a>(request: &'a Received, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

const FORM_LOGIN: &str = r#"recipe: 1
name: form-login
env:
  BASE_URL: {}
http:
  base_url: "{{ env.BASE_URL }}"
  cookies: true
steps:
  - id: login
    request:
      method: POST
      url: /login
      form: { user: ada, password: lovelace }
      redirects: { follow: 3, unsafe: true }
    expect: { status: 200 }
    bind: { name: $.name }
  - id: profile
    request: { method: GET, url: /profile }
    bind: { plan: $.plan }
outputs:
  name: "{{ vars.name }}"
  plan: "{{ vars.plan }}"
"#;

/// The classic form login: the `POST` of the credentials is answered by a 302 or a 303 that sets
/// the session cookie; the next hop is a `GET` without the form, with the cookie, and so is every
/// later request. The recording replays.
#[test]
fn a_form_login_follows_its_302_or_303_as_a_get_with_the_session_cookie() {
    for status in [302, 303] {
        let server = block_on(FaultServer::start(vec![
            ("POST", "/login", vec![Fault::Respond(Reply::redirect(status, "/home").header("set-cookie", "sid=s3ss10n; Path=/"))]),
            ("GET", "/home", vec![Fault::Respond(Reply::json(200, &json!({"name": "Ada"})))]),
            ("GET", "/profile", vec![Fault::Respond(Reply::json(200, &json!({"plan": "gold"})))]),
        ]));
        let (result, replayed) = record_and_replay(&format!("login-{status}"), FORM_LOGIN, &server.url(""));
        assert!(result.ok, "{status}: {:#?}", result.steps);
        assert_eq!(result.outputs.as_ref().map(|outputs| json!(outputs)), Some(json!({"name": "Ada", "plan": "gold"})));
        let received = server.requests();
        let methods: Vec<(&str, &str)> = received.iter().map(|r| (r.method.as_str(), r.target.as_str())).collect();
        assert_eq!(methods, [("POST", "/login"), ("GET", "/home"), ("GET", "/profile")], "{status}");
        assert_eq!(received[0].body, b"user=ada&password=lovelace");
        assert!(received[1].body.is_empty(), "{status}: the GET after the redirect sends no body");
        assert_eq!(header(&received[1], "content-type"), None, "{status}: nor its content type");
        assert_eq!(header(&received[1], "cookie"), Some("sid=s3ss10n"), "{status}: the hop sends the cookie the POST set");
        assert_eq!(header(&received[2], "cookie"), Some("sid=s3ss10n"), "{status}: and so does the next request");
        let hops = &result.steps[0].attempts[0].redirects;
        assert_eq!((hops.len(), hops[0].status), (1, status));
        assert!(replayed.ok, "{status}: the recording replays: {:#?}", replayed.steps);
    }
}

const POST_307: &str = r#"recipe: 1
name: moved
env:
  BASE_URL: {}
http:
  base_url: "{{ env.BASE_URL }}"
steps:
  - id: draft
    request:
      method: POST
      url: /draft
      json: { customer: 42 }
      REDIRECTS
    expect: { status: 201 }
"#;

/// A 307 answering a `POST` fails the step unless the request opts in; then the same method and
/// body go to the new location.
#[test]
fn a_post_follows_a_307_only_when_its_request_opts_in() {
    let routes = || {
        vec![
            ("POST", "/draft", vec![Fault::Respond(Reply::redirect(307, "/v2/draft"))]),
            ("POST", "/v2/draft", vec![Fault::Respond(Reply::json(201, &json!({"id": "d-1"})))]),
        ]
    };
    // Without opting in (the default count, or a count alone): refused, the POST sent once.
    for own in ["idempotent: false", "redirects: 5"] {
        let server = block_on(FaultServer::start(routes()));
        let (result, _) = record_and_replay("refused", &POST_307.replace("REDIRECTS", own), &server.url(""));
        let draft = &result.steps[0];
        assert!(!result.ok);
        assert_eq!(draft.attempts[0].failure.as_ref().map(|f| f.kind), Some(FailureKind::RedirectRefused), "{own}");
        assert!(draft.reason.as_deref().unwrap().contains("`redirects: { follow: 5, unsafe: true }`"), "{own}: {draft:#?}");
        assert_eq!((server.count("POST", "/draft"), server.count("POST", "/v2/draft")), (1, 0), "{own}");
    }
    let server = block_on(FaultServer::start(routes()));
    let (result, replayed) = record_and_replay("followed", &POST_307.replace("REDIRECTS", "redirects: { unsafe: true }"), &server.url(""));
    assert!(result.ok, "{:#?}", result.steps);
    let received = server.requests();
    assert_eq!(received[1].method, "POST");
    assert_eq!(received[1].target, "/v2/draft");
    assert_eq!(received[1].body, br#"{"customer":42}"#, "the 307 sends the same body again");
    assert_eq!(header(&received[1], "content-type"), Some("application/json"));
    assert!(replayed.ok, "{:#?}", replayed.steps);
}

const NOT_FOLLOWED: &str = r#"recipe: 1
name: check-the-redirect
env:
  BASE_URL: {}
http:
  base_url: "{{ env.BASE_URL }}"
steps:
  - id: old
    request: { method: GET, url: /old, redirects: 0 }
    expect: { status: 302 }
    bind: { moved_to: "{{ steps.old.headers.location }}" }
  - id: new
    request: { method: GET, url: /old }
    expect: { status: 200 }
outputs:
  moved_to: "{{ vars.moved_to }}"
"#;

/// `redirects: 0` on one request makes the redirect its response, while the other requests
/// follow redirects as `http.redirects` says.
#[test]
fn a_request_with_redirects_0_sees_the_redirect_itself() {
    let server = block_on(FaultServer::start(vec![
        ("GET", "/old", vec![Fault::Respond(Reply::redirect(302, "/new")), Fault::Respond(Reply::redirect(302, "/new"))]),
        ("GET", "/new", vec![Fault::Respond(Reply::json(200, &json!({"new": true})))]),
    ]));
    let (result, replayed) = record_and_replay("zero", NOT_FOLLOWED, &server.url(""));
    assert!(result.ok, "{:#?}", result.steps);
    assert_eq!(result.outputs.as_ref().and_then(|outputs| outputs.get("moved_to")), Some(&json!("/new")));
    assert_eq!(server.count("GET", "/old"), 2);
    assert_eq!(server.count("GET", "/new"), 1, "only the second step followed the redirect");
    assert!(replayed.ok, "{:#?}", replayed.steps);
}

/// A `POST` that opted in still drops its credentials on a hop to another origin.
#[test]
fn an_unsafe_redirect_to_another_origin_drops_credentials() {
    let other = block_on(FaultServer::start(vec![("POST", "/draft", vec![Fault::Respond(Reply::json(201, &json!({"id": "d-2"})))])]));
    let server = block_on(FaultServer::start(vec![("POST", "/draft", vec![Fault::Respond(Reply::redirect(308, &other.url("/draft")))])]));
    let text = POST_307.replace("REDIRECTS", "redirects: { unsafe: true }\n      auth: { bearer: s3cr3t-t0ken }");
    let (result, _) = record_and_replay("origin", &text, &server.url(""));
    assert!(result.ok, "{:#?}", result.steps);
    assert_eq!(header(&server.requests()[0], "authorization"), Some("Bearer s3cr3t-t0ken"));
    let arrived = &other.requests()[0];
    assert_eq!((arrived.method.as_str(), arrived.body.as_slice()), ("POST", br#"{"customer":42}"#.as_slice()));
    assert_eq!(header(arrived, "authorization"), None, "the credential stayed with its origin");
}
