//! The trace: one [`TraceEvent`] per thing that happened, and its hash.
//!
//! Every step of the engine yields trace events: a delivery, a timer, a
//! fault, the messages a handler sent, what it recorded. A run's trace hash
//! folds every event, in order, through [`crate::hash::TraceHasher`], over a canonical
//! encoding: integers as integers (never native-endian bytes), messages by a
//! [`crate::hash::StableHasher`] digest of their derived `Hash`, record details
//! by their JSON structure (object keys sorted; typed fields fold the same words,
//! see [`crate::node::Detail`]). Same scenario + same seed must give
//! the same hash on every machine, in debug and release.
//!
//! As JSON lines (`--trace FILE.jsonl`) an event reads
//! `{"t":1200000,"node":"n1","kind":"send","to":"n2","msg":7,"arrival":3400000}`.

use crate::fault::Fault;
use crate::hash::TraceHasher;
use crate::net::DropReason;
use crate::node::{NodeId, Record};
use crate::time::SimTime;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Something that happened at a true time, at a node (or to the network).
#[derive(Clone, Debug, PartialEq)]
pub struct TraceEvent {
    /// True time.
    pub time: SimTime,
    /// The node it happened at, if any (a heal has none).
    pub node: Option<NodeId>,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of trace event.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// The node started (`restart`: after a crash).
    Start { restart: bool },
    /// The node sent message `msg` (run-unique id) to `to`; it will arrive at
    /// `arrival` (`SimTime::MAX` if the network dropped it at send).
    Send {
        to: NodeId,
        msg: u64,
        digest: u64,
        arrival: SimTime,
        text: Option<Box<str>>,
    },
    /// The network delivers a second copy of `msg` at `arrival`.
    Duplicate {
        to: NodeId,
        msg: u64,
        arrival: SimTime,
    },
    /// Message `msg` from `from` to `to` was dropped (at send or on arrival).
    Drop {
        from: NodeId,
        to: NodeId,
        msg: u64,
        reason: DropReason,
    },
    /// Message `msg` from `from` was delivered to the node.
    Deliver { from: NodeId, msg: u64 },
    /// The node's timer fired.
    Timer { timer: u64, tag: u64 },
    /// A fault happened (`applied` false: it did not apply, e.g. crashing a crashed node).
    Fault { fault: Fault, applied: bool },
    /// A fault was skipped, and why: its target named nobody, two targets
    /// named one node, or its trigger was not observed in time.
    Skipped { fault: Fault, reason: String },
    /// The links a `set_link` fault with a duration changed are back to
    /// their settings from before (the fault as it was applied).
    LinksRestored { fault: Fault },
    /// A paused node resumed.
    Resume,
    /// A loss burst ended.
    LossBurstEnd,
    /// The node recorded an observation.
    Record(Record),
    /// The node crashed while `messages` it had sent were still waiting to
    /// leave (timing noise: for its processing or its disk): they never left.
    Unsent { messages: u64 },
    /// A `set` fault's knob at the node: turned, set back, or not (the
    /// fault itself is traced once before, as a [`EventKind::Fault`]).
    Knob(KnobTurn),
    /// The node's Byzantine adversary did `act` to message `msg` to `to`:
    /// the `send` of `msg` that follows (none for a drop) is the forged or
    /// replayed message (see [`crate::fault::byzantine`]).
    Byzantine {
        to: NodeId,
        msg: u64,
        act: crate::fault::byzantine::Act,
    },
    /// A Byzantine fault with a duration ended: the node is honest again.
    Honest,
}

/// A knob of one node turned by a `set` fault, or set back when its
/// duration ended (`restore`), or why not.
#[derive(Clone, Debug, PartialEq)]
pub struct KnobTurn {
    /// The knob's name.
    pub knob: Arc<str>,
    /// The value it was to take.
    pub value: f64,
    /// True if this sets back the value a node had before a `set`.
    pub restore: bool,
    /// What happened.
    pub outcome: KnobOutcome,
}

/// What became of a [`KnobTurn`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KnobOutcome {
    /// The node took the value; it had `previous`.
    Set { previous: f64 },
    /// The node said it has no such knob (`Node::on_knob` returned `None`).
    NoSuchKnob,
    /// The node is down (or crashed while the turn waited for its pause).
    Crashed,
    /// The node is paused: the turn waits and runs when it resumes.
    Held,
    /// A return skipped: the node restarted since, so it has its
    /// configured value again.
    Restarted,
    /// A return skipped: a later `set` turned the knob since.
    SetAgain,
}

impl KnobOutcome {
    /// Why the knob was not turned, as traced (`None` if it was).
    pub fn skipped(&self) -> Option<&'static str> {
        Some(match self {
            KnobOutcome::Set { .. } => return None,
            KnobOutcome::NoSuchKnob => "no such knob",
            KnobOutcome::Crashed => "the node is down",
            KnobOutcome::Held => "the node is paused: held until it resumes",
            KnobOutcome::Restarted => "the node restarted since: it has its configured value",
            KnobOutcome::SetAgain => "set again since",
        })
    }

    fn code(&self) -> u64 {
        match self {
            KnobOutcome::Set { .. } => 0,
            KnobOutcome::NoSuchKnob => 1,
            KnobOutcome::Crashed => 2,
            KnobOutcome::Held => 3,
            KnobOutcome::Restarted => 4,
            KnobOutcome::SetAgain => 5,
        }
    }
}

impl KnobTurn {
    /// A line after the node's name, e.g. `knob rate = 40 (was 10)` or
    /// `knob rate back to 10 (was 40)`.
    pub fn describe(&self) -> String {
        let verb = if self.restore { "back to" } else { "=" };
        let text = format!("knob {} {verb} {}", self.knob, self.value);
        match self.outcome {
            KnobOutcome::Set { previous } => format!("{text} (was {previous})"),
            other => format!("{text}: not set, {}", other.skipped().expect("skipped")),
        }
    }
}

impl EventKind {
    /// The kind's name in traces (`"send"`, `"deliver"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Start { restart: false } => "start",
            EventKind::Start { restart: true } => "restart",
            EventKind::Send { .. } => "send",
            EventKind::Duplicate { .. } => "duplicate",
            EventKind::Drop { .. } => "drop",
            EventKind::Deliver { .. } => "deliver",
            EventKind::Timer { .. } => "timer",
            EventKind::Fault { .. } | EventKind::Skipped { .. } => "fault",
            EventKind::LinksRestored { .. } => "links_restored",
            EventKind::Resume => "resume",
            EventKind::LossBurstEnd => "loss_burst_end",
            EventKind::Record(_) => "record",
            EventKind::Unsent { .. } => "unsent",
            EventKind::Knob(_) => "knob",
            EventKind::Byzantine { .. } => "byzantine",
            EventKind::Honest => "honest",
        }
    }
}

impl EventKind {
    /// The line of a skipped fault (`fault skipped: no @leader (crash
    /// @leader)`) or of links restored; `None` for other events.
    pub fn fault_line(&self, names: &[String]) -> Option<String> {
        match self {
            EventKind::Skipped { fault, reason } => Some(format!(
                "fault skipped: {reason} ({})",
                fault.describe(names)
            )),
            EventKind::LinksRestored { fault } => {
                Some(format!("links restored ({})", fault.describe(names)))
            }
            _ => None,
        }
    }
}

/// Bits of a node in an event's head word: node ids below
/// `2^NODE_BITS - 1` fit (a run has at most [`MAX_TRACED_NODES`]).
const NODE_BITS: u32 = 28;

/// The most nodes a run may have: each node's id, plus one, fits in
/// [`NODE_BITS`] bits of an event's head word.
pub const MAX_TRACED_NODES: usize = (1 << NODE_BITS) - 2;

/// An event's head word: the kind's code in the low 8 bits, then the node
/// plus one (0: none) and the other node the kind names plus one (0: none),
/// [`NODE_BITS`] bits each. One word where three were folded before.
#[inline]
fn head(code: u64, node: Option<NodeId>, other: Option<NodeId>) -> u64 {
    let bits = |n: Option<NodeId>| {
        n.map_or(0, |n| {
            debug_assert!(
                (n.0 as usize) < MAX_TRACED_NODES,
                "node id {} too large",
                n.0
            );
            u64::from(n.0) + 1
        })
    };
    debug_assert!(code < 256);
    code | bits(node) << 8 | bits(other) << (8 + NODE_BITS)
}

impl TraceEvent {
    /// Folds this event into `h` (the canonical encoding): its time, then
    /// one head word packing the kind's code, the node and the other node
    /// the kind names, if any ([`head`]), then the kind's other fields.
    #[inline]
    pub fn hash_into(&self, h: &mut TraceHasher) {
        h.word(self.time.0);
        let node = self.node;
        match &self.kind {
            EventKind::Start { restart } => h.words(&[head(1, node, None), u64::from(*restart)]),
            EventKind::Send {
                to,
                msg,
                digest,
                arrival,
                ..
            } => h.words(&[head(2, node, Some(*to)), *msg, *digest, arrival.0]),
            EventKind::Duplicate { to, msg, arrival } => {
                h.words(&[head(3, node, Some(*to)), *msg, arrival.0])
            }
            EventKind::Drop {
                from,
                to,
                msg,
                reason,
            } => h.words(&[
                head(4, node, Some(*to)),
                u64::from(from.0),
                *msg,
                *reason as u64,
            ]),
            EventKind::Deliver { from, msg } => h.words(&[head(5, node, Some(*from)), *msg]),
            EventKind::Timer { timer, tag } => h.words(&[head(6, node, None), *timer, *tag]),
            EventKind::Fault { fault, applied } => {
                h.words(&[head(7, node, None), u64::from(*applied)]);
                h.bytes(format!("{fault:?}").as_bytes());
            }
            EventKind::Skipped { fault, reason } => {
                h.words(&[head(7, node, None), 0]);
                h.bytes(format!("{fault:?}").as_bytes());
                h.bytes(reason.as_bytes());
            }
            EventKind::LinksRestored { fault } => {
                h.word(head(15, node, None));
                h.bytes(format!("{fault:?}").as_bytes());
            }
            EventKind::Resume => h.word(head(8, node, None)),
            EventKind::LossBurstEnd => h.word(head(9, node, None)),
            EventKind::Record(record) => {
                h.word(head(10, node, None));
                h.bytes(record.kind.as_bytes());
                record.detail.hash_into(h);
            }
            EventKind::Unsent { messages } => h.words(&[head(11, node, None), *messages]),
            EventKind::Knob(turn) => {
                h.word(head(12, node, None));
                h.bytes(turn.knob.as_bytes());
                let previous = match turn.outcome {
                    KnobOutcome::Set { previous } => previous.to_bits(),
                    _ => 0,
                };
                h.words(&[
                    turn.value.to_bits(),
                    u64::from(turn.restore),
                    turn.outcome.code(),
                    previous,
                ]);
            }
            EventKind::Byzantine { to, msg, act } => {
                h.words(&[head(13, node, Some(*to)), *msg, act.code()])
            }
            EventKind::Honest => h.word(head(14, node, None)),
        }
    }

    /// The event as a JSON object, with node names.
    pub fn to_json(&self, names: &[String]) -> Value {
        let name = |n: &NodeId| Value::String(names[n.index()].clone());
        let mut obj = Map::new();
        obj.insert("t".into(), json!(self.time.0));
        if let Some(node) = &self.node {
            obj.insert("node".into(), name(node));
        }
        obj.insert("kind".into(), json!(self.kind.name()));
        match &self.kind {
            EventKind::Start { .. }
            | EventKind::Resume
            | EventKind::LossBurstEnd
            | EventKind::Honest => {}
            EventKind::Byzantine { to, msg, act } => {
                obj.insert("to".into(), name(to));
                obj.insert("msg".into(), json!(msg));
                obj.insert("act".into(), json!(act.name()));
            }
            EventKind::Send {
                to,
                msg,
                digest,
                arrival,
                text,
            } => {
                obj.insert("to".into(), name(to));
                obj.insert("msg".into(), json!(msg));
                obj.insert("digest".into(), json!(format!("{digest:016x}")));
                // A message dropped at send never arrives: `null`.
                let arrival = (*arrival != SimTime::MAX).then_some(arrival.0);
                obj.insert("arrival".into(), json!(arrival));
                if let Some(text) = text {
                    obj.insert("text".into(), json!(text));
                }
            }
            EventKind::Duplicate { to, msg, arrival } => {
                obj.insert("to".into(), name(to));
                obj.insert("msg".into(), json!(msg));
                obj.insert("arrival".into(), json!(arrival.0));
            }
            EventKind::Drop {
                from,
                to,
                msg,
                reason,
            } => {
                obj.insert("from".into(), name(from));
                obj.insert("to".into(), name(to));
                obj.insert("msg".into(), json!(msg));
                obj.insert("reason".into(), json!(reason.as_str()));
            }
            EventKind::Deliver { from, msg } => {
                obj.insert("from".into(), name(from));
                obj.insert("msg".into(), json!(msg));
            }
            EventKind::Timer { timer, tag } => {
                obj.insert("timer".into(), json!(timer));
                obj.insert("tag".into(), json!(tag));
            }
            EventKind::Fault { fault, applied } => {
                obj.insert("fault".into(), json!(fault.kind()));
                obj.insert("detail".into(), json!(fault.describe(names)));
                obj.insert("applied".into(), json!(applied));
            }
            EventKind::Skipped { fault, reason } => {
                obj.insert("fault".into(), json!(fault.kind()));
                obj.insert("detail".into(), json!(fault.describe(names)));
                obj.insert("applied".into(), json!(false));
                obj.insert("skipped".into(), json!(reason));
            }
            EventKind::LinksRestored { fault } => {
                obj.insert("fault".into(), json!(fault.kind()));
                obj.insert("detail".into(), json!(fault.describe(names)));
            }
            EventKind::Record(record) => {
                obj.insert("record".into(), json!(record.kind.as_str()));
                obj.insert("detail".into(), record.detail.to_json());
            }
            EventKind::Unsent { messages } => {
                obj.insert("messages".into(), json!(messages));
            }
            EventKind::Knob(turn) => {
                obj.insert("knob".into(), json!(turn.knob.as_ref()));
                obj.insert("value".into(), json!(turn.value));
                obj.insert("restore".into(), json!(turn.restore));
                match turn.outcome {
                    KnobOutcome::Set { previous } => {
                        obj.insert("previous".into(), json!(previous));
                    }
                    other => {
                        obj.insert("skipped".into(), json!(other.skipped()));
                    }
                }
            }
        }
        Value::Object(obj)
    }

    /// A one-line human description, e.g. `2.503s n3 record suspect {"peer":"n1"}`.
    pub fn describe(&self, names: &[String]) -> String {
        let mut line = format!("{:>10}", self.time.to_string());
        if let Some(node) = self.node {
            line.push(' ');
            line.push_str(&names[node.index()]);
        }
        line.push(' ');
        match &self.kind {
            EventKind::Fault { fault, applied } => {
                line.push_str(&fault.describe(names));
                if !applied {
                    line.push_str(" (ignored)");
                }
            }
            EventKind::Skipped { .. } | EventKind::LinksRestored { .. } => {
                line.push_str(&self.kind.fault_line(names).expect("a fault event"))
            }
            EventKind::Record(r) => line.push_str(&format!("{} {}", r.kind, r.detail)),
            EventKind::Send { to, msg, text, .. } => {
                line.push_str(&format!("send #{msg} to {}", names[to.index()]));
                if let Some(text) = text {
                    line.push_str(&format!(" {text}"));
                }
            }
            EventKind::Deliver { from, msg } => {
                line.push_str(&format!("deliver #{msg} from {}", names[from.index()]))
            }
            EventKind::Drop {
                from,
                to,
                msg,
                reason,
            } => line.push_str(&format!(
                "drop #{msg} {}->{} ({})",
                names[from.index()],
                names[to.index()],
                reason.as_str()
            )),
            EventKind::Unsent { messages } => line.push_str(&format!(
                "unsent: {messages} messages were still waiting to leave (processing or disk sync)"
            )),
            EventKind::Knob(turn) => line.push_str(&turn.describe()),
            EventKind::Byzantine { to, msg, act } => line.push_str(&format!(
                "byzantine: {} #{msg} to {}",
                act.name(),
                names[to.index()]
            )),
            EventKind::Honest => line.push_str("is honest again (its Byzantine fault ended)"),
            other => line.push_str(other.name()),
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_head_keeps_its_kind_node_and_other_node_apart() {
        let (a, b) = (Some(NodeId(0)), Some(NodeId(1)));
        let heads = [
            head(5, None, None),
            head(5, a, None),
            head(5, None, a),
            head(5, a, b),
            head(5, b, a),
            head(6, a, b),
        ];
        for (i, x) in heads.iter().enumerate() {
            for y in &heads[i + 1..] {
                assert_ne!(x, y);
            }
        }
        let last = Some(NodeId(MAX_TRACED_NODES as u32 - 1));
        assert_eq!(
            head(255, last, last) >> (8 + NODE_BITS),
            MAX_TRACED_NODES as u64
        );
    }
}
