//! Run snapshots: what a reviewer needs to see of a replayed case, as text, in insta's file
//! format, so `cargo test` (insta) and `recipe test` read and write the same files.
//!
//! A case `recipes/fixtures/<recipe>/<case>.yaml` has its snapshot at
//! `recipes/fixtures/<recipe>/snapshots/<case>.snap`. The text holds the outcome, the outputs,
//! each step's status, reason and bindings, and every request sent (secrets masked).

use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};

use crate::run::RunResult;

/// Every step, with a called recipe's steps after its `call` step.
fn flattened(steps: &[crate::run::StepResult]) -> Vec<&crate::run::StepResult> {
    steps.iter().flat_map(|step| std::iter::once(step).chain(flattened(&step.inner))).collect()
}

/// The reviewable value of a run.
pub fn value(result: &RunResult) -> Json {
    let all = flattened(&result.steps);
    let steps: Vec<Json> = all
        .iter()
        .map(|step| {
            let mut value = json!({ "id": step.id, "status": step.status });
            if let Some(cause) = step.cause {
                value["error_kind"] = json!(cause);
            }
            if let Some(reason) = &step.reason {
                value["reason"] = json!(reason);
            }
            if let Some(effect) = step.effect {
                value["effect"] = json!(effect);
            }
            // Retries and redirects are part of what the run did: each attempt in a line.
            if step.attempts.len() > 1 || step.attempts.iter().any(|a| !a.redirects.is_empty()) {
                let several = step.attempts.iter().filter(|a| a.number == 1).count() > 1;
                value["attempts"] = json!(step.attempts.iter().map(|a| attempt_line(a, several)).collect::<Vec<_>>());
            }
            if !step.bindings.is_empty() {
                value["bindings"] = json!(step.bindings);
            }
            value
        })
        .collect();
    let requests: Vec<Json> = all
        .iter()
        .filter_map(|step| {
            let mut request = json!({ "step": step.id });
            let spec = serde_json::to_value(step.request.as_ref()?).ok()?;
            request.as_object_mut()?.extend(spec.as_object()?.clone());
            Some(request)
        })
        .collect();
    json!({ "ok": result.ok, "outputs": result.outputs, "error": result.error, "steps": steps, "requests": requests })
}

/// `2: waited 1s, 503` or `1: 302 -> http://..., 200`; with the request when a step sends
/// several (pages, `for_each` items): `1: GET /orders/O-1, 200`.
fn attempt_line(attempt: &crate::run::Attempt, with_request: bool) -> String {
    let mut line = format!("{}: ", attempt.number);
    if with_request {
        line.push_str(&format!("{}, ", attempt.request));
    }
    if !attempt.wait.is_zero() {
        line.push_str(&format!("waited {}, ", crate::run::retry::seconds(attempt.wait)));
    }
    for hop in &attempt.redirects {
        line.push_str(&format!("{} -> {}, ", hop.status, hop.location));
    }
    line.push_str(&attempt.summary());
    line
}

/// The snapshot text of a run.
pub fn render(result: &RunResult) -> String {
    crate::emit::data(&value(result))
}

/// Where a case's snapshot lives.
pub fn path_for(fixture: &Path) -> PathBuf {
    let folder = fixture.parent().unwrap_or(Path::new("."));
    let stem = fixture.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    folder.join("snapshots").join(format!("{stem}.snap"))
}

/// The contents of an insta snapshot file (the part after its metadata header), with line endings
/// normalised to `\n` as insta compares them; `None` when there is no snapshot yet. A file that
/// cannot be read, or is not in insta's format, is an error: it is not a new case.
pub fn read(path: &Path) -> Result<Option<String>, SnapshotError> {
    let text = match fs_err::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(SnapshotError::Unreadable(error)),
    };
    let text = text.replace("\r\n", "\n");
    match contents(&text) {
        Some(contents) => Ok(Some(contents.to_owned())),
        None => Err(SnapshotError::NotInsta(path.to_owned())),
    }
}

/// Why a snapshot cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("the snapshot is unreadable: {0}")]
    Unreadable(std::io::Error),
    #[error(
        "the snapshot {} is unreadable: it is not in insta's format (a `---` metadata header, then the contents); \
         restore it, or delete it and run `recipe test --accept`",
        .0.display()
    )]
    NotInsta(PathBuf),
    #[error("{0}")]
    Write(#[from] crate::files::FileError),
}

fn contents(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("---\n")?;
    if let Some(contents) = rest.strip_prefix("---\n") {
        return Some(contents);
    }
    rest.find("\n---\n").map(|end| &rest[end + 5..])
}

/// Whether two snapshot texts are the same, as insta compares them: line endings normalised and
/// trailing whitespace aside.
pub fn same(a: &str, b: &str) -> bool {
    a.replace("\r\n", "\n").trim_end() == b.replace("\r\n", "\n").trim_end()
}

/// Writes a snapshot in insta's format, atomically; its `source` says `recipe test --accept`
/// wrote it (insta compares the contents only).
pub(crate) fn write(path: &Path, fixture: &Path, text: &str) -> Result<(), SnapshotError> {
    let input = fixture.to_string_lossy().replace('\\', "/");
    // A file name YAML would read otherwise (`a: b #c.yaml`) is written as a quoted string.
    let plain = !input.contains(": ")
        && !input.contains(" #")
        && !input.ends_with(':')
        && !input.starts_with(|c: char| "!&*-?{}[]|>'\"%@`#,".contains(c) || c.is_whitespace())
        && !input.contains(|c: char| c.is_control());
    let input = if plain { input } else { serde_json::to_string(&input).unwrap_or(input) };
    let file = format!("---\nsource: recipe test --accept\nexpression: text\ninput_file: {input}\n---\n{}\n", text.trim_end());
    Ok(crate::files::write_atomic(path, file.as_bytes())?)
}

/// A unified diff of two snapshot texts.
pub(crate) fn diff(old: &str, new: &str) -> String {
    // Both end in one line break, so an unchanged last line is not shown as changed.
    let (old, new) = (format!("{}\n", old.trim_end()), format!("{}\n", new.trim_end()));
    similar::TextDiff::from_lines(&old, &new).unified_diff().context_radius(3).header("snapshot", "this run").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_snapshot_is_new_a_corrupt_one_is_an_error_and_crlf_reads_as_lf() {
        let folder = std::env::temp_dir().join(format!("recipe-snapshot-{}", std::process::id()));
        fs_err::create_dir_all(&folder).unwrap();
        assert_eq!(read(&folder.join("missing.snap")).unwrap(), None);
        let corrupt = folder.join("corrupt.snap");
        fs_err::write(&corrupt, "ok: true\n<<<<<<< HEAD\n").unwrap();
        let error = read(&corrupt).unwrap_err().to_string();
        assert!(error.contains("is not in insta's format"), "{error}");
        let crlf = folder.join("crlf.snap");
        fs_err::write(&crlf, "---\r\nsource: tests/it/cases.rs\r\n---\r\nok: true\r\nsteps: []\r\n").unwrap();
        let text = read(&crlf).unwrap().unwrap();
        assert_eq!(text, "ok: true\nsteps: []\n");
        assert!(same(&text, "ok: true\nsteps: []"));
        assert!(same("a\r\nb\r\n", "a\nb"));
        fs_err::remove_dir_all(&folder).unwrap();
    }

    #[test]
    fn odd_case_names_stay_valid_yaml_and_diffs_show_only_what_changed() {
        let folder = std::env::temp_dir().join(format!("recipe-snapshot-names-{}", std::process::id()));
        let path = folder.join("odd.snap");
        write(&path, Path::new("./fixtures/cs/a: b #c.yaml"), "ok: true").unwrap();
        let written = fs_err::read_to_string(&path).unwrap();
        fs_err::remove_dir_all(&folder).unwrap();
        let metadata = written.split("---\n").nth(1).unwrap();
        let read: serde_json::Value = crate::yaml::from_str(metadata).unwrap();
        assert_eq!(read["input_file"], "./fixtures/cs/a: b #c.yaml");
        let shown = diff("a: 1\nlast: x\n", "a: 1\nnew: 2\nlast: x");
        assert!(!shown.contains("-last") && !shown.contains("No newline"), "{shown}");
        assert!(shown.contains("+new: 2"), "{shown}");
    }

    #[test]
    fn reads_the_contents_after_the_metadata() {
        assert_eq!(contents("---\nsource: x\n---\nok: true\n"), Some("ok: true\n"));
        assert_eq!(contents("plain"), None);
        assert_eq!(contents("---\nsource: x\nno end of the header"), None);
        assert_eq!(path_for(Path::new("recipes/fixtures/draft/happy.yaml")), PathBuf::from("recipes/fixtures/draft/snapshots/happy.snap"));
    }
}
