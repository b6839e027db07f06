//! The files a command names, checked before anything is sent: an output must be writable and
//! must not overwrite an input of the same command or another output. Also the readers of what
//! a run takes from files beside its recipe (`-` is standard input, a vars file, a dotenv file).
//!
//! It does not decide which files a command has: each command lists its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

/// Why a file a command names cannot be used. Each says which file, and why.
#[derive(Debug)]
pub enum FileError {
    /// An output names a folder.
    Folder { what: String, path: PathBuf },
    /// An output cannot be created or written where it is.
    NotWritable { what: String, path: PathBuf, source: std::io::Error },
    /// Writing an output failed; the file was left as it was.
    Write { path: PathBuf, source: std::io::Error },
    /// An output would overwrite an input of the same command, or another output.
    Overwrites { what: &'static str, path: PathBuf, other: &'static str },
    /// More than one input is standard input.
    StdinTwice,
    /// A file (or standard input, `None`) cannot be read.
    Read { path: Option<PathBuf>, source: std::io::Error },
    /// A `--vars` file is no map of values (its message has the file and place).
    Vars(String),
    /// A dotenv file does not parse.
    Dotenv { path: PathBuf, source: crate::dotenv::DotenvError },
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Folder { what, path } => write!(f, "{what} `{}` is a folder; give a file path", path.display()),
            Self::NotWritable { what, path, source } => write!(f, "{what} `{}` cannot be written: {source}", path.display()),
            Self::Write { path, source } => write!(f, "{source} (`{}` was left as it was)", path.display()),
            Self::Overwrites { what, path, other } => {
                write!(f, "{what} `{}` is also {other}: it would be overwritten; write to another file", path.display())
            }
            Self::StdinTwice => f.write_str("only one of the recipe, `--vars` and `--rows` can be `-` (standard input)"),
            Self::Read { path: None, source } => write!(f, "cannot read stdin: {source}"),
            Self::Read { path: Some(_), source } => write!(f, "{source}"),
            Self::Vars(message) => f.write_str(message),
            Self::Dotenv { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::NotWritable { source, .. } | Self::Write { source, .. } | Self::Read { source, .. } => Some(source),
            Self::Dotenv { source, .. } => Some(source),
            Self::Folder { .. } | Self::Overwrites { .. } | Self::StdinTwice | Self::Vars(_) => None,
        }
    }
}

/// Checks, before anything is sent, that a file can be written at `path`: not a folder, and in
/// a folder that exists (it is created) and accepts new files. `what` names the file in the
/// message.
pub(crate) fn writable(path: &Path, what: &str) -> Result<(), FileError> {
    let unwritable = |source| FileError::NotWritable { what: what.to_owned(), path: path.to_owned(), source };
    if path.is_dir() {
        return Err(FileError::Folder { what: what.to_owned(), path: path.to_owned() });
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs_err::create_dir_all(folder).map_err(unwritable)?;
    // An existing file must itself be writable (opened to append, so nothing in it changes);
    // a new one needs a folder that takes files.
    if path.exists() {
        return std::fs::OpenOptions::new().append(true).open(path).map(|_| ()).map_err(unwritable);
    }
    let probe = folder.join(format!(".recipe-probe-{}", std::process::id()));
    fs_err::write(&probe, b"").map_err(unwritable)?;
    let _ = fs_err::remove_file(&probe);
    Ok(())
}

/// Writes `bytes` to `path` atomically: to a new temporary file in the same folder (a rename
/// stays on one file system), synced, then renamed over `path`. On any failure (a full disk, a
/// file size limit) the temporary file is removed and `path` is left as it was: a report,
/// fixture or snapshot is never torn.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    use std::io::Write as _;
    let failed = |source| FileError::Write { path: path.to_owned(), source };
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs_err::create_dir_all(folder).map_err(failed)?;
    let name = path.file_name().map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    // Dropped on any failure, the temporary file is removed. Created with the mode a new file
    // gets (0666 less the umask), as the file it replaces would have been.
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut file = builder.tempfile_in(folder).map_err(failed)?;
    file.write_all(bytes).map_err(failed)?;
    file.as_file().sync_all().map_err(failed)?;
    file.persist(path).map(drop).map_err(|error| failed(error.error))
}

/// Whether two paths name one file (the second need not exist yet).
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    let resolve = |path: &Path| -> Option<PathBuf> {
        if let Ok(canonical) = path.canonicalize() {
            return Some(canonical);
        }
        let folder = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Some(folder.canonicalize().ok()?.join(path.file_name()?))
    };
    matches!((resolve(a), resolve(b)), (Some(a), Some(b)) if a == b)
}

/// A file a command names, with what it is (`the recipe`, `the report file`), for messages;
/// `None` when the command was not given it. `-` (standard input or output) is no file.
pub(crate) type Named<'a> = (&'static str, Option<&'a Path>);

/// Refuses, before anything is read or sent, an output that would overwrite an input of the
/// same command (the recipe replaced by its own fixture) or another output.
pub(crate) fn no_overwriting(outputs: &[Named], inputs: &[Named]) -> Result<(), FileError> {
    let named = |list: &[Named]| -> Vec<(&'static str, PathBuf)> {
        list.iter().filter_map(|(what, path)| Some((*what, path.filter(|path| *path != Path::new("-"))?.to_path_buf()))).collect()
    };
    let outputs = named(outputs);
    for (at, (what, path)) in outputs.iter().enumerate() {
        let clash = named(inputs).into_iter().chain(outputs[..at].iter().cloned()).find(|(_, other)| same_file(path, other));
        if let Some((other, _)) = clash {
            return Err(FileError::Overwrites { what, path: path.clone(), other });
        }
    }
    Ok(())
}

/// Reads a file, or standard input for `-`.
pub(crate) fn read_input(file: &Path) -> Result<String, FileError> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text).map_err(|source| FileError::Read { path: None, source })?;
        return Ok(text);
    }
    fs_err::read_to_string(file).map_err(|source| FileError::Read { path: Some(file.to_owned()), source })
}

/// The input values of a YAML or JSON file (`--vars FILE`); none without a file.
pub(crate) fn vars_file(path: Option<&Path>) -> Result<BTreeMap<String, Json>, FileError> {
    let Some(path) = path else { return Ok(BTreeMap::new()) };
    let text = read_input(path)?;
    crate::yaml::from_str::<BTreeMap<String, Json>>(&text).map_err(|error| FileError::Vars(error.in_file(path, "invalid vars file")))
}

/// The variables of a dotenv file: `path`, or `.env` when there is one (its absence is no
/// error; a named file's is).
pub(crate) fn dotenv(path: Option<&Path>) -> Result<BTreeMap<String, String>, FileError> {
    let file = path.map_or_else(|| PathBuf::from(".env"), Path::to_path_buf);
    match fs_err::read_to_string(&file) {
        Ok(text) => {
            crate::dotenv::parse(&text, &|name: &str| std::env::var(name).ok()).map_err(|source| FileError::Dotenv { path: file, source })
        }
        Err(_) if path.is_none() && !file.exists() => Ok(BTreeMap::new()),
        Err(source) => Err(FileError::Read { path: Some(file), source }),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{no_overwriting, same_file};

    #[test]
    fn an_output_may_not_overwrite_an_input_or_another_output() {
        let recipe = Path::new("recipes/draft.yaml");
        let clash = no_overwriting(&[("the fixture", Some(recipe))], &[("the recipe", Some(recipe))]).unwrap_err().to_string();
        assert_eq!(clash, "the fixture `recipes/draft.yaml` is also the recipe: it would be overwritten; write to another file");
        let twice = no_overwriting(&[("the report", Some(Path::new("a.json"))), ("the results", Some(Path::new("./a.json")))], &[]);
        assert!(twice.unwrap_err().to_string().starts_with("the results `./a.json` is also the report"));
    }

    #[test]
    fn standard_input_and_output_are_no_file() {
        let stdio = Some(Path::new("-"));
        assert!(no_overwriting(&[("the report", stdio)], &[("the recipe", stdio)]).is_ok());
        assert!(same_file(Path::new("Cargo.toml"), Path::new("./Cargo.toml")));
    }
}
