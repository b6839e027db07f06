//! The bytes of a CSV on their way to the parser, watched with the parser's own rules (RFC 4180
//! quoting, as the `csv` crate reads it): a quoted field still open at the end of the file, and a
//! row over the size limit. The `csv` crate reads either without complaint: an open quote runs to
//! the end of the file, taking every later row into one cell, and a row of any size is held whole.
//!
//! A row over the limit is cut here, before the parser sees it: the rest of its bytes are dropped
//! (a quote is added if the cut fell inside a quoted field, so that the row still ends where it
//! ends), and its record number is remembered so that the reader reports the row as invalid.
//! Memory stays within the limit whatever the file holds.

use std::collections::BTreeSet;
use std::io::Read;

/// Where the parser is, as far as quoting and rows go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between rows: blank lines are skipped.
    StartRecord,
    StartField,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: either the field's end or the first of a doubled quote.
    QuoteInQuoted,
}

pub(super) struct Guard<R> {
    inner: R,
    limit: u64,
    state: State,
    /// Lines seen (newlines plus one).
    line: u64,
    /// The record being read: 0 is the header row.
    record: u64,
    /// Records started so far.
    started: u64,
    /// The bytes of the current record so far.
    size: u64,
    /// The current record is over the limit: its bytes are dropped until it ends.
    cutting: bool,
    /// Where the parser was when the cut began: inside a quoted field, it needs a closing quote.
    cut_inside: State,
    /// Where the open quoted field started, if the parser is inside one.
    opened: u64,
    /// Records over the limit.
    oversized: BTreeSet<u64>,
    eof: bool,
    chunk: Vec<u8>,
}

impl<R: Read> Guard<R> {
    pub(super) fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            limit,
            state: State::StartRecord,
            line: 1,
            record: 0,
            started: 0,
            size: 0,
            cutting: false,
            cut_inside: State::StartRecord,
            opened: 0,
            oversized: BTreeSet::new(),
            eof: false,
            chunk: vec![0; 64 * 1024],
        }
    }

    /// Whether record `record` (0 is the header) was over the limit.
    pub(super) fn oversized(&self, record: u64) -> bool {
        self.oversized.contains(&record)
    }

    /// At the end of the file inside a quoted field: the line where that field opened.
    pub(super) fn unterminated(&self) -> Option<u64> {
        (self.eof && self.state == State::Quoted).then_some(self.opened)
    }

    /// The limit, for messages.
    pub(super) fn limit(&self) -> u64 {
        self.limit
    }

    /// Moves the state on by one byte; true when the byte ends a record.
    fn step(&mut self, byte: u8) -> bool {
        let terminator = byte == b'\n' || byte == b'\r';
        let (next, ends) = match (self.state, byte) {
            (State::StartRecord, _) if terminator => (State::StartRecord, false),
            (State::Quoted, b'"') => (State::QuoteInQuoted, false),
            (State::Quoted, _) => (State::Quoted, false),
            (_, b'"') if matches!(self.state, State::StartRecord | State::StartField) => {
                self.opened = self.line;
                (State::Quoted, false)
            }
            (State::QuoteInQuoted, b'"') => (State::Quoted, false),
            (_, b',') => (State::StartField, false),
            (_, _) if terminator => (State::StartRecord, true),
            (_, _) => (State::Unquoted, false),
        };
        if self.state == State::StartRecord && next != State::StartRecord {
            self.record = self.started;
            self.started += 1;
            self.size = 0;
            self.cutting = false;
        }
        if byte == b'\n' {
            self.line += 1;
        }
        self.state = next;
        ends
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        // Never more than half of `out` from the file: a cut may add a quote per byte read (at
        // most one per record end, so this is ample).
        let want = (out.len() / 2).clamp(1, self.chunk.len());
        loop {
            let read = self.inner.read(&mut self.chunk[..want])?;
            if read == 0 {
                self.eof = true;
                return Ok(0);
            }
            let mut written = 0;
            for at in 0..read {
                let byte = self.chunk[at];
                let inside = self.state;
                let ends = self.step(byte);
                if self.state != State::StartRecord || ends {
                    self.size += 1;
                }
                if !self.cutting && self.size > self.limit && !ends {
                    self.cutting = true;
                    self.cut_inside = inside;
                    self.oversized.insert(self.record);
                }
                if !self.cutting {
                    out[written] = byte;
                    written += 1;
                } else if ends {
                    // The end of a cut row reaches the parser, closed as it would be.
                    if self.cut_inside == State::Quoted {
                        out[written] = b'"';
                        written += 1;
                    }
                    out[written] = byte;
                    written += 1;
                    self.cutting = false;
                }
            }
            if written > 0 {
                return Ok(written);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(text: &str, limit: u64) -> (String, Guard<&[u8]>) {
        let mut guard = Guard::new(text.as_bytes(), limit);
        let mut out = Vec::new();
        let mut buffer = [0u8; 7];
        loop {
            let n = guard.read(&mut buffer).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buffer[..n]);
        }
        (String::from_utf8_lossy(&out).into_owned(), guard)
    }

    #[test]
    fn an_open_quote_at_the_end_names_its_line() {
        let (_, guard) = pass("a,b\n1,\"x\n2,y\n3,z\n", 1000);
        assert_eq!(guard.unterminated(), Some(2));
        let (_, guard) = pass("a,b\n1,\"x\"\"\n\"\n2,y\"\n", 1000);
        assert_eq!(guard.unterminated(), None, "doubled quotes and a quote inside an unquoted cell are text");
    }

    #[test]
    fn a_row_over_the_limit_is_cut_and_named() {
        let (text, guard) = pass("a,b\n1,short\n2,\"very long, with a comma\"\n3,\"ok\"\r\n", 12);
        assert_eq!(text, "a,b\n1,short\n2,\"very long\"\n3,\"ok\"\r\n");
        assert!(guard.oversized(2) && !guard.oversized(1) && !guard.oversized(3));
    }
}
