//! Fault points in the engine: after a handler, did it reach one of the
//! run's points, and if so, maybe crash its node (see
//! [`crate::fault::points`]).
//!
//! Nothing here runs, and nothing is drawn, unless the run has fault
//! points. A crash is applied after the handler's effects (its sends are on
//! the network or waiting behind its disk) as an ordinary `crash` fault,
//! preceded by a `fault_point` record naming the point, and the restart is
//! an ordinary `restart` fault queued a downtime later.

use super::trace::EventKind;
use super::Sim;
use crate::fault::points::{first_hit, message_kind, HandlerSummary, PointKind, MAX_POINT_CRASHES};
use crate::fault::Fault;
use crate::node::{Message, NodeId, Record};
use crate::time::SimDuration;

/// The record kind that marks a crash at a fault point.
pub const FAULT_POINT_RECORD: &str = "fault_point";

impl<M: Message> Sim<M> {
    /// The point the handler that just returned reached (its effects not
    /// applied yet), if the run has points; `wrote`: it put or deleted.
    pub(super) fn point_reached(&mut self, id: NodeId, wrote: bool) -> Option<String> {
        let points = self.points.as_ref()?;
        let model_points = std::mem::take(&mut self.effects.points);
        if !points.may_crash(id) || self.now >= points.until {
            return None;
        }
        let wants_kinds = points
            .kinds
            .iter()
            .any(|k| matches!(k, PointKind::AfterSend(Some(_))));
        let texts: Vec<String> = if wants_kinds {
            self.effects
                .sends
                .iter()
                .map(|(_, msg)| format!("{msg:?}"))
                .collect()
        } else {
            Vec::new()
        };
        let sent: Vec<&str> = texts.iter().map(|t| message_kind(t)).collect();
        let records: Vec<&str> = self
            .effects
            .records
            .iter()
            .map(|r| r.record.kind.as_str())
            .collect();
        let storage = &self.slots[id.index()].storage;
        let summary = HandlerSummary {
            unsynced_write: wrote && storage.has_undurable(),
            sent: &sent,
            sent_any: !self.effects.sends.is_empty(),
            records: &records,
            model_points: &model_points,
        };
        first_hit(&points.kinds, &summary)
    }

    /// With the seed's probability, crashes `id` (which reached `point`)
    /// now and queues its restart a drawn downtime later (if before chaos
    /// ends; its `heal_all` restarts it otherwise).
    pub(super) fn crash_at_point(&mut self, id: NodeId, point: String) {
        let Some(points) = self.points.as_mut() else {
            return;
        };
        if self.point_crashes >= MAX_POINT_CRASHES || self.slots[id.index()].node.is_none() {
            return;
        }
        if !points.rng.chance(points.probability) {
            return;
        }
        let (low, high) = points.downtime;
        let downtime = SimDuration(points.rng.between(low.0, high.0));
        let back = self.now + downtime;
        let restart = back < points.until;
        self.point_crashes += 1;
        let detail = serde_json::json!({ "point": point, "downtime_ns": downtime.0 });
        self.push_event(
            Some(id),
            EventKind::Record(Record {
                kind: FAULT_POINT_RECORD.to_string(),
                detail,
            }),
        );
        self.apply_fault(Fault::Crash(id));
        if restart {
            self.schedule(back, Fault::Restart(id));
        }
    }
}
