//! One report of each violation kind the shipped scenarios show, as a reader
//! sees it: the `VIOLATION` line and its "around it" section. For every
//! distinct `expect` other than "pass", the first scenario file (in name
//! order) that expects it is run at its own seed, and the text must match
//! `tests/golden/violation_reports.txt`.
//!
//! A change to a report's wording or content shows up here as a diff:
//! rewrite the file with `FAULTLAB_BLESS=1 cargo test --test
//! violation_reports` and review it.

mod common;

use faultlab::scenario::{run, RunOptions, Scenario};
use std::collections::BTreeMap;

const GOLDEN: &str = "tests/golden/violation_reports.txt";

/// The report text of one run: its violations and what was around each.
fn report_text(file: &str, scenario: &Scenario) -> String {
    let seed = scenario.default_seed;
    let options = RunOptions {
        narrate: 0,
        series: false,
        ..RunOptions::default()
    };
    let report = run(scenario, seed, options);
    let mut out = format!("== {}: {file} --seed {seed}\n", scenario.expect);
    for (i, v) in report.violations.iter().enumerate() {
        out.push_str(&format!(
            "VIOLATION {} (check {}) at {}: {}\n",
            v.name, v.check, v.time, v.explanation
        ));
        for line in report.around.get(i).into_iter().flatten() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

#[test]
fn one_report_of_each_violation_kind_matches_the_golden_text() {
    let mut first: BTreeMap<String, (String, Scenario)> = BTreeMap::new();
    for file in common::scenario_files() {
        let scenario = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        if scenario.expect != "pass" && !first.contains_key(&scenario.expect) {
            first.insert(scenario.expect.clone(), (file, scenario));
        }
    }
    assert!(first.len() >= 15, "{} violation kinds", first.len());
    let mut text = String::from(
        "# one report per violation kind (FAULTLAB_BLESS=1 rewrites; review the diff)\n",
    );
    for (file, scenario) in first.values() {
        let report = report_text(file, scenario);
        assert!(
            report.contains(&format!("VIOLATION {} ", scenario.expect)),
            "{file} does not show its expected violation:\n{report}"
        );
        assert!(report.contains("  in force") || report.contains("  no faults in force"));
        text.push_str(&report);
    }
    if std::env::var_os("FAULTLAB_BLESS").is_some() {
        std::fs::write(GOLDEN, &text).expect("write the golden file");
        return;
    }
    let golden = std::fs::read_to_string(GOLDEN).unwrap_or_default();
    if golden != text {
        let diff: Vec<String> = golden
            .lines()
            .zip(text.lines())
            .filter(|(a, b)| a != b)
            .take(5)
            .map(|(a, b)| format!("- {a}\n+ {b}"))
            .collect();
        panic!(
            "the reports differ from {GOLDEN} (rewrite with FAULTLAB_BLESS=1 and review):\n{}",
            diff.join("\n")
        );
    }
}
