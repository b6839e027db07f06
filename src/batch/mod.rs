//! Batch runs: one checked plan over many rows of inputs, several rows in flight, every request
//! through one shared client, one rate limit and one pause, and a results file that is also the
//! journal a resumed batch reads.
//!
//! Two passes over the rows, both streamed: [`check_rows`] checks every row against the declared
//! inputs before anything is sent; [`run`] then runs the rows with `jobs` workers spread over
//! [`threads`] threads.
//! Nothing per row is kept after its journal line: memory stays flat whatever the row count.
//! The engine never prints: progress goes to a callback.

mod error;
mod exit;
pub(crate) mod failures;
mod guard;
pub(crate) mod journal;
pub(crate) mod progress;
pub(crate) mod rows;
pub(crate) mod shard;

pub use error::BatchError;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use serde_json::Value as Json;

use crate::check::Plan;
use crate::factory::{Answers, Factory, Setup, Start};
use crate::inputs::InputSources;
use crate::run::{Effect, IntentError, IntentLog, RunResult, Status};
use crate::transport::{Live, Rate, Settings};
use journal::{Finished, Identity, Journal, Line, Previous, Prior, Skipped};
use rows::RowReader;
use shard::Shard;

/// What the user asked of a batch.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub rows: PathBuf,
    /// What messages call the rows instead of their path: `stdin` when they were read from
    /// standard input.
    pub rows_label: Option<String>,
    /// The copy of rows that can be read only once (standard input, a pipe): read instead of
    /// `rows`, whose name still says whether they are JSON Lines.
    pub spool: Option<rows::Spool>,
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
    /// Threads running rows (`--threads`); when absent, see [`threads`].
    pub threads: Option<usize>,
    /// The most bytes a row may have (`--max-row-size`).
    pub row_limit: u64,
    /// Stop taking rows after this many rows in a row failed the same way before anything was
    /// accepted (`--breaker N`; `None`: never).
    pub breaker: Option<usize>,
}

impl Options {
    /// What messages call the rows: their file, or `stdin`.
    pub(crate) fn rows_name(&self) -> String {
        self.rows_label.clone().unwrap_or_else(|| self.rows.display().to_string())
    }
}

/// The factory of a batch's rows: every row shares the environment, the masker, the client
/// settings, one gate (`--rate`, and the pauses a server asks for) and the OAuth2 tokens; it keeps
/// only the heads of responses (a row's result is reduced to one journal line).
pub(crate) fn factory<'p>(
    plan: &'p Plan,
    options: &Options,
    lookup: &dyn Fn(&str) -> Option<String>,
    dotenv: &BTreeMap<String, String>,
    network: &Settings,
) -> Result<Factory<'p>, crate::setup::SetupError> {
    let setup = Setup {
        dotenv: dotenv.clone(),
        max_time: options.max_time,
        network: network.clone(),
        gate: Some(options.rate),
        keep_bodies: false,
        ..Setup::new(lookup, Answers::Live)
    };
    Factory::new(plan, setup)
}

/// A row that cannot run: where it is and why.
#[derive(Debug, Clone)]
pub(crate) struct BadRow {
    pub line: u64,
    pub number: u64,
    pub problems: Vec<String>,
}

/// The first pass: how many rows there are (in this shard) and which are bad.
#[derive(Debug, Default)]
pub(crate) struct Checked {
    pub rows: u64,
    pub bad: Vec<BadRow>,
}

/// Reads every row once and checks it, without running anything. A CSV column that is neither
/// an input nor the key column is a problem of the whole file.
pub(crate) fn check_rows(plan: &Plan, options: &Options) -> Result<Checked, BatchError> {
    let mut reader = RowReader::open_as(&options.rows, options.spool.as_ref(), &options.rows_name(), options.row_limit)?;
    let recipe = plan.recipe();
    if let Some(headers) = reader.headers() {
        let unknown: Vec<&String> = headers
            .iter()
            .filter(|h| Some(h.as_str()) != options.key.as_deref() && !recipe.inputs.iter().any(|input| input.name.text == **h))
            .collect();
        if !unknown.is_empty() {
            return Err(BatchError::UnknownColumns {
                rows: options.rows_name(),
                columns: unknown.into_iter().cloned().collect(),
                inputs: recipe.inputs.iter().map(|input| input.name.text.clone()).collect(),
            });
        }
        if let Some(key) = &options.key
            && !headers.contains(key)
        {
            return Err(BatchError::NoKeyColumn { rows: options.rows_name(), key: key.clone() });
        }
    }
    let mut checked = Checked::default();
    // The journal is keyed by `--key`: a repeated or empty key would make `--resume` skip a row
    // that never ran. (Row numbers, the default keys, are unique.)
    // Key digest -> first row (u32 keeps the table compact; a row past 4 billion shows as the last).
    let mut keys: HashMap<journal::Digest, u32> = HashMap::new();
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
            } else {
                match keys.entry(journal::key_digest(&key)) {
                    std::collections::hash_map::Entry::Occupied(first) => problems.push(format!(
                        "the key `{key}` (column `{column}`) is already the key of row {}; keys must be unique",
                        first.get()
                    )),
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(u32::try_from(row.number).unwrap_or(u32::MAX));
                    }
                }
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
pub(crate) struct Counts {
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
    pub(crate) fn done(&self) -> u64 {
        self.ok + self.failed + self.in_doubt + self.skipped + self.invalid
    }
}

/// What the batch reports while it runs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Progress {
    /// A row started or finished.
    Row(Counts),
    /// About once a second.
    Tick(Counts),
    /// Ctrl-C or SIGTERM: no new rows start; the rows in flight finish.
    Stopping(Counts, Signal),
}

/// What asked a batch to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Ctrl-C (SIGINT).
    Interrupt,
    /// SIGTERM: what Kubernetes, systemd and CI cancellation send.
    Terminate,
}

#[derive(Debug, Clone)]
pub(crate) struct Summary {
    pub counts: Counts,
    pub elapsed: Duration,
    /// Stopped by Ctrl-C or SIGTERM before every row ran.
    pub interrupted: Option<Signal>,
    /// Why the circuit breaker stopped the batch, if it did.
    pub broken: Option<String>,
    /// Said once the batch is done (a damaged results file).
    pub warnings: Vec<String>,
    /// The first failed and in-doubt rows by row number, to name in the summary.
    pub failures: Vec<failures::FailedRow>,
}

impl Summary {
    pub(crate) fn succeeded(&self) -> bool {
        self.interrupted.is_none()
            && self.broken.is_none()
            && self.counts.failed == 0
            && self.counts.in_doubt == 0
            && self.counts.invalid == 0
    }
}

/// Everything the workers share, on every thread.
struct Batch<'a> {
    plan: &'a Plan,
    options: &'a Options,
    /// Row number -> why the first pass refused it.
    invalid: BTreeMap<u64, String>,
    factory: &'a Factory<'a>,
    previous: Previous,
    reader: Mutex<RowReader>,
    journal: Option<Arc<Journal>>,
    counts: Mutex<Counts>,
    /// No new rows start (Ctrl-C, or a worker failed).
    stop: AtomicBool,
    /// A second Ctrl-C: every thread drops its rows in flight.
    abort: AtomicBool,
    /// The first signal that stopped the batch.
    signal: Mutex<Option<Signal>>,
    /// The rows that just failed the same way before anything was accepted: (reason, count),
    /// and why the breaker stopped the batch.
    breaker: Mutex<(Option<String>, usize, Option<String>)>,
    aborted: tokio::sync::Notify,
    /// The first worker failure (the results file could not be written).
    failed: Mutex<Option<BatchError>>,
    /// The failed rows the summary names.
    failures: Mutex<failures::Failures>,
    /// A row of this run created something, or may have: a results file that cannot be written
    /// then exits 4, not 1.
    side_effect: AtomicBool,
    seed: u64,
}

/// Rows in flight a thread should have before another thread is worth starting: with fewer,
/// a thread mostly waits, and waking it costs more than the work a second thread would share.
const ROWS_PER_THREAD: usize = 4;

/// How many threads run rows: `--threads`, else one per 4 rows in flight, at most one per CPU;
/// never more than the rows in flight.
pub(crate) fn threads(options: &Options) -> usize {
    let jobs = options.jobs.max(1);
    let wanted = options.threads.unwrap_or_else(|| {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        jobs.div_ceil(ROWS_PER_THREAD).min(cpus)
    });
    wanted.clamp(1, jobs)
}

/// Runs every row, with `--jobs` rows in flight spread over [`threads`] threads, each with its
/// own single-threaded runtime and its own connection pool (a connection lives on the runtime
/// that opened it). The calling thread runs its share of the rows and watches for Ctrl-C and
/// SIGTERM: `interrupt` is called for a future that resolves on either. Once it resolves no new
/// rows start; if it resolves again the batch ends at once (the journal can still be resumed).
/// `on` hears of progress, on the calling thread only.
pub(crate) fn run(
    plan: &Plan,
    options: &Options,
    checked: &Checked,
    factory: &Factory<'_>,
    interrupt: &mut dyn FnMut() -> Pin<Box<dyn Future<Output = Signal>>>,
    on: &mut (dyn FnMut(Progress) + Send),
) -> Result<Summary, BatchError> {
    // The results file is held first, then read: another batch cannot write it meanwhile.
    let journal = options.out.as_deref().map(Journal::open).transpose()?.map(Arc::new);
    let previous = match (&options.out, options.resume) {
        (Some(out), true) => Previous::read(out)?,
        _ => Previous::default(),
    };
    if let Some(journal) = &journal {
        let identity = identity(plan, options)?;
        if let Some(earlier) = &previous.batch {
            same_batch(earlier, &identity, options)?;
        }
        journal.begin(&identity).map_err(|source| journal.failed(source, false))?;
    }
    // The rows the first pass refused (with `--skip-invalid`): a repeated or empty key is one,
    // though the row's inputs are fine, and it must not run.
    let invalid: BTreeMap<u64, String> = checked.bad.iter().map(|bad| (bad.number, bad.problems.join("; "))).collect();
    let batch = Batch {
        plan,
        options,
        invalid,
        factory,
        previous,
        reader: Mutex::new(RowReader::open_as(&options.rows, options.spool.as_ref(), &options.rows_name(), options.row_limit)?),
        journal,
        counts: Mutex::new(Counts::default()),
        stop: AtomicBool::new(false),
        abort: AtomicBool::new(false),
        signal: Mutex::new(None),
        breaker: Mutex::new((None, 0, None)),
        aborted: tokio::sync::Notify::new(),
        failed: Mutex::new(None),
        failures: Mutex::new(failures::Failures::default()),
        side_effect: AtomicBool::new(false),
        seed: uuid::Uuid::new_v4().as_u64_pair().0,
    };
    let threads = threads(options);
    let jobs = options.jobs.max(1);
    // Thread `t` runs `share(t)` of the `jobs` workers; the shares add up to `jobs`.
    let share = |t: usize| jobs / threads + usize::from(t < jobs % threads);
    let started = Instant::now();
    let runtime = crate::factory::runtime()?;
    let (done, mut finished) = tokio::sync::mpsc::unbounded_channel::<Result<(), BatchError>>();
    let aborted = std::thread::scope(|scope| {
        // Whatever ends this thread's part (a panic too), the others stop at once.
        let _halt = Halt(&batch);
        let mut helpers = Vec::new();
        for t in 1..threads {
            let batch = &batch;
            let done = Reporter(Some(done.clone()));
            match std::thread::Builder::new().name(format!("rows-{t}")).spawn_scoped(scope, move || done.send(batch.helper(share(t)))) {
                Ok(helper) => helpers.push(helper),
                Err(error) => {
                    batch.fail(BatchError::Thread(error));
                    break;
                }
            }
        }
        drop(done);
        let aborted = runtime.block_on(batch.lead(share(0), helpers.len(), &mut finished, interrupt, on));
        if aborted {
            batch.halt();
        }
        for helper in helpers {
            if helper.join().is_err() {
                batch.fail(BatchError::Panicked);
            }
        }
        aborted
    });
    if let Some(mut error) = batch.failure(&mut finished) {
        // Which row's write failed first says nothing about what the others did.
        if let BatchError::Journal { side_effect, .. } = &mut error {
            *side_effect |= batch.side_effect.load(Ordering::SeqCst);
        }
        return Err(error);
    }
    let signal = *batch.signal.lock().unwrap_or_else(PoisonError::into_inner);
    let interrupted = (aborted || batch.stopped()).then(|| signal.unwrap_or(Signal::Interrupt));
    let broken = batch.breaker.lock().unwrap_or_else(PoisonError::into_inner).2.take();
    let interrupted = interrupted.filter(|_| broken.is_none() || signal.is_some());
    let mut warnings = Vec::new();
    if !batch.previous.garbled.is_empty() {
        let lines: Vec<String> = batch.previous.garbled.iter().take(10).map(u64::to_string).collect();
        warnings.push(format!(
            "{} line(s) of the results file could not be read and were skipped (line {}): their rows' last words are lost, \
             so such a row may have run again or be reported differently",
            batch.previous.garbled.len(),
            lines.join(", ")
        ));
    }
    let failures = std::mem::take(&mut *batch.failures.lock().unwrap_or_else(PoisonError::into_inner)).into_sorted();
    Ok(Summary { counts: batch.counts(), elapsed: started.elapsed(), interrupted, broken, warnings, failures })
}

/// What a results file is the journal of: the recipe, the key column, and a digest of the rows.
fn identity(plan: &Plan, options: &Options) -> Result<Identity, BatchError> {
    use sha2::Digest;
    let mut file = rows::open_file(&options.rows, options.spool.as_ref(), &options.rows_name())?;
    let mut digest = sha2::Sha256::new();
    std::io::copy(&mut file, &mut digest).map_err(|source| BatchError::Read { name: options.rows_name(), source })?;
    let rows = digest.finalize().iter().take(16).fold(String::new(), |mut hex, byte| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{byte:02x}");
        hex
    });
    Ok(Identity { recipe: plan.recipe().name.clone(), key: options.key.clone(), rows })
}

/// Refuses to resume a batch that is not the one the results file was written for: another
/// recipe, another key column (the keys would not match), or, when rows are known by their
/// number, other rows (row 3 would be another customer).
fn same_batch(earlier: &Identity, now: &Identity, options: &Options) -> Result<(), BatchError> {
    let out = options.out.as_deref().map(|path| path.display().to_string()).unwrap_or_default();
    if earlier.recipe != now.recipe {
        return Err(BatchError::OtherRecipe { out, earlier: earlier.recipe.clone(), now: now.recipe.clone() });
    }
    if earlier.key != now.key {
        return Err(BatchError::OtherKey { out, earlier: earlier.key.clone(), now: now.key.clone() });
    }
    if now.key.is_none() && earlier.rows != now.rows {
        return Err(BatchError::OtherRows { out });
    }
    Ok(())
}

/// Stops every thread when dropped while unwinding: a panic on the calling thread must not
/// leave the others taking rows.
struct Halt<'a, 'b>(&'a Batch<'b>);

impl Drop for Halt<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.halt();
        }
    }
}

/// A helper thread's last word: its result, or that it ended without one (it panicked).
struct Reporter(Option<tokio::sync::mpsc::UnboundedSender<Result<(), BatchError>>>);

impl Reporter {
    fn send(mut self, result: Result<(), BatchError>) {
        if let Some(done) = self.0.take() {
            let _ = done.send(result);
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        if let Some(done) = self.0.take() {
            let _ = done.send(Err(BatchError::WorkerLost));
        }
    }
}

impl Batch<'_> {
    fn counts(&self) -> Counts {
        *self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps a failed or in-doubt row for the summary (the first ones by row number only).
    fn failed_row(&self, row: u64, key: &str, in_doubt: bool, step: Option<&str>, reason: &str) {
        let failed = failures::FailedRow { row, key: key.to_owned(), in_doubt, step: step.map(str::to_owned), reason: reason.to_owned() };
        self.failures.lock().unwrap_or_else(PoisonError::into_inner).add(failed);
    }

    fn count(&self, change: impl FnOnce(&mut Counts)) -> Counts {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut counts);
        *counts
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Every thread drops its rows in flight and ends (a second Ctrl-C).
    fn halt(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.abort.store(true, Ordering::SeqCst);
        self.aborted.notify_waiters();
    }

    fn write(&self, line: &Line) -> Result<(), BatchError> {
        match &self.journal {
            Some(journal) => journal.outcome(line).map_err(|source| journal.failed(source, false)),
            None => Ok(()),
        }
    }

    /// The first failure of any thread, after they all ended.
    fn failure(&self, finished: &mut tokio::sync::mpsc::UnboundedReceiver<Result<(), BatchError>>) -> Option<BatchError> {
        let mut failure = self.failed.lock().unwrap_or_else(PoisonError::into_inner).take();
        while let Ok(result) = finished.try_recv() {
            if let Err(error) = result {
                failure.get_or_insert(error);
            }
        }
        failure
    }

    /// Records a worker's failure: the first one is the batch's error, and no new rows start.
    fn fail(&self, error: BatchError) {
        self.failed.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(error);
        self.stop.store(true, Ordering::SeqCst);
    }

    /// A helper thread: its own runtime and connection pool, `jobs` workers, until the rows run
    /// out or the batch is aborted.
    fn helper(&self, jobs: usize) -> Result<(), BatchError> {
        let runtime = crate::factory::runtime()?;
        let live = self.factory.client().transpose()?;
        runtime.block_on(async {
            let quiet = |_: Counts| {};
            let workers = self.workers(jobs, live.as_ref(), &quiet);
            tokio::select! {
                () = workers => {}
                () = self.aborted() => {}
            }
        });
        Ok(())
    }

    /// `jobs` workers taking rows until none is left; a worker's failure stops the batch.
    async fn workers(&self, jobs: usize, live: Option<&Live>, report: &(dyn Fn(Counts) + Sync)) {
        let mut workers: FuturesUnordered<_> = (0..jobs).map(|_| self.worker(live, report)).collect();
        while let Some(result) = workers.next().await {
            if let Err(error) = result {
                self.fail(error);
            }
        }
    }

    /// Resolves once the batch is aborted (a second Ctrl-C).
    async fn aborted(&self) {
        let notified = self.aborted.notified();
        if !self.abort.load(Ordering::SeqCst) {
            notified.await;
        }
    }

    /// The calling thread: `jobs` workers, the progress ticks and Ctrl-C, until its workers and
    /// the `helpers` other threads are done. True when aborted by a second Ctrl-C.
    async fn lead(
        &self,
        jobs: usize,
        helpers: usize,
        finished: &mut tokio::sync::mpsc::UnboundedReceiver<Result<(), BatchError>>,
        interrupt: &mut dyn FnMut() -> Pin<Box<dyn Future<Output = Signal>>>,
        on: &mut (dyn FnMut(Progress) + Send),
    ) -> bool {
        // Progress is reported on this thread only, between awaits.
        let on = std::sync::Mutex::new(on);
        let tell = |progress: Progress| (on.lock().unwrap_or_else(PoisonError::into_inner))(progress);
        let report = |counts: Counts| tell(Progress::Row(counts));
        let workers = self.workers(jobs, self.factory.live(), &report);
        let helpers_done = async {
            for _ in 0..helpers {
                match finished.recv().await {
                    Some(Err(error)) => self.fail(error),
                    Some(Ok(())) => {}
                    None => break,
                }
            }
        };
        let all_done = async { tokio::join!(workers, helpers_done) };
        let mut all_done = std::pin::pin!(all_done);
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + Duration::from_secs(1), Duration::from_secs(1));
        let mut interrupted = false;
        let mut signal = interrupt();
        loop {
            tokio::select! {
                _ = &mut all_done => return false,
                _ = ticks.tick() => tell(Progress::Tick(self.counts())),
                received = &mut signal => {
                    if interrupted {
                        return true;
                    }
                    // The first Ctrl-C or SIGTERM: no new rows; the rows in flight finish.
                    interrupted = true;
                    self.signal.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(received);
                    self.stop.store(true, Ordering::SeqCst);
                    tell(Progress::Stopping(self.counts(), received));
                    signal = interrupt();
                }
            }
        }
    }

    /// Takes rows until there are none left or the batch stops; `report` hears of each row
    /// starting and ending.
    async fn worker(&self, live: Option<&Live>, report: &(dyn Fn(Counts) + Sync)) -> Result<(), BatchError> {
        loop {
            if self.stopped() {
                return Ok(());
            }
            let next = self.reader.lock().unwrap_or_else(PoisonError::into_inner).next_row();
            let row = match next {
                None => return Ok(()),
                Some(Err(unreadable)) => {
                    self.count(|c| c.invalid += 1);
                    self.write(&Line::Skipped(Skipped {
                        row: unreadable.number,
                        key: None,
                        line: Some(unreadable.line),
                        outcome: journal::Outcome::Invalid,
                        error: unreadable.problem,
                    }))?;
                    continue;
                }
                Some(Ok(row)) => row,
            };
            let key = row.key(self.options.key.as_deref());
            if self.options.shard.is_some_and(|shard| !shard.includes(&key)) {
                continue;
            }
            if let Some(problems) = self.invalid.get(&row.number) {
                self.count(|c| c.invalid += 1);
                self.write(&skipped(row.number, &key, journal::Outcome::Invalid, problems.clone()))?;
                continue;
            }
            match self.previous.get(&key) {
                Some(Prior::Ok) => {
                    self.count(|c| c.skipped += 1);
                    continue;
                }
                Some(Prior::FailedAfterEffect) => {
                    // Its side effect happened: running it again would repeat it.
                    self.count(|c| c.failed += 1);
                    self.failed_row(
                        row.number,
                        &key,
                        false,
                        None,
                        "failed after its side effect in an earlier run, so it is not run again",
                    );
                    continue;
                }
                Some(Prior::InDoubt) if !self.options.retry_in_doubt => {
                    self.count(|c| c.in_doubt += 1);
                    let why = "a non-idempotent request may have been sent by an earlier run; check it, then rerun with `--retry-in-doubt`";
                    self.failed_row(row.number, &key, true, None, why);
                    self.write(&skipped(row.number, &key, journal::Outcome::InDoubt, why.to_owned()))?;
                    continue;
                }
                _ => {}
            }
            let inputs = match row.inputs(self.plan.recipe(), &self.options.inputs, self.options.key.as_deref()) {
                Ok(inputs) => inputs,
                Err(problems) => {
                    self.count(|c| c.invalid += 1);
                    self.write(&skipped(row.number, &key, journal::Outcome::Invalid, problems.join("; ")))?;
                    continue;
                }
            };
            report(self.count(|c| c.in_flight += 1));
            let started = Instant::now();
            let result = self.run_row(live, row.number, &key, inputs).await;
            let outcome = outcome(&result);
            if outcome != journal::Outcome::Ok {
                let failed = result.steps.iter().find(|step| step.status == Status::Failed);
                let reason = failed.and_then(|step| step.reason.as_deref()).or(result.error.as_deref()).unwrap_or("failed");
                let step = failed.map(|step| step.id.as_str());
                self.failed_row(row.number, &key, outcome == journal::Outcome::InDoubt, step, reason);
            }
            self.watch(&result);
            if result.worst_effect().is_some() {
                self.side_effect.store(true, Ordering::SeqCst);
            }
            if self.journal.is_some() {
                self.write(&outcome_line(row.number, &key, &result, started.elapsed()))?;
            }
            let counts = self.count(|c| {
                c.in_flight -= 1;
                match outcome {
                    journal::Outcome::Ok => c.ok += 1,
                    journal::Outcome::InDoubt => c.in_doubt += 1,
                    journal::Outcome::Failed | journal::Outcome::Invalid => c.failed += 1,
                }
            });
            report(counts);
        }
    }

    /// The circuit breaker: when the last `--breaker` rows all failed the same way before the
    /// server accepted anything (connection refused, DNS, TLS, 401, 403), every later row would
    /// too: no new rows start, and the batch says why. Those rows failed without effect, so
    /// `--resume` runs them again.
    fn watch(&self, result: &RunResult) {
        let Some(limit) = self.options.breaker else { return };
        let mut breaker = self.breaker.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(reason) = refused_before_anything(result) else {
            (breaker.0, breaker.1) = (None, 0);
            return;
        };
        if breaker.0.as_deref() == Some(reason.as_str()) {
            breaker.1 += 1;
        } else {
            (breaker.0, breaker.1) = (Some(reason.clone()), 1);
        }
        if breaker.1 >= limit && breaker.2.is_none() {
            breaker.2 = Some(format!(
                "the last {limit} rows all failed the same way before anything was accepted ({reason}); no new rows were started. \
                 Fix the cause, then `--resume` (`--breaker 0` turns this off)"
            ));
            self.stop.store(true, Ordering::SeqCst);
        }
    }

    /// Runs one row.
    async fn run_row(&self, live: Option<&Live>, number: u64, key: &str, inputs: BTreeMap<String, Json>) -> RunResult {
        let intents = self
            .journal
            .as_ref()
            .map(|journal| Arc::new(RowIntents { journal: Arc::clone(journal), row: number, key: key.to_owned() }) as Arc<dyn IntentLog>);
        let start = Start { inputs, intents, seed: Some(self.seed ^ number), fixture: None };
        let mut session = self.factory.start_on(live, start);
        crate::run::run(self.plan, &session.params, &mut session.transport, &mut |_| {}).await
    }
}

/// One row's intents, into the shared journal.
struct RowIntents {
    journal: Arc<Journal>,
    row: u64,
    key: String,
}

impl IntentLog for RowIntents {
    fn intent<'a>(&'a self, step: &'a str) -> Pin<Box<dyn Future<Output = Result<(), IntentError>> + Send + 'a>> {
        Box::pin(async move { self.journal.intent(self.row, &self.key, step).await.map_err(results_file) })
    }

    fn not_processed(&self, step: &str) -> Result<(), IntentError> {
        self.journal.not_processed(self.row, &self.key, step).map_err(results_file)
    }
}

fn results_file(source: std::io::Error) -> IntentError {
    IntentError { file: "the results file", source }
}

/// Why a row failed before the server accepted anything, if it did: the transport could not
/// reach it, or it refused the credentials.
fn refused_before_anything(result: &RunResult) -> Option<String> {
    use crate::transport::FailureKind;
    if result.ok || result.worst_effect().is_some() {
        return None;
    }
    let failed = result.steps.iter().find(|step| step.status == Status::Failed)?;
    match failed.cause? {
        crate::run::Cause::Transport(
            kind @ (FailureKind::ConnectRefused
            | FailureKind::Dns
            | FailureKind::Tls
            | FailureKind::Certificate
            | FailureKind::ConnectTimeout
            | FailureKind::Connect),
        ) => Some(kind.as_str().to_owned()),
        crate::run::Cause::Status => {
            let status = failed.response.as_ref()?.status;
            matches!(status, 401 | 403).then(|| format!("status {status}"))
        }
        _ => None,
    }
}

/// How a row ended: `ok`, `in_doubt` or `failed`.
fn outcome(result: &RunResult) -> journal::Outcome {
    match (result.ok, result.worst_effect()) {
        (true, _) => journal::Outcome::Ok,
        (false, Some(Effect::InDoubt)) => journal::Outcome::InDoubt,
        (false, _) => journal::Outcome::Failed,
    }
}

/// The line of a row that did not run.
fn skipped(row: u64, key: &str, outcome: journal::Outcome, error: String) -> Line {
    Line::Skipped(Skipped { row, key: Some(key.to_owned()), line: None, outcome, error })
}

/// A finished row's line in the results file, masked (the run masks everything it keeps).
fn outcome_line(number: u64, key: &str, result: &RunResult, duration: Duration) -> Line {
    let failed = result.steps.iter().find(|step| step.status == Status::Failed);
    Line::Finished(Finished {
        row: number,
        key: key.to_owned(),
        outcome: outcome(result),
        outputs: result.outputs.clone(),
        step: failed.map(|step| step.id.clone()),
        error_kind: failed.and_then(|step| step.cause).map(|cause| cause.as_str().to_owned()),
        error: failed.and_then(|step| step.reason.clone()).or_else(|| result.error.clone()),
        effect: result.worst_effect(),
        attempts: result.steps.iter().map(crate::run::StepResult::attempts_sent).sum(),
        duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(jobs: usize, threads: Option<usize>) -> Options {
        Options {
            rows: PathBuf::from("rows.csv"),
            rows_label: None,
            spool: None,
            jobs,
            rate: None,
            out: None,
            key: None,
            resume: false,
            retry_in_doubt: false,
            skip_invalid: false,
            shard: None,
            inputs: InputSources::default(),
            max_time: None,
            threads,
            row_limit: 1 << 20,
            breaker: None,
        }
    }

    #[test]
    fn a_thread_per_four_rows_in_flight_at_most_one_per_cpu() {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        assert_eq!(threads(&options(1, None)), 1);
        assert_eq!(threads(&options(4, None)), 1);
        assert_eq!(threads(&options(5, None)), 2.min(cpus));
        assert_eq!(threads(&options(8, None)), 2.min(cpus));
        assert_eq!(threads(&options(16, None)), 4.min(cpus));
        assert_eq!(threads(&options(1024, None)), cpus.min(512));
        // `--threads` is taken as given, but never above the rows in flight.
        assert_eq!(threads(&options(4, Some(3))), 3);
        assert_eq!(threads(&options(2, Some(3))), 2);
    }
}
