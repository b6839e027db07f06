//! Shared helpers: load recipes, replay cases and start live sessions in-process.

use std::path::{Path, PathBuf};

use recipe::Fixture;
use recipe::RunResult;
use recipe::{Mode, Options, Session, prepare};
use recipe::{Plan, load};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary in the project root with `input` on its stdin: exit code, stdout, stderr.
pub fn piped(args: &[&str], input: &str) -> (Option<i32>, String, String) {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_recipe"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child.stdin.take().expect("a stdin").write_all(input.as_bytes()).expect("stdin takes the input");
    let output = child.wait_with_output().expect("the binary ends");
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

pub fn plan(path: &Path) -> Plan {
    load(path).unwrap_or_else(|error| panic!("{} does not load:\n{error}", path.display()))
}

/// A live session with a fixture's inputs and the given environment.
pub fn live_session(plan: &Plan, fixture: &Fixture, lookup: &dyn Fn(&str) -> Option<String>, mode: Mode) -> Session {
    let options = Options { vars_file: fixture.inputs.clone(), ..Options::new(lookup, mode) };
    prepare(plan, options).expect("the inputs and environment resolve")
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime").block_on(future)
}

/// Replays one fixture through its recipe, in-process.
pub fn replay(fixture_path: &Path) -> RunResult {
    let plan = plan(&recipe::hooks::testing::recipe_of(fixture_path).expect("the fixture is in a recipe's fixture folder"));
    let fixture = Fixture::read(fixture_path).expect("the fixture reads");
    recipe::replay_case(&plan, fixture, &mut |_| {}).expect("the case's inputs and environment resolve")
}

/// Every shipped recipe (`recipes/*.yaml`), sorted.
pub fn shipped_recipes() -> Vec<String> {
    let mut recipes: Vec<String> = std::fs::read_dir(root().join("recipes"))
        .expect("the recipes folder")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "yaml"))
        .map(|path| format!("recipes/{}", path.file_name().unwrap().to_string_lossy()))
        .collect();
    recipes.sort();
    assert!(recipes.len() >= 8, "{recipes:?}");
    recipes
}

/// Runs the recipe at `path` live against `base` (its `BASE_URL`) and records it on a virtual
/// clock; then replays the recording exactly: the live result, the fixture, the replayed result.
pub fn record_and_replay(path: &Path, base: &str) -> (RunResult, Fixture, RunResult) {
    let plan = plan(path);
    let base = base.to_owned();
    let lookup = move |name: &str| (name == "BASE_URL").then(|| base.clone());
    let options = Options { clock: Some(recipe::Clock::fixed()), ..Options::new(&lookup, Mode::Record) };
    let mut session = prepare(&plan, options).expect("the inputs and environment resolve");
    let result = block_on(recipe::run(&plan, &session.params, &mut session.transport, &mut |_| {}));
    let fixture = session.fixture(None, &result).expect("a recording");
    let replay_options = Options::new(&|_| None, Mode::Replay(fixture.clone(), recipe::Strictness::Exact));
    let mut replay = prepare(&plan, replay_options).expect("the fixture's inputs resolve");
    let replayed = block_on(recipe::run(&plan, &replay.params, &mut replay.transport, &mut |_| {}));
    (result, fixture, replayed)
}

/// A fixture served by `recipe serve`'s server on a free port of 127.0.0.1, on a thread of its
/// own; dropping it stops the server.
pub struct Served {
    pub origin: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub fn serve_in_background(fixture: &Path) -> Served {
    let fixture = Fixture::read(fixture).expect("the fixture reads");
    let (address_sender, address) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        block_on(async move {
            let server = recipe::hooks::serve::start(vec![fixture], 0).await.expect("the server starts");
            address_sender.send(server.address).expect("the test waits for the address");
            let _ = stopped.await;
        });
    });
    let address = address.recv_timeout(std::time::Duration::from_secs(10)).expect("the server listens");
    Served { origin: format!("http://{address}"), _stop: stop }
}
