//! Faults as data: one [`Fault`] enum, applied at scheduled times.
//!
//! A run's faults are a list of [`TimedFault`]s: written out in the
//! scenario's `[[faults]]`, drawn by [`chaos`] from the seed, or both. The
//! engine applies each at its time and records it in the trace, so every
//! fault a run saw is visible and replayable.
//!
//! What each fault means is documented on its variant. Faults that do not
//! apply (crashing a crashed node, restarting a running one, resuming a node
//! that is not paused) change nothing and are traced as `ignored`.

pub mod chaos;
pub mod target;

use crate::net::Cut;
use crate::node::NodeId;
use crate::rng::Probability;
use crate::time::{SimDuration, SimTime};
pub use target::Target;

/// One fault.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Remove network edges (see [`Cut`]); cuts accumulate until `Heal`.
    Partition(Cut),
    /// Restore every network edge.
    Heal,
    /// Undo the cuts around one node: restore every edge between it and
    /// each node that is not itself isolated (the lab tests' `connect`).
    Reconnect(NodeId),
    /// The node's process dies: its value, timers and unsynced writes are gone;
    /// messages that arrive while it is down are dropped.
    Crash(NodeId),
    /// A crashed node starts again from its synced storage.
    Restart(NodeId),
    /// The node freezes for `duration` (a GC stall): arriving messages and
    /// due timers wait, and run, late, when it resumes, unaware of the gap.
    Pause { node: NodeId, duration: SimDuration },
    /// The node's local clock steps by `by_ns` (negative: backwards); its
    /// pending timers are rescheduled to the new true times.
    ClockJump { node: NodeId, by_ns: i64 },
    /// Every message sent during `duration` is also lost with `probability`.
    LossBurst {
        probability: Probability,
        duration: SimDuration,
    },
    /// End of the fault phase: heal the network, restart crashed nodes,
    /// resume paused ones and end loss bursts.
    HealAll,
    /// `action` on the node `target` names when the fault fires (see
    /// [`Target`]); the engine traces the resolved fault, or this one as
    /// skipped when the target names nobody.
    Aimed { action: Action, target: Target },
}

/// What an aimed fault does to the node its target resolves to.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// [`Fault::Crash`].
    Crash,
    /// [`Fault::Restart`].
    Restart,
    /// [`Fault::Partition`] with [`Cut::Isolate`].
    Isolate,
    /// [`Fault::Reconnect`].
    Reconnect,
    /// [`Fault::Pause`].
    Pause(SimDuration),
    /// [`Fault::ClockJump`].
    ClockJump(i64),
}

impl Action {
    /// The fault on `node`.
    pub fn on(&self, node: NodeId) -> Fault {
        match *self {
            Action::Crash => Fault::Crash(node),
            Action::Restart => Fault::Restart(node),
            Action::Isolate => Fault::Partition(Cut::Isolate(node)),
            Action::Reconnect => Fault::Reconnect(node),
            Action::Pause(duration) => Fault::Pause { node, duration },
            Action::ClockJump(by_ns) => Fault::ClockJump { node, by_ns },
        }
    }
}

/// A fault and when it happens.
#[derive(Clone, Debug, PartialEq)]
pub struct TimedFault {
    /// True time of the fault.
    pub at: SimTime,
    /// The fault.
    pub fault: Fault,
}

impl Fault {
    /// A one-line description with node names, e.g. `partition {n1,n2} | {n3}`.
    pub fn describe(&self, names: &[String]) -> String {
        let name = |n: &NodeId| names[n.index()].clone();
        let set =
            |g: &[NodeId]| format!("{{{}}}", g.iter().map(name).collect::<Vec<_>>().join(","));
        match self {
            Fault::Partition(Cut::Groups(groups)) => {
                let listed: Vec<NodeId> = groups.iter().flatten().copied().collect();
                let unlisted: Vec<NodeId> = (0..names.len() as u32)
                    .map(NodeId)
                    .filter(|n| !listed.contains(n))
                    .collect();
                let text = groups
                    .iter()
                    .map(|g| set(g))
                    .collect::<Vec<_>>()
                    .join(" | ");
                if unlisted.is_empty() {
                    format!("partition {text}")
                } else {
                    format!("partition {text} (bridged by {})", set(&unlisted))
                }
            }
            Fault::Partition(Cut::OneWay { from, to }) => {
                format!("one-way cut {} -> {}", set(from), set(to))
            }
            Fault::Partition(Cut::Isolate(n)) => format!("isolate {}", name(n)),
            Fault::Heal => "heal the network".to_string(),
            Fault::Reconnect(n) => format!("reconnect {}", name(n)),
            Fault::Crash(n) => format!("crash {}", name(n)),
            Fault::Restart(n) => format!("restart {}", name(n)),
            Fault::Pause { node, duration } => format!("pause {} for {duration}", name(node)),
            Fault::ClockJump { node, by_ns } => {
                let sign = if *by_ns < 0 { "-" } else { "+" };
                format!(
                    "clock of {} jumps {sign}{}",
                    name(node),
                    SimDuration(by_ns.unsigned_abs())
                )
            }
            Fault::LossBurst {
                probability,
                duration,
            } => {
                format!(
                    "loss burst {:.0}% for {duration}",
                    probability.as_f64() * 100.0
                )
            }
            Fault::HealAll => "heal all (network, crashed, paused, loss)".to_string(),
            Fault::Aimed { action, target } => {
                // Described as the fault on a placeholder node, renamed.
                let mut with_target = names.to_vec();
                with_target.push(target.text());
                action.on(NodeId(names.len() as u32)).describe(&with_target)
            }
        }
    }

    /// The line of an aimed fault that did not apply because its target
    /// named nobody, e.g. `fault skipped: no @leader (crash @leader)`; `None`
    /// for other faults.
    pub fn skipped(&self, names: &[String]) -> Option<String> {
        match self {
            Fault::Aimed { target, .. } => Some(format!(
                "fault skipped: no {} ({})",
                target.text(),
                self.describe(names)
            )),
            _ => None,
        }
    }

    /// The short kind name used in traces (`"crash"`, `"partition"`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Partition(Cut::Groups(_)) => "partition",
            Fault::Partition(Cut::OneWay { .. }) => "one_way",
            Fault::Partition(Cut::Isolate(_)) => "isolate",
            Fault::Heal => "heal",
            Fault::Reconnect(_) => "reconnect",
            Fault::Crash(_) => "crash",
            Fault::Restart(_) => "restart",
            Fault::Pause { .. } => "pause",
            Fault::ClockJump { .. } => "clock_jump",
            Fault::LossBurst { .. } => "loss_burst",
            Fault::HealAll => "heal_all",
            Fault::Aimed { action, .. } => action.on(NodeId(0)).kind(),
        }
    }
}
