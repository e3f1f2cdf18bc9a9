//! Memory of long and large runs, measured by a counting global allocator
//! (this test binary's own): the bytes a run holds at its peak, beyond the
//! client history it returns, must not grow with simulated time; a Raft
//! log entry must cost a few hundred bytes in all; and the failure-detector
//! checks must not keep a matrix of every pair of nodes.
//!
//! Allocation sizes are deterministic (same scenario, same seed, same
//! allocations), so the figures are exact and the bounds are not flaky.
//! The tests take a lock so that only one of them allocates at a time.

use faultlab::check::{self, LivenessBound, World};
use faultlab::engine::{EventKind, TraceEvent};
use faultlab::node::{NodeId, Record};
use faultlab::scenario::{run, RunOptions, RunReport, Scenario};
use faultlab::time::{SimDuration, SimTime};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{current, peak_during, ONE_AT_A_TIME};

#[global_allocator]
static COUNTING: counting_alloc::Counting = counting_alloc::Counting;

/// What one run held.
#[derive(Debug)]
struct Held {
    /// Most bytes held at once during the run, above what was held before.
    peak: usize,
    /// Bytes of the client history it returned.
    history: usize,
    /// Operations in the history.
    operations: usize,
    /// Log indexes committed (the highest `commit` index of any server).
    committed: u64,
}

impl Held {
    /// The peak less the history: what the run kept besides its result.
    fn beyond_history(&self) -> usize {
        self.peak.saturating_sub(self.history)
    }
}

/// A quiet Raft cluster of five with three clients for `seconds`, reads
/// through ReadIndex (so gets add nothing to the log) with `read_fraction`.
/// Linearizability is left out: it searches the history after the run and
/// has a memory of its own (its own tests cover it).
fn raft(seconds: u64, read_fraction: f64) -> Scenario {
    let text = format!(
        r#"
expect = "pass"
model = "raft"
duration = "{seconds}s"
seed = 3

[raft]
election_timeout = ["150ms", "300ms"]
heartbeat_interval = "50ms"
reads = "read_index"

[workload]
clients = 3
think = ["0ms", "10ms"]
timeout = "300ms"
keys = 3
read_fraction = {read_fraction}

[nodes]
count = 5

[network]
latency = {{ dist = "uniform", min = "1ms", max = "10ms" }}
"#
    );
    let mut scenario = Scenario::parse(&text, "run_memory.toml").expect("a valid scenario");
    scenario.checks.retain(|c| c != "linearizability");
    assert!(
        scenario.checks.iter().any(|c| c == "log_matching"),
        "{:?}",
        scenario.checks
    );
    scenario
}

/// Runs `scenario` and measures what it held.
fn measure(scenario: &Scenario) -> Held {
    let options = RunOptions {
        narrate: 0,
        ..RunOptions::default()
    };
    let (mut report, peak): (RunReport, usize) = peak_during(|| run(scenario, 3, options));
    assert_eq!(report.verdict.as_str(), "pass", "{:?}", report.violations);
    let with_history = current();
    let history = std::mem::take(&mut report.history);
    let operations = history.operation_count();
    drop(history);
    let history = with_history - current();
    let committed = report
        .observations
        .iter()
        .find(|(kind, _)| kind == "commit")
        .map_or(0, |(_, n)| *n)
        / 5;
    Held {
        peak,
        history,
        operations,
        committed,
    }
}

/// With reads only, the log stays a few no-ops long: four times the
/// simulated time may add history (returned to the caller) but hardly
/// anything else.
#[test]
fn a_long_raft_run_holds_little_beyond_its_history() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let short = measure(&raft(5, 1.0));
    let long = measure(&raft(20, 1.0));
    eprintln!("reads only: 5s {short:?}, 20s {long:?}");
    assert!(
        long.operations > 3 * short.operations,
        "the long run did more: {short:?} {long:?}"
    );
    assert!(
        long.beyond_history() < short.beyond_history() + short.beyond_history() / 4,
        "besides the history, 5s of Raft held {} bytes and 20s {} bytes",
        short.beyond_history(),
        long.beyond_history()
    );
}

/// With writes, the log grows (it is live state: no snapshots), but every
/// committed entry costs little: its in-memory entry on each of five
/// servers, its command, its durable bytes on each server, and the
/// log_matching check's digest.
#[test]
fn a_raft_log_entry_costs_a_few_hundred_bytes() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let short = measure(&raft(5, 0.0));
    let long = measure(&raft(20, 0.0));
    eprintln!("writes only: 5s {short:?}, 20s {long:?}");
    let entries = long.committed - short.committed;
    assert!(entries > 1_000, "{short:?} {long:?}");
    let per_entry = (long.beyond_history() - short.beyond_history()) as u64 / entries;
    assert!(
        per_entry < 600,
        "each committed entry costs {per_entry} bytes beyond the history"
    );
}

fn record(ms: u64, node: u32, kind: &str, peer: u32) -> TraceEvent {
    TraceEvent {
        time: SimTime(ms * 1_000_000),
        node: Some(NodeId(node)),
        kind: EventKind::Record(Record {
            kind: kind.to_string().into(),
            detail: serde_json::json!({ "peer": format!("n{}", peer + 1) }).into(),
        }),
    }
}

/// A thousand nodes, each suspecting a few others: the three failure
/// detector checks hold O(nodes + suspicions), not a thousand-squared matrix.
#[test]
fn failure_detector_checks_do_not_hold_every_pair() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    const N: u32 = 1_000;
    let mut world = World::new((1..=N).map(|i| format!("n{i}")).collect());
    let bound = LivenessBound {
        after: SimTime::ZERO,
        within: SimDuration::from_secs(1),
    };
    let names = ["accuracy", "strong_completeness", "eventual_accuracy"];
    let before = current();
    let mut checks: Vec<_> = names
        .iter()
        .map(|name| check::build(name, bound).expect("a known check"))
        .collect();
    let mut events: Vec<TraceEvent> = (0..N)
        .map(|n| TraceEvent {
            time: SimTime::ZERO,
            node: Some(NodeId(n)),
            kind: EventKind::Start { restart: false },
        })
        .collect();
    events.extend((0..N).map(|n| record(1, n, "suspect", (n + 1) % N)));
    events.extend((0..N).map(|n| record(2, n, "trust", (n + 1) % N)));
    for event in &events {
        for check in checks.iter_mut() {
            check.on_event(event, &world);
        }
        world.observe(event);
    }
    drop(events);
    let held = current() - before;
    eprintln!("{N} nodes: the checks hold {held} bytes");
    assert!(
        held < 2_000_000,
        "three checks of {N} nodes hold {held} bytes"
    );
    drop(checks);
}
