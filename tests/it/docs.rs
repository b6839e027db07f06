//! `recipe completions SHELL` and `recipe man`: generated from the clap definition, so every
//! subcommand appears.

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
