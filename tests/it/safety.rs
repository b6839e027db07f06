//! Side effects are never lost, at the command line: outputs are checked before the first
//! request, a run that created something prints it and exits 4, a request whose outcome is
//! unknown exits 5, a broken stdout is an error and not a panic, a failed `--record` keeps the
//! previous fixture, and recorded retries replay the same way without waiting. The binary runs
//! against the fault server on 127.0.0.1.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::json;

use crate::faults::server::{Fault, FaultServer, Reply};
use crate::support::{block_on, root};

const SECRET: &str = "cli-safety-secret-5d1e";

fn server(lookup: Vec<Fault>, draft: Vec<Fault>) -> FaultServer {
    block_on(FaultServer::start(vec![("GET", "/lookup", lookup), ("POST", "/draft", draft)]))
}

fn ok_lookup() -> Fault {
    Fault::Respond(Reply::json(200, &json!({"found": true})))
}

fn created() -> Fault {
    Fault::Respond(Reply::json(201, &json!({"id": "d-1"})))
}

fn recipe(base: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recipe"));
    command
        .arg("run")
        .arg(root().join("tests/data/faults.yaml"))
        .args(args)
        .current_dir(root())
        .env("BASE_URL", base)
        .env("API_KEY", SECRET);
    command
}

fn text(output: &Output) -> (Option<i32>, String, String) {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET), "the secret leaked:\n{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    (output.status.code(), stdout, stderr)
}

#[test]
fn unwritable_outputs_are_refused_before_anything_is_sent() {
    let server = server(vec![ok_lookup()], vec![created()]);
    let folder = root().join("tests/data");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--report", "json", "--report-file", folder.to_str().unwrap()], "the report file"),
        (vec!["--record", folder.to_str().unwrap()], "the fixture"),
        (vec!["--report", "pdf", "--report-file", "report.pdf"], "invalid value 'pdf'"),
        (vec!["--cacert", "tests/data/no-such-ca.pem"], "tests/data/no-such-ca.pem"),
        (vec!["--cacert", "tests/data/inputs.yaml"], "is not a PEM file"),
        (vec!["--cacert", "tests/data/not-a-certificate.pem"], "(check `tests/data/not-a-certificate.pem`)"),
        (
            vec!["--client-cert", "tests/data/not-a-certificate.pem"],
            "cannot use the client certificate in `tests/data/not-a-certificate.pem`",
        ),
        (vec!["--client-key", "tests/data/not-a-certificate.pem"], "--client-cert <FILE>"),
    ];
    for (args, expected) in cases {
        let (code, stdout, stderr) = text(&recipe(&server.url(""), &args).output().unwrap());
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(stdout.is_empty());
    }
    assert_eq!(server.count("GET", "/lookup"), 0);
    assert_eq!(server.count("POST", "/draft"), 0);
}

#[test]
fn a_draft_created_before_a_failure_is_printed_and_exits_4() {
    // The create succeeds, but the response lacks the field the outputs read.
    let server = server(vec![ok_lookup()], vec![Fault::Respond(Reply::json(201, &json!({"draftUuid": "d-77"})))]);
    let (code, stdout, stderr) = text(&recipe(&server.url(""), &[]).output().unwrap());
    assert_eq!(code, Some(4), "{stderr}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(printed["completed"], false);
    assert_eq!(printed["side_effects"][0]["step"], "draft");
    assert_eq!(printed["side_effects"][0]["effect"], "created");
    assert_eq!(printed["side_effects"][0]["body"], json!({"draftUuid": "d-77"}));
    assert!(stderr.contains("cannot render output `draft_id`"), "{stderr}");
    assert!(stderr.contains("note: step `draft` already created something (POST /draft -> 201)"), "{stderr}");
    assert_eq!(server.count("POST", "/draft"), 1);
}

#[test]
fn a_post_whose_outcome_is_unknown_exits_5() {
    let server = server(vec![ok_lookup()], vec![Fault::ResetAfterRequest]);
    let (code, stdout, stderr) = text(&recipe(&server.url(""), &[]).output().unwrap());
    assert_eq!(code, Some(5), "{stderr}");
    assert!(stderr.contains("the POST may have been created; check before running again"), "{stderr}");
    let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed["side_effects"][0]["effect"], "in_doubt");
    assert_eq!(server.count("POST", "/draft"), 1);
}

#[test]
fn a_post_answered_2xx_or_303_whose_answer_breaks_is_in_doubt_not_failed() {
    for (fault, what) in [
        (Fault::Truncated(Reply::json(201, &json!({"id": "d-1", "padding": "xxxxxxxxxxxxxxxx"}))), "a 201 cut short"),
        (Fault::Respond(Reply::redirect(303, "/elsewhere")), "a 303 See Other"),
    ] {
        let server = server(vec![ok_lookup()], vec![fault]);
        let (code, _, stderr) = text(&recipe(&server.url(""), &[]).output().unwrap());
        assert_eq!(code, Some(5), "{what}: {stderr}");
        assert!(stderr.contains("check before running again"), "{what}: {stderr}");
        assert_eq!(server.count("POST", "/draft"), 1, "{what}: sent once");
    }
    // A 503 whose Retry-After does not parse is no proof the POST was not processed: not resent.
    let server = server(vec![ok_lookup()], vec![Fault::Respond(Reply::json(503, &json!({})).header("retry-after", "soon")), created()]);
    let (code, _, stderr) = text(&recipe(&server.url(""), &[]).output().unwrap());
    assert_ne!(code, Some(0), "{stderr}");
    assert_eq!(server.count("POST", "/draft"), 1, "{stderr}");
}

#[test]
fn a_closed_or_full_stdout_is_an_error_not_a_panic() {
    let replay = ["run", "recipes/draft.yaml", "--replay", "recipes/fixtures/draft/happy_path.yaml"];
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full exists on Linux");
    let output = Command::new(env!("CARGO_BIN_EXE_recipe")).args(replay).current_dir(root()).stdout(Stdio::from(full)).output().unwrap();
    let (code, _, stderr) = text(&output);
    // The replayed draft counts as created: its outputs are lost, so the code says so, and what
    // it created is on stderr instead.
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("error: cannot write the outputs to stdout"), "{stderr}");
    assert!(stderr.contains("what the run created, its outputs:") && stderr.contains("https://mykr.ma/s/Dr4ftX1"), "{stderr}");
    for args in [&["--help"][..], &["--version"], &["run", "--help"]] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_recipe")).args(args).stdout(Stdio::from(full)).output().unwrap();
        let (code, _, stderr) = text(&output);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("error: cannot write to stdout"), "{args:?}: {stderr}");
    }

    let mut child = Command::new(env!("CARGO_BIN_EXE_recipe"))
        .args(replay)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let (code, _, stderr) = text(&output);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("error: cannot write the outputs to stdout"), "{stderr}");
}

#[test]
fn a_failed_record_keeps_the_previous_fixture() {
    let folder = std::env::temp_dir().join(format!("recipe-safety-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let fixture = folder.join("case.yaml");
    let good = server(vec![ok_lookup()], vec![created()]);
    let (code, _, stderr) = text(&recipe(&good.url(""), &["--record", fixture.to_str().unwrap()]).output().unwrap());
    assert_eq!(code, Some(0), "{stderr}");
    let before = std::fs::read_to_string(&fixture).unwrap();

    let bad = server(vec![Fault::Respond(Reply::json(500, &json!({"message": "down"})))], vec![created()]);
    let (code, _, stderr) = text(&recipe(&bad.url(""), &["--record", fixture.to_str().unwrap()]).output().unwrap());
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(std::fs::read_to_string(&fixture).unwrap(), before, "the good fixture was replaced");
    let failed = folder.join("case.failed.yaml");
    assert!(stderr.contains(&format!("recorded it to {} and kept the previous fixture", failed.display())), "{stderr}");
    assert!(std::fs::read_to_string(&failed).unwrap().contains("status: 500"));
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn recorded_retries_replay_the_same_without_waiting() {
    let folder = std::env::temp_dir().join(format!("recipe-retries-{}", std::process::id()));
    let fixture = folder.join("retried.yaml");
    let server =
        server(vec![Fault::Stall, Fault::Respond(Reply::json(503, &json!({})).header("retry-after", "1")), ok_lookup()], vec![created()]);
    let (code, live_out, stderr) = text(&recipe(&server.url(""), &["--record", fixture.to_str().unwrap()]).output().unwrap());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("attempt 1: response_timeout; retrying in 100ms"), "{stderr}");
    assert!(stderr.contains("attempt 2: status 503; retrying in 1s (Retry-After)"), "{stderr}");
    let recorded = std::fs::read_to_string(&fixture).unwrap();
    assert!(recorded.contains("kind: response_timeout"), "{recorded}");
    assert!(!recorded.contains(SECRET));
    drop(server);

    let started = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_recipe"))
        .args(["run", "tests/data/faults.yaml", "--replay", fixture.to_str().unwrap()])
        .current_dir(root())
        .env_remove("API_KEY")
        .env_remove("BASE_URL")
        .output()
        .unwrap();
    let (code, replay_out, stderr) = text(&output);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(replay_out, live_out);
    assert!(stderr.contains("attempt 2: status 503; retrying in 1s (Retry-After)"), "{stderr}");
    assert!(stderr.contains("3 attempts"), "{stderr}");
    // The virtual clock: the recorded one-second wait is not slept again.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(Path::new(&fixture).exists());
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn a_report_over_the_file_size_limit_is_an_error_after_the_run_not_a_silent_death() {
    // `ulimit -f 2` (1 KiB) in `sh`: the JSON report of the draft replay is larger. SIGXFSZ is
    // ignored, so the write fails, the temporary file goes, and the draft's outputs are printed
    // with exit 4 (it was created).
    let folder = std::env::temp_dir().join(format!("recipe-ulimit-report-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let report = folder.join("report.json");
    let output = Command::new("sh")
        .args(["-c", "ulimit -f 2 && exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_recipe"), "run", "recipes/draft.yaml"])
        .args(["--replay", "recipes/fixtures/draft/happy_path.yaml", "--report", "json", "--report-file"])
        .arg(&report)
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (code, stdout, stderr) = text(&output);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("cannot write the report") && stderr.contains("File too large"), "{stderr}");
    assert!(stdout.contains("\"scheduler_link\""), "{stdout}");
    let left: Vec<_> = std::fs::read_dir(&folder).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    std::fs::remove_dir_all(&folder).unwrap();
}
