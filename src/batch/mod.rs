//! Batch runs: one checked plan over many rows of inputs, several rows in flight, every request
//! through one shared client, one rate limit and one pause, and a results file that is also the
//! journal a resumed batch reads.
//!
//! Two passes over the rows, both streamed: [`check_rows`] checks every row against the declared
//! inputs before anything is sent; [`run`] then runs the rows with `jobs` workers on one thread.
//! Nothing per row is kept after its journal line: memory stays flat whatever the row count.
//! The engine never prints: progress goes to a callback.

pub mod journal;
pub mod progress;
pub mod rows;
pub mod shard;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use crate::check::Plan;
use crate::clock::Clock;
use crate::dynamic::Dynamic;
use crate::inputs::{EnvValues, InputSources, resolve_env};
use crate::mask::Masker;
use crate::run::{Effect, IntentLog, Params, RunResult, Status};
use crate::transport::{Backend, Gate, Live, Rate, Settings, Transport};
use journal::{Journal, Previous, Prior};
use rows::RowReader;
use shard::Shard;

/// What the user asked of a batch.
#[derive(Debug, Clone)]
pub struct Options {
    pub rows: PathBuf,
    pub jobs: usize,
    pub rate: Option<Rate>,
    pub out: Option<PathBuf>,
    /// The column that identifies a row (the row number when absent).
    pub key: Option<String>,
    pub resume: bool,
    pub retry_in_doubt: bool,
    pub skip_invalid: bool,
    pub shard: Option<Shard>,
    /// `--vars` and `--var`, for every row.
    pub inputs: InputSources,
    /// Each row's time limit.
    pub max_time: Option<Duration>,
}

/// What every row shares: the environment, the masker, the client and the gate.
pub struct Shared {
    pub env: EnvValues,
    pub masker: Arc<Masker>,
    pub live: Live,
    pub gate: Arc<Gate>,
}

impl Shared {
    pub fn new(
        plan: &Plan,
        lookup: &dyn Fn(&str) -> Option<String>,
        dotenv: &BTreeMap<String, String>,
        rate: Option<Rate>,
        network: &Settings,
    ) -> Result<Self, Vec<String>> {
        let env = resolve_env(plan.recipe(), lookup, dotenv, false)?;
        let masker = Arc::new(Masker::new(&env.secrets));
        let settings = crate::session::network_settings(plan, network, &env).map_err(|e| vec![e])?;
        let live = Live::new(&settings, Arc::clone(&masker)).map_err(|e| vec![e])?;
        Ok(Self { env, masker, live, gate: Arc::new(Gate::new(rate)) })
    }
}

/// A row that cannot run: where it is and why.
#[derive(Debug, Clone)]
pub struct BadRow {
    pub line: u64,
    pub number: u64,
    pub problems: Vec<String>,
}

/// The first pass: how many rows there are (in this shard) and which are bad.
#[derive(Debug, Default)]
pub struct Checked {
    pub rows: u64,
    pub bad: Vec<BadRow>,
}

/// Reads every row once and checks it, without running anything. A CSV column that is neither
/// an input nor the key column is a problem of the whole file.
pub fn check_rows(plan: &Plan, options: &Options) -> Result<Checked, String> {
    let mut reader = RowReader::open(&options.rows)?;
    let recipe = plan.recipe();
    if let Some(headers) = reader.headers() {
        let unknown: Vec<&String> = headers
            .iter()
            .filter(|h| Some(h.as_str()) != options.key.as_deref() && !recipe.inputs.iter().any(|input| input.name.text == **h))
            .collect();
        if !unknown.is_empty() {
            let names: Vec<String> = unknown.iter().map(|h| format!("`{h}`")).collect();
            let inputs: Vec<&str> = recipe.inputs.iter().map(|input| input.name.text.as_str()).collect();
            return Err(format!(
                "{}: unknown column{} {}; the inputs are {} (name the key column with `--key`)",
                options.rows.display(),
                if unknown.len() == 1 { "" } else { "s" },
                names.join(", "),
                inputs.join(", ")
            ));
        }
        if let Some(key) = &options.key
            && !headers.contains(key)
        {
            return Err(format!("{}: no column `{key}` for `--key`", options.rows.display()));
        }
    }
    let mut checked = Checked::default();
    // The journal is keyed by `--key`: a repeated or empty key would make `--resume` skip a row
    // that never ran. (Row numbers, the default keys, are unique.)
    let mut keys: HashMap<String, u64> = HashMap::new();
    while let Some(next) = reader.next_row() {
        let row = match next {
            Ok(row) => row,
            Err(unreadable) => {
                // An unreadable row has no key to shard by: every shard reports it.
                checked.rows += 1;
                checked.bad.push(BadRow { line: unreadable.line, number: unreadable.number, problems: vec![unreadable.problem] });
                continue;
            }
        };
        let key = row.key(options.key.as_deref());
        if options.shard.is_some_and(|shard| !shard.includes(&key)) {
            continue;
        }
        checked.rows += 1;
        let mut problems = match row.inputs(recipe, &options.inputs, options.key.as_deref()) {
            Ok(_) => Vec::new(),
            Err(problems) => problems,
        };
        if let Some(column) = &options.key {
            if key.is_empty() {
                problems.push(format!("the key column `{column}` is empty"));
            } else if let Some(first) = keys.get(&key) {
                problems.push(format!("the key `{key}` (column `{column}`) is already the key of row {first}; keys must be unique"));
            } else {
                keys.insert(key, row.number);
            }
        }
        if !problems.is_empty() {
            checked.bad.push(BadRow { line: row.line, number: row.number, problems });
        }
    }
    Ok(checked)
}

/// Counts so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub ok: u64,
    pub failed: u64,
    pub in_doubt: u64,
    /// Done in an earlier run (resume).
    pub skipped: u64,
    /// Bad rows passed over (`--skip-invalid`).
    pub invalid: u64,
    pub in_flight: u64,
}

impl Counts {
    pub fn done(&self) -> u64 {
        self.ok + self.failed + self.in_doubt + self.skipped + self.invalid
    }
}

/// What the batch reports while it runs.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// A row started or finished.
    Row(Counts),
    /// About once a second.
    Tick(Counts),
    /// Ctrl-C: no new rows start; the rows in flight finish.
    Stopping(Counts),
}

#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub counts: Counts,
    pub elapsed: Duration,
    /// Stopped by Ctrl-C before every row ran.
    pub interrupted: bool,
}

impl Summary {
    pub fn succeeded(&self) -> bool {
        !self.interrupted && self.counts.failed == 0 && self.counts.in_doubt == 0 && self.counts.invalid == 0
    }
}

/// A worker: takes rows until there are none left.
type Worker<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + 'a>>;

/// Everything the workers share, on one thread.
struct Batch<'a> {
    plan: &'a Plan,
    options: &'a Options,
    shared: &'a Shared,
    previous: Previous,
    reader: RefCell<RowReader>,
    journal: Option<Arc<Journal>>,
    counts: Cell<Counts>,
    stop: Cell<bool>,
    seed: u64,
}

/// Runs every row. `stop` is polled for Ctrl-C: once it resolves no new rows start, and if it
/// resolves again the batch ends at once (the journal can still be resumed).
pub async fn run(
    plan: &Plan,
    options: &Options,
    shared: &Shared,
    interrupt: &mut dyn FnMut() -> Pin<Box<dyn Future<Output = ()>>>,
    on: &mut dyn FnMut(Progress),
) -> Result<Summary, String> {
    let previous = match (&options.out, options.resume) {
        (Some(out), true) => Previous::read(out)?,
        _ => Previous::default(),
    };
    let journal = options.out.as_deref().map(Journal::open).transpose()?.map(Arc::new);
    let batch = Batch {
        plan,
        options,
        shared,
        previous,
        reader: RefCell::new(RowReader::open(&options.rows)?),
        journal,
        counts: Cell::new(Counts::default()),
        stop: Cell::new(false),
        seed: uuid::Uuid::new_v4().as_u64_pair().0,
    };
    let started = Instant::now();
    let on = RefCell::new(on);
    let workers: Vec<Worker<'_>> = (0..options.jobs.max(1)).map(|_| Box::pin(batch.worker(&on)) as Worker<'_>).collect();
    let mut ticks = Box::pin(async {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            (on.borrow_mut())(Progress::Tick(batch.counts.get()));
        }
    });
    let mut first = interrupt();
    let mut second: Option<Pin<Box<dyn Future<Output = ()>>>> = None;
    let mut workers = workers;
    let mut failure = None;
    let aborted = std::future::poll_fn(|cx| {
        let _ = ticks.as_mut().poll(cx);
        match &mut second {
            None => {
                if first.as_mut().poll(cx).is_ready() {
                    batch.stop.set(true);
                    (on.borrow_mut())(Progress::Stopping(batch.counts.get()));
                    let mut next = interrupt();
                    if next.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(true);
                    }
                    second = Some(next);
                }
            }
            Some(next) => {
                if next.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(true);
                }
            }
        }
        workers.retain_mut(|worker| match worker.as_mut().poll(cx) {
            Poll::Pending => true,
            Poll::Ready(result) => {
                if let Err(error) = result {
                    failure.get_or_insert(error);
                    batch.stop.set(true);
                }
                false
            }
        });
        if workers.is_empty() { Poll::Ready(false) } else { Poll::Pending }
    })
    .await;
    if let Some(error) = failure {
        return Err(error);
    }
    Ok(Summary { counts: batch.counts.get(), elapsed: started.elapsed(), interrupted: aborted || batch.stop.get() })
}

impl Batch<'_> {
    fn count(&self, change: impl FnOnce(&mut Counts)) -> Counts {
        let mut counts = self.counts.get();
        change(&mut counts);
        self.counts.set(counts);
        counts
    }

    fn write(&self, line: &Json) -> Result<(), String> {
        match &self.journal {
            Some(journal) => journal.outcome(line).map_err(|e| format!("cannot write the results file: {e}")),
            None => Ok(()),
        }
    }

    /// Takes rows until there are none left or the batch stops.
    async fn worker(&self, on: &RefCell<&mut dyn FnMut(Progress)>) -> Result<(), String> {
        loop {
            if self.stop.get() {
                return Ok(());
            }
            let next = self.reader.borrow_mut().next_row();
            let row = match next {
                None => return Ok(()),
                Some(Err(unreadable)) => {
                    self.count(|c| c.invalid += 1);
                    self.write(
                        &json!({ "row": unreadable.number, "line": unreadable.line, "outcome": "invalid", "error": unreadable.problem }),
                    )?;
                    continue;
                }
                Some(Ok(row)) => row,
            };
            let key = row.key(self.options.key.as_deref());
            if self.options.shard.is_some_and(|shard| !shard.includes(&key)) {
                continue;
            }
            match self.previous.rows.get(&key) {
                Some(Prior::Ok) => {
                    self.count(|c| c.skipped += 1);
                    continue;
                }
                Some(Prior::FailedAfterEffect) => {
                    // Its side effect happened: running it again would repeat it.
                    self.count(|c| c.failed += 1);
                    continue;
                }
                Some(Prior::InDoubt) if !self.options.retry_in_doubt => {
                    self.count(|c| c.in_doubt += 1);
                    self.write(&json!({ "row": row.number, "key": key, "outcome": "in_doubt", "error": "a non-idempotent request may have been sent by an earlier run; check it, then rerun with `--retry-in-doubt`" }))?;
                    continue;
                }
                _ => {}
            }
            let inputs = match row.inputs(self.plan.recipe(), &self.options.inputs, self.options.key.as_deref()) {
                Ok(inputs) => inputs,
                Err(problems) => {
                    self.count(|c| c.invalid += 1);
                    self.write(&json!({ "row": row.number, "key": key, "outcome": "invalid", "error": problems.join("; ") }))?;
                    continue;
                }
            };
            (on.borrow_mut())(Progress::Row(self.count(|c| c.in_flight += 1)));
            let started = Instant::now();
            let result = self.run_row(row.number, &key, inputs).await;
            let line = outcome_line(row.number, &key, &result, started.elapsed());
            let outcome = line["outcome"].as_str().unwrap_or_default().to_owned();
            self.write(&line)?;
            let counts = self.count(|c| {
                c.in_flight -= 1;
                match outcome.as_str() {
                    "ok" => c.ok += 1,
                    "in_doubt" => c.in_doubt += 1,
                    _ => c.failed += 1,
                }
            });
            (on.borrow_mut())(Progress::Row(counts));
        }
    }

    /// Runs one row.
    async fn run_row(&self, number: u64, key: &str, inputs: BTreeMap<String, Json>) -> RunResult {
        let intents = self
            .journal
            .as_ref()
            .map(|journal| Arc::new(RowIntents { journal: Arc::clone(journal), row: number, key: key.to_owned() }) as Arc<dyn IntentLog>);
        let params = Params {
            inputs,
            env: self.shared.env.clone(),
            dry_run: false,
            dynamic: Dynamic::live(),
            clock: Clock::real(),
            max_time: self.options.max_time,
            jitter_seed: self.seed ^ number,
            masker: Arc::clone(&self.shared.masker),
            keep_bodies: false,
            intents,
        };
        let mut transport = Transport::new(Backend::Live(self.shared.live.clone()), None);
        transport.gate = Some(Arc::clone(&self.shared.gate));
        if self.plan.recipe().http.cookies {
            transport.cookies = Some(crate::transport::Jar::default());
        }
        crate::run::run(self.plan, &params, &mut transport, &mut |_| {}).await
    }
}

/// One row's intents, into the shared journal.
struct RowIntents {
    journal: Arc<Journal>,
    row: u64,
    key: String,
}

impl IntentLog for RowIntents {
    fn intent<'a>(&'a self, step: &'a str) -> Pin<Box<dyn Future<Output = Result<(), String>> + 'a>> {
        Box::pin(async move {
            self.journal.intent(self.row, &self.key, step).await.map_err(|error| format!("cannot write the results file: {error}"))
        })
    }
}

/// A finished row's line in the results file, masked (the run masks everything it keeps).
fn outcome_line(number: u64, key: &str, result: &RunResult, duration: Duration) -> Json {
    let failed = result.steps.iter().find(|step| step.status == Status::Failed);
    let outcome = match (result.ok, result.worst_effect()) {
        (true, _) => "ok",
        (false, Some(Effect::InDoubt)) => "in_doubt",
        (false, _) => "failed",
    };
    let attempts: usize = result.steps.iter().map(|step| step.attempts.len()).sum();
    json!({
        "row": number,
        "key": key,
        "outcome": outcome,
        "outputs": result.outputs,
        "step": failed.map(|step| step.id.as_str()),
        "error_kind": failed.and_then(|step| step.cause),
        "error": failed.and_then(|step| step.reason.as_deref()).or(result.error.as_deref()),
        "effect": result.worst_effect(),
        "attempts": attempts,
        "duration_ms": duration.as_millis(),
    })
}
