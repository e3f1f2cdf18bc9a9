//! The `paxos` model: every `paxos-` scenario meets its `expect` over
//! seeds 0..200 (the livelock over 0..100), the bug scenarios on exactly the counts their descriptions state, and the
//! livelock is a liveness failure only: no seed breaks safety.

mod common;

use faultlab::scenario::Scenario;
use faultlab::sweep::{sweep, SweepSummary};

const SEEDS: std::ops::Range<u64> = 0..200;

fn paxos_scenarios() -> Vec<String> {
    common::scenario_files()
        .into_iter()
        .filter(|f| f.starts_with("scenarios/paxos-"))
        .collect()
}

fn load(file: &str) -> Scenario {
    Scenario::load(file).unwrap_or_else(|e| panic!("{e}"))
}

fn swept(file: &str, seeds: std::ops::Range<u64>) -> SweepSummary {
    sweep(&load(file), seeds, None, &|| {})
}

#[test]
fn the_six_scenarios_are_there() {
    assert_eq!(
        paxos_scenarios(),
        vec![
            "scenarios/paxos-acceptor-crash.toml",
            "scenarios/paxos-basic.toml",
            "scenarios/paxos-bug-ignore_accepted_value.toml",
            "scenarios/paxos-bug-promise_not_synced.toml",
            "scenarios/paxos-duelling-backoff.toml",
            "scenarios/paxos-duelling-no-backoff.toml",
        ]
    );
}

#[test]
fn pass_scenarios_pass_on_every_seed_and_everyone_learns() {
    for file in paxos_scenarios() {
        if load(&file).expect != "pass" {
            continue;
        }
        let summary = swept(&file, SEEDS);
        assert_eq!(
            summary.expectation_met,
            200,
            "{file}: first failures {:?}",
            summary.failures.iter().take(3).collect::<Vec<_>>()
        );
        let learned = &summary.metric_values["paxos.learned"];
        assert_eq!(learned.len(), 200, "{file}");
        assert!(learned.iter().all(|&n| n >= 3.0), "{file}: {learned:?}");
        assert!(summary.metric_values["paxos.chosen"]
            .iter()
            .all(|&c| c == 1.0));
    }
}

#[test]
fn duelling_without_backoff_livelocks_but_stays_safe() {
    let file = "scenarios/paxos-duelling-no-backoff.toml";
    // Seeds 0..100 (the slowest sweep here; 0..200 livelock as well).
    let summary = swept(file, 0..100);
    assert_eq!(summary.expectation_met, 100, "{file}");
    for failure in &summary.failures {
        let (name, _) = failure.violation.as_ref().expect("a violation");
        assert_eq!(name, "nothing_learned", "seed {}", failure.seed);
    }
    // Nothing is ever chosen on these seeds (on one seed of 100..200 a
    // proposal slips through at 1.6s, past the bound).
    assert!(summary.metric_values["paxos.chosen"]
        .iter()
        .all(|&c| c == 0.0));
    // Rounds climb: many proposal numbers accepted somewhere.
    assert!(summary.metric_values["paxos.proposals"]
        .iter()
        .all(|&p| p > 50.0));
}

#[test]
fn bug_scenarios_show_their_bug_on_the_stated_count() {
    for (file, count) in [
        ("scenarios/paxos-bug-ignore_accepted_value.toml", 46),
        ("scenarios/paxos-bug-promise_not_synced.toml", 16),
    ] {
        let text = std::fs::read_to_string(file).expect("readable");
        assert!(text.contains(&format!("{count} of seeds 0..200")), "{file}");
        let summary = swept(file, SEEDS);
        assert_eq!(summary.expectation_met, count, "{file}");
        // The seeds that do not show it pass: the bug breaks nothing else.
        assert_eq!(summary.failed, count, "{file}");
    }
}
