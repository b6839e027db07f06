//! The request phase of a step: render the request once (with its OAuth2 token, if any), send
//! its first page through the attempt loop (`attempts`), then the next pages (`paginate`), and
//! keep a fetched access token secret.

use std::collections::BTreeMap;

use minijinja::Value as Context;

use super::attempts::page;
use super::query::query_values;
use super::{Acted, Cause, DEFAULT_TIMEOUT, Listener, State, StepError};
use crate::http::{Body, RequestSpec};
use crate::model::{Request, Step};
use crate::splice::SpliceError;
use crate::template::TemplateError;
use crate::transport::Transport;

pub(super) async fn send(
    state: &State<'_>,
    step: &Step,
    request: &Request,
    context: &Context,
    transport: &mut Transport,
    on_event: &mut Listener<'_>,
) -> Result<Acted, StepError> {
    let http = &state.plan.recipe().http;
    let own_authorization = request.headers.iter().any(|(name, _)| name.text.eq_ignore_ascii_case("authorization"));
    let oauth = match request.auth.as_ref().or(http.auth.as_ref().filter(|_| !own_authorization)) {
        Some(crate::model::Auth::Oauth2(oauth)) => Some(oauth),
        _ => None,
    };
    let token = match oauth {
        Some(oauth) => Some(oauth_token(state, oauth, context, transport, None).await?),
        None => None,
    };
    // Replays and dry runs use the placeholder itself.
    let mut tokens: Vec<String> = token.iter().filter(|token| *token != "<oauth2>").cloned().collect();
    let mut spec = render_request(state, request, context, token.as_deref()).map_err(|e| StepError::new(Cause::Render, e.to_string()))?;
    let mut sent = page(state, step, request, context, transport, on_event, &spec, oauth.is_some()).await;
    // A 401 with a cached OAuth2 token: fetch a new one and send once more (later pages use it
    // too).
    if let (Some(oauth), Err(error)) = (oauth, &sent)
        && error.trace.raw.as_ref().is_some_and(|response| response.status == 401)
    {
        let token = oauth_token(state, oauth, context, transport, token.as_deref()).await?;
        tokens.extend((token != "<oauth2>").then(|| token.clone()));
        spec = render_request(state, request, context, Some(&token)).map_err(|e| StepError::new(Cause::Render, e.to_string()))?;
        sent = page(state, step, request, context, transport, on_event, &spec, true).await;
    }
    // The access token is a secret from here on: a server may echo it (in a body or a header).
    let learned: Vec<(String, String)> = tokens.into_iter().map(|token| ("oauth2".to_owned(), token)).collect();
    let acted = sent.map_err(|mut error| {
        error.trace.secrets.extend(learned.iter().cloned());
        error
    })?;
    let mut acted = match &request.paginate {
        Some(paginate) if !acted.not_sent => {
            super::paginate::rest(state, step, request, paginate, context, transport, on_event, spec, acted, oauth.is_some()).await
        }
        _ => Ok(acted),
    }
    .map_err(|mut error| {
        error.trace.secrets.extend(learned.iter().cloned());
        error
    })?;
    acted.trace.secrets.extend(learned);
    Ok(acted)
}

/// An OAuth2 token for this request: from the cache, or fetched (always after `rejected`, the
/// token a 401 answered, unless another row already fetched a newer one). Replays
/// and dry runs never fetch one: the token is `<oauth2>`, as fixtures record it.
async fn oauth_token(
    state: &State<'_>,
    oauth: &crate::model::OAuth2,
    context: &Context,
    transport: &Transport,
    rejected: Option<&str>,
) -> Result<String, StepError> {
    let Some(live) = transport.live() else { return Ok("<oauth2>".to_owned()) };
    let engine = &state.plan.engine;
    let render = |what: &str, template: &crate::model::TemplateString| {
        engine.render_text(template, context).map_err(|e| StepError::new(Cause::Render, format!("cannot render `auth.oauth2.{what}`: {e}")))
    };
    let mut token_url = render("token_url", &oauth.token_url)?;
    if !token_url.starts_with("http://")
        && !token_url.starts_with("https://")
        && let Some(base) = &state.plan.recipe().http.base_url
    {
        let base =
            engine.render_text(base, context).map_err(|e| StepError::new(Cause::Render, format!("cannot render `http.base_url`: {e}")))?;
        token_url = format!("{}/{}", base.trim_end_matches('/'), token_url.trim_start_matches('/'));
    }
    let (client_id, client_secret) = (render("client_id", &oauth.client_id)?, render("client_secret", &oauth.client_secret)?);
    let scope = oauth.scope.as_ref().map(|scope| render("scope", scope)).transpose()?;
    let request = crate::transport::TokenRequest {
        token_url: &token_url,
        client_id: &client_id,
        client_secret: &client_secret,
        scope: scope.as_deref(),
    };
    let timeout = state.plan.recipe().http.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let token = transport
        .tokens()
        .get(live, &request, rejected, timeout)
        .await
        .map_err(|e| StepError::new(Cause::Auth, format!("no OAuth2 token: {}", state.masker.text(&e.to_string()))))?;
    Ok(token)
}

/// Why a rendered URL would not be sent as written, if it would not: URL parsing silently drops
/// tabs and line breaks, resolves `.` and `..` segments away, and never sends a fragment. A value
/// pasted into a URL (`/users/{{ inputs.id }}`) that holds these would change the request
/// without a word, so the request is refused instead.
fn altered_url(url: &str) -> Option<String> {
    let problem = if url.contains(|c: char| c.is_ascii_control()) {
        "holds a control character (a tab or line break), which would be dropped"
    } else if url.contains('#') {
        "holds `#`: what follows it is a fragment, never sent"
    } else if url.split('?').next().is_some_and(|before_query| before_query.contains('\\')) {
        "has a `\\` in its path, which would be sent as `/` (another path)"
    } else {
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let path = after_scheme.split('?').next().unwrap_or_default();
        let dot = |segment: &str| matches!(segment.to_ascii_lowercase().replace("%2e", ".").as_str(), "." | "..");
        if !path.split('/').skip(1).any(dot) {
            return None;
        }
        "has a `.` or `..` segment, which would be resolved away (sending another path)"
    };
    Some(format!("{problem}; if a value put it there, encode it with `| urlencode` or give its input a `pattern`"))
}

/// Why a request could not be built from its templates; nothing was sent.
#[derive(Debug, thiserror::Error)]
enum BuildError {
    /// A template failed; `what` names it (`` `url` (...)``, ``header `x` ``).
    #[error("cannot render {what}: {reason}")]
    Render { what: String, reason: TemplateError },
    #[error("the url `{0}` is relative, but the recipe has no `http.base_url`")]
    Relative(String),
    /// The URL as sent, masked, and what would change it.
    #[error("the URL `{url}` {problem}")]
    Altered { url: String, problem: String },
    #[error("invalid URL `{url}`: {source}")]
    Invalid { url: String, source: url::ParseError },
    #[error(transparent)]
    Map(#[from] super::query::MapValue),
    #[error("multipart field `{field}`: {source}")]
    File { field: String, source: std::io::Error },
    #[error(transparent)]
    Splice(#[from] SpliceError),
}

/// A closure that names what a failed template was rendering.
fn rendering(what: impl std::fmt::Display) -> impl FnOnce(TemplateError) -> BuildError {
    move |reason| BuildError::Render { what: what.to_string(), reason }
}

/// Refuses a value spliced into the URL's path that holds `?` or `#` (the check warned about
/// it): the server would get another path and query than the recipe says. Only the expressions
/// the check could not prove URL-safe are rendered again.
fn spliced_values(state: &State, request: &Request, context: &Context) -> Result<(), SpliceError> {
    for splice in crate::splice::unsafe_splices(&request.url.text, &state.plan.recipe().inputs) {
        let text = format!("{{{{ {} }}}}", splice.expression);
        let expression =
            crate::model::TemplateString { kind: crate::template::classify(&text), text, span: request.url.span, style: request.url.style };
        let value = state
            .plan
            .engine
            .render_text(&expression, context)
            .map_err(|e| SpliceError::Render { expression: splice.expression.clone(), reason: e.to_string() })?;
        if let Some(found) = crate::splice::changes_the_url(&value) {
            return Err(SpliceError::Changes { expression: splice.expression, found, value: state.masker.text(&value) });
        }
    }
    Ok(())
}

fn render_request(state: &State, request: &Request, context: &Context, oauth_token: Option<&str>) -> Result<RequestSpec, BuildError> {
    let engine = &state.plan.engine;
    let http = &state.plan.recipe().http;
    let path = engine.render_text(&request.url, context).map_err(rendering(format_args!("`url` ({})", request.url.text)))?;
    let base = match &http.base_url {
        Some(base) => Some(engine.render_text(base, context).map_err(rendering(format_args!("`http.base_url` ({})", base.text)))?),
        None => None,
    };
    // Under replay an unset variable stands as `<NAME>`; the host never matters there.
    let base = base.map(|base| placeholder_host(&base));
    let absolute = if path.starts_with("http://") || path.starts_with("https://") {
        path.clone()
    } else {
        let base = base.as_deref().ok_or_else(|| BuildError::Relative(path.clone()))?;
        format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
    };
    spliced_values(state, request, context)?;
    if let Some(problem) = altered_url(&absolute) {
        return Err(BuildError::Altered { url: state.masker.text(&absolute), problem });
    }
    let mut url = url::Url::parse(&absolute).map_err(|source| BuildError::Invalid { url: state.masker.text(&absolute), source })?;
    if !request.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, template) in &request.query {
            let value = engine.render_tree(template, context).map_err(rendering(format_args!("query `{}`", name.text)))?;
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
    // `auth: none` leaves out the shared `Authorization` header too (not rendered: it may read a
    // token bound later).
    let no_auth = matches!(request.auth, Some(crate::model::Auth::None));
    let shared = http.headers.iter().filter(|(name, _)| !(no_auth && name.text.eq_ignore_ascii_case("authorization")));
    for (name, template) in shared.chain(&request.headers) {
        let value = engine.render_text(template, context).map_err(rendering(format_args!("header `{}`", name.text)))?;
        // A header that renders empty is not sent (`{{ ... if vars.token is defined else '' }}`).
        if value.is_empty() {
            headers.remove(&name.text.to_ascii_lowercase());
        } else {
            headers.insert(name.text.to_ascii_lowercase(), value);
        }
    }
    let own_authorization = request.headers.iter().any(|(name, _)| name.text.eq_ignore_ascii_case("authorization"));
    let auth = request.auth.as_ref().or(http.auth.as_ref().filter(|_| !own_authorization));
    if let Some(value) = auth.map(|auth| authorization(engine, auth, context, oauth_token)).transpose()?.flatten() {
        headers.insert("authorization".into(), value);
    }
    let body = if let Some(json) = &request.json {
        Some(Body::Json(engine.render_tree(json, context).map_err(rendering("the JSON body"))?))
    } else if let Some(form) = &request.form {
        let mut pairs = Vec::new();
        for (name, template) in form {
            let value = engine.render_tree(template, context).map_err(rendering(format_args!("form field `{}`", name.text)))?;
            pairs.extend(query_values(&name.text, &value)?.into_iter().map(|v| (name.text.clone(), v)));
        }
        Some(Body::Form(pairs))
    } else if let Some(text) = &request.body {
        Some(Body::Text(engine.render_text(text, context).map_err(rendering("`body`"))?))
    } else if let Some(fields) = &request.multipart {
        Some(Body::Multipart(multipart(state, fields, context)?))
    } else {
        None
    };
    if let Some(body) = &body {
        headers.entry("content-type".into()).or_insert_with(|| body.content_type());
    }
    Ok(RequestSpec {
        method: request.method.as_str().to_owned(),
        url: relative,
        headers,
        body,
        absolute_url,
        parsed: crate::http::ParsedUrl::new(url),
    })
}

/// The parts of a multipart body: text fields rendered, files read (relative to the recipe).
fn multipart(
    state: &State<'_>,
    fields: &[(crate::model::Name, crate::model::MultipartField)],
    context: &Context,
) -> Result<Vec<crate::http::Part>, BuildError> {
    use crate::model::MultipartField;
    let folder = std::path::Path::new(&state.plan.source.name).parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let mut parts = Vec::new();
    for (name, field) in fields {
        let part = match field {
            MultipartField::Text(template) => {
                let value =
                    state.plan.engine.render_text(template, context).map_err(rendering(format_args!("multipart field `{}`", name.text)))?;
                crate::http::Part { name: name.text.clone(), value: Some(value), file: None }
            }
            MultipartField::File(file) => {
                let given = state
                    .plan
                    .engine
                    .render_text(&file.file, context)
                    .map_err(rendering(format_args!("multipart field `{}`", name.text)))?;
                let path = folder.join(&given);
                let bytes = fs_err::read(&path).map_err(|source| BuildError::File { field: name.text.clone(), source })?;
                let filename = file
                    .filename
                    .clone()
                    .unwrap_or_else(|| path.file_name().map_or_else(|| given.clone(), |name| name.to_string_lossy().into_owned()));
                let content_type = file.content_type.clone().unwrap_or_else(|| crate::http::guess_content_type(&given).to_owned());
                let file = crate::http::FilePart::new(given, filename, content_type, bytes);
                crate::http::Part { name: name.text.clone(), value: None, file: Some(file) }
            }
        };
        parts.push(part);
    }
    Ok(parts)
}

/// The `Authorization` header of `auth`; none when its token renders empty.
fn authorization(
    engine: &crate::template::Engine,
    auth: &crate::model::Auth,
    context: &Context,
    oauth_token: Option<&str>,
) -> Result<Option<String>, BuildError> {
    match auth {
        crate::model::Auth::Basic { username, password } => {
            let username = engine.render_text(username, context).map_err(rendering("`auth.basic.username`"))?;
            let password = engine.render_text(password, context).map_err(rendering("`auth.basic.password`"))?;
            Ok(Some(format!("Basic {}", crate::mask::base64_encode(format!("{username}:{password}").as_bytes()))))
        }
        crate::model::Auth::Bearer(token) => {
            let token = engine.render_text(token, context).map_err(rendering("`auth.bearer`"))?;
            Ok((!token.is_empty()).then(|| format!("Bearer {token}")))
        }
        crate::model::Auth::Oauth2(_) => Ok(oauth_token.map(|token| format!("Bearer {token}"))),
        crate::model::Auth::None => Ok(None),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_that_parsing_would_change_are_refused() {
        for url in [
            "https://h.test/users/1/../../admin",
            "https://h.test/users/./x",
            "https://h.test/users/%2E%2e/x",
            "https://h.test/users/a\nb/x",
            "https://h.test/users/a\tb",
            "https://h.test/users/x#frag",
            "https://h.test/users?q=a#b",
            "https://h.test/users/..\\..\\admin/profile",
        ] {
            assert!(altered_url(url).is_some(), "{url:?}");
        }
        for url in
            ["https://h.test/users/1", "https://h.test/a..b/.x/x.?q=../..", "https://h.test/", "https://h.test", "https://h.test/a?q=a\\b"]
        {
            assert_eq!(altered_url(url), None, "{url:?}");
        }
    }
}
