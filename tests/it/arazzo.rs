//! `recipe export arazzo`: the exported documents follow the Arazzo 1.0 specification's rules
//! (checked here as assertions: required fields, name patterns and uniqueness, operations that
//! resolve in the written OpenAPI description, runtime expressions of the ABNF's shapes that
//! name existing inputs, steps and outputs), and no recipe step is dropped.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value as Json;

use crate::support::root;

/// Exports a recipe with `-o` into a fresh folder: the Arazzo and OpenAPI texts.
fn export(recipe: &str) -> (String, String) {
    // A folder of its own per call: tests export the same recipe at the same time.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let folder = std::env::temp_dir().join(format!("recipe-arazzo-{}-{call}-{}", std::process::id(), recipe.replace(['/', '.'], "-")));
    let out: PathBuf = folder.join("flow.arazzo.yaml");
    let output =
        Command::new(env!("CARGO_BIN_EXE_recipe")).args(["export", "arazzo", recipe, "-o"]).arg(&out).current_dir(root()).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let arazzo = std::fs::read_to_string(&out).unwrap();
    let openapi = std::fs::read_to_string(folder.join("flow.openapi.yaml")).expect("the OpenAPI description is written beside it");
    let _ = std::fs::remove_dir_all(&folder);
    (arazzo, openapi)
}

fn parse(text: &str) -> Json {
    recipe::hooks::yaml::from_str(text).unwrap_or_else(|error| panic!("not YAML: {error}\n{text}"))
}

static ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_\-]+$").unwrap());

/// Collects rule violations, each with where it is.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.0.push(problem());
        }
    }
}

fn text(value: &Json) -> Option<&str> {
    value.as_str().filter(|text| !text.is_empty())
}

/// RFC 6901: `~1` is `/`, `~0` is `~`.
fn resolve<'a>(document: &'a Json, pointer: &str) -> Option<&'a Json> {
    let mut node = document;
    for token in pointer.strip_prefix('/')?.split('/') {
        let token = token.replace("~1", "/").replace("~0", "~");
        node = match node {
            Json::Object(map) => map.get(&token)?,
            Json::Array(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

fn operation_ids(openapi: &Json) -> Vec<String> {
    let paths = openapi["paths"].as_object().into_iter().flatten();
    paths
        .flat_map(|(_, item)| item.as_object().into_iter().flatten().filter_map(|(_, op)| op["operationId"].as_str().map(str::to_owned)))
        .collect()
}

/// Every runtime expression in a value, skipping `x-` extensions: whole `$...` strings, and
/// `{$...}` embedded in strings.
fn expressions(value: &Json, found: &mut Vec<String>) {
    static EMBEDDED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{(\$[^{}]+)\}").unwrap());
    match value {
        Json::String(text) if text.starts_with('$') => found.push(text.clone()),
        Json::String(text) => found.extend(EMBEDDED.captures_iter(text).map(|c| c[1].to_owned())),
        Json::Array(items) => items.iter().for_each(|item| expressions(item, found)),
        Json::Object(map) => map.iter().filter(|(key, _)| !key.starts_with("x-")).for_each(|(_, value)| expressions(value, found)),
        _ => {}
    }
}

/// The runtime-expression shapes of the Arazzo ABNF this exporter may write, with the names
/// they read resolved against the workflow.
fn check_expression(expression: &str, workflow: &Json, in_step: bool, problems: &mut Problems) {
    static SIMPLE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\$(url|method|statusCode)$").unwrap());
    static INPUT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\$inputs\.([A-Za-z0-9_\-]+)$").unwrap());
    static STEP: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\$steps\.([A-Za-z0-9_\-]+)\.outputs\.([A-Za-z0-9_.\-]+)$").unwrap());
    static BODY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\$response\.body(#(/([^/~]|~[01])*)*)?$").unwrap());
    static HEADER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\$response\.header\.[!#$%&'*+\-.^_`|~0-9A-Za-z]+$").unwrap());
    if SIMPLE.is_match(expression) || BODY.is_match(expression) || HEADER.is_match(expression) {
        problems.check(in_step, || format!("`{expression}` reads a response outside a step"));
    } else if let Some(captures) = INPUT.captures(expression) {
        problems.check(workflow["inputs"]["properties"].get(&captures[1]).is_some(), || format!("`{expression}`: no such workflow input"));
    } else if let Some(captures) = STEP.captures(expression) {
        let steps = workflow["steps"].as_array().into_iter().flatten();
        let step = steps.into_iter().find(|step| step["stepId"] == captures[1]);
        problems.check(step.is_some(), || format!("`{expression}`: no step `{}`", &captures[1]));
        let output = step.and_then(|step| step["outputs"].get(&captures[2]));
        problems.check(step.is_none() || output.is_some(), || format!("`{expression}`: step `{}` has no such output", &captures[1]));
    } else {
        problems.0.push(format!("`{expression}` is not a runtime expression of the Arazzo ABNF"));
    }
}

static OUTPUT_KEY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-zA-Z0-9\.\-_]+$").unwrap());

/// What steps may refer to: the OpenAPI document, the source names, the operation ids.
struct Known<'a> {
    openapi: &'a Json,
    sources: BTreeSet<String>,
    operation_ids: Vec<String>,
}

/// The rules of one step (its id's pattern and uniqueness are checked by the caller).
fn check_step(step: &Json, workflow: &Json, step_ids: &[&str], known: &Known, p: &mut Problems) {
    static OPERATION_PATH: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^\{\$sourceDescriptions\.([A-Za-z0-9_\-]+)\.url\}#(/.*)$").unwrap());
    let step_id = text(&step["stepId"]).unwrap_or_default();
    let targets = ["operationId", "operationPath", "workflowId"].iter().filter(|key| step.get(**key).is_some()).count();
    p.check(targets == 1, || format!("step `{step_id}` names {targets} of operationId, operationPath, workflowId"));
    if let Some(path) = step["operationPath"].as_str() {
        let captures = OPERATION_PATH.captures(path);
        p.check(captures.as_ref().is_some_and(|c| known.sources.contains(&c[1])), || format!("step `{step_id}`: `{path}` names no source"));
        let resolved = captures.and_then(|c| resolve(known.openapi, &c[2]).cloned());
        p.check(resolved.is_some_and(|operation| operation.get("operationId").is_some()), || {
            format!("step `{step_id}`: `{path}` does not resolve to an operation")
        });
    }
    if let Some(operation) = step["operationId"].as_str() {
        p.check(known.operation_ids.iter().any(|id| id == operation), || format!("step `{step_id}`: no operation `{operation}`"));
    }
    for parameter in step["parameters"].as_array().into_iter().flatten() {
        let name = text(&parameter["name"]).unwrap_or_default();
        p.check(!name.is_empty(), || format!("step `{step_id}`: a parameter has no name"));
        p.check(matches!(parameter["in"].as_str(), Some("path" | "query" | "header" | "cookie")), || {
            format!("step `{step_id}`: parameter `{name}` has no valid `in`")
        });
        p.check(parameter.get("value").is_some(), || format!("step `{step_id}`: parameter `{name}` has no value"));
        p.check(!parameter["value"].is_null() || parameter.get("x-recipe-template").is_some(), || {
            format!("step `{step_id}`: parameter `{name}` lost its value")
        });
    }
    if let Some(body) = step.get("requestBody") {
        p.check(text(&body["contentType"]).is_some() && body.get("payload").is_some(), || {
            format!("step `{step_id}`: incomplete requestBody")
        });
    }
    for criterion in step["successCriteria"].as_array().into_iter().flatten() {
        let condition = criterion["condition"].as_str().unwrap_or_default();
        p.check(!condition.is_empty(), || format!("step `{step_id}`: a criterion has no condition"));
        if criterion.get("type").is_some() {
            // A JSONPath criterion: its context is a runtime expression, its condition a query.
            p.check(criterion["type"] == "jsonpath" && criterion["context"] == "$response.body" && condition.starts_with("$[?"), || {
                format!("step `{step_id}`: criterion {criterion}")
            });
            continue;
        }
        for token in condition.split_whitespace().filter(|token| token.starts_with('$')) {
            check_expression(token, workflow, true, p);
        }
    }
    for action in step["onFailure"].as_array().into_iter().chain(step["onSuccess"].as_array()).flatten() {
        p.check(text(&action["name"]).is_some(), || format!("step `{step_id}`: an action has no name"));
        let goto = action["type"] == "goto";
        p.check(matches!(action["type"].as_str(), Some("end" | "retry" | "goto")), || {
            format!("step `{step_id}`: an action has no valid type")
        });
        let target = action["stepId"].as_str();
        p.check(!goto || target.is_some_and(|target| step_ids.contains(&target)), || format!("step `{step_id}`: goto names no step"));
    }
    for key in step["outputs"].as_object().into_iter().flat_map(|map| map.keys()) {
        p.check(OUTPUT_KEY.is_match(key), || format!("step `{step_id}`: output name `{key}`"));
    }
    // Conditions were read above; the operation path's `{$sourceDescriptions...}` too.
    let mut found = Vec::new();
    let rest = step.as_object().unwrap().iter().filter(|(key, _)| !matches!(key.as_str(), "operationPath" | "successCriteria"));
    expressions(&Json::Object(rest.map(|(key, value)| (key.clone(), value.clone())).collect()), &mut found);
    for expression in found {
        check_expression(&expression, workflow, true, p);
    }
}

/// The Arazzo 1.0 rules, as assertions; returns every violation.
fn arazzo_problems(arazzo: &Json, openapi: &Json) -> Vec<String> {
    static VERSION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^1\.0\.\d+(-.+)?$").unwrap());
    let mut problems = Problems::default();
    let p = &mut problems;
    p.check(arazzo["arazzo"].as_str().is_some_and(|v| VERSION.is_match(v)), || "`arazzo` is not a 1.0.x version".into());
    p.check(text(&arazzo["info"]["title"]).is_some(), || "`info.title` is missing".into());
    p.check(text(&arazzo["info"]["version"]).is_some(), || "`info.version` is missing".into());
    let sources = arazzo["sourceDescriptions"].as_array().cloned().unwrap_or_default();
    p.check(!sources.is_empty(), || "`sourceDescriptions` is empty".into());
    let mut source_names = BTreeSet::new();
    for source in &sources {
        let name = text(&source["name"]).unwrap_or_default();
        p.check(ID.is_match(name) && source_names.insert(name.to_owned()), || format!("source name `{name}` is invalid or repeated"));
        p.check(text(&source["url"]).is_some(), || format!("source `{name}` has no url"));
        p.check(matches!(source["type"].as_str(), Some("openapi" | "arazzo")), || format!("source `{name}` has no valid type"));
    }
    let known = Known { openapi, sources: source_names, operation_ids: operation_ids(openapi) };
    let workflows = arazzo["workflows"].as_array().cloned().unwrap_or_default();
    p.check(!workflows.is_empty(), || "`workflows` is empty".into());
    let mut workflow_ids = BTreeSet::new();
    for workflow in &workflows {
        let id = text(&workflow["workflowId"]).unwrap_or_default();
        p.check(ID.is_match(id) && workflow_ids.insert(id.to_owned()), || format!("workflowId `{id}` is invalid or repeated"));
        p.check(workflow["inputs"]["type"] == "object", || "the workflow inputs are not a JSON Schema object".into());
        for required in workflow["inputs"]["required"].as_array().into_iter().flatten() {
            p.check(workflow["inputs"]["properties"].get(required.as_str().unwrap_or_default()).is_some(), || {
                format!("required {required} is not a property")
            });
        }
        let steps = workflow["steps"].as_array().cloned().unwrap_or_default();
        p.check(!steps.is_empty(), || format!("workflow `{id}` has no steps"));
        let step_ids: Vec<&str> = steps.iter().filter_map(|step| step["stepId"].as_str()).collect();
        let mut seen = BTreeSet::new();
        for step in &steps {
            let step_id = text(&step["stepId"]).unwrap_or_default();
            p.check(ID.is_match(step_id) && seen.insert(step_id), || format!("stepId `{step_id}` is invalid or repeated"));
            check_step(step, workflow, &step_ids, &known, p);
        }
        let mut found = Vec::new();
        expressions(&workflow["outputs"], &mut found);
        for key in workflow["outputs"].as_object().into_iter().flat_map(|map| map.keys()) {
            p.check(OUTPUT_KEY.is_match(key), || format!("workflow output name `{key}`"));
        }
        for expression in found {
            check_expression(&expression, workflow, false, p);
        }
    }
    problems.0
}

/// The OpenAPI side: a 3.1 document whose operations have unique ids and declare their path
/// parameters.
fn openapi_problems(openapi: &Json) -> Vec<String> {
    static PARAMETER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{([^{}]+)\}").unwrap());
    let mut problems = Problems::default();
    let p = &mut problems;
    p.check(openapi["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")), || "not OpenAPI 3.1".into());
    p.check(text(&openapi["info"]["title"]).is_some() && text(&openapi["info"]["version"]).is_some(), || "incomplete `info`".into());
    let ids = operation_ids(openapi);
    p.check(ids.iter().collect::<BTreeSet<_>>().len() == ids.len(), || format!("repeated operationIds: {ids:?}"));
    for (path, item) in openapi["paths"].as_object().into_iter().flatten() {
        p.check(path.starts_with('/'), || format!("path `{path}` does not start with `/`"));
        for (method, operation) in item.as_object().into_iter().flatten() {
            p.check(["get", "put", "post", "delete", "options", "head", "patch", "trace"].contains(&method.as_str()), || {
                format!("`{method}` is no method")
            });
            for name in PARAMETER.captures_iter(path).map(|c| c[1].to_owned()) {
                let declared = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["name"] == *name && p["in"] == "path" && p["required"] == true);
                p.check(declared, || format!("{method} {path}: path parameter `{name}` is not declared"));
            }
        }
    }
    problems.0
}

/// The recipe's step ids, and those the Arazzo document keeps (as steps or in `x-recipe-steps`).
fn step_ids(recipe: &str, arazzo: &Json) -> (Vec<String>, BTreeSet<String>) {
    let plan = crate::support::plan(&root().join(recipe));
    let all = plan.recipe().steps.iter().map(|step| step.id.text.clone()).collect();
    let workflow = &arazzo["workflows"][0];
    let mut kept = BTreeSet::new();
    let mut extension = |list: &Json| {
        for step in list.as_array().into_iter().flatten() {
            kept.insert(step["id"].as_str().unwrap_or_default().to_owned());
            let kinds = ["x-recipe-filter", "x-recipe-pick", "x-recipe-set", "x-recipe-fail", "x-recipe-call"]
                .iter()
                .filter(|key| step.get(**key).is_some())
                .count();
            assert_eq!(kinds, 1, "{step}");
        }
    };
    for step in workflow["steps"].as_array().into_iter().flatten() {
        extension(&step["x-recipe-steps"]);
    }
    extension(&workflow["x-recipe-steps"]);
    for step in workflow["steps"].as_array().into_iter().flatten() {
        kept.insert(step["stepId"].as_str().unwrap_or_default().to_owned());
    }
    (all, kept)
}

/// Every key of every map in a value.
fn keys_in(value: &Json, found: &mut Vec<String>) {
    match value {
        Json::Object(map) => map.iter().for_each(|(key, value)| {
            found.push(key.clone());
            keys_in(value, found);
        }),
        Json::Array(items) => items.iter().for_each(|item| keys_in(item, found)),
        _ => {}
    }
}

#[test]
fn the_draft_recipe_exports_to_valid_arazzo_and_openapi() {
    let (arazzo_text, openapi_text) = export("recipes/draft.yaml");
    let (arazzo, openapi) = (parse(&arazzo_text), parse(&openapi_text));
    assert_eq!(arazzo_problems(&arazzo, &openapi), Vec::<String>::new());
    assert_eq!(openapi_problems(&openapi), Vec::<String>::new());
    assert_eq!(arazzo["sourceDescriptions"][0]["url"], "./flow.openapi.yaml");

    let (all, kept) = step_ids("recipes/draft.yaml", &arazzo);
    assert_eq!(all.iter().cloned().collect::<BTreeSet<_>>(), kept, "every recipe step is kept");
    let workflow = &arazzo["workflows"][0];
    let arazzo_steps: Vec<&str> = workflow["steps"].as_array().unwrap().iter().map(|s| s["stepId"].as_str().unwrap()).collect();
    assert_eq!(arazzo_steps, ["search", "search_more", "opcodes", "advisors", "transports", "availability", "draft"]);

    // The translations the mapping table promises.
    let search = &workflow["steps"][0];
    assert_eq!(search["parameters"][0], serde_json::json!({ "name": "department_uuid", "in": "path", "value": "$inputs.department_uuid" }));
    assert_eq!(search["parameters"][4]["value"], "Basic {$inputs.MYKAARMA_BASIC_AUTH}");
    assert_eq!(search["successCriteria"], serde_json::json!([{ "condition": "$statusCode >= 200" }, { "condition": "$statusCode < 300" }]));
    // The draft accepts any 2xx, and its body reads values that only `set` and `pick` steps make.
    assert_eq!(
        workflow["steps"][6]["successCriteria"],
        serde_json::json!([{ "condition": "$statusCode >= 200" }, { "condition": "$statusCode < 300" }])
    );
    assert_eq!(workflow["steps"][6]["requestBody"]["x-recipe-template"]["/appointmentStartDateTime"], "{{ vars.start }}");
    let kept_before_opcodes: Vec<&str> =
        workflow["steps"][2]["x-recipe-steps"].as_array().unwrap().iter().map(|step| step["id"].as_str().unwrap()).collect();
    assert!(kept_before_opcodes.contains(&"customer") && kept_before_opcodes.contains(&"vehicle"), "{kept_before_opcodes:?}");
    // A secret is a JSON Schema annotation, and which inputs are environment variables is said
    // outside the schema: runners validate the schema strictly.
    assert_eq!(workflow["inputs"]["properties"]["MYKAARMA_BASIC_AUTH"]["format"], "password");
    assert_eq!(workflow["x-recipe-env"]["MYKAARMA_BASIC_AUTH"], "MYKAARMA_BASIC_AUTH");
    let mut found = Vec::new();
    keys_in(&workflow["inputs"], &mut found);
    assert!(found.iter().all(|key| !key.starts_with("x-")), "{found:?}");

    insta::assert_snapshot!("draft_arazzo", arazzo_text);
    insta::assert_snapshot!("draft_openapi", openapi_text);
}

#[test]
fn every_shipped_recipe_exports_to_valid_arazzo() {
    for recipe in crate::support::shipped_recipes().iter().map(String::as_str).filter(|recipe| *recipe != "recipes/draft.yaml") {
        let (arazzo_text, openapi_text) = export(recipe);
        let (arazzo, openapi) = (parse(&arazzo_text), parse(&openapi_text));
        assert_eq!(arazzo_problems(&arazzo, &openapi), Vec::<String>::new(), "{recipe}");
        assert_eq!(openapi_problems(&openapi), Vec::<String>::new(), "{recipe}");
        let (all, kept) = step_ids(recipe, &arazzo);
        assert_eq!(all.into_iter().collect::<BTreeSet<_>>(), kept, "{recipe}: every recipe step is kept");
    }
}

#[test]
fn keys_without_an_arazzo_form_go_along_as_extensions() {
    let (arazzo_text, _) = export("recipes/catalogue.yaml");
    let arazzo = parse(&arazzo_text);
    let steps = arazzo["workflows"][0]["steps"].as_array().expect("steps");
    let step = |id: &str| steps.iter().find(|step| step["stepId"] == id).unwrap_or_else(|| panic!("no step {id}: {arazzo_text}"));
    let parts = step("parts");
    assert_eq!(parts["x-recipe-assert"][0]["message"], "the pages do not add up to the announced total", "{parts}");
    let stock = step("stock");
    assert_eq!(stock["x-recipe-for_each"], "{{ vars.codes }}", "{stock}");
    assert_eq!((&stock["x-recipe-max_items"], &stock["x-recipe-concurrency"]), (&serde_json::json!(50), &serde_json::json!(4)), "{stock}");
    // One value per element: no `$response` output of a single response stands for it.
    assert!(stock.get("outputs").is_none(), "{stock}");
    assert_eq!(stock["x-recipe-outputs"]["counts"], "$.on_hand", "{stock}");
    assert_eq!(arazzo["workflows"][0]["x-recipe-outputs"]["on_hand"], "{{ vars.counts }}", "{arazzo_text}");
}

#[test]
fn a_query_in_the_url_keeps_every_parameter_once() {
    let path = std::env::temp_dir().join(format!("recipe-arazzo-query-{}.yaml", std::process::id()));
    let text = "recipe: 1\nname: q\nsteps:\n  - id: list\n    request:\n      method: GET\n      url: \"https://h.test/orders?status=open&status=closed&verbose&q=a%20b\"\n      query: { status: held }\n";
    std::fs::write(&path, text).unwrap();
    let (arazzo_text, openapi_text) = export(path.to_str().unwrap());
    std::fs::remove_file(&path).unwrap();
    let arazzo = parse(&arazzo_text);
    let parameters = arazzo["workflows"][0]["steps"][0]["parameters"].as_array().expect("parameters");
    let value = |name: &str| parameters.iter().find(|p| p["name"] == name).map(|p| p["value"].clone());
    assert_eq!(value("status"), Some(serde_json::json!(["open", "closed", "held"])), "{arazzo_text}");
    assert_eq!(value("verbose"), Some(serde_json::json!("")), "{arazzo_text}");
    assert_eq!(value("q"), Some(serde_json::json!("a b")), "{arazzo_text}");
    assert_eq!(parameters.iter().filter(|p| p["name"] == "status").count(), 1);
    assert_eq!(openapi_problems(&parse(&openapi_text)), Vec::<String>::new(), "{openapi_text}");
    assert_eq!(openapi_text.matches("name: status").count(), 1, "{openapi_text}");
}

#[test]
fn the_rules_catch_broken_documents() {
    let (arazzo_text, openapi_text) = export("recipes/draft.yaml");
    let (arazzo, openapi) = (parse(&arazzo_text), parse(&openapi_text));
    let mut broken = arazzo.clone();
    broken["arazzo"] = "2.0.0".into();
    broken["workflows"][0]["steps"][1]["stepId"] = "search".into();
    broken["workflows"][0]["steps"][0]["operationPath"] = "{$sourceDescriptions.api.url}#/paths/~1nowhere/get".into();
    broken["workflows"][0]["steps"][0]["parameters"][0]["value"] = "$inputs.nope".into();
    broken["workflows"][0]["outputs"]["scheduler_link"] = "$steps.draft.outputs.missing".into();
    broken["workflows"][0]["steps"][3]["operationId"] = "advisors".into();
    let problems = arazzo_problems(&broken, &openapi);
    for expected in [
        "`arazzo` is not a 1.0.x version",
        "stepId `search` is invalid or repeated",
        "does not resolve to an operation",
        "`$inputs.nope`: no such workflow input",
        "step `draft` has no such output",
        "step `advisors` names 2 of operationId, operationPath, workflowId",
    ] {
        assert!(problems.iter().any(|problem| problem.contains(expected)), "`{expected}` not in {problems:#?}");
    }
}
