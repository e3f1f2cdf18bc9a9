//! `paxos_agreement`, `paxos_validity` and `paxos_liveness`: single-decree
//! Paxos's own checks, judged from the records.
//!
//! From the records: proposers' `propose {value}`, acceptors' `accepted
//! {round, by, value}`, learners' `learned {round, by, value}`. A value is
//! *chosen* when a majority of the acceptors (every server is one) have
//! accepted the same proposal number; agreement fails the moment a second
//! value is chosen or a learner learns a value other than the chosen one.

use crate::check::{CheckInfo, Checker, Interest, LivenessBound, Severity, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::node::NodeId;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// The `paxos_agreement` check as the registry lists it.
pub const PAXOS_AGREEMENT: CheckInfo = CheckInfo {
    name: "paxos_agreement",
    about: "at most one value is chosen (accepted by a majority of acceptors under one proposal number), and every learner learns that value (paxos model)",
    severity: Severity::Safety,
    violation: "two_values_chosen",
};

/// The `paxos_validity` check as the registry lists it.
pub const PAXOS_VALIDITY: CheckInfo = CheckInfo {
    name: "paxos_validity",
    about: "every accepted or learned value is one a proposer proposed (paxos model)",
    severity: Severity::Safety,
    violation: "unproposed_value",
};

/// The `paxos_liveness` check as the registry lists it.
pub const PAXOS_LIVENESS: CheckInfo = CheckInfo {
    name: "paxos_liveness",
    about: "every server up at the end has learned a value within the liveness bound after the last fault (paxos model)",
    severity: Severity::Liveness,
    violation: "nothing_learned",
};

/// A proposal number as the records write it.
type Number = (u64, u64);

/// (round, by, value) of a record, if it has them.
fn proposal(detail: &serde_json::Value) -> Option<(Number, String)> {
    let round = detail.get("round")?.as_u64()?;
    let by = detail.get("by")?.as_u64()?;
    let value = detail.get("value")?.as_str()?.to_string();
    Some(((round, by), value))
}

/// The record and its node, if the event is one.
fn record_of(event: &TraceEvent) -> Option<(&crate::node::Record, NodeId)> {
    match (&event.kind, event.node) {
        (EventKind::Record(record), Some(node)) => Some((record, node)),
        _ => None,
    }
}

/// The `paxos_agreement` checker.
#[derive(Debug)]
pub struct Agreement {
    majority: usize,
    /// Acceptors that accepted each proposal, and its value.
    accepts: BTreeMap<Number, (String, BTreeSet<NodeId>)>,
    /// The first chosen value: (value, number, when).
    chosen: Option<(String, Number, SimTime)>,
    /// Values learned, by learner.
    learned: BTreeMap<String, String>,
    reported: bool,
}

impl Agreement {
    /// A checker for `acceptors` acceptors.
    pub fn new(acceptors: usize) -> Agreement {
        Agreement {
            majority: acceptors / 2 + 1,
            accepts: BTreeMap::new(),
            chosen: None,
            learned: BTreeMap::new(),
            reported: false,
        }
    }

    fn violation(time: SimTime, nodes: Vec<String>, explanation: String) -> Violation {
        Violation {
            name: PAXOS_AGREEMENT.violation.into(),
            check: PAXOS_AGREEMENT.name.into(),
            severity: Severity::Safety,
            time,
            nodes,
            explanation,
        }
    }

    fn on_accepted(
        &mut self,
        node: NodeId,
        number: Number,
        value: String,
        time: SimTime,
        world: &World,
    ) -> Option<Violation> {
        let entry = self
            .accepts
            .entry(number)
            .or_insert_with(|| (value.clone(), BTreeSet::new()));
        debug_assert_eq!(entry.0, value, "two values under one number {number:?}");
        if !entry.1.insert(node) || entry.1.len() != self.majority {
            return None;
        }
        let who: Vec<String> = entry.1.iter().map(|n| world.name(*n).to_string()).collect();
        match &self.chosen {
            None => {
                self.chosen = Some((value, number, time));
                None
            }
            Some((first, at, when)) if *first != value => Some(Self::violation(
                time,
                who.clone(),
                format!(
                    "'{value}' is chosen at {time}: accepted under proposal ({}, n{}) by a majority ({}), but '{first}' was chosen at {when} under proposal ({}, n{})",
                    number.0,
                    number.1 + 1,
                    who.join(", "),
                    at.0,
                    at.1 + 1
                ),
            )),
            Some(_) => None,
        }
    }

    fn on_learned(&mut self, name: String, value: String, time: SimTime) -> Option<Violation> {
        let other = self
            .learned
            .iter()
            .find(|(_, v)| **v != value)
            .map(|(n, v)| (n.clone(), v.clone()));
        self.learned.insert(name.clone(), value.clone());
        if let Some((node, theirs)) = other {
            return Some(Self::violation(
                time,
                vec![name.clone(), node.clone()],
                format!("{name} learned '{value}' at {time}, but {node} learned '{theirs}'"),
            ));
        }
        match &self.chosen {
            Some((chosen, _, when)) if *chosen != value => Some(Self::violation(
                time,
                vec![name.clone()],
                format!("{name} learned '{value}' at {time}, but '{chosen}' was chosen at {when}"),
            )),
            _ => None,
        }
    }
}

impl Checker for Agreement {
    fn name(&self) -> &'static str {
        PAXOS_AGREEMENT.name
    }

    /// Reads records only.
    fn interest(&self) -> Interest {
        Interest::Records
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (record, node) = record_of(event)?;
        let found = match record.kind.as_str() {
            "accepted" => {
                let (number, value) = proposal(&record.detail)?;
                self.on_accepted(node, number, value, event.time, world)
            }
            "learned" => {
                let (_, value) = proposal(&record.detail)?;
                self.on_learned(world.name(node).to_string(), value, event.time)
            }
            _ => None,
        };
        // One violation per run: the first.
        found.filter(|_| !std::mem::replace(&mut self.reported, true))
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }

    fn note(&self) -> Option<String> {
        Some(match &self.chosen {
            Some((value, number, when)) => format!(
                "'{value}' chosen at {when} under proposal ({}, n{}); {} learners learned a value",
                number.0,
                number.1 + 1,
                self.learned.len()
            ),
            None => format!(
                "no value chosen; {} learners learned a value",
                self.learned.len()
            ),
        })
    }

    fn metrics(&self) -> Vec<(String, f64)> {
        vec![
            (
                "paxos.chosen".into(),
                f64::from(u8::from(self.chosen.is_some())),
            ),
            (
                "paxos.chosen_at_s".into(),
                self.chosen
                    .as_ref()
                    .map_or(-1.0, |(_, _, t)| t.as_secs_f64()),
            ),
            ("paxos.proposals".into(), self.accepts.len() as f64),
        ]
    }
}

/// The `paxos_validity` checker.
#[derive(Debug, Default)]
pub struct Validity {
    proposed: BTreeSet<String>,
    reported: bool,
}

impl Checker for Validity {
    fn name(&self) -> &'static str {
        PAXOS_VALIDITY.name
    }

    /// Reads records only.
    fn interest(&self) -> Interest {
        Interest::Records
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (record, node) = record_of(event)?;
        let value = record.detail.get("value").and_then(|v| v.as_str())?;
        match record.kind.as_str() {
            "propose" => {
                self.proposed.insert(value.to_string());
                None
            }
            "accepted" | "learned" if !self.proposed.contains(value) && !self.reported => {
                self.reported = true;
                let name = world.name(node).to_string();
                Some(Violation {
                    name: PAXOS_VALIDITY.violation.into(),
                    check: PAXOS_VALIDITY.name.into(),
                    severity: Severity::Safety,
                    time: event.time,
                    nodes: vec![name.clone()],
                    explanation: format!(
                        "{name} {} '{value}' at {}, which no proposer proposed (proposed: {:?})",
                        record.kind, event.time, self.proposed
                    ),
                })
            }
            _ => None,
        }
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

/// The `paxos_liveness` checker.
#[derive(Debug)]
pub struct Liveness {
    bound: LivenessBound,
    servers: usize,
    /// When each server first learned.
    learned: BTreeMap<NodeId, SimTime>,
}

impl Liveness {
    /// A checker for `servers` learners with the liveness `bound`.
    pub fn new(bound: LivenessBound, servers: usize) -> Liveness {
        Liveness {
            bound,
            servers,
            learned: BTreeMap::new(),
        }
    }
}

impl Checker for Liveness {
    fn name(&self) -> &'static str {
        PAXOS_LIVENESS.name
    }

    fn on_event(&mut self, event: &TraceEvent, _world: &World) -> Option<Violation> {
        let (record, node) = record_of(event)?;
        if record.kind == "learned" {
            self.learned.entry(node).or_insert(event.time);
        }
        None
    }

    fn finish(&mut self, end: SimTime, world: &World) -> Option<Violation> {
        let deadline = self.bound.after.saturating_add(self.bound.within);
        if end < deadline {
            return None;
        }
        let late = (0..self.servers as u32).map(NodeId).find(|node| {
            world.status(*node).up && self.learned.get(node).is_none_or(|t| *t > deadline)
        })?;
        let name = world.name(late).to_string();
        Some(Violation {
            name: PAXOS_LIVENESS.violation.into(),
            check: PAXOS_LIVENESS.name.into(),
            severity: Severity::Liveness,
            time: end,
            nodes: vec![name.clone()],
            explanation: match self.learned.get(&late) {
                Some(t) => format!(
                    "{name} learned a value only at {t}, later than {} after {} (the last fault)",
                    self.bound.within, self.bound.after
                ),
                None => format!(
                    "{name} had learned no value at the end ({end}), {} after {} (the last fault): the proposers never got a proposal accepted by a majority",
                    end.saturating_since(self.bound.after),
                    self.bound.after
                ),
            },
        })
    }

    fn note(&self) -> Option<String> {
        Some(format!(
            "{} of {} servers learned a value",
            self.learned.len(),
            self.servers
        ))
    }

    fn metrics(&self) -> Vec<(String, f64)> {
        let last = self
            .learned
            .values()
            .max()
            .map_or(-1.0, |t| t.as_secs_f64());
        vec![
            ("paxos.learned".into(), self.learned.len() as f64),
            (
                "paxos.all_learned_at_s".into(),
                if self.learned.len() == self.servers {
                    last
                } else {
                    -1.0
                },
            ),
        ]
    }
}
