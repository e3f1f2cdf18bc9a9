//! `pbft_agreement` and `pbft_validity`: PBFT's own safety checks, over the
//! correct replicas only (records of nodes the world marks Byzantine are
//! skipped: a Byzantine replica may "execute" anything).
//!
//! From the records: a replica's `execute {seq, digest, client, cseq}` (or
//! `execute {seq, digest, null}`), and a client's `request {client, cseq,
//! digest}` when it sends a request. `pbft_agreement` fails the moment two
//! correct replicas execute different digests at the same sequence number;
//! `pbft_validity` fails the moment a correct replica executes a request no
//! client sent.

use crate::check::{CheckInfo, Checker, Severity, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::node::NodeId;
use crate::time::SimTime;
use std::collections::{BTreeMap, BTreeSet};

/// The `pbft_agreement` check as the registry lists it.
pub const AGREEMENT: CheckInfo = CheckInfo {
    name: "pbft_agreement",
    about: "no two correct replicas execute different requests at the same sequence number (pbft model)",
    severity: Severity::Safety,
    violation: "pbft_disagreement",
};

/// The `pbft_validity` check as the registry lists it.
pub const VALIDITY: CheckInfo = CheckInfo {
    name: "pbft_validity",
    about: "correct replicas execute only requests a client sent, or null requests (pbft model)",
    severity: Severity::Safety,
    violation: "pbft_invalid_request",
};

fn executed(event: &TraceEvent, world: &World) -> Option<(NodeId, u64, String, serde_json::Value)> {
    let (EventKind::Record(record), Some(node)) = (&event.kind, event.node) else {
        return None;
    };
    if record.kind != "execute" || world.is_byzantine(node) {
        return None;
    }
    let seq = record.detail.get("seq")?.as_u64()?;
    let digest = record.detail.get("digest")?.as_str()?.to_string();
    Some((node, seq, digest, record.detail.to_json()))
}

/// The `pbft_agreement` checker: what each sequence number executed as.
#[derive(Debug, Default)]
pub struct Agreement {
    /// seq -> (digest, first correct replica, when).
    seen: BTreeMap<u64, (String, NodeId, SimTime)>,
    executions: u64,
    highest_view: u64,
    reported: bool,
}

impl Checker for Agreement {
    fn name(&self) -> &'static str {
        AGREEMENT.name
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        if let (EventKind::Record(record), Some(node)) = (&event.kind, event.node) {
            if record.kind == "new_view" && !world.is_byzantine(node) {
                let view = record.detail.get("view").and_then(|v| v.as_u64());
                self.highest_view = self.highest_view.max(view.unwrap_or(0));
            }
        }
        let (node, seq, digest, _) = executed(event, world)?;
        self.executions += 1;
        let (first, by, at) = self
            .seen
            .entry(seq)
            .or_insert_with(|| (digest.clone(), node, event.time))
            .clone();
        if first == digest || std::mem::replace(&mut self.reported, true) {
            return None;
        }
        let (a, b) = (world.name(by).to_string(), world.name(node).to_string());
        Some(Violation {
            name: AGREEMENT.violation.into(),
            check: AGREEMENT.name.into(),
            severity: Severity::Safety,
            time: event.time,
            nodes: vec![a.clone(), b.clone()],
            explanation: format!(
                "{b} executed digest {digest} at sequence number {seq} at {}, but {a} had executed digest {first} there at {at}",
                event.time
            ),
        })
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }

    fn note(&self) -> Option<String> {
        Some(format!(
            "{} sequence numbers executed ({} executions by correct replicas), agreed; highest view {}",
            self.seen.len(),
            self.executions,
            self.highest_view
        ))
    }

    fn metrics(&self) -> Vec<(String, f64)> {
        vec![
            (
                "pbft_agreement.sequence_numbers".into(),
                self.seen.len() as f64,
            ),
            (
                "pbft_agreement.highest_view".into(),
                self.highest_view as f64,
            ),
        ]
    }
}

/// The `pbft_validity` checker: the requests clients sent.
#[derive(Debug, Default)]
pub struct Validity {
    sent: BTreeSet<(u64, u64, String)>,
    reported: bool,
}

impl Checker for Validity {
    fn name(&self) -> &'static str {
        VALIDITY.name
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        if let (EventKind::Record(record), Some(_)) = (&event.kind, event.node) {
            if record.kind == "request" {
                let d = &record.detail;
                if let (Some(c), Some(s), Some(g)) = (
                    d.get("client").and_then(|v| v.as_u64()),
                    d.get("cseq").and_then(|v| v.as_u64()),
                    d.get("digest").and_then(|v| v.as_str()),
                ) {
                    self.sent.insert((c, s, g.to_string()));
                }
                return None;
            }
        }
        let (node, seq, digest, detail) = executed(event, world)?;
        if detail.get("null").is_some() {
            return None;
        }
        let client = detail.get("client").and_then(|v| v.as_u64());
        let cseq = detail.get("cseq").and_then(|v| v.as_u64());
        if let (Some(c), Some(s)) = (client, cseq) {
            if self.sent.contains(&(c, s, digest.clone())) {
                return None;
            }
        }
        if std::mem::replace(&mut self.reported, true) {
            return None;
        }
        let name = world.name(node).to_string();
        Some(Violation {
            name: VALIDITY.violation.into(),
            check: VALIDITY.name.into(),
            severity: Severity::Safety,
            time: event.time,
            nodes: vec![name.clone()],
            explanation: format!(
                "{name} executed a request (digest {digest}, client {client:?}, timestamp {cseq:?}) at sequence number {seq} that no client sent"
            ),
        })
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }

    fn note(&self) -> Option<String> {
        Some(format!(
            "{} client requests sent; every executed one among them",
            self.sent.len()
        ))
    }
}
