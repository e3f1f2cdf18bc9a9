//! From a history's events to operations, split by key.
//!
//! What it does: pairs each `invoke` with the next completion of the same
//! process; drops operations that `fail` (they did not happen); gives `info`
//! completions and invocations never completed an unknown output and an
//! infinite return time; groups operations by key (`None` is its own group).
//!
//! What it does not do: know any model (dropping reads with unknown results
//! is the model's call). Invariants: operations keep history order within a
//! key; groups come in key order (`BTreeMap`); a malformed history (a
//! completion with no open invocation, a second invocation while one is
//! open, a completion before its invocation, a completion of another
//! function) is an error naming the event (its index, which a caller maps to
//! a file's line), never a panic.

use super::spec::Operation;
use crate::history::{History, HistoryError, HistoryEvent, OpType};
use std::collections::BTreeMap;

/// A history's operations grouped by key, and how many were invoked.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Invoked operations in the history (failed ones included).
    pub invoked: usize,
    /// Operations that may have happened, by key, in key order.
    pub parts: BTreeMap<Option<String>, Vec<Operation>>,
}

/// Where each operation stands while the events are read.
enum Status {
    Open,
    Done,
    Failed,
}

/// Pairs invocations with completions and splits by key; `Ok(None)` if
/// `should_stop` fired (polled every [`super::POLL_EVENTS`] events).
pub fn prepare(
    history: &History,
    should_stop: &dyn Fn() -> bool,
) -> Result<Option<Prepared>, HistoryError> {
    let mut preparer = Preparer::default();
    for (index, event) in history.events.iter().enumerate() {
        if index % super::POLL_EVENTS == super::POLL_EVENTS - 1 && should_stop() {
            return Ok(None);
        }
        preparer
            .add(index, event)
            .map_err(|message| event_error(index, event, message))?;
    }
    Ok(Some(preparer.finish()))
}

/// [`prepare`] one event at a time, for a history streamed from a file:
/// it keeps the operations, never the events.
#[derive(Default)]
pub struct Preparer {
    ops: Vec<(Operation, Status)>,
    /// Each process's open operation (an index into `ops`).
    open: BTreeMap<u64, usize>,
}

impl Preparer {
    /// Takes the event with this index (0-based, in history order); an error
    /// says what is wrong with it (see [`event_error`]).
    pub fn add(&mut self, index: usize, event: &HistoryEvent) -> Result<(), String> {
        match event.kind {
            OpType::Invoke => invoke(&mut self.ops, &mut self.open, index, event),
            _ => complete(&mut self.ops, &mut self.open, event),
        }
    }

    /// The operations, split by key.
    pub fn finish(self) -> Prepared {
        let invoked = self.ops.len();
        Prepared {
            invoked,
            parts: split_by_key(self.ops),
        }
    }
}

/// The operations that did not fail, by key; a history of one key keeps
/// its buffer (no second copy of a large history).
fn split_by_key(mut ops: Vec<(Operation, Status)>) -> BTreeMap<Option<String>, Vec<Operation>> {
    ops.retain(|(_, status)| !matches!(status, Status::Failed));
    let mut parts: BTreeMap<Option<String>, Vec<Operation>> = BTreeMap::new();
    let one_key = ops.windows(2).all(|w| w[0].0.key == w[1].0.key);
    if one_key && !ops.is_empty() {
        let key = ops[0].0.key.clone();
        let only: Vec<Operation> = ops.into_iter().map(|(op, _)| op).collect();
        parts.insert(key, only);
        return parts;
    }
    for (op, _) in ops {
        parts.entry(op.key.clone()).or_default().push(op);
    }
    parts
}

/// An error about the event at `index` (0-based); it reads
/// `history: event 5: process 1, invoke read: ...` until a caller that knows
/// the file gives it the event's line.
pub fn event_error(index: usize, event: &HistoryEvent, message: String) -> HistoryError {
    let kind = match event.kind {
        OpType::Invoke => "invoke",
        OpType::Ok => "ok",
        OpType::Fail => "fail",
        OpType::Info => "info",
    };
    HistoryError {
        file: "history".to_string(),
        line: None,
        event: Some(index),
        message: format!("process {}, {kind} {}: {message}", event.process, event.f),
    }
}

/// An error about an operation (which the model could not take), named by
/// its invoke event, as [`event_error`] names it.
pub fn operation_error(op: &Operation, message: String) -> HistoryError {
    HistoryError {
        file: "history".to_string(),
        line: None,
        event: Some(op.event),
        message: format!("process {}, invoke {}: {message}", op.process, op.f),
    }
}

fn invoke(
    ops: &mut Vec<(Operation, Status)>,
    open: &mut BTreeMap<u64, usize>,
    index: usize,
    event: &HistoryEvent,
) -> Result<(), String> {
    if let Some(&earlier) = open.get(&event.process) {
        let first = &ops[earlier].0;
        return Err(format!(
            "process {} is still running `{}` invoked at time {}; expected its completion first",
            event.process, first.f, first.call
        ));
    }
    open.insert(event.process, ops.len());
    let op = Operation {
        process: event.process,
        f: event.f.clone(),
        key: event.key.clone(),
        input: event.value.clone(),
        output: None,
        call: event.time,
        ret: None,
        event: index,
        server: None,
    };
    ops.push((op, Status::Open));
    Ok(())
}

fn complete(
    ops: &mut [(Operation, Status)],
    open: &mut BTreeMap<u64, usize>,
    event: &HistoryEvent,
) -> Result<(), String> {
    let Some(at) = open.remove(&event.process) else {
        return Err(format!(
            "process {} has no open operation to complete; expected an invoke first",
            event.process
        ));
    };
    let (op, status) = &mut ops[at];
    if op.f != event.f {
        return Err(format!(
            "completes `{}`, but process {} invoked `{}`",
            event.f, event.process, op.f
        ));
    }
    if event.time < op.call {
        return Err(format!(
            "completes at time {} before its invocation at time {}",
            event.time, op.call
        ));
    }
    op.server = event.server.clone();
    match event.kind {
        OpType::Ok => {
            op.output = Some(event.value.clone());
            op.ret = Some(event.time);
            *status = Status::Done;
        }
        OpType::Fail => *status = Status::Failed,
        OpType::Info | OpType::Invoke => *status = Status::Done,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Value;

    fn ev(process: u64, kind: OpType, f: &str, time: u64) -> HistoryEvent {
        HistoryEvent {
            process,
            kind,
            f: f.to_string(),
            key: None,
            value: Value::Nil,
            time,
            server: None,
        }
    }

    #[test]
    fn pairs_and_drops_failures() {
        let history = History {
            events: vec![
                ev(1, OpType::Invoke, "write", 1),
                ev(2, OpType::Invoke, "write", 2),
                ev(1, OpType::Fail, "write", 3),
                ev(3, OpType::Invoke, "read", 4),
                ev(2, OpType::Info, "write", 5),
                ev(3, OpType::Ok, "read", 6),
            ],
        };
        let prepared = prepare(&history, &|| false).unwrap().unwrap();
        assert_eq!(prepared.invoked, 3);
        let ops = &prepared.parts[&None];
        assert_eq!(ops.len(), 2);
        assert_eq!(
            (ops[0].process, ops[0].ret, ops[0].output.clone()),
            (2, None, None)
        );
        assert_eq!(
            (ops[1].ret, ops[1].output.clone()),
            (Some(6), Some(Value::Nil))
        );
    }

    #[test]
    fn malformed_histories_name_the_event() {
        let cases = [
            (vec![ev(1, OpType::Ok, "read", 1)], "no open operation"),
            (
                vec![
                    ev(1, OpType::Invoke, "read", 1),
                    ev(1, OpType::Invoke, "read", 2),
                ],
                "still running",
            ),
            (
                vec![
                    ev(1, OpType::Invoke, "read", 5),
                    ev(1, OpType::Ok, "read", 2),
                ],
                "before its invocation",
            ),
            (
                vec![
                    ev(1, OpType::Invoke, "read", 1),
                    ev(1, OpType::Ok, "write", 2),
                ],
                "invoked `read`",
            ),
        ];
        for (events, needle) in cases {
            let last = events.len() - 1;
            let err = prepare(&History { events }, &|| false).unwrap_err();
            assert!(err.message.contains(needle), "{err}");
            assert_eq!(err.event, Some(last), "{err}");
            assert!(
                err.to_string()
                    .starts_with(&format!("history: event {}: ", last + 1)),
                "{err}"
            );
        }
    }
}
