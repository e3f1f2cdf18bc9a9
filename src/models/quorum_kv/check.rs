//! The quorum store's own checks: `replica_convergence` (the home replicas
//! of every key agree at the end) and `quorum_metrics` (a measure: stale
//! reads, write latency, repairs, unavailable and hinted writes).

use crate::check::histogram::LatencyHistogram;
use crate::check::{names_of, CheckInfo, Checker, Severity, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::node::{NodeId, Record, OP_RECORD};
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, VecDeque};

/// `replica_convergence`'s description.
pub const REPLICA_CONVERGENCE: CheckInfo = CheckInfo {
    name: "replica_convergence",
    about: "at the end, every running home replica of a key holds the highest version of it (hints included) written more than the liveness bound before",
    severity: Severity::Liveness,
    violation: "divergence",
};

/// `quorum_metrics`' description.
pub const QUORUM_METRICS: CheckInfo = CheckInfo {
    name: "quorum_metrics",
    about: "measures the quorum store's stale read rate, write latency p50/p99, read repairs, unavailable and hinted writes (from `op`, `read_result`, `write_acked`, `read_repair`, `unavailable`, `hint`, `handoff`); never fails a run",
    severity: Severity::Safety,
    violation: "",
};

/// A version as records spell it, `[counter, node]`, comparable.
type Version = (u64, u64);

fn record_of(event: &TraceEvent) -> Option<(NodeId, &Record)> {
    match (&event.kind, event.node) {
        (EventKind::Record(r), Some(node)) => Some((node, r)),
        _ => None,
    }
}

fn version_of(record: &Record) -> Option<Version> {
    let v = record.detail.get("version")?.as_array()?;
    Some((v.first()?.as_u64()?, v.get(1)?.as_u64()?))
}

fn key_of(record: &Record) -> Option<String> {
    Some(record.detail.get("key")?.as_str()?.to_string())
}

fn show(v: Version) -> String {
    format!("({}, n{})", v.0, v.1 + 1)
}

/// At the end, every running home replica of each key holds at least the
/// highest version of that key that existed anywhere (a replica's copy or a
/// stand-in's hint) more than `within` before the end.
#[derive(Debug)]
pub struct ReplicaConvergence {
    within: SimDuration,
    /// (key, replica) -> the version it holds.
    holds: BTreeMap<(String, NodeId), Version>,
    /// Per key: (time, version, node) each time the highest version grew,
    /// from the last one settled on.
    frontier: BTreeMap<String, VecDeque<(SimTime, Version, NodeId)>>,
}

impl ReplicaConvergence {
    /// Replicas may be no more than `within` behind at the end.
    pub fn new(within: SimDuration) -> ReplicaConvergence {
        ReplicaConvergence {
            within,
            holds: BTreeMap::new(),
            frontier: BTreeMap::new(),
        }
    }

    fn settled(&self, now: SimTime) -> SimTime {
        SimTime(now.as_nanos().saturating_sub(self.within.as_nanos()))
    }
}

impl Checker for ReplicaConvergence {
    fn name(&self) -> &'static str {
        REPLICA_CONVERGENCE.name
    }

    fn on_event(&mut self, event: &TraceEvent, _world: &World) -> Option<Violation> {
        let (node, record) = record_of(event)?;
        if record.kind != "apply" && record.kind != "hint" {
            return None;
        }
        let (key, version) = (key_of(record)?, version_of(record)?);
        if record.kind == "apply" {
            self.holds.insert((key.clone(), node), version);
        }
        let settled = self.settled(event.time);
        let frontier = self.frontier.entry(key).or_default();
        if frontier.back().is_none_or(|(_, v, _)| version > *v) {
            frontier.push_back((event.time, version, node));
        }
        while frontier.get(1).is_some_and(|(t, _, _)| *t <= settled) {
            frontier.pop_front();
        }
        None
    }

    fn finish(&mut self, end: SimTime, world: &World) -> Option<Violation> {
        let settled = self.settled(end);
        for ((key, node), &version) in &self.holds {
            let Some(&(written, target, writer)) = self
                .frontier
                .get(key)
                .and_then(|f| f.iter().rev().find(|(t, _, _)| *t <= settled))
            else {
                continue;
            };
            let status = world.status(*node);
            if !status.up || status.paused || status.running_since > settled || version >= target {
                continue;
            }
            return Some(Violation {
                name: "divergence".into(),
                check: self.name().into(),
                severity: Severity::Liveness,
                time: end,
                nodes: names_of(world, &[*node, writer]),
                explanation: format!(
                    "home replica {} of {key} ends at version {}, but {} held version {} at {written}, more than {} before the end; {}",
                    world.name(*node),
                    show(version),
                    world.name(writer),
                    show(target),
                    self.within,
                    world.faults_in_force()
                ),
            });
        }
        None
    }

    fn note(&self) -> Option<String> {
        let keys = self.frontier.len();
        let replicas = self.holds.len();
        Some(format!(
            "{replicas} home copies of {keys} keys judged at the end"
        ))
    }
}

/// Measures the store as its clients see it (see [`QUORUM_METRICS`]).
#[derive(Debug, Default)]
pub struct QuorumMetrics {
    /// Per key: the highest version acknowledged to a client so far.
    acked: BTreeMap<String, Version>,
    /// Per client: its open get's key and the highest version acknowledged
    /// before it began.
    open_reads: BTreeMap<NodeId, (String, Version)>,
    /// Per client: when its open put began.
    open_puts: BTreeMap<NodeId, SimTime>,
    reads: u64,
    stale_reads: u64,
    /// The acknowledged writes' latencies (bounded, within 0.8%).
    write_latencies: LatencyHistogram,
    read_repairs: u64,
    writes_unavailable: u64,
    hinted_writes: u64,
    handoffs: u64,
}

impl QuorumMetrics {
    /// The `q` quantile of the acknowledged writes' latencies, in ms.
    fn latency_ms(&self, q: f64) -> Option<f64> {
        self.write_latencies.quantile(q).map(|ns| ns as f64 / 1e6)
    }

    /// Reads that returned something older than an acknowledged write, per read.
    fn stale_rate(&self) -> f64 {
        if self.reads == 0 {
            0.0
        } else {
            self.stale_reads as f64 / self.reads as f64
        }
    }

    fn on_op(&mut self, node: NodeId, time: SimTime, record: &Record) {
        let d = &record.detail;
        let (Some(kind), Some(f)) = (
            d.get("type").and_then(|t| t.as_str()),
            d.get("f").and_then(|t| t.as_str()),
        ) else {
            return;
        };
        match (kind, f) {
            ("invoke", "get") => {
                if let Some(key) = key_of(record) {
                    let floor = self.acked.get(&key).copied().unwrap_or_default();
                    self.open_reads.insert(node, (key, floor));
                }
            }
            ("invoke", "put") => {
                self.open_puts.insert(node, time);
            }
            ("ok", "put") => {
                if let Some(began) = self.open_puts.remove(&node) {
                    self.write_latencies
                        .record(time.as_nanos().saturating_sub(began.as_nanos()));
                }
            }
            (_, "put") => {
                self.open_puts.remove(&node);
            }
            (_, "get") => {
                self.open_reads.remove(&node);
            }
            _ => {}
        }
    }
}

impl Checker for QuorumMetrics {
    fn name(&self) -> &'static str {
        QUORUM_METRICS.name
    }

    fn on_event(&mut self, event: &TraceEvent, _world: &World) -> Option<Violation> {
        let (node, record) = record_of(event)?;
        match record.kind.as_str() {
            OP_RECORD => self.on_op(node, event.time, record),
            "write_acked" => {
                if let (Some(key), Some(v)) = (key_of(record), version_of(record)) {
                    let best = self.acked.entry(key).or_default();
                    *best = (*best).max(v);
                }
            }
            "read_result" => {
                if let (Some((key, floor)), Some(v)) =
                    (self.open_reads.get(&node), version_of(record))
                {
                    debug_assert_eq!(
                        Some(key.as_str()),
                        record.detail.get("key").and_then(|k| k.as_str())
                    );
                    self.reads += 1;
                    if v < *floor {
                        self.stale_reads += 1;
                    }
                }
            }
            "read_repair" => self.read_repairs += 1,
            "unavailable" if record.detail.get("f").and_then(|f| f.as_str()) == Some("put") => {
                self.writes_unavailable += 1;
            }
            "hint" => self.hinted_writes += 1,
            "handoff" => self.handoffs += 1,
            _ => {}
        }
        None
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }

    fn note(&self) -> Option<String> {
        let p50 = self
            .latency_ms(0.5)
            .map_or("-".to_string(), |ms| format!("{ms:.1}ms"));
        Some(format!(
            "{} of {} reads stale ({:.1}%); {} writes acknowledged (p50 {p50}), {} unavailable, {} hinted, {} handed off; {} read repairs",
            self.stale_reads,
            self.reads,
            100.0 * self.stale_rate(),
            self.write_latencies.count(),
            self.writes_unavailable,
            self.hinted_writes,
            self.handoffs,
            self.read_repairs
        ))
    }

    fn metrics(&self) -> Vec<(String, f64)> {
        let mut out = vec![
            (
                "quorum_metrics.stale_read_rate".to_string(),
                self.stale_rate(),
            ),
            (
                "quorum_metrics.stale_reads".to_string(),
                self.stale_reads as f64,
            ),
            ("quorum_metrics.reads".to_string(), self.reads as f64),
            (
                "quorum_metrics.writes_acked".to_string(),
                self.write_latencies.count() as f64,
            ),
            (
                "quorum_metrics.writes_unavailable".to_string(),
                self.writes_unavailable as f64,
            ),
            (
                "quorum_metrics.hinted_writes".to_string(),
                self.hinted_writes as f64,
            ),
            ("quorum_metrics.handoffs".to_string(), self.handoffs as f64),
            (
                "quorum_metrics.read_repairs".to_string(),
                self.read_repairs as f64,
            ),
        ];
        if let (Some(p50), Some(p99)) = (self.latency_ms(0.5), self.latency_ms(0.99)) {
            out.push(("quorum_metrics.write_latency_ms_p50".to_string(), p50));
            out.push(("quorum_metrics.write_latency_ms_p99".to_string(), p99));
        }
        out
    }
}
