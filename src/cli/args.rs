//! The clap types of the command line, and nothing else: what each command and flag is called,
//! its help, and how a value is parsed. The commands read them in their own modules.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::values;
use crate::transport::{Pem, Settings};

#[derive(Parser)]
#[command(name = "recipe", version, about = "Run declarative HTTP workflows, checked before they send anything")]
pub(super) struct Cli {
    /// When to colour the output: `auto` colours on a terminal unless `NO_COLOR` is set (and
    /// anywhere when `CLICOLOR_FORCE` is).
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    pub(super) color: ColorWhen,
    /// Show each request and response under its step, masked: `-v` cuts long bodies, `-vv` shows
    /// them whole.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub(super) verbose: u8,
    /// Print errors only.
    #[arg(short, long, global = true)]
    pub(super) quiet: bool,
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
pub(super) enum Command {
    /// Check and run a recipe; outputs go to stdout as JSON, progress to stderr.
    Run(Box<RunArgs>),
    /// Check recipes without running them: every problem, with its place.
    Check {
        /// The recipe files; `-` reads one from stdin.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Replay every recipe's fixture cases and compare them with their snapshots.
    Test(TestArgs),
    /// Serve fixture files over HTTP on 127.0.0.1 (a stand-in for the API).
    Serve {
        /// The fixture files whose recorded responses to serve.
        #[arg(required = true)]
        fixtures: Vec<PathBuf>,
        /// The port to listen on.
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Serve recipe files to an editor: a Language Server Protocol server on stdin and stdout
    /// (diagnostics as you type, completion, hover, go to definition, references, rename).
    Lsp,
    /// Print the JSON Schema of the recipe language.
    Schema,
    /// Print a shell completion script to stdout.
    Completions {
        /// The shell the script is for.
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
pub(super) enum ReportFormat {
    Json,
    Junit,
    Html,
}

#[derive(clap::Args)]
pub(super) struct ReportArgs {
    /// Write a report in this format: `json`, `junit` (XML) or `html` (one self-contained file).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub(super) report: Option<ReportFormat>,
    /// Where to write the report (default `recipe-report.json`, `.xml` or `.html`); `-` is stdout.
    #[arg(long, value_name = "FILE", requires = "report")]
    pub(super) report_file: Option<PathBuf>,
}

#[derive(clap::Args)]
pub(super) struct TestArgs {
    /// Recipe files, fixture files or folders (default: `recipes`). The cases of `DIR/NAME.yaml`
    /// are `DIR/fixtures/NAME/*.yaml`; their snapshots are in `DIR/fixtures/NAME/snapshots/`.
    pub(super) paths: Vec<PathBuf>,
    /// Write the snapshots of this run (new and changed ones).
    #[arg(long)]
    pub(super) accept: bool,
    #[command(flatten)]
    pub(super) report: ReportArgs,
}

#[derive(clap::Args)]
pub(super) struct RunArgs {
    /// The recipe file.
    pub(super) file: PathBuf,
    /// An input value, `name=value` (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub(super) vars: Vec<String>,
    /// A YAML or JSON file of input values.
    #[arg(long = "vars", value_name = "FILE")]
    pub(super) vars_file: Option<PathBuf>,
    /// Read environment variables from this file as well (default `.env` when it exists).
    #[arg(long, value_name = "FILE")]
    pub(super) env_file: Option<PathBuf>,
    /// Answer requests from this fixture instead of the network, checking each request.
    #[arg(long, value_name = "FIXTURE", conflicts_with = "record")]
    pub(super) replay: Option<PathBuf>,
    /// Run live and write every exchange to this fixture (secrets replaced by placeholders).
    #[arg(long, value_name = "FIXTURE")]
    pub(super) record: Option<PathBuf>,
    /// Print every rendered request (secrets masked) instead of sending it.
    #[arg(long, conflicts_with = "record")]
    pub(super) dry_run: bool,
    /// A time limit for the whole run, e.g. `30s` or `2m`: no request starts after it, and a
    /// request's timeout is cut to what is left.
    #[arg(long, value_name = "DURATION", value_parser = values::parse_duration_arg)]
    pub(super) max_time: Option<std::time::Duration>,
    #[command(flatten)]
    pub(super) report: ReportArgs,
    #[command(flatten)]
    pub(super) network: NetworkArgs,
    #[command(flatten)]
    pub(super) batch: BatchArgs,
}

#[derive(clap::Args)]
#[command(next_help_heading = "Network")]
pub(super) struct NetworkArgs {
    /// Also trust the CA certificates in this PEM file (beside the built-in roots).
    #[arg(long, value_name = "FILE", value_parser = values::read_pem)]
    pub(super) cacert: Option<Pem>,
    /// Present this client certificate (PEM); its key is in `--client-key` or in the same file.
    #[arg(long, value_name = "FILE", value_parser = values::read_pem)]
    pub(super) client_cert: Option<Pem>,
    /// The private key (PEM) of `--client-cert`.
    #[arg(long, value_name = "FILE", value_parser = values::read_pem, requires = "client_cert")]
    pub(super) client_key: Option<Pem>,
    /// Do not verify server certificates. Dangerous: anyone on the way can read and change the
    /// requests, credentials included.
    #[arg(long)]
    pub(super) insecure: bool,
    /// Send every request through this proxy, e.g. `http://proxy.internal:3128`, instead of
    /// `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`; hosts in `NO_PROXY` still go direct.
    #[arg(long, value_name = "URL", value_parser = values::parse_proxy)]
    pub(super) proxy: Option<String>,
    /// How long to wait for a connection, e.g. `5s` (overrides `http.connect_timeout`).
    #[arg(long, value_name = "DURATION", value_parser = values::parse_duration_arg)]
    pub(super) connect_timeout: Option<std::time::Duration>,
}

impl NetworkArgs {
    pub(super) fn settings(&self) -> Settings {
        Settings {
            connect_timeout: self.connect_timeout,
            ca_certificates: self.cacert.clone(),
            client_identity: self.client_cert.iter().chain(&self.client_key).cloned().collect(),
            insecure: self.insecure,
            proxy: self.proxy.clone(),
        }
    }
}

#[derive(clap::Args)]
#[command(next_help_heading = "Batch runs")]
pub(super) struct BatchArgs {
    /// Run once per row of this CSV (with a header row) or JSON Lines file; `-` reads stdin.
    #[arg(long, value_name = "ROWS", conflicts_with_all = ["replay", "record", "dry_run", "report"])]
    pub(super) rows: Option<PathBuf>,
    /// How many rows are in flight at once.
    #[arg(long, value_name = "N", default_value_t = 8, requires = "rows", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(super) jobs: u16,
    /// How many threads run those rows, each with its own connection pool (default: one per 4
    /// rows in flight, at most one per CPU).
    #[arg(long, value_name = "N", requires = "rows", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(super) threads: Option<u16>,
    /// At most this many requests, over every row: `10/s` or `600/m`.
    #[arg(long, value_name = "RATE", requires = "rows", value_parser = crate::transport::Rate::parse)]
    pub(super) rate: Option<crate::transport::Rate>,
    /// Write one JSON line per finished row here; it is also the journal `--resume` reads.
    #[arg(long, value_name = "FILE", requires = "rows")]
    pub(super) out: Option<PathBuf>,
    /// The column that identifies a row in the results (the row number by default).
    #[arg(long, value_name = "COLUMN", requires = "rows")]
    pub(super) key: Option<String>,
    /// Continue the batch whose results are in `--out`: skip rows that succeeded, rerun rows that
    /// failed before any non-idempotent request, and report the others.
    #[arg(long, requires = "out")]
    pub(super) resume: bool,
    /// With `--resume`: also rerun rows whose non-idempotent request may have been sent.
    #[arg(long, requires = "resume")]
    pub(super) retry_in_doubt: bool,
    /// Run the valid rows even when some rows are invalid.
    #[arg(long, requires = "rows")]
    pub(super) skip_invalid: bool,
    /// Only the rows whose key hashes to shard K of N (K from 0), e.g. `--shard 2/4`.
    #[arg(long, value_name = "K/N", requires = "rows", value_parser = crate::batch::shard::Shard::parse)]
    pub(super) shard: Option<crate::batch::shard::Shard>,
    /// The most bytes one row may have (`512KiB`, `4MiB`); a longer row is invalid.
    #[arg(long, value_name = "SIZE", default_value = "1MiB", requires = "rows", value_parser = values::parse_size_arg)]
    pub(super) max_row_size: u64,
    /// Stop taking rows once this many rows in a row failed the same way before anything was
    /// accepted (connection refused, DNS, TLS, 401, 403); 0 turns it off.
    #[arg(long, value_name = "N", default_value_t = 20, requires = "rows")]
    pub(super) breaker: usize,
}

#[derive(Subcommand)]
pub(super) enum ImportCommand {
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
    /// Turn an Arazzo 1.0 workflow (with the OpenAPI description it names, read relative to
    /// it) into a recipe, which must pass `recipe check`; what has no recipe form is a warning.
    Arazzo {
        /// The Arazzo document (YAML or JSON).
        file: PathBuf,
        /// Write the recipe here instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// The workflow to import (default: the first).
        #[arg(long, value_name = "ID")]
        workflow: Option<String>,
    },
}

#[derive(Subcommand)]
pub(super) enum ExportCommand {
    /// Write an Arazzo 1.0.1 workflow (YAML) of the recipe, and beside it the OpenAPI 3.1
    /// description of the endpoints it calls (`NAME.openapi.yaml`).
    Arazzo {
        /// The recipe file.
        file: PathBuf,
        /// Write the Arazzo document here (the OpenAPI file goes beside it); stdout otherwise.
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
        /// Point the steps at this existing OpenAPI description (YAML or JSON) instead of writing
        /// one: operations matched by method and path, their operationIds reused.
        #[arg(long, value_name = "FILE")]
        openapi: Option<PathBuf>,
    },
}

/// The clap description of the whole command line, for completions and man pages.
pub(super) fn command_line() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
