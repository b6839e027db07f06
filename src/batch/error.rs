//! Why a batch could not start or go on: the batch layer's error. A row's own failure is not one
//! of these (it is the row's outcome, in the journal); these stop the whole batch, before its
//! first row or between rows, and each says which exit status it means.

use std::path::PathBuf;

use crate::exit::Exit;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The rows cannot be opened (`name` is what messages call them: a file, or `stdin`).
    #[error("failed to open file `{name}`: {source}")]
    Open { name: String, source: std::io::Error },
    /// The rows cannot be read.
    #[error("cannot read the rows from {name}: {source}")]
    Read { name: String, source: std::io::Error },
    /// The private copy of rows that can be read only once cannot be made.
    #[error("cannot create a private copy of the rows in {}: {source}", .folder.display())]
    Spool { folder: PathBuf, source: std::io::Error },
    #[error("{name}: {source}")]
    Csv { name: String, source: csv::Error },
    #[error("{name}: the quoted field opened on line {line} is never closed")]
    Unterminated { name: String, line: u64 },
    #[error("{name}: the header row is over the limit of {limit} bytes (`--max-row-size`)")]
    HeaderTooLong { name: String, limit: u64 },
    #[error("{name}: the CSV has no header row naming the inputs")]
    NoHeader { name: String },
    #[error("{name}: the column `{column}` appears twice in the header (column {at})")]
    DuplicateColumn { name: String, column: String, at: usize },
    /// CSV columns that are neither an input nor the key column.
    #[error(
        "{rows}: unknown column{} {}; the inputs are {} (name the key column with `--key`)",
        if .columns.len() == 1 { "" } else { "s" },
        .columns.iter().map(|column| format!("`{column}`")).collect::<Vec<_>>().join(", "),
        .inputs.join(", ")
    )]
    UnknownColumns { rows: String, columns: Vec<String>, inputs: Vec<String> },
    #[error("{rows}: no column `{key}` for `--key`")]
    NoKeyColumn { rows: String, key: String },
    /// The results file (the journal) cannot be written (a full disk, `ulimit -f`): no new row
    /// starts. After a side effect the status says so (4), since a row that created something
    /// may have no outcome in the file.
    #[error(
        "cannot write the results file {}: {source}; no new rows were started{}",
        .path.display(),
        if *.side_effect {
            ". Rows of this batch created something, and a row whose outcome is missing from the file is reported in doubt by \
             `--resume`: check those before `--retry-in-doubt`"
        } else {
            ", and `--resume` continues the batch once the file can be written"
        }
    )]
    Journal { path: PathBuf, source: std::io::Error, side_effect: bool },
    #[error("cannot read the results file {}: {source}", .path.display())]
    JournalRead { path: PathBuf, source: std::io::Error },
    /// The results file cannot be opened (the error names it).
    #[error("{0}")]
    JournalOpen(#[source] std::io::Error),
    #[error("the results file {} is in use by another batch; wait for it to end (or stop it), then `--resume`", .0.display())]
    InUse(PathBuf),
    /// `--resume` of a results file written for another batch.
    #[error("{out} holds the results of the recipe {earlier:?}, not {now:?}; resume with that recipe, or write to another file")]
    OtherRecipe { out: String, earlier: String, now: String },
    #[error("{out} was written with {} as row keys, and this run uses {}; resume with the same key", shown(.earlier.as_deref()), shown(.now.as_deref()))]
    OtherKey { out: String, earlier: Option<String>, now: Option<String> },
    #[error(
        "{out} was written for other rows: without `--key` a row is known by its number, so these rows would be taken for others; resume with the same rows, or use `--key`"
    )]
    OtherRows { out: String },
    /// A thread of rows could not get its runtime or client.
    #[error(transparent)]
    Setup(#[from] crate::setup::SetupError),
    #[error("cannot start a thread for the rows: {0}")]
    Thread(#[source] std::io::Error),
    #[error("a thread running rows stopped unexpectedly (it panicked); `--resume` continues the batch")]
    Panicked,
    #[error("a worker thread stopped unexpectedly")]
    WorkerLost,
}

/// Row keys as a message names them.
fn shown(key: Option<&str>) -> String {
    key.map_or_else(|| "row numbers (no `--key`)".to_owned(), |key| format!("`--key {key}`"))
}

impl BatchError {
    /// The rows or their columns need a change: a usage error, found before any row ran. Anything
    /// else stopped a batch that had started: a run failure (`--resume` continues it).
    pub fn exit(&self) -> Exit {
        match self {
            BatchError::Open { .. }
            | BatchError::Read { .. }
            | BatchError::Spool { .. }
            | BatchError::Csv { .. }
            | BatchError::Unterminated { .. }
            | BatchError::HeaderTooLong { .. }
            | BatchError::NoHeader { .. }
            | BatchError::DuplicateColumn { .. }
            | BatchError::UnknownColumns { .. }
            | BatchError::NoKeyColumn { .. } => Exit::Usage,
            BatchError::Journal { side_effect: true, .. } => Exit::SideEffect,
            BatchError::Journal { side_effect: false, .. }
            | BatchError::JournalRead { .. }
            | BatchError::JournalOpen(_)
            | BatchError::InUse(_)
            | BatchError::OtherRecipe { .. }
            | BatchError::OtherKey { .. }
            | BatchError::OtherRows { .. }
            | BatchError::Setup(_)
            | BatchError::Thread(_)
            | BatchError::Panicked
            | BatchError::WorkerLost => Exit::RunFailed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rows_are_a_usage_error_and_a_stopped_batch_a_run_failure() {
        let columns = BatchError::UnknownColumns { rows: "rows.csv".into(), columns: vec!["vim".into()], inputs: vec!["vin".into()] };
        assert_eq!(columns.to_string(), "rows.csv: unknown column `vim`; the inputs are vin (name the key column with `--key`)");
        assert_eq!(columns.exit(), Exit::Usage);
        let key = BatchError::OtherKey { out: "r.jsonl".into(), earlier: None, now: Some("vin".into()) };
        assert_eq!(
            key.to_string(),
            "r.jsonl was written with row numbers (no `--key`) as row keys, and this run uses `--key vin`; resume with the same key"
        );
        assert_eq!(key.exit(), Exit::RunFailed);
        assert_eq!(BatchError::Panicked.exit(), Exit::RunFailed);
    }

    #[test]
    fn a_results_file_that_cannot_be_written_is_named_and_exits_4_after_a_side_effect() {
        let full = |side_effect| BatchError::Journal {
            path: "out/results.jsonl".into(),
            source: std::io::Error::from_raw_os_error(27),
            side_effect,
        };
        let before = full(false);
        assert!(before.to_string().starts_with("cannot write the results file out/results.jsonl: "), "{before}");
        assert!(before.to_string().contains("no new rows were started, and `--resume` continues"), "{before}");
        assert_eq!(before.exit(), Exit::RunFailed);
        let after = full(true);
        assert!(after.to_string().contains("reported in doubt by `--resume`"), "{after}");
        assert_eq!(after.exit(), Exit::SideEffect);
    }
}
