//! The files a command names, checked before anything is sent: an output must be writable and
//! must not overwrite an input of the same command or another output. Also the readers of what
//! a run takes from files beside its recipe (`-` is standard input, a vars file, a dotenv file).
//!
//! It does not decide which files a command has: each command lists its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

/// Checks, before anything is sent, that a file can be written at `path`: not a folder, and in
/// a folder that exists (it is created) and accepts new files. `what` names the file in the
/// message.
pub(crate) fn writable(path: &Path, what: &str) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!("{what} `{}` is a folder; give a file path", path.display()));
    }
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs_err::create_dir_all(folder).map_err(|error| format!("{what} `{}` cannot be written: {error}", path.display()))?;
    // An existing file must itself be writable (opened to append, so nothing in it changes);
    // a new one needs a folder that takes files.
    if path.exists() {
        return std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map(|_| ())
            .map_err(|error| format!("{what} `{}` cannot be written: {error}", path.display()));
    }
    let probe = folder.join(format!(".recipe-probe-{}", std::process::id()));
    fs_err::write(&probe, b"").map_err(|error| format!("{what} `{}` cannot be written: {error}", path.display()))?;
    let _ = fs_err::remove_file(&probe);
    Ok(())
}

/// Writes `bytes` to `path` atomically: to a new temporary file in the same folder (a rename
/// stays on one file system), synced, then renamed over `path`. On any failure (a full disk, a
/// file size limit) the temporary file is removed and `path` is left as it was: a report,
/// fixture or snapshot is never torn.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write as _;
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs_err::create_dir_all(folder).map_err(|error| error.to_string())?;
    let name = path.file_name().map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let temporary = folder.join(format!(".{name}.{}.{}.tmp", std::process::id(), uuid::Uuid::new_v4().simple()));
    let written = (|| {
        let mut file = fs_err::OpenOptions::new().write(true).create_new(true).open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs_err::rename(&temporary, path)
    })();
    written.map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        format!("{error} (`{}` was left as it was)", path.display())
    })
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
pub(crate) fn no_overwriting(outputs: &[Named], inputs: &[Named]) -> Result<(), String> {
    let named = |list: &[Named]| -> Vec<(&'static str, PathBuf)> {
        list.iter().filter_map(|(what, path)| Some((*what, path.filter(|path| *path != Path::new("-"))?.to_path_buf()))).collect()
    };
    let outputs = named(outputs);
    for (at, (what, path)) in outputs.iter().enumerate() {
        let clash = named(inputs).into_iter().chain(outputs[..at].iter().cloned()).find(|(_, other)| same_file(path, other));
        if let Some((other, _)) = clash {
            return Err(format!("{what} `{}` is also {other}: it would be overwritten; write to another file", path.display()));
        }
    }
    Ok(())
}

/// Reads a file, or standard input for `-`.
pub(crate) fn read_input(file: &Path) -> Result<String, String> {
    if file == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text).map_err(|error| format!("cannot read stdin: {error}"))?;
        return Ok(text);
    }
    fs_err::read_to_string(file).map_err(|error| error.to_string())
}

/// The input values of a YAML or JSON file (`--vars FILE`); none without a file.
pub(crate) fn vars_file(path: Option<&Path>) -> Result<BTreeMap<String, Json>, String> {
    let Some(path) = path else { return Ok(BTreeMap::new()) };
    let text = read_input(path)?;
    crate::yaml::from_str::<BTreeMap<String, Json>>(&text).map_err(|error| error.in_file(path, "invalid vars file"))
}

/// The variables of a dotenv file: `path`, or `.env` when there is one (its absence is no
/// error; a named file's is).
pub(crate) fn dotenv(path: Option<&Path>) -> Result<BTreeMap<String, String>, String> {
    let file = path.map_or_else(|| PathBuf::from(".env"), Path::to_path_buf);
    match fs_err::read_to_string(&file) {
        Ok(text) => {
            crate::dotenv::parse(&text, &|name: &str| std::env::var(name).ok()).map_err(|error| format!("{}: {error}", file.display()))
        }
        Err(_) if path.is_none() && !file.exists() => Ok(BTreeMap::new()),
        Err(error) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{no_overwriting, same_file};

    #[test]
    fn an_output_may_not_overwrite_an_input_or_another_output() {
        let recipe = Path::new("recipes/draft.yaml");
        let clash = no_overwriting(&[("the fixture", Some(recipe))], &[("the recipe", Some(recipe))]).unwrap_err();
        assert_eq!(clash, "the fixture `recipes/draft.yaml` is also the recipe: it would be overwritten; write to another file");
        let twice = no_overwriting(&[("the report", Some(Path::new("a.json"))), ("the results", Some(Path::new("./a.json")))], &[]);
        assert!(twice.unwrap_err().starts_with("the results `./a.json` is also the report"));
    }

    #[test]
    fn standard_input_and_output_are_no_file() {
        let stdio = Some(Path::new("-"));
        assert!(no_overwriting(&[("the report", stdio)], &[("the recipe", stdio)]).is_ok());
        assert!(same_file(Path::new("Cargo.toml"), Path::new("./Cargo.toml")));
    }
}
