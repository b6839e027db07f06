//! Shared helpers: run a recipe against a fixture in-process, and turn a result into the
//! reviewable snapshot value.

use std::path::{Path, PathBuf};

use recipe::check::{Plan, load};
use recipe::dynamic::Dynamic;
use recipe::fixture::Fixture;
use recipe::inputs::{InputSources, resolve, resolve_env};
use recipe::run::{Params, RunResult};

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
    Params { inputs, env, dry_run: false, dynamic: Dynamic::live() }
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(future)
}

/// Replays one fixture through its recipe, in-process.
pub fn replay(fixture_path: &Path) -> RunResult {
    let plan = plan(&recipe_of(fixture_path));
    let fixture = Fixture::read(fixture_path).expect("the fixture reads");
    recipe::session::replay_case(&plan, fixture).expect("the case's inputs and environment resolve")
}
