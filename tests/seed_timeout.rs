//! `sweep --seed-timeout`: a seed whose run takes longer than the limit in
//! wall-clock time is stopped, reported as `timeout` with its reproduce
//! command and counted apart; the sweep goes on, and a limit never changes
//! a run that finishes under it.

use faultlab::scenario::{run, RunOptions, Scenario, Verdict};
use faultlab::sweep::{sweep, sweep_timed};
use serde_json::Value;
use std::process::{Command, Output};
use std::time::Duration;

/// Raft under chaos for 15 simulated seconds: about 15,000 events a seed,
/// many milliseconds of wall-clock time even in a release build.
const SLOW: &str = "scenarios/raft-chaos.toml";

fn faultlab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultlab"))
        .args(args)
        .output()
        .expect("the faultlab binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_seed_over_its_limit_is_a_timeout_with_its_reproduce_command() {
    let out = faultlab(&["sweep", SLOW, "--seeds", "0..3", "--seed-timeout", "1ms"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(5), "timeouts alone exit 5: {text}");
    for seed in 0..3 {
        assert!(
            text.contains(&format!("seed {seed}: timeout: stopped after ")),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "  reproduce: cargo run --release -- run {SLOW} --seed {seed}\n"
            )),
            "{text}"
        );
    }
    assert!(
        text.contains("of wall-clock time (limit 1ms) at simulated time "),
        "{text}"
    );
    assert!(
        text.contains(
            "0 passed, 0 failed, 3 timed out (--seed-timeout 1ms) · expectation (pass) met in 0/3"
        ),
        "{text}"
    );

    // Without the flag the same seeds run to their end and pass.
    let out = faultlab(&["sweep", SLOW, "--seeds", "0..3"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("3 passed, 0 failed · expectation (pass) met in 3/3"),
        "{text}"
    );
    assert!(!text.contains("timeout"), "{text}");
}

#[test]
fn json_lists_timeouts_apart_from_failures() {
    let out = faultlab(&[
        "sweep",
        SLOW,
        "--seeds",
        "0..2",
        "--seed-timeout",
        "1ms",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(5));
    let json: Value = serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
    assert_eq!(json["seeds_run"], 2);
    assert_eq!(json["passed"], 0);
    assert_eq!(json["failed"], 0);
    assert_eq!(json["failures"], serde_json::json!([]));
    assert_eq!(json["first_failing_seed"], Value::Null);
    assert_eq!(json["timed_out"], 2);
    assert_eq!(json["seed_timeout_ms"], 1.0);
    assert_eq!(json["expectation_met"], 0);
    let timeouts = json["timeouts"].as_array().unwrap();
    assert_eq!(timeouts.len(), 2);
    assert_eq!(timeouts[1]["seed"], 1);
    assert_eq!(timeouts[1]["verdict"], "timeout");
    assert_eq!(timeouts[1]["expectation_met"], false);
    assert_eq!(
        timeouts[1]["reproduce"],
        format!("cargo run --release -- run {SLOW} --seed 1")
    );
    let explanation = timeouts[1]["explanation"].as_str().unwrap();
    assert!(explanation.starts_with("stopped after "), "{explanation}");

    // Without the flag: no limit, nothing timed out.
    let out = faultlab(&["sweep", SLOW, "--seeds", "0..2", "--json"]);
    let json: Value = serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
    assert_eq!(json["seed_timeout_ms"], Value::Null);
    assert_eq!(json["timed_out"], 0);
    assert_eq!(json["passed"], 2);
}

#[test]
fn a_bad_seed_timeout_is_a_usage_error() {
    for (value, expected) in [
        ("30", "'30' has no unit"),
        ("0s", "'0s' is no time at all; expected a positive duration"),
        ("-1s", "durations cannot be negative"),
        ("fast", "has unknown unit"),
    ] {
        let flag = format!("--seed-timeout={value}");
        let out = faultlab(&["sweep", SLOW, "--seeds", "0..1", &flag]);
        assert_eq!(out.status.code(), Some(2), "{value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--seed-timeout"), "names the flag: {err}");
        assert!(err.contains(expected), "{value}: {err}");
    }
}

#[test]
fn a_limit_never_changes_a_run_that_finishes_under_it() {
    let scenario = Scenario::load(SLOW).unwrap();
    let plain = run(&scenario, 4, RunOptions::default());
    let limited = run(
        &scenario,
        4,
        RunOptions {
            wall_clock_limit: Some(Duration::from_secs(3600)),
            ..RunOptions::default()
        },
    );
    assert_eq!(limited.verdict, Verdict::Pass);
    assert_eq!(limited.trace_hash, plain.trace_hash);
    assert_eq!(limited.stats.events, plain.stats.events);
    let summary = sweep_timed(
        &scenario,
        0..4,
        None,
        Some(Duration::from_secs(3600)),
        &|| {},
    );
    assert_eq!(summary.timed_out, 0);
    assert_eq!(summary.passed, sweep(&scenario, 0..4, None, &|| {}).passed);
}

#[test]
fn a_timed_out_run_is_judged_as_far_as_it_went() {
    let scenario = Scenario::load(SLOW).unwrap();
    let report = run(
        &scenario,
        0,
        RunOptions {
            wall_clock_limit: Some(Duration::from_nanos(1)),
            ..RunOptions::default()
        },
    );
    assert_eq!(report.verdict, Verdict::Timeout);
    assert_eq!(report.verdict.exit_code(), 5);
    assert!(!report.expectation_met);
    // The clock is read every WALL_CLOCK_CHECK_EVERY steps: the first reading stops it.
    assert!(report.stats.events <= u64::from(faultlab::scenario::WALL_CLOCK_CHECK_EVERY));
    assert_eq!(report.around.len(), report.violations.len());
    let last = report.violations.last().unwrap();
    assert_eq!(
        (last.name.as_str(), last.check.as_str()),
        ("timeout", "engine")
    );
    assert!(report
        .check_outcomes
        .iter()
        .all(|(_, outcome)| outcome == "ok until the run stopped"));
}
