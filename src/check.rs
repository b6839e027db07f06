//! Checking: proves a decoded recipe sound before anything runs, and yields the [`Plan`].
//!
//! Here every template is compiled (syntax errors point at the character inside the YAML
//! string), and every name a template reads is resolved: `inputs.X` and `env.X` must be
//! declared, `vars.X` bound by an earlier step, `steps.X` an earlier step (and the field one its
//! kind produces), `item` used only where there is an item. Step ids must be unique. [`load`]
//! is the whole front end: read, parse, decode, check.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path as FsPath;

use crate::diagnostic::{Diagnostic, Diagnostics, Report, Source, Span, did_you_mean};
use crate::model::{Action, Binding, Recipe, Step, Template, TemplateString};
use crate::template::{Engine, TemplateError};
use crate::yaml::Style;

/// A recipe that passed every static check. Only a plan can be run.
pub struct Plan {
    recipe: Recipe,
    pub source: Source,
    pub engine: Engine,
}

impl Plan {
    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }
}

/// Reads and checks a recipe file.
pub fn load(path: &FsPath) -> Result<Plan, LoadError> {
    let text = fs_err::read_to_string(path).map_err(|error| LoadError::Io(error.to_string()))?;
    load_str(&path.display().to_string(), &text).map_err(LoadError::Invalid)
}

/// Checks a recipe given as text; `name` is how diagnostics refer to it.
pub fn load_str(name: &str, text: &str) -> Result<Plan, Box<Report>> {
    let source = Source::new(name, text);
    let fail = |diagnostics| Box::new(Report { source: source.clone(), diagnostics });
    let (root, mut diagnostics) = crate::yaml::parse(text).map_err(fail)?;
    let (recipe, problems) = crate::decode::decode_partial(&root);
    diagnostics.extend(problems);
    let engine = Engine::new();
    let Some(recipe) = recipe else { return Err(fail(diagnostics)) };
    diagnostics.extend(check(&recipe, &engine));
    if !diagnostics.is_empty() {
        return Err(fail(diagnostics));
    }
    Ok(Plan { recipe, source, engine })
}

#[derive(Debug)]
pub enum LoadError {
    Io(String),
    Invalid(Box<Report>),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(message) => write!(f, "error: {message}"),
            LoadError::Invalid(report) => write!(f, "{report}"),
        }
    }
}

/// The fields of `steps.ID` each kind of step produces.
const COMMON_FIELDS: &[&str] = &["ok", "skipped", "outcome", "error"];
fn result_fields(action: &Action) -> &'static [&'static str] {
    match action {
        Action::Request(_) => &["status", "headers", "body", "warnings"],
        Action::Filter(_) => &["item", "items", "count"],
        Action::Pick(_) => &["item", "items", "count"],
        Action::Set(_) => &["values"],
    }
}

const ROOTS: &[&str] = &["inputs", "env", "vars", "steps", "item"];

/// What names a template may read at one place in the recipe.
struct Scope<'a> {
    inputs: BTreeSet<&'a str>,
    env: BTreeSet<&'a str>,
    vars: BTreeSet<&'a str>,
    /// Steps visible here, with their actions.
    steps: BTreeMap<&'a str, &'a Action>,
    item: bool,
    /// Inside `retry.until`: the attempt's `response`.
    response: bool,
}

struct Checker<'a> {
    engine: &'a Engine,
    problems: Diagnostics,
}

fn check(recipe: &Recipe, engine: &Engine) -> Vec<Diagnostic> {
    let mut checker = Checker { engine, problems: Diagnostics::default() };
    let mut scope = Scope {
        inputs: recipe.inputs.iter().map(|input| input.name.text.as_str()).collect(),
        env: recipe.env.iter().map(|var| var.name.text.as_str()).collect(),
        vars: BTreeSet::new(),
        steps: BTreeMap::new(),
        item: false,
        response: false,
    };
    for input in &recipe.inputs {
        if let Some(default) = &input.default
            && let Err(message) = crate::inputs::validate(input, default)
        {
            checker
                .problems
                .push(Diagnostic::at(format!("the default of input `{}` is invalid: {message}", input.name.text), input.name.span));
        }
    }
    if let Some(base_url) = &recipe.http.base_url {
        checker.template_string(base_url, &scope);
    }
    for (_, header) in &recipe.http.headers {
        checker.template_string(header, &scope);
    }
    if let Some(until) = recipe.http.retry.as_ref().and_then(|retry| retry.until.as_ref()) {
        checker.with_response(&mut scope, |checker, scope| checker.template_string(until, scope));
    }
    let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
    for step in &recipe.steps {
        if let Some(first) = seen.get(step.id.text.as_str()) {
            checker.problems.push(
                Diagnostic::at(format!("duplicate step id `{}`", step.id.text), step.id.span)
                    .with_hint(format!("`{}` is first used at line {}, column {}", step.id.text, first.line, first.col)),
            );
        }
        seen.insert(&step.id.text, step.id.span);
        checker.step(step, &mut scope);
    }
    for (_, output) in &recipe.outputs {
        checker.template(output, &scope);
    }
    checker.problems.into_vec()
}

impl<'a> Checker<'a> {
    fn step(&mut self, step: &'a Step, scope: &mut Scope<'a>) {
        if let Some(when) = &step.when {
            self.template_string(when, scope);
        }
        match &step.action {
            Action::Request(request) => {
                self.template_string(&request.url, scope);
                for (_, value) in &request.query {
                    self.template(value, scope);
                }
                for (_, value) in &request.headers {
                    self.template_string(value, scope);
                }
                if let Some(json) = &request.json {
                    self.template(json, scope);
                }
                for (_, value) in request.form.iter().flatten() {
                    self.template(value, scope);
                }
                if let Some(body) = &request.body {
                    self.template_string(body, scope);
                }
                if let Some(until) = request.retry.as_ref().and_then(|retry| retry.until.as_ref()) {
                    self.with_response(scope, |checker, scope| checker.template_string(until, scope));
                }
            }
            Action::Filter(filter) => {
                self.selection(&filter.selection, scope);
                if let Some(describe) = &filter.describe {
                    self.with_item(scope, |checker, scope| checker.template_string(describe, scope));
                }
            }
            Action::Pick(pick) => {
                self.selection(&pick.selection, scope);
                if let Some(prefer) = &pick.prefer {
                    self.template(prefer, scope);
                }
                if let Some(by) = &pick.by {
                    self.with_item(scope, |checker, scope| checker.template_string(by, scope));
                }
                if let Some(describe) = &pick.describe {
                    self.with_item(scope, |checker, scope| checker.template_string(describe, scope));
                }
            }
            Action::Set(values) => {
                for (name, value) in values {
                    self.template(value, scope);
                    // Later values of the same step may use earlier ones.
                    scope.vars.insert(&name.text);
                }
            }
        }
        // Bindings may read the step's own result.
        scope.steps.insert(&step.id.text, &step.action);
        for (name, binding) in &step.bind {
            if let Binding::Template(template) = binding {
                self.template(template, scope);
            }
            scope.vars.insert(&name.text);
        }
    }

    fn selection(&mut self, selection: &'a crate::model::Selection, scope: &mut Scope<'a>) {
        self.template(&selection.from, scope);
        for condition in &selection.matches {
            if let Some(equals) = &condition.matcher.equals {
                self.template(equals, scope);
            }
        }
        if let Some(where_) = &selection.where_ {
            self.with_item(scope, |checker, scope| checker.template_string(where_, scope));
        }
    }

    fn with_item(&mut self, scope: &mut Scope<'a>, check: impl FnOnce(&mut Self, &Scope<'a>)) {
        scope.item = true;
        check(self, scope);
        scope.item = false;
    }

    fn with_response(&mut self, scope: &mut Scope<'a>, check: impl FnOnce(&mut Self, &Scope<'a>)) {
        scope.response = true;
        check(self, scope);
        scope.response = false;
    }

    fn template(&mut self, template: &Template, scope: &Scope) {
        match template {
            Template::String(text) => self.template_string(text, scope),
            Template::Seq(items) => items.iter().for_each(|item| self.template(item, scope)),
            Template::Map(entries) => entries.iter().for_each(|(_, value)| self.template(value, scope)),
            Template::Null | Template::Bool(_) | Template::Number(_) => {}
        }
    }

    fn template_string(&mut self, template: &TemplateString, scope: &Scope) {
        let variables = match self.engine.variables(template) {
            Ok(variables) => variables,
            Err(error) => {
                self.problems.push(Diagnostic::at(format!("invalid template: {}", error.message), error_span(template, &error)));
                return;
            }
        };
        for variable in variables {
            if let Some(problem) = self.resolve(&variable, scope) {
                let span = locate(template, &variable);
                let mut diagnostic = Diagnostic::at(problem.0, span);
                if let Some(hint) = problem.1 {
                    diagnostic = diagnostic.with_hint(hint);
                }
                self.problems.push(diagnostic);
            }
        }
    }

    /// Why `variable` (a dotted path) cannot be read here, with a hint.
    fn resolve(&self, variable: &str, scope: &Scope) -> Option<(String, Option<String>)> {
        let mut parts = variable.split('.');
        let root = parts.next().unwrap_or_default();
        let name = parts.next();
        let suggest = |word: &str, names: &mut dyn Iterator<Item = &str>| did_you_mean(word, names).map(|s| format!("did you mean `{s}`?"));
        match root {
            "inputs" | "env" | "vars" => {
                let name = name?;
                let known = match root {
                    "inputs" => &scope.inputs,
                    "env" => &scope.env,
                    _ => &scope.vars,
                };
                if known.contains(name) {
                    return None;
                }
                let what = match root {
                    "inputs" => format!("no input named `{name}` is declared"),
                    "env" => format!("no environment variable named `{name}` is declared in `env`"),
                    _ => format!("`vars.{name}` is not bound by an earlier step"),
                };
                Some((what, suggest(name, &mut known.iter().copied())))
            }
            "steps" => {
                let name = name?;
                let Some(action) = scope.steps.get(name) else {
                    return Some((
                        format!("`steps.{name}` is not an earlier step"),
                        suggest(name, &mut scope.steps.keys().copied())
                            .or_else(|| Some("a step can only read steps that run before it".into())),
                    ));
                };
                let field = parts.next()?;
                let fields = result_fields(action);
                if COMMON_FIELDS.contains(&field) || fields.contains(&field) {
                    return None;
                }
                let all: Vec<&str> = COMMON_FIELDS.iter().chain(fields).copied().collect();
                Some((
                    format!("a {} step has no result field `{field}`", action.keyword()),
                    Some(suggest(field, &mut all.iter().copied()).unwrap_or_else(|| format!("its fields are {}", all.join(", ")))),
                ))
            }
            "item" if scope.item => None,
            "item" => Some(("`item` is only defined in `where`, `describe` and `by`".into(), None)),
            "response" if scope.response => None,
            "response" => Some(("`response` is only defined in `retry.until`".into(), None)),
            other if self.engine.is_global(other) => None,
            other => Some((
                format!("unknown variable `{other}`"),
                Some(
                    suggest(other, &mut ROOTS.iter().copied())
                        .unwrap_or_else(|| "templates read `inputs`, `env`, `vars`, `steps` and `item`".into()),
                ),
            )),
        }
    }
}

/// Where in the file a template error is: the character inside the string when it can be
/// mapped one to one (a plain or quoted scalar on one line), else the string itself.
fn error_span(template: &TemplateString, error: &TemplateError) -> Span {
    match (&error.range, template.style) {
        (Some(range), Style::Plain | Style::Quoted) if !template.text.contains('\n') => {
            let quote = usize::from(template.style == Style::Quoted);
            let start = template.text[..range.start.min(template.text.len())].chars().count();
            let len = template.text.get(range.clone()).map_or(1, |t| t.chars().count().max(1));
            template.span.shifted(quote + start, len)
        }
        _ => template.span,
    }
}

/// The place of a variable's name inside a template string, when it can be found.
fn locate(template: &TemplateString, variable: &str) -> Span {
    let head = variable.split('.').take(2).collect::<Vec<_>>().join(".");
    match template.text.find(&head) {
        Some(offset) if template.style != Style::Block && !template.text.contains('\n') => {
            let quote = usize::from(template.style == Style::Quoted);
            template.span.shifted(quote + template.text[..offset].chars().count(), head.chars().count())
        }
        _ => template.span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(steps: &str) -> Vec<String> {
        let text = format!("recipe: 1\nname: t\ninputs:\n  vin: string\nenv:\n  TOKEN: {{secret: true}}\nsteps:\n{steps}");
        match load_str("t.yaml", &text) {
            Ok(_) => Vec::new(),
            Err(report) => {
                report.diagnostics.iter().map(|d| format!("{}:{} {}", d.span.unwrap().line, d.span.unwrap().col, d.message)).collect()
            }
        }
    }

    #[test]
    fn accepts_names_that_are_defined_earlier() {
        let steps = "  - id: a\n    set: {x: '{{ inputs.vin }}', y: '{{ vars.x }}'}\n  - id: b\n    set: {z: '{{ steps.a.values.x ~ env.TOKEN }}'}\n";
        assert_eq!(problems(steps), Vec::<String>::new());
    }

    #[test]
    fn rejects_undefined_and_later_names() {
        let steps = "  - id: a\n    set: {x: '{{ inputs.vim }}', y: '{{ steps.b.values }}', z: '{{ vars.later }}'}\n  - id: b\n    set: {later: 1}\n";
        assert_eq!(
            problems(steps),
            vec![
                "9:18 no input named `vim` is declared",
                "9:41 `steps.b` is not an earlier step",
                "9:68 `vars.later` is not bound by an earlier step",
            ]
        );
    }

    #[test]
    fn points_into_template_syntax_errors() {
        let steps = "  - id: a\n    set: {x: '{{ inputs.vin | }}'}\n";
        let found = problems(steps);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("9:") && found[0].contains("invalid template"), "{found:?}");
    }

    #[test]
    fn checks_result_fields_and_item() {
        let steps =
            "  - id: a\n    set: {x: 1}\n  - id: b\n    set: {y: '{{ steps.a.body }}', z: '{{ item }}'}\n  - id: a\n    set: {w: 2}\n";
        assert_eq!(
            problems(steps),
            vec![
                "11:18 a set step has no result field `body`",
                "11:43 `item` is only defined in `where`, `describe` and `by`",
                "12:9 duplicate step id `a`"
            ]
        );
    }
}
