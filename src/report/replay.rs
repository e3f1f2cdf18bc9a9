//! The step replay's text: one line per trace event, in a stable format
//! meant to be read, grepped and diffed (`faultlab replay`).
//!
//! A line has fixed columns, separated by single spaces:
//!
//! ```text
//!    1.250000000 n2 deliver        msg=41 from=n1
//!    2.000000000 -  fault          fault=partition applied=true detail="partition {n1} | {n2,n3}"
//! ```
//!
//! 1. the true time in seconds with nanosecond precision (nine decimals),
//!    right-aligned in [`TIME_WIDTH`] characters;
//! 2. the node, left-aligned to the longest node name of the run (`-` for
//!    an event of the whole network, such as a heal);
//! 3. the kind ([`KINDS`]), left-aligned in [`KIND_WIDTH`] characters;
//! 4. the detail: `key=value` fields in a fixed order per kind (see
//!    [`event_line`]). A value is a bare token (a node name, a number, a
//!    time in seconds, a word) or, when it is free text, a JSON string in
//!    double quotes; a record's fields are its detail's keys in sorted
//!    order with JSON values.
//!
//! Trailing spaces are trimmed. What this module does not do: run anything
//! (the command in `cli/replay.rs` steps the run and filters its events).

use crate::engine::{EventKind, KnobOutcome, TraceEvent};
use crate::node::NodeId;
use crate::time::SimTime;
use serde_json::Value;
use std::fmt::Write;

/// Every event kind a replay line may show, as `--kinds` takes them.
pub const KINDS: &[&str] = &[
    "start",
    "restart",
    "send",
    "duplicate",
    "drop",
    "deliver",
    "timer",
    "fault",
    "links_restored",
    "resume",
    "loss_burst_end",
    "record",
    "unsent",
    "knob",
];

/// The width of the time column (`99999.999999999`, a day and more, fits).
pub const TIME_WIDTH: usize = 15;

/// The width of the kind column (the longest kind, `links_restored`).
pub const KIND_WIDTH: usize = 14;

/// A true time as the replay writes it: seconds with nine decimals, no unit.
pub fn seconds(t: SimTime) -> String {
    format!("{}.{:09}", t.0 / 1_000_000_000, t.0 % 1_000_000_000)
}

/// The width of the node column for these node names.
pub fn node_width(names: &[String]) -> usize {
    names.iter().map(String::len).max().unwrap_or(1).max(1)
}

/// One event as a replay line (see the module's documentation). The
/// details, per kind:
///
/// - `start`, `restart`, `resume`, `loss_burst_end`: none;
/// - `send`: `msg=ID to=NODE arrival=SECONDS|never body="TEXT"` (`body`
///   when the run described its messages);
/// - `duplicate`: `msg=ID to=NODE arrival=SECONDS`;
/// - `drop`: `msg=ID from=NODE to=NODE reason=REASON`;
/// - `deliver`: `msg=ID from=NODE`;
/// - `timer`: `timer=ID tag=TAG`;
/// - `fault`: `fault=KIND applied=true|false [skipped="WHY"] detail="TEXT"`;
/// - `links_restored`: `fault=KIND detail="TEXT"`;
/// - `record`: `record=KIND` then the detail's fields (`KEY=JSON`), or
///   `detail=JSON` when it is not an object;
/// - `unsent`: `messages=N`;
/// - `knob`: `knob=NAME value=X restore=true|false` then `previous=X` or
///   `skipped="WHY"`.
pub fn event_line(event: &TraceEvent, names: &[String], node_width: usize) -> String {
    let name = |n: &NodeId| names[n.index()].as_str();
    let node = event.node.as_ref().map_or("-", name);
    let mut line = format!(
        "{:>tw$} {node:<nw$} {:<kw$}",
        seconds(event.time),
        event.kind.name(),
        tw = TIME_WIDTH,
        nw = node_width,
        kw = KIND_WIDTH
    );
    let mut field = |key: &str, value: &dyn std::fmt::Display| {
        let _ = write!(line, " {key}={value}");
    };
    match &event.kind {
        EventKind::Start { .. }
        | EventKind::Resume
        | EventKind::LossBurstEnd
        | EventKind::Honest => {}
        EventKind::Byzantine { to, msg, act } => {
            field("msg", msg);
            field("to", &name(to));
            field("act", &act.name());
        }
        EventKind::Send {
            to,
            msg,
            arrival,
            text,
            ..
        } => {
            field("msg", msg);
            field("to", &name(to));
            field("arrival", &arrival_text(*arrival));
            if let Some(text) = text {
                field("body", &quoted(text));
            }
        }
        EventKind::Duplicate { to, msg, arrival } => {
            field("msg", msg);
            field("to", &name(to));
            field("arrival", &arrival_text(*arrival));
        }
        EventKind::Drop {
            from,
            to,
            msg,
            reason,
        } => {
            field("msg", msg);
            field("from", &name(from));
            field("to", &name(to));
            field("reason", &reason.as_str());
        }
        EventKind::Deliver { from, msg } => {
            field("msg", msg);
            field("from", &name(from));
        }
        EventKind::Timer { timer, tag } => {
            field("timer", timer);
            field("tag", tag);
        }
        EventKind::Fault { fault, applied } => {
            field("fault", &fault.kind());
            field("applied", applied);
            field("detail", &quoted(&fault.describe(names)));
        }
        EventKind::Skipped { fault, reason } => {
            field("fault", &fault.kind());
            field("applied", &false);
            field("skipped", &quoted(reason));
            field("detail", &quoted(&fault.describe(names)));
        }
        EventKind::LinksRestored { fault } => {
            field("fault", &fault.kind());
            field("detail", &quoted(&fault.describe(names)));
        }
        EventKind::Record(record) => {
            field("record", &record.kind);
            match &*record.detail {
                Value::Object(map) => {
                    for (key, value) in map {
                        field(key, value);
                    }
                }
                Value::Null => {}
                other => field("detail", other),
            }
        }
        EventKind::Unsent { messages } => field("messages", messages),
        EventKind::Knob(turn) => {
            field("knob", &turn.knob);
            field("value", &turn.value);
            field("restore", &turn.restore);
            match turn.outcome {
                KnobOutcome::Set { previous } => field("previous", &previous),
                other => field("skipped", &quoted(other.skipped().unwrap_or_default())),
            }
        }
    }
    line.truncate(line.trim_end().len());
    line
}

/// `never` for a message dropped at send, else the arrival in seconds.
fn arrival_text(arrival: SimTime) -> String {
    if arrival == SimTime::MAX {
        "never".to_string()
    } else {
        seconds(arrival)
    }
}

/// Free text as a JSON string (quotes, backslashes and control characters escaped).
fn quoted(text: &str) -> String {
    Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::KnobTurn;
    use crate::fault::Fault;
    use crate::net::{Cut, DropReason};
    use crate::node::Record;
    use serde_json::json;
    use std::sync::Arc;

    fn names() -> Vec<String> {
        ["n1", "n2", "c10"].map(String::from).to_vec()
    }

    fn line(node: Option<u32>, kind: EventKind) -> String {
        let event = TraceEvent {
            time: SimTime(1_250_000_001),
            node: node.map(NodeId),
            kind,
        };
        event_line(&event, &names(), node_width(&names()))
    }

    #[test]
    fn every_kind_has_its_fixed_columns_and_fields() {
        assert_eq!(
            line(Some(0), EventKind::Start { restart: true }),
            "    1.250000001 n1  restart"
        );
        assert_eq!(
            line(
                Some(0),
                EventKind::Send {
                    to: NodeId(2),
                    msg: 7,
                    digest: 0,
                    arrival: SimTime(2_000_000_000),
                    text: Some("Put { key: \"x\" }".into()),
                }
            ),
            r#"    1.250000001 n1  send           msg=7 to=c10 arrival=2.000000000 body="Put { key: \"x\" }""#
        );
        assert_eq!(
            line(
                Some(1),
                EventKind::Send {
                    to: NodeId(0),
                    msg: 8,
                    digest: 0,
                    arrival: SimTime::MAX,
                    text: None,
                }
            ),
            "    1.250000001 n2  send           msg=8 to=n1 arrival=never"
        );
        assert_eq!(
            line(
                Some(1),
                EventKind::Drop {
                    from: NodeId(0),
                    to: NodeId(1),
                    msg: 8,
                    reason: DropReason::Loss
                }
            ),
            "    1.250000001 n2  drop           msg=8 from=n1 to=n2 reason=loss"
        );
        assert_eq!(
            line(
                None,
                EventKind::Fault {
                    fault: Fault::Partition(Cut::Isolate(NodeId(1))),
                    applied: true
                }
            ),
            r#"    1.250000001 -   fault          fault=isolate applied=true detail="isolate n2""#
        );
        assert_eq!(
            line(
                Some(2),
                EventKind::Skipped {
                    fault: Fault::Crash(NodeId(2)),
                    reason: "no @leader".into()
                }
            ),
            r#"    1.250000001 c10 fault          fault=crash applied=false skipped="no @leader" detail="crash c10""#
        );
        assert_eq!(
            line(
                Some(0),
                EventKind::Record(Record {
                    kind: "leader".into(),
                    detail: json!({"term": 3, "why": "votes"}).into(),
                })
            ),
            r#"    1.250000001 n1  record         record=leader term=3 why="votes""#
        );
        assert_eq!(
            line(
                Some(2),
                EventKind::Knob(KnobTurn {
                    knob: Arc::from("rate"),
                    value: 40.0,
                    restore: false,
                    outcome: KnobOutcome::NoSuchKnob,
                })
            ),
            r#"    1.250000001 c10 knob           knob=rate value=40 restore=false skipped="no such knob""#
        );
        assert_eq!(
            line(None, EventKind::LossBurstEnd),
            "    1.250000001 -   loss_burst_end"
        );
    }

    #[test]
    fn every_event_kind_name_is_listed() {
        let kinds = [
            EventKind::Start { restart: false },
            EventKind::Start { restart: true },
            EventKind::Resume,
            EventKind::LossBurstEnd,
            EventKind::Unsent { messages: 1 },
            EventKind::Deliver {
                from: NodeId(0),
                msg: 1,
            },
            EventKind::Timer { timer: 1, tag: 1 },
            EventKind::LinksRestored { fault: Fault::Heal },
        ];
        for kind in kinds {
            assert!(KINDS.contains(&kind.name()), "{}", kind.name());
        }
    }
}
