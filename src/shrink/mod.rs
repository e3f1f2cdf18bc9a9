//! Shrinking: the smallest fault schedule that still breaks a seed.
//!
//! A failing seed's faults (chaos, ranges, triggers, targets) are read
//! from its trace as an explicit list ([`explicit`]); the scenario with that
//! list and no `[chaos]` must fail the same way (the same check and
//! violation name), or shrinking stops and says so. Then [`minimise`]
//! tries smaller scenarios, in a fixed order, keeping each that still
//! fails the same way with the same seed: faults after the violation and
//! the time after it cut; faults dropped (delta debugging: chunks, then
//! single faults); fewer clients and keys; shorter pauses, bursts and link
//! changes; restarts and heals moved closer to their crash or partition;
//! faults moved later; the duration cut again. Every run counts against a
//! budget; when it is spent, the smallest scenario so far is the result.
//!
//! Each candidate is rendered as a scenario file ([`file`]) and loaded
//! from that text before it runs, so what was tested is what is written.
//! Nothing here reads a clock or iterates a hash map: the same file, seed
//! and budget give the same output, byte for byte.

pub mod explicit;
pub mod file;
mod minimise;
pub mod toml;

use crate::registry::Registry;
use crate::scenario::{run, RunOptions, RunReport, Scenario, ScenarioError};
use crate::time::{SimDuration, SimTime};
use file::{Base, Candidate};
use std::cell::RefCell;
use std::rc::Rc;

/// The default run budget of `faultlab shrink`.
pub const DEFAULT_BUDGET: u32 = 500;

/// What to shrink.
#[derive(Clone, Debug)]
pub struct ShrinkOptions {
    /// The failing seed.
    pub seed: u64,
    /// The most runs the minimisation may take (the original seed, the
    /// explicit schedule and the final file run once more each).
    pub budget: u32,
    /// Shrink the violation of this check (default: the run's first).
    pub check: Option<String>,
    /// The output file's name, as the shrunk scenario names itself.
    pub output: String,
}

/// The violation a shrink keeps: its check and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    /// The check that found it.
    pub check: String,
    /// The violation's name.
    pub name: String,
}

/// A shrunk scenario and how it came to be.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The scenario file's text.
    pub text: String,
    /// The violation it keeps.
    pub target: Target,
    /// Faults of the failing run, and in the shrunk file.
    pub faults: (usize, usize),
    /// Clients before and after (if the scenario has a workload).
    pub clients: Option<(u32, u32)>,
    /// The duration before and after.
    pub duration: (SimDuration, SimDuration),
    /// Runs taken, all included.
    pub runs: u32,
    /// True if the budget ran out before every step was tried.
    pub budget_spent: bool,
    /// The shrunk schedule, one narrated line per fault.
    pub schedule: Vec<String>,
    /// When the shrunk file's run meets the violation.
    pub violation_time: SimTime,
}

/// Why a scenario could not be shrunk.
#[derive(Debug)]
pub enum ShrinkError {
    /// The scenario file is wrong.
    Scenario(ScenarioError),
    /// The seed passes (or has no violation of the asked check).
    Passes(String),
    /// The scenario cannot be shrunk as it is (e.g. it has `[[steps]]`).
    Unsupported(String),
    /// The explicit schedule does not fail the same way: shrinking would
    /// prove nothing.
    NotReproduced(String),
}

impl std::fmt::Display for ShrinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShrinkError::Scenario(e) => write!(f, "{e}"),
            ShrinkError::Passes(m)
            | ShrinkError::Unsupported(m)
            | ShrinkError::NotReproduced(m) => {
                write!(f, "{m}")
            }
        }
    }
}

/// A step of the shrinker, for progress reports.
#[derive(Clone, Debug)]
pub enum Progress {
    /// A run ended: `runs` so far; `faults` in the smallest failing
    /// scenario so far (before the first, in the original run).
    Run { runs: u32, faults: usize },
    /// A smaller scenario still fails: what changed, and its size.
    Improved {
        runs: u32,
        step: &'static str,
        faults: usize,
        duration: SimDuration,
    },
}

/// Shrinks seed `options.seed` of the scenario file `path` (a model of
/// `registry`); `progress` hears of every run and every improvement.
pub fn shrink(
    registry: &Registry,
    path: &str,
    options: &ShrinkOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Shrunk, ShrinkError> {
    shrink_with(registry, path, &[], options, progress)
}

/// [`shrink`] of the scenario file `path` with `overrides` (`--set`)
/// applied to its text: the shrunk file holds the overridden values.
pub fn shrink_with(
    registry: &Registry,
    path: &str,
    overrides: &[crate::scenario::Override],
    options: &ShrinkOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Shrunk, ShrinkError> {
    let (text, scenario) = load(registry, path, overrides)?;
    if let Some(check) = &options.check {
        if !scenario.checks.contains(check) {
            return Err(ShrinkError::Unsupported(format!(
                "--check {check}: {path} runs the checks {}",
                scenario.checks.join(", ")
            )));
        }
    }
    let seed = options.seed;
    let (report, faults) = run_collecting(&scenario, seed);
    let target = pick_target(&report, options.check.as_deref(), seed)?;
    let judges_liveness = scenario
        .check_defs
        .iter()
        .any(|c| c.info.severity == crate::check::Severity::Liveness);
    let base = Base::new(
        &text,
        seed,
        &target.name,
        judges_liveness.then_some(scenario.liveness),
        scenario.names.clone(),
    )
    .map_err(|m| ShrinkError::Unsupported(format!("{path}: {m}")))?;
    let (clients, keys) = base.workload();
    let start = Candidate {
        faults,
        duration: scenario.duration,
        clients,
        keys,
    };
    let before = start.faults.len();
    let mut shrinker = minimise::Shrinker::new(
        registry,
        base,
        seed,
        target,
        options.output.clone(),
        options.budget,
        progress,
    );
    shrinker.count_run(before);
    if !shrinker.reproduces_fixed(&start) {
        return Err(ShrinkError::NotReproduced(format!(
            "seed {seed} of {path} fails with {} (check {}), but not with its faults ({before}) as an explicit schedule: {}; nothing shrunk (see README, Shrinking)",
            shrinker.target.name,
            shrinker.target.check,
            shrinker.last_outcome()
        )));
    }
    shrinker.minimise();
    shrinker.finish(path, &scenario, before)
}

/// The scenario file's text and the scenario; one with `[[steps]]` is
/// refused.
fn load(
    registry: &Registry,
    path: &str,
    overrides: &[crate::scenario::Override],
) -> Result<(String, Scenario), ShrinkError> {
    let (original, text) =
        Scenario::read_overridden(path, overrides).map_err(ShrinkError::Scenario)?;
    let scenario = Scenario::parse_with(registry, &text, path).map_err(|e| {
        ShrinkError::Scenario(crate::scenario::overrides::blame(
            e, overrides, &original, &text,
        ))
    })?;
    if !scenario.steps.is_empty() {
        return Err(ShrinkError::Unsupported(format!(
            "{path} has [[steps]], a script; shrink works on [[faults]] and [chaos] only (write the script's faults as [[faults]] to shrink them)"
        )));
    }
    Ok((text, scenario))
}

/// Runs `seed` and collects its faults from the trace.
fn run_collecting(scenario: &Scenario, seed: u64) -> (RunReport, Vec<crate::fault::TimedFault>) {
    let collector = Rc::new(RefCell::new(explicit::FaultCollector::default()));
    let hook = Rc::clone(&collector);
    let report = run(
        scenario,
        seed,
        RunOptions {
            narrate: 0,
            series: false,
            on_event: Some(Box::new(move |e| hook.borrow_mut().see(e))),
            ..RunOptions::default()
        },
    );
    let faults = std::mem::take(&mut *collector.borrow_mut()).into_faults();
    (report, faults)
}

/// The violation to keep: the first of `check` if given, else the first.
fn pick_target(report: &RunReport, check: Option<&str>, seed: u64) -> Result<Target, ShrinkError> {
    let found = report
        .violations
        .iter()
        .find(|v| check.is_none_or(|c| v.check == c));
    match (found, check) {
        (Some(v), _) => Ok(Target {
            check: v.check.clone(),
            name: v.name.clone(),
        }),
        (None, None) => Err(ShrinkError::Passes(format!(
            "seed {seed} passes; nothing to shrink"
        ))),
        (None, Some(c)) => {
            let found: Vec<String> = report
                .violations
                .iter()
                .map(|v| format!("{} ({})", v.name, v.check))
                .collect();
            Err(ShrinkError::Passes(if found.is_empty() {
                format!("seed {seed} passes; nothing to shrink")
            } else {
                format!(
                    "seed {seed} has no violation of check {c}; it has {}",
                    found.join(", ")
                )
            }))
        }
    }
}
