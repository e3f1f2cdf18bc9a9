//! The replicated state machine: a string per key, and the client table
//! that makes retried commands apply at most once.
//!
//! Every server applies the same committed entries in the same order, so
//! every server's machine goes through the same states. The dedup table is
//! part of that state: it remembers, per client, the highest `seq` of a
//! write it applied and that write's outcome. A command whose `seq` is at
//! most that is a duplicate (a retry that also made it into the log, or a
//! stale retry of an operation the client gave up on): it changes nothing;
//! an exact duplicate gets the first outcome again, a stale one no answer. Gets change nothing
//! and are not remembered: running one twice answers from a later state,
//! still within the operation's interval.

use super::msg::{ClientCommand, Op, Outcome};
use crate::node::NodeId;
use std::collections::BTreeMap;

/// The last write applied for one client.
#[derive(Debug)]
struct Session {
    seq: u64,
    outcome: Outcome,
}

/// Keys numbered from 0, each holding a string (initially `""`).
#[derive(Debug, Default)]
pub(crate) struct KvMachine {
    values: Vec<String>,
    sessions: BTreeMap<NodeId, Session>,
}

impl KvMachine {
    /// The first keys' values (cut when long) and the number of client
    /// sessions, for the server's state view.
    pub(crate) fn view(&self) -> crate::models::view::Shown {
        use crate::models::view;
        let values = view::first(self.values.iter().map(|v| view::text(v)));
        view::Shown(format!("{values:?} ({} sessions)", self.sessions.len()))
    }

    /// The string under `key`.
    pub(crate) fn get(&self, key: u32) -> &str {
        self.values.get(key as usize).map_or("", String::as_str)
    }

    fn slot(&mut self, key: u32) -> &mut String {
        let i = key as usize;
        if self.values.len() <= i {
            self.values.resize(i + 1, String::new());
        }
        &mut self.values[i]
    }

    /// Applies a committed client command and says how it went (`None`:
    /// a stale duplicate, which nobody waits for).
    pub(crate) fn apply(&mut self, command: &ClientCommand) -> Option<Outcome> {
        if let Op::Get { key } = command.op {
            return Some(Outcome::Value(self.get(key).to_string()));
        }
        if let Some(session) = self.sessions.get(&command.client) {
            if command.seq < session.seq {
                return None;
            }
            if command.seq == session.seq {
                return Some(session.outcome.clone());
            }
        }
        let outcome = self.write(&command.op);
        let session = Session {
            seq: command.seq,
            outcome: outcome.clone(),
        };
        self.sessions.insert(command.client, session);
        Some(outcome)
    }

    fn write(&mut self, op: &Op) -> Outcome {
        match op {
            Op::Get { .. } => unreachable!("gets are answered before dedup"),
            Op::Put { key, value } => {
                value.clone_into(self.slot(*key));
                Outcome::Applied
            }
            Op::Append { key, value } => {
                self.slot(*key).push_str(value);
                Outcome::Applied
            }
            Op::Cas { key, expected, new } => {
                let slot = self.slot(*key);
                if slot != expected {
                    return Outcome::CasFailed;
                }
                new.clone_into(slot);
                Outcome::Applied
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(seq: u64, op: Op) -> ClientCommand {
        ClientCommand {
            client: NodeId(9),
            seq,
            op,
        }
    }

    #[test]
    fn retried_commands_apply_at_most_once() {
        let mut kv = KvMachine::default();
        let append = command(
            1,
            Op::Append {
                key: 0,
                value: "x".into(),
            },
        );
        assert_eq!(kv.apply(&append), Some(Outcome::Applied));
        assert_eq!(kv.apply(&append), Some(Outcome::Applied));
        assert_eq!(kv.get(0), "x");
        let cas = command(
            2,
            Op::Cas {
                key: 0,
                expected: "y".into(),
                new: "z".into(),
            },
        );
        assert_eq!(kv.apply(&cas), Some(Outcome::CasFailed));
        let put = command(
            3,
            Op::Put {
                key: 0,
                value: "y".into(),
            },
        );
        assert_eq!(kv.apply(&put), Some(Outcome::Applied));
        // A late copy of the failed cas must not apply now that it would match.
        assert_eq!(kv.apply(&cas), None);
        assert_eq!(kv.get(0), "y");
        let get = command(4, Op::Get { key: 0 });
        assert_eq!(kv.apply(&get), Some(Outcome::Value("y".into())));
    }
}
