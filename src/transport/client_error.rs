//! Why the live client could not be built or could not make a request outside a step: a TLS file
//! that is not what its flag needs, a proxy, the client itself, a token endpoint out of reach.
//! Each names the file or the flag to fix; none carries a secret (proxy URLs are shown masked).

use std::path::PathBuf;

/// Why a PEM file named by a flag cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// It cannot be read (the message names the file).
    #[error("{0}")]
    Read(std::io::Error),
    #[error("`{}` is not a PEM file (no `-----BEGIN ...` line)", .0.display())]
    NotPem(PathBuf),
}

/// Why the HTTP client cannot be built from the settings; cloned to every request that needs it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read the certificates in `{}` (`--cacert` or `http.tls.ca`): {reason}", .path.display())]
    Certificates { path: PathBuf, reason: String },
    #[error(
        "`{}` holds no certificate (`--cacert` or `http.tls.ca`): it needs at least one `-----BEGIN CERTIFICATE-----` block{}",
        .path.display(),
        if *.holds_key { ", and it holds a private key" } else { "" }
    )]
    NoCertificate { path: PathBuf, holds_key: bool },
    #[error(
        "cannot use the client certificate in {} (`--client-cert` and `--client-key`, or `http.tls`): {reason}",
        listed(.files, " and ")
    )]
    Identity { files: Vec<PathBuf>, reason: String },
    /// The proxy URL as shown, its credentials masked.
    #[error("invalid proxy `{shown}` (`--proxy`): {reason}")]
    Proxy { shown: String, reason: String },
    /// `files` went into the client, so that a bad one can be found.
    #[error("cannot start the HTTP client: {reason}{}", if .files.is_empty() { String::new() } else { format!(" (check {})", listed(.files, ", ")) })]
    Build { reason: String, files: Vec<PathBuf> },
}

/// Why a form POST outside any step (an OAuth2 token request) got no answer; URLs masked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    #[error("invalid token endpoint URL {shown}: {source}")]
    Url { shown: String, source: url::ParseError },
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("cannot reach the token endpoint {shown}: {reason}")]
    Unreachable { shown: String, reason: String },
    #[error("the token endpoint {shown}: {reason}")]
    Body { shown: String, reason: String },
}

/// `` `a.pem` and `b.pem` `` (with `separator` between).
fn listed(files: &[PathBuf], separator: &str) -> String {
    files.iter().map(|path| format!("`{}`", path.display())).collect::<Vec<_>>().join(separator)
}
