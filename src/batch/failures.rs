//! The failed rows a batch's summary names: the first [`SHOWN`] by row number (their key, the
//! step and the short reason), while the others are only counted, so that 100,000 failures do
//! not print 100,000 lines. The results file (`--out`) keeps every row's whole error.

/// How many failed rows the summary names.
pub(crate) const SHOWN: usize = 10;

/// The longest reason shown, in characters; the results file keeps it whole.
const REASON: usize = 160;

/// One row that failed or is in doubt, as the summary names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FailedRow {
    pub row: u64,
    /// The `--key` column's value; without `--key`, the row number.
    pub key: String,
    pub in_doubt: bool,
    /// The step that failed, when one did.
    pub step: Option<String>,
    /// The error, masked (as the run keeps it).
    pub reason: String,
}

/// The failed rows with the lowest row numbers, whatever order the rows finished in.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    rows: Vec<FailedRow>,
}

impl Failures {
    pub(crate) fn add(&mut self, failed: FailedRow) {
        if self.rows.len() < SHOWN {
            self.rows.push(failed);
        } else if let Some(last) = self.rows.iter_mut().max_by_key(|kept| kept.row)
            && failed.row < last.row
        {
            *last = failed;
        }
    }

    /// The kept rows in row order.
    pub(crate) fn into_sorted(mut self) -> Vec<FailedRow> {
        self.rows.sort_by_key(|failed| failed.row);
        self.rows
    }
}

/// The summary's lines naming the failed rows: a heading, one line per shown row, and how many
/// more there are. `total` counts every failed and in-doubt row; `out` is the results file.
pub(crate) fn lines(shown: &[FailedRow], total: u64, out: Option<&std::path::Path>) -> Vec<String> {
    if shown.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![if total > shown.len() as u64 {
        format!("failed rows (the first {} of {total}, by row number):", shown.len())
    } else {
        "failed rows:".to_owned()
    }];
    for failed in shown {
        let key = if failed.key == failed.row.to_string() { String::new() } else { format!(" (key {})", failed.key) };
        let what = match (&failed.step, failed.in_doubt) {
            (Some(step), true) => format!("in doubt at step `{step}`"),
            (Some(step), false) => format!("step `{step}`"),
            (None, true) => "in doubt".to_owned(),
            (None, false) => "failed".to_owned(),
        };
        lines.push(format!("  row {}{key}: {what}: {}", failed.row, short(&failed.reason)));
    }
    let more = total.saturating_sub(shown.len() as u64);
    if more > 0 {
        lines.push(match out {
            Some(out) => format!("  ... and {more} more: see {}", out.display()),
            None => format!("  ... and {more} more: run again with `--out FILE` to keep every row's error"),
        });
    }
    lines
}

/// The first line of a reason, cut to [`REASON`] characters.
fn short(reason: &str) -> String {
    let line = reason.lines().next().unwrap_or_default();
    if line.chars().count() > REASON || reason.lines().nth(1).is_some() {
        format!("{}...", line.chars().take(REASON).collect::<String>())
    } else {
        line.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(row: u64) -> FailedRow {
        FailedRow { row, key: row.to_string(), in_doubt: false, step: Some("draft".into()), reason: format!("status 400 for row {row}") }
    }

    #[test]
    fn the_lowest_rows_are_kept_in_any_finishing_order() {
        let mut failures = Failures::default();
        for row in (1..=25).rev() {
            failures.add(failed(row * 2));
        }
        let kept: Vec<u64> = failures.into_sorted().iter().map(|f| f.row).collect();
        assert_eq!(kept, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
    }

    #[test]
    fn the_summary_names_rows_keys_steps_and_reasons_then_counts_the_rest() {
        let mut shown = vec![failed(3), failed(8)];
        shown[1].key = "C-17".into();
        shown[1].in_doubt = true;
        shown[1].reason = format!("{}\nmore", "x".repeat(200));
        let named = lines(&shown, 100_000, Some(std::path::Path::new("results.jsonl")));
        assert_eq!(named.len(), 4, "{named:#?}");
        assert_eq!(named[0], "failed rows (the first 2 of 100000, by row number):");
        assert_eq!(named[1], "  row 3: step `draft`: status 400 for row 3");
        assert_eq!(named[2], format!("  row 8 (key C-17): in doubt at step `draft`: {}...", "x".repeat(160)));
        assert_eq!(named[3], "  ... and 99998 more: see results.jsonl");
        assert_eq!(lines(&shown[..1], 1, None), ["failed rows:", "  row 3: step `draft`: status 400 for row 3"]);
        assert!(lines(&[], 0, None).is_empty());
    }
}
