//! The results file, which is also the journal: one JSON line per finished row, written as the
//! row finishes, and before a row sends a non-idempotent request, a line saying it intends to
//! (written and flushed to disk first). A resumed batch reads it back: the last word on each row
//! decides whether it is done, must run again, or may already have had its side effect.
//!
//! Lines are appended and never rewritten, so a batch killed at any moment leaves a file that
//! can be resumed; a torn last line is ignored.

use super::error::BatchError;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::run::Effect;

/// One line of the results file. Every line is written and read through this type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Line {
    /// What this run of the batch is; the first line each run writes.
    Batch { batch: Identity },
    /// The row is about to send the non-idempotent request of step `intent`.
    Intent { row: u64, key: String, intent: String },
    /// The last attempt of step `not_processed` was certainly not processed (a 429, a 503 with
    /// `Retry-After`, a refused connection), and the row waits to retry: the intent before it is
    /// withdrawn.
    NotProcessed { row: u64, key: String, not_processed: String },
    /// The row ran to its end.
    Finished(Finished),
    /// The row did not run: it was refused (`invalid`), or left alone because an earlier run may
    /// have had its side effect (`in_doubt`).
    Skipped(Skipped),
}

/// What a results file is the journal of: the recipe, the key column, and a digest of the rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Identity {
    pub recipe: String,
    pub key: Option<String>,
    /// The first 128 bits of the rows' SHA-256, in hex.
    pub rows: String,
}

/// How a row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    Ok,
    Failed,
    InDoubt,
    Invalid,
}

/// A row that ran: its outputs, or where and why it failed, masked like everything a run keeps.
/// Read leniently (every field but the row, its key and its outcome may be missing), so that a
/// line of an earlier version, or written by hand, still says what became of its row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Finished {
    pub row: u64,
    pub key: String,
    pub outcome: Outcome,
    #[serde(default)]
    pub outputs: Option<Map<String, Json>>,
    /// The failed step.
    pub step: Option<String>,
    pub error_kind: Option<String>,
    pub error: Option<String>,
    pub effect: Option<Effect>,
    /// Requests sent by the row's steps, retries and called recipes' steps included; a redirect
    /// hop is part of its attempt, and an OAuth2 token request is not one.
    #[serde(default)]
    pub attempts: usize,
    #[serde(default)]
    pub duration_ms: u64,
}

/// A row that did not run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Skipped {
    pub row: u64,
    /// Absent when the row could not be read at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The line of the rows file, for a row that could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub outcome: Outcome,
    pub error: String,
}

/// What an earlier run of the batch said last about a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prior {
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

/// A row key as the batch remembers it: 128 bits of its SHA-256, so that a batch of millions of
/// rows keeps a few tens of bytes per row rather than every key's text.
pub(crate) fn key_digest(key: &str) -> Digest {
    use sha2::Digest as _;
    let hash = sha2::Sha256::digest(key.as_bytes());
    hash[..16].try_into().expect("SHA-256 has 32 bytes")
}

/// 128 bits as bytes: no alignment padding, so a table of them stays compact.
pub(crate) type Digest = [u8; 16];

/// The journal of an earlier run, by row key.
#[derive(Debug, Default)]
pub(crate) struct Previous {
    /// By [`key_digest`].
    rows: HashMap<Digest, Prior>,
    /// Lines that could not be read (a torn last line after a kill).
    pub unreadable: usize,
    /// The numbers of unreadable lines before the last one: not a kill's torn line, but damage
    /// (an edit, a second writer), which the batch warns about.
    pub garbled: Vec<u64>,
    /// What the last run said it was (`{"batch": ...}`): recipe, key column and rows.
    pub batch: Option<Identity>,
}

impl Previous {
    /// What the earlier run said last about the row with this key.
    pub(crate) fn get(&self, key: &str) -> Option<Prior> {
        self.rows.get(&key_digest(key)).copied()
    }

    /// Reads a journal; a missing file is an empty one.
    pub(crate) fn read(path: &Path) -> Result<Self, BatchError> {
        let unreadable = |source| BatchError::JournalRead { path: path.to_path_buf(), source };
        let file = match File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(error) => return Err(unreadable(error)),
        };
        let mut previous = Self::default();
        // Intents not yet withdrawn, per row whose last word is an intent: the row is in doubt
        // while any is open (an earlier step's intent has no line of its own saying it ended).
        let mut open: HashMap<Digest, u32> = HashMap::new();
        let mut reader = BufReader::new(file);
        let mut bytes = Vec::new();
        let mut number = 0u64;
        // The last unreadable line, not yet known to be the file's last.
        let mut torn: Option<u64> = None;
        loop {
            bytes.clear();
            // Bytes, not text: a line torn inside a character (a kill, a full disk) is one
            // unreadable line like any other torn line.
            if reader.read_until(b'\n', &mut bytes).map_err(unreadable)? == 0 {
                break;
            }
            number += 1;
            if bytes.trim_ascii().is_empty() {
                continue;
            }
            previous.garbled.extend(torn.take());
            let Ok(line) = serde_json::from_slice::<Line>(&bytes) else {
                previous.unreadable += 1;
                torn = Some(number);
                continue;
            };
            let (key, prior) = match line {
                Line::Batch { batch } => {
                    previous.batch = Some(batch);
                    continue;
                }
                Line::Intent { key, .. } => {
                    *open.entry(key_digest(&key)).or_default() += 1;
                    (key, Prior::InDoubt)
                }
                Line::NotProcessed { key, .. } => {
                    let digest = key_digest(&key);
                    let Some(count) = open.get_mut(&digest) else { continue };
                    *count = count.saturating_sub(1);
                    if *count > 0 {
                        continue;
                    }
                    open.remove(&digest);
                    // Nothing this row sent may have acted: it runs again.
                    (key, Prior::Retry)
                }
                // A row refused before it ran (a repeated key) says nothing about the row that
                // holds that key.
                Line::Finished(Finished { outcome: Outcome::Invalid, .. }) => continue,
                Line::Finished(finished) => {
                    let prior = match (finished.outcome, finished.effect) {
                        (Outcome::Ok, _) => Prior::Ok,
                        (Outcome::InDoubt, _) | (_, Some(Effect::InDoubt)) => Prior::InDoubt,
                        (_, Some(Effect::Created)) => Prior::FailedAfterEffect,
                        _ => Prior::Retry,
                    };
                    (finished.key, prior)
                }
                // A row refused before it ran (a repeated key) says nothing about the row that
                // holds that key.
                Line::Skipped(Skipped { outcome: Outcome::Invalid, .. } | Skipped { key: None, .. }) => continue,
                Line::Skipped(Skipped { key: Some(key), outcome, .. }) => {
                    (key, if outcome == Outcome::Ok { Prior::Ok } else { Prior::InDoubt })
                }
            };
            let digest = key_digest(&key);
            if prior != Prior::InDoubt || !open.contains_key(&digest) {
                // The row ended (or was skipped): its intents are settled.
                open.remove(&digest);
            }
            previous.rows.insert(digest, prior);
        }
        Ok(previous)
    }
}

/// The results file, shared by every worker. Writes are whole lines; an intent is made durable
/// with group commit: while one `fdatasync` runs (off the async thread), the intents written
/// meanwhile wait for the next one, so one sync covers many rows.
pub(crate) struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    /// The file's length after its last whole line (changed with `file` locked).
    length: AtomicU64,
    /// Lines written so far.
    written: AtomicU64,
    /// Lines known to be on disk.
    synced: AtomicU64,
    /// Held while a sync runs.
    syncing: tokio::sync::Mutex<()>,
}

impl Journal {
    /// Opens the results file for appending, and holds it: a second batch on the same file
    /// (a resume started twice) would send every row again. A torn last line is closed first.
    pub(crate) fn open(path: &Path) -> Result<Self, BatchError> {
        let failed = |source| BatchError::Journal { path: path.to_path_buf(), source, side_effect: false };
        let mut file =
            fs_err::OpenOptions::new().create(true).append(true).read(true).open(path).map_err(BatchError::JournalOpen)?.into_parts().0;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(BatchError::InUse(path.to_path_buf())),
            // A file system without locks (some network mounts): the batch goes on unguarded.
            Err(std::fs::TryLockError::Error(_)) => {}
        }
        let mut length = file.metadata().map_err(failed)?.len();
        if length > 0 {
            use std::io::{Read, Seek, SeekFrom};
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1)).and_then(|_| file.read_exact(&mut last)).map_err(failed)?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(failed)?;
                length += 1;
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            length: AtomicU64::new(length),
            written: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            syncing: tokio::sync::Mutex::new(()),
        })
    }

    /// The batch's error for a failed write of this file.
    pub(crate) fn failed(&self, source: std::io::Error, side_effect: bool) -> BatchError {
        BatchError::Journal { path: self.path.clone(), source, side_effect }
    }

    /// Says what this run is (recipe, key column, rows), so that a resume can tell it continues
    /// the same batch.
    pub(crate) fn begin(&self, batch: &Identity) -> std::io::Result<()> {
        self.write(&Line::Batch { batch: batch.clone() }).map(|_| ())
    }

    /// Records that `row` is about to send the non-idempotent request of `step`; resolves once
    /// the line is on disk, so the request can leave.
    pub(crate) async fn intent(&self, row: u64, key: &str, step: &str) -> std::io::Result<()> {
        let line = self.write(&Line::Intent { row, key: key.to_owned(), intent: step.to_owned() })?;
        self.durable(line).await
    }

    /// Withdraws the intent of `row` for `step`: its last attempt was not processed.
    pub(crate) fn not_processed(&self, row: u64, key: &str, step: &str) -> std::io::Result<()> {
        self.write(&Line::NotProcessed { row, key: key.to_owned(), not_processed: step.to_owned() }).map(|_| ())
    }

    /// Records a finished row. A kill cannot lose a line once written; only a machine crash
    /// can, and then the row's intent, already synced, makes it in doubt rather than lost.
    pub(crate) fn outcome(&self, line: &Line) -> std::io::Result<()> {
        self.write(line).map(|_| ())
    }

    /// Appends one line (one write: a kill leaves whole lines, or a torn last one); returns its
    /// number. A write that fails part way (a full disk, `ulimit -f`) is cut back off, so the
    /// file still ends with a whole line.
    fn write(&self, line: &Line) -> std::io::Result<u64> {
        let mut text = serde_json::to_string(line).unwrap_or_default();
        text.push('\n');
        let file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let length = self.length.load(Ordering::SeqCst);
        if let Err(error) = (&*file).write_all(text.as_bytes()) {
            let _ = file.set_len(length);
            return Err(error);
        }
        self.length.store(length + text.len() as u64, Ordering::SeqCst);
        Ok(self.written.fetch_add(1, Ordering::SeqCst) + 1)
    }

    /// Waits until line `line` is on disk.
    async fn durable(&self, line: u64) -> std::io::Result<()> {
        while self.synced.load(Ordering::SeqCst) < line {
            let _turn = self.syncing.lock().await;
            if self.synced.load(Ordering::SeqCst) >= line {
                break;
            }
            // Everything written so far is covered by this sync.
            let covered = self.written.load(Ordering::SeqCst);
            let file = self.file.lock().unwrap_or_else(PoisonError::into_inner).try_clone()?;
            tokio::task::spawn_blocking(move || file.sync_data()).await.map_err(std::io::Error::other)??;
            self.synced.fetch_max(covered, Ordering::SeqCst);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_reads_back_as_it_was_written() {
        let finished = Finished {
            row: 3,
            key: "VIN-3".into(),
            outcome: Outcome::Failed,
            outputs: Some(Map::from_iter([("link".to_owned(), Json::from("https://x/1"))])),
            step: Some("draft".into()),
            error_kind: Some("status".into()),
            error: Some("status 500".into()),
            effect: Some(Effect::InDoubt),
            attempts: 2,
            duration_ms: 41,
        };
        let lines = [
            Line::Batch { batch: Identity { recipe: "draft".into(), key: Some("vin".into()), rows: "ab12".into() } },
            Line::Intent { row: 3, key: "VIN-3".into(), intent: "draft".into() },
            Line::Finished(finished),
            Line::Skipped(Skipped { row: 4, key: None, line: Some(5), outcome: Outcome::Invalid, error: "bad quote".into() }),
        ];
        for line in lines {
            let text = serde_json::to_string(&line).unwrap();
            assert_eq!(serde_json::from_str::<Line>(&text).unwrap(), line, "{text}");
        }
    }

    #[test]
    fn a_row_refused_for_its_key_says_nothing_about_the_row_that_has_it() {
        let path = std::env::temp_dir().join(format!("recipe-journal-invalid-{}.jsonl", std::process::id()));
        std::fs::write(&path, "{\"row\":1,\"key\":\"A\",\"outcome\":\"ok\"}\n{\"row\":2,\"key\":\"A\",\"outcome\":\"invalid\"}\n{\"row\":3,\"key\":\"B\",\"intent\":\"draft\"}\n{\"row\":4,\"key\":\"B\",\"outcome\":\"invalid\"}\n").unwrap();
        let previous = Previous::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(previous.get("A"), Some(Prior::Ok), "not run again");
        assert_eq!(previous.get("B"), Some(Prior::InDoubt), "still in doubt");
    }

    #[test]
    fn an_intent_withdrawn_by_an_unprocessed_attempt_leaves_the_row_to_run_again() {
        let path = std::env::temp_dir().join(format!("recipe-journal-withdrawn-{}.jsonl", std::process::id()));
        std::fs::write(
            &path,
            concat!(
                // Withdrawn: run again.
                "{\"row\":1,\"key\":\"A\",\"intent\":\"draft\"}\n",
                "{\"row\":1,\"key\":\"A\",\"not_processed\":\"draft\"}\n",
                // Withdrawn, then sent again: in doubt.
                "{\"row\":2,\"key\":\"B\",\"intent\":\"draft\"}\n",
                "{\"row\":2,\"key\":\"B\",\"not_processed\":\"draft\"}\n",
                "{\"row\":2,\"key\":\"B\",\"intent\":\"draft\"}\n",
                // An earlier step's intent is still open: in doubt.
                "{\"row\":3,\"key\":\"C\",\"intent\":\"create\"}\n",
                "{\"row\":3,\"key\":\"C\",\"intent\":\"draft\"}\n",
                "{\"row\":3,\"key\":\"C\",\"not_processed\":\"draft\"}\n",
                // In doubt in an earlier run, retried, withdrawn: still in doubt.
                "{\"row\":4,\"key\":\"D\",\"intent\":\"draft\"}\n",
                "{\"row\":4,\"key\":\"D\",\"outcome\":\"in_doubt\"}\n",
                "{\"row\":4,\"key\":\"D\",\"intent\":\"draft\"}\n",
                "{\"row\":4,\"key\":\"D\",\"not_processed\":\"draft\"}\n",
            ),
        )
        .unwrap();
        let previous = Previous::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(previous.get("A"), Some(Prior::Retry));
        assert_eq!(previous.get("B"), Some(Prior::InDoubt));
        assert_eq!(previous.get("C"), Some(Prior::InDoubt));
        assert_eq!(previous.get("D"), Some(Prior::InDoubt));
        assert_eq!(previous.unreadable, 0);
        let garbled = std::env::temp_dir().join(format!("recipe-journal-garbled-{}.jsonl", std::process::id()));
        std::fs::write(
            &garbled,
            "{\"row\":1,\"key\":\"A\",\"outcome\":\"ok\"}\nnot json\n{\"row\":2,\"key\":\"B\",\"outcome\":\"ok\"}\n{\"row\"",
        )
        .unwrap();
        let previous = Previous::read(&garbled).unwrap();
        std::fs::remove_file(&garbled).unwrap();
        assert_eq!((previous.garbled, previous.unreadable), (vec![2], 2));
    }

    #[test]
    fn a_line_torn_inside_a_character_is_one_unreadable_line() {
        let path = std::env::temp_dir().join(format!("recipe-journal-torn-{}.jsonl", std::process::id()));
        let mut bytes = b"{\"row\":1,\"key\":\"row-\xc3\xbc\",\"outcome\":\"ok\"}\n".to_vec();
        bytes.extend_from_slice(b"{\"row\":2,\"key\":\"row-\xc3");
        std::fs::write(&path, bytes).unwrap();
        let previous = Previous::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(previous.get("row-\u{fc}"), Some(Prior::Ok));
        assert_eq!(previous.unreadable, 1);
    }

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
        assert_eq!(previous.get("a").unwrap(), Prior::Ok);
        assert_eq!(previous.get("b").unwrap(), Prior::Retry);
        assert_eq!(previous.get("c").unwrap(), Prior::InDoubt);
        assert_eq!(previous.get("d").unwrap(), Prior::FailedAfterEffect);
        assert_eq!(previous.get("e"), None);
        assert_eq!(previous.unreadable, 1);
        assert_eq!(previous.garbled, Vec::<u64>::new(), "a torn last line is no damage");
        let journal = Journal::open(&path).unwrap();
        let skipped = Skipped { row: 5, key: Some("e".into()), line: None, outcome: Outcome::Ok, error: String::new() };
        journal.outcome(&Line::Skipped(skipped)).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (first, second) = runtime.block_on(async { tokio::join!(journal.intent(6, "f", "draft"), journal.intent(7, "g", "draft")) });
        first.unwrap();
        second.unwrap();
        assert_eq!(journal.synced.load(Ordering::SeqCst), 3);
        let previous = Previous::read(&path).unwrap();
        assert_eq!(previous.get("e").unwrap(), Prior::Ok);
        assert_eq!(previous.get("g").unwrap(), Prior::InDoubt);
        std::fs::remove_dir_all(&folder).unwrap();
    }
}
