//! How the command line reads a flag's value (a PEM file, a proxy URL, a size, a duration), and
//! why one is refused; clap prints the reason after the flag. Sizes and durations use the
//! recipe language's grammar.

use crate::transport::Pem;

/// A value on the command line that is not one of its kind; clap prints it after the flag.
#[derive(Debug, thiserror::Error)]
pub(super) enum Invalid {
    #[error("invalid proxy URL: {0}")]
    ProxyUrl(url::ParseError),
    #[error("write the proxy as `http://HOST:PORT` or `https://HOST:PORT`")]
    Proxy,
    #[error("invalid duration `{0}`: write `500ms`, `30s` or `2m` (at most a week, `10080m`)")]
    Duration(String),
    #[error("invalid size `{0}`: write bytes, or a number with `KiB`, `MiB` or `GiB` (`1MiB`); `KB`, `MB`, `GB` are powers of 1000")]
    Size(String),
}

/// Reads a PEM file named on the command line: a missing or non-PEM file is a usage error before
/// anything is sent.
pub(super) fn read_pem(text: &str) -> Result<Pem, crate::transport::PemError> {
    Pem::read(std::path::Path::new(text))
}

pub(super) fn parse_proxy(text: &str) -> Result<String, Invalid> {
    let url = url::Url::parse(text).map_err(Invalid::ProxyUrl)?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Invalid::Proxy);
    }
    Ok(text.to_owned())
}

pub(super) fn parse_size_arg(text: &str) -> Result<u64, Invalid> {
    crate::decode::parse_size(text).ok_or_else(|| Invalid::Size(text.to_owned()))
}

pub(super) fn parse_duration_arg(text: &str) -> Result<std::time::Duration, Invalid> {
    crate::decode::parse_duration(text).ok_or_else(|| Invalid::Duration(text.to_owned()))
}
