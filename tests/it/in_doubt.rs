//! The in-doubt rule at the command line: a non-idempotent request answered with a server error
//! (500, 502, 503 without a `Retry-After` the retry policy honours, 504) has an unknown outcome,
//! so the run exits 5 with the "may have been created; check before running again" message and
//! prints its outputs so far, and a batch row is `in_doubt` (not rerun by `--resume`). A 4xx,
//! or a 503 whose `Retry-After` says it was not processed, stays a failure (exit 1). Above all,
//! a message that says the request may have taken effect never comes with exit 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value as Json, json};

use crate::faults::server::{Fault, FaultServer, Reply};
use crate::support::{block_on, root};

const SECRET: &str = "in-doubt-secret-4be1";

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A scratch folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let folder = std::env::temp_dir().join(format!("recipe-in-doubt-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).unwrap();
        Self(folder)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn server(draft: Vec<Fault>) -> FaultServer {
    let found = Fault::Respond(Reply::json(200, &json!({"found": true})));
    block_on(FaultServer::start(vec![("GET", "/lookup", vec![found]), ("POST", "/draft", draft)]))
}

fn run(recipe: &Path, server: &FaultServer, scratch: &Scratch, args: &[&str]) -> Ran {
    let output = Command::new(env!("CARGO_BIN_EXE_recipe"))
        .arg("run")
        .arg(recipe)
        .args(args)
        .current_dir(&scratch.0)
        .env("BASE_URL", server.url(""))
        .env("API_KEY", SECRET)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    let ran = Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(!ran.stdout.contains(SECRET) && !ran.stderr.contains(SECRET), "the secret leaked:\n{}\n{}", ran.stdout, ran.stderr);
    assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
    ran
}

/// The fault recipe (a GET, then a POST) with an output known before the POST.
fn recipe(scratch: &Scratch) -> PathBuf {
    let text = std::fs::read_to_string(root().join("tests/data/faults.yaml")).unwrap().replace(
        "outputs:\n  draft_id: \"{{ steps.draft.body.id }}\"",
        "outputs:\n  found: \"{{ steps.lookup.body.found }}\"\n  draft_id: \"{{ steps.draft.body.id | default(none) }}\"",
    );
    assert!(text.contains("found:"), "the fault recipe's outputs changed");
    let path = scratch.0.join("faults.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn says_it_may_have_acted(text: &str) -> bool {
    text.contains("may have taken effect") || text.contains("may have been created")
}

fn error(status: u16) -> Reply {
    Reply::json(status, &json!({"error": format!("status {status}")}))
}

#[test]
fn a_server_error_on_a_post_exits_5_with_the_in_doubt_message_and_the_outputs_so_far() {
    let scratch = Scratch::new("single");
    let recipe = recipe(&scratch);
    for (name, reply) in [
        ("500", error(500)),
        ("502", error(502)),
        ("503 without Retry-After", error(503)),
        ("503 with an unreadable Retry-After", error(503).header("retry-after", "soon")),
        ("504", error(504)),
    ] {
        let server = server(vec![Fault::Respond(reply)]);
        let ran = run(&recipe, &server, &scratch, &[]);
        assert_eq!(ran.code, Some(5), "{name}: {}", ran.stderr);
        assert!(ran.stderr.contains("IN DOUBT"), "{name}: {}", ran.stderr);
        assert!(ran.stderr.contains("may have been created; check before running again"), "{name}: {}", ran.stderr);
        let printed: Json =
            serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("{name}: stdout is not JSON ({e}): {}", ran.stdout));
        assert_eq!(printed["outputs"]["found"], json!(true), "{name}: the outputs so far are on stdout: {}", ran.stdout);
        assert_eq!(printed["side_effects"][0]["effect"], "in_doubt", "{name}: {}", ran.stdout);
        assert_eq!(server.count("POST", "/draft"), 1, "{name}: sent once, never again");
    }
}

#[test]
fn a_refusal_stays_a_failure() {
    let scratch = Scratch::new("refused");
    let recipe = recipe(&scratch);
    for (name, reply) in [("400", error(400)), ("409", error(409)), ("501", error(501))] {
        let server = server(vec![Fault::Respond(reply)]);
        let ran = run(&recipe, &server, &scratch, &[]);
        assert_eq!(ran.code, Some(1), "{name}: {}", ran.stderr);
        assert!(!says_it_may_have_acted(&ran.stderr), "{name}: {}", ran.stderr);
    }
    // A 503 whose Retry-After says it was not processed is retried; when it keeps saying so, the
    // run fails without doubt.
    let server = server(vec![Fault::Respond(error(503).header("retry-after", "0"))]);
    let ran = run(&recipe, &server, &scratch, &[]);
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(!says_it_may_have_acted(&ran.stderr), "{}", ran.stderr);
    assert_eq!(server.count("POST", "/draft"), 3, "retried: the server said it did not process it");
}

#[test]
fn a_message_that_says_the_request_may_have_acted_never_comes_with_exit_1() {
    let scratch = Scratch::new("agree");
    let recipe = recipe(&scratch);
    let faults = [
        Fault::Respond(error(400)),
        Fault::Respond(error(404)),
        Fault::Respond(error(429)),
        Fault::Respond(error(500)),
        Fault::Respond(error(501)),
        Fault::Respond(error(502)),
        Fault::Respond(error(503)),
        Fault::Respond(error(503).header("retry-after", "0")),
        Fault::Respond(error(504)),
        Fault::Respond(error(507)),
        Fault::Respond(Reply::text(200, "text/html", "<html>Sign in</html>")),
        Fault::ResetAfterRequest,
        Fault::Stall,
    ];
    for fault in faults {
        let described = format!("{fault:?}").chars().take(120).collect::<String>();
        let server = server(vec![fault]);
        let ran = run(&recipe, &server, &scratch, &[]);
        assert_ne!(ran.code, Some(0), "{described}: {}", ran.stderr);
        if says_it_may_have_acted(&ran.stderr) {
            assert_eq!(
                ran.code,
                Some(5),
                "{described}: the message says the POST may have acted, the exit code disagrees:\n{}",
                ran.stderr
            );
        }
        if ran.code == Some(5) {
            assert!(says_it_may_have_acted(&ran.stderr), "{described}: exit 5 without saying why:\n{}", ran.stderr);
        }
    }
}

#[test]
fn a_batch_row_answered_500_is_in_doubt_and_not_rerun_by_resume() {
    let scratch = Scratch::new("batch");
    let server = server(vec![Fault::Respond(error(500))]);
    let rows = scratch.0.join("rows.csv");
    std::fs::write(&rows, "vin,last_name\n1HGCM82633A004352,Smith\n").unwrap();
    let out = scratch.0.join("results.jsonl");
    let args = ["--rows", rows.to_str().unwrap(), "--out", out.to_str().unwrap(), "--key", "vin"];
    let batch = root().join("tests/data/batch.yaml");
    let ran = run(&batch, &server, &scratch, &args);
    assert_ne!(ran.code, Some(0), "{}", ran.stderr);
    assert!(ran.stderr.contains("0 ok, 0 failed, 1 in doubt"), "{}", ran.stderr);
    let outcome = |path: &Path| -> Vec<Json> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str::<Json>(line).unwrap())
            .filter(|line| line.get("outcome").is_some())
            .collect()
    };
    let lines = outcome(&out);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["outcome"], "in_doubt", "{lines:#?}");
    assert_eq!(lines[0]["effect"], "in_doubt", "{lines:#?}");
    assert_eq!(server.count("POST", "/draft"), 1);

    // Resumed without --retry-in-doubt, the row is not sent again.
    let resumed = run(&batch, &server, &scratch, &[&args[..], &["--resume"]].concat());
    assert!(resumed.stderr.contains("1 in doubt"), "{}", resumed.stderr);
    assert_eq!(server.count("POST", "/draft"), 1, "--resume sent a draft that may exist");
}

#[test]
fn an_optional_post_in_doubt_stops_the_run_with_exit_5() {
    // `optional` passes over a failure, not a request that may have taken effect.
    let scratch = Scratch::new("optional");
    let text = std::fs::read_to_string(root().join("tests/data/faults.yaml"))
        .unwrap()
        .replace("  - id: draft\n    request:", "  - id: draft\n    optional: true\n    request:")
        .replace("draft_id: \"{{ steps.draft.body.id }}\"", "draft_id: \"{{ steps.draft.body.id | default(none) }}\"");
    assert!(text.contains("optional: true"), "the fault recipe changed");
    let recipe = scratch.0.join("optional.yaml");
    std::fs::write(&recipe, text).unwrap();
    let failing = server(vec![Fault::Respond(error(500))]);
    let ran = run(&recipe, &failing, &scratch, &[]);
    assert_eq!(ran.code, Some(5), "{}", ran.stderr);
    assert!(ran.stderr.contains("may have been created; check before running again"), "{}", ran.stderr);
    assert!(!ran.stderr.contains("completed;"), "{}", ran.stderr);
    // A refused optional POST is still passed over.
    let refusing = server(vec![Fault::Respond(error(400))]);
    let ran = run(&recipe, &refusing, &scratch, &[]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(ran.stderr.contains("1 optional step failed: draft"), "{}", ran.stderr);
}

#[test]
fn sigterm_during_the_post_of_a_single_run_reports_it_in_doubt_with_the_outputs_so_far() {
    let scratch = Scratch::new("sigterm");
    let slow = std::fs::read_to_string(recipe(&scratch)).unwrap().replace("timeout: 300ms", "timeout: 20s");
    let recipe = scratch.0.join("slow.yaml");
    std::fs::write(&recipe, slow).unwrap();
    let server = server(vec![Fault::Stall]);
    let fixture = scratch.0.join("draft.fixture.json");
    let child = Command::new(env!("CARGO_BIN_EXE_recipe"))
        .arg("run")
        .arg(&recipe)
        .args(["--record", fixture.to_str().unwrap()])
        .current_dir(&scratch.0)
        .env("BASE_URL", server.url(""))
        .env("API_KEY", SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while server.count("POST", "/draft") < 1 {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "the draft never reached the server");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let output = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "the stalled POST (20s timeout) was awaited");
    assert_eq!(output.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("stopped by SIGTERM while the request was in flight"), "{stderr}");
    assert!(says_it_may_have_acted(&stderr), "{stderr}");
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
    let printed: Json = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}"));
    assert_eq!(printed["outputs"]["found"], json!(true), "the outputs so far: {stdout}");
    assert_eq!(printed["side_effects"][0]["effect"], "in_doubt", "{stdout}");
    // What was recorded so far is kept beside the fixture it would have been.
    let kept: Vec<String> = std::fs::read_dir(&scratch.0)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("draft.fixture"))
        .collect();
    assert!(!kept.is_empty() && kept.iter().all(|name| !name.contains(".tmp")), "{kept:?}\n{stderr}");
}

#[test]
fn a_report_that_cannot_be_written_after_the_draft_exits_4_and_leaves_no_torn_file() {
    let scratch = Scratch::new("full");
    let recipe = recipe(&scratch);
    // A large draft answer: the report and the fixture hold it, and cannot be written under a
    // 8 KiB file size limit (as on a full disk, the write fails part way).
    let created = Reply::json(201, &json!({"id": "d-1", "padding": "x".repeat(64 * 1024)}));
    let server = server(vec![Fault::Respond(created)]);
    let report = scratch.0.join("report.json");
    let fixture = scratch.0.join("draft.fixture.yaml");
    let output = Command::new("sh")
        .args(["-c", "trap '' XFSZ; ulimit -f 16; exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_recipe"))
        .arg("run")
        .arg(&recipe)
        .args(["--report", "json", "--report-file", report.to_str().unwrap(), "--record", fixture.to_str().unwrap()])
        .current_dir(&scratch.0)
        .env("BASE_URL", server.url(""))
        .env("API_KEY", SECRET)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(server.count("POST", "/draft"), 1);
    assert_eq!(output.status.code(), Some(4), "a draft was created: never 2\n{stderr}");
    assert!(stderr.contains("error: cannot write the report"), "{stderr}");
    assert!(stderr.contains("note: the run created something"), "{stderr}");
    assert!(stdout.contains("d-1"), "the outputs are printed: {stdout}");
    let left: Vec<String> =
        std::fs::read_dir(&scratch.0).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!left.iter().any(|name| name.starts_with("report") || name.contains(".tmp")), "a torn or temporary file: {left:?}");
}
