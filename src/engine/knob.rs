//! `set` faults: turning a model's knob on running nodes
//! ([`crate::Node::on_knob`]), and turning it back when the fault's
//! duration ends.
//!
//! A `set` on several nodes becomes one knob task per node, queued or run
//! at once like any event for that node:
//! - a crashed node is skipped (traced `the node is down`);
//! - a paused node holds the task with its messages and timers, and runs
//!   it, in order, when it resumes (a crash before that skips it);
//! - a running node's `on_knob` runs as a handler (its sends, timers and
//!   records apply as any handler's), and the trace shows the value it
//!   returned as `previous`, or `no such knob` if it returned `None`.
//!
//! With a duration, each node that took the value gets a return task that
//! much later (counted from when it took it), setting the value it
//! returned. A return is skipped if the node restarted since (a restart
//! rebuilds the node with its configured values) or a later `set` turned
//! the same knob on it. `heal_all` leaves knobs as they are.

use super::queue::Payload;
use super::trace::{EventKind, KnobOutcome, KnobTurn};
use super::Sim;
use crate::fault::Fault;
use crate::node::{Message, NodeId};
use crate::time::SimDuration;
use std::sync::Arc;

/// One knob turn for one node: a `set`'s, or its return.
pub(super) struct KnobTask {
    knob: Arc<str>,
    value: f64,
    kind: TaskKind,
}

enum TaskKind {
    /// A `set` fault's turn; its return comes `duration` after it runs.
    Set { duration: Option<SimDuration> },
    /// The return of set task `set`, for the node's incarnation `epoch`.
    Return { set: u32, epoch: u32 },
}

impl<M: Message> Sim<M> {
    /// Applies and traces a [`Fault::Set`]: one knob task per node, run now.
    pub(super) fn set_knob(&mut self, fault: Fault) {
        let Fault::Set {
            knob,
            value,
            nodes,
            duration,
        } = &fault
        else {
            unreachable!("a set fault");
        };
        for n in nodes {
            assert!(
                n.index() < self.slots.len(),
                "a set fault names node index {}, which does not exist",
                n.index()
            );
        }
        let (knob, value, nodes, duration) = (Arc::clone(knob), *value, nodes.clone(), *duration);
        self.push_event(
            None,
            EventKind::Fault {
                fault,
                applied: true,
            },
        );
        for node in nodes {
            let task = self.add_knob_task(KnobTask {
                knob: Arc::clone(&knob),
                value,
                kind: TaskKind::Set { duration },
            });
            self.turn_knob(node, task);
        }
    }

    fn add_knob_task(&mut self, task: KnobTask) -> u32 {
        let index = u32::try_from(self.knob_tasks.len()).expect("2^32 knob turns");
        self.knob_tasks.push(task);
        index
    }

    /// Runs knob task `task` at `node` now (or holds it, or skips it) and
    /// traces what happened. Always produces an event.
    pub(super) fn turn_knob(&mut self, node: NodeId, task: u32) -> bool {
        let t = &self.knob_tasks[task as usize];
        let (knob, value) = (Arc::clone(&t.knob), t.value);
        let slot = &mut self.slots[node.index()];
        let skip = match t.kind {
            _ if slot.node.is_none() => Some(KnobOutcome::Crashed),
            TaskKind::Return { epoch, .. } if slot.noise.epoch != epoch => {
                Some(KnobOutcome::Restarted)
            }
            TaskKind::Return { set, .. } if last_set(&slot.knob_sets, &knob) != Some(set) => {
                Some(KnobOutcome::SetAgain)
            }
            _ if slot.paused_until.is_some() => {
                slot.held.push(Payload::Knob { node, task });
                Some(KnobOutcome::Held)
            }
            _ => None,
        };
        let restore = matches!(t.kind, TaskKind::Return { .. });
        let turn = |outcome| {
            EventKind::Knob(KnobTurn {
                knob: Arc::clone(&knob),
                value,
                restore,
                outcome,
            })
        };
        if let Some(outcome) = skip {
            self.push_event(Some(node), turn(outcome));
            return true;
        }
        let previous = self
            .call_then(
                node,
                |n, ctx| n.on_knob(ctx, &knob, value),
                |sim, previous: &Option<f64>| {
                    let outcome = match *previous {
                        Some(previous) => KnobOutcome::Set { previous },
                        None => KnobOutcome::NoSuchKnob,
                    };
                    sim.push_event(Some(node), turn(outcome));
                },
            )
            .expect("the node is up");
        if let (Some(previous), TaskKind::Set { duration }) =
            (previous, &self.knob_tasks[task as usize].kind)
        {
            let duration = *duration;
            let slot = &mut self.slots[node.index()];
            match slot.knob_sets.iter_mut().find(|(k, _)| *k == knob) {
                Some(entry) => entry.1 = task,
                None => slot.knob_sets.push((Arc::clone(&knob), task)),
            }
            if let Some(duration) = duration {
                let epoch = slot.noise.epoch;
                let back = self.add_knob_task(KnobTask {
                    knob,
                    value: previous,
                    kind: TaskKind::Return { set: task, epoch },
                });
                self.queue
                    .push(self.now + duration, Payload::Knob { node, task: back });
            }
        }
        true
    }

    /// A knob task that waited for a paused node that crashed: traced as
    /// not set.
    pub(super) fn knob_lost_in_crash(&mut self, node: NodeId, task: u32) {
        let t = &self.knob_tasks[task as usize];
        let turn = KnobTurn {
            knob: Arc::clone(&t.knob),
            value: t.value,
            restore: matches!(t.kind, TaskKind::Return { .. }),
            outcome: KnobOutcome::Crashed,
        };
        self.push_event(Some(node), EventKind::Knob(turn));
    }
}

/// The set task that last turned `knob` at a node, from its list.
fn last_set(sets: &[(Arc<str>, u32)], knob: &str) -> Option<u32> {
    sets.iter()
        .find(|(k, _)| k.as_ref() == knob)
        .map(|(_, t)| *t)
}
