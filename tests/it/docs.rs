//! The documentation: `recipe completions SHELL` and `recipe man` (generated from the clap
//! definition, so every subcommand appears), and README.md and docs/, whose examples, commands and
//! lists of files are checked against the binary and the tree.

use std::process::Command;

fn recipe(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_recipe")).args(args).output().expect("the binary runs");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
}

const SUBCOMMANDS: &[&str] = &["run", "check", "test", "serve", "schema", "completions", "man", "import", "export"];

#[test]
fn every_shell_gets_a_script_naming_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let (code, script) = recipe(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        assert!(!script.trim().is_empty(), "{shell}: empty script");
        for subcommand in SUBCOMMANDS {
            assert!(script.contains(subcommand), "{shell}: the script does not name `{subcommand}`");
        }
    }
    let (code, _) = recipe(&["completions", "tcsh"]);
    assert_eq!(code, 2);
}

#[test]
fn the_man_page_lists_the_subcommands() {
    let (code, page) = recipe(&["man"]);
    assert_eq!(code, 0);
    assert!(page.contains("\n.TH recipe 1"), "{page}");
    for subcommand in SUBCOMMANDS {
        assert!(page.contains(&format!("recipe\\-{subcommand}(1)")), "the man page does not list `{subcommand}`:\n{page}");
    }
    let (code, run) = recipe(&["man", "run"]);
    assert_eq!(code, 0);
    assert!(run.contains("\n.TH recipe-run 1") && run.contains("\\-\\-replay"), "{run}");
    assert_eq!(recipe(&["man", "nope"]).0, 2);
    // Every page a page names can be printed: none names `recipe-help(1)`.
    let mut named: Vec<String> = Vec::new();
    for page in [&page, &recipe(&["man", "import"]).1, &recipe(&["man", "export"]).1] {
        named.extend(page.split("recipe\\-").skip(1).filter_map(|rest| rest.split_once("(1)")).map(|(name, _)| name.replace("\\-", "-")));
    }
    assert!(named.contains(&"import-curl".to_owned()) && named.contains(&"export-arazzo".to_owned()), "{named:?}");
    for name in named {
        let (code, shown) = recipe(&["man", &name]);
        assert_eq!(code, 0, "`recipe man {name}`");
        assert!(shown.contains(&format!(".TH recipe-{name} 1")), "{shown}");
    }
}

// The documents: README.md and docs/ are kept true by the tests below (STYLE.md, "Docs that
// cannot go stale").
//
// A ```yaml block is a whole recipe, and passes `recipe check`, unless the line just before its
// fence is the marker `<!-- fragment -->` (invisible once rendered): then it is a piece of a
// recipe, or another YAML file, shown alone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const FRAGMENT: &str = "<!-- fragment -->";

/// The documents this project writes by hand (docs/cli.md is generated, and tested where it is).
const OWN_DOCS: &[&str] = &["README.md", "docs/language.md", "docs/running.md", "docs/performance.md", "docs/architecture.md"];

/// Documents a link may name before they exist on every branch: generated from the command line.
const GENERATED_DOCS: &[&str] = &["docs/cli.md"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// README.md and every Markdown file in docs/, as paths relative to the root.
fn all_docs() -> Vec<String> {
    let mut docs = vec!["README.md".to_owned()];
    let mut names: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
        .filter(|name| Path::new(name).extension().is_some_and(|extension| extension == "md"))
        .collect();
    names.sort();
    docs.extend(names.into_iter().map(|name| format!("docs/{name}")));
    docs
}

/// A fenced block: the 1-based line of its fence, its language, its text, and whether it is
/// marked as a fragment.
struct Block {
    line: usize,
    language: String,
    text: String,
    fragment: bool,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut found = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let trimmed = lines[index].trim_start();
        if let Some(language) = trimmed.strip_prefix("```") {
            let indent = lines[index].len() - trimmed.len();
            let start = index;
            let mut text = String::new();
            index += 1;
            while index < lines.len() && lines[index].trim() != "```" {
                text.push_str(lines[index].get(indent..).unwrap_or_else(|| lines[index].trim_start()));
                text.push('\n');
                index += 1;
            }
            let fragment = start > 0 && lines[start - 1].trim() == FRAGMENT;
            found.push(Block { line: start + 1, language: language.trim().to_owned(), text, fragment });
        }
        index += 1;
    }
    found
}

#[test]
fn every_yaml_block_is_a_recipe_that_passes_the_check_or_a_marked_fragment() {
    let scratch = std::env::temp_dir().join(format!("recipe-docs-blocks-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("a scratch folder");
    let mut recipes = Vec::new();
    for doc in all_docs() {
        let markdown = read(&doc);
        let blocks = blocks(&markdown);
        // A marker must stand right before a YAML fence, or it marks nothing.
        for (number, line) in markdown.lines().enumerate() {
            if line.trim() == FRAGMENT {
                assert!(
                    blocks
                        .iter()
                        .any(|block| block.line == number + 2 && block.fragment && matches!(block.language.as_str(), "yaml" | "yml")),
                    "{doc}:{}: `{FRAGMENT}` is not on the line just before a ```yaml fence",
                    number + 1
                );
            }
        }
        for block in blocks.iter().filter(|block| matches!(block.language.as_str(), "yaml" | "yml") && !block.fragment) {
            let file = scratch.join(format!("{}-line-{}.yaml", doc.replace('/', "-"), block.line));
            std::fs::write(&file, &block.text).expect("the scratch file is written");
            recipes.push(file);
        }
    }
    assert!(recipes.len() >= 2, "the README's tour and the import example are whole recipes: {recipes:?}");
    let output = Command::new(env!("CARGO_BIN_EXE_recipe")).arg("check").args(&recipes).output().expect("the binary runs");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let _ = std::fs::remove_dir_all(&scratch);
    assert_eq!(
        output.status.code(),
        Some(0),
        "a ```yaml block (file named DOC-line-N.yaml) fails `recipe check`; fix it, or mark it `{FRAGMENT}` on the line before its fence if it is not a whole recipe:\n{report}"
    );
}

/// The commands of the README's quick start, in order.
fn quick_start_commands() -> Vec<String> {
    let readme = read("README.md");
    let start = readme.find("## Quick start").expect("README has a quick start");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |end| end + 3)];
    blocks(section)
        .into_iter()
        .filter(|block| block.language == "sh")
        .flat_map(|block| block.text.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

#[test]
fn every_quick_start_command_runs() {
    let commands = quick_start_commands();
    assert_eq!(
        commands,
        ["cargo run -- run recipes/draft.yaml --replay recipes/fixtures/draft/happy_path.yaml", "cargo test --locked"],
        "the quick start changed: teach this test to run the new commands"
    );
    for command in &commands {
        if let Some(arguments) = command.strip_prefix("cargo run -- ") {
            // The built binary stands for `cargo run --`, from the root as a newcomer runs it.
            let output = Command::new(env!("CARGO_BIN_EXE_recipe"))
                .args(arguments.split_whitespace())
                .current_dir(root())
                .output()
                .expect("the binary runs");
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert_eq!(output.status.code(), Some(0), "`{command}` failed:\n{}", String::from_utf8_lossy(&output.stderr));
            let outputs: serde_json::Value =
                serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("`{command}` printed no JSON ({error}):\n{stdout}"));
            let link = outputs["scheduler_link"].as_str().unwrap_or_default();
            assert!(link.starts_with("https://"), "`{command}` printed no scheduler link:\n{stdout}");
            assert!(read("README.md").contains(link), "README quotes another scheduler link than `{link}`");
        } else {
            // Not run from inside the tests it runs: CI runs exactly this command.
            let ci = read(".ci/run");
            assert!(ci.lines().any(|line| line.trim() == command), "`.ci/run` does not run the README's `{command}`:\n{ci}");
        }
    }
}

/// Paths into the repository that a document names: `src/...`, `tests/...` and so on, cut at the
/// first character that cannot be in a path, without trailing punctuation.
fn named_paths(markdown: &str) -> BTreeSet<String> {
    let pattern = regex::Regex::new(r"(?:^|[\s`(\[|'])((?:src|tests|benches|recipes|docs|schemas|scripts|\.ci)/[A-Za-z0-9_.@/-]*)")
        .expect("a valid pattern");
    pattern.captures_iter(markdown).map(|captures| captures[1].trim_end_matches(['.', ',', ':', ';']).to_owned()).collect()
}

/// A Rust module may be a file or a folder: `src/cli.rs` and `src/cli/` name the same module.
fn exists(path: &str) -> bool {
    let root = root();
    if root.join(path).exists() {
        return true;
    }
    match (path.strip_suffix(".rs"), path.strip_suffix('/')) {
        (Some(module), _) if path.starts_with("src/") => root.join(module).is_dir(),
        (_, Some(module)) if path.starts_with("src/") => root.join(format!("{module}.rs")).is_file(),
        _ => false,
    }
}

/// Files a reader makes by following the README (the integrator's loop records `smith.yaml`).
fn is_example(path: &str) -> bool {
    ["recipes/fixtures/draft/smith.yaml", "recipes/fixtures/draft/snapshots/smith.snap"].contains(&path)
}

#[test]
fn every_path_the_docs_name_exists() {
    let mut missing = Vec::new();
    for doc in OWN_DOCS {
        for path in named_paths(&read(doc)) {
            if !exists(&path) && !is_example(&path) && !GENERATED_DOCS.contains(&path.as_str()) {
                missing.push(format!("{doc}: `{path}`"));
            }
        }
    }
    assert!(missing.is_empty(), "the docs name files that do not exist:\n{}", missing.join("\n"));
}

#[test]
fn every_shipped_recipe_is_in_the_readme() {
    let readme = read("README.md");
    let mut recipes: Vec<String> = std::fs::read_dir(root().join("recipes"))
        .expect("recipes/ exists")
        .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
        .filter(|name| Path::new(name).extension().is_some_and(|extension| extension == "yaml"))
        .collect();
    recipes.sort();
    assert!(recipes.len() >= 8, "{recipes:?}");
    for name in recipes {
        assert!(readme.contains(&format!("`recipes/{name}`")), "README's table of shipped recipes does not name `recipes/{name}`");
    }
}

/// The entries of a folder under the root: `src/a.rs`, `src/b/` (folders end with `/`).
fn entries(folder: &str) -> Vec<String> {
    let mut entries: Vec<String> = std::fs::read_dir(root().join(folder))
        .unwrap_or_else(|error| panic!("{folder}: {error}"))
        .map(|entry| {
            let entry = entry.expect("an entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_dir() { format!("{folder}/{name}/") } else { format!("{folder}/{name}") }
        })
        .collect();
    entries.sort();
    entries
}

#[test]
fn the_architecture_names_every_module_of_the_tree() {
    let architecture = read("docs/architecture.md");
    let named = named_paths(&architecture);
    let names = |path: &str| {
        let module = path.strip_suffix(".rs").or_else(|| path.strip_suffix('/')).unwrap_or(path);
        named.contains(path) || named.contains(&format!("{module}.rs")) || named.contains(&format!("{module}/"))
    };
    let mut unnamed: Vec<String> = entries("src").into_iter().filter(|entry| !names(entry)).collect();
    // A folder described file by file is described completely.
    for folder in entries("src").into_iter().filter(|entry| entry.ends_with('/')) {
        if named.iter().any(|path| path.starts_with(&folder) && path.len() > folder.len()) {
            unnamed.extend(entries(folder.trim_end_matches('/')).into_iter().filter(|entry| !names(entry)));
        }
    }
    assert!(unnamed.is_empty(), "docs/architecture.md does not name:\n{}", unnamed.join("\n"));
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// `docs/../README.md` as `README.md`: `.` and `..` resolved, without touching the file system.
fn normalise(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => assert!(parts.pop().is_some(), "`{}` leaves the repository", path.display()),
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    parts.join("/")
}

#[test]
fn every_link_between_the_docs_lands_and_none_leaves_the_repository() {
    let link = regex::Regex::new(r"\]\(([^)\s]+)\)").expect("a valid pattern");
    let mut broken = Vec::new();
    // Every document's links, so a link into README.md or docs/ from any of them keeps landing.
    for doc in all_docs() {
        let markdown = read(&doc);
        if OWN_DOCS.contains(&doc.as_str()) {
            for forbidden in ["../shared", "/work/", "shared/bench"] {
                assert!(!markdown.contains(forbidden), "{doc} points outside the repository: `{forbidden}`");
            }
        }
        let folder = Path::new(&doc).parent().expect("a parent").to_path_buf();
        for target in link.captures_iter(&markdown).map(|captures| captures[1].to_owned()) {
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let (file, fragment) = target.split_once('#').map_or((target.as_str(), None), |(file, fragment)| (file, Some(fragment)));
            let path = if file.is_empty() { PathBuf::from(&doc) } else { folder.join(file) };
            let path = normalise(&path);
            if GENERATED_DOCS.contains(&path.as_str()) && !root().join(&path).exists() {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(root().join(&path)) else {
                broken.push(format!("{doc}: ({target}): no file `{path}`"));
                continue;
            };
            if let Some(fragment) = fragment {
                let anchors: Vec<String> =
                    text.lines().filter_map(|line| line.strip_prefix('#')).map(|line| anchor(line.trim_start_matches('#'))).collect();
                if !anchors.iter().any(|anchor| anchor == fragment) {
                    broken.push(format!("{doc}: ({target}): no heading `#{fragment}` in `{path}`"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    // The benchmark's own scripts run from a clone too.
    for script in ["benches/compare.py", "benches/install.sh", "benches/run-flows.sh", "benches/server/start.sh", "benches/server/stop.sh"]
    {
        let text = read(script);
        assert!(!text.contains("../shared") && !text.contains("/work/"), "{script} points outside the repository");
    }
}

/// Every property name of the JSON Schema (which is generated from the language's types).
fn schema_keys(value: &serde_json::Value, keys: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::Object(properties)) = map.get("properties") {
                keys.extend(properties.keys().cloned());
            }
            map.values().for_each(|value| schema_keys(value, keys));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|value| schema_keys(value, keys)),
        _ => {}
    }
}

#[test]
fn the_language_reference_names_every_key() {
    let schema: serde_json::Value = serde_json::from_str(&read("schemas/recipe.schema.json")).expect("the schema is JSON");
    let mut keys = BTreeSet::new();
    schema_keys(&schema, &mut keys);
    assert!(keys.len() > 80, "{keys:?}");
    let language = read("docs/language.md");
    let missing: Vec<&String> =
        keys.iter().filter(|key| !language.contains(&format!("`{key}`")) && !language.contains(&format!("{key}:"))).collect();
    assert!(missing.is_empty(), "docs/language.md does not describe these keys of the language: {missing:?}");
}

#[test]
fn the_benchmark_flow_checks_and_its_mock_answers_every_row_uniquely() {
    let output = Command::new(env!("CARGO_BIN_EXE_recipe"))
        .args(["check", "benches/flow.yaml"])
        .current_dir(root())
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    // docs/performance.md says every per-row answer is unique by default: nginx writes its
    // request id over the placeholder the generated answers carry.
    let config = read("benches/server/nginx.conf.in");
    assert!(
        config.lines().any(|line| line.trim() == "sub_filter 'RID-PLACEHOLDER' '$request_id';"),
        "the mock no longer makes answers unique:\n{config}"
    );
    let data = read("benches/server/gen_data.py");
    for answer in ["customer_list.json", "availability.json", "draft.json"] {
        let line =
            data.lines().find(|line| line.contains(&format!("(\"{answer}\""))).unwrap_or_else(|| panic!("gen_data.py writes no {answer}"));
        assert!(line.contains("RID-PLACEHOLDER"), "the {answer} answer is the same for every row: {line}");
    }
}

#[test]
fn the_readme_stays_a_guide() {
    // About 300 lines: what it is, the quick start, the loop, a tour and links. The reference
    // belongs in docs/language.md, the command line's prose in docs/running.md.
    let lines = read("README.md").lines().count();
    assert!(lines <= 320, "README.md has {lines} lines: move reference material into docs/");
}

#[test]
fn the_readme_names_every_input_of_the_draft_recipe() {
    let recipe = read("recipes/draft.yaml");
    let inputs: Vec<&str> = recipe
        .lines()
        .skip_while(|line| *line != "inputs:")
        .skip(1)
        .take_while(|line| line.is_empty() || line.starts_with(' ') || line.starts_with('#'))
        .filter_map(|line| {
            line.strip_prefix("  ").filter(|rest| !rest.starts_with([' ', '#'])).and_then(|rest| rest.split_once(':')).map(|(name, _)| name)
        })
        .collect();
    assert!(inputs.len() >= 10, "{inputs:?}");
    let readme = read("README.md");
    let missing: Vec<&&str> =
        inputs.iter().filter(|name| !readme.contains(&format!("`{name}`")) && !readme.contains(&format!("{name}="))).collect();
    assert!(missing.is_empty(), "README's section on the real API does not name these inputs of recipes/draft.yaml: {missing:?}");
}
