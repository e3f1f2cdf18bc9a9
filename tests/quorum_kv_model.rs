//! The `quorum_kv` model: each of its scenarios over seeds 0..200 meets its
//! expectation on every seed (`pass`) or on at least as many seeds as its
//! description states (a violation), and the measures tell the story:
//! consistent reads are never stale, strict quorums refuse writes in a
//! partition that sloppy quorums accept through hints handed off later.
//! (The famous bugs' `quorum-bug-` scenarios are tests/bug_scenarios.rs'.)

mod common;

use faultlab::scenario::{run, RunOptions, RunReport, Scenario};

const SEEDS: u64 = 200;

fn quorum_scenarios() -> Vec<String> {
    let files: Vec<String> = common::scenario_files()
        .into_iter()
        .filter(|f| f.starts_with("scenarios/quorum-") && !f.starts_with("scenarios/quorum-bug-"))
        .collect();
    assert_eq!(files.len(), 5, "{files:?}");
    files
}

fn sweep(file: &str) -> (Scenario, Vec<RunReport>) {
    let scenario = Scenario::load(file).unwrap_or_else(|e| panic!("{e}"));
    let reports = (0..SEEDS)
        .map(|seed| {
            run(
                &scenario,
                seed,
                RunOptions {
                    narrate: 0,
                    ..RunOptions::default()
                },
            )
        })
        .collect();
    (scenario, reports)
}

fn metric(report: &RunReport, name: &str) -> f64 {
    report.metrics.iter().find(|(n, _)| n == name).map_or_else(
        || panic!("no metric {name}: {:?}", report.metrics),
        |(_, v)| *v,
    )
}

/// "N of seeds 0..200" in a description: the seeds it promises.
fn promised(description: &str) -> Option<usize> {
    let at = description.find(" of seeds 0..200")?;
    let digits: String = description[..at]
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

#[test]
fn every_quorum_scenario_meets_its_expectation_over_200_seeds() {
    for file in quorum_scenarios() {
        let (scenario, reports) = sweep(&file);
        let met = reports.iter().filter(|r| r.expectation_met).count();
        if scenario.expect == "pass" {
            for r in &reports {
                assert!(
                    r.expectation_met,
                    "{file} seed {}: {:?}",
                    r.seed, r.violations
                );
            }
        } else {
            let promise = promised(&scenario.description)
                .unwrap_or_else(|| panic!("{file}: the description says how many seeds"));
            assert!(
                met >= promise,
                "{file}: {met} of {SEEDS} seeds show {}, the description promises {promise}",
                scenario.expect
            );
            assert!(promise * 2 > SEEDS as usize, "{file}: most seeds");
        }
    }
}

#[test]
fn consistent_reads_are_never_stale_and_eventual_ones_often_are() {
    let (_, consistent) = sweep("scenarios/quorum-consistent-read.toml");
    let mut reads = 0.0;
    for r in &consistent {
        assert_eq!(
            metric(r, "quorum_metrics.stale_reads"),
            0.0,
            "seed {}",
            r.seed
        );
        assert!(metric(r, "quorum_metrics.reads") >= 5.0, "seed {}", r.seed);
        reads += metric(r, "quorum_metrics.reads");
    }
    assert!(reads > 3000.0, "{reads} consistent reads in all");
    let (_, eventual) = sweep("scenarios/quorum-eventual-stale-read.toml");
    let stale = eventual
        .iter()
        .filter(|r| metric(r, "quorum_metrics.stale_reads") > 0.0)
        .count();
    assert!(
        stale > 150,
        "{stale} of {SEEDS} eventual runs measured a stale read"
    );
}

#[test]
fn strict_quorums_refuse_partitioned_writes_and_sloppy_ones_hint_them() {
    let total = |reports: &[RunReport], name: &str| -> f64 {
        reports.iter().map(|r| metric(r, name)).sum()
    };
    let (_, strict) = sweep("scenarios/quorum-partition-strict.toml");
    let (_, sloppy) = sweep("scenarios/quorum-partition-sloppy.toml");
    assert_eq!(total(&strict, "quorum_metrics.hinted_writes"), 0.0);
    let (refused, sloppy_refused) = (
        total(&strict, "quorum_metrics.writes_unavailable"),
        total(&sloppy, "quorum_metrics.writes_unavailable"),
    );
    assert!(
        refused > 4.0 * sloppy_refused && refused > 400.0,
        "strict refused {refused} writes, sloppy {sloppy_refused}"
    );
    let hinted = total(&sloppy, "quorum_metrics.hinted_writes");
    let handed = total(&sloppy, "quorum_metrics.handoffs");
    assert!(hinted > 600.0, "{hinted} hinted writes");
    // Every hint is handed home (several hints of one key and home may be
    // superseded by a newer one before the handoff, hence fewer handoffs).
    assert!(
        handed > 0.5 * hinted && handed <= hinted,
        "{handed} of {hinted}"
    );
}
