//! Decoding of steps: the four actions, expectations, selections and bindings.

use super::BrokenStep;
use super::{
    ACTIONS, ASSERT_KEYS, BIND_KEYS, CALL_KEYS, CARDINALITIES, Decoder, EXPECT_KEYS, FILE_PART_KEYS, FILTER_KEYS, Fields, MATCHER_KEYS,
    METHODS, PAGINATE_KEYS, PICK_KEYS, REQUEST_KEYS, SELECTION_KEYS, STEP_KEYS, STRATEGIES,
};
use crate::diagnostic::Diagnostic;
use crate::model::{
    Action, Assertion, Binding, Call, Expect, FileField, Filter, Match, Matcher, MultipartField, Name, Paginate, Pick, Request, Selection,
    Step, Strategy,
};
use crate::yaml::{Key, Node, Value};

impl Decoder {
    /// A step; when its id decodes but the rest does not, what the check needs to know of it
    /// (its id and the names it binds), so that later steps reading it are not blamed too.
    pub(super) fn step(&mut self, node: &Node) -> Result<Step, Option<BrokenStep>> {
        let fields = self.fields(node, "a step", &[STEP_KEYS]).ok_or(None)?;
        let id = self.required(&fields, "id", "a step").and_then(|node| {
            let text = self.string(node)?;
            Some(self.name(&text, node.span, "step id"))
        });
        let actions: Vec<(&Key, &Node)> =
            fields.entries.iter().filter(|(key, _)| ACTIONS.contains(&key.text.as_str())).map(|(k, v)| (k, v)).collect();
        let action = match actions.as_slice() {
            [] => {
                self.problems.push(
                    Diagnostic::at("a step needs an action", fields.span)
                        .with_hint("give one of `request`, `filter`, `pick`, `set`, `fail` or `call`"),
                );
                None
            }
            [(key, value)] => self.action(key, value),
            [_, (second, _), ..] => {
                self.error(second.span, format!("a step has one action, but this one also has `{}`", second.text));
                None
            }
        };
        let expect = fields.get("expect").and_then(|node| {
            if !matches!(action, Some(Action::Request(_)) | None) {
                self.problems.push(
                    Diagnostic::at("`expect` belongs to request steps", node.span)
                        .with_hint("a filter states its cardinality in `filter.expect`"),
                );
            }
            self.expect(node)
        });
        let (bind, secret_binds) = fields.get("bind").map(|node| self.bindings(node)).unwrap_or_default();
        if let (Some(Action::Set(_)), false) = (&action, bind.is_empty()) {
            self.error(fields.get("bind").map_or(fields.span, |n| n.span), "a `set` step binds its own names; `bind` is not needed");
        }
        let max_items = fields.get("max_items").and_then(|node| match node.value {
            Value::Int(count) if count >= 1 => u32::try_from(count).ok(),
            _ => {
                self.expected(node, "a positive number of items");
                None
            }
        });
        let concurrency = fields.get("concurrency").and_then(|node| {
            if let Value::Int(count @ 1..=64) = node.value {
                u32::try_from(count).ok()
            } else {
                self.expected(node, "a number of elements at once, from 1 to 64");
                None
            }
        });
        let for_each = fields.get("for_each").and_then(|node| self.template_string(node));
        for key in ["max_items", "concurrency"] {
            if let (Some(node), None) = (fields.get(key), &for_each) {
                self.error(node.span, format!("`{key}` belongs with `for_each`"));
            }
        }
        let assert = match fields.get("assert") {
            None => Vec::new(),
            Some(Node { value: Value::Seq(items), .. }) => items.iter().filter_map(|item| self.assertion(item)).collect(),
            Some(other) => {
                self.expected(other, "a list of assertions");
                Vec::new()
            }
        };
        let description = self.optional_string(&fields, "description");
        let when = fields.get("when").and_then(|node| self.template_string(node));
        let optional = self.optional_bool(&fields, "optional").unwrap_or(false);
        let (id, action) = match (id, action) {
            (Some(id), Some(action)) => (id, action),
            (Some(id), None) => {
                let binds = bind.iter().map(|(name, _)| name.text.clone()).collect();
                return Err(Some(BrokenStep { position: 0, id: id.text, binds }));
            }
            (None, _) => return Err(None),
        };
        Ok(Step {
            id,
            description,
            when,
            optional,
            action,
            expect,
            bind,
            secret_binds,
            for_each,
            max_items,
            concurrency,
            assert,
            span: fields.span,
        })
    }

    /// `{ that: "{{ ... }}", message }` or `{ path: $.x, equals: ..., message }`.
    fn assertion(&mut self, node: &Node) -> Option<Assertion> {
        let fields = self.fields(node, "an assertion", &[ASSERT_KEYS])?;
        let that = fields.get("that").and_then(|node| self.template_string(node));
        let path = fields.get("path").and_then(|node| self.path(node));
        let xpath = fields.get("xpath").and_then(|node| self.xpath(node));
        let equals = fields.get("equals").map(|node| self.template(node));
        let pattern = fields.get("pattern").and_then(|node| self.string(node).map(|text| (text, node.span)));
        let regex = pattern.as_ref().and_then(|(text, span)| self.regex(text, *span));
        let has_path = fields.get("path").is_some();
        let kinds = ["that", "path", "xpath"].iter().filter(|key| fields.get(key).is_some()).count();
        if kinds != 1 {
            self.problems.push(Diagnostic::at("an assertion has one of `that`, `path` or `xpath`", fields.span).with_hint(
                "`that: \"{{ steps.ID.count > 0 }}\"`, `path: $.state` with `equals` or `pattern`, or `xpath: /order/state` on an XML body",
            ));
        } else if has_path && equals.is_none() && pattern.is_none() {
            self.error(fields.span, "an assertion on a `path` needs `equals` or `pattern`");
        }
        Some(Assertion {
            that,
            path,
            xpath,
            equals,
            pattern: pattern.map(|(text, _)| text),
            regex,
            message: fields.get("message").and_then(|node| self.template_string(node)),
            span: fields.span,
        })
    }

    fn paginate(&mut self, node: &Node) -> Option<Paginate> {
        let fields = self.fields(node, "paginate", &[PAGINATE_KEYS])?;
        let next = self.required(&fields, "next", "paginate").map(|node| self.template(node));
        // Written as a map, `next` changes `url` or `query`; anything else would fail after the
        // first page, so it is refused now.
        if let Some(crate::model::Template::Map(entries)) = &next {
            for (name, _) in entries.iter().filter(|(name, _)| !["url", "query"].contains(&name.text.as_str())) {
                let mut problem = Diagnostic::at(format!("`paginate.next` may change `url` and `query`, not `{}`", name.text), name.span);
                if let Some(suggestion) = crate::diagnostic::did_you_mean(&name.text, ["url", "query"]) {
                    problem = problem.with_hint(format!("did you mean `{suggestion}`?"));
                }
                self.problems.push(problem);
            }
        }
        let max_pages = fields.get("max_pages").and_then(|node| match node.value {
            Value::Int(count) if count >= 1 => u32::try_from(count).ok(),
            _ => {
                self.expected(node, "a positive number of pages");
                None
            }
        });
        Some(Paginate { next: next?, items: fields.get("items").and_then(|node| self.path(node)), max_pages })
    }

    fn action(&mut self, key: &Key, node: &Node) -> Option<Action> {
        match key.text.as_str() {
            "request" => self.request(node).map(|request| Action::Request(Box::new(request))),
            "fail" => self.template_string(node).map(Action::Fail),
            "call" => {
                let fields = self.fields(node, "a call", &[CALL_KEYS])?;
                let recipe_node = self.required(&fields, "recipe", "a call")?;
                let recipe = self.string(recipe_node)?;
                let inputs = fields.get("inputs").map(|node| self.template_map(node, "call inputs")).unwrap_or_default();
                Some(Action::Call(Call { recipe, recipe_span: recipe_node.span, inputs }))
            }
            "filter" => self.filter(node).map(Action::Filter),
            "pick" => self.pick(node).map(Action::Pick),
            _ => {
                let entries = self.user_map(node, "set");
                Some(Action::Set(entries.iter().map(|(k, v)| (self.name(&k.text, k.span, "variable name"), self.template(v))).collect()))
            }
        }
    }

    fn request(&mut self, node: &Node) -> Option<Request> {
        let fields = self.fields(node, "a request", &[REQUEST_KEYS])?;
        let method = self.required(&fields, "method", "a request").and_then(|node| self.keyword(node, "method", METHODS, true));
        let url = self.required(&fields, "url", "a request").and_then(|node| self.template_string(node));
        let bodies: Vec<&Key> =
            fields.entries.iter().map(|(k, _)| k).filter(|k| ["json", "form", "body", "multipart"].contains(&k.text.as_str())).collect();
        if let [_, second, ..] = bodies.as_slice() {
            self.error(second.span, format!("a request has one body, but this one also has `{}`", second.text));
        }
        // Every field is decoded before giving up on one, so each problem is reported.
        let query = fields.get("query").map(|node| self.template_map(node, "query")).unwrap_or_default();
        let headers = fields.get("headers").map(|node| self.headers(node)).unwrap_or_default();
        let json = fields.get("json").map(|node| self.template(node));
        let form = fields.get("form").map(|node| self.template_map(node, "form"));
        let body = fields.get("body").and_then(|node| self.template_string(node));
        let multipart = fields.get("multipart").map(|node| self.multipart(node));
        let timeout = fields.get("timeout").and_then(|node| self.duration(node));
        let retry = fields.get("retry").and_then(|node| self.retry(node));
        let idempotent = self.optional_bool(&fields, "idempotent");
        let paginate = fields.get("paginate").and_then(|node| self.paginate(node));
        let auth = fields.get("auth").and_then(|node| self.auth(node));
        let redirects = fields.get("redirects").and_then(|node| self.request_redirects(node));
        Some(Request {
            method: method?,
            url: url?,
            query,
            headers,
            json,
            form,
            body,
            multipart,
            timeout,
            retry,
            idempotent,
            paginate,
            auth,
            redirects,
        })
    }

    /// `multipart: { name: "text", upload: { file: report.csv, content_type: text/csv } }`.
    fn multipart(&mut self, node: &Node) -> Vec<(Name, MultipartField)> {
        let Value::Map(entries) = &node.value else {
            self.expected(node, "a map of fields (multipart)");
            return Vec::new();
        };
        let mut fields = Vec::new();
        for (key, value) in entries {
            let name = Name { text: key.text.clone(), span: key.span };
            let field = if let Value::Map(_) = value.value {
                let Some(part) = self.fields(value, "a file part", &[FILE_PART_KEYS]) else { continue };
                let Some(file) = self.required(&part, "file", "a file part") else { continue };
                let Some(file) = self.template_string(file) else { continue };
                MultipartField::File(FileField {
                    file,
                    content_type: self.optional_string(&part, "content_type"),
                    filename: self.optional_string(&part, "filename"),
                })
            } else {
                let Some(text) = self.template_string(value) else { continue };
                MultipartField::Text(text)
            };
            fields.push((name, field));
        }
        fields
    }

    fn expect(&mut self, node: &Node) -> Option<Expect> {
        let fields = self.fields(node, "expect", &[EXPECT_KEYS])?;
        let status = match fields.get("status") {
            None => Vec::new(),
            Some(node) => match &node.value {
                Value::Int(_) => self.status(node).into_iter().collect(),
                Value::Seq(items) => items.iter().filter_map(|item| self.status(item)).collect(),
                _ => {
                    self.expected(node, "a status code or a list of them");
                    Vec::new()
                }
            },
        };
        Some(Expect { status, json: self.optional_bool(&fields, "json"), api_errors: self.optional_bool(&fields, "api_errors") })
    }

    pub(super) fn status(&mut self, node: &Node) -> Option<u16> {
        match node.value {
            Value::Int(code) if (100..=599).contains(&code) => u16::try_from(code).ok(),
            _ => {
                self.expected(node, "an HTTP status code (100 to 599)");
                None
            }
        }
    }

    fn selection(&mut self, fields: &Fields, what: &str) -> Option<Selection> {
        let from = self.required(fields, "from", what).map(|node| self.template(node));
        let items = fields.get("items").and_then(|node| self.path(node));
        let entries = self.optional_bool(fields, "entries").unwrap_or(false);
        let matches = fields.get("match").map(|node| self.matches(node)).unwrap_or_default();
        let where_ = fields.get("where").and_then(|node| self.template_string(node));
        Some(Selection { from: from?, items, entries, matches, where_ })
    }

    fn matches(&mut self, node: &Node) -> Vec<Match> {
        let entries = self.user_map(node, "match");
        let mut matches = Vec::new();
        for (key, value) in entries {
            let path = self.path_text(&key.text, key.span);
            let matcher = self.matcher(value);
            if let (Some(path), Some(matcher)) = (path, matcher) {
                matches.push(Match { path, matcher });
            }
        }
        matches
    }

    fn matcher(&mut self, node: &Node) -> Option<Matcher> {
        let Value::Map(_) = node.value else {
            return Some(Matcher {
                equals: Some(self.template(node)),
                pattern: None,
                ignore_case: false,
                trim: false,
                regex: None,
                span: node.span,
            });
        };
        let fields = self.fields(node, "a match condition", &[MATCHER_KEYS])?;
        let pattern = self.optional_string(&fields, "pattern");
        let ignore_case = self.optional_bool(&fields, "ignore_case").unwrap_or(false);
        let regex = match (&pattern, fields.get("pattern")) {
            (Some(text), Some(node)) => self.regex_with_case(text, node.span, ignore_case),
            _ => None,
        };
        let equals = fields.get("equals").map(|node| self.template(node));
        if equals.is_none() && pattern.is_none() {
            self.problems.push(Diagnostic::at("a match condition needs `equals` or `pattern`", fields.span));
        }
        Some(Matcher { equals, pattern, ignore_case, trim: self.optional_bool(&fields, "trim").unwrap_or(false), regex, span: fields.span })
    }

    fn filter(&mut self, node: &Node) -> Option<Filter> {
        let fields = self.fields(node, "a filter", &[SELECTION_KEYS, FILTER_KEYS])?;
        let selection = self.selection(&fields, "a filter");
        let expect = fields.get("expect").and_then(|node| self.keyword(node, "cardinality", CARDINALITIES, false));
        Some(Filter {
            selection: selection?,
            expect: expect.unwrap_or_default(),
            describe: fields.get("describe").and_then(|node| self.template_string(node)),
        })
    }

    fn pick(&mut self, node: &Node) -> Option<Pick> {
        let fields = self.fields(node, "a pick", &[SELECTION_KEYS, PICK_KEYS])?;
        let selection = self.selection(&fields, "a pick");
        let strategy_node = fields.get("strategy");
        let strategy = strategy_node.and_then(|node| self.keyword(node, "strategy", STRATEGIES, false));
        let strategy = strategy.unwrap_or_default();
        let by = fields.get("by").and_then(|node| self.template_string(node));
        let prefer = fields.get("prefer").map(|node| self.template(node));
        let seed = fields.get("seed").and_then(|node| match node.value {
            Value::Int(seed) if seed >= 0 => Some(seed.unsigned_abs()),
            Value::UInt(seed) => Some(seed),
            _ => {
                self.expected(node, "a whole number from 0 to 18446744073709551615");
                None
            }
        });
        let span = strategy_node.map_or(fields.span, |node| node.span);
        let needs_by = matches!(strategy, Strategy::MinBy | Strategy::MaxBy | Strategy::Prefer);
        if needs_by && by.is_none() {
            self.error(span, "this strategy needs `by`, a template with `item` giving each item's key");
        }
        if strategy == Strategy::Prefer && prefer.is_none() {
            self.error(span, "strategy `prefer` needs `prefer`, the key value wanted");
        }
        if strategy != Strategy::Prefer && prefer.is_some() {
            self.error(fields.get("prefer").map_or(span, |n| n.span), "`prefer` is only used by strategy `prefer`");
        }
        if strategy != Strategy::Random && seed.is_some() {
            self.error(fields.get("seed").map_or(span, |n| n.span), "`seed` is only used by strategy `random`");
        }
        if !needs_by && by.is_some() {
            self.error(fields.get("by").map_or(span, |n| n.span), "`by` is only used by `min_by`, `max_by` and `prefer`");
        }
        let describe = fields.get("describe").and_then(|node| self.template_string(node));
        Some(Pick { selection: selection?, strategy, by, prefer, seed, describe })
    }

    /// The bindings, and the names bound as secrets.
    fn bindings(&mut self, node: &Node) -> (Vec<(Name, Binding)>, Vec<String>) {
        let entries = self.user_map(node, "bind");
        let mut bindings = Vec::new();
        let mut secrets = Vec::new();
        for (key, value) in entries {
            let name = self.name(&key.text, key.span, "variable name");
            let binding = match &value.value {
                Value::String(text, _) if text.starts_with('$') => self.path(value).map(Binding::Path),
                Value::Map(_) => self.full_binding(value, &name, &mut secrets),
                _ => Some(Binding::Template(self.template(value))),
            };
            // A binding that did not decode is reported; its name stays bound (as null, in a
            // recipe that never runs) so that its later reads are not blamed too.
            bindings.push((name, binding.unwrap_or(Binding::Template(crate::model::Template::Null))));
        }
        (bindings, secrets)
    }

    /// `{ path: $.x, secret: true }`, `{ value: "{{ ... }}", secret: true }`,
    /// `{ regex: 'id=(\d+)' }` or `{ xpath: /order/id }`.
    fn full_binding(&mut self, node: &Node, name: &Name, secrets: &mut Vec<String>) -> Option<Binding> {
        let fields = self.fields(node, "a binding", &[BIND_KEYS])?;
        if self.optional_bool(&fields, "secret").unwrap_or(false) {
            secrets.push(name.text.clone());
        }
        match (fields.get("path"), fields.get("value"), fields.get("regex"), fields.get("xpath")) {
            (Some(path), None, None, None) => self.path(path).map(Binding::Path),
            (None, Some(value), None, None) => Some(Binding::Template(self.template(value))),
            (None, None, Some(regex), None) => {
                let text = self.string(regex)?;
                self.regex(&text, regex.span).map(Binding::Regex)
            }
            (None, None, None, Some(xpath)) => self.xpath(xpath).map(Binding::XPath),
            _ => {
                self.error(fields.span, "a binding has one of `path`, `value`, `regex` or `xpath`");
                None
            }
        }
    }
}
