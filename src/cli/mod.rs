//! The `faultlab` command line: run, sweep, merge, shrink, replay, check, report, list, for the models of
//! a [`Registry`].
//!
//! A user's crate gets the whole CLI for its own protocol with
//! `fn main() -> ExitCode { faultlab::cli::main(Registry::builtin().with(MyModel)) }`;
//! faultlab's own binary is that line with the built-in registry. Tests call
//! [`run_with_args`], which writes to buffers instead of stdout and stderr.
//!
//! Exit codes: 0 pass (linearizable), 2 usage, scenario or history error,
//! 3 safety violation (not linearizable), 4 liveness failure (stuck),
//! 5 `check` gave up within its budget (unknown), or a sweep's seeds that
//! failed none timed out (`--seed-timeout`). `merge` exits as the one sweep
//! over the merged range would (2 for shard files that do not form one range).

use crate::plot;
use crate::registry::Registry;
use crate::report::{console, summary};
use crate::scenario::{Override, Scenario};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// Writes to the command's standard output (errors are the writer's to
/// keep: see [`console`]).
macro_rules! out {
    ($io:expr, $($arg:tt)*) => { { let _ = write!($io.out, $($arg)*); } };
}

/// [`out!`] with a newline.
macro_rules! outln {
    ($io:expr) => { { let _ = writeln!($io.out); } };
    ($io:expr, $($arg:tt)*) => { { let _ = writeln!($io.out, $($arg)*); } };
}

/// A line on the command's standard error.
macro_rules! errln {
    ($io:expr, $($arg:tt)*) => { { let _ = writeln!($io.err, $($arg)*); } };
}

mod args;
mod check;
mod list;
mod merge;
mod replay;
mod report;
mod run;
mod shrink;
mod sweep;

/// Where a command writes, and how it behaves on a terminal.
pub struct Io<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    /// Show a progress bar for sweeps.
    progress: bool,
    /// Silence the panic hook during runs (node panics are reported as violations).
    quiet_panics: bool,
    /// How to run this binary, for reproduce commands.
    command: String,
    /// The command's `--set KEY=VALUE` overrides, applied to the scenario
    /// it loads and repeated in its reproduce commands.
    sets: Vec<Override>,
}

impl Io<'_> {
    /// Node panics are reported by the runner as violations; keep stderr quiet.
    fn silence_panics(&self) {
        if self.quiet_panics {
            std::panic::set_hook(Box::new(|_| {}));
        }
    }
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
    #[command(group(clap::ArgGroup::new("pictures").args(["plot", "plot_metrics"]).multiple(true)))]
    Run {
        /// The scenario file (TOML).
        scenario: String,
        /// Override a scenario field before validation, e.g. `--set duration='"5s"'` or `--set 'raft.bugs=["vote_not_synced"]'` (KEY a dotted path, VALUE a TOML value; repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse)]
        set: Vec<Override>,
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
        /// Write the run's time series (the `service` check's, one row per `[metrics] interval`) as CSV to this file.
        #[arg(long, value_name = "FILE.csv")]
        metrics: Option<String>,
        /// Draw the run's time series (rates, latency, queue and breakers) with its faults as bands: SVG, or PNG if the name ends in .png.
        #[arg(long, value_name = "FILE.svg")]
        plot_metrics: Option<String>,
        /// Run the seed twice and report the first event where the traces differ.
        #[arg(long)]
        check_determinism: bool,
        /// How many narrated lines to print.
        #[arg(long, default_value_t = 40)]
        narrate: usize,
        /// Each violation's "around it" section shows the faults and role changes of this much simulated time before it.
        #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = crate::time::SimDuration::parse)]
        around: crate::time::SimDuration,
        /// Draw the run's space-time diagram to this file (PNG if it ends in .png, else SVG).
        #[arg(long, value_name = "FILE.svg|FILE.png")]
        plot: Option<String>,
        /// The pictures' window (`--plot`, `--plot-metrics`) starts here (true time, e.g. 1.9s).
        #[arg(long, requires = "pictures", value_parser = args::parse_time)]
        from: Option<crate::time::SimTime>,
        /// The pictures' window ends here (true time, e.g. 2.5s; default: the run's end).
        #[arg(long, requires = "pictures", value_parser = args::parse_time)]
        to: Option<crate::time::SimTime>,
        /// Draw at most this many messages; beyond, an even sample (the legend says so).
        #[arg(long, requires = "plot", default_value_t = crate::plot::diagram::DEFAULT_MAX_MESSAGES)]
        plot_max_messages: usize,
    },
    /// Run many seeds of one scenario on all cores.
    Sweep {
        /// The scenario file (TOML).
        scenario: String,
        /// Override a scenario field before validation, e.g. `--set duration='"5s"'` or `--set 'raft.bugs=["vote_not_synced"]'` (KEY a dotted path, VALUE a TOML value; repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse)]
        set: Vec<Override>,
        /// Seeds to run: `A..B` (B excluded), `A..=B`, or one number.
        #[arg(long, default_value = "0..100", value_parser = args::parse_seeds)]
        seeds: std::ops::Range<u64>,
        /// Threads to use, 1 to 1024 (default: all cores).
        #[arg(long, value_parser = args::parse_jobs)]
        jobs: Option<usize>,
        /// Run only seeds with seed % N == K, written K/N.
        #[arg(long, value_parser = args::parse_shard)]
        shard: Option<(u64, u64)>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Also write the summary, with what `merge` needs (the shard, every seed's metric values), as JSON to this file (atomically); the console output is unchanged.
        #[arg(long, value_name = "FILE.json", conflicts_with_all = ["plot", "shrink"])]
        json_out: Option<String>,
        /// Draw the distribution of `--metric` over the seeds: SVG, or PNG if the name ends in .png.
        #[arg(long, value_name = "FILE.svg", requires = "metric")]
        plot: Option<String>,
        /// The metric to draw (a name from the `metric` lines, e.g. availability.time_without_leader_s).
        #[arg(long, requires = "plot")]
        metric: Option<String>,
        /// cdf (the empirical CDF) or hist (a histogram).
        #[arg(long, default_value = "cdf", value_parser = plot::charts::Kind::parse, requires = "plot")]
        plot_kind: plot::charts::Kind,
        /// Further scenarios swept with the same seeds and drawn on the same chart.
        #[arg(long, value_name = "SCENARIO", num_args = 1.., requires = "plot")]
        compare: Vec<String>,
        /// After the sweep, shrink the lowest failing seed of each distinct violation into <scenario-stem>-<violation>-min.toml.
        #[arg(long)]
        shrink: bool,
        /// Where `--shrink` writes its files (default: here; created if missing).
        #[arg(long, value_name = "DIR", requires = "shrink")]
        shrink_dir: Option<String>,
        /// Stop a seed whose run takes longer than this in wall-clock time (e.g. 30s, 500ms) and report it as `timeout`; the sweep goes on.
        #[arg(long, value_name = "DURATION", value_parser = args::parse_seed_timeout)]
        seed_timeout: Option<std::time::Duration>,
    },
    /// Join the `sweep --json-out` files of shards (or of ranges that meet end to end) into the summary one sweep over the whole range prints.
    Merge {
        /// The shards' summary files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<String>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Also write the merged summary as JSON to this file (atomically; itself mergeable).
        #[arg(long, value_name = "FILE.json")]
        json_out: Option<String>,
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
        #[arg(long, default_value = "10s", value_parser = args::parse_budget)]
        budget: std::time::Duration,
        /// Give up with the verdict "unknown" before the search holds more than this (e.g. 512MiB, 2GiB).
        #[arg(long, default_value = "1GiB", value_parser = crate::check::linearizability::parse_bytes)]
        memory: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Run one scenario with one seed and write a self-contained HTML report: description, diagram, narration, checks, violations, reproduce command.
    Report {
        /// The scenario file (TOML).
        scenario: String,
        /// Override a scenario field before validation, e.g. `--set duration='"5s"'` or `--set 'raft.bugs=["vote_not_synced"]'` (KEY a dotted path, VALUE a TOML value; repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse)]
        set: Vec<Override>,
        /// The seed (default: the scenario's `seed`, or 0).
        #[arg(long)]
        seed: Option<u64>,
        /// The HTML file to write.
        #[arg(short = 'o', long = "output", value_name = "FILE.html")]
        output: String,
        /// The diagram's window starts here (true time, e.g. 1.9s).
        #[arg(long, value_parser = args::parse_time)]
        from: Option<crate::time::SimTime>,
        /// The diagram's window ends here (true time, e.g. 2.5s; default: the run's end).
        #[arg(long, value_parser = args::parse_time)]
        to: Option<crate::time::SimTime>,
        /// Draw at most this many messages; beyond, an even sample (the legend says so).
        #[arg(long, default_value_t = crate::plot::diagram::DEFAULT_MAX_MESSAGES)]
        plot_max_messages: usize,
        /// How many narrated lines to include.
        #[arg(long, default_value_t = 200)]
        narrate: usize,
    },
    /// Shrink a failing seed: its faults as an explicit list, made as small as it can be while it fails the same way, written as a scenario file.
    Shrink {
        /// The scenario file (TOML).
        scenario: String,
        /// Override a scenario field before validation, e.g. `--set duration='"5s"'` or `--set 'raft.bugs=["vote_not_synced"]'` (KEY a dotted path, VALUE a TOML value; repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse)]
        set: Vec<Override>,
        /// The failing seed.
        #[arg(long)]
        seed: u64,
        /// The scenario file to write (default: <scenario-stem>-<violation>-min.toml here).
        #[arg(short = 'o', long = "output", value_name = "FILE.toml")]
        output: Option<String>,
        /// The most runs the minimisation may take.
        #[arg(long, value_name = "RUNS", default_value_t = crate::shrink::DEFAULT_BUDGET)]
        budget: u32,
        /// Keep the violation of this check (default: the run's first violation).
        #[arg(long, value_name = "NAME")]
        check: Option<String>,
    },
    /// Run one seed step by step and print its trace events, one line each, for a window, nodes and kinds; or each node's state at a time (--state).
    Replay {
        /// The scenario file (TOML).
        scenario: String,
        /// Override a scenario field before validation, e.g. `--set duration='"5s"'` or `--set 'raft.bugs=["vote_not_synced"]'` (KEY a dotted path, VALUE a TOML value; repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = Override::parse)]
        set: Vec<Override>,
        /// The seed (default: the scenario's `seed`, or 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Show events from this true time on (e.g. 1.9s).
        #[arg(long, value_parser = args::parse_time)]
        from: Option<crate::time::SimTime>,
        /// Show events up to this true time, inclusive, and stop the run there (default: the run's end).
        #[arg(long, value_parser = args::parse_time)]
        until: Option<crate::time::SimTime>,
        /// Show only the events at these nodes (and the network's own events), e.g. n3,n4.
        #[arg(long = "node", value_name = "NODES", value_delimiter = ',')]
        nodes: Vec<String>,
        /// Show only these kinds of event, e.g. send,deliver,fault; record:NAME shows the records of one kind.
        #[arg(long, value_delimiter = ',')]
        kinds: Vec<String>,
        /// Run to this true time and print each node's state instead of events.
        #[arg(long, value_parser = args::parse_time, conflicts_with_all = ["from", "until", "kinds"])]
        state: Option<crate::time::SimTime>,
    },
    /// List the models, checks, and scenarios in a directory.
    List {
        /// Directory of scenario files.
        #[arg(default_value = "scenarios")]
        dir: String,
    },
}

/// The whole command line for the models and checks of `registry`: parses
/// the process's arguments, runs the command, and exits with its code.
pub fn main(registry: Registry) -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = console::Stdout;
    let mut stderr = std::io::stderr();
    let mut io = Io {
        out: &mut stdout,
        err: &mut stderr,
        progress: std::io::stdout().is_terminal(),
        quiet_panics: true,
        command: this_command(),
        sets: Vec::new(),
    };
    let code = dispatch(&mut io, &registry, cli);
    if let Err(e) = console::finish() {
        errln!(io, "error: cannot write to standard output: {e}");
        return ExitCode::from(2);
    }
    ExitCode::from(code as u8)
}

/// Runs the command line `args` (without the program's name) for
/// `registry`, writing what it prints to `out` and `err`; returns the exit
/// code. Usage errors and `--help` are written there too.
pub fn run_with_args<I, T>(
    registry: &Registry,
    args: I,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv = std::iter::once(OsString::from("faultlab")).chain(args.into_iter().map(Into::into));
    let mut io = Io {
        out,
        err,
        progress: false,
        quiet_panics: false,
        command: summary::DEFAULT_COMMAND.to_string(),
        sets: Vec::new(),
    };
    match Cli::try_parse_from(argv) {
        Ok(cli) => dispatch(&mut io, registry, cli),
        Err(e) => {
            let text = e.render().to_string();
            if e.use_stderr() {
                errln!(io, "{}", text.trim_end());
            } else {
                outln!(io, "{}", text.trim_end());
            }
            e.exit_code()
        }
    }
}

fn dispatch(io: &mut Io<'_>, registry: &Registry, cli: Cli) -> i32 {
    match cli.command {
        Command::Run {
            scenario,
            set,
            seed,
            json,
            trace,
            history,
            metrics,
            plot_metrics,
            check_determinism,
            narrate,
            around,
            plot,
            from,
            to,
            plot_max_messages,
        } => {
            io.sets = set;
            let flags = run::RunFlags {
                around,
                seed,
                json,
                trace,
                history,
                metrics,
                plot_metrics: plot_metrics.map(|file| run::MetricPlotFlags { file, from, to }),
                check: check_determinism,
                narrate,
                plot: plot.map(|file| run::PlotFlags {
                    file,
                    from,
                    to,
                    max_messages: plot_max_messages,
                }),
            };
            run::cmd_run(io, registry, &scenario, flags)
        }
        Command::Sweep {
            scenario,
            set,
            seeds,
            jobs,
            shard,
            json,
            json_out,
            plot,
            metric,
            plot_kind,
            compare,
            shrink,
            shrink_dir,
            seed_timeout,
        } => {
            io.sets = set;
            let plot = plot.map(|file| sweep::PlotFlags {
                file,
                metric: metric.unwrap_or_default(),
                kind: plot_kind,
                compare,
            });
            let flags = sweep::SweepFlags {
                seeds,
                jobs,
                shard,
                json,
                json_out,
                plot,
                shrink: shrink.then(|| shrink_dir.unwrap_or_else(|| ".".to_string())),
                seed_timeout,
            };
            sweep::cmd_sweep(io, registry, &scenario, flags)
        }
        Command::Merge {
            files,
            json,
            json_out,
        } => merge::cmd_merge(io, &files, json, json_out.as_deref()),
        Command::Check {
            history,
            model,
            format,
            budget,
            memory,
            json,
        } => check::cmd_check(io, &history, &model, &format, (budget, memory), json),
        Command::Report {
            scenario,
            set,
            seed,
            output,
            from,
            to,
            plot_max_messages,
            narrate,
        } => {
            io.sets = set;
            let flags = report::ReportFlags {
                seed,
                page: run::PlotFlags {
                    file: output,
                    from,
                    to,
                    max_messages: plot_max_messages,
                },
                narrate,
            };
            report::cmd_report(io, registry, &scenario, flags)
        }
        Command::Shrink {
            scenario,
            set,
            seed,
            output,
            budget,
            check,
        } => {
            io.sets = set;
            let flags = shrink::ShrinkFlags {
                seed,
                output,
                budget,
                check,
            };
            shrink::cmd_shrink(io, registry, &scenario, flags)
        }
        Command::Replay {
            scenario,
            set,
            seed,
            from,
            until,
            nodes,
            kinds,
            state,
        } => {
            io.sets = set;
            let flags = replay::ReplayFlags {
                seed,
                from,
                until,
                nodes,
                kinds,
                state,
            };
            replay::cmd_replay(io, registry, &scenario, flags)
        }
        Command::List { dir } => list::cmd_list(io, registry, &dir),
    }
}

/// How to run the running binary with cargo, for reproduce commands: an
/// example (`target/*/examples/NAME`) is `cargo run --release --example
/// NAME --`; any other binary `cargo run --release --`.
fn this_command() -> String {
    let exe = std::env::current_exe().ok();
    let example = exe.as_deref().and_then(|path| {
        let parent = path.parent()?.file_name()?;
        (parent == "examples").then(|| path.file_stem()?.to_str().map(str::to_string))?
    });
    match example {
        Some(name) => format!("cargo run --release --example {name} --"),
        None => summary::DEFAULT_COMMAND.to_string(),
    }
}

/// Loads a scenario for `run` or `sweep`; warns (one line) if it is heavy.
/// The command reproducing seed `seed` of the scenario `path` with this
/// binary, its `--set` flags included.
fn reproduce(io: &Io<'_>, path: &str, seed: u64) -> String {
    format!(
        "{}{}",
        summary::reproduce_with(&io.command, path, seed),
        crate::scenario::overrides::flags(&io.sets)
    )
}

fn load(io: &mut Io<'_>, registry: &Registry, path: &str) -> Result<Scenario, i32> {
    let scenario = Scenario::load_with_overrides(registry, path, &io.sets).map_err(|e| {
        errln!(io, "error: {e}");
        2
    })?;
    if let Some(warning) = scenario.heavy_warning() {
        errln!(io, "{warning}");
    }
    Ok(scenario)
}
