//! The integrator's loop, end to end with the real binary: record a case against
//! `recipe serve` (standing in for the API), accept its snapshot, change one field of the
//! recipe, see `recipe test` fail with exactly that field in the diff, accept, pass again.
//! A recognisable secret goes in through the environment and must appear in no output.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::root;

const SECRET: &str = "d29ya2Zsb3c6c2VjcmV0LXZhbHVlLTc3Nzc=";

fn recipe(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recipe"));
    command.args(args).current_dir(dir).env_remove("MYKAARMA_BASIC_AUTH").env_remove("MYKAARMA_BASE_URL");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `recipe serve` on a free loopback port and waits (bounded) until it accepts.
fn serve(fixture: &Path) -> (Server, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_recipe"))
        .args(["serve", &fixture.to_string_lossy(), "--port", &port.to_string()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "recipe serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, port)
}

#[test]
fn record_change_test_accept() {
    let dir = std::env::temp_dir().join(format!("recipe-workflow-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("recipes")).unwrap();
    std::fs::copy(root().join("recipes/draft.yaml"), dir.join("recipes/draft.yaml")).unwrap();
    std::fs::write(
        dir.join("inputs.yaml"),
        std::fs::read_to_string(root().join("tests/data/inputs.yaml")).unwrap() + "opcodes: [\"01OIL\"]\n",
    )
    .unwrap();
    let mut outputs = Vec::new();

    // 1. Record against the stand-in API, with a secret and a JSON report.
    let (server, port) = serve(&root().join("recipes/fixtures/draft/happy_path.yaml"));
    let base = format!("http://127.0.0.1:{port}");
    let env = [("MYKAARMA_BASE_URL", base.as_str()), ("MYKAARMA_BASIC_AUTH", SECRET)];
    let recorded = recipe(
        &[
            "run",
            "recipes/draft.yaml",
            "--vars",
            "inputs.yaml",
            "--record",
            "recipes/fixtures/draft/mine.yaml",
            "--report",
            "json",
            "--report-file",
            "run.json",
        ],
        &dir,
        &env,
    );
    drop(server);
    assert!(recorded.status.success(), "{}", text(&recorded));
    assert!(text(&recorded).contains("https://mykr.ma/s/Dr4ftX1"));
    outputs.push(text(&recorded));

    // 2. A new case has no snapshot: reported, and the run fails until accepted.
    let new = recipe(&["test"], &dir, &[]);
    assert_eq!(new.status.code(), Some(1), "{}", text(&new));
    assert!(text(&new).contains("new draft/mine"), "{}", text(&new));
    let accepted = recipe(&["test", "--accept"], &dir, &[]);
    assert!(accepted.status.success(), "{}", text(&accepted));
    let snapshot_path = dir.join("recipes/fixtures/draft/snapshots/mine.snap");
    let before = std::fs::read_to_string(&snapshot_path).unwrap();
    let passing = recipe(&["test", "--report", "junit", "--report-file", "junit.xml"], &dir, &[]);
    assert!(passing.status.success(), "{}", text(&passing));
    outputs.extend([text(&new), text(&accepted), text(&passing)]);

    // 3. Change one field of the draft body: the test fails with exactly that field in the diff.
    let recipe_path = dir.join("recipes/draft.yaml");
    let edited = std::fs::read_to_string(&recipe_path)
        .unwrap()
        .replace("preFilledLinkMetaData: { source: email }", "preFilledLinkMetaData: { source: sms }");
    std::fs::write(&recipe_path, edited).unwrap();
    let failing = recipe(&["test", "--report", "json", "--report-file", "test.json"], &dir, &[]);
    let failure = text(&failing);
    assert_eq!(failing.status.code(), Some(1), "{failure}");
    let changed: Vec<&str> =
        // The diff's own lines, indented by four: a marker first, then the snapshot's line.
        failure.lines().filter(|l| l.strip_prefix("    ").is_some_and(|diff| diff.starts_with(['-', '+'])) && !l.contains("---") && !l.contains("+++")).collect();
    assert_eq!(changed.len(), 2, "{failure}");
    assert!(changed[0].trim_start().starts_with('-') && changed[0].ends_with("preFilledLinkMetaData: { source: email }"), "{failure}");
    assert!(changed[1].trim_start().starts_with('+') && changed[1].ends_with("preFilledLinkMetaData: { source: sms }"), "{failure}");

    // 4. Accept: passes again, and the snapshot file changed by exactly that line.
    let accepted = recipe(&["test", "--accept"], &dir, &[]);
    assert!(accepted.status.success(), "{}", text(&accepted));
    let after = std::fs::read_to_string(&snapshot_path).unwrap();
    let diff: Vec<String> = similar::TextDiff::from_lines(&before, &after)
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal)
        .map(|c| format!("{}{}", c.tag(), c.value().trim()))
        .collect();
    assert_eq!(diff, vec!["-preFilledLinkMetaData: { source: email }", "+preFilledLinkMetaData: { source: sms }"]);
    assert!(recipe(&["test"], &dir, &[]).status.success());
    outputs.extend([failure, text(&accepted)]);

    // The reports say what happened.
    let run_report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_report["ok"], true);
    let steps = run_report["steps"].as_array().unwrap();
    let plan = crate::support::plan(&dir.join("recipes/draft.yaml"));
    assert_eq!(steps.len(), plan.recipe().steps.len());
    let search = steps.iter().find(|step| step["id"] == "search").expect("the search step is reported");
    assert_eq!(search["response"]["status"], 200);
    assert!(search["duration_ms"].is_u64());
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(junit.contains(r#"<testcase classname="draft" name="mine""#) && junit.contains(r#"tests="1" failures="0""#), "{junit}");
    let test_report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("test.json")).unwrap()).unwrap();
    assert_eq!(test_report["cases"][0]["verdict"], "changed");

    // 5. The secret is in no output, fixture, snapshot or report.
    let mut files = vec![
        dir.join("recipes/fixtures/draft/mine.yaml"),
        snapshot_path,
        dir.join("run.json"),
        dir.join("junit.xml"),
        dir.join("test.json"),
    ];
    files.retain(|f| f.exists());
    assert_eq!(files.len(), 5);
    for file in &files {
        outputs.push(std::fs::read_to_string(file).unwrap());
    }
    for output in &outputs {
        assert!(!output.contains(SECRET), "the secret leaked into:\n{output}");
    }
    assert!(std::fs::read_to_string(&files[0]).unwrap().contains("Basic <MYKAARMA_BASIC_AUTH>"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dynamic_values_and_volatile_fields_replay_the_same() {
    let dir = std::env::temp_dir().join(format!("recipe-dynamic-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("recipes")).unwrap();
    let recipe_text = r#"recipe: 1
name: dynamic
env:
  BASE: {}
http: { base_url: "{{ env.BASE }}" }
recording:
  volatile: [$.requestId]
steps:
  - id: first
    request:
      method: POST
      url: /things
      headers: { X-Request-Id: "{{ uuid() }}" }
      json: { at: "{{ now(tz='America/Chicago') }}", day: "{{ today(tz='Asia/Tokyo') }}" }
  - id: second
    request:
      method: GET
      url: /things/{{ steps.first.body.requestId }}
outputs:
  id: "{{ steps.first.body.requestId }}"
"#;
    std::fs::write(dir.join("recipes/dynamic.yaml"), recipe_text).unwrap();
    // The stand-in API: a seed fixture served by method and URL.
    let seed = dir.join("seed.yaml");
    std::fs::write(
        &seed,
        r#"fixture: 1
exchanges:
  - step: seed
    request: { method: POST, url: /things }
    response: { status: 200, headers: { content-type: application/json }, json: { requestId: "req-8f3a" } }
  - step: seed
    request: { method: GET, url: /things/req-8f3a }
    response: { status: 200, headers: { content-type: application/json }, json: { ok: true } }
"#,
    )
    .unwrap();
    let (server, port) = serve(&seed);
    let base = format!("http://127.0.0.1:{port}");
    let recorded =
        recipe(&["run", "recipes/dynamic.yaml", "--record", "recipes/fixtures/dynamic/one.yaml"], &dir, &[("BASE", base.as_str())]);
    drop(server);
    assert!(recorded.status.success(), "{}", text(&recorded));
    let fixture = std::fs::read_to_string(dir.join("recipes/fixtures/dynamic/one.yaml")).unwrap();
    // The volatile id is normalised in the response and in the later request's URL.
    assert!(fixture.contains("requestId: <volatile:1>") && fixture.contains("url: /things/<volatile:1>"), "{fixture}");
    assert!(!fixture.contains("req-8f3a"), "{fixture}");
    assert!(fixture.contains("function: uuid") && fixture.contains("function: now"), "{fixture}");
    // Strict replay sends the recorded uuid and time again, so it matches the recording.
    let replayed = recipe(
        &["run", "recipes/dynamic.yaml", "--replay", "recipes/fixtures/dynamic/one.yaml"],
        &dir,
        &[("BASE", "http://unused.invalid")],
    );
    assert!(replayed.status.success(), "{}", text(&replayed));
    // And two `recipe test` runs give the same snapshot.
    assert!(recipe(&["test", "--accept"], &dir, &[]).status.success());
    let first = std::fs::read_to_string(dir.join("recipes/fixtures/dynamic/snapshots/one.snap")).unwrap();
    let again = recipe(&["test"], &dir, &[]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(first.contains("x-request-id:"), "{first}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_recording_is_not_a_case_and_two_files_of_one_name_are_refused() {
    let dir = std::env::temp_dir().join(format!("recipe-cases-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cases = dir.join("recipes/fixtures/advisors");
    std::fs::create_dir_all(cases.join("snapshots")).unwrap();
    std::fs::copy(root().join("recipes/advisors.yaml"), dir.join("recipes/advisors.yaml")).unwrap();
    let source = root().join("recipes/fixtures/advisors");
    std::fs::copy(source.join("found.yaml"), cases.join("found.yaml")).unwrap();
    std::fs::copy(source.join("snapshots/found.snap"), cases.join("snapshots/found.snap")).unwrap();
    // What `--record` leaves beside a good fixture when the run failed.
    std::fs::copy(source.join("found.yaml"), cases.join("found.failed.yaml")).unwrap();
    let tested = recipe(&["test"], &dir, &[]);
    assert!(tested.status.success(), "{}", text(&tested));
    assert!(!text(&tested).contains("found.failed") && text(&tested).contains("1 passed"), "not a case: {}", text(&tested));
    std::fs::copy(source.join("found.yaml"), cases.join("found.yml")).unwrap();
    let tested = recipe(&["test"], &dir, &[]);
    assert!(!tested.status.success(), "{}", text(&tested));
    assert!(text(&tested).contains("are one case (they share a snapshot); rename one"), "{}", text(&tested));
    std::fs::remove_dir_all(&dir).unwrap();
}
