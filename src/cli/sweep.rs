//! `faultlab sweep`: many seeds of one scenario on all cores.

use super::{load, Io};
use crate::plot::charts::{self, DistributionChart, Group, Kind};
use crate::plot::picture;
use crate::registry::Registry;
use crate::scenario::Scenario;
use crate::scenario::Verdict;
use crate::sweep::{sweep_timed, SweepSummary};
use crate::time::SimDuration;

/// The flags of `sweep`.
pub(super) struct SweepFlags {
    /// `--seeds`.
    pub(super) seeds: std::ops::Range<u64>,
    /// `--jobs`.
    pub(super) jobs: Option<usize>,
    /// `--shard K/N`.
    pub(super) shard: Option<(u64, u64)>,
    /// `--json`.
    pub(super) json: bool,
    /// `--plot FILE` with `--metric`, `--plot-kind` and `--compare`.
    pub(super) plot: Option<PlotFlags>,
    /// `--shrink [--shrink-dir DIR]`: shrink each distinct failure into DIR.
    pub(super) shrink: Option<String>,
    /// `--seed-timeout`: the wall-clock time a seed may take.
    pub(super) seed_timeout: Option<std::time::Duration>,
}

/// What `--plot` draws: the distribution of one metric over the seeds.
pub(super) struct PlotFlags {
    /// The picture's file (SVG, or PNG for `.png`).
    pub(super) file: String,
    /// The metric's name (`Checker::metrics`).
    pub(super) metric: String,
    /// CDF or histogram.
    pub(super) kind: Kind,
    /// Further scenarios swept with the same seeds, on the same chart.
    pub(super) compare: Vec<String>,
}

/// The most seeds a plotted sweep may run per scenario: it keeps 8 bytes
/// per seed for each metric the checks report (80 MB per metric at the cap).
pub const MAX_PLOT_SEEDS: u64 = 10_000_000;

pub(super) fn cmd_sweep(
    io: &mut Io<'_>,
    registry: &Registry,
    path: &str,
    flags: SweepFlags,
) -> i32 {
    let SweepFlags {
        seeds,
        jobs,
        shard,
        json,
        plot,
        shrink,
        seed_timeout,
    } = flags;
    if let Some(dir) = &shrink {
        if let Err(e) = std::fs::create_dir_all(dir) {
            errln!(io, "error: --shrink-dir {dir}: cannot create it: {e}");
            return 2;
        }
    }
    let scenario = match load(io, registry, path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // Every compared scenario loads before anything runs.
    let mut compared = Vec::new();
    for other in plot.iter().flat_map(|p| &p.compare) {
        match Scenario::load_with(registry, other) {
            Ok(s) => compared.push((other.clone(), s)),
            Err(e) => {
                errln!(io, "error: --compare: {e}");
                return 2;
            }
        }
    }
    let total = crate::sweep::seed_count(&seeds, shard);
    if plot.is_some() && total > MAX_PLOT_SEEDS {
        errln!(
            io,
            "error: --plot: {total} seeds; a plotted sweep runs at most {MAX_PLOT_SEEDS} seeds per scenario (it keeps every seed's value)"
        );
        return 2;
    }
    io.silence_panics();
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
    {
        Ok(pool) => pool,
        Err(e) => {
            errln!(io, "error: --jobs: cannot start the thread pool: {e}");
            return 2;
        }
    };
    let options = SweepOptions {
        seeds,
        shard,
        json,
        pool: &pool,
        seed_timeout,
    };
    let (result, mut worst, mut main_json) = one_sweep(io, path, &scenario, &options);
    if let Some(dir) = &shrink {
        let shrunk =
            super::shrink::shrink_failures(io, registry, path, &result.failures, dir, json);
        if let Some(object) = &mut main_json {
            object["shrunk"] = serde_json::Value::from(shrunk);
        }
    }
    let Some(plot) = plot else {
        if let Some(object) = main_json {
            outln!(io, "{object}");
        }
        return worst;
    };
    let mut groups = Vec::new();
    let mut compared_json = Vec::new();
    let mut results = vec![(path, result)];
    for (other, other_scenario) in &compared {
        if let Err(code) = metric_values(io, &plot.metric, &results) {
            return code;
        }
        let (result, code, object) = one_sweep(io, other, other_scenario, &options);
        let other = other.as_str();
        worst = worse(worst, code);
        compared_json.extend(object);
        results.push((other, result));
    }
    if let Err(code) = metric_values(io, &plot.metric, &results) {
        return code;
    }
    for (name, result) in &mut results {
        let mut values = result
            .metric_values
            .remove(&plot.metric)
            .unwrap_or_default();
        values.sort_by(f64::total_cmp);
        groups.push(Group {
            name: stem(name),
            values,
            seeds_run: result.seeds_run,
        });
    }
    let written = draw_distribution(&plot, groups, &options.seeds);
    if let Some(mut object) = main_json {
        object["compared"] = serde_json::Value::from(compared_json);
        if written.is_ok() {
            object["plot"] = serde_json::Value::from(plot.file.as_str());
        }
        outln!(io, "{object}");
    }
    match written {
        Ok(bytes) => {
            if !json {
                outln!(
                    io,
                    "distribution plot written to {} ({bytes} bytes)",
                    plot.file
                );
            }
            worst
        }
        Err(e) => {
            errln!(io, "error: --plot {}: {e}", plot.file);
            2
        }
    }
}

/// The seeds and pool every sweep of one command shares.
struct SweepOptions<'p> {
    seeds: std::ops::Range<u64>,
    shard: Option<(u64, u64)>,
    json: bool,
    pool: &'p rayon::ThreadPool,
    seed_timeout: Option<std::time::Duration>,
}

/// Checks that the last sweep of `results` reported `metric`; else says
/// which metrics it did report (exit 2).
fn metric_values(
    io: &mut Io<'_>,
    metric: &str,
    results: &[(&str, SweepSummary)],
) -> Result<(), i32> {
    let Some((path, result)) = results.last() else {
        return Ok(());
    };
    if result
        .metric_values
        .get(metric)
        .is_some_and(|v| !v.is_empty())
    {
        return Ok(());
    }
    let known: Vec<&str> = result
        .metric_values
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, _)| k.as_str())
        .collect();
    let known = if known.is_empty() {
        "none (its checks report no metrics)".to_string()
    } else {
        known.join(", ")
    };
    errln!(
        io,
        "error: --metric {metric}: no seed of {path} reported it; the metrics its runs reported: {known}"
    );
    Err(2)
}

/// A scenario file's name without its directory and `.toml`.
fn stem(path: &str) -> String {
    std::path::Path::new(path)
        .file_stem()
        .map_or_else(|| path.to_string(), |s| s.to_string_lossy().into_owned())
}

/// Draws the groups' distribution and writes it; the bytes written.
fn draw_distribution(
    plot: &PlotFlags,
    groups: Vec<Group>,
    seeds: &std::ops::Range<u64>,
) -> Result<usize, String> {
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    let kind = match plot.kind {
        Kind::Cdf => "CDF",
        Kind::Hist => "histogram",
    };
    let chart = DistributionChart {
        title: format!(
            "{} over seeds {}..{} ({kind}): {}",
            plot.metric,
            seeds.start,
            seeds.end,
            charts::names_for_title(&names)
        ),
        metric: plot.metric.clone(),
        kind: plot.kind,
        groups,
    };
    picture::write(&chart, charts::SIZE, &plot.file)
}

/// The more serious of two exit codes of sweeps (3 over 4 over 5 over 0).
fn worse(a: i32, b: i32) -> i32 {
    let rank = |c: i32| match c {
        3 => 3,
        4 => 2,
        5 => 1,
        _ => 0,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// Sweeps one scenario and prints its text summary (or returns its JSON
/// object); its summary, its exit code, and the object.
fn one_sweep(
    io: &mut Io<'_>,
    path: &str,
    scenario: &Scenario,
    options: &SweepOptions<'_>,
) -> (SweepSummary, i32, Option<serde_json::Value>) {
    let SweepOptions {
        seeds,
        shard,
        json,
        pool,
        seed_timeout,
    } = options;
    let (shard, json, seed_timeout) = (*shard, *json, *seed_timeout);
    let total = crate::sweep::seed_count(seeds, shard);
    let mut json_out = None;
    let bar = if io.progress && !json {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} seeds · {per_sec} · eta {eta}",
            )
            .expect("a valid progress template"),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let started = std::time::Instant::now();
    let result =
        pool.install(|| sweep_timed(scenario, seeds.clone(), shard, seed_timeout, &|| bar.inc(1)));
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let failed = result.failed;
    let unlisted = failed - result.failures.len() as u64;
    let stats = result.metric_stats();
    let first_failure = result.first_failure(seeds, shard);
    if json {
        let metrics: serde_json::Map<String, serde_json::Value> = stats
            .iter()
            .map(|m| {
                let figures = serde_json::json!({"count": m.count, "min": m.min, "median": m.median, "p90": m.p90, "p99": m.p99, "max": m.max});
                (m.name.clone(), figures)
            })
            .collect();
        let failures: Vec<serde_json::Value> = result
            .failures
            .iter()
            .map(|f| {
                serde_json::json!({
                    "seed": f.seed,
                    "verdict": f.verdict.as_str(),
                    "violation": f.violation.as_ref().map(|v| &v.0),
                    "explanation": f.violation.as_ref().map(|v| &v.1),
                    "expectation_met": f.expectation_met,
                    "reproduce": super::reproduce(io, path, f.seed),
                })
            })
            .collect();
        let timeouts: Vec<serde_json::Value> = result
            .timeouts
            .iter()
            .map(|t| {
                serde_json::json!({
                    "seed": t.seed,
                    "verdict": t.verdict.as_str(),
                    "explanation": t.violation.as_ref().map(|v| &v.1),
                    "expectation_met": t.expectation_met,
                    "reproduce": super::reproduce(io, path, t.seed),
                })
            })
            .collect();
        json_out = Some(serde_json::json!({
            "scenario": path,
            "seeds": format!("{}..{}", seeds.start, seeds.end),
            "seeds_run": result.seeds_run,
            "passed": result.passed,
            "failed": failed,
            "failures_unlisted": unlisted,
            "first_failing_seed": first_failure.map(|(seed, _)| seed),
            "seeds_to_first_failure": first_failure.map(|(_, count)| count),
            "expectation_met": result.expectation_met,
            "events": result.events,
            "elapsed_ms": (elapsed * 1000.0).round(),
            "failures": failures,
            "seed_timeout_ms": seed_timeout.map(|t| t.as_secs_f64() * 1000.0),
            "timed_out": result.timed_out,
            "timeouts_unlisted": result.timed_out - result.timeouts.len() as u64,
            "timeouts": timeouts,
            "metrics": metrics,
        }));
    } else {
        outln!(
            io,
            "sweep {path} · seeds {}..{} · {} runs",
            seeds.start,
            seeds.end,
            result.seeds_run
        );
        for f in &result.failures {
            let (name, explanation) = f.violation.clone().unwrap_or_default();
            outln!(
                io,
                "seed {}: {} {name}: {explanation}",
                f.seed,
                f.verdict.as_str()
            );
            outln!(io, "  reproduce: {}", super::reproduce(io, path, f.seed));
        }
        for t in &result.timeouts {
            let explanation = t.violation.clone().unwrap_or_default().1;
            outln!(io, "seed {}: timeout: {explanation}", t.seed);
            outln!(io, "  reproduce: {}", super::reproduce(io, path, t.seed));
        }
        for m in &stats {
            outln!(
                io,
                "metric {}: {} seeds · min {} · median {} · p90 {} · p99 {} · max {}",
                m.name,
                m.count,
                m.min,
                m.median,
                m.p90,
                m.p99,
                m.max
            );
        }
        match first_failure {
            Some((seed, count)) => outln!(
                io,
                "first failure: seed {seed}, after {count} seeds (seeds_to_first_failure {count})"
            ),
            None => outln!(io, "first failure: none in {} seeds", result.seeds_run),
        }
        if unlisted > 0 {
            outln!(
                io,
                "... and {unlisted} more failing seeds (the {} lowest are listed)",
                result.failures.len()
            );
        }
        let timeouts_unlisted = result.timed_out - result.timeouts.len() as u64;
        if timeouts_unlisted > 0 {
            outln!(
                io,
                "... and {timeouts_unlisted} more timed-out seeds (the {} lowest are listed)",
                result.timeouts.len()
            );
        }
        // Only a sweep with a limit says how many seeds it stopped.
        let timed_out = match seed_timeout {
            Some(limit) => format!(
                ", {} timed out (--seed-timeout {})",
                result.timed_out,
                SimDuration(limit.as_nanos().min(u64::MAX as u128) as u64)
            ),
            None => String::new(),
        };
        outln!(io,
            "{} passed, {} failed{timed_out} · expectation ({}) met in {}/{} · {} events in {:.1}s ({:.0} seeds/s)",
            result.passed,
            failed,
            scenario.expect,
            result.expectation_met,
            result.seeds_run,
            result.events,
            elapsed,
            result.seeds_run as f64 / elapsed.max(1e-9)
        );
    }
    let worst = result
        .failures
        .iter()
        .map(|f| f.verdict)
        .max_by_key(|v| match v {
            Verdict::Violation => 2,
            Verdict::Stuck => 1,
            Verdict::Pass | Verdict::Timeout => 0,
        });
    // A timed-out seed was not judged: exit 5 (undecided) when no seed failed.
    let code = match worst {
        Some(verdict) => verdict.exit_code(),
        None if result.timed_out > 0 => Verdict::Timeout.exit_code(),
        None => 0,
    };
    (result, code, json_out)
}
