//! `faultlab sweep`: many seeds of one scenario on all cores.

use super::{load, Io};
use crate::registry::Registry;
use crate::report::summary;
use crate::scenario::Verdict;
use crate::sweep::sweep;

pub(super) fn cmd_sweep(
    io: &mut Io<'_>,
    registry: &Registry,
    path: &str,
    seeds: std::ops::Range<u64>,
    jobs: Option<usize>,
    shard: Option<(u64, u64)>,
    json: bool,
) -> i32 {
    let scenario = match load(io, registry, path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    io.silence_panics();
    let total = crate::sweep::seed_count(&seeds, shard);
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
    let started = std::time::Instant::now();
    let result = pool.install(|| sweep(&scenario, seeds.clone(), shard, &|| bar.inc(1)));
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let failed = result.failed;
    let unlisted = failed - result.failures.len() as u64;
    let stats = result.metric_stats();
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
                    "reproduce": summary::reproduce_with(&io.command, path, f.seed),
                })
            })
            .collect();
        outln!(
            io,
            "{}",
            serde_json::json!({
                "scenario": path,
                "seeds": format!("{}..{}", seeds.start, seeds.end),
                "seeds_run": result.seeds_run,
                "passed": result.passed,
                "failed": failed,
                "failures_unlisted": unlisted,
                "expectation_met": result.expectation_met,
                "events": result.events,
                "elapsed_ms": (elapsed * 1000.0).round(),
                "failures": failures,
                "metrics": metrics,
            })
        );
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
            outln!(
                io,
                "  reproduce: {}",
                summary::reproduce_with(&io.command, path, f.seed)
            );
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
        if unlisted > 0 {
            outln!(
                io,
                "... and {unlisted} more failing seeds (the {} lowest are listed)",
                result.failures.len()
            );
        }
        outln!(io,
            "{} passed, {} failed · expectation ({}) met in {}/{} · {} events in {:.1}s ({:.0} seeds/s)",
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
            Verdict::Pass => 0,
        });
    worst.map_or(0, Verdict::exit_code)
}
