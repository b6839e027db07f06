//! Finding curl commands in documentation text and splitting them into words, as a POSIX shell
//! would: quotes (single, double, `$'...'`), backslash escapes, line continuations, comments,
//! and `$NAME` expansions, which become `{{NAME}}` placeholders.
//!
//! Vendor pages mix commands with prose, and are not always valid shell: a command may forget
//! the `\` before its next line. So a line that starts with an option (`--data`, `-H`) right
//! after a command continues it. The command ends at a pipe, `;`, `&&` or a redirection; what
//! follows is not curl's. This module knows nothing of curl's options (that is `options`).

use std::collections::BTreeSet;

/// One curl command: its words after `curl`, and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Command {
    /// The line of `curl`, from 1.
    pub line: usize,
    /// The line after its last one.
    pub end_line: usize,
    pub words: Vec<String>,
    /// Shell variables the command expands (`$TOKEN`), written into the words as `{{TOKEN}}`.
    pub shell_vars: BTreeSet<String>,
}

/// The text split into commands and the prose lines around them.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub commands: Vec<Command>,
    /// Lines outside commands, with their numbers (from 1).
    pub prose: Vec<(usize, String)>,
}

/// A quote that is never closed: the line where it opened, and which quote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: the {quote} opened here is never closed")]
pub struct Unterminated {
    pub line: usize,
    pub quote: &'static str,
}

/// Splits documentation text into curl commands and prose. An unterminated quote is an error
/// naming the line where it opened.
pub(crate) fn scan(text: &str) -> Result<Scan, Unterminated> {
    let text = text.replace("\r\n", "\n");
    let starts = line_starts(&text);
    let mut scan = Scan::default();
    let mut line = 0;
    while line < starts.len() {
        let start = starts[line];
        let end = starts.get(line + 1).map_or(text.len(), |next| next - 1);
        let content = &text[start..end];
        if let Some(offset) = curl_offset(content) {
            let mut reader = Reader { text: &text, position: start + offset + "curl".len(), vars: BTreeSet::new() };
            let words = reader.command()?;
            let end_line = starts.partition_point(|&s| s < reader.position).max(line + 1);
            scan.commands.push(Command { line: line + 1, end_line: end_line + 1, words, shell_vars: reader.vars });
            line = end_line;
        } else {
            scan.prose.push((line + 1, content.to_owned()));
            line += 1;
        }
    }
    Ok(scan)
}

fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0).chain(text.match_indices('\n').map(|(index, _)| index + 1).filter(|&index| index < text.len())).collect()
}

/// Where `curl` starts on a line that runs it, after an optional prompt (`$ `, `% `, `> `).
fn curl_offset(line: &str) -> Option<usize> {
    let trimmed = line.trim_start();
    let mut offset = line.len() - trimmed.len();
    let mut rest = trimmed;
    for prompt in ["$ ", "% ", "> "] {
        if let Some(after) = rest.strip_prefix(prompt) {
            offset += prompt.len() + (after.len() - after.trim_start().len());
            rest = after.trim_start();
            break;
        }
    }
    let after = rest.strip_prefix("curl")?;
    (after.is_empty() || after.starts_with([' ', '\t', '\\'])).then_some(offset)
}

/// Whether a line continues the command before it although that line did not end with `\`:
/// it starts with an option.
fn continues(line: &str) -> bool {
    let trimmed = line.trim_start();
    let dashes = trimmed.len() - trimmed.trim_start_matches('-').len();
    (1..=2).contains(&dashes) && trimmed[dashes..].starts_with(|c: char| c.is_ascii_alphanumeric())
}

struct Reader<'a> {
    text: &'a str,
    position: usize,
    vars: BTreeSet<String>,
}

impl Reader<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.position..].chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.position += c.len_utf8();
        Some(c)
    }

    fn line_of(&self, position: usize) -> usize {
        self.text[..position].matches('\n').count() + 1
    }

    /// Reads words up to the end of the command; `position` is left after it.
    fn command(&mut self) -> Result<Vec<String>, Unterminated> {
        let mut words = Vec::new();
        let mut word: Option<String> = None;
        while let Some(c) = self.next() {
            match c {
                ' ' | '\t' => words.extend(word.take()),
                '\n' => {
                    words.extend(word.take());
                    let rest = &self.text[self.position..];
                    let next_line = rest.split('\n').next().unwrap_or_default();
                    if !continues(next_line) {
                        return Ok(words);
                    }
                }
                '\\' => self.backslash(&mut words, &mut word),
                '\'' => word.get_or_insert_default().push_str(&self.single_quoted()?),
                '"' => {
                    let text = self.double_quoted()?;
                    word.get_or_insert_default().push_str(&text);
                }
                '$' if self.peek() == Some('\'') => {
                    self.next();
                    let text = self.ansi_c_quoted()?;
                    word.get_or_insert_default().push_str(&text);
                }
                '$' => {
                    let expansion = self.expansion();
                    word.get_or_insert_default().push_str(&expansion);
                }
                '#' if word.is_none() => self.skip_line(),
                '|' | ';' | '>' | '<' => {
                    words.extend(word.take());
                    self.skip_logical_line();
                    return Ok(words);
                }
                '&' if self.peek() == Some('&') || word.is_none() => {
                    words.extend(word.take());
                    self.skip_logical_line();
                    return Ok(words);
                }
                other => word.get_or_insert_default().push(other),
            }
        }
        words.extend(word);
        Ok(words)
    }

    /// `\` outside quotes: a line continuation (also with stray blanks before the newline), or
    /// the next character as is. A continuation always ends the word: a shell would join
    /// `a\` + newline + `b`, but documentation always means a break there.
    fn backslash(&mut self, words: &mut Vec<String>, word: &mut Option<String>) {
        let rest = &self.text[self.position..];
        let blanks = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        if rest[blanks..].starts_with('\n') || rest[blanks..].is_empty() {
            self.position += blanks + usize::from(rest[blanks..].starts_with('\n'));
            words.extend(word.take());
            return;
        }
        if let Some(c) = self.next() {
            word.get_or_insert_default().push(c);
        }
    }

    fn unterminated(&self, opened: usize, quote: &'static str) -> Unterminated {
        Unterminated { line: self.line_of(opened), quote }
    }

    fn single_quoted(&mut self) -> Result<String, Unterminated> {
        let opened = self.position - 1;
        let rest = &self.text[self.position..];
        let Some(end) = rest.find('\'') else { return Err(self.unterminated(opened, "single quote")) };
        self.position += end + 1;
        Ok(rest[..end].to_owned())
    }

    fn double_quoted(&mut self) -> Result<String, Unterminated> {
        let opened = self.position - 1;
        let mut text = String::new();
        loop {
            match self.next() {
                None => return Err(self.unterminated(opened, "double quote")),
                Some('"') => return Ok(text),
                Some('\\') => match self.next() {
                    Some('\n') => {}
                    Some(c @ ('"' | '\\' | '$' | '`')) => text.push(c),
                    Some(c) => {
                        text.push('\\');
                        text.push(c);
                    }
                    None => return Err(self.unterminated(opened, "double quote")),
                },
                Some('$') => text.push_str(&self.expansion()),
                Some(c) => text.push(c),
            }
        }
    }

    fn ansi_c_quoted(&mut self) -> Result<String, Unterminated> {
        let opened = self.position - 2;
        let mut text = String::new();
        loop {
            match self.next() {
                None => return Err(self.unterminated(opened, "`$'` quote")),
                Some('\'') => return Ok(text),
                Some('\\') => match self.next() {
                    Some('n') => text.push('\n'),
                    Some('t') => text.push('\t'),
                    Some('r') => text.push('\r'),
                    Some(c @ ('\'' | '"' | '\\')) => text.push(c),
                    Some(c) => {
                        text.push('\\');
                        text.push(c);
                    }
                    None => return Err(self.unterminated(opened, "`$'` quote")),
                },
                Some(c) => text.push(c),
            }
        }
    }

    /// After `$`: `NAME` or `{NAME}` becomes the placeholder `{{NAME}}`; anything else is a
    /// literal `$`.
    fn expansion(&mut self) -> String {
        let rest = &self.text[self.position..];
        let braced = rest.starts_with('{');
        let body = if braced { &rest[1..] } else { rest };
        let length = body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(body.len());
        let name = &body[..length];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) || (braced && !body[length..].starts_with('}')) {
            return "$".into();
        }
        self.position += length + if braced { 2 } else { 0 };
        self.vars.insert(name.to_owned());
        format!("{{{{{name}}}}}")
    }

    fn skip_line(&mut self) {
        let rest = &self.text[self.position..];
        self.position += rest.find('\n').unwrap_or(rest.len());
    }

    /// Skips what follows a pipe or a separator, up to the end of the (possibly continued) line.
    fn skip_logical_line(&mut self) {
        loop {
            let rest = &self.text[self.position..];
            let Some(end) = rest.find('\n') else {
                self.position = self.text.len();
                return;
            };
            self.position += end + 1;
            if !rest[..end].trim_end().ends_with('\\') {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<String>> {
        scan(text).unwrap().commands.into_iter().map(|command| command.words).collect()
    }

    #[test]
    fn splits_quotes_escapes_and_continuations() {
        let text = "curl -X POST 'https://x/a b' \\\n  -H \"A: \\\"q\\\"\" \\  \n  --data $'x\\ny' -d a\\ b\n";
        assert_eq!(words(text), vec![vec!["-X", "POST", "https://x/a b", "-H", "A: \"q\"", "--data", "x\ny", "-d", "a b"]]);
    }

    #[test]
    fn a_line_starting_with_an_option_continues_the_command() {
        let text = "curl 'https://x' \\\n--header 'A: b'\n--data '{\n\"a\": 1\n}'\n\nNext paragraph\n";
        let scan = scan(text).unwrap();
        assert_eq!(scan.commands[0].words, vec!["https://x", "--header", "A: b", "--data", "{\n\"a\": 1\n}"]);
        assert_eq!(scan.commands[0].end_line, 6);
        assert_eq!(scan.prose.iter().map(|(line, _)| *line).collect::<Vec<_>>(), vec![6, 7]);
    }

    #[test]
    fn skips_prose_prompts_pipes_and_comments() {
        let text = "Run:\n$ curl https://x | jq .\ncurling is a sport\ncurl -s \"https://y?t=$TOKEN\" # fetch\n";
        let scan = scan(text).unwrap();
        assert_eq!(
            scan.commands.iter().map(|c| c.words.clone()).collect::<Vec<_>>(),
            vec![vec!["https://x"], vec!["-s", "https://y?t={{TOKEN}}"]]
        );
        assert_eq!(scan.commands[1].shell_vars.iter().collect::<Vec<_>>(), vec!["TOKEN"]);
        assert_eq!(scan.prose.len(), 2);
    }

    #[test]
    fn an_unterminated_quote_names_its_line() {
        let error = scan("text\ncurl -d '{\n").unwrap_err();
        assert_eq!(error, Unterminated { line: 2, quote: "single quote" });
        assert_eq!(error.to_string(), "line 2: the single quote opened here is never closed");
    }
}
