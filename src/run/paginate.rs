//! `paginate`: after each page, `next` (rendered with `response`) says what changes for the next
//! request: `{ query: {...} }` merges into the query, `{ url: ... }` replaces the URL. It stops
//! when `next` renders null or empty; needing more than `max_pages` pages is an error, never a
//! silent stop. The nodes `items` selects on every page are joined into `steps.ID.items`.

use std::sync::Arc;

use minijinja::Value as Context;
use serde_json::Value as Json;

use super::attempts::page;
use super::query::query_values;
use super::{Acted, Cause, Listener, State, StepError};
use crate::http::RequestSpec;
use crate::model::{Paginate, Request, Step};
use crate::transport::Transport;

const DEFAULT_MAX_PAGES: u32 = 100;

#[allow(clippy::too_many_arguments)]
pub(super) async fn rest(
    state: &State<'_>,
    step: &Step,
    request: &Request,
    paginate: &Paginate,
    context: &Context,
    transport: &mut Transport,
    on_event: &mut Listener<'_>,
    mut spec: RequestSpec,
    first: Acted,
    oauth: bool,
) -> Result<Acted, StepError> {
    let max_pages = paginate.max_pages.unwrap_or(DEFAULT_MAX_PAGES);
    // What relative URLs are relative to: the absolute URL less the relative one.
    let base = spec.absolute_url.strip_suffix(&spec.url).unwrap_or_default().to_owned();
    let mut items = Vec::new();
    let mut acted = first;
    let mut pages: u32 = 1;
    loop {
        if let Some(path) = &paginate.items {
            items.extend(path.select(&acted.value).into_iter().cloned());
        }
        let response = minijinja::context! {
            status => field(&acted, "status"),
            headers => field(&acted, "headers"),
            body => field(&acted, "body"),
        };
        let with_response = minijinja::context! { response => response, ..context.clone() };
        let next = state
            .plan
            .engine
            .render_tree(&paginate.next, &with_response)
            .map_err(|e| StepError::new(Cause::Render, format!("cannot render `paginate.next` (after page {pages}): {e}")))?;
        if is_empty(&next) {
            break;
        }
        if pages >= max_pages {
            let message = format!(
                "there are more than {max_pages} pages (`paginate.max_pages`): `next` still asks for another; raise `max_pages` if the API really has more"
            );
            return Err(StepError::traced(Cause::Pages, message, std::mem::take(&mut acted.trace)));
        }
        spec = next_request(&state.masker, spec, &next, &base).map_err(|error| StepError::new(Cause::Render, error.to_string()))?;
        let earlier = std::mem::take(&mut acted.trace.attempts);
        let mut following = page(state, step, request, context, transport, on_event, &spec, oauth).await.map_err(|mut error| {
            let mut attempts = earlier.clone();
            attempts.append(&mut error.trace.attempts);
            error.trace.attempts = attempts;
            error.message = format!("page {}: {}", pages + 1, error.message);
            error
        })?;
        if following.not_sent {
            break;
        }
        let mut attempts = earlier;
        attempts.append(&mut following.trace.attempts);
        following.trace.attempts = attempts;
        acted = following;
        pages += 1;
    }
    acted.result.push(("items", crate::template::shared_json(Arc::new(Json::Array(items)))));
    acted.result.push(("pages", Context::from(pages)));
    Ok(acted)
}

fn field(acted: &Acted, name: &str) -> Context {
    acted.result.iter().find(|(field, _)| *field == name).map_or(Context::from(()), |(_, value)| value.clone())
}

/// Null, an empty text, list or map, or a map of nulls: no next page.
fn is_empty(next: &Json) -> bool {
    match next {
        Json::Null => true,
        Json::String(text) => text.is_empty(),
        Json::Array(items) => items.is_empty(),
        Json::Object(map) => map.values().all(is_empty),
        _ => false,
    }
}

/// Why `paginate.next` does not make a next request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum NextError {
    /// What it rendered instead, masked and cut short.
    #[error("`paginate.next` must render to `{{ query: {{...}} }}` or `{{ url: ... }}`, got {0}")]
    NotAMap(String),
    #[error("`paginate.next.url` must be a text")]
    UrlNotText,
    #[error("invalid next page URL `{url}`: {reason}")]
    Url { url: String, reason: String },
    #[error("`paginate.next.query` must be a map")]
    QueryNotAMap,
    /// A query value that cannot be sent.
    #[error(transparent)]
    Query(super::query::MapValue),
    #[error("`paginate.next` may change `url` and `query`, not `{0}`")]
    Unknown(String),
}

/// The request for the next page.
fn next_request(masker: &crate::mask::Masker, mut spec: RequestSpec, next: &Json, base: &str) -> Result<RequestSpec, NextError> {
    let Json::Object(changes) = next else {
        return Err(NextError::NotAMap(crate::select::short(masker, next)));
    };
    if let Some(url) = changes.get("url").filter(|url| !is_empty(url)) {
        let Json::String(url) = url else { return Err(NextError::UrlNotText) };
        let absolute = if url.starts_with("http://") || url.starts_with("https://") {
            url.clone()
        } else {
            format!("{}/{}", base.trim_end_matches('/'), url.trim_start_matches('/'))
        };
        spec.absolute_url = absolute;
    }
    let mut parsed =
        url::Url::parse(&spec.absolute_url).map_err(|e| NextError::Url { url: spec.absolute_url.clone(), reason: e.to_string() })?;
    if let Some(query) = changes.get("query") {
        let Json::Object(query) = query else { return Err(NextError::QueryNotAMap) };
        let kept: Vec<(String, String)> = parsed
            .query_pairs()
            .filter(|(name, _)| !query.contains_key(name.as_ref()))
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        let mut pairs = parsed.query_pairs_mut();
        pairs.clear();
        for (name, value) in &kept {
            pairs.append_pair(name, value);
        }
        for (name, value) in query {
            for text in query_values(name, value).map_err(NextError::Query)? {
                pairs.append_pair(name, &text);
            }
        }
        drop(pairs);
        if parsed.query() == Some("") {
            parsed.set_query(None);
        }
    }
    if let Some(unknown) = changes.keys().find(|key| !["url", "query"].contains(&key.as_str())) {
        return Err(NextError::Unknown(unknown.clone()));
    }
    spec.absolute_url = parsed.to_string();
    spec.url = match spec.absolute_url.strip_prefix(base.trim_end_matches('/')) {
        Some(relative) if !base.is_empty() => relative.to_owned(),
        _ => parsed[url::Position::BeforePath..].to_owned(),
    };
    Ok(spec)
}
