//! The primary_backup model's failover scenarios swept over seeds 0..200:
//! async replication loses acknowledged writes at a failover on most seeds,
//! sync replication never does (but stalls while a backup is cut off), and
//! the `ack_before_replicate` bug makes sync lose writes like async.

use faultlab::scenario::{run, RunOptions, RunReport, Scenario};

const SEEDS: u64 = 200;

fn load(file: &str) -> Scenario {
    Scenario::load(file).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `scenario` on every seed; the reports.
fn sweep(scenario: &Scenario) -> Vec<RunReport> {
    (0..SEEDS)
        .map(|seed| {
            run(
                scenario,
                seed,
                RunOptions {
                    narrate: 0,
                    ..RunOptions::default()
                },
            )
        })
        .collect()
}

fn metric(report: &RunReport, name: &str) -> Option<f64> {
    report
        .metrics
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| *v)
}

fn met(reports: &[RunReport]) -> usize {
    reports.iter().filter(|r| r.expectation_met).count()
}

#[test]
fn async_failover_loses_an_acknowledged_write_on_most_seeds() {
    let scenario = load("scenarios/pb-async-failover.toml");
    assert_eq!(scenario.expect, "lost_write");
    let reports = sweep(&scenario);
    // The description says 174 of seeds 0..200.
    assert!(
        met(&reports) >= 174,
        "lost_write on {} seeds",
        met(&reports)
    );
    for (seed, r) in reports.iter().enumerate() {
        // Async acknowledges at once: no write waits for a backup.
        assert!(
            metric(r, "durability.write_latency_ms_p99").is_some_and(|ms| ms < 1.0),
            "seed {seed}: {:?}",
            r.metrics
        );
        let lost = metric(r, "durability.lost_writes").unwrap();
        assert_eq!(lost > 0.0, r.expectation_met, "seed {seed}");
    }
}

#[test]
fn sync_failover_loses_no_write_on_any_seed() {
    let scenario = load("scenarios/pb-sync-failover.toml");
    assert_eq!(scenario.expect, "pass");
    let reports = sweep(&scenario);
    for (seed, r) in reports.iter().enumerate() {
        assert!(r.expectation_met, "seed {seed}: {:?}", r.violations);
        assert_eq!(metric(r, "durability.lost_writes"), Some(0.0));
        // `crash @primary` hit the primary, and one backup took over.
        assert_eq!(metric(r, "durability.failovers"), Some(1.0), "seed {seed}");
        assert!(metric(r, "durability.acked_writes").unwrap() > 50.0);
        // A write waits for the next batch to reach both backups.
        assert!(metric(r, "durability.write_latency_ms_p50").unwrap() > 20.0);
    }
}

#[test]
fn ack_before_replicate_makes_sync_failover_lose_writes() {
    let text = std::fs::read_to_string("scenarios/pb-sync-failover.toml").unwrap();
    let text = text
        .replace("expect = \"pass\"", "expect = \"lost_write\"")
        .replace(
            "ship_every = \"100ms\"",
            "ship_every = \"100ms\"\nbugs = [\"ack_before_replicate\"]",
        );
    assert!(text.contains("ack_before_replicate"));
    let scenario = Scenario::parse(&text, "pb-sync-failover+bug").unwrap();
    let reports = sweep(&scenario);
    assert!(
        met(&reports) >= 170,
        "lost_write on {} seeds",
        met(&reports)
    );
}

#[test]
fn sync_stall_waits_out_the_partition_and_recovers_on_every_seed() {
    let scenario = load("scenarios/pb-sync-stall.toml");
    assert_eq!(scenario.expect, "pass");
    for (seed, r) in sweep(&scenario).iter().enumerate() {
        assert!(r.expectation_met, "seed {seed}: {:?}", r.violations);
        // The description: p99 1.6s to 2s (the partition), p50 one round trip.
        let p99 = metric(r, "durability.write_latency_ms_p99").unwrap();
        let p50 = metric(r, "durability.write_latency_ms_p50").unwrap();
        assert!((1500.0..=2100.0).contains(&p99), "seed {seed}: p99 {p99}");
        assert!(p50 < 20.0, "seed {seed}: p50 {p50}");
        assert!(metric(r, "progress.recovery_s").unwrap() < 0.5);
        // Without failover, n1 stays the primary.
        assert_eq!(metric(r, "durability.failovers"), Some(0.0), "seed {seed}");
    }
}
