//! Running one event: deliveries, timers, node starts, and applying what a
//! handler asked for (sends through the network, timers, records).

use super::queue::Payload;
use super::trace::{EventKind, TraceEvent};
use super::{PendingTimer, Sim};
use crate::clock::LocalTime;
use crate::hash::trace_digest;
use crate::net::{DropReason, Ordering};
use crate::node::{Ctx, Message, Node, NodeId, TimerId, TimerOp};
use crate::time::SimTime;

impl<M: Message> Sim<M> {
    /// Runs one payload; false if it was stale or held and produced no event.
    pub(super) fn dispatch(&mut self, payload: Payload<M>) -> bool {
        match payload {
            Payload::Deliver {
                from,
                to,
                msg_id,
                msg,
                arrived,
            } => self.deliver(from, to, msg_id, msg, arrived),
            Payload::Timer {
                node,
                id,
                generation,
            } => self.fire_timer(node, id, generation),
            Payload::Start(node) => {
                self.start_node(node, false);
                true
            }
            Payload::Fault(index) => {
                let fault = self.faults[index as usize].clone();
                self.apply_fault(fault);
                true
            }
            Payload::Resume { node, generation } => self.resume(node, generation),
            Payload::LossBurstEnd { generation } => {
                if generation != self.loss_burst_generation || self.loss_burst.is_none() {
                    return false;
                }
                self.loss_burst = None;
                self.push_event(None, EventKind::LossBurstEnd);
                true
            }
            Payload::Depart { from, epoch, sends } => self.depart(from, epoch, sends),
            Payload::SyncDone { node, batch } => self.sync_done(node, batch),
            Payload::Arm(index) => {
                self.arm(index);
                false
            }
            Payload::Expire(index) => self.expire(index),
            Payload::RestoreLinks(index) => self.restore_links(index),
            Payload::Knob { node, task } => self.turn_knob(node, task),
            Payload::ByzantineEnd { node, generation } => self.end_byzantine(node, generation),
        }
    }

    /// Traces `kind` at `node`, now.
    #[inline]
    pub(super) fn push_event(&mut self, node: Option<NodeId>, kind: EventKind) {
        self.push_event_with(node, || kind);
    }

    /// [`Sim::push_event`] for the hot paths, with the kind built by `kind`.
    ///
    /// A `TraceEvent` is large (192 bytes). Pushed the plain way, it is built
    /// on the stack and copied into the buffer, and the copy reads back
    /// what was just written, which stalls the CPU. When the buffer has room
    /// the push cannot grow it, so the compiler builds the event in place;
    /// the rare push that must grow takes the out-of-line path.
    #[inline(always)]
    pub(super) fn push_event_with(
        &mut self,
        node: Option<NodeId>,
        kind: impl FnOnce() -> EventKind,
    ) {
        let time = self.now;
        if self.events.len() < self.events.capacity() {
            self.events.push(TraceEvent {
                time,
                node,
                kind: kind(),
            });
        } else {
            self.push_event_growing(node, kind);
        }
    }

    /// [`Sim::push_event_with`] when the buffer is full.
    #[cold]
    #[inline(never)]
    fn push_event_growing(&mut self, node: Option<NodeId>, kind: impl FnOnce() -> EventKind) {
        self.events.reserve(16);
        self.events.push(TraceEvent {
            time: self.now,
            node,
            kind: kind(),
        });
    }

    fn drop_message(&mut self, from: NodeId, to: NodeId, msg: u64, reason: DropReason) {
        self.stats.messages_dropped += 1;
        self.stats.dropped_by_reason[reason as usize] += 1;
        self.push_event(
            Some(to),
            EventKind::Drop {
                from,
                to,
                msg,
                reason,
            },
        );
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, msg_id: u64, msg: M, arrived: bool) -> bool {
        if !arrived && !self.topology.is_open(from, to) {
            self.drop_message(from, to, msg_id, DropReason::PartitionedInFlight);
            return true;
        }
        let slot = &mut self.slots[to.index()];
        if slot.node.is_none() {
            self.drop_message(from, to, msg_id, DropReason::NodeDown);
            return true;
        }
        if slot.paused_until.is_some() {
            slot.held.push(Payload::Deliver {
                from,
                to,
                msg_id,
                msg,
                arrived: true,
            });
            return false;
        }
        self.stats.messages_delivered += 1;
        self.push_event_with(Some(to), || EventKind::Deliver { from, msg: msg_id });
        self.call(to, |node, ctx| node.on_message(ctx, from, msg));
        true
    }

    fn fire_timer(&mut self, node: NodeId, id: TimerId, generation: u32) -> bool {
        let slot = &mut self.slots[node.index()];
        match slot.timers.get(&id.seq) {
            Some(pending) if pending.generation == generation => {}
            _ => return false, // cancelled, fired, or moved by a clock jump
        }
        if slot.paused_until.is_some() {
            slot.held.push(Payload::Timer {
                node,
                id,
                generation,
            });
            return false;
        }
        slot.timers.remove(&id.seq);
        self.push_event_with(Some(node), || EventKind::Timer {
            timer: id.seq,
            tag: id.tag(),
        });
        self.call(node, |n, ctx| n.on_timer(ctx, id));
        true
    }

    /// Builds the node with its factory (if it is not running) and starts it.
    pub(super) fn start_node(&mut self, node: NodeId, restart: bool) {
        let slot = &mut self.slots[node.index()];
        debug_assert!(slot.node.is_none(), "{node} started twice");
        // The factory is the node's own code: a panic in it is the node's.
        self.in_handler = Some(node);
        slot.node = Some((self.factory)(node));
        self.in_handler = None;
        self.push_event(Some(node), EventKind::Start { restart });
        self.call(node, |n, ctx| n.on_start(ctx));
    }

    /// Calls a handler of a running node with its context, then applies its
    /// effects. While the handler runs, [`Sim::in_handler`] names the node, so
    /// a panic caught outside is blamed on the node only if it came from there.
    /// With fault points on, the node may then crash at a point it reached.
    fn call(&mut self, id: NodeId, handler: impl FnOnce(&mut dyn Node<M>, &mut Ctx<'_, M>)) {
        self.call_then(id, handler, |_, _| {});
        if let Some((node, point)) = self.point_hit.take() {
            debug_assert_eq!(node, id, "a point reached by another node");
            self.crash_at_point(node, point);
        }
    }

    /// [`Sim::call`] for a handler that returns something: `then` sees it
    /// (and may trace it) before the handler's effects are applied. `None`
    /// if the node is down.
    pub(super) fn call_then<R>(
        &mut self,
        id: NodeId,
        handler: impl FnOnce(&mut dyn Node<M>, &mut Ctx<'_, M>) -> R,
        then: impl FnOnce(&mut Self, &R),
    ) -> Option<R> {
        let now = self.now;
        let slot = &mut self.slots[id.index()];
        let node = slot.node.as_mut()?;
        let syncs_before = slot.storage.sync_count();
        let writes_before = slot.storage.write_count();
        let mut ctx = Ctx {
            id,
            now_local: slot.clock.local_at(now),
            peers: &self.peers[id.index()],
            names: &self.names,
            effects: &mut self.effects,
            storage: &mut slot.storage,
            rng: &mut slot.rng,
            next_timer: &mut self.next_timer,
            fault_points: self.points.as_ref().is_some_and(|p| p.wants_model_points()),
        };
        self.in_handler = Some(id);
        let out = handler(node.as_mut(), &mut ctx);
        self.in_handler = None;
        if self.points.is_some() {
            let wrote = self.slots[id.index()].storage.write_count() > writes_before;
            self.point_hit = self.point_reached(id, wrote).map(|point| (id, point));
        }
        then(self, &out);
        self.apply_effects(id, syncs_before);
        if self.watch_roles {
            self.observe_role(id);
        }
        Some(out)
    }

    fn apply_effects(&mut self, id: NodeId, syncs_before: u64) {
        if !self.effects.records.is_empty() {
            // Drained and put back: the buffer keeps its room for the next handler.
            let mut records = std::mem::take(&mut self.effects.records);
            for pending in records.drain(..) {
                let mut record = pending.record;
                if let Some((start, end)) = pending.interval {
                    self.map_interval(id, start, end, &mut record.detail);
                }
                if self.watch_records {
                    self.observe_record(&record.kind);
                }
                self.push_event_with(Some(id), || EventKind::Record(record));
            }
            debug_assert!(
                self.effects.records.is_empty(),
                "records while tracing records"
            );
            self.effects.records = records;
        }
        if !self.effects.timers.is_empty() {
            let mut ops = std::mem::take(&mut self.effects.timers);
            for op in ops.drain(..) {
                self.apply_timer_op(id, op);
            }
            self.effects.timers = ops;
        }
        if self.noise.delays_sends() {
            let departure = self.departure(id, syncs_before);
            // Sends leave now only if nothing holds them: no disk write in
            // flight, no earlier sends of the node still waiting (due now).
            let slot = &self.slots[id.index()];
            let held_back = departure > self.now
                || slot.storage.syncs_in_flight() > 0
                || slot.noise.waiting > 0;
            if held_back && !self.effects.sends.is_empty() {
                let sends = std::mem::take(&mut self.effects.sends);
                self.queue_departure(id, departure, sends);
                return;
            }
        }
        let mut sends = std::mem::take(&mut self.effects.sends);
        for (to, msg) in sends.drain(..) {
            self.route(id, to, msg);
        }
        self.effects.sends = sends;
    }

    /// Adds the true times of a local interval to a record's detail.
    fn map_interval(
        &self,
        id: NodeId,
        start: LocalTime,
        end: LocalTime,
        detail: &mut crate::node::Detail,
    ) {
        use crate::node::Field;
        let clock = &self.slots[id.index()].clock;
        let to_true = |local: LocalTime| {
            if local <= clock.local_at(self.now) {
                clock.true_time_at(local, SimTime::ZERO).min(self.now)
            } else {
                clock.true_time_at(local, self.now)
            }
        };
        if detail.is_null() || detail.is_object() {
            detail.set("start_local_ns", Field::from(start.0));
            detail.set("end_local_ns", Field::from(end.0));
            detail.set("start_true_ns", Field::from(to_true(start).0));
            detail.set("end_true_ns", Field::from(to_true(end).0));
        }
    }

    fn apply_timer_op(&mut self, id: NodeId, op: TimerOp) {
        match op {
            TimerOp::Set {
                id: timer,
                deadline,
            } => {
                let late = self.timer_jitter();
                let slot = &mut self.slots[id.index()];
                let at = slot.clock.true_time_at(deadline, self.now) + late;
                debug_assert!(
                    at >= self.now,
                    "timer {timer:?} scheduled in the past: {at:?}"
                );
                slot.timers.insert(
                    timer.seq,
                    PendingTimer {
                        id: timer,
                        deadline,
                        generation: 0,
                        late,
                    },
                );
                self.queue.push(
                    at,
                    Payload::Timer {
                        node: id,
                        id: timer,
                        generation: 0,
                    },
                );
            }
            TimerOp::Cancel(timer) => {
                self.slots[id.index()].timers.remove(&timer.seq);
            }
        }
    }

    /// Hands a message to the network (see `crate::net` for the rules).
    pub(super) fn route(&mut self, from: NodeId, to: NodeId, msg: M) {
        if to.index() >= self.slots.len() {
            // The node asked for the impossible: its bug, so name it.
            self.in_handler = Some(from);
            panic!(
                "{} sent a message to node index {}, but the simulation has {} nodes",
                self.names[from.index()],
                to.index(),
                self.slots.len()
            );
        }
        if let Some(state) = &self.byzantine {
            if state.is_on(from) {
                return self.route_byzantine(from, to, msg);
            }
        }
        self.route_honest(from, to, msg);
    }

    /// [`Sim::route`] as the network does it, whoever sent the message.
    pub(super) fn route_honest(&mut self, from: NodeId, to: NodeId, msg: M) {
        self.stats.messages_sent += 1;
        let msg_id = self.next_msg;
        self.next_msg += 1;
        let digest = trace_digest(&msg);
        let text = self
            .describe_messages
            .then(|| format!("{msg:?}").into_boxed_str());
        let Some(link) = self.topology.link(from, to) else {
            self.push_send(from, to, msg_id, digest, None, text);
            self.drop_message(from, to, msg_id, DropReason::Partition);
            return;
        };
        let lost = match self.loss_burst {
            Some(p) if self.net_rng.chance(p) => Some(DropReason::LossBurst),
            _ if self.net_rng.chance(link.loss) => Some(DropReason::Loss),
            _ => None,
        };
        if let Some(reason) = lost {
            self.push_send(from, to, msg_id, digest, None, text);
            self.drop_message(from, to, msg_id, reason);
            return;
        }
        let fifo = link.ordering == Ordering::Fifo;
        let duplicate = link.duplicate;
        let latency = link.latency.sample(&mut self.net_rng);
        let arrival = self.arrival_time(from, to, latency, fifo);
        self.push_send(from, to, msg_id, digest, Some(arrival), text);
        if self.net_rng.chance(duplicate) {
            let link = self
                .topology
                .link(from, to)
                .expect("edge checked open above");
            let latency = link.latency.sample(&mut self.net_rng);
            let second = self.arrival_time(from, to, latency, fifo);
            self.stats.messages_duplicated += 1;
            self.push_event(
                Some(from),
                EventKind::Duplicate {
                    to,
                    msg: msg_id,
                    arrival: second,
                },
            );
            let copy = msg.clone();
            self.schedule_delivery(from, to, msg_id, msg, arrival);
            self.schedule_delivery(from, to, msg_id, copy, second);
        } else {
            self.schedule_delivery(from, to, msg_id, msg, arrival);
        }
    }

    fn schedule_delivery(&mut self, from: NodeId, to: NodeId, msg_id: u64, msg: M, at: SimTime) {
        let payload = Payload::Deliver {
            from,
            to,
            msg_id,
            msg,
            arrived: false,
        };
        self.queue.push(at, payload);
    }

    fn push_send(
        &mut self,
        from: NodeId,
        to: NodeId,
        msg: u64,
        digest: u64,
        arrival: Option<crate::time::SimTime>,
        text: Option<Box<str>>,
    ) {
        let arrival = arrival.unwrap_or(crate::time::SimTime::MAX);
        self.push_event_with(Some(from), || EventKind::Send {
            to,
            msg,
            digest,
            arrival,
            text,
        });
    }

    /// `now + latency`, clamped on FIFO links to keep send order.
    #[inline]
    fn arrival_time(
        &mut self,
        from: NodeId,
        to: NodeId,
        latency: crate::time::SimDuration,
        fifo: bool,
    ) -> crate::time::SimTime {
        let mut arrival = self.now + latency;
        if fifo {
            let last = &mut self.fifo_last[from.index() * self.slots.len() + to.index()];
            arrival = arrival.max(*last);
            *last = arrival;
        }
        arrival
    }
}
