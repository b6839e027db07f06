//! The live transport: reqwest over the network, optionally recording every exchange.

use std::collections::BTreeMap;
use std::time::Duration;

use super::TransportError;
use crate::fixture::Exchange;
use crate::http::{RECORDED_RESPONSE_HEADERS, RequestSpec, ResponseData};
use crate::mask::Masker;
use crate::scrub::Scrub;

pub struct Live {
    client: reqwest::Client,
    /// When recording: every exchange so far, secrets masked and fields scrubbed.
    pub recorded: Option<Vec<Exchange>>,
    recording: Option<(Masker, Scrub)>,
}

impl Live {
    /// A live transport; with `recording`, every exchange is kept, masked and scrubbed.
    pub fn new(recording: Option<(Masker, Scrub)>) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("recipe/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| format!("cannot start the HTTP client: {error}"))?;
        Ok(Self { client, recorded: recording.is_some().then(Vec::new), recording })
    }

    pub async fn send(
        &mut self,
        step: &str,
        request: &RequestSpec,
        masked: &RequestSpec,
        timeout: Duration,
    ) -> Result<ResponseData, TransportError> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|error| TransportError::Failed(error.to_string()))?;
        let mut builder = self.client.request(method, &request.absolute_url).timeout(timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.to_bytes());
        }
        let response = builder.send().await.map_err(|error| TransportError::Failed(describe(&error, timeout, &masked.absolute_url)))?;
        let status = response.status().as_u16();
        let headers: BTreeMap<String, String> = response
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
            .collect();
        let bytes = response.bytes().await.map_err(|error| TransportError::Failed(describe(&error, timeout, &masked.absolute_url)))?;
        let data = ResponseData::from_bytes(status, headers, &bytes);
        if let (Some(recorded), Some((masker, scrub))) = (&mut self.recorded, &mut self.recording) {
            let request = scrub.request(masked);
            let mut kept = scrub.response(&masker.response(&data));
            kept.headers.retain(|name, _| RECORDED_RESPONSE_HEADERS.contains(&name.as_str()));
            recorded.push(Exchange { step: step.to_owned(), request, response: kept });
        }
        Ok(data)
    }
}

fn describe(error: &reqwest::Error, timeout: Duration, url: &str) -> String {
    if error.is_timeout() {
        return format!("no response from {url} within {}", humanise(timeout));
    }
    if error.is_connect() {
        return format!("cannot connect to {url}: {}", root_cause(error));
    }
    format!("request to {url} failed: {}", root_cause(error))
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

fn humanise(duration: Duration) -> String {
    if duration.subsec_millis() == 0 { format!("{}s", duration.as_secs()) } else { format!("{}ms", duration.as_millis()) }
}
