//! Hover: for a key, what the schema says it is for; for a name in a template, where it is
//! bound and what it is (an input's type and default, an env var's default, the step that binds
//! a var); for a path into a step's response body, the value it had in the first recorded case,
//! masked.

use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind, Position};

use super::documents::Document;
use super::fixtures::Fixtures;
use super::keys::{Segment, description_at, path_at};
use super::names::{Part, Scope, current_step, in_template, path_under};
use super::positions::{byte_in_line, line_text, range_in_line};
use crate::model::Action;

/// What to show at `at`, if anything.
pub(super) fn hover(document: &Document, fixtures: &mut Fixtures, at: Position) -> Option<Hover> {
    let line = line_text(&document.text, at.line as usize);
    let byte = byte_in_line(&document.text, at);
    let offset: usize = document.text.split_inclusive('\n').take(at.line as usize).map(str::len).sum::<usize>() + byte;
    let (text, range) = if in_template(&document.text, offset) {
        let path = path_under(line, byte)?;
        let text = name(document, fixtures, &path.parts(), at.line as usize + 1)?;
        (text, range_in_line(&document.text, at.line as usize, path.start, path.text.len()))
    } else if let Some(found) = json_path(document, fixtures, line, byte, at.line as usize) {
        found
    } else {
        key(document, line, byte, at.line as usize)?
    };
    Some(Hover { contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: text }), range: Some(range) })
}

/// A `JSONPath` in a request step's `bind`: the value it selects in the first recorded body.
fn json_path(document: &Document, fixtures: &mut Fixtures, line: &str, byte: usize, number: usize) -> Option<(String, lsp_types::Range)> {
    let path = path_under(line, byte)?;
    let parts = super::names::json_path(line, &path)?;
    let recipe = document.recipe.as_deref()?;
    let step = current_step(recipe, &document.text, number + 1).filter(|step| matches!(step.action, Action::Request(_)))?;
    let body = fixtures.body(document.path.as_deref()?, &step.id.text)?;
    let value = super::fixtures::walk(&body, &parts)?;
    let text = format!("`${}` in the first recorded case:\n```json\n{}\n```", path.text, super::fixtures::shown(recipe, value));
    Some((text, range_in_line(&document.text, number, path.start - 1, path.text.len() + 1)))
}

/// A key's description, when the cursor is on a key.
fn key(document: &Document, line: &str, byte: usize, number: usize) -> Option<(String, lsp_types::Range)> {
    let column = line.len() - line.trim_start_matches([' ', '-']).len();
    let (name, _) = line[column..].split_once(':')?;
    if byte < column || byte > column + name.len() {
        return None;
    }
    let lines: Vec<&str> = document.text.split('\n').collect();
    let mut path = path_at(&lines, number, column);
    path.push(Segment::Key(name.to_owned()));
    let description = description_at(&path)?;
    Some((format!("`{name}`: {description}"), range_in_line(&document.text, number, column, name.len())))
}

/// What a name in a template is.
fn name(document: &Document, fixtures: &mut Fixtures, parts: &[Part<'_>], line: usize) -> Option<String> {
    let recipe = document.recipe.as_deref()?;
    let scope = Scope::at(recipe, &document.text, line);
    match parts {
        [Part::Name("inputs"), Part::Name(name), ..] => {
            let input = recipe.inputs.iter().find(|input| input.name.text == *name)?;
            let mut text = format!("input `{name}`: {} (line {})", format!("{:?}", input.kind).to_lowercase(), input.name.span.line);
            if let Some(default) = &input.default {
                text.push_str(&format!(", default `{default}`"));
            } else if input.is_required() {
                text.push_str(", required");
            }
            if let Some(description) = &input.description {
                text.push_str(&format!("\n\n{description}"));
            }
            Some(text)
        }
        [Part::Name("env"), Part::Name(name), ..] => {
            let var = recipe.env.iter().find(|var| var.name.text == *name)?;
            let mut text = format!("environment variable `{name}` (line {})", var.name.span.line);
            if var.secret {
                text.push_str(", secret: masked in every output");
            }
            if let Some(default) = &var.default {
                text.push_str(&format!(", default `{default}`"));
            }
            if let Some(description) = &var.description {
                text.push_str(&format!("\n\n{description}"));
            }
            Some(text)
        }
        [Part::Name("vars"), Part::Name(name), ..] => {
            let var = scope.var(name)?;
            Some(format!(
                "`vars.{name}`: bound by step `{}` ({} step, line {})",
                var.step.id.text,
                var.step.action.keyword(),
                var.span.line
            ))
        }
        [Part::Name("steps"), Part::Name(id), Part::Name("body"), rest @ ..] => {
            let step = scope.step(id)?;
            let body = fixtures.body(document.path.as_deref()?, &step.id.text)?;
            let value = super::fixtures::walk(&body, rest)?;
            let path: Vec<String> = parts
                .iter()
                .map(|part| match part {
                    Part::Name(name) => format!(".{name}"),
                    Part::Index(index) => format!("[{index}]"),
                })
                .collect();
            let path = path.concat();
            Some(format!(
                "`{}` in the first recorded case:\n```json\n{}\n```",
                path.trim_start_matches('.'),
                super::fixtures::shown(recipe, value)
            ))
        }
        [Part::Name("steps"), Part::Name(id), ..] => {
            let step = scope.step(id)?;
            let mut text = format!("step `{id}`: a {} step (line {})", step.action.keyword(), step.id.span.line);
            if let Some(description) = &step.description {
                text.push_str(&format!("\n\n{description}"));
            }
            Some(text)
        }
        _ => None,
    }
}
