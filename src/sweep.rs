//! Many seeds of one scenario, on all cores.
//!
//! Each seed is an independent, deterministic run; rayon spreads them over
//! threads (threads run whole simulations, never parts of one, so each run
//! stays single-threaded and deterministic). Seeds are streamed, never
//! materialized, and outcomes are folded into a summary as they come, so a
//! sweep's memory does not grow with its seed range: it keeps the
//! [`MAX_FAILURES_KEPT`] failing seeds with the lowest numbers (and counts
//! the rest), which does not depend on scheduling. The one exception is the
//! checks' metrics: 8 bytes per seed and metric, for exact medians. A panic inside a run is
//! caught by the runner and reported with its seed; the sweep goes on.
//! So does a seed stopped by a wall-clock limit ([`sweep_timed`]): it is
//! counted apart, as timed out, neither passed nor failed.

use crate::scenario::{run, RunOptions, RunReport, Scenario, Verdict};
use rayon::prelude::*;
use std::collections::BTreeMap;
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
    /// The run's metrics, sorted by name.
    pub metrics: Vec<(String, f64)>,
}

/// How many failing seeds a sweep lists (the lowest); the rest are counted.
pub const MAX_FAILURES_KEPT: usize = 1000;

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
    /// Seeds that did not pass (at most [`MAX_FAILURES_KEPT`] are listed);
    /// timed-out seeds are not among them.
    pub failed: u64,
    /// The failing seeds with the lowest numbers, sorted by seed.
    pub failures: Vec<SeedOutcome>,
    /// Seeds stopped by the wall-clock limit ([`Verdict::Timeout`]), so
    /// neither passed nor failed (at most [`MAX_FAILURES_KEPT`] are listed).
    pub timed_out: u64,
    /// The timed-out seeds with the lowest numbers, sorted by seed.
    pub timeouts: Vec<SeedOutcome>,
    /// Every seed's value of each metric (8 bytes per seed and metric; in
    /// no particular order: see [`SweepSummary::metric_stats`]).
    pub metric_values: BTreeMap<String, Vec<f64>>,
}

/// A metric over the seeds of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricStats {
    /// The metric's name.
    pub name: String,
    /// Seeds that reported it.
    pub count: usize,
    /// The least value.
    pub min: f64,
    /// The median (the lower of the two middle values).
    pub median: f64,
    /// The 90th percentile (nearest rank).
    pub p90: f64,
    /// The 99th percentile (nearest rank).
    pub p99: f64,
    /// The greatest value.
    pub max: f64,
}

impl SweepSummary {
    /// Adds one seed's outcome.
    fn add(mut self, outcome: SeedOutcome) -> SweepSummary {
        self.seeds_run += 1;
        self.events += outcome.events;
        self.expectation_met += u64::from(outcome.expectation_met);
        // A timed-out run's metrics measure a run cut short: left out.
        let metrics = match outcome.verdict {
            Verdict::Timeout => &[][..],
            _ => &outcome.metrics[..],
        };
        for (name, value) in metrics {
            match self.metric_values.get_mut(name) {
                Some(values) => values.push(*value),
                None => {
                    self.metric_values.insert(name.clone(), vec![*value]);
                }
            }
        }
        if outcome.verdict == Verdict::Pass {
            self.passed += 1;
        } else if outcome.verdict == Verdict::Timeout {
            self.timed_out += 1;
            self.timeouts.push(outcome);
            if self.timeouts.len() > 2 * MAX_FAILURES_KEPT {
                self.keep_lowest_failures();
            }
        } else {
            self.failed += 1;
            self.failures.push(outcome);
            if self.failures.len() > 2 * MAX_FAILURES_KEPT {
                self.keep_lowest_failures();
            }
        }
        self
    }

    /// Joins the summaries of two disjoint sets of seeds.
    fn merge(mut self, other: SweepSummary) -> SweepSummary {
        self.seeds_run += other.seeds_run;
        self.passed += other.passed;
        self.failed += other.failed;
        self.timed_out += other.timed_out;
        self.timeouts.extend(other.timeouts);
        self.expectation_met += other.expectation_met;
        self.events += other.events;
        self.failures.extend(other.failures);
        self.keep_lowest_failures();
        for (name, values) in other.metric_values {
            self.metric_values.entry(name).or_default().extend(values);
        }
        self
    }

    /// Count, min, median, p90, p99 and max of each metric, by name. The values
    /// are sorted first, so the figures do not depend on which thread ran
    /// which seed.
    pub fn metric_stats(&self) -> Vec<MetricStats> {
        metric_stats(&self.metric_values)
    }

    /// The lowest failing seed (a verdict other than pass) and how many
    /// seeds of `seeds` (of the shard, if any) come up to and including it:
    /// the seeds a search in seed order runs to find its first failure.
    /// `None` if every seed passed.
    pub fn first_failure(
        &self,
        seeds: &Range<u64>,
        shard: Option<(u64, u64)>,
    ) -> Option<(u64, u64)> {
        let first = self.failures.first()?.seed;
        debug_assert!(
            seeds.contains(&first),
            "failing seed {first} outside the sweep"
        );
        Some((first, seed_count(&(seeds.start..first + 1), shard)))
    }

    fn keep_lowest_failures(&mut self) {
        for list in [&mut self.failures, &mut self.timeouts] {
            list.sort_by_key(|f| f.seed);
            list.truncate(MAX_FAILURES_KEPT);
        }
    }
}

/// Count, min, median, p90, p99 and max of each metric of `values` (every
/// seed's value by metric name, in any order), by name; see
/// [`SweepSummary::metric_stats`].
pub fn metric_stats(values: &BTreeMap<String, Vec<f64>>) -> Vec<MetricStats> {
    values
        .iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(name, values)| {
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let n = sorted.len();
            // Nearest rank: the smallest value with at least q of the values at or below it.
            let rank = |q: f64| sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
            MetricStats {
                name: name.clone(),
                count: n,
                min: sorted[0],
                median: rank(0.5),
                p90: rank(0.9),
                p99: rank(0.99),
                max: sorted[n - 1],
            }
        })
        .collect()
}

/// How many seeds of `seeds` a sweep runs: all, or those with
/// `seed % n == k` for `shard = (k, n)`. Computed, not counted.
pub fn seed_count(seeds: &Range<u64>, shard: Option<(u64, u64)>) -> u64 {
    let width = seeds.end.saturating_sub(seeds.start);
    match shard {
        None => width,
        Some((k, n)) => {
            debug_assert!(k < n, "shard {k}/{n}");
            // Seeds below x with seed % n == k.
            let below = |x: u64| x / n + u64::from(x % n > k);
            below(seeds.end) - below(seeds.start.min(seeds.end))
        }
    }
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
            metrics: r.metrics.clone(),
        }
    }
}

/// Runs every seed in `seeds` with the scenario's model (using the
/// current rayon pool), calling `progress` after each seed. `shard = (k, n)`
/// keeps only seeds with `seed % n == k`, for splitting a sweep across machines.
pub fn sweep(
    scenario: &Scenario,
    seeds: Range<u64>,
    shard: Option<(u64, u64)>,
    progress: &(dyn Fn() + Sync),
) -> SweepSummary {
    sweep_timed(scenario, seeds, shard, None, progress)
}

/// [`sweep`], stopping each seed whose run takes longer than `seed_timeout`
/// in wall-clock time ([`RunOptions::wall_clock_limit`]): it is counted in
/// [`SweepSummary::timed_out`] and the sweep goes on. The seeds that finish
/// run exactly as without the limit.
pub fn sweep_timed(
    scenario: &Scenario,
    seeds: Range<u64>,
    shard: Option<(u64, u64)>,
    seed_timeout: Option<std::time::Duration>,
    progress: &(dyn Fn() + Sync),
) -> SweepSummary {
    sweep_with(seeds, shard, progress, |seed| {
        run(
            scenario,
            seed,
            RunOptions {
                narrate: 0,
                series: false,
                wall_clock_limit: seed_timeout,
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
    let mut summary = seeds
        .into_par_iter()
        .filter(|s| shard.is_none_or(|(k, n)| s % n == k))
        .map(|seed| {
            let outcome = SeedOutcome::from(&run_seed(seed));
            progress();
            outcome
        })
        .fold(SweepSummary::default, SweepSummary::add)
        .reduce(SweepSummary::default, SweepSummary::merge);
    summary.keep_lowest_failures();
    debug_assert_eq!(
        summary.seeds_run,
        summary.passed + summary.failed + summary.timed_out
    );
    summary
}

/// A run's wall-clock limit: read outside the simulated world, every
/// [`crate::scenario::run::WALL_CLOCK_CHECK_EVERY`] steps, so it never changes what a run does
/// before it stops it.
pub struct WallClock {
    /// The limit.
    pub limit: std::time::Duration,
    started: std::time::Instant,
    steps: u32,
    /// The wall-clock time taken when the limit stopped the run.
    pub stopped_after: Option<std::time::Duration>,
}

impl WallClock {
    /// Starts the clock of a run limited to `limit` (the one place a run
    /// reads the wall clock; see [`crate::scenario::RunOptions::wall_clock_limit`]).
    pub fn start(limit: std::time::Duration) -> WallClock {
        WallClock {
            limit,
            started: std::time::Instant::now(),
            steps: 0,
            stopped_after: None,
        }
    }

    /// Counts a step; true once the limit has passed (checked every
    /// [`crate::scenario::run::WALL_CLOCK_CHECK_EVERY`] steps).
    pub fn expired(&mut self) -> bool {
        self.steps += 1;
        if self.steps < crate::scenario::run::WALL_CLOCK_CHECK_EVERY {
            return false;
        }
        self.steps = 0;
        let elapsed = self.started.elapsed();
        if elapsed < self.limit {
            return false;
        }
        self.stopped_after = Some(elapsed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_count_matches_counting() {
        for (a, b) in [(0, 0), (0, 10), (3, 17), (5, 6), (7, 100)] {
            for shard in [None, Some((0, 1)), Some((0, 3)), Some((2, 3)), Some((4, 7))] {
                let counted = (a..b)
                    .filter(|s| shard.is_none_or(|(k, n)| s % n == k))
                    .count() as u64;
                assert_eq!(seed_count(&(a..b), shard), counted, "{a}..{b} {shard:?}");
            }
        }
        assert_eq!(seed_count(&(0..u64::MAX), None), u64::MAX);
        assert_eq!(seed_count(&(0..u64::MAX), Some((1, 2))), u64::MAX / 2);
    }

    fn outcome(seed: u64, verdict: Verdict) -> SeedOutcome {
        SeedOutcome {
            seed,
            verdict,
            violation: None,
            expectation_met: false,
            events: 1,
            trace_hash: String::new(),
            metrics: vec![("m.s".to_string(), seed as f64)],
        }
    }

    #[test]
    fn metrics_are_aggregated_whatever_the_order() {
        // Seeds 1..=10 in two halves merged either way: the same figures.
        let half = |seeds: &[u64]| {
            seeds.iter().fold(SweepSummary::default(), |s, &seed| {
                s.add(outcome(seed, Verdict::Pass))
            })
        };
        let (a, b) = (half(&[7, 1, 9, 3, 5]), half(&[2, 10, 4, 8, 6]));
        let one = a.clone().merge(b.clone()).metric_stats();
        let other = b.merge(a).metric_stats();
        assert_eq!(one, other);
        assert_eq!(
            one,
            vec![MetricStats {
                name: "m.s".into(),
                count: 10,
                min: 1.0,
                median: 5.0,
                p90: 9.0,
                p99: 10.0,
                max: 10.0,
            }]
        );
        // Of 1..=200, the 99th percentile is the 198th value.
        let many = (1..=200).fold(SweepSummary::default(), |s, seed| {
            s.add(outcome(seed, Verdict::Pass))
        });
        let stats = &many.metric_stats()[0];
        assert_eq!((stats.median, stats.p90, stats.p99), (100.0, 180.0, 198.0));
    }

    #[test]
    fn first_failure_counts_the_seeds_run_up_to_it() {
        let summary = [3, 9, 14, 20]
            .into_iter()
            .map(|seed| {
                let verdict = if seed < 14 {
                    Verdict::Pass
                } else {
                    Verdict::Violation
                };
                outcome(seed, verdict)
            })
            .fold(SweepSummary::default(), SweepSummary::add);
        assert_eq!(summary.first_failure(&(3..30), None), Some((14, 12)));
        // Of the shard 0/2 of 3..30, the seeds 4, 6, .., 14 come first.
        assert_eq!(summary.first_failure(&(3..30), Some((0, 2))), Some((14, 6)));
        let passing = SweepSummary::default().add(outcome(1, Verdict::Pass));
        assert_eq!(passing.first_failure(&(0..10), None), None);
    }

    #[test]
    fn timeouts_are_counted_apart_and_leave_the_metrics_out() {
        let summary = [
            (1, Verdict::Pass),
            (2, Verdict::Timeout),
            (3, Verdict::Stuck),
        ]
        .into_iter()
        .fold(SweepSummary::default(), |s, (seed, verdict)| {
            s.add(outcome(seed, verdict))
        })
        .merge(SweepSummary::default().add(outcome(0, Verdict::Timeout)));
        assert_eq!(
            (
                summary.seeds_run,
                summary.passed,
                summary.failed,
                summary.timed_out
            ),
            (4, 1, 1, 2)
        );
        let timeouts: Vec<u64> = summary.timeouts.iter().map(|t| t.seed).collect();
        assert_eq!(timeouts, [0, 2]);
        assert_eq!(summary.failures[0].seed, 3);
        assert_eq!(summary.first_failure(&(0..4), None), Some((3, 4)));
        assert_eq!(summary.metric_stats()[0].count, 2, "seeds 1 and 3 only");
    }

    #[test]
    fn a_summary_keeps_the_lowest_failing_seeds_and_counts_all() {
        let mut parts = vec![SweepSummary::default(), SweepSummary::default()];
        for seed in (0..3 * MAX_FAILURES_KEPT as u64).rev() {
            let verdict = if seed % 3 == 0 {
                Verdict::Pass
            } else {
                Verdict::Stuck
            };
            let part = &mut parts[(seed % 2) as usize];
            *part = std::mem::take(part).add(outcome(seed, verdict));
        }
        let [a, b] = <[SweepSummary; 2]>::try_from(parts).ok().unwrap();
        let summary = a.merge(b);
        assert_eq!(summary.seeds_run, 3 * MAX_FAILURES_KEPT as u64);
        assert_eq!(summary.failed, 2 * MAX_FAILURES_KEPT as u64);
        assert_eq!(summary.failures.len(), MAX_FAILURES_KEPT);
        let seeds: Vec<u64> = summary.failures.iter().map(|f| f.seed).collect();
        let lowest: Vec<u64> = (0..)
            .filter(|s| s % 3 != 0)
            .take(MAX_FAILURES_KEPT)
            .collect();
        assert_eq!(seeds, lowest);
    }
}
