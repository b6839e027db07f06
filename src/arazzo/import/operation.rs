//! The operation an Arazzo step calls (`operationId`, `operationPath` or Respect's
//! `x-operation`), found in the OpenAPI descriptions, and the credential its `x-security` sends.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::{Builder, Credential, Fallback, Located};
use crate::emit::{Entry, Node};

impl Builder<'_> {
    /// The method, path and security of a step's operation.
    pub(super) fn locate(&mut self, step: &Json, place: &str) -> Option<Located> {
        if let Some(operation) = step.get("x-operation") {
            let method = operation["method"].as_str().unwrap_or("get").to_ascii_lowercase();
            return Some(Located {
                method,
                path: operation["url"].as_str().unwrap_or_default().to_owned(),
                source: None,
                security: Vec::new(),
            });
        }
        if let Some(id) = step["operationId"].as_str() {
            let id = id.strip_prefix("$sourceDescriptions.").unwrap_or(id);
            for (index, (name, document)) in self.documents.sources.iter().enumerate() {
                let wanted = id.strip_prefix(&format!("{name}.")).unwrap_or(id);
                for (path, item) in document["paths"].as_object().into_iter().flatten() {
                    for (method, operation) in item.as_object().into_iter().flatten() {
                        if operation["operationId"] == wanted {
                            return Some(self.located(method, path, operation, index));
                        }
                    }
                }
            }
            self.warn(place, format!("no operation `{id}` in the OpenAPI description; the step is left out"));
            return None;
        }
        if let Some(operation_path) = step["operationPath"].as_str() {
            let (source, pointer) = operation_path.split_once('#')?;
            let source =
                source.trim_start_matches('{').trim_end_matches('}').trim_start_matches("$sourceDescriptions.").trim_end_matches(".url");
            let index =
                self.documents.sources.iter().position(|(name, _)| name == source).or((!self.documents.sources.is_empty()).then_some(0))?;
            let tokens: Vec<String> = crate::jsonpath::pointer_tokens(pointer).collect();
            if let [first, path, method] = tokens.as_slice()
                && first == "paths"
                && let Some(operation) = self.documents.sources[index].1.pointer(pointer).cloned()
            {
                return Some(self.located(method, path, &operation, index));
            }
            self.warn(place, format!("`{operation_path}` names no operation of the OpenAPI description; the step is left out"));
            return None;
        }
        if step.get("workflowId").is_some() {
            self.warn(place, "a step that runs another workflow has no recipe form (a `call` needs a recipe file); the step is left out");
        } else {
            self.warn(place, "the step names no operation; it is left out");
        }
        None
    }

    pub(super) fn located(&self, method: &str, path: &str, operation: &Json, source: usize) -> Located {
        let document = &self.documents.sources[source].1;
        let requirements = operation.get("security").or(document.get("security"));
        let security = requirements
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_object)
            .flat_map(|r| r.keys().cloned())
            .collect();
        Located { method: method.to_ascii_lowercase(), path: path.to_owned(), source: Some(source), security }
    }

    /// `x-security` (or none) as the request's `auth`, or an API key header or query parameter.
    /// A value with no recipe form is read from a secret environment variable instead.
    pub(super) fn auth(&mut self, step: &Json, located: &Located, place: &str, env_map: &BTreeMap<String, String>) -> Option<Credential> {
        let Some(entry) = step["x-security"].as_array().and_then(|entries| entries.first()) else {
            if !located.security.is_empty() {
                self.warn(
                    place,
                    format!(
                        "the operation asks for `{}` and the step gives no `x-security`; the request sends no credential of its own",
                        located.security.join("`, `")
                    ),
                );
            }
            return None;
        };
        let scheme = match entry["schemeName"].as_str() {
            Some(name) => located
                .source
                .and_then(|source| self.documents.sources[source].1["components"]["securitySchemes"].get(name).cloned())
                .unwrap_or(Json::Null),
            None => entry["scheme"].clone(),
        };
        let here = format!("{place}/x-security/0");
        let value = |key: &str, this: &mut Self| {
            let place = format!("{here}/values/{key}");
            let written = &entry["values"][key];
            match this.value_or(written, &place, env_map, Fallback::Secret(key)).and_then(|v| v.as_str().map(str::to_owned)) {
                Some(value) => value,
                None => this.stand_in_secret(key, &place, &format!("the credential's `{key}` (`{written}`, not text)")),
            }
        };
        match (scheme["type"].as_str(), scheme["scheme"].as_str().map(str::to_ascii_lowercase).as_deref()) {
            (Some("http"), Some("basic")) => {
                let (username, password) = (value("username", self), value("password", self));
                let fields = vec![Entry::new("username", Node::text(username)), Entry::new("password", Node::text(password))];
                Some(Credential::Auth(Node::Map(vec![Entry::new("basic", Node::Map(fields))])))
            }
            (Some("http"), Some("bearer")) => {
                Some(Credential::Auth(Node::Map(vec![Entry::new("bearer", Node::text(value("token", self)))])))
            }
            (Some("apiKey"), _) => {
                let name = scheme["name"].as_str().unwrap_or("X-Api-Key").to_owned();
                match scheme["in"].as_str() {
                    Some("query") => Some(Credential::Query(name, value("apiKey", self))),
                    Some("header") => Some(Credential::Header(name, value("apiKey", self))),
                    _ => {
                        self.warn(&here, "an API key in a cookie has no recipe form; the step sends no credential");
                        None
                    }
                }
            }
            _ => {
                self.warn(&here, "only HTTP basic and bearer schemes and API keys become a recipe credential; the step sends none");
                None
            }
        }
    }
}
