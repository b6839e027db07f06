//! The committed JSON Schema is generated from the Rust types and must not go stale, and every
//! key the decoder accepts must be in it.

use serde_json::Value as Json;

#[test]
fn committed_schema_is_current() {
    let path = crate::support::root().join("schemas/recipe.schema.json");
    let generated = serde_json::to_string_pretty(&recipe::hooks::schema()).unwrap() + "\n";
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
    use recipe::hooks::decode::*;
    let schema = recipe::hooks::schema();
    assert_eq!(properties(&schema, "Recipe"), sorted(&[RECIPE_KEYS]));
    assert_eq!(properties(&schema, "InputSpec"), sorted(&[INPUT_KEYS]));
    assert_eq!(properties(&schema, "EnvVarSpec"), sorted(&[ENV_KEYS]));
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

/// Every recipe the project ships or tests as valid.
fn valid_recipes() -> Vec<std::path::PathBuf> {
    let root = crate::support::root();
    let mut paths: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("recipes"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.extend(["tests/data/faults.yaml", "tests/data/batch.yaml", "benches/flow.yaml"].iter().map(|p| root.join(p)));
    paths.sort();
    paths
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&recipe::hooks::schema()).expect("the schema is a valid JSON Schema")
}

fn as_json(path: &std::path::Path) -> Json {
    recipe::hooks::yaml::from_str::<Json>(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_schema_accepts_every_valid_recipe() {
    let validator = validator();
    for path in valid_recipes() {
        assert!(recipe::load(&path).is_ok(), "{} does not pass `recipe check`", path.display());
        let errors: Vec<String> = validator.iter_errors(&as_json(&path)).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{} is rejected by the schema:\n{}", path.display(), errors.join("\n"));
    }
}

#[test]
fn the_schema_rejects_what_check_rejects_where_a_schema_can() {
    let validator = validator();
    let base = "recipe: 1\nname: t\nsteps:\n  - id: a\n    request: { method: GET, url: /x }\n";
    let cases = [
        ("an unknown top-level key", format!("{base}outputz: {{}}\n")),
        ("an unknown step key", base.replace("    request:", "    requets: {}\n    request:")),
        ("a method that does not exist", base.replace("GET", "FETCH")),
        ("a duration without a unit", base.replace("url: /x }", "url: /x, timeout: 10 }").replace("10 }", "'10' }")),
        ("a status out of range", base.replace("url: /x }", "url: /x }\n    expect: { status: 700 }")),
        ("a step with no action", "recipe: 1\nname: t\nsteps:\n  - id: a\n".to_owned()),
        ("an unknown input type", format!("{base}inputs: {{ x: {{ type: text }} }}\n")),
        ("a recipe version other than 1", base.replace("recipe: 1", "recipe: 2")),
        ("an unknown cardinality", format!("{base}  - id: b\n    filter: {{ from: x, expect: many }}\n")),
        ("a retry kind that does not exist", base.replace("url: /x }", "url: /x, retry: { on: [teapot] } }")),
        ("an invalid size", base.replace("steps:", "http: { max_body: lots }\nsteps:")),
    ];
    // Its duplicate key already makes it invalid YAML for editors; without that key, the schema
    // still rejects the rest.
    let broken = std::fs::read_to_string(crate::support::root().join("tests/data/broken.yaml")).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let without_duplicates =
        broken.lines().filter(|line| !line.starts_with("  link:") || seen.insert("link")).collect::<Vec<_>>().join("\n");
    let json = recipe::hooks::yaml::from_str::<Json>(&without_duplicates).expect("broken.yaml without its duplicate key is YAML");
    assert!(!validator.is_valid(&json), "the schema accepts tests/data/broken.yaml");
    for (what, text) in cases {
        assert!(recipe::load_str("t.yaml", &text).is_err(), "`recipe check` accepts {what}:\n{text}");
        let json = recipe::hooks::yaml::from_str::<Json>(&text).unwrap();
        assert!(!validator.is_valid(&json), "the schema accepts {what}:\n{text}");
    }
}

#[test]
fn every_property_and_enum_value_is_described() {
    fn walk(node: &Json, path: &str, missing: &mut Vec<String>) {
        match node {
            Json::Object(map) => {
                if let Some(Json::Object(properties)) = map.get("properties") {
                    for (name, property) in properties {
                        let described = property.get("description").is_some()
                            || property.get("$ref").is_some() && property.get("description").is_some();
                        if !described {
                            missing.push(format!("{path}.{name}"));
                        }
                    }
                }
                if let Some(Json::Array(values)) = map.get("enum")
                    && map.get("description").is_none()
                {
                    missing.push(format!("{path} (enum {values:?})"));
                }
                for (key, value) in map {
                    walk(value, &format!("{path}/{key}"), missing);
                }
            }
            Json::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}/{index}"), missing);
                }
            }
            _ => {}
        }
    }
    let mut missing = Vec::new();
    walk(&recipe::hooks::schema(), "", &mut missing);
    assert!(missing.is_empty(), "undescribed:\n{}", missing.join("\n"));
}
