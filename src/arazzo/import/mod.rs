//! `recipe import arazzo FILE`: an Arazzo 1.0 workflow, with the OpenAPI description it names,
//! as a recipe.
//!
//! Each step becomes a request step: its operation (`operationId`, `operationPath` or Respect's
//! `x-operation`) gives the method and path, its path parameters fill the path, its query and
//! header parameters become `query` and `headers`, its `requestBody` a `json`, `form` or `body`,
//! its `$statusCode == N` criteria `expect.status`, its outputs `bind`s (a body pointer is a
//! `JSONPath`) and its `x-security` the request's `auth`. Runtime expressions become templates:
//! `$inputs.x` is `{{ inputs.x }}` (or `{{ env.X }}` for the inputs an export marked as
//! environment variables), `$steps.S.outputs.o` the variable that output was bound to. The
//! first server of the description is `http.base_url`, read from an environment variable whose
//! default it is. What has no recipe form (a step running another workflow, `JSONPath` or regex
//! criteria, actions, cookie parameters) is a warning naming its place (a JSON Pointer into the
//! Arazzo document). Reading the files is [`read`]; [`recipe`] is pure.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value as Json, json};

use super::error::ArazzoError;
use super::unique;
use crate::emit::{Entry, Node};

mod criteria;
mod inputs;
mod operation;
mod values;

/// The Arazzo document and the OpenAPI descriptions it names, by source name.
pub(crate) struct Documents {
    pub file: String,
    pub arazzo: Json,
    /// The Arazzo document with the place of every node, for messages.
    pub located: Option<crate::yaml::Node>,
    pub sources: Vec<(String, Json)>,
    /// Problems met while reading (a source that is no OpenAPI description).
    pub warnings: Vec<String>,
}

/// What the import produced.
pub(crate) struct Imported {
    pub yaml: String,
    pub steps: usize,
    pub warnings: Vec<String>,
}

/// Reads an Arazzo document and its `openapi` source descriptions (file URLs, relative to it).
pub(crate) fn read(file: &Path) -> Result<Documents, ArazzoError> {
    let shown = file.display().to_string();
    let arazzo = read_json(file)?;
    let located = fs_err::read_to_string(file).ok().and_then(|text| crate::yaml::parse(&text).ok()).map(|(node, _)| node);
    if !arazzo["arazzo"].as_str().is_some_and(|version| version.starts_with("1.")) {
        return Err(ArazzoError::Unreadable { file: shown, message: "not an Arazzo 1.x document (no `arazzo: 1.x` version)".into() });
    }
    let folder = file.parent().unwrap_or(Path::new("."));
    let mut sources = Vec::new();
    let mut warnings = Vec::new();
    for (index, source) in arazzo["sourceDescriptions"].as_array().into_iter().flatten().enumerate() {
        let name = source["name"].as_str().unwrap_or_default().to_owned();
        if source["type"].as_str().unwrap_or("openapi") != "openapi" {
            continue;
        }
        let url = source["url"].as_str().unwrap_or_default();
        if url.contains("://") {
            let place = format!("/sourceDescriptions/{index}");
            warnings.push(format!(
                "{}: at `{place}`: `{url}` is not a local file; its operations are unknown",
                at(&shown, located.as_ref(), &place)
            ));
            continue;
        }
        let document = read_json(&folder.join(url))?;
        sources.push((name, document));
    }
    Ok(Documents { file: shown, arazzo, located, sources, warnings })
}

/// `file:line:col` of the node at `pointer` (a JSON Pointer), or `file` when it is not found.
fn at(file: &str, located: Option<&crate::yaml::Node>, pointer: &str) -> String {
    let mut node = located;
    for token in crate::jsonpath::pointer_tokens(pointer) {
        node = node.and_then(|node| match &node.value {
            crate::yaml::Value::Map(entries) => entries.iter().find(|(key, _)| key.text == token).map(|(_, value)| value),
            crate::yaml::Value::Seq(items) => token.parse::<usize>().ok().and_then(|index| items.get(index)),
            _ => None,
        });
    }
    node.map_or_else(|| file.to_owned(), |node| format!("{file}:{}:{}", node.span.line, node.span.col))
}

fn read_json(file: &Path) -> Result<Json, ArazzoError> {
    let shown = file.display().to_string();
    let text = fs_err::read_to_string(file).map_err(|error| ArazzoError::Unreadable { file: shown.clone(), message: error.to_string() })?;
    crate::yaml::from_str(&text).map_err(|error| ArazzoError::Unreadable { file: shown, message: error.to_string() })
}

/// A runtime expression as a whole string (`$inputs.x`), or embedded (`{$inputs.x}`).
pub(super) static EMBEDDED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{(\$[^{}]+)\}").expect("a valid regex"));
static PATH_PARAMETER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{([^{}]+)\}").expect("a valid regex"));
static TEMPLATE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{\{.*?\}\}").expect("a valid regex"));
pub(super) static STATUS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\$statusCode\s*==\s*([1-5][0-9][0-9])$").expect("a valid regex"));

/// The recipe for one workflow (`workflow`, or the first).
pub(crate) fn recipe(documents: &Documents, workflow: Option<&str>, name: &str) -> Result<Imported, ArazzoError> {
    let file = at(&documents.file, documents.located.as_ref(), "/workflows");
    let workflows = documents.arazzo["workflows"].as_array().cloned().unwrap_or_default();
    let index = match workflow {
        Some(id) => workflows.iter().position(|w| w["workflowId"] == id).ok_or_else(|| {
            let known: Vec<&str> = workflows.iter().filter_map(|w| w["workflowId"].as_str()).collect();
            ArazzoError::Unsupported {
                file: file.clone(),
                place: "/workflows".into(),
                message: format!("no workflow `{id}` (there are: {})", known.join(", ")),
            }
        })?,
        None if workflows.is_empty() => {
            return Err(ArazzoError::Unsupported { file, place: "/workflows".into(), message: "the document has no workflow".into() });
        }
        None => 0,
    };
    let mut builder = Builder {
        documents,
        warnings: documents.warnings.clone(),
        vars: BTreeMap::new(),
        step_ids: BTreeMap::new(),
        env: Vec::new(),
        inputs: Vec::new(),
    };
    if workflows.len() > 1 && workflow.is_none() {
        let others: Vec<&str> = workflows.iter().skip(1).filter_map(|w| w["workflowId"].as_str()).collect();
        builder.warn(
            "/workflows",
            format!("only the first workflow is imported; the others ({}) can be with `--workflow ID`", others.join(", ")),
        );
    }
    builder.build(&workflows[index], &format!("/workflows/{index}"), name)
}

struct Builder<'a> {
    documents: &'a Documents,
    warnings: Vec<String>,
    /// `(step, output)` -> the recipe variable it is bound to.
    vars: BTreeMap<(String, String), String>,
    /// Arazzo step id -> recipe step id.
    step_ids: BTreeMap<String, String>,
    /// Environment variables: name, default, secret, description.
    env: Vec<(String, Option<String>, bool, Option<String>)>,
    inputs: Vec<Entry>,
}

/// What stands in for a value with no recipe form.
#[derive(Clone, Copy)]
enum Fallback<'a> {
    /// Nothing: the value is left out.
    Nothing,
    /// An input of about this name.
    Input(&'a str),
    /// A secret environment variable of about this name (for credentials, which inputs would
    /// record in fixtures).
    Secret(&'a str),
}

/// What an `x-security` entry sends.
enum Credential {
    /// A recipe `auth`.
    Auth(Node),
    /// An API key header: name and value.
    Header(String, String),
    /// An API key query parameter: name and value.
    Query(String, String),
}

/// A request: method, path (with templates), and the operation's security scheme names.
struct Located {
    method: String,
    path: String,
    source: Option<usize>,
    security: Vec<String>,
}

impl Builder<'_> {
    fn warn(&mut self, place: &str, message: impl std::fmt::Display) {
        self.warnings.push(format!("{}: at `{place}`: {message}", self.file_at(place)));
    }

    /// `file:line:col` of a place in the Arazzo document.
    fn file_at(&self, place: &str) -> String {
        at(&self.documents.file, self.documents.located.as_ref(), place)
    }

    fn build(mut self, workflow: &Json, place: &str, name: &str) -> Result<Imported, ArazzoError> {
        let mut env_map: BTreeMap<String, String> = workflow["x-recipe-env"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(input, var)| Some((input.clone(), var.as_str()?.to_owned())))
            .collect();
        self.inputs(workflow, place, &mut env_map);
        let base_url = self.base_url();
        let mut headers = Vec::new();
        for (index, parameter) in workflow["parameters"].as_array().into_iter().flatten().enumerate() {
            let here = format!("{place}/parameters/{index}");
            match (parameter["in"].as_str(), parameter["name"].as_str()) {
                (Some("header"), Some(header)) => {
                    if let Some(value) = self.value(&parameter["value"], &here, &env_map) {
                        headers.push(Entry::new(header, Node::Scalar(value)));
                    }
                }
                _ => self.warn(&here, "a workflow parameter other than a header has no recipe form; it is left out"),
            }
        }
        let mut steps = Vec::new();
        for (index, step) in workflow["steps"].as_array().into_iter().flatten().enumerate() {
            let here = format!("{place}/steps/{index}");
            let imported = self.step(step, &here, &env_map);
            steps.extend(imported);
        }
        if steps.is_empty() {
            let why: String = self.warnings.iter().fold(String::new(), |why, warning| why + "\n  " + warning);
            let message = format!("no step can be imported as a request:{why}");
            let place = format!("{place}/steps");
            return Err(ArazzoError::Unsupported { file: self.file_at(&place), place, message });
        }
        let mut outputs = Vec::new();
        for (output, expression) in workflow["outputs"].as_object().into_iter().flatten() {
            let here = format!("{place}/outputs/{}", crate::jsonpath::pointer_token(output));
            if let Some(value) = self.value(expression, &here, &env_map) {
                outputs.push(Entry::new(identifier(output), Node::Scalar(value)));
            }
        }
        let count = steps.len();
        let mut entries = vec![Entry::new("recipe", Node::Scalar(json!(1))), Entry::new("name", Node::text(name))];
        let description =
            workflow["description"].as_str().or(workflow["summary"].as_str()).or(self.documents.arazzo["info"]["title"].as_str());
        if let Some(description) = description {
            entries.push(Entry::new("description", Node::text(description.trim())));
        }
        if !self.inputs.is_empty() {
            entries.push(Entry::new("inputs", Node::Map(std::mem::take(&mut self.inputs))));
        }
        if !self.env.is_empty() {
            let vars = self.env.iter().map(|(var, default, secret, description)| {
                let mut fields = Vec::new();
                if let Some(default) = default {
                    fields.push(Entry::new("default", Node::text(default)));
                }
                if *secret {
                    fields.push(Entry::new("secret", Node::Scalar(json!(true))));
                }
                if let Some(description) = description {
                    fields.push(Entry::new("description", Node::text(description)));
                }
                Entry::new(var, Node::Map(fields))
            });
            entries.push(Entry::new("env", Node::Map(vars.collect())));
        }
        let mut http = vec![Entry::new("base_url", Node::text(base_url))];
        if !headers.is_empty() {
            http.push(Entry::new("headers", Node::Map(headers)));
        }
        entries.push(Entry::new("http", Node::Map(http)));
        entries.push(Entry::new("steps", Node::Seq { items: steps, spaced: true }));
        if !outputs.is_empty() {
            entries.push(Entry::new("outputs", Node::Map(outputs)));
        }
        let header = [format!("Imported by `recipe import arazzo` from {}.", self.documents.file)];
        Ok(Imported { yaml: crate::emit::document(&header, &entries), steps: count, warnings: self.warnings })
    }

    /// The `request` of a step: its operation's method and path, the path filled in by path
    /// parameters, query and header parameters, `auth`, and the body.
    fn request(&mut self, step: &Json, located: &Located, place: &str, env_map: &BTreeMap<String, String>) -> Vec<Entry> {
        let mut path = located.path.clone();
        let mut query = Vec::new();
        let mut headers = Vec::new();
        for (index, parameter) in step["parameters"].as_array().into_iter().flatten().enumerate() {
            let here = format!("{place}/parameters/{index}");
            let name = parameter["name"].as_str().unwrap_or_default();
            let value = if parameter.get("x-recipe-template").is_some() {
                let what = format!(
                    "recipe text `{}` an export kept (what it reads is not restored)",
                    parameter["value"].as_str().unwrap_or_default()
                );
                Some(self.stand_in(name, &here, &what))
            } else {
                self.value_or(&parameter["value"], &here, env_map, Fallback::Input(name))
            };
            let Some(value) = value else { continue };
            match parameter["in"].as_str() {
                Some("path") => {
                    let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                    path = path.replace(&format!("{{{name}}}"), &text);
                }
                Some("query") => query.push(Entry::new(name, Node::from_json(&value))),
                Some("header") => {
                    headers.push(Entry::new(name, Node::Scalar(json!(value.as_str().map_or_else(|| value.to_string(), str::to_owned)))));
                }
                other => self.warn(&here, format!("parameter `{name}` in `{}` has no recipe form; it is left out", other.unwrap_or("?"))),
            }
        }
        let untemplated = TEMPLATE.replace_all(&path, "").into_owned();
        for parameter in PATH_PARAMETER.captures_iter(&untemplated).map(|captures| captures[1].to_owned()).collect::<Vec<_>>() {
            let what = format!("the path parameter `{parameter}`, which no step parameter gives,");
            let value = self.stand_in(&parameter, place, &what);
            path = path.replace(&format!("{{{parameter}}}"), value.as_str().unwrap_or_default());
        }
        let mut auth = None;
        match self.auth(step, located, place, env_map) {
            Some(Credential::Auth(node)) => auth = Some(node),
            Some(Credential::Header(name, value)) => headers.push(Entry::new(name, Node::text(value))),
            Some(Credential::Query(name, value)) => query.push(Entry::new(name, Node::text(value))),
            None => {}
        }
        let mut request = vec![Entry::new("method", Node::text(located.method.to_ascii_uppercase())), Entry::new("url", Node::text(path))];
        if !query.is_empty() {
            request.push(Entry::new("query", Node::Map(query)));
        }
        if !headers.is_empty() {
            request.push(Entry::new("headers", Node::Map(headers)));
        }
        if let Some(auth) = auth {
            request.push(Entry::new("auth", auth));
        }
        if let Some(idempotent) = step["x-recipe-request"]["idempotent"].as_bool() {
            request.push(Entry::new("idempotent", Node::Scalar(json!(idempotent))));
        }
        if let Some(body) = step.get("requestBody")
            && let Some(entry) = self.body(body, &format!("{place}/requestBody"), env_map)
        {
            request.push(entry);
        }
        request
    }

    /// A request step, and the `filter` steps of its count checks after it; none when the step
    /// cannot be imported.
    fn step(&mut self, step: &Json, place: &str, env_map: &BTreeMap<String, String>) -> Vec<Node> {
        let arazzo_id = step["stepId"].as_str().unwrap_or("step").to_owned();
        let Some(located) = self.locate(step, place) else { return Vec::new() };
        let id = unique(&identifier(&arazzo_id), |candidate| self.step_ids.values().any(|taken| taken == candidate));
        self.step_ids.insert(arazzo_id.clone(), id.clone());
        let request = self.request(step, &located, place, env_map);
        let mut fields = vec![Entry::new("id", Node::text(&id))];
        if let Some(description) = step["description"].as_str() {
            fields.push(Entry::new("description", Node::text(description.trim())));
        }
        fields.push(Entry::new("request", Node::Map(request)));
        let criteria = self.criteria(step, &id, place);
        if let Some(statuses) = criteria.statuses {
            fields.push(Entry::new("expect", Node::Map(vec![Entry::new("status", Node::from_json(&json!(statuses)))])));
        }
        if !criteria.assertions.is_empty() {
            fields.push(Entry::new("assert", Node::list(criteria.assertions)));
        }
        let mut optional = step["x-recipe-optional"] == true;
        for key in ["onSuccess", "onFailure"] {
            for (index, action) in step[key].as_array().into_iter().flatten().enumerate() {
                if key == "onFailure" && action["name"] == "optional" && action["type"] == "goto" {
                    optional = true;
                } else {
                    self.warn(
                        &format!("{place}/{key}/{index}"),
                        format!("the `{}` action has no recipe form; it is left out", action["type"].as_str().unwrap_or("?")),
                    );
                }
            }
        }
        if optional {
            fields.push(Entry::new("optional", Node::Scalar(json!(true))));
        }
        let mut bind = Vec::new();
        for (output, expression) in step["outputs"].as_object().into_iter().flatten() {
            let here = format!("{place}/outputs/{}", crate::jsonpath::pointer_token(output));
            let Some(binding) = self.output(expression.as_str().unwrap_or_default(), &id, &here) else { continue };
            let var = unique(&identifier(output), |candidate| self.vars.values().any(|taken| taken == candidate));
            self.vars.insert((arazzo_id.clone(), output.clone()), var.clone());
            bind.push(Entry::new(var, Node::text(binding)));
        }
        if !bind.is_empty() {
            fields.push(Entry::new("bind", Node::Map(bind)));
        }
        let request_extras: Vec<&String> =
            step["x-recipe-request"].as_object().into_iter().flatten().map(|(key, _)| key).filter(|key| *key != "idempotent").collect();
        if !request_extras.is_empty() {
            self.warn(place, format!("`x-recipe-request` options {request_extras:?} are not restored"));
        }
        let restored = ["x-recipe-optional", "x-recipe-request"];
        for key in step
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, _)| key)
            .filter(|key| key.starts_with("x-recipe-") && !restored.contains(&key.as_str()))
        {
            self.warn(place, format!("`{key}` (recipe text an export kept) is not restored"));
        }
        let mut steps = vec![Node::Map(fields)];
        steps.extend(criteria.checks);
        steps
    }
}

/// A name templates can read: letters, digits and `_`, not starting with a digit.
fn identifier(name: &str) -> String {
    let mut out: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_identifiers() {
        assert_eq!(identifier("get-museum-hours"), "get_museum_hours");
        assert_eq!(identifier("2fa"), "_2fa");
    }
}
