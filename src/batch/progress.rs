//! Batch progress for people: a live bar on a terminal (indicatif), otherwise one plain line every
//! 10 seconds, and the closing summary. With `cli`, the only code that writes to the terminal.
#![allow(clippy::print_stderr)]

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Counts, Progress, Summary};

const PLAIN_EVERY: Duration = Duration::from_secs(10);

pub(crate) struct Display {
    bar: Option<ProgressBar>,
    /// `-q`: no bar and no progress lines; only the answer to a Ctrl-C.
    quiet: bool,
    total: u64,
    started: Instant,
    last_line: Instant,
}

impl Display {
    /// `total` rows to go; a bar when stderr is a terminal, unless `quiet`.
    pub(crate) fn new(total: u64, terminal: bool, quiet: bool) -> Self {
        let bar = (terminal && !quiet).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{bar:30} {pos}/{len} rows  {msg}  {per_sec}  ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        let now = Instant::now();
        Self { bar, quiet, total, started: now, last_line: now }
    }

    pub(crate) fn update(&mut self, progress: Progress) {
        let (Progress::Row(counts) | Progress::Tick(counts) | Progress::Stopping(counts, _)) = progress;
        if let Progress::Stopping(_, signal) = progress {
            let by = if signal == super::Signal::Terminate { " (SIGTERM)" } else { "" };
            self.say(&format!(
                "stopping{by}: no new rows start; the rows in flight finish (Ctrl-C or SIGTERM again to abort; `--resume` continues)"
            ));
        }
        match &self.bar {
            None if self.quiet => {}
            Some(bar) => {
                bar.set_position(counts.done());
                bar.set_message(format!(
                    "{} ok, {} failed, {} in doubt, {} in flight",
                    counts.ok, counts.failed, counts.in_doubt, counts.in_flight
                ));
            }
            None if self.last_line.elapsed() >= PLAIN_EVERY => {
                self.last_line = Instant::now();
                let line = self.line(&counts);
                self.say(&line);
            }
            None => {}
        }
    }

    fn line(&self, counts: &Counts) -> String {
        let elapsed = self.started.elapsed().as_secs_f64().max(0.001);
        #[allow(clippy::cast_precision_loss)]
        let rate = counts.done() as f64 / elapsed;
        let left = self.total.saturating_sub(counts.done());
        #[allow(clippy::cast_precision_loss)]
        let eta = if rate > 0.0 { format!(", ETA {:.0}s", left as f64 / rate) } else { String::new() };
        format!(
            "batch: {}/{} rows, {} ok, {} failed, {} in doubt, {} in flight, {rate:.0} rows/s{eta}",
            counts.done(),
            self.total,
            counts.ok,
            counts.failed,
            counts.in_doubt,
            counts.in_flight
        )
    }

    fn say(&self, text: &str) {
        let text = crate::printable::escape(text);
        if let Some(bar) = &self.bar {
            bar.println(text);
        } else {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }

    /// Clears the bar; the summary line is the caller's.
    pub(crate) fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The closing line: counts, elapsed time and rows per second.
pub(crate) fn summary(summary: &Summary) -> String {
    let counts = summary.counts;
    let ran = counts.ok + counts.failed + counts.in_doubt;
    #[allow(clippy::cast_precision_loss)]
    let rate = ran as f64 / summary.elapsed.as_secs_f64().max(0.001);
    let state = match summary.interrupted {
        None if summary.broken.is_some() => "stopped",
        None => "done",
        Some(super::Signal::Interrupt) => "interrupted",
        Some(super::Signal::Terminate) => "terminated",
    };
    format!(
        "batch {state}: {} ok, {} failed, {} in doubt, {} skipped, {} invalid in {:.2}s ({rate:.0} rows/s)",
        counts.ok,
        counts.failed,
        counts.in_doubt,
        counts.skipped,
        counts.invalid,
        summary.elapsed.as_secs_f64()
    )
}
