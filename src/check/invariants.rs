//! Invariants driven by what nodes `record`. Any model can use them by
//! recording the named observations:
//!
//! | check | record | detail | violation |
//! |---|---|---|---|
//! | election_safety | `leader` | `{"term": n}` | `two_leaders`: two nodes lead one term |
//! | lease_exclusivity | `lease` | via `Ctx::record_interval` | `lease_overlap`: two holders at one true time |
//! | log_matching | `commit` | `{"index": i, "digest": d}` | `log_mismatch`: two entries committed at one index |
//! | no_lost_update | `storage_write` | `{"token": t}` | `lost_update`: storage accepts a write older than one it accepted |
//! | convergence | `state` | `{"version": v}` | `divergence`: a running replica ends behind |
//! | progress | `op` (ok), `leader` or `storage_write` | | `no_progress`: nothing happens after the faults |
//!
//! election_safety, lease_exclusivity and log_matching are `always`
//! properties (checked as events happen); convergence is judged at the end;
//! progress is an `eventually` property with the liveness deadline.

use super::{names_of, Checker, LivenessBound, Severity, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::node::{NodeId, Record, OP_RECORD};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// The record of `kind` in this event, with its node.
fn record_of<'a>(event: &'a TraceEvent, kind: &str) -> Option<(NodeId, &'a Record)> {
    match (&event.kind, event.node) {
        (EventKind::Record(r), Some(node)) if r.kind == kind => Some((node, r)),
        _ => None,
    }
}

fn field_u64(record: &Record, key: &str) -> Option<u64> {
    record.detail.get(key).and_then(|v| v.as_u64())
}

/// At most one leader per term.
#[derive(Debug, Default)]
pub struct ElectionSafety {
    leaders: BTreeMap<u64, (NodeId, SimTime)>,
}

impl Checker for ElectionSafety {
    fn name(&self) -> &'static str {
        "election_safety"
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (node, record) = record_of(event, "leader")?;
        let term = field_u64(record, "term")?;
        let (first, since) = *self.leaders.entry(term).or_insert((node, event.time));
        if first == node {
            return None;
        }
        Some(Violation {
            name: "two_leaders".into(),
            check: self.name().into(),
            severity: Severity::Safety,
            time: event.time,
            nodes: names_of(world, &[first, node]),
            explanation: format!(
                "{} became leader of term {term} at {}, but {} had become leader of the same term at {since}; {}",
                world.name(node),
                event.time,
                world.name(first),
                world.faults_in_force()
            ),
        })
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

/// No two nodes hold a lease at the same true time.
#[derive(Debug, Default)]
pub struct LeaseExclusivity {
    /// Every interval seen: (node, start, end) in true time.
    held: Vec<(NodeId, SimTime, SimTime)>,
}

impl Checker for LeaseExclusivity {
    fn name(&self) -> &'static str {
        "lease_exclusivity"
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (node, record) = record_of(event, "lease")?;
        let start = SimTime(field_u64(record, "start_true_ns")?);
        let end = SimTime(field_u64(record, "end_true_ns")?);
        let clash = self
            .held
            .iter()
            .find(|(other, s, e)| *other != node && start < *e && *s < end)
            .copied();
        self.held.push((node, start, end));
        let (other, s, e) = clash?;
        Some(Violation {
            name: "lease_overlap".into(),
            check: self.name().into(),
            severity: Severity::Safety,
            time: event.time,
            nodes: names_of(world, &[other, node]),
            explanation: format!(
                "{} holds the lease from {start} to {end} (true time), overlapping {}'s lease from {s} to {e} by {}; {}",
                world.name(node),
                world.name(other),
                overlap(start, end, s, e),
                world.faults_in_force()
            ),
        })
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

fn overlap(a: SimTime, b: SimTime, c: SimTime, d: SimTime) -> SimDuration {
    b.min(d).saturating_since(a.max(c))
}

/// No two nodes commit different entries at one index.
#[derive(Debug, Default)]
pub struct LogMatching {
    committed: BTreeMap<u64, (serde_json::Value, NodeId, SimTime)>,
}

impl Checker for LogMatching {
    fn name(&self) -> &'static str {
        "log_matching"
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (node, record) = record_of(event, "commit")?;
        let index = field_u64(record, "index")?;
        let digest = record.detail.get("digest")?.clone();
        let (first, by, at) = self
            .committed
            .entry(index)
            .or_insert((digest.clone(), node, event.time))
            .clone();
        if first == digest {
            return None;
        }
        Some(Violation {
            name: "log_mismatch".into(),
            check: self.name().into(),
            severity: Severity::Safety,
            time: event.time,
            nodes: names_of(world, &[by, node]),
            explanation: format!(
                "{} committed {digest} at index {index} at {}, but {} had committed {first} there at {at}",
                world.name(node),
                event.time,
                world.name(by)
            ),
        })
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

/// Protected storage never accepts a write with an older fencing token than
/// a write it already accepted (the update of the newer holder would be lost).
#[derive(Debug, Default)]
pub struct NoLostUpdate {
    /// Highest token accepted so far, with its writer and time.
    highest: Option<(u64, NodeId, SimTime, String)>,
}

impl Checker for NoLostUpdate {
    fn name(&self) -> &'static str {
        "no_lost_update"
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (node, record) = record_of(event, "storage_write")?;
        let token = field_u64(record, "token")?;
        let writer = record
            .detail
            .get("writer")
            .and_then(|w| w.as_str())
            .unwrap_or("?")
            .to_string();
        match &self.highest {
            Some((best, _, at, by)) if token < *best => Some(Violation {
                name: "lost_update".into(),
                check: self.name().into(),
                severity: Severity::Safety,
                time: event.time,
                nodes: vec![world.name(node).to_string(), writer.clone()],
                explanation: format!(
                    "{} accepted a write from {writer} with fencing token {token} at {}, after it had accepted token {best} from {by} at {at}: the newer holder's update is lost; {}",
                    world.name(node),
                    event.time,
                    world.faults_in_force()
                ),
            }),
            _ => {
                if self.highest.as_ref().is_none_or(|(best, ..)| token >= *best) {
                    self.highest = Some((token, node, event.time, writer));
                }
                None
            }
        }
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

/// At the end, every running replica has caught up with what was written
/// more than `within` before the end.
#[derive(Debug)]
pub struct Convergence {
    within: SimDuration,
    /// Latest version per node (index by node id).
    latest: Vec<Option<u64>>,
    /// (time, version) each time the highest version anywhere grew.
    frontier: Vec<(SimTime, u64, NodeId)>,
}

impl Convergence {
    /// Replicas must be no more than `within` behind at the end.
    pub fn new(within: SimDuration) -> Self {
        Convergence {
            within,
            latest: Vec::new(),
            frontier: Vec::new(),
        }
    }
}

impl Checker for Convergence {
    fn name(&self) -> &'static str {
        "convergence"
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (node, record) = record_of(event, "state")?;
        let version = field_u64(record, "version")?;
        self.latest.resize(world.len(), None);
        self.latest[node.index()] = Some(version);
        if self.frontier.last().is_none_or(|(_, v, _)| version > *v) {
            self.frontier.push((event.time, version, node));
        }
        None
    }

    fn finish(&mut self, end: SimTime, world: &World) -> Option<Violation> {
        let settled = SimTime(end.as_nanos().saturating_sub(self.within.as_nanos()));
        let &(written, target, writer) =
            self.frontier.iter().rev().find(|(t, _, _)| *t <= settled)?;
        for (i, version) in self.latest.iter().enumerate() {
            let node = NodeId(i as u32);
            let status = world.status(node);
            let Some(version) = version else { continue };
            if !status.up || status.paused || status.running_since > settled || *version >= target {
                continue;
            }
            return Some(Violation {
                name: "divergence".into(),
                check: self.name().into(),
                severity: Severity::Liveness,
                time: end,
                nodes: names_of(world, &[node, writer]),
                explanation: format!(
                    "{} ends at version {version}, but {} reached version {target} at {written}, more than {} before the end; {}",
                    world.name(node),
                    world.name(writer),
                    self.within,
                    world.faults_in_force()
                ),
            });
        }
        None
    }
}

/// After the liveness phase begins, something useful happens within the
/// bound: a client operation completes `ok`, a node becomes leader, or the
/// protected storage accepts a write.
#[derive(Debug)]
pub struct Progress {
    bound: LivenessBound,
    progressed: bool,
}

impl Progress {
    /// Progress is due within `bound.within` after `bound.after`.
    pub fn new(bound: LivenessBound) -> Self {
        Progress {
            bound,
            progressed: false,
        }
    }

    fn overdue(&self, now: SimTime, inclusive: bool, world: &World) -> Option<Violation> {
        let due = self.bound.after + self.bound.within;
        if self.progressed || due > now || (!inclusive && due == now) {
            return None;
        }
        Some(Violation {
            name: "no_progress".into(),
            check: "progress".into(),
            severity: Severity::Liveness,
            time: due,
            nodes: Vec::new(),
            explanation: format!(
                "no client operation completed and no leader was elected between {} (the liveness phase) and {due}; {}",
                self.bound.after,
                world.faults_in_force()
            ),
        })
    }
}

impl Checker for Progress {
    fn name(&self) -> &'static str {
        "progress"
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let late = self.overdue(event.time, false, world);
        if late.is_some() {
            return late;
        }
        if event.time >= self.bound.after {
            let ok_op = record_of(event, OP_RECORD)
                .is_some_and(|(_, r)| r.detail.get("type").and_then(|t| t.as_str()) == Some("ok"));
            self.progressed |= ok_op
                || record_of(event, "leader").is_some()
                || record_of(event, "storage_write").is_some();
        }
        None
    }

    fn finish(&mut self, end: SimTime, world: &World) -> Option<Violation> {
        self.overdue(end, true, world)
    }
}
