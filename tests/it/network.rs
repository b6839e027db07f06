//! The network flags with the real binary: `--proxy` sends through a proxy on 127.0.0.1 (which
//! records the absolute-form request line and answers), an unreachable proxy is named in the
//! error, `--insecure` warns, and `--connect-timeout` takes a duration. `--cacert` usage errors are in
//! `safety.rs` (nothing is sent).

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::root;

fn recipe(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recipe"));
    command.args(args).current_dir(root());
    for name in
        ["PING_BASE_URL", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"]
    {
        command.env_remove(name);
    }
    command.output().expect("the binary runs")
}

/// A one-request HTTP proxy on 127.0.0.1: sends back the request line it got, and answers
/// `{"pong": true}`.
fn proxy() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else { return };
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut first = String::new();
        let _ = reader.read_line(&mut first);
        let mut header = String::new();
        while reader.read_line(&mut header).is_ok_and(|n| n > 0) && header.trim_end() != "" {
            header.clear();
        }
        let _ = lines.send(first.trim_end().to_owned());
        let body = r#"{"pong": true}"#;
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    (format!("http://{address}"), received)
}

#[test]
fn proxy_routes_every_request_through_the_proxy() {
    let (url, received) = proxy();
    let output = recipe(&["run", "tests/data/ping.yaml", "--proxy", &url, "--connect-timeout", "3s"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(received.recv_timeout(Duration::from_secs(5)).unwrap(), "GET http://api.example.test/ping?x=1 HTTP/1.1");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "{\n  \"pong\": true\n}");
}

#[test]
fn an_unreachable_proxy_is_named_in_the_error() {
    // A port that was just free: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let proxy = format!("http://127.0.0.1:{port}");
    let output = recipe(&["run", "tests/data/ping.yaml", "--proxy", &proxy]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot connect to http://api.example.test/ping?x=1: "), "{stderr}");
    assert!(stderr.contains(&format!("(through the proxy `{proxy}`)")), "{stderr}");
    let invalid = recipe(&["run", "tests/data/ping.yaml", "--proxy", "ftp://proxy"]);
    assert_eq!(invalid.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("write the proxy as `http://HOST:PORT`"));
    let invalid = recipe(&["run", "tests/data/ping.yaml", "--connect-timeout", "soon"]);
    assert_eq!(invalid.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("invalid duration `soon`"));
}

#[test]
fn insecure_prints_a_loud_warning() {
    let output = recipe(&["run", "tests/data/ping.yaml", "--insecure", "--dry-run"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.starts_with(
            "warning: `--insecure`: server certificates are not verified; anyone on the network path can read and change these requests, \
             credentials included\n"
        ),
        "{stderr}"
    );
    // Even with `-q`.
    let quiet = recipe(&["run", "tests/data/ping.yaml", "--insecure", "--dry-run", "-q"]);
    assert!(String::from_utf8_lossy(&quiet.stderr).starts_with("warning: `--insecure`"));
}

#[test]
fn the_recipe_keys_http_proxy_and_http_tls_ca_are_read_before_anything_is_sent() {
    let folder = std::env::temp_dir().join(format!("recipe-network-keys-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let recipe = "recipe: 1\nname: t\nenv:\n  PROXY: { default: \"http://127.0.0.1:9\" }\nhttp:\n  base_url: http://api.example.test\n  proxy: \"{{ env.PROXY }}\"\n  tls: { ca: missing-ca.pem }\nsteps:\n  - id: ping\n    request: { method: GET, url: /ping }\n";
    std::fs::write(folder.join("keys.yaml"), recipe).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_recipe"))
        .args(["run", folder.join("keys.yaml").to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`http.tls.ca`") && stderr.contains("missing-ca.pem"), "{stderr}");
    // A dry run sends nothing, so it needs neither the files nor the proxy (a private key is
    // often not in the repository).
    let keys =
        recipe.replace("tls: { ca: missing-ca.pem }", "tls: { ca: missing-ca.pem, client_cert: missing.pem, client_key: missing.key }");
    std::fs::write(folder.join("keys.yaml"), keys).unwrap();
    let dry = std::process::Command::new(env!("CARGO_BIN_EXE_recipe"))
        .args(["run", folder.join("keys.yaml").to_str().unwrap(), "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(0), "{}", String::from_utf8_lossy(&dry.stderr));
    // Without the CA file, the proxy from the recipe is the one that is tried.
    std::fs::write(folder.join("keys.yaml"), recipe.replace("  tls: { ca: missing-ca.pem }\n", "")).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_recipe"))
        .args(["run", folder.join("keys.yaml").to_str().unwrap()])
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("127.0.0.1:9"), "the proxy is named: {stderr}");
    std::fs::remove_dir_all(&folder).unwrap();
}
