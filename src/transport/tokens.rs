//! OAuth2 client-credentials tokens: fetched through the live client (never through the
//! recording sink, so no fixture ever holds one), cached until shortly before they expire, and
//! shared by every run that shares the transport's cache (all the rows of a batch).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::Live;

/// A token is renewed this long before it expires.
const MARGIN: Duration = Duration::from_secs(30);

/// What a token request needs.
pub struct TokenRequest<'a> {
    pub token_url: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub scope: Option<&'a str>,
}

impl TokenRequest<'_> {
    /// Which token: the endpoint, the client and its secret (as a digest: rows with another
    /// secret never share a token), and the scope.
    fn key(&self) -> String {
        let secret = crate::mask::base64_encode(&<sha2::Sha256 as sha2::Digest>::digest(self.client_secret.as_bytes()));
        format!("{} {} {} {}", self.token_url, self.client_id, secret, self.scope.unwrap_or_default())
    }
}

#[derive(Debug, Default)]
pub struct Tokens {
    tokens: Mutex<HashMap<String, Arc<Slot>>>,
}

/// One token's state. Its lock is held while the token is fetched: the rows that queue behind a
/// fetch take what it got, the token or the failure, instead of each fetching in turn (a batch
/// starts with one token request, and a token endpoint that is down fails every waiting row
/// once, not one timeout after another).
#[derive(Debug, Default)]
struct Slot {
    last: tokio::sync::Mutex<Option<Fetched>>,
}

#[derive(Debug, Clone)]
struct Fetched {
    /// When the fetch ended.
    at: Instant,
    result: Result<(String, Option<Instant>), TokenError>,
}

/// Why no OAuth2 access token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The request did not get an answer (the client's own message, masked).
    #[error(transparent)]
    Unreachable(#[from] super::client_error::PostError),
    #[error("the token endpoint answered {0}")]
    Status(u16),
    #[error("the token endpoint did not answer JSON")]
    NotJson,
    #[error("the token endpoint's answer has no `access_token`")]
    NoToken,
}

impl Tokens {
    /// A valid token for `request`: the cached one unless it expires soon or is `rejected` (the
    /// token a 401 answered), else a new one, fetched once for every row asking at the time.
    pub async fn get(
        &self,
        live: &Live,
        request: &TokenRequest<'_>,
        rejected: Option<&str>,
        timeout: Duration,
    ) -> Result<String, TokenError> {
        let slot = Arc::clone(self.tokens.lock().unwrap_or_else(PoisonError::into_inner).entry(request.key()).or_default());
        let asked = Instant::now();
        let mut last = slot.last.lock().await;
        if let Some(fetched) = last.as_ref() {
            match &fetched.result {
                Ok((token, expires)) if expires.is_none_or(|at| Instant::now() + MARGIN < at) && Some(token.as_str()) != rejected => {
                    return Ok(token.clone());
                }
                // Fetched while this row waited for it: the same failure.
                Err(error) if fetched.at >= asked => return Err(error.clone()),
                _ => {}
            }
        }
        let result = fetch(live, request, timeout)
            .await
            .map(|(token, expires_in)| (token, expires_in.and_then(|seconds| Instant::now().checked_add(Duration::from_secs(seconds)))));
        *last = Some(Fetched { at: Instant::now(), result: result.clone() });
        result.map(|(token, _)| token)
    }
}

/// `POST token_url` with `grant_type=client_credentials`, the client's credentials as basic auth.
async fn fetch(live: &Live, request: &TokenRequest<'_>, timeout: Duration) -> Result<(String, Option<u64>), TokenError> {
    let mut form = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
    if let Some(scope) = request.scope.filter(|scope| !scope.is_empty()) {
        form.push(("scope".to_owned(), scope.to_owned()));
    }
    let basic = crate::mask::base64_encode(format!("{}:{}", request.client_id, request.client_secret).as_bytes());
    let (status, body) =
        live.post_form(request.token_url, &form, &format!("Basic {basic}"), timeout).await.map_err(TokenError::Unreachable)?;
    if !(200..300).contains(&status) {
        return Err(TokenError::Status(status));
    }
    let json: Json = serde_json::from_slice(&body).map_err(|_| TokenError::NotJson)?;
    let token = json.get("access_token").and_then(Json::as_str).ok_or(TokenError::NoToken)?;
    Ok((token.to_owned(), json.get("expires_in").and_then(Json::as_u64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_with_another_secret_or_scope_never_share_a_token() {
        let request =
            |secret, scope| TokenRequest { token_url: "https://id.example/token", client_id: "c-1", client_secret: secret, scope };
        let key = request("secret-one-7f", Some("read")).key();
        assert_eq!(key, request("secret-one-7f", Some("read")).key());
        assert_ne!(key, request("secret-two-7f", Some("read")).key());
        assert_ne!(key, request("secret-one-7f", None).key());
        assert!(!key.contains("secret-one-7f"), "the key holds a digest of the secret, not the secret: {key}");
    }
}
