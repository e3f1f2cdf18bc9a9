//! The `zab` model: every `zab-` scenario meets its `expect` on every one
//! of seeds 0..20 (a debug run of the whole 0..200 takes minutes on a
//! shared machine; the descriptions' counts over 0..200 come from release
//! sweeps, and `tests/bug_scenarios.rs` checks the bug's stated count), and
//! the scenarios that pass deliver at least 100 transactions on each seed.

mod common;

use faultlab::scenario::Scenario;
use faultlab::sweep::sweep;

const SEEDS: std::ops::Range<u64> = 0..20;

fn zab_scenarios() -> Vec<String> {
    common::scenario_files()
        .into_iter()
        .filter(|f| f.starts_with("scenarios/zab-"))
        .collect()
}

fn load(file: &str) -> Scenario {
    Scenario::load(file).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_five_scenarios_are_there() {
    assert_eq!(
        zab_scenarios(),
        vec![
            "scenarios/zab-bug-commit_before_quorum.toml",
            "scenarios/zab-chaos.toml",
            "scenarios/zab-leader-crash-broadcast.toml",
            "scenarios/zab-partition.toml",
            "scenarios/zab-quiet.toml",
        ]
    );
}

/// Each scenario meets its expectation on every seed, and the agreed
/// delivered sequence grew (progress through the broadcast).
fn meets_on_every_seed(file: &str) {
    let scenario = load(file);
    let summary = sweep(&scenario, SEEDS, None, &|| {});
    assert_eq!(
        summary.expectation_met,
        SEEDS.count() as u64,
        "{file}: first failures {:?}",
        summary.failures.iter().take(3).collect::<Vec<_>>()
    );
    if scenario.expect == "pass" {
        let delivered = &summary.metric_values["zab_agreement.delivered"];
        assert!(
            delivered.iter().all(|&n| n >= 100.0),
            "{file}: {delivered:?}"
        );
    }
}

#[test]
fn quiet_passes_on_every_seed() {
    meets_on_every_seed("scenarios/zab-quiet.toml");
}

#[test]
fn leader_crash_during_broadcast_passes_on_every_seed() {
    meets_on_every_seed("scenarios/zab-leader-crash-broadcast.toml");
}

#[test]
fn partition_passes_on_every_seed() {
    meets_on_every_seed("scenarios/zab-partition.toml");
}

#[test]
fn chaos_passes_on_every_seed() {
    meets_on_every_seed("scenarios/zab-chaos.toml");
}

#[test]
fn the_bug_breaks_agreement_on_every_seed() {
    meets_on_every_seed("scenarios/zab-bug-commit_before_quorum.toml");
}
