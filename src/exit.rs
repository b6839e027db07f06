//! Exit statuses: the one table of what a process exit code means. The library computes an
//! [`Exit`] from a run's, a batch's or an error's data; the command line only passes it to the
//! process. `docs/cli.md` and the man pages print [`Exit::ALL`].

/// Why `recipe` ended, as its exit status says. Declared from best to worst (see [`Exit::worst`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exit {
    /// Everything asked for was done.
    Success,
    /// The run failed: a step failed, a replay differed, a test case failed.
    RunFailed,
    /// Bad arguments, inputs or environment; a file that cannot be read or written.
    Usage,
    /// The recipe is invalid (`recipe check` would say why).
    InvalidRecipe,
    /// Something was created (a side effect happened) but the run did not finish.
    SideEffect,
    /// A non-idempotent request's outcome is unknown: it may have taken effect.
    InDoubt,
    /// Stopped by SIGTERM (128 + SIGTERM): a batch after draining its rows in flight, a single run
    /// at once.
    Terminated,
    /// A batch stopped by Ctrl-C (128 + SIGINT, as shells report it).
    Interrupted,
}

impl Exit {
    /// Every status, in the order of their codes.
    pub const ALL: [Exit; 8] = [
        Exit::Success,
        Exit::RunFailed,
        Exit::Usage,
        Exit::InvalidRecipe,
        Exit::SideEffect,
        Exit::InDoubt,
        Exit::Interrupted,
        Exit::Terminated,
    ];

    /// The process exit code.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::RunFailed => 1,
            Exit::Usage => 2,
            Exit::InvalidRecipe => 3,
            Exit::SideEffect => 4,
            Exit::InDoubt => 5,
            Exit::Interrupted => 130,
            Exit::Terminated => 143,
        }
    }

    /// One line saying what the code means, for `--help`, `recipe man` and `docs/cli.md`.
    pub const fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "success",
            Exit::RunFailed => "the run failed: a step failed, a replay differed or a test case failed",
            Exit::Usage => "usage error: bad arguments, inputs or environment, or a file that cannot be read or written",
            Exit::InvalidRecipe => "the recipe is invalid",
            Exit::SideEffect => "something was created but the run did not finish: check before running again",
            Exit::InDoubt => "a non-idempotent request's outcome is unknown (it may have taken effect): check before running again",
            Exit::Interrupted => "a batch stopped by Ctrl-C (SIGINT) after its rows in flight",
            Exit::Terminated => "stopped by SIGTERM: a batch after its rows in flight, a run at once (5 if a request was left in doubt)",
        }
    }

    /// The worse of two statuses, for a command that does several things: a side effect or a
    /// doubt outranks a plain failure, which outranks success. The variants are declared in that
    /// order, so it is the larger one.
    #[must_use]
    pub fn worst(self, other: Exit) -> Exit {
        self.max(other)
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    #[test]
    fn codes_are_distinct_and_in_order() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|exit| exit.code()).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted);
    }

    #[test]
    fn a_doubt_outranks_a_failure_and_a_side_effect() {
        assert_eq!(Exit::RunFailed.worst(Exit::InDoubt), Exit::InDoubt);
        assert_eq!(Exit::InDoubt.worst(Exit::SideEffect), Exit::InDoubt);
        assert_eq!(Exit::Success.worst(Exit::RunFailed), Exit::RunFailed);
        assert_eq!(Exit::SideEffect.worst(Exit::Success), Exit::SideEffect);
    }
}
