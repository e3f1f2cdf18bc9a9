//! Throughput and goodput of one server as the offered load grows from
//! one to five times its capacity, under three queueing policies: FIFO,
//! LIFO, and FIFO with deadline-aware shedding (after the Amazon Builders'
//! Library's "Using load shedding to avoid overload").
//!
//! Each policy is a shipped scenario (`scenarios/service-shed-fifo.toml`,
//! `-lifo`, `-deadline`: 2 workers of 100ms mean, about 20 requests/s, a
//! queue of 100, 1s attempts and deadline, no retries) with its clients'
//! `rate` set to 5, 10, 15, 20 and 25 requests/s each (4 clients: 1x to 5x
//! the capacity). Throughput counts `served` records, goodput `done`
//! records with `good = true`, both per second from 5s to the end (15s),
//! each the median over the seeds.
//!
//! ```text
//! cargo run --release --example service_load              # 20 seeds
//! cargo run --release --example service_load -- --seeds 100
//! ```

use faultlab::check::{Checker, Violation, World};
use faultlab::engine::{EventKind, TraceEvent};
use faultlab::scenario::{run, RunOptions, Scenario};
use faultlab::SimTime;
use std::cell::Cell;
use std::rc::Rc;

/// The window the figures are taken over, in seconds.
const FROM: f64 = 5.0;
const TO: f64 = 15.0;

/// Counts `served` and good `done` records in the window.
struct Count {
    served: Rc<Cell<u64>>,
    good: Rc<Cell<u64>>,
}

impl Checker for Count {
    fn name(&self) -> &'static str {
        "count"
    }

    fn on_event(&mut self, event: &TraceEvent, _world: &World) -> Option<Violation> {
        let EventKind::Record(record) = &event.kind else {
            return None;
        };
        let t = event.time.as_secs_f64();
        if !(FROM..TO).contains(&t) {
            return None;
        }
        match record.kind.as_str() {
            "served" => self.served.set(self.served.get() + 1),
            "done" if record.detail["good"] == true => self.good.set(self.good.get() + 1),
            _ => {}
        }
        None
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

/// (throughput, goodput) per second of one run.
fn measure(scenario: &Scenario, seed: u64) -> (f64, f64) {
    let (served, good) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let count = Count {
        served: Rc::clone(&served),
        good: Rc::clone(&good),
    };
    let options = RunOptions {
        narrate: 0,
        extra_checks: vec![Box::new(count)],
        ..RunOptions::default()
    };
    let report = run(scenario, seed, options);
    // The scenario's own SLO check may judge the overloaded runs; this
    // example measures them, so only that verdict is expected.
    assert!(
        report.violations.iter().all(|v| v.check == "goodput_slo"),
        "{:?}",
        report.violations
    );
    let span = TO - FROM;
    (served.get() as f64 / span, good.get() as f64 / span)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn seeds_from_args() -> u64 {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--seeds") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| {
                eprintln!("usage: service_load [--seeds N]   (N >= 1)");
                std::process::exit(2)
            }),
        None => 20,
    }
}

fn main() {
    let seeds = seeds_from_args();
    println!("offered  policy    throughput/s  goodput/s  (median of {seeds} seeds)");
    for load in 1..=5u32 {
        for policy in ["fifo", "lifo", "deadline"] {
            let file = format!("scenarios/service-shed-{policy}.toml");
            let text = std::fs::read_to_string(&file).expect("run from the repository");
            assert!(
                text.contains("rate = 15.0"),
                "{file} no longer says rate = 15.0"
            );
            let rate = format!("rate = {}.0", 5 * load);
            let text = text.replace("rate = 15.0", &rate);
            let scenario = Scenario::parse(&text, &file).unwrap_or_else(|e| panic!("{e}"));
            let runs: Vec<(f64, f64)> = (0..seeds).map(|s| measure(&scenario, s)).collect();
            let throughput = median(runs.iter().map(|r| r.0).collect());
            let goodput = median(runs.iter().map(|r| r.1).collect());
            println!("{load}x       {policy:<9} {throughput:>12.1}  {goodput:>9.1}");
        }
    }
}
