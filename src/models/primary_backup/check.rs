//! `durability`: no acknowledged write is lost.
//!
//! The primary records `acked {epoch, version, value, latency_ns}` when it
//! sends a write's reply; a server records `promoted {epoch, wepoch,
//! version, value}` when it becomes the primary of a new epoch from its
//! state (the value written at `version` in epoch `wepoch`). Within one
//! epoch the primary's history is a line, and states compare as
//! (`wepoch`, `version`). The rule, in one sentence: a promotion to epoch E
//! from state S loses every write acknowledged in an earlier epoch beyond
//! S — whether the promotion comes after the acknowledgement (the backup
//! never got it) or before it (a deposed primary acknowledging writes its
//! successor will overwrite at the same versions). The check reports the
//! first such write; it also counts the acknowledged and lost writes and
//! measures the primary's write latency (request in, acknowledgement out).

use crate::check::histogram::LatencyHistogram;
use crate::check::{CheckInfo, Checker, Severity, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::node::{NodeId, Record};
use crate::time::SimTime;
use std::collections::BTreeMap;

/// The check as the registry lists it.
pub const DURABILITY: CheckInfo = CheckInfo {
    name: "durability",
    about: "no acknowledged write is lost: every new primary's state holds every write acknowledged before (primary_backup)",
    severity: Severity::Safety,
    violation: "lost_write",
};

/// A write some primary acknowledged.
#[derive(Clone, Copy, Debug)]
struct Acked {
    value: Option<i64>,
    node: NodeId,
    time: SimTime,
}

/// A promotion: who, when, from which state.
#[derive(Clone, Copy, Debug)]
struct Promotion {
    node: NodeId,
    time: SimTime,
    from: (u64, u64),
}

/// The `durability` checker.
#[derive(Debug, Default)]
pub struct Durability {
    /// (epoch, version) -> the acknowledged write.
    acked: BTreeMap<(u64, u64), Acked>,
    /// epoch -> the promotion that began it.
    promotions: BTreeMap<u64, Promotion>,
    /// Writes found lost (each counted once).
    lost: BTreeMap<(u64, u64), ()>,
    reported: bool,
    latency: LatencyHistogram,
}

fn field(record: &Record, key: &str) -> Option<u64> {
    record.detail.get(key).and_then(|v| v.as_u64())
}

impl Durability {
    /// A write at `at` acknowledged in epoch `at.0` is lost to the
    /// promotion `p` of epoch `epoch`, if `epoch` is later and `p` began
    /// from a state before it.
    fn loses(at: (u64, u64), epoch: u64, p: &Promotion) -> bool {
        epoch > at.0 && p.from < at
    }

    fn lost_write(
        &mut self,
        at: (u64, u64),
        write: Acked,
        epoch: u64,
        p: Promotion,
        world: &World,
    ) -> Option<Violation> {
        self.lost.insert(at, ());
        if self.reported {
            return None;
        }
        self.reported = true;
        let value = write.value.map_or("nothing".to_string(), |v| v.to_string());
        let (writer, promoted) = (world.name(write.node), world.name(p.node));
        let verb = if p.time <= write.time {
            "had already become"
        } else {
            "became"
        };
        Some(Violation {
            name: DURABILITY.violation.into(),
            check: DURABILITY.name.into(),
            severity: Severity::Safety,
            time: write.time.max(p.time),
            nodes: vec![writer.to_string(), promoted.to_string()],
            explanation: format!(
                "{writer} acknowledged the write of {value} (version {} of epoch {}) at {}, but {promoted} {verb} primary of epoch {epoch} at {} from version {} (epoch {}), without it: an acknowledged write is lost; {}",
                at.1,
                at.0,
                write.time,
                p.time,
                p.from.1,
                p.from.0,
                world.faults_in_force()
            ),
        })
    }

    fn on_acked(
        &mut self,
        node: NodeId,
        record: &Record,
        time: SimTime,
        world: &World,
    ) -> Option<Violation> {
        let at = (field(record, "epoch")?, field(record, "version")?);
        let write = Acked {
            value: record.detail.get("value").and_then(|v| v.as_i64()),
            node,
            time,
        };
        if let Some(ns) = field(record, "latency_ns") {
            self.latency.record(ns);
        }
        self.acked.insert(at, write);
        let (epoch, p) = self
            .promotions
            .range(at.0 + 1..)
            .find(|(e, p)| Self::loses(at, **e, p))
            .map(|(e, p)| (*e, *p))?;
        self.lost_write(at, write, epoch, p, world)
    }

    fn on_promoted(
        &mut self,
        node: NodeId,
        record: &Record,
        time: SimTime,
        world: &World,
    ) -> Option<Violation> {
        let epoch = field(record, "epoch")?;
        let p = Promotion {
            node,
            time,
            from: (field(record, "wepoch")?, field(record, "version")?),
        };
        self.promotions.entry(epoch).or_insert(p);
        let lost: Vec<((u64, u64), Acked)> = self
            .acked
            .range(p.from..)
            .filter(|(at, _)| Self::loses(**at, epoch, &p) && !self.lost.contains_key(at))
            .map(|(at, w)| (*at, *w))
            .collect();
        let mut first = None;
        for (at, write) in lost {
            let v = self.lost_write(at, write, epoch, p, world);
            first = first.or(v);
        }
        first
    }
}

impl Durability {
    /// Promotions after the first primary's.
    fn failovers(&self) -> usize {
        self.promotions.len().saturating_sub(1)
    }
}

impl Checker for Durability {
    fn name(&self) -> &'static str {
        DURABILITY.name
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (EventKind::Record(record), Some(node)) = (&event.kind, event.node) else {
            return None;
        };
        match record.kind.as_str() {
            "acked" => self.on_acked(node, record, event.time, world),
            "promoted" => self.on_promoted(node, record, event.time, world),
            _ => None,
        }
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }

    fn note(&self) -> Option<String> {
        let failovers = self.failovers();
        Some(format!(
            "{} acknowledged writes, {} lost; {failovers} failovers",
            self.acked.len(),
            self.lost.len()
        ))
    }

    /// `durability.acked_writes`, `durability.lost_writes`,
    /// `durability.failovers` (promotions after the first), and the
    /// primary's write latency (request in to acknowledgement out),
    /// `durability.write_latency_ms_p50` and `_p99`, when there were writes.
    fn metrics(&self) -> Vec<(String, f64)> {
        let mut out = vec![
            (
                "durability.acked_writes".to_string(),
                self.acked.len() as f64,
            ),
            ("durability.lost_writes".to_string(), self.lost.len() as f64),
            ("durability.failovers".to_string(), self.failovers() as f64),
        ];
        for (q, name) in [(0.5, "p50"), (0.99, "p99")] {
            if let Some(ns) = self.latency.quantile(q) {
                out.push((
                    format!("durability.write_latency_ms_{name}"),
                    ns as f64 / 1e6,
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::check::record_at as record;

    fn acked(node: u32, at_ms: u64, epoch: u64, version: u64) -> TraceEvent {
        let detail = json!({ "epoch": epoch, "version": version, "value": version * 10, "latency_ns": 2_000_000 });
        record(node, at_ms, "acked", detail)
    }

    fn promoted(node: u32, at_ms: u64, epoch: u64, wepoch: u64, version: u64) -> TraceEvent {
        let detail = json!({ "epoch": epoch, "wepoch": wepoch, "version": version, "value": null });
        record(node, at_ms, "promoted", detail)
    }

    fn world() -> World {
        World::new(vec!["n1".into(), "n2".into(), "n3".into()])
    }

    fn run(events: &[TraceEvent]) -> (Durability, Option<Violation>) {
        let (mut check, world) = (Durability::default(), world());
        let mut first = None;
        for e in events {
            let v = check.on_event(e, &world);
            first = first.or(v);
        }
        (check, first)
    }

    #[test]
    fn a_promotion_holding_every_acknowledged_write_passes() {
        let (check, v) = run(&[
            promoted(0, 0, 1, 0, 0),
            acked(0, 10, 1, 1),
            acked(0, 20, 1, 2),
            promoted(1, 500, 2, 1, 2),
            acked(1, 600, 2, 3),
        ]);
        assert_eq!(v, None);
        let m = check.metrics();
        assert!(
            m.contains(&("durability.acked_writes".into(), 3.0)),
            "{m:?}"
        );
        assert!(m.contains(&("durability.lost_writes".into(), 0.0)), "{m:?}");
        assert!(m.contains(&("durability.failovers".into(), 1.0)), "{m:?}");
        let p50 = m
            .iter()
            .find(|(k, _)| k == "durability.write_latency_ms_p50");
        assert!(p50.is_some_and(|(_, v)| (v - 2.0).abs() < 0.05), "{m:?}");
    }

    #[test]
    fn a_promotion_without_an_acknowledged_write_is_caught() {
        let (check, v) = run(&[
            promoted(0, 0, 1, 0, 0),
            acked(0, 10, 1, 1),
            acked(0, 20, 1, 2),
            acked(0, 30, 1, 3),
            promoted(1, 500, 2, 1, 1),
        ]);
        let v = v.expect("versions 2 and 3 are lost");
        assert_eq!(v.name, "lost_write");
        assert_eq!(v.time, SimTime(500_000_000));
        assert_eq!(v.nodes, vec!["n1".to_string(), "n2".to_string()]);
        assert!(
            v.explanation.contains("write of 20 (version 2 of epoch 1)")
                && v.explanation
                    .contains("n2 became primary of epoch 2 at 0.500s from version 1"),
            "{}",
            v.explanation
        );
        assert_eq!(check.lost.len(), 2);
    }

    #[test]
    fn a_deposed_primary_acknowledging_after_the_promotion_is_caught() {
        let (_, v) = run(&[
            promoted(0, 0, 1, 0, 0),
            acked(0, 10, 1, 1),
            promoted(1, 500, 2, 1, 1),
            acked(1, 550, 2, 2),
            acked(0, 600, 1, 2),
        ]);
        let v = v.expect("n1's version 2 of epoch 1 is overwritten by epoch 2");
        assert_eq!(v.time, SimTime(600_000_000));
        assert!(
            v.explanation
                .contains("at 0.600s, but n2 had already become primary of epoch 2 at 0.500s"),
            "{}",
            v.explanation
        );
    }
}
