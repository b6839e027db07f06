//! HTTPS with the real binary against a TLS server on 127.0.0.1, with certificates made for the
//! test (a CA, a server certificate for 127.0.0.1 signed by it, and a client certificate):
//! the server is not trusted by default, `--cacert` and the recipe's `http.tls.ca` trust it,
//! `--insecure` skips the check (and warns), and a server that requires a client certificate
//! gets one from `--client-cert`/`--client-key` (or one file holding both), and refuses a client
//! without. A refused certificate is the `certificate` kind: never retried, never in doubt, and
//! the message says which flag helps. The usage errors of these flags are in `safety.rs` and
//! `network.rs`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::oneshot;

use crate::support::root;

/// The test PKI, made once per test binary, in a scratch folder.
struct Pki {
    folder: PathBuf,
    ca: String,
    server_cert: String,
    server_key: String,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "recipe test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let mut server = CertificateParams::new(Vec::<String>::new()).unwrap();
        server.subject_alt_names = vec![SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST))];
        server.distinguished_name.push(DnType::CommonName, "127.0.0.1");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_pem = server.signed_by(&server_key, &issuer).unwrap().pem();

        let client_key = KeyPair::generate().unwrap();
        let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
        client.distinguished_name.push(DnType::CommonName, "recipe test client");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_pem = client.signed_by(&client_key, &issuer).unwrap().pem();

        let folder = std::env::temp_dir().join(format!("recipe-tls-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let write = |name: &str, text: &str| std::fs::write(folder.join(name), text).unwrap();
        write("ca.pem", &ca_pem);
        write("client.pem", &client_pem);
        write("client.key", &client_key.serialize_pem());
        write("client-both.pem", &format!("{client_pem}{}", client_key.serialize_pem()));
        Pki { folder, ca: ca_pem, server_cert: server_pem, server_key: server_key.serialize_pem() }
    })
}

fn file(name: &str) -> String {
    pki().folder.join(name).display().to_string()
}

/// An HTTPS server on 127.0.0.1 answering `{"pong": true}`; with `client_ca`, it requires a
/// client certificate signed by that CA. Dropping it stops it.
struct TlsServer {
    address: SocketAddr,
    /// Requests answered (so after a complete handshake).
    answered: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TlsServer {
    fn start(require_client_cert: bool) -> Self {
        let pki = pki();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider)).with_safe_default_protocol_versions().unwrap();
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(CertificateDer::from_pem_slice(pki.ca.as_bytes()).unwrap()).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let chain = vec![CertificateDer::from_pem_slice(pki.server_cert.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(pki.server_key.as_bytes()).unwrap();
        let config = Arc::new(builder.with_single_cert(chain, key).unwrap());

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let answered = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = oneshot::channel::<()>();
        let count = Arc::clone(&answered);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                let serve = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else { continue };
                        let (acceptor, count) = (acceptor.clone(), Arc::clone(&count));
                        tokio::spawn(async move {
                            // A refused handshake (an untrusted server, a missing client
                            // certificate) ends here; the client reports it.
                            let Ok(stream) = acceptor.accept(stream).await else { return };
                            let service = hyper::service::service_fn(move |_request| {
                                count.fetch_add(1, Ordering::SeqCst);
                                async {
                                    let body = http_body_util::Full::new(hyper::body::Bytes::from_static(br#"{"pong": true}"#));
                                    hyper::Response::builder().header("content-type", "application/json").body(body)
                                }
                            });
                            let io = hyper_util::rt::TokioIo::new(stream);
                            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                        });
                    }
                };
                tokio::select! {
                    () = serve => {}
                    _ = stopped => {}
                }
            });
        });
        Self { address, answered, stop: Some(stop), thread: Some(thread) }
    }

    fn url(&self) -> String {
        format!("https://{}", self.address)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `recipe run RECIPE ARGS...` with `PING_BASE_URL` set to `base` and no proxy.
fn ping(recipe: &Path, base: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recipe"));
    command.arg("run").arg(recipe).args(args).args(["--connect-timeout", "3s"]).current_dir(root()).env("PING_BASE_URL", base);
    for name in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"] {
        command.env_remove(name);
    }
    command.output().expect("the binary runs")
}

fn ping_yaml() -> PathBuf {
    root().join("tests/data/ping.yaml")
}

fn succeeded(output: &Output) -> bool {
    output.status.code() == Some(0) && String::from_utf8_lossy(&output.stdout).contains("\"pong\": true")
}

fn text(output: &Output) -> String {
    format!("exit {:?}\n{}{}", output.status.code(), String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn a_server_signed_by_an_unknown_ca_is_refused_as_certificate_until_its_ca_is_trusted() {
    let server = TlsServer::start(false);
    let refused = ping(&ping_yaml(), &server.url(), &[]);
    let shown = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{shown}");
    // Not retried: sending again cannot make the certificate trusted.
    assert!(shown.contains("FAILED ping") && !shown.contains("attempts") && !shown.contains("retrying"), "{shown}");
    assert!(shown.contains("invalid peer certificate: UnknownIssuer"), "{shown}");
    assert!(shown.contains("not signed by a trusted CA") && shown.contains("`--cacert FILE` or `http.tls.ca`"), "{shown}");
    assert_eq!(server.answered.load(Ordering::SeqCst), 0, "{shown}");
    let report = ping(&ping_yaml(), &server.url(), &["--report", "json", "--report-file", "-", "-q"]);
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).expect("a JSON report");
    assert_eq!(report["steps"][0]["error_kind"], "certificate", "{report}");

    let trusted = ping(&ping_yaml(), &server.url(), &["--cacert", &file("ca.pem")]);
    assert!(succeeded(&trusted), "{}", text(&trusted));
    assert_eq!(server.answered.load(Ordering::SeqCst), 1);

    let insecure = ping(&ping_yaml(), &server.url(), &["--insecure"]);
    assert!(succeeded(&insecure), "{}", text(&insecure));
    assert!(String::from_utf8_lossy(&insecure.stderr).starts_with("warning: `--insecure`"), "{}", text(&insecure));
}

#[test]
fn the_recipe_key_http_tls_ca_trusts_a_ca_beside_the_recipe() {
    let server = TlsServer::start(false);
    let folder = pki().folder.join("recipe-key");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(file("ca.pem"), folder.join("company-ca.pem")).unwrap();
    let recipe = std::fs::read_to_string(ping_yaml())
        .unwrap()
        .replace("  connect_timeout: 2s\n", "  connect_timeout: 2s\n  tls: { ca: company-ca.pem }\n");
    assert!(recipe.contains("tls: { ca: company-ca.pem }"));
    let path = folder.join("ping.yaml");
    std::fs::write(&path, recipe).unwrap();
    let output = ping(&path, &server.url(), &[]);
    assert!(succeeded(&output), "{}", text(&output));
}

#[test]
fn a_server_that_requires_a_client_certificate_gets_the_one_given() {
    let server = TlsServer::start(true);
    let ca = file("ca.pem");
    let without = ping(&ping_yaml(), &server.url(), &["--cacert", &ca]);
    let shown = text(&without);
    assert_eq!(without.status.code(), Some(1), "{shown}");
    assert!(!shown.contains("retrying") && !shown.contains("attempts") && shown.contains("CertificateRequired"), "{shown}");
    assert!(shown.contains("requires a client certificate: give one with `--client-cert FILE`"), "{shown}");
    assert_eq!(server.answered.load(Ordering::SeqCst), 0, "no request is answered without a client certificate");
    // A POST refused this way was stopped by the server's TLS layer: not in doubt (exit 5), and
    // not reported as a broken connection after the request.
    let post = std::fs::read_to_string(ping_yaml()).unwrap().replace("method: GET", "method: POST");
    let path = pki().folder.join("post.yaml");
    std::fs::write(&path, post).unwrap();
    let posted = ping(&path, &server.url(), &["--cacert", &ca]);
    let shown = text(&posted);
    assert_eq!(posted.status.code(), Some(1), "{shown}");
    assert!(!shown.contains("may have been created") && !shown.contains("after the request was sent"), "{shown}");

    let separate =
        ping(&ping_yaml(), &server.url(), &["--cacert", &ca, "--client-cert", &file("client.pem"), "--client-key", &file("client.key")]);
    assert!(succeeded(&separate), "{}", text(&separate));
    let both = ping(&ping_yaml(), &server.url(), &["--cacert", &ca, "--client-cert", &file("client-both.pem")]);
    assert!(succeeded(&both), "{}", text(&both));
    assert_eq!(server.answered.load(Ordering::SeqCst), 2);

    // The same from the recipe's `http.tls`, with files beside the recipe.
    let folder = pki().folder.join("client-keys");
    std::fs::create_dir_all(&folder).unwrap();
    for name in ["ca.pem", "client.pem", "client.key"] {
        std::fs::copy(file(name), folder.join(name)).unwrap();
    }
    let recipe = std::fs::read_to_string(ping_yaml()).unwrap().replace(
        "  connect_timeout: 2s\n",
        "  connect_timeout: 2s\n  tls: { ca: ca.pem, client_cert: client.pem, client_key: client.key }\n",
    );
    let path = folder.join("ping.yaml");
    std::fs::write(&path, recipe).unwrap();
    let keys = ping(&path, &server.url(), &[]);
    assert!(succeeded(&keys), "{}", text(&keys));
    assert_eq!(server.answered.load(Ordering::SeqCst), 3);
}

#[test]
fn a_cacert_file_without_a_certificate_is_refused_before_anything_is_sent() {
    let server = TlsServer::start(false);
    let folder = pki().folder.join("no-certificate");
    std::fs::create_dir_all(&folder).unwrap();
    // A private key alone (the usual mix-up of `--cacert` and `--client-key`), an empty file,
    // bytes that are not PEM, and a PEM block of another kind.
    let cases = [
        ("key-only.pem", KeyPair::generate().unwrap().serialize_pem(), "holds no certificate"),
        ("empty.pem", String::new(), "is not a PEM file"),
        ("garbage.pem", "\u{1}\u{2}garbage\u{7f} no pem here\n".to_owned(), "is not a PEM file"),
        ("other.pem", "-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n".to_owned(), "holds no certificate"),
    ];
    for (name, contents, expected) in cases {
        let path = folder.join(name);
        std::fs::write(&path, contents).unwrap();
        let output = ping(&ping_yaml(), &server.url(), &["--cacert", path.to_str().unwrap()]);
        let shown = text(&output);
        assert_eq!(output.status.code(), Some(2), "{name}: {shown}");
        assert!(shown.contains(expected) && shown.contains(&path.display().to_string()), "{name}: {shown}");
        assert!(!shown.contains("FAILED") && !shown.contains("retrying"), "{name}: {shown}");
    }
    let key_only = text(&ping(&ping_yaml(), &server.url(), &["--cacert", folder.join("key-only.pem").to_str().unwrap()]));
    assert!(key_only.contains("`-----BEGIN CERTIFICATE-----`") && key_only.contains("it holds a private key"), "{key_only}");
    assert_eq!(server.answered.load(Ordering::SeqCst), 0);
}
