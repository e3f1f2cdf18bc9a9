//! `[[steps]]`: scripts run in order, their faults resolve when the step
//! begins, their checks pass or fail with named violations, and every
//! mistake in them is an error with a line and a field.

use faultlab::check::Severity;
use faultlab::scenario::{run, RunOptions, RunReport, Scenario, Verdict};

/// Three raft servers and one client, `rest` appended.
fn raft_text(duration: &str, rest: &str) -> String {
    // Top-level keys (before the first table) go first.
    let (top, rest) = match rest.trim_start().strip_prefix("expect") {
        Some(after) => {
            let (line, rest) = after.split_once('\n').unwrap_or((after, ""));
            (format!("expect{line}\n"), rest.to_string())
        }
        None => (String::new(), rest.to_string()),
    };
    format!(
        "{top}model = \"raft\"\nduration = \"{duration}\"\n[raft]\nelection_timeout = [\"150ms\", \"300ms\"]\nheartbeat_interval = \"50ms\"\n[workload]\nclients = 1\nthink = [\"10ms\", \"20ms\"]\ntimeout = \"300ms\"\n[nodes]\ncount = 3\n[liveness]\nwithin = \"2s\"\n{rest}"
    )
}

fn raft(duration: &str, rest: &str) -> Scenario {
    Scenario::parse(&raft_text(duration, rest), "steps.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> String {
    Scenario::parse(text, "steps.toml")
        .map(|_| ())
        .expect_err("the scenario should be refused")
        .to_string()
}

fn go(scenario: &Scenario, seed: u64) -> RunReport {
    let options = RunOptions {
        narrate: 1000,
        ..RunOptions::default()
    };
    run(scenario, seed, options)
}

fn said(report: &RunReport, what: &str) -> bool {
    report.narration.iter().any(|l| l.contains(what))
}

#[test]
fn a_script_elects_isolates_reconnects_and_checks_in_order() {
    let scenario = raft(
        "8s",
        r#"
[[steps]]
check = "leader"
within = "2s"
[[steps]]
fault = { kind = "isolate", node = "@leader" }
[[steps]]
check = "leader"
within = "2s"
[[steps]]
check = "same_term"
[[steps]]
fault = { kind = "reconnect", node = "@isolated" }
[[steps]]
sleep = "500ms"
[[steps]]
check = "leader"
[[steps]]
check = "committed"
index = 5
within = "2s"
"#,
    );
    for seed in 0..20 {
        let report = go(&scenario, seed);
        assert_eq!(
            report.verdict,
            Verdict::Pass,
            "seed {seed}: {:?}",
            report.violations
        );
        assert!(report.checks.contains(&"steps".to_string()));
        assert!(
            report
                .check_notes
                .contains(&"steps: 8 of 8 ran".to_string()),
            "{:?}",
            report.check_notes
        );
        assert!(
            said(&report, "steps[0] (leader within 2s)"),
            "{:#?}",
            report.narration
        );
        assert!(said(&report, "reconnect n"), "{:#?}", report.narration);
        assert!(said(&report, "steps[7] (committed index 5 on 3 within 2s)"));
    }
}

#[test]
fn a_missed_deadline_is_a_liveness_violation_and_the_run_goes_on() {
    // A majority isolated: no leader can be elected.
    let scenario = raft(
        "5s",
        r#"
[[steps]]
check = "leader"
within = "2s"
[[steps]]
fault = { kind = "isolate", node = "@leader" }
[[steps]]
fault = { kind = "isolate", node = "@leader+1" }
[[steps]]
check = "leader"
within = "1s"
[[steps]]
sleep = "1s"
"#,
    );
    let report = go(&scenario, 3);
    assert_eq!(report.verdict, Verdict::Stuck, "{:?}", report.violations);
    let v = report
        .violations
        .iter()
        .find(|v| v.check == "steps")
        .expect("a steps violation");
    assert_eq!(v.name, "leader_missing");
    assert_eq!(v.severity, Severity::Liveness);
    assert!(
        v.explanation
            .contains("steps[3] (leader within 1s): not within 1s"),
        "{}",
        v.explanation
    );
    // The run went on to its end; the script stopped at the failed step.
    assert_eq!(report.sim_time.as_nanos(), 5_000_000_000);
    assert!(
        report
            .check_notes
            .contains(&"steps: 3 of 5 ran".to_string()),
        "{:?}",
        report.check_notes
    );
}

#[test]
fn a_condition_broken_during_for_is_a_safety_violation_that_stops_the_run() {
    let scenario = raft(
        "5s",
        r#"
expect = "unexpected_leader"
[[steps]]
check = "no_leader"
for = "3s"
"#,
    );
    let report = go(&scenario, 1);
    assert_eq!(report.verdict, Verdict::Violation);
    assert!(report.expectation_met);
    let v = &report.violations[0];
    assert_eq!(
        (v.name.as_str(), v.severity),
        ("unexpected_leader", Severity::Safety)
    );
    assert!(
        v.time.as_nanos() < 1_000_000_000,
        "the first election is quick: {}",
        v.time
    );
    assert!(
        report.sim_time < faultlab::time::SimTime::ZERO + faultlab::time::SimDuration::from_secs(5)
    );
}

#[test]
fn no_commit_holds_without_a_majority_and_fails_with_one() {
    let stalled = raft(
        "6s",
        r#"
[[steps]]
check = "leader"
within = "2s"
[[steps]]
fault = { kind = "isolate", node = "@leader+1" }
[[steps]]
fault = { kind = "isolate", node = "@leader+2" }
[[steps]]
sleep = "100ms"
[[steps]]
check = "no_commit"
for = "1s"
[[steps]]
fault = { kind = "heal" }
[[steps]]
check = "committed"
index = 3
within = "2s"
"#,
    );
    let report = go(&stalled, 2);
    assert_eq!(report.verdict, Verdict::Pass, "{:?}", report.violations);
    let flowing = raft(
        "6s",
        r#"
expect = "unexpected_commit"
[[steps]]
check = "leader"
within = "2s"
[[steps]]
check = "no_commit"
for = "1s"
"#,
    );
    let report = go(&flowing, 2);
    assert!(report.expectation_met, "{:?}", report.violations);
}

#[test]
fn a_sleep_range_is_drawn_per_seed_within_its_bounds() {
    let scenario = raft(
        "3s",
        r#"
[[steps]]
sleep = ["100ms", "200ms"]
[[steps]]
fault = { kind = "crash", node = "n1" }
"#,
    );
    let mut times = std::collections::BTreeSet::new();
    for seed in 0..30 {
        let report = go(&scenario, seed);
        let line = report
            .narration
            .iter()
            .find(|l| l.contains("crash n1"))
            .expect("the crash is told");
        let at = faultlab::time::SimDuration::parse(line.split_whitespace().next().unwrap())
            .expect("a time stamp");
        assert!(
            (100_000_000..=200_000_000).contains(&at.as_nanos()),
            "seed {seed}: {line}"
        );
        assert!(report
            .narration
            .iter()
            .any(|l| l.contains("steps[0] (sleep 100ms..200ms): slept")));
        times.insert(at.as_nanos());
        assert_eq!(go(&scenario, seed).trace_hash, report.trace_hash);
    }
    assert!(times.len() > 20, "draws differ across seeds: {times:?}");
}

#[test]
fn stop_ends_the_run_where_the_script_says() {
    let scenario = raft(
        "30s",
        r#"
[[steps]]
check = "leader"
within = "5s"
[[steps]]
sleep = "1s"
[[steps]]
stop = true
"#,
    );
    let report = go(&scenario, 4);
    assert_eq!(report.verdict, Verdict::Pass, "{:?}", report.violations);
    let elected = report
        .narration
        .iter()
        .find(|l| l.contains("becomes leader"))
        .expect("an election is narrated")
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let elected = faultlab::time::SimDuration::parse(&elected).unwrap();
    // The narration's time stamps are rounded to the millisecond.
    let end = report.sim_time.as_nanos();
    let expected = elected.as_nanos() + 1_000_000_000;
    assert!(
        end.abs_diff(expected) < 1_000_000,
        "the run ends one second after the election, not at {}: {:#?}",
        report.sim_time,
        report.narration
    );
    assert!(report
        .check_notes
        .contains(&"steps: 3 of 3 ran".to_string()));
}

#[test]
fn a_relative_index_waits_for_entries_after_the_step_begins() {
    let scenario = raft(
        "8s",
        r#"
[[steps]]
check = "committed"
index = 10
within = "3s"
[[steps]]
check = "committed"
index = "+5"
within = "2s"
[[steps]]
fault = { kind = "isolate", node = "@leader+1" }
[[steps]]
fault = { kind = "isolate", node = "@leader+2" }
[[steps]]
sleep = "100ms"
[[steps]]
check = "committed"
index = "+1"
servers = 1
within = "1s"
"#,
    );
    let report = go(&scenario, 5);
    // With two of three servers cut off nothing new commits: the relative
    // index is the one after everything committed when the step began.
    assert_eq!(report.verdict, Verdict::Stuck, "{:?}", report.violations);
    let v = &report.violations[0];
    assert_eq!(v.name, "not_committed");
    assert!(
        v.explanation
            .contains("steps[5] (committed index +1 on 1 within 1s)"),
        "{}",
        v.explanation
    );
    let line = report
        .narration
        .iter()
        .find(|l| l.contains("steps[1] (committed index +5 on 3 within 2s)"))
        .expect("the relative check is told");
    // "index N committed on 3 servers": N is 5 above what the step saw, so above 10.
    let n: u64 = line
        .split("index ")
        .nth(2)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("an index in {line}"));
    assert!(n >= 15, "{line}");
}

#[test]
fn scripts_are_deterministic() {
    let scenario = raft(
        "6s",
        r#"
[[steps]]
check = "leader"
within = "2s"
[[steps]]
fault = { kind = "crash", node = "@random" }
[[steps]]
check = "leader"
within = "2s"
[[steps]]
fault = { kind = "restart", node = "@crashed" }
[[steps]]
check = "committed"
index = 4
within = "2s"
"#,
    );
    for seed in [1, 7, 99] {
        let a = go(&scenario, seed);
        let b = go(&scenario, seed);
        assert_eq!(a.trace_hash, b.trace_hash);
        assert_eq!(a.narration, b.narration);
    }
}

#[test]
fn mistakes_in_steps_name_their_line_and_field() {
    let cases: &[(&str, &str)] = &[
        (
            "[[steps]]\nsleep = \"1s\"\ncheck = \"leader\"\n",
            "field 'steps[0]': a step does one thing: give exactly one of fault, sleep, check, stop (this one gives sleep and check)",
        ),
        ("[[steps]]\nwithin = \"1s\"\n", "give exactly one of fault, sleep, check, stop"),
        ("[[steps]]\ncheck = \"boss\"\n", "field 'steps[0].check': unknown condition 'boss'; expected one of leader, no_leader, same_term, committed, no_commit"),
        ("[[steps]]\ncheck = \"committed\"\n", "field 'steps[0].index': a 'committed' check needs index"),
        ("[[steps]]\ncheck = \"committed\"\nindex = 0\n", "field 'steps[0].index': 0: expected a log index from 1"),
        ("[[steps]]\ncheck = \"committed\"\nindex = \"5\"\n", "field 'steps[0].index': \"5\": expected a log index from 1 (index = 12), or \"+K\""),
        ("[[steps]]\ncheck = \"committed\"\nindex = \"+0\"\n", "field 'steps[0].index': \"+0\": expected"),
        ("[[steps]]\ncheck = \"committed\"\nindex = 2\nservers = 4\n", "field 'steps[0].servers': 4; expected 1 to 3"),
        ("[[steps]]\ncheck = \"leader\"\nindex = 2\n", "field 'steps[0].index': does not apply to a check step; it takes within, for"),
        ("[[steps]]\ncheck = \"leader\"\nwithin = \"1s\"\nfor = \"1s\"\n", "field 'steps[0].for': give within"),
        ("[[steps]]\nstop = true\n[[steps]]\nsleep = \"1s\"\n", "field 'steps[0].stop': stop ends the run, so it must be the last step"),
        ("[[steps]]\nstop = false\n", "field 'steps[0].stop': expected stop = true"),
        ("[[steps]]\nsleep = \"0s\"\n", "field 'steps[0].sleep': expected a time longer than 0"),
        ("[[steps]]\nsleep = [\"9ms\", \"5ms\"]\n", "field 'steps[0].sleep': the range starts at 9ms, after its end 5ms"),
        ("[[steps]]\nsleep = \"fast\"\n", "expected a time such as \"2s\" or a range"),
        ("[[steps]]\nsleep = \"1s\"\nfor = \"1s\"\n", "field 'steps[0].for': does not apply to a sleep step"),
        (
            "[[steps]]\nfault = { kind = \"crash\", node = \"@leader\", at = \"1s\" }\n",
            "field 'steps[0].fault.at': a step's fault happens when the step begins",
        ),
        (
            "[[steps]]\nfault = { kind = \"crash\", node = \"n9\" }\n",
            "field 'steps[0].fault.node': names node 'n9'",
        ),
        ("[[steps]]\nsleep = \"3s\"\n[[steps]]\ncheck = \"leader\"\nwithin = \"8s\"\n", "field 'steps': the steps may take up to 11s"),
        ("[[faults]]\nkind = \"heal\"\n", "field 'faults[0].at': a fault needs at"),
    ];
    for (rest, expected) in cases {
        let message = error(&raft_text("10s", rest));
        assert!(message.contains(expected), "{rest}\n-> {message}");
        assert!(message.starts_with("steps.toml:"), "no line: {message}");
    }
    // A model whose nodes report no leader.
    let heartbeat = "model = \"heartbeat\"\nduration = \"5s\"\n[heartbeat]\ninterval = \"100ms\"\ntimeout = \"500ms\"\n[nodes]\ncount = 3\n[[steps]]\ncheck = \"leader\"\n";
    let message = error(heartbeat);
    assert!(message.contains("steps.toml:9: field 'steps[0].check': 'leader' reads which server leads, but this model's nodes report no leader role"), "{message}");
}
