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
use crate::node::{Field, OP_RECORD};
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How far back a violation's "around it" section looks by default.
pub const AROUND_WINDOW: SimDuration = SimDuration::from_secs(2);

/// The most recent faults and role changes [`World`] keeps for
/// [`World::around`] (the oldest go first).
pub const MAX_RECENT: usize = 2_000;

/// Records that change a node's role, shown in [`World::around`].
const ROLE_CHANGES: &[&str] = &["leader", "stepped_down", "promoted"];

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
    /// The last [`MAX_RECENT`] faults, fault ends and role changes, oldest
    /// first, as one line each (for [`World::around`]).
    recent: VecDeque<(SimTime, String)>,
    /// Each node's last role-change line (a role kept is not repeated).
    last_role: Vec<String>,
    /// [`World::faults_in_force`] after each change, with its time, oldest
    /// first (the last [`MAX_RECENT`]).
    in_force_since: VecDeque<(SimTime, String)>,
    /// The clients' history so far, from their `op` records.
    history: History,
    /// The client node that recorded each history process.
    process_clients: BTreeMap<u64, NodeId>,
    /// The nodes marked Byzantine now (see [`crate::fault::byzantine`]).
    byzantine: BTreeSet<NodeId>,
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
            recent: VecDeque::new(),
            last_role: vec![String::new(); names.len()],
            in_force_since: VecDeque::new(),
            history: History::default(),
            process_clients: BTreeMap::new(),
            names,
            in_force: Vec::new(),
            byzantine: BTreeSet::new(),
        }
    }

    /// True if `node` is marked Byzantine now: its messages go through an
    /// adversary, so checks of agreement among correct nodes skip its
    /// records.
    pub fn is_byzantine(&self, node: NodeId) -> bool {
        self.byzantine.contains(&node)
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
            (EventKind::Record(record), Some(n))
                if ROLE_CHANGES.contains(&record.kind.as_str()) =>
            {
                let what = match record.kind.as_str() {
                    "leader" => "becomes leader",
                    "stepped_down" => "steps down",
                    _ => "is promoted",
                };
                let mut line = format!("{} {what}", self.names[n.index()]);
                if let Some(term) = record.detail.get("term").and_then(|t| t.as_u64()) {
                    line.push_str(&format!(" (term {term})"));
                } else if let Some(epoch) = record.detail.get("epoch").and_then(|t| t.as_u64()) {
                    line.push_str(&format!(" (epoch {epoch})"));
                }
                if self.last_role[n.index()] != line {
                    self.last_role[n.index()].clone_from(&line);
                    self.remember(t, line);
                }
            }
            (EventKind::Start { .. }, Some(n)) => {
                self.status_changed(n);
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
                let line = format!("{} resumes (paused since {started})", self.names[n.index()]);
                self.remember(t, line);
                self.status_changed(n);
                let s = &mut self.nodes[n.index()];
                s.paused = false;
                s.running_since = t;
                self.in_force.retain(|(_, f)| !is_pause_of(f, n));
            }
            (EventKind::LossBurstEnd, _) => {
                self.remember(t, "the loss burst ends".to_string());
                self.in_force
                    .retain(|(_, f)| !matches!(f, Fault::LossBurst { .. }))
            }
            (EventKind::LinksRestored { fault }, _) => {
                let line = format!("links restored after: {}", fault.describe(&self.names));
                self.remember(t, line);
                if let Some(i) = self.in_force.iter().position(|(_, f)| f == fault) {
                    self.in_force.remove(i);
                }
            }
            (EventKind::Honest, Some(n)) => {
                self.remember(t, format!("{} is honest again", self.names[n.index()]));
                self.byzantine.remove(&n);
                self.in_force.retain(|(_, f)| !is_byzantine_fault_of(f, n));
            }
            (
                EventKind::Fault {
                    fault,
                    applied: true,
                },
                _,
            ) => self.apply_fault(t, fault),
            _ => return,
        }
        // A fault, a fault's end or a status change: note what is in force
        // from now on, so that `around` tells it for an earlier time too.
        let now = self.faults_in_force();
        if self
            .in_force_since
            .back()
            .is_none_or(|(_, last)| *last != now)
        {
            if self.in_force_since.len() == MAX_RECENT {
                self.in_force_since.pop_front();
            }
            self.in_force_since.push_back((t, now));
        }
    }

    /// What was in force at `at`, as [`World::faults_in_force`] said then
    /// (or now, if that is older than the snapshots kept).
    fn in_force_at(&self, at: SimTime) -> String {
        let after = self.in_force_since.partition_point(|(t, _)| *t <= at);
        match after.checked_sub(1) {
            Some(i) => self.in_force_since[i].1.clone(),
            None if self.in_force_since.len() < MAX_RECENT => "no faults in force".to_string(),
            None => self.faults_in_force(),
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

    /// Keeps one line for [`World::around`], dropping the oldest past
    /// [`MAX_RECENT`].
    fn remember(&mut self, t: SimTime, line: String) {
        if self.recent.len() == MAX_RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((t, line));
    }

    fn apply_fault(&mut self, t: SimTime, fault: &Fault) {
        self.remember(t, fault.describe(&self.names));
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
            // A Byzantine node stays Byzantine (see `crate::fault::byzantine`).
            Fault::HealAll => self
                .in_force
                .retain(|(_, f)| matches!(f, Fault::Byzantine { .. })),
            Fault::Byzantine { node, .. } => {
                self.byzantine.insert(*node);
                self.in_force
                    .retain(|(_, f)| !is_byzantine_fault_of(f, *node));
                self.in_force.push((t, fault.clone()));
            }
            Fault::Reconnect(n) => self
                .in_force
                .retain(|(_, f)| *f != Fault::Partition(crate::net::Cut::Isolate(*n))),
            // A clock jump is an instant: it is in `recent`, never in force.
            Fault::ClockJump { .. } => {}
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

    /// "in force: partition {n1,n2} | {n3} since 2.000s; pause n4 for 1s
    /// since 3.100s; n1 down since 2.600s": only what is in force now
    /// (faults that ended, restarts and clock jumps are in
    /// [`World::around`]'s window); or "no faults in force".
    pub fn faults_in_force(&self) -> String {
        let mut parts: Vec<String> = self
            .in_force
            .iter()
            .map(|(t, f)| format!("{} since {t}", f.describe(&self.names)))
            .collect();
        for (i, status) in self.nodes.iter().enumerate() {
            if !status.up && status.since > SimTime::ZERO {
                parts.push(format!("{} down since {}", self.names[i], status.since));
            }
        }
        if parts.is_empty() {
            return "no faults in force".to_string();
        }
        format!("in force: {}", parts.join("; "))
    }

    /// What happened around `at`, for a violation's report: the faults in
    /// force then, and the faults, fault ends and role changes of the
    /// `window` before it, oldest first, each with its time.
    pub fn around(&self, at: SimTime, window: SimDuration) -> Vec<String> {
        let from = SimTime(at.as_nanos().saturating_sub(window.as_nanos()));
        let mut lines = vec![format!("{} at {at}", self.in_force_at(at))];
        let seen: Vec<&(SimTime, String)> = self
            .recent
            .iter()
            .filter(|(t, _)| *t >= from && *t <= at)
            .collect();
        if seen.is_empty() {
            lines.push(format!("no fault or role change from {from} to {at}"));
        } else {
            lines.push(format!("from {from} to {at}, oldest first:"));
            lines.extend(seen.iter().map(|(t, line)| format!("  {t} {line}")));
        }
        lines
    }
}

/// True if `fault` is a pause of `node` (a pause is in force until the node resumes or crashes).
fn is_pause_of(fault: &Fault, node: NodeId) -> bool {
    matches!(fault, Fault::Pause { node: paused, .. } if *paused == node)
}

/// True if `fault` marks `node` Byzantine.
fn is_byzantine_fault_of(fault: &Fault, node: NodeId) -> bool {
    matches!(fault, Fault::Byzantine { node: marked, .. } if *marked == node)
}

/// The history line an `op` record stands for, with the event's true time.
pub fn history_event(event: &TraceEvent) -> Option<HistoryEvent> {
    let EventKind::Record(record) = &event.kind else {
        return None;
    };
    if record.kind != OP_RECORD {
        return None;
    }
    // Typed fields are read as they are; a JSON detail through its value.
    let detail = &record.detail;
    let kind = match detail.str("type")? {
        "invoke" => OpType::Invoke,
        "ok" => OpType::Ok,
        "fail" => OpType::Fail,
        "info" => OpType::Info,
        _ => return None,
    };
    let value = match detail.is_typed() {
        true => detail
            .typed("value")
            .map_or(Some(Value::Nil), history_field)?,
        false => detail
            .get("value")
            .map_or(Some(Value::Nil), history_value)?,
    };
    Some(HistoryEvent {
        process: detail.u64("process")?,
        kind,
        f: detail.str("f")?.to_string(),
        key: detail.str("key").map(str::to_string),
        value,
        time: event.time.as_nanos(),
        server: detail.str("server").map(str::to_string),
    })
}

/// A typed field as a history value, as [`history_value`] reads its JSON.
fn history_field(field: &Field) -> Option<Value> {
    match field {
        Field::Null => Some(Value::Nil),
        Field::I64(i) => Some(Value::Int(*i)),
        Field::U64(u) => i64::try_from(*u).ok().map(Value::Int),
        Field::Str(s) => Some(Value::Str((*s).to_string())),
        Field::String(s) => Some(Value::Str(s.to_string())),
        Field::Json(json) => history_value(json),
        other => history_value(&other.to_json()),
    }
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
            !text.contains("pause n1 "),
            "an ended pause is not in force: {text}"
        );
        let around = world.around(SimTime(300_000_000), SimDuration::from_secs(2));
        assert!(
            around.contains(&"  0.300s n1 resumes (paused since 0.100s)".to_string()),
            "{around:?}"
        );
        assert!(!world.status(NodeId(0)).paused && world.status(NodeId(9)).paused);
    }

    #[test]
    fn around_lists_what_is_in_force_then_the_window_oldest_first() {
        let mut world = World::new((1..=3).map(|i| format!("n{i}")).collect());
        for n in 0..3 {
            world.observe(&at(0, Some(n), EventKind::Start { restart: false }));
        }
        let fault = |ms, fault| {
            at(
                ms,
                None,
                EventKind::Fault {
                    fault,
                    applied: true,
                },
            )
        };
        world.observe(&fault(100, Fault::Crash(NodeId(0))));
        world.observe(&fault(200, Fault::Restart(NodeId(0))));
        world.observe(&at(200, Some(0), EventKind::Start { restart: true }));
        let leader = |term| {
            EventKind::Record(crate::node::Record {
                kind: "leader".into(),
                detail: serde_json::json!({ "term": term }).into(),
            })
        };
        world.observe(&at(2_500, Some(1), leader(2)));
        world.observe(&at(2_600, Some(1), leader(2))); // the same role: not repeated
        world.observe(&fault(3_000, Fault::Crash(NodeId(2))));
        let jump = Fault::ClockJump {
            node: NodeId(1),
            by_ns: 5_000_000,
        };
        world.observe(&fault(3_100, jump));
        // The crash and restart of n1 ended before the window: not listed,
        // and not "in force" either.
        let around = world.around(SimTime(3_200_000_000), SimDuration::from_secs(2));
        assert_eq!(
            around,
            vec![
                "in force: n3 down since 3.000s at 3.200s".to_string(),
                "from 1.200s to 3.200s, oldest first:".to_string(),
                "  2.500s n2 becomes leader (term 2)".to_string(),
                "  3.000s crash n3".to_string(),
                "  3.100s clock of n2 jumps +5ms".to_string(),
            ]
        );
        // Asked later (as an end-of-run check does), it tells what was in
        // force then, not now.
        world.observe(&fault(4_000, Fault::Restart(NodeId(2))));
        world.observe(&at(4_000, Some(2), EventKind::Start { restart: true }));
        let later = world.around(SimTime(3_200_000_000), SimDuration::from_secs(2));
        assert_eq!(later, around);
        assert_eq!(world.faults_in_force(), "no faults in force");
        let wide = world.around(SimTime(3_200_000_000), SimDuration::from_secs(10));
        assert_eq!(wide[2], "  0.100s crash n1");
        assert_eq!(wide[3], "  0.200s restart n1");
        let quiet = world.around(SimTime(9_000_000_000), SimDuration::from_secs(1));
        assert_eq!(quiet[1], "no fault or role change from 8.000s to 9.000s");
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
