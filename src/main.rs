//! The `faultlab` command line: run, sweep, list.
//!
//! Exit codes: 0 pass (linearizable), 2 usage, scenario or history error,
//! 3 safety violation (not linearizable), 4 liveness failure (stuck),
//! 5 `check` gave up within its budget (unknown).

use clap::{Parser, Subcommand};
use faultlab::report::atomic::{AtomicFile, SharedFile};
use faultlab::report::console;
use faultlab::report::summary;
use faultlab::scenario::{check_determinism, run, RunOptions, Scenario, Verdict};
use faultlab::sweep::sweep;
use std::io::IsTerminal;
use std::process::ExitCode;

/// Prints to stdout through [`console`]: a closed pipe ends the output quietly.
macro_rules! out {
    ($($arg:tt)*) => { console::print(&format!($($arg)*)) };
}

/// [`out!`] with a newline.
macro_rules! outln {
    () => { console::print("\n") };
    ($($arg:tt)*) => { console::print(&format!("{}\n", format_args!($($arg)*))) };
}

#[derive(Parser)]
#[command(
    name = "faultlab",
    version,
    about = "A deterministic simulator for distributed systems"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario with one seed: narrated summary, verdict, trace hash.
    Run {
        /// The scenario file (TOML).
        scenario: String,
        /// The seed (default: the scenario's `seed`, or 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Print one JSON object instead of the narration.
        #[arg(long)]
        json: bool,
        /// Write every trace event as JSON lines to this file.
        #[arg(long, value_name = "FILE.jsonl")]
        trace: Option<String>,
        /// Write the clients' history (JSON lines) to this file.
        #[arg(long, value_name = "FILE.jsonl")]
        history: Option<String>,
        /// Run the seed twice and report the first event where the traces differ.
        #[arg(long)]
        check_determinism: bool,
        /// How many narrated lines to print.
        #[arg(long, default_value_t = 40)]
        narrate: usize,
    },
    /// Run many seeds of one scenario on all cores.
    Sweep {
        /// The scenario file (TOML).
        scenario: String,
        /// Seeds to run: `A..B` (B excluded), `A..=B`, or one number.
        #[arg(long, default_value = "0..100", value_parser = parse_seeds)]
        seeds: std::ops::Range<u64>,
        /// Threads to use, 1 to 1024 (default: all cores).
        #[arg(long, value_parser = parse_jobs)]
        jobs: Option<usize>,
        /// Run only seeds with seed % N == K, written K/N.
        #[arg(long, value_parser = parse_shard)]
        shard: Option<(u64, u64)>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check a history (from a run or from outside) for linearizability.
    Check {
        /// The history file.
        history: String,
        /// The sequential model: register, cas-register or kv.
        #[arg(long)]
        model: String,
        /// The file's format.
        #[arg(long, default_value = "auto", value_parser = ["auto", "jsonl", "jepsen-log", "jepsen-edn"])]
        format: String,
        /// Give up after this long (wall clock, reading the file included) with the verdict "unknown".
        #[arg(long, default_value = "10s", value_parser = parse_budget)]
        budget: std::time::Duration,
        /// Give up with the verdict "unknown" before the search holds more than this (e.g. 512MiB, 2GiB).
        #[arg(long, default_value = "1GiB", value_parser = faultlab::check::linearizability::parse_bytes)]
        memory: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List the models, checks, and scenarios in a directory.
    List {
        /// Directory of scenario files.
        #[arg(default_value = "scenarios")]
        dir: String,
    },
}

fn parse_seeds(text: &str) -> Result<std::ops::Range<u64>, String> {
    let number = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("'{s}' is not a seed; expected a whole number"))
    };
    let range = if let Some((a, b)) = text.split_once("..=") {
        number(a)?..number(b)?.checked_add(1).ok_or("seed range too large")?
    } else if let Some((a, b)) = text.split_once("..") {
        number(a)?..number(b)?
    } else {
        let n = number(text)?;
        n..n.checked_add(1).ok_or("seed range too large")?
    };
    if range.is_empty() {
        return Err(format!("'{text}' holds no seeds; expected e.g. 0..1000"));
    }
    Ok(range)
}

/// The most threads `--jobs` may ask for.
const MAX_JOBS: usize = 1024;

fn parse_jobs(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n @ 1..=MAX_JOBS) => Ok(n),
        _ => Err(format!(
            "'{text}' is not a number of threads; expected a whole number from 1 to {MAX_JOBS}"
        )),
    }
}

fn parse_budget(text: &str) -> Result<std::time::Duration, String> {
    let d = faultlab::time::SimDuration::parse(text)?;
    Ok(std::time::Duration::from_nanos(d.as_nanos()))
}

fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let (k, n) = text
        .split_once('/')
        .ok_or_else(|| format!("'{text}' is not a shard; expected K/N, e.g. 0/4"))?;
    let k: u64 = k
        .parse()
        .map_err(|_| format!("'{k}' is not a whole number"))?;
    let n: u64 = n
        .parse()
        .map_err(|_| format!("'{n}' is not a whole number"))?;
    if n == 0 || k >= n {
        return Err(format!("shard {k}/{n}: expected 0 <= K < N"));
    }
    Ok((k, n))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run {
            scenario,
            seed,
            json,
            trace,
            history,
            check_determinism,
            narrate,
        } => {
            let outputs = Outputs { trace, history };
            cmd_run(&scenario, seed, json, outputs, check_determinism, narrate)
        }
        Command::Sweep {
            scenario,
            seeds,
            jobs,
            shard,
            json,
        } => cmd_sweep(&scenario, seeds, jobs, shard, json),
        Command::Check {
            history,
            model,
            format,
            budget,
            memory,
            json,
        } => cmd_check(&history, &model, &format, (budget, memory), json),
        Command::List { dir } => cmd_list(&dir),
    };
    if let Err(e) = console::finish() {
        eprintln!("error: cannot write to standard output: {e}");
        return ExitCode::from(2);
    }
    ExitCode::from(code as u8)
}

/// Loads a scenario for `run` or `sweep`; warns (one line) if it is heavy.
fn load(path: &str) -> Result<Scenario, i32> {
    let scenario = Scenario::load(path).map_err(|e| {
        eprintln!("error: {e}");
        2
    })?;
    if let Some(warning) = scenario.heavy_warning() {
        eprintln!("{warning}");
    }
    Ok(scenario)
}

/// Node panics are reported by the runner as violations; keep stderr quiet.
fn silence_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}

/// Files a run writes besides its summary.
struct Outputs {
    trace: Option<String>,
    history: Option<String>,
}

fn cmd_run(
    path: &str,
    seed: Option<u64>,
    json: bool,
    outputs: Outputs,
    check: bool,
    narrate: usize,
) -> i32 {
    let Outputs { trace, history } = outputs;
    let scenario = match load(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = seed.unwrap_or(scenario.default_seed);
    silence_panics();
    let trace_file = match trace.as_deref().map(SharedFile::create).transpose() {
        Ok(file) => file,
        Err(e) => {
            let path = trace.unwrap_or_default();
            eprintln!("error: --trace {path}: cannot create the file: {e}");
            return 2;
        }
    };
    if !json {
        out!("{}", summary::header(&scenario, seed));
    }
    let options = RunOptions {
        trace: trace_file
            .clone()
            .map(|f| Box::new(f) as Box<dyn std::io::Write>),
        narrate,
        event_hashes: check,
        ..RunOptions::default()
    };
    let (report, determinism) = if check {
        let (report, d) = check_determinism(options, |o| run(&scenario, seed, o));
        (report, Some(d))
    } else {
        (run(&scenario, seed, options), None)
    };
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
    let determinism = determinism.map(|d| match d.first_difference {
        None => {
            if !json {
                outln!(
                    "determinism: identical, both runs gave trace hash {} over {} trace events",
                    report.trace_hash, d.trace_events
                );
            }
            serde_json::json!({"identical": true, "trace_events": d.trace_events})
        }
        Some(i) => {
            code = 3;
            if !json {
                outln!("determinism: NOT deterministic; the traces first differ at event #{i}:");
                outln!("  run 1: {}", d.run_1.as_deref().unwrap_or(""));
                outln!("  run 2: {}", d.run_2.as_deref().unwrap_or(""));
            }
            serde_json::json!({"identical": false, "first_difference": i, "run_1": d.run_1, "run_2": d.run_2})
        }
    });
    if json {
        let mut object = summary::to_json(&report);
        if let Some(determinism) = determinism {
            object["determinism"] = determinism;
        }
        outln!("{object}");
    } else {
        out!("{}", summary::body(&report));
        if let Some(file) = trace_written {
            outln!(
                "trace written to {file} ({} events, JSON lines)",
                report.trace_events
            );
        }
    }
    for e in &output_errors {
        eprintln!("error: {e}");
    }
    if output_errors.is_empty() {
        code
    } else {
        2
    }
}

fn cmd_sweep(
    path: &str,
    seeds: std::ops::Range<u64>,
    jobs: Option<usize>,
    shard: Option<(u64, u64)>,
    json: bool,
) -> i32 {
    let scenario = match load(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    silence_panics();
    let total = faultlab::sweep::seed_count(&seeds, shard);
    let bar = if std::io::stdout().is_terminal() && !json {
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
            eprintln!("error: --jobs: cannot start the thread pool: {e}");
            return 2;
        }
    };
    let started = std::time::Instant::now();
    let result = pool.install(|| sweep(&scenario, seeds.clone(), shard, &|| bar.inc(1)));
    bar.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let failed = result.failed;
    let unlisted = failed - result.failures.len() as u64;
    if json {
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
                    "reproduce": summary::reproduce_command(path, f.seed),
                })
            })
            .collect();
        outln!(
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
            })
        );
    } else {
        outln!(
            "sweep {path} · seeds {}..{} · {} runs",
            seeds.start,
            seeds.end,
            result.seeds_run
        );
        for f in &result.failures {
            let (name, explanation) = f.violation.clone().unwrap_or_default();
            outln!(
                "seed {}: {} {name}: {explanation}",
                f.seed,
                f.verdict.as_str()
            );
            outln!("  reproduce: {}", summary::reproduce_command(path, f.seed));
        }
        if unlisted > 0 {
            outln!(
                "... and {unlisted} more failing seeds (the {} lowest are listed)",
                result.failures.len()
            );
        }
        outln!(
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

/// `faultlab check`; `limits` is the wall-clock budget (from before the file
/// is read) and the search's memory budget in bytes.
fn cmd_check(
    path: &str,
    model: &str,
    format: &str,
    limits: (std::time::Duration, u64),
    json: bool,
) -> i32 {
    use faultlab::check::linearizability::{check_stream, LinModel, LinOptions, LinVerdict};
    use faultlab::history::HistoryFormat;
    let (budget, max_memory) = limits;
    let started = std::time::Instant::now();
    let deadline = started + budget;
    let should_stop = || std::time::Instant::now() >= deadline;
    let model: LinModel = match model.parse() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: --model: {e}");
            return 2;
        }
    };
    let format = match format {
        "jsonl" => HistoryFormat::Jsonl,
        "jepsen-log" => HistoryFormat::JepsenLog,
        "jepsen-edn" => HistoryFormat::JepsenEdn,
        _ => HistoryFormat::Auto,
    };
    // The history is streamed: only its operations are kept, never its text
    // or its events.
    let mut reader = match faultlab::input::open_text(
        std::path::Path::new(path),
        "history",
        faultlab::input::MAX_HISTORY_BYTES,
    ) {
        Ok(reader) => reader,
        Err(e) => {
            eprintln!("error: {path}: {}", e.message);
            return 2;
        }
    };
    let options = LinOptions {
        max_memory,
        ..LinOptions::default()
    };
    let checked = check_stream(&mut reader, path, format, model, &options, &should_stop);
    if reader.get_ref().limit() == 0 {
        let max = faultlab::input::MAX_HISTORY_BYTES;
        eprintln!("error: {path}: the history grew past {max} bytes while it was read; at most {max} bytes are read");
        return 2;
    }
    let report = match checked {
        Ok(None) => faultlab::check::linearizability::LinReport {
            verdict: LinVerdict::Unknown,
            operations: 0,
            partitions: 0,
            steps: 0,
            explanation: Some(
                "Unknown: the time budget (--budget) ran out while the history was read.".into(),
            ),
            failing_key: None,
        },
        Ok(Some(report)) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (verdict, code) = match report.verdict {
        LinVerdict::Linearizable => ("linearizable", 0),
        LinVerdict::NotLinearizable => ("not-linearizable", 3),
        LinVerdict::Unknown => ("unknown", 5),
    };
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "file": path,
                "verdict": verdict,
                "operations": report.operations,
                "partitions": report.partitions,
                "steps": report.steps,
                "elapsed_ms": (elapsed_ms * 1000.0).round() / 1000.0,
                "failing_key": report.failing_key,
                "explanation": report.explanation,
            })
        );
    } else {
        outln!(
            "{path}: {} operations in {} partition(s): {verdict} ({} search steps, {elapsed_ms:.1} ms)",
            report.operations, report.partitions, report.steps
        );
        if let Some(explanation) = &report.explanation {
            outln!("{explanation}");
        }
    }
    code
}

fn cmd_list(dir: &str) -> i32 {
    let registry = faultlab::Registry::builtin();
    outln!("models:");
    for model in registry.models() {
        outln!("  {:<15} {}", model.name, model.about);
        let checks = model.checks;
        let always = if checks.always.is_empty() {
            "none".to_string()
        } else {
            checks.always.join(", ")
        };
        outln!(
            "  {:<15} checks: {} (default: {}; always: {always})",
            "",
            checks.supported.join(", "),
            checks.default.join(", ")
        );
    }
    outln!("checks:");
    for c in registry.checks().map(|c| &c.info) {
        let kind = match c.severity {
            faultlab::check::Severity::Safety => "safety",
            faultlab::check::Severity::Liveness => "liveness",
        };
        outln!(
            "  {:<20} {kind:<8} -> {:<24} {}",
            c.name,
            c.violation,
            c.about
        );
    }
    let mut files: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.path().to_string_lossy().into_owned())
            .filter(|p| p.ends_with(".toml"))
            .collect(),
        Err(e) => {
            eprintln!("error: cannot read the scenario directory '{dir}': {e}");
            return 2;
        }
    };
    files.sort();
    outln!("scenarios in {dir}:");
    let mut code = 0;
    for file in files {
        match Scenario::load(&file) {
            Ok(s) => {
                let about = s
                    .description
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                outln!("  {:<40} expect {:<24} {about}", file, s.expect);
            }
            Err(e) => {
                outln!("  {file:<40} INVALID: {e}");
                code = 2;
            }
        }
    }
    code
}
