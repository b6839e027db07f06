//! Fault injection for the HTTP path: a misbehaving loopback server and its self-test.

mod cases;
mod selftest;
pub mod server;
