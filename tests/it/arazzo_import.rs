//! `recipe import arazzo`, and what `recipe export arazzo` says it cannot express: the
//! project's own exports imported back (the recipe passes `recipe check` and gives the same
//! outputs against `recipe serve`), Redocly's Museum API workflows (written by someone else),
//! warnings instead of `null`s, and `--openapi` reusing a vendor's operationIds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value as Json;

use crate::support::{root, serve_in_background};

fn recipe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_recipe")).args(args).current_dir(root()).output().expect("recipe runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn folder(name: &str) -> PathBuf {
    let folder = std::env::temp_dir().join(format!("recipe-arazzo-import-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

fn yaml(path: &Path) -> Json {
    recipe::hooks::yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs a recipe live: its outputs.
fn run(recipe_path: &Path, env: &[(&str, String)], inputs: &[(&str, &str)]) -> Json {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recipe"));
    command.arg("run").arg(recipe_path).current_dir(root()).envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    for (name, value) in inputs {
        command.args(["--var", &format!("{name}={value}")]);
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}: {}", recipe_path.display(), stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn exported_recipes_import_back_and_give_the_same_outputs() {
    // The recipes Respect runs in tests/it/respect.rs, with their fixtures, inputs and variables.
    for case in crate::respect::CASES.iter().filter(|case| case.openapi.is_none()) {
        let name = Path::new(case.recipe).file_stem().unwrap().to_str().unwrap();
        let (fixture, inputs, (base, base_path), env) = (case.fixture, case.inputs, case.base, case.env);
        let folder = folder(name);
        let original = root().join(case.recipe);
        let exported = folder.join(format!("{name}.arazzo.yaml"));
        let output = recipe(&["export", "arazzo", original.to_str().unwrap(), "-o", exported.to_str().unwrap()]);
        assert!(output.status.success(), "{}", stderr(&output));
        let imported = folder.join(format!("{name}.imported.yaml"));
        let output = recipe(&["import", "arazzo", exported.to_str().unwrap(), "-o", imported.to_str().unwrap()]);
        assert!(output.status.success(), "{}", stderr(&output));
        // Nothing of a recipe Arazzo expresses is lost on the way back: no warning.
        assert!(!stderr(&output).contains("warning:"), "{}", stderr(&output));
        let check = recipe(&["check", imported.to_str().unwrap()]);
        assert!(check.status.success(), "{}\n{}", stderr(&check), std::fs::read_to_string(&imported).unwrap());

        let server = serve_in_background(&root().join(fixture));
        let origin = server.origin.clone();
        let mut environment: Vec<(&str, String)> = env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        environment.push((base, format!("{origin}{base_path}")));
        let expected = run(&original, &environment, inputs);
        let server = serve_in_background(&root().join(fixture));
        let origin = server.origin.clone();
        environment.last_mut().unwrap().1 = format!("{origin}{base_path}");
        let got = run(&imported, &environment, inputs);
        assert_eq!(got, expected, "{name}: the imported recipe's outputs");
        let _ = std::fs::remove_dir_all(&folder);
    }
}

#[test]
fn redoclys_museum_workflows_import_with_warnings_at_their_places() {
    let folder = folder("museum");
    let out = folder.join("hours.yaml");
    let file = "tests/data/arazzo/museum/arazzo/museum-api.arazzo.yaml";
    let output = recipe(&["import", "arazzo", file, "-o", out.to_str().unwrap()]);
    let text = stderr(&output);
    assert!(output.status.success(), "{text}");
    // Each place is the file's line and column, and the JSON Pointer of the node.
    assert!(
        text.contains("museum-api.arazzo.yaml:35:9: at `/workflows/0/steps/1`: a step that runs another workflow has no recipe form"),
        "{text}"
    );
    assert!(text.contains("only the first workflow is imported; the others (events-crud)"), "{text}");
    let hours = yaml(&out);
    assert_eq!(hours["http"]["base_url"], "{{ env.API_BASE_URL }}");
    assert_eq!(hours["env"]["API_BASE_URL"]["default"], "https://redocly.com/_mock/docs/openapi/museum-api");
    assert_eq!(hours["http"]["headers"]["Authorization"], "Basic Og==");
    assert_eq!(hours["steps"][0]["id"], "get_museum_hours");
    assert_eq!(hours["steps"][0]["request"], serde_json::json!({ "method": "GET", "url": "/museum-hours" }));
    assert_eq!(hours["steps"][0]["expect"]["status"], serde_json::json!([200]));
    assert_eq!(hours["steps"][0]["bind"]["schedule"], "$");

    let crud = folder.join("crud.yaml");
    let output = recipe(&["import", "arazzo", file, "--workflow", "events-crud", "-o", crud.to_str().unwrap()]);
    let text = stderr(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("at `/workflows/1/steps/1`: the operation asks for `MuseumPlaceholderAuth` and the step gives no `x-security`"),
        "{text}"
    );
    assert!(!text.contains("has no recipe form"), "every criterion of this workflow has a recipe form:\n{text}");
    let crud = yaml(&crud);
    let steps = crud["steps"].as_array().unwrap();
    let requests: Vec<String> =
        steps.iter().map(|s| format!("{} {}", s["request"]["method"].as_str().unwrap(), s["request"]["url"].as_str().unwrap())).collect();
    assert_eq!(
        requests,
        [
            "GET /special-events",
            "POST /special-events",
            "GET /special-events/{{ vars.createdEventId }}",
            "PATCH /special-events/{{ vars.createdEventId }}",
            "DELETE /special-events/{{ vars.updatedEventId }}",
        ]
    );
    assert_eq!(steps[1]["request"]["json"]["price"], 0);
    assert_eq!(steps[1]["bind"]["createdEventId"], "$.eventId");
    // A JSONPath equality (the Goessner form) is an assertion, a regex `^200$` on the status a status.
    assert_eq!(steps[1]["assert"][0], serde_json::json!({ "path": "$.name", "equals": "Mermaid Treasure Identification and Analysis" }));
    assert_eq!(steps[2]["expect"]["status"], serde_json::json!([200]));
    assert_eq!(steps[4]["expect"]["status"], serde_json::json!([204]));

    // The tickets workflow: an operation with a security scheme and no `x-security`.
    let tickets = folder.join("tickets.yaml");
    let output =
        recipe(&["import", "arazzo", "tests/data/arazzo/museum/arazzo/museum-tickets.arazzo.yaml", "-o", tickets.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let tickets = yaml(&tickets);
    assert_eq!(tickets["steps"][0]["request"]["url"], "/tickets");
    assert_eq!(tickets["steps"][0]["request"]["json"]["ticketType"], "general");
    assert_eq!(tickets["outputs"]["ticketId"], "{{ vars.ticketId }}");
    let _ = std::fs::remove_dir_all(&folder);
}

#[test]
fn what_cannot_be_imported_is_an_error_with_its_place() {
    let folder = folder("broken");
    let file = folder.join("broken.arazzo.yaml");
    std::fs::write(&file, "arazzo: 1.0.1\ninfo: { title: t, version: '1' }\nsourceDescriptions: []\nworkflows:\n  - workflowId: w\n    steps:\n      - stepId: s\n        workflowId: other\n").unwrap();
    let output = recipe(&["import", "arazzo", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("at `/workflows/0/steps/0`: a step that runs another workflow"), "{text}");
    assert!(text.contains("at `/workflows/0/steps`: no step can be imported as a request"), "{text}");
    std::fs::write(&file, "openapi: 3.1.0\n").unwrap();
    let output = recipe(&["import", "arazzo", file.to_str().unwrap(), "--workflow", "w"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("not an Arazzo 1.x document"), "{}", stderr(&output));
    let _ = std::fs::remove_dir_all(&folder);
}

/// Every parameter value and body part of a document that has no runtime expression: it is
/// the recipe's text (marked), never `null`.
fn unexpressed(arazzo: &Json) -> Vec<String> {
    let mut found = Vec::new();
    for step in arazzo["workflows"][0]["steps"].as_array().into_iter().flatten() {
        for parameter in step["parameters"].as_array().into_iter().flatten() {
            assert!(!parameter["value"].is_null(), "{parameter}");
            if parameter.get("x-recipe-template").is_some() {
                found.push(format!("{}: {}", step["stepId"].as_str().unwrap(), parameter["name"].as_str().unwrap()));
            }
        }
        for (pointer, text) in step["requestBody"]["x-recipe-template"].as_object().into_iter().flatten() {
            assert_eq!(step["requestBody"]["payload"].pointer(pointer), Some(text), "{step}");
            found.push(format!("{}: body {pointer}", step["stepId"].as_str().unwrap()));
        }
    }
    found
}

#[test]
fn what_arazzo_cannot_express_is_a_warning_naming_the_step_never_null() {
    let folder = folder("warnings");
    let out = folder.join("token-auth.arazzo.yaml");
    let output = recipe(&["export", "arazzo", "recipes/token-auth.yaml", "-o", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stderr(&output);
    for expected in [
        "warning: step `no_orders`: a `fail` step is a guard, which Arazzo cannot state",
        "warning: step `orders`: `bind.order_ids` is no definite JSONPath or plain template, so no output holds it",
        "warning: step `order`: path parameter `each` is `{{ each }}`, which has no runtime expression",
        "warning: step `order`: `for_each` has no Arazzo form (kept in `x-recipe-for_each`)",
        "warning: step `order`: `assert` has no Arazzo form (kept in `x-recipe-assert`)",
        "warning: output `total` is `{{ vars.totals | sum }}`, which has no runtime expression",
    ] {
        assert!(text.contains(expected), "`{expected}` not in:\n{text}");
    }
    let arazzo = yaml(&out);
    assert_eq!(unexpressed(&arazzo), ["order: each"]);
    // The token is sent as a security scheme, not left in an extension.
    let steps = arazzo["workflows"][0]["steps"].as_array().unwrap();
    assert_eq!(
        steps[1]["x-security"][0],
        serde_json::json!({ "schemeName": "bearerAuth", "values": { "token": "$steps.login.outputs.token" } })
    );
    let openapi = yaml(&folder.join("token-auth.openapi.yaml"));
    assert_eq!(openapi["components"]["securitySchemes"]["basicAuth"], serde_json::json!({ "type": "http", "scheme": "basic" }));
    assert_eq!(openapi["servers"][0], serde_json::json!({ "url": "https://shop.example.com", "x-recipe-env": "SHOP_BASE_URL" }));

    // The draft: every step that reads a picked or computed value is named, and nothing is null.
    let out = folder.join("draft.arazzo.yaml");
    let output = recipe(&["export", "arazzo", "recipes/draft.yaml", "-o", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("warning: step `draft`: the body's `/appointmentStartDateTime` is `{{ vars.start }}`"), "{text}");
    assert!(text.contains("warning: step `vehicle`: a `pick` step selects from a value that is no single response's body"), "{text}");
    assert!(text.contains("warning: step `owners`: a `filter` step selects with a `where` template"), "{text}");
    let found = unexpressed(&yaml(&out));
    assert!(found.contains(&"draft: body /appointmentStartDateTime".to_owned()), "{found:?}");
    for line in found {
        let (step, what) = line.split_once(": ").unwrap();
        let what = what.strip_prefix("body ").map_or_else(|| format!("parameter `{what}`"), |pointer| format!("the body's `{pointer}`"));
        assert!(
            text.contains(&format!("step `{step}`: {what}"))
                || text.contains(&format!("step `{step}`: query {what}"))
                || text.contains(&format!("step `{step}`: path {what}"))
                || text.contains(&format!("step `{step}`: header {what}")),
            "no warning for {step} {what}:\n{text}"
        );
    }
    let _ = std::fs::remove_dir_all(&folder);
}

#[test]
fn an_existing_openapi_description_lends_its_operation_ids() {
    let folder = folder("openapi");
    let out = folder.join("shop.arazzo.yaml");
    let output = recipe(&[
        "export",
        "arazzo",
        "tests/data/arazzo/shop.yaml",
        "--openapi",
        "tests/data/arazzo/shop.openapi.yaml",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!folder.join("shop.openapi.yaml").exists(), "no description is written");
    let arazzo = yaml(&out);
    let source = arazzo["sourceDescriptions"][0]["url"].as_str().unwrap();
    assert!(source.ends_with("tests/data/arazzo/shop.openapi.yaml") && (source.starts_with("..") || source.starts_with('/')), "{source}");
    let steps = arazzo["workflows"][0]["steps"].as_array().unwrap();
    let ids: Vec<&str> = steps.iter().map(|s| s["operationId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["issueToken", "listCustomerOrders", "getOrder"]);
    // The description's parameter and scheme names, not the recipe's.
    assert_eq!(steps[1]["parameters"][0], serde_json::json!({ "name": "customerId", "in": "path", "value": "$inputs.customer_id" }));
    assert_eq!(
        steps[2]["parameters"][0],
        serde_json::json!({ "name": "orderId", "in": "path", "value": "$steps.orders.outputs.order_id" })
    );
    assert_eq!(steps[0]["x-security"][0]["schemeName"], "ShopClient");
    assert_eq!(steps[2]["x-security"][0]["schemeName"], "ShopToken");

    // A request the description does not have is a warning, and the step says its request itself.
    let recipe_path = folder.join("extra.yaml");
    let text = std::fs::read_to_string(root().join("tests/data/arazzo/shop.yaml"))
        .unwrap()
        .replace("url: /orders/{{ vars.order_id }}", "url: /archive/{{ vars.order_id }}");
    std::fs::write(&recipe_path, text).unwrap();
    let output = recipe(&["export", "arazzo", recipe_path.to_str().unwrap(), "--openapi", "tests/data/arazzo/shop.openapi.yaml"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("warning: step `order`: no operation of the OpenAPI description is `GET /archive/{{ vars.order_id }}`"),
        "{}",
        stderr(&output)
    );
    let arazzo: Json = recipe::hooks::yaml::from_str(&String::from_utf8_lossy(&output.stdout)).unwrap();
    assert_eq!(
        arazzo["workflows"][0]["steps"][2]["x-operation"],
        serde_json::json!({ "method": "get", "url": "https://shop.example.com/archive/{$steps.orders.outputs.order_id}" })
    );

    // A file that is no OpenAPI description is an error naming it.
    let output = recipe(&["export", "arazzo", "tests/data/arazzo/shop.yaml", "--openapi", "tests/data/arazzo/shop.fixture.yaml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("tests/data/arazzo/shop.fixture.yaml: not an OpenAPI 3 description"), "{}", stderr(&output));
    let _ = std::fs::remove_dir_all(&folder);
}

#[test]
fn every_shipped_recipes_export_imports_to_a_recipe_that_passes_the_check() {
    let folder = folder("shipped");
    for recipe_path in crate::support::shipped_recipes() {
        let name = Path::new(&recipe_path).file_stem().unwrap().to_str().unwrap().to_owned();
        let exported = folder.join(format!("{name}.arazzo.yaml"));
        let output = recipe(&["export", "arazzo", &recipe_path, "-o", exported.to_str().unwrap()]);
        assert!(output.status.success(), "{}", stderr(&output));
        let imported = folder.join(format!("{name}.yaml"));
        let output = recipe(&["import", "arazzo", exported.to_str().unwrap(), "-o", imported.to_str().unwrap()]);
        // `import` checks what it wrote, and exits 3 when the check fails.
        assert!(output.status.success(), "{recipe_path}: {}", stderr(&output));
        let plan = crate::support::plan(&imported);
        assert!(!plan.recipe().steps.is_empty(), "{recipe_path}");
    }
    // What an export kept as recipe text reads what is not restored (`each` of a loop): an
    // input stands in for it, with a warning at its place.
    let output = recipe(&["import", "arazzo", folder.join("token-auth.arazzo.yaml").to_str().unwrap()]);
    let text = stderr(&output);
    assert!(text.contains("at `/workflows/0/steps/2/parameters/0`: recipe text `{{ each }}` an export kept (what it reads is not restored) has no recipe form; the recipe asks for it as the input `each`"), "{text}");
    let imported: Json = recipe::hooks::yaml::from_str(&String::from_utf8_lossy(&output.stdout)).unwrap();
    assert_eq!(imported["steps"][2]["request"]["url"], "/orders/{{ inputs.each }}");
    assert_eq!(imported["inputs"]["each"]["type"], "string");
    let _ = std::fs::remove_dir_all(&folder);
}

#[test]
fn auth_none_is_an_operation_without_security_and_oauth2_a_warning() {
    let folder = folder("auth");
    let path = folder.join("auth.yaml");
    let text = r#"recipe: 1
name: auth
env:
  TOKEN_SECRET: { secret: true }
http:
  base_url: "https://api.test"
  auth: { bearer: "{{ vars.token }}" }
steps:
  - id: login
    request: { method: POST, url: /login, auth: none, idempotent: true, json: { key: "{{ env.TOKEN_SECRET }}" } }
    bind: { token: $.token }
  - id: me
    request: { method: GET, url: /me }
  - id: partner
    request:
      method: GET
      url: https://partner.test/items
      auth: { oauth2: { token_url: https://partner.test/token, client_id: me, client_secret: "{{ env.TOKEN_SECRET }}" } }
"#;
    std::fs::write(&path, text).unwrap();
    let out = folder.join("auth.arazzo.yaml");
    let output = recipe(&["export", "arazzo", path.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("warning: step `partner`: OAuth2 client credentials (`auth: oauth2`) have no `x-security` form"), "{text}");
    let (arazzo, openapi) = (yaml(&out), yaml(&folder.join("auth.openapi.yaml")));
    let steps = arazzo["workflows"][0]["steps"].as_array().unwrap();
    assert!(steps[0].get("x-security").is_none() && steps[2].get("x-security").is_none(), "{steps:?}");
    assert_eq!(steps[1]["x-security"][0]["values"]["token"], "$steps.login.outputs.token");
    assert_eq!(openapi["paths"]["/login"]["post"]["security"], serde_json::json!([]));
    assert_eq!(openapi["paths"]["/me"]["get"]["security"], serde_json::json!([{ "bearerAuth": [] }]));
    assert_eq!(openapi["paths"]["/items"]["get"]["servers"], serde_json::json!([{ "url": "https://partner.test" }]));
    let _ = std::fs::remove_dir_all(&folder);
}

#[test]
fn more_of_arazzo_maps_to_the_recipe_or_warns_at_its_place() {
    let output = recipe(&["import", "arazzo", "tests/data/arazzo/features/flow.arazzo.yaml"]);
    let text = stderr(&output);
    assert!(output.status.success(), "{text}");
    let imported: Json = recipe::hooks::yaml::from_str(&String::from_utf8_lossy(&output.stdout)).unwrap();
    // The server's variable at its default; the path's parameter from an undeclared input, which
    // an input stands in for; the API key from a secret variable, never an input.
    assert_eq!(imported["env"]["API_BASE_URL"]["default"], "https://eu.api.test/v1");
    let request = &imported["steps"][0]["request"];
    assert_eq!(request["method"], "PUT");
    assert_eq!(request["url"], "/items/{{ inputs.itemId }}");
    assert_eq!(imported["inputs"]["itemId"]["type"], "string");
    assert_eq!(imported["env"]["APIKEY"]["secret"], true);
    assert_eq!(request["headers"], serde_json::json!({ "X-Trace": "trace-{{ inputs.name }}", "X-Key": "{{ env.APIKEY }}" }));
    // The payload replacement applied; statuses, header and status outputs kept.
    assert_eq!(request["json"], serde_json::json!({ "name": "{{ inputs.name }}", "size": 1 }));
    assert_eq!(imported["steps"][0]["expect"]["status"], serde_json::json!([200]));
    assert_eq!(imported["steps"][0]["bind"]["etag"], "{{ steps.put.headers['etag'] }}");
    assert_eq!(imported["outputs"]["status"], "{{ vars.status }}");
    for expected in [
        "flow.arazzo.yaml:21:15: at `/workflows/0/steps/0/parameters/0`: the runtime expression `$inputs.item` has no recipe form; the recipe asks for it as the input `itemId`",
        "at `/workflows/0/steps/0/x-security/0/values/apiKey`: the runtime expression `$inputs.key` has no recipe form; the recipe reads the secret environment variable `APIKEY` instead",
        "at `/workflows/0/steps/0/parameters/1`: parameter `session` in `cookie` has no recipe form",
        "at `/workflows/0/steps/0/successCriteria/1`: the criterion `$response.header.ETag != null` has no recipe form",
        "at `/workflows/0/steps/0/onSuccess/0`: the `end` action has no recipe form",
        "at `/workflows/0/steps/0/outputs/link`: the output `$url` has no recipe form",
    ] {
        assert!(text.contains(expected), "`{expected}` not in:\n{text}");
    }
}
