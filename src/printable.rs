//! Printable text: the one helper every printer and report passes text through, so that a value
//! from a response, a recipe or the command line can never drive the terminal (an `ESC [2J`
//! clearing the screen, a `CR` overwriting a line) or make a report file invalid.
//!
//! It escapes, as visible text, the C0 control characters other than newline and tab (`NUL`,
//! `ESC`, `CR`, ...) and `DEL` as `\x1b`, and the C1 controls (which some terminals also obey) and
//! the noncharacters U+FFFE and U+FFFF (not allowed in XML 1.0) as `\u{9b}`. It does not colour,
//! wrap or escape markup: the terminal and markup modules do that afterwards.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is escaped by [`escape`].
pub(crate) fn is_escaped(c: char) -> bool {
    match c {
        '\n' | '\t' => false,
        c if c.is_control() => true,
        '\u{FFFE}' | '\u{FFFF}' => true,
        _ => false,
    }
}

/// `text` with every control character written as a visible escape; borrowed when there is none.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_escaped(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

/// A JSON document with every such character written as a JSON escape (`\u007f`). `serde_json`
/// already escapes C0 controls inside strings, and no other character can stand outside one, so
/// the document means exactly the same.
pub(crate) fn escape_json(json: &str) -> Cow<'_, str> {
    if !json.chars().any(is_escaped) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if is_escaped(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_but_not_newlines_tabs_or_text() {
        assert!(matches!(escape("plain\ttext\né ✓"), Cow::Borrowed("plain\ttext\né ✓")));
        assert_eq!(escape("a\u{1b}[2Jb"), "a\\x1b[2Jb");
        assert_eq!(escape("nul\0 cr\r del\u{7f}"), "nul\\x00 cr\\x0d del\\x7f");
        assert_eq!(escape("csi\u{9b}31m"), "csi\\u{9b}31m");
        assert_eq!(escape("\u{FFFE}\u{FFFF}\u{FFFD}"), "\\u{fffe}\\u{ffff}\u{FFFD}");
    }

    #[test]
    fn json_stays_json_and_means_the_same() {
        let value = serde_json::json!({ "text": "esc\u{1b} del\u{7f} csi\u{9b} nul\0", "n": 1 });
        let text = serde_json::to_string_pretty(&value).unwrap();
        let escaped = escape_json(&text);
        assert!(!escaped.chars().any(is_escaped), "{escaped}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&escaped).unwrap(), value);
    }
}
