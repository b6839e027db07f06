//! `ArazzoError`: why `recipe export arazzo` or `recipe import arazzo` could not write anything.
//! What only one step cannot express is a warning beside a written document, never this.

use crate::exit::Exit;

/// Why nothing was exported or imported.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ArazzoError {
    /// A workflow needs at least one step, and only request steps become steps.
    #[error("the recipe `{0}` sends no request, and an Arazzo workflow needs at least one step")]
    NoRequest(String),
    /// A description (`--openapi`, an Arazzo file, its source description) is no document.
    #[error("{file}: {message}")]
    Unreadable { file: String, message: String },
    /// The document is read, but what it says cannot become a recipe or a workflow: `place` is
    /// a JSON Pointer into it.
    #[error("{file}: at `{place}`: {message}")]
    Unsupported { file: String, place: String, message: String },
}

impl ArazzoError {
    /// The input given needs a change: a usage error.
    pub(crate) fn exit(&self) -> Exit {
        match self {
            ArazzoError::NoRequest(_) | ArazzoError::Unreadable { .. } | ArazzoError::Unsupported { .. } => Exit::Usage,
        }
    }
}
