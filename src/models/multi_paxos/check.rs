//! `mp_validity`: Paxos's validity (nontriviality) property, "only a value
//! that has been proposed may be chosen", for a replicated log fed by
//! clients: every client command a server executes (its `commit` record
//! with `client` and `entry`) is one that client invoked (an `op` record of
//! type `invoke` on that client, described the same way as
//! `Op::describe`). No-ops, which a leader proposes itself to fill gaps,
//! are exempt.

use crate::check::{CheckInfo, Checker, Interest, Severity, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::node::{Detail, NodeId};
use crate::time::SimTime;
use serde_json::Value as Json;
use std::collections::BTreeSet;

/// The `mp_validity` check as the registry lists it.
pub const MP_VALIDITY: CheckInfo = CheckInfo {
    name: "mp_validity",
    about: "every client command a server executes was invoked by that client (multi_paxos model)",
    severity: Severity::Safety,
    violation: "invalid_command",
};

/// The `mp_validity` checker: the (client, command) pairs invoked so far.
#[derive(Debug, Default)]
pub struct MpValidity {
    invoked: BTreeSet<(u32, String)>,
}

/// An invoke's command as `Op::describe` writes it (`put k2="a"`), or
/// `None` for a record of another shape.
/// Reads typed fields as they are (a JSON detail through its value).
pub(super) fn describe_invoke(detail: &Detail) -> Option<String> {
    let f = detail.str("f")?;
    let key = detail.str("key")?;
    let text = |v: Option<&Json>| v.and_then(Json::as_str).map(str::to_string);
    Some(match f {
        "get" => format!("get {key}"),
        "put" => format!("put {key}={:?}", detail.str("value")?),
        "append" => format!("append {key}+={:?}", detail.str("value")?),
        "cas" => {
            let pair = detail.get("value")?.as_array()?;
            let (expected, new) = (text(pair.first())?, text(pair.get(1))?);
            format!("cas {key} {expected:?}->{new:?}")
        }
        _ => return None,
    })
}

impl Checker for MpValidity {
    fn name(&self) -> &'static str {
        MP_VALIDITY.name
    }

    /// Reads records only.
    fn interest(&self) -> Interest {
        Interest::Records
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (EventKind::Record(record), Some(node)) = (&event.kind, event.node) else {
            return None;
        };
        let detail = &record.detail;
        if record.kind == "op" {
            if detail.str("type") == Some("invoke") {
                if let Some(command) = describe_invoke(detail) {
                    self.invoked.insert((node.0, command));
                }
            }
            return None;
        }
        if record.kind != "commit" {
            return None;
        }
        let client = detail.u64("client")?;
        let client = u32::try_from(client).ok()?;
        let entry = detail.str("entry")?.to_string();
        if self.invoked.contains(&(client, entry.clone())) {
            return None;
        }
        let index = detail.u64("index").unwrap_or(0);
        let client_name = match (client as usize) < world.len() {
            true => world.name(NodeId(client)).to_string(),
            false => format!("node {client}"),
        };
        Some(Violation {
            name: MP_VALIDITY.violation.into(),
            check: MP_VALIDITY.name.into(),
            severity: Severity::Safety,
            time: event.time,
            nodes: vec![world.name(node).to_string(), client_name.clone()],
            explanation: format!(
                "{} executed {entry} by {client_name} in slot {index} at {}, but {client_name} never invoked it",
                world.name(node),
                event.time
            ),
        })
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}
