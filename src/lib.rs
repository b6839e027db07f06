//! `recipe`: declarative HTTP workflows, checked before they run and tested against recorded
//! fixtures.
//!
//! The front end is pure: `yaml` reads a file into a located tree, `decode` turns it into the
//! `model` types, and `check` proves the recipe sound (templates, `JSONPaths`, names) and yields
//! a [`Plan`], the only thing the runner accepts. The back end is effectful: the run [`Factory`]
//! builds each run's parts, [`run()`] executes a plan through a transport and returns results as
//! data, and `report` turns those results into output. `docs/architecture.md` maps every module.
//!
//! The modules are private: this file exports the small interface the binary and integration
//! tests use, and, apart from it, [`hooks`] for the project's own tests and benchmarks.

mod arazzo;
mod batch;
mod check;
mod cli;
mod clock;
mod curl;
mod decode;
mod diagnostic;
mod dotenv;
mod dynamic;
mod emit;
mod envelope;
mod exit;
mod factory;
mod files;
mod fixture;
mod http;
mod inputs;
mod json;
mod jsonpath;
mod lsp;
mod mask;
mod model;
mod pattern;
mod printable;
mod projection;
mod reads;
mod recording;
mod report;
mod run;
mod scrub;
mod select;
mod serve;
mod session;
mod setup;
mod sieve;
mod snapshot;
mod splice;
mod template;
mod template_code;
mod terminal;
mod testing;
mod transport;
mod xpath;
mod yaml;

pub use batch::BatchError;
pub use check::{LoadError, Plan, load, load_str};
pub use cli::main;
pub use clock::Clock;
pub use dotenv::DotenvError;
pub use exit::Exit;
pub use factory::{Answers, Factory, Session, Setup, Start};
pub use files::FileError;
pub use fixture::{Exchange, Fixture, FixtureError};
pub use http::{Hop, RequestSpec, ResponseData};
pub use run::{Cause, Effect, Event, Listener, RunResult, Status, StepResult, Stop, run};
pub use session::{Mode, Options, prepare, replay_case};
pub use setup::SetupError;
pub use testing::TestError;
pub use transport::{ClientError, FailureKind, PemError, Strictness};

/// Hooks for the project's own tests and benchmarks into the engine's parts. Not an interface:
/// they change whenever the parts do.
#[doc(hidden)]
pub mod hooks {
    pub use crate::cli::reference;
    pub use crate::curl::import as import_curl;
    pub use crate::diagnostic::Span;
    pub use crate::mask::Masker;
    pub use crate::model::{Action, schema};
    pub use crate::report::{event, progress};
    pub use crate::select::{SelectError, filter, pick};
    pub use crate::template::context;

    /// A response body parsed as a batch row parses it: into what `plan` reads of `step`'s body
    /// (`src/reads.rs`), or whole when it reads all of it.
    ///
    /// # Errors
    /// The `serde_json` error for text that is not one JSON value.
    pub fn parse_as_read(plan: &crate::Plan, step: &str, bytes: &[u8]) -> Result<serde_json::Value, serde_json::Error> {
        match plan.reads.of(step) {
            Some(projection) => crate::json::parse_projected(bytes, projection),
            None => crate::json::parse(bytes),
        }
    }

    /// A response body parsed as a batch row with no inputs parses it: as [`parse_as_read`],
    /// and building only the elements of an array the step's sieve keeps (`src/sieve.rs`).
    ///
    /// # Errors
    /// The `serde_json` error for text that is not one JSON value.
    pub fn parse_as_row(plan: &crate::Plan, step: &str, bytes: &[u8]) -> Result<serde_json::Value, serde_json::Error> {
        match plan.reads.read(step, &plan.engine, &minijinja::Value::from(())) {
            Some(crate::reads::Read::Sieved(sieve)) => sieve.parse(bytes),
            _ => parse_as_read(plan, step, bytes),
        }
    }

    /// A response body parsed whole.
    ///
    /// # Errors
    /// The `serde_json` error for text that is not one JSON value.
    pub fn parse_whole(bytes: &[u8]) -> Result<serde_json::Value, serde_json::Error> {
        crate::json::parse(bytes)
    }

    pub mod decode {
        pub use crate::decode::{
            ENV_KEYS, EXPECT_KEYS, FILTER_KEYS, HTTP_KEYS, INPUT_KEYS, MATCHER_KEYS, PICK_KEYS, RECIPE_KEYS, RECORDING_KEYS, REQUEST_KEYS,
            SELECTION_KEYS, STEP_KEYS,
        };
    }

    pub mod serve {
        pub use crate::serve::{Limits, start, start_with};
    }

    pub mod snapshot {
        pub use crate::snapshot::{SnapshotError, path_for, read, render, same, value};
    }

    pub mod testing {
        pub use crate::testing::{Verdict, discover, recipe_of, run};
    }

    pub mod yaml {
        pub use crate::emit::{WriteError, to_string};
        pub use crate::yaml::{Node, Style, Value, from_str, parse};
    }
}
