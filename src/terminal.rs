//! Colour on the terminal: which labels are coloured, and when colour is on at all.
//!
//! Messages are built as plain text everywhere; [`paint`] colours the labels a person scans for
//! (`error:`, `warning:`, `hint:`, and the status at the start of a progress or test line) just
//! before printing, after [`crate::printable::escape`], so only these codes ever reach the
//! terminal. Whether they are kept is anstream's decision, the one clap makes too: `--color
//! always` or `never`, else on a terminal unless `NO_COLOR` is set, or anywhere when
//! `CLICOLOR_FORCE` is. Without colour, nothing is painted, so every text reads the same.

use anstyle::{AnsiColor, Style};

/// Sets whether colour is used, for the rest of the process.
pub(crate) fn set_choice(choice: anstream::ColorChoice) {
    choice.write_global();
}

/// Whether what goes to stderr is coloured: anstream's decision, taken once, on the first
/// message (after [`set_choice`]), rather than again for every line.
pub(crate) fn stderr_coloured() -> bool {
    static COLOURED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *COLOURED.get_or_init(|| anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never)
}

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const HINT: Style = AnsiColor::Cyan.on_default().bold();
const NOTE: Style = Style::new().bold();
const GOOD: Style = AnsiColor::Green.on_default();
const BAD: Style = AnsiColor::Red.on_default().bold();
const MILD: Style = AnsiColor::Yellow.on_default();

/// Diagnostic prefixes, anywhere after a line's indentation.
const PREFIXES: &[(&str, Style)] = &[("error:", ERROR), ("warning:", WARNING), ("hint:", HINT), ("note:", NOTE)];

/// The statuses of progress lines (`{label:>7} id ...`) and of `recipe test` lines, longest first.
const STATUSES: &[(&str, Style)] = &[
    ("failed to render (optional, continuing)", MILD),
    ("failed (optional, continuing)", MILD),
    ("IN DOUBT", BAD),
    ("not sent", MILD),
    ("accepted", GOOD),
    ("skipped", MILD),
    ("FAILED", BAD),
    ("ERROR", BAD),
    ("new", MILD),
    ("ok", GOOD),
];

/// A status starts a line after at most this many spaces (it is right-aligned in 7 columns);
/// reasons and details under a line are indented further, so they are never taken for one.
const STATUS_INDENT: usize = 6;

/// `text` with its labels coloured. `text` must already be escaped.
pub(crate) fn paint(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        out.push_str(&paint_line(line));
    }
    out
}

fn paint_line(line: &str) -> String {
    let rest = line.trim_start_matches(' ');
    let indent = &line[..line.len() - rest.len()];
    for (prefix, style) in PREFIXES {
        if let Some(after) = rest.strip_prefix(prefix) {
            return format!("{indent}{style}{prefix}{style:#}{after}");
        }
    }
    if indent.len() <= STATUS_INDENT {
        for (status, style) in STATUSES {
            if let Some(after) = rest.strip_prefix(status)
                && (after.is_empty() || after.starts_with(' '))
            {
                return format!("{indent}{style}{status}{style:#}{after}");
            }
        }
    }
    line.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(text: &str) -> String {
        regex::Regex::new("\x1b\\[[0-9;]*m").unwrap().replace_all(text, "").into_owned()
    }

    #[test]
    fn colours_labels_and_nothing_else() {
        let text = "     ok search       GET https://x/ -> 200 (3ms)\n FAILED draft        POST https://x/ (1ms)\n        ok is not a status here\nerror: the run failed\nhint: run again";
        let painted = paint(text);
        assert_eq!(strip(&painted), text, "colour adds codes only");
        assert!(painted.starts_with(&format!("     {GOOD}ok{GOOD:#} search")), "{painted:?}");
        assert!(painted.contains(&format!(" {BAD}FAILED{BAD:#} draft")), "{painted:?}");
        assert!(painted.contains("\n        ok is not a status here\n"), "{painted:?}");
        assert!(painted.contains(&format!("{ERROR}error:{ERROR:#} the run failed")), "{painted:?}");
        assert!(painted.contains(&format!("{HINT}hint:{HINT:#} run again")), "{painted:?}");
        // A word that merely starts like a status is not one.
        assert_eq!(paint("okay"), "okay");
    }
}
