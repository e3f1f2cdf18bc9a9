//! Every teaching scenario of a famous bug (`scenarios/*-bug-*.toml`) meets
//! its `expect` on at least as many of seeds 0..200 as its description
//! states ("N of seeds 0..200"), and the same file without its `bugs` line
//! (expecting "pass") passes on every one of the first seeds of its family.
//! New bug scenarios are picked up by their name; one family per test, so
//! the families run side by side.

mod common;

use faultlab::scenario::Scenario;
use faultlab::sweep::sweep;

const SEEDS: std::ops::Range<u64> = 0..200;

/// The count a description states: the N of "N of seeds 0..200".
fn stated_count(file: &str, text: &str) -> u64 {
    let at = text
        .find(" of seeds 0..200")
        .unwrap_or_else(|| panic!("{file}'s description states no \"N of seeds 0..200\""));
    let digits: String = text[..at]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{file}: no count before \"of seeds 0..200\""))
}

/// The bug scenarios whose names start with one of `prefixes`: each shows
/// its bug on its stated count of seeds 0..200 and passes seeds 0..`clean`
/// without it.
fn each_shows_its_bug_and_passes_without(prefixes: &[&str], clean: u64) {
    let files: Vec<String> = common::scenario_files()
        .into_iter()
        .filter(|f| f.contains("-bug-") && prefixes.iter().any(|p| f.starts_with(p)))
        .collect();
    assert!(
        !files.is_empty(),
        "no bug scenario starts with {prefixes:?}"
    );
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let count = stated_count(file, &text);
        let scenario = Scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(scenario.expect, "pass", "{file} expects its violation");
        let summary = sweep(&scenario, SEEDS, None, &|| {});
        assert!(
            summary.expectation_met >= count,
            "{file}: {} on {} of 200 seeds, {count} stated",
            scenario.expect,
            summary.expectation_met
        );
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
        let summary = sweep(&scenario, 0..clean, None, &|| {});
        assert_eq!(
            summary.expectation_met,
            clean,
            "{file} without its bug: {:?}",
            summary.failures.first().map(|f| (f.seed, &f.violation))
        );
    }
}

#[test]
fn every_bug_scenario_belongs_to_a_family_below() {
    let families = [
        "scenarios/raft-",
        "scenarios/heartbeat-",
        "scenarios/quorum-",
        "scenarios/lease-",
        "scenarios/backoff-",
        "scenarios/service-",
        "scenarios/cache-",
        "scenarios/zones-",
        "scenarios/paxos-",
        "scenarios/zab-",
        "scenarios/multipaxos-",
    ];
    for file in common::scenario_files() {
        if file.contains("-bug-") {
            assert!(
                families.iter().any(|p| file.starts_with(p)),
                "{file}: add its family to a test here"
            );
        }
    }
}

#[test]
fn raft_bugs() {
    each_shows_its_bug_and_passes_without(&["scenarios/raft-"], 50);
}

#[test]
fn heartbeat_bugs() {
    each_shows_its_bug_and_passes_without(&["scenarios/heartbeat-"], 200);
}

#[test]
fn quorum_kv_bugs() {
    each_shows_its_bug_and_passes_without(&["scenarios/quorum-"], 200);
}

#[test]
fn lease_bugs() {
    each_shows_its_bug_and_passes_without(&["scenarios/lease-"], 200);
}

#[test]
fn backoff_service_and_cache_bugs() {
    each_shows_its_bug_and_passes_without(
        &[
            "scenarios/backoff-",
            "scenarios/service-",
            "scenarios/cache-",
        ],
        50,
    );
}

#[test]
fn zones_bugs() {
    each_shows_its_bug_and_passes_without(&["scenarios/zones-"], 20);
}

#[test]
fn paxos_bugs() {
    each_shows_its_bug_and_passes_without(&["scenarios/paxos-"], 200);
}

#[test]
fn zab_bugs() {
    each_shows_its_bug_and_passes_without(&["scenarios/zab-"], 20);
}

#[test]
fn multi_paxos_bugs() {
    each_shows_its_bug_and_passes_without(&["scenarios/multipaxos-"], 200);
}
