//! What an imported recipe asks for: the workflow's inputs as typed inputs or (secret)
//! environment variables, the first server as `http.base_url`, and the inputs and secret
//! variables that stand in for values with no recipe form.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::{Builder, identifier, unique};
use crate::emit::{Entry, Node};

impl Builder<'_> {
    /// An input the recipe asks for where `what` has no recipe form: `{{ inputs.NAME }}`, named
    /// after `hint`, with a warning at `place`.
    pub(super) fn stand_in(&mut self, hint: &str, place: &str, what: &str) -> Json {
        let name = unique(&identifier(hint), |candidate| self.inputs.iter().any(|entry| entry.key == candidate));
        let description = format!("stands in for {what} at `{place}` of the Arazzo document");
        self.warn(place, format!("{what} has no recipe form; the recipe asks for it as the input `{name}`"));
        let fields = vec![Entry::new("type", Node::text("string")), Entry::new("description", Node::text(description))];
        self.inputs.push(Entry::new(name.clone(), Node::Map(fields)));
        json!(format!("{{{{ inputs.{name} }}}}"))
    }

    /// A secret environment variable the recipe reads where a credential's `what` has no recipe
    /// form (an input would be recorded in fixtures): `{{ env.NAME }}`, with a warning.
    pub(super) fn stand_in_secret(&mut self, hint: &str, place: &str, what: &str) -> String {
        let name = unique(&identifier(hint).to_ascii_uppercase(), |candidate| self.env.iter().any(|(var, ..)| var == candidate));
        self.warn(place, format!("{what} has no recipe form; the recipe reads the secret environment variable `{name}` instead"));
        self.env.push((name.clone(), None, true, Some(format!("stands in for {what} at `{place}` of the Arazzo document"))));
        format!("{{{{ env.{name} }}}}")
    }

    /// The workflow's inputs: typed recipe inputs, or environment variables for those the
    /// export marked (`x-recipe-env`).
    pub(super) fn inputs(&mut self, workflow: &Json, place: &str, env_map: &mut BTreeMap<String, String>) {
        let mut schema = workflow["inputs"].clone();
        if let Some(reference) = schema["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
            schema = self.documents.arazzo.pointer(reference).cloned().unwrap_or(Json::Null);
        }
        let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Json::as_str).collect();
        for (input, property) in schema["properties"].as_object().into_iter().flatten() {
            let description = property["description"].as_str().map(str::to_owned);
            let secret = property["format"] == "password" || property["writeOnly"] == true;
            if secret && !env_map.contains_key(input) {
                // A secret is read from the environment, so that no fixture records it.
                env_map.insert(input.clone(), identifier(input).to_ascii_uppercase());
            }
            if let Some(var) = env_map.get(input) {
                let default = property["default"].as_str().map(str::to_owned);
                self.env.push((var.clone(), default, secret, description));
                continue;
            }
            let mut fields = Vec::new();
            let kind = property["type"].as_str().unwrap_or("string");
            if matches!(kind, "string" | "integer" | "number" | "boolean" | "array" | "object") {
                fields.push(Entry::new("type", Node::text(kind)));
            } else {
                self.warn(
                    &format!("{place}/inputs/properties/{input}"),
                    format!("type `{}` has no recipe form; the input is a string", property["type"]),
                );
            }
            if let Some(description) = description {
                fields.push(Entry::new("description", Node::text(description)));
            }
            if let Some(default) = property.get("default") {
                fields.push(Entry::new("default", Node::from_json(default)));
            } else if !required.contains(&input.as_str()) {
                fields.push(Entry::new("required", Node::Scalar(json!(false))));
            }
            for key in ["pattern", "enum"] {
                if let Some(value) = property.get(key) {
                    fields.push(Entry::new(key, Node::from_json(value)));
                }
            }
            if let Some(format) = property["format"].as_str().filter(|f| ["date", "date-time", "email"].contains(f)) {
                fields.push(Entry::new("format", Node::text(format)));
            }
            self.inputs.push(Entry::new(identifier(input), Node::Map(fields)));
        }
    }

    /// `http.base_url`: the first OpenAPI server, read from an environment variable whose
    /// default it is (the one an export named, else `API_BASE_URL`).
    pub(super) fn base_url(&mut self) -> String {
        let server = self.documents.sources.first().map_or(Json::Null, |(_, document)| document["servers"][0].clone());
        let mut url = server["url"].as_str().unwrap_or_default().to_owned();
        for (variable, definition) in server["variables"].as_object().into_iter().flatten() {
            url = url.replace(&format!("{{{variable}}}"), definition["default"].as_str().unwrap_or_default());
        }
        let var = server["x-recipe-env"].as_str().map_or_else(|| "API_BASE_URL".to_owned(), str::to_owned);
        let default = url.contains("://").then(|| url.trim_end_matches('/').to_owned());
        if default.is_none() {
            self.warn("/sourceDescriptions", format!("the OpenAPI description has no absolute server URL; set `{var}`"));
        }
        self.env.insert(0, (var.clone(), default, false, Some("the API's base URL".into())));
        format!("{{{{ env.{var} }}}}")
    }
}
