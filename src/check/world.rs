//! The state of the world as the trace tells it: which nodes are up, since
//! when, which are paused, and which faults are in force.

use crate::engine::{EventKind, TraceEvent};
use crate::fault::Fault;
use crate::history::{History, HistoryEvent, OpType, Value};
use crate::node::NodeId;
use crate::node::OP_RECORD;
use crate::time::SimTime;

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
    nodes: Vec<NodeStatus>,
    /// Faults whose effect lasts, with their start time (partitions, pauses, bursts).
    in_force: Vec<(SimTime, String)>,
    /// Each node's last crash and restart times, if it ever restarted.
    restarts: Vec<Option<(SimTime, SimTime)>>,
    /// Each node's last completed pause (start, end) and last clock jump (time, text).
    pauses: Vec<Option<(SimTime, SimTime)>>,
    jumps: Vec<Option<(SimTime, String)>>,
    /// The clients' history so far, from their `op` records.
    history: History,
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
        World {
            nodes: vec![status; names.len()],
            restarts: vec![None; names.len()],
            pauses: vec![None; names.len()],
            jumps: vec![None; names.len()],
            history: History::default(),
            names,
            in_force: Vec::new(),
        }
    }

    /// Applies one event.
    pub fn observe(&mut self, event: &TraceEvent) {
        if let Some(op) = history_event(event) {
            self.history.events.push(op);
        }
        let t = event.time;
        match (&event.kind, event.node) {
            (EventKind::Start { restart }, Some(n)) => {
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
                    .find(|(_, f)| f.starts_with(&format!("pause {} ", self.names[n.index()])));
                self.pauses[n.index()] = Some((started.map_or(t, |(at, _)| *at), t));
                let s = &mut self.nodes[n.index()];
                s.paused = false;
                s.running_since = t;
                let name = format!("pause {}", self.names[n.index()]);
                self.in_force.retain(|(_, f)| !f.starts_with(&name));
            }
            (EventKind::LossBurstEnd, _) => {
                self.in_force.retain(|(_, f)| !f.starts_with("loss burst"))
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

    fn apply_fault(&mut self, t: SimTime, fault: &Fault) {
        match fault {
            Fault::Crash(n) => {
                self.nodes[n.index()] = NodeStatus {
                    up: false,
                    paused: false,
                    since: t,
                    running_since: t,
                };
                let name = format!("pause {}", self.names[n.index()]);
                self.in_force.retain(|(_, f)| !f.starts_with(&name));
            }
            Fault::Pause { node, .. } => {
                self.nodes[node.index()].paused = true;
                let name = format!("pause {}", self.names[node.index()]);
                if !self.in_force.iter().any(|(_, f)| f.starts_with(&name)) {
                    self.in_force.push((t, fault.describe(&self.names)));
                }
            }
            Fault::Partition(_) | Fault::LossBurst { .. } => {
                self.in_force.push((t, fault.describe(&self.names)))
            }
            Fault::Heal => self.in_force.retain(|(_, f)| !is_network_cut(f)),
            Fault::HealAll => self.in_force.clear(),
            Fault::ClockJump { node, .. } => {
                self.jumps[node.index()] = Some((t, fault.describe(&self.names)));
            }
            Fault::Restart(_) => {}
        }
    }

    /// The clients' history so far (every `op` record, with its true time).
    pub fn history(&self) -> &History {
        &self.history
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

    /// The node with this name.
    pub fn node_named(&self, name: &str) -> Option<NodeId> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| NodeId(i as u32))
    }

    /// "in force: partition {n1,n2} | {n3} since 2.000s; pause n4 for 1s since
    /// 3.100s", then what happened to each node that still matters: down since
    /// when, its last restart ("n1 restarted at 2.700s after a crash at
    /// 2.600s"), its last pause and its last clock jump; or "no faults in force".
    pub fn faults_in_force(&self) -> String {
        let mut parts: Vec<String> = self
            .in_force
            .iter()
            .map(|(t, f)| format!("{f} since {t}"))
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

fn is_network_cut(description: &str) -> bool {
    description.starts_with("partition")
        || description.starts_with("one-way")
        || description.starts_with("isolate")
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
