//! Many seeds of one scenario, on all cores.
//!
//! Each seed is an independent, deterministic run; rayon spreads them over
//! threads (threads run whole simulations, never parts of one, so each run
//! stays single-threaded and deterministic). Results are collected and sorted
//! by seed, so the output does not depend on scheduling. A panic inside a run
//! is caught by the runner and reported with its seed; the sweep goes on.

use crate::scenario::{run, RunOptions, RunReport, Scenario, Verdict};
use rayon::prelude::*;
use std::ops::Range;

/// The outcome of one seed, small enough to keep for every seed.
#[derive(Clone, Debug)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// Its verdict.
    pub verdict: Verdict,
    /// The first violation's name and explanation, if any.
    pub violation: Option<(String, String)>,
    /// Whether the scenario's expectation was met.
    pub expectation_met: bool,
    /// Events processed.
    pub events: u64,
    /// The trace hash.
    pub trace_hash: String,
}

/// The outcome of a sweep.
#[derive(Clone, Debug, Default)]
pub struct SweepSummary {
    /// Seeds run.
    pub seeds_run: u64,
    /// Seeds that passed.
    pub passed: u64,
    /// Seeds whose run met the scenario's `expect`.
    pub expectation_met: u64,
    /// Events over all seeds.
    pub events: u64,
    /// Every seed that did not pass, by seed.
    pub failures: Vec<SeedOutcome>,
}

impl From<&RunReport> for SeedOutcome {
    fn from(r: &RunReport) -> Self {
        SeedOutcome {
            seed: r.seed,
            verdict: r.verdict,
            violation: r
                .violations
                .first()
                .map(|v| (v.name.clone(), v.explanation.clone())),
            expectation_met: r.expectation_met,
            events: r.stats.events,
            trace_hash: r.trace_hash.clone(),
        }
    }
}

/// Runs every seed in `seeds` of the scenario's built-in model (using the
/// current rayon pool), calling `progress` after each seed. `shard = (k, n)`
/// keeps only seeds with `seed % n == k`, for splitting a sweep across machines.
pub fn sweep(
    scenario: &Scenario,
    seeds: Range<u64>,
    shard: Option<(u64, u64)>,
    progress: &(dyn Fn() + Sync),
) -> SweepSummary {
    sweep_with(seeds, shard, progress, |seed| {
        run(
            scenario,
            seed,
            RunOptions {
                narrate: 0,
                ..RunOptions::default()
            },
        )
    })
}

/// Runs `run_seed` for every seed (in parallel) and summarises; use it with
/// [`crate::scenario::run_custom`] to sweep your own protocol.
pub fn sweep_with(
    seeds: Range<u64>,
    shard: Option<(u64, u64)>,
    progress: &(dyn Fn() + Sync),
    run_seed: impl Fn(u64) -> RunReport + Sync,
) -> SweepSummary {
    let outcomes: Vec<SeedOutcome> = seeds
        .filter(|s| shard.is_none_or(|(k, n)| s % n == k))
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|seed| {
            let outcome = SeedOutcome::from(&run_seed(seed));
            progress();
            outcome
        })
        .collect();
    let mut summary = SweepSummary {
        seeds_run: outcomes.len() as u64,
        ..SweepSummary::default()
    };
    for outcome in outcomes {
        summary.events += outcome.events;
        summary.expectation_met += u64::from(outcome.expectation_met);
        if outcome.verdict == Verdict::Pass {
            summary.passed += 1;
        } else {
            summary.failures.push(outcome);
        }
    }
    summary.failures.sort_by_key(|f| f.seed);
    summary
}
