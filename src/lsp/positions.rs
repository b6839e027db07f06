//! Places in a document: the checker's 1-based line and character column, the editor's 0-based
//! line and UTF-16 offset, and byte offsets into the text.
//!
//! Lines are split at `\n` (a `\r` before it is part of no character an editor counts), as
//! editors and the checker's `inside` do. It does not decide what is at a place; the other files
//! of the server do.

use lsp_types::{Position, Range};

use crate::diagnostic::Span;

/// The text of 0-based line `line`, without its line break.
pub(super) fn line_text(text: &str, line: usize) -> &str {
    text.split('\n').nth(line).map_or("", |line| line.strip_suffix('\r').unwrap_or(line))
}

/// The editor's place of the checker's `span` (1-based line, column in characters).
pub(super) fn range_of(text: &str, span: Span) -> Range {
    let line = span.line.saturating_sub(1);
    let content = line_text(text, line);
    let start = utf16_of_chars(content, span.col.saturating_sub(1));
    let end = utf16_of_chars(content, span.col.saturating_sub(1) + span.len.max(1));
    Range::new(position(line, start), position(line, end.max(start)))
}

/// The editor's range of `len` bytes at byte `start` of 0-based line `line`.
pub(super) fn range_in_line(text: &str, line: usize, start: usize, len: usize) -> Range {
    let content = line_text(text, line);
    let from = utf16_of_bytes(content, start);
    let to = utf16_of_bytes(content, start + len);
    Range::new(position(line, from), position(line, to))
}

/// The byte offset, within its line, of an editor's position (clamped to the line's end).
pub(super) fn byte_in_line(text: &str, at: Position) -> usize {
    let content = line_text(text, at.line as usize);
    let mut units = 0;
    for (byte, character) in content.char_indices() {
        if units >= at.character as usize {
            return byte;
        }
        units += character.len_utf16();
    }
    content.len()
}

/// How many UTF-16 units the first `chars` characters of `line` take (clamped to the line).
fn utf16_of_chars(line: &str, chars: usize) -> u32 {
    let units: usize = line.chars().take(chars).map(char::len_utf16).sum();
    // A column past the line's end (a caret after the last character) stays past it.
    let past = chars.saturating_sub(line.chars().count());
    u32::try_from(units + past).unwrap_or(u32::MAX)
}

/// How many UTF-16 units the first `bytes` bytes of `line` take.
fn utf16_of_bytes(line: &str, bytes: usize) -> u32 {
    let units: usize = line.get(..bytes.min(line.len())).unwrap_or(line).chars().map(char::len_utf16).sum();
    u32::try_from(units).unwrap_or(u32::MAX)
}

fn position(line: usize, character: u32) -> Position {
    Position::new(u32::try_from(line).unwrap_or(u32::MAX), character)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_utf16_units() {
        // `é` is one unit, `😀` two: the span after them starts later in UTF-16.
        let text = "a: 1\nb: é😀 {{ x }}\n";
        let range = range_of(text, Span::new(2, 7, 5));
        assert_eq!(range, Range::new(Position::new(1, 7), Position::new(1, 12)));
        assert_eq!(byte_in_line(text, Position::new(1, 7)), "b: é😀 ".len());
        assert_eq!(range_in_line(text, 1, "b: é😀 ".len(), 2), Range::new(Position::new(1, 7), Position::new(1, 9)));
    }

    #[test]
    fn lines_ignore_a_carriage_return() {
        assert_eq!(line_text("a\r\nb\r\n", 1), "b");
        assert_eq!(line_text("a", 3), "");
    }
}
