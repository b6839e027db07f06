//! Every fixture case of every shipped recipe, replayed and snapshotted with insta: outcome,
//! outputs, each step's status and reason, and every request sent. A new case is a new fixture
//! file. The snapshots live next to the fixtures, in the files `recipe test` reads and writes.

use std::path::Path;

use crate::support::{replay, root};

/// Replays each case and checks its snapshot; collects every failure before failing.
#[test]
fn every_fixture_case() {
    let cases = recipe::hooks::testing::discover(&[root().join("recipes")]).expect("the recipes folder lists");
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
    let text = recipe::hooks::snapshot::render(&result);
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(recipe::hooks::snapshot::path_for(fixture).parent().unwrap());
    settings.set_prepend_module_to_snapshot(false);
    settings.set_input_file(fixture);
    settings.bind(|| insta::assert_snapshot!(name, text));
    // `recipe test` reads the same snapshot file as insta, and finds the same text in it: the
    // two agree without replaying the case twice.
    let path = recipe::hooks::snapshot::path_for(fixture);
    let committed = recipe::hooks::snapshot::read(&path).expect("the snapshot reads").expect("a snapshot");
    assert!(recipe::hooks::snapshot::same(&committed, &text), "`recipe test` would see {} as changed", path.display());
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

/// A draft case's fixture as JSON: its inputs and its exchanges (request and response per step).
fn fixture_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn draft_fixtures() -> Vec<std::path::PathBuf> {
    let folder = root().join("recipes/fixtures/draft");
    let mut paths: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
}

fn exchange<'a>(fixture: &'a serde_json::Value, step: &str) -> Option<&'a serde_json::Value> {
    fixture["exchanges"].as_array().unwrap().iter().rev().find(|e| e["step"] == step)
}

#[test]
fn no_draft_is_made_for_a_customer_chosen_from_a_possibly_incomplete_list() {
    let mut drafted = 0;
    for path in draft_fixtures() {
        let fixture = fixture_json(&path);
        let Some(draft) = exchange(&fixture, "draft") else { continue };
        drafted += 1;
        // The list the customer was chosen from: the search asked again, else the first one.
        let search = exchange(&fixture, "search_more").or_else(|| exchange(&fixture, "search")).unwrap();
        let body = &search["response"]["json"];
        let seen = body["matchingCustomers"].as_array().map_or(0, Vec::len);
        let matched = body["matchingCount"].as_u64().unwrap_or_else(|| panic!("{}: no matchingCount", path.display()));
        assert!(matched <= seen as u64, "{}: drafted from {seen} of {matched} customers", path.display());
        // And the customer drafted for is on that list.
        let customer = draft["request"]["json"]["customerDetails"]["uuid"].as_str().unwrap();
        assert!(
            body["matchingCustomers"].as_array().unwrap().iter().any(|c| c["customer"]["customerUuid"] == customer),
            "{}",
            path.display()
        );
    }
    assert!(drafted > 20, "only {drafted} cases sent a draft");

    // Still cut after asking for 100: refused before anything is written.
    let result = replay(&root().join("recipes/fixtures/draft/err_search_still_cut.yaml"));
    let failed = result.steps.iter().find(|s| s.status == recipe::Status::Failed).unwrap();
    assert_eq!(failed.id, "check_complete");
    let reason = failed.reason.as_deref().unwrap();
    assert!(reason.contains("matched 130 customers") && reason.contains("returned 100"), "{reason}");
    assert!(result.side_effects.is_empty());
    assert!(!result.steps.iter().any(|s| s.id == "draft" && s.status != recipe::Status::Skipped && s.request.is_some()));

    // Cut at 50 but complete at 100: the owner, who was not on the first page, is found.
    let result = replay(&root().join("recipes/fixtures/draft/search_more_matches_asked_again.yaml"));
    assert!(result.ok, "{:#?}", result.steps);
    assert_eq!(result.outputs.unwrap()["customer_uuid"], "vwY-7xGlD7QSuYuMBFX8we6HUDbVzeIwc_yNH2HZe9A");
}

#[test]
fn no_draft_books_an_advisor_the_availability_names_busy_at_that_time() {
    let mut checked = 0;
    for path in draft_fixtures() {
        let fixture = fixture_json(&path);
        let (Some(draft), Some(availability)) = (exchange(&fixture, "draft"), exchange(&fixture, "availability")) else { continue };
        let Some(map) = availability["response"]["json"]["availabilityInfoMap"].as_object() else { continue };
        let body = &draft["request"]["json"];
        let advisor = body["assignedAdvisorUuid"].as_str().unwrap_or_default().to_lowercase();
        let eligible: Vec<String> = exchange(&fixture, "advisors")
            .and_then(|e| e["response"]["json"]["advisors"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|a| a["uuid"].as_str().map(str::to_lowercase))
            .collect();
        let names_advisors = map.values().filter_map(|combos| combos.as_object()).flat_map(|combos| combos.keys()).any(|key| {
            let key = key.to_lowercase();
            eligible.iter().any(|uuid| key.contains(uuid.as_str()))
        });
        if !names_advisors || advisor.is_empty() {
            continue;
        }
        checked += 1;
        let start = body["appointmentStartDateTime"].as_str().unwrap().replacen('T', " ", 1);
        let combos = map[&start].as_object().unwrap_or_else(|| panic!("{}: no slot {start}", path.display()));
        assert!(
            combos.iter().any(|(key, combo)| key.to_lowercase().contains(&advisor) && combo["vacant"] == true),
            "{}: {advisor} is not vacant at {start}: {combos:?}",
            path.display()
        );
    }
    assert!(checked > 20, "only {checked} cases checked");

    let result = replay(&root().join("recipes/fixtures/draft/err_eligible_advisors_all_busy.yaml"));
    let failed = result.steps.iter().find(|s| s.status == recipe::Status::Failed).unwrap();
    assert_eq!(failed.id, "check_slot");
    assert!(failed.reason.as_deref().unwrap().contains("names them as busy at every vacant slot"), "{failed:#?}");
    assert!(result.side_effects.is_empty());
}

#[test]
fn a_5xx_on_the_draft_is_in_doubt() {
    for case in ["err_draft_500", "err_draft_502", "err_draft_503_no_retry_after"] {
        let result = replay(&root().join(format!("recipes/fixtures/draft/{case}.yaml")));
        assert_eq!(result.worst_effect(), Some(recipe::Effect::InDoubt), "{case}");
        let draft = result.steps.iter().find(|s| s.id == "draft").unwrap();
        assert!(draft.reason.as_deref().unwrap().starts_with("the POST may have been created; check before running again"), "{case}");
        // The outputs known before the draft are there to print.
        assert_eq!(result.outputs.as_ref().unwrap()["customer_uuid"], "vwY-7xGlD7QSuYuMBFX8we6HUDbVzeIwc_yNH2HZe9A", "{case}");
    }
}

#[test]
fn names_that_look_the_same_match_and_names_that_differ_show_how() {
    for (case, customer) in [
        ("nfd_last_name", "Mu8lLeRn4Kx2Lp5Qw9Er3Ty6Ui0Op4As7Df1Gh5Jk2L"),
        ("double_space_last_name", "Vb4nBuRe8Kx2Lp5Qw9Er3Ty6Ui0Op4As7Df1Gh5Jk2L"),
        ("no_break_space_last_name", "Dl4cRuZz8Kx2Lp5Qw9Er3Ty6Ui0Op4As7Df1Gh5Jk2L"),
    ] {
        let result = replay(&root().join(format!("recipes/fixtures/draft/{case}.yaml")));
        assert_eq!(result.outputs.unwrap()["customer_uuid"], customer, "{case}");
    }
    let result = replay(&root().join("recipes/fixtures/draft/err_last_name_looks_alike.yaml"));
    let owners = result.steps.iter().find(|s| s.id == "owners").unwrap();
    assert!(owners.reason.as_deref().unwrap().contains(r#"last name "Sm\u{0456}th", wanted "Smith""#), "{owners:#?}");
}
