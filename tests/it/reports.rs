//! Reports and messages with the real binary: the JSON, `JUnit` and HTML reports of `run` and
//! `test` (parsed, not grepped), `--report-file -`, status failures, replays with more or fewer
//! requests than recorded, `recipe test`'s errors for orphan fixtures and corrupt snapshots,
//! control characters, colour, `-v`/`-q` and `.env` errors. The recipe is
//! `tests/data/whoami.yaml`, replayed from `tests/data/replays/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::cli::run;
use crate::support::root;

const OK: &str = "tests/data/replays/whoami-ok.yaml";
const UNAUTHORIZED: &str = "tests/data/replays/whoami-401.yaml";

/// Runs the binary in `dir` (the repository root by default), without the variables that change
/// its output.
fn recipe(args: &[&str], dir: Option<&Path>, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recipe"));
    command.args(args).current_dir(dir.map_or_else(root, Path::to_path_buf));
    for name in ["WHOAMI_TOKEN", "WHOAMI_BASE_URL", "NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE"] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A fresh scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("recipe-reports-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("not JSON ({error}):\n{text}"))
}

#[test]
fn a_status_failure_shows_the_status_text_content_type_and_a_pretty_excerpt_of_the_body() {
    insta::assert_snapshot!(run(&["run", "tests/data/whoami.yaml", "--replay", UNAUTHORIZED], &[]));
}

#[test]
fn more_or_fewer_requests_than_recorded_name_the_step_and_what_was_expected() {
    let more = run(&["run", "tests/data/whoami.yaml", "--replay", "tests/data/replays/whoami-short.yaml"], &[]);
    let fewer = run(&["run", "tests/data/whoami.yaml", "--replay", "tests/data/replays/whoami-extra.yaml"], &[]);
    insta::assert_snapshot!(format!("{more}\n=== fewer\n{fewer}"));
}

#[test]
fn the_json_report_on_stdout_has_the_recipe_inputs_outputs_time_and_every_error() {
    let ok = recipe(&["run", "tests/data/whoami.yaml", "--replay", OK, "--report", "json", "--report-file", "-"], None, &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    // stdout holds the report alone; the outputs go to stderr instead.
    let report = json(&stdout(&ok));
    assert!(stderr(&ok).contains("\"name\": \"Jordan Doe\""), "{}", stderr(&ok));
    assert_eq!(report["recipe"], "whoami");
    assert_eq!(report["file"], "tests/data/whoami.yaml");
    assert_eq!(report["ok"], true);
    assert!(report["duration_ms"].is_u64());
    assert_eq!(report["error"], serde_json::Value::Null);
    assert_eq!(report["inputs"], serde_json::json!({ "user": "jdoe" }));
    assert_eq!(report["outputs"], serde_json::json!({ "name": "Jordan Doe" }));
    assert_eq!(report["steps"].as_array().unwrap().len(), 2);
    assert_eq!(report["steps"][1]["response"]["status"], 200);
    assert!(report["steps"][1].get("error").is_none());
    assert_eq!((report["optional_failures"].as_array().map(Vec::len), report["side_effects"].as_array().map(Vec::len)), (Some(0), Some(0)));

    let failed = recipe(&["run", "tests/data/whoami.yaml", "--replay", UNAUTHORIZED, "--report", "json", "--report-file", "-"], None, &[]);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    let report = json(&stdout(&failed));
    let step = &report["steps"][0];
    assert_eq!((step["id"].as_str(), step["status"].as_str(), step["error_kind"].as_str()), (Some("me"), Some("failed"), Some("status")));
    let error = step["error"].as_str().expect("the failed step has its error");
    assert!(error.starts_with("status 401 Unauthorized, expected 2xx: API error TOKEN_EXPIRED"), "{error}");
    assert!(report["error"].as_str().unwrap().starts_with("step `me` failed: status 401 Unauthorized"), "{report:#}");
    assert_eq!(report["outputs"], serde_json::Value::Null);
    assert_eq!(step["attempts"][0]["response"]["status"], 401);
}

#[test]
fn report_inputs_are_masked() {
    let secret = "s3cret-token-value";
    let dir = scratch("masked");
    let path = dir.join("report.json");
    let output = recipe(
        &["run", "tests/data/whoami.yaml", "--replay", OK, "--var", &format!("user={secret}"), "--report", "json", "--report-file"],
        None,
        &[("WHOAMI_TOKEN", secret)],
    );
    // Without a file name: clap refuses, nothing runs.
    assert_eq!(output.status.code(), Some(2));
    let output = recipe(
        &[
            "run",
            "tests/data/whoami.yaml",
            "--replay",
            OK,
            "--var",
            &format!("user={secret}"),
            "--report",
            "json",
            "--report-file",
            path.to_str().unwrap(),
        ],
        None,
        &[("WHOAMI_TOKEN", secret)],
    );
    assert_eq!(output.status.code(), Some(1), "the replayed URL differs: {}", stderr(&output));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(secret) && !stderr(&output).contains(secret), "{text}");
    assert_eq!(json(&text)["inputs"]["user"], "<WHOAMI_TOKEN>");
    assert!(stderr(&output).contains(&format!("wrote the json report to {}", path.display())), "{}", stderr(&output));
}

#[test]
fn the_junit_run_report_is_valid_xml_with_the_failed_step() {
    let dir = scratch("junit");
    let path = dir.join("run.xml");
    let output = recipe(
        &["run", "tests/data/whoami.yaml", "--replay", UNAUTHORIZED, "--report", "junit", "--report-file", path.to_str().unwrap()],
        None,
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let xml = std::fs::read_to_string(&path).unwrap();
    let document = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let suite = document.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
    assert_eq!((suite.attribute("name"), suite.attribute("tests"), suite.attribute("failures")), (Some("whoami"), Some("1"), Some("1")));
    let case = suite.children().find(|n| n.has_tag_name("testcase")).unwrap();
    assert_eq!((case.attribute("classname"), case.attribute("name")), (Some("whoami"), Some("me")));
    let failure = case.children().find(|n| n.has_tag_name("failure")).unwrap();
    assert_eq!(failure.attribute("type"), Some("status"));
    assert_eq!(failure.attribute("message"), Some("status 401 Unauthorized, expected 2xx: API error TOKEN_EXPIRED"));
    assert!(failure.text().unwrap().contains("\"code\": \"TOKEN_EXPIRED\""), "{xml}");

    // A failure outside any step (a request recorded but never sent) is a case of its own.
    let output = recipe(
        &["run", "tests/data/whoami.yaml", "--replay", "tests/data/replays/whoami-extra.yaml", "--report", "junit", "--report-file", "-"],
        None,
        &[],
    );
    let xml = stdout(&output);
    let document = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let error = document.descendants().find(|n| n.has_tag_name("error")).expect("the run's error");
    assert!(error.attribute("message").unwrap().starts_with("the recipe sent fewer requests than the fixture recorded"), "{xml}");
}

/// What makes a file load something from elsewhere.
fn external_references(html: &str) -> Vec<String> {
    let pattern =
        regex::Regex::new(r#"(?i)(src|href|action|srcset|poster|data)\s*=\s*"[a-z]*:?//|<link|<script|<iframe|<img|@import|url\("#)
            .unwrap();
    pattern.find_iter(html).map(|m| m.as_str().to_owned()).collect()
}

#[test]
fn the_html_run_report_is_self_contained_escaped_and_well_formed() {
    let dir = scratch("html-run");
    let path = dir.join("run.html");
    let output =
        recipe(&["run", "tests/data/whoami.yaml", "--replay", OK, "--report", "html", "--report-file", path.to_str().unwrap()], None, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert_eq!(external_references(&html), Vec::<String>::new());
    // The bio's markup and control character are text.
    assert!(html.contains("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; \\u001b[2J done"), "{html}");
    assert!(!html.contains('\u{1b}'));
    let document = roxmltree::Document::parse_with_options(&html, roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() })
        .unwrap_or_else(|e| panic!("not well-formed: {e}"));
    let title = document.descendants().find(|n| n.has_tag_name("title")).and_then(|n| n.text()).unwrap();
    assert_eq!(title, "whoami: succeeded (recipe run)");
    assert_eq!(document.descendants().find(|n| n.has_tag_name("h1")).and_then(|n| n.text()), Some("whoami"));
    let rows: Vec<_> =
        document.descendants().filter(|n| n.has_tag_name("tbody")).flat_map(|b| b.children().filter(|n| n.has_tag_name("tr"))).collect();
    assert_eq!(rows.len(), 2);
    let cells: Vec<String> = rows[1]
        .children()
        .filter(|n| n.has_tag_name("td"))
        .map(|td| td.descendants().filter(roxmltree::Node::is_text).filter_map(|n| n.text()).collect())
        .collect();
    assert_eq!(cells[0], "ok");
    assert_eq!(cells[1], "profile_of_the_user");
    assert_eq!(cells[2], "GET https://api.example.test/users/u-42");
    assert_eq!(cells[3], "200 OK");
    assert!(cells[4].ends_with(" ms"), "{cells:?}");
    // Requests and responses fold; the masked secret placeholder is shown.
    let details = document.descendants().filter(|n| n.has_tag_name("details")).count();
    assert_eq!(details, 4, "a request and a response per step");
    assert!(html.contains("authorization: Bearer &lt;WHOAMI_TOKEN&gt;"), "{html}");
}

/// A recipe folder with the whoami recipe and two cases, snapshots accepted.
fn accepted_cases(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::copy(root().join("tests/data/whoami.yaml"), dir.join("whoami.yaml")).unwrap();
    std::fs::create_dir_all(dir.join("fixtures/whoami")).unwrap();
    std::fs::copy(root().join(OK), dir.join("fixtures/whoami/happy.yaml")).unwrap();
    std::fs::copy(root().join(UNAUTHORIZED), dir.join("fixtures/whoami/err_unauthorized.yaml")).unwrap();
    let accepted = recipe(&["test", ".", "--accept"], Some(&dir), &[]);
    assert_eq!(accepted.status.code(), Some(0), "{}", stderr(&accepted));
    dir
}

#[test]
fn the_html_test_report_lists_the_cases_with_their_verdicts_and_diffs() {
    let dir = accepted_cases("html-test");
    let snapshot = dir.join("fixtures/whoami/snapshots/happy.snap");
    let text = std::fs::read_to_string(&snapshot).unwrap();
    std::fs::write(&snapshot, text.replace("Jordan Doe", "Jordan Roe")).unwrap();
    let output = recipe(&["test", ".", "--report", "html"], Some(&dir), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    // Without `--report-file`, the report has a default name.
    let html = std::fs::read_to_string(dir.join("recipe-report.html")).unwrap();
    assert_eq!(external_references(&html), Vec::<String>::new());
    let document = roxmltree::Document::parse_with_options(&html, roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() })
        .unwrap_or_else(|e| panic!("not well-formed: {e}"));
    let verdicts: Vec<(String, String)> = document
        .descendants()
        .filter(|n| n.has_tag_name("tr") && n.children().filter(|c| c.has_tag_name("td")).count() == 4)
        .map(|row| {
            let cells: Vec<String> = row
                .children()
                .filter(|n| n.has_tag_name("td"))
                .map(|td| td.descendants().filter(roxmltree::Node::is_text).filter_map(|n| n.text()).collect())
                .collect();
            (cells[0].clone(), cells[1].clone())
        })
        .collect();
    assert_eq!(
        verdicts,
        vec![("passed".to_owned(), "whoami/err_unauthorized".to_owned()), ("changed".to_owned(), "whoami/happy".to_owned())]
    );
    let removed: Vec<&str> = document.descendants().filter(|n| n.attribute("class") == Some("del")).filter_map(|n| n.text()).collect();
    let added: Vec<&str> = document.descendants().filter(|n| n.attribute("class") == Some("add")).filter_map(|n| n.text()).collect();
    assert!(removed.iter().any(|line| line.contains("Jordan Roe")) && added.iter().any(|line| line.contains("Jordan Doe")), "{html}");

    // The JUnit report of the same run, on stdout.
    let output = recipe(&["test", ".", "--report", "junit", "--report-file", "-"], Some(&dir), &[]);
    let xml = stdout(&output);
    let document = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let failure = document.descendants().find(|n| n.has_tag_name("failure")).unwrap();
    assert_eq!(failure.attribute("message"), Some("the snapshot differs"));
    assert!(failure.text().unwrap().contains("+  name: Jordan Doe") || failure.text().unwrap().contains("Jordan Doe"), "{xml}");
}

#[test]
fn recipe_test_refuses_orphan_fixtures_and_corrupt_snapshots_and_reads_crlf_snapshots() {
    // A fixture folder without its recipe is an error, not zero cases.
    let orphan = scratch("orphan");
    std::fs::create_dir_all(orphan.join("fixtures/ghost")).unwrap();
    std::fs::copy(root().join(OK), orphan.join("fixtures/ghost/case.yaml")).unwrap();
    let output = recipe(&["test", "."], Some(&orphan), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: the fixture folder ./fixtures/ghost has no recipe ./ghost.yaml; rename the folder to its recipe's name, or remove it\n"
    );
    let output = recipe(&["test", "fixtures/ghost/case.yaml"], Some(&orphan), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stderr(&output), "error: the fixture fixtures/ghost/case.yaml has no recipe ghost.yaml\n");

    let dir = accepted_cases("snapshots");
    // A snapshot with Windows line endings is the same snapshot.
    let snapshot = dir.join("fixtures/whoami/snapshots/happy.snap");
    let text = std::fs::read_to_string(&snapshot).unwrap();
    std::fs::write(&snapshot, text.replace('\n', "\r\n")).unwrap();
    let output = recipe(&["test", "."], Some(&dir), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("     ok whoami/happy\n"), "{}", stderr(&output));

    // A snapshot that is not in insta's format is unreadable, not new.
    let corrupt = dir.join("fixtures/whoami/snapshots/err_unauthorized.snap");
    std::fs::write(&corrupt, "<<<<<<< HEAD\nok: false\n=======\n").unwrap();
    let output = recipe(&["test", "."], Some(&dir), &[]);
    assert_eq!(output.status.code(), Some(1));
    let shown = stderr(&output);
    assert!(
        shown.contains(
            "  ERROR whoami/err_unauthorized: the snapshot ./fixtures/whoami/snapshots/err_unauthorized.snap is unreadable: it is not in \
             insta's format"
        ),
        "{shown}"
    );
    assert!(!shown.contains("new whoami/err_unauthorized") && !shown.contains("hint:"), "{shown}");
}

#[test]
fn control_characters_are_escaped_in_every_message() {
    let output = run(&["run", "tests/data/whoami.yaml", "--replay", OK, "--var", "\u{1b}]0;pwned\u{7}user=x", "--var", "user=a\rb"], &[]);
    assert!(!output.contains('\u{1b}') && !output.contains('\r') && !output.contains('\u{7}'), "{output:?}");
    insta::assert_snapshot!(output);
}

#[test]
fn colour_follows_the_flag_then_no_color_then_clicolor_force() {
    let failing = ["run", "tests/data/whoami.yaml", "--replay", UNAUTHORIZED];
    let coloured = |args: &[&str], env: &[(&str, &str)]| stderr(&recipe(args, None, env)).contains("\u{1b}[");
    assert!(!coloured(&failing, &[]), "not a terminal: no colour");
    assert!(coloured(&[&failing[..], &["--color", "always"]].concat(), &[]));
    assert!(coloured(&failing, &[("CLICOLOR_FORCE", "1")]));
    assert!(!coloured(&failing, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]));
    assert!(!coloured(&[&failing[..], &["--color", "never"]].concat(), &[("CLICOLOR_FORCE", "1")]));
    let painted = stderr(&recipe(&[&failing[..], &["--color", "always"]].concat(), None, &[]));
    assert!(painted.contains("\u{1b}[1m\u{1b}[31mFAILED\u{1b}[0m me "), "{painted:?}");
    assert!(painted.contains("\u{1b}[1m\u{1b}[31merror:\u{1b}[0m the run failed"), "{painted:?}");
    let invalid = stderr(&recipe(&["--color", "sometimes", "check", "tests/data/whoami.yaml"], None, &[]));
    assert!(invalid.contains("invalid value 'sometimes'"), "{invalid}");
}

#[test]
fn verbose_shows_requests_and_responses_and_quiet_only_errors() {
    insta::assert_snapshot!("verbose", run(&["run", "tests/data/whoami.yaml", "--replay", OK, "-v"], &[]));
    let whole = run(&["run", "tests/data/whoami.yaml", "--replay", OK, "-vv"], &[]);
    assert!(whole.contains("          \"bio\": \"<script>alert('x')</script> & \\u001b[2J done\""), "{whole}");
    let quiet = recipe(&["run", "tests/data/whoami.yaml", "--replay", OK, "-q"], None, &[]);
    assert_eq!((quiet.status.code(), stderr(&quiet)), (Some(0), String::new()));
    assert_eq!(json(&stdout(&quiet))["name"], "Jordan Doe");
    insta::assert_snapshot!("quiet_failure", run(&["run", "tests/data/whoami.yaml", "--replay", UNAUTHORIZED, "-q"], &[]));
    let both = recipe(&["run", "tests/data/whoami.yaml", "-q", "-v"], None, &[]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn env_files_follow_dotenvy_and_a_bad_line_is_named() {
    let dir = scratch("dotenv");
    let good = dir.join("good.env");
    std::fs::write(&good, "\u{feff}# staging\nexport WHOAMI_BASE_URL=https://staging.example.test # not the real one\n").unwrap();
    let output = recipe(&["run", "tests/data/whoami.yaml", "--replay", OK, "--env-file", good.to_str().unwrap()], None, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("GET https://staging.example.test/me?user=jdoe -> 200"), "{}", stderr(&output));
    let bad = dir.join("bad.env");
    std::fs::write(&bad, "WHOAMI_BASE_URL=https://staging.example.test\nWHOAMI_TOKEN=\"s3cret-token\nNEXT=1\n").unwrap();
    let output = recipe(&["run", "tests/data/whoami.yaml", "--replay", OK, "--env-file", bad.to_str().unwrap()], None, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!("error: {}: line 2: the value of `WHOAMI_TOKEN` opens a `\"` quote that is never closed\n", bad.display())
    );
}

#[test]
fn the_id_column_fits_the_longest_step_id() {
    let output = run(&["run", "tests/data/whoami.yaml", "--replay", OK], &[]);
    assert!(output.contains("\n     ok me                  GET https://api.example.test/me?user=jdoe -> 200 (Nms)\n"), "{output}");
    assert!(output.contains("\n     ok profile_of_the_user GET https://api.example.test/users/u-42 -> 200 (Nms)\n"), "{output}");
}
