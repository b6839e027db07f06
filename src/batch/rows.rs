//! Rows: the inputs of a batch, one run each, streamed from a CSV file with a header row or from
//! JSON Lines; never loaded whole. Standard input and other rows that can be read only once are
//! spooled to a temporary file first ([`Spool`]), so that the rows can be checked in one pass and
//! run in a second.
//!
//! A CSV cell is text, converted to the input's declared type as `--var` text is; an empty cell
//! gives no value (the input's default applies). A JSON Lines row is an object of typed values.

use super::error::BatchError;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::Value as Json;

use super::guard::Guard;
use crate::inputs::{InputSources, coerce, resolve};
use crate::model::Recipe;

/// One row: where it is, and its values.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// 1-based, counting data rows only.
    pub number: u64,
    /// The line of the file it starts on.
    pub line: u64,
    pub values: Vec<(String, Cell)>,
}

/// A row that cannot be read at all.
#[derive(Debug, Clone)]
pub(crate) struct Unreadable {
    pub line: u64,
    pub number: u64,
    pub problem: String,
}

#[derive(Debug, Clone)]
pub(crate) enum Cell {
    /// A CSV cell.
    Text(String),
    /// A JSON Lines value.
    Json(Json),
}

enum Inner {
    Csv { reader: Box<csv::Reader<Guard<BufReader<File>>>>, headers: Vec<String>, record: csv::StringRecord },
    Lines { reader: BufReader<File>, line: u64, buffer: Vec<u8>, limit: u64 },
}

pub(crate) struct RowReader {
    inner: Inner,
    number: u64,
}

/// Rows that can be read only once (standard input, a named pipe, a process substitution)
/// copied to a temporary file, streaming, so that they can be read several times (checked, then
/// run). The file has no name in its folder (on Linux it never has one; elsewhere it is removed
/// as soon as it is open): it is reached only through this handle, and no crash, not even
/// `kill -9`, leaves the customer data behind.
#[derive(Debug, Clone)]
pub(crate) struct Spool {
    file: std::sync::Arc<File>,
}

impl Spool {
    /// Rows are often personal data: the file is new (never one planted in its place, such as a
    /// symbolic link), has a name nobody can guess, and only its owner may read it.
    pub(crate) fn copy(from: &mut dyn std::io::Read, name: &str) -> Result<Self, BatchError> {
        // `tempfile` makes it with no name at all where the system allows (`O_TMPFILE` on Linux),
        // else removes its name at once; on Windows it is removed when the process ends.
        let mut file = tempfile::tempfile().map_err(|source| BatchError::Spool { folder: std::env::temp_dir(), source })?;
        std::io::copy(from, &mut file).map_err(|source| BatchError::Read { name: name.to_owned(), source })?;
        Ok(Self { file: std::sync::Arc::new(file) })
    }

    /// The rows from their start, for one more pass.
    fn reopen(&self) -> std::io::Result<File> {
        use std::io::{Seek, SeekFrom};
        let mut file = self.file.try_clone()?;
        file.seek(SeekFrom::Start(0))?;
        Ok(file)
    }
}

/// Opens a rows file (or the spool holding its copy), naming it `name` if it cannot be opened
/// (as `fs_err` would name its path).
pub(crate) fn open_file(path: &Path, spool: Option<&Spool>, name: &str) -> Result<File, BatchError> {
    match spool {
        Some(spool) => spool.reopen(),
        None => File::open(path),
    }
    .map_err(|source| BatchError::Open { name: name.to_owned(), source })
}

/// Whether rows at `path` can be read only once (a named pipe, a process substitution, a
/// device): such rows are spooled like standard input.
pub(crate) fn read_once(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|metadata| !metadata.is_file())
}

impl RowReader {
    /// Opens a rows file, which messages call `name` (`stdin` for a [`Spool`]): CSV unless the
    /// name ends in `.jsonl` or `.ndjson`, or the first character is `{`. A row of more than
    /// `limit` bytes is invalid (and never held whole).
    pub(crate) fn open_as(path: &Path, spool: Option<&Spool>, name: &str, limit: u64) -> Result<Self, BatchError> {
        let file = open_file(path, spool, name)?;
        let mut buffered = BufReader::new(file);
        let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        let json_lines = matches!(extension.as_deref(), Some("jsonl" | "ndjson")) || {
            let start = buffered.fill_buf().map_err(|source| BatchError::Read { name: name.to_owned(), source })?;
            let start = start.strip_prefix(b"\xef\xbb\xbf").unwrap_or(start);
            start.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        };
        let inner = if json_lines {
            Inner::Lines { reader: buffered, line: 0, buffer: Vec::new(), limit }
        } else {
            let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(Guard::new(buffered, limit));
            let headers = reader.headers().map_err(|source| BatchError::Csv { name: name.to_owned(), source })?.clone();
            if let Some(line) = reader.get_ref().unterminated() {
                return Err(BatchError::Unterminated { name: name.to_owned(), line });
            }
            if reader.get_ref().oversized(0) {
                return Err(BatchError::HeaderTooLong { name: name.to_owned(), limit: reader.get_ref().limit() });
            }
            let headers: Vec<String> = headers.iter().map(|h| h.trim().to_owned()).collect();
            if headers.iter().all(String::is_empty) {
                return Err(BatchError::NoHeader { name: name.to_owned() });
            }
            // Two columns of one name: the key would be read from one and the input from the
            // other.
            if let Some((at, column)) =
                headers.iter().enumerate().find(|(at, column)| !column.is_empty() && headers[..*at].contains(column))
            {
                return Err(BatchError::DuplicateColumn { name: name.to_owned(), column: column.clone(), at: at + 1 });
            }
            Inner::Csv { reader: Box::new(reader), headers, record: csv::StringRecord::new() }
        };
        Ok(Self { inner, number: 0 })
    }

    /// The CSV header, if this is a CSV.
    pub(crate) fn headers(&self) -> Option<&[String]> {
        match &self.inner {
            Inner::Csv { headers, .. } => Some(headers),
            Inner::Lines { .. } => None,
        }
    }

    /// The next row, or where it is (line, row number) and why it cannot be read.
    pub(crate) fn next_row(&mut self) -> Option<Result<Row, Unreadable>> {
        match &mut self.inner {
            Inner::Csv { reader, headers, record } => {
                let read = reader.read_record(record);
                if matches!(read, Ok(false)) {
                    return None;
                }
                self.number += 1;
                let guard = reader.get_ref();
                let (line, problem) = match read {
                    Err(error) => (error.position().map_or(0, csv::Position::line), format!("unreadable CSV row: {error}")),
                    Ok(_) => (record.position().map_or(0, csv::Position::line), String::new()),
                };
                // Checked before the parser's own complaint: a cut row or a quote running to the
                // end may also have the wrong number of cells.
                let problem = if let Some(opened) = guard.unterminated() {
                    format!("the quoted field opened on line {opened} is never closed: every line after it would be read into one cell")
                } else if guard.oversized(self.number) {
                    format!("the row is over the limit of {} bytes (`--max-row-size`)", guard.limit())
                } else {
                    problem
                };
                if !problem.is_empty() {
                    return Some(Err(Unreadable { line, number: self.number, problem }));
                }
                let values = headers.iter().cloned().zip(record.iter().map(|cell| Cell::Text(cell.to_owned()))).collect();
                Some(Ok(Row { number: self.number, line, values }))
            }
            Inner::Lines { reader, line, buffer, limit } => loop {
                buffer.clear();
                match read_line(reader, buffer, *limit) {
                    Ok((0, _)) => return None,
                    Ok((_, over)) => {
                        *line += 1;
                        let Ok(text) = std::str::from_utf8(buffer) else {
                            self.number += 1;
                            return Some(Err(Unreadable {
                                line: *line,
                                number: self.number,
                                problem: "unreadable line: not UTF-8".into(),
                            }));
                        };
                        if text.trim().is_empty() && !over {
                            continue;
                        }
                        self.number += 1;
                        if over {
                            let problem = format!("the row is over the limit of {limit} bytes (`--max-row-size`)");
                            return Some(Err(Unreadable { line: *line, number: self.number, problem }));
                        }
                        // A byte order mark (an editor's "UTF-8 with BOM") is not content.
                        let text = if *line == 1 { text.trim().trim_start_matches('\u{feff}') } else { text.trim() };
                        return Some(match serde_json::from_str::<Json>(text) {
                            Ok(Json::Object(map)) => Ok(Row {
                                number: self.number,
                                line: *line,
                                values: map.into_iter().map(|(k, v)| (k, Cell::Json(v))).collect(),
                            }),
                            Ok(other) => Err(Unreadable {
                                line: *line,
                                number: self.number,
                                problem: format!("a row must be a JSON object, got {}", crate::select::kind(&other)),
                            }),
                            Err(error) => Err(Unreadable { line: *line, number: self.number, problem: format!("invalid JSON: {error}") }),
                        });
                    }
                    Err(error) => {
                        *line += 1;
                        self.number += 1;
                        return Some(Err(Unreadable { line: *line, number: self.number, problem: format!("unreadable line: {error}") }));
                    }
                }
            },
        }
    }
}

/// Reads one line into `buffer`, keeping at most `limit` bytes of it: how many bytes the line
/// had, and whether it was over the limit (the rest is read and dropped, never held).
fn read_line(reader: &mut BufReader<File>, buffer: &mut Vec<u8>, limit: u64) -> std::io::Result<(usize, bool)> {
    let mut total = 0;
    let mut over = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok((total, over));
        }
        let (taken, ends) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        let room = usize::try_from(limit).unwrap_or(usize::MAX).saturating_sub(buffer.len());
        if taken > room && !(ends && taken == room + 1) {
            over = true;
        }
        if !over {
            buffer.extend_from_slice(&available[..taken]);
        }
        reader.consume(taken);
        total += taken;
        if ends {
            return Ok((total, over));
        }
    }
}

impl Row {
    /// The row's key: the `key` column's value, or the row number.
    pub(crate) fn key(&self, column: Option<&str>) -> String {
        let Some(column) = column else { return self.number.to_string() };
        match self.values.iter().find(|(name, _)| name == column).map(|(_, cell)| cell) {
            Some(Cell::Text(text)) => text.clone(),
            Some(Cell::Json(Json::String(text))) => text.clone(),
            Some(Cell::Json(other)) => other.to_string(),
            None => String::new(),
        }
    }

    /// The row's inputs: `--vars` values, then the row's, then `--var` text, checked against the
    /// declared inputs. The key column is not an input unless the recipe declares it.
    pub(crate) fn inputs(&self, recipe: &Recipe, base: &InputSources, key: Option<&str>) -> Result<BTreeMap<String, Json>, Vec<String>> {
        let mut typed = base.file.clone();
        let mut problems = Vec::new();
        for (name, cell) in &self.values {
            let Some(input) = recipe.inputs.iter().find(|input| input.name.text == *name) else {
                if Some(name.as_str()) != key {
                    problems.push(unknown_column(recipe, name));
                }
                continue;
            };
            match cell {
                Cell::Text(text) if text.is_empty() => {}
                Cell::Text(text) => match coerce(input.kind, text) {
                    Ok(value) => {
                        typed.insert(name.clone(), value);
                    }
                    Err(message) => problems.push(format!("`{name}`: {message}")),
                },
                Cell::Json(value) => {
                    typed.insert(name.clone(), value.clone());
                }
            }
        }
        let sources = InputSources { recorded: BTreeMap::new(), file: typed, cli: base.cli.clone() };
        match resolve(recipe, &sources) {
            Ok(values) if problems.is_empty() => Ok(values),
            Ok(_) => Err(problems),
            Err(more) => {
                problems.extend(more.into_iter().map(|problem| match problem {
                    crate::inputs::InputError::Missing { name, about } => {
                        format!("missing input `{name}`{about}; give it as a column or with `--var {name}=...`")
                    }
                    other => other.to_string(),
                }));
                Err(problems)
            }
        }
    }
}

fn unknown_column(recipe: &Recipe, name: &str) -> String {
    let names: Vec<&str> = recipe.inputs.iter().map(|input| input.name.text.as_str()).collect();
    let mut message = format!("unknown column `{name}`");
    if let Some(suggestion) = crate::diagnostic::did_you_mean(name, names.iter().copied()) {
        message.push_str(&format!("; did you mean `{suggestion}`?"));
    } else {
        message.push_str(&format!("; the inputs are {} (name another column with `--key`)", names.join(", ")));
    }
    message
}
