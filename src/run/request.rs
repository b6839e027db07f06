//! The request phase of a step: render the request, send it through the transport, and check
//! the response (status, JSON, API error envelopes).

use std::collections::BTreeMap;

use minijinja::Value as Context;
use serde_json::{Map, Value as Json};

use super::{Acted, DEFAULT_TIMEOUT, Failure, State};
use crate::envelope;
use crate::http::{Body, RequestSpec, ResponseBody, ResponseData};
use crate::model::{Expect, Request, Step};
use crate::transport::{Transport, TransportError};

pub(super) async fn send(
    state: &State<'_>,
    step: &Step,
    request: &Request,
    context: &Context,
    transport: &mut Transport,
) -> Result<Acted, Failure> {
    let spec = render_request(state, request, context).map_err(|e| (e, None, None))?;
    let masked = state.masker.request(&spec);
    let timeout = request.timeout.or(state.plan.recipe().http.timeout).unwrap_or(DEFAULT_TIMEOUT);
    let response = match transport.send(&step.id.text, &spec, &masked, timeout).await {
        Ok(response) => response,
        Err(TransportError::NotSent) => {
            return Ok(Acted {
                request: Some(masked),
                response: None,
                warnings: Vec::new(),
                result: Map::new(),
                value: Json::Null,
                not_sent: true,
            });
        }
        Err(error) => return Err((error.to_string(), Some(masked), None)),
    };
    let body = body_value(&response);
    let warnings = envelope::warnings(&body);
    if let Err(message) = check_response(step.expect.as_ref(), &response, &body) {
        return Err((message, Some(masked), Some(response)));
    }
    let mut result = Map::new();
    result.insert("status".into(), Json::from(response.status));
    result.insert("headers".into(), serde_json::to_value(&response.headers).unwrap_or_default());
    result.insert("body".into(), body.clone());
    result.insert("warnings".into(), serde_json::to_value(&warnings).unwrap_or_default());
    Ok(Acted { request: Some(masked), response: Some(response), warnings, result, value: body, not_sent: false })
}

/// A response body as template data: JSON as is, text as a string, none as null.
pub(super) fn body_value(response: &ResponseData) -> Json {
    match &response.body {
        Some(ResponseBody::Json(value)) => value.clone(),
        Some(ResponseBody::Text(text)) => Json::String(text.clone()),
        None => Json::Null,
    }
}

/// Status, JSON-ness and API error envelopes, in that order.
fn check_response(expect: Option<&Expect>, response: &ResponseData, body: &Json) -> Result<(), String> {
    let status_ok = match expect.map(|e| e.status.as_slice()) {
        Some(codes) if !codes.is_empty() => codes.contains(&response.status),
        _ => (200..300).contains(&response.status),
    };
    let api_errors = if expect.and_then(|e| e.api_errors).unwrap_or(true) { envelope::errors(body) } else { Vec::new() };
    if !status_ok {
        let wanted = match expect.map(|e| e.status.as_slice()) {
            Some(codes) if !codes.is_empty() => codes.iter().map(u16::to_string).collect::<Vec<_>>().join(" or "),
            _ => "2xx".to_owned(),
        };
        let mut message = format!("status {}, expected {wanted}", response.status);
        if !api_errors.is_empty() {
            message.push_str(&format!(": API error {}", api_errors.join("; ")));
        } else if let Some(ResponseBody::Text(text)) = &response.body {
            message.push_str(&format!("\n{}", excerpt(response.content_type(), text)));
        }
        return Err(message);
    }
    let wants_json = expect.and_then(|e| e.json).unwrap_or(true);
    if wants_json && let Some(ResponseBody::Text(text)) = &response.body {
        return Err(format!("expected a JSON response (status {}), but {}", response.status, excerpt(response.content_type(), text)));
    }
    if !api_errors.is_empty() {
        return Err(format!("the API reported an error (status {}): {}", response.status, api_errors.join("; ")));
    }
    Ok(())
}

/// The content type and the first lines of a body, for error messages.
fn excerpt(content_type: Option<&str>, text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|line| !line.trim().is_empty()).take(5).collect();
    let mut shown: String = lines.join("\n    ");
    if shown.chars().count() > 400 {
        shown = format!("{}...", shown.chars().take(400).collect::<String>());
    }
    format!("the body is `{}`:\n    {shown}", content_type.unwrap_or("without a content type"))
}

fn render_request(state: &State, request: &Request, context: &Context) -> Result<RequestSpec, String> {
    let engine = &state.plan.engine;
    let http = &state.plan.recipe().http;
    let path = engine.render_text(&request.url, context).map_err(|e| format!("cannot render `url` ({}): {e}", request.url.text))?;
    let base = match &http.base_url {
        Some(base) => Some(engine.render_text(base, context).map_err(|e| format!("cannot render `http.base_url` ({}): {e}", base.text))?),
        None => None,
    };
    // Under replay an unset variable stands as `<NAME>`; the host never matters there.
    let base = base.map(|base| placeholder_host(&base));
    let absolute = if path.starts_with("http://") || path.starts_with("https://") {
        path.clone()
    } else {
        let base = base.as_deref().ok_or_else(|| format!("the url `{path}` is relative, but the recipe has no `http.base_url`"))?;
        format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
    };
    let mut url = url::Url::parse(&absolute).map_err(|e| format!("invalid URL `{}`: {e}", state.masker.text(&absolute)))?;
    if !request.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, template) in &request.query {
            let value = engine.render_tree(template, context).map_err(|e| format!("cannot render query `{}`: {e}", name.text))?;
            for text in query_values(&name.text, &value)? {
                pairs.append_pair(&name.text, &text);
            }
        }
    }
    let absolute_url = url.to_string();
    let relative = match base.as_deref() {
        Some(base) if absolute_url.starts_with(base.trim_end_matches('/')) => absolute_url[base.trim_end_matches('/').len()..].to_owned(),
        _ => url[url::Position::BeforePath..].to_owned(),
    };
    let mut headers = BTreeMap::new();
    for (name, template) in http.headers.iter().chain(&request.headers) {
        let value = engine.render_text(template, context).map_err(|e| format!("cannot render header `{}`: {e}", name.text))?;
        headers.insert(name.text.to_ascii_lowercase(), value);
    }
    let body = if let Some(json) = &request.json {
        Some(Body::Json(engine.render_tree(json, context).map_err(|e| format!("cannot render the JSON body: {e}"))?))
    } else if let Some(form) = &request.form {
        let mut pairs = Vec::new();
        for (name, template) in form {
            let value = engine.render_tree(template, context).map_err(|e| format!("cannot render form field `{}`: {e}", name.text))?;
            pairs.extend(query_values(&name.text, &value)?.into_iter().map(|v| (name.text.clone(), v)));
        }
        Some(Body::Form(pairs))
    } else if let Some(text) = &request.body {
        Some(Body::Text(engine.render_text(text, context).map_err(|e| format!("cannot render `body`: {e}"))?))
    } else {
        None
    };
    if let Some(body) = &body {
        headers.entry("content-type".into()).or_insert_with(|| body.content_type().to_owned());
    }
    Ok(RequestSpec { method: request.method.as_str().to_owned(), url: relative, headers, body, absolute_url })
}

/// A base URL with `<NAME>` placeholders in it (an unset variable under replay) made parseable.
fn placeholder_host(base: &str) -> String {
    static PLACEHOLDER: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"<[A-Za-z_][A-Za-z0-9_]*>").expect("a valid pattern"));
    let pattern = &*PLACEHOLDER;
    if !pattern.is_match(base) {
        return base.to_owned();
    }
    // `<BASE>` stands for a whole URL; `https://<HOST>/api` for a host.
    let base =
        if base.starts_with('<') && !base.contains("://") { pattern.replace(base, "http://placeholder.invalid") } else { base.into() };
    pattern.replace_all(&base, "placeholder.invalid").into_owned()
}

/// The texts a query or form value sends: a list repeats the parameter, null sends nothing.
fn query_values(name: &str, value: &Json) -> Result<Vec<String>, String> {
    match value {
        Json::Null => Ok(Vec::new()),
        Json::String(text) => Ok(vec![text.clone()]),
        Json::Number(_) | Json::Bool(_) => Ok(vec![value.to_string()]),
        Json::Array(items) => items.iter().map(|item| query_values(name, item)).collect::<Result<Vec<_>, _>>().map(|v| v.concat()),
        Json::Object(_) => Err(format!("query parameter `{name}` is a map; send a text, number, boolean or list")),
    }
}
