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
//! ```
//!
//! Runs on one thread. Last line:
//! `seeds_per_sec=<float> events_per_sec=<float> ops_per_seed=<float> peak_rss_mb=<float>`
//! (`peak_rss_mb` is the process's peak resident set size, `VmHWM` on Linux,
//! `unknown` elsewhere).

use faultlab::scenario::{run, RunOptions, Scenario, Verdict};
use std::time::Instant;

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

fn main() {
    let mut seeds = 200u64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next().and_then(|v| v.parse().ok())) {
            ("--seeds", Some(n)) if n > 0 => seeds = n,
            _ => {
                eprintln!("usage: bench_raft [--seeds N>0]");
                std::process::exit(2);
            }
        }
    }
    let scenario =
        Scenario::parse(SCENARIO, "bench_raft.rs").expect("the benchmark scenario is valid");
    let (mut events, mut ops, mut failed) = (0u64, 0u64, Vec::new());
    let started = Instant::now();
    for seed in 0..seeds {
        let report = run(
            &scenario,
            seed,
            RunOptions {
                narrate: 0,
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
    println!(
        "seeds={seeds} events={events} operations={ops} failed={} {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    println!(
        "seeds_per_sec={:.1} events_per_sec={:.0} ops_per_seed={:.1} peak_rss_mb={}",
        seeds as f64 / elapsed,
        events as f64 / elapsed,
        ops as f64 / seeds as f64,
        rss::peak_rss_mb()
    );
}
