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
//! which also caps memory (one memo entry per step at most).
//!
//! What it does not do: read the wall clock, spawn threads, or let hash
//! order reach the output; a caller that wants a time limit passes
//! `should_stop` (polled every [`POLL_STEPS`] steps and before each slice).
//! Invariant: for a given history, model and `max_steps`, the report is the
//! same on every run (unless `should_stop` fires).

mod explain;
pub mod intern;
pub mod memo;
mod prepare;
pub mod search;
pub mod spec;

use crate::history::{History, HistoryError};
use search::{Progress, Search};
use spec::{KvSpec, RegisterSpec, SequentialSpec};
use std::fmt;
use std::str::FromStr;

pub use spec::Operation;

/// How many steps run between two calls of `should_stop` (at most).
pub const POLL_STEPS: u64 = 4096;

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
    /// linearization of one operation). Memory grows with steps: one memo
    /// entry of `n/8 + ~30` bytes at most per step for a key of `n`
    /// operations, plus new model states (kv strings). On the hardest corpus
    /// key, 20 million steps take about 1.8 GB and 10 s.
    pub max_steps: u64,
}

impl Default for LinOptions {
    /// `max_steps` 20,000,000: far above what the corpus needs (under a
    /// million), and at most about 2 GB.
    fn default() -> Self {
        LinOptions {
            max_steps: 20_000_000,
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
    /// The search stopped first (step budget, or `should_stop`).
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
}

/// Checks `history` against `model`. Errors name the malformed event; the
/// error's `file` is `"history"` (a caller that knows the file may set it).
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
    let prepared = prepare::prepare(history)?;
    let partitions = prepared.parts.len();
    let mut searches = Vec::with_capacity(partitions);
    for (key, mut ops) in prepared.parts {
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
        let search = Search::new(key, spec, ops).map_err(|(event, message)| {
            prepare::event_error(event, &history.events[event], message)
        })?;
        searches.push(search);
    }
    searches.sort_by_key(|s| s.len());
    let mut report = Scheduler::new(options.max_steps, should_stop).run(searches);
    report.operations = prepared.invoked;
    report.partitions = partitions;
    Ok(report)
}

/// Runs the parts round-robin under one step budget.
struct Scheduler<'a> {
    max_steps: u64,
    steps: u64,
    should_stop: &'a dyn Fn() -> bool,
}

/// Why the scheduler gave up.
enum Halt {
    Budget,
    Stopped,
}

impl<'a> Scheduler<'a> {
    fn new(max_steps: u64, should_stop: &'a dyn Fn() -> bool) -> Self {
        Scheduler {
            max_steps,
            steps: 0,
            should_stop,
        }
    }

    /// Rounds until every part is done, one fails, or the budget ends.
    fn run<S: SequentialSpec>(mut self, mut active: Vec<Search<S>>) -> LinReport {
        let mut allowance = FIRST_ROUND_STEPS;
        while !active.is_empty() {
            for search in active.iter_mut() {
                match self.slice(search, allowance) {
                    Ok(Progress::NotLinearizable) => return self.violation(search),
                    Ok(_) => {}
                    Err(halt) => return self.unknown(halt, &active),
                }
            }
            active.retain(|s| s.outcome().is_none());
            allowance = allowance.saturating_mul(2);
        }
        self.report(LinVerdict::Linearizable, None, None)
    }

    /// Runs one part up to `allowance` steps in total, in polled chunks.
    fn slice<S: SequentialSpec>(
        &mut self,
        search: &mut Search<S>,
        allowance: u64,
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
            search.run(chunk);
            self.steps += search.steps - before;
        }
    }

    fn violation<S: SequentialSpec>(&self, search: &mut Search<S>) -> LinReport {
        let text = explain::explain(search);
        self.report(LinVerdict::NotLinearizable, Some(text), search.key.clone())
    }

    fn unknown<S: SequentialSpec>(&self, halt: Halt, active: &[Search<S>]) -> LinReport {
        let open: Vec<&Search<S>> = active.iter().filter(|s| s.outcome().is_none()).collect();
        let why = match halt {
            Halt::Budget => format!("the step budget (max_steps {}) ran out", self.max_steps),
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
        let text = format!(
            "Unknown: {why} after {} steps, with {} part(s) unfinished{largest}. No part was found non-linearizable.",
            self.steps,
            open.len()
        );
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
        }
    }
}
