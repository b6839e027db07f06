//! Runtime expressions as templates, for an imported step: values (`$inputs.x`,
//! `{$steps.S.outputs.o}` in text), request bodies, and outputs as bindings.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use super::{Builder, EMBEDDED, Fallback, identifier};
use crate::emit::{Entry, Node};

impl Builder<'_> {
    /// A request body as `json`, `form` or `body`.
    pub(super) fn body(&mut self, body: &Json, place: &str, env_map: &BTreeMap<String, String>) -> Option<Entry> {
        let mut payload = body["payload"].clone();
        for (index, replacement) in body["payloadReplacements"].as_array().into_iter().flatten().enumerate() {
            let target = replacement["target"].as_str().unwrap_or_default();
            match payload.pointer_mut(target) {
                Some(node) if target.starts_with('/') || target.is_empty() => *node = replacement["value"].clone(),
                _ => self.warn(
                    &format!("{place}/payloadReplacements/{index}"),
                    format!("target `{target}` is no JSON Pointer into the payload; left out"),
                ),
            }
        }
        let kept: Map<String, Json> = body["x-recipe-template"].as_object().cloned().unwrap_or_default();
        let payload = self.tree(&payload, place, "", &kept, env_map);
        let content_type = body["contentType"].as_str().unwrap_or(if payload.is_string() { "text/plain" } else { "application/json" });
        if content_type.contains("json") {
            Some(Entry::new("json", Node::from_json(&payload)))
        } else if content_type.starts_with("application/x-www-form-urlencoded") && payload.is_object() {
            Some(Entry::new("form", Node::from_json(&payload)))
        } else if let Some(text) = payload.as_str() {
            Some(Entry::new("body", Node::text(text)))
        } else {
            self.warn(place, format!("a `{content_type}` payload that is not text has no recipe form; left out"));
            None
        }
    }

    /// A payload with its runtime expressions as templates (parts an export kept as recipe text
    /// as they are).
    pub(super) fn tree(
        &mut self,
        value: &Json,
        place: &str,
        pointer: &str,
        kept: &Map<String, Json>,
        env_map: &BTreeMap<String, String>,
    ) -> Json {
        let hint =
            pointer.rsplit('/').find(|token| !token.is_empty() && !token.bytes().all(|b| b.is_ascii_digit())).unwrap_or("body").to_owned();
        if let Some(text) = kept.get(pointer) {
            let what = format!("recipe text `{}` an export kept (what it reads is not restored)", text.as_str().unwrap_or_default());
            return self.stand_in(&hint, &format!("{place}/payload{pointer}"), &what);
        }
        match value {
            Json::Array(items) => Json::Array(
                items.iter().enumerate().map(|(i, item)| self.tree(item, place, &format!("{pointer}/{i}"), kept, env_map)).collect(),
            ),
            Json::Object(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        (k.clone(), self.tree(v, place, &format!("{pointer}/{}", crate::jsonpath::pointer_token(k)), kept, env_map))
                    })
                    .collect(),
            ),
            Json::String(_) => {
                self.value_or(value, &format!("{place}/payload{pointer}"), env_map, Fallback::Input(&hint)).unwrap_or(Json::Null)
            }
            other => other.clone(),
        }
    }

    /// A step output as a binding: a `JSONPath`, or a template of the step's status or header.
    pub(super) fn output(&mut self, expression: &str, step: &str, place: &str) -> Option<String> {
        if let Some(pointer) = expression.strip_prefix("$response.body") {
            let pointer = pointer.strip_prefix('#').unwrap_or(pointer);
            if pointer.is_empty() || pointer.starts_with('/') {
                return Some(json_path(pointer));
            }
        }
        if expression == "$statusCode" {
            return Some(format!("{{{{ steps.{step}.status }}}}"));
        }
        if let Some(header) = expression.strip_prefix("$response.header.") {
            return Some(format!("{{{{ steps.{step}.headers['{}'] }}}}", header.to_ascii_lowercase()));
        }
        self.warn(place, format!("the output `{expression}` has no recipe form; left out"));
        None
    }

    /// A value with its runtime expressions as templates; `None` (with a warning) when one has
    /// no recipe form.
    pub(super) fn value(&mut self, value: &Json, place: &str, env_map: &BTreeMap<String, String>) -> Option<Json> {
        self.value_or(value, place, env_map, Fallback::Nothing)
    }

    /// [`Self::value`], or, where it has no recipe form, what `fallback` says stands in for it
    /// (with one warning either way).
    pub(super) fn value_or(
        &mut self,
        value: &Json,
        place: &str,
        env_map: &BTreeMap<String, String>,
        fallback: Fallback<'_>,
    ) -> Option<Json> {
        let Some(text) = value.as_str() else { return Some(value.clone()) };
        let translated = if text.starts_with('$') {
            self.expression(text, env_map)
                .map(|template| json!(format!("{{{{ {template} }}}}")))
                .ok_or_else(|| Formless::Expression(text.to_owned()))
        } else if text.contains("{{") || text.contains("{%") {
            Err(Formless::Template(text.to_owned()))
        } else {
            self.embedded(text, env_map)
        };
        match (translated, fallback) {
            (Ok(value), _) => Some(value),
            (Err(what), Fallback::Input(hint)) => Some(self.stand_in(hint, place, &what.to_string())),
            (Err(what), Fallback::Secret(hint)) => Some(json!(self.stand_in_secret(hint, place, &what.to_string()))),
            (Err(what), Fallback::Nothing) => {
                self.warn(place, format!("{what} has no recipe form; left out"));
                None
            }
        }
    }

    /// Text with `{$...}` runtime expressions embedded, as a template; else what has no form.
    fn embedded(&self, text: &str, env_map: &BTreeMap<String, String>) -> Result<Json, Formless> {
        let mut out = String::new();
        let mut last = 0;
        for captures in EMBEDDED.captures_iter(text) {
            let whole = captures.get(0).expect("a match has a whole");
            out.push_str(&text[last..whole.start()]);
            let template = self.expression(&captures[1], env_map).ok_or_else(|| Formless::Expression(captures[1].to_owned()))?;
            out.push_str(&format!("{{{{ {template} }}}}"));
            last = whole.end();
        }
        out.push_str(&text[last..]);
        Ok(json!(out))
    }

    /// One runtime expression as a minijinja expression.
    pub(super) fn expression(&self, expression: &str, env_map: &BTreeMap<String, String>) -> Option<String> {
        if let Some(input) = expression.strip_prefix("$inputs.") {
            if let Some(var) = env_map.get(input) {
                return Some(format!("env.{var}"));
            }
            // An input the workflow does not declare is no recipe input either (a stand-in is).
            let name = identifier(input);
            return self.inputs.iter().any(|entry| entry.key == name).then(|| format!("inputs.{name}"));
        }
        let rest = expression.strip_prefix("$steps.")?;
        let (step, output) = rest.split_once(".outputs.")?;
        self.vars.get(&(step.to_owned(), output.to_owned())).map(|var| format!("vars.{var}"))
    }
}

/// A value with no recipe form, as a warning names it.
#[derive(Debug, thiserror::Error)]
enum Formless {
    #[error("the runtime expression `{0}`")]
    Expression(String),
    #[error("the text `{0}` (a recipe would read its `{{{{` or `{{%` as a template)")]
    Template(String),
}

/// A JSON Pointer (RFC 6901) as a `JSONPath`: `/a/0/b c` is `$.a[0]['b c']`.
pub(super) fn json_path(pointer: &str) -> String {
    crate::jsonpath::pointer_path(pointer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_json_paths() {
        assert_eq!(json_path(""), "$");
        assert_eq!(json_path("/orders/0/id"), "$.orders[0].id");
        assert_eq!(json_path("/a~1b/it's"), "$['a/b']['it\\'s']");
    }
}
