//! `RunOptions::checks` and `RunOptions::trace_hash`: the switches that let
//! `examples/bench_raft.rs --no-checks --no-hash` time a run unjudged. Off,
//! they skip their work and nothing else: the run is event for event the same.

use faultlab::scenario::{run, RunOptions, Scenario, Verdict};

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
