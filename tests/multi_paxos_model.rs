//! The `multi_paxos` model: every `multipaxos-` scenario meets its
//! `expect` on every one of seeds 0..50 in this debug-build test (each
//! description states 200 of seeds 0..200, measured with a release sweep;
//! tests/bug_scenarios.rs sweeps the bug scenario over 0..200), and
//! mistakes in `[multi_paxos]` name their field.

mod common;

use faultlab::scenario::Scenario;
use faultlab::sweep::sweep;

const SEEDS: std::ops::Range<u64> = 0..50;

fn load(file: &str) -> Scenario {
    Scenario::load(file).unwrap_or_else(|e| panic!("{e}"))
}

fn meets_expect_on_every_seed(file: &str, seeds: std::ops::Range<u64>) {
    let scenario = load(file);
    let count = seeds.clone().count() as u64;
    let summary = sweep(&scenario, seeds, None, &|| {});
    assert_eq!(
        summary.expectation_met,
        count,
        "{file}: {} met on {} seeds; first failure {:?}",
        scenario.expect,
        summary.expectation_met,
        summary.failures.first().map(|f| (f.seed, &f.violation))
    );
}

#[test]
fn the_five_scenarios_are_there() {
    let files: Vec<String> = common::scenario_files()
        .into_iter()
        .filter(|f| f.starts_with("scenarios/multipaxos-"))
        .collect();
    assert_eq!(
        files,
        vec![
            "scenarios/multipaxos-bug-skip_phase1_on_takeover.toml",
            "scenarios/multipaxos-chaos.toml",
            "scenarios/multipaxos-leader-crash.toml",
            "scenarios/multipaxos-partition.toml",
            "scenarios/multipaxos-quiet.toml",
        ]
    );
}

#[test]
fn quiet_passes() {
    meets_expect_on_every_seed("scenarios/multipaxos-quiet.toml", SEEDS);
}

#[test]
fn leader_crash_passes() {
    meets_expect_on_every_seed("scenarios/multipaxos-leader-crash.toml", SEEDS);
}

#[test]
fn partition_passes() {
    meets_expect_on_every_seed("scenarios/multipaxos-partition.toml", SEEDS);
}

/// The chaos run is the slowest (15 s simulated): 0..20 here.
#[test]
fn chaos_passes() {
    meets_expect_on_every_seed("scenarios/multipaxos-chaos.toml", 0..20);
}

#[test]
fn the_bug_shows_on_every_seed() {
    meets_expect_on_every_seed(
        "scenarios/multipaxos-bug-skip_phase1_on_takeover.toml",
        SEEDS,
    );
}

#[test]
fn bad_table_values_name_their_key() {
    let base = std::fs::read_to_string("scenarios/multipaxos-quiet.toml").unwrap();
    for (line, key) in [
        ("max_log = 0", "max_log"),
        ("heartbeat_interval = \"500ms\"", "heartbeat_interval"),
        ("bugs = [\"nope\"]", "bugs"),
    ] {
        let text = base
            .replace("heartbeat_interval = \"50ms\"", "")
            .replace("[multi_paxos]\n", &format!("[multi_paxos]\n{line}\n"));
        let err = Scenario::parse(&text, "t.toml")
            .expect_err(line)
            .to_string();
        assert!(err.contains(&format!("multi_paxos.{key}")), "{line}: {err}");
    }
}
