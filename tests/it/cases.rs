//! Every fixture case of every shipped recipe, replayed and snapshotted: outcome, outputs, each
//! step's status and reason, and every request sent. A new case is a new fixture file.

use crate::support::{replay, snapshot_value};

#[test]
fn every_fixture_case() {
    insta::glob!("../../recipes/fixtures", "*/*.yaml", |path| {
        let result = replay(path);
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        // Failing cases are named `err_*`; every other case must succeed.
        assert_eq!(result.ok, !name.starts_with("err_"), "{}: {:#?}", path.display(), result.steps);
        insta::assert_yaml_snapshot!(snapshot_value(&result));
    });
}

#[test]
fn the_happy_path_prints_the_scheduler_link() {
    let result = replay(&crate::support::root().join("recipes/fixtures/draft/happy_path.yaml"));
    let outputs = result.outputs.expect("outputs");
    assert_eq!(outputs["scheduler_link"], "https://mykr.ma/s/Dr4ftX1");
    assert_eq!(outputs["appointment_start"], "2026-07-22T09:30:00", "the earliest vacant slot, not the earliest slot");
}

#[test]
fn the_last_name_decides_between_owners_of_one_vin() {
    let result = replay(&crate::support::root().join("recipes/fixtures/draft/shared_vin_last_name_decides.yaml"));
    let outputs = result.outputs.expect("outputs");
    assert_eq!(outputs["customer_uuid"], "Qm8pT2vX9rL4kW7nB1cF6hJ3sD5gA0zY8uE2iO4pR6t");
}
