//! The language beyond one fixed flow: static checks of the newer keys (each at its place),
//! pagination and `for_each` limits, secrets bound at run time, and the promise that a case
//! `recipe test` passes also passes `recipe run --replay`.

use recipe::Clock;
use recipe::{Cause, run};
use recipe::{Mode, Options, prepare};
use serde_json::json;
use std::time::Duration;

use crate::faults::server::{Fault, FaultServer, Reply};
use crate::support::{block_on, root};

fn problems(text: &str) -> Vec<String> {
    match recipe::load_str("t.yaml", text) {
        Ok(_) => Vec::new(),
        Err(report) => report
            .diagnostics
            .iter()
            .map(|d| {
                let span = d.span.expect("every problem has a place");
                format!("{}:{} {}", span.line, span.col, d.message)
            })
            .collect(),
    }
}

#[test]
fn check_rejects_unknown_filters_tests_and_functions() {
    let text = "recipe: 1\nname: t\nsteps:\n  - id: a\n    set:\n      x: \"{{ 'a' | b64encod }}\"\n      y: \"{{ 1 is od }}\"\n      z: \"{{ nwo() }}\"\n";
    assert_eq!(problems(text), vec!["6:20 unknown filter `b64encod`", "7:19 unknown test `od`", "8:14 unknown function `nwo`"]);
    let hints = recipe::load_str("t.yaml", text).err().unwrap().to_string();
    assert!(
        hints.contains("did you mean `b64encode`?") && hints.contains("did you mean `odd`?") && hints.contains("did you mean `now`?"),
        "{hints}"
    );
}

/// minijinja's values have no methods: a Python habit (`url.endswith('/get')`) is a static
/// error at the method, with minijinja's spelling as the hint.
#[test]
fn check_rejects_method_calls_minijinja_lacks_with_its_spelling() {
    let text = "recipe: 1\nname: t\ninputs:\n  url: string\nsteps:\n  - id: a\n    set:\n      x: \"{{ inputs.url.endswith('/get') }}\"\n      y: \"{{ inputs.url.lower() }}\"\n      z: \"{{ (inputs.url).startswith('h') }}\"\n      w: \"{{ inputs.url.frobnicate() }}\"\n      fine: \"{% for i in [1, 2] %}{{ loop.cycle('a', 'b') }}{% endfor %}\"\n";
    assert_eq!(
        problems(text),
        vec![
            "8:25 unknown method `endswith`",
            "9:25 unknown method `lower`",
            "10:27 unknown method `startswith`",
            "11:25 unknown method `frobnicate`"
        ]
    );
    let shown = recipe::load_str("t.yaml", text).err().unwrap().to_string();
    for hint in [
        "write `x is endingwith('...')`",
        "write `x | lower`",
        "write `x is startingwith('...')`",
        "use a filter (`x | frobnicate`) or a test (`x is frobnicate`) if one exists",
    ] {
        assert!(shown.contains(hint), "{hint}: {shown}");
    }
}

/// Six independent typos, two of them in one step whose action cannot be decoded: six problems,
/// each at its place, and nothing invented about the later steps that read that step.
#[test]
fn six_typos_are_six_problems_and_nothing_else() {
    let text = r#"recipe: 1
name: t
inputs:
  vin: string
steps:
  - id: a
    request:
      method: GTE
      url: /token
      retry: { attemps: 3 }
    bind: { token: $.token }
  - id: b
    request:
      method: GET
      url: "/cars/{{ inputs.vim }}"
      timeout: 10 seconds
      headers: { Authorization: "Bearer {{ vars.token }}", X-Body: "{{ steps.a.body.id }}" }
    expect: { stauts: 200 }
  - id: c
    set: { vin: "{{ inputs.vin | lowr }}", status: "{{ steps.a.status }}" }
"#;
    assert_eq!(
        problems(text),
        vec![
            "8:15 unknown method `GTE`",
            "10:16 unknown key `attemps` in retry",
            "16:16 invalid duration",
            "18:15 unknown key `stauts` in expect",
            "15:22 no input named `vim` is declared",
            "20:34 unknown filter `lowr`",
        ]
    );
}

/// A bind that selects nothing lists the keys where its path stopped matching, with a "did you
/// mean"; so does an assertion's `path`.
#[test]
fn a_bind_that_selects_nothing_lists_the_keys_there() {
    let server = block_on(FaultServer::start(vec![(
        "POST",
        "/anything",
        vec![Fault::Respond(Reply::json(200, &json!({"json": {"access_token": "a1b2c3d4e5f6g7h8", "token_type": "bearer"}})))],
    )]));
    let text = "recipe: 1\nname: t\nenv:\n  BASE_URL: {}\nhttp:\n  base_url: \"{{ env.BASE_URL }}\"\nsteps:\n  - id: login\n    request: { method: POST, url: /anything, idempotent: true }\n    bind: { token: { path: $.json.acces_token, secret: true } }\n";
    let result = run_unrecorded(text, server.url(""));
    let reason = result.steps[0].reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains(
            "`$.json.acces_token` selected nothing: `$.json` has no key `acces_token`; its keys: `access_token`, `token_type`; did \
             you mean `$.json.access_token`?"
        ),
        "{reason}"
    );
    assert!(!reason.contains("a1b2c3d4e5f6g7h8"), "keys are shown, never values: {reason}");
    let asserted = text.replace(
        "    bind: { token: { path: $.json.acces_token, secret: true } }\n",
        "    assert:\n      - { path: $.json.tokn_type, equals: bearer }\n",
    );
    let server = block_on(FaultServer::start(vec![(
        "POST",
        "/anything",
        vec![Fault::Respond(Reply::json(200, &json!({"json": {"access_token": "a1b2c3d4e5f6g7h8", "token_type": "bearer"}})))],
    )]));
    let result = run_unrecorded(&asserted, server.url(""));
    let reason = result.steps[0].reason.as_deref().unwrap_or_default();
    assert!(reason.contains("did you mean `$.json.token_type`?"), "{reason}");
}

#[test]
fn check_rejects_reads_of_vars_a_guarded_or_optional_step_may_not_bind() {
    let text = "recipe: 1\nname: t\ninputs:\n  go: boolean\nsteps:\n  - id: a\n    when: \"{{ inputs.go }}\"\n    set: { x: 1 }\n  - id: b\n    set:\n      bare: \"{{ vars.x }}\"\n      defaulted: \"{{ vars.x | default(0) }}\"\n      tested: \"{{ vars.x if vars.x is defined else 0 }}\"\n";
    assert_eq!(problems(text), vec!["11:17 `vars.x` may be unbound here: step `a`, which binds it, may be skipped or fail"]);
    // A later unconditional step that binds it again makes it certain.
    let rebound = text.replace("  - id: b\n", "  - id: c\n    set: { x: 2 }\n  - id: b\n");
    assert_eq!(problems(&rebound), Vec::<String>::new());
}

#[test]
fn shared_auth_that_reads_a_var_is_checked_at_the_first_request_that_sends_it() {
    let base = "recipe: 1\nname: t\nhttp:\n  base_url: http://x\n  auth: { bearer: \"{{ vars.token }}\" }\nsteps:\n";
    let early = format!("{base}  - id: login\n    request: {{ method: POST, url: /login }}\n    bind: {{ token: $.token }}\n");
    assert_eq!(
        problems(&early),
        vec!["5:23 `vars.token` is not bound by an earlier step, but step `login` (line 7) sends it"],
        "the log-in request itself would send the token"
    );
    let hints = recipe::load_str("t.yaml", &early).err().unwrap().to_string();
    assert!(hints.contains("give step `login` `auth: none` (it sends no `Authorization`), or its own `auth`"), "{hints}");
    assert!(hints.contains("if step `login` only logs in, add `idempotent: true` too"), "{hints}");
    let fine = early.replace("url: /login }", "url: /login, auth: { basic: { username: u, password: p } } }");
    let fine = format!("{fine}  - id: me\n    request: {{ method: GET, url: /me }}\n");
    assert_eq!(problems(&fine), Vec::<String>::new());
    let none = early.replace("url: /login }", "url: /login, auth: none }");
    assert_eq!(problems(&none), Vec::<String>::new());
    // A shared `Authorization` header is left out by `auth: none` as well; another header is not.
    let header = early.replace("  auth: { bearer: \"{{ vars.token }}\" }\n", "  headers: { Authorization: \"Bearer {{ vars.token }}\" }\n");
    assert!(problems(&header).len() == 1);
    assert_eq!(problems(&header.replace("url: /login }", "url: /login, auth: none }")), Vec::<String>::new());
    let other = header.replace("Authorization:", "X-Token:");
    let hints = recipe::load_str("t.yaml", &other.replace("url: /login }", "url: /login, auth: none }")).err().unwrap().to_string();
    assert!(hints.contains("give step `login` its own `X-Token` header (an empty value sends none)"), "{hints}");
    // `none` is a request's, not the recipe's.
    assert_eq!(
        problems(&early.replace("auth: { bearer: \"{{ vars.token }}\" }", "auth: none")),
        vec!["5:9 `auth: none` belongs to a request"]
    );
}

const TOKEN_LOGIN: &str = r#"recipe: 1
name: t
env:
  BASE_URL: {}
http:
  base_url: "{{ env.BASE_URL }}"
  auth: { bearer: "{{ vars.token }}" }
steps:
  - id: login
    request: { method: POST, url: /login, json: { user: ada }, auth: none, idempotent: true }
    bind: { token: { path: $.token, secret: true } }
  - id: me
    request: { method: GET, url: /me }
"#;

/// `auth: none` on the log-in request: it sends no `Authorization`, and the requests after it
/// send the token it bound.
#[test]
fn auth_none_sends_no_credential_and_later_requests_send_the_bound_token() {
    let server = block_on(FaultServer::start(vec![
        ("POST", "/login", vec![Fault::Respond(Reply::json(200, &json!({"token": "t0k3n-a1b2c3d4e5"})))]),
        ("GET", "/me", vec![Fault::Respond(Reply::json(200, &json!({"name": "Ada"})))]),
    ]));
    let (result, fixture) = run_live(TOKEN_LOGIN, server.url(""), "unused-secret");
    assert!(result.ok, "{:#?}", result.steps);
    assert_eq!(result.exit(), recipe::Exit::Success, "a log-in marked idempotent creates nothing");
    assert_eq!(authorizations(&server, "/login"), Vec::<String>::new());
    assert_eq!(authorizations(&server, "/me"), vec!["Bearer t0k3n-a1b2c3d4e5".to_owned()]);
    let recorded = serde_json::to_string(&fixture.unwrap()).unwrap();
    assert!(!recorded.contains("t0k3n-a1b2c3d4e5"), "{recorded}");
}

#[test]
fn concurrency_needs_for_each_and_a_count_from_1_to_64() {
    let text = "recipe: 1\nname: t\nsteps:\n  - id: a\n    concurrency: 4\n    set: { x: 1 }\n  - id: b\n    for_each: \"{{ [1] }}\"\n    concurrency: 65\n    set: { x: 1 }\n  - id: c\n    for_each: \"{{ [1] }}\"\n    concurrency: 0\n    set: { x: 1 }\n";
    let found = problems(text);
    assert!(found.contains(&"5:18 `concurrency` belongs with `for_each`".to_owned()), "{found:#?}");
    assert_eq!(found.iter().filter(|p| p.contains("a number of elements at once, from 1 to 64")).count(), 2, "{found:#?}");
    let fine = "recipe: 1\nname: t\nsteps:\n  - id: b\n    for_each: \"{{ [1] }}\"\n    concurrency: 64\n    set: { x: 1 }\n";
    assert_eq!(problems(fine), Vec::<String>::new());
}

#[test]
fn check_places_problems_in_the_new_keys() {
    let text = "recipe: 1\nname: t\nsteps:\n  - id: a\n    max_items: 3\n    set: { x: \"{{ each }}\" }\n    assert:\n      - { that: \"{{ true }}\", path: $.x }\n  - id: b\n    request:\n      method: GET\n      url: http://x/\n      paginate: { items: $.x }\n";
    let found = problems(text);
    assert!(found.contains(&"5:16 `max_items` belongs with `for_each`".to_owned()), "{found:#?}");
    assert!(found.contains(&"6:19 `each` is only defined in a step with `for_each`".to_owned()), "{found:#?}");
    assert!(found.contains(&"8:11 an assertion has one of `that`, `path` or `xpath`".to_owned()), "{found:#?}");
    assert!(found.contains(&"13:19 paginate is missing the key `next`".to_owned()), "{found:#?}");
}

/// A recipe run live against `base` with a virtual clock, recorded.
fn run_live(text: &str, base: String, secret: &str) -> (recipe::RunResult, Option<recipe::Fixture>) {
    run_as(text, base, secret, Mode::Record)
}

/// The same, not recorded.
fn run_unrecorded(text: &str, base: String) -> recipe::RunResult {
    run_as(text, base, "api-key-3f9a1c", Mode::Live).0
}

fn run_as(text: &str, base: String, secret: &str, mode: Mode) -> (recipe::RunResult, Option<recipe::Fixture>) {
    let plan = recipe::load_str("live.yaml", text).unwrap_or_else(|report| panic!("{report}"));
    let secret = secret.to_owned();
    block_on(async move {
        let lookup = move |name: &str| match name {
            "BASE_URL" => Some(base.clone()),
            "API_KEY" => Some(secret.clone()),
            _ => None,
        };
        let options = Options { clock: Some(Clock::fixed()), ..Options::new(&lookup, mode) };
        let mut session = prepare(&plan, options).unwrap();
        let result = run(&plan, &session.params, &mut session.transport, &mut |_| {}).await;
        let fixture = session.fixture(None, &result);
        (result, fixture)
    })
}

/// The `authorization` header of each request to `path` (any query), in order.
fn authorizations(server: &FaultServer, path: &str) -> Vec<String> {
    server
        .requests()
        .iter()
        .filter(|r| r.target.split('?').next() == Some(path))
        .flat_map(|r| r.headers.iter().filter(|(n, _)| n == "authorization").map(|(_, v)| v.clone()))
        .collect()
}

/// `GET /item/N` for N in 0..6, each answered by its own script.
fn item_server(fault: impl Fn(usize) -> Fault) -> FaultServer {
    let paths: Vec<String> = (0..6).map(|n| format!("/item/{n}")).collect();
    let routes: Vec<(&str, &str, Vec<Fault>)> = paths.iter().enumerate().map(|(n, path)| ("GET", path.as_str(), vec![fault(n)])).collect();
    block_on(FaultServer::start(routes))
}

/// An answer dripped out a byte every 2ms: about 160ms in all.
fn slow_item() -> Fault {
    Fault::Drip { reply: Reply::json(200, &json!({"ok": 1})), every: Duration::from_millis(2) }
}

const EACH_ITEM: &str = "steps:\n  - id: items\n    for_each: \"{{ [0, 1, 2, 3, 4, 5] }}\"\n    request: { method: GET, url: \"/item/{{ each }}\" }\n    bind: { got: \"{{ each }}\" }\n";

#[test]
fn for_each_with_concurrency_runs_elements_together_and_keeps_their_order() {
    let server = item_server(|_| slow_item());
    let text = format!("{HEAD}{EACH_ITEM}    concurrency: 3\n");
    let result = run_unrecorded(&text, server.url(""));
    assert!(result.ok, "{:#?}", result.steps);
    assert_eq!(result.steps[0].bindings["got"], json!([0, 1, 2, 3, 4, 5]), "the list's order, not the answers' order");
    assert_eq!(result.steps[0].attempts.len(), 6);
    let at = server.arrivals();
    // Three were sent together; the fourth waited for one of them (each takes about 160ms).
    assert!(at[2] < 0.1, "{at:?}");
    assert!(at[3] >= 0.1, "{at:?}");
    for n in 0..6 {
        assert_eq!(server.count("GET", &format!("/item/{n}")), 1);
    }

    // Without `concurrency`, one after another.
    let server = item_server(|_| slow_item());
    let result = run_unrecorded(&format!("{HEAD}{EACH_ITEM}"), server.url(""));
    assert!(result.ok, "{:#?}", result.steps);
    let at = server.arrivals();
    assert!(at.windows(2).all(|pair| pair[1] - pair[0] >= 0.1), "{at:?}");
}

#[test]
fn a_failed_element_starts_no_other_and_the_running_ones_finish() {
    let server = item_server(|n| if n == 1 { Fault::Respond(Reply::json(500, &json!({"error": "boom"}))) } else { slow_item() });
    let text = format!("{HEAD}{EACH_ITEM}    concurrency: 3\n");
    let result = run_unrecorded(&text, server.url(""));
    assert!(!result.ok);
    let step = &result.steps[0];
    assert!(step.reason.as_deref().unwrap().starts_with("item 1: "), "{step:#?}");
    // Items 0 and 2 were running and finished; 3 to 5 never started.
    for (n, count) in [(0, 1), (1, 1), (2, 1), (3, 0), (4, 0), (5, 0)] {
        assert_eq!(server.count("GET", &format!("/item/{n}")), count, "item {n}");
    }
    assert_eq!(step.attempts.len(), 3, "{step:#?}");
}

#[test]
fn a_recording_with_concurrency_takes_the_elements_in_order_and_replays() {
    let server = item_server(|_| Fault::Respond(Reply::json(200, &json!({"ok": 1}))));
    let text = format!("{HEAD}{EACH_ITEM}    concurrency: 4\n");
    let (result, fixture) = run_live(&text, server.url(""), "api-key-3f9a1c");
    assert!(result.ok, "{:#?}", result.steps);
    let fixture = fixture.unwrap();
    let urls: Vec<&str> = fixture.exchanges.iter().map(|e| e.request.url.as_str()).collect();
    assert_eq!(urls, ["/item/0", "/item/1", "/item/2", "/item/3", "/item/4", "/item/5"]);
    let replayed = replay_exactly("concurrency", &text, &fixture);
    assert!(replayed.ok, "{:#?}", replayed.steps);
}

/// Writes `fixture` to a file, reads it back and replays `text` against it exactly.
fn replay_exactly(name: &str, text: &str, fixture: &recipe::Fixture) -> recipe::RunResult {
    let folder = std::env::temp_dir().join(format!("recipe-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("case.yaml");
    fixture.write(&path).unwrap();
    let plan = recipe::load_str("live.yaml", text).unwrap();
    let replayed = block_on(async {
        let mode = Mode::Replay(recipe::Fixture::read(&path).unwrap(), recipe::Strictness::Exact);
        let mut session = prepare(&plan, Options::new(&|_| None, mode)).unwrap();
        run(&plan, &session.params, &mut session.transport, &mut |_| {}).await
    });
    std::fs::remove_dir_all(&folder).unwrap();
    replayed
}

const HEAD: &str = "recipe: 1\nname: t\nenv:\n  BASE_URL: {}\n  API_KEY: { secret: true }\nhttp:\n  base_url: \"{{ env.BASE_URL }}\"\n  retry: { attempts: 1 }\n";

#[test]
fn pagination_past_max_pages_is_an_error_not_a_silent_stop() {
    let text = format!(
        "{HEAD}steps:\n  - id: list\n    request:\n      method: GET\n      url: /items\n      paginate:\n        next: {{ query: {{ cursor: \"{{{{ response.body.next }}}}\" }} }}\n        items: $.items[*]\n        max_pages: 3\n"
    );
    let server = block_on(FaultServer::start(vec![(
        "GET",
        "/items",
        vec![Fault::Respond(Reply::json(200, &json!({"items": [1, 2], "next": "more"})))],
    )]));
    let (result, _) = run_live(&text, server.url(""), "api-key-3f9a1c");
    let step = &result.steps[0];
    assert_eq!(step.cause, Some(Cause::Pages), "{step:#?}");
    assert!(step.reason.as_deref().unwrap().starts_with("there are more than 3 pages (`paginate.max_pages`)"), "{step:#?}");
    assert_eq!(server.count("GET", "/items"), 3);
}

#[test]
fn after_a_401_the_new_oauth2_token_is_sent_for_every_later_page() {
    let text = format!(
        "{HEAD}  auth:\n    oauth2: {{ token_url: /token, client_id: client-1, client_secret: \"{{{{ env.API_KEY }}}}\" }}\nsteps:\n  - id: list\n    request:\n      method: GET\n      url: /items\n      paginate:\n        next: {{ query: {{ cursor: \"{{{{ response.body.next }}}}\" }} }}\n        items: $.items[*]\n"
    );
    let token = |n: u8| Fault::Respond(Reply::json(200, &json!({"access_token": format!("page-token-{n}-71c0"), "expires_in": 3600})));
    let server = block_on(FaultServer::start(vec![
        ("POST", "/token", vec![token(1), token(2)]),
        (
            "GET",
            "/items",
            vec![
                Fault::Respond(Reply::json(401, &json!({"error": "expired"}))),
                Fault::Respond(Reply::json(200, &json!({"items": [1, 2], "next": "p2"}))),
                Fault::Respond(Reply::json(200, &json!({"items": [3], "next": null}))),
            ],
        ),
    ]));
    let (result, _) = run_live(&text, server.url(""), "client-secret-5d2e");
    assert!(result.ok, "{:#?}", result.steps);
    assert_eq!(authorizations(&server, "/items"), ["Bearer page-token-1-71c0", "Bearer page-token-2-71c0", "Bearer page-token-2-71c0"]);
    // Each page goes to its own URL: the first (sent twice, around the 401), then the next one's,
    // never the first page's again (its URL was parsed when it was built).
    let targets: Vec<String> = server.requests().into_iter().filter(|r| r.method == "GET").map(|r| r.target).collect();
    assert_eq!(targets, ["/items", "/items", "/items?cursor=p2"]);
}

#[test]
fn for_each_past_max_items_is_an_error() {
    let text = format!(
        "{HEAD}steps:\n  - id: each\n    for_each: \"{{{{ [1, 2, 3] }}}}\"\n    max_items: 2\n    set: {{ x: \"{{{{ each }}}}\" }}\n"
    );
    let (result, _) = run_live(&text, "http://127.0.0.1:9".into(), "api-key-3f9a1c");
    assert_eq!(result.steps[0].cause, Some(Cause::Each));
    assert!(result.steps[0].reason.as_deref().unwrap().contains("gave 3 items, more than `max_items` (2)"));
}

#[test]
fn a_loop_lists_every_element_it_created_and_not_the_one_that_failed() {
    let server = block_on(FaultServer::start(vec![
        ("POST", "/drafts/a", vec![Fault::Respond(Reply::json(201, &json!({"id": "d-a"})))]),
        ("POST", "/drafts/b", vec![Fault::Respond(Reply::json(201, &json!({"id": "d-b"})))]),
        // A refusal (a 5xx would leave the element in doubt, listed as such).
        ("POST", "/drafts/c", vec![Fault::Respond(Reply::json(422, &json!({"error": "invalid"})))]),
    ]));
    let text = format!(
        "{HEAD}steps:\n  - id: drafts\n    for_each: \"{{{{ ['a', 'b', 'c'] }}}}\"\n    request: {{ method: POST, url: \"/drafts/{{{{ each }}}}\", json: {{ n: 1 }} }}\n"
    );
    let result = run_unrecorded(&text, server.url(""));
    assert!(!result.ok);
    let created: Vec<(&str, Option<u16>)> = result.side_effects.iter().map(|effect| (effect.url.as_str(), effect.status)).collect();
    assert_eq!(created, vec![("/drafts/a", Some(201)), ("/drafts/b", Some(201))], "{:#?}", result.side_effects);
}

#[test]
fn a_secret_bound_at_run_time_is_masked_everywhere_and_replays() {
    let token = "session-token-7d41be99";
    let text = format!(
        "{HEAD}  auth: {{ bearer: \"{{{{ vars.token }}}}\" }}\nsteps:\n  - id: login\n    request: {{ method: POST, url: /login, idempotent: true, auth: {{ bearer: \"{{{{ env.API_KEY }}}}\" }} }}\n    bind:\n      token: {{ path: $.token, secret: true }}\n  - id: me\n    request: {{ method: GET, url: /me }}\noutputs:\n  echoed: \"{{{{ steps.me.body.seen }}}}\"\n"
    );
    let server = block_on(FaultServer::start(vec![
        ("POST", "/login", vec![Fault::Respond(Reply::json(200, &json!({"token": token})))]),
        ("GET", "/me", vec![Fault::Respond(Reply::json(200, &json!({"seen": format!("Bearer {token}")})))]),
    ]));
    let (result, fixture) = run_live(&text, server.url(""), "api-key-3f9a1c");
    assert!(result.ok, "{:#?}", result.steps);
    // The token went out, and appears in no output.
    assert!(server.requests().iter().any(|r| r.headers.iter().any(|(n, v)| n == "authorization" && v == &format!("Bearer {token}"))));
    let fixture = fixture.unwrap();
    let everything = format!("{}\n{}", serde_json::to_string(&result).unwrap(), recipe::hooks::yaml::to_string(&fixture).unwrap());
    assert!(!everything.contains(token), "the bound secret leaked:\n{everything}");
    assert_eq!(result.outputs.as_ref().unwrap()["echoed"], "Bearer <vars.token>");
    // Its recording replays exactly.
    let replayed = replay_exactly("language", &text, &fixture);
    assert!(replayed.ok, "{:#?}", replayed.steps);
}

#[test]
fn every_case_recipe_test_passes_also_replays_exactly() {
    for entry in glob(&root().join("recipes/fixtures")) {
        let recipe_path = recipe::hooks::testing::recipe_of(&entry).unwrap();
        let plan = crate::support::plan(&recipe_path);
        let fixture = recipe::Fixture::read(&entry).unwrap();
        let result = block_on(async {
            let options = Options::new(&|_| None, Mode::Replay(fixture, recipe::Strictness::Exact));
            let mut session = prepare(&plan, options).unwrap();
            run(&plan, &session.params, &mut session.transport, &mut |_| {}).await
        });
        let name = entry.file_stem().unwrap().to_string_lossy().into_owned();
        let mismatch = result.steps.iter().find(|s| s.cause == Some(Cause::Transport(recipe::FailureKind::Mismatch)));
        assert!(
            mismatch.is_none() && result.error.is_none(),
            "{}: the exact replay differs: {mismatch:#?} {:?}",
            entry.display(),
            result.error
        );
        assert_eq!(result.ok, !name.starts_with("err_"), "{}", entry.display());
    }
}

fn glob(folder: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for recipe in std::fs::read_dir(folder).unwrap() {
        let recipe = recipe.unwrap().path();
        if !recipe.is_dir() {
            continue;
        }
        for case in std::fs::read_dir(&recipe).unwrap() {
            let case = case.unwrap().path();
            if case.extension().is_some_and(|e| e == "yaml") {
                found.push(case);
            }
        }
    }
    found.sort();
    found
}

/// A scratch folder of recipe files.
fn files(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let folder = std::env::temp_dir().join(format!("recipe-call-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    for (file, text) in files {
        std::fs::write(folder.join(file), text).unwrap();
    }
    folder
}

const CALLEE: &str = "recipe: 1\nname: lookup\ninputs:\n  code: string\nenv:\n  BASE_URL: {}\n  API_KEY: { secret: true }\nhttp:\n  base_url: \"{{ env.BASE_URL }}\"\n  headers: { X-Api-Key: \"{{ env.API_KEY }}\" }\nsteps:\n  - id: search\n    request: { method: GET, url: \"/parts/{{ inputs.code }}\" }\noutputs:\n  name: \"{{ steps.search.body.name }}\"\n";

#[test]
fn a_called_recipe_runs_with_its_inputs_and_returns_its_outputs() {
    let caller = format!(
        "{HEAD}steps:\n  - id: part\n    call: {{ recipe: lookup.yaml, inputs: {{ code: A1 }} }}\n  - id: echo\n    set: {{ name: \"{{{{ steps.part.outputs.name }}}}\" }}\noutputs:\n  name: \"{{{{ vars.name }}}}\"\n"
    );
    let folder = files("run", &[("caller.yaml", &caller), ("lookup.yaml", CALLEE)]);
    let server =
        block_on(FaultServer::start(vec![("GET", "/parts/A1", vec![Fault::Respond(Reply::json(200, &json!({"name": "Filter"})))])]));
    let path = folder.join("caller.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let plan_name = path.display().to_string();
    let (result, fixture) = {
        let plan = recipe::load_str(&plan_name, &text).unwrap_or_else(|report| panic!("{report}"));
        assert!(plan.calls.contains_key("part"));
        run_live(
            &text.replace("recipe: lookup.yaml", &format!("recipe: {}", folder.join("lookup.yaml").display())),
            server.url(""),
            "api-key-3f9a1c",
        )
    };
    assert!(result.ok, "{:#?}", result.steps);
    assert_eq!(result.outputs.as_ref().unwrap()["name"], "Filter");
    assert_eq!(result.steps[0].inner[0].id, "part.search");
    assert_eq!(fixture.unwrap().exchanges[0].step, "part.search", "fixtures record calls under qualified ids");
    assert!(
        server.requests()[0].headers.iter().any(|(n, v)| n == "x-api-key" && v == "api-key-3f9a1c"),
        "the callee got the caller's secret"
    );
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn calls_are_checked_in_full_and_cycles_rejected() {
    let folder = files(
        "check",
        &[
            ("a.yaml", "recipe: 1\nname: a\nsteps:\n  - id: b\n    call: { recipe: b.yaml }\n"),
            ("b.yaml", "recipe: 1\nname: b\nsteps:\n  - id: a\n    call: { recipe: a.yaml }\n"),
            ("bad.yaml", "recipe: 1\nname: bad\nsteps:\n  - id: x\n    set: { y: \"{{ inputs.nope }}\" }\n"),
            ("calls-bad.yaml", "recipe: 1\nname: c\nsteps:\n  - id: c\n    call: { recipe: bad.yaml }\n"),
            (
                "wrong-inputs.yaml",
                "recipe: 1\nname: w\nenv:\n  BASE_URL: {}\nsteps:\n  - id: w\n    call: { recipe: lookup.yaml, inputs: { cod: A1 } }\n",
            ),
            ("lookup.yaml", CALLEE),
        ],
    );
    let load = |file: &str| recipe::load(&folder.join(file)).err().expect("rejected").to_string();
    let cycle = load("a.yaml");
    assert!(cycle.contains("`a.yaml` calls itself") && cycle.contains("b.yaml:5:21"), "{cycle}");
    let inner = load("calls-bad.yaml");
    assert!(
        inner.contains("bad.yaml:5:19") && inner.contains("no input named `nope`"),
        "the problem is reported in the called file:\n{inner}"
    );
    let inputs = load("wrong-inputs.yaml");
    assert!(inputs.contains("`lookup.yaml` has no input `cod`") && inputs.contains("did you mean `code`?"), "{inputs}");
    assert!(inputs.contains("`lookup.yaml` needs the input `code`"), "{inputs}");
    assert!(inputs.contains("reads the environment variable `API_KEY`, which this recipe does not declare"), "{inputs}");
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn api_error_envelopes_are_a_recipe_setting_off_by_default() {
    let server = block_on(FaultServer::start(vec![(
        "POST",
        "/graphql",
        vec![Fault::Respond(Reply::json(200, &json!({"data": null, "errors": [{"message": "not allowed"}]})))],
    )]));
    let recipe = |setting: &str| {
        format!(
            "{HEAD}{setting}steps:\n  - id: query\n    request: {{ method: POST, url: /graphql, idempotent: true, json: {{ query: \"{{ me }}\" }} }}\n"
        )
    };
    // A GraphQL-style 200 with `errors` is not a failure unless the recipe says so.
    let (plain, _) = run_live(&recipe(""), server.url(""), "api-key-3f9a1c");
    assert!(plain.ok, "{:#?}", plain.steps);
    let (checked, _) = run_live(&recipe("  api_errors: ['$.errors[*].message']\n"), server.url(""), "api-key-3f9a1c");
    assert_eq!(checked.steps[0].cause, Some(Cause::ApiError), "{:#?}", checked.steps);
    assert!(checked.steps[0].reason.as_deref().unwrap().contains("not allowed"));
}

#[test]
fn oauth2_tokens_are_fetched_once_refreshed_after_a_401_and_never_recorded() {
    let text = format!(
        "{HEAD}  auth:\n    oauth2: {{ token_url: /token, client_id: client-1, client_secret: \"{{{{ env.API_KEY }}}}\", scope: orders.read }}\nsteps:\n  - id: me\n    request: {{ method: GET, url: /me }}\n  - id: orders\n    request: {{ method: GET, url: /orders }}\n"
    );
    let token = |n: u8| Fault::Respond(Reply::json(200, &json!({"access_token": format!("oauth-token-{n}-5f3c"), "expires_in": 3600})));
    let server = block_on(FaultServer::start(vec![
        ("POST", "/token", vec![token(1), token(2)]),
        (
            "GET",
            "/me",
            vec![Fault::Respond(Reply::json(401, &json!({"error": "expired"}))), Fault::Respond(Reply::json(200, &json!({"id": 7})))],
        ),
        ("GET", "/orders", vec![Fault::Respond(Reply::json(200, &json!({"orders": []})))]),
    ]));
    let (result, fixture) = run_live(&text, server.url(""), "client-secret-9a8b");
    assert!(result.ok, "{:#?}", result.steps);
    assert_eq!(server.count("POST", "/token"), 2, "one token, and one more after the 401");
    assert_eq!(authorizations(&server, "/me"), vec!["Bearer oauth-token-1-5f3c", "Bearer oauth-token-2-5f3c"]);
    assert_eq!(authorizations(&server, "/orders"), vec!["Bearer oauth-token-2-5f3c"], "the refreshed token is cached");
    let token_request = server.requests().into_iter().find(|r| r.target == "/token").unwrap();
    assert_eq!(String::from_utf8_lossy(&token_request.body), "grant_type=client_credentials&scope=orders.read");
    let fixture = fixture.unwrap();
    assert!(fixture.exchanges.iter().all(|e| e.request.url != "/token"), "token requests are never recorded");
    let recorded = recipe::hooks::yaml::to_string(&fixture).unwrap();
    assert!(!recorded.contains("oauth-token") && !recorded.contains("client-secret-9a8b"), "{recorded}");
    assert!(recorded.contains("authorization: Bearer <oauth2>"), "{recorded}");
    // The recording replays exactly, 401 and all, without a token endpoint.
    let replayed = replay_exactly("oauth2", &text, &fixture);
    assert!(replayed.ok, "{:#?}", replayed.steps);
}

#[test]
fn a_cookie_jar_sends_cookies_back_records_them_masked_and_replays() {
    let text = format!(
        "{HEAD}  cookies: true\nsteps:\n  - id: login\n    request: {{ method: POST, url: /login, idempotent: true }}\n  - id: me\n    request: {{ method: GET, url: /me }}\n"
    );
    let login = Reply::json(200, &json!({"ok": true}))
        .header("set-cookie", "sid=s3ss10n-7f2e; Path=/; HttpOnly")
        .header("set-cookie", "theme=dark");
    let server = block_on(FaultServer::start(vec![
        ("POST", "/login", vec![Fault::Respond(login)]),
        ("GET", "/me", vec![Fault::Respond(Reply::json(200, &json!({"id": 7})))]),
    ]));
    let (result, fixture) = run_live(&text, server.url(""), "api-key-3f9a1c");
    assert!(result.ok, "{:#?}", result.steps);
    let me = server.requests().into_iter().find(|r| r.target == "/me").unwrap();
    assert!(me.headers.iter().any(|(n, v)| n == "cookie" && v == "sid=s3ss10n-7f2e; theme=dark"), "{:?}", me.headers);
    let fixture = fixture.unwrap();
    let recorded = recipe::hooks::yaml::to_string(&fixture).unwrap();
    assert!(!recorded.contains("s3ss10n"), "cookie values are masked:\n{recorded}");
    assert!(recorded.contains("cookie: sid=<redacted>; theme=<redacted>"), "{recorded}");
    let replayed = replay_exactly("cookies", &text, &fixture);
    assert!(replayed.ok, "{:#?}", replayed.steps);
}

const SPLICED: &str = r#"recipe: 1
name: spliced
inputs:
  id: string
  vin: { type: string, pattern: "^[A-HJ-NPR-Z0-9]{17}$" }
env:
  BASE_URL: {}
http:
  base_url: "{{ env.BASE_URL }}"
steps:
  - id: user
    request: { method: GET, url: "/users/{{ inputs.id }}/cars/{{ inputs.vin }}?full=1" }
  - id: safe
    request: { method: GET, url: "/users/{{ inputs.id | urlencode }}" }
"#;

/// A value put into a URL's path as is, that may hold `?` or `#`, is a warning at its place
/// (`recipe check` still passes); one known to be URL-safe (a pattern that excludes them, or
/// `| urlencode`) is not.
#[test]
fn a_value_spliced_into_a_url_path_is_a_check_warning_at_its_place() {
    let plan = recipe::load_str("spliced.yaml", SPLICED).unwrap_or_else(|report| panic!("{report}"));
    let warnings: Vec<String> =
        plan.warnings.iter().map(|w| format!("{}:{} {:?} {}", w.span.unwrap().line, w.span.unwrap().col, w.severity, w.message)).collect();
    assert_eq!(warnings, ["12:42 Warning `inputs.id` is put into the URL's path as is: a `?` or `#` in it would change the query"]);

    let folder = std::env::temp_dir().join(format!("recipe-spliced-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("spliced.yaml"), SPLICED).unwrap();
    let checked =
        std::process::Command::new(env!("CARGO_BIN_EXE_recipe")).arg("check").arg("spliced.yaml").current_dir(&folder).output().unwrap();
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert_eq!(checked.status.code(), Some(0), "a warning does not fail the check: {stderr}");
    assert!(stderr.starts_with("warning: `inputs.id` is put into the URL's path as is"), "{stderr}");
    assert!(stderr.contains("--> spliced.yaml:12:42\n"), "{stderr}");
    assert!(stderr.contains("hint: write `{{ inputs.id | urlencode }}`"), "{stderr}");
    assert!(stderr.contains("spliced.yaml: ok (2 steps, 1 warning)"), "{stderr}");
    std::fs::remove_dir_all(&folder).unwrap();
}

/// At run time, a spliced value holding `?` fails the step before anything is sent, instead of
/// sending another path and query; `| urlencode` sends it inside the path.
#[test]
fn a_question_mark_spliced_into_a_url_path_fails_before_sending() {
    let server = block_on(FaultServer::start(vec![("GET", "/health", vec![Fault::Respond(Reply::json(200, &json!({})))])]));
    let run_with = |text: &str, id: &str| {
        let plan = recipe::load_str("spliced.yaml", text).unwrap();
        let base = server.url("");
        let lookup = move |name: &str| (name == "BASE_URL").then(|| base.clone());
        let mut options = Options::new(&lookup, Mode::Live);
        options.vars = vec![("id".to_owned(), id.to_owned()), ("vin".to_owned(), "1HGCM82633A004352".to_owned())];
        let mut session = prepare(&plan, options).unwrap();
        block_on(run(&plan, &session.params, &mut session.transport, &mut |_| {}))
    };
    let refused = run_with(SPLICED, "42?admin=1");
    assert!(!refused.ok);
    let reason = refused.steps[0].reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("`inputs.id` puts `?` into the URL's path (`42?admin=1`), which would start the query: nothing was sent"),
        "{reason}"
    );
    assert!(server.requests().is_empty(), "nothing was sent: {:?}", server.requests().iter().map(|r| &r.target).collect::<Vec<_>>());
    let hash = run_with(SPLICED, "42#x");
    assert!(hash.steps[0].reason.as_deref().unwrap_or_default().contains("puts `#` into the URL's path"), "{:?}", hash.steps[0].reason);

    run_with(SPLICED, "42");
    assert_eq!(server.requests()[0].target, "/users/42/cars/1HGCM82633A004352?full=1", "a plain value is sent as written");
    let encoded = SPLICED.replace("/users/{{ inputs.id }}/cars", "/users/{{ inputs.id | urlencode }}/cars");
    assert!(recipe::load_str("spliced.yaml", &encoded).unwrap().warnings.is_empty());
    run_with(&encoded, "42?admin=1");
    let targets: Vec<String> = server.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(targets.last().unwrap(), "/users/42%3Fadmin%3D1/cars/1HGCM82633A004352?full=1", "{targets:?}");
}
