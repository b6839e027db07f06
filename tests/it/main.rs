//! The integration tests, in one binary (one link instead of one per file).

mod batch;
mod cases;
mod cli;
mod faults;
mod language;
mod live;
mod network;
mod reports;
mod robustness;
mod safety;
mod schema;
mod serve;
mod support;
mod workflow;
