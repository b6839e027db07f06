//! Completion: inside `{{ }}` and `{% %}`, the names a template may read at that place (roots,
//! `inputs.`, `env.`, `vars.` and `steps.` known there, a step's result fields, the keys of its
//! recorded response), filters after `|` and tests after `is`; elsewhere the keys the schema
//! allows at that level, with their descriptions.

use lsp_types::{CompletionItem, CompletionItemKind, Documentation, MarkupContent, MarkupKind, Position};

use super::documents::Document;
use super::fixtures::Fixtures;
use super::keys::{keys_at, path_at};
use super::names::{Part, Scope, current_step, in_template, json_path, path_before};
use super::positions::{byte_in_line, line_text};
use crate::model::Action;

/// What the template roots are, for the first word of a path.
const ROOTS: &[(&str, &str)] = &[
    ("inputs", "the recipe's inputs"),
    ("env", "the environment variables declared under `env`"),
    ("vars", "values bound by earlier steps"),
    ("steps", "the results of earlier steps"),
    ("item", "the item, in `where`, `describe` and `by`"),
    ("each", "the element, in a step with `for_each`"),
    ("index", "the element's index, in a step with `for_each`"),
    ("response", "the attempt's response, in `retry.until` and `paginate.next`"),
];

/// The completions at `at`.
pub(super) fn complete(document: &Document, fixtures: &mut Fixtures, at: Position) -> Vec<CompletionItem> {
    let line = line_text(&document.text, at.line as usize);
    let byte = byte_in_line(&document.text, at);
    let offset = line_start(&document.text, at.line as usize) + byte;
    if in_template(&document.text, offset) {
        return in_expression(document, fixtures, line, byte, at.line as usize + 1);
    }
    let path = path_before(line, byte);
    if let Some(parts) = json_path(line, &path) {
        return in_json_path(document, fixtures, &parts, at.line as usize + 1);
    }
    let before = &line[..byte];
    let typed = before.trim_start_matches([' ', '-']);
    if typed.chars().all(|c| c.is_alphanumeric() || c == '_') {
        let lines: Vec<&str> = document.text.split('\n').collect();
        let column = before.len() - typed.len();
        let path = path_at(&lines, at.line as usize, column);
        return keys_at(&path).into_iter().map(|key| item(&key.name, CompletionItemKind::PROPERTY, None, key.description)).collect();
    }
    Vec::new()
}

fn line_start(text: &str, line: usize) -> usize {
    text.split_inclusive('\n').take(line).map(str::len).sum()
}

fn in_expression(document: &Document, fixtures: &mut Fixtures, line: &str, byte: usize, line_number: usize) -> Vec<CompletionItem> {
    let path = path_before(line, byte);
    let before = line[..path.start].trim_end();
    if before.ends_with('|') {
        return names("filter", CompletionItemKind::FUNCTION);
    }
    if before.ends_with(" is") || before.ends_with(" is not") {
        return names("test", CompletionItemKind::FUNCTION);
    }
    let Some(recipe) = document.recipe.as_deref() else { return Vec::new() };
    let scope = Scope::at(recipe, &document.text, line_number);
    let parts = path.parts();
    let Some((_, parents)) = parts.split_last() else { return Vec::new() };
    match parents {
        [] => ROOTS.iter().map(|(name, what)| item(name, CompletionItemKind::MODULE, Some((*what).to_owned()), None)).collect(),
        [Part::Name("inputs")] => recipe
            .inputs
            .iter()
            .map(|input| {
                item(
                    &input.name.text,
                    CompletionItemKind::VARIABLE,
                    Some(format!("input: {:?}", input.kind).to_lowercase()),
                    input.description.clone(),
                )
            })
            .collect(),
        [Part::Name("env")] => recipe
            .env
            .iter()
            .map(|var| {
                item(
                    &var.name.text,
                    CompletionItemKind::CONSTANT,
                    Some(if var.secret { "secret env" } else { "env" }.to_owned()),
                    var.description.clone(),
                )
            })
            .collect(),
        [Part::Name("vars")] => scope
            .vars
            .iter()
            .map(|var| item(var.name, CompletionItemKind::VARIABLE, Some(format!("bound by step `{}`", var.step.id.text)), None))
            .collect(),
        [Part::Name("steps")] => scope
            .steps
            .iter()
            .map(|step| {
                item(&step.id.text, CompletionItemKind::STRUCT, Some(format!("{} step", step.action.keyword())), step.description.clone())
            })
            .collect(),
        [Part::Name("steps"), Part::Name(id)] => {
            let Some(step) = scope.step(id) else { return Vec::new() };
            let mut fields: Vec<&str> = crate::check::COMMON_FIELDS.to_vec();
            fields.extend(crate::check::result_fields(&step.action));
            fields.into_iter().map(|field| item(field, CompletionItemKind::FIELD, None, None)).collect()
        }
        [Part::Name("steps"), Part::Name(id), Part::Name("values")] => match scope.step(id).map(|step| &step.action) {
            Some(Action::Set(values)) => values.iter().map(|(name, _)| item(&name.text, CompletionItemKind::FIELD, None, None)).collect(),
            _ => Vec::new(),
        },
        [Part::Name("steps"), Part::Name(id), Part::Name("body"), rest @ ..] if scope.step(id).is_some() => {
            recorded_keys(document, fixtures, id, rest)
        }
        _ => Vec::new(),
    }
}

/// A `JSONPath` in a request step's `bind`: relative to its response body, so the keys of its
/// recorded body.
fn in_json_path(document: &Document, fixtures: &mut Fixtures, parts: &[Part<'_>], line: usize) -> Vec<CompletionItem> {
    let Some(recipe) = document.recipe.as_deref() else { return Vec::new() };
    let Some(step) = current_step(recipe, &document.text, line).filter(|step| matches!(step.action, Action::Request(_))) else {
        return Vec::new();
    };
    let Some((_, parents)) = parts.split_last() else { return Vec::new() };
    recorded_keys(document, fixtures, &step.id.text, parents)
}

/// The keys at `parents` in step `id`'s first recorded response body, with their values.
fn recorded_keys(document: &Document, fixtures: &mut Fixtures, id: &str, parents: &[Part<'_>]) -> Vec<CompletionItem> {
    let (Some(recipe), Some(file)) = (document.recipe.as_deref(), document.path.as_deref()) else { return Vec::new() };
    let Some(body) = fixtures.body(file, id) else { return Vec::new() };
    let Some(value) = super::fixtures::walk(&body, parents) else { return Vec::new() };
    super::fixtures::keys(value)
        .into_iter()
        .map(|(key, value)| {
            // A scalar is shown as recorded; a map or list by its size (hover shows it whole).
            let documentation = match value {
                serde_json::Value::Object(map) => format!("recorded: a map of {} keys", map.len()),
                serde_json::Value::Array(items) => format!("recorded: a list of {} items", items.len()),
                scalar => format!("recorded:\n```json\n{}\n```", super::fixtures::shown(recipe, scalar)),
            };
            item(&key, CompletionItemKind::FIELD, Some(kind_of(value).to_owned()), Some(documentation))
        })
        .collect()
}

fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "list",
        serde_json::Value::Object(_) => "map",
    }
}

fn names(kind: &str, item_kind: CompletionItemKind) -> Vec<CompletionItem> {
    crate::template::known_names(kind).iter().map(|name| item(name, item_kind, Some(kind.to_owned()), None)).collect()
}

fn item(label: &str, kind: CompletionItemKind, detail: Option<String>, documentation: Option<String>) -> CompletionItem {
    CompletionItem {
        label: label.to_owned(),
        kind: Some(kind),
        detail,
        documentation: documentation.map(|value| Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value })),
        ..CompletionItem::default()
    }
}
