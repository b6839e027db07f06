//! The exit status of a batch, computed from its summary: the command line passes it on.

use super::{Signal, Summary};
use crate::exit::Exit;

impl Summary {
    /// Success only when every row ran and succeeded; Ctrl-C or SIGTERM says so before anything
    /// else, and a row in doubt outranks rows that failed.
    pub(crate) fn exit(&self) -> Exit {
        if self.succeeded() {
            Exit::Success
        } else if let Some(signal) = self.interrupted {
            match signal {
                Signal::Interrupt => Exit::Interrupted,
                Signal::Terminate => Exit::Terminated,
            }
        } else if self.counts.in_doubt > 0 {
            Exit::InDoubt
        } else {
            Exit::RunFailed
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{Counts, Signal, Summary};
    use crate::exit::Exit;

    fn summary(counts: Counts, interrupted: bool) -> Summary {
        Summary {
            counts,
            elapsed: Duration::ZERO,
            interrupted: interrupted.then_some(Signal::Interrupt),
            broken: None,
            warnings: Vec::new(),
            failures: Vec::new(),
        }
    }

    #[test]
    fn a_batch_succeeds_only_when_every_row_did() {
        assert_eq!(summary(Counts { ok: 3, skipped: 2, ..Counts::default() }, false).exit(), Exit::Success);
        assert_eq!(summary(Counts { ok: 3, failed: 1, ..Counts::default() }, false).exit(), Exit::RunFailed);
        assert_eq!(summary(Counts { ok: 3, invalid: 1, ..Counts::default() }, false).exit(), Exit::RunFailed);
    }

    #[test]
    fn a_row_in_doubt_outranks_failed_rows_and_ctrl_c_outranks_both() {
        let doubt = Counts { failed: 2, in_doubt: 1, ..Counts::default() };
        assert_eq!(summary(doubt, false).exit(), Exit::InDoubt);
        assert_eq!(summary(doubt, true).exit(), Exit::Interrupted);
        assert_eq!(summary(Counts::default(), true).exit().code(), 130);
        let terminated = Summary { interrupted: Some(Signal::Terminate), ..summary(doubt, false) };
        assert_eq!(terminated.exit().code(), 143);
    }
}
