//! The retry family's famous bugs (backoff, service, cache, zones): every
//! `<model>-bug-` scenario of these models meets its `expect` on at least
//! as many of seeds 0..200 as its description states, and the same file
//! without its `bugs` line passes.

mod common;

use faultlab::scenario::Scenario;
use faultlab::sweep::sweep;

const SEEDS: std::ops::Range<u64> = 0..200;

/// The models of the family, by their scenarios' prefix.
const PREFIXES: &[&str] = &[
    "scenarios/backoff-bug-",
    "scenarios/service-bug-",
    "scenarios/cache-bug-",
    "scenarios/zones-bug-",
];

/// (file, the violation, how many of seeds 0..200 its description states).
const BUG_SCENARIOS: &[(&str, &str, u64)] = &[
    (
        "scenarios/backoff-bug-ok_on_timeout.toml",
        "not_exactly_once",
        200,
    ),
    (
        "scenarios/service-bug-budget_not_charged.toml",
        "no_recovery",
        200,
    ),
    (
        "scenarios/service-bug-cooldown_reset_on_reject.toml",
        "breaker_stuck_open",
        200,
    ),
    (
        "scenarios/cache-bug-ttl_jitter_ignored.toml",
        "goodput_below_slo",
        200,
    ),
    (
        "scenarios/cache-bug-no_coalescing_when_cold.toml",
        "no_recovery",
        200,
    ),
    (
        "scenarios/zones-bug-rotation_needs_control_plane.toml",
        "goodput_below_slo",
        200,
    ),
];

#[test]
fn every_retry_bug_scenario_is_listed_here() {
    let mut files: Vec<String> = common::scenario_files()
        .into_iter()
        .filter(|f| PREFIXES.iter().any(|p| f.starts_with(p)))
        .collect();
    files.sort();
    let mut listed: Vec<String> = BUG_SCENARIOS
        .iter()
        .map(|(f, _, _)| f.to_string())
        .collect();
    listed.sort();
    assert_eq!(files, listed);
}

/// The scenario meets its `expect` on at least the stated count of seeds
/// 0..200, and the same file without its bug passes seeds 0..`clean`.
fn shows_its_bug_and_passes_without(file: &str, clean: u64) {
    let &(_, violation, count) = BUG_SCENARIOS
        .iter()
        .find(|(f, _, _)| *f == file)
        .unwrap_or_else(|| panic!("{file} is not listed"));
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

#[test]
fn backoff_ok_on_timeout() {
    shows_its_bug_and_passes_without("scenarios/backoff-bug-ok_on_timeout.toml", 50);
}

#[test]
fn service_budget_not_charged() {
    shows_its_bug_and_passes_without("scenarios/service-bug-budget_not_charged.toml", 50);
}

#[test]
fn service_cooldown_reset_on_reject() {
    shows_its_bug_and_passes_without("scenarios/service-bug-cooldown_reset_on_reject.toml", 50);
}

#[test]
fn cache_ttl_jitter_ignored() {
    shows_its_bug_and_passes_without("scenarios/cache-bug-ttl_jitter_ignored.toml", 50);
}

#[test]
fn cache_no_coalescing_when_cold() {
    shows_its_bug_and_passes_without("scenarios/cache-bug-no_coalescing_when_cold.toml", 50);
}

#[test]
fn zones_rotation_needs_control_plane() {
    shows_its_bug_and_passes_without("scenarios/zones-bug-rotation_needs_control_plane.toml", 20);
}
