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
    /// The results file (the journal) cannot be opened, read or written.
    #[error("cannot write the results file: {0}")]
    Journal(#[source] std::io::Error),
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
            BatchError::Journal(_)
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
}
