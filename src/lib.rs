//! `recipe`: declarative HTTP workflows, checked before they run and tested against recorded
//! fixtures.
//!
//! The front end is pure: [`yaml`] reads a file into a located tree, [`decode`] turns it into the
//! [`model`] types, and [`check`] proves the recipe sound (templates, `JSONPaths`, names) and
//! yields a [`check::Plan`], the only thing the runner accepts. The back end is effectful:
//! [`run`] executes a plan through a [`transport`] and returns results as data, and [`report`]
//! turns those results into output.

pub mod arazzo;
pub mod batch;
pub mod check;
pub mod cli;
pub mod clock;
pub mod curl;
pub mod decode;
pub mod diagnostic;
pub mod dotenv;
pub mod dynamic;
pub mod emit;
pub mod envelope;
pub mod exit;
pub mod factory;
pub mod files;
pub mod fixture;
pub mod http;
pub mod inputs;
pub mod json;
pub mod jsonpath;
pub mod mask;
pub mod model;
pub mod pattern;
pub mod printable;
pub mod recording;
pub mod report;
pub mod run;
pub mod scrub;
pub mod select;
pub mod serve;
pub mod session;
pub mod snapshot;
pub mod template;
pub mod template_code;
pub mod terminal;
pub mod testing;
pub mod transport;
pub mod yaml;
