//! Ctrl-C (SIGINT) and SIGTERM, as the commands hear them. Kubernetes, systemd and CI
//! cancellation stop a process with SIGTERM, so a batch drains on it as on the first Ctrl-C, and
//! a single run reports the request it leaves in flight. Also SIGXFSZ, which must not end a
//! process whose file outgrew `ulimit -f` before it says so.

use std::future::Future;
use std::pin::Pin;

use crate::batch::Signal;

/// Listens for the next Ctrl-C or SIGTERM from now on: the handlers are installed before this
/// returns (inside a runtime), so a signal that comes before the future is first polled is not
/// lost. Once installed they stay for the life of the process: a signal no longer ends it at once.
pub(super) fn next() -> Pin<Box<dyn Future<Output = Signal> + Send>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
            (Ok(mut interrupt), Ok(mut terminate)) => Box::pin(async move {
                tokio::select! {
                    _ = interrupt.recv() => Signal::Interrupt,
                    _ = terminate.recv() => Signal::Terminate,
                }
            }),
            _ => Box::pin(std::future::pending()),
        }
    }
    #[cfg(not(unix))]
    {
        Box::pin(async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            Signal::Interrupt
        })
    }
}

/// For a single run: the first SIGTERM asks the run to stop ([`crate::run::Stop`]), which then
/// reports what it leaves in flight; a second one ends the process at once. Ctrl-C keeps its
/// usual effect. Call inside a runtime.
pub(super) fn stop_on_sigterm(stop: std::sync::Arc<crate::run::Stop>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut terminate) = signal(SignalKind::terminate()) else { return };
        tokio::spawn(async move {
            if terminate.recv().await.is_some() {
                stop.ask();
            }
            if terminate.recv().await.is_some() {
                std::process::exit(i32::from(crate::exit::Exit::Terminated.code()));
            }
        });
    }
    #[cfg(not(unix))]
    let _ = stop;
}

/// Keeps SIGXFSZ from ending the process: a write past the file size limit (`ulimit -f`) then
/// fails with `EFBIG`, like a full disk, and the command says which file it could not write
/// (the results file of a batch, a report, a fixture) and exits with its status. Without this,
/// the signal's default action ends the process with no message, between a request and its
/// journal line. The handler stays for the life of the process; outside a runtime a small one
/// installs it.
pub(super) fn survive_file_size_limit() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let install = || {
            // Only the installed handler matters, not the stream: dropping it keeps the handler.
            let _ = signal(SignalKind::from_raw(libc::SIGXFSZ));
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            install();
        } else if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_io().build() {
            runtime.block_on(async { install() });
        }
    }
}
