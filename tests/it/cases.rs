//! Every fixture case of every shipped recipe, replayed and snapshotted with insta: outcome,
//! outputs, each step's status and reason, and every request sent. A new case is a new fixture
//! file. The snapshots live next to the fixtures, in the files `recipe test` reads and writes.

use std::path::Path;

use crate::support::{replay, root};

/// Replays each case and checks its snapshot; collects every failure before failing.
#[test]
fn every_fixture_case() {
    let cases = recipe::testing::discover(&[root().join("recipes")]).expect("the recipes folder lists");
    assert!(cases.len() >= 15, "expected the bundled cases, found {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let outcome = std::panic::catch_unwind(|| check_case(&case.fixture));
        if outcome.is_err() {
            failures.push(case.name.clone());
        }
    }
    assert!(failures.is_empty(), "cases whose snapshot or outcome differs: {failures:?}");
}

fn check_case(fixture: &Path) {
    let result = replay(fixture);
    let name = fixture.file_stem().unwrap().to_string_lossy().into_owned();
    // Failing cases are named `err_*`; every other case must succeed.
    assert_eq!(result.ok, !name.starts_with("err_"), "{}: {:#?}", fixture.display(), result.steps);
    let text = recipe::snapshot::render(&result);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(recipe::snapshot::path_for(fixture).parent().unwrap());
    settings.set_prepend_module_to_snapshot(false);
    settings.set_input_file(fixture);
    settings.bind(|| insta::assert_snapshot!(name, text));
}

#[test]
fn cargo_test_and_recipe_test_agree() {
    // `recipe test` reads the same snapshot files this file's test writes.
    for case in recipe::testing::discover(&[root().join("recipes")]).unwrap() {
        let outcome = recipe::testing::run(&case, false, &mut |_, _| {});
        assert_eq!(outcome.verdict, recipe::testing::Verdict::Passed, "{}", case.name);
    }
}

#[test]
fn the_happy_path_prints_the_scheduler_link() {
    let result = replay(&root().join("recipes/fixtures/draft/happy_path.yaml"));
    let outputs = result.outputs.expect("outputs");
    assert_eq!(outputs["scheduler_link"], "https://mykr.ma/s/Dr4ftX1");
    assert_eq!(outputs["appointment_start"], "2026-07-22T09:30:00", "the earliest vacant slot, not the earliest slot");
}

#[test]
fn the_last_name_decides_between_owners_of_one_vin() {
    let result = replay(&root().join("recipes/fixtures/draft/shared_vin_last_name_decides.yaml"));
    let outputs = result.outputs.expect("outputs");
    assert_eq!(outputs["customer_uuid"], "Qm8pT2vX9rL4kW7nB1cF6hJ3sD5gA0zY8uE2iO4pR6t");
}
