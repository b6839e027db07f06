//! `recipe run FILE`: one run (live, recorded, replayed or dry), or with `--rows` a batch
//! ([`super::batch`]). The run's exit status comes from its result; where its recording goes
//! comes from [`crate::recording`].

use std::path::Path;

use super::args::{ReportFormat, RunArgs};
use super::output::{Failure, Outcome, ReportTarget, Ui, out, say, say_data, write_report};
use crate::exit::Exit;
use crate::files::{dotenv, no_overwriting, vars_file, writable};
use crate::fixture::Fixture;
use crate::recording::Target;
use crate::report::RunReport;
use crate::run::{RunResult, Status, run};
use crate::session::{Mode, Options, prepare};
use crate::transport::Strictness;

pub(super) fn command(args: &RunArgs, ui: Ui) -> Outcome {
    files_problem(args).map_err(Failure::usage)?;
    let plan = super::load_plan(&args.file)?;
    if args.network.insecure {
        say("warning: `--insecure`: server certificates are not verified; anyone on the network path can read and change these \
             requests, credentials included");
    }
    if let Some(rows) = &args.batch.rows {
        return super::batch::command(args, &plan, rows, ui);
    }
    let report = args.report.target();
    // Every output must be writable before the first request: a run that created something
    // must not fail afterwards for want of a folder.
    let prepared = (|| {
        if let Some(path) = &args.record {
            writable(path, "the fixture").map_err(Failure::usage)?;
        }
        if let Some(path) = args.report.file() {
            writable(&path, "the report file").map_err(Failure::usage)?;
        }
        let mode = match (&args.replay, &args.record, args.dry_run) {
            (Some(path), _, _) => Mode::Replay(Fixture::read(path).map_err(Failure::usage)?, Strictness::Exact),
            (None, Some(_), _) => Mode::Record,
            (None, None, true) => Mode::Offline,
            (None, None, false) => Mode::Live,
        };
        Ok::<_, Failure>((
            mode,
            crate::inputs::var_pairs(&args.vars).map_err(Failure::usage)?,
            vars_file(args.vars_file.as_deref()).map_err(Failure::usage)?,
            dotenv(args.env_file.as_deref()).map_err(Failure::usage)?,
        ))
    })();
    let (mode, vars, vars_file, dotenv) = prepared?;
    let lookup = |name: &str| std::env::var(name).ok();
    let options = Options {
        vars,
        vars_file,
        dotenv,
        lookup: &lookup,
        mode,
        dry_run: args.dry_run,
        max_time: args.max_time,
        clock: None,
        network: args.network.settings(),
    };
    let mut session = prepare(&plan, options).map_err(|error| Failure::usages(&error.problems()))?;
    let runtime = super::runtime()?;
    let width = crate::report::id_width(&plan);
    let started = std::time::Instant::now();
    let stop = std::sync::Arc::new(crate::run::Stop::default());
    session.params.stop = Some(std::sync::Arc::clone(&stop));
    let result = runtime.block_on(async {
        super::signals::stop_on_sigterm(stop);
        super::signals::survive_file_size_limit();
        run(&plan, &session.params, &mut session.transport, &mut |event| print_event(event, ui, width)).await
    });
    let duration = started.elapsed();
    // From here on, a failure to write must not hide what the run did: keep the worst status.
    let mut exit = Exit::Success;
    if let (Some(path), Some(fixture)) = (&args.record, session.fixture(None, &result)) {
        let target = crate::recording::target_on_disk(path, result.ok);
        match (fixture.write(target.path()), &target) {
            (Ok(()), Target::Fixture(path)) => {
                if !ui.quiet {
                    say(&format!("recorded {} exchange(s) to {}", fixture.exchanges.len(), path.display()));
                }
            }
            (Ok(()), Target::Beside { failed, kept }) => {
                say(&format!("the run failed: recorded it to {} and kept the previous fixture {}", failed.display(), kept.display()));
            }
            (Err(error), _) => {
                say(&format!("error: cannot write the fixture: {error}"));
                exit = exit.worst(result.exit_after_write_failure());
            }
        }
    }
    if let Some((format, target)) = &report {
        let inputs = session.params.inputs.iter().map(|(name, value)| (name.clone(), session.params.masker.json(value))).collect();
        let document = RunReport { recipe: &plan.recipe().name, file: &args.file, inputs, duration, result: &result };
        if let Err(failure) = write_report(*format, target, &run_report(*format, &document), ui) {
            failure.print();
            exit = exit.worst(result.exit_after_write_failure());
        }
    }
    // With the report on stdout, what `run` prints there goes to stderr instead.
    let report_on_stdout = matches!(&report, Some((_, ReportTarget::Stdout)));
    let exit = conclude(args, &result, exit, report_on_stdout, ui);
    if exit == Exit::SideEffect && result.ok {
        say("note: the run created something (its outputs are above) but a file could not be written: check before running again");
    }
    super::leave_to_exit((plan, session, result));
    Ok(exit)
}

/// What is wrong with a run's files before anything is read: two of them on standard input, or an
/// output that would overwrite an input or another output.
fn files_problem(args: &RunArgs) -> Result<(), crate::files::FileError> {
    let stdin = Path::new("-");
    let readers = [Some(args.file.as_path()), args.vars_file.as_deref(), args.batch.rows.as_deref()]
        .into_iter()
        .flatten()
        .filter(|p| *p == stdin)
        .count();
    if readers > 1 {
        return Err(crate::files::FileError::StdinTwice);
    }
    let report_file = args.report.file();
    let outputs = [
        ("the fixture (`--record`)", args.record.as_deref()),
        ("the report file", report_file.as_deref()),
        ("the results file (`--out`)", args.batch.out.as_deref()),
    ];
    let inputs = [
        ("the recipe", Some(args.file.as_path())),
        ("the `--vars` file", args.vars_file.as_deref()),
        ("the `--replay` fixture", args.replay.as_deref()),
        ("the `--env-file`", args.env_file.as_deref()),
        ("the rows (`--rows`)", args.batch.rows.as_deref()),
    ];
    no_overwriting(&outputs, &inputs)
}

/// Prints what the run produced (outputs, dry-run requests, or the failure and what it created)
/// and gives the exit status; `exit` is the worst status so far.
fn conclude(args: &RunArgs, result: &RunResult, exit: Exit, report_on_stdout: bool, ui: Ui) -> Exit {
    let data = |text: &str| -> std::io::Result<()> {
        if report_on_stdout {
            say_data(text);
            Ok(())
        } else {
            out(text)
        }
    };
    if args.dry_run {
        if let Err(error) = data(&crate::report::dry_run(result)) {
            say(&format!("error: cannot write the dry run to stdout: {error}"));
            return Exit::RunFailed;
        }
        let status = result.dry_run_exit();
        if status != Exit::Success
            && let Some(message) = crate::report::failure(result)
        {
            say(&message);
        }
        return exit.worst(status);
    }
    if let Some(message) = crate::report::failure(result) {
        if let Some(created) = crate::report::side_effects(result)
            && let Err(error) = data(&created)
        {
            say(&format!("error: cannot write what the run created to stdout: {error}"));
        }
        say(&message);
        return result.exit();
    }
    if !ui.quiet
        && let Some(line) = crate::report::completion(result)
    {
        say(&line);
    }
    if let Err(error) = data(&crate::report::outputs(result)) {
        say(&format!("error: cannot write the outputs to stdout: {error}"));
        if !result.side_effects.is_empty() {
            // The run did what it was asked and created something: its outputs (what identifies
            // what it created) go to stderr rather than nowhere.
            say(&format!("what the run created, its outputs:\n{}", crate::report::outputs(result)));
        }
        return result.exit_without_outputs();
    }
    exit
}

/// Prints a run's progress: a line per step (only failed steps with `-q`), and with `-v` the
/// step's request and response.
fn print_event(event: crate::run::Event, ui: Ui, width: usize) {
    let failed = matches!(event, crate::run::Event::Step(step) if step.status == Status::Failed);
    if ui.quiet && !failed {
        return;
    }
    if let Some(line) = crate::report::event(event, width) {
        say(&line);
    }
    let Some(detail) = ui.detail() else { return };
    if let crate::run::Event::Step(step) = event
        && let Some(exchange) = crate::report::exchange::exchange(step, detail)
    {
        say(&exchange);
    }
}

/// The text of a run report.
fn run_report(format: ReportFormat, document: &RunReport) -> String {
    match format {
        ReportFormat::Json => serde_json::to_string_pretty(&crate::report::json::run(document)).unwrap_or_default() + "\n",
        ReportFormat::Junit => crate::report::junit::run(document),
        ReportFormat::Html => crate::report::html::run(document),
    }
}
