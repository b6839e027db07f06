//! `recipe lsp` through a real client: the binary spawned, JSON-RPC over its stdio with
//! `Content-Length` framing, as an editor speaks it. Every wait has a timeout.

use std::io::{BufRead, BufReader, Read, Write};
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
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri, "languageId": "yaml", "version": 1, "text": text } }),
        );
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
