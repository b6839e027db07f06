//! Navigation: go to the definition of a step id (its `id:`), a var (the bind or `set` value
//! that sets it), an input, an env entry and a called recipe (its file); find the references of
//! a step id or a var; rename one across the recipe (its definition and every `steps.ID` or
//! `vars.NAME` in templates).

use std::collections::HashMap;
use std::path::PathBuf;

use lsp_types::{Location, Position, Range, TextEdit, Uri, WorkspaceEdit};

use super::documents::Document;
use super::names::{Part, Scope, bound, in_template, path_under};
use super::positions::{byte_in_line, line_text, range_in_line, range_of};
use crate::diagnostic::Span;
use crate::model::{Action, Recipe};

/// What the cursor is on.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Step(String),
    Var(String),
    Input(String),
    Env(String),
    Call(PathBuf),
}

fn target_at(document: &Document, recipe: &Recipe, at: Position) -> Option<Target> {
    let line = line_text(&document.text, at.line as usize);
    let byte = byte_in_line(&document.text, at);
    let number = at.line as usize + 1;
    let offset: usize = document.text.split_inclusive('\n').take(at.line as usize).map(str::len).sum::<usize>() + byte;
    if in_template(&document.text, offset) {
        let path = path_under(line, byte)?;
        return match path.parts().as_slice() {
            [Part::Name("steps"), Part::Name(id), ..] => Some(Target::Step((*id).to_owned())),
            [Part::Name("vars"), Part::Name(name), ..] => Some(Target::Var((*name).to_owned())),
            [Part::Name("inputs"), Part::Name(name), ..] => Some(Target::Input((*name).to_owned())),
            [Part::Name("env"), Part::Name(name), ..] => Some(Target::Env((*name).to_owned())),
            _ => None,
        };
    }
    let column = line[..byte].chars().count() + 1;
    let on = |span: Span| span.line == number && (span.col..=span.col + span.len).contains(&column);
    for step in &recipe.steps {
        if on(step.id.span) {
            return Some(Target::Step(step.id.text.clone()));
        }
        if let Some(var) = bound(step).into_iter().find(|var| on(var.span)) {
            return Some(Target::Var(var.name.to_owned()));
        }
        if let Action::Call(call) = &step.action
            && on(call.recipe_span)
        {
            let folder = document.path.as_ref()?.parent()?.to_path_buf();
            return Some(Target::Call(folder.join(&call.recipe)));
        }
    }
    None
}

/// Where the name under the cursor is defined.
pub(super) fn definition(document: &Document, at: Position) -> Option<Location> {
    let recipe = document.recipe.as_deref()?;
    let span = match target_at(document, recipe, at)? {
        Target::Step(id) => recipe.steps.iter().find(|step| step.id.text == id)?.id.span,
        Target::Var(name) => {
            let scope = Scope::at(recipe, &document.text, at.line as usize + 1);
            match scope.var(&name) {
                Some(var) => var.span,
                None => recipe.steps.iter().flat_map(bound).find(|var| var.name == name)?.span,
            }
        }
        Target::Input(name) => recipe.inputs.iter().find(|input| input.name.text == name)?.name.span,
        Target::Env(name) => recipe.env.iter().find(|var| var.name.text == name)?.name.span,
        Target::Call(path) => {
            let path = std::fs::canonicalize(&path).unwrap_or(path);
            let uri: Uri = url::Url::from_file_path(&path).ok()?.as_str().parse().ok()?;
            return Some(Location::new(uri, Range::default()));
        }
    };
    Some(Location::new(document.uri.clone(), range_of(&document.text, span)))
}

/// Every place the step id or var under the cursor is written: its definitions (with
/// `declaration`) and its uses in templates.
pub(super) fn references(document: &Document, at: Position, declaration: bool) -> Vec<Location> {
    places(document, at, declaration).into_iter().map(|range| Location::new(document.uri.clone(), range)).collect()
}

/// The edits that rename the step id or var under the cursor everywhere in the recipe.
/// A new name that is not one.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a name: a letter or `_`, then letters, digits and `_`")]
pub(super) struct NotAName(String);

pub(super) fn rename(document: &Document, at: Position, new_name: &str) -> Result<Option<WorkspaceEdit>, NotAName> {
    let valid = new_name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && new_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(NotAName(new_name.to_owned()));
    }
    let ranges = places(document, at, true);
    if ranges.is_empty() {
        return Ok(None);
    }
    let edits = ranges.into_iter().map(|range| TextEdit::new(range, new_name.to_owned())).collect();
    Ok(Some(WorkspaceEdit { changes: Some(HashMap::from([(document.uri.clone(), edits)])), ..WorkspaceEdit::default() }))
}

fn places(document: &Document, at: Position, declaration: bool) -> Vec<Range> {
    let Some(recipe) = document.recipe.as_deref() else { return Vec::new() };
    let (root, name, definitions): (&str, String, Vec<Span>) = match target_at(document, recipe, at) {
        Some(Target::Step(id)) => {
            let spans = recipe.steps.iter().filter(|step| step.id.text == id).map(|step| step.id.span).collect();
            ("steps", id, spans)
        }
        Some(Target::Var(name)) => {
            let spans = recipe.steps.iter().flat_map(bound).filter(|var| var.name == name).map(|var| var.span).collect();
            ("vars", name, spans)
        }
        _ => return Vec::new(),
    };
    let mut ranges: Vec<Range> =
        if declaration { definitions.into_iter().map(|span| range_of(&document.text, span)).collect() } else { Vec::new() };
    ranges.extend(uses(&document.text, root, &name));
    ranges
}

/// Every `ROOT.NAME` written in the text (not part of a longer name), as the range of `NAME`.
fn uses(text: &str, root: &str, name: &str) -> Vec<Range> {
    let needle = format!("{root}.{name}");
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = Vec::new();
    for (number, line) in text.split('\n').enumerate() {
        for (start, _) in line.match_indices(&needle) {
            let before = line[..start].chars().next_back();
            let after = line[start + needle.len()..].chars().next();
            if before.is_some_and(|c| word(c) || c == '.') || after.is_some_and(word) {
                continue;
            }
            found.push(range_in_line(text, number, start + root.len() + 1, name.len()));
        }
    }
    found
}
