//! The state of the world as the trace tells it: which nodes are up, since
//! when, which are paused, and which faults are in force.
//!
//! Incremental checkers keep their own state in step with the world's
//! without scanning every node: each status change (a start, crash, pause
//! or resume) bumps [`World::status_changes`], and
//! [`World::last_status_change`] names the one node the last event changed.

use crate::engine::{EventKind, TraceEvent};
use crate::fault::Fault;
use crate::history::{History, HistoryEvent, OpType, Value};
use crate::node::NodeId;
use crate::node::OP_RECORD;
use crate::time::SimTime;
use std::collections::BTreeMap;

/// One node's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// True if the process is running (paused counts as running).
    pub up: bool,
    /// True if the node is frozen by a pause.
    pub paused: bool,
    /// When it last started (or restarted); when it crashed if down.
    pub since: SimTime,
    /// When it last became able to act: start or end of its last pause.
    pub running_since: SimTime,
}

/// Node status and faults in force, updated from trace events.
#[derive(Clone, Debug)]
pub struct World {
    names: Vec<String>,
    /// Each name's node (the first, if a name repeats).
    by_name: BTreeMap<String, NodeId>,
    nodes: Vec<NodeStatus>,
    /// How many times a node's status changed, and the node of the last change.
    status_changes: u64,
    last_status_change: Option<NodeId>,
    /// Faults whose effect lasts, with their start time (partitions, pauses, bursts).
    in_force: Vec<(SimTime, Fault)>,
    /// Each node's last crash and restart times, if it ever restarted.
    restarts: Vec<Option<(SimTime, SimTime)>>,
    /// Each node's last completed pause (start, end) and last clock jump (time, text).
    pauses: Vec<Option<(SimTime, SimTime)>>,
    jumps: Vec<Option<(SimTime, String)>>,
    /// The clients' history so far, from their `op` records.
    history: History,
    /// The client node that recorded each history process.
    process_clients: BTreeMap<u64, NodeId>,
}

impl World {
    /// A world of nodes with these names, none started yet.
    pub fn new(names: Vec<String>) -> World {
        let status = NodeStatus {
            up: false,
            paused: false,
            since: SimTime::ZERO,
            running_since: SimTime::ZERO,
        };
        let mut by_name = BTreeMap::new();
        for (i, name) in names.iter().enumerate() {
            by_name.entry(name.clone()).or_insert(NodeId(i as u32));
        }
        World {
            by_name,
            nodes: vec![status; names.len()],
            status_changes: 0,
            last_status_change: None,
            restarts: vec![None; names.len()],
            pauses: vec![None; names.len()],
            jumps: vec![None; names.len()],
            history: History::default(),
            process_clients: BTreeMap::new(),
            names,
            in_force: Vec::new(),
        }
    }

    /// Applies one event.
    pub fn observe(&mut self, event: &TraceEvent) {
        if let Some(op) = history_event(event) {
            if let Some(client) = event.node {
                self.process_clients.entry(op.process).or_insert(client);
            }
            self.history.events.push(op);
        }
        self.last_status_change = None;
        let t = event.time;
        match (&event.kind, event.node) {
            (EventKind::Start { restart }, Some(n)) => {
                self.status_changed(n);
                if *restart {
                    self.restarts[n.index()] = Some((self.nodes[n.index()].since, t));
                }
                self.nodes[n.index()] = NodeStatus {
                    up: true,
                    paused: false,
                    since: t,
                    running_since: t,
                };
            }
            (EventKind::Resume, Some(n)) => {
                let started = self
                    .in_force
                    .iter()
                    .find(|(_, f)| is_pause_of(f, n))
                    .map_or(t, |(at, _)| *at);
                self.pauses[n.index()] = Some((started, t));
                self.status_changed(n);
                let s = &mut self.nodes[n.index()];
                s.paused = false;
                s.running_since = t;
                self.in_force.retain(|(_, f)| !is_pause_of(f, n));
            }
            (EventKind::LossBurstEnd, _) => self
                .in_force
                .retain(|(_, f)| !matches!(f, Fault::LossBurst { .. })),
            (EventKind::LinksRestored { fault }, _) => {
                if let Some(i) = self.in_force.iter().position(|(_, f)| f == fault) {
                    self.in_force.remove(i);
                }
            }
            (
                EventKind::Fault {
                    fault,
                    applied: true,
                },
                _,
            ) => self.apply_fault(t, fault),
            _ => {}
        }
    }

    /// Notes that `node`'s status changes with the event being observed.
    fn status_changed(&mut self, node: NodeId) {
        debug_assert!(
            self.last_status_change.is_none_or(|n| n == node),
            "one event changed two nodes' status: {:?} and {node:?}",
            self.last_status_change
        );
        self.status_changes += 1;
        self.last_status_change = Some(node);
    }

    fn apply_fault(&mut self, t: SimTime, fault: &Fault) {
        match fault {
            Fault::Crash(n) => {
                self.status_changed(*n);
                self.nodes[n.index()] = NodeStatus {
                    up: false,
                    paused: false,
                    since: t,
                    running_since: t,
                };
                self.in_force.retain(|(_, f)| !is_pause_of(f, *n));
            }
            Fault::Pause { node, .. } => {
                self.status_changed(*node);
                self.nodes[node.index()].paused = true;
                if !self.in_force.iter().any(|(_, f)| is_pause_of(f, *node)) {
                    self.in_force.push((t, fault.clone()));
                }
            }
            Fault::Partition(_) | Fault::LossBurst { .. } | Fault::SetLink { .. } => {
                self.in_force.push((t, fault.clone()))
            }
            Fault::Heal => self
                .in_force
                .retain(|(_, f)| !matches!(f, Fault::Partition(_))),
            Fault::HealAll => self.in_force.clear(),
            Fault::Reconnect(n) => self
                .in_force
                .retain(|(_, f)| *f != Fault::Partition(crate::net::Cut::Isolate(*n))),
            Fault::ClockJump { node, .. } => {
                self.jumps[node.index()] = Some((t, fault.describe(&self.names)));
            }
            // An aimed fault is traced as itself only when it was skipped
            // (as `EventKind::Skipped`).
            // A knob turn changes no node's status or link (its per-node
            // turns are traced as `EventKind::Knob`).
            Fault::Restart(_) | Fault::Aimed { .. } | Fault::Set { .. } => {}
        }
    }

    /// The clients' history so far (every `op` record, with its true time).
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The name of the client node whose `op` records carry `process`.
    pub fn client_of(&self, process: u64) -> Option<&str> {
        self.process_clients
            .get(&process)
            .map(|n| self.names[n.index()].as_str())
    }

    /// Takes the history out (at the end of a run).
    pub fn take_history(&mut self) -> History {
        std::mem::take(&mut self.history)
    }

    /// A node's status.
    pub fn status(&self, node: NodeId) -> NodeStatus {
        self.nodes[node.index()]
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True if there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// A node's name.
    pub fn name(&self, node: NodeId) -> &str {
        &self.names[node.index()]
    }

    /// The node with this name (O(log n)).
    pub fn node_named(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).copied()
    }

    /// How many node status changes (start, crash, pause, resume) the world
    /// has seen. A checker that remembers this number knows whether it must
    /// look at [`World::last_status_change`] (one more) or at every node.
    pub fn status_changes(&self) -> u64 {
        self.status_changes
    }

    /// The node whose status the last observed event changed, if any.
    pub fn last_status_change(&self) -> Option<NodeId> {
        self.last_status_change
    }

    /// "in force: partition {n1,n2} | {n3} since 2.000s; pause n4 for 1s since
    /// 3.100s", then what happened to each node that still matters: down since
    /// when, its last restart ("n1 restarted at 2.700s after a crash at
    /// 2.600s"), its last pause and its last clock jump; or "no faults in force".
    pub fn faults_in_force(&self) -> String {
        let mut parts: Vec<String> = self
            .in_force
            .iter()
            .map(|(t, f)| format!("{} since {t}", f.describe(&self.names)))
            .collect();
        for (i, status) in self.nodes.iter().enumerate() {
            if !status.up {
                parts.push(format!("{} down since {}", self.names[i], status.since));
            } else if let Some((crashed, restarted)) = self.restarts[i] {
                parts.push(format!(
                    "{} restarted at {restarted} after a crash at {crashed}",
                    self.names[i]
                ));
            }
            if let (true, Some((from, to))) = (status.up && !status.paused, self.pauses[i]) {
                parts.push(format!(
                    "{} resumed at {to} after a pause from {from}",
                    self.names[i]
                ));
            }
            if let Some((at, text)) = &self.jumps[i] {
                parts.push(format!("{text} at {at}"));
            }
        }
        if parts.is_empty() {
            return "no faults in force".to_string();
        }
        format!("in force: {}", parts.join("; "))
    }
}

/// True if `fault` is a pause of `node` (a pause is in force until the node resumes or crashes).
fn is_pause_of(fault: &Fault, node: NodeId) -> bool {
    matches!(fault, Fault::Pause { node: paused, .. } if *paused == node)
}

/// The history line an `op` record stands for, with the event's true time.
pub fn history_event(event: &TraceEvent) -> Option<HistoryEvent> {
    let EventKind::Record(record) = &event.kind else {
        return None;
    };
    if record.kind != OP_RECORD {
        return None;
    }
    let detail = record.detail.as_object()?;
    let kind = match detail.get("type")?.as_str()? {
        "invoke" => OpType::Invoke,
        "ok" => OpType::Ok,
        "fail" => OpType::Fail,
        "info" => OpType::Info,
        _ => return None,
    };
    Some(HistoryEvent {
        process: detail.get("process")?.as_u64()?,
        kind,
        f: detail.get("f")?.as_str()?.to_string(),
        key: detail
            .get("key")
            .and_then(|k| k.as_str())
            .map(str::to_string),
        value: detail
            .get("value")
            .map_or(Some(Value::Nil), history_value)?,
        time: event.time.as_nanos(),
        server: detail
            .get("server")
            .and_then(|s| s.as_str())
            .map(str::to_string),
    })
}

/// A JSON value as a history value (null, integer, string, or list of those).
fn history_value(json: &serde_json::Value) -> Option<Value> {
    match json {
        serde_json::Value::Null => Some(Value::Nil),
        serde_json::Value::Number(n) => n.as_i64().map(Value::Int),
        serde_json::Value::String(s) => Some(Value::Str(s.clone())),
        serde_json::Value::Array(items) => items
            .iter()
            .map(history_value)
            .collect::<Option<Vec<_>>>()
            .map(Value::List),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimDuration;

    fn at(ms: u64, node: Option<u32>, kind: EventKind) -> TraceEvent {
        TraceEvent {
            time: SimTime(ms * 1_000_000),
            node: node.map(NodeId),
            kind,
        }
    }

    fn pause(ms: u64, node: u32) -> TraceEvent {
        let fault = Fault::Pause {
            node: NodeId(node),
            duration: SimDuration::from_secs(1),
        };
        at(
            ms,
            Some(node),
            EventKind::Fault {
                fault,
                applied: true,
            },
        )
    }

    #[test]
    fn a_resume_ends_only_that_nodes_pause_even_with_ten_or_more_nodes() {
        let mut world = World::new((1..=12).map(|i| format!("n{i}")).collect());
        for n in 0..12 {
            world.observe(&at(0, Some(n), EventKind::Start { restart: false }));
        }
        world.observe(&pause(100, 0)); // n1
        world.observe(&pause(200, 9)); // n10
        world.observe(&at(300, Some(0), EventKind::Resume));
        let text = world.faults_in_force();
        assert!(text.contains("pause n10 for 1s since 0.200s"), "{text}");
        assert!(
            text.contains("n1 resumed at 0.300s after a pause from 0.100s"),
            "{text}"
        );
        assert!(!world.status(NodeId(0)).paused && world.status(NodeId(9)).paused);
    }

    #[test]
    fn heal_ends_partitions_but_not_pauses_or_loss_bursts() {
        let mut world = World::new((1..=3).map(|i| format!("n{i}")).collect());
        let cut = Fault::Partition(crate::net::Cut::Isolate(NodeId(2)));
        let burst = Fault::LossBurst {
            probability: crate::rng::Probability::ONE,
            duration: SimDuration::from_secs(1),
        };
        world.observe(&at(
            10,
            None,
            EventKind::Fault {
                fault: cut,
                applied: true,
            },
        ));
        world.observe(&at(
            20,
            None,
            EventKind::Fault {
                fault: burst,
                applied: true,
            },
        ));
        world.observe(&pause(30, 1));
        world.observe(&at(
            40,
            None,
            EventKind::Fault {
                fault: Fault::Heal,
                applied: true,
            },
        ));
        let text = world.faults_in_force();
        assert!(!text.contains("isolate"), "{text}");
        assert!(
            text.contains("loss burst") && text.contains("pause n2"),
            "{text}"
        );
    }

    #[test]
    fn a_link_change_is_in_force_until_its_links_are_restored() {
        let mut world = World::new((1..=3).map(|i| format!("n{i}")).collect());
        let link = Fault::SetLink {
            from: vec![NodeId(0)],
            to: vec![NodeId(1)],
            change: crate::net::LinkChange {
                loss: Some(crate::rng::Probability::ONE),
                ..Default::default()
            },
            symmetric: false,
            duration: Some(SimDuration::from_secs(1)),
        };
        world.observe(&at(
            10,
            None,
            EventKind::Fault {
                fault: link.clone(),
                applied: true,
            },
        ));
        world.observe(&at(
            20,
            None,
            EventKind::Fault {
                fault: Fault::Heal,
                applied: true,
            },
        ));
        let text = world.faults_in_force();
        assert!(
            text.contains("set links {n1} -> {n2}: loss 100% for 1s since"),
            "{text}"
        );
        world.observe(&at(1010, None, EventKind::LinksRestored { fault: link }));
        assert!(!world.faults_in_force().contains("set links"));
    }
}
