//! `recipe lsp`: the language server on stdin and stdout, until the editor says `exit`.

use super::output::{Failure, Outcome};
use crate::exit::Exit;

pub(super) fn command() -> Outcome {
    crate::lsp::serve().map_err(Failure::usage)?;
    Ok(Exit::Success)
}
