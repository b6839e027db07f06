//! The integration tests, in one binary (one link instead of one per file).
// The test binary has no public interface: its modules share helpers with `pub`.
#![allow(unreachable_pub)]

mod arazzo;
mod arazzo_import;
mod architecture;
mod batch;
mod bodies;
mod cases;
mod cli;
mod cli_docs;
mod docs;
mod faults;
mod import;
mod in_doubt;
mod language;
mod leaks;
mod live;
mod lsp;
mod network;
mod redirects;
mod reports;
mod respect;
mod robustness;
mod safety;
mod schema;
mod seams;
mod serve;
mod support;
mod tls;
mod workflow;
