//! `recipe lsp` through a real client: the binary spawned, JSON-RPC over its stdio with
//! `Content-Length` framing, as an editor speaks it. Every wait has a timeout.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::root;

const WAIT: Duration = Duration::from_secs(20);

/// An editor's side of the connection.
struct Client {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    next_id: i64,
    /// Notifications that arrived while waiting for a response.
    pending: Vec<Value>,
}

impl Client {
    /// Starts `recipe lsp` and completes the handshake; returns the server's capabilities too.
    fn start() -> (Self, Value) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_recipe"))
            .arg("lsp")
            .current_dir(root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("recipe lsp starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(message) = read_message(&mut reader) {
                if sender.send(message).is_err() {
                    break;
                }
            }
        });
        let mut client = Client { child, stdin, messages, next_id: 0, pending: Vec::new() };
        let root_uri = uri(&root());
        let initialized = client.request("initialize", json!({ "processId": null, "rootUri": root_uri, "capabilities": {} }));
        client.notify("initialized", json!({}));
        (client, initialized["capabilities"].clone())
    }

    fn send(&mut self, message: &Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Sends a request and waits for its response's result.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        let deadline = Instant::now() + WAIT;
        loop {
            let message = self.receive(deadline).unwrap_or_else(|| panic!("no answer to `{method}` within {WAIT:?}"));
            if message["id"] == json!(id) {
                assert!(message.get("error").is_none(), "`{method}` failed: {message}");
                return message["result"].clone();
            }
            self.pending.push(message);
        }
    }

    /// Waits for the next diagnostics published for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Value {
        if let Some(at) = self.pending.iter().position(|message| is_diagnostics_of(message, uri)) {
            return self.pending.remove(at)["params"].clone();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let message = self.receive(deadline).unwrap_or_else(|| panic!("no diagnostics within {WAIT:?}"));
            if is_diagnostics_of(&message, uri) {
                return message["params"].clone();
            }
            self.pending.push(message);
        }
    }

    fn receive(&self, deadline: Instant) -> Option<Value> {
        self.messages.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok()
    }

    fn open(&mut self, uri: &str, text: &str) {
        self.notify("textDocument/didOpen", json!({ "textDocument": { "uri": uri, "languageId": "yaml", "version": 1, "text": text } }));
    }

    fn change(&mut self, uri: &str, version: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "text": text }] }),
        );
    }

    /// Ends the session as an editor does, and checks that the server exits with success.
    fn stop(mut self) {
        assert_eq!(self.request("shutdown", Value::Null), Value::Null);
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "recipe lsp exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "recipe lsp did not exit after `exit`");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_diagnostics_of(message: &Value, uri: &str) -> bool {
    message["method"] == "textDocument/publishDiagnostics" && message["params"]["uri"] == uri
}

/// One framed message, or `None` at the end of the stream.
fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some(value) = header.strip_prefix("Content-Length: ") {
            length = value.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

fn uri(path: &std::path::Path) -> String {
    format!("file://{}", path.display())
}

fn draft() -> (String, String) {
    let path = root().join("recipes/draft.yaml");
    (uri(&path), std::fs::read_to_string(&path).unwrap())
}

/// The editor's position (0-based line, UTF-16 column) just after the `nth` (0-based)
/// occurrence of `needle` in `text`.
fn after(text: &str, needle: &str, nth: usize) -> Value {
    let at = text.match_indices(needle).nth(nth).unwrap_or_else(|| panic!("`{needle}` not in the text")).0 + needle.len();
    let line = text[..at].matches('\n').count();
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    json!({ "line": line, "character": text[start..at].encode_utf16().count() })
}

fn labels(items: &Value) -> Vec<String> {
    let items = items.get("items").unwrap_or(items);
    items.as_array().unwrap().iter().map(|item| item["label"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn initializes_and_shuts_down() {
    let (client, capabilities) = Client::start();
    assert_eq!(capabilities["textDocumentSync"], json!(1), "full sync");
    for provider in ["completionProvider", "hoverProvider", "definitionProvider", "referencesProvider", "renameProvider"] {
        assert!(!capabilities[provider].is_null(), "{provider}: {capabilities}");
    }
    client.stop();
}

#[test]
#[allow(clippy::print_stderr, reason = "the latency is reported, not judged, beside the assertion")]
fn the_draft_recipe_is_clean_and_a_typo_is_reported_where_it_is() {
    let (mut client, _) = Client::start();
    let (uri, text) = draft();
    client.open(&uri, &text);
    let published = client.diagnostics(&uri);
    assert_eq!(published["diagnostics"], json!([]), "the draft recipe has no problem");

    // `vars.vin` in the search's query becomes `vars.vim`.
    let needle = "searchTerm: \"{{ vars.vi";
    let typo = text.replacen(&format!("{needle}n }}"), &format!("{needle}m }}"), 1);
    assert_ne!(typo, text);
    let started = Instant::now();
    client.change(&uri, 2, &typo);
    let published = client.diagnostics(&uri);
    let latency = started.elapsed();
    eprintln!("diagnostics after an edit of recipes/draft.yaml: {latency:?}");
    assert_eq!(published["version"], json!(2));
    let start = after(&typo, "searchTerm: \"{{ ", 0);
    let end = json!({ "line": start["line"], "character": start["character"].as_u64().unwrap() + "vars.vim".len() as u64 });
    assert_eq!(
        published["diagnostics"],
        json!([{
            "range": { "start": start, "end": end },
            "severity": 1,
            "source": "recipe",
            "message": "`vars.vim` is not bound by an earlier step\nhint: did you mean `vin`?"
        }])
    );

    // Fixed again: the diagnostics are cleared.
    client.change(&uri, 3, &text);
    assert_eq!(client.diagnostics(&uri)["diagnostics"], json!([]));
    client.stop();
}

/// The draft recipe with a line added to the `first_page` step that reads the search's recorded
/// customer (`steps.search.body.matchingCustomers[0].customer.` then the cursor).
fn draft_with_probe() -> (String, String, &'static str) {
    let (uri, text) = draft();
    let anchor = "    set:\n      first_matched:";
    let probe = "      probe: \"{{ steps.search.body.matchingCustomers[0].customer.lastName }}\"\n";
    assert!(text.contains(anchor));
    let text = text.replacen(anchor, &format!("    set:\n{probe}      first_matched:"), 1);
    (uri, text, "{{ steps.search.body.matchingCustomers[0].customer.")
}

#[test]
fn completes_names_known_at_that_point_and_recorded_response_fields() {
    let (mut client, _) = Client::start();
    let (uri, text, probe) = draft_with_probe();
    client.open(&uri, &text);
    assert_eq!(client.diagnostics(&uri)["diagnostics"], json!([]));
    let complete = |client: &mut Client, position: Value| {
        labels(&client.request("textDocument/completion", json!({ "textDocument": { "uri": uri }, "position": position })))
    };

    // `steps.` in the `check_search` step: the steps before it, and itself in its `assert`.
    let steps = complete(&mut client, after(&text, "\"{{ steps.", 0));
    assert_eq!(steps, ["check_inputs", "wanted", "check_vin", "search", "check_search"]);
    // `vars.` in the search's query: what `wanted` set, nothing bound later.
    let vars = complete(&mut client, after(&text, "searchTerm: \"{{ vars.", 0));
    assert_eq!(vars, ["name", "vin", "codes"]);
    // `inputs.`: every declared input.
    let inputs = complete(&mut client, after(&text, "{{ inputs.", 0));
    assert!(inputs.contains(&"dealer_uuid".to_owned()) && inputs.contains(&"notify".to_owned()), "{inputs:?}");
    // A step's result fields.
    let fields = complete(&mut client, after(&text, "{{ steps.search.", 0));
    assert!(fields.contains(&"body".to_owned()) && fields.contains(&"status".to_owned()), "{fields:?}");
    // The keys the first recorded case's response really had there.
    let recorded = complete(&mut client, after(&text, probe, 0));
    for key in ["customerUuid", "firstName", "lastName", "emails"] {
        assert!(recorded.contains(&key.to_owned()), "{key} not in {recorded:?}");
    }
    // Filters after `|`.
    let filters = complete(&mut client, after(&text, "{{ inputs.last_name | ", 0));
    assert!(filters.contains(&"normalize".to_owned()) && filters.contains(&"default".to_owned()), "{filters:?}");
    // Keys of a request, from the schema, at the start of a line inside `request:`.
    let keyed = text.replacen("      method: GET\n", "      method: GET\n      \n", 1);
    client.change(&uri, 2, &keyed);
    let line = keyed[..keyed.find("      method: GET\n      \n").unwrap()].matches('\n').count() + 1;
    let keys = complete(&mut client, json!({ "line": line, "character": 6 }));
    for key in ["url", "query", "headers", "json", "retry"] {
        assert!(keys.contains(&key.to_owned()), "{key} not in {keys:?}");
    }
    // A `JSONPath` in a request step's `bind` is relative to its body: the recorded keys.
    let query = "searchPreference: vehicle, maxResults: 50 }\n";
    let bound = text.replacen(
        query,
        &format!("{query}    bind:\n      first: $.matchingCustomers[0].customer.\n      count: $.matchingCount\n"),
        1,
    );
    client.change(&uri, 3, &bound);
    let keys = complete(&mut client, after(&bound, "first: $.matchingCustomers[0].customer.", 0));
    assert!(keys.contains(&"customerUuid".to_owned()), "{keys:?}");
    let hover =
        client.request("textDocument/hover", json!({ "textDocument": { "uri": uri }, "position": after(&bound, "count: $.match", 0) }));
    assert_eq!(hover["contents"]["value"], json!("`$.matchingCount` in the first recorded case:\n```json\n1\n```"));
    client.stop();
}

#[test]
fn hovers_a_response_path_a_name_and_a_key() {
    let (mut client, _) = Client::start();
    let (uri, text, probe) = draft_with_probe();
    client.open(&uri, &text);
    let hover = |client: &mut Client, position: Value| {
        client.request("textDocument/hover", json!({ "textDocument": { "uri": uri }, "position": position }))["contents"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let value = hover(&mut client, after(&text, &format!("{probe}last"), 0));
    assert_eq!(value, "`steps.search.body.matchingCustomers[0].customer.lastName` in the first recorded case:\n```json\n\"Smith\"\n```");
    let var = hover(&mut client, after(&text, "searchTerm: \"{{ vars.v", 0));
    assert!(var.starts_with("`vars.vin`: bound by step `wanted` (set step, line "), "{var}");
    let input = hover(&mut client, after(&text, "{{ inputs.department_u", 0));
    assert!(input.starts_with("input `department_uuid`: string (line 17), required"), "{input}");
    let key = hover(&mut client, after(&text, "    when", 0));
    assert!(key.starts_with("`when`: A template that must render to a boolean"), "{key}");
    client.stop();
}

#[test]
fn goes_to_a_bind_finds_references_and_renames_a_step() {
    let (mut client, _) = Client::start();
    let (uri, text) = draft();
    client.open(&uri, &text);
    assert_eq!(client.diagnostics(&uri)["diagnostics"], json!([]));
    let position = |at: Value| json!({ "textDocument": { "uri": uri }, "position": at });

    // `vars.vin` goes to `vin:` in the `wanted` step's `set`.
    let location = client.request("textDocument/definition", position(after(&text, "searchTerm: \"{{ vars.v", 0)));
    assert_eq!(location["uri"], json!(uri));
    let bind = after(&text, "      vin", 0);
    assert_eq!(location["range"]["start"]["line"], bind["line"]);
    assert_eq!(location["range"]["start"]["character"], json!(6));

    // `steps.search` goes to `id: search`.
    let location = client.request("textDocument/definition", position(after(&text, "{{ steps.sea", 0)));
    assert_eq!(
        location["range"]["start"],
        after(&text, "  - id: ", text[..text.find("  - id: search\n").unwrap()].matches("  - id: ").count())
    );

    // Every `steps.search` is a reference, and the id itself with the declaration.
    let uses = text.matches("steps.search.").count() + text.matches("steps.search }").count();
    let mut request = position(after(&text, "{{ steps.sea", 0));
    request["context"] = json!({ "includeDeclaration": true });
    let references = client.request("textDocument/references", request);
    assert_eq!(references.as_array().unwrap().len(), uses + 1, "{references}");

    // Renaming the step rewrites every use; the recipe stays sound.
    let rename = client.request(
        "textDocument/rename",
        json!({ "textDocument": { "uri": uri }, "position": after(&text, "  - id: sea", 0), "newName": "lookup" }),
    );
    let edits = rename["changes"][&uri].as_array().unwrap().clone();
    assert_eq!(edits.len(), uses + 1);
    let renamed = apply(&text, &edits);
    assert!(renamed.contains("  - id: lookup\n") && !renamed.contains("steps.search.") && renamed.contains("steps.lookup.body"));
    client.change(&uri, 2, &renamed);
    assert_eq!(client.diagnostics(&uri)["diagnostics"], json!([]), "the renamed recipe checks");

    // Renaming a var from one of its uses: its `set` entry and every `vars.vin`, not `inputs.vin`.
    let rename = client.request(
        "textDocument/rename",
        json!({ "textDocument": { "uri": uri }, "position": after(&renamed, "searchTerm: \"{{ vars.v", 0), "newName": "vehicle" }),
    );
    let edits = rename["changes"][&uri].as_array().unwrap().clone();
    let again = apply(&renamed, &edits);
    assert_eq!(edits.len(), renamed.matches("vars.vin").count() + 1);
    assert!(!again.contains("vars.vin") && again.contains("      vehicle: ") && again.contains("inputs.vin"));
    client.change(&uri, 3, &again);
    assert_eq!(client.diagnostics(&uri)["diagnostics"], json!([]), "the recipe with the var renamed checks");
    client.stop();
}

/// The text after the edits (each on one line), applied from the last to the first.
fn apply(text: &str, edits: &[Value]) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let mut edits: Vec<&Value> = edits.iter().collect();
    edits.sort_by_key(|edit| (edit["range"]["start"]["line"].as_u64(), edit["range"]["start"]["character"].as_u64()));
    for edit in edits.into_iter().rev() {
        let range = &edit["range"];
        assert_eq!(range["start"]["line"], range["end"]["line"]);
        let line = &mut lines[usize::try_from(range["start"]["line"].as_u64().unwrap()).unwrap()];
        let units: Vec<u16> = line.encode_utf16().collect();
        let start = usize::try_from(range["start"]["character"].as_u64().unwrap()).unwrap();
        let end = usize::try_from(range["end"]["character"].as_u64().unwrap()).unwrap();
        *line = format!(
            "{}{}{}",
            String::from_utf16(&units[..start]).unwrap(),
            edit["newText"].as_str().unwrap(),
            String::from_utf16(&units[end..]).unwrap()
        );
    }
    lines.join("\n")
}

#[test]
fn a_called_recipes_problem_shows_on_the_call_step_and_the_call_leads_to_its_file() {
    let folder = std::env::temp_dir().join(format!("recipe-lsp-call-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let callee = folder.join("callee.yaml");
    std::fs::write(&callee, "recipe: 1\nname: c\ninputs:\n  q: string\nsteps:\n  - id: a\n    set: { x: '{{ inputs.q | uper }}' }\n")
        .unwrap();
    let main = folder.join("main.yaml");
    let text = "recipe: 1\nname: m\nsteps:\n  - id: c\n    call: { recipe: callee.yaml, inputs: { q: x } }\n  - id: d\n    set: { y: '{{ steps.c.ok | lenght }}' }\n";
    std::fs::write(&main, text).unwrap();
    let (mut client, _) = Client::start();
    let uri = uri(&main);
    client.open(&uri, text);
    let published = client.diagnostics(&uri);
    std::fs::remove_dir_all(&folder).unwrap();
    let problems = published["diagnostics"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{published}");
    assert_eq!(problems[0]["range"]["start"], json!({ "line": 4, "character": 20 }), "on the call's `recipe`: {published}");
    assert_eq!(
        problems[0]["message"],
        json!(format!("in the called recipe {}:7:30: unknown filter `uper`\nhint: did you mean `upper`?", callee.display()))
    );

    // With the called recipe fixed, the caller's own unknown filter is reported.
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(&callee, "recipe: 1\nname: c\ninputs:\n  q: string\nsteps:\n  - id: a\n    set: { x: '{{ inputs.q | upper }}' }\n")
        .unwrap();
    client.change(&uri, 2, text);
    let published = client.diagnostics(&uri);
    let definition =
        client.request("textDocument/definition", json!({ "textDocument": { "uri": uri }, "position": after(text, "recipe: call", 0) }));
    std::fs::remove_dir_all(&folder).unwrap();
    assert_eq!(published["diagnostics"][0]["message"], json!("unknown filter `lenght`\nhint: did you mean `length`?"), "{published}");
    assert!(definition["uri"].as_str().unwrap().ends_with("/callee.yaml"), "{definition}");
    client.stop();
}

/// A sound recipe with a value spliced into a URL's path: the editor gets the check's warning,
/// with the warning severity, at the expression.
#[test]
fn a_check_warning_is_published_as_a_warning() {
    let (mut client, _) = Client::start();
    let uri = uri(&std::env::temp_dir().join("recipe-lsp-warning.yaml"));
    let text = "recipe: 1\nname: w\ninputs:\n  id: string\nsteps:\n  - id: a\n    request: { method: GET, url: \"http://h.test/users/{{ inputs.id }}\" }\n";
    client.open(&uri, text);
    let published = client.diagnostics(&uri);
    let start = after(text, "/users/", 0);
    let end = json!({ "line": start["line"], "character": start["character"].as_u64().unwrap() + "{{ inputs.id }}".len() as u64 });
    assert_eq!(published["diagnostics"][0]["range"], json!({ "start": start, "end": end }), "{published}");
    assert_eq!(published["diagnostics"][0]["severity"], json!(2), "{published}");
    let message = published["diagnostics"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("`inputs.id` is put into the URL's path as is"), "{message}");
    assert_eq!(published["diagnostics"].as_array().unwrap().len(), 1, "{published}");
    client.stop();
}
