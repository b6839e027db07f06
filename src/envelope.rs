//! API error envelopes: business errors that arrive inside a response body.
//!
//! myKaarma answers in two families (see `../shared/mykaarma/API-NOTES.md` §1.3): the customer
//! and opcode services put `errors[]`/`warnings[]` with numeric codes at the top level; the
//! appointment service puts `statusCode` and `error: {errorCode, errorDescription}` (sometimes an
//! array). Both can come with HTTP 200. This module reads either into readable text; it does
//! not decide whether a step fails.

use serde_json::Value as Json;

/// The API errors a body reports, one readable line each (empty when there are none).
pub fn errors(body: &Json) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(Json::Array(items)) = body.get("errors") {
        found.extend(items.iter().map(|item| {
            describe(item, &["errorCode", "code"], &["errorTitle", "errorName"], &["errorMessage", "errorDescription", "description"])
        }));
    }
    match body.get("error") {
        Some(Json::Array(items)) => found.extend(
            items
                .iter()
                .map(|item| describe(item, &["errorCode", "code"], &["errorTitle"], &["errorDescription", "errorMessage", "description"])),
        ),
        Some(item @ Json::Object(_)) => {
            found.push(describe(item, &["errorCode", "code"], &["errorTitle"], &["errorDescription", "errorMessage", "description"]));
        }
        _ => {}
    }
    found
}

/// The API warnings a body reports (e.g. `10001 NO_CUSTOMER_FOUND`).
pub fn warnings(body: &Json) -> Vec<String> {
    match body.get("warnings") {
        Some(Json::Array(items)) => items
            .iter()
            .map(|item| {
                describe(item, &["warningCode", "code"], &["warningTitle"], &["warningMessage", "warningDescription", "description"])
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn first<'a>(item: &'a Json, keys: &[&str]) -> Option<&'a Json> {
    keys.iter().find_map(|key| item.get(*key).filter(|value| !value.is_null()))
}

fn text(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn describe(item: &Json, code: &[&str], title: &[&str], message: &[&str]) -> String {
    let parts: Vec<String> = [first(item, code), first(item, title)].into_iter().flatten().map(text).collect();
    let head = parts.join(" ");
    match (head.is_empty(), first(item, message)) {
        (false, Some(message)) => format!("{head}: {}", text(message)),
        (false, None) => head,
        (true, Some(message)) => text(message),
        (true, None) => crate::select::short(item),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_both_families() {
        let a = json!({"errors": [{"errorCode": 100003, "errorTitle": "WRONG_CREDENTIAL", "errorMessage": "Wrong username and password"}], "warnings": []});
        assert_eq!(errors(&a), vec!["100003 WRONG_CREDENTIAL: Wrong username and password"]);
        let b = json!({"statusCode": 400, "error": {"errorCode": "INVALID_DEALER_UUID", "errorDescription": "Dealer not found", "errorUID": "x"}});
        assert_eq!(errors(&b), vec!["INVALID_DEALER_UUID: Dealer not found"]);
        let ok = json!({"statusCode": 200, "error": null, "warnings": null, "errors": []});
        assert!(errors(&ok).is_empty() && warnings(&ok).is_empty());
        let warned = json!({"warnings": [{"warningCode": 10001, "warningTitle": "NO_CUSTOMER_FOUND", "warningMessage": "No customer found for given search term"}]});
        assert_eq!(warnings(&warned), vec!["10001 NO_CUSTOMER_FOUND: No customer found for given search term"]);
    }
}
