//! API error envelopes: business errors that arrive inside a response body.
//!
//! myKaarma answers in two families (see `docs/mykaarma-endpoints.md`, "Envelopes"): the customer
//! and opcode services put `errors[]`/`warnings[]` with numeric codes at the top level; the
//! appointment service puts `statusCode` and `error: {errorCode, errorDescription}` (sometimes an
//! array). Both can come with HTTP 200. This module reads either into readable text; it does
//! not decide whether a step fails.
//!
//! What counts as an error:
//! - each entry of `errors[]`, and the `error` object or each entry of an `error` array, unless
//!   the entry is empty: `null`, `{}`, or an object whose every field is `null` or blank
//!   (`{"errorCode": null, "errorDescription": null, "errorUID": null}` is not an error);
//! - a non-blank `error` text;
//! - a body `statusCode` from 400 to 599 (a number or a numeric text), even with `error: null`:
//!   the body says the request failed whatever the HTTP status. When the body also gives error
//!   entries, those are the message; otherwise the message names the `statusCode`.

use crate::mask::Masker;
use serde_json::Value as Json;

/// The top-level fields [`errors`] and [`warnings`] read (each whole).
pub(crate) const FIELDS: &[&str] = &["errors", "error", "warnings", "statusCode"];
const ERROR_CODE: &[&str] = &["errorCode", "code"];
const ERROR_TITLE: &[&str] = &["errorTitle", "errorName"];
const ERROR_MESSAGE: &[&str] = &["errorMessage", "errorDescription", "description", "message"];

/// The API errors a body reports, one readable line each (empty when there are none).
pub(crate) fn errors(masker: &Masker, body: &Json) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(Json::Array(items)) = body.get("errors") {
        found.extend(error_lines(masker, items));
    }
    match body.get("error") {
        Some(Json::Array(items)) => found.extend(error_lines(masker, items)),
        Some(item @ Json::Object(_)) => found.extend(error_lines(masker, std::slice::from_ref(item))),
        Some(Json::String(text)) if !text.trim().is_empty() => found.push(text.clone()),
        _ => {}
    }
    if found.is_empty()
        && let Some(code) = status_code(body)
        && (400..=599).contains(&code)
    {
        found.push(format!("the body's statusCode is {code} (no error details given)"));
    }
    found
}

/// One line per error entry that is not empty.
fn error_lines<'a>(masker: &'a Masker, items: &'a [Json]) -> impl Iterator<Item = String> + 'a {
    items.iter().filter(|item| !is_empty_entry(item)).map(|item| describe(masker, item, ERROR_CODE, ERROR_TITLE, ERROR_MESSAGE))
}

/// The API warnings a body reports (e.g. `10001 NO_CUSTOMER_FOUND`); empty entries are skipped.
pub(crate) fn warnings(masker: &Masker, body: &Json) -> Vec<String> {
    match body.get("warnings") {
        Some(Json::Array(items)) => items
            .iter()
            .filter(|item| !is_empty_entry(item))
            .map(|item| {
                describe(
                    masker,
                    item,
                    &["warningCode", "code"],
                    &["warningTitle"],
                    &["warningMessage", "warningDescription", "description", "message"],
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The body's `statusCode`, when it is a whole number or a text holding one.
fn status_code(body: &Json) -> Option<i64> {
    match body.get("statusCode")? {
        Json::Number(number) => number.as_i64(),
        Json::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// An entry that reports nothing: `null`, blank text, or a list or map of such values only.
fn is_empty_entry(item: &Json) -> bool {
    match item {
        Json::Null => true,
        Json::String(text) => text.trim().is_empty(),
        Json::Object(fields) => fields.values().all(is_empty_entry),
        Json::Array(items) => items.iter().all(is_empty_entry),
        Json::Bool(_) | Json::Number(_) => false,
    }
}

fn first<'a>(item: &'a Json, keys: &[&str]) -> Option<&'a Json> {
    keys.iter().find_map(|key| item.get(*key).filter(|value| !is_empty_entry(value)))
}

fn text(value: &Json) -> String {
    match value {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn describe(masker: &Masker, item: &Json, code: &[&str], title: &[&str], message: &[&str]) -> String {
    let parts: Vec<String> = [first(item, code), first(item, title)].into_iter().flatten().map(text).collect();
    let head = parts.join(" ");
    match (head.is_empty(), first(item, message)) {
        (false, Some(message)) => format!("{head}: {}", text(message)),
        (false, None) => head,
        (true, Some(message)) => text(message),
        (true, None) => crate::select::short(masker, item),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_both_families() {
        let a = json!({"errors": [{"errorCode": 100003, "errorTitle": "WRONG_CREDENTIAL", "errorMessage": "Wrong username and password"}], "warnings": []});
        assert_eq!(errors(&Masker::default(), &a), vec!["100003 WRONG_CREDENTIAL: Wrong username and password"]);
        let b = json!({"statusCode": 400, "error": {"errorCode": "INVALID_DEALER_UUID", "errorDescription": "Dealer not found", "errorUID": "x"}});
        assert_eq!(errors(&Masker::default(), &b), vec!["INVALID_DEALER_UUID: Dealer not found"]);
        let ok = json!({"statusCode": 200, "error": null, "warnings": null, "errors": []});
        assert!(errors(&Masker::default(), &ok).is_empty() && warnings(&Masker::default(), &ok).is_empty());
        let warned = json!({"warnings": [{"warningCode": 10001, "warningTitle": "NO_CUSTOMER_FOUND", "warningMessage": "No customer found for given search term"}]});
        assert_eq!(warnings(&Masker::default(), &warned), vec!["10001 NO_CUSTOMER_FOUND: No customer found for given search term"]);
    }

    #[test]
    fn the_array_form_of_error_is_read_entry_by_entry() {
        let body = json!({"statusCode": 200, "error": [
            {"errorCode": 0, "errorDescription": "Appointment start is in the past"},
            {"errorCode": null, "errorDescription": null},
            {"errorCode": "SLOT_UNAVAILABLE", "errorDescription": "Slot taken"}]});
        assert_eq!(errors(&Masker::default(), &body), vec!["0: Appointment start is in the past", "SLOT_UNAVAILABLE: Slot taken"]);
        assert!(errors(&Masker::default(), &json!({"error": []})).is_empty());
        assert!(errors(&Masker::default(), &json!({"error": [null, {}]})).is_empty());
    }

    #[test]
    fn a_status_code_of_400_or_more_in_the_body_is_an_error() {
        let bare = json!({"statusCode": 400, "error": null, "warnings": null});
        assert_eq!(errors(&Masker::default(), &bare), vec!["the body's statusCode is 400 (no error details given)"]);
        assert_eq!(
            errors(&Masker::default(), &json!({"statusCode": "503"})),
            vec!["the body's statusCode is 503 (no error details given)"]
        );
        assert_eq!(errors(&Masker::default(), &json!({"statusCode": 500, "error": {"errorCode": null}})).len(), 1);
        // With details, the details are the message (the status code adds nothing).
        let detailed =
            json!({"statusCode": 400, "error": {"errorCode": "NO_TIME_INTERVAL_EXISTS", "errorDescription": "No time interval"}});
        assert_eq!(errors(&Masker::default(), &detailed), vec!["NO_TIME_INTERVAL_EXISTS: No time interval"]);
        // Success codes, the documented 0, and values that are not status codes are no error.
        for code in [json!(200), json!(201), json!(204), json!(0), json!(399), json!(600), json!("OK"), json!(null), json!(true)] {
            assert!(errors(&Masker::default(), &json!({"statusCode": code, "error": null})).is_empty(), "{code}");
        }
    }

    #[test]
    fn an_error_whose_fields_are_all_null_is_not_an_error() {
        let body = json!({"statusCode": 200, "error": {"errorCode": null, "errorDescription": null, "errorUID": null}, "warnings": null});
        assert!(errors(&Masker::default(), &body).is_empty());
        assert!(errors(&Masker::default(), &json!({"error": {}})).is_empty());
        assert!(errors(&Masker::default(), &json!({"error": {"errorCode": "", "errorDescription": "  "}})).is_empty());
        assert!(
            errors(&Masker::default(), &json!({"errors": [{"errorCode": null, "errorTitle": null, "errorMessage": null}, null]}))
                .is_empty()
        );
        assert!(warnings(&Masker::default(), &json!({"warnings": [{"warningCode": null, "warningDescription": null}]})).is_empty());
        // One field set is enough to count, and a blank field does not hide the others.
        let partial = json!({"error": {"errorCode": null, "errorDescription": "Dealer not found", "errorUID": ""}});
        assert_eq!(errors(&Masker::default(), &partial), vec!["Dealer not found"]);
        let uid_only = json!({"error": {"errorCode": null, "errorDescription": null, "errorUID": "e-1"}});
        assert_eq!(errors(&Masker::default(), &uid_only), vec![r#"{"errorCode":null,"errorDescription":null,"errorUID":"e-1"}"#]);
    }

    #[test]
    fn an_error_text_counts_unless_blank() {
        assert_eq!(errors(&Masker::default(), &json!({"error": "Unauthorized"})), vec!["Unauthorized"]);
        assert!(errors(&Masker::default(), &json!({"error": ""})).is_empty());
    }
}
