//! The `backoff` model: its scenarios meet their `expect` on several seeds,
//! it reproduces the conclusions of "Exponential Backoff And Jitter"
//! (Brooker, 2015) at N = 50, `exactly_once` catches a retried write that
//! lands twice, and mistakes in `[backoff]` name their field.

mod common;

use faultlab::check::{Checker, Violation, World};
use faultlab::engine::{EventKind, TraceEvent};
use faultlab::scenario::{run, RunOptions, Scenario};
use faultlab::SimTime;
use std::cell::RefCell;
use std::rc::Rc;

fn backoff_scenarios() -> Vec<String> {
    let files: Vec<String> = common::scenario_files()
        .into_iter()
        .filter(|f| f.starts_with("scenarios/backoff-"))
        .collect();
    assert_eq!(
        files.len(),
        7,
        "five strategies, the double write and the ok_on_timeout bug: {files:?}"
    );
    files
}

#[test]
fn every_backoff_scenario_meets_its_expectation_on_several_seeds() {
    for file in backoff_scenarios() {
        let scenario = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let seeds = if scenario.expect == "pass" {
            0..4
        } else {
            0..1
        };
        for seed in seeds {
            let report = run(
                &scenario,
                seed,
                RunOptions {
                    narrate: 0,
                    ..RunOptions::default()
                },
            );
            assert!(
                report.expectation_met,
                "{file} seed {seed}: expected {}, got {:?}",
                scenario.expect, report.violations
            );
            let count = |kind: &str| {
                report
                    .observations
                    .iter()
                    .find(|(k, _)| k == kind)
                    .map_or(0, |(_, n)| *n)
            };
            if scenario.expect == "pass" {
                assert_eq!(count("done"), 50, "{file} seed {seed}: every client ends");
                assert_eq!(count("write"), 50, "{file} seed {seed}: every write lands");
                if scenario.faults.is_empty() {
                    assert_eq!(
                        count("served"),
                        2 * count("call"),
                        "{file}: a read and a write per attempt"
                    );
                } else {
                    // backoff-exponential.toml's lossy moment: a lost call
                    // is never served.
                    assert!(
                        count("served") <= 2 * count("call"),
                        "{file}: at most a read and a write per attempt"
                    );
                }
            }
        }
    }
}

/// Calls served and the time of the last `done`, counted from the records.
#[derive(Clone, Copy, Default)]
struct Tally {
    served: u64,
    last_done: SimTime,
}

struct Counter(Rc<RefCell<Tally>>);

impl Checker for Counter {
    fn name(&self) -> &'static str {
        "tally"
    }
    fn on_event(&mut self, event: &TraceEvent, _world: &World) -> Option<Violation> {
        if let EventKind::Record(r) = &event.kind {
            let mut t = self.0.borrow_mut();
            match r.kind.as_str() {
                "served" => t.served += 1,
                "done" => t.last_done = event.time,
                _ => {}
            }
        }
        None
    }
    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

/// Mean calls and mean completion (s) of a scenario over seeds 0..4.
fn measure(strategy: &str) -> (f64, f64) {
    let scenario = Scenario::load(&format!("scenarios/backoff-{strategy}.toml")).unwrap();
    let (mut calls, mut secs) = (0.0, 0.0);
    for seed in 0..4 {
        let tally = Rc::new(RefCell::new(Tally::default()));
        let options = RunOptions {
            narrate: 0,
            extra_checks: vec![Box::new(Counter(Rc::clone(&tally)))],
            ..RunOptions::default()
        };
        run(&scenario, seed, options);
        let t = *tally.borrow();
        calls += t.served as f64 / 4.0;
        secs += t.last_done.as_nanos() as f64 / 1e9 / 4.0;
    }
    (calls, secs)
}

#[test]
fn the_blogs_conclusions_hold_at_fifty_clients() {
    let (exp_calls, exp_secs) = measure("exponential");
    let (none_calls, _) = measure("none");
    let jittered: Vec<(&str, (f64, f64))> = ["full_jitter", "equal_jitter", "decorrelated"]
        .into_iter()
        .map(|s| (s, measure(s)))
        .collect();
    // No-jitter exponential is the slowest to finish, by far.
    for (name, (_, secs)) in &jittered {
        assert!(
            exp_secs > 5.0 * secs,
            "exponential {exp_secs}s vs {name} {secs}s"
        );
    }
    // Every jittered strategy makes far fewer calls than no-jitter
    // exponential, which makes barely fewer than no backoff at all.
    for (name, (calls, _)) in &jittered {
        assert!(
            *calls < 0.7 * exp_calls,
            "{name} {calls} calls vs exponential {exp_calls}"
        );
    }
    assert!(
        exp_calls > 0.7 * none_calls,
        "exponential {exp_calls} vs none {none_calls}"
    );
    // Full jitter is about the fewest (within 10% of the best).
    let fewest = jittered
        .iter()
        .map(|(_, (c, _))| *c)
        .fold(f64::MAX, f64::min);
    let full = jittered[0].1 .0;
    assert!(
        full <= 1.1 * fewest,
        "full jitter {full} vs fewest {fewest}"
    );
}

fn parse(table: &str, nodes: u32) -> Result<Scenario, String> {
    let text = format!(
        r#"
model = "backoff"
duration = "1s"
[backoff]
{table}
[workload]
clients = 2
timeout = "1s"
[nodes]
count = {nodes}
"#
    );
    Scenario::parse(&text, "t.toml").map_err(|e| e.to_string())
}

#[test]
fn mistakes_in_the_backoff_table_name_their_field() {
    let ok = r#"policy = { kind = "full_jitter", base = "1ms", cap = "1s" }"#;
    assert!(parse(ok, 1).is_ok());
    let err = parse(
        r#"policy = { kind = "exponential", base = "10ms", cap = "1ms" }"#,
        1,
    )
    .unwrap_err();
    assert!(
        err.contains("backoff.policy") && err.contains("`cap`"),
        "{err}"
    );
    let err = parse(&format!("{ok}\nworkers = 0"), 1).unwrap_err();
    assert!(err.contains("backoff.workers"), "{err}");
    let err = parse(&format!("{ok}\nmax_attempts = 0"), 1).unwrap_err();
    assert!(err.contains("backoff.max_attempts"), "{err}");
    let err = parse(&format!("{ok}\nservice = \"0ms\""), 1).unwrap_err();
    assert!(err.contains("backoff.service"), "{err}");
    let err = parse(ok, 2).unwrap_err();
    assert!(err.contains("exactly one server"), "{err}");
    let err = parse(r#"policy = { kind = "linear" }"#, 1).unwrap_err();
    assert!(err.contains("linear"), "{err}");
}
