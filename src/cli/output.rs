//! Printing: data to stdout, everything else to stderr, and reports to their file. This is the
//! only module of the command line that writes to the terminal.
//!
//! Printing never panics: a closed pipe or a full disk on stdout is an error and an exit code;
//! stderr is best effort (there is nowhere left to report its failure). Everything printed goes
//! through [`crate::printable`], so no control character from a response or an argument reaches
//! the terminal; on stderr, labels are coloured (`crate::terminal`) when colour is on.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;

use super::args::{ReportArgs, ReportFormat};
use crate::exit::Exit;

/// How much the commands print on stderr.
#[derive(Clone, Copy)]
pub(super) struct Ui {
    /// `-v` count; 0 by default.
    pub(super) verbose: u8,
    /// `-q`: errors only.
    pub(super) quiet: bool,
}

impl Ui {
    /// How much of each exchange `-v` (or `-vv`) shows; `None` without `-v`.
    pub(super) fn detail(self) -> Option<crate::report::exchange::Detail> {
        match self.verbose {
            0 => None,
            1 => Some(crate::report::exchange::Detail::Truncated),
            _ => Some(crate::report::exchange::Detail::Whole),
        }
    }
}

/// Why a command stopped before it finished: what to say on stderr, and the exit status. As
/// cargo's `CliError`, it carries its code, so that `?` ends a command.
pub(super) struct Failure {
    lines: Vec<String>,
    exit: Exit,
}

impl Failure {
    /// An error with its status.
    pub(super) fn error(message: impl std::fmt::Display, exit: Exit) -> Self {
        Self { lines: vec![format!("error: {message}")], exit }
    }

    /// A usage error: bad arguments, inputs or environment, or a file that cannot be used.
    pub(super) fn usage(message: impl std::fmt::Display) -> Self {
        Self::error(message, Exit::Usage)
    }

    /// Every problem, then the usage status.
    pub(super) fn usages(problems: &[String]) -> Self {
        Self { lines: problems.iter().map(|problem| format!("error: {problem}")).collect(), exit: Exit::Usage }
    }

    /// A report printed as it is (it says `error:` itself), with its status.
    pub(super) fn report(report: impl std::fmt::Display, exit: Exit) -> Self {
        Self { lines: vec![report.to_string()], exit }
    }

    /// Prints what it says and gives its status.
    pub(super) fn print(self) -> Exit {
        for line in &self.lines {
            say(line);
        }
        self.exit
    }
}

/// What a command ends with: its status, or a failure still to print.
pub(super) type Outcome = Result<Exit, Failure>;

/// Writes a JSON, YAML or markup document to stdout; a closed pipe or a full disk is an error,
/// never a panic. Control characters become JSON escapes (which YAML reads too); markup reports
/// hold none.
pub(super) fn out(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let text = crate::printable::escape_json(text);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        stdout.write_all(b"\n")?;
    }
    stdout.flush()
}

/// [`out`], with a failure to write a usage error.
pub(super) fn write_stdout(text: &str) -> Outcome {
    out(text).map_err(|error| Failure::usage(format!("cannot write to stdout: {error}")))?;
    Ok(Exit::Success)
}

/// Writes a message to stderr, escaped, with its labels coloured when colour is on; best effort:
/// if stderr itself is gone there is nowhere to say so. One message is one write, so messages
/// from several threads never interleave mid-line.
pub(super) fn say(text: &str) {
    use std::io::Write as _;
    let escaped = crate::printable::escape(text);
    if crate::terminal::stderr_coloured() {
        // Through anstream, which turns on a Windows console's colour mode where needed.
        let line = crate::terminal::paint(&escaped) + "\n";
        let _ = anstream::stderr().lock().write_all(line.as_bytes());
    } else {
        let mut line = escaped.into_owned();
        line.push('\n');
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// Writes data that would go to stdout to stderr instead (the report took stdout), unpainted.
pub(super) fn say_data(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{}", crate::printable::escape_json(text).trim_end());
}

impl ReportFormat {
    pub(super) fn name(self) -> &'static str {
        match self {
            ReportFormat::Json => "json",
            ReportFormat::Junit => "junit",
            ReportFormat::Html => "html",
        }
    }

    /// Where the report goes without `--report-file`.
    fn default_file(self) -> &'static str {
        match self {
            ReportFormat::Json => "recipe-report.json",
            ReportFormat::Junit => "recipe-report.xml",
            ReportFormat::Html => "recipe-report.html",
        }
    }
}

/// Where a report goes.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum ReportTarget {
    Stdout,
    File(PathBuf),
}

impl ReportArgs {
    /// The report asked for, and where it goes; `None` without `--report`.
    pub(super) fn target(&self) -> Option<(ReportFormat, ReportTarget)> {
        let format = self.report?;
        let target = match &self.report_file {
            Some(path) if path.as_os_str() == "-" => ReportTarget::Stdout,
            Some(path) => ReportTarget::File(path.clone()),
            None => ReportTarget::File(PathBuf::from(format.default_file())),
        };
        Some((format, target))
    }

    /// The report's file, when it goes to one.
    pub(super) fn file(&self) -> Option<PathBuf> {
        match self.target() {
            Some((_, ReportTarget::File(path))) => Some(path),
            _ => None,
        }
    }
}

/// Writes a report to its target; says where unless quiet.
pub(super) fn write_report(format: ReportFormat, target: &ReportTarget, text: &str, ui: Ui) -> Result<(), Failure> {
    match target {
        ReportTarget::Stdout => out(text).map_err(|error| Failure::usage(format!("cannot write the report to stdout: {error}"))),
        ReportTarget::File(path) => {
            crate::files::write_atomic(path, text.as_bytes())
                .map_err(|error| Failure::usage(format!("cannot write the report: {error}")))?;
            if !ui.quiet {
                say(&format!("wrote the {} report to {}", format.name(), path.display()));
            }
            Ok(())
        }
    }
}
