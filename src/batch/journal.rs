//! The results file, which is also the journal: one JSON line per finished row, written as the
//! row finishes, and before a row sends a non-idempotent request, a line saying it intends to
//! (written and flushed to disk first). A resumed batch reads it back: the last word on each row
//! decides whether it is done, must run again, or may already have had its side effect.
//!
//! Lines are appended and never rewritten, so a batch killed at any moment leaves a file that
//! can be resumed; a torn last line is ignored.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use serde_json::{Value as Json, json};

/// What an earlier run of the batch said last about a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prior {
    /// It succeeded: skip it.
    Ok,
    /// It failed before any non-idempotent request: run it again.
    Retry,
    /// It failed after a non-idempotent request succeeded: running it again would repeat that.
    FailedAfterEffect,
    /// A non-idempotent request may have been sent (an intent without an outcome, or an unknown
    /// outcome): not run again unless asked.
    InDoubt,
}

/// The journal of an earlier run, by row key.
#[derive(Debug, Default)]
pub struct Previous {
    pub rows: HashMap<String, Prior>,
    /// Lines that could not be read (a torn last line after a kill).
    pub unreadable: usize,
}

impl Previous {
    /// Reads a journal; a missing file is an empty one.
    pub fn read(path: &Path) -> Result<Self, String> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(error) => return Err(format!("cannot read the results file {}: {error}", path.display())),
        };
        let mut previous = Self::default();
        for line in BufReader::new(file).lines() {
            let line = line.map_err(|error| format!("cannot read the results file {}: {error}", path.display()))?;
            let Ok(Json::Object(entry)) = serde_json::from_str::<Json>(&line) else {
                previous.unreadable += usize::from(!line.trim().is_empty());
                continue;
            };
            let Some(key) = entry.get("key").and_then(Json::as_str) else { continue };
            let prior = if entry.contains_key("intent") {
                Prior::InDoubt
            } else {
                match (entry.get("outcome").and_then(Json::as_str), entry.get("effect").and_then(Json::as_str)) {
                    (Some("ok"), _) => Prior::Ok,
                    (Some("in_doubt"), _) | (_, Some("in_doubt")) => Prior::InDoubt,
                    (_, Some("created")) => Prior::FailedAfterEffect,
                    _ => Prior::Retry,
                }
            };
            previous.rows.insert(key.to_owned(), prior);
        }
        Ok(previous)
    }
}

pub struct Journal {
    file: File,
}

impl Journal {
    /// Opens the results file for appending; a torn last line is closed first.
    pub fn open(path: &Path) -> Result<Self, String> {
        let mut file =
            fs_err::OpenOptions::new().create(true).append(true).read(true).open(path).map_err(|e| e.to_string())?.into_parts().0;
        let length = file.metadata().map_err(|e| e.to_string())?.len();
        if length > 0 {
            use std::io::{Read, Seek, SeekFrom};
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1)).and_then(|_| file.read_exact(&mut last)).map_err(|e| e.to_string())?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(|e| e.to_string())?;
            }
        }
        Ok(Self { file })
    }

    /// Records that `row` is about to send the non-idempotent request of `step`, and makes sure
    /// it is on disk before the request leaves.
    pub fn intent(&mut self, row: u64, key: &str, step: &str) -> std::io::Result<()> {
        self.write(&json!({ "row": row, "key": key, "intent": step }))?;
        self.file.sync_data()
    }

    /// Records a finished row; `durable` syncs it to disk (rows that had an intent).
    pub fn outcome(&mut self, line: &Json, durable: bool) -> std::io::Result<()> {
        self.write(line)?;
        if durable { self.file.sync_data() } else { Ok(()) }
    }

    fn write(&mut self, line: &Json) -> std::io::Result<()> {
        let mut text = serde_json::to_string(line).unwrap_or_default();
        text.push('\n');
        // One write per line: a kill leaves whole lines, or a torn last one.
        self.file.write_all(text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_word_on_each_row_decides() {
        let folder = std::env::temp_dir().join(format!("recipe-journal-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("results.jsonl");
        std::fs::write(
            &path,
            concat!(
                "{\"row\":1,\"key\":\"a\",\"outcome\":\"failed\"}\n",
                "{\"row\":1,\"key\":\"a\",\"outcome\":\"ok\"}\n",
                "{\"row\":2,\"key\":\"b\",\"outcome\":\"failed\",\"effect\":null}\n",
                "{\"row\":3,\"key\":\"c\",\"intent\":\"draft\"}\n",
                "{\"row\":4,\"key\":\"d\",\"intent\":\"draft\"}\n",
                "{\"row\":4,\"key\":\"d\",\"outcome\":\"failed\",\"effect\":\"created\"}\n",
                "{\"row\":5,\"key\":\"e\",\"outcome\":\"in_d"
            ),
        )
        .unwrap();
        let previous = Previous::read(&path).unwrap();
        assert_eq!(previous.rows["a"], Prior::Ok);
        assert_eq!(previous.rows["b"], Prior::Retry);
        assert_eq!(previous.rows["c"], Prior::InDoubt);
        assert_eq!(previous.rows["d"], Prior::FailedAfterEffect);
        assert!(!previous.rows.contains_key("e"));
        assert_eq!(previous.unreadable, 1);
        let mut journal = Journal::open(&path).unwrap();
        journal.outcome(&json!({"row": 5, "key": "e", "outcome": "ok"}), false).unwrap();
        assert_eq!(Previous::read(&path).unwrap().rows["e"], Prior::Ok);
        std::fs::remove_dir_all(&folder).unwrap();
    }
}
