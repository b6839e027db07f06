//! `docs/cli.md` is generated from the clap definition (`recipe::hooks::reference`): this test
//! fails when the committed file is stale. `UPDATE_DOCS=1 cargo test --test it cli_docs` writes
//! it instead.

use crate::support::root;

#[test]
fn docs_cli_md_is_generated_from_the_command_line() {
    let path = root().join("docs/cli.md");
    let generated = recipe::hooks::reference();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).expect("docs/cli.md can be written");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let diff = similar::TextDiff::from_lines(&committed, &generated).unified_diff().header("docs/cli.md", "generated").to_string();
        panic!("docs/cli.md is stale: regenerate it with `UPDATE_DOCS=1 cargo test --test it cli_docs`\n{diff}");
    }
}

#[test]
fn docs_cli_md_lists_every_command_exit_status_and_an_example_of_each() {
    let reference = recipe::hooks::reference();
    for command in ["run", "check", "test", "serve", "schema", "completions", "man", "import curl", "export arazzo"] {
        let section = reference.split(&format!("## `recipe {command}`")).nth(1).unwrap_or_else(|| panic!("no section for `{command}`"));
        let section = section.split("\n## ").next().unwrap_or_default();
        assert!(section.contains("Example: ") && section.contains(&format!("recipe {command}")), "no example for `{command}`:\n{section}");
    }
    for exit in recipe::Exit::ALL {
        assert!(reference.contains(&format!("| {} | {} |", exit.code(), exit.meaning())), "{exit:?}");
    }
}
