//! Running a scenario with one seed: build the simulation, drive it to the
//! end, hash and (optionally) write the trace, feed the checkers, narrate.

use super::Scenario;
use super::Stepper;
use crate::check::{Checker, Severity, Violation};
use crate::engine::{EventKind, LimitHit, Stats, TraceEvent};
use crate::history::History;
use crate::model::Configured;
use crate::node::{Message, Node, NodeId, RecordKind, OP_RECORD};
use crate::time::SimTime;
use std::cell::Cell;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;

/// How a run went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check held.
    Pass,
    /// A safety property broke (exit 3).
    Violation,
    /// A liveness property or a limit failed (exit 4).
    Stuck,
    /// The run took longer than [`RunOptions::wall_clock_limit`] in wall-clock
    /// time and was stopped unjudged (exit 5: undecided, like `check`'s
    /// `unknown`). Only a run given that limit (`sweep --seed-timeout`) can
    /// end this way.
    Timeout,
}

impl Verdict {
    /// The process exit code for this verdict.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => 0,
            Verdict::Violation => 3,
            Verdict::Stuck => 4,
            Verdict::Timeout => 5,
        }
    }

    /// `"pass"`, `"violation"`, `"stuck"` or `"timeout"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Violation => "violation",
            Verdict::Stuck => "stuck",
            Verdict::Timeout => "timeout",
        }
    }
}

/// A function called with every trace event of a run ([`RunOptions::on_event`]).
pub type EventHook = Box<dyn FnMut(&TraceEvent)>;

/// What a run should produce besides its report.
pub struct RunOptions {
    /// Write every trace event as a JSON line here.
    pub trace: Option<Box<dyn Write>>,
    /// Keep at most this many narrated lines (faults and observations).
    pub narrate: usize,
    /// Keep the running trace hash after every event (for determinism checks).
    pub event_hashes: bool,
    /// Keep the description of the event with this index (0-based).
    pub capture_event: Option<u64>,
    /// Checks of your own, run after the scenario's (see `examples/custom_protocol.rs`).
    pub extra_checks: Vec<Box<dyn Checker>>,
    /// Keep the time series of the checks that measure one (the `service`
    /// check: [`RunReport::series`], up to about 10 MB); default true, a
    /// sweep turns it off.
    pub series: bool,
    /// Called with every trace event, in order, as the checks see it (the
    /// space-time diagram collects its arrows and bands this way).
    pub on_event: Option<EventHook>,
    /// Describe every message sent (its `Debug` text in the trace's
    /// `send` events) even without a trace file, as `faultlab replay`
    /// shows them; default false (the hash never covers the text).
    pub describe_messages: bool,
    /// How far back each violation's "around it" section looks
    /// ([`RunReport::around`]); default [`crate::check::world::AROUND_WINDOW`].
    pub around: crate::time::SimDuration,
    /// Stop the run once it has taken this long in wall-clock time (measured
    /// outside the simulated world, between events, every
    /// [`WALL_CLOCK_CHECK_EVERY`] steps): it ends with a `timeout` violation
    /// and the verdict [`Verdict::Timeout`], its end-of-run checks unrun.
    /// Default `None`: the clock is never read, so a run, its trace and its
    /// hash are the same as without this option (`sweep --seed-timeout`).
    pub wall_clock_limit: Option<std::time::Duration>,
    /// Judge the run: the scenario's checks and `extra_checks`, and the
    /// world they read (the history, the "around it" context). Default
    /// true; false runs the same events unjudged, for measuring what
    /// judging costs (`examples/bench_raft.rs --no-checks`): no check
    /// runs, the verdict is `pass`, the history is empty.
    pub checks: bool,
    /// Fold every event into the trace hash. Default true; false leaves
    /// [`RunReport::trace_hash`] empty, for measuring what hashing costs
    /// (`examples/bench_raft.rs --no-hash`).
    pub trace_hash: bool,
}

/// How many steps a run with a [`RunOptions::wall_clock_limit`] takes
/// between two readings of the wall clock (a reading costs about as much as
/// a few dozen events, so this keeps the limit's cost well under 1%).
pub const WALL_CLOCK_CHECK_EVERY: u32 = 1024;

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            trace: None,
            narrate: 40,
            event_hashes: false,
            capture_event: None,
            extra_checks: Vec::new(),
            series: true,
            on_event: None,
            describe_messages: false,
            around: crate::check::world::AROUND_WINDOW,
            wall_clock_limit: None,
            checks: true,
            trace_hash: true,
        }
    }
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// The scenario file.
    pub scenario: String,
    /// The model's name.
    pub model: &'static str,
    /// True time when the run ended.
    pub sim_time: SimTime,
    /// Engine counters.
    pub stats: Stats,
    /// Trace events seen (the hash covers all of them).
    pub trace_events: u64,
    /// The trace hash, 16 hex digits.
    pub trace_hash: String,
    /// Violations found (the run stops at the first).
    pub violations: Vec<Violation>,
    /// For each violation (same order), what happened around it: the
    /// faults in force then and the faults and role changes of the
    /// [`RunOptions::around`] window before it ([`crate::check::World::around`]).
    pub around: Vec<Vec<String>>,
    /// The verdict.
    pub verdict: Verdict,
    /// What the scenario expected.
    pub expect: String,
    /// Whether it happened.
    pub expectation_met: bool,
    /// Faults and observations, one line each, in time order.
    pub narration: Vec<String>,
    /// How many narration lines were left out.
    pub narration_omitted: u64,
    /// Observation counts by kind, sorted by kind.
    pub observations: Vec<(String, u64)>,
    /// Faults applied.
    pub faults: u64,
    /// Running trace hash after each event, if asked for.
    pub event_hashes: Vec<u64>,
    /// The captured event's description, if asked for.
    pub captured_event: Option<String>,
    /// The clients' history (from their `op` records), in true-time order.
    pub history: History,
    /// One line per check on what it judged (e.g. operations checked).
    pub check_notes: Vec<String>,
    /// The checks that could not decide (e.g. a search budget ran out).
    pub inconclusive_checks: Vec<String>,
    /// The checks that judged the run.
    pub checks: Vec<String>,
    /// Each check and its outcome: `ok`, `violated`, `unknown`, or `ok
    /// until the run stopped` (another check's safety violation stopped it).
    pub check_outcomes: Vec<(String, String)>,
    /// Numbers the checks report (see [`crate::check::Checker::metrics`]),
    /// sorted by name.
    pub metrics: Vec<(String, f64)>,
    /// The time series of the first check that keeps one (the `service`
    /// observer: see [`crate::check::series::TimeSeries`]), if any.
    pub series: Option<crate::check::series::TimeSeries>,
    /// The command that reproduces this run (a caller of `run_custom` may set its own).
    pub reproduce: String,
    /// The first error writing [`RunOptions::trace`], if any: the trace is
    /// incomplete (the run itself went on).
    pub trace_error: Option<String>,
}

/// Runs `scenario` with `seed` and its model. Never panics: a
/// panic in a node's code becomes a `node_panic` violation, any other panic
/// (a faultlab bug) an `internal_error` one.
pub fn run(scenario: &Scenario, seed: u64, options: RunOptions) -> RunReport {
    scenario.model.run(scenario, seed, options)
}

/// Runs your own nodes (built by `factory`) in `scenario`'s world: its
/// nodes, network, clocks, faults, checks and limits, in place of its
/// model's nodes (the report's `reproduce` still names the scenario's file,
/// which runs its model: set your own). To run a protocol from scenario
/// files, register it as a [`crate::Model`] instead. A panic in a node (its factory or a handler) becomes a
/// `node_panic` violation; a panic anywhere else is faultlab's own bug and
/// becomes an `internal_error` violation that says so.
pub fn run_custom<M: Message>(
    scenario: &Scenario,
    seed: u64,
    options: RunOptions,
    factory: impl FnMut(NodeId) -> Box<dyn Node<M>> + 'static,
) -> RunReport {
    run_custom_tampered(scenario, seed, options, factory, None)
}

/// [`run_custom`], with Byzantine nodes forging messages by `tamper` (see
/// [`crate::fault::byzantine`]; `None`: `equivocate` and `corrupt` send
/// messages unchanged).
pub fn run_custom_tampered<M: Message>(
    scenario: &Scenario,
    seed: u64,
    options: RunOptions,
    factory: impl FnMut(NodeId) -> Box<dyn Node<M>> + 'static,
    tamper: Option<crate::engine::Tamper<M>>,
) -> RunReport {
    let last_time = Rc::new(Cell::new(SimTime::ZERO));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut stepper =
            Stepper::with_clock(scenario, seed, options, factory, Rc::clone(&last_time))
                .tamper(tamper);
        while stepper.step() {}
        stepper.finish()
    }));
    outcome.unwrap_or_else(|payload| {
        // Node code runs only inside the stepper's own catch, so this is ours.
        let violation = panic_violation(payload.as_ref(), last_time.get(), None);
        let mut report = empty_report(scenario, seed);
        report.sim_time = last_time.get();
        report.verdict = Verdict::Violation;
        report.violations.push(violation);
        report.check_outcomes = crate::report::summary::check_outcomes(&report);
        report
    })
}

/// What running one seed twice showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Determinism {
    /// Index of the first trace event where the two runs differ, if any.
    pub first_difference: Option<u64>,
    /// Trace events of the first run.
    pub trace_events: u64,
    /// That event in two further runs (only when they differ).
    pub run_1: Option<String>,
    /// That event in two further runs (only when they differ).
    pub run_2: Option<String>,
}

/// Runs a seed twice (through `run_once`, the first time with `first`) and
/// compares the running trace hash after every event. If the traces differ,
/// two more runs describe the first event that differs. Returns the first
/// run's report too, so a caller can print it.
pub fn check_determinism(
    first: RunOptions,
    mut run_once: impl FnMut(RunOptions) -> RunReport,
) -> (RunReport, Determinism) {
    let report = run_once(RunOptions {
        event_hashes: true,
        ..first
    });
    let again = run_once(RunOptions {
        event_hashes: true,
        narrate: 0,
        ..RunOptions::default()
    });
    let (a, b) = (&report.event_hashes, &again.event_hashes);
    let first_difference = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or_else(|| (a.len() != b.len()).then(|| a.len().min(b.len())))
        .map(|i| i as u64);
    let mut describe = |i: u64| {
        run_once(RunOptions {
            capture_event: Some(i),
            narrate: 0,
            ..RunOptions::default()
        })
        .captured_event
        .unwrap_or_else(|| "(the run ended before this event)".into())
    };
    let (run_1, run_2) = match first_difference {
        Some(i) => (Some(describe(i)), Some(describe(i))),
        None => (None, None),
    };
    let trace_events = report.trace_events;
    (
        report,
        Determinism {
            first_difference,
            trace_events,
            run_1,
            run_2,
        },
    )
}

/// A caught panic: `node_panic` if it came from `node`'s code, else
/// `internal_error` (a bug in faultlab itself, never in the scenario).
pub(super) fn panic_violation(
    payload: &(dyn std::any::Any + Send),
    time: SimTime,
    node: Option<&str>,
) -> Violation {
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".to_string());
    let (name, explanation) = match node {
        Some(n) => ("node_panic", format!("node {n} panicked at {time}: {message}")),
        None => (
            "internal_error",
            format!("faultlab panicked at or after {time} outside any node's code; this is a bug in faultlab, not in the scenario (please report it with the reproduce command): {message}"),
        ),
    };
    Violation {
        name: name.into(),
        check: "engine".into(),
        severity: Severity::Safety,
        time,
        nodes: node.map(|n| vec![n.to_string()]).unwrap_or_default(),
        explanation,
    }
}

pub(super) fn empty_report(scenario: &Scenario, seed: u64) -> RunReport {
    RunReport {
        seed,
        scenario: scenario.file.clone(),
        model: scenario.model.name(),
        sim_time: SimTime::ZERO,
        stats: Stats::default(),
        trace_events: 0,
        trace_hash: String::new(),
        violations: Vec::new(),
        around: Vec::new(),
        verdict: Verdict::Pass,
        expect: scenario.expect.clone(),
        expectation_met: false,
        narration: Vec::new(),
        narration_omitted: 0,
        observations: Vec::new(),
        faults: 0,
        event_hashes: Vec::new(),
        captured_event: None,
        history: History::default(),
        check_notes: Vec::new(),
        inconclusive_checks: Vec::new(),
        checks: scenario.checks.clone(),
        check_outcomes: Vec::new(),
        metrics: Vec::new(),
        series: None,
        reproduce: crate::report::summary::reproduce_command(&scenario.file, seed),
        trace_error: None,
    }
}

pub use crate::check::world::history_event;

pub(super) fn limit_violation(hit: LimitHit, now: SimTime) -> Violation {
    Violation {
        name: "limit_reached".into(),
        check: "engine".into(),
        severity: Severity::Liveness,
        time: now,
        nodes: Vec::new(),
        explanation: format!("the run stopped at {now}: {hit}"),
    }
}

/// The name of the violation a run stopped by its
/// [`RunOptions::wall_clock_limit`] reports.
pub const TIMEOUT_VIOLATION: &str = "timeout";

/// The violation of a run stopped after `elapsed` of wall-clock time (its
/// limit `limit`) at simulated time `now`, after `events` events.
pub(super) fn timeout_violation(
    limit: std::time::Duration,
    elapsed: std::time::Duration,
    now: SimTime,
    events: u64,
) -> Violation {
    // Wall-clock durations in the simulator's units, to the microsecond.
    let shown = |d: std::time::Duration| {
        crate::time::SimDuration((d.as_micros() * 1000).min(u64::MAX as u128) as u64)
    };
    let (limit, elapsed) = (shown(limit), shown(elapsed));
    Violation {
        name: TIMEOUT_VIOLATION.into(),
        check: "engine".into(),
        severity: Severity::Liveness,
        time: now,
        nodes: Vec::new(),
        explanation: format!(
            "stopped after {elapsed} of wall-clock time (limit {limit}) at simulated time {now}, after {events} events; the run did not finish, so its end-of-run checks did not judge it"
        ),
    }
}

pub(super) fn verdict_of(violations: &[Violation]) -> Verdict {
    if violations.iter().any(|v| v.severity == Severity::Safety) {
        Verdict::Violation
    } else if violations.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Stuck
    }
}

/// Record kinds too frequent to narrate (they are counted, and written to
/// `--trace` and `--history` files): client operations, replica states, commits.
const QUIET_RECORDS: &[&str] = &[OP_RECORD, "state", "commit", "vote"];

/// Collects the lines worth telling: faults and node observations.
pub(super) struct Narrator {
    /// The model, which may narrate its records its own way.
    model: Arc<dyn Configured>,
    limit: usize,
    lines: Vec<String>,
    omitted: u64,
    /// Each record kind seen: how many, and whether it is too frequent to
    /// tell (worked out once, when the kind is first seen).
    counts: Vec<KindCount>,
    faults: u64,
}

/// A record kind the narrator has seen.
struct KindCount {
    kind: RecordKind,
    count: u64,
    /// In [`QUIET_RECORDS`] or the model's [`Configured::quiet_records`].
    quiet: bool,
}

impl Narrator {
    /// A narrator keeping at most `limit` lines.
    pub(super) fn new(model: Arc<dyn Configured>, limit: usize) -> Narrator {
        Narrator {
            model,
            limit,
            lines: Vec::new(),
            omitted: 0,
            counts: Vec::new(),
            faults: 0,
        }
    }

    /// The lines, how many were left out, the counts by kind, the faults.
    pub(super) fn into_parts(self) -> (Vec<String>, u64, Vec<(String, u64)>, u64) {
        let mut counts: Vec<(String, u64)> = (self.counts.into_iter())
            .map(|c| (c.kind.to_string(), c.count))
            .collect();
        counts.sort();
        (self.lines, self.omitted, counts, self.faults)
    }

    pub(super) fn observe(&mut self, event: &TraceEvent, names: &[String]) {
        match &event.kind {
            EventKind::Fault { applied: true, .. } => self.faults += 1,
            // Counted; a frequent kind (op, state, commit) is told no further.
            EventKind::Record(record) if self.count(&record.kind) => return,
            _ => {}
        }
        if !tells(event) {
            return;
        }
        if self.lines.len() >= self.limit {
            self.omitted += 1;
            return;
        }
        let own = match &event.kind {
            EventKind::Record(record) => self.model.narrate(record).map(|line| {
                let node = event.node.map_or("", |n| names[n.index()].as_str());
                format!("{node} {line}")
            }),
            _ => None,
        };
        let line = own.unwrap_or_else(|| narrate(event, names));
        self.lines.push(format!(
            "{:>10}  {}",
            event.time.to_string(),
            line.trim_end()
        ));
    }

    /// Tells a line that is not a trace event (a `[[steps]]` outcome).
    pub(super) fn line(&mut self, time: SimTime, text: &str) {
        if self.lines.len() >= self.limit {
            self.omitted += 1;
            return;
        }
        self.lines
            .push(format!("{:>10}  {}", time.to_string(), text));
    }

    /// Counts a record of `kind`; true if the kind is too frequent to tell.
    fn count(&mut self, kind: &RecordKind) -> bool {
        // A few kinds, nearly all string constants: compare addresses
        // first, then text.
        let at = (self.counts.iter().position(|c| c.kind.same_constant(kind)))
            .or_else(|| self.counts.iter().position(|c| c.kind == *kind));
        match at {
            Some(i) => {
                let seen = &mut self.counts[i];
                seen.count += 1;
                seen.quiet
            }
            None => {
                let quiet = QUIET_RECORDS.contains(&kind.as_str())
                    || self.model.quiet_records().contains(&kind.as_str());
                self.counts.push(KindCount {
                    kind: kind.clone(),
                    count: 1,
                    quiet,
                });
                quiet
            }
        }
    }
}

/// True for the events worth a line: faults, resumes, the end of a loss
/// burst, and records (the narrator counts them first and tells only the
/// kinds that are not too frequent).
fn tells(event: &TraceEvent) -> bool {
    matches!(
        event.kind,
        EventKind::Fault { .. }
            | EventKind::Skipped { .. }
            | EventKind::LinksRestored { .. }
            | EventKind::Resume
            | EventKind::LossBurstEnd
            | EventKind::Unsent { .. }
            | EventKind::Knob(_)
            | EventKind::Record(_)
    )
}

/// The narrated line of an event that [`tells`].
fn narrate(event: &TraceEvent, names: &[String]) -> String {
    let node = event.node.map_or("", |n| names[n.index()].as_str());
    match &event.kind {
        EventKind::Fault {
            fault,
            applied: true,
        } => fault.describe(names),
        EventKind::Fault {
            fault,
            applied: false,
        } => format!("{} (did not apply)", fault.describe(names)),
        EventKind::Skipped { .. } | EventKind::LinksRestored { .. } => {
            event.kind.fault_line(names).expect("a fault event")
        }
        EventKind::Resume => format!("{node} resumes"),
        EventKind::Knob(turn) => format!("{node} {}", turn.describe()),
        EventKind::LossBurstEnd => "loss burst ends".to_string(),
        EventKind::Unsent { messages } => {
            format!("{node} never sent {messages} messages: they waited for its processing or disk")
        }
        EventKind::Record(record) if record.kind == crate::engine::FAULT_POINT_RECORD => {
            let point = record.detail.get("point").and_then(|p| p.as_str());
            let down = record.detail.get("downtime_ns").and_then(|d| d.as_u64());
            match (point, down) {
                (Some(point), Some(ns)) => format!(
                    "{node} reached fault point {point}: it crashes, down for {}",
                    crate::time::SimDuration(ns)
                ),
                _ => format!("{node} {} {}", record.kind, describe_detail(&record.detail)),
            }
        }
        EventKind::Record(record) => {
            format!("{node} {} {}", record.kind, describe_detail(&record.detail))
        }
        other => other.name().to_string(),
    }
}

/// `{"peer":"n1","silent_ns":523000000}` -> `peer=n1 silent=523ms`.
pub fn describe_detail(detail: &serde_json::Value) -> String {
    let Some(object) = detail.as_object() else {
        return detail.to_string();
    };
    object
        .iter()
        .map(
            |(key, value)| match (key.strip_suffix("_ns"), value.as_u64()) {
                (Some(short), Some(ns)) => format!("{short}={}", crate::time::SimDuration(ns)),
                _ => match value.as_str() {
                    Some(s) => format!("{key}={s}"),
                    None => format!("{key}={value}"),
                },
            },
        )
        .collect::<Vec<_>>()
        .join(" ")
}
