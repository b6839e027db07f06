//! `.env` files, read by the rules of the `dotenvy` crate (0.15), so a file that works with the
//! tools integrators already use works here too. Written here rather than depended on: dotenvy
//! reads the process environment itself, and its errors quote the whole line, which may hold a
//! secret; ours name the line and the variable, never the value.
//!
//! The rules:
//! - `NAME=value`, with optional spaces around `=` and an optional `export ` before the name. A
//!   name starts with a letter or `_` and goes on with letters, digits, `_` and `.`.
//! - Blank lines and lines starting with `#` are ignored; so is a UTF-8 byte order mark.
//! - An unquoted value ends at whitespace, and only a `# comment` may follow it
//!   (`KEY=value # comment`); a `#` inside a value (`KEY=a#b`) is part of it.
//! - `'single quotes'` keep everything literally. In `"double quotes"` and unquoted values, a
//!   backslash escapes `\`, `'`, `"`, `$` and space, and `\n` is a newline; any other escape is an
//!   error. Quoted parts and unquoted parts join (`a"b c"d` is `ab cd`).
//! - A quoted value may span lines; a quote never closed is an error naming the line it opens on.
//! - Outside single quotes, `$NAME` and `${NAME}` are replaced by the process environment's value,
//!   else by an earlier value of the file, else by nothing; write `\$` for a dollar sign.
//! - When a name appears twice, the first value is kept (as dotenvy does when it loads a file).

use std::collections::BTreeMap;

/// A line of a `.env` file that cannot be read: its number (1-based) and why. It names the
/// variable, never its value (it may be a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct DotenvError {
    pub(crate) line: usize,
    pub(crate) problem: Problem,
}

/// What is wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Problem {
    #[error("expected `=` after the variable name (lines are `NAME=value`)")]
    NoEquals,
    #[error("expected a variable name (lines are `NAME=value`; a name starts with a letter or `_`)")]
    NoName,
    #[error("the value of `{0}` {1}")]
    Value(String, ValueProblem),
}

/// What is wrong with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ValueProblem {
    #[error("has a space in it; quote the value (`NAME=\"a b\"`), or escape the space with `\\`")]
    Space,
    #[error("has an invalid escape; the escapes are `\\\\`, `\\'`, `\\\"`, `\\$`, `\\ ` and `\\n`")]
    Escape,
    #[error("opens a `{0}` quote that is never closed")]
    Unclosed(char),
    #[error("has a `${{` without its `}}`")]
    Brace,
}

/// Parses a `.env` file. `lookup` reads the process environment for `$NAME` substitutions. An
/// error names the line (1-based) and the variable, never its value.
pub(crate) fn parse(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<BTreeMap<String, String>, DotenvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    // What `$NAME` reads from the file: the latest value, as dotenvy substitutes.
    let mut earlier: BTreeMap<String, String> = BTreeMap::new();
    for (line, entry) in entries(text) {
        let Some((name, raw)) = split(&entry).map_err(|problem| DotenvError { line, problem })? else { continue };
        let value = value(raw, &|name: &str| lookup(name).or_else(|| earlier.get(name).cloned()))
            .map_err(|problem| DotenvError { line, problem: Problem::Value(name.to_owned(), problem) })?;
        earlier.insert(name.to_owned(), value.clone());
        values.entry(name.to_owned()).or_insert(value);
    }
    Ok(values)
}

/// Where a line's scan ends, as dotenvy's reader tracks it to join the lines of a quoted value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scan {
    Complete,
    Whitespace,
    Escape,
    Weak,
    WeakEscape,
    Strong,
}

/// The logical entries of the file, each with the line it starts on: a quoted value that spans
/// lines is one entry; an inline `# comment` after whitespace is cut off.
fn entries(text: &str) -> Vec<(usize, String)> {
    let mut entries = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    let mut scan = Scan::Complete;
    for (index, physical) in text.split_inclusive('\n').enumerate() {
        if current.is_empty() {
            start = index + 1;
            if physical.trim_start().starts_with('#') {
                continue;
            }
        }
        let offset = current.len();
        current.push_str(physical);
        let (end, comment) = scan_line(&mut scan, &current[offset..]);
        if comment {
            current.truncate(offset + end);
        }
        if comment || scan == Scan::Complete {
            let entry = std::mem::take(&mut current);
            let entry = entry.strip_suffix('\n').map_or(entry.as_str(), |e| e.strip_suffix('\r').unwrap_or(e));
            entries.push((start, entry.to_owned()));
            scan = Scan::Complete;
        }
    }
    if !current.is_empty() {
        // A quote still open at the end of the file: the value's parse reports it.
        entries.push((start, current));
    }
    entries
}

/// Advances `scan` over `line`; returns where a `# comment` starts, if one does.
fn scan_line(scan: &mut Scan, line: &str) -> (usize, bool) {
    for (position, c) in line.char_indices() {
        *scan = match (*scan, c) {
            (Scan::Whitespace, '#') => return (position, true),
            (Scan::Complete | Scan::Whitespace, '\\') => Scan::Escape,
            (Scan::Complete | Scan::Whitespace, '"') => Scan::Weak,
            (Scan::Complete | Scan::Whitespace, '\'') => Scan::Strong,
            (Scan::Complete | Scan::Whitespace, c) if c.is_whitespace() && c != '\n' && c != '\r' => Scan::Whitespace,
            (Scan::Complete | Scan::Whitespace | Scan::Escape, _) => Scan::Complete,
            (Scan::Weak, '\\') => Scan::WeakEscape,
            (Scan::Weak, '"') | (Scan::Strong, '\'') => Scan::Complete,
            (Scan::Weak | Scan::WeakEscape, _) => Scan::Weak,
            (Scan::Strong, _) => Scan::Strong,
        };
    }
    (line.len(), false)
}

/// `NAME=raw value`, or `None` for a blank line.
fn split(entry: &str) -> Result<Option<(&str, &str)>, Problem> {
    let rest = entry.trim_start();
    if rest.trim_end().is_empty() || rest.starts_with('#') {
        return Ok(None);
    }
    let (mut name, mut rest) = key(rest)?;
    rest = rest.trim_start();
    // `export` is a prefix, unless it is the name itself (`export=1`).
    if name == "export" && !rest.starts_with('=') {
        (name, rest) = key(rest)?;
        rest = rest.trim_start();
    }
    let Some(rest) = rest.strip_prefix('=') else {
        // Not even the name: a line without `=` may be a pasted secret.
        return Err(Problem::NoEquals);
    };
    let rest = rest.trim_start().trim_end();
    Ok(Some((name, if rest.starts_with('#') { "" } else { rest })))
}

fn key(text: &str) -> Result<(&str, &str), Problem> {
    if !text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return Err(Problem::NoName);
    }
    let end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(text.len());
    Ok((&text[..end], &text[end..]))
}

/// A value by dotenvy's rules (quotes, escapes, inline comments, substitutions). The problems
/// never quote the value: it may be a secret.
fn value(raw: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, ValueProblem> {
    let mut out = String::new();
    let (mut strong, mut weak, mut escaped, mut ending) = (false, false, false, false);
    // `Some(braced)` while reading a `$NAME` or `${NAME}`.
    let mut substitution: Option<bool> = None;
    let mut name = String::new();
    let substitute = |name: &mut String, out: &mut String| {
        out.push_str(&lookup(name).unwrap_or_default());
        name.clear();
    };
    for c in raw.chars() {
        if ending {
            match c {
                ' ' | '\t' => {}
                '#' => break,
                _ => return Err(ValueProblem::Space),
            }
        } else if escaped {
            match c {
                '\\' | '\'' | '"' | '$' | ' ' => out.push(c),
                'n' => out.push('\n'),
                _ => return Err(ValueProblem::Escape),
            }
            escaped = false;
        } else if strong {
            if c == '\'' {
                strong = false;
            } else {
                out.push(c);
            }
        } else if let Some(braced) = substitution {
            if c.is_alphanumeric() {
                name.push(c);
            } else if braced {
                if c == '}' {
                    substitution = None;
                    substitute(&mut name, &mut out);
                } else {
                    name.push(c);
                }
            } else if c == '{' && name.is_empty() {
                substitution = Some(true);
            } else {
                substitute(&mut name, &mut out);
                if c == '$' {
                    substitution = Some(false);
                } else {
                    substitution = None;
                    out.push(c);
                }
            }
        } else if c == '$' {
            substitution = Some(false);
        } else if weak {
            match c {
                '"' => weak = false,
                '\\' => escaped = true,
                _ => out.push(c),
            }
        } else {
            match c {
                '\'' => strong = true,
                '"' => weak = true,
                '\\' => escaped = true,
                ' ' | '\t' => ending = true,
                _ => out.push(c),
            }
        }
    }
    if strong || weak {
        let quote = if strong { '\'' } else { '"' };
        return Err(ValueProblem::Unclosed(quote));
    }
    if substitution == Some(true) {
        return Err(ValueProblem::Brace);
    }
    if substitution.is_some() {
        substitute(&mut name, &mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<BTreeMap<String, String>, DotenvError> {
        parse(text, &|name: &str| (name == "FROM_ENV").then(|| "process".to_owned()))
    }

    fn one(text: &str) -> String {
        let values = read(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(values.len(), 1, "{values:?}");
        values.into_values().next().unwrap()
    }

    #[test]
    fn plain_values_names_and_export() {
        let values = read("A=1\n  B = two\nexport C=3\nexport   D.x_1=4\nexport=5\n_E=\n").unwrap();
        let expected: Vec<(&str, &str)> = vec![("A", "1"), ("B", "two"), ("C", "3"), ("D.x_1", "4"), ("_E", ""), ("export", "5")];
        assert_eq!(values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn quotes() {
        assert_eq!(one("K='a b # c $X \\n'"), "a b # c $X \\n");
        assert_eq!(one("K=\"a b\""), "a b");
        assert_eq!(one("K=a\"b c\"d"), "ab cd");
        assert_eq!(one("K='it'\\''s'"), "it's");
        assert_eq!(one("K=\"\""), "");
    }

    #[test]
    fn escapes() {
        assert_eq!(one(r#"K="say \"hi\" \\ \$5\nnext""#), "say \"hi\" \\ $5\nnext");
        assert_eq!(one(r"K=my\ cool\ value"), "my cool value");
        assert_eq!(one(r"K=\$HOME"), "$HOME");
    }

    #[test]
    fn inline_comments_need_whitespace_before_them() {
        assert_eq!(one("K=value # a comment"), "value");
        assert_eq!(one("K=value\t#tab"), "value");
        assert_eq!(one("K=\"quoted # not a comment\" # a comment with an apostrophe: it's"), "quoted # not a comment");
        assert_eq!(one("K=a#b"), "a#b");
        assert_eq!(one("K= # only a comment"), "");
        assert_eq!(read("# K=1\n   # indented comment\n\n").unwrap(), BTreeMap::new());
    }

    #[test]
    fn a_bom_and_crlf_line_ends_are_ignored() {
        let values = read("\u{feff}A=1\r\nB=\"two\"\r\n").unwrap();
        assert_eq!(values["A"], "1");
        assert_eq!(values["B"], "two");
    }

    #[test]
    fn quoted_values_span_lines() {
        let values = read("KEY=\"-----BEGIN\nline two\n-----END\"\nNEXT=1\n").unwrap();
        assert_eq!(values["KEY"], "-----BEGIN\nline two\n-----END");
        assert_eq!(values["NEXT"], "1");
    }

    #[test]
    fn substitutions() {
        let values = read("A=x\nB=$A-${A}\nC=\"${FROM_ENV}\"\nD='$A'\nE=$MISSING.\nF=$A_1\n").unwrap();
        assert_eq!(values["B"], "x-x");
        assert_eq!(values["C"], "process");
        assert_eq!(values["D"], "$A");
        assert_eq!(values["E"], ".");
        // `_` ends a name, as in dotenvy.
        assert_eq!(values["F"], "x_1");
    }

    #[test]
    fn the_first_value_of_a_name_is_kept() {
        assert_eq!(read("A=1\nA=2\n").unwrap()["A"], "1");
    }

    #[test]
    fn errors_name_the_line_and_the_variable_but_never_the_value() {
        let cases = [
            ("A=1\nTOKEN=\"s3cret-value\n", "line 2: the value of `TOKEN` opens a `\"` quote that is never closed"),
            ("A=1\n\nTOKEN='s3cret-value\nB=2\n", "line 3: the value of `TOKEN` opens a `'` quote that is never closed"),
            (
                "TOKEN=s3cret value\n",
                "line 1: the value of `TOKEN` has a space in it; quote the value (`NAME=\"a b\"`), or escape the space with `\\`",
            ),
            (
                "TOKEN=s3cret\\q\n",
                "line 1: the value of `TOKEN` has an invalid escape; the escapes are `\\\\`, `\\'`, `\\\"`, `\\$`, `\\ ` and `\\n`",
            ),
            ("TOKEN=${s3cret\n", "line 1: the value of `TOKEN` has a `${` without its `}`"),
            ("A=1\n-s3cret-value\n", "line 2: expected a variable name (lines are `NAME=value`; a name starts with a letter or `_`)"),
            ("A=1\ns3cret-value\n", "line 2: expected `=` after the variable name (lines are `NAME=value`)"),
            ("TOKEN s3cret\n", "line 1: expected `=` after the variable name (lines are `NAME=value`)"),
        ];
        for (text, expected) in cases {
            let error = read(text).unwrap_err().to_string();
            assert_eq!(error, expected, "{text:?}");
            assert!(!error.contains("s3cret"), "{error}");
        }
    }
}
