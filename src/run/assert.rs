//! Assertions: conditions a step's result must meet once its action and bindings are done. A
//! failing one fails the step with its message and the actual values.

use minijinja::Value as Context;
use serde_json::Value as Json;

use super::{Cause, State, StepError};
use crate::model::{Assertion, Step};
use crate::select::short;

pub(super) fn check(state: &State, step: &Step, value: &Json) -> Result<(), StepError> {
    if step.assert.is_empty() {
        return Ok(());
    }
    let context = state.context();
    for assertion in &step.assert {
        if let Some(actual) = failure(state, assertion, value, &context)? {
            let message = match &assertion.message {
                // The assertion failed either way: a message that cannot render says so, beside
                // its source, rather than passing the source off as the message.
                Some(message) => state
                    .plan
                    .engine
                    .render_text(message, &context)
                    .unwrap_or_else(|error| format!("{} (the message could not be rendered: {error})", message.text)),
                None => "assertion failed".to_owned(),
            };
            return Err(StepError::new(Cause::Assert, format!("{message}: {actual}")));
        }
    }
    Ok(())
}

/// What is wrong, or `None` when the assertion holds.
fn failure(state: &State, assertion: &Assertion, value: &Json, context: &Context) -> Result<Option<String>, StepError> {
    let engine = &state.plan.engine;
    let render =
        |what: &str, error: crate::template::TemplateError| StepError::new(Cause::Render, format!("cannot render `{what}`: {error}"));
    if let Some(that) = &assertion.that {
        return match engine.render(that, context).map_err(|e| render(&that.text, e))? {
            Json::Bool(true) => Ok(None),
            Json::Bool(false) => Ok(Some(format!("`{}` is false{}", that.text, actual_values(state, that, context)))),
            other => Err(StepError::new(
                Cause::Render,
                format!("`{}` must render to true or false, got {}", that.text, short(&state.masker, &other)),
            )),
        };
    }
    if let Some(xpath) = &assertion.xpath {
        return xml_failure(state, assertion, xpath, value, context);
    }
    let Some(path) = &assertion.path else { return Ok(None) };
    let nodes = path.select(value);
    let expected =
        assertion.equals.as_ref().map(|equals| engine.render_tree(equals, context)).transpose().map_err(|e| render("equals", e))?;
    let holds = nodes.iter().any(|node| {
        let equal = expected.as_ref().is_none_or(|expected| match (expected, node) {
            (Json::Number(a), Json::Number(b)) => a.as_f64() == b.as_f64(),
            (a, b) => a == *b,
        });
        let matched = assertion.regex.as_ref().is_none_or(|regex| node.as_str().is_some_and(|text| regex.is_match(text)));
        equal && matched
    });
    if holds {
        return Ok(None);
    }
    let wanted = match (&expected, &assertion.pattern) {
        (Some(expected), Some(pattern)) => format!("{} matching `{pattern}`", short(&state.masker, expected)),
        (Some(expected), None) => short(&state.masker, expected),
        (None, Some(pattern)) => format!("a string matching `{pattern}`"),
        (None, None) => "a value".to_owned(),
    };
    let found = match nodes.as_slice() {
        [] => path.why_nothing(value).map_or_else(|| "nothing".to_owned(), |why| format!("nothing ({})", state.masker.text(&why))),
        [node] => short(&state.masker, node),
        many => format!("[{}]", many.iter().take(5).map(|n| short(&state.masker, n)).collect::<Vec<_>>().join(", ")),
    };
    Ok(Some(format!("`{}` is {found}, expected {wanted}", path.text)))
}

/// What is wrong with an `xpath` assertion on the step's XML body, or `None` when it holds.
/// XPath yields text for what it selects, so `equals` compares texts (numbers by value).
fn xml_failure(
    state: &State,
    assertion: &Assertion,
    xpath: &crate::xpath::XPath,
    value: &Json,
    context: &Context,
) -> Result<Option<String>, StepError> {
    let namespaces = &state.plan.recipe().http.namespaces;
    let unreadable = |error: crate::xpath::XmlError| {
        Some(format!("`{}` cannot be read: {} in {}", xpath.text, state.masker.text(&error.to_string()), short(&state.masker, value)))
    };
    if assertion.equals.is_none() && assertion.regex.is_none() {
        return Ok(match crate::xpath::holds(&xpath.text, namespaces, value) {
            Ok(true) => None,
            Ok(false) => Some(format!("`{}` does not hold in {}", xpath.text, short(&state.masker, value))),
            Err(error) => unreadable(error),
        });
    }
    let expected = assertion
        .equals
        .as_ref()
        .map(|equals| state.plan.engine.render_tree(equals, context))
        .transpose()
        .map_err(|e| StepError::new(Cause::Render, format!("cannot render `equals`: {e}")))?;
    let found = match crate::xpath::evaluate(&xpath.text, namespaces, value) {
        Ok(found) => found,
        Err(error) => return Ok(unreadable(error)),
    };
    let text = |json: &Json| match json {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    };
    let holds = found.as_ref().is_some_and(|found| {
        let equal = expected.as_ref().is_none_or(|expected| {
            let (a, b) = (text(found), text(expected));
            a == b || matches!((a.trim().parse::<f64>(), b.trim().parse::<f64>()), (Ok(x), Ok(y)) if x.total_cmp(&y).is_eq())
        });
        equal && assertion.regex.as_ref().is_none_or(|regex| regex.is_match(&text(found)))
    });
    if holds {
        return Ok(None);
    }
    let wanted = match (&expected, &assertion.pattern) {
        (Some(expected), Some(pattern)) => format!("{} matching `{pattern}`", short(&state.masker, expected)),
        (Some(expected), None) => short(&state.masker, expected),
        (None, pattern) => format!("a value matching `{}`", pattern.as_deref().unwrap_or_default()),
    };
    let found = found.map_or_else(|| format!("nothing in {}", short(&state.masker, value)), |found| short(&state.masker, &found));
    Ok(Some(format!("`{}` is {found}, expected {wanted}", xpath.text)))
}

/// ` (steps.poll.body.state = "pending", ...)`: the values the expression read.
fn actual_values(state: &State, that: &crate::model::TemplateString, context: &Context) -> String {
    let shown: Vec<String> = state
        .plan
        .engine
        .variables(that)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|path| {
            let mut current = context.clone();
            for part in path.split('.') {
                current = current.get_attr(part).ok().filter(|value| !value.is_undefined())?;
            }
            let json = crate::template::to_json(&current).ok()?;
            Some(format!("{path} = {}", short(&state.masker, &json)))
        })
        .collect();
    if shown.is_empty() { String::new() } else { format!(" ({})", shown.join(", ")) }
}
