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

const XML_ORDER: &str = r#"recipe: 1
name: xml
env:
  BASE_URL: {}
http:
  base_url: "{{ env.BASE_URL }}"
  namespaces: { s: "urn:example:shop" }
steps:
  - id: order
    request: { method: GET, url: /order }
    bind:
      id: { xpath: /order/id }
      items: { xpath: "count(//item)" }
      open: { xpath: "/order/@state = 'open'" }
      sku: { xpath: "//s:sku" }
      token: { xpath: /order/token, secret: true }
    assert:
      - { xpath: "/order/item[2]", message: the order has a second item }
      - { xpath: "normalize-space(/order/item[1])", equals: apple }
      - { xpath: /order/total, equals: 12.5, pattern: '^\d+\.\d$' }
outputs:
  id: "{{ vars.id }}"
  items: "{{ vars.items }}"
  open: "{{ vars.open }}"
  sku: "{{ vars.sku }}"
  token: "{{ vars.token }}"
"#;

const ORDER_BODY: &str = "<?xml version=\"1.0\"?>\n<order state=\"open\" xmlns:x=\"urn:example:shop\">\
    <id>A-17</id><item> apple </item><item>pear</item><total>12.5</total>\
    <x:sku>SKU-9</x:sku><token>tok-5f3c9a1e7b2d4c6f</token></order>";

/// Writes a recipe where `record_and_replay` can read it, beside nothing else.
fn recipe_file(name: &str, text: &str) -> std::path::PathBuf {
    let folder = std::env::temp_dir().join(format!("recipe-xml-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("xml.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// An XML body binds with XPath (a node's string value, a number, a boolean, a prefixed name
/// through `http.namespaces`) and asserts with XPath, against a real server, without
/// `expect.json`; the secret bind is masked in the outputs and the fixture; the replay of the
/// recording gives the same outputs.
#[test]
fn an_xml_body_binds_and_asserts_with_xpath_recorded_and_replayed() {
    let server =
        block_on(FaultServer::start(vec![("GET", "/order", vec![Fault::Respond(Reply::text(200, "application/xml", ORDER_BODY))])]));
    let path = recipe_file("ok", XML_ORDER);
    let (result, fixture, replayed) = crate::support::record_and_replay(&path, &server.url(""));
    assert!(result.ok, "{:#?}", result.steps);
    let expected = json!({"id": "A-17", "items": 2, "open": true, "sku": "SKU-9", "token": "<vars.token>"});
    assert_eq!(result.outputs.as_ref().map(|outputs| json!(outputs)), Some(expected.clone()));
    let recorded = serde_json::to_string(&fixture).unwrap();
    assert!(recorded.contains("<id>A-17</id>"), "the fixture keeps the XML body: {recorded}");
    assert!(!recorded.contains("tok-5f3c9a1e7b2d4c6f"), "a secret XPath bind is masked in the fixture: {recorded}");
    assert!(replayed.ok, "{:#?}", replayed.steps);
    assert_eq!(replayed.outputs.as_ref().map(|outputs| json!(outputs)), Some(expected));
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// An XPath that selects nothing, an assertion that does not hold and a body that is not
/// well-formed XML each fail the step with what was there.
#[test]
fn an_xpath_miss_a_false_assertion_and_a_body_that_is_not_xml_fail_the_step() {
    let run_against = |recipe: &str, body: &str| {
        let server = block_on(FaultServer::start(vec![("GET", "/order", vec![Fault::Respond(Reply::text(200, "application/xml", body))])]));
        let plan = recipe::load_str("xml.yaml", recipe).unwrap_or_else(|report| panic!("{report}"));
        let base = server.url("");
        let lookup = move |name: &str| (name == "BASE_URL").then(|| base.clone());
        let mut session = prepare(&plan, Options::new(&lookup, Mode::Live)).unwrap();
        let result = block_on(run(&plan, &session.params, &mut session.transport, &mut |_| {}));
        assert!(!result.ok);
        result.steps[0].reason.clone().unwrap_or_default()
    };
    let missing = run_against(&XML_ORDER.replace("/order/id }", "/order/number }"), ORDER_BODY);
    assert!(missing.starts_with("cannot bind `id`: the XPath `/order/number` selected nothing in \"<?xml"), "{missing}");
    let wrong = run_against(&XML_ORDER.replace("equals: apple", "equals: plum"), ORDER_BODY);
    assert!(wrong.contains("`normalize-space(/order/item[1])` is \"apple\", expected \"plum\""), "{wrong}");
    let absent = run_against(XML_ORDER, &ORDER_BODY.replace("<item>pear</item>", ""));
    assert!(absent.contains("the order has a second item: `/order/item[2]` does not hold"), "{absent}");
    let broken = run_against(XML_ORDER, "<order><id>1</order>");
    assert!(
        broken.contains(
            "the body is not well-formed XML (line 1, column 21: The start tag ('id') and end tag ('order') names do not match.)"
        ),
        "{broken}"
    );
    let html = run_against(XML_ORDER, "<!DOCTYPE html><html><body>Sign in</body></html>");
    assert!(html.contains("declares a DTD"), "{html}");
}

/// A bad XPath is a static error at its place: its syntax, a function XPath 1.0 lacks (with a
/// "did you mean"), a variable, and a prefix `http.namespaces` does not declare.
#[test]
fn a_bad_xpath_is_reported_at_its_place() {
    let broken = XML_ORDER
        .replace("xpath: /order/id }", "xpath: \"/order/id[\" }")
        .replace("\"count(//item)\"", "\"coutn(//item)\"")
        .replace("\"//s:sku\"", "\"//t:sku\"")
        .replace("xpath: /order/token,", "xpath: \"/order/token[$n]\",");
    let report = recipe::load_str("xml.yaml", &broken).err().expect("bad XPaths");
    let found: Vec<String> = report
        .diagnostics
        .iter()
        .map(|d| format!("{}:{} {} | {}", d.span.unwrap().line, d.span.unwrap().col, d.message, d.hints.join("; ")))
        .collect();
    assert_eq!(
        found,
        [
            "12:20 invalid XPath: the expression is incomplete or has a stray character in `/order/id[` | write an XPath 1.0 expression, for example `/order/id` or `count(//item)`",
            "13:23 XPath 1.0 has no function `coutn` in `coutn(//item)` | did you mean `count`?",
            "16:23 an XPath in a recipe has no variables, but this one reads `$n` in `/order/token[$n]` | write the value into the expression; a template is not rendered in `xpath`",
            "15:21 the XPath `//t:sku` uses the namespace prefix `t`, which is not declared | declare it: `http: { namespaces: { t: \"urn:...\" } }`, the namespace URI the body uses",
        ]
    );
}
