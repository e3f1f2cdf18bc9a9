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
                kind: FAULT_POINT_RECORD.into(),
                detail: detail.into(),
            }),
        );
        self.apply_fault(Fault::Crash(id));
        if restart {
            self.schedule(back, Fault::Restart(id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RunEnd, SimBuilder, TraceEvent};
    use crate::fault::points::{FaultPointsConfig, MAX_POINT_CRASHES};
    use crate::node::{Ctx, Node, TimerId};
    use crate::rng::Probability;
    use crate::time::SimTime;

    #[derive(Clone, Debug, Hash)]
    enum Msg {
        Hello,
    }

    /// Writes (never syncs) at start if `write_at_start`; every 10ms it
    /// greets its peers, records `tick` and marks the point `tick`.
    struct Ticker {
        write_at_start: bool,
    }

    impl Node<Msg> for Ticker {
        fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
            if self.write_at_start {
                ctx.storage().put("k", vec![1]);
            }
            ctx.set_timer(SimDuration::from_millis(10), 0);
        }
        fn on_message(&mut self, _ctx: &mut Ctx<'_, Msg>, _from: NodeId, _msg: Msg) {}
        fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, _timer: TimerId) {
            ctx.broadcast(Msg::Hello);
            ctx.record("tick", serde_json::json!({}));
            ctx.maybe_fault_point("tick");
            ctx.set_timer(SimDuration::from_millis(10), 0);
        }
    }

    /// Runs 3 tickers for 1s with points of `kinds` (probability 1,
    /// downtime 5ms, until 500ms, victims n1 and n2); the crashes' (time,
    /// node, point). `write_at_start`: the tickers write (and never sync)
    /// when they start.
    fn crashes(kinds: &[&str], write_at_start: bool) -> Vec<(SimTime, NodeId, String)> {
        let config = FaultPointsConfig {
            kinds: kinds.iter().map(|k| PointKind::parse(k).unwrap()).collect(),
            probability: (Probability::ONE, Probability::ONE),
            downtime: (SimDuration::from_millis(5), SimDuration::from_millis(5)),
        };
        let victims = [NodeId(0), NodeId(1)];
        let armed = config.arm(1, SimTime(500_000_000), Some(&victims));
        let mut sim = SimBuilder::new(1, 3, move |_| {
            Box::new(Ticker { write_at_start }) as Box<dyn Node<Msg>>
        })
        .fault_points(Some(armed))
        .build();
        let mut out = Vec::new();
        let end = sim.run_until(SimTime(1_000_000_000), |e: &TraceEvent| {
            if let EventKind::Record(r) = &e.kind {
                if r.kind == FAULT_POINT_RECORD {
                    let point = r.detail["point"].as_str().unwrap().to_string();
                    out.push((e.time, e.node.unwrap(), point));
                }
            }
            true
        });
        assert_eq!(end, RunEnd::Reached);
        out
    }

    #[test]
    fn each_kind_of_point_crashes_its_victims_until_the_end_of_chaos() {
        for (kind, name) in [
            ("after_send:Hello", "after_send:Hello"),
            ("after_send", "after_send"),
            ("after_record:tick", "after_record:tick"),
            ("point:tick", "point:tick"),
            ("point", "point:tick"),
        ] {
            let crashes = crashes(&[kind], false);
            // n1 and n2 tick at 10ms, crash, restart at 15ms, tick at 25ms...
            assert!(crashes.len() >= 60, "{kind}: {}", crashes.len());
            assert!(
                crashes.iter().all(|(_, n, p)| n.0 < 2 && p == name),
                "{kind}"
            );
            assert!(crashes.iter().all(|(t, _, _)| *t < SimTime(500_000_000)));
        }
        // A write left unsynced at start: each restart crashes again, 5ms on.
        let writes = crashes(&["after_write"], true);
        assert_eq!(writes.len(), 2 * 100, "{writes:?}");
        assert!(writes.iter().all(|(_, n, p)| n.0 < 2 && p == "after_write"));
        for never in [
            "after_send:Bye",
            "after_record:tock",
            "point:tock",
            "after_write",
        ] {
            assert_eq!(crashes(&[never], false), vec![], "{never}");
        }
    }

    #[test]
    fn a_crash_loop_at_one_instant_stops_at_the_cap() {
        let config = FaultPointsConfig {
            kinds: vec![PointKind::AfterWrite],
            probability: (Probability::ONE, Probability::ONE),
            downtime: (SimDuration::ZERO, SimDuration::ZERO),
        };
        let armed = config.arm(1, SimTime(500_000_000), None);
        let mut sim = SimBuilder::new(1, 1, |_| {
            Box::new(Ticker {
                write_at_start: true,
            }) as Box<dyn Node<Msg>>
        })
        .fault_points(Some(armed))
        .build();
        let mut points = 0u32;
        sim.run_until(SimTime(1_000_000_000), |e| {
            points +=
                u32::from(matches!(&e.kind, EventKind::Record(r) if r.kind == FAULT_POINT_RECORD));
            true
        });
        assert_eq!(points, MAX_POINT_CRASHES);
        assert!(sim.is_up(NodeId(0)));
    }
}
