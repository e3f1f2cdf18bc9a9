//! Scenario files: TOML in, a validated [`Scenario`] out, and runs of it.
//!
//! A scenario names the model and its parameters, the nodes (and zones),
//! the network, the clocks, the fault schedule and chaos, the checks and the
//! liveness bound, the duration and the limits. `scenarios/*.toml` document
//! the format by example; `README.md` lists every field.
//!
//! Every mistake, syntactic or semantic, is a [`ScenarioError`] naming the
//! file, the line and the field, and saying what was expected. User input
//! never causes a panic.

mod error;
mod estimate;
pub mod file;
pub mod overrides;
pub mod run;
pub mod script;
mod stepper;
mod validate;

pub use error::{Lines, ScenarioError};
pub use estimate::HEAVY_EVENTS;
pub use overrides::Override;
pub use run::{
    check_determinism, run, run_custom, run_custom_tampered, Determinism, RunOptions, RunReport,
    Verdict, TIMEOUT_VIOLATION, WALL_CLOCK_CHECK_EVERY,
};
pub use stepper::{Stepper, Stepping};
pub(crate) use validate::ModelTable;
pub use validate::MAX_NODES;

use crate::check::LivenessBound;
use crate::clock::Clock;
use crate::engine::{Limits, Noise};
use crate::fault::chaos::ChaosConfig;
use crate::fault::points::ArmedPoints;
use crate::fault::{FaultSchedule, PlannedFault};
use crate::model::Configured;
use crate::models::workload::Workload;
use crate::net::Topology;
use crate::registry::{CheckDef, Registry};
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use std::sync::Arc;

/// A validated scenario, ready to run with any seed.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file as the user named it.
    pub file: String,
    /// What a reader should watch for.
    pub description: String,
    /// `"pass"` or the violation name the scenario means to show.
    pub expect: String,
    /// The model and its parameters.
    pub model: Arc<dyn Configured>,
    /// The clients, if the model has any.
    pub workload: Option<Workload>,
    /// How long each run simulates.
    pub duration: SimDuration,
    /// Seed used when none is given.
    pub default_seed: u64,
    /// Node names, indexed by node id: servers, then clients.
    pub names: Vec<String>,
    /// How many of the nodes are servers (the rest are clients).
    pub servers: usize,
    /// Each node's peers: servers see the other servers, clients see the servers.
    pub peers: Vec<Vec<crate::node::NodeId>>,
    /// The network.
    pub topology: Topology,
    /// Each node's clock.
    pub clocks: Vec<Clock>,
    /// Faults written in the file, in file order, with their times as
    /// written (fixed, a range, or a trigger): [`Scenario::fault_schedule`]
    /// draws one seed's times.
    pub faults: Vec<PlannedFault>,
    /// Seeded chaos, if any.
    pub chaos: Option<ChaosConfig>,
    /// The test script (`[[steps]]`), run in order from time zero.
    pub steps: Vec<script::Step>,
    /// Checks to run, by name.
    pub checks: Vec<String>,
    /// The registered definitions of the checks the scenario named (a
    /// caller may take names out of `checks`, not add others).
    pub(crate) check_defs: Vec<CheckDef>,
    /// The liveness bound for liveness checks.
    pub liveness: LivenessBound,
    /// Caps on a run.
    pub limits: Limits,
    /// Timing noise (`[noise]`; default none).
    pub noise: Noise,
    /// Bytes the linearizability check's search may hold (`[limits]
    /// linearizability_memory`, default 1 GiB).
    pub linearizability_memory: u64,
    /// How the service checks measure and judge (`[metrics]`).
    pub metrics: crate::check::service::MetricsConfig,
}

impl Scenario {
    /// Reads and validates a scenario file of a built-in model.
    pub fn load(path: &str) -> Result<Scenario, ScenarioError> {
        Scenario::load_with(&Registry::builtin(), path)
    }

    /// Reads and validates a scenario file of a model in `registry`.
    pub fn load_with(registry: &Registry, path: &str) -> Result<Scenario, ScenarioError> {
        let text = crate::input::read_text(
            std::path::Path::new(path),
            "scenario file",
            crate::input::MAX_SCENARIO_BYTES,
        )
        .map_err(|e| ScenarioError {
            file: path.to_string(),
            line: e.line,
            field: None,
            message: e.message,
        })?;
        Scenario::parse_with(registry, &text, path)
    }

    /// Reads a scenario file of a model in `registry`, applies `overrides`
    /// (`--set KEY=VALUE`, in order) to its text, and validates the result;
    /// an error in an overridden field says it came from `--set`.
    pub fn load_with_overrides(
        registry: &Registry,
        path: &str,
        overrides: &[Override],
    ) -> Result<Scenario, ScenarioError> {
        let (original, text) = Scenario::read_overridden(path, overrides)?;
        Scenario::parse_with(registry, &text, path)
            .map_err(|e| overrides::blame(e, overrides, &original, &text))
    }

    /// The text of the scenario file `path`, as read and with `overrides`
    /// applied.
    pub fn read_overridden(
        path: &str,
        overrides: &[Override],
    ) -> Result<(String, String), ScenarioError> {
        let text = crate::input::read_text(
            std::path::Path::new(path),
            "scenario file",
            crate::input::MAX_SCENARIO_BYTES,
        )
        .map_err(|e| ScenarioError {
            file: path.to_string(),
            line: e.line,
            field: None,
            message: e.message,
        })?;
        let edited = overrides::apply(&text, overrides).map_err(|message| ScenarioError {
            file: path.to_string(),
            line: None,
            field: None,
            message,
        })?;
        Ok((text, edited))
    }

    /// Validates scenario text of a built-in model; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse_with(&Registry::builtin(), text, file)
    }

    /// Validates scenario text of a model in `registry`; `file` names it in errors.
    pub fn parse_with(
        registry: &Registry,
        text: &str,
        file: &str,
    ) -> Result<Scenario, ScenarioError> {
        validate::parse(text, file, registry)
    }

    /// The whole fault schedule for `seed`: the file's faults, their
    /// ranges and delays drawn from the seed's `"fault_times"` stream, and
    /// the chaos (as swarm drew it for the seed, if on: see
    /// [`ChaosConfig::for_seed`]) drawn from its `"faults"` stream, merged by time (file
    /// first on ties); the file's triggered faults watch until the end.
    pub fn fault_schedule(&self, seed: u64) -> FaultSchedule {
        let mut times = SimRng::stream(seed, "fault_times");
        let mut schedule = FaultSchedule::draw(&self.faults, self.end(), &mut times);
        if let Some(chaos) = &self.chaos {
            let mut rng = SimRng::stream(seed, "faults");
            schedule.timed.extend(
                chaos
                    .for_seed(seed)
                    .schedule(self.names.len() as u32, &mut rng),
            );
        }
        schedule.timed.sort_by_key(|f| f.at);
        schedule
    }

    /// The run's fault points for `seed` (see [`crate::fault::points`]):
    /// `None` without `[chaos] fault_points`, or when swarm turned them off
    /// for this seed.
    pub fn fault_points(&self, seed: u64) -> Option<ArmedPoints> {
        let chaos = self.chaos.as_ref()?.for_seed(seed);
        let points = chaos.fault_points.as_ref()?;
        Some(points.arm(seed, chaos.until, chaos.victims.as_deref()))
    }

    /// The end of the run in true time.
    pub fn end(&self) -> SimTime {
        SimTime::ZERO + self.duration
    }

    /// A short name: the file's stem.
    pub fn short_name(&self) -> &str {
        let base = self.file.rsplit('/').next().unwrap_or(&self.file);
        base.strip_suffix(".toml").unwrap_or(base)
    }
}
