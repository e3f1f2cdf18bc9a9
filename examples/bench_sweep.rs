//! The sweep scaling benchmark: one scenario's seeds with 1 thread, then with
//! 2 threads, in one process.
//!
//! Runs `scenarios/raft-chaos.toml` (or `--scenario FILE`) over seeds
//! `0..200` (or `--seeds N` for `0..N`) through [`faultlab::sweep::sweep`],
//! the function `faultlab sweep` calls, inside a rayon pool of 1 thread and
//! then of 2 threads (what `faultlab sweep --jobs 1` and `--jobs 2` build).
//! The two sweeps must agree on passed and failed counts; the benchmark
//! stops with an error if they do not.
//!
//! ```text
//! cargo run --release --example bench_sweep
//! cargo run --release --example bench_sweep -- --seeds 200 --scenario scenarios/raft-chaos.toml
//! ```
//!
//! Last line:
//! `speedup=<float> one_thread_seeds_per_sec=<float> two_threads_seeds_per_sec=<float> peak_rss_mb=<float>`,
//! where speedup is the two-thread rate over the one-thread rate. On a
//! machine whose other processes use the cores, the speedup falls short of 2
//! for that reason too.

use faultlab::scenario::Scenario;
use faultlab::sweep::{sweep, SweepSummary};
use std::time::Instant;

#[path = "common/alloc.rs"]
mod alloc;
#[path = "common/rss.rs"]
mod rss;

/// Sweeps seeds `0..seeds` in a pool of `threads`; returns the summary and
/// the seeds per wall-clock second.
fn timed_sweep(scenario: &Scenario, seeds: u64, threads: usize) -> (SweepSummary, f64) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a rayon pool starts");
    let started = Instant::now();
    let summary = pool.install(|| sweep(scenario, 0..seeds, None, &|| {}));
    let elapsed = started.elapsed().as_secs_f64();
    (summary, seeds as f64 / elapsed)
}

fn main() {
    let mut seeds = 200u64;
    let mut path = "scenarios/raft-chaos.toml".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--seeds", Some(v)) if v.parse::<u64>().is_ok_and(|n| n > 0) => {
                seeds = v.parse().expect("checked above")
            }
            ("--scenario", Some(v)) => path = v,
            _ => {
                eprintln!("usage: bench_sweep [--seeds N>0] [--scenario FILE]");
                std::process::exit(2);
            }
        }
    }
    let scenario = Scenario::load(&path).unwrap_or_else(|e| {
        eprintln!("bench_sweep: {path}: {e}");
        std::process::exit(2);
    });
    let (one, one_rate) = timed_sweep(&scenario, seeds, 1);
    println!(
        "threads=1 seeds={} passed={} failed={} seeds_per_sec={one_rate:.1}",
        one.seeds_run, one.passed, one.failed
    );
    let (two, two_rate) = timed_sweep(&scenario, seeds, 2);
    println!(
        "threads=2 seeds={} passed={} failed={} seeds_per_sec={two_rate:.1}",
        two.seeds_run, two.passed, two.failed
    );
    if (one.passed, one.failed, one.timed_out) != (two.passed, two.failed, two.timed_out) {
        eprintln!("bench_sweep: the 1-thread and 2-thread sweeps disagree");
        std::process::exit(1);
    }
    println!(
        "speedup={:.2} one_thread_seeds_per_sec={one_rate:.1} two_threads_seeds_per_sec={two_rate:.1} peak_rss_mb={}",
        two_rate / one_rate,
        rss::peak_rss_mb()
    );
}
