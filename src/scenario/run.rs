//! Running a scenario with one seed: build the simulation, drive it to the
//! end, hash and (optionally) write the trace, feed the checkers, narrate.

use super::Scenario;
use crate::check::{Checker, Severity, Violation, World};
use crate::engine::{EventKind, LimitHit, RunEnd, SimBuilder, Stats, TraceEvent, TraceHasher};
use crate::history::History;
use crate::node::{Message, Node, NodeId, OP_RECORD};
use crate::time::SimTime;
use std::cell::Cell;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};

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
}

impl Verdict {
    /// The process exit code for this verdict.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => 0,
            Verdict::Violation => 3,
            Verdict::Stuck => 4,
        }
    }

    /// `"pass"`, `"violation"` or `"stuck"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Violation => "violation",
            Verdict::Stuck => "stuck",
        }
    }
}

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
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            trace: None,
            narrate: 40,
            event_hashes: false,
            capture_event: None,
            extra_checks: Vec::new(),
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
/// nodes, network, clocks, faults, checks and limits; the scenario's model
/// section is ignored. A panic in a node (its factory or a handler) becomes a
/// `node_panic` violation; a panic anywhere else is faultlab's own bug and
/// becomes an `internal_error` violation that says so.
pub fn run_custom<M: Message>(
    scenario: &Scenario,
    seed: u64,
    options: RunOptions,
    factory: impl FnMut(NodeId) -> Box<dyn Node<M>> + 'static,
) -> RunReport {
    let last_time = Cell::new(SimTime::ZERO);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        drive(scenario, seed, options, &last_time, factory)
    }));
    outcome.unwrap_or_else(|payload| {
        // Node code runs only inside `drive`'s own catch, so this is ours.
        let violation = panic_violation(payload.as_ref(), last_time.get(), None);
        let mut report = empty_report(scenario, seed);
        report.sim_time = last_time.get();
        report.verdict = Verdict::Violation;
        report.violations.push(violation);
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
fn panic_violation(
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

fn empty_report(scenario: &Scenario, seed: u64) -> RunReport {
    RunReport {
        seed,
        scenario: scenario.file.clone(),
        model: scenario.model.name(),
        sim_time: SimTime::ZERO,
        stats: Stats::default(),
        trace_events: 0,
        trace_hash: String::new(),
        violations: Vec::new(),
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
        reproduce: crate::report::summary::reproduce_command(&scenario.file, seed),
        trace_error: None,
    }
}

fn drive<M: Message>(
    scenario: &Scenario,
    seed: u64,
    mut options: RunOptions,
    last_time: &Cell<SimTime>,
    factory: impl FnMut(NodeId) -> Box<dyn Node<M>> + 'static,
) -> RunReport {
    let names = scenario.names.clone();
    let mut builder = SimBuilder::new(seed, names.len(), factory)
        .names(names.clone())
        .peers(scenario.peers.clone())
        .topology(scenario.topology.clone())
        .faults(scenario.fault_schedule(seed))
        .limits(scenario.limits)
        .describe_messages(options.trace.is_some());
    for (i, clock) in scenario.clocks.iter().enumerate() {
        builder = builder.clock(NodeId(i as u32), *clock);
    }
    let mut sim = builder.build();
    let setup = crate::registry::CheckSetup {
        liveness: scenario.liveness,
        history_model: scenario.model.history_model(),
        linearizability_memory: scenario.linearizability_memory,
    };
    // By name: a caller may have taken checks out of `scenario.checks`.
    let mut checkers: Vec<Box<dyn Checker>> = scenario
        .checks
        .iter()
        .map(|name| {
            scenario
                .check_defs
                .iter()
                .find(|def| def.info.name == name)
                .expect("validated check names")
                .build(&setup)
        })
        .collect();
    let mut world = World::new(names.clone());
    let mut hasher = TraceHasher::default();
    let mut report = empty_report(scenario, seed);
    for extra in std::mem::take(&mut options.extra_checks) {
        report.checks.push(extra.name().to_string());
        checkers.push(extra);
    }
    // Each check with its "retired" flag (set once it reported a violation).
    let mut checks: Vec<(Box<dyn Checker>, bool)> =
        checkers.into_iter().map(|c| (c, false)).collect();
    let mut narrator = Narrator {
        limit: options.narrate,
        lines: Vec::new(),
        omitted: 0,
        counts: Vec::new(),
        faults: 0,
    };
    let mut trace_error = None;
    if let Some(out) = options.trace.as_mut() {
        let header = serde_json::json!({"kind": "run", "scenario": scenario.file, "seed": seed, "model": scenario.model.name(), "nodes": names});
        trace_error = writeln!(out, "{header}").err();
    }
    let end = scenario.end();
    let mut index = 0u64;
    let observed = catch_unwind(AssertUnwindSafe(|| {
        sim.run_until(end, |event| {
            last_time.set(event.time);
            event.hash_into(&mut hasher);
            if options.event_hashes {
                report.event_hashes.push(hasher.finish());
            }
            if options.capture_event == Some(index) {
                report.captured_event = Some(event.describe(&names));
            }
            index += 1;
            if let (Some(out), None) = (options.trace.as_mut(), &trace_error) {
                trace_error = writeln!(out, "{}", event.to_json(&names)).err();
            }
            narrator.observe(event, &names);
            let mut keep_going = true;
            for (checker, done) in checks.iter_mut() {
                if *done {
                    continue;
                }
                if let Some(v) = checker.on_event(event, &world) {
                    // Safety: stop at the first violation. Liveness: retire this
                    // check and run on, so the safety checks still judge the run.
                    keep_going = v.severity != Severity::Safety;
                    *done = true;
                    report.violations.push(v);
                    if !keep_going {
                        break;
                    }
                }
            }
            world.observe(event);
            keep_going
        })
    }));
    let run_end = match observed {
        Ok(run_end) => run_end,
        Err(payload) => {
            let node = sim.in_handler().map(|n| names[n.index()].as_str());
            report
                .violations
                .push(panic_violation(payload.as_ref(), sim.now(), node));
            RunEnd::Stopped
        }
    };
    match run_end {
        RunEnd::Reached => {
            for (checker, done) in checks.iter_mut() {
                if *done {
                    continue;
                }
                if let Some(v) = checker.finish(end, &world) {
                    let safety = v.severity == Severity::Safety;
                    report.violations.push(v);
                    if safety {
                        break;
                    }
                }
            }
        }
        RunEnd::Stopped => {}
        RunEnd::Limit(hit) => report.violations.push(limit_violation(hit, sim.now())),
    }
    if let Some(out) = options.trace.as_mut() {
        report.trace_error = trace_error
            .or_else(|| out.flush().err())
            .map(|e| e.to_string());
    }
    report.check_notes = checks.iter().filter_map(|(c, _)| c.note()).collect();
    report.inconclusive_checks = checks
        .iter()
        .filter(|(c, _)| c.inconclusive())
        .map(|(c, _)| c.name().to_string())
        .collect();
    report.history = world.take_history();
    report.sim_time = sim.now();
    report.stats = *sim.stats();
    report.trace_events = index;
    report.trace_hash = hasher.hex();
    report.narration = narrator.lines;
    report.narration_omitted = narrator.omitted;
    report.observations = narrator.counts;
    report.faults = narrator.faults;
    report.verdict = verdict_of(&report.violations);
    report.expectation_met = if scenario.expect == "pass" {
        report.verdict == Verdict::Pass
    } else {
        report.violations.iter().any(|v| v.name == scenario.expect)
    };
    report
}

pub use crate::check::world::history_event;

fn limit_violation(hit: LimitHit, now: SimTime) -> Violation {
    Violation {
        name: "limit_reached".into(),
        check: "engine".into(),
        severity: Severity::Liveness,
        time: now,
        nodes: Vec::new(),
        explanation: format!("the run stopped at {now}: {hit}"),
    }
}

fn verdict_of(violations: &[Violation]) -> Verdict {
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
const QUIET_RECORDS: &[&str] = &[OP_RECORD, "state", "commit"];

/// Collects the lines worth telling: faults and node observations.
struct Narrator {
    limit: usize,
    lines: Vec<String>,
    omitted: u64,
    counts: Vec<(String, u64)>,
    faults: u64,
}

impl Narrator {
    fn observe(&mut self, event: &TraceEvent, names: &[String]) {
        match &event.kind {
            EventKind::Fault { applied: true, .. } => self.faults += 1,
            EventKind::Record(record) => self.count(&record.kind),
            _ => {}
        }
        if !tells(event) {
            return;
        }
        if self.lines.len() >= self.limit {
            self.omitted += 1;
            return;
        }
        let line = narrate(event, names);
        self.lines.push(format!(
            "{:>10}  {}",
            event.time.to_string(),
            line.trim_end()
        ));
    }

    fn count(&mut self, kind: &str) {
        match self.counts.binary_search_by(|(k, _)| k.as_str().cmp(kind)) {
            Ok(i) => self.counts[i].1 += 1,
            Err(i) => self.counts.insert(i, (kind.to_string(), 1)),
        }
    }
}

/// True for the events worth a line: faults, resumes, the end of a loss
/// burst, and records that are not too frequent to tell.
fn tells(event: &TraceEvent) -> bool {
    match &event.kind {
        EventKind::Fault { .. } | EventKind::Resume | EventKind::LossBurstEnd => true,
        EventKind::Record(record) => !QUIET_RECORDS.contains(&record.kind.as_str()),
        _ => false,
    }
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
        EventKind::Resume => format!("{node} resumes"),
        EventKind::LossBurstEnd => "loss burst ends".to_string(),
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
