//! Diagnostics: a problem found in a file, with where it is and what to do about it.
//!
//! This module owns the one renderer every static error goes through, so that all of them look
//! alike (`error: ...`, ` --> file:line:col`, the source line, a caret, then `hint: ...`). It does
//! not decide what is wrong; the front end (`decode`, `check`, `inputs`) builds the diagnostics.

use std::fmt::{self, Write as _};
use std::sync::Arc;

/// A position in a source file: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Span {
    pub line: usize,
    pub col: usize,
    /// How many characters the caret underlines (at least one is drawn).
    pub len: usize,
}

impl Span {
    pub fn new(line: usize, col: usize, len: usize) -> Self {
        Self { line, col, len }
    }

    /// The same place moved `chars` characters to the right, underlining `len` characters.
    #[must_use]
    pub fn shifted(self, chars: usize, len: usize) -> Self {
        Self { line: self.line, col: self.col + chars, len }
    }
}

/// A source file as the diagnostics see it: its display name and text.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: Arc<str>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        Self { name: name.into(), text: text.into() }
    }

    /// The text of a 1-based line, as the YAML parser numbers lines.
    fn line(&self, line: usize) -> Option<&str> {
        lines(&self.text).nth(line.checked_sub(1)?)
    }
}

/// The lines of `text`, split where YAML breaks lines: at `\r\n`, `\n` and a lone `\r`.
///
/// `str::lines` does not break at a lone `\r`, so it would number lines differently from the
/// parser and show the wrong line under a diagnostic.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        let line = &rest[..end];
        let width = if rest[end..].starts_with("\r\n") { 2 } else { usize::from(end < rest.len()) };
        rest = &rest[end + width..];
        Some(line)
    })
}

/// One problem: a message, where it is, and an optional hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub span: Option<Span>,
    /// Shown under the caret, e.g. the actual value.
    pub label: Option<String>,
    pub hints: Vec<String>,
    pub severity: Severity,
}

/// Whether a diagnostic stops the recipe (an error) or only points at a risk (a warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Severity {
    #[default]
    Error,
    Warning,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), span: None, label: None, hints: Vec::new(), severity: Severity::Error }
    }

    /// The same diagnostic as a warning: shown, but the recipe still runs.
    #[must_use]
    pub fn warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    pub fn at(message: impl Into<String>, span: Span) -> Self {
        Self { span: Some(span), ..Self::new(message) }
    }

    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Renders this diagnostic against its source file.
    pub fn render(&self, source: &Source) -> String {
        self.render_line(&source.name, self.span.and_then(|span| source.line(span.line)))
    }

    /// Renders this diagnostic with `text`, the source line its span points at.
    fn render_line(&self, name: &str, text: Option<&str>) -> String {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!("{level}: {}\n", self.message);
        if let Some(span) = self.span {
            let gutter = span.line.to_string().len();
            let pad = " ".repeat(gutter);
            let _ = writeln!(out, "{pad}--> {name}:{}:{}", span.line, span.col);
            if let Some(text) = text {
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(out, "{} | {}", span.line, text.trim_end());
                let width = span.len.max(1);
                let indent = " ".repeat(span.col.saturating_sub(1));
                let _ = write!(out, "{pad} | {indent}{}", "^".repeat(width));
                match &self.label {
                    Some(label) => {
                        let _ = writeln!(out, " {label}");
                    }
                    None => out.push('\n'),
                }
            }
        } else {
            let _ = writeln!(out, " --> {name}");
        }
        for hint in &self.hints {
            let _ = writeln!(out, "hint: {hint}");
        }
        out
    }
}

/// Every diagnostic found in one file, in source order.
#[derive(Debug, Clone)]
pub struct Report {
    pub source: Source,
    pub diagnostics: Vec<Diagnostic>,
}

/// The most diagnostics a report draws; the rest are counted in one line. The same mistake
/// repeated through a generated file would otherwise print tens of thousands of lines.
const SHOWN: usize = 50;

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sorted: Vec<&Diagnostic> = self.diagnostics.iter().collect();
        sorted.sort_by_key(|d| d.span);
        // The file's lines, found once: looking each diagnostic's line up from the start would
        // take time in the product of the file's size and the number of problems.
        let lines: Vec<&str> = if sorted.iter().any(|d| d.span.is_some()) { lines(&self.source.text).collect() } else { Vec::new() };
        for diagnostic in sorted.iter().take(SHOWN) {
            let text = diagnostic.span.and_then(|span| lines.get(span.line.checked_sub(1)?).copied());
            writeln!(f, "{}", diagnostic.render_line(&self.source.name, text))?;
        }
        if sorted.len() > SHOWN {
            writeln!(f, "... and {} more problem(s), not shown; fix the ones above first\n", sorted.len() - SHOWN)?;
        }
        let count = self.diagnostics.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "{}: {count} {noun} found", self.source.name)
    }
}

impl std::error::Error for Report {}

/// Collects diagnostics while a pass walks a file.
#[derive(Debug, Default)]
pub(crate) struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub(crate) fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub(crate) fn error(&mut self, span: Span, message: impl Into<String>) {
        self.push(Diagnostic::at(message, span));
    }

    /// How many were found so far.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

/// The closest candidate to `word`, if it is close enough to be a likely typo (the first of the
/// closest, when several are as close).
///
/// A generated recipe can ask this thousands of times over thousands of names in scope, so a
/// candidate is dropped as soon as it cannot beat the best so far: by its length first, then
/// row by row of the distance table, which is computed in two reused rows and never in full.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word: Vec<char> = word.chars().flat_map(char::to_lowercase).collect();
    let limit = (word.len() / 3).max(1);
    let mut table = Table::default();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        // Only a closer candidate than the best so far can change the answer.
        let bound = best.map_or(limit, |(distance, _)| distance - 1);
        if let Some(distance) = table.distance_within(&word, candidate, bound) {
            best = Some((distance, candidate));
            if distance == 0 {
                break;
            }
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// The rows of an edit-distance table, kept between candidates.
#[derive(Default)]
struct Table {
    other: Vec<char>,
    before: Vec<usize>,
    previous: Vec<usize>,
    current: Vec<usize>,
}

impl Table {
    /// The edit distance of `word` (lower-cased) and `other` (optimal string alignment: a swap
    /// of two neighbours counts once), case-insensitive, if it is at most `bound`.
    fn distance_within(&mut self, word: &[char], other: &str, bound: usize) -> Option<usize> {
        self.other.clear();
        self.other.extend(other.chars().flat_map(char::to_lowercase));
        let (a, b) = (word, &self.other);
        if a.len().abs_diff(b.len()) > bound {
            return None;
        }
        let width = b.len() + 1;
        for row in [&mut self.before, &mut self.previous, &mut self.current] {
            row.clear();
            row.resize(width, 0);
        }
        for (j, cell) in self.previous.iter_mut().enumerate() {
            *cell = j;
        }
        let mut previous_over = false;
        for i in 1..=a.len() {
            self.current[0] = i;
            for j in 1..width {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut best = (self.previous[j] + 1).min(self.current[j - 1] + 1).min(self.previous[j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    best = best.min(self.before[j - 2] + 1);
                }
                self.current[j] = best;
            }
            // A cell depends on the two rows above and the one to its left: two whole rows over
            // the bound mean every later one is too.
            let over = self.current.iter().all(|&cell| cell > bound);
            if over && previous_over {
                return None;
            }
            previous_over = over;
            std::mem::swap(&mut self.before, &mut self.previous);
            std::mem::swap(&mut self.previous, &mut self.current);
        }
        let distance = self.previous[b.len()];
        (distance <= bound).then_some(distance)
    }
}

/// Edit distance (optimal string alignment), case-insensitive, in full: the reference the
/// bounded one is tested against.
#[cfg(test)]
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut table = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in table.iter_mut().enumerate() {
        row[0] = i;
    }
    for j in 0..=b.len() {
        table[0][j] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[i - 1][j] + 1).min(table[i][j - 1] + 1).min(table[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[i - 2][j - 2] + 1);
            }
            table[i][j] = best;
        }
    }
    table[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("reqest", ["request", "filter"]), Some("request"));
        assert_eq!(did_you_mean("zzz", ["request", "filter"]), None);
    }

    #[test]
    fn the_bounded_distance_agrees_with_the_full_table() {
        let words = ["", "a", "ab", "ba", "abc", "acb", "request", "reqeust", "Request", "input_12", "inptu_12", "naïve", "NAÏVE", "xyzzy"];
        let mut table = Table::default();
        for a in words {
            let lowered: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
            for b in words {
                let full = edit_distance(a, b);
                for bound in 0..6 {
                    let expected = (full <= bound).then_some(full);
                    assert_eq!(table.distance_within(&lowered, b, bound), expected, "{a:?} {b:?} within {bound}");
                }
            }
        }
        // The first of the closest wins, as before.
        assert_eq!(did_you_mean("inptu_1", ["input_2", "input_1", "inptu_1x"]), Some("input_1"));
        assert_eq!(did_you_mean("abcd", ["abdc", "abce"]), Some("abdc"));
    }

    #[test]
    fn splits_lines_where_yaml_does() {
        assert_eq!(lines("a\nb\r\nc\rd\n").collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        assert_eq!(lines("a\n\nb").collect::<Vec<_>>(), ["a", "", "b"]);
        assert_eq!(lines("").count(), 0);
        let source = Source::new("r.yaml", "a: 1\rbad: 2\n");
        assert_eq!(source.line(2), Some("bad: 2"));
    }

    #[test]
    fn a_report_draws_fifty_problems_and_counts_the_rest_quickly() {
        // 20,000 problems, one per line of a 20,000-line file: each line is found once.
        let text = (0..20_000).map(|i| format!("  sett{i}: 1\n")).collect::<Vec<_>>().concat();
        let diagnostics = (1..=20_000).map(|line| Diagnostic::at("unknown key", Span::new(line, 3, 4))).collect();
        let report = Report { source: Source::new("big.yaml", text), diagnostics };
        let started = std::time::Instant::now();
        let shown = report.to_string();
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
        assert_eq!(shown.matches("error: unknown key").count(), SHOWN);
        assert!(shown.contains("50 |   sett49: 1\n") && !shown.contains("sett50"), "{shown}");
        assert!(shown.ends_with("... and 19950 more problem(s), not shown; fix the ones above first\n\nbig.yaml: 20000 problems found"));
    }

    #[test]
    fn renders_caret_under_the_span() {
        let source = Source::new("r.yaml", "a: 1\nbad: 2\n");
        let text = Diagnostic::at("unknown key `bad`", Span::new(2, 1, 3)).with_hint("did you mean `a`?").render(&source);
        assert_eq!(text, "error: unknown key `bad`\n --> r.yaml:2:1\n  |\n2 | bad: 2\n  | ^^^\nhint: did you mean `a`?\n");
    }
}
