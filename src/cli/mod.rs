//! The command line: clap types, option resolution, and one function per command returning an
//! exit code. This is the only module that prints.
//!
//! Exit codes: 0 success; 1 the run failed (a step failed, a replay differed); 2 usage error
//! (bad arguments, inputs or environment, unreadable or unwritable files); 3 the recipe is
//! invalid; 4 a side effect happened but the run did not finish; 5 a non-idempotent request's
//! outcome is unknown.
//!
//! Every output path and flag combination is checked before the first request. Printing never
//! panics: a closed pipe or a full disk on stdout is an error and an exit code; stderr is best
//! effort (there is nowhere left to report its failure). Everything printed goes through
//! [`crate::printable`], so no control character from a response or an argument reaches the
//! terminal; on stderr, labels are coloured (`crate::terminal`) when colour is on.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::Value as Json;

use crate::check::{LoadError, Plan, load};
use crate::fixture::Fixture;
use crate::report::RunReport;
use crate::run::{Effect, Status, run};
use crate::session::{Mode, Options, prepare};
use crate::transport::{Pem, Settings, Strictness};

pub const SUCCESS: u8 = 0;
pub const RUN_FAILED: u8 = 1;
pub const USAGE: u8 = 2;
pub const INVALID_RECIPE: u8 = 3;
pub const SIDE_EFFECT: u8 = 4;
pub const IN_DOUBT: u8 = 5;
/// A batch stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;

#[derive(Parser)]
#[command(name = "recipe", version, about = "Run declarative HTTP workflows, checked before they send anything")]
struct Cli {
    /// When to colour the output: `auto` colours on a terminal unless `NO_COLOR` is set (and
    /// anywhere when `CLICOLOR_FORCE` is).
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    color: ColorWhen,
    /// Show each request and response under its step, masked: `-v` cuts long bodies, `-vv` shows
    /// them whole.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
    /// Print errors only.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// How much the commands print on stderr.
#[derive(Clone, Copy)]
struct Ui {
    /// `-v` count; 0 by default.
    verbose: u8,
    /// `-q`: errors only.
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Check and run a recipe; outputs go to stdout as JSON, progress to stderr.
    Run(Box<RunArgs>),
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
    /// Print a shell completion script to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout: `recipe(1)`, or a subcommand's.
    Man {
        /// A subcommand, e.g. `run`, for its own page (`recipe-run(1)`).
        subcommand: Option<String>,
    },
    /// Turn something else into a recipe.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Write a recipe in another format.
    #[command(subcommand)]
    Export(ExportCommand),
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ReportFormat {
    Json,
    Junit,
    Html,
}

impl ReportFormat {
    fn name(self) -> &'static str {
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

#[derive(clap::Args)]
struct ReportArgs {
    /// Write a report in this format: `json`, `junit` (XML) or `html` (one self-contained file).
    #[arg(long, value_enum, value_name = "FORMAT")]
    report: Option<ReportFormat>,
    /// Where to write the report (default `recipe-report.json`, `.xml` or `.html`); `-` is stdout.
    #[arg(long, value_name = "FILE", requires = "report")]
    report_file: Option<PathBuf>,
}

/// Where a report goes.
#[derive(Clone, PartialEq, Eq)]
enum ReportTarget {
    Stdout,
    File(PathBuf),
}

impl ReportArgs {
    fn target(&self) -> Option<(ReportFormat, ReportTarget)> {
        let format = self.report?;
        let target = match &self.report_file {
            Some(path) if path.as_os_str() == "-" => ReportTarget::Stdout,
            Some(path) => ReportTarget::File(path.clone()),
            None => ReportTarget::File(PathBuf::from(format.default_file())),
        };
        Some((format, target))
    }
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
    /// A time limit for the whole run, e.g. `30s` or `2m`: no request starts after it, and a
    /// request's timeout is cut to what is left.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    max_time: Option<std::time::Duration>,
    #[command(flatten)]
    report: ReportArgs,
    #[command(flatten)]
    network: NetworkArgs,
    #[command(flatten)]
    batch: BatchArgs,
}

#[derive(clap::Args)]
#[command(next_help_heading = "Network")]
struct NetworkArgs {
    /// Also trust the CA certificates in this PEM file (beside the built-in roots).
    #[arg(long, value_name = "FILE", value_parser = read_pem)]
    cacert: Option<Pem>,
    /// Present this client certificate (PEM); its key is in `--client-key` or in the same file.
    #[arg(long, value_name = "FILE", value_parser = read_pem)]
    client_cert: Option<Pem>,
    /// The private key (PEM) of `--client-cert`.
    #[arg(long, value_name = "FILE", value_parser = read_pem, requires = "client_cert")]
    client_key: Option<Pem>,
    /// Do not verify server certificates. Dangerous: anyone on the way can read and change the
    /// requests, credentials included.
    #[arg(long)]
    insecure: bool,
    /// Send every request through this proxy, e.g. `http://proxy.internal:3128`, instead of
    /// `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`; hosts in `NO_PROXY` still go direct.
    #[arg(long, value_name = "URL", value_parser = parse_proxy)]
    proxy: Option<String>,
    /// How long to wait for a connection, e.g. `5s` (overrides `http.connect_timeout`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    connect_timeout: Option<std::time::Duration>,
}

impl NetworkArgs {
    fn settings(&self) -> Settings {
        Settings {
            connect_timeout: self.connect_timeout,
            ca_certificates: self.cacert.clone(),
            client_identity: self.client_cert.iter().chain(&self.client_key).cloned().collect(),
            insecure: self.insecure,
            proxy: self.proxy.clone(),
        }
    }
}

/// Reads a PEM file named on the command line: a missing or non-PEM file is a usage error before
/// anything is sent.
fn read_pem(text: &str) -> Result<Pem, String> {
    Pem::read(std::path::Path::new(text))
}

fn parse_proxy(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text).map_err(|error| format!("invalid proxy URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("write the proxy as `http://HOST:PORT` or `https://HOST:PORT`".into());
    }
    Ok(text.to_owned())
}

#[derive(clap::Args)]
#[command(next_help_heading = "Batch runs")]
struct BatchArgs {
    /// Run once per row of this CSV (with a header row) or JSON Lines file; `-` reads stdin.
    #[arg(long, value_name = "ROWS", conflicts_with_all = ["replay", "record", "dry_run", "report"])]
    rows: Option<PathBuf>,
    /// How many rows are in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8, requires = "rows", value_parser = clap::value_parser!(u16).range(1..=1024))]
    jobs: u16,
    /// How many threads run those rows, each with its own connection pool (default: one per 4
    /// rows in flight, at most one per CPU).
    #[arg(long, value_name = "N", requires = "rows", value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,
    /// At most this many requests, over every row: `10/s` or `600/m`.
    #[arg(long, value_name = "RATE", requires = "rows", value_parser = crate::transport::Rate::parse)]
    rate: Option<crate::transport::Rate>,
    /// Write one JSON line per finished row here; it is also the journal `--resume` reads.
    #[arg(long, value_name = "FILE", requires = "rows")]
    out: Option<PathBuf>,
    /// The column that identifies a row in the results (the row number by default).
    #[arg(long, value_name = "COLUMN", requires = "rows")]
    key: Option<String>,
    /// Continue the batch whose results are in `--out`: skip rows that succeeded, rerun rows that
    /// failed before any non-idempotent request, and report the others.
    #[arg(long, requires = "out")]
    resume: bool,
    /// With `--resume`: also rerun rows whose non-idempotent request may have been sent.
    #[arg(long, requires = "resume")]
    retry_in_doubt: bool,
    /// Run the valid rows even when some rows are invalid.
    #[arg(long, requires = "rows")]
    skip_invalid: bool,
    /// Only the rows whose key hashes to shard K of N (K from 0), e.g. `--shard 2/4`.
    #[arg(long, value_name = "K/N", requires = "rows", value_parser = crate::batch::shard::Shard::parse)]
    shard: Option<crate::batch::shard::Shard>,
}

fn parse_duration_arg(text: &str) -> Result<std::time::Duration, String> {
    crate::decode::parse_duration(text)
        .ok_or_else(|| format!("invalid duration `{text}`: write `500ms`, `30s` or `2m` (at most a week, `10080m`)"))
}

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
                return ExitCode::from(USAGE);
            }
            return ExitCode::from(if error.use_stderr() { USAGE } else { SUCCESS });
        }
    };
    crate::terminal::set_choice(match cli.color {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    });
    let ui = Ui { verbose: cli.verbose, quiet: cli.quiet };
    let code = match cli.command {
        Command::Run(args) => run_command(&args, ui),
        Command::Check { files } => check_command(&files, ui),
        Command::Test(args) => test_command(&args, ui),
        Command::Serve { fixtures, port } => serve_command(&fixtures, port),
        Command::Completions { shell } => completions_command(shell),
        Command::Man { subcommand } => man_command(subcommand.as_deref()),
        Command::Import(ImportCommand::Curl { file, output, name }) => import_curl_command(&file, output.as_deref(), name.as_deref()),
        Command::Export(ExportCommand::Arazzo { file, output }) => export_arazzo_command(&file, output.as_deref()),
        Command::Schema => match out(&serde_json::to_string_pretty(&crate::model::schema()).unwrap_or_default()) {
            Ok(()) => SUCCESS,
            Err(error) => usage_error(&format!("cannot write to stdout: {error}")),
        },
    };
    ExitCode::from(code)
}

/// Every problem, then the usage exit code.
fn usage_errors(problems: &[String]) -> u8 {
    for problem in problems {
        say(&format!("error: {problem}"));
    }
    USAGE
}

fn usage_error(message: &str) -> u8 {
    say(&format!("error: {message}"));
    USAGE
}

fn load_plan(file: &Path) -> Result<Plan, u8> {
    let loaded = if file == Path::new("-") {
        // A recipe on standard input: its calls are relative to the current folder.
        read_input(file).map_err(LoadError::Io).and_then(|text| crate::check::load_str("<stdin>", &text).map_err(LoadError::Invalid))
    } else {
        load(file)
    };
    loaded.map_err(|error| match error {
        LoadError::Io(message) => usage_error(&message),
        LoadError::Invalid(report) => {
            say(&format!("{report}"));
            INVALID_RECIPE
        }
    })
}

fn check_command(files: &[PathBuf], ui: Ui) -> u8 {
    let mut worst = SUCCESS;
    for (index, file) in files.iter().enumerate() {
        let plan = match load_plan(file) {
            Ok(plan) => plan,
            Err(code) => {
                worst = worst.max(code);
                continue;
            }
        };
        if !ui.quiet {
            say(&format!("{}: ok ({} steps)", file.display(), plan.recipe().steps.len()));
        }
        // Only the last plan: memory must not grow with the number of files.
        if index + 1 == files.len() {
            leave_to_exit(plan);
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

/// For a fixture in a recipe's fixture folder: the command that runs its recipe against the
/// server (the base URL's environment variable, and the fixture's required inputs).
fn serve_hint(fixture: &Path) -> Option<(String, String, String)> {
    let recipe = crate::testing::recipe_of(fixture).ok()?;
    let plan = load(&recipe).ok()?;
    let base = plan.recipe().http.base_url.as_ref()?;
    let variable = regex::Regex::new(r"env\.([A-Za-z_][A-Za-z0-9_]*)").ok()?.captures(&base.text)?.get(1)?.as_str().to_owned();
    let inputs = Fixture::read(fixture)
        .ok()?
        .inputs
        .into_iter()
        .filter(|(name, _)| plan.recipe().inputs.iter().any(|input| input.name.text == *name && input.is_required()))
        .fold(String::new(), |mut line, (name, value)| {
            let _ = write!(line, " --var {name}={}", value.as_str().map_or_else(|| value.to_string(), str::to_owned));
            line
        });
    Some((recipe.display().to_string(), variable, inputs))
}

fn serve_command(files: &[PathBuf], port: u16) -> u8 {
    let fixtures = match files.iter().map(|file| Fixture::read(file)).collect::<Result<Vec<_>, _>>() {
        Ok(fixtures) => fixtures,
        Err(message) => return usage_error(&message),
    };
    let listing = crate::serve::describe(&fixtures);
    let hint = files.first().and_then(|file| serve_hint(file));
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(async {
        match crate::serve::start(fixtures, port).await {
            Ok(server) => {
                say(&format!("serving {} recorded request(s) on http://{}", listing.len(), server.address));
                for (request, count) in &listing {
                    say(&format!("  {request}{}", if *count > 1 { format!(" (x{count})") } else { String::new() }));
                }
                let address = format!("http://{}", server.address);
                match &hint {
                    Some((recipe, variable, inputs)) => say(&format!("try: {variable}={address} recipe run {recipe}{inputs}")),
                    None => say(&format!("try: point the recipe's `http.base_url` at {address}")),
                }
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
    let text = read_input(path)?;
    crate::yaml::from_str::<BTreeMap<String, Json>>(&text).map_err(|error| error.in_file(path, "invalid vars file"))
}

fn dotenv(path: Option<&Path>) -> Result<BTreeMap<String, String>, String> {
    let file = path.map_or_else(|| PathBuf::from(".env"), Path::to_path_buf);
    match fs_err::read_to_string(&file) {
        Ok(text) => {
            crate::dotenv::parse(&text, &|name: &str| std::env::var(name).ok()).map_err(|error| format!("{}: {error}", file.display()))
        }
        Err(_) if path.is_none() && !file.exists() => Ok(BTreeMap::new()),
        Err(error) => Err(error.to_string()),
    }
}

/// Writes a JSON, YAML or markup document to stdout; a closed pipe or a full disk is an error,
/// never a panic. Control characters become JSON escapes (which YAML reads too); markup reports
/// hold none.
fn out(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let text = crate::printable::escape_json(text);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        stdout.write_all(b"\n")?;
    }
    stdout.flush()
}

/// Writes a message to stderr, escaped, with its labels coloured when colour is on; best effort:
/// if stderr itself is gone there is nowhere to say so. One message is one write, so messages
/// from several threads never interleave mid-line.
fn say(text: &str) {
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
fn say_data(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{}", crate::printable::escape_json(text).trim_end());
}

/// Writes a report to its target; says where unless quiet.
fn write_report(format: ReportFormat, target: &ReportTarget, text: &str, ui: Ui) -> Result<(), String> {
    match target {
        ReportTarget::Stdout => out(text).map_err(|error| format!("cannot write the report to stdout: {error}")),
        ReportTarget::File(path) => {
            fs_err::write(path, text).map_err(|error| format!("cannot write the report: {error}"))?;
            if !ui.quiet {
                say(&format!("wrote the {} report to {}", format.name(), path.display()));
            }
            Ok(())
        }
    }
}

/// Checks, before anything is sent, that a file can be written at `path`: not a folder, and in
/// a folder that exists (it is created) and accepts new files.
fn writable(path: &Path, what: &str) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!("{what} `{}` is a folder; give a file path", path.display()));
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs_err::create_dir_all(folder).map_err(|error| format!("{what} `{}` cannot be written: {error}", path.display()))?;
    // An existing file must itself be writable (opened to append, so nothing in it changes);
    // a new one needs a folder that takes files.
    if path.exists() {
        return std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map(|_| ())
            .map_err(|error| format!("{what} `{}` cannot be written: {error}", path.display()));
    }
    let probe = folder.join(format!(".recipe-probe-{}", std::process::id()));
    fs_err::write(&probe, b"").map_err(|error| format!("{what} `{}` cannot be written: {error}", path.display()))?;
    let _ = fs_err::remove_file(&probe);
    Ok(())
}

/// Whether two paths name one file (the second need not exist yet).
fn same_file(a: &Path, b: &Path) -> bool {
    let resolve = |path: &Path| -> Option<PathBuf> {
        if let Ok(canonical) = path.canonicalize() {
            return Some(canonical);
        }
        let folder = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Some(folder.canonicalize().ok()?.join(path.file_name()?))
    };
    matches!((resolve(a), resolve(b)), (Some(a), Some(b)) if a == b)
}

/// Refuses, before anything is read or sent, an output that would overwrite an input of the
/// same command (the recipe replaced by its own fixture) or another output.
fn no_overwriting(outputs: &[(&'static str, Option<&Path>)], inputs: &[(&'static str, Option<&Path>)]) -> Result<(), String> {
    let named = |list: &[(&'static str, Option<&Path>)]| -> Vec<(&'static str, PathBuf)> {
        list.iter().filter_map(|(what, path)| Some((*what, path.filter(|path| *path != Path::new("-"))?.to_path_buf()))).collect()
    };
    let outputs = named(outputs);
    for (at, (what, path)) in outputs.iter().enumerate() {
        let clash = named(inputs).into_iter().chain(outputs[..at].iter().cloned()).find(|(_, other)| same_file(path, other));
        if let Some((other, _)) = clash {
            return Err(format!("{what} `{}` is also {other}: it would be overwritten; write to another file", path.display()));
        }
    }
    Ok(())
}

/// Where a failed recording goes when the target already holds a good fixture.
fn failed_path(path: &Path) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{stem}.failed.yaml"))
}

/// What is wrong with a run's files before anything is read: two of them on standard input, or an
/// output that would overwrite an input or another output.
fn files_problem(args: &RunArgs) -> Option<String> {
    let stdin = Path::new("-");
    let readers = [Some(args.file.as_path()), args.vars_file.as_deref(), args.batch.rows.as_deref()]
        .into_iter()
        .flatten()
        .filter(|p| *p == stdin)
        .count();
    if readers > 1 {
        return Some("only one of the recipe, `--vars` and `--rows` can be `-` (standard input)".into());
    }
    let report_file = match args.report.target() {
        Some((_, ReportTarget::File(path))) => Some(path),
        _ => None,
    };
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
    no_overwriting(&outputs, &inputs).err()
}

fn run_command(args: &RunArgs, ui: Ui) -> u8 {
    if let Some(problem) = files_problem(args) {
        return usage_error(&problem);
    }
    let plan = match load_plan(&args.file) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    if args.network.insecure {
        say("warning: `--insecure`: server certificates are not verified; anyone on the network path can read and change these \
             requests, credentials included");
    }
    if let Some(rows) = &args.batch.rows {
        if ui.verbose > 0 {
            return usage_error(
                "`-v` shows one run's requests and responses; a batch (`--rows`) does not print them: each row's outcome, \
                 error and attempts are in `--out`, and `recipe run FILE --var ...` with `-v` shows one row's exchanges",
            );
        }
        return batch_command(args, &plan, rows, ui);
    }
    let report = args.report.target();
    let prepared = (|| {
        // Every output must be writable before the first request: a run that created something
        // must not fail afterwards for want of a folder.
        if let Some(path) = &args.record {
            writable(path, "the fixture")?;
        }
        if let Some((_, ReportTarget::File(path))) = &report {
            writable(path, "the report file")?;
        }
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
    let mut session = match prepare(&plan, options) {
        Ok(session) => session,
        Err(problems) => return usage_errors(&problems),
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let width = crate::report::id_width(&plan);
    let started = std::time::Instant::now();
    let result = runtime.block_on(run(&plan, &session.params, &mut session.transport, &mut |event| print_event(event, ui, width)));
    let duration = started.elapsed();
    // From here on, a failure to write must not hide what the run did: keep the worst code.
    let mut code = SUCCESS;
    if let (Some(path), Some(fixture)) = (&args.record, session.fixture(None, &result)) {
        // A failed run never replaces a good fixture: it goes beside it. A case named `err_*`
        // is meant to fail: its recording replaces the fixture.
        let meant_to_fail = path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("err_"));
        let target = if !result.ok && path.exists() && !meant_to_fail { failed_path(path) } else { path.clone() };
        match fixture.write(&target) {
            Ok(()) if target == *path => {
                if !ui.quiet {
                    say(&format!("recorded {} exchange(s) to {}", fixture.exchanges.len(), path.display()));
                }
            }
            Ok(()) => say(&format!("the run failed: recorded it to {} and kept the previous fixture {}", target.display(), path.display())),
            Err(message) => {
                say(&format!("error: cannot write the fixture: {message}"));
                code = USAGE;
            }
        }
    }
    if let Some((format, target)) = &report {
        let inputs = session.params.inputs.iter().map(|(name, value)| (name.clone(), session.masker.json(value))).collect();
        let document = RunReport { recipe: &plan.recipe().name, file: &args.file, inputs, duration, result: &result };
        if let Err(message) = write_report(*format, target, &run_report(*format, &document), ui) {
            say(&format!("error: {message}"));
            code = USAGE;
        }
    }
    // With the report on stdout, what `run` prints there goes to stderr instead.
    let report_on_stdout = matches!(&report, Some((_, ReportTarget::Stdout)));
    let code = conclude(args, &result, code, report_on_stdout, ui);
    leave_to_exit((plan, session, result));
    code
}

/// Leaves what a command built to the end of the process, which comes next: the system takes the
/// whole memory back at once, which is faster than freeing it value by value (every compiled
/// template, every response) and then handing the freed pages back one by one.
fn leave_to_exit<T>(value: T) {
    std::mem::forget(value);
}

/// Prints what the run produced (outputs, dry-run requests, or the failure and what it created)
/// and returns the exit code; `code` is the worst code so far.
fn conclude(args: &RunArgs, result: &crate::run::RunResult, code: u8, report_on_stdout: bool, ui: Ui) -> u8 {
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
            return RUN_FAILED;
        }
        // A step that failed before any request went unanswered failed on its own (what needed
        // a response, outputs included, is not a failure of a dry run).
        if result.steps.iter().any(|step| step.status == crate::run::Status::Failed)
            && let Some(message) = crate::report::failure(result)
        {
            say(&message);
            return code.max(RUN_FAILED);
        }
        return code;
    }
    let effect_code = match result.worst_effect() {
        Some(Effect::InDoubt) => IN_DOUBT,
        Some(Effect::Created) => SIDE_EFFECT,
        None => RUN_FAILED,
    };
    if let Some(message) = crate::report::failure(result) {
        if let Some(created) = crate::report::side_effects(result)
            && let Err(error) = data(&created)
        {
            say(&format!("error: cannot write what the run created to stdout: {error}"));
        }
        say(&message);
        return effect_code;
    }
    if !ui.quiet
        && let Some(line) = crate::report::completion(result)
    {
        say(&line);
    }
    if let Err(error) = data(&crate::report::outputs(result)) {
        say(&format!("error: cannot write the outputs to stdout: {error}"));
        if result.side_effects.is_empty() {
            return RUN_FAILED;
        }
        // The run did what it was asked and created something: its outputs (what identifies
        // what it created) go to stderr rather than nowhere.
        say(&format!("what the run created, its outputs:\n{}", crate::report::outputs(result)));
        return SIDE_EFFECT;
    }
    code
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
    let Some(detail) = detail(ui) else { return };
    if let crate::run::Event::Step(step) = event
        && let Some(exchange) = crate::report::exchange::exchange(step, detail)
    {
        say(&exchange);
    }
}

/// How much of each exchange `-v` (or `-vv`) shows; `None` without `-v`.
fn detail(ui: Ui) -> Option<crate::report::exchange::Detail> {
    match ui.verbose {
        0 => None,
        1 => Some(crate::report::exchange::Detail::Truncated),
        _ => Some(crate::report::exchange::Detail::Whole),
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

/// `recipe run FILE --rows ROWS`: every row, checked first, then run with `--jobs` in flight.
fn batch_command(args: &RunArgs, plan: &Plan, rows: &Path, ui: Ui) -> u8 {
    use crate::batch::{self, progress};
    let batch_args = &args.batch;
    let prepared = (|| {
        if let Some(out) = &batch_args.out {
            writable(out, "the results file")?;
            let used = fs_err::metadata(out).is_ok_and(|m| m.len() > 0);
            if used && !batch_args.resume {
                return Err(format!(
                    "the results file {} already holds a batch: continue it with `--resume`, or choose another file",
                    out.display()
                ));
            }
        }
        Ok::<_, String>((cli_vars(args)?, vars_file(args.vars_file.as_deref())?, dotenv(args.env_file.as_deref())?))
    })();
    let (vars, vars_file, dotenv) = match prepared {
        Ok(prepared) => prepared,
        Err(message) => return usage_error(&message),
    };
    // Standard input is read twice (checked, then run): keep a copy.
    let spool = if rows == Path::new("-") {
        match batch::rows::Spool::stdin() {
            Ok(spool) => Some(spool),
            Err(message) => return usage_error(&message),
        }
    } else {
        None
    };
    let options = batch::Options {
        rows: spool.as_ref().map_or_else(|| rows.to_path_buf(), |spool| spool.path.clone()),
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
    };
    // Standard input is spooled to a temporary file; messages name it `stdin`.
    let shown = |message: String| match &spool {
        Some(spool) => message.replace(&spool.path.display().to_string(), "stdin"),
        None => message,
    };
    let checked = match batch::check_rows(plan, &options) {
        Ok(checked) => checked,
        Err(message) => return usage_error(&shown(message)),
    };
    for bad in &checked.bad {
        let name = if spool.is_some() { "stdin".into() } else { rows.display().to_string() };
        say(&format!("error: {name} line {} (row {}): {}", bad.line, bad.number, bad.problems.join("; ")));
    }
    if !checked.bad.is_empty() && !options.skip_invalid {
        return usage_error(&format!(
            "{} of {} row(s) are invalid; nothing was sent. Fix them, or pass `--skip-invalid` to run the others",
            checked.bad.len(),
            checked.rows
        ));
    }
    let lookup = |name: &str| std::env::var(name).ok();
    let shared = match batch::Shared::new(plan, &lookup, &dotenv, options.rate, &args.network.settings()) {
        Ok(shared) => shared,
        Err(problems) => return usage_errors(&problems),
    };
    let mut display = progress::Display::new(checked.rows, std::io::IsTerminal::is_terminal(&std::io::stderr()), ui.quiet);
    let mut interrupt = || -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
        Box::pin(async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    };
    let outcome = batch::run(plan, &options, &checked, &shared, &mut interrupt, &mut |update| display.update(update));
    display.finish();
    let summary = match outcome {
        Ok(summary) => summary,
        Err(message) => {
            say(&format!("error: {}", shown(message)));
            return RUN_FAILED;
        }
    };
    if !(ui.quiet && summary.succeeded()) {
        say(&progress::summary(&summary));
    }
    if summary.succeeded() {
        SUCCESS
    } else if summary.interrupted {
        INTERRUPTED
    } else if summary.counts.in_doubt > 0 {
        IN_DOUBT
    } else {
        RUN_FAILED
    }
}

fn test_command(args: &TestArgs, ui: Ui) -> u8 {
    let paths = if args.paths.is_empty() { vec![PathBuf::from("recipes")] } else { args.paths.clone() };
    let report = args.report.target();
    if let Some((_, ReportTarget::File(path))) = &report
        && let Err(message) = writable(path, "the report file")
    {
        return usage_error(&message);
    }
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
        let outcome = crate::testing::run(case, args.accept, detail(ui));
        if !(ui.quiet && outcome.passed()) {
            say(&crate::report::test_outcome(&outcome));
        }
        // The replayed run under its case, as `run -v` shows it.
        for line in &outcome.log {
            say(line);
        }
        outcomes.push(outcome);
    }
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
        if let Err(message) = write_report(*format, target, &text, ui) {
            return usage_error(&message);
        }
    }
    if passed == outcomes.len() { SUCCESS } else { RUN_FAILED }
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Turn curl commands (as vendor docs publish them, prose between them is skipped) into a
    /// recipe with one request step per command; `-` reads stdin.
    Curl {
        /// A text file holding curl commands, or `-`.
        file: PathBuf,
        /// Write the recipe here instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// The recipe's name (default: the file's name).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Write an Arazzo 1.0.1 workflow (YAML) of the recipe, and beside it the OpenAPI 3.1
    /// description of the endpoints it calls (`NAME.openapi.yaml`).
    Arazzo {
        /// The recipe file.
        file: PathBuf,
        /// Write the Arazzo document here (the OpenAPI file goes beside it); stdout otherwise.
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
}

/// The clap description of the whole command line, for completions and man pages.
fn command_line() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

fn completions_command(shell: clap_complete::Shell) -> u8 {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command_line(), "recipe", &mut script);
    write_stdout(&String::from_utf8_lossy(&script))
}

fn man_command(subcommand: Option<&str>) -> u8 {
    // Pages name their subcommands' pages (`recipe-import-curl(1)`), so those can be printed
    // (`recipe man import-curl`); `help` is not a page of its own.
    let root = command_line().disable_help_subcommand(true);
    let page = if let Some(name) = subcommand {
        let mut found = &root;
        for part in name.split(['-', ' ']) {
            let Some(next) = found.find_subcommand(part) else {
                let mut names = Vec::new();
                pages(&root, "", &mut names);
                return usage_error(&format!("no page `{name}`; the pages are {}", names.join(", ")));
            };
            found = next;
        }
        let dashed = name.replace(' ', "-");
        let page = found
            .clone()
            .disable_help_subcommand(true)
            .name(format!("recipe-{dashed}"))
            .bin_name(format!("recipe {}", dashed.replace('-', " ")));
        clap_mangen::Man::new(page).source(format!("recipe {}", env!("CARGO_PKG_VERSION")))
    } else {
        clap_mangen::Man::new(root)
    };
    let mut roff = Vec::new();
    if let Err(error) = page.render(&mut roff) {
        return usage_error(&format!("cannot render the man page: {error}"));
    }
    write_stdout(&String::from_utf8_lossy(&roff))
}

/// The names `recipe man` takes: every subcommand, nested ones joined by `-`.
fn pages(command: &clap::Command, prefix: &str, names: &mut Vec<String>) {
    for sub in command.get_subcommands().filter(|sub| sub.get_name() != "help") {
        let name = format!("{prefix}{}", sub.get_name());
        names.push(format!("`{name}`"));
        pages(sub, &format!("{name}-"), names);
    }
}

fn write_stdout(text: &str) -> u8 {
    match out(text) {
        Ok(()) => SUCCESS,
        Err(error) => usage_error(&format!("cannot write to stdout: {error}")),
    }
}

/// Reads a file, or stdin for `-`.
fn read_input(file: &Path) -> Result<String, String> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text).map_err(|error| format!("cannot read stdin: {error}"))?;
        return Ok(text);
    }
    fs_err::read_to_string(file).map_err(|error| error.to_string())
}

fn import_curl_command(file: &Path, output: Option<&Path>, name: Option<&str>) -> u8 {
    if let Err(message) = no_overwriting(&[("the output", output)], &[("the curl text", Some(file))]) {
        return usage_error(&message);
    }
    if let Some(path) = output
        && let Err(message) = writable(path, "the output")
    {
        return usage_error(&message);
    }
    let text = match read_input(file) {
        Ok(text) => text,
        Err(message) => return usage_error(&message),
    };
    let stdin = file == Path::new("-");
    let source = if stdin {
        "stdin".to_owned()
    } else {
        file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned())
    };
    let default_name = if stdin {
        "imported".to_owned()
    } else {
        file.file_stem().map_or_else(|| "imported".into(), |s| s.to_string_lossy().into_owned())
    };
    let imported = match crate::curl::import(&text, name.unwrap_or(&default_name), &source) {
        Ok(imported) => imported,
        Err(message) => return usage_error(&format!("{}: {message}", if stdin { "stdin".into() } else { file.display().to_string() })),
    };
    for warning in &imported.warnings {
        say(&format!("warning: {warning}"));
    }
    let written = match output {
        Some(path) => fs_err::write(path, &imported.yaml).map_err(|error| error.to_string()),
        None => out(&imported.yaml).map_err(|error| format!("cannot write to stdout: {error}")),
    };
    if let Err(message) = written {
        return usage_error(&message);
    }
    let shown = output.map_or_else(|| "recipe".to_owned(), |path| path.display().to_string());
    // The skeleton must pass the same checks as any recipe; if it does not, that is a bug here.
    if let Err(report) = crate::check::load_str(&shown, &imported.yaml) {
        say(&format!("{report}"));
        say("error: the imported recipe does not pass `recipe check`; please report this with the curl text");
        return INVALID_RECIPE;
    }
    let secrets = imported.env.iter().filter(|(_, secret)| *secret).count();
    say(&format!(
        "imported {} curl command(s){}: {} input(s), {} environment variable(s) ({secrets} secret); `recipe check` it after editing",
        imported.steps.len(),
        output.map(|path| format!(" into {}", path.display())).unwrap_or_default(),
        imported.inputs.len(),
        imported.env.len()
    ));
    SUCCESS
}

fn export_arazzo_command(file: &Path, output: Option<&Path>) -> u8 {
    let plan = match load_plan(file) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let stem = |path: &Path| {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        [".arazzo.yaml", ".arazzo.yml", ".yaml", ".yml"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix).map(str::to_owned))
            .unwrap_or(name)
    };
    let openapi_name = format!("{}.openapi.yaml", stem(output.unwrap_or(file)));
    let openapi_path = output.map(|path| path.with_file_name(&openapi_name));
    if let Err(message) =
        no_overwriting(&[("the output", output), ("the OpenAPI description", openapi_path.as_deref())], &[("the recipe", Some(file))])
    {
        return usage_error(&message);
    }
    for path in output.into_iter().chain(openapi_path.as_deref()) {
        if let Err(message) = writable(path, "the output") {
            return usage_error(&message);
        }
    }
    let export = match crate::arazzo::export(&plan, &format!("./{openapi_name}")) {
        Ok(export) => export,
        Err(message) => return usage_error(&message),
    };
    let name = &plan.recipe().name;
    let arazzo = crate::emit::json_document(
        &[format!("The recipe `{name}` as an Arazzo workflow, written by `recipe export arazzo`.")],
        &export.arazzo,
    );
    let openapi = crate::emit::json_document(
        &[format!("The endpoints the recipe `{name}` calls, written by `recipe export arazzo` for its Arazzo workflow.")],
        &export.openapi,
    );
    let (Some(path), Some(openapi_path)) = (output, openapi_path) else {
        say(&format!("note: the OpenAPI description `{openapi_name}` it names is written only with `-o FILE`"));
        return write_stdout(&arazzo);
    };
    for (target, text) in [(path, &arazzo), (openapi_path.as_path(), &openapi)] {
        if let Err(error) = fs_err::write(target, text) {
            return usage_error(&error.to_string());
        }
    }
    say(&format!("wrote {} and {}", path.display(), openapi_path.display()));
    SUCCESS
}
