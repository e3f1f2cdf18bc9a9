//! `faultlab run`: one seed of one scenario, its summary and its files.

use super::{load, Io};
use crate::check::series::TimeSeries;
use crate::engine::TraceEvent;
use crate::plot::charts::{self, SeriesChart};
use crate::plot::diagram::{self, DiagramBuilder, DiagramOptions};
use crate::plot::picture;
use crate::plot::spans::{FaultSpans, Spans};
use crate::registry::Registry;
use crate::report::atomic::{AtomicFile, SharedFile};
use crate::report::summary;
use crate::scenario::run::EventHook;
use crate::scenario::{check_determinism, run, RunOptions};
use crate::time::SimTime;

/// The flags of `run`.
pub(super) struct RunFlags {
    /// `--seed`.
    pub(super) seed: Option<u64>,
    /// `--json`.
    pub(super) json: bool,
    /// `--trace FILE`.
    pub(super) trace: Option<String>,
    /// `--history FILE`.
    pub(super) history: Option<String>,
    /// `--metrics FILE.csv`.
    pub(super) metrics: Option<String>,
    /// `--plot-metrics FILE.svg|.png` and its window.
    pub(super) plot_metrics: Option<MetricPlotFlags>,
    /// `--check-determinism`.
    pub(super) check: bool,
    /// `--narrate N`.
    pub(super) narrate: usize,
    /// `--around DURATION`.
    pub(super) around: crate::time::SimDuration,
    /// `--plot FILE` and its window.
    pub(super) plot: Option<PlotFlags>,
}

/// `--plot FILE`, `--from`, `--to`, `--plot-max-messages`.
pub(super) struct PlotFlags {
    pub(super) file: String,
    pub(super) from: Option<SimTime>,
    pub(super) to: Option<SimTime>,
    pub(super) max_messages: usize,
}

/// `--plot-metrics FILE`, `--from`, `--to`.
pub(super) struct MetricPlotFlags {
    pub(super) file: String,
    pub(super) from: Option<SimTime>,
    pub(super) to: Option<SimTime>,
}

/// The window `--from`, `--to` give (from 0 by default), or why it is
/// wrong for a run that ends at `end` (checked before the run).
fn window(
    from: Option<SimTime>,
    to: Option<SimTime>,
    end: SimTime,
) -> Result<(SimTime, Option<SimTime>), String> {
    let from = from.unwrap_or(SimTime::ZERO);
    if let Some(to) = to {
        if from >= to {
            return Err(format!(
                "--from {from} --to {to}: the window is empty; expected --from before --to"
            ));
        }
    }
    if from >= end {
        return Err(format!(
            "--from {from} is at or after the run's end ({end}); expected a window within 0s..{end}"
        ));
    }
    Ok((from, to))
}

/// The diagram's options, or why the window is wrong (checked before the run).
pub(super) fn diagram_options(plot: &PlotFlags, end: SimTime) -> Result<DiagramOptions, String> {
    let (from, to) = window(plot.from, plot.to, end)?;
    Ok(DiagramOptions {
        from,
        to,
        max_messages: plot.max_messages,
    })
}

pub(super) fn cmd_run(io: &mut Io<'_>, registry: &Registry, path: &str, flags: RunFlags) -> i32 {
    let RunFlags {
        seed,
        json,
        trace,
        history,
        metrics,
        plot_metrics,
        check,
        narrate,
        around,
        plot,
    } = flags;
    let scenario = match load(io, registry, path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = seed.unwrap_or(scenario.default_seed);
    let diagram = match plot
        .as_ref()
        .map(|p| diagram_options(p, scenario.end()))
        .transpose()
    {
        Ok(options) => options.map(|o| DiagramBuilder::new(&scenario, o)),
        Err(e) => {
            errln!(io, "error: {e}");
            return 2;
        }
    };
    let metric_window = match plot_metrics
        .as_ref()
        .map(|p| window(p.from, p.to, scenario.end()))
        .transpose()
    {
        Ok(window) => window.unwrap_or((SimTime::ZERO, None)),
        Err(e) => {
            errln!(io, "error: {e}");
            return 2;
        }
    };
    io.silence_panics();
    let trace_file = match trace.as_deref().map(SharedFile::create).transpose() {
        Ok(file) => file,
        Err(e) => {
            let path = trace.unwrap_or_default();
            errln!(io, "error: --trace {path}: cannot create the file: {e}");
            return 2;
        }
    };
    if !json {
        out!(io, "{}", summary::header(&scenario, seed));
    }
    // The pictures watch the trace: the faults' spans for the metric plot,
    // every event for the diagram.
    let (collector, spans) = FaultSpans::new(
        scenario.names.clone(),
        metric_window.0,
        metric_window.1.unwrap_or(SimTime::MAX),
    );
    let mut hooks: Vec<EventHook> = Vec::new();
    if plot_metrics.is_some() {
        hooks.push(collector.into_hook());
    }
    if let Some(builder) = &diagram {
        hooks.push(builder.on_event());
    }
    let options = RunOptions {
        trace: trace_file
            .clone()
            .map(|f| Box::new(f) as Box<dyn std::io::Write>),
        narrate,
        around,
        event_hashes: check,
        on_event: (!hooks.is_empty()).then(|| {
            Box::new(move |event: &TraceEvent| {
                for hook in &mut hooks {
                    hook(event);
                }
            }) as EventHook
        }),
        ..RunOptions::default()
    };
    let (report, determinism) = if check {
        let (report, d) = check_determinism(options, |o| run(&scenario, seed, o));
        (report, Some(d))
    } else {
        (run(&scenario, seed, options), None)
    };
    let mut report = report;
    report.reproduce = super::reproduce(io, path, seed);
    let mut code = report.verdict.exit_code();
    // Files are whole or absent; a file that could not be written is exit 2,
    // after the summary.
    let mut output_errors = Vec::new();
    let trace_written = match (trace_file, &trace) {
        (Some(file), Some(path)) => match file.commit() {
            Ok(()) => Some(path),
            Err(e) => {
                output_errors.push(format!("--trace {path}: cannot write the file: {e}"));
                None
            }
        },
        _ => None,
    };
    if let Some(path) = &history {
        let written = AtomicFile::create(path).and_then(|mut file| {
            report.history.write_jsonl(&mut file)?;
            file.commit()
        });
        if let Err(e) = written {
            output_errors.push(format!("--history {path}: cannot write the file: {e}"));
        }
    }
    let metrics_written = match &metrics {
        None => None,
        Some(path) => match write_series(path, &report) {
            Ok(rows) => Some((path, rows)),
            Err(e) => {
                output_errors.push(format!("--metrics {path}: {e}"));
                None
            }
        },
    };
    let metric_plot_written = match &plot_metrics {
        None => None,
        Some(MetricPlotFlags { file: path, .. }) => {
            let spans = spans.finish(report.sim_time);
            match plot_series(path, &report, &spans, metric_window) {
                Ok(bytes) => Some((path, bytes, spans.spans.len())),
                Err(e) => {
                    output_errors.push(format!("--plot-metrics {path}: {e}"));
                    None
                }
            }
        }
    };
    let diagram_written = match (diagram, &plot) {
        (Some(builder), Some(plot)) => {
            match builder
                .finish(&report)
                .and_then(|d| diagram::render(&d, &plot.file))
            {
                Ok(drawn) => Some((&plot.file, drawn)),
                Err(e) => {
                    output_errors.push(format!("--plot {}: {e}", plot.file));
                    None
                }
            }
        }
        _ => None,
    };
    let determinism = determinism.map(|d| match d.first_difference {
        None => {
            if !json {
                outln!(io,
                    "determinism: identical, both runs gave trace hash {} over {} trace events",
                    report.trace_hash, d.trace_events
                );
            }
            serde_json::json!({"identical": true, "trace_events": d.trace_events})
        }
        Some(i) => {
            code = 3;
            if !json {
                outln!(io, "determinism: NOT deterministic; the traces first differ at event #{i}:");
                outln!(io, "  run 1: {}", d.run_1.as_deref().unwrap_or(""));
                outln!(io, "  run 2: {}", d.run_2.as_deref().unwrap_or(""));
            }
            serde_json::json!({"identical": false, "first_difference": i, "run_1": d.run_1, "run_2": d.run_2})
        }
    });
    if json {
        let mut object = summary::to_json(&report);
        if let Some(determinism) = determinism {
            object["determinism"] = determinism;
        }
        outln!(io, "{object}");
    } else {
        out!(io, "{}", summary::body(&report));
        if let Some(file) = trace_written {
            outln!(
                io,
                "trace written to {file} ({} events, JSON lines)",
                report.trace_events
            );
        }
        if let Some((file, rows)) = metrics_written {
            let interval = report
                .series
                .as_ref()
                .map(|s| s.interval)
                .unwrap_or_default();
            outln!(
                io,
                "time series written to {file} ({rows} rows of {interval}, CSV)"
            );
        }
        if let Some((file, bytes, bands)) = metric_plot_written {
            outln!(
                io,
                "metric plot written to {file} ({bytes} bytes, {bands} fault bands)"
            );
        }
        if let Some((file, drawn)) = diagram_written {
            outln!(
                io,
                "diagram written to {file} ({} lanes, {} of {} messages, {} fault bands)",
                drawn.lanes,
                drawn.arrows + drawn.crosses,
                drawn.messages_total,
                drawn.bands
            );
        }
    }
    for e in &output_errors {
        errln!(io, "error: {e}");
    }
    if output_errors.is_empty() {
        code
    } else {
        2
    }
}

/// The run's series, or why there is none.
fn series_of(report: &crate::scenario::RunReport) -> Result<&TimeSeries, String> {
    report.series.as_ref().filter(|s| s.records > 0).ok_or_else(|| {
        format!(
            "the scenario's model ({}) emitted no service records ({}), so there is no time series to write; \
             the `service` check measures the models of the retry family, whose clients and servers record them",
            report.model,
            crate::check::service::RECORDS.join(", ")
        )
    })
}

/// Draws the run's time series with its fault bands, within the window
/// `(from, to)` (to: the run's end by default), to `path` (SVG, or PNG for
/// `.png`; whole or absent); the bytes written, or what went wrong.
fn plot_series(
    path: &str,
    report: &crate::scenario::RunReport,
    spans: &Spans,
    (from, to): (SimTime, Option<SimTime>),
) -> Result<usize, String> {
    let series = series_of(report)?;
    let end = report.sim_time;
    if from >= end {
        return Err(format!(
            "--from {from} is at or after the run's end ({end}); expected a window within 0s..{end}"
        ));
    }
    let mut title = format!("{} · seed {}", report.scenario, report.seed);
    if from > SimTime::ZERO || to.is_some() {
        let to = to.unwrap_or(end).min(end);
        title.push_str(&format!(" · {from} to {to}"));
    }
    let chart = SeriesChart {
        title,
        series,
        spans,
        from,
        to: to.unwrap_or(end).min(end),
    };
    picture::write(&chart, charts::SIZE, path)
}

/// Writes the run's time series to `path` as CSV (whole or absent); the
/// number of rows, or what went wrong.
fn write_series(path: &str, report: &crate::scenario::RunReport) -> Result<usize, String> {
    let series = series_of(report)?;
    let mut file = AtomicFile::create(path).map_err(|e| format!("cannot create the file: {e}"))?;
    series
        .write_csv(&mut file)
        .and_then(|()| file.commit())
        .map_err(|e| format!("cannot write the file: {e}"))?;
    Ok(series.rows.len())
}
