//! Batch runs at the command line: `recipe run tests/data/batch.yaml --rows ROWS` (a `GET
//! /lookup?vin=...`, then a `POST /draft` per row) against the fault server on 127.0.0.1.
//!
//! Every row runs once, from CSV, JSON Lines or standard input; bad rows are listed by line and
//! stop the batch before anything is sent, unless `--skip-invalid`; `--rate` holds over every
//! worker; a 429 with `Retry-After` pauses every worker; a batch killed with SIGKILL resumes
//! without sending any draft twice and reports exactly the rows whose outcome is unknown; shards
//! split the rows exactly; a used results file is never overwritten. Each child process runs in
//! its own scratch folder under a time limit, its output in files (no pipe can fill up).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use crate::faults::server::{Fault, FaultServer, Received, Reply};
use crate::support::{block_on, root};

const SECRET: &str = "cli-batch-secret-91c2";
/// Far above what any batch here takes: a hung child is killed and its test fails.
const LIMIT: Duration = Duration::from_secs(20);

/// A scratch folder of one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let folder = std::env::temp_dir().join(format!("recipe-batch-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).unwrap();
        Self(folder)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(path: &Path) -> &str {
    path.to_str().expect("scratch paths are UTF-8")
}

/// A valid VIN (17 characters, no I, O or Q), distinct for each `n`.
fn vin(n: usize) -> String {
    format!("1HGCM8263{n:08}")
}

fn vins(from: usize, count: usize) -> Vec<String> {
    (from..from + count).map(vin).collect()
}

/// A CSV with a header row; row `i` (0-based) has the last name `Name{i}`.
fn csv(vins: &[String]) -> String {
    let mut csv = String::from("vin,last_name\n");
    for (i, vin) in vins.iter().enumerate() {
        csv.push_str(&format!("{vin},Name{i}\n"));
    }
    csv
}

fn created() -> Fault {
    Fault::Respond(Reply::json(201, &json!({"id": "d-1"})))
}

/// `GET /lookup` always answers 200; `POST /draft` follows `draft`.
fn server(draft: Vec<Fault>) -> FaultServer {
    server_with(vec![found()], draft)
}

fn found() -> Fault {
    Fault::Respond(Reply::json(200, &json!({"found": true})))
}

/// Each route follows its script (the last fault repeating).
fn server_with(lookup: Vec<Fault>, draft: Vec<Fault>) -> FaultServer {
    block_on(FaultServer::start(vec![("GET", "/lookup", lookup), ("POST", "/draft", draft)]))
}

/// A draft answer dripped a byte per millisecond (a short reply: about 60ms in all).
fn slow_created() -> Fault {
    Fault::Drip { reply: Reply { status: 201, headers: Vec::new(), body: br#"{"id":"d-1"}"#.to_vec() }, every: Duration::from_millis(1) }
}

/// The batch command against `server`, in the scratch folder (no stray `.env` is read).
fn batch(server: &FaultServer, scratch: &Scratch, args: &[&str]) -> Command {
    batch_of(&root().join("tests/data/batch.yaml"), server, scratch, args)
}

/// The same, for another recipe.
fn batch_of(recipe: &Path, server: &FaultServer, scratch: &Scratch, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recipe"));
    command
        .arg("run")
        .arg(recipe)
        .args(args)
        .current_dir(&scratch.0)
        .env("BASE_URL", server.url(""))
        .env("API_KEY", SECRET)
        .stdin(Stdio::null());
    command
}

/// A finished child.
struct Ran {
    code: Option<i32>,
    stderr: String,
    elapsed: Duration,
}

/// Starts a child whose stdout and stderr go to `NAME.stdout` and `NAME.stderr` in the scratch folder.
fn start(mut command: Command, scratch: &Scratch, name: &str) -> Child {
    command
        .stdout(File::create(scratch.path(&format!("{name}.stdout"))).unwrap())
        .stderr(File::create(scratch.path(&format!("{name}.stderr"))).unwrap());
    command.spawn().unwrap()
}

/// Waits for a child started at `started`, killing it (and failing) past [`LIMIT`].
fn finish(mut child: Child, scratch: &Scratch, name: &str, started: Instant) -> Ran {
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{name}` did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = started.elapsed();
    let stdout = std::fs::read_to_string(scratch.path(&format!("{name}.stdout"))).unwrap();
    let stderr = std::fs::read_to_string(scratch.path(&format!("{name}.stderr"))).unwrap();
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET), "the secret leaked:\n{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    Ran { code: status.code(), stderr, elapsed }
}

fn run(command: Command, scratch: &Scratch, name: &str) -> Ran {
    let started = Instant::now();
    finish(start(command, scratch, name), scratch, name, started)
}

/// Checks the closing line: `batch done: N ok, N failed, N in doubt, N skipped, N invalid in Xs (R rows/s)`.
fn assert_summary(ran: &Ran, [ok, failed, in_doubt, skipped, invalid]: [usize; 5]) {
    let expected = format!("batch done: {ok} ok, {failed} failed, {in_doubt} in doubt, {skipped} skipped, {invalid} invalid in ");
    let line = ran.stderr.lines().find(|line| line.starts_with("batch ")).unwrap_or_else(|| panic!("no summary line:\n{}", ran.stderr));
    assert!(line.starts_with(&expected) && line.ends_with(" rows/s)"), "expected `{expected}...`, got:\n{}", ran.stderr);
}

/// The results file's lines; only the last may be unreadable (torn by a kill).
fn journal(path: &Path) -> Vec<Json> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).collect();
    let mut parsed = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<Json>(line) {
            Ok(value) => parsed.push(value),
            Err(error) => assert!(i + 1 == lines.len(), "{}: line {} is unreadable ({error}): {line}", path.display(), i + 1),
        }
    }
    parsed
}

/// The finished rows (outcome lines, not intents).
fn outcomes(lines: &[Json]) -> Vec<&Json> {
    lines.iter().filter(|line| line.get("outcome").is_some()).collect()
}

/// The last word on each key: `intent`, or the outcome.
fn last_words(lines: &[Json]) -> BTreeMap<String, String> {
    let mut words = BTreeMap::new();
    for line in lines {
        let Some(key) = line["key"].as_str() else { continue };
        let word = if line.get("intent").is_some() {
            "intent"
        } else if line.get("not_processed").is_some() {
            "not_processed"
        } else {
            line["outcome"].as_str().unwrap()
        };
        words.insert(key.to_owned(), word.to_owned());
    }
    words
}

fn keys_with<'a>(words: &'a BTreeMap<String, String>, accept: &[&str]) -> BTreeSet<&'a str> {
    words.iter().filter(|(_, word)| accept.contains(&word.as_str())).map(|(key, _)| key.as_str()).collect()
}

fn body(request: &Received) -> Json {
    serde_json::from_slice(&request.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&request.body)))
}

/// The drafts the server received, by VIN (from the request bodies).
fn posts(server: &FaultServer) -> BTreeMap<String, usize> {
    let mut posts = BTreeMap::new();
    for request in server.requests().iter().filter(|r| r.method == "POST" && r.target == "/draft") {
        let vin = body(request)["vin"].as_str().expect("the draft names its VIN").to_owned();
        *posts.entry(vin).or_insert(0) += 1;
    }
    posts
}

fn once_each(vins: &[String]) -> BTreeMap<String, usize> {
    vins.iter().map(|vin| (vin.clone(), 1)).collect()
}

fn set(items: &[String]) -> BTreeSet<&str> {
    items.iter().map(String::as_str).collect()
}

#[test]
fn every_csv_row_runs_once_and_a_finished_batch_resumes_to_nothing() {
    let scratch = Scratch::new("csv");
    let server = server(vec![created()]);
    let vins = vins(0, 50);
    let rows = scratch.write("rows.csv", &csv(&vins));
    let out = scratch.path("results.jsonl");
    // Three threads, whatever the machine: each row still runs exactly once.
    let args = ["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--threads", "3", "--jobs", "6"];
    let ran = run(batch(&server, &scratch, &args), &scratch, "first");
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_summary(&ran, [50, 0, 0, 0, 0]);

    let lines = journal(&out);
    let finished = outcomes(&lines);
    assert_eq!(finished.len(), 50, "{lines:#?}");
    let keys: BTreeSet<&str> = finished.iter().map(|line| line["key"].as_str().unwrap()).collect();
    assert_eq!(keys, set(&vins));
    for line in &finished {
        let key = line["key"].as_str().unwrap();
        let row = vins.iter().position(|vin| vin == key).unwrap() + 1;
        assert_eq!(line["row"], json!(row), "{line}");
        assert_eq!(line["outcome"], "ok", "{line}");
        assert_eq!(line["outputs"], json!({"draft_id": "d-1"}), "{line}");
        assert_eq!((&line["step"], &line["error_kind"], &line["error"]), (&Json::Null, &Json::Null, &Json::Null), "{line}");
        assert_eq!(line["effect"], "created", "{line}");
        assert_eq!(line["attempts"], 2, "{line}");
        assert!(line["duration_ms"].is_u64(), "{line}");
    }
    // One fsynced intent per row, before its outcome.
    for vin in &vins {
        let at = |intent: bool| {
            let found: Vec<usize> =
                (0..lines.len()).filter(|&i| lines[i]["key"] == **vin && lines[i].get("intent").is_some() == intent).collect();
            assert_eq!(found.len(), 1, "{vin}: {lines:#?}");
            found[0]
        };
        let intent = at(true);
        assert_eq!(lines[intent], json!({"row": lines[at(false)]["row"], "key": vin, "intent": "draft"}));
        assert!(intent < at(false), "{vin}: the outcome came before the intent");
    }

    assert_eq!(posts(&server), once_each(&vins));
    let lookups: BTreeSet<String> = server.requests().iter().filter(|r| r.method == "GET").map(|r| r.target.clone()).collect();
    assert_eq!(lookups, vins.iter().map(|vin| format!("/lookup?vin={vin}")).collect());
    assert_eq!(server.count("GET", "/lookup"), 50);
    for request in server.requests().iter().filter(|r| r.method == "POST") {
        let draft = body(request);
        let i = vins.iter().position(|vin| draft["vin"] == **vin).unwrap();
        assert_eq!(draft["last_name"], format!("Name{i}"));
    }
    assert!(!std::fs::read_to_string(&out).unwrap().contains(SECRET));

    // Resumed, a finished batch has nothing left to send.
    let resumed = run(batch(&server, &scratch, &[&args[..], &["--resume"]].concat()), &scratch, "resume");
    assert_eq!(resumed.code, Some(0), "{}", resumed.stderr);
    assert_summary(&resumed, [0, 0, 0, 50, 0]);
    assert_eq!(server.count("GET", "/lookup"), 50);
    assert_eq!(server.count("POST", "/draft"), 50);
}

#[test]
fn json_lines_and_standard_input_rows_run_too() {
    let scratch = Scratch::new("jsonl");
    // JSON Lines, typed values, a blank line; without `--key` the key is the row number.
    let first = server(vec![created()]);
    let typed = vins(100, 20);
    let mut lines: Vec<String> = typed
        .iter()
        .enumerate()
        .map(|(i, vin)| json!({"vin": vin, "last_name": format!("Name{i}"), "mileage": i * 1000}).to_string())
        .collect();
    lines.insert(10, String::new());
    // Saved by an editor "with BOM": the mark is not part of the first row.
    let rows = scratch.write("rows.jsonl", &("\u{feff}".to_owned() + &lines.join("\n") + "\n"));
    let out = scratch.path("results.jsonl");
    let ran = run(batch(&first, &scratch, &["--rows", text(&rows), "--out", text(&out), "--jobs", "4"]), &scratch, "jsonl");
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_summary(&ran, [20, 0, 0, 0, 0]);
    let results = journal(&out);
    let finished = outcomes(&results);
    assert_eq!(finished.len(), 20);
    for line in &finished {
        assert_eq!(line["outcome"], "ok", "{line}");
        assert_eq!(line["key"], line["row"].to_string(), "{line}");
    }
    let numbers: BTreeSet<u64> = finished.iter().map(|line| line["row"].as_u64().unwrap()).collect();
    assert_eq!(numbers, (1..=20).collect());
    assert_eq!(posts(&first), once_each(&typed));
    for request in first.requests().iter().filter(|r| r.method == "POST") {
        let draft = body(request);
        let i = typed.iter().position(|vin| draft["vin"] == **vin).unwrap();
        assert_eq!(draft["mileage"], json!(i * 1000), "{draft}");
    }

    // CSV on standard input (`--rows -`), spooled and read twice.
    let second = server(vec![created()]);
    let piped = vins(200, 20);
    let mut command = batch(&second, &scratch, &["--rows", "-"]);
    command.stdin(Stdio::piped());
    let started = Instant::now();
    let mut child = start(command, &scratch, "stdin");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(csv(&piped).as_bytes()).unwrap();
    drop(stdin);
    let ran = finish(child, &scratch, "stdin", started);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_summary(&ran, [20, 0, 0, 0, 0]);
    assert_eq!(posts(&second), once_each(&piped));
}

#[test]
fn bad_rows_are_listed_by_line_and_nothing_is_sent() {
    let scratch = Scratch::new("bad");
    let server = server(vec![created()]);
    let good = [vin(1), vin(3), vin(5), vin(7)];
    let bad_vin = "1HGCM8263I0000002";
    let rows = scratch.write(
        "rows.csv",
        &[
            "vin,last_name,mileage".to_owned(),
            format!("{},Smith,100", good[0]),
            format!("{bad_vin},Jones,200"),
            // A quoted cell over two lines: the rows after it start one line later.
            format!("{},\"Smith\nJr\",300", good[1]),
            format!("{},Brown,12k", vin(4)),
            format!("{},Green,", good[2]),
            format!("{},White,600,extra", vin(6)),
            format!("{},Black,700", good[3]),
        ]
        .join("\n"),
    );
    let name = text(&rows);
    let out = scratch.path("results.jsonl");
    let ran = run(batch(&server, &scratch, &["--rows", name, "--out", text(&out), "--key", "vin"]), &scratch, "refused");
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    let expected = [
        format!("error: {name} line 3 (row 2): input `vin`: `{bad_vin}` does not match the pattern `^[A-HJ-NPR-Z0-9]{{17}}$`"),
        format!("error: {name} line 6 (row 4): `mileage`: expected an integer, got `12k`"),
        format!("error: {name} line 8 (row 6): unreadable CSV row: "),
        "error: 3 of 7 row(s) are invalid; nothing was sent. Fix them, or pass `--skip-invalid` to run the others".to_owned(),
    ];
    let listed: Vec<&str> = ran.stderr.lines().filter(|line| line.starts_with("error: ")).collect();
    assert_eq!(listed.len(), expected.len(), "{}", ran.stderr);
    for (line, expected) in listed.iter().zip(&expected) {
        assert!(line.starts_with(expected.as_str()), "expected `{expected}...`, got:\n{}", ran.stderr);
    }
    assert_eq!(server.count("GET", "/lookup") + server.count("POST", "/draft"), 0);
    assert!(journal(&out).is_empty(), "the results file was written");

    // With `--skip-invalid` the good rows run; the bad ones are in the results as invalid, and
    // the batch is not a full success (exit 1).
    let ran = run(batch(&server, &scratch, &["--rows", name, "--out", text(&out), "--key", "vin", "--skip-invalid"]), &scratch, "skipped");
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert_summary(&ran, [4, 0, 0, 0, 3]);
    assert_eq!(posts(&server), once_each(&good));
    assert_eq!(server.count("GET", "/lookup"), 4);
    let drafts: BTreeMap<String, Json> =
        server.requests().iter().filter(|r| r.method == "POST").map(|r| (body(r)["vin"].as_str().unwrap().to_owned(), body(r))).collect();
    assert_eq!(drafts[&good[1]]["last_name"], "Smith\nJr");
    assert_eq!(drafts[&good[2]]["mileage"], 0, "an empty cell takes the default");
    let results = journal(&out);
    let finished = outcomes(&results);
    let invalid: Vec<&Json> = finished.iter().copied().filter(|line| line["outcome"] == "invalid").collect();
    assert_eq!(invalid.len(), 3, "{results:#?}");
    let by_row = |row: u64| invalid.iter().find(|line| line["row"] == row).unwrap_or_else(|| panic!("no invalid row {row}: {results:#?}"));
    assert_eq!(by_row(2)["key"], bad_vin);
    assert!(by_row(2)["error"].as_str().unwrap().contains("does not match the pattern"));
    assert_eq!(by_row(4)["key"], vin(4));
    assert!(by_row(4)["error"].as_str().unwrap().contains("expected an integer, got `12k`"));
    let unreadable = invalid.iter().find(|line| line.get("key").is_none()).expect("the unreadable row is reported by line");
    assert_eq!(unreadable["line"], 8);
    assert_eq!(unreadable["row"], 6, "its row number in the file (row 3 spans two lines)");
    assert!(unreadable["error"].as_str().unwrap().starts_with("unreadable CSV row"));
    let ok: BTreeSet<&str> = finished.iter().filter(|line| line["outcome"] == "ok").map(|line| line["key"].as_str().unwrap()).collect();
    assert_eq!(ok, good.iter().map(String::as_str).collect());
}

#[test]
fn a_repeated_or_empty_key_never_runs_even_when_invalid_rows_are_skipped() {
    let scratch = Scratch::new("keys");
    let server = server(vec![created()]);
    let rows = scratch.write(
        "rows.csv",
        &[
            "id,vin,last_name".to_owned(),
            format!("a,{},Smith", vin(1)),
            format!("a,{},Jones", vin(2)),
            format!(",{},Brown", vin(3)),
            format!("b,{},Green", vin(4)),
        ]
        .join("\n"),
    );
    let out = scratch.path("results.jsonl");
    let ran =
        run(batch(&server, &scratch, &["--rows", text(&rows), "--out", text(&out), "--key", "id", "--skip-invalid"]), &scratch, "keys");
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert_summary(&ran, [2, 0, 0, 0, 2]);
    assert_eq!(posts(&server), once_each(&[vin(1), vin(4)]), "the second `a` and the empty key were not sent");
    let results = journal(&out);
    let invalid: Vec<&Json> = outcomes(&results).into_iter().filter(|line| line["outcome"] == "invalid").collect();
    assert_eq!(invalid.len(), 2, "{results:#?}");
    assert!(
        invalid.iter().any(|line| line["row"] == 2 && line["error"].as_str().unwrap().contains("already the key of row 1")),
        "{results:#?}"
    );
    assert!(invalid.iter().any(|line| line["row"] == 3 && line["error"].as_str().unwrap().contains("is empty")), "{results:#?}");
}

#[test]
fn a_resume_is_refused_for_another_key_other_rows_or_a_results_file_in_use() {
    let scratch = Scratch::new("identity");
    let server = server(vec![created()]);
    let rows = scratch.write("rows.csv", &csv(&vins(0, 2)));
    let out = scratch.path("results.jsonl");
    let ran = run(batch(&server, &scratch, &["--rows", text(&rows), "--out", text(&out), "--key", "vin"]), &scratch, "first");
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    // The key forgotten: the rows would be known by number and all sent again.
    let ran = run(batch(&server, &scratch, &["--rows", text(&rows), "--out", text(&out), "--resume"]), &scratch, "no-key");
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(ran.stderr.contains("was written with `--key vin` as row keys"), "{}", ran.stderr);
    // Without a key, other rows are refused: their numbers would match the wrong rows.
    let numbered = scratch.path("numbered.jsonl");
    let ran = run(batch(&server, &scratch, &["--rows", text(&rows), "--out", text(&numbered)]), &scratch, "numbered");
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let other = scratch.write("other.csv", &csv(&vins(5, 2)));
    let ran = run(batch(&server, &scratch, &["--rows", text(&other), "--out", text(&numbered), "--resume"]), &scratch, "other-rows");
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(ran.stderr.contains("was written for other rows"), "{}", ran.stderr);
    // A results file another batch holds is not written twice.
    let held = std::fs::OpenOptions::new().append(true).open(&out).unwrap();
    held.try_lock().unwrap();
    let ran = run(batch(&server, &scratch, &["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--resume"]), &scratch, "held");
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(ran.stderr.contains("is in use by another batch"), "{}", ran.stderr);
    drop(held);
    assert_eq!(
        posts(&server),
        once_each(&vins(0, 2)).into_iter().map(|(vin, n)| (vin, n * 2)).collect(),
        "each row twice: once per results file"
    );
}

#[test]
fn bad_json_lines_rows_are_listed_by_line() {
    let scratch = Scratch::new("badjsonl");
    let server = server(vec![created()]);
    let rows = scratch.write(
        "rows.jsonl",
        &[
            json!({"vin": vin(1), "last_name": "A"}).to_string(),
            String::new(),
            json!({"vin": vin(2), "last_name": "B", "mileage": "many"}).to_string(),
            "not json".to_owned(),
            json!({"vin": vin(4), "last_name": "C", "colour": "red"}).to_string(),
            "[1, 2]".to_owned(),
            json!({"vin": vin(6)}).to_string(),
        ]
        .join("\n"),
    );
    let name = text(&rows);
    let ran = run(batch(&server, &scratch, &["--rows", name]), &scratch, "refused");
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    let expected = [
        format!("error: {name} line 3 (row 2): input `mileage`: expected an integer, got the string \"many\""),
        format!("error: {name} line 4 (row 3): invalid JSON: "),
        format!("error: {name} line 5 (row 4): unknown column `colour`"),
        format!("error: {name} line 6 (row 5): a row must be a JSON object"),
        format!(
            "error: {name} line 7 (row 6): missing input `last_name`: the customer's last name; give it as a column or with `--var last_name=...`"
        ),
        "error: 5 of 6 row(s) are invalid; nothing was sent".to_owned(),
    ];
    let listed: Vec<&str> = ran.stderr.lines().filter(|line| line.starts_with("error: ")).collect();
    assert_eq!(listed.len(), expected.len(), "{}", ran.stderr);
    for (line, expected) in listed.iter().zip(&expected) {
        assert!(line.starts_with(expected.as_str()), "expected `{expected}...`, got:\n{}", ran.stderr);
    }
    assert_eq!(server.count("GET", "/lookup") + server.count("POST", "/draft"), 0);
}

#[test]
fn a_quote_never_closed_is_an_error_naming_its_line_and_nothing_is_sent() {
    let scratch = Scratch::new("openquote");
    let server = server(vec![created()]);
    // Row 2's note opens a quote that never closes: read as the csv crate reads it, rows 3 and 4
    // would become text in that row's cell, and the batch would say `2 ok`.
    let rows =
        scratch.write("rows.csv", &format!("vin,last_name\n{},Smith\n{},\"Jones\n{},Brown\n{},Green\n", vin(1), vin(2), vin(3), vin(4)));
    let name = text(&rows);
    let ran = run(batch(&server, &scratch, &["--rows", name]), &scratch, "refused");
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    let expected = format!(
        "error: {name} line 3 (row 2): the quoted field opened on line 3 is never closed: every line after it would be read into one cell"
    );
    assert!(ran.stderr.lines().any(|line| line == expected), "expected `{expected}`, got:\n{}", ran.stderr);
    assert_eq!(server.count("GET", "/lookup") + server.count("POST", "/draft"), 0);
    // With `--skip-invalid` the row before it runs; the batch is not a success.
    let out = scratch.path("results.jsonl");
    let ran = run(batch(&server, &scratch, &["--rows", name, "--skip-invalid", "--out", text(&out)]), &scratch, "skipped");
    assert_ne!(ran.code, Some(0), "{}", ran.stderr);
    assert_summary(&ran, [1, 0, 0, 0, 1]);
    assert_eq!(posts(&server), once_each(&[vin(1)]));
    // A quote open in the header row: the whole file is refused.
    let rows = scratch.write("header.csv", &format!("vin,\"last_name\n{},Smith\n", vin(1)));
    let ran = run(batch(&server, &scratch, &["--rows", text(&rows)]), &scratch, "header");
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("the quoted field opened on line 1 is never closed"), "{}", ran.stderr);
}

#[test]
fn a_row_over_the_size_limit_is_invalid_and_never_held_whole() {
    let scratch = Scratch::new("bigrow");
    let server = server(vec![created()]);
    // A 2 MiB cell (over the default 1 MiB), in CSV and in JSON Lines.
    let big = "x".repeat(2 << 20);
    let rows = scratch.write("rows.csv", &format!("vin,last_name\n{},Smith\n{},\"{big}\"\n{},Brown\n", vin(1), vin(2), vin(3)));
    let name = text(&rows);
    let ran = run(batch(&server, &scratch, &["--rows", name]), &scratch, "csv");
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    let expected = format!("error: {name} line 3 (row 2): the row is over the limit of 1048576 bytes (`--max-row-size`)");
    let errors: Vec<&str> = ran.stderr.lines().filter(|line| line.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 2, "{}", ran.stderr);
    assert_eq!(errors[0], expected);
    let lines = scratch.write(
        "rows.jsonl",
        &[json!({"vin": vin(1), "last_name": "A"}), json!({"vin": vin(2), "last_name": big}), json!({"vin": vin(3), "last_name": "C"})]
            .map(|row| row.to_string())
            .join("\n"),
    );
    let ran = run(batch(&server, &scratch, &["--rows", text(&lines)]), &scratch, "jsonl");
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains(&format!("error: {} line 2 (row 2): the row is over the limit of 1048576 bytes", text(&lines))),
        "{}",
        ran.stderr
    );
    // The limit is configurable; the rows around the long one are read as they are.
    let out = scratch.path("results.jsonl");
    let rows = scratch.write("small.csv", &format!("vin,last_name\n{},Smith\n{},\"A, B and C\"\n{},Brown\n", vin(1), vin(2), vin(3)));
    let args = ["--rows", text(&rows), "--max-row-size", "25", "--skip-invalid", "--out", text(&out), "--key", "vin"];
    let ran = run(batch(&server, &scratch, &args), &scratch, "small");
    assert_summary(&ran, [2, 0, 0, 0, 1]);
    assert!(ran.stderr.contains("line 3 (row 2): the row is over the limit of 25 bytes"), "{}", ran.stderr);
    assert_eq!(posts(&server), once_each(&[vin(1), vin(3)]));
}

#[test]
fn an_unknown_column_is_an_error_of_the_whole_file() {
    let scratch = Scratch::new("columns");
    let server = server(vec![created()]);
    let rows = scratch.write("rows.csv", &format!("vin,last_name,colour\n{},Smith,red\n{},Jones,blue\n", vin(1), vin(2)));
    let ran = run(batch(&server, &scratch, &["--rows", text(&rows)]), &scratch, "unknown");
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    let errors: Vec<&str> = ran.stderr.lines().filter(|line| line.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{}", ran.stderr);
    assert!(
        errors[0].starts_with(&format!("error: {}: unknown column `colour`; the inputs are vin, last_name, mileage", text(&rows))),
        "{}",
        ran.stderr
    );
    // A `--key` column the file does not have.
    let rows = scratch.write("keyed.csv", &format!("vin,last_name\n{},Smith\n", vin(1)));
    let ran = run(batch(&server, &scratch, &["--rows", text(&rows), "--key", "id"]), &scratch, "key");
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains(&format!("error: {}: no column `id` for `--key`", text(&rows))), "{}", ran.stderr);
    // A column given twice: the key and the input sent would come from different cells.
    let rows = scratch.write(
        "twice.csv",
        &format!(
            "vin,vin,last_name
{},{},Smith
",
            vin(1),
            vin(2)
        ),
    );
    let ran = run(batch(&server, &scratch, &["--rows", text(&rows), "--key", "vin"]), &scratch, "twice");
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("the column `vin` appears twice in the header (column 2)"), "{}", ran.stderr);
    assert_eq!(server.count("GET", "/lookup") + server.count("POST", "/draft"), 0);
}

#[test]
fn the_rate_limit_holds_over_every_worker() {
    let scratch = Scratch::new("rate");
    let server = server(vec![created()]);
    let vins = vins(0, 40);
    let rows = scratch.write("rows.csv", &csv(&vins));
    let ran = run(batch(&server, &scratch, &["--rows", text(&rows), "--rate", "40/s", "--jobs", "8"]), &scratch, "rate");
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_summary(&ran, [40, 0, 0, 0, 0]);
    assert_eq!(posts(&server), once_each(&vins));
    // 80 requests (a lookup and a draft per row), one every 25ms.
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 80);
    let span = arrivals[79];
    let rate = 79.0 / span;
    // A busy machine may make it slower (requests that wake late keep their distance), never faster.
    assert!((32.0..=44.0).contains(&rate), "{rate:.1} requests/s over {span:.3}s; arrivals: {arrivals:.3?}");
    // No burst anywhere: any half second holds at most 20 (and one for arrival jitter).
    let densest = arrivals.iter().map(|&from| arrivals.iter().filter(|&&at| at >= from && at < from + 0.5).count()).max().unwrap();
    assert!(densest <= 21, "{densest} requests within half a second; arrivals: {arrivals:.3?}");
    assert!(ran.elapsed >= Duration::from_secs_f64(79.0 / 40.0), "{:?}", ran.elapsed);
}

#[test]
fn a_429_with_retry_after_pauses_every_worker() {
    let scratch = Scratch::new("pause");
    let busy = Fault::Respond(Reply::json(429, &json!({"message": "slow down"})).header("retry-after", "1"));
    let server = server(vec![busy, created()]);
    let vins = vins(0, 16);
    let rows = scratch.write("rows.csv", &csv(&vins));
    let out = scratch.path("results.jsonl");
    let ran =
        run(batch(&server, &scratch, &["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--jobs", "4"]), &scratch, "pause");
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_summary(&ran, [16, 0, 0, 0, 0]);

    let mut requests = server.requests();
    requests.sort_by_key(|r| r.arrived_at);
    let refused = requests.iter().find(|r| r.method == "POST").unwrap();
    let (t0, refused_vin) = (refused.arrived_at, body(refused)["vin"].as_str().unwrap().to_owned());
    let after = |r: &Received| r.arrived_at.saturating_duration_since(t0);
    // Requests already on their way when the 429 arrived may land just after it; then nothing
    // until the second is over.
    let quiet: Vec<(String, Duration)> = requests
        .iter()
        .filter(|r| r.arrived_at > t0 && (Duration::from_millis(100)..Duration::from_millis(950)).contains(&after(r)))
        .map(|r| (format!("{} {}", r.method, r.target), after(r)))
        .collect();
    assert!(quiet.is_empty(), "requests arrived during the pause: {quiet:?}");
    let resumed = requests.iter().filter(|r| after(r) >= Duration::from_millis(950)).count();
    // Without the shared pause the other workers would have finished every row in the meantime.
    assert!(resumed >= 8, "only {resumed} requests after the pause: the other workers did not wait");
    let retried =
        requests.iter().filter(|r| r.method == "POST" && body(r)["vin"] == *refused_vin).nth(1).expect("the refused draft is sent again");
    assert!(after(retried) >= Duration::from_millis(950), "retried after {:?}", after(retried));
    // The 429 was not processed: its draft is sent again, every other once.
    let mut expected = once_each(&vins);
    expected.insert(refused_vin.clone(), 2);
    assert_eq!(posts(&server), expected);
    let results = journal(&out);
    let line = outcomes(&results).into_iter().find(|line| line["key"] == *refused_vin).unwrap();
    assert_eq!((&line["outcome"], &line["attempts"]), (&json!("ok"), &json!(3)), "{line}");
    assert!(ran.elapsed >= Duration::from_secs(1), "{:?}", ran.elapsed);
}

#[test]
fn a_batch_killed_during_a_retry_after_pause_leaves_its_rows_resumable_not_in_doubt() {
    let scratch = Scratch::new("pause-kill");
    // The first draft is answered 429 with a 4 s `Retry-After`: every worker pauses, the rows
    // waiting to send their draft among them.
    let busy = Fault::Respond(Reply::json(429, &json!({"message": "slow down"})).header("retry-after", "4"));
    let server = server(vec![busy, created()]);
    let vins = vins(0, 12);
    let rows = scratch.write("rows.csv", &csv(&vins));
    let out = scratch.path("results.jsonl");
    let args = ["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--jobs", "4"];
    let started = Instant::now();
    let mut child = start(batch(&server, &scratch, &args), &scratch, "paused");
    while server.count("POST", "/draft") < 1 {
        assert!(started.elapsed() < LIMIT, "no draft reached the server");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Drafts already on their way when the 429 came may land; then nothing leaves.
    std::thread::sleep(Duration::from_millis(300));
    let before = server.count("POST", "/draft");
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "the batch ended before the kill");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(server.count("POST", "/draft"), before, "a draft left during the pause");
    let words = last_words(&journal(&out));
    assert_eq!(keys_with(&words, &["intent", "in_doubt"]), BTreeSet::new(), "rows in doubt that sent nothing: {words:?}");
    assert_eq!(keys_with(&words, &["not_processed"]).len(), 1, "{words:?}");

    let ran = run(batch(&server, &scratch, &[&args[..], &["--resume"]].concat()), &scratch, "resume");
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let done = keys_with(&words, &["ok"]).len();
    assert_summary(&ran, [12 - done, 0, 0, done, 0]);
    assert_eq!(keys_with(&last_words(&journal(&out)), &["ok"]), set(&vins));
    let refused = body(server.requests().iter().find(|r| r.method == "POST").unwrap())["vin"].as_str().unwrap().to_owned();
    let mut expected = once_each(&vins);
    expected.insert(refused, 2);
    assert_eq!(posts(&server), expected, "the refused draft is sent again, every other once");
}

#[test]
fn rows_killed_while_waiting_for_the_rate_limit_are_not_in_doubt() {
    let scratch = Scratch::new("rate-kill");
    let server = server(vec![created()]);
    let vins = vins(0, 40);
    let rows = scratch.write("rows.csv", &csv(&vins));
    let out = scratch.path("results.jsonl");
    // Eight rows in flight, four requests a second: most rows wait at the gate for their draft.
    let args = ["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--jobs", "8", "--rate", "4/s"];
    let mut child = start(batch(&server, &scratch, &args), &scratch, "rate");
    wait_for_lines(&out, 4, &mut child);
    std::thread::sleep(Duration::from_millis(1200));
    child.kill().unwrap();
    child.wait().unwrap();
    let words = last_words(&journal(&out));
    let sent = posts(&server);
    let doubtful: Vec<&str> = keys_with(&words, &["intent"]).into_iter().filter(|key| !sent.contains_key(*key)).collect();
    assert!(doubtful.is_empty(), "rows in doubt whose draft never left: {doubtful:?}");
}

#[test]
fn rows_from_a_named_pipe_are_spooled_and_the_spool_never_outlives_its_opening() {
    let scratch = Scratch::new("fifo");
    let server = server(vec![slow_created()]);
    let vins = vins(0, 12);
    let fifo = scratch.path("rows.csv");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let rows = csv(&vins);
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, rows))
    };
    // The spool goes to a temporary folder of its own: nothing may be left in it, at any time.
    let spools = scratch.path("tmp");
    std::fs::create_dir_all(&spools).unwrap();
    let out = scratch.path("results.jsonl");
    let mut command = batch(&server, &scratch, &["--rows", text(&fifo), "--out", text(&out), "--key", "vin", "--jobs", "2"]);
    command.env("TMPDIR", &spools);
    let started = Instant::now();
    let mut child = start(command, &scratch, "fifo");
    let mut looked = 0;
    while child.try_wait().unwrap().is_none() {
        let held: Vec<_> = std::fs::read_dir(&spools).unwrap().collect();
        assert!(held.is_empty(), "a spool of the rows is in {}: {held:?}", spools.display());
        looked += 1;
        std::thread::sleep(Duration::from_millis(2));
        assert!(started.elapsed() < LIMIT, "the batch did not finish");
    }
    writer.join().unwrap().unwrap();
    let ran = finish(child, &scratch, "fifo", started);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_summary(&ran, [12, 0, 0, 0, 0]);
    assert!(looked > 3, "the batch was too quick to watch");
    assert_eq!(posts(&server), once_each(&vins));
}

#[test]
fn the_circuit_breaker_stops_a_batch_against_a_closed_port_and_the_journal_resumes() {
    let scratch = Scratch::new("breaker");
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let vins = vins(0, 40);
    let rows = scratch.write("rows.csv", &csv(&vins));
    let out = scratch.path("results.jsonl");
    let args = ["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--jobs", "1", "--breaker", "5"];
    let server = server(vec![created()]);
    let mut command = batch(&server, &scratch, &args);
    command.env("BASE_URL", format!("http://127.0.0.1:{closed}"));
    let ran = run(command, &scratch, "closed");
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(ran.stderr.contains("batch stopped: 0 ok, 5 failed"), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("error: the last 5 rows all failed the same way before anything was accepted (connect_refused)"),
        "{}",
        ran.stderr
    );
    let words = last_words(&journal(&out));
    assert_eq!(words.len(), 5, "no row started after the fifth: {words:?}");
    // The server is back: the resume runs the failed rows again and the rest.
    let ran = run(batch(&server, &scratch, &[&args[..], &["--resume"]].concat()), &scratch, "resume");
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(keys_with(&last_words(&journal(&out)), &["ok"]), set(&vins));
    assert_eq!(posts(&server), once_each(&vins));
    // `--breaker 0` turns it off: every row is tried.
    let out = scratch.path("off.jsonl");
    let off = ["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--jobs", "8", "--breaker", "0"];
    let mut command = batch(&server, &scratch, &off);
    command.env("BASE_URL", format!("http://127.0.0.1:{closed}"));
    let ran = run(command, &scratch, "off");
    assert_summary(&ran, [0, 40, 0, 0, 0]);
}

/// Waits until the results file holds at least `lines` lines.
fn wait_for_lines(path: &Path, lines: usize, child: &mut Child) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let count = std::fs::read_to_string(path).map_or(0, |text| text.lines().count());
        if count >= lines {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the batch ended ({status}) with {count} lines in {}", path.display());
        }
        assert!(Instant::now() < deadline, "{} has {count} lines after {LIMIT:?}", path.display());
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Starts the batch and SIGKILLs it once the results file has grown by `lines` lines.
fn kill_after(command: Command, scratch: &Scratch, name: &str, out: &Path, lines: usize) {
    let before = std::fs::read_to_string(out).map_or(0, |text| text.lines().count());
    let mut child = start(command, scratch, name);
    wait_for_lines(out, before + lines, &mut child);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None, "the batch finished before it was killed");
}

#[test]
fn a_killed_batch_resumes_without_sending_any_draft_twice() {
    let scratch = Scratch::new("resume");
    // Each draft answer drips out slowly, so a kill always catches drafts in flight.
    let server = server(vec![slow_created()]);
    let vins = vins(0, 200);
    let rows = scratch.write("rows.csv", &csv(&vins));
    let out = scratch.path("results.jsonl");
    let args = ["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--jobs", "16", "--threads", "2"];
    let resume = [&args[..], &["--resume"]].concat();

    // Killed twice: once fresh, once resumed.
    kill_after(batch(&server, &scratch, &args), &scratch, "first", &out, 20);
    kill_after(batch(&server, &scratch, &resume), &scratch, "second", &out, 20);
    let before = last_words(&journal(&out));
    let in_doubt = keys_with(&before, &["intent", "in_doubt"]);
    let done = keys_with(&before, &["ok"]);
    assert!(!in_doubt.is_empty(), "no draft was in flight at either kill: {before:?}");
    assert_eq!(keys_with(&before, &["failed", "invalid"]), BTreeSet::new());
    let sent = posts(&server);
    assert!(sent.values().all(|&count| count == 1), "a draft was sent twice before the resume: {sent:?}");
    assert!(done.iter().all(|key| sent.get(*key) == Some(&1)));

    // Resumed to the end: rows that succeeded are skipped, rows whose draft may have been sent
    // are reported in doubt and not sent again, every other row runs.
    let ran = run(batch(&server, &scratch, &resume), &scratch, "third");
    assert_eq!(ran.code, Some(5), "{}", ran.stderr);
    assert_summary(&ran, [200 - done.len() - in_doubt.len(), 0, in_doubt.len(), done.len(), 0]);
    let after = last_words(&journal(&out));
    assert_eq!(after.keys().map(String::as_str).collect::<BTreeSet<_>>(), set(&vins));
    assert_eq!(keys_with(&after, &["in_doubt"]), in_doubt, "the rows in doubt are not the ones whose intent had no outcome");
    assert_eq!(keys_with(&after, &["ok"]).len(), 200 - in_doubt.len());
    let sent = posts(&server);
    assert!(sent.values().all(|&count| count == 1), "a draft was sent twice: {sent:?}");
    for vin in &vins {
        let expected = if in_doubt.contains(vin.as_str()) { 0..=1 } else { 1..=1 };
        assert!(expected.contains(sent.get(vin).unwrap_or(&0)), "{vin}: {:?} drafts", sent.get(vin));
    }

    // `--retry-in-doubt` runs them again, by design even though their draft may exist already
    // (the user checked): each ends ok, with at most one duplicate.
    let retry = [&resume[..], &["--retry-in-doubt"]].concat();
    let ran = run(batch(&server, &scratch, &retry), &scratch, "fourth");
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_summary(&ran, [in_doubt.len(), 0, 0, 200 - in_doubt.len(), 0]);
    let last = last_words(&journal(&out));
    assert_eq!(keys_with(&last, &["ok"]), set(&vins));
    let sent = posts(&server);
    for vin in &vins {
        let expected = if in_doubt.contains(vin.as_str()) { 1..=2 } else { 1..=1 };
        assert!(expected.contains(sent.get(vin).unwrap_or(&0)), "{vin}: {:?} drafts", sent.get(vin));
    }
}

#[test]
fn shards_split_the_rows_exactly() {
    let scratch = Scratch::new("shards");
    let server = server(vec![created()]);
    let vins = vins(0, 40);
    let rows = scratch.write("rows.csv", &csv(&vins));
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for k in 0..4 {
        let out = scratch.path(&format!("shard-{k}.jsonl"));
        let shard = format!("{k}/4");
        let ran = run(
            batch(&server, &scratch, &["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--shard", &shard]),
            &scratch,
            &format!("shard-{k}"),
        );
        assert_eq!(ran.code, Some(0), "{}", ran.stderr);
        let results = journal(&out);
        let finished = outcomes(&results);
        assert!(finished.iter().all(|line| line["outcome"] == "ok"), "{results:#?}");
        assert_summary(&ran, [finished.len(), 0, 0, 0, 0]);
        for line in finished {
            *seen.entry(line["key"].as_str().unwrap().to_owned()).or_insert(0) += 1;
        }
    }
    assert_eq!(seen, once_each(&vins));
    assert_eq!(posts(&server), once_each(&vins));
}

#[test]
fn a_used_results_file_needs_resume() {
    let scratch = Scratch::new("used");
    let server = server(vec![created()]);
    let rows = scratch.write("rows.csv", &csv(&vins(0, 3)));
    let held = "{\"row\":1,\"key\":\"1\",\"outcome\":\"ok\"}\n";
    let out = scratch.write("results.jsonl", held);
    let ran = run(batch(&server, &scratch, &["--rows", text(&rows), "--out", text(&out)]), &scratch, "used");
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains(&format!("error: the results file {} already holds a batch", text(&out))), "{}", ran.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), held);
    // `--resume` needs `--out`, and `--retry-in-doubt` needs `--resume`.
    for args in [vec!["--rows", text(&rows), "--resume"], vec!["--rows", text(&rows), "--out", text(&out), "--retry-in-doubt"]] {
        let ran = run(batch(&server, &scratch, &args), &scratch, "flags");
        assert_eq!(ran.code, Some(2), "{args:?}: {}", ran.stderr);
    }
    assert_eq!(server.count("GET", "/lookup") + server.count("POST", "/draft"), 0);
}

/// Many failed rows: the summary names the first ten by row number, whatever order they
/// finished in, and counts the others, pointing at the results file (or at `--out`).
#[test]
fn the_summary_names_the_first_failed_rows_and_counts_the_rest() {
    let scratch = Scratch::new("named");
    let server = server_with(vec![Fault::Respond(Reply::json(400, &json!({"message": "unknown vin"})))], vec![created()]);
    let rows = scratch.write("rows.csv", &csv(&vins(0, 15)));
    let ran = run(batch(&server, &scratch, &["--rows", text(&rows), "--jobs", "4"]), &scratch, "named");
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert_summary(&ran, [0, 15, 0, 0, 0]);
    let lines: Vec<&str> = ran.stderr.lines().skip_while(|line| !line.starts_with("failed rows")).collect();
    assert_eq!(lines[0], "failed rows (the first 10 of 15, by row number):", "{}", ran.stderr);
    for (index, line) in lines[1..=10].iter().enumerate() {
        let start = format!("  row {}: step `lookup`: ", index + 1);
        assert!(line.starts_with(&start) && line.contains("400"), "{line}\n{}", ran.stderr);
    }
    assert_eq!(lines[11], "  ... and 5 more: run again with `--out FILE` to keep every row's error", "{}", ran.stderr);
    assert_eq!(lines.len(), 12, "no other hint: {}", ran.stderr);

    let out = scratch.path("results.jsonl");
    let ran = run(batch(&server, &scratch, &["--rows", text(&rows), "--jobs", "4", "--out", text(&out)]), &scratch, "named-out");
    assert!(ran.stderr.contains(&format!("  ... and 5 more: see {}", out.display())), "{}", ran.stderr);
    assert_eq!(server.count("POST", "/draft"), 0);
}

#[test]
fn failed_rows_run_again_on_resume_unless_their_draft_may_exist() {
    let scratch = Scratch::new("failed");
    // One row at a time, so the faults meet known rows: row 1's lookup fails (nothing created),
    // row 2's draft is created but lacks the output's field, row 3's draft is reset mid-request.
    let lookup = vec![Fault::Respond(Reply::json(500, &json!({"message": "down"}))), found()];
    let draft = vec![Fault::Respond(Reply::json(201, &json!({"other": 1}))), Fault::ResetAfterRequest, created()];
    let server = server_with(lookup, draft);
    let vins = vins(0, 6);
    let rows = scratch.write("rows.csv", &csv(&vins));
    let out = scratch.path("results.jsonl");
    let args = ["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--jobs", "1"];
    let ran = run(batch(&server, &scratch, &args), &scratch, "first");
    assert_eq!(ran.code, Some(5), "in doubt outranks failed: {}", ran.stderr);
    assert_summary(&ran, [3, 2, 1, 0, 0]);
    assert!(ran.stderr.contains(&format!("hint: each row's outcome, error and attempts are in {}", out.display())), "{}", ran.stderr);
    // The summary names the three rows: key, step and the short reason.
    let named: Vec<&str> = ran.stderr.lines().skip_while(|line| *line != "failed rows:").skip(1).take(3).collect();
    assert!(named[0].starts_with(&format!("  row 1 (key {}): step `lookup`: ", vins[0])) && named[0].contains("500"), "{}", ran.stderr);
    assert!(named[1].starts_with(&format!("  row 2 (key {}): failed: cannot render output `draft_id`", vins[1])), "{}", ran.stderr);
    assert!(named[2].starts_with(&format!("  row 3 (key {}): in doubt at step `draft`: ", vins[2])), "{}", ran.stderr);
    let results = journal(&out);
    let line = |vin: &str| *outcomes(&results).iter().find(|line| line["key"] == vin).unwrap();
    let (lookup_failed, created_failed, reset) = (line(&vins[0]), line(&vins[1]), line(&vins[2]));
    assert_eq!(
        (&lookup_failed["outcome"], &lookup_failed["step"], &lookup_failed["effect"]),
        (&json!("failed"), &json!("lookup"), &Json::Null)
    );
    assert!(lookup_failed["error"].as_str().unwrap().contains("500"), "{lookup_failed}");
    assert_eq!((&created_failed["outcome"], &created_failed["effect"]), (&json!("failed"), &json!("created")), "{created_failed}");
    assert!(created_failed["error"].as_str().unwrap().contains("draft_id"), "{created_failed}");
    assert_eq!((&reset["outcome"], &reset["step"], &reset["effect"]), (&json!("in_doubt"), &json!("draft"), &json!("in_doubt")), "{reset}");
    assert_eq!(reset["attempts"], 2, "a POST whose outcome is unknown is not sent again: {reset}");

    // Resumed: only the row that failed before its draft runs again.
    let ran = run(batch(&server, &scratch, &[&args[..], &["--resume"]].concat()), &scratch, "resume");
    assert_eq!(ran.code, Some(5), "{}", ran.stderr);
    assert_summary(&ran, [1, 1, 1, 3, 0]);
    assert_eq!(last_words(&journal(&out)).get(&vins[0]).map(String::as_str), Some("ok"));
    assert_eq!(posts(&server), once_each(&vins));
    assert_eq!(server.count("GET", "/lookup"), 7);
}

#[test]
fn ctrl_c_lets_the_rows_in_flight_finish_and_resume_completes() {
    let scratch = Scratch::new("interrupt");
    let server = server(vec![slow_created()]);
    let vins = vins(0, 100);
    let rows = scratch.write("rows.csv", &csv(&vins));
    let out = scratch.path("results.jsonl");
    let args = ["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--jobs", "16", "--threads", "2"];
    let started = Instant::now();
    let mut child = start(batch(&server, &scratch, &args), &scratch, "first");
    wait_for_lines(&out, 20, &mut child);
    let signal = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(signal.success());
    let ran = finish(child, &scratch, "first", started);
    assert_eq!(ran.code, Some(130), "{}", ran.stderr);
    assert!(ran.stderr.contains("stopping: no new rows start"), "{}", ran.stderr);
    assert!(ran.stderr.contains("batch interrupted: "), "{}", ran.stderr);
    // The rows in flight finished: no intent lacks its outcome.
    let words = last_words(&journal(&out));
    assert_eq!(keys_with(&words, &["intent", "in_doubt", "failed"]), BTreeSet::new(), "{words:?}");
    assert!(words.len() < 100, "every row ran: the interrupt came too late");

    let ran = run(batch(&server, &scratch, &[&args[..], &["--resume"]].concat()), &scratch, "resume");
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_summary(&ran, [100 - words.len(), 0, 0, words.len(), 0]);
    assert_eq!(keys_with(&last_words(&journal(&out)), &["ok"]), set(&vins));
    assert_eq!(posts(&server), once_each(&vins));
}

#[test]
fn a_second_ctrl_c_aborts_the_rows_in_flight_on_every_thread() {
    let scratch = Scratch::new("abort");
    // Every draft stalls: the rows in flight on both threads would never finish by themselves.
    let server = server(vec![Fault::Stall]);
    let vins = vins(0, 20);
    let rows = scratch.write("rows.csv", &csv(&vins));
    let out = scratch.path("results.jsonl");
    let args = ["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--jobs", "4", "--threads", "2"];
    let started = Instant::now();
    let mut child = start(batch(&server, &scratch, &args), &scratch, "abort");
    // Four intents: four drafts are in flight, two on each thread.
    wait_for_lines(&out, 4, &mut child);
    while server.count("POST", "/draft") < 4 {
        assert!(started.elapsed() < LIMIT, "the drafts never reached the server");
        std::thread::sleep(Duration::from_millis(10));
    }
    for _ in 0..2 {
        assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
        std::thread::sleep(Duration::from_millis(100));
    }
    let ran = finish(child, &scratch, "abort", started);
    assert_eq!(ran.code, Some(130), "{}", ran.stderr);
    assert!(ran.elapsed < Duration::from_secs(4), "the stalled drafts (5s timeout) were awaited: {:?}", ran.elapsed);
    // The four rows in flight have an intent and no outcome: a resume reports them in doubt.
    let words = last_words(&journal(&out));
    assert_eq!(keys_with(&words, &["intent"]).len(), 4, "{words:?}");
    assert_eq!(words.len(), 4, "{words:?}");
}

/// Sends `signal` (`TERM`, `INT`) to a child.
fn signal(child: &Child, signal: &str) {
    assert!(Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap().success());
}

#[test]
fn sigterm_drains_like_the_first_ctrl_c_and_leaves_nothing_in_doubt() {
    let scratch = Scratch::new("sigterm");
    let server = server(vec![slow_created()]);
    let vins = vins(0, 100);
    let rows = scratch.write("rows.csv", &csv(&vins));
    let out = scratch.path("results.jsonl");
    let args = ["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--jobs", "16", "--threads", "2"];
    let started = Instant::now();
    let mut child = start(batch(&server, &scratch, &args), &scratch, "first");
    wait_for_lines(&out, 20, &mut child);
    signal(&child, "TERM");
    let ran = finish(child, &scratch, "first", started);
    assert_eq!(ran.code, Some(143), "{}", ran.stderr);
    assert!(ran.stderr.contains("stopping (SIGTERM): no new rows start"), "{}", ran.stderr);
    assert!(ran.stderr.contains("batch terminated: "), "{}", ran.stderr);
    // The rows in flight finished: no intent lacks its outcome, no row is in doubt.
    let words = last_words(&journal(&out));
    assert_eq!(keys_with(&words, &["intent", "in_doubt", "failed"]), BTreeSet::new(), "{words:?}");
    assert!(words.len() < 100, "every row ran: the signal came too late");
    let ran = run(batch(&server, &scratch, &[&args[..], &["--resume"]].concat()), &scratch, "resume");
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(keys_with(&last_words(&journal(&out)), &["ok"]), set(&vins));
    assert_eq!(posts(&server), once_each(&vins));
}

#[test]
fn a_second_signal_after_sigterm_aborts() {
    let scratch = Scratch::new("sigterm-abort");
    let server = server(vec![Fault::Stall]);
    let rows = scratch.write("rows.csv", &csv(&vins(0, 20)));
    let out = scratch.path("results.jsonl");
    let args = ["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--jobs", "4", "--threads", "2"];
    let started = Instant::now();
    let mut child = start(batch(&server, &scratch, &args), &scratch, "abort");
    wait_for_lines(&out, 4, &mut child);
    while server.count("POST", "/draft") < 4 {
        assert!(started.elapsed() < LIMIT, "the drafts never reached the server");
        std::thread::sleep(Duration::from_millis(10));
    }
    for kind in ["TERM", "INT"] {
        signal(&child, kind);
        std::thread::sleep(Duration::from_millis(100));
    }
    let ran = finish(child, &scratch, "abort", started);
    assert_eq!(ran.code, Some(143), "{}", ran.stderr);
    assert!(ran.elapsed < Duration::from_secs(4), "the stalled drafts (5s timeout) were awaited: {:?}", ran.elapsed);
    assert_eq!(keys_with(&last_words(&journal(&out)), &["intent"]).len(), 4);
}

/// A recipe that reads `/me` for each row's VIN with an OAuth2 token (1s timeout, no retry).
fn whoami(scratch: &Scratch) -> PathBuf {
    scratch.write(
        "whoami.yaml",
        concat!(
            "recipe: 1\nname: whoami\ninputs:\n  vin: { type: string }\n",
            "env:\n  BASE_URL: { description: the fault server }\n  API_KEY: { secret: true }\n",
            "http:\n  base_url: \"{{ env.BASE_URL }}\"\n  timeout: 1s\n  retry: { attempts: 1 }\n",
            "  auth:\n    oauth2: { token_url: /token, client_id: client-1, client_secret: \"{{ env.API_KEY }}\" }\n",
            "steps:\n  - id: me\n    request: { method: GET, url: /me, query: { vin: \"{{ inputs.vin }}\" } }\n",
        ),
    )
}

#[test]
fn a_token_endpoint_that_hangs_fails_the_waiting_rows_once_not_one_after_another() {
    let scratch = Scratch::new("oauth2-hangs");
    let recipe = whoami(&scratch);
    let server = block_on(FaultServer::start(vec![("POST", "/token", vec![Fault::Stall]), ("GET", "/me", vec![found()])]));
    let vins = vins(0, 8);
    let rows = scratch.write("rows.csv", &(String::from("vin\n") + &vins.join("\n") + "\n"));
    let ran = run(batch_of(&recipe, &server, &scratch, &["--rows", text(&rows), "--jobs", "8", "--threads", "2"]), &scratch, "hangs");
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert_summary(&ran, [0, 8, 0, 0, 0]);
    // Every row asked while the one request hung, and took its failure: about one timeout in
    // all, not eight in turn.
    assert_eq!(server.count("POST", "/token"), 1);
    assert!(ran.elapsed < Duration::from_secs(4), "{:?}", ran.elapsed);
    assert_eq!(server.count("GET", "/me"), 0);
}

#[test]
fn every_row_on_every_thread_shares_one_oauth2_token() {
    let scratch = Scratch::new("oauth2");
    let recipe = whoami(&scratch);
    let token = Fault::Respond(Reply::json(200, &json!({"access_token": "batch-token-77e1", "expires_in": 3600})));
    let server = block_on(FaultServer::start(vec![
        ("POST", "/token", vec![token]),
        ("GET", "/me", vec![Fault::Respond(Reply::json(200, &json!({"id": 7})))]),
    ]));
    let vins = vins(0, 24);
    let rows = scratch.write("rows.csv", &(String::from("vin\n") + &vins.join("\n") + "\n"));
    let command = batch_of(&recipe, &server, &scratch, &["--rows", text(&rows), "--jobs", "8", "--threads", "2"]);
    let ran = run(command, &scratch, "oauth2");
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_summary(&ran, [24, 0, 0, 0, 0]);
    assert_eq!(server.count("POST", "/token"), 1, "every row in flight waited for the one token request");
    assert_eq!(server.count("GET", "/me"), 24);
    for request in server.requests().iter().filter(|r| r.method == "GET") {
        assert!(request.headers.iter().any(|(n, v)| n == "authorization" && v == "Bearer batch-token-77e1"), "{request:?}");
    }
}

#[test]
fn rows_given_the_same_large_body_each_read_it_whole() {
    // Bodies over 256 bytes that repeat byte for byte are parsed once per thread and shared
    // (`transport::bodies`); every row still reads the whole answer.
    let scratch = Scratch::new("shared-bodies");
    let padding: Vec<String> = (0..40).map(|i| format!("advisor-{i:03}")).collect();
    let draft = json!({"id": "d-shared-7", "advisors": padding});
    let server = server(vec![Fault::Respond(Reply::json(201, &draft))]);
    let vins = vins(300, 30);
    let rows = scratch.write("rows.csv", &csv(&vins));
    let out = scratch.path("results.jsonl");
    let ran =
        run(batch(&server, &scratch, &["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--threads", "2"]), &scratch, "shared");
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let finished = outcomes(&journal(&out)).into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(finished.len(), 30);
    assert!(finished.iter().all(|line| line["outputs"] == json!({"draft_id": "d-shared-7"})), "{finished:#?}");
}

#[test]
fn a_results_file_that_cannot_be_written_stops_every_thread_before_any_draft() {
    let scratch = Scratch::new("full");
    let server = server(vec![created()]);
    let vins = vins(0, 40);
    let rows = scratch.write("rows.csv", &csv(&vins));
    let args = ["--rows", text(&rows), "--out", "/dev/full", "--key", "vin", "--jobs", "8", "--threads", "2"];
    let ran = run(batch(&server, &scratch, &args), &scratch, "full");
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(ran.stderr.contains("cannot write the results file"), "{}", ran.stderr);
    // An intent that is not on disk never lets its draft leave.
    assert_eq!(server.count("POST", "/draft"), 0);
    assert!(server.count("GET", "/lookup") <= 8, "rows kept starting after the failure");
}

#[test]
fn a_csv_from_a_spreadsheet_reads() {
    // A byte order mark and CRLF line ends, as spreadsheets write them.
    let scratch = Scratch::new("bom");
    let server = server(vec![created()]);
    let vins = vins(0, 3);
    let rows = scratch.write("rows.csv", &format!("\u{feff}{}", csv(&vins).replace('\n', "\r\n")));
    let ran = run(batch(&server, &scratch, &["--rows", text(&rows)]), &scratch, "bom");
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(posts(&server), once_each(&vins));
}

#[test]
fn a_bad_row_in_a_shard_is_listed_with_its_own_row_number() {
    let scratch = Scratch::new("shardbad");
    let server = server(vec![created()]);
    let mut lines: Vec<String> = csv(&vins(0, 12)).lines().map(str::to_owned).collect();
    // Row 9 (line 10) has a field too many.
    lines[9] = format!("{},Extra,field", vin(8));
    let rows = scratch.write("rows.csv", &(lines.join("\n") + "\n"));
    for k in 0..4 {
        let ran = run(batch(&server, &scratch, &["--rows", text(&rows), "--shard", &format!("{k}/4")]), &scratch, &format!("shard-{k}"));
        assert_eq!(ran.code, Some(2), "{}", ran.stderr);
        let expected = format!("error: {} line 10 (row 9): unreadable CSV row", text(&rows));
        assert!(ran.stderr.contains(&expected), "shard {k}/4: expected `{expected}`, got:\n{}", ran.stderr);
    }
    assert_eq!(server.count("GET", "/lookup"), 0);
}

#[test]
fn a_repeated_key_never_skips_a_row_that_did_not_run() {
    let scratch = Scratch::new("dupkey");
    let server = server(vec![created()]);
    // Two rows share a VIN; `--key vin` then names both.
    let shared = vin(1);
    let rows = scratch.write("rows.csv", &format!("vin,last_name\n{shared},First\n{shared},Second\n"));
    // As a batch killed after its first row leaves the results file.
    let out = scratch.write(
        "results.jsonl",
        &format!(
            "{}\n{}\n",
            json!({"row": 1, "key": shared, "intent": "draft"}),
            json!({"row": 1, "key": shared, "outcome": "ok", "outputs": {"draft_id": "d-1"}, "step": null, "error_kind": null, "error": null, "effect": "created", "attempts": 2, "duration_ms": 3})
        ),
    );
    let ran = run(batch(&server, &scratch, &["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--resume"]), &scratch, "resume");
    // Either the repeated key is refused before anything is sent, or row 2 (`Second`) runs.
    let second_ran = server.requests().iter().any(|r| r.method == "POST" && body(r)["last_name"] == "Second");
    assert!(ran.code == Some(2) || second_ran, "row 2 never ran, yet the batch says: {}", ran.stderr);
}

#[test]
fn quiet_batches_print_nothing_when_every_row_succeeds_and_the_summary_when_one_fails() {
    let scratch = Scratch::new("quiet");
    let server = server(vec![created()]);
    let rows = scratch.write("rows.csv", &csv(&vins(0, 3)));
    let ran = run(batch(&server, &scratch, &["--rows", text(&rows), "-q"]), &scratch, "quiet");
    assert_eq!((ran.code, ran.stderr.as_str()), (Some(0), ""), "errors only, and there are none");

    let failing = server_with(vec![Fault::Respond(Reply::json(500, &json!({"message": "down"})))], vec![created()]);
    let ran = run(batch(&failing, &scratch, &["--rows", text(&rows), "-q"]), &scratch, "quiet-failing");
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert_summary(&ran, [0, 3, 0, 0, 0]);
}

/// The batch command under `ulimit -f BLOCKS` (512-byte blocks in `sh`): a file that outgrows it
/// fails to write (`EFBIG`) instead of ending the process with SIGXFSZ.
fn limited(blocks: u32, server: &FaultServer, scratch: &Scratch, args: &[&str]) -> Command {
    let mut command = Command::new("sh");
    command
        .args(["-c", &format!("ulimit -f {blocks} && exec \"$0\" \"$@\""), env!("CARGO_BIN_EXE_recipe"), "run"])
        .arg(root().join("tests/data/batch.yaml"))
        .args(args)
        .current_dir(&scratch.0)
        .env("BASE_URL", server.url(""))
        .env("API_KEY", SECRET)
        .stdin(Stdio::null());
    command
}

#[test]
fn a_results_file_over_the_file_size_limit_stops_the_batch_with_a_message_and_exit_4() {
    let scratch = Scratch::new("ulimit");
    let server = server(vec![created()]);
    let vins = vins(0, 40);
    let rows = scratch.write("rows.csv", &csv(&vins));
    let out = scratch.path("results.jsonl");
    let args = ["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--jobs", "1"];
    // 2 KiB hold the batch line and a few rows (each row writes about 300 bytes), not 40.
    let ran = run(limited(4, &server, &scratch, &args), &scratch, "limited");
    assert_eq!(ran.code, Some(4), "drafts were created, so 4, and not a death by SIGXFSZ: {}", ran.stderr);
    assert!(ran.stderr.contains(&format!("error: cannot write the results file {}: File too large", out.display())), "{}", ran.stderr);
    assert!(ran.stderr.contains("no new rows were started") && ran.stderr.contains("reported in doubt by `--resume`"), "{}", ran.stderr);
    let sent = server.count("POST", "/draft");
    assert!((1..10).contains(&sent), "the batch stopped taking rows: {sent} drafts");
    assert!(std::fs::metadata(&out).unwrap().len() <= 2048);

    // With room again, the resume finishes the batch: no draft twice, no row lost, and only a row
    // whose outcome the full file missed may be in doubt.
    let resumed = run(batch(&server, &scratch, &[&args[..], &["--resume"]].concat()), &scratch, "resume");
    assert!(matches!(resumed.code, Some(0 | 5)), "{}", resumed.stderr);
    let words = last_words(&journal(&out));
    assert_eq!(words.len(), 40, "{words:?}");
    assert!(keys_with(&words, &["in_doubt"]).len() <= 1, "{words:?}");
    assert_eq!(keys_with(&words, &["ok", "in_doubt"]).len(), 40, "{words:?}");
    assert_eq!(posts(&server), once_each(&vins));

    // A limit that the first line already passes: nothing is sent, and it says so (exit 1).
    let before = server.requests().len();
    let other = Scratch::new("ulimit-zero");
    let out = other.path("results.jsonl");
    let args = ["--rows", text(&rows), "--out", text(&out), "--key", "vin"];
    // Through a pipe: the limit holds for every file the process writes, its stderr file too.
    let ran = limited(0, &server, &other, &args).output().unwrap();
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert_eq!(ran.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("cannot write the results file {}", out.display())), "{stderr}");
    assert!(stderr.contains("`--resume` continues the batch once the file can be written"), "{stderr}");
    assert_eq!(server.requests().len(), before, "nothing is sent");
}

const PROJECTED: &str = r#"recipe: 1
name: projected
inputs:
  vin: { type: string }
  last_name: { type: string }
env:
  BASE_URL: { description: "the fault server" }
http: { base_url: "{{ env.BASE_URL }}" }
steps:
  - id: lookup
    request: { method: GET, url: /lookup, query: { vin: "{{ inputs.vin }}" } }
  - id: customer
    filter:
      from: "{{ steps.lookup.body }}"
      items: $.customers[*]
      match: { "$.vehicles[0].vin": "{{ inputs.vin }}" }
      expect: one
    bind: { customer_uuid: $.uuid }
outputs:
  uuid: "{{ vars.customer_uuid }}"
  nickname: "{{ steps.customer.item.nickname | default('none') }}"
  last: "{{ steps.customer.item.lastName }}"
  meta: "{{ steps.lookup.body.meta }}"
  total: "{{ steps.lookup.body.total }}"
"#;

#[test]
fn a_batch_parses_only_what_its_recipe_reads_and_every_output_is_the_same() {
    // A batch builds only the parts of a body its recipe reads (`src/reads.rs`): the customers'
    // first VIN, uuid, nickname and last name, `meta` whole and `total`. Every output must be
    // what the whole answer gives, a null nickname included (were it left out, `default` would
    // silently answer "none").
    let scratch = Scratch::new("projected");
    let customers: Vec<Json> = (0..30)
        .map(|i| {
            json!({
                "uuid": format!("c{i}"),
                "lastName": format!("Name{}", i % 3),
                "nickname": if i == 4 { json!("Four") } else { Json::Null },
                "vehicles": [{"vin": vin(i), "uuid": format!("v{i}"), "make": "M"}, {"vin": "OTHER"}],
                "notes": "x".repeat(40),
            })
        })
        .collect();
    let answer = json!({"customers": customers, "meta": {"page": 1, "of": [1, 2]}, "total": 30, "requestId": "r"});
    let server = block_on(FaultServer::start(vec![("GET", "/lookup", vec![Fault::Respond(Reply::json(200, &answer))])]));
    let recipe = scratch.write("projected.yaml", PROJECTED);
    let vins = vins(0, 12);
    let rows = scratch.write("rows.csv", &csv(&vins));
    let out = scratch.path("results.jsonl");
    let args = ["--rows", text(&rows), "--out", text(&out), "--key", "vin", "--jobs", "4"];
    let ran = run(batch_of(&recipe, &server, &scratch, &args), &scratch, "projected");
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let results = journal(&out);
    for (i, vin) in vins.iter().enumerate() {
        let line = outcomes(&results).into_iter().find(|line| line["key"] == json!(vin)).unwrap();
        let customer = &answer["customers"][i];
        let expected = json!({
            "uuid": customer["uuid"],
            "nickname": customer["nickname"],
            "last": customer["lastName"],
            "meta": answer["meta"],
            "total": answer["total"],
        });
        assert_eq!(line["outputs"], expected, "row {i}");
    }
}

#[test]
fn a_filter_that_keeps_the_wrong_number_lists_every_candidate_though_a_batch_builds_only_matches() {
    // The customer filter of PROJECTED alone reads the customers, so a row builds only the
    // customer whose VIN it looks for (`src/sieve.rs`). A row whose VIN no customer has, and one
    // whose VIN two customers have, must still list every candidate and why it was ruled out.
    let scratch = Scratch::new("sieved");
    let customers: Vec<Json> =
        (0..5).map(|i| json!({"uuid": format!("c{i}"), "lastName": "N", "vehicles": [{"vin": vin(i.min(3))}], "notes": "x"})).collect();
    let answer = json!({"customers": customers, "meta": {}, "total": 5});
    let server = block_on(FaultServer::start(vec![("GET", "/lookup", vec![Fault::Respond(Reply::json(200, &answer))])]));
    let recipe = scratch.write("projected.yaml", PROJECTED);
    let rows = scratch.write("rows.csv", &csv(&[vin(1), vin(3), vin(9)]));
    let out = scratch.path("results.jsonl");
    let args = ["--rows", text(&rows), "--out", text(&out), "--key", "vin"];
    let ran = run(batch_of(&recipe, &server, &scratch, &args), &scratch, "sieved");
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    let results = journal(&out);
    let error = |vin: String| {
        let line = outcomes(&results).into_iter().find(|line| line["key"] == json!(vin)).unwrap();
        line["error"].as_str().unwrap_or_default().to_owned()
    };
    assert_eq!(error(vin(1)), "", "one customer has the first VIN");
    for (vin, found) in [(vin(3), "found 2 among 5 candidates"), (vin(9), "found none among 5 candidates")] {
        let error = error(vin);
        assert!(error.contains(found), "{error}");
        for i in 0..5 {
            assert!(error.contains(&format!("\"uuid\":\"c{i}\"")), "candidate c{i} is listed: {error}");
        }
    }
}

#[test]
fn a_failed_status_shows_its_whole_body_in_the_results_even_when_the_recipe_reads_part_of_it() {
    // Only a 2xx answer is parsed into what the recipe reads: an error quotes the body as sent.
    let scratch = Scratch::new("projected-error");
    let refused = json!({"message": "the dealer is closed today", "customers": []});
    let server = block_on(FaultServer::start(vec![("GET", "/lookup", vec![Fault::Respond(Reply::json(503, &refused))])]));
    every_row_fails_quoting(&scratch, PROJECTED, &server, "the dealer is closed today");
}

/// Runs `recipe` (a variant of [`PROJECTED`]) on two rows against `server`: the batch exits 1
/// and every row's error quotes `quoted` from the body.
fn every_row_fails_quoting(scratch: &Scratch, recipe: &str, server: &FaultServer, quoted: &str) {
    let recipe = scratch.write("projected.yaml", recipe);
    let rows = scratch.write("rows.csv", &csv(&vins(0, 2)));
    let out = scratch.path("results.jsonl");
    let ran = run(batch_of(&recipe, server, scratch, &["--rows", text(&rows), "--out", text(&out)]), scratch, "projected");
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    let results = journal(&out);
    for line in outcomes(&results) {
        let error = line["error"].as_str().unwrap_or_default();
        assert!(error.contains(quoted), "{line}");
    }
}

#[test]
fn a_step_that_expects_one_status_is_read_whole() {
    // With `expect.status`, a 2xx may still be an error that quotes the body: no projection.
    let scratch = Scratch::new("projected-expect");
    let answer = json!({"message": "created elsewhere, not here", "customers": []});
    let server = block_on(FaultServer::start(vec![("GET", "/lookup", vec![Fault::Respond(Reply::json(200, &answer))])]));
    let text_of = PROJECTED.replace(
        "request: { method: GET, url: /lookup, query: { vin: \"{{ inputs.vin }}\" } }",
        "request: { method: GET, url: /lookup, query: { vin: \"{{ inputs.vin }}\" } }\n    expect: { status: 201 }",
    );
    assert_ne!(text_of, PROJECTED);
    every_row_fails_quoting(&scratch, &text_of, &server, "created elsewhere, not here");
}
