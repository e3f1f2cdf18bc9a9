//! Faults as data: one [`Fault`] enum, applied at scheduled times.
//!
//! A run's faults are a list of [`TimedFault`]s: written out in the
//! scenario's `[[faults]]`, drawn by [`chaos`] from the seed, or both. The
//! engine applies each at its time and records it in the trace, so every
//! fault a run saw is visible and replayable.
//!
//! A scenario's own faults may also fire at a time drawn per seed or after
//! an observation ([`when`]), and may aim at nodes chosen when they fire
//! ([`Fault::Aimed`], [`target`]).
//!
//! A node may also be made Byzantine ([`Fault::Byzantine`], [`byzantine`]):
//! its sent messages then go through an adversary.
//!
//! What each fault means is documented on its variant. Faults that do not
//! apply (crashing a crashed node, restarting a running one, resuming a node
//! that is not paused) change nothing and are traced as `ignored`.

pub mod byzantine;
pub mod chaos;
pub mod points;
pub mod target;
pub mod when;

use crate::net::{Cut, LinkChange};
use crate::node::NodeId;
use crate::rng::Probability;
use crate::time::{SimDuration, SimTime};
use std::sync::Arc;
pub use target::Target;
pub use when::{FaultSchedule, FaultTime, Observation, PlannedFault, TriggeredFault};

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
    /// End of the fault phase: heal the network, return every link to its
    /// initial settings (undoing `SetLink`), restart crashed nodes, resume
    /// paused ones and end loss bursts.
    HealAll,
    /// New settings for every directed link `a -> b`, `a` in `from`, `b` in
    /// `to`, `a != b` (and `b -> a` too if `symmetric`), cut or not: a heal
    /// keeps them. With `duration`, each link returns to its settings from
    /// before, unless changed again since.
    SetLink {
        from: Vec<NodeId>,
        to: Vec<NodeId>,
        change: LinkChange,
        symmetric: bool,
        duration: Option<SimDuration>,
    },
    /// Turn the model's knob `knob` to `value` on each of `nodes` that is
    /// up ([`crate::Node::on_knob`]): a crashed node is skipped, a paused
    /// one takes it when it resumes. With `duration`, each node that took
    /// it is set back that much later to the value it returned, unless
    /// the knob was set again there or the node restarted since.
    Set {
        knob: Arc<str>,
        value: f64,
        nodes: Vec<NodeId>,
        duration: Option<SimDuration>,
    },
    /// The node turns Byzantine: from now on (or for `duration`) each
    /// message it sends goes through `adversary` (see [`byzantine`]). A
    /// second one on the same node replaces the first; `HealAll` keeps it.
    Byzantine {
        node: NodeId,
        adversary: byzantine::Adversary,
        duration: Option<SimDuration>,
    },
    /// `action` on the nodes `picks` name when the fault fires: one list of
    /// picks per node list of the action (see [`Action::on`]). The engine
    /// traces the resolved fault, or this one as skipped (with the reason)
    /// when a target names nobody or two picks name the same node.
    Aimed {
        action: Action,
        picks: Vec<Vec<Pick>>,
    },
}

/// A node slot of an aimed fault, resolved when it fires.
#[derive(Clone, Debug, PartialEq)]
pub enum Pick {
    /// This node.
    Node(NodeId),
    /// Whoever the target names then.
    Target(Target),
    /// Every one of `servers` that no other pick of the fault names
    /// (`@others`; clients are never among them).
    Others(std::sync::Arc<[NodeId]>),
}

impl Pick {
    /// The pick as written: a node name, a target, or `@others`.
    pub fn text(&self, names: &[String]) -> String {
        match self {
            Pick::Node(n) => names[n.index()].clone(),
            Pick::Target(t) => t.text(),
            Pick::Others(_) => "@others".to_string(),
        }
    }
}

/// What an aimed fault does to the nodes its picks resolve to.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// [`Fault::Crash`].
    Crash,
    /// [`Fault::Crash`], and a [`Fault::Restart`] of the same node this
    /// much later (if the crash applied): chaos aimed at a role, and a
    /// file's `crash` with a `duration`.
    CrashFor(SimDuration),
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
    /// [`Fault::Partition`] with [`Cut::Groups`]: one node list per group.
    Partition,
    /// A partition bridged by one node: the first list is the bridge, the
    /// others the groups.
    Bridge,
    /// [`Fault::Partition`] with [`Cut::OneWay`]: lists `from`, `to`.
    OneWay,
    /// [`Fault::SetLink`]: lists `from`, `to`.
    SetLink {
        change: LinkChange,
        symmetric: bool,
        duration: Option<SimDuration>,
    },
    /// [`Fault::Set`]: one list, the nodes.
    Set {
        knob: Arc<str>,
        value: f64,
        duration: Option<SimDuration>,
    },
    /// [`Fault::Byzantine`]: one list, the node.
    Byzantine {
        adversary: byzantine::Adversary,
        duration: Option<SimDuration>,
    },
}

impl Action {
    /// The fault on `nodes`: one list per list of picks (the single-node
    /// actions read the first node of the first list).
    pub fn on(&self, mut nodes: Vec<Vec<NodeId>>) -> Fault {
        debug_assert!(!nodes.is_empty() && !nodes[0].is_empty(), "no nodes");
        let one = nodes[0][0];
        match self {
            Action::Crash | Action::CrashFor(_) => Fault::Crash(one),
            Action::Restart => Fault::Restart(one),
            Action::Isolate => Fault::Partition(Cut::Isolate(one)),
            Action::Reconnect => Fault::Reconnect(one),
            Action::Pause(duration) => Fault::Pause {
                node: one,
                duration: *duration,
            },
            Action::ClockJump(by_ns) => Fault::ClockJump {
                node: one,
                by_ns: *by_ns,
            },
            Action::Partition => Fault::Partition(Cut::Groups(nodes)),
            Action::Byzantine {
                adversary,
                duration,
            } => Fault::Byzantine {
                node: one,
                adversary: adversary.clone(),
                duration: *duration,
            },
            Action::Set {
                knob,
                value,
                duration,
            } => Fault::Set {
                knob: Arc::clone(knob),
                value: *value,
                nodes: nodes.swap_remove(0),
                duration: *duration,
            },
            Action::Bridge => Fault::Partition(Cut::Groups(nodes.split_off(1))),
            Action::OneWay | Action::SetLink { .. } => {
                let to = nodes.pop().expect("from and to");
                let from = nodes.pop().expect("from and to");
                match self {
                    Action::OneWay => Fault::Partition(Cut::OneWay { from, to }),
                    Action::SetLink {
                        change,
                        symmetric,
                        duration,
                    } => Fault::SetLink {
                        from,
                        to,
                        change: change.clone(),
                        symmetric: *symmetric,
                        duration: *duration,
                    },
                    _ => unreachable!("matched above"),
                }
            }
        }
    }

    /// True if one node may be in two of its lists (`set_link`'s `from` and
    /// `to`); else every node of the fault is named once.
    pub fn lists_may_overlap(&self) -> bool {
        matches!(self, Action::SetLink { .. })
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
        self.describe_from(names, 0)
    }

    /// [`Fault::describe`], naming as bridges only unlisted nodes from id
    /// `first` on (an aimed fault's placeholders: who else is unlisted is
    /// known only when it fires).
    fn describe_from(&self, names: &[String], first: usize) -> String {
        let name = |n: &NodeId| names[n.index()].clone();
        let set =
            |g: &[NodeId]| format!("{{{}}}", g.iter().map(name).collect::<Vec<_>>().join(","));
        match self {
            Fault::Partition(Cut::Groups(groups)) => {
                let listed: Vec<NodeId> = groups.iter().flatten().copied().collect();
                let unlisted: Vec<NodeId> = (first as u32..names.len() as u32)
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
            Fault::HealAll => "heal all (network, links, crashed, paused, loss)".to_string(),
            Fault::SetLink {
                from,
                to,
                change,
                symmetric,
                duration,
            } => {
                let arrow = if *symmetric { "<->" } else { "->" };
                let mut text = format!("set links {} {arrow} {}:", set(from), set(to));
                if let Some(latency) = &change.latency {
                    text.push_str(&format!(" latency {latency}"));
                }
                if let Some(loss) = change.loss {
                    text.push_str(&format!(" loss {}", percent(loss)));
                }
                if let Some(duplicate) = change.duplicate {
                    text.push_str(&format!(" duplicate {}", percent(duplicate)));
                }
                if let Some(duration) = duration {
                    text.push_str(&format!(" for {duration}"));
                }
                text
            }
            Fault::Set {
                knob,
                value,
                nodes,
                duration,
            } => {
                let mut text = format!("set {knob} = {value} on {}", set(nodes));
                if let Some(duration) = duration {
                    text.push_str(&format!(" for {duration}"));
                }
                text
            }
            Fault::Byzantine {
                node,
                adversary,
                duration,
            } => {
                let mut text = format!(
                    "{} turns Byzantine ({})",
                    name(node),
                    adversary.describe(names)
                );
                if let Some(duration) = duration {
                    text.push_str(&format!(" for {duration}"));
                }
                text
            }
            Fault::Aimed { action, picks } => {
                // Described as the fault on placeholder nodes, one per pick, renamed.
                let mut with_picks = names.to_vec();
                let placeholders = picks
                    .iter()
                    .map(|list| {
                        list.iter()
                            .map(|pick| {
                                with_picks.push(pick.text(names));
                                NodeId(with_picks.len() as u32 - 1)
                            })
                            .collect()
                    })
                    .collect();
                let text = action
                    .on(placeholders)
                    .describe_from(&with_picks, names.len());
                match action {
                    Action::CrashFor(downtime) => format!("{text} for {downtime}"),
                    _ => text,
                }
            }
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
            Fault::SetLink { .. } => "set_link",
            Fault::Set { .. } => "set",
            Fault::Byzantine { .. } => "byzantine",
            Fault::Aimed { action, picks } => {
                let placeholders = picks
                    .iter()
                    .map(|list| vec![NodeId(0); list.len()])
                    .collect();
                action.on(placeholders).kind()
            }
        }
    }

    /// How long its effect lasts by itself (pauses, loss bursts and link
    /// changes with a duration end on their own); zero for the others.
    pub fn length(&self) -> SimDuration {
        match self {
            Fault::Pause { duration, .. } | Fault::LossBurst { duration, .. } => *duration,
            Fault::SetLink {
                duration: Some(duration),
                ..
            }
            | Fault::Set {
                duration: Some(duration),
                ..
            }
            | Fault::Byzantine {
                duration: Some(duration),
                ..
            } => *duration,
            Fault::Aimed {
                action: Action::Pause(duration) | Action::CrashFor(duration),
                ..
            }
            | Fault::Aimed {
                action:
                    Action::SetLink {
                        duration: Some(duration),
                        ..
                    }
                    | Action::Set {
                        duration: Some(duration),
                        ..
                    }
                    | Action::Byzantine {
                        duration: Some(duration),
                        ..
                    },
                ..
            } => *duration,
            _ => SimDuration::ZERO,
        }
    }
}

fn percent(p: Probability) -> String {
    format!("{}%", (p.as_f64() * 1000.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Latency;

    #[test]
    fn aimed_faults_describe_their_picks() {
        let names: Vec<String> = ["n1", "n2", "n3", "c1"].map(String::from).to_vec();
        let servers: std::sync::Arc<[NodeId]> = (0..3).map(NodeId).collect();
        let leader = Target::parse("@leader", &["leader"], std::sync::Arc::clone(&servers))
            .unwrap()
            .unwrap();
        let others = Pick::Others(servers);
        let bridge = Fault::Aimed {
            action: Action::Bridge,
            picks: vec![
                vec![Pick::Target(leader.clone())],
                vec![Pick::Node(NodeId(0))],
                vec![others.clone()],
            ],
        };
        assert_eq!(
            bridge.describe(&names),
            "partition {n1} | {@others} (bridged by {@leader})"
        );
        assert_eq!(bridge.kind(), "partition");
        let link = Fault::Aimed {
            action: Action::SetLink {
                change: LinkChange {
                    loss: Some(Probability::ratio(1, 10)),
                    latency: Some(Latency::Constant(SimDuration::from_millis(50))),
                    duplicate: None,
                },
                symmetric: true,
                duration: Some(SimDuration::from_secs(1)),
            },
            picks: vec![vec![Pick::Target(leader.clone())], vec![others]],
        };
        assert_eq!(
            link.describe(&names),
            "set links {@leader} <-> {@others}: latency constant 50ms loss 10% for 1s"
        );
        assert_eq!(link.kind(), "set_link");
        assert_eq!(link.length(), SimDuration::from_secs(1));
        let set = Fault::Aimed {
            action: Action::Set {
                knob: Arc::from("capacity"),
                value: 2.5,
                duration: Some(SimDuration::from_secs(5)),
            },
            picks: vec![vec![Pick::Target(leader), Pick::Node(NodeId(3))]],
        };
        assert_eq!(
            set.describe(&names),
            "set capacity = 2.5 on {@leader,c1} for 5s"
        );
        assert_eq!(set.kind(), "set");
        assert_eq!(set.length(), SimDuration::from_secs(5));
    }
}
