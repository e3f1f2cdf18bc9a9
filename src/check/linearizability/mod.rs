//! Linearizability checking of client histories.
//!
//! [`check`] asks whether a history of concurrent operations could have
//! happened one at a time, each at an instant between its invocation and its
//! completion, in an order the model ([`LinModel`]) accepts. It splits the
//! history by key (P-compositionality: a history is linearizable iff each
//! key's part is) and runs a Wing-Gong-Lowe search with memoisation on each
//! part ([`search`]).
//!
//! Completion rules: `ok` constrains the result; `fail` means the operation
//! did not happen (it is dropped); `info`, or no completion at all, means it
//! may take effect at any time after its invocation or never, with any
//! result (a read with an unknown result is dropped).
//!
//! Scheduling: parts run round-robin, smallest first, each up to a step
//! allowance that doubles every round, so an easy failing key is found before
//! a hard key is finished; the first part to fail (in that fixed order)
//! decides. The total number of steps is capped by [`LinOptions::max_steps`],
//! and the bytes the searches hold (memo tables, stacks, the models' tables,
//! counted by the searches themselves, not asked of the OS) by
//! [`LinOptions::max_memory`]; either ends in [`LinVerdict::Unknown`].
//!
//! What it does not do: read the wall clock, spawn threads, or let hash
//! order reach the output; a caller that wants a time limit passes
//! `should_stop` (polled every [`POLL_STEPS`] steps, before each slice, and
//! every [`POLL_EVENTS`] events while the history is prepared).
//! Invariant: for a given history, model and options, the report is the
//! same on every run (unless `should_stop` fires).

pub mod explain;
pub mod intern;
pub mod memo;
mod prepare;
mod prune;
pub mod search;
pub mod spec;

use crate::history::{History, HistoryError};
use search::{Progress, Search};
use spec::{KvSpec, RegisterSpec, SequentialSpec};
use std::fmt;
use std::str::FromStr;

pub use explain::{Style, Witness, WitnessOp};
pub use spec::Operation;

/// How many steps run between two calls of `should_stop` (at most).
pub const POLL_STEPS: u64 = 4096;

/// How many history events are prepared between two calls of `should_stop`.
pub const POLL_EVENTS: usize = 1 << 16;

/// The default memory budget of a check: 1 GiB.
pub const DEFAULT_MAX_MEMORY: u64 = 1 << 30;

/// The step allowance of every part in the first round; it doubles each round.
pub const FIRST_ROUND_STEPS: u64 = 4096;

/// The sequential model the history is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinModel {
    /// read / write; initially nil.
    Register,
    /// read / write / cas `[expected new]`; initially nil (Jepsen etcd).
    CasRegister,
    /// get / put / append per key; each key initially `""`.
    Kv,
}

impl LinModel {
    /// The names [`FromStr`] accepts.
    pub const NAMES: [&'static str; 3] = ["register", "cas-register", "kv"];

    /// The model's name as [`FromStr`] spells it.
    pub fn name(self) -> &'static str {
        match self {
            LinModel::Register => "register",
            LinModel::CasRegister => "cas-register",
            LinModel::Kv => "kv",
        }
    }
}

impl FromStr for LinModel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "register" => Ok(LinModel::Register),
            "cas-register" => Ok(LinModel::CasRegister),
            "kv" => Ok(LinModel::Kv),
            other => Err(format!(
                "unknown model '{other}'; expected one of {}",
                LinModel::NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for LinModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Limits on the search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinOptions {
    /// Total search steps across all parts (a step is one attempted
    /// linearization of one operation). Each step adds at most one memo
    /// entry (16 bytes in a table at most half full).
    pub max_steps: u64,
    /// Bytes the searches may hold at once (memo tables, stacks, the
    /// models' growing tables), by the checker's own deterministic count;
    /// the search stops with `Unknown` rather than take a step past it. The
    /// history and its compiled operations (proportional to the input) are
    /// not counted.
    pub max_memory: u64,
}

impl Default for LinOptions {
    /// `max_steps` 20,000,000 (far above what the corpus needs: under a
    /// million) and `max_memory` 1 GiB.
    fn default() -> Self {
        LinOptions {
            max_steps: 20_000_000,
            max_memory: DEFAULT_MAX_MEMORY,
        }
    }
}

/// The checker's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinVerdict {
    /// Some order of the operations fits the model.
    Linearizable,
    /// No order does (the explanation says where the search got stuck).
    NotLinearizable,
    /// The search stopped first (step or memory budget, or `should_stop`).
    Unknown,
}

impl fmt::Display for LinVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinVerdict::Linearizable => "linearizable",
            LinVerdict::NotLinearizable => "not linearizable",
            LinVerdict::Unknown => "unknown",
        })
    }
}

/// What [`check`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinReport {
    /// The verdict.
    pub verdict: LinVerdict,
    /// Invoked operations in the history.
    pub operations: usize,
    /// Independent parts (keys).
    pub partitions: usize,
    /// Search steps taken, over all parts.
    pub steps: u64,
    /// For `NotLinearizable`: the key, the longest linearizable prefix, and
    /// what could not come next; for `Unknown`: why the search stopped.
    pub explanation: Option<String>,
    /// For `NotLinearizable`: the key that failed (`None` if the history has
    /// no keys).
    pub failing_key: Option<String>,
    /// For `NotLinearizable`: the contradiction as data, for a caller that
    /// words it its own way (a run names clients and shows seconds).
    pub witness: Option<Witness>,
}

/// Checks `history` against `model`. Errors name the malformed event (its
/// index in [`HistoryError::event`]; the error's `file` is `"history"`): a
/// caller that read the history from a file gives them its file and line with
/// [`crate::history::HistoryFile::locate`].
pub fn check(
    history: &History,
    model: LinModel,
    options: &LinOptions,
    should_stop: &dyn Fn() -> bool,
) -> Result<LinReport, HistoryError> {
    match model {
        LinModel::Register => {
            check_with(history, || RegisterSpec::new(false), options, should_stop)
        }
        LinModel::CasRegister => {
            check_with(history, || RegisterSpec::new(true), options, should_stop)
        }
        LinModel::Kv => check_with(history, KvSpec::default, options, should_stop),
    }
}

/// Checks `history` with a model of your own: `new_spec` makes one fresh
/// specification per key.
pub fn check_with<S: SequentialSpec>(
    history: &History,
    new_spec: impl Fn() -> S,
    options: &LinOptions,
    should_stop: &dyn Fn() -> bool,
) -> Result<LinReport, HistoryError> {
    match prepare::prepare(history, should_stop)? {
        Some(prepared) => check_prepared(prepared, new_spec, options, should_stop),
        None => Ok(Scheduler::new(options, should_stop).unknown::<S>(Halt::Stopped, &[])),
    }
}

/// Checks a history as it is read from `reader` (in `format`; `file`
/// names it in errors), keeping only its operations, never its events or
/// its text: the way to check a history larger than memory would hold
/// twice. Errors name the file's line. `Ok(None)` if `should_stop` fired
/// while reading (polled every [`crate::history::POLL_LINES`] lines).
pub fn check_stream(
    reader: &mut dyn std::io::BufRead,
    file: &str,
    format: crate::history::HistoryFormat,
    model: LinModel,
    options: &LinOptions,
    should_stop: &dyn Fn() -> bool,
) -> Result<Option<LinReport>, HistoryError> {
    let mut preparer = prepare::Preparer::default();
    // The line of each event, to name it in errors the search finds later.
    let mut lines: Vec<usize> = Vec::new();
    let read =
        crate::history::for_each_event(reader, file, format, should_stop, &mut |line, event| {
            let index = lines.len();
            lines.push(line);
            preparer.add(index, &event).map_err(|message| HistoryError {
                file: file.to_string(),
                line: Some(line),
                ..prepare::event_error(index, &event, message)
            })
        })?;
    if !read {
        return Ok(None);
    }
    let prepared = preparer.finish();
    let report = match model {
        LinModel::Register => {
            check_prepared(prepared, || RegisterSpec::new(false), options, should_stop)
        }
        LinModel::CasRegister => {
            check_prepared(prepared, || RegisterSpec::new(true), options, should_stop)
        }
        LinModel::Kv => check_prepared(prepared, KvSpec::default, options, should_stop),
    };
    report.map(Some).map_err(|mut e| {
        e.file = file.to_string();
        e.line = e.event.and_then(|i| lines.get(i).copied());
        e
    })
}

/// The search over a prepared history, part by part.
fn check_prepared<S: SequentialSpec>(
    prepared: prepare::Prepared,
    new_spec: impl Fn() -> S,
    options: &LinOptions,
    should_stop: &dyn Fn() -> bool,
) -> Result<LinReport, HistoryError> {
    let scheduler = Scheduler::new(options, should_stop);
    let partitions = prepared.parts.len();
    let mut searches = Vec::with_capacity(partitions);
    for (key, mut ops) in prepared.parts {
        if should_stop() {
            return Ok(scheduler.unknown::<S>(Halt::Stopped, &[]));
        }
        let spec = new_spec();
        let leave_out = spec.unobservable(&ops);
        debug_assert!(
            ops.iter()
                .zip(&leave_out)
                .all(|(op, out)| !out || op.output.is_none()),
            "only unknown outcomes may be left out"
        );
        let mut keep = leave_out.iter().map(|out| !out);
        ops.retain(|_| keep.next().unwrap_or(true));
        let search = Search::new(key, spec, ops)?;
        searches.push(search);
    }
    searches.sort_by_key(|s| s.len());
    let mut report = scheduler.run(searches);
    report.operations = prepared.invoked;
    report.partitions = partitions;
    Ok(report)
}

/// Runs the parts round-robin under one step budget and one memory budget.
struct Scheduler<'a> {
    max_steps: u64,
    max_memory: usize,
    steps: u64,
    should_stop: &'a dyn Fn() -> bool,
}

/// Why the scheduler gave up.
enum Halt {
    Budget,
    Memory,
    Stopped,
}

impl<'a> Scheduler<'a> {
    fn new(options: &LinOptions, should_stop: &'a dyn Fn() -> bool) -> Self {
        Scheduler {
            max_steps: options.max_steps,
            max_memory: usize::try_from(options.max_memory).unwrap_or(usize::MAX),
            steps: 0,
            should_stop,
        }
    }

    /// Rounds until every part is done, one fails, or the budget ends.
    fn run<S: SequentialSpec>(mut self, mut active: Vec<Search<S>>) -> LinReport {
        let mut allowance = FIRST_ROUND_STEPS;
        while !active.is_empty() {
            // Bytes held by all parts, kept up to date part by part (O(parts)
            // a round, even with many keys).
            let mut held: usize = active.iter().map(|s| s.memory_bytes()).sum();
            for i in 0..active.len() {
                let others = held - active[i].memory_bytes();
                let limit = self.max_memory.saturating_sub(others);
                let outcome = self.slice(&mut active[i], allowance, limit);
                held = others + active[i].memory_bytes();
                match outcome {
                    Ok(Progress::NotLinearizable) => return self.violation(&mut active[i]),
                    Ok(_) => {}
                    Err(halt) => return self.unknown(halt, &active),
                }
            }
            active.retain(|s| s.outcome().is_none());
            allowance = allowance.saturating_mul(2);
        }
        self.report(LinVerdict::Linearizable, None, None)
    }

    /// Runs one part up to `allowance` steps in total, in polled chunks,
    /// within `memory_limit` bytes.
    fn slice<S: SequentialSpec>(
        &mut self,
        search: &mut Search<S>,
        allowance: u64,
        memory_limit: usize,
    ) -> Result<Progress, Halt> {
        loop {
            if let Some(done) = search.outcome() {
                return Ok(done);
            }
            if search.steps >= allowance {
                return Ok(Progress::Paused);
            }
            if self.steps >= self.max_steps {
                return Err(Halt::Budget);
            }
            if (self.should_stop)() {
                return Err(Halt::Stopped);
            }
            let chunk = (allowance - search.steps)
                .min(self.max_steps - self.steps)
                .min(POLL_STEPS);
            let before = search.steps;
            let progress = search.run(chunk, memory_limit);
            self.steps += search.steps - before;
            if progress == Progress::OutOfMemory {
                return Err(Halt::Memory);
            }
        }
    }

    fn violation<S: SequentialSpec>(&self, search: &mut Search<S>) -> LinReport {
        let witness = explain::witness(search);
        let text = explain::render(&witness, &Style::raw());
        let mut report = self.report(LinVerdict::NotLinearizable, Some(text), search.key.clone());
        report.witness = Some(witness);
        report
    }

    fn unknown<S: SequentialSpec>(&self, halt: Halt, active: &[Search<S>]) -> LinReport {
        let open: Vec<&Search<S>> = active.iter().filter(|s| s.outcome().is_none()).collect();
        let why = match halt {
            Halt::Budget => format!("the step budget (max_steps {}) ran out", self.max_steps),
            Halt::Memory => format!(
                "the memory budget ({}) ran out",
                bytes_words(self.max_memory as u64)
            ),
            Halt::Stopped => "the caller stopped the search (time budget)".to_string(),
        };
        let largest = open
            .iter()
            .max_by_key(|s| s.len())
            .map_or(String::new(), |s| {
                format!(
                    "; the largest is {} ({} operations)",
                    explain::key_words(&s.key),
                    s.len()
                )
            });
        let text = match active.is_empty() {
            true => format!("Unknown: {why} while the history was prepared, before the search began."),
            false => format!(
                "Unknown: {why} after {} steps, with {} part(s) unfinished{largest}. No part was found non-linearizable.",
                self.steps,
                open.len()
            ),
        };
        self.report(LinVerdict::Unknown, Some(text), None)
    }

    fn report(
        &self,
        verdict: LinVerdict,
        explanation: Option<String>,
        failing_key: Option<String>,
    ) -> LinReport {
        LinReport {
            verdict,
            operations: 0,
            partitions: 0,
            steps: self.steps,
            explanation,
            failing_key,
            witness: None,
        }
    }
}

/// A byte count for people: `1 GiB`, `64 MiB`, `1536 KiB`, `100 bytes`.
pub fn bytes_words(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{} {unit}", bytes / size);
        }
    }
    match bytes >= 1 << 20 {
        true => format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64),
        false => format!("{bytes} bytes"),
    }
}

/// Parses a byte count: `1GiB`, `512MiB`, `64KiB`, `1GB`, `100MB`, `4096`
/// (bytes); a space before the unit is allowed.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "'{text}': unknown unit '{other}'; expected a size such as 512MiB, 1GiB or 100MB"
            ))
        }
    };
    let n: u64 = number.parse().map_err(|_| {
        format!(
            "'{text}' is not a size; expected a whole number and a unit, such as 512MiB or 1GiB"
        )
    })?;
    n.checked_mul(scale)
        .ok_or_else(|| format!("'{text}' is too large"))
}
