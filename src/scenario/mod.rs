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
pub mod run;
mod validate;

pub use error::{Lines, ScenarioError};
pub use estimate::HEAVY_EVENTS;
pub use run::{check_determinism, run, run_custom, Determinism, RunOptions, RunReport, Verdict};
pub use validate::MAX_NODES;

use crate::check::LivenessBound;
use crate::clock::Clock;
use crate::engine::Limits;
use crate::fault::chaos::ChaosConfig;
use crate::fault::TimedFault;
use crate::models::heartbeat::HeartbeatParams;
use crate::models::lease::LeaseParams;
use crate::models::primary_backup::PrimaryBackupParams;
use crate::models::raft::RaftParams;
use crate::models::workload::Workload;
use crate::net::Topology;
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};

/// The protocol a scenario runs, with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelSpec {
    /// The heartbeat failure detector.
    Heartbeat(HeartbeatParams),
    /// A primary-backup register and its clients.
    PrimaryBackup(PrimaryBackupParams, Workload),
    /// Raft with a replicated key-value store and its clients.
    Raft(RaftParams, Workload),
    /// Lease-based leadership with a fencing storage.
    Lease(LeaseParams),
}

impl ModelSpec {
    /// The model's name as scenarios spell it.
    pub fn name(&self) -> &'static str {
        match self {
            ModelSpec::Heartbeat(_) => "heartbeat",
            ModelSpec::PrimaryBackup(..) => "primary_backup",
            ModelSpec::Raft(..) => "raft",
            ModelSpec::Lease(..) => "lease",
        }
    }

    /// The sequential model its client history is judged against.
    pub fn history_model(&self) -> crate::check::linearizability::LinModel {
        match self {
            ModelSpec::Raft(..) => crate::check::linearizability::LinModel::Kv,
            _ => crate::check::linearizability::LinModel::Register,
        }
    }

    /// The clients, if the model has any.
    pub fn workload(&self) -> Option<&Workload> {
        match self {
            ModelSpec::Heartbeat(_) | ModelSpec::Lease(_) => None,
            ModelSpec::PrimaryBackup(_, workload) | ModelSpec::Raft(_, workload) => Some(workload),
        }
    }
}

/// A model faultlab has, and its checks.
#[derive(Clone, Copy, Debug)]
pub struct ModelInfo {
    /// Name in scenario files.
    pub name: &'static str,
    /// One line on what it is.
    pub about: &'static str,
    /// Checks a scenario may name.
    pub supported: &'static [&'static str],
    /// Checks run when a scenario names none.
    pub default: &'static [&'static str],
    /// Checks that always run, named or not.
    pub always: &'static [&'static str],
}

/// Every model faultlab has.
pub const MODELS: &[ModelInfo] = &[
    ModelInfo {
        name: "heartbeat",
        about: "all-to-all heartbeat failure detector (suspects peers silent for longer than a timeout)",
        supported: &["accuracy", "strong_completeness", "eventual_accuracy"],
        default: &["strong_completeness", "eventual_accuracy"],
        always: &[],
    },
    ModelInfo {
        name: "primary_backup",
        about: "a register replicated from a primary to backups, with clients (reads = \"local\" serves stale reads)",
        supported: &["linearizability", "convergence", "progress"],
        default: &["linearizability", "convergence", "progress"],
        always: &["linearizability"],
    },
    ModelInfo {
        name: "raft",
        about: "Raft (Figure 2, PreVote, CheckQuorum, ReadIndex) replicating a key-value store, with clients",
        supported: &["election_safety", "log_matching", "linearizability", "convergence", "progress"],
        default: &["election_safety", "log_matching", "linearizability", "convergence", "progress"],
        always: &["election_safety", "log_matching", "linearizability"],
    },
    ModelInfo {
        name: "lease",
        about: "lease-based leadership (n1 lease service, n2 fenced storage, n3.. candidates)",
        supported: &["lease_exclusivity", "no_lost_update", "progress"],
        default: &["lease_exclusivity", "no_lost_update"],
        always: &[],
    },
];

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
    pub model: ModelSpec,
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
    /// Faults written in the file.
    pub faults: Vec<TimedFault>,
    /// Seeded chaos, if any.
    pub chaos: Option<ChaosConfig>,
    /// Checks to run.
    pub checks: Vec<String>,
    /// The liveness bound for liveness checks.
    pub liveness: LivenessBound,
    /// Caps on a run.
    pub limits: Limits,
    /// Bytes the linearizability check's search may hold (`[limits]
    /// linearizability_memory`, default 1 GiB).
    pub linearizability_memory: u64,
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &str) -> Result<Scenario, ScenarioError> {
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
        Scenario::parse(&text, path)
    }

    /// Validates scenario text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        validate::parse(text, file)
    }

    /// The whole fault schedule for `seed`: the file's faults and the chaos
    /// drawn from the seed's `"faults"` stream, merged by time (file first on ties).
    pub fn fault_schedule(&self, seed: u64) -> Vec<TimedFault> {
        let mut faults = self.faults.clone();
        if let Some(chaos) = &self.chaos {
            let mut rng = SimRng::stream(seed, "faults");
            faults.extend(chaos.schedule(self.names.len() as u32, &mut rng));
        }
        faults.sort_by_key(|f| f.at);
        faults
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
