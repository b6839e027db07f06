//! What a recipe reads of each request step's response body, found by the check: the
//! [`Projection`] a batch parses that body into.
//!
//! Every template the check saw (with the step it belongs to, and whether it reads `item`), and
//! the recipe's `JSONPath`s (`bind`, `assert`, a selection's `items` and `match`), name the
//! paths read under `steps.ID.body`, directly or through a `filter` or `pick` whose `from` is a
//! plain path into a body (`{{ steps.search.body }}`): what reads its `item`, its `items`, its
//! conditions and its bindings then reads inside that body. A path is read up to its first part
//! that is not a plain name or a non-negative index (a filter, a method, a computed index), and
//! from there whole. Anything this cannot follow reads the whole body: `steps.ID` alone or with
//! a computed name, `steps` itself, a `regex` binding, `for_each`, `paginate`, `retry.until`.
//! With API error envelopes (`http.api_errors`) every body's envelope fields are read too
//! (`envelope::FIELDS`). A recipe that reads nothing of a body gets an empty
//! projection. Only a batch run uses it: a single run, a recording and a report show whole
//! bodies.
//!
//! It also finds each body's sieve (`src/sieve.rs`): a selection that alone reads the elements of
//! an array there (the reads found without that selection touch nothing at or inside the array)
//! and whose conditions can be tested on one element before it is built ([`fixed`] values).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::diagnostic::Span;
use crate::model::{Action, Binding, Cardinality, Recipe, Selection, Step, Template, TemplateKind};
use crate::projection::{Projection, Segment};
use crate::sieve::{Sieve, SieveSpec};
use crate::template::Engine;

/// A template the check saw that may read a body (it names `steps`, or `item` or `response`
/// where those are bodies), and where.
#[derive(Debug, Clone)]
pub(crate) struct Seen<'a> {
    /// Its code only (`template_code::code_only`).
    pub code: String,
    pub span: Span,
    /// The step it belongs to (`None` for the recipe's outputs and `http` settings).
    pub step: Option<&'a str>,
    /// It may read `item` (a selection's `where`, `by`, `describe`).
    pub item: bool,
    /// It may read `response` (`retry.until`, `paginate.next`).
    pub response: bool,
}

/// Each request step's projection, by step id (a step not listed is read whole), and the sieves
/// of the bodies whose array only one selection reads.
#[derive(Debug, Default)]
pub struct Reads {
    projections: BTreeMap<String, Arc<Projection>>,
    sieves: BTreeMap<String, Arc<SieveSpec>>,
}

impl Reads {
    /// What the recipe reads of `step`'s body; `None` when it is read whole.
    pub(crate) fn of(&self, step: &str) -> Option<&Arc<Projection>> {
        self.projections.get(step)
    }

    /// The sieve of `step`'s body (`src/sieve.rs`): only with a projection.
    #[cfg(test)]
    pub(crate) fn sieve(&self, step: &str) -> Option<&Arc<SieveSpec>> {
        self.sieves.get(step)
    }

    /// What a batch row reads of `step`'s body, its sieve rendered in `context` (the step's);
    /// `None` when it reads the whole body.
    pub(crate) fn read(&self, step: &str, engine: &Engine, context: &minijinja::Value) -> Option<Read> {
        let projection = self.projections.get(step)?;
        // The selection's expected values are fixed by now (see `fixed`).
        let sieve = self.sieves.get(step).and_then(|sieve| sieve.render(projection, engine, context));
        Some(sieve.map_or_else(|| Read::Projected(Arc::clone(projection)), |sieve| Read::Sieved(Arc::new(sieve))))
    }
}

/// What a batch row reads of a JSON body.
#[derive(Debug, Clone)]
pub(crate) enum Read {
    /// The parts a projection reads.
    Projected(Arc<Projection>),
    /// Those parts, and of one array only the elements a selection keeps.
    Sieved(Arc<Sieve>),
}

/// Where a selection's items are: a request step and the path to each item in its body.
struct Items {
    source: String,
    path: Vec<Segment>,
}

/// What `recipe` reads of each request step's body, given every template the check saw.
pub(crate) fn analyse(recipe: &Recipe, seen: &[Seen<'_>]) -> Reads {
    let Some(reads) = projections(recipe, seen, None) else { return Reads::default() };
    let sieves = sieves(recipe, seen, &reads);
    Reads {
        projections: reads
            .into_iter()
            .filter(|(_, projection)| !projection.is_whole())
            .map(|(id, projection)| (id, Arc::new(projection.settle())))
            .collect(),
        sieves,
    }
}

/// Each request step's projection, before it is settled; `None` when any body may be read
/// whole. What the selection step `exclude` reads through its items is left out (its `from`
/// still reads nothing whole).
fn projections(recipe: &Recipe, seen: &[Seen<'_>], exclude: Option<&str>) -> Option<BTreeMap<String, Projection>> {
    if recipe.http.retry.as_ref().is_some_and(|retry| retry.until.is_some()) {
        return None;
    }
    let mut reads: BTreeMap<String, Projection> = BTreeMap::new();
    let mut items: BTreeMap<String, Items> = BTreeMap::new();
    let mut handled: BTreeSet<(usize, usize, usize)> = BTreeSet::new();
    let steps: BTreeMap<&str, &Step> = recipe.steps.iter().map(|step| (step.id.text.as_str(), step)).collect();
    for step in &recipe.steps {
        match &step.action {
            Action::Request(request) => {
                let projectable = step.for_each.is_none()
                    && request.paginate.is_none()
                    && request.retry.as_ref().is_none_or(|retry| retry.until.is_none());
                let mut projection = if projectable { Projection::default() } else { Projection::whole() };
                if recipe.http.api_errors.is_some() {
                    for field in crate::envelope::FIELDS {
                        projection.read(&[Segment::Key((*field).to_owned())]);
                    }
                }
                read_bindings(&mut projection, step, &[]);
                reads.insert(step.id.text.clone(), projection);
            }
            Action::Filter(_) | Action::Pick(_) if exclude == Some(step.id.text.as_str()) => {
                if let Some((Template::String(from), _, _)) = selection_of(step) {
                    handled.insert(key(from.span));
                }
            }
            Action::Filter(filter) => {
                let single = !matches!(filter.expect, Cardinality::All | Cardinality::AtLeastOne);
                select(step, &filter.selection, single, &mut reads, &mut items, &mut handled);
            }
            Action::Pick(pick) => select(step, &pick.selection, true, &mut reads, &mut items, &mut handled),
            Action::Set(_) | Action::Fail(_) | Action::Call(_) => {}
        }
    }
    for template in seen {
        if handled.contains(&key(template.span)) {
            continue;
        }
        if template.response
            && let Some(projection) = template.step.and_then(|step| reads.get_mut(step))
        {
            *projection = Projection::whole();
        }
        if template.item
            && let Some(selected) = template.step.and_then(|step| items.get(step))
        {
            for path in paths_after(&template.code, "item") {
                read_at(&mut reads, &selected.source, &selected.path, &path);
            }
        }
        for occurrence in paths_after(&template.code, "steps") {
            let Some((Segment::Key(id), rest)) = occurrence.split_first() else {
                // `steps` itself, or with a computed name: any body may be read.
                return None;
            };
            match steps.get(id.as_str()).map(|step| &step.action) {
                Some(Action::Request(_)) => match rest.split_first() {
                    Some((Segment::Key(field), path)) if field == "body" => read_at(&mut reads, id, &[], path),
                    Some((Segment::Key(field), _)) if !matches!(field.as_str(), "items" | "pages") => {}
                    _ => read_at(&mut reads, id, &[], &[]),
                },
                Some(Action::Filter(_) | Action::Pick(_)) => {
                    let Some(selected) = items.get(id) else { continue };
                    match rest.split_first() {
                        Some((Segment::Key(field), path)) if field == "item" => read_at(&mut reads, &selected.source, &selected.path, path),
                        Some((Segment::Key(field), path)) if field == "items" => match path.split_first() {
                            Some((Segment::Index(_), path)) => read_at(&mut reads, &selected.source, &selected.path, path),
                            _ => read_at(&mut reads, &selected.source, &selected.path, &[]),
                        },
                        Some((Segment::Key(_), _)) => {}
                        _ => read_at(&mut reads, &selected.source, &selected.path, &[]),
                    }
                }
                _ => {}
            }
        }
    }
    Some(reads)
}

/// A selection step's selection (its `from` first) and the least and most items it keeps
/// without failing.
fn selection_of(step: &Step) -> Option<(&Template, &Selection, (usize, usize))> {
    let any = usize::MAX;
    let (selection, accepted) = match &step.action {
        Action::Filter(filter) => (
            &filter.selection,
            match filter.expect {
                Cardinality::One => (1, 1),
                Cardinality::First | Cardinality::AtLeastOne => (1, any),
                Cardinality::Optional => (0, 1),
                Cardinality::All => (0, any),
            },
        ),
        Action::Pick(pick) => (&pick.selection, (1, any)),
        _ => return None,
    };
    Some((&selection.from, selection, accepted))
}

/// The sieves (`src/sieve.rs`): a selection whose `from` is a plain path into a request step's
/// body, whose items are every element of an array there (`$.list[*]`), and which is the only
/// reader of those elements, gets one when its conditions can be tested on an element alone
/// before it is built: names, indexes and wildcards compared with values fixed before the request (see
/// [`fixed`]), and no `where` unless the selection keeps any number. One sieve per body.
fn sieves(recipe: &Recipe, seen: &[Seen<'_>], reads: &BTreeMap<String, Projection>) -> BTreeMap<String, Arc<SieveSpec>> {
    let mut sieves = BTreeMap::new();
    for (index, step) in recipe.steps.iter().enumerate() {
        let Some((Template::String(from), selection, accepted)) = selection_of(step) else { continue };
        let simple = step.for_each.is_none() && !selection.entries && !selection.matches.is_empty();
        if !simple || (selection.where_.is_some() && accepted != (0, usize::MAX)) {
            continue;
        }
        let Some((source, mut at)) = plain_body_path(&from.text) else { continue };
        let Some(each) = selection.items.as_ref().map_or(Some(Vec::new()), crate::jsonpath::Path::each_of) else { continue };
        at.extend(each);
        let Some(start) = recipe.steps[..index].iter().position(|step| step.id.text == source) else { continue };
        if sieves.contains_key(&source) || reads.get(&source).is_none_or(Projection::is_whole) {
            continue;
        }
        let vars_fixed =
            recipe.steps[start..index].iter().all(|step| step.bind.is_empty() && !matches!(step.action, Action::Set(_) | Action::Call(_)));
        let conditions = selection
            .matches
            .iter()
            .map(|condition| {
                let path = condition.path.names_indexes_and_wildcards().filter(|path| !path.is_empty())?;
                let equals_fixed = condition.matcher.equals.as_ref().is_none_or(|equals| fixed(equals, vars_fixed));
                equals_fixed.then(|| (path, condition.matcher.clone()))
            })
            .collect::<Option<Vec<_>>>();
        let Some(conditions) = conditions else { continue };
        let Some(others) = projections(recipe, seen, Some(&step.id.text)) else { continue };
        if others.get(&source).is_some_and(|projection| projection.reads_within(&at)) {
            continue;
        }
        sieves.insert(source, Arc::new(SieveSpec::new(at, conditions, accepted)));
    }
    sieves
}

/// Whether a template's value is the same whenever a run renders it after a request and up to
/// a later selection: no code, or one plain path into `inputs` or `env`, or into `vars` when no
/// step in between may change them (`vars_fixed`).
fn fixed(template: &Template, vars_fixed: bool) -> bool {
    match template {
        Template::Null | Template::Bool(_) | Template::Number(_) => true,
        Template::Seq(items) => items.iter().all(|item| fixed(item, vars_fixed)),
        Template::Map(entries) => entries.iter().all(|(_, value)| fixed(value, vars_fixed)),
        Template::String(text) => match &text.kind {
            TemplateKind::Literal => true,
            TemplateKind::Expression(code) => {
                let code = code.trim();
                let roots: &[&str] = if vars_fixed { &["inputs", "env", "vars"] } else { &["inputs", "env"] };
                roots.iter().any(|root| {
                    let (segments, end) = path(code, root.len());
                    code.starts_with(root) && !segments.is_empty() && end == code.len()
                })
            }
            TemplateKind::Text => false,
        },
    }
}

fn key(span: Span) -> (usize, usize, usize) {
    (span.line, span.col, span.len)
}

/// Reads `path` under `base` in `step`'s body (when it is a request step's).
fn read_at(reads: &mut BTreeMap<String, Projection>, step: &str, base: &[Segment], path: &[Segment]) {
    if let Some(projection) = reads.get_mut(step) {
        projection.read(&[base, path].concat());
    }
}

/// A step's `bind` and `assert` paths, relative to `base` (the body, or the selected item).
fn read_bindings(projection: &mut Projection, step: &Step, base: &[Segment]) {
    for (_, binding) in &step.bind {
        match binding {
            Binding::Path(path) => projection.read(&[base, &path.segments().unwrap_or_default()].concat()),
            Binding::Regex(_) | Binding::XPath(_) => projection.read(base),
            Binding::Template(_) => {}
        }
    }
    for assertion in &step.assert {
        if let Some(path) = &assertion.path {
            projection.read(&[base, &path.segments().unwrap_or_default()].concat());
        }
        if assertion.xpath.is_some() {
            projection.read(base);
        }
    }
}

/// A `filter` or `pick`: when its `from` is a plain path into a request step's body, what it
/// reads there (its items' conditions, and `bind` and `assert` paths when they are relative to
/// one item; else the items whole).
fn select(
    step: &Step,
    selection: &Selection,
    single: bool,
    reads: &mut BTreeMap<String, Projection>,
    items: &mut BTreeMap<String, Items>,
    handled: &mut BTreeSet<(usize, usize, usize)>,
) {
    let Template::String(from) = &selection.from else { return };
    let Some((source, mut path)) = plain_body_path(&from.text) else { return };
    let Some(projection) = reads.get_mut(&source) else { return };
    handled.insert(key(from.span));
    if step.for_each.is_some() || selection.entries {
        projection.read(&path);
        return;
    }
    // Without `items`, `from` itself is the list.
    let Some(items_path) = selection.items.as_ref().map_or(Some(vec![Segment::Every]), crate::jsonpath::Path::segments) else {
        projection.read(&path);
        return;
    };
    path.extend(items_path);
    for condition in &selection.matches {
        projection.read(&[&path[..], &condition.path.segments().unwrap_or_default()].concat());
    }
    if single {
        read_bindings(projection, step, &path);
    } else if !step.bind.is_empty() || !step.assert.is_empty() {
        projection.read(&path);
    }
    items.insert(step.id.text.clone(), Items { source, path });
}

/// `{{ steps.ID.body... }}` and nothing else: the step and the path inside its body.
fn plain_body_path(text: &str) -> Option<(String, Vec<Segment>)> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let (segments, end) = path(inner, "steps".len());
    if !inner.starts_with("steps") || end != inner.len() {
        return None;
    }
    match segments.as_slice() {
        [Segment::Key(id), Segment::Key(body), rest @ ..] if body == "body" => Some((id.clone(), rest.to_vec())),
        _ => None,
    }
}

/// Each place `root` is read in template code, with the plain path that follows it: names after
/// dots (not a method: `.items()` reads what is before it) and non-negative indexes in brackets,
/// up to the first part that is anything else.
fn paths_after(code: &str, root: &str) -> Vec<Vec<Segment>> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find(root).map(|offset| from + offset) {
        from = at + root.len();
        let before = at.checked_sub(1).map(|index| bytes[index]);
        let after = bytes.get(from).copied();
        if before.is_some_and(|byte| byte == b'.' || is_word(byte)) || after.is_some_and(is_word) {
            continue;
        }
        found.push(path(code, from).0);
    }
    found
}

fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || !byte.is_ascii()
}

/// The plain path starting at `at`, and where it ends.
fn path(code: &str, mut at: usize) -> (Vec<Segment>, usize) {
    let bytes = code.as_bytes();
    let mut segments = Vec::new();
    loop {
        match bytes.get(at) {
            Some(b'.') => {
                let start = at + 1;
                let end = start + bytes[start..].iter().take_while(|byte| is_word(**byte)).count();
                let name = &code[start..end];
                let called = bytes[end..].iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'(');
                if name.is_empty() || name.as_bytes()[0].is_ascii_digit() || called {
                    return (segments, at);
                }
                segments.push(Segment::Key(name.to_owned()));
                at = end;
            }
            Some(b'[') => {
                let start = at + 1;
                let end = start + bytes[start..].iter().take_while(|byte| byte.is_ascii_digit()).count();
                match (code[start..end].parse::<usize>(), bytes.get(end)) {
                    (Ok(index), Some(b']')) => {
                        segments.push(Segment::Index(index));
                        at = end + 1;
                    }
                    _ => return (segments, at),
                }
            }
            _ => return (segments, at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Segment {
        Segment::Key(name.to_owned())
    }

    #[test]
    fn paths_stop_at_anything_but_names_and_indexes() {
        let code = " steps.search.body.customers[0].uuid  steps.a.body.items() steps.b.body[x] vars.steps.c item.x steps.d.body.0 ";
        assert_eq!(
            paths_after(code, "steps"),
            vec![
                vec![key("search"), key("body"), key("customers"), Segment::Index(0), key("uuid")],
                vec![key("a"), key("body")],
                vec![key("b"), key("body")],
                vec![key("d"), key("body")],
            ]
        );
        assert_eq!(paths_after(code, "item"), vec![vec![key("x")]]);
        assert_eq!(paths_after("steps ", "steps"), vec![Vec::<Segment>::new()]);
    }

    #[test]
    fn a_plain_from_is_a_step_and_a_path() {
        assert_eq!(plain_body_path("{{ steps.search.body }}"), Some(("search".to_owned(), vec![])));
        assert_eq!(plain_body_path("{{steps.search.body.list}}"), Some(("search".to_owned(), vec![key("list")])));
        assert_eq!(plain_body_path("{{ steps.search.body | first }}"), None);
        assert_eq!(plain_body_path("{{ steps.search.status }}"), None);
    }

    fn projected(plan: &crate::check::Plan, step: &str, document: &serde_json::Value) -> Option<serde_json::Value> {
        plan.reads.of(step).map(|projection| projection.apply(document))
    }

    #[test]
    fn the_benchmark_flow_reads_four_fields_per_customer() {
        let plan = crate::check::load_str("benches/flow.yaml", include_str!("../benches/flow.yaml")).unwrap();
        let search = serde_json::json!({
            "requestId": "r1",
            "customers": [
                {"uuid": "c1", "firstName": "A", "lastName": "Target", "vehicles": [{"vin": "VIN123", "uuid": "v1", "make": "M"}, {"vin": "V2"}]},
                {"uuid": "c2", "lastName": "Other", "phones": ["1"], "vehicles": []}
            ],
            "total": 2
        });
        assert_eq!(
            projected(&plan, "search", &search),
            Some(serde_json::json!({"customers": [
                {"uuid": "c1", "lastName": "Target", "vehicles": [{"vin": "VIN123", "uuid": "v1"}, null]},
                {"uuid": "c2", "lastName": "Other", "vehicles": []}
            ]}))
        );
        let advisors = serde_json::json!({"advisors": [{"uuid": "a1", "name": "N"}, {"uuid": "a2"}], "dealer": "d"});
        assert_eq!(projected(&plan, "advisors", &advisors), Some(serde_json::json!({"advisors": [{"uuid": "a1"}, {"uuid": "a2"}]})));
        let slots = serde_json::json!({"requestId": "r", "slots": [{"start": "s1", "end": "e1"}, {"start": "s2"}]});
        assert_eq!(projected(&plan, "availability", &slots), Some(serde_json::json!({"slots": [{"start": "s1"}, null]})));
        let draft = serde_json::json!({"requestId": "r", "draftUuid": "d1", "status": "new"});
        assert_eq!(projected(&plan, "draft", &draft), Some(serde_json::json!({"draftUuid": "d1"})));
    }

    /// Where the plan of a recipe (`request` steps `r` and `q`, then `steps`) sieves `r`'s body.
    fn sieved(steps: &str) -> Option<Vec<Segment>> {
        sieved_at(steps, "r")
    }

    /// Where the plan of that recipe sieves `step`'s body.
    fn sieved_at(steps: &str, step: &str) -> Option<Vec<Segment>> {
        let text = format!(
            "recipe: 1\nname: x\ninputs: {{ vin: {{ type: string }} }}\nsteps:\n\
             - {{ id: r, request: {{ method: GET, url: 'http://127.0.0.1:9/r' }} }}\n\
             - {{ id: q, request: {{ method: GET, url: 'http://127.0.0.1:9/q' }} }}\n{steps}"
        );
        let plan = crate::check::load_str("x.yaml", &text).unwrap_or_else(|report| panic!("{text}\n{report:?}"));
        plan.reads.sieve(step).map(|sieve| sieve.at().to_vec())
    }

    #[test]
    fn a_selection_sieves_a_body_only_when_it_alone_reads_the_elements_and_can_test_them_before_they_are_built() {
        let plan = crate::check::load_str("benches/flow.yaml", include_str!("../benches/flow.yaml")).unwrap();
        assert_eq!(plan.reads.sieve("search").map(|sieve| sieve.at().to_vec()), Some(vec![key("customers")]));
        assert!(plan.reads.sieve("advisors").is_none(), "a pick without conditions keeps every element");
        let filter = |items: &str, condition: &str, extra: &str| {
            format!(
                "- {{ id: f, filter: {{ from: '{{{{ steps.r.body }}}}', items: '{items}', match: {{ {condition} }}{extra} }}, bind: {{ u: $.u }} }}\n"
            )
        };
        let plain = filter("$.data.list[*]", "'$.vin': '{{ inputs.vin }}'", "");
        assert_eq!(sieved(&plain), Some(vec![key("data"), key("list")]));
        // Another reader of the body, but not of the elements.
        assert!(sieved(&format!("{plain}- {{ id: s, set: {{ n: '{{{{ steps.r.body.data.total }}}}' }} }}\n")).is_some());
        for (why, steps) in [
            ("another reader of an element", format!("{plain}- {{ id: s, set: {{ n: '{{{{ steps.r.body.data.list[0].u }}}}' }} }}\n")),
            ("another reader of the list", format!("{plain}- {{ id: s, set: {{ n: '{{{{ steps.r.body.data.list | length }}}}' }} }}\n")),
            ("a second selection", format!("{plain}{}", filter("$.data.list[*]", "'$.u': x", "").replace("id: f", "id: g"))),
            ("no wildcard", filter("$.data.list", "'$.vin': x", "")),
            ("a filter in a condition", filter("$.data.list[*]", "'$.cars[?@.ok].vin': x", "")),
            ("a negative index in a condition", filter("$.data.list[*]", "'$.cars[-1].vin': x", "")),
            ("a computed expected value", filter("$.data.list[*]", "'$.vin': '{{ inputs.vin | upper }}'", "")),
            ("a `where` where the count matters", filter("$.data.list[*]", "'$.vin': x", ", where: '{{ item.u > 1 }}'")),
            (
                "vars bound in between",
                format!("- {{ id: s, set: {{ v: x }} }}\n{}", filter("$.data.list[*]", "'$.vin': '{{ vars.v }}'", "")),
            ),
        ] {
            assert_eq!(sieved(&steps), None, "{why}: {steps}");
        }
        // Any of an element's vehicles.
        assert!(sieved(&filter("$.data.list[*]", "'$.cars[*].vin': '{{ inputs.vin }}'", "")).is_some());
        // A `where` with `expect: all`, and `vars` that nothing binds between the request and
        // the selection.
        assert!(sieved(&filter("$.data.list[*]", "'$.vin': x", ", where: '{{ item.u > 1 }}', expect: all")).is_some());
        let vars = format!(
            "- {{ id: s, set: {{ v: x }} }}\n- {{ id: t, request: {{ method: GET, url: 'http://127.0.0.1:9/t' }} }}\n{}",
            filter("$.data.list[*]", "'$.vin': '{{ vars.v }}'", "")
        );
        assert_eq!(sieved_at(&vars.replace("steps.r.body", "steps.t.body"), "t"), Some(vec![key("data"), key("list")]));
    }

    #[test]
    fn what_cannot_be_followed_is_read_whole() {
        let text = "recipe: 1\nname: x\nsteps:\n\
            - { id: a, request: { method: GET, url: /a } }\n\
            - { id: b, request: { method: GET, url: /b } }\n\
            - { id: c, request: { method: GET, url: /c }, bind: { token: { regex: 'id=(\\d+)' } } }\n\
            - { id: d, request: { method: GET, url: /d } }\n\
            - { id: e, request: { method: GET, url: /e } }\n\
            - { id: f, request: { method: GET, url: /f } }\n\
            - { id: g, filter: { from: '{{ steps.f.body.list }}', where: '{{ item.x.y > 1 }}', expect: all } }\n\
            - id: s\n  set:\n    whole: '{{ steps.a.body }}'\n    count: '{{ steps.b.body.list | length }}'\n    \
                  computed: '{{ steps.d.body.map[steps.e.status] }}'\n    status: '{{ steps.e.status }}'\n    first: '{{ steps.g.items[0].z }}'\n";
        let plan = crate::check::load_str("x.yaml", text).unwrap();
        assert!(plan.reads.of("a").is_none() && plan.reads.of("c").is_none());
        let document = serde_json::json!({"list": [{"x": {"y": 2, "w": 1}, "z": 3, "v": 4}], "map": {"k": 1}, "n": 1});
        assert_eq!(projected(&plan, "b", &document), Some(serde_json::json!({"list": [{"x": {"y": 2, "w": 1}, "z": 3, "v": 4}]})));
        assert_eq!(projected(&plan, "d", &document), Some(serde_json::json!({"map": {"k": 1}})));
        assert_eq!(projected(&plan, "e", &document), Some(serde_json::json!({})));
        assert_eq!(projected(&plan, "f", &document), Some(serde_json::json!({"list": [{"x": {"y": 2}, "z": 3}]})));
    }

    #[test]
    fn api_error_envelopes_are_read_from_every_body() {
        let text = "recipe: 1\nname: x\nhttp: { api_errors: mykaarma }\nsteps:\n- { id: a, request: { method: GET, url: /a } }\n";
        let plan = crate::check::load_str("x.yaml", text).unwrap();
        let document = serde_json::json!({"errors": [{"code": 1}], "error": "e", "warnings": [], "statusCode": 500, "data": [1]});
        assert_eq!(
            projected(&plan, "a", &document),
            Some(serde_json::json!({"errors": [{"code": 1}], "error": "e", "warnings": [], "statusCode": 500}))
        );
    }
}
