//! `recipe import curl`: curl commands, written the way vendor documentation publishes them,
//! become a recipe skeleton with one request step per command.
//!
//! [`shell`] finds the commands in the text and splits them into words, [`options`] reads
//! curl's options, [`names`] decides what each placeholder becomes, and [`skeleton`] writes
//! the recipe. The result is plain YAML text; the
//! command line checks it with [`crate::check::load_str`] like any other recipe.

pub(crate) mod names;
pub(crate) mod options;
pub(crate) mod shell;
pub(crate) mod skeleton;

pub(crate) use skeleton::Imported;

/// Imports every curl command of `text`. `name` becomes the recipe's name and `source` names
/// the text in its description. Fails when a quote is never closed, or no command holds a
/// request a recipe can send.
pub fn import(text: &str, name: &str, source: &str) -> Result<Imported, ImportError> {
    let scan = shell::scan(text)?;
    if scan.commands.is_empty() {
        return Err(ImportError::NoCommand);
    }
    skeleton::build(&scan, name, source)
}

/// Why curl commands could not become a recipe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Unterminated(#[from] shell::Unterminated),
    #[error("no curl command found; a command starts with `curl` at the beginning of a line")]
    NoCommand,
    /// No command holds a request a recipe can send: what each lacks.
    #[error("no curl command could be imported: {}", .0.join("; "))]
    NoneUsable(Vec<String>),
}
