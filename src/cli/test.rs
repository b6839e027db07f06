//! `recipe test [PATH...]`: replay every fixture case and compare it with its snapshot.

use std::path::PathBuf;

use super::args::{ReportFormat, TestArgs};
use super::output::{Failure, Outcome, Ui, say, write_report};

pub(super) fn command(args: &TestArgs, ui: Ui) -> Outcome {
    let paths = if args.paths.is_empty() { vec![PathBuf::from("recipes")] } else { args.paths.clone() };
    let report = args.report.target();
    if let Some(path) = args.report.file() {
        crate::files::writable(&path, "the report file").map_err(Failure::usage)?;
    }
    let cases = crate::testing::discover(&paths).map_err(|error| Failure::error(&error, error.exit()))?;
    if cases.is_empty() {
        return Err(Failure::usage(format!(
            "no cases found under {}; the cases of `DIR/NAME.yaml` are `DIR/fixtures/NAME/*.yaml`",
            paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    let detail = ui.detail();
    let listen = |plan: &crate::check::Plan, event: crate::run::Event<'_>| match detail {
        Some(detail) => crate::report::case_event(plan, event, detail),
        None => Vec::new(),
    };
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut outcomes = Vec::new();
    crate::testing::run_all(&cases, args.accept, threads, &listen, &mut |outcome, log| {
        if !(ui.quiet && outcome.passed()) {
            say(&crate::report::test_outcome(&outcome));
        }
        // The replayed run under its case, as `run -v` shows it.
        for line in &log {
            say(line);
        }
        outcomes.push(outcome);
    });
    let passed = outcomes.iter().filter(|o| o.passed()).count();
    let new = outcomes.iter().filter(|o| o.verdict == crate::testing::Verdict::New).count();
    if !(ui.quiet && passed == outcomes.len()) {
        say(&format!("{passed} passed, {} failed", outcomes.len() - passed));
    }
    if new > 0 {
        say(&format!("hint: {new} new case(s) have no snapshot; review them and run `recipe test --accept`"));
    }
    if let Some((format, target)) = &report {
        let text = match format {
            ReportFormat::Junit => crate::report::junit::test(&outcomes),
            ReportFormat::Json => serde_json::to_string_pretty(&crate::report::json::test(&outcomes)).unwrap_or_default() + "\n",
            ReportFormat::Html => crate::report::html::test(&outcomes),
        };
        write_report(*format, target, &text, ui)?;
    }
    Ok(crate::testing::exit(&outcomes))
}
