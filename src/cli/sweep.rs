//! `faultlab sweep`: many seeds of one scenario on all cores.

use super::merge::{Listed, Shown};
use super::{load, Io};
use crate::plot::charts::{self, DistributionChart, Group, Kind};
use crate::plot::picture;
use crate::registry::Registry;
use crate::scenario::Scenario;
use crate::sweep::{sweep_timed, SeedOutcome, SweepSummary};

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
    /// `--json-out FILE`: the summary for `merge`, written atomically.
    pub(super) json_out: Option<String>,
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
        json_out,
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
    let (result, mut worst, mut main_json, shown) = one_sweep(io, path, &scenario, &options);
    if let Some(file) = &json_out {
        if let Err(e) = super::merge::write_json(file, &shown.file_json()) {
            errln!(io, "error: --json-out {file}: {e}");
            return 2;
        }
    }
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
    let mut results = vec![(path, shown)];
    for (other, other_scenario) in &compared {
        if let Err(code) = metric_values(io, &plot.metric, &results) {
            return code;
        }
        let (_, code, object, result) = one_sweep(io, other, other_scenario, &options);
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
fn metric_values(io: &mut Io<'_>, metric: &str, results: &[(&str, Shown)]) -> Result<(), i32> {
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
/// object); its summary (its metric values moved to the last), its exit
/// code, the object, and what it shows (for `--json-out` and `--plot`).
fn one_sweep(
    io: &mut Io<'_>,
    path: &str,
    scenario: &Scenario,
    options: &SweepOptions<'_>,
) -> (SweepSummary, i32, Option<serde_json::Value>, Shown) {
    let SweepOptions {
        seeds,
        shard,
        json,
        pool,
        seed_timeout,
    } = options;
    let (shard, json, seed_timeout) = (*shard, *json, *seed_timeout);
    let total = crate::sweep::seed_count(seeds, shard);
    let mut object = None;
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
    let mut result =
        pool.install(|| sweep_timed(scenario, seeds.clone(), shard, seed_timeout, &|| bar.inc(1)));
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let shown = Shown {
        scenario: path.to_string(),
        seeds: seeds.clone(),
        shard,
        expect: scenario.expect.to_string(),
        scenario_hash: super::merge::scenario_hash(io, path),
        seeds_run: result.seeds_run,
        passed: result.passed,
        failed: result.failed,
        expectation_met: result.expectation_met,
        events: result.events,
        timed_out: result.timed_out,
        failures: listed(io, path, &result.failures),
        timeouts: listed(io, path, &result.timeouts),
        metric_values: std::mem::take(&mut result.metric_values),
        elapsed,
        seed_timeout,
    };
    if json {
        object = Some(shown.json());
    } else {
        shown.print_text(io);
    }
    let code = shown.exit_code();
    (result, code, object, shown)
}

/// The listed seeds of a sweep, with their reproduce commands.
fn listed(io: &Io<'_>, path: &str, outcomes: &[SeedOutcome]) -> Vec<Listed> {
    outcomes
        .iter()
        .map(|f| Listed {
            seed: f.seed,
            verdict: f.verdict,
            name: f.violation.as_ref().map(|v| v.0.clone()),
            explanation: f.violation.as_ref().map(|v| v.1.clone()),
            expectation_met: f.expectation_met,
            reproduce: super::reproduce(io, path, f.seed),
        })
        .collect()
}
