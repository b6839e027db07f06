//! Exported workflows run by Redocly's Arazzo runner, `redocly respect`, against `recipe serve`
//! of the recipe's own fixture, give the outputs the recipe gives against the same server.
//!
//! Respect is a Node program: `.ci/run` installs the pinned `@redocly/cli` and sets
//! `RECIPE_REDOCLY` to its `redocly` command. Without that variable (a machine without npm) the
//! test says so and checks nothing else.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value as Json};

use crate::support::{root, serve_in_background};

/// A recipe Arazzo can express whole, its fixture, inputs, and environment (the base URL's
/// variable first, its value a path under the server's origin).
pub struct Case {
    pub recipe: &'static str,
    pub fixture: &'static str,
    pub inputs: &'static [(&'static str, &'static str)],
    pub base: (&'static str, &'static str),
    pub env: &'static [(&'static str, &'static str)],
    /// The existing OpenAPI description to export against (`--openapi`), if any.
    pub openapi: Option<&'static str>,
}

const SHOP: Case = Case {
    recipe: "tests/data/arazzo/shop.yaml",
    fixture: "tests/data/arazzo/shop.fixture.yaml",
    inputs: &[("customer_id", "C-100")],
    base: ("SHOP_BASE_URL", ""),
    env: &[("SHOP_CLIENT_ID", "shop-client"), ("SHOP_CLIENT_SECRET", "s3cret-for-the-test")],
    openapi: None,
};

pub const CASES: [Case; 3] = [
    SHOP,
    Case {
        recipe: "tests/data/arazzo/notes.yaml",
        fixture: "tests/data/arazzo/notes.fixture.yaml",
        inputs: &[("title", "Groceries")],
        base: ("NOTES_BASE_URL", "/api"),
        env: &[("NOTES_API_KEY", "k3y-for-the-test")],
        openapi: None,
    },
    // The shop again, its steps pointing at the vendor's description by operationId.
    Case { openapi: Some("tests/data/arazzo/shop.openapi.yaml"), ..SHOP },
];

fn folder(name: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("recipe-respect-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

/// The recipe's outputs, run live against `origin`.
fn recipe_outputs(case: &Case, origin: &str) -> Json {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recipe"));
    command.args(["run", case.recipe]).current_dir(root()).env(case.base.0, format!("{origin}{}", case.base.1));
    for (name, value) in case.inputs {
        command.args(["--var", &format!("{name}={value}")]);
    }
    command.envs(case.env.iter().copied());
    let output = command.output().expect("recipe runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the outputs are JSON")
}

/// Runs Respect on the exported workflow; returns the exported document and Respect's JSON log
/// (it must have succeeded).
fn respect(redocly: &Path, case: &Case, origin: &str, folder: &Path) -> (Json, Json) {
    let (arazzo, log, output) = run_respect(redocly, case, origin, folder);
    assert!(
        output.status.success(),
        "respect failed on {}:\n{}{}",
        case.recipe,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (arazzo, log)
}

/// Exports the case's recipe and runs Respect on it: the document, Respect's JSON log, and how
/// Respect ended.
fn run_respect(redocly: &Path, case: &Case, origin: &str, folder: &Path) -> (Json, Json, std::process::Output) {
    let arazzo_path = folder.join("flow.arazzo.yaml");
    let mut export = Command::new(env!("CARGO_BIN_EXE_recipe"));
    export.args(["export", "arazzo", case.recipe, "-o"]).arg(&arazzo_path).current_dir(root());
    if let Some(openapi) = case.openapi {
        export.arg("--openapi").arg(root().join(openapi));
    }
    let export = export.output().unwrap();
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    assert!(!String::from_utf8_lossy(&export.stderr).contains("warning:"), "{}: every step is expressible", case.recipe);
    let mut command = Command::new(redocly);
    command.args(["respect", "flow.arazzo.yaml", "--no-secrets-masking", "--max-fetch-timeout", "10000", "-J", "log.json"]);
    command.args(["--server", &format!("api={origin}{}", case.base.1)]).current_dir(folder);
    for (name, value) in case.inputs.iter().chain(case.env) {
        command.args(["--input", &format!("{name}={value}")]);
    }
    let output = command.output().expect("redocly runs");
    let log = std::fs::read_to_string(folder.join("log.json")).map_or(Json::Null, |text| serde_json::from_str(&text).unwrap());
    let arazzo: Json = recipe::hooks::yaml::from_str(&std::fs::read_to_string(&arazzo_path).unwrap()).unwrap();
    (arazzo, log, output)
}

/// The workflow's outputs, computed from the responses Respect received, by the runtime
/// expressions of the exported document.
fn workflow_outputs(arazzo: &Json, log: &Json) -> Json {
    let run = &log["files"]["flow.arazzo.yaml"]["executedWorkflows"][0];
    assert_eq!(run["status"], "success", "{run}");
    let workflow = &arazzo["workflows"][0];
    let mut steps: Map<String, Json> = Map::new();
    for step in workflow["steps"].as_array().unwrap() {
        let id = step["stepId"].as_str().unwrap();
        let executed = run["executedSteps"].as_array().unwrap().iter().find(|s| s["stepId"] == id).unwrap_or_else(|| panic!("{id} ran"));
        let response = &executed["response"];
        let mut outputs = Map::new();
        for (name, expression) in step["outputs"].as_object().into_iter().flatten() {
            let expression = expression.as_str().unwrap();
            let value = if expression == "$statusCode" {
                response["statusCode"].clone()
            } else if let Some(header) = expression.strip_prefix("$response.header.") {
                response["headers"][header.to_ascii_lowercase()].clone()
            } else {
                let pointer = expression.strip_prefix("$response.body").unwrap().trim_start_matches('#');
                response["body"].pointer(pointer).cloned().unwrap_or_else(|| panic!("{expression} in {}", response["body"]))
            };
            outputs.insert(name.clone(), value);
        }
        steps.insert(id.to_owned(), Json::Object(outputs));
    }
    let outputs = workflow["outputs"].as_object().unwrap().iter().map(|(name, expression)| {
        let (step, output) = expression.as_str().unwrap().strip_prefix("$steps.").unwrap().split_once(".outputs.").unwrap();
        (name.clone(), steps[step][output].clone())
    });
    Json::Object(outputs.collect())
}

#[test]
#[allow(clippy::print_stderr, reason = "a skipped test says why, where cargo test shows it")]
fn respect_runs_exported_recipes_with_the_recipes_outputs() {
    let Some(redocly) = std::env::var_os("RECIPE_REDOCLY").map(PathBuf::from) else {
        eprintln!("skipped: RECIPE_REDOCLY is not set (.ci/run sets it to the redocly command it installs)");
        return;
    };
    for (index, case) in CASES.iter().enumerate() {
        let name = format!("{index}-{}", Path::new(case.recipe).file_stem().unwrap().to_string_lossy());
        let server = serve_in_background(&root().join(case.fixture));
        let origin = server.origin.clone();
        let expected = recipe_outputs(case, &origin);
        let server = serve_in_background(&root().join(case.fixture));
        let origin = server.origin.clone();
        let folder = folder(&name);
        let (arazzo, log) = respect(&redocly, case, &origin, &folder);
        if case.openapi.is_some() {
            let ids: Vec<&str> =
                arazzo["workflows"][0]["steps"].as_array().unwrap().iter().filter_map(|s| s["operationId"].as_str()).collect();
            assert_eq!(ids, ["issueToken", "listCustomerOrders", "getOrder"]);
        }
        let got = workflow_outputs(&arazzo, &log);
        assert_eq!(got, expected, "{}: Respect's outputs differ from the recipe's", case.recipe);
        assert!(expected.as_object().is_some_and(|outputs| outputs.len() >= 4), "{expected}");
        let _ = std::fs::remove_dir_all(&folder);
    }
}

/// The checks the export turns into `JSONPath` criteria fail where the recipe's fail: the shop's
/// guard (`open_orders`, a criterion of `orders`) when no order is open, its assertion (a
/// criterion of `order`) when the order read is not open.
#[test]
fn respect_fails_where_the_recipe_fails() {
    let Some(redocly) = std::env::var_os("RECIPE_REDOCLY").map(PathBuf::from) else { return };
    let case = &CASES[0];
    let fixture = std::fs::read_to_string(root().join(case.fixture)).unwrap();
    let variants = [
        (
            "orders: [{ id: O-7, status: open }, { id: O-9, status: open }]",
            "orders: [{ id: O-7, status: closed }]",
            "open_orders",
            "orders",
        ),
        ("json: { id: O-7, status: open, total", "json: { id: O-7, status: held, total", "order", "order"),
    ];
    for (index, (from, to, recipe_step, arazzo_step)) in variants.into_iter().enumerate() {
        assert!(fixture.contains(from), "{from}");
        let folder = folder(&format!("fails-{index}"));
        let path = folder.join("variant.fixture.yaml");
        std::fs::write(&path, fixture.replace(from, to)).unwrap();

        let server = serve_in_background(&path);
        let mut command = Command::new(env!("CARGO_BIN_EXE_recipe"));
        command.args(["run", case.recipe, "--var", "customer_id=C-100"]).current_dir(root());
        command.env(case.base.0, &server.origin).envs(case.env.iter().copied());
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.lines().any(|line| line.contains("FAIL") && line.contains(recipe_step)), "{recipe_step}:\n{stderr}");

        let server = serve_in_background(&path);
        let (_, log, output) = run_respect(&redocly, case, &server.origin, &folder);
        assert!(!output.status.success(), "respect passed on {to}");
        let steps = log["files"]["flow.arazzo.yaml"]["executedWorkflows"][0]["executedSteps"].as_array().cloned().unwrap_or_default();
        let failed = steps.iter().find(|step| step["status"] != "success").unwrap_or_else(|| panic!("a failed step in {log}"));
        assert_eq!(failed["stepId"], arazzo_step, "{failed}");
        let check = failed["checks"].as_array().unwrap().iter().find(|check| check["passed"] == false).unwrap();
        assert!(check["condition"].as_str().is_some_and(|condition| condition.starts_with("$[?")), "{check}");
        let _ = std::fs::remove_dir_all(&folder);
    }
}
