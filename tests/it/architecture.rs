//! The shape of the code: no import cycle between files. A file that both imports and is
//! imported by another usually holds a piece that belongs to one of them; move the piece.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::support::root;

/// Every `.rs` file under `src/`, as a path relative to it (`run/request.rs`).
fn sources(folder: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

/// The module path of a file: `run/request.rs` -> `run::request`, `run/mod.rs` -> `run`.
fn module_of(file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file.iter().map(|part| part.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The paths a piece of code names after `crate::` (or `super::`, resolved against `module`),
/// with `{a, b::c}` groups expanded.
fn named_paths(code: &str, module: &[String], is_folder_root: bool) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", {
            // `super` of `run/request.rs` is `run`; of `run/mod.rs` it is the crate.
            let mut base = module.to_vec();
            if !is_folder_root || !base.is_empty() {
                base.pop();
            }
            base
        }),
    ] {
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().last();
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let end = if rest.starts_with('{') {
                group_end(rest)
            } else {
                rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len())
            };
            expand(&rest[..end], &base, &mut paths);
        }
    }
    paths
}

fn group_end(text: &str) -> usize {
    let mut depth = 0;
    for (index, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return index + 1;
                }
            }
            _ => {}
        }
    }
    text.len()
}

fn expand(text: &str, base: &[String], paths: &mut Vec<Vec<String>>) {
    let text = text.trim();
    if let Some(inner) = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        let mut depth = 0;
        let mut start = 0;
        for (index, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..index], base, paths);
                    start = index + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], base, paths);
        return;
    }
    let (head, group) = match text.find("::{") {
        Some(at) => (&text[..at], Some(&text[at + 2..])),
        None => (text, None),
    };
    let mut path = base.to_vec();
    path.extend(head.split("::").filter(|part| !part.is_empty() && *part != "self").map(str::to_owned));
    match group {
        Some(group) => expand(group, &path, paths),
        None => paths.push(path),
    }
}

/// The file that holds the longest prefix of `path` that is a module.
fn file_of(path: &[String], modules: &BTreeMap<Vec<String>, String>) -> Option<String> {
    (1..=path.len()).rev().find_map(|length| modules.get(&path[..length]).cloned())
}

/// Code without comments (doc comments name paths in links) and without its unit tests (a test
/// may use any module).
fn code_of(text: &str) -> String {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    code.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// File -> the files it names, leaving out a folder's root module and its own files (they name
/// each other by design: `mod child;` one way, `use super::State` the other).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let modules: BTreeMap<Vec<String>, String> = files
        .iter()
        .map(|file| {
            let relative = file.strip_prefix(&src).unwrap();
            (module_of(relative), relative.display().to_string())
        })
        .collect();
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(src.join(file)).unwrap();
        let is_root = file.ends_with("mod.rs") || file == "lib.rs" || file == "main.rs";
        let mut named = BTreeSet::new();
        for path in named_paths(&code_of(&text), module, is_root) {
            let Some(target) = file_of(&path, &modules) else { continue };
            let target_module: Vec<String> = modules.iter().find(|(_, f)| **f == target).map(|(m, _)| m.clone()).unwrap();
            let nested = |outer: &[String], inner: &[String]| inner.len() > outer.len() && inner.starts_with(outer);
            if target == *file || nested(module, &target_module) || nested(&target_module, module) || target == "lib.rs" {
                continue;
            }
            named.insert(target);
        }
        graph.insert(file.clone(), named);
    }
    graph
}

/// The cycles of the graph, each as the files on it (strongly connected components of more than
/// one file).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let reaches = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(file) = stack.pop() {
            for next in graph.get(&file).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&String, BTreeSet<String>> = graph.keys().map(|file| (file, reaches(file))).collect();
    let mut done = BTreeSet::new();
    let mut found = Vec::new();
    for file in graph.keys() {
        if done.contains(file) {
            continue;
        }
        let component: Vec<String> = graph
            .keys()
            .filter(|other| *other == file || (reach[file].contains(*other) && reach[*other].contains(file)))
            .cloned()
            .collect();
        done.extend(component.iter().cloned());
        if component.len() > 1 {
            found.push(component);
        }
    }
    found
}

#[test]
fn no_import_cycle_between_files() {
    let graph = graph();
    assert!(graph.get("run/paginate.rs").is_some_and(|named| named.contains("template/mod.rs")), "the scan finds imports: {graph:#?}");
    let found = cycles(&graph);
    assert!(found.is_empty(), "files that import each other, directly or through others: {found:#?}");
}

#[test]
fn the_scan_finds_a_cycle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.insert("a.rs".into(), ["b.rs".to_owned()].into());
    graph.insert("b.rs".into(), ["c.rs".to_owned()].into());
    graph.insert("c.rs".into(), ["a.rs".to_owned()].into());
    graph.insert("d.rs".into(), ["a.rs".to_owned()].into());
    assert_eq!(cycles(&graph), vec![vec!["a.rs".to_owned(), "b.rs".to_owned(), "c.rs".to_owned()]]);
    let mut paths = Vec::new();
    expand("{a::{B, c::D}, e}", &[], &mut paths);
    assert_eq!(paths, vec![vec!["a", "B"], vec!["a", "c", "D"], vec!["e"]]);
}
