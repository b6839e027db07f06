//! OAuth2 client-credentials tokens: fetched through the live client (never through the
//! recording sink, so no fixture ever holds one), cached until shortly before they expire, and
//! shared by every run that shares the transport's cache (all the rows of a batch).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
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
    fn key(&self) -> String {
        format!("{} {} {}", self.token_url, self.client_id, self.scope.unwrap_or_default())
    }
}

#[derive(Debug, Default)]
pub struct Tokens {
    cached: Mutex<HashMap<String, (String, Option<Instant>)>>,
    /// One fetch at a time: the rows that wait behind it take the token it got (a batch starts
    /// with one token request, not one per row in flight).
    fetching: tokio::sync::Mutex<()>,
}

impl Tokens {
    /// A valid token for `request`: the cached one unless it expires soon or is `rejected` (the
    /// token a 401 answered), else a new one.
    pub async fn get(&self, live: &Live, request: &TokenRequest<'_>, rejected: Option<&str>, timeout: Duration) -> Result<String, String> {
        let key = request.key();
        if let Some(token) = self.cached(&key, rejected) {
            return Ok(token);
        }
        let _turn = self.fetching.lock().await;
        if let Some(token) = self.cached(&key, rejected) {
            return Ok(token);
        }
        let (token, expires_in) = fetch(live, request, timeout).await?;
        let expires = expires_in.map(|seconds| Instant::now() + Duration::from_secs(seconds));
        self.cached.lock().unwrap_or_else(PoisonError::into_inner).insert(key, (token.clone(), expires));
        Ok(token)
    }

    fn cached(&self, key: &str, rejected: Option<&str>) -> Option<String> {
        let cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        let (token, expires) = cached.get(key)?;
        (expires.is_none_or(|at| Instant::now() + MARGIN < at) && Some(token.as_str()) != rejected).then(|| token.clone())
    }
}

/// `POST token_url` with `grant_type=client_credentials`, the client's credentials as basic auth.
async fn fetch(live: &Live, request: &TokenRequest<'_>, timeout: Duration) -> Result<(String, Option<u64>), String> {
    let mut form = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
    if let Some(scope) = request.scope.filter(|scope| !scope.is_empty()) {
        form.push(("scope".to_owned(), scope.to_owned()));
    }
    let basic = crate::mask::base64_encode(format!("{}:{}", request.client_id, request.client_secret).as_bytes());
    let (status, body) = live.post_form(request.token_url, &form, &format!("Basic {basic}"), timeout).await?;
    if !(200..300).contains(&status) {
        return Err(format!("the token endpoint answered {status}"));
    }
    let json: Json = serde_json::from_slice(&body).map_err(|_| "the token endpoint did not answer JSON".to_owned())?;
    let token = json.get("access_token").and_then(Json::as_str).ok_or("the token endpoint's answer has no `access_token`")?;
    Ok((token.to_owned(), json.get("expires_in").and_then(Json::as_u64)))
}
