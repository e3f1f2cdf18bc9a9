//! `RunOptions::checks` and `RunOptions::trace_hash`: the switches that let
//! `examples/bench_raft.rs --no-checks --no-hash` time a run unjudged. Off,
//! they skip their work and nothing else: the run is event for event the same.
//! And `Checker::interest`: a check is shown only the events it asks for.

use faultlab::check::{Checker, Interest, Violation, World};
use faultlab::engine::{EventKind, TraceEvent};
use faultlab::scenario::{run, RunOptions, Scenario, Verdict};
use faultlab::SimTime;
use std::cell::Cell;
use std::rc::Rc;

fn scenario(path: &str) -> Scenario {
    let text = std::fs::read_to_string(path).expect("the scenario is in the repository");
    Scenario::parse(&text, path).expect("a valid scenario")
}

fn options(checks: bool, trace_hash: bool) -> RunOptions {
    RunOptions {
        narrate: 0,
        checks,
        trace_hash,
        ..RunOptions::default()
    }
}

#[test]
fn without_checks_a_buggy_run_is_not_judged_but_runs_the_same_events() {
    // The bug scenario's own seed shows its violation when judged.
    let s = scenario("scenarios/raft-bug-no_step_down.toml");
    let judged = run(&s, s.default_seed, options(true, true));
    assert_ne!(judged.verdict, Verdict::Pass, "the bug shows when judged");
    assert!(!judged.history.events.is_empty());
    let unjudged = run(&s, s.default_seed, options(false, true));
    assert_eq!(unjudged.verdict, Verdict::Pass);
    assert!(unjudged.violations.is_empty() && unjudged.checks.is_empty());
    assert!(unjudged.history.events.is_empty(), "no world, no history");
    // Judged, a run stops at a safety violation; unjudged it goes on,
    // through the same events up to there.
    assert!(unjudged.trace_events >= judged.trace_events);
}

#[test]
fn without_the_hash_the_run_is_the_same_and_its_hash_is_empty() {
    let s = scenario("scenarios/raft-leader-crash.toml");
    let hashed = run(&s, 3, options(true, true));
    let unhashed = run(&s, 3, options(true, false));
    assert_eq!(hashed.trace_hash.len(), 16);
    assert!(unhashed.trace_hash.is_empty());
    assert_eq!(hashed.trace_events, unhashed.trace_events);
    assert_eq!(hashed.verdict, unhashed.verdict);
    assert_eq!(hashed.history, unhashed.history);
}

/// Counts what the runner shows it, by whether it is a record.
struct Counting {
    interest: Interest,
    seen: Rc<Cell<(u64, u64)>>,
}

impl Checker for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn on_event(&mut self, event: &TraceEvent, _world: &World) -> Option<Violation> {
        let (records, others) = self.seen.get();
        self.seen.set(match event.kind {
            EventKind::Record(_) => (records + 1, others),
            _ => (records, others + 1),
        });
        None
    }
    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
    fn interest(&self) -> Interest {
        self.interest
    }
}

#[test]
fn a_check_sees_only_the_events_of_its_interest() {
    let s = scenario("scenarios/raft-leader-crash.toml");
    let seen_with = |interest| {
        let seen = Rc::new(Cell::new((0, 0)));
        let check = Counting {
            interest,
            seen: Rc::clone(&seen),
        };
        let options = RunOptions {
            extra_checks: vec![Box::new(check)],
            ..options(true, true)
        };
        let report = run(&s, 3, options);
        (seen.get(), report.trace_hash)
    };
    let ((records, others), hash) = seen_with(Interest::Everything);
    assert!(
        records > 0 && others > 0,
        "{records} records, {others} others"
    );
    assert_eq!(seen_with(Interest::Records), ((records, 0), hash.clone()));
    assert_eq!(seen_with(Interest::Nothing), ((0, 0), hash));
}
