//! Shared helpers: run a recipe against a fixture in-process, and turn a result into the
//! reviewable snapshot value.

use std::path::{Path, PathBuf};

use recipe::check::{Plan, load};
use recipe::fixture::Fixture;
use recipe::inputs::{InputSources, resolve, resolve_env};
use recipe::run::{Params, RunResult, run};
use recipe::transport::{Replay, Transport};
use serde_json::{Value as Json, json};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `recipes/fixtures/<recipe>/<case>.yaml` belongs to `recipes/<recipe>.yaml`.
pub fn recipe_of(fixture: &Path) -> PathBuf {
    let recipe = fixture.parent().and_then(Path::file_name).expect("fixtures live in a folder named after their recipe");
    root().join("recipes").join(format!("{}.yaml", recipe.to_string_lossy()))
}

pub fn plan(path: &Path) -> Plan {
    load(path).unwrap_or_else(|error| panic!("{} does not load:\n{error}", path.display()))
}

/// Params for a fixture's case: its recorded inputs, env from `lookup` (placeholders for secrets).
pub fn params(plan: &Plan, fixture: &Fixture, lookup: &dyn Fn(&str) -> Option<String>, placeholders: bool) -> Params {
    let sources = InputSources { recorded: fixture.inputs.clone(), ..Default::default() };
    let inputs = resolve(plan.recipe(), &sources).expect("the fixture's inputs are valid");
    let env = resolve_env(plan.recipe(), lookup, &std::collections::BTreeMap::default(), placeholders).expect("the environment resolves");
    Params { inputs, env, dry_run: false }
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(future)
}

/// Replays one fixture through its recipe, in-process.
pub fn replay(fixture_path: &Path) -> RunResult {
    let plan = plan(&recipe_of(fixture_path));
    let fixture = Fixture::read(fixture_path).expect("the fixture reads");
    let params = params(&plan, &fixture, &|_| None, true);
    let mut transport = Transport::Replay(Replay::new(fixture));
    block_on(run(&plan, &params, &mut transport, &mut |_| {}))
}

/// What a reviewer needs to see of a run: outcome, outputs, every step's status, every request.
pub fn snapshot_value(result: &RunResult) -> Json {
    let steps: Vec<Json> = result
        .steps
        .iter()
        .map(|step| {
            let mut value = json!({ "id": step.id, "status": step.status });
            if let Some(reason) = &step.reason {
                value["reason"] = json!(reason);
            }
            if !step.bindings.is_empty() {
                value["bindings"] = json!(step.bindings);
            }
            value
        })
        .collect();
    let requests: Vec<Json> = result
        .steps
        .iter()
        .filter_map(|step| {
            let mut request = serde_json::to_value(step.request.as_ref()?).ok()?;
            request.as_object_mut()?.insert("step".into(), json!(step.id));
            Some(request)
        })
        .collect();
    json!({
        "ok": result.ok,
        "outputs": result.outputs,
        "error": result.error,
        "steps": steps,
        "requests": requests,
    })
}
