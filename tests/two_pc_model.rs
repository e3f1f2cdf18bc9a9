//! The `two_pc` model: every `twopc-` scenario meets its `expect` over
//! seeds 0..200 (the violation scenarios on at least the seeds its
//! description states), the in-doubt metric tells the blocking story, the
//! bug is harmless once switched off, and mistakes in `[two_pc]` name
//! their field.

mod common;

use faultlab::scenario::Scenario;
use faultlab::sweep::{sweep, SweepSummary};

const SEEDS: std::ops::Range<u64> = 0..200;

fn twopc_scenarios() -> Vec<String> {
    common::scenario_files()
        .into_iter()
        .filter(|f| f.starts_with("scenarios/twopc-"))
        .collect()
}

fn swept(scenario: &Scenario) -> SweepSummary {
    sweep(scenario, SEEDS, None, &|| {})
}

fn load(file: &str) -> Scenario {
    Scenario::load(file).unwrap_or_else(|e| panic!("{e}"))
}

/// Every value of `metric` over the sweep's seeds.
fn values(summary: &SweepSummary, metric: &str) -> Vec<f64> {
    let v = summary
        .metric_values
        .get(metric)
        .unwrap_or_else(|| panic!("no metric {metric}"))
        .clone();
    assert_eq!(v.len(), SEEDS.count(), "{metric} on every seed");
    v
}

#[test]
fn the_five_scenarios_are_there() {
    assert_eq!(
        twopc_scenarios(),
        vec![
            "scenarios/twopc-commit.toml",
            "scenarios/twopc-coordinator-crash.toml",
            "scenarios/twopc-coordinator-lost.toml",
            "scenarios/twopc-decision-before-sync.toml",
            "scenarios/twopc-participant-crash.toml",
        ]
    );
}

#[test]
fn pass_scenarios_pass_on_every_seed() {
    for file in twopc_scenarios() {
        let scenario = load(&file);
        if scenario.expect != "pass" {
            continue;
        }
        let summary = swept(&scenario);
        assert_eq!(
            summary.expectation_met,
            200,
            "{file}: first failures {:?}",
            summary.failures.iter().take(3).collect::<Vec<_>>()
        );
        // Every transaction is decided at the coordinator, and nobody is
        // left in doubt.
        let committed = values(&summary, "atomicity.committed");
        let aborted = values(&summary, "atomicity.aborted");
        for (c, a) in committed.iter().zip(&aborted) {
            assert_eq!(c + a, 20.0, "{file}: 20 transactions decided");
        }
        assert!(values(&summary, "atomicity.in_doubt_at_end")
            .iter()
            .all(|&n| n == 0.0));
    }
}

#[test]
fn without_faults_participants_are_in_doubt_for_a_round_trip_and_some_vote_no() {
    let summary = swept(&load("scenarios/twopc-commit.toml"));
    assert!(values(&summary, "atomicity.in_doubt_max_s")
        .iter()
        .all(|&s| s > 0.0 && s < 0.05));
    // 1 - 0.9^4 of the transactions abort: about 7 of 20; some on every seed.
    let aborted = values(&summary, "atomicity.aborted");
    assert!(aborted.iter().all(|&a| a >= 1.0));
    let mean = aborted.iter().sum::<f64>() / aborted.len() as f64;
    assert!((5.0..9.0).contains(&mean), "mean aborts {mean}");
}

#[test]
fn a_coordinator_crash_blocks_the_prepared_participants_for_its_downtime() {
    let summary = swept(&load("scenarios/twopc-coordinator-crash.toml"));
    assert_eq!(summary.expectation_met, 200);
    for s in values(&summary, "atomicity.in_doubt_max_s") {
        assert!(
            (1.0..1.1).contains(&s),
            "in doubt for {s}s, not the 1s downtime"
        );
    }
}

#[test]
fn decision_before_sync_is_caught_on_the_seeds_the_description_states() {
    let file = "scenarios/twopc-decision-before-sync.toml";
    let scenario = load(file);
    assert_eq!(scenario.expect, "not_atomic");
    let summary = swept(&scenario);
    assert!(
        summary.expectation_met >= 190,
        "not_atomic on {} of 200 seeds",
        summary.expectation_met
    );
    let (name, why) = summary.failures[0]
        .violation
        .clone()
        .unwrap_or_else(|| panic!("seed {} has a violation", summary.failures[0].seed));
    assert_eq!(name, "not_atomic");
    assert!(
        why.contains("committed") && why.contains("tx "),
        "explained: {why}"
    );
}

#[test]
fn a_coordinator_that_never_returns_leaves_participants_in_doubt_forever() {
    let scenario = load("scenarios/twopc-coordinator-lost.toml");
    assert_eq!(scenario.expect, "in_doubt_forever");
    let summary = swept(&scenario);
    assert_eq!(summary.expectation_met, 200, "the description says 200");
    // Blocked from the crash (about 0.4 s) to the end (3 s).
    for s in values(&summary, "atomicity.in_doubt_max_s") {
        assert!(s > 2.5, "in doubt for {s}s");
    }
    assert!(values(&summary, "atomicity.in_doubt_at_end")
        .iter()
        .all(|&n| n >= 1.0));
}

#[test]
fn the_same_crashes_are_harmless_without_the_bug() {
    let file = "scenarios/twopc-decision-before-sync.toml";
    let text = std::fs::read_to_string(file).unwrap();
    let fixed = text
        .replace("bugs = [\"decision_before_sync\"]\n", "")
        .replace("expect = \"not_atomic\"", "expect = \"pass\"");
    assert_ne!(fixed, text);
    let scenario = Scenario::parse(&fixed, "fixed.toml").unwrap_or_else(|e| panic!("{e}"));
    let summary = swept(&scenario);
    assert_eq!(
        summary.expectation_met,
        200,
        "{:?}",
        summary.failures.first()
    );
}

fn table_error(table: &str) -> String {
    let text = format!(
        "expect = \"pass\"\nmodel = \"two_pc\"\nduration = \"1s\"\n[nodes]\ncount = 3\n[two_pc]\n{table}\n"
    );
    Scenario::parse(&text, "t.toml")
        .expect_err("a bad table")
        .to_string()
}

#[test]
fn mistakes_in_the_table_name_their_field() {
    let e = table_error("bugs = [\"decision_after_sync\"]");
    assert!(
        e.contains("two_pc.bugs") && e.contains("\"decision_before_sync\""),
        "{e}"
    );
    let e = table_error("abort_probability = 1.5");
    assert!(e.contains("two_pc.abort_probability"), "{e}");
    let e = table_error("transactions = 0");
    assert!(e.contains("two_pc.transactions"), "{e}");
    let e = table_error("inquiry = \"0ms\"");
    assert!(e.contains("two_pc.inquiry"), "{e}");
    let e = table_error("quorum = 2");
    assert!(e.contains("quorum"), "{e}");
    let two = "expect = \"pass\"\nmodel = \"two_pc\"\nduration = \"1s\"\n[nodes]\ncount = 2\n";
    let e = Scenario::parse(two, "t.toml")
        .expect_err("two servers")
        .to_string();
    assert!(e.contains("at least") || e.contains("3"), "{e}");
}
