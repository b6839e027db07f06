//! The committed JSON Schema is generated from the Rust types and must not go stale, and every
//! key the decoder accepts must be in it.

use serde_json::Value as Json;

#[test]
fn committed_schema_is_current() {
    let path = crate::support::root().join("schemas/recipe.schema.json");
    let generated = serde_json::to_string_pretty(&recipe::model::schema()).unwrap() + "\n";
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated && std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    assert!(
        committed == generated,
        "schemas/recipe.schema.json is stale: run `UPDATE_SCHEMA=1 cargo test committed_schema` (or `recipe schema`)"
    );
}

fn properties<'a>(schema: &'a Json, definition: &str) -> Vec<&'a str> {
    let node = if definition == "Recipe" { schema } else { &schema["definitions"][definition] };
    let mut keys: Vec<&str> = node["properties"].as_object().map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
    for part in node["allOf"].as_array().into_iter().flatten().chain(node["oneOf"].as_array().into_iter().flatten()) {
        keys.extend(part["properties"].as_object().into_iter().flat_map(|p| p.keys().map(String::as_str)));
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn sorted(lists: &[&[&'static str]]) -> Vec<&'static str> {
    let mut keys: Vec<&str> = lists.iter().flat_map(|l| l.iter().copied()).collect();
    keys.sort_unstable();
    keys
}

#[test]
fn schema_and_decoder_agree_on_keys() {
    use recipe::decode::*;
    let schema = recipe::model::schema();
    assert_eq!(properties(&schema, "Recipe"), sorted(&[RECIPE_KEYS]));
    assert_eq!(properties(&schema, "Input"), sorted(&[INPUT_KEYS]));
    assert_eq!(properties(&schema, "EnvVar"), sorted(&[ENV_KEYS]));
    assert_eq!(properties(&schema, "Http"), sorted(&[HTTP_KEYS]));
    assert_eq!(properties(&schema, "Step"), sorted(&[STEP_KEYS]));
    assert_eq!(properties(&schema, "Request"), sorted(&[REQUEST_KEYS]));
    assert_eq!(properties(&schema, "Expect"), sorted(&[EXPECT_KEYS]));
    assert_eq!(properties(&schema, "Filter"), sorted(&[SELECTION_KEYS, FILTER_KEYS]));
    assert_eq!(properties(&schema, "Pick"), sorted(&[SELECTION_KEYS, PICK_KEYS]));
    assert_eq!(properties(&schema, "Matcher"), sorted(&[MATCHER_KEYS]));
    assert_eq!(properties(&schema, "Recording"), sorted(&[RECORDING_KEYS]));
}

#[test]
fn every_shipped_recipe_names_the_schema() {
    for entry in std::fs::read_dir(crate::support::root().join("recipes")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.starts_with("# yaml-language-server: $schema=../schemas/recipe.schema.json\n"), "{}", path.display());
        }
    }
}
