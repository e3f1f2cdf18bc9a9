//! Every scenario in `scenarios/` runs with its own seed and meets its
//! `expect`: a teaching scenario that stops showing what it teaches fails here.

mod common;

use faultlab::scenario::{run, RunOptions, Scenario, Verdict};

#[test]
fn every_scenario_meets_its_expectation_with_its_own_seed() {
    let files = common::scenario_files();
    for file in files {
        let scenario = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let report = run(
            &scenario,
            scenario.default_seed,
            RunOptions {
                narrate: 0,
                ..RunOptions::default()
            },
        );
        assert!(
            report.expectation_met,
            "{file} (seed {}) expected {} but got {} {:?}",
            scenario.default_seed,
            scenario.expect,
            report.verdict.as_str(),
            report
                .violations
                .iter()
                .map(|v| (&v.name, &v.explanation))
                .collect::<Vec<_>>()
        );
        if scenario.expect == "pass" {
            assert_eq!(report.verdict, Verdict::Pass, "{file}");
        }
    }
}
