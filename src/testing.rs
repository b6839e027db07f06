//! `recipe test`: finds every recipe's fixture cases, replays them, and compares each run's
//! snapshot with the committed one (see `snapshot`). Results are data; the CLI prints them.
//!
//! Convention: the cases of `DIR/NAME.yaml` are the files `DIR/fixtures/NAME/*.yaml`, and their
//! snapshots are in `DIR/fixtures/NAME/snapshots/`. Cases are replayed hermetically: no process
//! environment, secrets as `<NAME>` placeholders, exactly as `cargo test` does.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::check::Plan;
use crate::fixture::Fixture;
use crate::run::Event;

/// Hears each replayed case's events, with the case's plan (`recipe test -v` prints them).
pub(crate) type CaseListener<'l> = dyn FnMut(&Plan, Event<'_>) + Send + 'l;

/// One recorded case of one recipe.
#[derive(Debug, Clone)]
pub struct Case {
    pub recipe: PathBuf,
    pub fixture: PathBuf,
    /// `recipe/case`.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// The snapshot was written (`--accept`).
    Accepted,
    /// No snapshot yet.
    New,
    /// The run's snapshot differs: the diff.
    Changed(String),
    /// The case could not run (invalid recipe, unreadable fixture...).
    Error(String),
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub case: Case,
    pub verdict: Verdict,
    /// The run succeeded (a failing run can be the expected, snapshotted behaviour).
    pub run_ok: Option<bool>,
    pub duration: Duration,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self.verdict, Verdict::Passed | Verdict::Accepted)
    }
}

/// The exit status of `recipe test`: success when every case passed.
pub(crate) fn exit(outcomes: &[Outcome]) -> crate::exit::Exit {
    if outcomes.iter().all(Outcome::passed) { crate::exit::Exit::Success } else { crate::exit::Exit::RunFailed }
}

/// Why `recipe test` cannot find or run its cases: a usage error (the paths given, or the
/// fixture folders' layout, need a change), or a case that cannot run at all.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{}: no such file or folder", .0.display())]
    Missing(PathBuf),
    /// Fixture folders without their recipe: `(folder, the recipe it needs)`.
    #[error(
        "{}; rename the folder to its recipe's name, or remove it",
        .0.iter().map(|(folder, recipe)| format!("the fixture folder {} has no recipe {}", folder.display(), recipe.display())).collect::<Vec<_>>().join("; ")
    )]
    Orphans(Vec<(PathBuf, PathBuf)>),
    #[error("{}: not in a recipe's fixture folder", .0.display())]
    NotAFixture(PathBuf),
    #[error("the fixture {} has no recipe {}", .fixture.display(), .recipe.display())]
    NoRecipe { fixture: PathBuf, recipe: PathBuf },
    #[error("{} and {} are one case (they share a snapshot); rename one", .0.display(), .1.display())]
    OneCase(PathBuf, PathBuf),
    /// A case that cannot run: its recipe is invalid, its fixture unreadable, its inputs wrong.
    #[error("{0}")]
    Case(String),
}

impl TestError {
    pub fn exit(&self) -> crate::exit::Exit {
        crate::exit::Exit::Usage
    }
}

/// Finds the cases under `paths` (recipe files, fixture files or folders). A fixture folder
/// whose recipe is missing is an error, never silently skipped.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<Case>, TestError> {
    let mut cases = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut recipes: Vec<PathBuf> =
                fs_err::read_dir(path)?.filter_map(Result::ok).map(|entry| entry.path()).filter(|p| is_yaml(p) && p.is_file()).collect();
            recipes.sort();
            orphans(path, &recipes)?;
            for recipe in recipes {
                cases.extend(cases_of(&recipe)?);
            }
        } else if is_fixture(path) {
            cases.push(case(recipe_of(path)?, path.clone()));
        } else if path.is_file() {
            cases.extend(cases_of(path)?);
        } else {
            return Err(TestError::Missing(path.clone()));
        }
    }
    Ok(cases)
}

fn is_yaml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "yaml" || e == "yml")
}

/// Fails when `folder/fixtures/NAME/` has no recipe `folder/NAME.yaml`: its cases would never run.
fn orphans(folder: &Path, recipes: &[PathBuf]) -> Result<(), TestError> {
    let Ok(entries) = fs_err::read_dir(folder.join("fixtures")) else { return Ok(()) };
    let mut missing: Vec<(PathBuf, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.is_dir() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .filter(|p| !recipes.iter().any(|recipe| recipe.file_stem() == p.file_name()))
        .map(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let recipe = folder.join(format!("{name}.yaml"));
            (p, recipe)
        })
        .collect();
    missing.sort();
    if missing.is_empty() {
        return Ok(());
    }
    Err(TestError::Orphans(missing))
}

/// The recipe a fixture belongs to: `DIR/fixtures/NAME/case.yaml` -> `DIR/NAME.yaml` (or `.yml`).
pub fn recipe_of(fixture: &Path) -> Result<PathBuf, TestError> {
    let name = fixture.parent().and_then(Path::file_name).ok_or_else(|| TestError::NotAFixture(fixture.to_path_buf()))?;
    let root = fixture.parent().and_then(Path::parent).and_then(Path::parent).unwrap_or(Path::new("."));
    let yaml = root.join(format!("{}.yaml", name.to_string_lossy()));
    let yml = yaml.with_extension("yml");
    if !yaml.is_file() && yml.is_file() {
        return Ok(yml);
    }
    if !yaml.is_file() {
        return Err(TestError::NoRecipe { fixture: fixture.to_path_buf(), recipe: yaml });
    }
    Ok(yaml)
}

fn is_fixture(path: &Path) -> bool {
    path.parent().and_then(Path::parent).and_then(Path::file_name).is_some_and(|name| name == "fixtures")
}

fn case(recipe: PathBuf, fixture: PathBuf) -> Case {
    let recipe_name = recipe.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let case_name = fixture.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Case { recipe, fixture, name: format!("{recipe_name}/{case_name}") }
}

fn cases_of(recipe: &Path) -> Result<Vec<Case>, TestError> {
    let stem = recipe.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let folder = recipe.parent().unwrap_or(Path::new(".")).join("fixtures").join(stem);
    if !folder.is_dir() {
        return Ok(Vec::new());
    }
    let mut fixtures: Vec<PathBuf> = fs_err::read_dir(&folder)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.is_file() && is_yaml(p))
        // `NAME.failed.yaml` is a failed recording kept beside a good fixture, not a case.
        .filter(|p| !crate::recording::is_failed_recording(p))
        .collect();
    fixtures.sort();
    // A case is named by its file's stem, and so is its snapshot: `x.yaml` and `x.yml` would share it.
    let mut stems: std::collections::BTreeMap<&std::ffi::OsStr, &Path> = std::collections::BTreeMap::new();
    for fixture in &fixtures {
        if let Some(stem) = fixture.file_stem()
            && let Some(first) = stems.insert(stem, fixture)
        {
            return Err(TestError::OneCase(first.to_path_buf(), fixture.clone()));
        }
    }
    Ok(fixtures.into_iter().map(|fixture| case(recipe.to_path_buf(), fixture)).collect())
}

/// A replayed case: its snapshot text, whether the run succeeded, and if it failed, why, in a
/// few short lines.
pub(crate) struct Replayed {
    pub snapshot: String,
    pub ok: bool,
    pub why: Vec<String>,
}

/// A recipe loaded and checked, or why it could not be: loaded once for all its cases.
type Loaded = Result<Plan, String>;

fn load(recipe: &Path) -> Loaded {
    crate::check::load(recipe).map_err(|error| error.to_string())
}

/// Replays one case of the recipe `plan`; `listen` hears the run's events.
fn replay(plan: &Loaded, case: &Case, listen: &mut CaseListener<'_>) -> Result<Replayed, TestError> {
    let plan = plan.as_ref().map_err(|error| TestError::Case(error.clone()))?;
    let fixture = Fixture::read(&case.fixture).map_err(|error| TestError::Case(error.to_string()))?;
    let mut on_event = |event: Event| listen(plan, event);
    let (result, discrepancies) =
        crate::session::replay_case_compared(plan, fixture, &mut on_event).map_err(|error| TestError::Case(error.to_string()))?;
    let why = if result.ok { Vec::new() } else { why_failed(&result, &discrepancies) };
    Ok(Replayed { snapshot: crate::snapshot::render(&result), ok: result.ok, why })
}

/// The most exchanges of one kind named; the rest are counted.
const NAMED: usize = 5;

/// Why a replayed run failed, one short line each, without `-v`: the recorded exchanges it did
/// not make and the requests it made that were not recorded (step, method, path), else the
/// first line of the failed step's reason.
fn why_failed(result: &crate::run::RunResult, discrepancies: &crate::transport::Discrepancies) -> Vec<String> {
    let mut lines = Vec::new();
    for (label, routes) in [("expected but not made", &discrepancies.not_made), ("made but not recorded", &discrepancies.not_recorded)] {
        lines.extend(routes.iter().take(NAMED).map(|route| format!("{label}: {route}")));
        if routes.len() > NAMED {
            lines.push(format!("{label}: {} more", routes.len() - NAMED));
        }
    }
    if lines.is_empty() {
        let first_line = |text: &str| text.lines().next().unwrap_or_default().to_owned();
        let failed = result.steps.iter().find(|step| step.status == crate::run::Status::Failed);
        match (failed, &result.error) {
            (Some(step), _) => {
                lines.push(format!("step `{}` failed: {}", step.id, first_line(step.reason.as_deref().unwrap_or("no reason"))));
            }
            (None, Some(error)) => lines.push(first_line(error)),
            (None, None) => {}
        }
    }
    lines
}

/// Cases named `err_*` record a failing run; every other case a successful one.
fn expects_failure(case: &Case) -> bool {
    crate::recording::meant_to_fail(&case.fixture)
}

/// Runs one case and compares (or, with `accept`, writes) its snapshot; `listen` hears the
/// replayed run's events (what `run -v` prints).
pub fn run(case: &Case, accept: bool, listen: &mut CaseListener<'_>) -> Outcome {
    let started = Instant::now();
    let plan = load(&case.recipe);
    run_planned(&plan, case, accept, listen, started)
}

/// Runs `cases` on up to `threads` threads, loading and checking each recipe once for all its
/// cases, and hands each outcome to `report` in the order of `cases` as soon as it and every
/// case before it are done. `listen` turns a case's events into the lines shown under it.
pub(crate) fn run_all(
    cases: &[Case],
    accept: bool,
    threads: usize,
    listen: &(dyn Fn(&Plan, Event<'_>) -> Vec<String> + Sync),
    report: &mut dyn FnMut(Outcome, Vec<String>),
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{OnceLock, mpsc};

    let plans: std::collections::BTreeMap<&Path, OnceLock<Loaded>> =
        cases.iter().map(|case| (case.recipe.as_path(), OnceLock::new())).collect();
    let plan_of = |case: &Case| plans[case.recipe.as_path()].get_or_init(|| load(&case.recipe));
    let next = AtomicUsize::new(0);
    let (done, finished) = mpsc::channel::<(usize, Outcome, Vec<String>)>();
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, cases.len().max(1)) {
            let done = done.clone();
            let (next, plan_of) = (&next, &plan_of);
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(index) else { break };
                    let started = Instant::now();
                    let mut lines = Vec::new();
                    let outcome = run_planned(plan_of(case), case, accept, &mut |plan, event| lines.extend(listen(plan, event)), started);
                    if done.send((index, outcome, lines)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done);
        // Outcomes arrive in any order; they are reported in the cases' order.
        let mut waiting = std::collections::BTreeMap::new();
        let mut reported = 0;
        for (index, outcome, lines) in finished {
            waiting.insert(index, (outcome, lines));
            while let Some((outcome, lines)) = waiting.remove(&reported) {
                report(outcome, lines);
                reported += 1;
            }
        }
    });
}

fn run_planned(plan: &Loaded, case: &Case, accept: bool, listen: &mut CaseListener<'_>, started: Instant) -> Outcome {
    let snapshot_path = crate::snapshot::path_for(&case.fixture);
    let (verdict, run_ok) = match replay(plan, case, listen) {
        Err(error) => (Verdict::Error(error.to_string()), None),
        Ok(Replayed { ok, why, .. }) if ok == expects_failure(case) => {
            let expected = if ok { "fail (its name starts with `err_`)" } else { "succeed" };
            let because: String = why.iter().map(|line| ["\n    ", line.as_str()].concat()).collect();
            (Verdict::Error(format!("the run should {expected}, but it {}{because}", if ok { "succeeded" } else { "failed" })), Some(ok))
        }
        Ok(Replayed { snapshot: text, ok, .. }) => {
            let verdict = match crate::snapshot::read(&snapshot_path) {
                Ok(Some(old)) if crate::snapshot::same(&old, &text) => Verdict::Passed,
                old => {
                    if accept {
                        match crate::snapshot::write(&snapshot_path, &case.fixture, &text) {
                            Ok(()) => Verdict::Accepted,
                            Err(error) => Verdict::Error(format!("cannot write {}: {error}", snapshot_path.display())),
                        }
                    } else {
                        match old {
                            Ok(Some(old)) => Verdict::Changed(crate::snapshot::diff(&old, &text)),
                            Ok(None) => Verdict::New,
                            Err(error) => Verdict::Error(error.to_string()),
                        }
                    }
                }
            };
            (verdict, Some(ok))
        }
    };
    Outcome { case: case.clone(), verdict, run_ok, duration: started.elapsed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases run on several threads, each recipe checked once, are reported in the cases' order
    /// with the verdicts one thread gives them one by one; a case of a recipe that does not load
    /// says why, like every other case of that recipe.
    #[test]
    fn cases_on_threads_are_reported_in_order_with_the_verdicts_of_one_by_one() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let folder = tempfile::tempdir().unwrap();
        let broken = folder.path().join("broken.yaml");
        std::fs::write(&broken, "recipe: 1\nname: broken\nsteps: [{ id: x, set: {} , nope: 1 }]\n").unwrap();
        std::fs::create_dir_all(folder.path().join("fixtures/broken")).unwrap();
        for name in ["a", "b"] {
            std::fs::write(folder.path().join(format!("fixtures/broken/{name}.yaml")), "exchanges: []\n").unwrap();
        }
        let mut cases = discover(&[
            root.join("recipes/token-auth.yaml"),
            root.join("recipes/catalogue.yaml"),
            root.join("tests/data/test-cases"),
            folder.path().to_path_buf(),
        ])
        .unwrap();
        // Interleave the recipes, so that threads load the same plan at the same time.
        cases.reverse();
        let one_by_one: Vec<(String, Verdict)> =
            cases.iter().map(|case| (case.name.clone(), run(case, false, &mut |_, _| {}).verdict)).collect();
        let mut reported = Vec::new();
        let events = |_: &Plan, _: Event<'_>| vec![String::from("event")];
        run_all(&cases, false, 3, &events, &mut |outcome, lines| reported.push((outcome.case.name, outcome.verdict, lines.is_empty())));
        let names_and_verdicts: Vec<(String, Verdict)> =
            reported.iter().map(|(name, verdict, _)| (name.clone(), verdict.clone())).collect();
        assert_eq!(names_and_verdicts, one_by_one);
        let broken: Vec<&Verdict> =
            reported.iter().filter(|(name, ..)| name.starts_with("broken/")).map(|(_, verdict, _)| verdict).collect();
        assert_eq!(broken.len(), 2);
        assert!(broken.iter().all(|verdict| matches!(verdict, Verdict::Error(why) if why.contains("nope"))), "{broken:?}");
        assert!(
            reported.iter().filter(|(name, ..)| !name.starts_with("broken/")).all(|(_, _, no_lines)| !no_lines),
            "every replayed case's events reach its lines"
        );
    }
}
