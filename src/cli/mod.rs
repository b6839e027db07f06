//! The command line, thin: `args.rs` holds the clap types, each command's module turns its
//! arguments into a library call and the result into output, and `output.rs` prints. Policy lives
//! in the library: the exit status of a run or a batch ([`crate::exit::Exit`], computed from its
//! result), where a recording goes ([`crate::recording`]), which files may be written
//! ([`crate::files`]).
//!
//! Every output path and flag combination is checked before the first request. The exit statuses
//! are [`crate::exit::Exit::ALL`]; `docs/cli.md` and `recipe man` list them.

mod args;
mod batch;
mod check;
mod docs;
mod export;
mod import;
mod lsp;
mod output;
mod run;
mod serve;
mod signals;
mod test;
mod values;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

pub use docs::reference;

use crate::check::{LoadError, Plan};
use crate::exit::Exit;
use args::{Cli, ColorWhen, Command, ExportCommand, ImportCommand};
use output::{Failure, Outcome, Ui, say};

/// Runs the command line and gives the process its exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // `--help` and `--version` go to stdout: a full disk or a closed pipe there is an
            // error like any other write.
            if let Err(failure) = error.print()
                && !error.use_stderr()
            {
                say(&format!("error: cannot write to stdout: {failure}"));
                return Exit::Usage.into();
            }
            return if error.use_stderr() { Exit::Usage } else { Exit::Success }.into();
        }
    };
    crate::terminal::set_choice(match cli.color {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    });
    let ui = Ui { verbose: cli.verbose, quiet: cli.quiet };
    dispatch(cli.command, ui).unwrap_or_else(Failure::print).into()
}

/// One command, to its module.
fn dispatch(command: Command, ui: Ui) -> Outcome {
    match command {
        Command::Run(args) => run::command(&args, ui),
        Command::Check { files } => Ok(check::command(&files, ui)),
        Command::Test(args) => test::command(&args, ui),
        Command::Serve { fixtures, port } => serve::command(&fixtures, port),
        Command::Lsp => lsp::command(),
        Command::Schema => docs::schema(),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { subcommand } => docs::man(subcommand.as_deref()),
        Command::Import(ImportCommand::Curl { file, output, name }) => import::curl(&file, output.as_deref(), name.as_deref()),
        Command::Import(ImportCommand::Arazzo { file, output, workflow }) => import::arazzo(&file, output.as_deref(), workflow.as_deref()),
        Command::Export(ExportCommand::Arazzo { file, output, openapi }) => export::arazzo(&file, output.as_deref(), openapi.as_deref()),
    }
}

/// Loads and checks a recipe (`-` reads it from stdin, its calls relative to the current
/// folder): an unreadable file is a usage error, an invalid recipe its report.
fn load_plan(file: &Path) -> Result<Plan, Failure> {
    let loaded = if file == Path::new("-") {
        crate::files::read_input(file)
            .map_err(|error| LoadError::Io(error.to_string()))
            .and_then(|text| crate::check::load_str("<stdin>", &text).map_err(LoadError::Invalid))
    } else {
        crate::check::load(file)
    };
    loaded.map_err(|error| match error {
        LoadError::Io(message) => Failure::usage(message),
        LoadError::Invalid(report) => Failure::report(report, Exit::InvalidRecipe),
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    crate::factory::runtime().map_err(|error| Failure::error(&error, error.exit()))
}

/// Leaves what a command built to the end of the process, which comes next: the system takes the
/// whole memory back at once, which is faster than freeing it value by value (every compiled
/// template, every response) and then handing the freed pages back one by one.
fn leave_to_exit<T>(value: T) {
    std::mem::forget(value);
}
