//! The `saga` model: each of its scenarios meets its expectation over
//! seeds 0..200 (the violation scenario on at least as many seeds as its
//! description states), and every passing run ends every saga done or
//! compensated.

mod common;

use faultlab::scenario::{run, RunOptions, Scenario};

const SEEDS: u64 = 200;

fn saga_scenarios() -> Vec<String> {
    let files: Vec<String> = common::scenario_files()
        .into_iter()
        .filter(|f| f.starts_with("scenarios/saga-"))
        .collect();
    assert!(files.len() >= 4, "the saga scenarios: {files:?}");
    files
}

/// The least number of seeds of 0..200 on which `scenario` must meet its
/// expectation: all for "pass", else the count its description states
/// ("N of seeds 0..200").
fn required(scenario: &Scenario, file: &str) -> u64 {
    if scenario.expect == "pass" {
        return SEEDS;
    }
    let text = scenario.description.replace('\n', " ");
    let at = text
        .find("of seeds 0..200")
        .unwrap_or_else(|| panic!("{file}: the description says on how many of seeds 0..200"));
    let words: Vec<&str> = text[..at].split_whitespace().collect();
    words
        .last()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("{file}: a count before 'of seeds 0..200'"))
}

fn metric(metrics: &[(String, f64)], name: &str) -> f64 {
    metrics
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
        .1
}

#[test]
fn every_saga_scenario_meets_its_expectation_over_200_seeds() {
    for file in saga_scenarios() {
        let scenario = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let need = required(&scenario, &file);
        let mut met = 0;
        for seed in 0..SEEDS {
            let report = run(
                &scenario,
                seed,
                RunOptions {
                    narrate: 0,
                    ..RunOptions::default()
                },
            );
            if report.expectation_met {
                met += 1;
            } else if scenario.expect == "pass" {
                panic!("{file} seed {seed}: {:?}", report.violations);
            }
            if scenario.expect == "pass" {
                let (done, compensated) = (
                    metric(&report.metrics, "saga_outcome.done"),
                    metric(&report.metrics, "saga_outcome.compensated"),
                );
                assert_eq!(
                    done + compensated,
                    20.0,
                    "{file} seed {seed}: every saga ends done or compensated"
                );
                assert_eq!(metric(&report.metrics, "saga_outcome.unfinished"), 0.0);
            }
        }
        assert!(
            met >= need,
            "{file}: expectation {} met on {met} of {SEEDS} seeds; the description says {need}",
            scenario.expect
        );
        eprintln!("{file}: {} met on {met}/{SEEDS}", scenario.expect);
    }
}

#[test]
fn the_happy_path_completes_every_saga_and_compensations_follow_failures() {
    let happy = Scenario::load("scenarios/saga-happy.toml").unwrap();
    let report = run(&happy, 0, RunOptions::default());
    assert_eq!(metric(&report.metrics, "saga_outcome.done"), 20.0);
    assert_eq!(metric(&report.metrics, "saga_outcome.retries"), 0.0);
    let compensate = Scenario::load("scenarios/saga-compensate.toml").unwrap();
    let report = run(&compensate, compensate.default_seed, RunOptions::default());
    let count = |kind: &str| {
        report
            .observations
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0, |(_, n)| *n)
    };
    assert!(count("saga_compensated") > 0 && count("failed") > 0);
    // Each abort ends in a compensated saga, whose applied steps are undone.
    assert_eq!(count("saga_abort"), count("saga_compensated"));
    assert!(count("compensated") >= count("saga_compensated"));
}

#[test]
fn the_missing_idempotency_key_is_caught_under_chaos_too() {
    // saga-chaos.toml passes on every seed; the same trouble against
    // services without keys books something twice on most seeds.
    let text = std::fs::read_to_string("scenarios/saga-chaos.toml").unwrap();
    let text = text
        .replace("expect = \"pass\"", "expect = \"step_applied_twice\"")
        .replace(
            "failure_probability = [0.0, 0.1, 0.2]",
            "failure_probability = [0.0, 0.1, 0.2]\nbugs = [\"no_idempotency_key\"]",
        );
    let scenario =
        Scenario::parse(&text, "saga-chaos-no-key.toml").unwrap_or_else(|e| panic!("{e}"));
    let caught = (0..50)
        .filter(|&seed| {
            run(
                &scenario,
                seed,
                RunOptions {
                    narrate: 0,
                    ..RunOptions::default()
                },
            )
            .expectation_met
        })
        .count();
    assert!(caught >= 45, "caught on {caught} of 50 seeds");
}
