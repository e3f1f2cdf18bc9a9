//! Triggered faults: watching for an observation, then scheduling the fault.
//!
//! Each [`TriggeredFault`] goes waiting -> watching (at its `from` time) ->
//! fired (at the first observation; the fault is then scheduled `delay`
//! later, like any timed fault). Only watching triggers are checked: a
//! record kind where handlers' records are applied, a role after each
//! handler call and crash, and at the start of the watch for the roles
//! servers already report. A run without triggers checks two `false` flags.
//!
//! At `until` a trigger that never fired, or whose fault would come after
//! `until`, is traced as a skipped fault with the reason.

use super::queue::Payload;
use super::trace::EventKind;
use super::Sim;
use crate::fault::target::CRASHED;
use crate::fault::{Observation, TriggeredFault};
use crate::node::{Message, NodeId};
use crate::time::SimTime;

/// A trigger and how far it has come.
pub(super) struct Armed {
    trigger: TriggeredFault,
    state: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Waiting,
    Watching,
    /// Observed at `seen`; the fault is due at `due`.
    Fired {
        seen: SimTime,
        due: SimTime,
    },
}

impl<M: Message> Sim<M> {
    /// Queues the start and the end of each trigger's watch.
    pub(super) fn add_triggers(&mut self, triggers: Vec<TriggeredFault>) {
        for trigger in triggers {
            let index = u32::try_from(self.triggers.len()).expect("more than 2^32 triggers");
            self.queue
                .push(trigger.from.max(self.now), Payload::Arm(index));
            if trigger.until != SimTime::MAX {
                self.queue.push(trigger.until, Payload::Expire(index));
            }
            self.triggers.push(Armed {
                trigger,
                state: State::Waiting,
            });
        }
    }

    /// Starts watching; a role some server already reports fires it now.
    /// Produces no trace event.
    pub(super) fn arm(&mut self, index: u32) {
        let armed = &mut self.triggers[index as usize];
        debug_assert_eq!(armed.state, State::Waiting, "armed twice");
        armed.state = State::Watching;
        self.watching.push(index);
        self.update_watch_flags();
        if let Observation::Role { servers, .. } =
            &self.triggers[index as usize].trigger.observation
        {
            for i in 0..*servers {
                if self.reports(index, NodeId(i)) {
                    self.fire(index);
                    return;
                }
            }
        }
    }

    /// Ends the watch: traces the fault as skipped if it never fired or is
    /// due after the end. False if there is nothing to say.
    pub(super) fn expire(&mut self, index: u32) -> bool {
        let armed = &self.triggers[index as usize];
        let t = &armed.trigger;
        let reason = match armed.state {
            State::Fired { due, .. } if due <= t.until => return false,
            State::Fired { seen, due } => format!(
                "after = \"{}\" was observed at {seen}, so the fault was due at {due}, after {}",
                t.observation.text(),
                t.until
            ),
            State::Waiting | State::Watching => format!(
                "after = \"{}\" was not observed from {} to {}",
                t.observation.text(),
                t.from,
                t.until
            ),
        };
        let fault = t.fault.clone();
        self.watching.retain(|&i| i != index);
        self.update_watch_flags();
        self.push_event(None, EventKind::Skipped { fault, reason });
        true
    }

    /// A node recorded `kind`: fires the record triggers waiting for it.
    pub(super) fn observe_record(&mut self, kind: &str) {
        let mut i = 0;
        while i < self.watching.len() {
            let index = self.watching[i];
            match &self.triggers[index as usize].trigger.observation {
                Observation::Record(want) if want == kind => self.fire(index),
                _ => i += 1,
            }
        }
    }

    /// `node` may have changed its role: fires the role triggers it meets.
    pub(super) fn observe_role(&mut self, node: NodeId) {
        let mut i = 0;
        while i < self.watching.len() {
            let index = self.watching[i];
            if self.reports(index, node) {
                self.fire(index);
            } else {
                i += 1;
            }
        }
    }

    /// True if the role trigger `index` waits for what `node` reports now.
    fn reports(&self, index: u32, node: NodeId) -> bool {
        let Observation::Role { role, servers } =
            &self.triggers[index as usize].trigger.observation
        else {
            return false;
        };
        if node.0 >= *servers {
            return false;
        }
        let now = match &self.slots[node.index()].node {
            None => Some(CRASHED),
            Some(n) => n.role(),
        };
        now == Some(role.as_str())
    }

    /// Stops watching `index` and schedules its fault.
    fn fire(&mut self, index: u32) {
        let due = self.now + self.triggers[index as usize].trigger.delay;
        let armed = &mut self.triggers[index as usize];
        debug_assert_eq!(armed.state, State::Watching, "fired while not watching");
        armed.state = State::Fired {
            seen: self.now,
            due,
        };
        let fault = armed.trigger.fault.clone();
        let in_time = due <= armed.trigger.until;
        self.watching.retain(|&i| i != index);
        self.update_watch_flags();
        if in_time {
            self.schedule(due, fault);
        }
    }

    fn update_watch_flags(&mut self) {
        let (mut records, mut roles) = (false, false);
        for &index in &self.watching {
            match self.triggers[index as usize].trigger.observation {
                Observation::Record(_) => records = true,
                Observation::Role { .. } => roles = true,
            }
        }
        self.watch_records = records;
        self.watch_roles = roles;
    }
}
