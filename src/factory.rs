//! The run factory: where every run's parts are built. `recipe run`, each batch row, each
//! `recipe test` case, a `call` step and a `for_each` element all get their parameters and
//! transport here, so they cannot drift apart.

/// The one tokio runtime builder: a current-thread runtime with time and I/O. A batch runs one
/// per thread of rows; every other command runs one.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}
