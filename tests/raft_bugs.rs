//! Raft's famous bugs: every `raft-bug-` scenario meets its `expect` on at
//! least as many of seeds 0..200 as its description states, and the same
//! file without its `bugs` line passes on every one of those seeds.

mod common;

use faultlab::scenario::Scenario;
use faultlab::sweep::sweep;

const SEEDS: std::ops::Range<u64> = 0..200;

/// (file, the violation, how many of seeds 0..200 its description states).
const BUG_SCENARIOS: &[(&str, &str, u64)] = &[
    ("scenarios/raft-bug-vote_not_synced.toml", "two_leaders", 41),
    ("scenarios/raft-bug-figure8_commit.toml", "log_mismatch", 75),
    (
        "scenarios/raft-bug-term_not_persisted.toml",
        "two_leaders",
        101,
    ),
    (
        "scenarios/raft-bug-no_step_down.toml",
        "not_linearizable",
        43,
    ),
    (
        "scenarios/raft-bug-vote_without_log_check.toml",
        "log_mismatch",
        170,
    ),
    ("scenarios/raft-bug-no_truncation.toml", "log_mismatch", 35),
    (
        "scenarios/raft-bug-read_without_quorum.toml",
        "not_linearizable",
        75,
    ),
];

#[test]
fn every_raft_bug_scenario_is_listed_here() {
    let files: Vec<String> = common::scenario_files()
        .into_iter()
        .filter(|f| f.starts_with("scenarios/raft-bug-"))
        .collect();
    let listed: Vec<String> = BUG_SCENARIOS
        .iter()
        .map(|(f, _, _)| f.to_string())
        .collect();
    let mut sorted = listed.clone();
    sorted.sort();
    let mut files_sorted = files.clone();
    files_sorted.sort();
    assert_eq!(files_sorted, sorted);
}

#[test]
fn each_bug_shows_its_violation_on_the_seeds_its_description_states() {
    for &(file, violation, count) in BUG_SCENARIOS {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(
            text.contains(&format!("{count} of seeds 0..200")),
            "{file} states {count}"
        );
        let scenario = Scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(scenario.expect, violation, "{file}");
        let summary = sweep(&scenario, SEEDS, None, &|| {});
        assert!(
            summary.expectation_met >= count,
            "{file}: {violation} on {} of 200 seeds, {count} stated",
            summary.expectation_met
        );
    }
}

#[test]
fn without_its_bug_each_scenario_passes() {
    for &(file, _, _) in BUG_SCENARIOS {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let correct: String = text
            .lines()
            .filter(|l| !l.starts_with("bugs = "))
            .map(|l| match l.starts_with("expect = ") {
                true => "expect = \"pass\"\n".to_string(),
                false => format!("{l}\n"),
            })
            .collect();
        let scenario = Scenario::parse(&correct, file).unwrap_or_else(|e| panic!("{e}"));
        let summary = sweep(&scenario, 0..50, None, &|| {});
        assert_eq!(
            summary.expectation_met,
            50,
            "{file} without its bug: {:?}",
            summary.failures.first().map(|f| (f.seed, &f.violation))
        );
    }
}
