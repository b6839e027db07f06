//! The fast path of projected and sieved parses: a reader of JSON text of our own, which builds
//! what a [`Projection`] reads and only checks the rest, eight bytes at a time inside strings.
//!
//! Driving `serde_json`'s deserializer costs a call through a visitor for every value, a key or
//! a number converted even when nobody reads it; in a batch row that was most of the parse of a
//! large answer. This reader checks the same grammar without building what is not read, and is
//! never more lenient than `serde_json`: whatever it is unsure of (a string with an escape, a
//! number that is not a short integer) it hands to `serde_json` on that slice of the text, and
//! on any problem at all (a text `serde_json` might refuse, nesting deeper than [`MAX_DEPTH`],
//! bytes that are not UTF-8) it gives up, and the caller parses again through `serde_json` for
//! the exact value or error. So a value it gives is the value the `serde_json` path gives
//! (tested over generated documents and their mutations), and an error always comes from
//! `serde_json`.

use std::borrow::Cow;

use serde_json::Value as Json;

use super::{Child, Cursor, Flat, Node, Scratch, Shape, build};
use crate::projection::Projection;

/// Nesting this reader leaves to `serde_json` (whose own limit is 128).
const MAX_DEPTH: usize = 100;

/// The value `projection` reads of `bytes` (sieving the array `cursor` leads to, if any), or
/// `None` when this reader cannot be sure of it: the caller then parses through `serde_json`.
pub(super) fn read(bytes: &[u8], projection: &Projection, cursor: Option<Cursor<'_>>) -> Option<Json> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut reader = Reader { text, bytes, at: 0, depth: 0, scratch: Scratch::default() };
    let value = reader.value(projection, cursor)?;
    reader.space();
    (reader.at == bytes.len()).then_some(value)
}

struct Reader<'t> {
    text: &'t str,
    bytes: &'t [u8],
    at: usize,
    depth: usize,
    scratch: Scratch,
}

impl<'t> Reader<'t> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// JSON's whitespace: space, tab, line feed, carriage return.
    #[inline]
    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Moves past the `[` or `{` at the cursor, one level deeper.
    #[inline]
    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        self.at += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// Whether the array or object just entered is empty (its `close` then read).
    #[inline]
    fn empty(&mut self, close: u8) -> Option<bool> {
        self.space();
        let empty = self.peek()? == close;
        if empty {
            self.at += 1;
            self.depth -= 1;
        }
        Some(empty)
    }

    /// After a member or an element: `true` at the `close` that ends its array or object,
    /// `false` at a comma.
    #[inline]
    fn ends(&mut self, close: u8) -> Option<bool> {
        self.space();
        let byte = self.peek()?;
        self.at += 1;
        if byte == close {
            self.depth -= 1;
            Some(true)
        } else {
            (byte == b',').then_some(false)
        }
    }

    /// An object's key and the colon after it.
    #[inline]
    fn key(&mut self) -> Option<Cow<'t, str>> {
        self.space();
        if self.peek()? != b'"' {
            return None;
        }
        let key = self.string()?;
        self.space();
        (self.peek()? == b':').then(|| self.at += 1)?;
        Some(key)
    }

    /// Builds the value at the cursor as far as `projection` reads it, sieving on the way.
    fn value(&mut self, projection: &Projection, cursor: Option<Cursor<'_>>) -> Option<Json> {
        // As the `serde_json` path: a value read whole is built whole, sieve or not.
        let cursor = cursor.filter(|_| !projection.is_whole());
        self.space();
        match self.peek()? {
            b'{' => self.object(projection, cursor),
            b'[' => match cursor.filter(|cursor| cursor.arrived()) {
                Some(cursor) => self.sieved(projection, cursor),
                None => self.array(projection, cursor),
            },
            _ => self.scalar(),
        }
    }

    fn object(&mut self, projection: &Projection, cursor: Option<Cursor<'_>>) -> Option<Json> {
        self.enter()?;
        let start = self.scratch.entries.len();
        if !self.empty(b'}')? {
            loop {
                let key = self.key()?;
                match projection.member(&key) {
                    Some(read) => {
                        let value = self.value(read, cursor.and_then(|cursor| cursor.child(Child::Key(&key))))?;
                        self.scratch.entries.push((key.into_owned(), value));
                    }
                    None => self.skip()?,
                }
                if self.ends(b'}')? {
                    break;
                }
            }
        }
        // Collected as the `serde_json` path collects: a repeated key keeps its first place and
        // its last value.
        Some(Json::Object(self.scratch.entries.drain(start..).collect()))
    }

    fn array(&mut self, projection: &Projection, cursor: Option<Cursor<'_>>) -> Option<Json> {
        self.elements(projection, |reader, read, index| reader.value(read, cursor.and_then(|cursor| cursor.child(Child::Index(index)))))
    }

    /// The sieved array: each element read flat, built only when the sieve keeps it.
    fn sieved(&mut self, projection: &Projection, cursor: Cursor<'_>) -> Option<Json> {
        let mut nodes: Vec<Node<'t>> = Vec::new();
        let mut kept = 0;
        let array = self.elements(projection, |reader, read, _| {
            nodes.clear();
            reader.flat(&mut nodes, read, None)?;
            let keeps = cursor.sieve.keeps(Flat { nodes: &nodes, at: 0 });
            kept += usize::from(keeps);
            Some(if keeps { build(&nodes, 0).0 } else { Json::Null })
        })?;
        cursor.kept.set(Some(kept));
        Some(array)
    }

    /// The array at the cursor: each element `projection` reads made by `read` (given what is
    /// read of it and its index), the others checked and left `null`.
    fn elements(&mut self, projection: &Projection, mut read: impl FnMut(&mut Self, &Projection, usize) -> Option<Json>) -> Option<Json> {
        self.enter()?;
        let start = self.scratch.items.len();
        if !self.empty(b']')? {
            let mut index = 0;
            loop {
                let item = if let Some(part) = projection.element(index) {
                    read(self, part, index)?
                } else {
                    self.skip()?;
                    Json::Null
                };
                self.scratch.items.push(item);
                index += 1;
                if self.ends(b']')? {
                    break;
                }
            }
        }
        Some(Json::Array(self.scratch.items.drain(start..).collect()))
    }

    /// Reads the value at the cursor as far as `projection` reads it, flat onto `nodes`; `key`
    /// is its member name.
    fn flat(&mut self, nodes: &mut Vec<Node<'t>>, projection: &Projection, key: Option<Cow<'t, str>>) -> Option<()> {
        self.space();
        let value = match self.peek()? {
            b'{' => {
                self.enter()?;
                let at = nodes.len();
                nodes.push(Node { key, value: Shape::Object { len: 0, end: 0 } });
                let mut len = 0;
                if !self.empty(b'}')? {
                    loop {
                        let key = self.key()?;
                        match projection.member(&key) {
                            Some(read) => {
                                self.flat(nodes, read, Some(key))?;
                                len += 1;
                            }
                            None => self.skip()?,
                        }
                        if self.ends(b'}')? {
                            break;
                        }
                    }
                }
                nodes[at].value = Shape::Object { len, end: nodes.len() };
                return Some(());
            }
            b'[' => {
                self.enter()?;
                let at = nodes.len();
                nodes.push(Node { key, value: Shape::Array { len: 0, end: 0 } });
                let mut len = 0;
                if !self.empty(b']')? {
                    loop {
                        if let Some(read) = projection.element(len) {
                            self.flat(nodes, read, None)?;
                        } else {
                            self.skip()?;
                            nodes.push(Node { key: None, value: Shape::Scalar(Json::Null) });
                        }
                        len += 1;
                        if self.ends(b']')? {
                            break;
                        }
                    }
                }
                nodes[at].value = Shape::Array { len, end: nodes.len() };
                return Some(());
            }
            b'"' => Shape::Text(self.string()?),
            _ => Shape::Scalar(self.scalar()?),
        };
        nodes.push(Node { key, value });
        Some(())
    }

    /// A string, a number, `true`, `false` or `null`, built.
    fn scalar(&mut self) -> Option<Json> {
        match self.peek()? {
            b'"' => Some(Json::String(self.string()?.into_owned())),
            b't' => self.word(b"true").map(|()| Json::Bool(true)),
            b'f' => self.word(b"false").map(|()| Json::Bool(false)),
            b'n' => self.word(b"null").map(|()| Json::Null),
            _ => {
                let (number, short) = self.number()?;
                // A short integer without a sign is what `serde_json` makes of it, a `u64`; any
                // other number is read by `serde_json` itself (`-0` is a float there, for one).
                if short && !number.starts_with('-') {
                    number.parse::<u64>().ok().map(Json::from)
                } else {
                    super::parse(number.as_bytes()).ok()
                }
            }
        }
    }

    /// Checks the value at the cursor and moves past it, building nothing.
    fn skip(&mut self) -> Option<()> {
        self.space();
        match self.peek()? {
            b'{' => {
                self.enter()?;
                if !self.empty(b'}')? {
                    loop {
                        self.key()?;
                        self.skip()?;
                        if self.ends(b'}')? {
                            break;
                        }
                    }
                }
            }
            b'[' => {
                self.enter()?;
                if !self.empty(b']')? {
                    loop {
                        self.skip()?;
                        if self.ends(b']')? {
                            break;
                        }
                    }
                }
            }
            b'"' => self.skip_string()?,
            b't' => self.word(b"true")?,
            b'f' => self.word(b"false")?,
            b'n' => self.word(b"null")?,
            _ => {
                let (number, short) = self.number()?;
                // A short integer cannot be refused; any other number is checked by
                // `serde_json`, which refuses one out of range.
                if !short {
                    super::parse(number.as_bytes()).ok()?;
                }
            }
        }
        Some(())
    }

    fn word(&mut self, word: &[u8]) -> Option<()> {
        self.bytes[self.at..].starts_with(word).then(|| self.at += word.len())
    }

    /// A number's text, `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, and whether it is a
    /// short integer (at most 18 digits, no fraction, no exponent).
    fn number(&mut self) -> Option<(&'t str, bool)> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let digits = self.at;
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let mut short = self.at - digits <= 18;
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.peek()?.is_ascii_digit().then_some(())?;
            self.digits();
            short = false;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.peek()?.is_ascii_digit().then_some(())?;
            self.digits();
            short = false;
        }
        Some((&self.text[start..self.at], short))
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            self.at += 1;
        }
    }

    /// A string's text, borrowed from the document; one with an escape is read by `serde_json`
    /// (escapes, surrogates).
    #[inline]
    fn string(&mut self) -> Option<Cow<'t, str>> {
        let start = self.at;
        if self.pass_string()? { self.escaped(start).map(Cow::Owned) } else { Some(Cow::Borrowed(&self.text[start + 1..self.at - 1])) }
    }

    /// Moves past the string at the cursor, its escapes checked by `serde_json`.
    #[inline]
    fn skip_string(&mut self) -> Option<()> {
        let start = self.at;
        if self.pass_string()? {
            self.escaped(start)?;
        }
        Some(())
    }

    /// The text of the string with an escape from `start` to the cursor, read by `serde_json`.
    #[cold]
    fn escaped(&self, start: usize) -> Option<String> {
        serde_json::from_str::<String>(&self.text[start..self.at]).ok()
    }

    /// Moves past the string at the cursor (at its opening quote); `true` when it has an escape,
    /// which the caller must check. A control character inside is refused, as by `serde_json`.
    #[inline]
    fn pass_string(&mut self) -> Option<bool> {
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

/// The index of the first quote, backslash or control character at or after `at` (the length,
/// or `at` itself past the end, when there is none), eight bytes at a time.
#[inline]
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
    use std::cell::Cell;

    use super::*;
    use crate::json::{ItemSieve, through_serde};
    use crate::projection::Segment;

    fn reads() -> Projection {
        let mut reads = Projection::default();
        reads.read(&[Segment::Key("k1".to_owned()), Segment::Index(0)]);
        reads.read(&[Segment::Every, Segment::Key("k3".to_owned())]);
        reads.read(&[Segment::Key("k2".to_owned()), Segment::Every, Segment::Key("k0".to_owned())]);
        reads.read(&[Segment::Key("k2".to_owned()), Segment::Every, Segment::Key("k4".to_owned()), Segment::Every]);
        reads.settle()
    }

    /// Keeps the elements of `$.k2` whose `k0` is a string or `true`.
    struct Sieve;

    impl ItemSieve for Sieve {
        fn at(&self) -> &[Segment] {
            static K2: std::sync::LazyLock<Vec<Segment>> = std::sync::LazyLock::new(|| vec![Segment::Key("k2".to_owned())]);
            &K2
        }

        fn keeps(&self, item: Flat<'_, '_>) -> bool {
            item.any(&[Segment::Key("k0".to_owned())], &mut |node| node.as_str().is_some() || node.to_json() == Json::Bool(true))
        }
    }

    /// The fast reader's value and kept count, projected (`sieved` false) or sieved.
    fn fast(text: &str, reads: &Projection, sieved: bool) -> Option<(Json, Option<usize>)> {
        let kept = Cell::new(None);
        let cursor = sieved.then_some(Cursor { sieve: &Sieve, depth: 0, kept: &kept });
        read(text.as_bytes(), reads, cursor).map(|value| (value, kept.get()))
    }

    /// The `serde_json` path's value and kept count, or its error.
    fn serde(text: &str, reads: &Projection, sieved: bool) -> Result<(Json, Option<usize>), String> {
        let kept = Cell::new(None);
        let cursor = sieved.then_some(Cursor { sieve: &Sieve, depth: 0, kept: &kept });
        through_serde(text.as_bytes(), reads, cursor).map(|value| (value, kept.get())).map_err(|error| error.to_string())
    }

    /// A document with an array at `$.k2` of generated values, among other generated members.
    fn document(next: &mut dyn FnMut() -> u64) -> String {
        let mut text = String::from("{");
        for member in 0..next() % 4 {
            let mut value = String::new();
            crate::json::tests::build(next, 1, &mut value);
            text.push_str(&format!("\"k{}\": {value}, ", member % 5));
        }
        text.push_str("\"k2\": [");
        for index in 0..next() % 8 {
            if index > 0 {
                text.push_str(", ");
            }
            match next() % 3 {
                0 => crate::json::tests::build(next, 1, &mut text),
                1 => text.push_str(&format!("{{\"k0\": \"{index}\", \"k4\": [1, \"a\\n\"]}}")),
                _ => text.push_str(&format!("{{\"k1\": {{\"k0\": 1}}, \"k0\": {}}}", index % 2 == 0)),
            }
        }
        text.push_str("]}");
        text
    }

    /// When the fast reader gives a value, it is the one the `serde_json` path gives, with the
    /// same count of kept elements; when that path refuses the text, the fast reader gave up.
    /// Over generated documents and fifty mutations of each (a byte swapped for JSON's
    /// punctuation, a digit, a control character, a space; a character cut or doubled), read
    /// projected and sieved.
    #[test]
    fn a_value_read_fast_is_the_serde_paths_value_and_a_refused_text_is_never_read() {
        let reads = reads();
        let mut next = crate::json::tests::random(0x2545_f491_4f6c_dd1d);
        let mut read_fast = 0;
        for round in 0..2_000 {
            let text = if round % 2 == 0 {
                document(&mut next)
            } else {
                let mut text = String::new();
                crate::json::tests::build(&mut next, 0, &mut text);
                text
            };
            for sieved in [false, true] {
                let fast = fast(&text, &reads, sieved);
                assert_eq!(fast.clone().ok_or(()), serde(&text, &reads, sieved).map_err(|_| ()), "{text}");
                read_fast += usize::from(fast.is_some());
            }
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
                for sieved in [false, true] {
                    if let Some(value) = fast(&mutated, &reads, sieved) {
                        assert_eq!(Ok(value), serde(&mutated, &reads, sieved), "{mutated}");
                    }
                }
            }
        }
        // The fast reader reads every valid generated document itself, both ways.
        assert_eq!(read_fast, 4_000);
    }

    #[test]
    fn what_serde_json_refuses_the_fast_reader_gives_up_on() {
        let reads = reads();
        for text in [
            r#"{"x": 1e400}"#,
            r#"{"x": -1e400}"#,
            r#"{"k2": [{"k0": 1e400}]}"#,
            r#"{"x": "\ud800"}"#,
            r#"{"x": "\udc00"}"#,
            r#"{"k2": [{"k0": "\ud800"}]}"#,
            r#"{"x": "\u12"}"#,
            r#"{"x\q": 1}"#,
            r#"{"x": 01}"#,
            r#"{"x": -01}"#,
            r#"{"x": 1.}"#,
            r#"{"x": .5}"#,
            r#"{"x": +1}"#,
            r#"{"x": 1e}"#,
            r#"{"x": -}"#,
            r#"{"x": tru}"#,
            r#"{"x": nulls}"#,
            r#"{"x" 1}"#,
            r#"{"x": 1,}"#,
            r#"{"k2": [1,]}"#,
            r"{,}",
            r"[,1]",
            r#"{"x": 1 "y": 2}"#,
            r"{1: 2}",
            "{\"x\": \"a\u{1f}b\"}",
            "{\"x\":\u{c}1}",
            "\u{feff}{}",
            r#"{"k1": [1], "x": {}} x"#,
            r#"{"k1": [1"#,
            r#"{"k2": [{"k0": "a"}"#,
            r#""unterminated"#,
            r#""ends in a backslash\"#,
            "",
            "   ",
        ] {
            for sieved in [false, true] {
                assert_eq!(fast(text, &reads, sieved), None, "{text}");
                assert!(serde(text, &reads, sieved).is_err(), "{text}");
            }
        }
        // Bytes that are not UTF-8 are left to `serde_json` and its error.
        assert_eq!(read(b"{\"x\": \"a\xff\"}", &reads, None), None);
        // Nesting is left to `serde_json` and its limit.
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(fast(&deep, &reads, false), None);
        let within = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(fast(&within, &reads, false).is_some());
    }

    #[test]
    fn numbers_and_escapes_it_is_unsure_of_are_read_by_serde_json() {
        let whole = Projection::whole();
        for text in [
            "-0",
            "-12",
            "0",
            "123456789012345678",
            "1234567890123456789",
            "18446744073709551616",
            "1.5e300",
            "2.5",
            r#""a\"b\\c\u00e9\ud83d\ude00\n""#,
            r#"{"a\u0062": 1, "ab": 2}"#,
        ] {
            let fast = fast(text, &whole, false).map(|(value, _)| value);
            assert_eq!(fast, Some(serde_json::from_str::<Json>(text).unwrap()), "{text}");
            assert_eq!(serde_json::to_string(&fast).unwrap(), serde_json::to_string(&serde_json::from_str::<Json>(text).unwrap()).unwrap());
        }
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
