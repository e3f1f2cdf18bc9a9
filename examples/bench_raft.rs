//! The Raft benchmark: how many seeded runs per second one core judges.
//!
//! Each seed: 5 Raft servers (election timeout 150-300ms, heartbeat 50ms),
//! latency uniform 1-10ms with 1% loss, 3 closed-loop clients (think time
//! uniform 0-10ms), seeded chaos with a mean of one fault per simulated
//! second (crashes, partitions, pauses, clock jumps, loss bursts, each every
//! 5s on average) until 7s, then healing; 10 simulated seconds; all checks on:
//! election safety, log matching, linearizability, convergence, progress.
//!
//! ```text
//! cargo run --release --example bench_raft -- --seeds 200
//! cargo run --release --example bench_raft -- --seeds 200 --no-checks --no-hash
//! cargo run --release --example bench_raft -- --seeds 200 --observing
//! ```
//!
//! Runs on one thread. `--no-checks` runs no check (nor the world they
//! read: history, context), `--no-hash` computes no trace hash: what is
//! left is the simulation and the records the model makes. Last line:
//! `seeds_per_sec=<float> events_per_sec=<float> ops_per_seed=<float> peak_rss_mb=<float>`
//! (`peak_rss_mb` is the process's peak resident set size, `VmHWM` on Linux,
//! `unknown` elsewhere).
//!
//! `--observing` measures what observing a run costs: it times the seeds
//! with everything on and with `--no-checks --no-hash`, alternately in
//! three rounds, and ends with
//! `observing_share=<float> full_seeds_per_sec=<float> bare_seeds_per_sec=<float> peak_rss_mb=<float>`,
//! where the share is `1 - full/bare` (medians): the fraction of a judged
//! run's time spent hashing and checking it.

use faultlab::scenario::{run, RunOptions, Scenario, Verdict};
use std::time::Instant;

#[path = "common/alloc.rs"]
mod alloc;
#[path = "common/rss.rs"]
mod rss;

const SCENARIO: &str = r#"
model = "raft"
duration = "10s"
checks = ["election_safety", "log_matching", "linearizability", "convergence", "progress"]
[raft]
election_timeout = ["150ms", "300ms"]
heartbeat_interval = "50ms"
[workload]
clients = 3
think = ["0ms", "10ms"]
timeout = "300ms"
keys = 3
[nodes]
count = 5
[network]
latency = { dist = "uniform", min = "1ms", max = "10ms" }
loss = 0.01
[chaos]
until = "7s"
crash_every = "5s"
downtime = ["200ms", "2s"]
partition_every = "5s"
partition_duration = ["300ms", "2s"]
pause_every = "5s"
pause_duration = ["50ms", "500ms"]
clock_jump_every = "5s"
clock_jump_max = "300ms"
loss_burst_every = "5s"
loss_burst_probability = 0.3
loss_burst_duration = ["200ms", "1s"]
[liveness]
within = "3s"
"#;

/// What to time.
struct Args {
    seeds: u64,
    checks: bool,
    hash: bool,
    observing: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut parsed = Args {
        seeds: 200,
        checks: true,
        hash: true,
        observing: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--seeds" => match args.next().and_then(|v| v.parse().ok()) {
                Some(n) if n > 0 => parsed.seeds = n,
                _ => return Err("--seeds takes a number above 0".into()),
            },
            "--no-checks" => parsed.checks = false,
            "--no-hash" => parsed.hash = false,
            "--observing" => parsed.observing = true,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if parsed.observing && !(parsed.checks && parsed.hash) {
        return Err("--observing times both variants itself: drop --no-checks/--no-hash".into());
    }
    Ok(parsed)
}

/// What one pass over the seeds measured.
struct Measured {
    seeds_per_sec: f64,
    events: u64,
    ops: u64,
    failed: Vec<(u64, String)>,
    elapsed: f64,
}

fn measure(scenario: &Scenario, seeds: u64, checks: bool, hash: bool) -> Measured {
    let (mut events, mut ops, mut failed) = (0u64, 0u64, Vec::new());
    let started = Instant::now();
    for seed in 0..seeds {
        let report = run(
            scenario,
            seed,
            RunOptions {
                narrate: 0,
                checks,
                trace_hash: hash,
                ..RunOptions::default()
            },
        );
        events += report.stats.events;
        ops += report.history.operation_count() as u64;
        if report.verdict != Verdict::Pass {
            failed.push((
                seed,
                report
                    .violations
                    .first()
                    .map(|v| v.name.clone())
                    .unwrap_or_default(),
            ));
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    Measured {
        seeds_per_sec: seeds as f64 / elapsed,
        events,
        ops,
        failed,
        elapsed,
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("bench_raft: {e}");
        eprintln!("usage: bench_raft [--seeds N>0] [--no-checks] [--no-hash] [--observing]");
        std::process::exit(2);
    });
    let scenario =
        Scenario::parse(SCENARIO, "bench_raft.rs").expect("the benchmark scenario is valid");
    if args.observing {
        let (mut full, mut bare) = (Vec::new(), Vec::new());
        for round in 1..=3 {
            let f = measure(&scenario, args.seeds, true, true);
            let b = measure(&scenario, args.seeds, false, false);
            println!(
                "round {round}: full {:.1} seeds/s, bare (--no-checks --no-hash) {:.1} seeds/s",
                f.seeds_per_sec, b.seeds_per_sec
            );
            full.push(f.seeds_per_sec);
            bare.push(b.seeds_per_sec);
        }
        let (full, bare) = (median(full), median(bare));
        println!(
            "observing_share={:.2} full_seeds_per_sec={full:.1} bare_seeds_per_sec={bare:.1} peak_rss_mb={}",
            1.0 - full / bare,
            rss::peak_rss_mb()
        );
        return;
    }
    let m = measure(&scenario, args.seeds, args.checks, args.hash);
    println!(
        "seeds={} events={} operations={} failed={} {:?} checks={} hash={}",
        args.seeds,
        m.events,
        m.ops,
        m.failed.len(),
        &m.failed[..m.failed.len().min(5)],
        args.checks,
        args.hash
    );
    println!(
        "seeds_per_sec={:.1} events_per_sec={:.0} ops_per_seed={:.1} peak_rss_mb={}",
        m.seeds_per_sec,
        m.events as f64 / m.elapsed,
        m.ops as f64 / args.seeds as f64,
        rss::peak_rss_mb()
    );
}
