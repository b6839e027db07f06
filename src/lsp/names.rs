//! Names in templates: the dotted path under or before the cursor (`steps.search.body.x`), and
//! the names a template may read at a line of the recipe, as the check resolves them (inputs,
//! env, vars bound by earlier steps, earlier steps; a step's own result in its `bind` and
//! `assert`).
//!
//! It reads the decoded model and the text; completion, hover and navigation use it.

use crate::diagnostic::Span;
use crate::model::{Action, Recipe, Step};

/// A dotted path in a template, and where it is in its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PathAt {
    /// The path's text, e.g. `steps.search.body.matchingCustomers[0]`.
    pub(super) text: String,
    /// Byte offset of its start in the line.
    pub(super) start: usize,
}

impl PathAt {
    /// The path's parts, without indexes: `steps.a.body.x[0].y` is `steps`, `a`, `body`, `x`, `y`.
    pub(super) fn parts(&self) -> Vec<Part<'_>> {
        let mut parts = Vec::new();
        for piece in self.text.split('.') {
            let (name, indexes) = piece.split_once('[').map_or((piece, ""), |(name, rest)| (name, rest));
            parts.push(Part::Name(name));
            for index in indexes.split('[') {
                if let Ok(index) = index.trim_end_matches(']').parse::<usize>() {
                    parts.push(Part::Index(index));
                }
            }
        }
        parts
    }
}

/// One part of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part<'a> {
    Name(&'a str),
    Index(usize),
}

fn path_char(character: char) -> bool {
    character.is_alphanumeric() || matches!(character, '_' | '.' | '[' | ']')
}

/// Whether byte `at` of `text` is inside a `{{ }}` or `{% %}` that is not closed before it.
pub(super) fn in_template(text: &str, at: usize) -> bool {
    // A template is not longer than this: no need to read the whole file before the cursor.
    const REACH: usize = 4096;
    let at = at.min(text.len());
    let mut from = at.saturating_sub(REACH);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let before = &text[from..at];
    let open = before.rfind("{{").into_iter().chain(before.rfind("{%")).max();
    let close = before.rfind("}}").into_iter().chain(before.rfind("%}")).max();
    match (open, close) {
        (Some(open), Some(close)) => open > close,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The path that ends at byte `at` of `line` (what is being typed).
pub(super) fn path_before(line: &str, at: usize) -> PathAt {
    let before = &line[..at.min(line.len())];
    let start = before.char_indices().rev().take_while(|(_, c)| path_char(*c)).last().map_or(before.len(), |(i, _)| i);
    PathAt { text: before[start..].to_owned(), start }
}

/// The whole path under byte `at` of `line`, up to the part the cursor is on
/// (`steps.se|arch.body` is `steps.search`).
pub(super) fn path_under(line: &str, at: usize) -> Option<PathAt> {
    let at = at.min(line.len());
    let start = line[..at].char_indices().rev().take_while(|(_, c)| path_char(*c)).last().map_or(at, |(i, _)| i);
    let end = line[at..].char_indices().find(|(_, c)| !path_char(*c) || *c == '.').map_or(line.len(), |(i, _)| at + i);
    (end > start).then(|| PathAt { text: line[start..end].trim_end_matches(['.', '[']).to_owned(), start })
}

/// What a template may read at one place.
pub(super) struct Scope<'a> {
    /// The steps that ran before (and the current one in its `bind` and `assert`).
    pub(super) steps: Vec<&'a Step>,
    /// Vars bound before, with the step that binds them and the name's place there.
    pub(super) vars: Vec<Var<'a>>,
}

/// A var and where it is bound.
#[derive(Clone, Copy)]
pub(super) struct Var<'a> {
    pub(super) name: &'a str,
    pub(super) step: &'a Step,
    pub(super) span: Span,
}

impl<'a> Scope<'a> {
    /// The names a template on 1-based `line` may read.
    pub(super) fn at(recipe: &'a Recipe, text: &str, line: usize) -> Self {
        let (earlier, current): (Vec<&Step>, Option<&Step>) = match section_of(text, line).as_deref() {
            Some("steps") => match current_index(recipe, text, line) {
                Some(index) => (recipe.steps[..index].iter().collect(), Some(&recipe.steps[index])),
                None => (Vec::new(), None),
            },
            Some("outputs") => (recipe.steps.iter().collect(), None),
            _ => (Vec::new(), None),
        };
        let mut scope = Scope { steps: earlier, vars: Vec::new() };
        for step in scope.steps.clone() {
            scope.vars.extend(bound(step));
        }
        if let Some(step) = current {
            // A set step's earlier values; the step's own result in its bind and assert.
            scope.vars.extend(bound(step).into_iter().filter(|var| matches!(step.action, Action::Set(_)) && var.span.line < line));
            let results =
                step.bind.iter().map(|(name, _)| name.span.line).chain(step.assert.iter().map(|assertion| assertion.span.line)).min();
            if results.is_some_and(|first| line >= first) {
                scope.steps.push(step);
                scope.vars.extend(bound(step).into_iter().filter(|var| var.span.line < line));
            }
        }
        scope
    }

    pub(super) fn step(&self, id: &str) -> Option<&'a Step> {
        self.steps.iter().rev().find(|step| step.id.text == id).copied()
    }

    pub(super) fn var(&self, name: &str) -> Option<Var<'a>> {
        self.vars.iter().rev().find(|var| var.name == name).copied()
    }
}

/// The step 1-based `line` is in, if it is in one.
pub(super) fn current_step<'a>(recipe: &'a Recipe, text: &str, line: usize) -> Option<&'a Step> {
    current_index(recipe, text, line).map(|index| &recipe.steps[index])
}

fn current_index(recipe: &Recipe, text: &str, line: usize) -> Option<usize> {
    if section_of(text, line).as_deref() != Some("steps") {
        return None;
    }
    recipe.steps.iter().rposition(|step| step.span.line <= line)
}

/// The parts of a `JSONPath` written before the path at `path` (`$.customer.` is `customer`
/// and the part being typed), when `path` follows a `$`.
pub(super) fn json_path<'a>(line: &str, path: &'a PathAt) -> Option<Vec<Part<'a>>> {
    if !line[..path.start].ends_with('$') {
        return None;
    }
    let mut parts = path.parts();
    if parts.first() == Some(&Part::Name("")) {
        parts.remove(0);
    }
    Some(parts)
}

/// The names a step binds: its `bind` entries and, for a `set` step, its values.
pub(super) fn bound(step: &Step) -> Vec<Var<'_>> {
    let set = match &step.action {
        Action::Set(values) => values.iter().map(|(name, _)| name).collect(),
        _ => Vec::new(),
    };
    set.into_iter().chain(step.bind.iter().map(|(name, _)| name)).map(|name| Var { name: &name.text, step, span: name.span }).collect()
}

/// The top-level key whose section holds 1-based `line`.
fn section_of(text: &str, line: usize) -> Option<String> {
    text.lines().take(line).filter_map(top_level_key).last().map(str::to_owned)
}

/// `key` of a line `key: ...` written at the left margin.
fn top_level_key(line: &str) -> Option<&str> {
    let (key, _) = line.split_once(':')?;
    (!key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || c == '_')).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_path_before_and_under_the_cursor() {
        let line = "  x: \"{{ steps.search.body.matchingCustomers[0].customer. }}\"";
        let at = line.find(" }}").unwrap();
        let path = path_before(line, at);
        assert_eq!(path.text, "steps.search.body.matchingCustomers[0].customer.");
        assert_eq!(
            path.parts(),
            [
                Part::Name("steps"),
                Part::Name("search"),
                Part::Name("body"),
                Part::Name("matchingCustomers"),
                Part::Index(0),
                Part::Name("customer"),
                Part::Name("")
            ]
        );
        let under = path_under(line, line.find("arch").unwrap()).unwrap();
        assert_eq!(under.text, "steps.search");
        assert!(in_template(line, at));
        assert!(!in_template(line, 3));
    }
}
