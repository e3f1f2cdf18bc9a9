//! The scenario file as written: serde structs mirroring the TOML.
//!
//! Unknown keys are errors (`deny_unknown_fields`). Fields that are checked
//! after parsing are `Spanned`, so their errors can name the line.

use crate::time::SimDuration;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// The top-level keys of [`ScenarioFile`]: no model may take one of these
/// names for its table.
pub const KEYS: &[&str] = &[
    "description",
    "expect",
    "model",
    "duration",
    "seed",
    "checks",
    "workload",
    "nodes",
    "network",
    "clocks",
    "faults",
    "chaos",
    "liveness",
    "limits",
    "steps",
    "noise",
    "metrics",
];

/// The whole file but the model's table (each model reads its own, see
/// [`crate::Model::Table`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// What a reader should watch for.
    pub description: Option<String>,
    /// `"pass"` or the name of the violation the scenario means to show.
    pub expect: Option<Spanned<String>>,
    /// The protocol model, e.g. `"heartbeat"`.
    pub model: Spanned<String>,
    /// How long to simulate.
    pub duration: Spanned<SimDuration>,
    /// The seed used when `--seed` is not given.
    pub seed: Option<u64>,
    /// The checks to run (default: the model's own).
    pub checks: Option<Vec<Spanned<String>>>,
    /// The clients (models with clients).
    pub workload: Option<Spanned<WorkloadSection>>,
    /// The nodes.
    pub nodes: Spanned<NodesSection>,
    /// The network.
    #[serde(default)]
    pub network: NetworkSection,
    /// Clock skew and drift per node, by node name.
    #[serde(default)]
    pub clocks: BTreeMap<Spanned<String>, ClockSection>,
    /// The timed fault schedule.
    #[serde(default)]
    pub faults: Vec<Spanned<FaultSection>>,
    /// Seeded random faults.
    pub chaos: Option<Spanned<ChaosSection>>,
    /// The liveness bound.
    pub liveness: Option<LivenessSection>,
    /// Caps on the run.
    #[serde(default)]
    pub limits: LimitsSection,
    /// The test script, run in order from time zero.
    #[serde(default)]
    pub steps: Vec<Spanned<StepSection>>,
    /// Timing noise (default: none).
    #[serde(default)]
    pub noise: NoiseSection,
    /// How the service checks measure (default: see [`MetricsSection`]).
    pub metrics: Option<Spanned<MetricsSection>>,
}

/// `[workload]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSection {
    /// Number of clients, named c1..cN.
    pub clients: Spanned<u32>,
    /// Think time between operations: [shortest, longest] (default ["0ms", "10ms"]).
    pub think: Option<Spanned<[SimDuration; 2]>>,
    /// How long a client waits before recording the outcome as unknown.
    pub timeout: Spanned<SimDuration>,
    /// Share of reads, 0 to 1 (default 0.5).
    pub read_fraction: Option<Spanned<f64>>,
    /// Keys for key-value models (default 3).
    pub keys: Option<Spanned<u32>>,
}

/// `[nodes]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodesSection {
    /// Number of nodes, named n1..nN (give this or `names`).
    pub count: Option<Spanned<u32>>,
    /// Explicit node names.
    pub names: Option<Spanned<Vec<String>>>,
    /// Zones: name -> member nodes.
    #[serde(default)]
    pub zones: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
}

/// `[network]` and `[network.inter_zone]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSection {
    /// One-way latency distribution.
    pub latency: Option<Spanned<LatencySection>>,
    /// Loss probability (0 to 1).
    pub loss: Option<Spanned<f64>>,
    /// Duplication probability (0 to 1).
    pub duplicate: Option<Spanned<f64>>,
    /// `"fifo"` or `"any"`.
    pub ordering: Option<Spanned<String>>,
    /// Overrides for links between zones.
    pub inter_zone: Option<Box<NetworkSection>>,
}

/// `latency = { dist = "uniform", min = "1ms", max = "10ms" }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySection {
    /// constant, uniform, normal, exponential, bimodal.
    pub dist: String,
    /// constant: the latency.
    pub value: Option<SimDuration>,
    /// uniform, normal, exponential, bimodal: the least latency.
    pub min: Option<SimDuration>,
    /// uniform, bimodal: the greatest latency of the fast mode.
    pub max: Option<SimDuration>,
    /// normal, exponential: the mean.
    pub mean: Option<SimDuration>,
    /// normal: the standard deviation.
    pub stddev: Option<SimDuration>,
    /// bimodal: the slow mode's range.
    pub slow_min: Option<SimDuration>,
    /// bimodal: the slow mode's range.
    pub slow_max: Option<SimDuration>,
    /// bimodal: how often a message takes the slow mode.
    pub slow_probability: Option<f64>,
}

/// `[clocks.n2]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSection {
    /// Signed skew, e.g. `"-50ms"`.
    pub offset: Option<Spanned<String>>,
    /// Rate error in parts per million.
    pub drift_ppm: Option<Spanned<i64>>,
}

/// One `[[faults]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSection {
    /// When (true time since the start): `"2s"`, or `["2s", "2.075s"]` for a
    /// uniform time drawn per seed; with `after`, when watching begins.
    /// Required unless `after` is given.
    pub at: Option<Spanned<toml::Value>>,
    /// Fire after the first observation: a record kind (`"leader"`) or
    /// `"role:ROLE"`.
    pub after: Option<Spanned<String>>,
    /// With `after`: how long after the observation, `"150ms"` or a range
    /// `["0ms", "75ms"]` drawn per seed (default 0).
    pub delay: Option<Spanned<toml::Value>>,
    /// partition, one_way, bridge, isolate, heal, crash, restart, pause,
    /// clock_jump, loss_burst, set_link, set, heal_all, byzantine.
    pub kind: Spanned<String>,
    /// The node (crash, restart, pause, clock_jump, isolate, bridge, set,
    /// byzantine).
    pub node: Option<Spanned<String>>,
    /// Groups of nodes or targets (partition, bridge).
    pub groups: Option<Spanned<Vec<Vec<String>>>>,
    /// One-way, set_link: senders (nodes or targets).
    pub from: Option<Spanned<Vec<String>>>,
    /// One-way, set_link: receivers (nodes or targets); byzantine with
    /// `adversary = "drop_to"`: the peers whose messages it drops (names).
    pub to: Option<Spanned<Vec<String>>>,
    /// How long (pause, loss_burst; set_link: until the links return;
    /// set: until the knobs return; byzantine: until the node is honest).
    pub duration: Option<SimDuration>,
    /// Clock jump: signed amount, e.g. `"-2s"`.
    pub by: Option<Spanned<String>>,
    /// Loss burst: probability.
    pub probability: Option<Spanned<f64>>,
    /// set_link: the new latency distribution (as `[network] latency`).
    pub latency: Option<Spanned<LatencySection>>,
    /// set_link: the new loss probability.
    pub loss: Option<Spanned<f64>>,
    /// set_link: the new duplication probability.
    pub duplicate: Option<Spanned<f64>>,
    /// set_link: change the links `to -> from` too (default false).
    pub symmetric: Option<bool>,
    /// set: the model's knob to turn (`faultlab list` shows them).
    pub knob: Option<Spanned<String>>,
    /// set: the knob's new value.
    pub value: Option<Spanned<f64>>,
    /// set: `"clients"`, `"servers"`, `"all"`, or a list of names and targets.
    pub nodes: Option<Spanned<toml::Value>>,
    /// byzantine: what it does to its messages: equivocate, drop_to,
    /// replay or corrupt.
    pub adversary: Option<Spanned<String>>,
}

/// One `[[steps]]` entry: one of `fault`, `sleep`, `check` or `stop`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSection {
    /// A fault to apply when the step begins (a `[[faults]]` entry without its time).
    pub fault: Option<Spanned<FaultSection>>,
    /// How long to wait: `"1s"`, or a range `["0ms", "75ms"]` drawn per seed.
    pub sleep: Option<Spanned<toml::Value>>,
    /// `stop = true`: end the run here (the last step).
    pub stop: Option<Spanned<bool>>,
    /// A condition to check: leader, no_leader, same_term, committed, no_commit.
    pub check: Option<Spanned<String>>,
    /// The check passes if the condition holds at some moment within this time.
    pub within: Option<Spanned<SimDuration>>,
    /// The condition must hold after every event for this long.
    #[serde(rename = "for")]
    pub for_: Option<Spanned<SimDuration>>,
    /// committed: the log index (`12`), or `"+K"` above the highest
    /// committed when the step begins.
    pub index: Option<Spanned<toml::Value>>,
    /// committed: on how many servers (default: all).
    pub servers: Option<Spanned<u64>>,
}

/// `[chaos]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaosSection {
    /// Chaos ends (and everything heals) here.
    pub until: Spanned<SimDuration>,
    /// Mean time between crashes.
    pub crash_every: Option<SimDuration>,
    /// A crash lasts a uniform time in this range.
    pub downtime: Option<[SimDuration; 2]>,
    /// Mean time between partitions.
    pub partition_every: Option<SimDuration>,
    /// A partition lasts a uniform time in this range.
    pub partition_duration: Option<[SimDuration; 2]>,
    /// Mean time between pauses.
    pub pause_every: Option<SimDuration>,
    /// A pause lasts a uniform time in this range.
    pub pause_duration: Option<[SimDuration; 2]>,
    /// Mean time between clock jumps.
    pub clock_jump_every: Option<SimDuration>,
    /// Largest jump, either way.
    pub clock_jump_max: Option<SimDuration>,
    /// Mean time between loss bursts.
    pub loss_burst_every: Option<SimDuration>,
    /// Loss probability during a burst.
    pub loss_burst_probability: Option<Spanned<f64>>,
    /// A burst lasts a uniform time in this range.
    pub loss_burst_duration: Option<[SimDuration; 2]>,
    /// Which nodes chaos aims at: "servers" (the default), "clients", "all".
    pub targets: Option<Spanned<Vec<String>>>,
    /// Swarm testing: each seed turns kinds on or off and scales their rates.
    pub swarm: Option<bool>,
    /// Fault points: `"after_write"`, `"after_send[:KIND]"`,
    /// `"after_record:KIND"`, `"point[:NAME]"`.
    pub fault_points: Option<Spanned<Vec<String>>>,
    /// The probability a fault point crashes its node: a number, or a
    /// range `[low, high]` drawn per seed.
    pub fault_point_probability: Option<Spanned<toml::Value>>,
    /// A node crashed at a fault point restarts after a uniform downtime in this range.
    pub fault_point_downtime: Option<[SimDuration; 2]>,
    /// A target (e.g. `"@leader"`) a share of the crashes, partitions,
    /// pauses and clock jumps hit.
    pub aim: Option<Spanned<String>>,
    /// The probability each of those faults is aimed (default 0.5).
    pub aim_share: Option<Spanned<f64>>,
}

/// `[liveness]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LivenessSection {
    /// When the liveness phase begins (default: the last fault).
    pub after: Option<Spanned<SimDuration>>,
    /// How long the system may take to make progress.
    pub within: SimDuration,
}

/// `[noise]`: each key a distribution written like `[network] latency`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseSection {
    /// Added to every timer's fire time (timers fire late, never early).
    pub timer_jitter: Option<Spanned<LatencySection>>,
    /// CPU time of each handler call: its sends leave this much later.
    pub processing: Option<Spanned<LatencySection>>,
    /// Disk time of each storage sync.
    pub sync: Option<Spanned<LatencySection>>,
}

/// `[metrics]`: the time series and the service checks' thresholds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// Time-series bucket (default 1s).
    pub interval: Option<Spanned<SimDuration>>,
    /// `recovers` judges goodput over windows this long (default 1s, or the
    /// least multiple of `interval` above it).
    pub window: Option<Spanned<SimDuration>>,
    /// `goodput_slo`: the least share of requests answered well (default 0.9).
    pub slo: Option<Spanned<f64>>,
    /// `recovers`: the share of the baseline goodput to get back to (default 0.8).
    pub recover_to: Option<Spanned<f64>>,
}

/// `[limits]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Most events in a run.
    pub max_events: Option<u64>,
    /// Most events queued at once.
    pub max_queue: Option<usize>,
    /// Most bytes the linearizability check's search may hold ("1GiB").
    pub linearizability_memory: Option<Spanned<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_lists_every_top_level_key() {
        // serde lists the expected keys when it meets an unknown one.
        let e = toml::from_str::<ScenarioFile>("bogus = 1").unwrap_err();
        let listed: Vec<String> = KEYS.iter().map(|k| format!("`{k}`")).collect();
        assert!(
            e.message()
                .contains(&format!("expected one of {}", listed.join(", "))),
            "{}",
            e.message()
        );
    }
}
