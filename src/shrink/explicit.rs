//! A run's faults as an explicit, timed list, read from its trace.
//!
//! Every fault the engine applied (or traced as ignored) becomes a
//! [`TimedFault`] at the true time it happened, with its nodes resolved:
//! chaos draws, times drawn from ranges, `after` triggers and targets such
//! as `@leader` all end up as a plain fault at a fixed time. A fault whose
//! target named nobody (traced as skipped) changed nothing and is left out.
//!
//! The restarts a `heal_all` performs are traced as faults of their own,
//! right after it at the same time; they are left out too, since the
//! `heal_all` in the list does them again.
//!
//! A crash at a fault point ([`crate::fault::points`]) happens right after
//! the handler that reached the point, at the same true time. An explicit
//! fault at that time would run before the handler (ties run in the order
//! they were scheduled), so such a crash is listed 1 ns later: after the
//! handler, as in the run.

use crate::engine::{EventKind, TraceEvent, FAULT_POINT_RECORD};
use crate::fault::{Fault, TimedFault};
use crate::time::SimTime;

/// Collects the faults of one run from its trace events, in trace order.
#[derive(Debug, Default)]
pub struct FaultCollector {
    faults: Vec<TimedFault>,
    /// The time of a `heal_all` whose own restarts may follow.
    heal_all_at: Option<SimTime>,
    /// The node and time of the last fault-point record, whose crash follows.
    point_at: Option<(u32, SimTime)>,
}

impl FaultCollector {
    /// Sees one trace event.
    pub fn see(&mut self, event: &TraceEvent) {
        if let (EventKind::Record(record), Some(node)) = (&event.kind, event.node) {
            if record.kind == FAULT_POINT_RECORD {
                self.point_at = Some((node.0, event.time));
            }
            return;
        }
        let EventKind::Fault { fault, .. } = &event.kind else {
            return;
        };
        if matches!(fault, Fault::Restart(_)) && self.heal_all_at == Some(event.time) {
            return;
        }
        debug_assert!(
            !matches!(fault, Fault::Aimed { .. }),
            "the engine traces aimed faults resolved"
        );
        self.heal_all_at = matches!(fault, Fault::HealAll).then_some(event.time);
        let at = match (fault, self.point_at.take()) {
            (Fault::Crash(node), Some((at_node, t))) if node.0 == at_node && t == event.time => {
                SimTime(t.0 + 1)
            }
            _ => event.time,
        };
        self.faults.push(TimedFault {
            at,
            fault: fault.clone(),
        });
    }

    /// The faults seen, in the order they happened.
    pub fn into_faults(self) -> Vec<TimedFault> {
        self.faults
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::NodeId;

    fn fault(t: u64, fault: Fault) -> TraceEvent {
        TraceEvent {
            time: SimTime(t),
            node: None,
            kind: EventKind::Fault {
                fault,
                applied: true,
            },
        }
    }

    #[test]
    fn heal_all_restarts_are_left_out_other_restarts_kept() {
        let mut c = FaultCollector::default();
        c.see(&fault(5, Fault::Crash(NodeId(0))));
        c.see(&fault(5, Fault::Crash(NodeId(1))));
        c.see(&TraceEvent {
            time: SimTime(6),
            node: Some(NodeId(2)),
            kind: EventKind::Resume,
        });
        c.see(&fault(7, Fault::Restart(NodeId(1))));
        c.see(&fault(9, Fault::HealAll));
        c.see(&fault(9, Fault::Restart(NodeId(0))));
        c.see(&fault(12, Fault::Restart(NodeId(0))));
        let got: Vec<(u64, Fault)> = c
            .into_faults()
            .into_iter()
            .map(|f| (f.at.0, f.fault))
            .collect();
        assert_eq!(
            got,
            vec![
                (5, Fault::Crash(NodeId(0))),
                (5, Fault::Crash(NodeId(1))),
                (7, Fault::Restart(NodeId(1))),
                (9, Fault::HealAll),
                (12, Fault::Restart(NodeId(0))),
            ]
        );
    }

    #[test]
    fn a_crash_at_a_fault_point_is_listed_one_nanosecond_after_its_handler() {
        let point = |t: u64, node: u32| TraceEvent {
            time: SimTime(t),
            node: Some(NodeId(node)),
            kind: EventKind::Record(crate::node::Record {
                kind: FAULT_POINT_RECORD.into(),
                detail: serde_json::json!({ "point": "after_write" }).into(),
            }),
        };
        let mut c = FaultCollector::default();
        c.see(&point(5, 1));
        c.see(&fault(5, Fault::Crash(NodeId(1))));
        c.see(&fault(8, Fault::Restart(NodeId(1))));
        // A point record on another node does not move a crash of this one.
        c.see(&point(10, 2));
        c.see(&fault(10, Fault::Crash(NodeId(1))));
        let got: Vec<(u64, Fault)> = c
            .into_faults()
            .into_iter()
            .map(|f| (f.at.0, f.fault))
            .collect();
        assert_eq!(
            got,
            vec![
                (6, Fault::Crash(NodeId(1))),
                (8, Fault::Restart(NodeId(1))),
                (10, Fault::Crash(NodeId(1))),
            ]
        );
    }
}
