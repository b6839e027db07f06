//! Checking: proves a decoded recipe sound before anything runs, and yields the [`Plan`].
//!
//! Here every template is compiled (syntax errors point at the character inside the YAML
//! string), and every name a template reads is resolved: `inputs.X` and `env.X` must be
//! declared, `vars.X` bound by an earlier step, `steps.X` an earlier step (and the field one its
//! kind produces), `item` used only where there is an item. Step ids must be unique. [`load`]
//! is the whole front end: read, parse, decode, check.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path as FsPath;

use crate::decode::BrokenStep;
use crate::diagnostic::{Diagnostic, Diagnostics, Report, Source, Span, did_you_mean};
use crate::model::{Action, Binding, Recipe, Step, Template, TemplateString};
use crate::template::Engine;
use crate::yaml::Style;

/// A recipe that passed every static check. Only a plan can be run.
pub struct Plan {
    recipe: Recipe,
    pub source: Source,
    pub engine: Engine,
    /// The checked plans of the recipes its `call` steps run, by step id.
    pub calls: BTreeMap<String, std::sync::Arc<Plan>>,
    /// What `recipe check` warns about in this file; the recipe runs all the same.
    pub warnings: Vec<Diagnostic>,
    /// What the recipe reads of each request step's response body.
    pub reads: crate::reads::Reads,
}

impl Plan {
    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }
}

/// Reads and checks a recipe file, and every recipe it calls.
pub fn load(path: &FsPath) -> Result<Plan, LoadError> {
    let text = fs_err::read_to_string(path).map_err(|error| LoadError::Io(error.to_string()))?;
    load_str(&path.display().to_string(), &text).map_err(LoadError::Invalid)
}

/// Checks a recipe given as text; `name` is how diagnostics refer to it, and the folder that
/// the paths of its `call` steps are relative to.
pub fn load_str(name: &str, text: &str) -> Result<Plan, Box<Report>> {
    load_called(name, text, &mut Vec::new())
}

/// Checks a recipe and, depth first, the recipes it calls; `stack` holds the files being
/// checked, to reject cycles. A problem in a called recipe is reported in that recipe's file.
fn load_called(name: &str, text: &str, stack: &mut Vec<std::path::PathBuf>) -> Result<Plan, Box<Report>> {
    let source = Source::new(name, text);
    let fail = |diagnostics| Box::new(Report { source: source.clone(), diagnostics });
    let (root, mut diagnostics) = crate::yaml::parse(text).map_err(fail)?;
    let (recipe, problems, broken) = crate::decode::decode_with_broken(&root);
    diagnostics.extend(problems);
    let Some(recipe) = recipe else { return Err(fail(diagnostics)) };
    // The called recipes first: the check then knows what each call step outputs.
    let folder = FsPath::new(name).parent().map(FsPath::to_path_buf).unwrap_or_default();
    let here = std::fs::canonicalize(name).unwrap_or_else(|_| std::path::PathBuf::from(name));
    stack.push(here);
    let mut calls = BTreeMap::new();
    let mut problems = Vec::new();
    for step in &recipe.steps {
        let Action::Call(call) = &step.action else { continue };
        let path = folder.join(&call.recipe);
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if let Some(start) = stack.iter().position(|file| *file == canonical) {
            let cycle: Vec<String> = stack[start..].iter().chain([&canonical]).map(|file| file.display().to_string()).collect();
            problems.push(Diagnostic::at(format!("`{}` calls itself: {}", call.recipe, cycle.join(" -> ")), call.recipe_span));
            continue;
        }
        let callee_text = match fs_err::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                problems.push(Diagnostic::at(format!("cannot read the called recipe: {error}"), call.recipe_span));
                continue;
            }
        };
        let callee = load_called(&path.display().to_string(), &callee_text, stack)?;
        problems.extend(call_fits(&recipe, call, &callee.recipe));
        calls.insert(step.id.text.clone(), std::sync::Arc::new(callee));
    }
    stack.pop();
    let outputs: BTreeMap<&str, Vec<&str>> = calls
        .iter()
        .map(|(id, callee): (&String, &std::sync::Arc<Plan>)| {
            (id.as_str(), callee.recipe.outputs.iter().map(|(name, _)| name.text.as_str()).collect())
        })
        .collect();
    let engine = Engine::new();
    let (checked, seen) = check(&recipe, &engine, (name, text), &outputs, &broken);
    diagnostics.extend(checked);
    diagnostics.extend(problems);
    if !diagnostics.is_empty() {
        return Err(fail(diagnostics));
    }
    let warnings = splice_warnings(&recipe, text);
    let reads = crate::reads::analyse(&recipe, &seen);
    Ok(Plan { recipe, source, engine, calls, warnings, reads })
}

/// A warning at each value spliced into a request URL's path that may hold `?` or `#`
/// ([`crate::splice`]); the run refuses such a value before sending.
fn splice_warnings(recipe: &Recipe, source: &str) -> Vec<Diagnostic> {
    let source = Lines { text: source, starts: std::rc::Rc::default() };
    let mut warnings = Vec::new();
    for step in &recipe.steps {
        let Action::Request(request) = &step.action else { continue };
        for splice in crate::splice::unsafe_splices(&request.url.text, &recipe.inputs) {
            let place = inside(&source, &request.url, splice.start, splice.len);
            warnings.push(
                Diagnostic::at(format!("`{}` is put into the URL's path as is: a `?` or `#` in it would change the query", splice.expression), place)
                    .with_hint(format!(
                        "write `{{{{ {} | urlencode }}}}`, pass the value in `query:`, or give the input a `pattern` with `^...$` that excludes `?` and `#`",
                        splice.expression
                    ))
                    .warning(),
            );
        }
    }
    warnings
}

/// A call gives the inputs the called recipe declares, all it requires, and every environment
/// variable it needs without a default is one the caller declares too.
fn call_fits(caller: &Recipe, call: &crate::model::Call, callee: &Recipe) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let declared: Vec<&str> = callee.inputs.iter().map(|input| input.name.text.as_str()).collect();
    for (name, _) in &call.inputs {
        if !declared.contains(&name.text.as_str()) {
            let mut diagnostic = Diagnostic::at(format!("`{}` has no input `{}`", call.recipe, name.text), name.span);
            if let Some(suggestion) = did_you_mean(&name.text, declared.iter().copied()) {
                diagnostic = diagnostic.with_hint(format!("did you mean `{suggestion}`?"));
            }
            problems.push(diagnostic);
        }
    }
    // A value written as is must already be what the called recipe accepts (its type, pattern,
    // choices): the call gives it unchanged.
    for (name, template) in &call.inputs {
        if let (Some(input), Some(value)) = (callee.inputs.iter().find(|input| input.name.text == name.text), literal(template))
            && let Err(message) = crate::inputs::validate(input, &value)
        {
            problems.push(Diagnostic::at(format!("the input `{}` of `{}`: {message}", name.text, call.recipe), name.span));
        }
    }
    for input in callee.inputs.iter().filter(|input| input.is_required()) {
        if !call.inputs.iter().any(|(name, _)| name.text == input.name.text) {
            problems.push(Diagnostic::at(format!("`{}` needs the input `{}`", call.recipe, input.name.text), call.recipe_span));
        }
    }
    for var in callee.env.iter().filter(|var| var.default.is_none()) {
        if !caller.env.iter().any(|mine| mine.name.text == var.name.text) {
            problems.push(
                Diagnostic::at(
                    format!("`{}` reads the environment variable `{}`, which this recipe does not declare", call.recipe, var.name.text),
                    call.recipe_span,
                )
                .with_hint(format!("declare `{}` under `env`: the called recipe gets its value from here", var.name.text)),
            );
        }
    }
    problems
}

/// A template tree without any template in it, as the JSON it always renders to.
fn literal(template: &crate::model::Template) -> Option<serde_json::Value> {
    use crate::model::{Template, TemplateKind};
    Some(match template {
        Template::Null => serde_json::Value::Null,
        Template::Bool(b) => serde_json::Value::Bool(*b),
        Template::Number(n) => serde_json::Value::Number(n.clone()),
        Template::String(text) if text.kind == TemplateKind::Literal => serde_json::Value::String(text.text.clone()),
        Template::String(_) => return None,
        Template::Seq(items) => serde_json::Value::Array(items.iter().map(literal).collect::<Option<_>>()?),
        Template::Map(entries) => serde_json::Value::Object(
            entries.iter().map(|(name, value)| Some((name.text.clone(), literal(value)?))).collect::<Option<_>>()?,
        ),
    })
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
pub(crate) const COMMON_FIELDS: &[&str] = &["ok", "skipped", "outcome", "error", "results"];
pub(crate) fn result_fields(action: &Action) -> &'static [&'static str] {
    match action {
        Action::Request(_) => &["status", "headers", "body", "warnings", "items", "pages"],
        Action::Filter(_) => &["item", "items", "count"],
        Action::Pick(_) => &["item", "items", "count"],
        Action::Set(_) => &["values"],
        Action::Fail(_) => &[],
        Action::Call(_) => &["outputs"],
    }
}

const ROOTS: &[&str] = &["inputs", "env", "vars", "steps", "item", "each", "index", "response"];

/// What names a template may read at one place in the recipe.
struct Scope<'a> {
    inputs: BTreeSet<&'a str>,
    env: BTreeSet<&'a str>,
    vars: BTreeSet<&'a str>,
    /// Steps visible here, with their actions (none for a step that did not decode: any
    /// field of it may be read).
    steps: BTreeMap<&'a str, Option<&'a Action>>,
    item: bool,
    /// Inside `retry.until` and `paginate.next`: the attempt's `response`.
    response: bool,
    /// Inside a `for_each` step: `each` and `index`.
    each: bool,
    /// Vars bound only by a step that may not run or may fail (`when`, `optional`), with that
    /// step's id: reading one needs `default` or `is defined`.
    maybe: BTreeMap<&'a str, &'a str>,
    /// Where a var was bound (step id and line), for messages about requests before that.
    bound_at: BTreeMap<&'a str, (&'a str, usize)>,
}

/// The problems of one check that get a "did you mean" hint: the first ones found.
const HINTED: usize = 200;

struct Checker<'a> {
    engine: &'a Engine,
    problems: Diagnostics,
    /// Shared header and auth templates already reported (one report each).
    reported_shared: BTreeSet<(usize, usize)>,
    /// The recipe's text, to place a caret inside a template only where it is written as is.
    source: Lines<'a>,
    /// The recipe file's name: the files it names are relative to its folder.
    name: &'a str,
    /// Each call step's called recipe's outputs.
    call_outputs: &'a BTreeMap<&'a str, Vec<&'a str>>,
    /// Every template checked, for [`crate::reads`].
    seen: Vec<crate::reads::Seen<'a>>,
    /// The step being checked.
    current: Option<&'a str>,
}

fn check<'a>(
    recipe: &'a Recipe,
    engine: &'a Engine,
    (name, source): (&'a str, &'a str),
    call_outputs: &'a BTreeMap<&'a str, Vec<&'a str>>,
    broken: &'a [BrokenStep],
) -> (Vec<Diagnostic>, Vec<crate::reads::Seen<'a>>) {
    let mut checker = Checker {
        engine,
        problems: Diagnostics::default(),
        reported_shared: BTreeSet::new(),
        source: Lines { text: source, starts: std::rc::Rc::default() },
        name,
        call_outputs,
        seen: Vec::new(),
        current: None,
    };
    let mut scope = Scope {
        inputs: recipe.inputs.iter().map(|input| input.name.text.as_str()).collect(),
        env: recipe.env.iter().map(|var| var.name.text.as_str()).collect(),
        vars: BTreeSet::new(),
        steps: BTreeMap::new(),
        item: false,
        response: false,
        each: false,
        maybe: BTreeMap::new(),
        bound_at: BTreeMap::new(),
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
    if let Some(proxy) = &recipe.http.proxy {
        checker.template_string(proxy, &scope);
    }
    // `http.headers` and `http.auth` are checked at each request that sends them (they may read
    // vars bound by a log-in step); with no request at all, here.
    if !recipe.steps.iter().any(|step| matches!(step.action, Action::Request(_))) {
        for (_, header) in &recipe.http.headers {
            checker.template_string(header, &scope);
        }
    }
    if let Some(until) = recipe.http.retry.as_ref().and_then(|retry| retry.until.as_ref()) {
        checker.with_response(&mut scope, |checker, scope| checker.template_string(until, scope));
    }
    let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
    // A step that did not decode is already reported: what it would bind is taken as bound.
    let broken_at = |position: usize, scope: &mut Scope<'a>| {
        for step in broken.iter().filter(|step| step.position == position) {
            scope.steps.insert(&step.id, None);
            scope.vars.extend(step.binds.iter().map(String::as_str));
        }
    };
    for (position, step) in recipe.steps.iter().enumerate() {
        broken_at(position, &mut scope);
        if let Some(first) = seen.get(step.id.text.as_str()) {
            checker.problems.push(
                Diagnostic::at(format!("duplicate step id `{}`", step.id.text), step.id.span)
                    .with_hint(format!("`{}` is first used at line {}, column {}", step.id.text, first.line, first.col)),
            );
        }
        seen.insert(&step.id.text, step.id.span);
        checker.current = Some(&step.id.text);
        checker.step(recipe, step, &mut scope);
        checker.current = None;
    }
    broken_at(recipe.steps.len(), &mut scope);
    for (_, output) in &recipe.outputs {
        checker.template(output, &scope);
    }
    (checker.problems.into_vec(), checker.seen)
}

impl<'a> Checker<'a> {
    fn step(&mut self, recipe: &'a Recipe, step: &'a Step, scope: &mut Scope<'a>) {
        if let Some(when) = &step.when {
            // Written as it is, `when` is `true` or `false` (a step switched on or off by hand);
            // any other literal would fail every run.
            if when.kind == crate::model::TemplateKind::Literal && !matches!(when.text.as_str(), "true" | "false") {
                self.problems.push(
                    Diagnostic::at(format!("`when` is `{}`, which is neither true nor false", when.text), when.span)
                        .with_hint("write a condition such as `{{ inputs.dry == false }}`, or `true` or `false`"),
                );
            }
            self.template_string(when, scope);
        }
        if let Some(for_each) = &step.for_each {
            self.template_string(for_each, scope);
        }
        scope.each = step.for_each.is_some();
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
                for (_, field) in request.multipart.iter().flatten() {
                    match field {
                        crate::model::MultipartField::Text(text) => self.template_string(text, scope),
                        crate::model::MultipartField::File(file) if file.file.kind == crate::model::TemplateKind::Literal => {
                            self.file_part(file);
                        }
                        crate::model::MultipartField::File(file) => self.template_string(&file.file, scope),
                    }
                }
                if let Some(until) = request.retry.as_ref().and_then(|retry| retry.until.as_ref()) {
                    self.with_response(scope, |checker, scope| checker.template_string(until, scope));
                }
                if let Some(paginate) = &request.paginate {
                    self.with_response(scope, |checker, scope| checker.template(&paginate.next, scope));
                }
                self.shared_credentials(recipe, step, request, scope);
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
                    Self::bound(scope, step, &name.text);
                }
            }
            Action::Fail(message) => self.template_string(message, scope),
            Action::Call(call) => {
                for (_, value) in &call.inputs {
                    self.template(value, scope);
                }
            }
        }
        // Bindings and assertions may read the step's own result.
        scope.steps.insert(&step.id.text, Some(&step.action));
        for (name, binding) in &step.bind {
            if let Binding::Template(template) = binding {
                self.template(template, scope);
            }
            scope.vars.insert(&name.text);
            Self::bound(scope, step, &name.text);
        }
        for assertion in &step.assert {
            if let Some(that) = &assertion.that {
                self.template_string(that, scope);
            }
            if let Some(equals) = &assertion.equals {
                self.template(equals, scope);
            }
            if let Some(message) = &assertion.message {
                self.template_string(message, scope);
            }
        }
        scope.each = false;
    }

    /// A multipart file part's file must exist, relative to the recipe.
    fn file_part(&mut self, file: &crate::model::FileField) {
        let folder = FsPath::new(self.name).parent().unwrap_or_else(|| FsPath::new(""));
        let path = folder.join(&file.file.text);
        if !path.is_file() {
            self.problems.push(
                Diagnostic::at(format!("no file `{}` (multipart files are relative to the recipe)", path.display()), file.file.span)
                    .with_hint("give the path of the file to upload, relative to the recipe file"),
            );
        }
    }

    /// Records where `name` is bound, and whether that step may not bind it.
    fn bound(scope: &mut Scope<'a>, step: &'a Step, name: &'a str) {
        scope.bound_at.entry(name).or_insert((&step.id.text, step.id.span.line));
        // `when: true` as written (a YAML boolean or the text) always runs the step.
        let always = step.when.as_ref().is_none_or(|when| when.text == "true");
        if !always || step.optional {
            scope.maybe.insert(name, &step.id.text);
        } else {
            scope.maybe.remove(name);
        }
    }

    /// `http.headers` and `http.auth` as this request sends them: they may read only what is
    /// bound before it. A request's own header of the same name, or its own `auth` (`none`
    /// included), replaces them.
    fn shared_credentials(&mut self, recipe: &'a Recipe, step: &'a Step, request: &'a crate::model::Request, scope: &Scope<'a>) {
        use crate::model::Auth;
        let no_auth = matches!(request.auth, Some(Auth::None));
        let mut templates: Vec<(&TemplateString, Option<&str>)> = recipe
            .http
            .headers
            .iter()
            .filter(|(name, _)| !request.headers.iter().any(|(own, _)| own.text.eq_ignore_ascii_case(&name.text)))
            .filter(|(name, _)| !(no_auth && name.text.eq_ignore_ascii_case("authorization")))
            .map(|(name, value)| (value, Some(name.text.as_str())))
            .collect();
        let sends_own_authorization = request.headers.iter().any(|(own, _)| own.text.eq_ignore_ascii_case("authorization"));
        for auth in [request.auth.as_ref(), recipe.http.auth.as_ref().filter(|_| request.auth.is_none() && !sends_own_authorization)] {
            match auth {
                Some(Auth::Basic { username, password }) => templates.extend([(username, None), (password, None)]),
                Some(Auth::Bearer(token)) => templates.push((token, None)),
                Some(Auth::Oauth2(oauth)) => {
                    templates.extend([(&oauth.token_url, None), (&oauth.client_id, None), (&oauth.client_secret, None)]);
                    templates.extend(oauth.scope.as_ref().map(|scope| (scope, None)));
                }
                Some(Auth::None) | None => {}
            }
        }
        for (template, header) in templates {
            let key = (template.span.line, template.span.col);
            let mut local = Checker {
                engine: self.engine,
                problems: Diagnostics::default(),
                reported_shared: BTreeSet::new(),
                source: self.source.clone(),
                name: self.name,
                call_outputs: self.call_outputs,
                seen: Vec::new(),
                current: self.current,
            };
            local.template_string(template, scope);
            self.seen.append(&mut local.seen);
            let problems = local.problems.into_vec();
            if problems.is_empty() || !self.reported_shared.insert(key) {
                continue;
            }
            let id = &step.id.text;
            let credential = header.is_none_or(|name| name.eq_ignore_ascii_case("authorization"));
            for mut problem in problems {
                problem.message = format!("{}, but step `{id}` (line {}) sends it", problem.message, step.id.span.line);
                problem.hints = vec![match header {
                    Some(name) if !credential => format!(
                        "requests before the binding step cannot send this; give step `{id}` its own `{name}` header (an empty \
                         value sends none)"
                    ),
                    _ => format!(
                        "requests before the binding step cannot send this; give step `{id}` `auth: none` (it sends no \
                         `Authorization`), or its own `auth`"
                    ),
                }];
                if credential && request.method.as_str() == "POST" && request.idempotent.is_none() {
                    problem.hints.push(format!(
                        "if step `{id}` only logs in, add `idempotent: true` too: it is then retried like a `GET`, and a later \
                         failure does not report it as something created"
                    ));
                }
                self.problems.push(problem);
            }
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
                let span = match &error.range {
                    Some(range) => {
                        let len = template.text.get(range.clone()).map_or(1, |t| t.chars().count().max(1));
                        inside(&self.source, template, range.start, len)
                    }
                    None => template.span,
                };
                self.problems.push(Diagnostic::at(format!("invalid template: {}", error.message), span));
                return;
            }
        };
        let code = crate::template_code::code_only(&template.text);
        let unknown = crate::template::Engine::unknown_callables_in(&code);
        for variable in variables {
            // An unknown function is reported as such, not also as an unknown variable.
            if unknown.iter().any(|callable| callable.kind == "function" && callable.name == variable) {
                continue;
            }
            if let Some(problem) = self.resolve(&variable, scope).or_else(|| maybe_unbound(template, &variable, scope)) {
                let head = variable.split('.').take(2).collect::<Vec<_>>().join(".");
                let span = template.text.find(&head).map_or(template.span, |at| inside(&self.source, template, at, head.chars().count()));
                let mut diagnostic = Diagnostic::at(problem.0, span);
                if let Some(hint) = problem.1 {
                    diagnostic = diagnostic.with_hint(hint);
                }
                self.problems.push(diagnostic);
            }
        }
        for callable in unknown {
            let span = inside(&self.source, template, callable.offset, callable.name.chars().count());
            let mut diagnostic = Diagnostic::at(format!("unknown {} `{}`", callable.kind, callable.name), span);
            if let Some(instead) = &callable.instead {
                diagnostic = diagnostic.with_hint(instead.clone());
            } else if let Some(suggestion) =
                self.hinting().then(|| did_you_mean(&callable.name, callable.known.iter().map(String::as_str))).flatten()
            {
                diagnostic = diagnostic.with_hint(format!("did you mean `{suggestion}`?"));
            }
            self.problems.push(diagnostic);
        }
        // Only a template that may read a response body matters to `crate::reads` (its code is
        // the one just scanned for callables).
        let may_read = code.contains("steps") || (scope.item && code.contains("item")) || scope.response;
        if template.kind != crate::model::TemplateKind::Literal && may_read {
            self.seen.push(crate::reads::Seen {
                code,
                span: template.span,
                step: self.current,
                item: scope.item,
                response: scope.response,
            });
        }
    }

    /// Whether a new problem still gets a "did you mean" hint. Each one compares a name with
    /// every name in scope; a generated recipe with thousands of misspelt names over thousands
    /// of inputs would spend minutes on hints of problems that are never shown (a report draws
    /// 50).
    fn hinting(&self) -> bool {
        self.problems.len() < HINTED
    }

    /// Why `variable` (a dotted path) cannot be read here, with a hint.
    fn resolve(&self, variable: &str, scope: &Scope) -> Option<(String, Option<String>)> {
        let mut parts = variable.split('.');
        let root = parts.next().unwrap_or_default();
        let name = parts.next();
        let suggest = |word: &str, names: &mut dyn Iterator<Item = &str>| {
            self.hinting().then(|| did_you_mean(word, names)).flatten().map(|s| format!("did you mean `{s}`?"))
        };
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
                let Some(action) = scope.steps.get(name).copied() else {
                    return Some((
                        format!("`steps.{name}` is not an earlier step"),
                        suggest(name, &mut scope.steps.keys().copied())
                            .or_else(|| Some("a step can only read steps that run before it".into())),
                    ));
                };
                let field = parts.next()?;
                let action = action?;
                let fields = result_fields(action);
                if field == "outputs"
                    && let Some(outputs) = self.call_outputs.get(name)
                    && let Some(output) = parts.next()
                    && !outputs.contains(&output)
                {
                    return Some((
                        format!("the recipe step `{name}` calls has no output `{output}`"),
                        Some(
                            suggest(output, &mut outputs.iter().copied())
                                .unwrap_or_else(|| format!("its outputs are {}", outputs.join(", "))),
                        ),
                    ));
                }
                if COMMON_FIELDS.contains(&field) || fields.contains(&field) {
                    return None;
                }
                let all: Vec<&str> = COMMON_FIELDS.iter().chain(fields).copied().collect();
                Some((
                    format!("a {} step has no result field `{field}`", action.keyword()),
                    Some(suggest(field, &mut all.iter().copied()).unwrap_or_else(|| format!("its fields are {}", all.join(", ")))),
                ))
            }
            "each" | "index" if scope.each => None,
            "each" | "index" => Some((format!("`{root}` is only defined in a step with `for_each`"), None)),
            "item" if scope.item => None,
            "item" => Some(("`item` is only defined in `where`, `describe` and `by`".into(), None)),
            "response" if scope.response => None,
            "response" => Some(("`response` is only defined in `retry.until`".into(), None)),
            other if crate::template::Engine::is_global(other) => None,
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

/// A read of a var that an earlier step may not have bound (it has `when` or is `optional`),
/// without `default` or `is defined`.
fn maybe_unbound(template: &TemplateString, variable: &str, scope: &Scope) -> Option<(String, Option<String>)> {
    let name = variable.strip_prefix("vars.")?.split('.').next()?;
    let step = scope.maybe.get(name)?;
    if guarded(&template.text, name) {
        return None;
    }
    Some((
        format!("`vars.{name}` may be unbound here: step `{step}`, which binds it, may be skipped or fail"),
        Some(format!("read it as `vars.{name} | default(...)` or test `vars.{name} is defined`")),
    ))
}

/// Whether the text reads `vars.NAME` through `| default`, `| d` or `is [not] defined` somewhere.
fn guarded(text: &str, name: &str) -> bool {
    let needle = format!("vars.{name}");
    let word = |rest: &str| -> String { rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect() };
    text.match_indices(&needle).any(|(at, _)| {
        let rest = &text[at + needle.len()..];
        if rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            return false;
        }
        let rest = rest.trim_start();
        if let Some(filter) = rest.strip_prefix('|') {
            return matches!(word(filter.trim_start()).as_str(), "default" | "d");
        }
        let Some(test) = rest.strip_prefix("is").filter(|r| r.starts_with(char::is_whitespace)) else { return false };
        let test = test.trim_start();
        let test = test.strip_prefix("not").filter(|r| r.starts_with(char::is_whitespace)).map_or(test, str::trim_start);
        matches!(word(test).as_str(), "defined" | "undefined")
    })
}

/// Where in the file a template error is: the character inside the string when it can be
/// mapped one to one (a plain or quoted scalar on one line), else the string itself.
/// The place of `len` characters at byte `start` of a template's text, when its scalar is written
/// as is on one line of `source` (no escapes such as `\t` or `''`, no folded lines, not a block);
/// the whole scalar otherwise, since a place inside it would point at the wrong characters.
/// A recipe's text by lines, as `str::lines` splits them; where each line starts is found once,
/// when a caret is first placed, so placing thousands of carets in a large file stays quick.
#[derive(Clone)]
struct Lines<'a> {
    text: &'a str,
    /// Shared by the checkers of one recipe.
    starts: std::rc::Rc<std::cell::OnceCell<Vec<usize>>>,
}

impl<'a> Lines<'a> {
    /// The 1-based line `number`, without its line break.
    fn line(&self, number: usize) -> Option<&'a str> {
        let starts = self.starts.get_or_init(|| {
            std::iter::once(0).chain(self.text.match_indices('\n').map(|(at, _)| at + 1)).filter(|&at| at < self.text.len()).collect()
        });
        let start = *starts.get(number.checked_sub(1)?)?;
        let rest = &self.text[start..];
        let line = rest.split('\n').next().unwrap_or_default();
        Some(line.strip_suffix('\r').unwrap_or(line))
    }
}

fn inside(source: &Lines<'_>, template: &TemplateString, start: usize, len: usize) -> Span {
    if template.style == Style::Block || template.text.contains('\n') || start > template.text.len() {
        return template.span;
    }
    let quote = usize::from(template.style == Style::Quoted);
    let (before, rest) = template.text.split_at(start);
    let shown: String = before.chars().chain(rest.chars().take(len)).collect();
    let written = source.line(template.span.line).is_some_and(|line| {
        let from: String = line.chars().skip(template.span.col.saturating_sub(1) + quote).take(shown.chars().count()).collect();
        from == shown
    });
    if written { template.span.shifted(quote + before.chars().count(), len.max(1)) } else { template.span }
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
    fn only_the_first_problems_get_a_did_you_mean_among_hundreds() {
        let inputs = (0..1000).map(|i| format!("  input_{i}: {{ type: string, default: x }}\n")).collect::<Vec<_>>().concat();
        let steps =
            (0..400).map(|i| format!("  - id: s{i}\n    set: {{ x: \"{{{{ inputs.inptu_{i} }}}}\" }}\n")).collect::<Vec<_>>().concat();
        let text = format!("recipe: 1\nname: t\ninputs:\n{inputs}steps:\n{steps}");
        let report = load_str("t.yaml", &text).err().expect("400 problems");
        assert_eq!(report.diagnostics.len(), 400);
        let hinted = report.diagnostics.iter().filter(|d| !d.hints.is_empty()).count();
        assert_eq!(hinted, HINTED);
        assert_eq!(report.diagnostics[0].hints, ["did you mean `input_0`?"]);
        // Each caret is still placed inside its template.
        assert!(report.diagnostics.iter().all(|d| d.span.is_some_and(|span| span.col == 19)), "{:?}", report.diagnostics[399].span);
    }

    #[test]
    fn a_caret_goes_inside_a_template_only_where_it_is_written_as_is() {
        let steps = "  - id: a\n    set:\n      p: \"\\u00e9\\t{{ inputs.aa }}\"\n      t: 'it''s {{ inputs.ee }}'\n      w: multi\n        line {{ inputs.hh }}\n      ok: \"x {{ inputs.gg }}\"\n      plain: x {{ inputs.ii }}\n";
        assert_eq!(
            problems(steps),
            vec![
                "10:10 no input named `aa` is declared",
                "11:10 no input named `ee` is declared",
                "12:10 no input named `hh` is declared",
                "14:17 no input named `gg` is declared",
                "15:19 no input named `ii` is declared",
            ]
        );
    }

    #[test]
    fn a_literal_call_input_must_be_what_the_called_recipe_accepts() {
        let folder = std::env::temp_dir().join(format!("recipe-call-literal-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let callee = "recipe: 1\nname: c\ninputs:\n  q: string\n  n: { type: integer }\n  code: { type: string, pattern: '^[A-Z]{3}$' }\nsteps: []\n";
        std::fs::write(folder.join("callee.yaml"), callee).unwrap();
        let caller = "recipe: 1\nname: m\ninputs:\n  x: string\nsteps:\n  - id: c\n    call: { recipe: callee.yaml, inputs: { q: 1, n: '{{ inputs.x }}', code: abc } }\n";
        let path = folder.join("main.yaml");
        std::fs::write(&path, caller).unwrap();
        let problems = match load(&path) {
            Err(LoadError::Invalid(report)) => report.diagnostics.iter().map(|d| d.message.clone()).collect::<Vec<_>>(),
            Err(LoadError::Io(message)) => panic!("{message}"),
            Ok(_) => panic!("the call was accepted"),
        };
        std::fs::remove_dir_all(&folder).unwrap();
        assert_eq!(problems.len(), 2, "a template is judged when it renders: {problems:?}");
        assert!(problems[0].starts_with("the input `q` of `callee.yaml`: "), "{problems:?}");
        assert!(problems[1].starts_with("the input `code` of `callee.yaml`: "), "{problems:?}");
    }

    #[test]
    fn a_call_steps_outputs_are_those_of_the_called_recipe() {
        let folder = std::env::temp_dir().join(format!("recipe-call-outputs-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("callee.yaml"), "recipe: 1\nname: c\nsteps: []\noutputs:\n  draft_id: '1'\n  link: '2'\n").unwrap();
        let caller = "recipe: 1\nname: m\nsteps:\n  - id: c\n    call: { recipe: callee.yaml }\n  - id: d\n    set: { a: '{{ steps.c.outputs.draft_id }}', b: '{{ steps.c.outputs.draftid }}' }\n";
        let path = folder.join("main.yaml");
        std::fs::write(&path, caller).unwrap();
        let found = match load(&path) {
            Err(LoadError::Invalid(report)) => report.diagnostics.iter().map(|d| (d.message.clone(), d.hints.clone())).collect::<Vec<_>>(),
            Err(LoadError::Io(message)) => panic!("{message}"),
            Ok(_) => panic!("the misspelt output was accepted"),
        };
        std::fs::remove_dir_all(&folder).unwrap();
        assert_eq!(
            found,
            vec![("the recipe step `c` calls has no output `draftid`".to_owned(), vec!["did you mean `draft_id`?".to_owned()])]
        );
    }

    #[test]
    fn a_literal_when_is_true_or_false() {
        let steps = "  - id: a\n    when: 0\n    set: { x: 1 }\n  - id: b\n    when: 'yes'\n    set: { y: 1 }\n  - id: c\n    when: true\n    set: { z: 1 }\n  - id: d\n    set: { w: '{{ vars.z }}' }\n";
        assert_eq!(
            problems(steps),
            vec!["9:11 `when` is `0`, which is neither true nor false", "12:11 `when` is `yes`, which is neither true nor false"],
            "and `when: true` leaves `vars.z` surely bound"
        );
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
