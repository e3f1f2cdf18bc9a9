//! The canary: a deliberately broken register (primary-backup with local
//! reads, which serves stale reads) must be caught by the linearizability
//! check of a run, on every seed tried. If the checker ever stops catching
//! it, this test fails. Its healthy twin (reads at the primary) must never
//! be flagged.

use faultlab::scenario::{run, RunOptions, Scenario, Verdict};

#[test]
fn stale_reads_are_caught_on_every_seed() {
    let scenario =
        Scenario::load("scenarios/pb-stale-reads.toml").unwrap_or_else(|e| panic!("{e}"));
    for seed in 0..8 {
        let report = run(&scenario, seed, RunOptions::default());
        assert_eq!(
            report.verdict,
            Verdict::Violation,
            "seed {seed}: {:?}",
            report.check_notes
        );
        let violation = &report.violations[0];
        assert_eq!(violation.name, "not_linearizable", "seed {seed}");
        assert!(report.expectation_met, "seed {seed}");
        assert!(
            violation.explanation.contains("read"),
            "seed {seed}: {}",
            violation.explanation
        );
        assert!(
            report.history.operation_count() > 100,
            "seed {seed}: a real workload ran"
        );
    }
}

#[test]
fn reads_at_the_primary_are_linearizable_on_every_seed() {
    let scenario =
        Scenario::load("scenarios/pb-primary-reads.toml").unwrap_or_else(|e| panic!("{e}"));
    for seed in 0..8 {
        let report = run(&scenario, seed, RunOptions::default());
        assert_eq!(
            report.verdict,
            Verdict::Pass,
            "seed {seed}: {:?} {:?}",
            report.violations,
            report.check_notes
        );
        let note = report
            .check_notes
            .iter()
            .find(|n| n.starts_with("linearizability"))
            .expect("a note");
        assert!(note.ends_with(": linearizable"), "seed {seed}: {note}");
        let infos = report
            .history
            .events
            .iter()
            .filter(|e| e.kind == faultlab::history::OpType::Info)
            .count();
        assert!(
            infos > 0,
            "seed {seed}: the primary's crash should leave operations of unknown outcome"
        );
    }
}
