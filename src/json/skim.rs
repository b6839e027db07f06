//! The fast path of a projected parse: a reader of JSON text that builds what a [`Projection`]
//! reads and only checks the rest, byte by byte, eight bytes at a time inside strings.
//!
//! `serde_json`'s deserializer, which [`super::parse_projected`] otherwise drives, turns every
//! value it is given into a number or a string for a visitor even when the visitor throws it
//! away; in a batch row that checking of values nobody reads was most of the parse. This reader
//! checks the same grammar without building anything, and is never more lenient than
//! `serde_json`: whatever it is unsure of (a string with an escape, a number that is not a short
//! integer, a kept scalar) it hands to `serde_json` on that slice of the text, and on any
//! problem at all (a text `serde_json` would refuse, or deep nesting) it gives up, and the
//! caller parses again through `serde_json` for the exact value or error.

use std::borrow::Cow;

use serde_json::{Map, Value as Json};

use crate::projection::Projection;

/// Nesting this reader leaves to `serde_json` (whose own limit is 128).
const MAX_DEPTH: usize = 100;

/// The value `projection` reads of `text`, or `None` when this reader cannot be sure of it (the
/// text may be invalid): the caller then parses through `serde_json`.
pub(super) fn parse(text: &str, projection: &Projection) -> Option<Json> {
    let mut reader = Reader { bytes: text.as_bytes(), text, at: 0, depth: 0 };
    let value = reader.build(projection)?;
    reader.space();
    (reader.at == reader.bytes.len()).then_some(value)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// JSON's whitespace: space, tab, line feed, carriage return.
    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.space();
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn nest(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// Builds the value at the cursor as far as `projection` reads it.
    fn build(&mut self, projection: &Projection) -> Option<Json> {
        self.space();
        let start = self.at;
        match self.peek()? {
            _ if projection.is_whole() => {
                self.skip()?;
                super::parse(&self.bytes[start..self.at]).ok()
            }
            b'{' => self.object(projection),
            b'[' => self.array(projection),
            b'"' => self.string().map(|text| Json::String(text.into_owned())),
            b't' => self.word(b"true").map(|()| Json::Bool(true)),
            b'f' => self.word(b"false").map(|()| Json::Bool(false)),
            b'n' => self.word(b"null").map(|()| Json::Null),
            // A short integer without a sign is what `serde_json` makes of it, a `u64`; any other
            // number is read by the `serde_json` path itself (`-0` is a float there, for one).
            _ => {
                self.skip()?;
                let number = &self.text[start..self.at];
                match number.parse::<u64>() {
                    Ok(integer) if number.len() <= 18 => Some(Json::from(integer)),
                    _ => super::parse(number.as_bytes()).ok(),
                }
            }
        }
    }

    fn object(&mut self, projection: &Projection) -> Option<Json> {
        self.nest()?;
        self.at += 1;
        let mut entries: Vec<(String, Json)> = Vec::new();
        self.space();
        if self.peek()? == b'}' {
            self.at += 1;
        } else {
            loop {
                self.space();
                if self.peek()? != b'"' {
                    return None;
                }
                let key = self.string()?;
                self.expect(b':')?;
                match projection.member(&key) {
                    Some(read) => {
                        let value = self.build(read)?;
                        entries.push((key.into_owned(), value));
                    }
                    None => self.skip()?,
                }
                self.space();
                match self.peek()? {
                    b',' => self.at += 1,
                    b'}' => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        // Built as the `serde_json` path builds it: a repeated key keeps its first place and its
        // last value.
        Some(Json::Object(entries.into_iter().collect::<Map<String, Json>>()))
    }

    fn array(&mut self, projection: &Projection) -> Option<Json> {
        self.nest()?;
        self.at += 1;
        let mut items = Vec::new();
        self.space();
        if self.peek()? == b']' {
            self.at += 1;
        } else {
            loop {
                let item = if let Some(read) = projection.element(items.len()) {
                    self.build(read)?
                } else {
                    self.skip()?;
                    Json::Null
                };
                items.push(item);
                self.space();
                match self.peek()? {
                    b',' => self.at += 1,
                    b']' => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(Json::Array(items))
    }

    /// Checks the value at the cursor and moves past it, building nothing.
    fn skip(&mut self) -> Option<()> {
        self.space();
        match self.peek()? {
            b'{' => {
                self.nest()?;
                self.at += 1;
                self.space();
                if self.peek()? == b'}' {
                    self.at += 1;
                } else {
                    loop {
                        self.space();
                        if self.peek()? != b'"' {
                            return None;
                        }
                        self.skip_checked_string()?;
                        self.expect(b':')?;
                        self.skip()?;
                        self.space();
                        match self.peek()? {
                            b',' => self.at += 1,
                            b'}' => {
                                self.at += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                self.depth -= 1;
            }
            b'[' => {
                self.nest()?;
                self.at += 1;
                self.space();
                if self.peek()? == b']' {
                    self.at += 1;
                } else {
                    loop {
                        self.skip()?;
                        self.space();
                        match self.peek()? {
                            b',' => self.at += 1,
                            b']' => {
                                self.at += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                self.depth -= 1;
            }
            b'"' => self.skip_checked_string()?,
            b't' => self.word(b"true")?,
            b'f' => self.word(b"false")?,
            b'n' => self.word(b"null")?,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return None,
        }
        Some(())
    }

    fn word(&mut self, word: &[u8]) -> Option<()> {
        self.bytes[self.at..].starts_with(word).then(|| self.at += word.len())
    }

    /// A number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`. A short integer cannot be
    /// refused; any other number is checked by `serde_json`, which refuses one out of range.
    fn number(&mut self) -> Option<()> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let integer = self.at - start;
        let mut short = integer <= 18;
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
            short = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
            short = false;
        }
        if short || serde_json::from_str::<Json>(&self.text[start..self.at]).is_ok() { Some(()) } else { None }
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            self.at += 1;
        }
    }

    /// A string's text; one with an escape is read by `serde_json` (escapes, surrogates).
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.at;
        let text = self.text;
        if self.skip_string()? {
            serde_json::from_str::<String>(&text[start..self.at]).ok().map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(&text[start + 1..self.at - 1]))
        }
    }

    /// Moves past the string at the cursor, its escapes checked by `serde_json`.
    fn skip_checked_string(&mut self) -> Option<()> {
        let start = self.at;
        let escaped = self.skip_string()?;
        (!escaped || serde_json::from_str::<Cow<'_, str>>(&self.text[start..self.at]).is_ok()).then_some(())
    }

    /// Moves past the string at the cursor (at its opening quote); true when it has an escape,
    /// which the caller must check. A control character inside is refused, as by `serde_json`.
    fn skip_string(&mut self) -> Option<bool> {
        self.at += 1;
        let mut escaped = false;
        loop {
            self.at = special(self.bytes, self.at);
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some(escaped);
                }
                b'\\' => {
                    escaped = true;
                    // The escaped byte (a quote, a backslash...) cannot end the string.
                    self.at += 2;
                }
                _ => return None,
            }
        }
    }
}

/// The index of the first quote, backslash or control character at or after `at` (the length
/// when there is none), eight bytes at a time.
fn special(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        // Each test flags its first matching byte exactly (a false flag can only follow a true
        // one), so the lowest flag of the three is the first special byte.
        let found = zero(word ^ (ONES * u64::from(b'"')))
            | zero(word ^ (ONES * u64::from(b'\\')))
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS);
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while bytes.get(at).is_some_and(|&byte| byte != b'"' && byte != b'\\' && byte >= 0x20) {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::Segment;

    fn reads() -> Projection {
        let mut reads = Projection::default();
        reads.read(&[Segment::Key("k1".to_owned()), Segment::Index(0)]);
        reads.read(&[Segment::Every, Segment::Key("k3".to_owned())]);
        reads.read(&[Segment::Key("k2".to_owned()), Segment::Every, Segment::Key("k0".to_owned())]);
        reads.settle()
    }

    fn random() -> impl FnMut() -> u64 {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// When the fast reader gives a value, it is the one the `serde_json` path gives; when that
    /// path refuses the text, the fast reader gave up. Over generated documents and a hundred
    /// thousand mutations of them (a byte swapped for JSON's punctuation, a digit, a control
    /// character, a space; a character cut or doubled).
    #[test]
    fn a_value_read_fast_is_the_serde_paths_value_and_a_refused_text_is_never_read() {
        let reads = reads();
        let mut next = random();
        let mut documents = 0;
        for _ in 0..2_000 {
            let mut text = String::new();
            crate::json::tests::build(&mut next, 0, &mut text);
            let fast = parse(&text, &reads);
            assert_eq!(fast.as_ref(), crate::json::through_serde(text.as_bytes(), &reads).as_ref().ok(), "{text}");
            documents += usize::from(fast.is_some());
            let chars: Vec<char> = text.chars().collect();
            for _ in 0..50 {
                let mut mutated = chars.clone();
                let at = usize::try_from(next() % chars.len() as u64).unwrap();
                let swaps = ['"', '\\', ',', ':', '[', ']', '{', '}', '0', '1', '-', '.', 'e', 'u', ' ', '\n', '\u{1}', '\u{c}', 'x'];
                match next() % 4 {
                    0 => _ = mutated.remove(at),
                    1 => mutated.insert(at, chars[at]),
                    _ => mutated[at] = swaps[usize::try_from(next() % swaps.len() as u64).unwrap()],
                }
                let mutated: String = mutated.into_iter().collect();
                if let Some(value) = parse(&mutated, &reads) {
                    let serde = crate::json::through_serde(mutated.as_bytes(), &reads);
                    assert_eq!(Some(&value), serde.as_ref().ok(), "{mutated}: {serde:?}");
                }
            }
        }
        // The fast reader reads every valid generated document itself.
        assert_eq!(documents, 2_000);
    }

    #[test]
    fn what_serde_json_refuses_the_fast_reader_gives_up_on() {
        let reads = reads();
        for text in [
            r#"{"x": 1e400}"#,
            r#"{"x": -1e400}"#,
            r#"{"x": "\ud800"}"#,
            r#"{"x": "\udc00"}"#,
            r#"{"x": "\u12"}"#,
            r#"{"x\q": 1}"#,
            r#"{"x": 01}"#,
            r#"{"x": 1.}"#,
            r#"{"x": .5}"#,
            r#"{"x": +1}"#,
            r#"{"x": 1e}"#,
            r#"{"x": -}"#,
            r#"{"x": tru}"#,
            r#"{"x": nulls}"#,
            r#"{"x" 1}"#,
            "{,}",
            "[,1]",
            r#"{"x": 1 "y": 2}"#,
            "{1: 2}",
            "{\"x\": \"a\u{1f}b\"}",
            "{\"x\":\u{c}1}",
            "\u{feff}{}",
            r#"{"k1": [1], "x": {}} x"#,
            r#"{"k1": [1"#,
            r#""unterminated"#,
            "",
            "   ",
        ] {
            assert_eq!(parse(text, &reads), None, "{text}");
            assert!(crate::json::through_serde(text.as_bytes(), &reads).is_err(), "{text}");
        }
        // Nesting is left to `serde_json` and its limit.
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(&deep, &reads), None);
        let within = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&within, &reads).is_some());
    }

    #[test]
    fn strings_are_scanned_eight_bytes_at_a_time_to_the_first_special_byte() {
        for text in ["", "a", "abcdefgh", "abcdefghijklmnop\"", "é\u{7f}\u{80}ü\\", "abcdefg\u{1}", "\u{ffff}\u{10ffff}abc\"x"] {
            let bytes = text.as_bytes();
            for start in 0..=bytes.len() {
                let slow = (start..bytes.len()).find(|&i| bytes[i] == b'"' || bytes[i] == b'\\' || bytes[i] < 0x20).unwrap_or(bytes.len());
                assert_eq!(special(bytes, start), slow, "{text:?} from {start}");
            }
        }
    }
}
