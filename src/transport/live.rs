//! The live transport: one shared reqwest client, with the policies reqwest cannot apply for us.
//!
//! - Redirects are followed here, not by reqwest: a `GET` or `HEAD` follows one (up to the
//!   request's `redirects` or `http.redirects`) without changing the method; any other method
//!   fails with the `Location`, since sending a `POST` again elsewhere could create something
//!   twice, unless the request opts in (`redirects: { unsafe: true }`). Then a 303 continues as
//!   a `GET` (RFC 9110 15.4.4), a 301 or 302 after a `POST` too (as curl and browsers do), and a
//!   307 or 308 sends the same method and body again. A hop to another origin drops every
//!   credential header (and any header carrying a secret); no `Referer` is ever sent.
//! - The body is read in chunks up to `http.max_body`, never whole when it is larger.
//! - Failures are classified into [`FailureKind`]s, from reqwest's and hyper's errors.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::Jar;
use super::bodies::Bodies;
use super::client_error::{ClientError, PemError, PostError};
use super::{FailureKind, Limits, Reply, Sent};
use crate::http::{Hop, RequestSpec, ResponseBody, ResponseData};
use crate::mask::Masker;
use crate::reads::Read;

/// Headers never sent to another origin.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the shared client is built with (the recipe's `http` keys and the network flags).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub connect_timeout: Option<Duration>,
    /// More trusted CA certificates (`--cacert`), beside the built-in roots.
    pub ca_certificates: Option<Pem>,
    /// A client certificate and its key (`--client-cert`, `--client-key`), possibly one file.
    pub client_identity: Vec<Pem>,
    /// Accept any server certificate (`--insecure`).
    pub insecure: bool,
    /// Send every request through this proxy (`--proxy`) instead of `HTTP_PROXY`/`HTTPS_PROXY`;
    /// `NO_PROXY` still applies.
    pub proxy: Option<String>,
}

/// A PEM file's contents and where it came from.
#[derive(Debug, Clone)]
pub struct Pem {
    pub path: std::path::PathBuf,
    pub bytes: Vec<u8>,
}

impl Pem {
    /// Reads a PEM file: a missing or non-PEM file is an error naming it.
    pub fn read(path: &std::path::Path) -> Result<Self, PemError> {
        let bytes = fs_err::read(path).map_err(PemError::Read)?;
        if !bytes.windows(11).any(|window| window == b"-----BEGIN ") {
            return Err(PemError::NotPem(path.to_owned()));
        }
        Ok(Self { path: path.to_path_buf(), bytes })
    }
}

/// Cheap to clone: every clone shares its connection pools and one cache of parsed bodies.
///
/// Loading the system's trusted certificates takes a few milliseconds, as long as the rest of a
/// short run, so it waits for the first `https` request: plain `http` requests go through a
/// client built without them. When any TLS flag or proxy is set (a proxy may be reached over
/// TLS), one full client serves everything and is built at once, so a bad flag is reported
/// before anything is sent.
#[derive(Clone)]
pub struct Live {
    /// For `http` URLs, when there is no TLS flag and no proxy.
    plain: Option<reqwest::Client>,
    /// For everything else, built on first use unless `plain` is `None`.
    full: Arc<OnceLock<Result<reqwest::Client, ClientError>>>,
    settings: Arc<Settings>,
    bodies: Arc<Bodies>,
    masker: Arc<Masker>,
    /// `--proxy`, for connection errors (credentials masked).
    proxy: Option<String>,
}

/// The variables through which reqwest finds a proxy for `http` URLs.
const PROXY_VARIABLES: &[&str] = &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"];

impl Live {
    pub fn new(settings: &Settings, masker: Arc<Masker>) -> Result<Self, ClientError> {
        let proxy = settings.proxy.as_deref().map(shown_proxy_url);
        let full = Arc::new(OnceLock::new());
        let tls_flags = settings.ca_certificates.is_some() || !settings.client_identity.is_empty() || settings.insecure;
        let env_proxy = PROXY_VARIABLES.iter().any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
        let plain = if tls_flags || settings.proxy.is_some() || env_proxy {
            let _ = full.set(Ok(Self::client(settings, true)?));
            None
        } else {
            Some(Self::client(settings, false)?)
        };
        Ok(Self { plain, full, settings: Arc::new(settings.clone()), bodies: Arc::new(Bodies::from_env()), masker, proxy })
    }

    /// The client for `url`: the plain one for `http`, when there is one; else the full one,
    /// built now if it was not yet.
    fn client_for(&self, url: &url::Url) -> Result<&reqwest::Client, ClientError> {
        if let (Some(plain), "http") = (&self.plain, url.scheme()) {
            return Ok(plain);
        }
        self.full.get_or_init(|| Self::client(&self.settings, true)).as_ref().map_err(Clone::clone)
    }

    /// A client with `settings`; without `trust_store`, it trusts no certificate (and is only
    /// used for plain `http`).
    fn client(settings: &Settings, trust_store: bool) -> Result<reqwest::Client, ClientError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("recipe/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            // Whether a request is sent again is the engine's decision alone (a draft must never
            // be sent twice): reqwest's own policy (it resends after an HTTP/2 or HTTP/3 refusal,
            // which this build does not speak) is off, and no request is copied for a resend.
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .referer(false)
            .connect_timeout(settings.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
            .danger_accept_invalid_certs(settings.insecure);
        if let Some(pem) = &settings.ca_certificates {
            let certificates = reqwest::Certificate::from_pem_bundle(&pem.bytes)
                .map_err(|error| ClientError::Certificates { path: pem.path.clone(), reason: root_cause(&error) })?;
            // A bundle of nothing but keys (or other PEM blocks) would trust nothing new: the
            // user meant something else, so say so before anything is sent.
            if certificates.is_empty() {
                return Err(ClientError::NoCertificate {
                    path: pem.path.clone(),
                    holds_key: pem.bytes.windows(11).any(|window| window == b"PRIVATE KEY"),
                });
            }
            builder = builder.tls_certs_merge(certificates);
        }
        if !trust_store {
            builder = builder.tls_certs_only(Vec::new());
        }
        if !settings.client_identity.is_empty() {
            let bytes: Vec<u8> = settings.client_identity.iter().flat_map(|pem| [pem.bytes.as_slice(), b"\n"].concat()).collect();
            let identity = reqwest::Identity::from_pem(&bytes).map_err(|error| ClientError::Identity {
                files: settings.client_identity.iter().map(|pem| pem.path.clone()).collect(),
                reason: root_cause(&error),
            })?;
            builder = builder.identity(identity);
        }
        if let Some(proxy) = &settings.proxy {
            let shown = shown_proxy_url(proxy);
            let proxy = reqwest::Proxy::all(proxy.as_str()).map_err(|error| ClientError::Proxy { shown, reason: root_cause(&error) })?;
            builder = builder.proxy(proxy.no_proxy(reqwest::NoProxy::from_env()));
        }
        builder.build().map_err(|error| ClientError::Build {
            reason: root_cause(&error),
            files: settings.ca_certificates.iter().chain(&settings.client_identity).map(|pem| pem.path.clone()).collect(),
        })
    }

    /// A form `POST` outside any step (an OAuth2 token request): its status and body, or why it
    /// failed. It is never recorded.
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(String, String)],
        authorization: &str,
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), PostError> {
        let shown = self.masker.text(url);
        let parsed = url::Url::parse(url).map_err(|source| PostError::Url { shown: shown.clone(), source })?;
        // Encoded before the await: the serializer is not `Sync`, and the future must be `Send`.
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let response = self
            .client_for(&parsed)?
            .post(parsed)
            .timeout(timeout)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|error| PostError::Unreachable { shown: shown.clone(), reason: root_cause(&error) })?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|error| PostError::Body { shown, reason: root_cause(&error) })?;
        Ok((status, body.to_vec()))
    }

    /// Sends one attempt, following redirects. `masker` is the run's own (its env secrets and
    /// the values it bound with `secret: true` so far): every URL shown is masked with it, and a
    /// redirect to another origin drops every header that carries one of them.
    ///
    /// With a cookie `jar`, the cookies each hop sets are kept, and each hop to the request's own
    /// origin sends the jar's cookies (unless the request sets its own `Cookie`), as curl's and
    /// browsers' jars do: a form login's session cookie arrives on its redirect.
    pub async fn send(
        &self,
        request: &RequestSpec,
        masked: &RequestSpec,
        limits: Limits,
        masker: &Masker,
        mut jar: Option<&mut Jar>,
    ) -> Sent {
        let Ok(mut method) = reqwest::Method::from_bytes(request.method.as_bytes()) else {
            return Sent::failed(FailureKind::InvalidRequest, format!("invalid method `{}`", request.method));
        };
        let mut url = match url_of(request) {
            Ok(url) => url,
            Err(error) => return Sent::failed(FailureKind::InvalidRequest, format!("invalid URL `{}`: {error}", masked.absolute_url)),
        };
        let mut headers = request.headers.clone();
        let mut body = request.body.as_ref().map(crate::http::Body::to_bytes);
        let own_cookie = headers.contains_key("cookie");
        // The jar's cookies go to the first request's origin only.
        let first = jar.is_some().then(|| url.clone());
        let mut hops = Vec::new();
        loop {
            if let (Some(jar), false, Some(first)) = (jar.as_deref(), own_cookie, &first)
                && origin(&url) == origin(first)
                && let Some(cookies) = jar.header()
            {
                headers.insert("cookie".into(), cookies);
            }
            let shown = masker.text(url.as_str());
            let client = match self.client_for(&url) {
                Ok(client) => client,
                Err(message) => {
                    return Sent { redirects: hops, ..Sent::failed(FailureKind::Tls, message.to_string()) };
                }
            };
            let mut builder = client.request(method.clone(), url.clone()).timeout(limits.timeout);
            for (name, value) in &headers {
                builder = builder.header(name, value);
            }
            if let Some(body) = &body {
                builder = builder.body(body.clone());
            }
            let response = match builder.send().await {
                Ok(response) => response,
                Err(error) => {
                    let kind = classify(&error);
                    let mut message = describe(kind, &error, &limits, &shown);
                    if let (Some(proxy), true) = (&self.proxy, error.is_connect()) {
                        message.push_str(&format!(" (through the proxy `{proxy}`)"));
                    }
                    return Sent { redirects: hops, ..Sent::failed(kind, message) };
                }
            };
            let status = response.status().as_u16();
            let set_cookie = set_cookies(&response);
            if let (Some(jar), Some(set)) = (jar.as_deref_mut(), &set_cookie) {
                jar.take_lines(set);
            }
            let location = response.headers().get(reqwest::header::LOCATION).and_then(|value| value.to_str().ok()).map(str::to_owned);
            if let (true, Some(location)) = (is_redirect(status) && limits.redirects > 0, location) {
                let Ok(target) = url.join(&location) else {
                    let failure = super::Failure::new(
                        FailureKind::InvalidBody,
                        format!("status {status} with an invalid `Location`: {}", masker.text(&location)),
                    );
                    let sent = read(response, &limits, &shown, &self.bodies).await.failing(failure);
                    return Sent { redirects: hops, ..sent };
                };
                let target_shown = masker.text(target.as_str());
                if !matches!(method, reqwest::Method::GET | reqwest::Method::HEAD) && !limits.unsafe_redirects {
                    let failure = super::Failure::new(
                        FailureKind::RedirectRefused,
                        format!(
                            "{method} {shown} was answered with {status}, a redirect to {target_shown}; a {method} is never sent again \
                             automatically, since that could do it twice: check whether it took effect, then point the recipe at the \
                             new location, or let this request follow redirects with `redirects: {{ follow: 5, unsafe: true }}`"
                        ),
                    );
                    let sent = read(response, &limits, &shown, &self.bodies).await.failing(failure);
                    return Sent { redirects: hops, ..sent };
                }
                if hops.len() >= limits.redirects as usize {
                    let failure = super::Failure::new(
                        FailureKind::TooManyRedirects,
                        format!(
                            "more than {} redirect(s) (the request's `redirects` or `http.redirects`); the last one pointed to \
                             {target_shown}",
                            limits.redirects
                        ),
                    );
                    let sent = read(response, &limits, &shown, &self.bodies).await.failing(failure);
                    return Sent { redirects: hops, ..sent };
                }
                if origin(&target) != origin(&url) {
                    headers.retain(|name, value| !CREDENTIAL_HEADERS.contains(&name.as_str()) && masker.text(value) == *value);
                }
                next_method(status, &mut method, &mut body, &mut headers);
                hops.push(Hop { status, location: target_shown, set_cookie });
                url = target;
                continue;
            }
            let mut sent = read(response, &limits, &shown, &self.bodies).await;
            sent.redirects = hops;
            return sent;
        }
    }
}

/// The request after a `status` redirect: a `GET` without a body after a 303 (but a `HEAD`
/// stays one), and after a 301 or 302 answering a `POST`, as curl and browsers do (RFC 9110
/// 15.4.2 and 15.4.3 allow it). A 307 or 308 never changes the method.
fn next_method(status: u16, method: &mut reqwest::Method, body: &mut Option<Vec<u8>>, headers: &mut BTreeMap<String, String>) {
    let as_get = match status {
        303 => *method != reqwest::Method::HEAD,
        301 | 302 => *method == reqwest::Method::POST,
        _ => false,
    };
    if as_get {
        *method = reqwest::Method::GET;
        *body = None;
        headers.retain(|name, _| !matches!(name.as_str(), "content-type" | "content-length"));
    }
}

/// The `Set-Cookie` values of a response, joined by newlines.
fn set_cookies(response: &reqwest::Response) -> Option<String> {
    let values: Vec<&str> =
        response.headers().get_all(reqwest::header::SET_COOKIE).iter().filter_map(|value| value.to_str().ok()).collect();
    (!values.is_empty()).then(|| values.join("\n"))
}

/// A proxy URL as messages show it: without its password.
fn shown_proxy_url(proxy: &str) -> String {
    match url::Url::parse(proxy) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("redacted"));
            url.to_string()
        }
        _ => proxy.to_owned(),
    }
}

/// The URL to send: the one parsed when the request was built, else parsed now.
fn url_of(request: &RequestSpec) -> Result<url::Url, url::ParseError> {
    request.parsed.of(&request.absolute_url).map_or_else(|| url::Url::parse(&request.absolute_url), |url| Ok(url.clone()))
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

fn origin(url: &url::Url) -> (&str, Option<&str>, Option<u16>) {
    (url.scheme(), url.host_str(), url.port_or_known_default())
}

/// Reads the body up to the size limit; the response head is kept whatever happens.
async fn read(mut response: reqwest::Response, limits: &Limits, shown: &str, bodies: &Bodies) -> Sent {
    let status = response.status().as_u16();
    // Repeated headers (several `Set-Cookie`) are joined by newlines.
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in response.headers() {
        let Ok(value) = value.to_str() else { continue };
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|all| (all.push('\n'), all.push_str(value)).1)
            .or_insert_with(|| value.to_owned());
    }
    let head = ResponseData { status, headers, body: None };
    let too_large = |size: String| {
        super::Failure::new(
            FailureKind::BodyTooLarge,
            format!("the response body ({size}) is larger than `http.max_body` ({}); it was not read", bytes(limits.max_body)),
        )
    };
    let failed = |head: ResponseData, failure: super::Failure| Sent {
        reply: Some(Reply::Failed { failure, head: Some(head) }),
        redirects: Vec::new(),
    };
    if let Some(length) = response.content_length().filter(|length| *length > limits.max_body) {
        return failed(head, too_large(bytes(length)));
    }
    // The chunks as they come (a chunked answer's length is known only at its end), joined once.
    let mut chunks = Vec::new();
    let mut read = 0u64;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                read += chunk.len() as u64;
                if read > limits.max_body {
                    return failed(head, too_large(format!("more than {}", bytes(limits.max_body))));
                }
                chunks.push(chunk);
            }
            Ok(None) => break,
            Err(error) => {
                let (kind, message) = if error.is_timeout() {
                    (
                        FailureKind::ResponseTimeout,
                        format!(
                            "{shown} answered {status} but its body did not arrive within {} ({read} bytes read)",
                            humanise(limits.timeout)
                        ),
                    )
                } else {
                    (
                        FailureKind::InvalidBody,
                        format!("the body of {shown} (status {status}) was cut short after {read} bytes: {}", root_cause(&error)),
                    )
                };
                return failed(head, super::Failure::new(kind, message));
            }
        }
    }
    let joined;
    let body: &[u8] = if let [one] = chunks.as_slice() {
        one
    } else {
        joined = chunks.concat();
        &joined
    };
    // Only a success is projected: any other status's body may be quoted whole in an error.
    let data = ResponseData::from_bytes_parsed(status, head.headers, body, |bytes| match &limits.reads {
        Some(read) if (200..300).contains(&status) => match read {
            Read::Projected(projection) => bodies.parse_projected(bytes, projection).ok(),
            // Unique to this row's expected values: not for the shared cache.
            Read::Sieved(sieve) => sieve.parse(bytes).ok().map(Arc::new),
        },
        _ => bodies.parse(bytes, crate::json::parse).ok(),
    });
    if let Some(ResponseBody::Text(_)) = &data.body
        && let Err(error) = std::str::from_utf8(body)
    {
        let message = format!(
            "the body of {shown} (status {status}, `{}`) is neither JSON nor UTF-8 text: invalid byte at offset {}",
            data.headers.get("content-type").map_or("without a content type", String::as_str),
            error.valid_up_to()
        );
        let head = ResponseData { body: None, ..data };
        return failed(head, super::Failure::new(FailureKind::InvalidBody, message));
    }
    Sent { reply: Some(Reply::Answered(data)), redirects: Vec::new() }
}

/// Which kind of failure a reqwest error is, reading hyper's and the OS's errors beneath it.
fn classify(error: &reqwest::Error) -> FailureKind {
    let sources = chain(error);
    // Before the timeout and connect checks: a refused certificate can surface as either.
    if refused_certificate(&sources).is_some() {
        return FailureKind::Certificate;
    }
    if error.is_timeout() {
        return if error.is_connect() { FailureKind::ConnectTimeout } else { FailureKind::ResponseTimeout };
    }
    if error.is_connect() {
        let text = sources.iter().map(ToString::to_string).collect::<Vec<_>>().join(": ").to_ascii_lowercase();
        if sources.iter().any(|source| io_kind(*source) == Some(std::io::ErrorKind::ConnectionRefused)) {
            return FailureKind::ConnectRefused;
        }
        if text.contains("timed out") {
            return FailureKind::ConnectTimeout;
        }
        if text.contains("dns error") || text.contains("lookup address") || text.contains("name or service not known") {
            return FailureKind::Dns;
        }
        if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
            return FailureKind::Tls;
        }
        return FailureKind::Connect;
    }
    if error.is_builder() {
        return FailureKind::InvalidRequest;
    }
    // hyper cancels a request it never started to write when the connection closes first.
    if sources.iter().any(|source| source.downcast_ref::<hyper::Error>().is_some_and(hyper::Error::is_canceled)) {
        return FailureKind::ResetBeforeWrite;
    }
    // Anything else after connecting may have reached the server.
    FailureKind::ResetAfterWrite
}

/// A certificate the TLS handshake refused, and whose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefusedCertificate {
    /// The server's certificate is not signed by a trusted CA.
    ServerUntrusted,
    /// The server's certificate is otherwise invalid: expired, for another name, revoked.
    ServerInvalid,
    /// The server requires a client certificate and got none.
    ClientMissing,
    /// The server did not accept the client certificate.
    ClientNotAccepted,
}

impl RefusedCertificate {
    fn advice(self) -> &'static str {
        match self {
            RefusedCertificate::ServerUntrusted => {
                "; the server's certificate is not signed by a trusted CA: if it is a private or company CA, trust it with \
                 `--cacert FILE` or `http.tls.ca`"
            }
            RefusedCertificate::ServerInvalid => "; the server's certificate is not valid for this address or at this time",
            RefusedCertificate::ClientMissing => {
                "; the server requires a client certificate: give one with `--client-cert FILE` (and `--client-key FILE`)"
            }
            RefusedCertificate::ClientNotAccepted => {
                "; the server did not accept the client certificate, or wants one (`--client-cert FILE`)"
            }
        }
    }
}

/// Whether the handshake failed on a certificate: the server's, which rustls refused, or the
/// client's, which the server refused with an alert (in TLS 1.3 that alert can arrive after the
/// request was written, but the server's TLS layer stopped it before any application saw it).
///
/// rustls errors travel inside `io::Error`s, sometimes as the rustls value and sometimes only as
/// its text, so both are read.
fn refused_certificate(sources: &[&(dyn std::error::Error + 'static)]) -> Option<RefusedCertificate> {
    use rustls::AlertDescription as Alert;
    /// The alerts a server sends about the client's certificate.
    const ALERTS: [(Alert, RefusedCertificate); 8] = [
        (Alert::CertificateRequired, RefusedCertificate::ClientMissing),
        (Alert::BadCertificate, RefusedCertificate::ClientNotAccepted),
        (Alert::UnsupportedCertificate, RefusedCertificate::ClientNotAccepted),
        (Alert::CertificateRevoked, RefusedCertificate::ClientNotAccepted),
        (Alert::CertificateExpired, RefusedCertificate::ClientNotAccepted),
        (Alert::CertificateUnknown, RefusedCertificate::ClientNotAccepted),
        (Alert::UnknownCA, RefusedCertificate::ClientNotAccepted),
        (Alert::AccessDenied, RefusedCertificate::ClientNotAccepted),
    ];
    let from_error = |error: &rustls::Error| match error {
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer) => Some(RefusedCertificate::ServerUntrusted),
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => Some(RefusedCertificate::ServerInvalid),
        rustls::Error::AlertReceived(alert) => ALERTS.iter().find(|(known, _)| known == alert).map(|(_, refused)| *refused),
        _ => None,
    };
    let from_text = |text: &str| {
        if let Some(reason) = text.strip_prefix("invalid peer certificate: ") {
            return Some(if reason.starts_with("UnknownIssuer") {
                RefusedCertificate::ServerUntrusted
            } else {
                RefusedCertificate::ServerInvalid
            });
        }
        let alert = text.strip_prefix("received fatal alert: ")?;
        ALERTS.iter().find(|(known, _)| format!("{known:?}") == alert).map(|(_, refused)| *refused)
    };
    sources.iter().find_map(|source| {
        if let Some(error) = source.downcast_ref::<rustls::Error>() {
            return from_error(error);
        }
        let inner = source.downcast_ref::<std::io::Error>()?.get_ref()?;
        match inner.downcast_ref::<rustls::Error>() {
            Some(error) => from_error(error),
            None => from_text(&inner.to_string()),
        }
    })
}

fn chain<'a>(error: &'a (dyn std::error::Error + 'static)) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut all = vec![error];
    let mut current = error;
    while let Some(source) = current.source() {
        all.push(source);
        current = source;
    }
    all
}

fn io_kind(error: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    error.downcast_ref::<std::io::Error>().map(std::io::Error::kind)
}

fn describe(kind: FailureKind, error: &reqwest::Error, limits: &Limits, url: &str) -> String {
    let cause = root_cause(error);
    match kind {
        FailureKind::ResponseTimeout => format!("no response from {url} within {}", humanise(limits.timeout)),
        FailureKind::ConnectTimeout => format!("cannot connect to {url}: no connection within the connect timeout"),
        FailureKind::ConnectRefused | FailureKind::Dns | FailureKind::Tls | FailureKind::Connect => {
            format!("cannot connect to {url}: {cause}")
        }
        FailureKind::Certificate => {
            format!("cannot connect to {url}: {cause}{}", refused_certificate(&chain(error)).map_or("", RefusedCertificate::advice))
        }
        FailureKind::ResetBeforeWrite => format!("the connection to {url} closed before the request was written: {cause}"),
        FailureKind::ResetAfterWrite => format!("the connection to {url} broke after the request was sent, before a response: {cause}"),
        _ => format!("request to {url} failed: {cause}"),
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    chain(error).last().map(ToString::to_string).unwrap_or_default()
}

pub(crate) fn humanise(duration: Duration) -> String {
    if duration.subsec_millis() == 0 { format!("{}s", duration.as_secs()) } else { format!("{}ms", duration.as_millis()) }
}

fn bytes(count: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if count >= MIB && count.is_multiple_of(MIB) {
        format!("{} MiB", count / MIB)
    } else if count >= 1024 && count.is_multiple_of(1024) {
        format!("{} KiB", count / 1024)
    } else {
        format!("{count} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_certificates_are_read_from_the_rustls_value_or_its_text() {
        let wrapped = |error: Box<dyn std::error::Error + Send + Sync>| std::io::Error::new(std::io::ErrorKind::InvalidData, error);
        let read = |error: &std::io::Error| refused_certificate(&chain(error));
        let value = |error: rustls::Error| read(&wrapped(Box::new(error)));
        let text = |error: rustls::Error| read(&wrapped(error.to_string().into()));
        let cases = [
            (rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer), Some(RefusedCertificate::ServerUntrusted)),
            (rustls::Error::InvalidCertificate(rustls::CertificateError::Expired), Some(RefusedCertificate::ServerInvalid)),
            (rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName), Some(RefusedCertificate::ServerInvalid)),
            (rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired), Some(RefusedCertificate::ClientMissing)),
            (rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA), Some(RefusedCertificate::ClientNotAccepted)),
            (rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure), None),
            (rustls::Error::AlertReceived(rustls::AlertDescription::DecryptError), None),
            (rustls::Error::DecryptError, None),
        ];
        for (error, expected) in cases {
            let shown = error.to_string();
            assert_eq!(value(error.clone()), expected, "{shown}");
            assert_eq!(text(error), expected, "as text: {shown}");
        }
        assert_eq!(read(&std::io::Error::other("connection reset")), None);
    }

    fn url(text: &str) -> url::Url {
        url::Url::parse(text).unwrap()
    }

    #[test]
    fn the_trust_store_waits_for_the_first_https_request() {
        let live = Live::new(&Settings::default(), Arc::default()).unwrap();
        if PROXY_VARIABLES.iter().any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty())) {
            // A proxy in the environment may be reached over TLS: one full client from the start.
            assert!(live.plain.is_none() && live.full.get().is_some());
            return;
        }
        let plain = std::ptr::from_ref(live.client_for(&url("http://127.0.0.1:1/a")).unwrap());
        assert_eq!(Some(plain), live.plain.as_ref().map(std::ptr::from_ref));
        assert!(live.full.get().is_none(), "an http request built the full client");
        let full = std::ptr::from_ref(live.client_for(&url("https://127.0.0.1:1/a")).unwrap());
        assert_ne!(full, plain);
        assert!(live.full.get().is_some_and(Result::is_ok));
        // Clones share the full client once built.
        let clone = live.clone();
        assert_eq!(std::ptr::from_ref(clone.client_for(&url("https://example.test/")).unwrap()), full);
    }

    #[test]
    fn tls_flags_and_proxies_build_one_full_client_at_once() {
        for settings in [
            Settings { insecure: true, ..Settings::default() },
            Settings { proxy: Some("http://127.0.0.1:3128".into()), ..Settings::default() },
        ] {
            let live = Live::new(&settings, Arc::default()).unwrap();
            assert!(live.plain.is_none());
            let full = live.full.get().and_then(|client| client.as_ref().ok()).map(std::ptr::from_ref);
            assert!(full.is_some());
            assert_eq!(Some(std::ptr::from_ref(live.client_for(&url("http://127.0.0.1:1/")).unwrap())), full);
        }
    }
}
