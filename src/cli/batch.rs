//! `recipe run FILE --rows ROWS`: every row checked first, then run with `--jobs` in flight. The
//! batch's exit status comes from its summary ([`crate::batch::Summary::exit`]).

use std::collections::BTreeMap;
use std::path::Path;

use super::args::RunArgs;
use super::output::{Failure, Outcome, Ui, say};
use crate::batch::{self, progress};
use crate::check::Plan;
use crate::files::{dotenv, vars_file, writable};

pub(super) fn command(args: &RunArgs, plan: &Plan, rows: &Path, ui: Ui) -> Outcome {
    if ui.verbose > 0 {
        return Err(Failure::usage(
            "`-v` shows one run's requests and responses; a batch (`--rows`) does not print them: each row's outcome, \
             error and attempts are in `--out`, and `recipe run FILE --var ...` with `-v` shows one row's exchanges",
        ));
    }
    super::signals::survive_file_size_limit();
    let batch_args = &args.batch;
    let prepared = (|| {
        if let Some(out) = &batch_args.out {
            writable(out, "the results file").map_err(Failure::usage)?;
            let used = fs_err::metadata(out).is_ok_and(|m| m.len() > 0);
            if used && !batch_args.resume {
                return Err(Failure::usage(format!(
                    "the results file {} already holds a batch: continue it with `--resume`, or choose another file",
                    out.display()
                )));
            }
        }
        Ok::<_, Failure>((
            crate::inputs::var_pairs(&args.vars).map_err(Failure::usage)?,
            vars_file(args.vars_file.as_deref()).map_err(Failure::usage)?,
            dotenv(args.env_file.as_deref()).map_err(Failure::usage)?,
        ))
    })();
    let (vars, vars_file, dotenv) = prepared?;
    // Rows that can be read only once (standard input, a pipe) are read twice (checked, then run):
    // keep a copy.
    let spool = if rows == Path::new("-") {
        Some(batch::rows::Spool::copy(&mut std::io::stdin().lock(), "standard input").map_err(failure)?)
    } else if batch::rows::read_once(rows) {
        let mut pipe = fs_err::File::open(rows).map_err(|error| Failure::usage(error.to_string()))?;
        Some(batch::rows::Spool::copy(&mut pipe, &rows.display().to_string()).map_err(failure)?)
    } else {
        None
    };
    let options = batch::Options {
        rows: rows.to_path_buf(),
        rows_label: (rows == Path::new("-")).then(|| "stdin".to_owned()),
        spool,
        jobs: usize::from(batch_args.jobs),
        rate: batch_args.rate,
        out: batch_args.out.clone(),
        key: batch_args.key.clone(),
        resume: batch_args.resume,
        retry_in_doubt: batch_args.retry_in_doubt,
        skip_invalid: batch_args.skip_invalid,
        shard: batch_args.shard,
        inputs: crate::inputs::InputSources { recorded: BTreeMap::new(), file: vars_file, cli: vars },
        max_time: args.max_time,
        threads: batch_args.threads.map(usize::from),
        row_limit: batch_args.max_row_size,
        breaker: (batch_args.breaker > 0).then_some(batch_args.breaker),
    };
    let checked = batch::check_rows(plan, &options).map_err(failure)?;
    for bad in &checked.bad {
        say(&format!("error: {} line {} (row {}): {}", options.rows_name(), bad.line, bad.number, bad.problems.join("; ")));
    }
    if !checked.bad.is_empty() && !options.skip_invalid {
        return Err(Failure::usage(format!(
            "{} of {} row(s) are invalid; nothing was sent. Fix them, or pass `--skip-invalid` to run the others",
            checked.bad.len(),
            checked.rows
        )));
    }
    let lookup = |name: &str| std::env::var(name).ok();
    let factory =
        batch::factory(plan, &options, &lookup, &dotenv, &args.network.settings()).map_err(|error| Failure::usages(&error.problems()))?;
    let mut display = progress::Display::new(checked.rows, std::io::IsTerminal::is_terminal(&std::io::stderr()), ui.quiet);
    let mut interrupt = || -> std::pin::Pin<Box<dyn std::future::Future<Output = batch::Signal>>> { Box::pin(super::signals::next()) };
    let outcome = batch::run(plan, &options, &checked, &factory, &mut interrupt, &mut |update| display.update(update));
    display.finish();
    let summary = outcome.map_err(failure)?;
    if !(ui.quiet && summary.succeeded()) {
        say(&progress::summary(&summary));
    }
    for warning in &summary.warnings {
        say(&format!("warning: {warning}"));
    }
    if let Some(why) = &summary.broken {
        say(&format!("error: {why}"));
    }
    let failed = summary.counts.failed + summary.counts.in_doubt;
    for line in batch::failures::lines(&summary.failures, failed, options.out.as_deref()) {
        say(&line);
    }
    // Past the rows named, the last line already says where the others are.
    let more_named = !summary.failures.is_empty() && failed > summary.failures.len() as u64;
    if failed > 0 && !more_named {
        say(&match &options.out {
            Some(out) => format!("hint: each row's outcome, error and attempts are in {}", out.display()),
            None => "hint: run again with `--out FILE` to keep each row's outcome, error and attempts (and to `--resume`)".to_owned(),
        });
    }
    Ok(summary.exit())
}

/// A batch's error, with the exit status it means.
fn failure(error: batch::BatchError) -> Failure {
    Failure::error(&error, error.exit())
}
