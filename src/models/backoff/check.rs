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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::check::record_at as record;

    fn landing(at_ms: u64, client: &str, attempt: u64, version: u64) -> TraceEvent {
        let detail = json!({ "client": client, "id": 1, "attempt": attempt, "version": version });
        record(0, at_ms, "write", detail)
    }

    fn done_ok(client: u32, at_ms: u64) -> TraceEvent {
        let detail =
            json!({ "id": 1, "ok": true, "good": true, "latency_ns": 1, "calls": 1, "why": "ok" });
        record(client, at_ms, "done", detail)
    }

    fn world() -> World {
        World::new(vec!["n1".into(), "c1".into(), "c2".into()])
    }

    #[test]
    fn one_landing_per_write_and_ok_after_it_passes() {
        let (mut check, world) = (ExactlyOnce::default(), world());
        for event in [
            landing(3, "c1", 1, 1),
            done_ok(1, 4),
            landing(5, "c2", 2, 2),
            done_ok(2, 6),
        ] {
            assert_eq!(check.on_event(&event, &world), None);
        }
        assert_eq!(check.finish(SimTime(10), &world), None);
        assert_eq!(
            check.note().unwrap(),
            "2 landings of 2 logical writes (each once); 2 confirmed ok to their clients"
        );
    }

    #[test]
    fn a_write_landing_twice_is_caught_when_it_lands_again() {
        let (mut check, world) = (ExactlyOnce::default(), world());
        assert_eq!(check.on_event(&landing(3, "c1", 1, 1), &world), None);
        let v = check
            .on_event(&landing(9, "c1", 2, 2), &world)
            .expect("a violation");
        assert_eq!(v.name, "not_exactly_once");
        assert_eq!(v.time, SimTime(9_000_000));
        assert_eq!(v.nodes, vec!["n1".to_string(), "c1".to_string()]);
        assert!(
            v.explanation.contains("attempt 1 as version 1")
                && v.explanation.contains("attempt 2 as version 2"),
            "{}",
            v.explanation
        );
    }

    #[test]
    fn ok_without_a_landing_is_caught() {
        let (mut check, world) = (ExactlyOnce::default(), world());
        assert_eq!(check.on_event(&landing(3, "c1", 1, 1), &world), None);
        let v = check
            .on_event(&done_ok(2, 4), &world)
            .expect("c2 never landed");
        assert_eq!(v.nodes, vec!["c2".to_string()]);
        assert!(
            v.explanation.contains("no write of it had landed"),
            "{}",
            v.explanation
        );
        // A client that gave up is not a violation.
        let gave_up = record(
            2,
            5,
            "done",
            json!({ "id": 1, "ok": false, "why": "gave_up" }),
        );
        assert_eq!(check.on_event(&gave_up, &world), None);
    }
}
