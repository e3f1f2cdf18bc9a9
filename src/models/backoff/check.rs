//! `exactly_once`: every client's write lands exactly once.
//!
//! The store records `write {client, id, attempt, version}` when a
//! conditional write lands; a client records `done {id, ok, ...}` when its
//! logical write ends. The check fails the moment one logical write lands
//! a second time (a retry of a write whose first landing the client never
//! heard of), or a client reports `ok` for a write that never landed.

use crate::check::{CheckInfo, Checker, Severity, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::node::Record;
use crate::time::SimTime;
use std::collections::BTreeMap;

/// The check as the registry lists it.
pub const EXACTLY_ONCE: CheckInfo = CheckInfo {
    name: "exactly_once",
    about: "each client's logical write lands exactly once, and `done ok` only after it landed (backoff model)",
    severity: Severity::Safety,
    violation: "not_exactly_once",
};

/// Where and when a logical write landed.
#[derive(Clone, Copy, Debug)]
struct Landed {
    version: u64,
    attempt: u64,
    time: SimTime,
}

/// The `exactly_once` checker: one entry per logical write that landed.
#[derive(Debug, Default)]
pub struct ExactlyOnce {
    /// (client name, request id) -> its landing.
    landed: BTreeMap<(String, u64), Landed>,
    /// Landings seen (more than `landed.len()` once a write landed twice).
    landings: u64,
    /// Clients' writes reported `ok`.
    confirmed: u64,
}

impl ExactlyOnce {
    fn violation(&self, time: SimTime, nodes: Vec<String>, explanation: String) -> Violation {
        Violation {
            name: EXACTLY_ONCE.violation.into(),
            check: EXACTLY_ONCE.name.into(),
            severity: Severity::Safety,
            time,
            nodes,
            explanation,
        }
    }

    /// The store recorded a landing.
    fn on_write(&mut self, store: &str, record: &Record, time: SimTime) -> Option<Violation> {
        let detail = &record.detail;
        let client = detail.get("client")?.as_str()?.to_string();
        let id = detail.get("id")?.as_u64()?;
        let this = Landed {
            version: detail.get("version")?.as_u64()?,
            attempt: detail.get("attempt")?.as_u64()?,
            time,
        };
        self.landings += 1;
        match self.landed.get(&(client.clone(), id)) {
            None => {
                self.landed.insert((client, id), this);
                None
            }
            Some(first) => Some(self.violation(
                time,
                vec![store.to_string(), client.clone()],
                format!(
                    "{client}'s write {id} landed twice on {store}: attempt {} as version {} at {}, and attempt {} as version {} at {}",
                    first.attempt, first.version, first.time, this.attempt, this.version, time
                ),
            )),
        }
    }

    /// A client ended a logical write.
    fn on_done(&mut self, client: &str, record: &Record, time: SimTime) -> Option<Violation> {
        let detail = &record.detail;
        if !detail.get("ok")?.as_bool()? {
            return None;
        }
        let id = detail.get("id")?.as_u64()?;
        if self.landed.contains_key(&(client.to_string(), id)) {
            self.confirmed += 1;
            return None;
        }
        Some(self.violation(
            time,
            vec![client.to_string()],
            format!("{client} reported its write {id} ok at {time}, but no write of it had landed"),
        ))
    }
}

impl Checker for ExactlyOnce {
    fn name(&self) -> &'static str {
        EXACTLY_ONCE.name
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (EventKind::Record(record), Some(node)) = (&event.kind, event.node) else {
            return None;
        };
        match record.kind.as_str() {
            "write" => self.on_write(world.name(node), record, event.time),
            "done" => self.on_done(world.name(node), record, event.time),
            _ => None,
        }
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }

    fn note(&self) -> Option<String> {
        let writes = self.landed.len();
        let once = if self.landings == writes as u64 {
            "each once"
        } else {
            "some more than once"
        };
        Some(format!(
            "{} landings of {writes} logical writes ({once}); {} confirmed ok to their clients",
            self.landings, self.confirmed
        ))
    }
}
