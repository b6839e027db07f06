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
use crate::inputs::{InputSources, parse_dotenv, resolve, resolve_env};
use crate::mask::Masker;
use crate::run::{Params, run};
use crate::transport::{Live, Replay, Transport};

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

/// Reads `--var` pairs and the `--vars` file.
fn input_sources(args: &RunArgs, recorded: BTreeMap<String, Json>) -> Result<InputSources, String> {
    let mut cli = Vec::new();
    for pair in &args.vars {
        let (name, value) = pair.split_once('=').ok_or_else(|| format!("`--var {pair}` needs the form name=value"))?;
        cli.push((name.trim().to_owned(), value.to_owned()));
    }
    let file = match &args.vars_file {
        None => BTreeMap::new(),
        Some(path) => {
            let text = fs_err::read_to_string(path).map_err(|error| error.to_string())?;
            crate::yaml::from_str::<BTreeMap<String, Json>>(&text).map_err(|error| format!("{}: {error}", path.display()))?
        }
    };
    Ok(InputSources { recorded, file, cli })
}

fn dotenv(args: &RunArgs) -> Result<BTreeMap<String, String>, String> {
    let path = args.env_file.clone().unwrap_or_else(|| PathBuf::from(".env"));
    match fs_err::read_to_string(&path) {
        Ok(text) => Ok(parse_dotenv(&text)),
        Err(_) if args.env_file.is_none() => Ok(BTreeMap::new()),
        Err(error) => Err(error.to_string()),
    }
}

fn run_command(args: &RunArgs) -> u8 {
    let plan = match load_plan(&args.file) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let fixture = match args.replay.as_deref().map(Fixture::read).transpose() {
        Ok(fixture) => fixture,
        Err(message) => return usage_error(&message),
    };
    let recorded = fixture.as_ref().map(|f| f.inputs.clone()).unwrap_or_default();
    let sources = match input_sources(args, recorded) {
        Ok(sources) => sources,
        Err(message) => return usage_error(&message),
    };
    let problems = |list: Vec<String>| {
        for problem in &list {
            eprintln!("error: {problem}");
        }
        USAGE
    };
    let inputs = match resolve(plan.recipe(), &sources) {
        Ok(inputs) => inputs,
        Err(list) => return problems(list),
    };
    let dotenv = match dotenv(args) {
        Ok(values) => values,
        Err(message) => return usage_error(&message),
    };
    let offline = args.replay.is_some() || args.dry_run;
    let env = match resolve_env(plan.recipe(), &|name| std::env::var(name).ok(), &dotenv, offline) {
        Ok(env) => env,
        Err(list) => return problems(list),
    };
    let mut transport = match (&fixture, args.dry_run) {
        (Some(fixture), _) => Transport::Replay(Replay::new(fixture.clone())),
        (None, true) => Transport::Offline,
        (None, false) => match Live::new(args.record.is_some()) {
            Ok(live) => Transport::Live(live),
            Err(message) => return usage_error(&message),
        },
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let masker = Masker::new(&env.secrets);
    let params = Params { inputs, env, dry_run: args.dry_run };
    let result = runtime.block_on(run(&plan, &params, &mut transport, &mut |step| eprintln!("{}", crate::report::progress(step))));
    if let (Some(path), Transport::Live(live)) = (&args.record, &transport) {
        let fixture = Fixture {
            fixture: 1,
            note: None,
            inputs: params.inputs.iter().map(|(k, v)| (k.clone(), masker.json(v))).collect(),
            exchanges: live.recorded.clone().unwrap_or_default(),
        };
        match fixture.write(path) {
            Ok(()) => eprintln!("recorded {} exchange(s) to {}", fixture.exchanges.len(), path.display()),
            Err(message) => return usage_error(&format!("cannot write the fixture: {message}")),
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
