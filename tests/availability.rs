//! The `availability` check on real Raft runs: the leader crashed
//! (`node = "@leader"`) is replaced within the run, and the time without a
//! leader reaches the run's metrics and a sweep's statistics.

use faultlab::scenario::{run, RunOptions, RunReport, Scenario, Verdict};
use faultlab::sweep::sweep;

/// Five Raft servers, `faults` appended, as scenario text.
fn text(faults: &str) -> String {
    format!(
        r#"
model = "raft"
duration = "4s"
checks = ["availability", "progress"]
[raft]
election_timeout = ["150ms", "300ms"]
heartbeat_interval = "50ms"
[workload]
clients = 1
timeout = "200ms"
[nodes]
count = 5
[network]
latency = {{ dist = "uniform", min = "1ms", max = "10ms" }}
[liveness]
within = "1.5s"
{faults}"#
    )
}

fn raft(faults: &str) -> Scenario {
    Scenario::parse(&text(faults), "availability.toml").unwrap_or_else(|e| panic!("{e}"))
}

const CRASH_LEADER: &str = "[[faults]]\nat = \"2s\"\nkind = \"crash\"\nnode = \"@leader\"\n";

fn metric(report: &RunReport, name: &str) -> Option<f64> {
    report
        .metrics
        .iter()
        .find(|(m, _)| m == name)
        .map(|(_, v)| *v)
}

#[test]
fn a_crashed_leader_gives_one_outage_shorter_than_the_rest_of_the_run() {
    let scenario = raft(CRASH_LEADER);
    for seed in 0..4 {
        let report = run(&scenario, seed, RunOptions::default());
        assert_eq!(
            report.verdict,
            Verdict::Pass,
            "seed {seed}: {:?}",
            report.violations
        );
        let without = metric(&report, "availability.time_without_leader_s")
            .unwrap_or_else(|| panic!("seed {seed}: {:?}", report.metrics));
        // Followers wait at least 150ms minus one 50ms heartbeat interval;
        // the crash is at 2s of a 4s run.
        assert!(without > 0.1 && without < 2.0, "seed {seed}: {without}");
        assert_eq!(metric(&report, "availability.outages"), Some(1.0));
        assert_eq!(metric(&report, "availability.unended_outages"), Some(0.0));
        let note = report
            .check_notes
            .iter()
            .find(|n| n.contains("leader outage"))
            .expect("the check's note");
        assert!(
            note.contains("(leader of term 1) crashed at 2.000s"),
            "{note}"
        );
    }
}

#[test]
fn a_run_without_faults_has_no_outage_and_no_time_without_leader() {
    let report = run(&raft(""), 1, RunOptions::default());
    assert_eq!(metric(&report, "availability.outages"), Some(0.0));
    assert_eq!(metric(&report, "availability.time_without_leader_s"), None);
}

#[test]
fn a_sweep_aggregates_the_time_without_leader_over_seeds() {
    let summary = sweep(&raft(CRASH_LEADER), 10..16, None, &|| {});
    assert_eq!(summary.passed, 6);
    let stats = summary.metric_stats();
    let without = stats
        .iter()
        .find(|m| m.name == "availability.time_without_leader_s")
        .expect("the metric over the seeds");
    assert_eq!(without.count, 6);
    assert!(without.min > 0.1 && without.max < 2.0, "{without:?}");
    assert!(without.min <= without.median && without.median <= without.p90);
    assert!(without.p90 <= without.p99 && without.p99 <= without.max);
    assert!(stats.iter().any(|m| m.name == "availability.outages"));
}

#[test]
fn a_check_that_only_measures_is_no_outcome_to_expect() {
    let source = format!("expect = \"\"\n{}", text(""));
    let err = Scenario::parse(&source, "x.toml").expect_err("an empty expect");
    let message = err.to_string();
    assert!(
        message.contains("is not an outcome of this scenario's checks"),
        "{message}"
    );
    assert!(!message.contains("one of , "), "{message}");
}

#[test]
fn a_short_pause_and_a_healed_isolation_end_with_the_same_leader() {
    let faults =
        "[[faults]]\nat = \"2s\"\nkind = \"pause\"\nnode = \"@leader\"\nduration = \"40ms\"\n\
                  [[faults]]\nat = \"3s\"\nkind = \"isolate\"\nnode = \"@leader\"\n\
                  [[faults]]\nat = \"3.06s\"\nkind = \"heal\"\n";
    // The liveness bound after the heal needs a longer run.
    let text = text(faults).replace("duration = \"4s\"", "duration = \"5s\"");
    let scenario = Scenario::parse(&text, "availability.toml").unwrap_or_else(|e| panic!("{e}"));
    for seed in 0..3 {
        let report = run(&scenario, seed, RunOptions::default());
        let leaders = report.observations.iter().find(|(k, _)| k == "leader");
        assert_eq!(
            leaders.map(|(_, n)| *n),
            Some(1),
            "seed {seed}: no election"
        );
        assert_eq!(metric(&report, "availability.outages"), Some(2.0));
        // The longer is the isolation: 60ms, then at most one heartbeat
        // interval (50ms) and a latency (10ms) until a majority hears it.
        let longest = metric(&report, "availability.time_without_leader_s").unwrap();
        assert!((0.06..=0.12).contains(&longest), "seed {seed}: {longest}");
    }
}
