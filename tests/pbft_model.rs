//! The `pbft` model: every `pbft-` scenario meets its `expect` on every
//! seed swept, the view changes the stories promise happen (and only
//! those), and mistakes in `[pbft]` name their field.

mod common;

use faultlab::scenario::Scenario;
use faultlab::sweep::{sweep, SweepSummary};

/// Seeds swept in debug builds (the release sweep of 0..200 is measured in
/// each scenario's description).
const SEEDS: std::ops::Range<u64> = 0..30;

fn pbft_scenarios() -> Vec<String> {
    common::scenario_files()
        .into_iter()
        .filter(|f| f.starts_with("scenarios/pbft-"))
        .collect()
}

fn load(file: &str) -> Scenario {
    Scenario::load(file).unwrap_or_else(|e| panic!("{e}"))
}

fn swept(file: &str) -> SweepSummary {
    let summary = sweep(&load(file), SEEDS, None, &|| {});
    assert_eq!(
        summary.expectation_met,
        SEEDS.end - SEEDS.start,
        "{file}: first failures {:?}",
        summary.failures.iter().take(3).collect::<Vec<_>>()
    );
    summary
}

fn highest_views(summary: &SweepSummary) -> Vec<f64> {
    summary.metric_values["pbft_agreement.highest_view"].clone()
}

#[test]
fn the_seven_scenarios_are_there() {
    assert_eq!(
        pbft_scenarios(),
        vec![
            "scenarios/pbft-backup-crash.toml",
            "scenarios/pbft-byzantine-primary-corrupt.toml",
            "scenarios/pbft-byzantine-primary.toml",
            "scenarios/pbft-byzantine-two.toml",
            "scenarios/pbft-normal.toml",
            "scenarios/pbft-partitioned-backup.toml",
            "scenarios/pbft-primary-crash.toml",
        ]
    );
}

/// Meets `pass` on every seed, with no view change.
fn passes_without_view_change(file: &str) {
    let summary = swept(file);
    assert!(highest_views(&summary).iter().all(|&v| v == 0.0), "{file}");
    assert!(summary.metric_values["pbft_agreement.sequence_numbers"]
        .iter()
        .all(|&n| n > 300.0));
}

#[test]
fn without_faults_there_is_no_view_change() {
    passes_without_view_change("scenarios/pbft-normal.toml");
}

#[test]
fn a_crashed_backup_needs_no_view_change() {
    passes_without_view_change("scenarios/pbft-backup-crash.toml");
}

#[test]
fn a_partitioned_backup_cannot_pull_the_others_into_a_view_change() {
    passes_without_view_change("scenarios/pbft-partitioned-backup.toml");
}

#[test]
fn a_crashed_primary_is_replaced_by_exactly_one_view_change() {
    let summary = swept("scenarios/pbft-primary-crash.toml");
    assert!(highest_views(&summary).iter().all(|&v| v == 1.0));
}

#[test]
fn one_equivocating_primary_cannot_break_agreement() {
    // The liar's lies never gather 2f + 1: the correct replicas keep
    // agreeing (and executing) in view 0.
    let summary = swept("scenarios/pbft-byzantine-primary.toml");
    assert!(summary.metric_values["pbft_agreement.sequence_numbers"]
        .iter()
        .all(|&n| n > 300.0));
}

#[test]
fn a_corrupting_primary_is_replaced_by_exactly_one_view_change() {
    let summary = swept("scenarios/pbft-byzantine-primary-corrupt.toml");
    assert!(highest_views(&summary).iter().all(|&v| v == 1.0));
}

#[test]
fn two_liars_of_four_break_agreement_and_one_does_not() {
    let file = "scenarios/pbft-byzantine-two.toml";
    let summary = swept(file);
    assert_eq!(summary.failed, SEEDS.end - SEEDS.start, "{file}");
    // The same run with n2 honest: only n1 lies, and agreement holds.
    let text = std::fs::read_to_string(file).unwrap();
    let n2 = "\n[[faults]]\nat = \"0s\"\nkind = \"byzantine\"\nnode = \"n2\"\nadversary = \"equivocate\"\n";
    assert!(text.contains(n2), "{file} makes n2 Byzantine");
    let one_liar = text
        .replace(n2, "")
        .replace("expect = \"pbft_disagreement\"", "expect = \"pass\"");
    let scenario = Scenario::parse(&one_liar, file).unwrap_or_else(|e| panic!("{e}"));
    let summary = sweep(&scenario, SEEDS, None, &|| {});
    assert_eq!(
        summary.expectation_met,
        SEEDS.end - SEEDS.start,
        "{file} with one liar"
    );
}

#[test]
fn bad_tables_name_their_field() {
    let base = std::fs::read_to_string("scenarios/pbft-normal.toml").unwrap();
    for (change, field) in [
        ("view_change_timeout = \"0ms\"", "view_change_timeout"),
        ("view_change_timeout = \"200ms\"\nf = 2", "f"),
        (
            "view_change_timeout = \"200ms\"\nlog_limit = 0",
            "log_limit",
        ),
    ] {
        let text = base.replace("view_change_timeout = \"200ms\"", change);
        let err = Scenario::parse(&text, "bad.toml").unwrap_err().to_string();
        assert!(err.contains(field), "{change}: {err}");
    }
    let five = base.replace("count = 4", "count = 5");
    let err = Scenario::parse(&five, "bad.toml").unwrap_err().to_string();
    assert!(err.contains("3f + 1"), "{err}");
}
