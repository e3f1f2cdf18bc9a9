//! Applying faults to the running simulation.

use super::queue::Payload;
use super::trace::EventKind;
use super::Sim;
use crate::fault::target::{CRASHED, ISOLATED};
use crate::fault::Fault;
use crate::net::DropReason;
use crate::node::{Message, NodeId};
use crate::time::SimDuration;

impl<M: Message> Sim<M> {
    /// Applies one fault now and traces it.
    pub(super) fn apply_fault(&mut self, fault: Fault) {
        if let Fault::Aimed { action, target } = &fault {
            let isolated = target.role.as_deref() == Some(ISOLATED);
            let reported: Vec<_> = self
                .slots
                .iter()
                .enumerate()
                .map(|(i, s)| match &s.node {
                    None => Some((CRASHED, 0)),
                    Some(_) if isolated => self
                        .topology
                        .is_isolated(NodeId(i as u32))
                        .then_some((ISOLATED, 0)),
                    Some(node) => Some((node.role()?, node.role_rank())),
                })
                .collect();
            match target.resolve(&reported, &mut self.target_rng) {
                Some(n) => self.apply_fault(action.on(n)),
                None => self.push_event(
                    None,
                    EventKind::Fault {
                        fault,
                        applied: false,
                    },
                ),
            }
            return;
        }
        let node = match &fault {
            Fault::Crash(n) | Fault::Restart(n) | Fault::Reconnect(n) => Some(*n),
            Fault::Pause { node, .. } | Fault::ClockJump { node, .. } => Some(*node),
            _ => None,
        };
        if let Some(n) = node {
            assert!(
                n.index() < self.slots.len(),
                "fault names node index {}, which does not exist",
                n.index()
            );
        }
        let applied = match &fault {
            Fault::Partition(cut) => {
                self.topology.cut(cut);
                true
            }
            Fault::Heal => {
                self.topology.heal();
                true
            }
            Fault::Reconnect(n) => {
                self.topology.reconnect(*n);
                true
            }
            Fault::Crash(n) => self.slots[n.index()].node.is_some(),
            Fault::Restart(n) => self.slots[n.index()].node.is_none(),
            Fault::Pause { node, .. } => self.slots[node.index()].node.is_some(),
            Fault::ClockJump { .. } | Fault::LossBurst { .. } | Fault::HealAll => true,
            Fault::Aimed { .. } => unreachable!("resolved above"),
        };
        self.push_event(
            node,
            EventKind::Fault {
                fault: fault.clone(),
                applied,
            },
        );
        if !applied {
            return;
        }
        match fault {
            Fault::Partition(_) | Fault::Heal | Fault::Reconnect(_) => {}
            Fault::Crash(n) => self.crash_now(n),
            Fault::Restart(n) => self.start_node(n, true),
            Fault::Pause { node, duration } => self.pause_now(node, duration),
            Fault::ClockJump { node, by_ns } => self.jump_clock(node, by_ns),
            Fault::LossBurst {
                probability,
                duration,
            } => {
                self.loss_burst = Some(probability);
                self.loss_burst_generation += 1;
                let generation = self.loss_burst_generation;
                self.queue
                    .push(self.now + duration, Payload::LossBurstEnd { generation });
            }
            Fault::HealAll => self.heal_all(),
            Fault::Aimed { .. } => unreachable!("resolved above"),
        }
    }

    fn crash_now(&mut self, node: NodeId) {
        let slot = &mut self.slots[node.index()];
        slot.node = None;
        slot.storage.lose_unsynced();
        slot.timers.clear();
        slot.paused_until = None;
        slot.pause_generation += 1;
        let held = std::mem::take(&mut slot.held);
        self.crash_noise(node);
        for payload in held {
            if let Payload::Deliver {
                from, to, msg_id, ..
            } = payload
            {
                self.stats.messages_dropped += 1;
                self.stats.dropped_by_reason[DropReason::NodeDown as usize] += 1;
                self.push_event(
                    Some(to),
                    EventKind::Drop {
                        from,
                        to,
                        msg: msg_id,
                        reason: DropReason::NodeDown,
                    },
                );
            }
        }
    }

    fn pause_now(&mut self, node: NodeId, duration: SimDuration) {
        let until = self.now + duration; // saturating: a pause past u64 time never ends
        let slot = &mut self.slots[node.index()];
        if slot.paused_until.is_some_and(|current| current >= until) {
            return; // already paused for longer
        }
        slot.paused_until = Some(until);
        slot.pause_generation += 1;
        let generation = slot.pause_generation;
        self.queue.push(until, Payload::Resume { node, generation });
    }

    /// Ends a pause: held messages and timers run now, in the order they came.
    pub(super) fn resume(&mut self, node: NodeId, generation: u32) -> bool {
        let slot = &mut self.slots[node.index()];
        if slot.pause_generation != generation || slot.paused_until.is_none() {
            return false;
        }
        slot.paused_until = None;
        let held = std::mem::take(&mut slot.held);
        for payload in held.into_iter().rev() {
            self.queue.push_front(self.now, payload);
        }
        self.push_event(Some(node), EventKind::Resume);
        true
    }

    /// Steps a clock and moves every pending timer of the node to its new true time.
    fn jump_clock(&mut self, node: NodeId, by_ns: i64) {
        let now = self.now;
        let slot = &mut self.slots[node.index()];
        slot.clock.jump(by_ns);
        for pending in slot.timers.values_mut() {
            pending.generation += 1;
            let at = slot.clock.true_time_at(pending.deadline, now) + pending.late;
            debug_assert!(at >= now, "a jump moved a timer into the past: {at:?}");
            self.queue.push(
                at,
                Payload::Timer {
                    node,
                    id: pending.id,
                    generation: pending.generation,
                },
            );
        }
    }

    fn heal_all(&mut self) {
        self.topology.heal();
        self.loss_burst = None;
        for i in 0..self.slots.len() {
            let node = NodeId(i as u32);
            if self.slots[i].node.is_none() {
                self.push_event(
                    Some(node),
                    EventKind::Fault {
                        fault: Fault::Restart(node),
                        applied: true,
                    },
                );
                self.start_node(node, true);
            } else if self.slots[i].paused_until.is_some() {
                let generation = self.slots[i].pause_generation;
                self.resume(node, generation);
            }
        }
    }
}
