//! The front end (`recipe::load_str`) on malformed input: it never panics, every
//! diagnostic of a rejection has a place on a line of the file (lines counted as YAML counts
//! them), and the rendered report names the file as `name:line:col` and shows that line. A
//! bounded property test (fixed seed, no failure files) mutates the shipped recipes by structure
//! (lines, indentation, keys, scalar values, line breaks) and at random (truncation, inserted
//! characters); a cheap sweep truncates and corrupts `draft.yaml` at regular steps.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use recipe::hooks::yaml::{Node, Style, Value};

const RECIPES: [&str; 6] = ["draft", "customer-search", "opcodes", "advisors", "transport-options", "slots"];

/// Generated cases and the fixed seed they come from: about three seconds in a debug build.
const CASES: u32 = 1000;
const SEED: u64 = 0x7265_6369_7065;

/// Values a scalar is replaced with: other types, an unterminated template, a bad `JSONPath`, a
/// bad duration.
const REPLACEMENTS: [&str; 18] = [
    "42",
    "-1",
    "1.5",
    "true",
    "false",
    "null",
    "~",
    "[]",
    "[1, two]",
    "{}",
    "{ a: 1 }",
    "'{{'",
    "'{{ inputs.'",
    "'x {{ y'",
    "'$['",
    "soon",
    "''",
    "0s",
];

/// Entries added beside a key: known keys with bad values, so that the checks behind them run.
const ENTRIES: [&str; 10] = [
    "timeout: soon",
    "timeout: 0s",
    "items: '$['",
    "when: '{{ inputs.'",
    "expect: sometimes",
    "strategy: min_by",
    "seed: -1",
    "bind: { x: '$[' }",
    "pattern: '(['",
    "optional: maybe",
];

/// Problems the mutations must provoke at least once each, so that the generators stay useful.
const KINDS: [&str; 12] = [
    "invalid YAML",
    "duplicate key",
    "unknown key",
    "is missing the key",
    "expected a string",
    "expected a map",
    "invalid template",
    "invalid JSONPath",
    "invalid duration",
    "invalid regular expression",
    "no input named",
    "is not an earlier step",
];

/// Line breaks the recipes are tried with: YAML also breaks lines at `\r\n` and a lone `\r`.
const ENDINGS: [&str; 3] = ["\n", "\r\n", "\r"];

/// Characters that mean something to YAML, templates or `JSONPath`, inserted besides any `char`.
const SPECIAL: [char; 22] =
    [':', '{', '}', '[', ']', '"', '\'', '-', '\t', '&', '*', '|', '>', '$', '#', '!', '%', '@', '\n', '\r', '\u{feff}', '\0'];

/// One edit of a recipe's text; an [`Index`] picks a line, key, scalar or place in the text.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    Indent(Index, usize),
    ReplaceScalar(Index, &'static str),
    RenameKey(Index, Rename),
    DuplicateKey(Index),
    AddKey(Index, &'static str),
    Truncate(Index),
    InsertChar(Index, char),
}

/// How a key is renamed: a near miss (a character dropped, doubled or swapped) or an unknown key.
#[derive(Debug, Clone, Copy)]
enum Rename {
    Drop(Index),
    Double(Index),
    Swap(Index),
    Unknown,
}

fn rename() -> impl Strategy<Value = Rename> {
    prop_oneof![
        any::<Index>().prop_map(Rename::Drop),
        any::<Index>().prop_map(Rename::Double),
        any::<Index>().prop_map(Rename::Swap),
        Just(Rename::Unknown),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let index = any::<Index>;
    prop_oneof![
        1 => index().prop_map(Mutation::DeleteLine),
        1 => index().prop_map(Mutation::DuplicateLine),
        1 => (index(), index()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        1 => (index(), 0..=10usize).prop_map(|(line, indent)| Mutation::Indent(line, indent)),
        3 => (index(), select(&REPLACEMENTS[..])).prop_map(|(scalar, value)| Mutation::ReplaceScalar(scalar, value)),
        2 => (index(), rename()).prop_map(|(key, rename)| Mutation::RenameKey(key, rename)),
        1 => index().prop_map(Mutation::DuplicateKey),
        1 => (index(), select(&ENTRIES[..])).prop_map(|(key, entry)| Mutation::AddKey(key, entry)),
        1 => index().prop_map(Mutation::Truncate),
        1 => (index(), prop_oneof![any::<char>(), select(&SPECIAL[..])]).prop_map(|(at, c)| Mutation::InsertChar(at, c)),
    ]
}

/// A key or scalar value of the parsed text: its byte range, and how it sits in its line.
#[derive(Debug, Clone, Copy)]
struct Target {
    start: usize,
    end: usize,
    /// Where its line starts.
    line_start: usize,
    /// It is in a flow collection (`{ a: 1 }`, `[x]`).
    flow: bool,
    /// The key follows `- ` (the first key of a list item).
    item: bool,
}

/// The keys and the one-line scalar values of `text`, when it parses.
fn targets(text: &str) -> (Vec<Target>, Vec<Target>) {
    let mut keys = Vec::new();
    let mut scalars = Vec::new();
    if let Ok((root, _)) = recipe::hooks::yaml::parse(text) {
        let lines = lines_of(text);
        let mut start = 0;
        let starts: Vec<(usize, &str)> = lines
            .iter()
            .map(|line| {
                start += line.len();
                (start - line.len(), content(line))
            })
            .collect();
        walk(&starts, &root, &mut keys, &mut scalars);
    }
    (keys, scalars)
}

/// Collects targets below `node`; `lines` holds where each line starts, and its text.
fn walk(lines: &[(usize, &str)], node: &Node, keys: &mut Vec<Target>, scalars: &mut Vec<Target>) {
    match &node.value {
        Value::Seq(items) => items.iter().for_each(|item| walk(lines, item, keys, scalars)),
        Value::Map(entries) => {
            for (key, value) in entries {
                keys.extend(target(lines, key.span));
                walk(lines, value, keys, scalars);
            }
        }
        Value::String(_, Style::Block) => {}
        _ => scalars.extend(target(lines, node.span)),
    }
}

/// The byte range a span covers, when it lies within one line (for a quoted scalar with escapes
/// the range stops short of the closing quote, which still makes a useful mutation).
fn target(lines: &[(usize, &str)], span: recipe::hooks::Span) -> Option<Target> {
    let (line_start, line) = *lines.get(span.line.checked_sub(1)?)?;
    let mut boundaries = line.char_indices().map(|(offset, _)| offset).chain([line.len()]);
    let start = boundaries.nth(span.col.checked_sub(1)?)?;
    let end = if span.len == 0 { start } else { boundaries.nth(span.len - 1)? };
    if start == end {
        return None;
    }
    let before = line[..start].trim_start();
    Some(Target {
        start: line_start + start,
        end: line_start + end,
        line_start,
        flow: before.contains(['{', '[']),
        item: before.ends_with("- ") || before == "-",
    })
}

/// The lines of `text` where YAML breaks them (at `\r\n`, `\n` or a lone `\r`), each with its break.
fn lines_of(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(['\n', '\r']).map_or(rest.len(), |at| at + if rest[at..].starts_with("\r\n") { 2 } else { 1 });
        lines.push(&rest[..end]);
        rest = &rest[end..];
    }
    lines
}

/// A line without its break.
fn content(line: &str) -> &str {
    line.trim_end_matches(['\n', '\r'])
}

/// Joins edited lines; a line moved away from the end of the text gets a break.
fn join(mut lines: Vec<String>) -> String {
    let last = lines.len().saturating_sub(1);
    for line in &mut lines[..last] {
        if !line.ends_with(['\n', '\r']) {
            line.push('\n');
        }
    }
    lines.concat()
}

/// The byte offset of the `index`th place between characters (including both ends).
fn boundary(text: &str, index: Index) -> usize {
    let count = text.chars().count() + 1;
    text.char_indices().map(|(offset, _)| offset).chain([text.len()]).nth(index.index(count)).unwrap_or(text.len())
}

fn renamed(key: &str, rename: Rename) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut out = chars.clone();
    match rename {
        Rename::Drop(at) if chars.len() > 1 => {
            out.remove(at.index(chars.len()));
        }
        Rename::Double(at) => {
            let at = at.index(chars.len());
            out.insert(at, chars[at]);
        }
        Rename::Swap(at) if chars.len() > 1 => {
            let at = at.index(chars.len() - 1);
            out.swap(at, at + 1);
        }
        _ => return "zz_unknown".to_owned(),
    }
    out.into_iter().collect()
}

/// `text` with `entry` (`key: value`) added to the map that holds `target`: in a flow map just
/// before it, in a block map on a line of its own at its column (after a `- key:` line, else before).
fn beside(text: &str, target: Target, entry: &str) -> String {
    if target.flow {
        return format!("{}{entry}, {}", &text[..target.start], &text[target.start..]);
    }
    let column = text[target.line_start..target.start].chars().count();
    let line = format!("{}{entry}\n", " ".repeat(column));
    let at = if target.item { target.line_start + lines_of(&text[target.line_start..])[0].len() } else { target.line_start };
    let line = if at == text.len() && !text.ends_with(['\n', '\r']) { format!("\n{line}") } else { line };
    format!("{}{line}{}", &text[..at], &text[at..])
}

/// `text` with one mutation applied (unchanged when there is nothing to mutate).
fn apply(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<String> = lines_of(text).into_iter().map(str::to_owned).collect();
    let splice = |start: usize, end: usize, with: &str| format!("{}{with}{}", &text[..start], &text[end..]);
    match *mutation {
        Mutation::DeleteLine(_) | Mutation::DuplicateLine(_) | Mutation::SwapLines(..) | Mutation::Indent(..) if lines.is_empty() => {
            text.to_owned()
        }
        Mutation::DeleteLine(line) => {
            lines.remove(line.index(lines.len()));
            join(lines)
        }
        Mutation::DuplicateLine(line) => {
            let at = line.index(lines.len());
            lines.insert(at, lines[at].clone());
            join(lines)
        }
        Mutation::SwapLines(a, b) => {
            let count = lines.len();
            lines.swap(a.index(count), b.index(count));
            join(lines)
        }
        Mutation::Indent(line, indent) => {
            let at = line.index(lines.len());
            lines[at] = format!("{}{}", " ".repeat(indent), lines[at].trim_start_matches(' '));
            join(lines)
        }
        Mutation::ReplaceScalar(scalar, value) => {
            let (_, scalars) = targets(text);
            if scalars.is_empty() {
                return text.to_owned();
            }
            let target = scalars[scalar.index(scalars.len())];
            splice(target.start, target.end, value)
        }
        Mutation::RenameKey(key, rename) => {
            let (keys, _) = targets(text);
            if keys.is_empty() {
                return text.to_owned();
            }
            let target = keys[key.index(keys.len())];
            splice(target.start, target.end, &renamed(&text[target.start..target.end], rename))
        }
        Mutation::DuplicateKey(key) => {
            let (keys, _) = targets(text);
            if keys.is_empty() {
                return text.to_owned();
            }
            let target = keys[key.index(keys.len())];
            beside(text, target, &format!("{}: 1", &text[target.start..target.end]))
        }
        Mutation::AddKey(key, entry) => {
            let (keys, _) = targets(text);
            if keys.is_empty() {
                return text.to_owned();
            }
            beside(text, keys[key.index(keys.len())], entry)
        }
        Mutation::Truncate(at) => text[..boundary(text, at)].to_owned(),
        Mutation::InsertChar(at, c) => {
            let at = boundary(text, at);
            splice(at, at, c.encode_utf8(&mut [0; 4]))
        }
    }
}

/// Loads `text`; a rejection must place every diagnostic on a line of the text and name the file
/// at each place. Returns the messages of the rejection (none when the text loads).
fn check_located(name: &str, text: &str) -> Result<Vec<String>, String> {
    let Err(report) = recipe::load_str(name, text) else { return Ok(Vec::new()) };
    if report.diagnostics.is_empty() {
        return Err("rejected without a diagnostic".to_owned());
    }
    // Lines as YAML counts them: a lone `\r` breaks a line too.
    let lines: Vec<&str> = lines_of(text).into_iter().map(content).collect();
    let rendered = report.to_string();
    for diagnostic in &report.diagnostics {
        let Some(span) = diagnostic.span else {
            return Err(format!("no location for `{}`\n{rendered}", diagnostic.message));
        };
        if span.line == 0 || span.line > lines.len() + 1 || span.col == 0 {
            return Err(format!(
                "`{}` is at {}:{}, outside the {} lines\n{rendered}",
                diagnostic.message,
                span.line,
                span.col,
                lines.len()
            ));
        }
        let width = lines.get(span.line - 1).map_or(0, |line| line.chars().count());
        if span.col > width + 1 {
            return Err(format!("`{}` is at {}:{}, past the end of its line\n{rendered}", diagnostic.message, span.line, span.col));
        }
        let place = format!("{name}:{}:{}", span.line, span.col);
        if !rendered.contains(&place) {
            return Err(format!("the report does not name `{place}`\n{rendered}"));
        }
        // The line shown under the place is the line the parser meant.
        if let Some(line) = lines.get(span.line - 1) {
            let shown = format!("{} | {}", span.line, line.trim_end());
            if !rendered.contains(&shown) {
                return Err(format!("the report does not show line {} as `{shown}`\n{rendered}", span.line));
            }
        }
    }
    Ok(report.diagnostics.iter().map(|diagnostic| diagnostic.message.clone()).collect())
}

fn shipped() -> Vec<(String, String)> {
    RECIPES
        .iter()
        .map(|name| {
            let path = format!("recipes/{name}.yaml");
            let text = std::fs::read_to_string(crate::support::root().join(&path)).unwrap();
            (path, text)
        })
        .collect()
}

#[test]
fn mutated_recipes_are_rejected_at_a_place() {
    let recipes = shipped();
    for (name, text) in &recipes {
        for ending in ENDINGS {
            assert_eq!(check_located(name, &text.replace('\n', ending)), Ok(Vec::new()), "{name} loads with line breaks {ending:?}");
        }
    }
    let mut config = Config::with_cases(CASES);
    config.rng_seed = RngSeed::Fixed(SEED);
    config.failure_persistence = None;
    config.max_shrink_iters = 1024;
    let mut runner = TestRunner::new(config);
    let rejected = Cell::new(0u32);
    let seen: RefCell<BTreeSet<&str>> = RefCell::new(BTreeSet::new());
    let ending = prop_oneof![6 => Just(ENDINGS[0]), 1 => Just(ENDINGS[1]), 1 => Just(ENDINGS[2])];
    let result = runner.run(&(any::<Index>(), ending, vec(mutation(), 1..=3)), |(recipe, ending, mutations)| {
        let (name, original) = &recipes[recipe.index(recipes.len())];
        let text = mutations.iter().fold(original.replace('\n', ending), |text, mutation| apply(&text, mutation));
        let messages = check_located(name, &text)
            .map_err(|problem| TestCaseError::fail(format!("{problem}\n--- {name} ---\n{}", text.replace('\r', "\\r"))))?;
        rejected.set(rejected.get() + u32::from(!messages.is_empty()));
        seen.borrow_mut().extend(KINDS.iter().filter(|kind| messages.iter().any(|message| message.contains(*kind))));
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    let missed: Vec<&str> = KINDS.into_iter().filter(|kind| !seen.borrow().contains(kind)).collect();
    assert!(missed.is_empty(), "no mutation was rejected with {missed:?}");
    assert!(rejected.get() > CASES / 2, "most mutations should break a recipe, only {} of {CASES} did", rejected.get());
}

#[test]
fn truncated_and_corrupted_recipes_are_rejected_at_a_place() {
    let text = std::fs::read_to_string(crate::support::root().join("recipes/draft.yaml")).unwrap();
    let mut checked = 0;
    for (index, _) in text.char_indices().step_by(31) {
        let prefix = &text[..index];
        check_located("prefix.yaml", prefix).unwrap_or_else(|problem| panic!("{problem}\n--- prefix ---\n{prefix}"));
        checked += 1;
    }
    let chars: Vec<char> = text.chars().collect();
    for (position, replacement) in (0..chars.len()).step_by(53).zip(SPECIAL.iter().chain(['é', '€', '\u{1F600}'].iter()).cycle()) {
        let mut corrupted = chars.clone();
        corrupted[position] = *replacement;
        let corrupted: String = corrupted.into_iter().collect();
        check_located("corrupt.yaml", &corrupted).unwrap_or_else(|problem| panic!("{problem}\n--- corrupted ---\n{corrupted}"));
        checked += 1;
    }
    assert!(checked > 400);
}
