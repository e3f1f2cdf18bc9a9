//! Applying faults to the running simulation.

use super::queue::Payload;
use super::trace::EventKind;
use super::Sim;
use crate::fault::target::{CRASHED, ISOLATED};
use crate::fault::{Action, Fault, Pick};
use crate::net::{DropReason, MAX_LINK_SPECS};
use crate::node::{Message, NodeId};
use crate::time::SimDuration;

impl<M: Message> Sim<M> {
    /// Applies one fault now and traces it.
    pub(super) fn apply_fault(&mut self, fault: Fault) {
        if let Fault::Aimed { action, picks } = &fault {
            match self.resolve(action, picks) {
                Ok(nodes) => {
                    let fault = action.on(nodes);
                    if let (Action::CrashFor(downtime), Fault::Crash(n)) = (action, &fault) {
                        let (n, back) = (*n, self.now + *downtime);
                        let up = self.slots[n.index()].node.is_some();
                        self.apply_fault(fault);
                        if up {
                            self.schedule(back, Fault::Restart(n));
                        }
                    } else {
                        self.apply_fault(fault);
                    }
                }
                Err(reason) => self.push_event(None, EventKind::Skipped { fault, reason }),
            }
            return;
        }
        if let Fault::SetLink { .. } = &fault {
            self.set_link(fault);
            return;
        }
        if let Fault::Set { .. } = &fault {
            self.set_knob(fault);
            return;
        }
        let node = match &fault {
            Fault::Crash(n) | Fault::Restart(n) | Fault::Reconnect(n) => Some(*n),
            Fault::Pause { node, .. }
            | Fault::ClockJump { node, .. }
            | Fault::Byzantine { node, .. } => Some(*node),
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
            Fault::ClockJump { .. }
            | Fault::LossBurst { .. }
            | Fault::HealAll
            | Fault::Byzantine { .. } => true,
            Fault::SetLink { .. } | Fault::Set { .. } => unreachable!("applied above"),
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
            Fault::Partition(_)
            | Fault::Heal
            | Fault::Reconnect(_)
            | Fault::SetLink { .. }
            | Fault::Set { .. } => {}
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
            Fault::Byzantine {
                node,
                adversary,
                duration,
            } => self.turn_byzantine(node, adversary, duration),
            Fault::Aimed { .. } => unreachable!("resolved above"),
        }
    }

    /// The nodes each list of picks names now, or why the fault is skipped:
    /// a target names nobody, `@others` names nobody, or two picks name one
    /// node (across `set_link`'s `from` and `to`, one node may be in both).
    fn resolve(
        &mut self,
        action: &Action,
        picks: &[Vec<Pick>],
    ) -> Result<Vec<Vec<NodeId>>, String> {
        let reported: Vec<_> = self
            .slots
            .iter()
            .map(|s| match &s.node {
                None => Some((CRASHED, 0)),
                Some(node) => Some((node.role()?, node.role_rank())),
            })
            .collect();
        // `@isolated` is a state, not a role: it matches running servers
        // cut off from every other node, whatever role they report.
        let wants_isolated = picks
            .iter()
            .flatten()
            .any(|p| matches!(p, Pick::Target(t) if t.role.as_deref() == Some(ISOLATED)));
        let isolated: Vec<_> = if wants_isolated {
            (0..self.slots.len())
                .map(|i| {
                    let id = NodeId(i as u32);
                    (self.slots[i].node.is_some() && self.topology.is_isolated(id))
                        .then_some((ISOLATED, 0))
                })
                .collect()
        } else {
            Vec::new()
        };
        // Each pick's node, by list; `None` for `@others`, filled in below.
        let mut lists: Vec<Vec<Option<NodeId>>> = Vec::with_capacity(picks.len());
        let mut named: Vec<(NodeId, usize, String)> = Vec::new();
        for (l, list) in picks.iter().enumerate() {
            let mut nodes = Vec::with_capacity(list.len());
            for pick in list {
                let node = match pick {
                    Pick::Node(n) => *n,
                    Pick::Target(target) => target
                        .resolve(
                            if target.role.as_deref() == Some(ISOLATED) {
                                &isolated
                            } else {
                                &reported
                            },
                            &mut self.target_rng,
                        )
                        .ok_or_else(|| format!("no {}", target.text()))?,
                    Pick::Others(_) => {
                        nodes.push(None);
                        continue;
                    }
                };
                let text = pick.text(&self.names);
                let clash = named.iter().find(|(n, other_list, _)| {
                    *n == node && (*other_list == l || !action.lists_may_overlap())
                });
                if let Some((_, _, first)) = clash {
                    return Err(format!(
                        "{first} and {text} both name {}",
                        self.names[node.index()]
                    ));
                }
                named.push((node, l, text));
                nodes.push(Some(node));
            }
            lists.push(nodes);
        }
        let mut out = Vec::with_capacity(lists.len());
        for (list, nodes) in picks.iter().zip(lists) {
            let mut resolved = Vec::with_capacity(nodes.len());
            for (pick, node) in list.iter().zip(nodes) {
                match (pick, node) {
                    (_, Some(n)) => resolved.push(n),
                    (Pick::Others(servers), None) => {
                        let before = resolved.len();
                        resolved.extend(
                            servers
                                .iter()
                                .filter(|s| !named.iter().any(|(n, _, _)| n == *s)),
                        );
                        if resolved.len() == before {
                            return Err("@others names nobody".to_string());
                        }
                    }
                    (_, None) => unreachable!("only @others is filled in late"),
                }
            }
            out.push(resolved);
        }
        Ok(out)
    }

    /// Applies and traces a [`Fault::SetLink`], queueing its end if it has a duration.
    fn set_link(&mut self, fault: Fault) {
        let Fault::SetLink {
            from,
            to,
            change,
            symmetric,
            duration,
        } = &fault
        else {
            unreachable!("a set_link fault");
        };
        let mut changes = self.topology.set_links(from, to, change);
        if *symmetric {
            changes = changes.and_then(|mut there| {
                let back = self.topology.set_links(to, from, change);
                if back.is_none() {
                    self.topology.restore_links(&there); // all or nothing
                }
                there.extend(back?);
                Some(there)
            });
        }
        let Some(changes) = changes else {
            let reason =
                format!("the network would hold more than {MAX_LINK_SPECS} distinct link settings");
            self.push_event(None, EventKind::Skipped { fault, reason });
            return;
        };
        if let Some(duration) = *duration {
            let index = u32::try_from(self.link_changes.len()).expect("2^32 link changes");
            self.link_changes.push((fault.clone(), changes));
            self.queue
                .push(self.now + duration, Payload::RestoreLinks(index));
        }
        self.push_event(
            None,
            EventKind::Fault {
                fault,
                applied: true,
            },
        );
    }

    /// Ends link change `index` (if `heal_all` has not): its links return
    /// to their settings from before.
    pub(super) fn restore_links(&mut self, index: u32) -> bool {
        let (fault, changes) = std::mem::replace(
            &mut self.link_changes[index as usize],
            (Fault::Heal, Vec::new()),
        );
        if changes.is_empty() {
            return false;
        }
        self.topology.restore_links(&changes);
        self.push_event(None, EventKind::LinksRestored { fault });
        true
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
        if self.watch_roles {
            self.observe_role(node);
        }
        for payload in held {
            if let Payload::Knob { node, task } = payload {
                self.knob_lost_in_crash(node, task);
            }
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
        self.topology.reset_links();
        for (_, changes) in &mut self.link_changes {
            changes.clear();
        }
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
