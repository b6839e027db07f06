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
    crate::yaml::to_string(&value(result)).unwrap_or_default()
}

/// Where a case's snapshot lives.
pub fn path_for(fixture: &Path) -> PathBuf {
    let folder = fixture.parent().unwrap_or(Path::new("."));
    let stem = fixture.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    folder.join("snapshots").join(format!("{stem}.snap"))
}

/// The contents of an insta snapshot file (the part after its metadata header).
pub fn read(path: &Path) -> Option<String> {
    let text = fs_err::read_to_string(path).ok()?;
    Some(contents(&text).to_owned())
}

fn contents(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("---\n") else { return text };
    match rest.find("\n---\n") {
        Some(end) => &rest[end + 5..],
        None => text,
    }
}

/// Whether two snapshot texts are the same, as insta compares them (trailing whitespace aside).
pub fn same(a: &str, b: &str) -> bool {
    a.trim_end() == b.trim_end()
}

/// Writes a snapshot in insta's format, atomically.
pub fn write(path: &Path, fixture: &Path, text: &str) -> Result<(), String> {
    let folder = path.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(folder).map_err(|e| e.to_string())?;
    let input = fixture.to_string_lossy().replace('\\', "/");
    let file = format!("---\nsource: tests/it/cases.rs\nexpression: text\ninput_file: {input}\n---\n{}\n", text.trim_end());
    let temporary = folder.join(format!(".{}.tmp", std::process::id()));
    fs_err::write(&temporary, file).map_err(|e| e.to_string())?;
    fs_err::rename(&temporary, path).map_err(|e| e.to_string())
}

/// A unified diff of two snapshot texts.
pub fn diff(old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old.trim_end(), new.trim_end())
        .unified_diff()
        .context_radius(3)
        .header("snapshot", "this run")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_contents_after_the_metadata() {
        assert_eq!(contents("---\nsource: x\n---\nok: true\n"), "ok: true\n");
        assert_eq!(contents("plain"), "plain");
        assert_eq!(path_for(Path::new("recipes/fixtures/draft/happy.yaml")), PathBuf::from("recipes/fixtures/draft/snapshots/happy.snap"));
    }
}
