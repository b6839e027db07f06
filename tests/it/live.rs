//! The real HTTP path: `draft.yaml` through the live reqwest transport against the fixture
//! server listening on 127.0.0.1. Traffic stays on loopback; every request has a timeout.

use recipe::Fixture;
use recipe::Mode;
use recipe::run;

use crate::support::{block_on, live_session, plan, replay, root};
use recipe::hooks::snapshot::value as snapshot_value;

const SECRET: &str = "cmVjaXBlLXRlc3Q6c2VjcmV0LXZhbHVlLTQyNDI=";

#[test]
fn draft_runs_over_real_http_like_under_replay() {
    let fixture_path = root().join("recipes/fixtures/draft/happy_path.yaml");
    let fixture = Fixture::read(&fixture_path).unwrap();
    let plan = plan(&root().join("recipes/draft.yaml"));
    let (live, recorded) = block_on(async {
        let server = recipe::hooks::serve::start(vec![fixture.clone()], 0).await.unwrap();
        let base = format!("http://{}", server.address);
        let lookup = move |name: &str| match name {
            "MYKAARMA_BASE_URL" => Some(base.clone()),
            "MYKAARMA_BASIC_AUTH" => Some(SECRET.to_owned()),
            _ => None,
        };
        let mut session = live_session(&plan, &fixture, &lookup, Mode::Record);
        let mut lines = Vec::new();
        let result = run(&plan, &session.params, &mut session.transport, &mut |event| {
            if let recipe::Event::Step(step) = event {
                lines.push(recipe::hooks::progress(step, 12));
            }
        })
        .await;
        let exchanges = session.fixture(None, &result).unwrap().exchanges;
        ((result, lines), exchanges)
    });
    let (result, lines) = live;
    assert!(result.ok, "{:#?}", result.steps);
    let replayed = replay(&fixture_path);
    assert_eq!(result.outputs, replayed.outputs);
    // The same requests went over the wire as the recording holds (masked, relative URLs).
    assert_eq!(snapshot_value(&result)["requests"], snapshot_value(&replayed)["requests"]);
    assert_eq!(recorded.len(), fixture.exchanges.len());
    for (sent, expected) in recorded.iter().zip(&fixture.exchanges) {
        assert_eq!(serde_json::to_value(&sent.request).unwrap(), serde_json::to_value(&expected.request).unwrap());
    }
    // The secret went out in the Authorization header, and appears in no output.
    let everything = format!("{}\n{}\n{:?}", serde_json::to_string(&result).unwrap(), lines.join("\n"), recorded);
    assert!(!everything.contains(SECRET), "the secret leaked");
    assert!(everything.contains("Basic <MYKAARMA_BASIC_AUTH>"));
}

#[test]
fn an_unreachable_server_is_a_clear_step_error() {
    let fixture = Fixture::read(&root().join("recipes/fixtures/advisors/found.yaml")).unwrap();
    let plan = plan(&root().join("recipes/advisors.yaml"));
    let result = block_on(async {
        // Bind and drop a listener to get a loopback port that refuses connections.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let lookup = move |name: &str| match name {
            "MYKAARMA_BASE_URL" => Some(base.clone()),
            "MYKAARMA_BASIC_AUTH" => Some(SECRET.to_owned()),
            _ => None,
        };
        let mut session = live_session(&plan, &fixture, &lookup, Mode::Live);
        run(&plan, &session.params, &mut session.transport, &mut |_| {}).await
    });
    assert!(!result.ok);
    let reason = result.steps[0].reason.clone().unwrap();
    assert!(reason.starts_with("cannot connect to http://127.0.0.1:"), "{reason}");
}
