//! The experiment of "Exponential Backoff And Jitter" (Marc Brooker, AWS
//! Architecture Blog, 2015), re-run on the `backoff` model: N clients each
//! make one conditional write to a store with optimistic concurrency and
//! retry conflicts with a backoff policy; how much work (calls to the
//! store) and how much time until the last client is done?
//!
//! For N in {10, 20, 50, 100}, 20 seeds each, every strategy: the same
//! world as `scenarios/backoff-*.toml` (one store taking 1ms per call, one
//! at a time; one-way latency uniform 0.5-1.5ms; all clients start at
//! once; base 1ms, cap 1s). It prints the mean calls (reads and writes the
//! store served) and the mean completion time (true time of the last
//! client's `done`) per strategy and N, counted by a small observer of its
//! own over each run's records (so it needs no other check). Deterministic:
//! the same table every time.
//!
//! ```text
//! cargo run --release --example bench_backoff
//! cargo run --release --example bench_backoff -- --seeds 5 --clients 10,50 --base 5ms --cap 100ms
//! ```
//!
//! Last line: `calls_exponential_over_full_jitter_at_n<N>=<ratio>` at the
//! largest N.

use faultlab::check::{Checker, Violation, World};
use faultlab::engine::{EventKind, TraceEvent};
use faultlab::scenario::{run, RunOptions, Scenario, Verdict};
use faultlab::SimTime;
use std::cell::RefCell;
use std::rc::Rc;

#[path = "common/alloc.rs"]
mod alloc;

/// The strategies, in the blog's order.
const STRATEGIES: [&str; 5] = [
    "none",
    "exponential",
    "full_jitter",
    "equal_jitter",
    "decorrelated",
];

/// The experiment's knobs.
struct Setup {
    seeds: u64,
    clients: Vec<u32>,
    base: String,
    cap: String,
    service: String,
    latency: [String; 2],
    workers: Option<u32>,
}

/// What one run did.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    /// Calls the store served (reads and writes).
    served: u64,
    /// Logical writes ended ok.
    ok: u64,
    /// Logical writes ended otherwise (gave up).
    failed: u64,
    /// True time of the last `done`.
    last_done: SimTime,
}

/// Counts the records of one run into a shared [`Tally`].
struct Counter(Rc<RefCell<Tally>>);

impl Checker for Counter {
    fn name(&self) -> &'static str {
        "bench_backoff"
    }

    fn on_event(&mut self, event: &TraceEvent, _world: &World) -> Option<Violation> {
        if let EventKind::Record(record) = &event.kind {
            let mut tally = self.0.borrow_mut();
            match record.kind.as_str() {
                "served" => tally.served += 1,
                "done" => {
                    if record.detail.get("ok").and_then(|v| v.as_bool()) == Some(true) {
                        tally.ok += 1;
                    } else {
                        tally.failed += 1;
                    }
                    tally.last_done = event.time;
                }
                _ => {}
            }
        }
        None
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

fn scenario(setup: &Setup, strategy: &str, clients: u32) -> Scenario {
    let policy = match strategy {
        "none" => r#"{ kind = "none" }"#.to_string(),
        kind => format!(
            r#"{{ kind = "{kind}", base = "{}", cap = "{}" }}"#,
            setup.base, setup.cap
        ),
    };
    let workers = setup
        .workers
        .map_or(String::new(), |w| format!("workers = {w}\n"));
    let text = format!(
        r#"
model = "backoff"
duration = "3600s"
checks = ["exactly_once"]
[backoff]
policy = {policy}
service = "{}"
{workers}max_attempts = 100000
[workload]
clients = {clients}
think = ["0ms", "0ms"]
timeout = "1000s"
[nodes]
count = 1
[network]
latency = {{ dist = "uniform", min = "{}", max = "{}" }}
"#,
        setup.service, setup.latency[0], setup.latency[1]
    );
    Scenario::parse(&text, &format!("bench-{strategy}-{clients}.toml"))
        .unwrap_or_else(|e| panic!("the bench's scenario is valid: {e}"))
}

/// Runs one seed and returns its tally.
fn run_once(scenario: &Scenario, seed: u64, clients: u32) -> Tally {
    let tally = Rc::new(RefCell::new(Tally::default()));
    let report = run(
        scenario,
        seed,
        RunOptions {
            narrate: 0,
            extra_checks: vec![Box::new(Counter(Rc::clone(&tally)))],
            ..RunOptions::default()
        },
    );
    assert_eq!(
        report.verdict,
        Verdict::Pass,
        "{} seed {seed}: {:?}",
        scenario.file,
        report.violations
    );
    let tally = *tally.borrow();
    assert_eq!(
        tally.ok + tally.failed,
        u64::from(clients),
        "{} seed {seed}: every client ends",
        scenario.file
    );
    tally
}

fn parse_args() -> Setup {
    let mut setup = Setup {
        seeds: 20,
        clients: vec![10, 20, 50, 100],
        base: "1ms".into(),
        cap: "1s".into(),
        service: "1ms".into(),
        latency: ["0.5ms".into(), "1.5ms".into()],
        workers: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--seeds" => setup.seeds = value.parse().expect("--seeds N"),
            "--clients" => {
                setup.clients = value
                    .split(',')
                    .map(|n| n.parse().expect("--clients 10,20"))
                    .collect()
            }
            "--base" => setup.base = value,
            "--cap" => setup.cap = value,
            "--service" => setup.service = value,
            "--workers" => setup.workers = Some(value.parse().expect("--workers N")),
            "--latency" => {
                let (low, high) = value.split_once(',').expect("--latency MIN,MAX");
                setup.latency = [low.into(), high.into()];
            }
            _ => {
                eprintln!("usage: bench_backoff [--seeds N] [--clients 10,20,50,100] [--base 1ms] [--cap 1s] [--service 1ms] [--workers N] [--latency 0.5ms,1.5ms]");
                std::process::exit(2);
            }
        }
    }
    setup
}

fn main() {
    let setup = parse_args();
    println!(
        "base {} cap {} service {} latency {}-{} seeds {}",
        setup.base, setup.cap, setup.service, setup.latency[0], setup.latency[1], setup.seeds
    );
    println!(
        "{:>4} {:<13} {:>10} {:>14} {:>6}",
        "N", "strategy", "calls", "completion_s", "failed"
    );
    let mut ratio = None;
    for &clients in &setup.clients {
        let mut calls_of = Vec::new();
        for strategy in STRATEGIES {
            let scenario = scenario(&setup, strategy, clients);
            let tallies: Vec<Tally> = (0..setup.seeds)
                .map(|seed| run_once(&scenario, seed, clients))
                .collect();
            let n = tallies.len() as f64;
            let calls = tallies.iter().map(|t| t.served as f64).sum::<f64>() / n;
            let completion = tallies
                .iter()
                .map(|t| t.last_done.as_nanos() as f64 / 1e9)
                .sum::<f64>()
                / n;
            let failed: u64 = tallies.iter().map(|t| t.failed).sum();
            println!("{clients:>4} {strategy:<13} {calls:>10.0} {completion:>14.3} {failed:>6}");
            calls_of.push((strategy, calls));
        }
        let get = |name: &str| calls_of.iter().find(|(s, _)| *s == name).map(|c| c.1);
        if let (Some(e), Some(f)) = (get("exponential"), get("full_jitter")) {
            ratio = Some((clients, e / f));
        }
    }
    if let Some((clients, r)) = ratio {
        println!("calls_exponential_over_full_jitter_at_n{clients}={r:.2}");
    }
}
