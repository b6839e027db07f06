//! Bodies beyond JSON: a `multipart` upload (text fields and a file part) checked by a real
//! server on 127.0.0.1, recorded with the file's digest instead of its bytes, and replayed.

use recipe::{Clock, Mode, Options, Strictness, prepare, run};
use serde_json::json;

use crate::faults::server::{Fault, FaultServer, Reply};
use crate::support::block_on;

const UPLOAD: &str = r#"recipe: 1
name: upload
env:
  BASE_URL: {}
inputs:
  title: string
http:
  base_url: "{{ env.BASE_URL }}"
steps:
  - id: upload
    request:
      method: POST
      url: /upload
      multipart:
        title: "{{ inputs.title }}"
        report: { file: data/report.csv, content_type: text/csv }
        photo: { file: data/pixel.png, filename: me.png }
    expect: { status: 201 }
"#;

/// The upload arrives as RFC 7578 parts, with the file's bytes, name and type; the fixture
/// keeps each file's digest and size, never its bytes; the replay compares them.
#[test]
fn a_multipart_upload_sends_fields_and_files_and_records_digests() {
    let folder = std::env::temp_dir().join(format!("recipe-bodies-{}", std::process::id()));
    std::fs::create_dir_all(folder.join("data")).unwrap();
    std::fs::write(folder.join("upload.yaml"), UPLOAD).unwrap();
    let csv = "id,total\n1,9.99\n2,19.50\n";
    let png: &[u8] = &[0x89, b'P', b'N', b'G', 0, 255, 1, 2];
    std::fs::write(folder.join("data/report.csv"), csv).unwrap();
    std::fs::write(folder.join("data/pixel.png"), png).unwrap();
    let server = block_on(FaultServer::start(vec![("POST", "/upload", vec![Fault::Respond(Reply::json(201, &json!({"id": 7})))])]));

    let plan = recipe::load(&folder.join("upload.yaml")).unwrap_or_else(|report| panic!("{report}"));
    let base = server.url("");
    let lookup = move |name: &str| (name == "BASE_URL").then(|| base.clone());
    let mut options = Options { clock: Some(Clock::fixed()), ..Options::new(&lookup, Mode::Record) };
    options.vars = vec![("title".to_owned(), "Q3 totals".to_owned())];
    let mut session = prepare(&plan, options).unwrap_or_else(|error| panic!("{error:?}"));
    let result = block_on(run(&plan, &session.params, &mut session.transport, &mut |_| {}));
    assert!(result.ok, "{:#?}", result.steps);

    let received = &server.requests()[0];
    let content_type = received.headers.iter().find(|(name, _)| name == "content-type").map(|(_, value)| value.clone()).unwrap();
    let boundary = content_type.strip_prefix("multipart/form-data; boundary=").expect(&content_type);
    let mut expected = Vec::new();
    expected.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nQ3 totals\r\n").as_bytes());
    expected.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"report\"; filename=\"report.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n")
            .as_bytes(),
    );
    expected.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"me.png\"\r\nContent-Type: image/png\r\n\r\n")
            .as_bytes(),
    );
    expected.extend_from_slice(png);
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(String::from_utf8_lossy(&received.body), String::from_utf8_lossy(&expected));
    assert_eq!(received.body, expected);

    let fixture = session.fixture(None, &result).expect("a recording");
    let recorded = serde_json::to_value(&fixture.exchanges[0].request).unwrap();
    let digest: String = {
        use sha2::Digest;
        sha2::Sha256::digest(csv.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect::<Vec<_>>().concat()
    };
    assert_eq!(
        recorded["multipart"][1],
        json!({"name": "report", "file": {
            "path": "data/report.csv", "filename": "report.csv", "content_type": "text/csv", "size": csv.len(), "sha256": digest
        }}),
    );
    let text = serde_json::to_string(&recorded).unwrap();
    assert!(!text.contains("9.99") && !text.contains("PNG"), "the fixture keeps no file bytes: {text}");
    assert_eq!(recorded["multipart"][0], json!({"name": "title", "value": "Q3 totals"}));

    // The replay sends the same files: it matches; an edited file does not.
    let mut replay = prepare(
        &plan,
        Options {
            vars: vec![("title".to_owned(), "Q3 totals".to_owned())],
            ..Options::new(&|_| None, Mode::Replay(fixture.clone(), Strictness::Exact))
        },
    )
    .unwrap();
    let replayed = block_on(run(&plan, &replay.params, &mut replay.transport, &mut |_| {}));
    assert!(replayed.ok, "{:#?}", replayed.steps);
    std::fs::write(folder.join("data/report.csv"), "id,total\n1,0\n").unwrap();
    let mut replay = prepare(
        &plan,
        Options {
            vars: vec![("title".to_owned(), "Q3 totals".to_owned())],
            ..Options::new(&|_| None, Mode::Replay(fixture, Strictness::Exact))
        },
    )
    .unwrap();
    let edited = block_on(run(&plan, &replay.params, &mut replay.transport, &mut |_| {}));
    assert!(!edited.ok, "an edited file differs from the recording");
    std::fs::remove_dir_all(&folder).unwrap();
}

/// A file part whose file is missing is a static error at its place.
#[test]
fn a_missing_file_part_is_reported_at_its_place() {
    let text = UPLOAD.replace("data/report.csv", "data/nope.csv");
    let report = recipe::load_str("/nonexistent/upload.yaml", &text).err().expect("a missing file");
    let place = report.diagnostics.iter().map(|d| (d.span.unwrap().line, d.span.unwrap().col, d.message.clone())).collect::<Vec<_>>();
    assert!(
        place.iter().any(|(line, col, message)| (*line, *col) == (16, 25) && message.contains("no file `/nonexistent/data/nope.csv`")),
        "{place:#?}"
    );
}

const TEXT_PAGE: &str = r#"recipe: 1
name: text
env:
  BASE_URL: {}
http:
  base_url: "{{ env.BASE_URL }}"
steps:
  - id: form
    request: { method: GET, url: /login }
    expect: { status: 200, json: false }
    bind:
      csrf: { regex: 'name="csrf" value="([^"]+)"', secret: true }
      title: { regex: '<title>[A-Za-z ]+</title>' }
    assert:
      - { path: $, pattern: "<form", message: the login page has a form }
outputs:
  title: "{{ vars.title }}"
  csrf_length: "{{ vars.csrf | length }}"
"#;

/// A text body binds with a regex (its first group, or the whole match) and asserts with a
/// pattern; a regex that matches nothing fails the step and says so; an invalid one is a static
/// error at its place.
#[test]
fn a_text_body_binds_with_a_regex_and_asserts_with_a_pattern() {
    let page = "<html><title>Sign in</title><form><input name=\"csrf\" value=\"k3y-9f8e7d6c\"></form></html>";
    let server = block_on(FaultServer::start(vec![("GET", "/login", vec![Fault::Respond(Reply::text(200, "text/html", page))])]));
    let plan = recipe::load_str("text.yaml", TEXT_PAGE).unwrap_or_else(|report| panic!("{report}"));
    let base = server.url("");
    let lookup = move |name: &str| (name == "BASE_URL").then(|| base.clone());
    let mut session = prepare(&plan, Options::new(&lookup, Mode::Live)).unwrap();
    let result = block_on(run(&plan, &session.params, &mut session.transport, &mut |_| {}));
    assert!(result.ok, "{:#?}", result.steps);
    assert_eq!(result.outputs.as_ref().map(|outputs| json!(outputs)), Some(json!({"title": "<title>Sign in</title>", "csrf_length": 12})));

    let missing = TEXT_PAGE.replace("name=\"csrf\"", "name=\"token\"");
    let plan = recipe::load_str("text.yaml", &missing).unwrap();
    let base = server.url("");
    let lookup = move |name: &str| (name == "BASE_URL").then(|| base.clone());
    let mut session = prepare(&plan, Options::new(&lookup, Mode::Live)).unwrap();
    let result = block_on(run(&plan, &session.params, &mut session.transport, &mut |_| {}));
    let reason = result.steps[0].reason.as_deref().unwrap_or_default();
    assert!(reason.contains("the regular expression `name=\"token\" value=\"([^\"]+)\"` matches nothing in"), "{reason}");

    let invalid = TEXT_PAGE.replace("'<title>[A-Za-z ]+</title>'", "'<title>(unclosed'");
    let report = recipe::load_str("text.yaml", &invalid).err().expect("an invalid regex");
    let found: Vec<String> =
        report.diagnostics.iter().map(|d| format!("{}:{} {}", d.span.unwrap().line, d.span.unwrap().col, d.message)).collect();
    assert_eq!(found, ["13:23 invalid regular expression `<title>(unclosed`"]);
}
