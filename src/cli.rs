//! The command line: clap types, option resolution, and one function per command returning an
//! exit code. This is the only module that prints.
//!
//! Exit codes: 0 success; 1 the run failed (a step failed, a replay differed); 2 usage error
//! (bad arguments, inputs or environment, unreadable files); 3 the recipe is invalid.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::Value as Json;

use crate::check::{LoadError, Plan, load};
use crate::fixture::Fixture;
use crate::inputs::parse_dotenv;
use crate::run::run;
use crate::session::{Mode, Options, prepare};
use crate::transport::Strictness;

pub const SUCCESS: u8 = 0;
pub const RUN_FAILED: u8 = 1;
pub const USAGE: u8 = 2;
pub const INVALID_RECIPE: u8 = 3;

#[derive(Parser)]
#[command(name = "recipe", version, about = "Run declarative HTTP workflows, checked before they send anything")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check and run a recipe; outputs go to stdout as JSON, progress to stderr.
    Run(RunArgs),
    /// Check recipes without running them: every problem, with its place.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Replay every recipe's fixture cases and compare them with their snapshots.
    Test(TestArgs),
    /// Serve fixture files over HTTP on 127.0.0.1 (a stand-in for the API).
    Serve {
        #[arg(required = true)]
        fixtures: Vec<PathBuf>,
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Print the JSON Schema of the recipe language.
    Schema,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReportFormat {
    Json,
    Junit,
}

#[derive(clap::Args)]
struct ReportArgs {
    /// Write a report in this format (`json`; `junit` for `recipe test`).
    #[arg(long, value_enum, requires = "report_file")]
    report: Option<ReportFormat>,
    /// Where to write the report.
    #[arg(long, value_name = "FILE", requires = "report")]
    report_file: Option<PathBuf>,
}

#[derive(clap::Args)]
struct TestArgs {
    /// Recipe files, fixture files or folders (default: `recipes`). The cases of `DIR/NAME.yaml`
    /// are `DIR/fixtures/NAME/*.yaml`; their snapshots are in `DIR/fixtures/NAME/snapshots/`.
    paths: Vec<PathBuf>,
    /// Write the snapshots of this run (new and changed ones).
    #[arg(long)]
    accept: bool,
    #[command(flatten)]
    report: ReportArgs,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The recipe file.
    file: PathBuf,
    /// An input value, `name=value` (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// A YAML or JSON file of input values.
    #[arg(long = "vars", value_name = "FILE")]
    vars_file: Option<PathBuf>,
    /// Read environment variables from this file as well (default `.env` when it exists).
    #[arg(long, value_name = "FILE")]
    env_file: Option<PathBuf>,
    /// Answer requests from this fixture instead of the network, checking each request.
    #[arg(long, value_name = "FIXTURE", conflicts_with = "record")]
    replay: Option<PathBuf>,
    /// Run live and write every exchange to this fixture (secrets replaced by placeholders).
    #[arg(long, value_name = "FIXTURE")]
    record: Option<PathBuf>,
    /// Print every rendered request (secrets masked) instead of sending it.
    #[arg(long, conflicts_with = "record")]
    dry_run: bool,
    #[command(flatten)]
    report: ReportArgs,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { USAGE } else { SUCCESS });
        }
    };
    let code = match cli.command {
        Command::Run(args) => run_command(&args),
        Command::Check { files } => check_command(&files),
        Command::Test(args) => test_command(&args),
        Command::Serve { fixtures, port } => serve_command(&fixtures, port),
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&crate::model::schema()).unwrap_or_default());
            SUCCESS
        }
    };
    ExitCode::from(code)
}

fn usage_error(message: &str) -> u8 {
    eprintln!("error: {message}");
    USAGE
}

fn load_plan(file: &Path) -> Result<Plan, u8> {
    load(file).map_err(|error| match error {
        LoadError::Io(message) => usage_error(&message),
        LoadError::Invalid(report) => {
            eprintln!("{report}");
            INVALID_RECIPE
        }
    })
}

fn check_command(files: &[PathBuf]) -> u8 {
    let mut worst = SUCCESS;
    for file in files {
        match load_plan(file) {
            Ok(plan) => eprintln!("{}: ok ({} steps)", file.display(), plan.recipe().steps.len()),
            Err(code) => worst = worst.max(code),
        }
    }
    worst
}

fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| usage_error(&format!("cannot start the runtime: {error}")))
}

fn serve_command(files: &[PathBuf], port: u16) -> u8 {
    let fixtures = match files.iter().map(|file| Fixture::read(file)).collect::<Result<Vec<_>, _>>() {
        Ok(fixtures) => fixtures,
        Err(message) => return usage_error(&message),
    };
    let listing = crate::serve::describe(&fixtures);
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(async {
        match crate::serve::start(fixtures, port).await {
            Ok(server) => {
                eprintln!("serving {} recorded request(s) on http://{}", listing.len(), server.address);
                for (request, count) in &listing {
                    eprintln!("  {request}{}", if *count > 1 { format!(" (x{count})") } else { String::new() });
                }
                eprintln!("try: MYKAARMA_BASE_URL=http://{} recipe run recipes/draft.yaml ...", server.address);
                let _ = tokio::signal::ctrl_c().await;
                SUCCESS
            }
            Err(message) => usage_error(&message),
        }
    })
}

/// Reads `--var` pairs.
fn cli_vars(args: &RunArgs) -> Result<Vec<(String, String)>, String> {
    args.vars
        .iter()
        .map(|pair| {
            let (name, value) = pair.split_once('=').ok_or_else(|| format!("`--var {pair}` needs the form name=value"))?;
            Ok((name.trim().to_owned(), value.to_owned()))
        })
        .collect()
}

fn vars_file(path: Option<&Path>) -> Result<BTreeMap<String, Json>, String> {
    let Some(path) = path else { return Ok(BTreeMap::new()) };
    let text = fs_err::read_to_string(path).map_err(|error| error.to_string())?;
    crate::yaml::from_str::<BTreeMap<String, Json>>(&text).map_err(|error| format!("{}: {error}", path.display()))
}

fn dotenv(path: Option<&Path>) -> Result<BTreeMap<String, String>, String> {
    let file = path.map_or_else(|| PathBuf::from(".env"), Path::to_path_buf);
    match fs_err::read_to_string(&file) {
        Ok(text) => Ok(parse_dotenv(&text)),
        Err(_) if path.is_none() => Ok(BTreeMap::new()),
        Err(error) => Err(error.to_string()),
    }
}

fn run_command(args: &RunArgs) -> u8 {
    let plan = match load_plan(&args.file) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let prepared = (|| {
        let mode = match (&args.replay, &args.record, args.dry_run) {
            (Some(path), _, _) => Mode::Replay(Fixture::read(path)?, Strictness::Exact),
            (None, Some(_), _) => Mode::Record,
            (None, None, true) => Mode::Offline,
            (None, None, false) => Mode::Live,
        };
        Ok::<_, String>((mode, cli_vars(args)?, vars_file(args.vars_file.as_deref())?, dotenv(args.env_file.as_deref())?))
    })();
    let (mode, vars, vars_file, dotenv) = match prepared {
        Ok(prepared) => prepared,
        Err(message) => return usage_error(&message),
    };
    let lookup = |name: &str| std::env::var(name).ok();
    let options = Options { vars, vars_file, dotenv, lookup: &lookup, mode, dry_run: args.dry_run };
    let mut session = match prepare(&plan, options) {
        Ok(session) => session,
        Err(problems) => {
            for problem in &problems {
                eprintln!("error: {problem}");
            }
            return USAGE;
        }
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let result =
        runtime.block_on(run(&plan, &session.params, &mut session.transport, &mut |step| eprintln!("{}", crate::report::progress(step))));
    if let (Some(path), Some(fixture)) = (&args.record, session.fixture(None)) {
        match fixture.write(path) {
            Ok(()) => eprintln!("recorded {} exchange(s) to {}", fixture.exchanges.len(), path.display()),
            Err(message) => return usage_error(&format!("cannot write the fixture: {message}")),
        }
    }
    if let (Some(format), Some(path)) = (args.report.report, &args.report.report_file) {
        if format == ReportFormat::Junit {
            return usage_error("`--report junit` is for `recipe test`; `recipe run` writes `--report json`");
        }
        let json = serde_json::to_string_pretty(&result).unwrap_or_default();
        if let Err(error) = fs_err::write(path, json + "\n") {
            return usage_error(&error.to_string());
        }
    }
    if args.dry_run {
        print!("{}", crate::report::dry_run(&result));
        return SUCCESS;
    }
    if let Some(message) = crate::report::failure(&result) {
        eprintln!("{message}");
        return RUN_FAILED;
    }
    println!("{}", crate::report::outputs(&result));
    SUCCESS
}

fn test_command(args: &TestArgs) -> u8 {
    let paths = if args.paths.is_empty() { vec![PathBuf::from("recipes")] } else { args.paths.clone() };
    let cases = match crate::testing::discover(&paths) {
        Ok(cases) => cases,
        Err(message) => return usage_error(&message),
    };
    if cases.is_empty() {
        return usage_error(&format!(
            "no cases found under {}; the cases of `DIR/NAME.yaml` are `DIR/fixtures/NAME/*.yaml`",
            paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        ));
    }
    let mut outcomes = Vec::new();
    for case in &cases {
        let outcome = crate::testing::run(case, args.accept);
        eprintln!("{}", crate::report::test_outcome(&outcome));
        outcomes.push(outcome);
    }
    let passed = outcomes.iter().filter(|o| o.passed()).count();
    let new = outcomes.iter().filter(|o| o.verdict == crate::testing::Verdict::New).count();
    eprintln!("{passed} passed, {} failed", outcomes.len() - passed);
    if new > 0 {
        eprintln!("hint: {new} new case(s) have no snapshot; review them and run `recipe test --accept`");
    }
    if let (Some(format), Some(path)) = (args.report.report, &args.report.report_file) {
        let text = match format {
            ReportFormat::Junit => crate::junit::render(&outcomes),
            ReportFormat::Json => serde_json::to_string_pretty(&crate::report::test_json(&outcomes)).unwrap_or_default() + "\n",
        };
        if let Err(error) = fs_err::write(path, text) {
            return usage_error(&error.to_string());
        }
    }
    if passed == outcomes.len() { SUCCESS } else { RUN_FAILED }
}
