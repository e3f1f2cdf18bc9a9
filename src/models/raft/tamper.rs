//! How a Byzantine Raft server lies ([`crate::fault::byzantine`]): the
//! forged messages its `equivocate` and `corrupt` adversaries send.
//!
//! Raft trusts every message: a follower stores whatever entries the
//! leader of its term sends, a candidate counts every granted vote. So the
//! lies are simple and each one is a message an honest server could have
//! sent, only not to everyone at once:
//!
//! - **equivocate** (different peers, different stories): an
//!   AppendEntries carrying entries gets, for each follower, a different
//!   command at the same index and term (the value written is tagged with
//!   the receiver, `"x"` becomes `"x~n3"`; a no-op or a get becomes a put
//!   of `"forged~n3"` to `k1`), so each follower stores, and later commits,
//!   its own entry; a refused vote is granted, to every candidate that asks
//!   (a vote per candidate in one term).
//! - **corrupt** (plausible garbage): AppendEntries with entries get values
//!   tagged with a random number and a commit index forged past what was
//!   sent; RequestVote and every reply carry a higher term (drawn 1..=3
//!   above), so honest servers step down and re-elect; a get's answer to a
//!   client is a value nobody wrote.
//!
//! Client requests and other messages go out unchanged.

use super::msg::{ClientCommand, Command, Entry, Op, Outcome, RaftMsg};
use crate::fault::byzantine::Tamper;
use crate::node::NodeId;
use std::rc::Rc;

/// Raft's [`Tamper`] (see the module doc).
#[derive(Clone, Copy, Debug, Default)]
pub struct RaftTamper;

/// `command` with its written value tagged by `tag`; a no-op or a get
/// becomes a put of `forged<tag>` to key 0 (by `from`, with a sequence
/// number no client uses).
fn forge(command: &Command, tag: &str, from: NodeId) -> Command {
    let put = |key| Op::Put {
        key,
        value: format!("forged{tag}"),
    };
    match command {
        Command::Noop => Command::Client(ClientCommand {
            client: from,
            seq: u64::MAX,
            op: put(0),
        }),
        Command::Client(c) => {
            let op = match &c.op {
                Op::Get { key } => put(*key),
                Op::Put { key, value } => Op::Put {
                    key: *key,
                    value: format!("{value}{tag}"),
                },
                Op::Append { key, value } => Op::Append {
                    key: *key,
                    value: format!("{value}{tag}"),
                },
                Op::Cas { key, expected, new } => Op::Cas {
                    key: *key,
                    expected: expected.clone(),
                    new: format!("{new}{tag}"),
                },
            };
            Command::Client(ClientCommand {
                client: c.client,
                seq: c.seq,
                op,
            })
        }
    }
}

/// `entries` with every command forged with `tag`, terms kept.
fn forge_entries(entries: &[Entry], tag: &str, from: NodeId) -> Vec<Entry> {
    entries
        .iter()
        .map(|e| Entry {
            term: e.term,
            command: Rc::new(forge(&e.command, tag, from)),
        })
        .collect()
}

impl Tamper<RaftMsg> for RaftTamper {
    fn equivocate(&self, msg: &RaftMsg, from: NodeId, to: NodeId, _draw: u64) -> Option<RaftMsg> {
        match msg {
            RaftMsg::AppendEntries(req) if !req.entries.is_empty() => {
                let mut forged = req.clone();
                forged.entries =
                    forge_entries(&req.entries, &format!("~n{}", to.0 + 1), from).into();
                Some(RaftMsg::AppendEntries(forged))
            }
            RaftMsg::RequestVoteReply(reply) if !reply.granted => {
                let mut forged = reply.clone();
                forged.granted = true;
                Some(RaftMsg::RequestVoteReply(forged))
            }
            _ => None,
        }
    }

    fn corrupt(&self, msg: &RaftMsg, from: NodeId, _to: NodeId, draw: u64) -> Option<RaftMsg> {
        let higher = |term: u64| term + 1 + draw % 3;
        Some(match msg {
            RaftMsg::AppendEntries(req) if !req.entries.is_empty() => {
                let mut forged = req.clone();
                let tag = format!("~{}", draw % 1000);
                forged.entries = forge_entries(&req.entries, &tag, from).into();
                let sent = req.prev_log_index + req.entries.len() as u64;
                forged.leader_commit = forged.leader_commit.max(sent + 1 + draw % 4);
                RaftMsg::AppendEntries(forged)
            }
            RaftMsg::RequestVote(req) => {
                let mut forged = req.clone();
                forged.term = higher(req.term);
                RaftMsg::RequestVote(forged)
            }
            RaftMsg::RequestVoteReply(reply) => {
                let mut forged = reply.clone();
                forged.term = higher(reply.term);
                RaftMsg::RequestVoteReply(forged)
            }
            RaftMsg::AppendEntriesReply(reply) => {
                let mut forged = reply.clone();
                forged.term = higher(reply.term);
                RaftMsg::AppendEntriesReply(forged)
            }
            RaftMsg::ClientReply {
                seq,
                outcome: Outcome::Value(_),
            } => RaftMsg::ClientReply {
                seq: *seq,
                outcome: Outcome::Value(format!("forged~{}", draw % 1000)),
            },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::raft::msg::{AppendRequest, VoteReply};

    fn append(entries: Vec<Entry>) -> RaftMsg {
        RaftMsg::AppendEntries(AppendRequest {
            term: 2,
            prev_log_index: 4,
            prev_log_term: 1,
            entries: entries.into(),
            leader_commit: 4,
            round: 0,
        })
    }

    fn put(value: &str) -> Entry {
        Entry {
            term: 2,
            command: Rc::new(Command::Client(ClientCommand {
                client: NodeId(5),
                seq: 3,
                op: Op::Put {
                    key: 1,
                    value: value.into(),
                },
            })),
        }
    }

    #[test]
    fn equivocation_gives_each_follower_its_own_entry_at_one_index() {
        let msg = append(vec![put("a")]);
        let (from, draw) = (NodeId(0), 7);
        let to_n2 = RaftTamper.equivocate(&msg, from, NodeId(1), draw).unwrap();
        let to_n3 = RaftTamper.equivocate(&msg, from, NodeId(2), draw).unwrap();
        assert_eq!(to_n2, append(vec![put("a~n2")]));
        assert_eq!(to_n3, append(vec![put("a~n3")]));
        // Heartbeats go out as they are; a refused vote is granted.
        assert_eq!(
            RaftTamper.equivocate(&append(vec![]), from, NodeId(1), 0),
            None
        );
        let refused = RaftMsg::RequestVoteReply(VoteReply {
            term: 3,
            granted: false,
            pre_vote: false,
        });
        let RaftMsg::RequestVoteReply(forged) =
            RaftTamper.equivocate(&refused, from, NodeId(1), 0).unwrap()
        else {
            panic!("a vote reply");
        };
        assert!(forged.granted && forged.term == 3);
    }

    #[test]
    fn corruption_forges_values_terms_and_the_commit_index() {
        let msg = append(vec![put("a")]);
        let RaftMsg::AppendEntries(forged) = RaftTamper
            .corrupt(&msg, NodeId(0), NodeId(1), 1005)
            .unwrap()
        else {
            panic!("an append");
        };
        assert_eq!(*forged.entries, [put("a~5")]);
        assert_eq!(forged.leader_commit, 4 + 1 + 1 + 1005 % 4);
        let reply = RaftMsg::RequestVoteReply(VoteReply {
            term: 3,
            granted: true,
            pre_vote: false,
        });
        let RaftMsg::RequestVoteReply(bumped) =
            RaftTamper.corrupt(&reply, NodeId(0), NodeId(1), 2).unwrap()
        else {
            panic!("a vote reply");
        };
        assert_eq!(bumped.term, 3 + 1 + 2);
    }
}
