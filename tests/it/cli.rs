//! Whole-command snapshots of the binary: exit code, stdout and stderr together, so a worse
//! message fails CI. Durations are filtered out.

use std::process::Command;

use crate::support::root;

/// Runs the binary in the repository root, without the variables that change its output.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recipe"));
    command.args(args).current_dir(root());
    for name in ["MYKAARMA_BASIC_AUTH", "MYKAARMA_BASE_URL", "WHOAMI_TOKEN", "WHOAMI_BASE_URL", "NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE"] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("the binary runs");
    let text = format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().map_or("signal".into(), |c| c.to_string()),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    regex::Regex::new(r"\(\d+ms\)").unwrap().replace_all(&text, "(Nms)").into_owned()
}

#[test]
fn check_reports_every_problem_with_its_place() {
    insta::assert_snapshot!(run(&["check", "tests/data/broken.yaml"], &[]));
}

#[test]
fn check_accepts_every_shipped_recipe() {
    let recipes = crate::support::shipped_recipes();
    let args: Vec<&str> = std::iter::once("check").chain(recipes.iter().map(String::as_str)).collect();
    let output = run(&args, &[]);
    assert!(output.starts_with("exit: 0\n"), "{output}");
}

#[test]
fn check_reports_yaml_syntax_errors() {
    insta::assert_snapshot!(run(&["check", "tests/data/syntax.yaml"], &[]));
}

#[test]
fn run_prints_the_scheduler_link_from_the_bundled_fixture() {
    insta::assert_snapshot!(run(&["run", "recipes/draft.yaml", "--replay", "recipes/fixtures/draft/happy_path.yaml"], &[]));
}

#[test]
fn run_lists_both_customers_when_the_match_is_ambiguous() {
    insta::assert_snapshot!(run(
        &["run", "recipes/draft.yaml", "--replay", "recipes/fixtures/draft/err_two_customers_same_vin_and_name.yaml"],
        &[]
    ));
}

#[test]
fn run_shows_the_start_of_an_html_page_where_json_was_expected() {
    insta::assert_snapshot!(run(&["run", "recipes/draft.yaml", "--replay", "recipes/fixtures/draft/err_html_login_page.yaml"], &[]));
}

#[test]
fn replay_shows_a_diff_when_the_recipe_sends_something_else() {
    insta::assert_snapshot!(run(
        &["run", "recipes/draft.yaml", "--replay", "recipes/fixtures/draft/happy_path.yaml", "--var", "note=Changed by hand"],
        &[]
    ));
}

#[test]
fn missing_inputs_and_credentials_are_usage_errors() {
    insta::assert_snapshot!(run(&["run", "recipes/draft.yaml", "--var", "vin=NOT-A-VIN", "--var", "colour=red"], &[]));
}

#[test]
fn dry_run_masks_secrets() {
    let secret = "ZHJ5LXJ1bjpzZWNyZXQtdmFsdWUtOTk5";
    let output = run(&["run", "recipes/draft.yaml", "--dry-run", "--vars", "tests/data/inputs.yaml"], &[("MYKAARMA_BASIC_AUTH", secret)]);
    assert!(!output.contains(secret), "{output}");
    assert!(output.contains("authorization: Basic <MYKAARMA_BASIC_AUTH>"), "{output}");
    insta::assert_snapshot!(output);
}

#[test]
fn a_value_that_would_change_the_url_is_refused_not_sent() {
    let path = std::env::temp_dir().join(format!("recipe-url-{}.yaml", std::process::id()));
    let text = "recipe: 1\nname: u\ninputs: { id: string }\nsteps:\n  - id: a\n    request: { method: DELETE, url: \"https://h.test/users/{{ inputs.id }}/x\" }\n";
    std::fs::write(&path, text).unwrap();
    let file = path.to_str().unwrap();
    for (id, problem) in [("../../admin", "`.` or `..` segment"), ("a\nb", "control character"), ("1#frag", "fragment, never sent")] {
        let var = format!("id={id}");
        let output = run(&["run", file, "--dry-run", "--var", &var], &[]);
        assert!(output.contains(problem) && output.contains("urlencode"), "{id}: {output}");
        assert!(!output.starts_with("exit: 0\n"), "{id}: {output}");
    }
    let output = run(&["run", file, "--dry-run", "--var", "id=42"], &[]);
    assert!(output.starts_with("exit: 0\n") && output.contains("/users/42/x"), "{output}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_dry_run_knows_what_lacks_a_response_inside_a_called_recipe_and_with_unset_variables() {
    let folder = std::env::temp_dir().join(format!("recipe-dry-call-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("callee.yaml"),
        "recipe: 1\nname: callee\nsteps:\n  - id: a\n    request: { method: GET, url: https://h.test/a }\noutputs:\n  id: \"{{ steps.a.body.id }}\"\n",
    )
    .unwrap();
    let caller = folder.join("caller.yaml");
    std::fs::write(&caller, "recipe: 1\nname: caller\nsteps:\n  - id: c\n    call: { recipe: callee.yaml }\n  - id: d\n    set: { x: \"{{ steps.c.outputs.id }}\" }\n").unwrap();
    let output = run(&["run", caller.to_str().unwrap(), "--dry-run"], &[]);
    assert!(output.starts_with("exit: 0\n") && output.contains("not rendered without responses"), "{output}");
    // An unset variable stands as `<PAGE_SIZE>` in a dry run: what converts it cannot render.
    let paged = folder.join("paged.yaml");
    std::fs::write(
        &paged,
        "recipe: 1\nname: paged\nenv:\n  PAGE_SIZE: {}\nsteps:\n  - id: n\n    set: { n: \"{{ env.PAGE_SIZE | int }}\" }\n",
    )
    .unwrap();
    let output = run(&["run", paged.to_str().unwrap(), "--dry-run"], &[]);
    assert!(output.starts_with("exit: 0\n"), "{output}");
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn an_output_never_overwrites_an_input_or_another_output() {
    let folder = std::env::temp_dir().join(format!("recipe-clobber-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let recipe = folder.join("advisors.yaml");
    let original = std::fs::read_to_string(root().join("recipes/advisors.yaml")).unwrap();
    std::fs::write(&recipe, &original).unwrap();
    let file = recipe.to_str().unwrap();
    let fixture = root().join("recipes/fixtures/advisors/found.yaml");
    let fixture = fixture.to_str().unwrap();
    let report = folder.join("report.json");
    let report = report.to_str().unwrap();
    for (args, message) in [
        (vec!["run", file, "--replay", fixture, "--report", "json", "--report-file", file], "the report file"),
        (vec!["run", file, "--replay", fixture, "--report", "json", "--report-file", fixture], "is also the `--replay` fixture"),
        (vec!["export", "arazzo", file, "-o", file], "is also the recipe"),
    ] {
        let output = run(&args, &[]);
        assert!(
            output.starts_with("exit: 2\n") && output.contains(message) && output.contains("would be overwritten"),
            "{args:?}: {output}"
        );
    }
    assert_eq!(std::fs::read_to_string(&recipe).unwrap(), original, "the recipe is untouched");
    let output = run(&["run", file, "--replay", fixture, "--report", "json", "--report-file", report], &[]);
    assert!(output.starts_with("exit: 0\n"), "{output}");
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn unknown_commands_are_usage_errors() {
    let output = run(&["frobnicate"], &[]);
    assert!(output.starts_with("exit: 2\n"), "{output}");
}

#[test]
fn a_dash_reads_the_recipe_or_the_vars_from_stdin() {
    use crate::support::piped;
    let (code, _, stderr) = piped(&["check", "-"], "recipe: 1\nname: t\nsteps:\n  - id: a\n    set: { x: 1 }\n");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("-: ok (1 steps)"), "{stderr}");
    let (code, stdout, stderr) =
        piped(&["run", "recipes/advisors.yaml", "--vars", "-", "--replay", "recipes/fixtures/advisors/found.yaml"], "{}");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("advisors"), "{stdout}");
    let (code, _, stderr) = piped(&["run", "-", "--vars", "-"], "{}");
    assert_eq!(code, Some(2));
    assert!(stderr.contains("only one of the recipe, `--vars` and `--rows` can be `-`"), "{stderr}");
}

#[test]
fn data_files_are_refused_at_the_place_of_their_fault() {
    use crate::support::piped;
    // A fixture with `step:` twice in its first exchange: the second is refused, not silently kept.
    let fixture = std::fs::read_to_string(root().join("recipes/fixtures/advisors/found.yaml")).unwrap();
    let line = fixture.lines().position(|line| line.starts_with("- step:")).expect("an exchange") + 1;
    let doubled = fixture.replacen("- step: ", "- step: other\n  step: ", 1);
    let path = std::env::temp_dir().join(format!("recipe-doubled-{}.yaml", std::process::id()));
    std::fs::write(&path, doubled).unwrap();
    let output = run(&["run", "recipes/advisors.yaml", "--replay", path.to_str().unwrap()], &[]);
    let _ = std::fs::remove_file(&path);
    let expected = format!("{}:{}:3: invalid fixture: duplicate key `step`", path.display(), line + 1);
    assert!(output.starts_with("exit: 2\n") && output.contains(&expected), "{output}");
    // A vars file with a second document: reported, where before the rest was never read.
    let (code, _, stderr) = piped(
        &["run", "recipes/advisors.yaml", "--vars", "-", "--replay", "recipes/fixtures/advisors/found.yaml"],
        "dealer_uuid: x\n---\ndealer_uuid: y\n",
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("<stdin>:2:1: invalid vars file: a second YAML document: a file holds one"), "{stderr}");
}

#[test]
fn a_recipe_with_a_second_document_is_refused_at_the_dashes() {
    use crate::support::piped;
    let recipe = "recipe: 1\nname: t\nsteps:\n  - id: a\n    set: { x: 1 }\n---\nsteps:\n  - id: b\n    set: { y: 2 }\n";
    let (code, _, stderr) = piped(&["check", "-"], recipe);
    assert_eq!(code, Some(3), "an invalid recipe: {stderr}");
    assert!(stderr.contains("a second YAML document: a file holds one") && stderr.contains("<stdin>:6:1"), "{stderr}");
}

#[test]
fn test_names_the_exchanges_a_case_did_not_make_or_did_not_record_without_verbose() {
    // `extra` recorded a request the recipe no longer makes, `missing` lacks one it now makes,
    // and `moved` recorded the second at another path: each line says which, in short.
    insta::assert_snapshot!(run(&["test", "tests/data/test-cases"], &[]));
}

#[test]
fn verbose_shows_the_exchanges_of_each_test_case_and_is_refused_by_a_batch() {
    let plain = run(&["test", "recipes/advisors.yaml"], &[]);
    assert!(plain.contains("ok advisors/found") && !plain.contains("< 200 OK"), "{plain}");
    let verbose = run(&["test", "recipes/advisors.yaml", "-v"], &[]);
    assert!(verbose.starts_with("exit: 0\n"), "{verbose}");
    let case = verbose.find("ok advisors/found").expect("the case's line");
    let request = verbose.find("> GET https://api.mykaarma.com/appointment/v2/dealer/").expect("the request");
    let response = verbose.find("< 200 OK").expect("the response");
    assert!(case < request && request < response, "{verbose}");
    assert!(verbose.contains("> authorization: Basic <MYKAARMA_BASIC_AUTH>"), "masked as recorded: {verbose}");
    let batch = run(&["run", "recipes/advisors.yaml", "--rows", "tests/data/no-such-rows.csv", "-v"], &[]);
    assert!(batch.starts_with("exit: 2\n") && batch.contains("a batch (`--rows`) does not print them"), "{batch}");
}

#[test]
fn a_number_with_a_leading_zero_is_text_and_the_error_says_so() {
    use crate::support::piped;
    let recipe = "recipe: 1\nname: t\nsteps:\n  - id: a\n    for_each: \"{{ [1, 2] }}\"\n    concurrency: 04\n    set: { x: 1 }\n";
    let (code, _, stderr) = piped(&["check", "-"], recipe);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("found a string") && stderr.contains("hint: `04` has a leading zero, so it is read as text"), "{stderr}");
    assert!(stderr.contains("write `4` for the number"), "{stderr}");
    // A vars file keeps the zeros of a code, and says why when a number was wanted.
    let path = std::env::temp_dir().join(format!("recipe-zeros-{}.yaml", std::process::id()));
    let recipe = "recipe: 1\nname: t\ninputs:\n  zip: { type: string }\n  count: { type: integer }\nsteps:\n  - id: a\n    set: { x: \"{{ inputs.zip }}\" }\noutputs:\n  zip: \"{{ inputs.zip }}\"\n";
    std::fs::write(&path, recipe).unwrap();
    let file = path.to_str().unwrap();
    let (code, stdout, stderr) = piped(&["run", file, "--vars", "-"], "zip: 02134\ncount: 3\n");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("\"02134\""), "{stdout}");
    let (code, _, stderr) = piped(&["run", file, "--vars", "-"], "zip: 02134\ncount: 007\n");
    let _ = std::fs::remove_file(&path);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("expected an integer") && stderr.contains("write `7` for the number"), "{stderr}");
}

#[test]
fn an_assertion_whose_message_cannot_render_says_so() {
    use crate::support::piped;
    let recipe = "recipe: 1\nname: t\nsteps:\n  - id: a\n    set: { x: 1 }\n    assert:\n      - that: \"{{ steps.a.values.x == 2 }}\"\n        message: \"x is {{ steps.a.values.missing.deeper }}\"\n";
    let (code, _, stderr) = piped(&["run", "-"], recipe);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("x is {{ steps.a.values.missing.deeper }} (the message could not be rendered: undefined value"), "{stderr}");
    assert!(stderr.contains("is false (steps.a.values.x = 1)"), "{stderr}");
}

/// Rows read from standard input are spooled to a temporary file; the batch's own messages name
/// them `stdin`, never the spool.
#[test]
fn rows_from_standard_input_are_named_stdin_in_messages() {
    use crate::support::piped;
    for (rows, expected) in [
        ("bogus\n1\n", "error: stdin: unknown column `bogus`; the inputs are "),
        ("vin,vin\n1,2\n", "error: stdin: the column `vin` appears twice in the header (column 2)"),
    ] {
        let (code, _, stderr) = piped(&["run", "recipes/draft.yaml", "--rows", "-"], rows);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.starts_with(expected) && !stderr.contains(".spool"), "{stderr}");
    }
}
