//! The quorum store's famous bugs: every `quorum-bug-` scenario meets its
//! `expect` on at least as many of seeds 0..200 as its description states,
//! and the same file without its `bugs` line passes on every one of seeds
//! 0..200.

mod common;

use faultlab::scenario::Scenario;
use faultlab::sweep::sweep;

const SEEDS: std::ops::Range<u64> = 0..200;

/// (file, the violation, how many of seeds 0..200 its description states).
const BUG_SCENARIOS: &[(&str, &str, u64)] = &[
    (
        "scenarios/quorum-bug-read_without_write_back.toml",
        "not_linearizable",
        140,
    ),
    (
        "scenarios/quorum-bug-write_without_version_read.toml",
        "not_linearizable",
        200,
    ),
    (
        "scenarios/quorum-bug-last_arrival_wins.toml",
        "not_linearizable",
        166,
    ),
];

#[test]
fn every_quorum_kv_bug_scenario_is_listed_here() {
    let mut files: Vec<String> = common::scenario_files()
        .into_iter()
        .filter(|f| f.starts_with("scenarios/quorum-bug-"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = BUG_SCENARIOS
        .iter()
        .map(|(f, _, _)| f.to_string())
        .collect();
    listed.sort();
    assert_eq!(files, listed);
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
        assert_eq!(
            text.lines().filter(|l| l.starts_with("bugs = ")).count(),
            1,
            "{file} has one bugs line"
        );
        let correct: String = text
            .lines()
            .filter(|l| !l.starts_with("bugs = "))
            .map(|l| match l.starts_with("expect = ") {
                true => "expect = \"pass\"\n".to_string(),
                false => format!("{l}\n"),
            })
            .collect();
        let scenario = Scenario::parse(&correct, file).unwrap_or_else(|e| panic!("{e}"));
        let summary = sweep(&scenario, SEEDS, None, &|| {});
        assert_eq!(
            summary.expectation_met,
            200,
            "{file} without its bug: {:?}",
            summary.failures.first().map(|f| (f.seed, &f.violation))
        );
    }
}
