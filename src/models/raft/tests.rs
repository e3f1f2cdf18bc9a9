//! One test per rule of Figure 2 (named after it), the options, and small
//! clusters run by the engine.
//!
//! Rule tests drive one [`RaftServer`] through a [`Harness`] (a
//! [`NodeHarness`]: a hand-built `Ctx` whose sends, timers and records the
//! test reads back). Cluster tests
//! build a [`crate::engine::Sim`] of servers and clients.

use super::server::{ELECTION, HEARTBEAT, QUORUM};
use super::*;
use crate::engine::{EventKind, SimBuilder, TraceEvent};
use crate::fault::Fault;
use crate::history::{History, OpType};
use crate::models::workload::Workload;
use crate::net::Cut;
use crate::node::testing::NodeHarness;
use crate::node::{Node, NodeId};
use crate::time::{SimDuration, SimTime};
use std::rc::Rc;

fn ms(n: u64) -> SimDuration {
    SimDuration::from_millis(n)
}

/// One server under test (with its parameters, for a restart), and
/// everything it asked for; every handler must sync what it wrote.
struct Harness {
    inner: NodeHarness<RaftMsg, RaftServer>,
    params: RaftParams,
}

impl std::ops::Deref for Harness {
    type Target = NodeHarness<RaftMsg, RaftServer>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl std::ops::DerefMut for Harness {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

impl Harness {
    /// Server `n1` of an `n`-server cluster, started.
    fn new(n: u32, params: RaftParams) -> Harness {
        let mut inner = NodeHarness::new(NodeId(0), RaftServer::new(params))
            .with_peers((1..n).map(NodeId))
            .with_names((1..=n + 1).map(|i| format!("n{i}")))
            .with_seed(1)
            .with_sync_check();
        inner.start();
        Harness { inner, params }
    }

    /// Fires election timers until the server campaigns (they re-arm
    /// lazily when the deadline moved).
    fn time_out(&mut self) -> Vec<(NodeId, RaftMsg)> {
        let role = self.node().role();
        loop {
            let sent = self.fire(ELECTION);
            if self.node().role() != role || !sent.is_empty() {
                return sent;
            }
        }
    }

    /// The crash and restart: unsynced writes lost, a fresh value from disk.
    fn reboot(&mut self) {
        let server = RaftServer::new(self.params);
        self.inner.restart(server);
    }

    /// Campaigns and collects votes from peers until leader.
    fn elect(&mut self) {
        self.time_out();
        if self.node().role() == Role::PreCandidate {
            let term = self.node().term() + 1;
            for p in 1..=self.majority_peers() {
                self.deliver(NodeId(p), pre_vote_reply(term, true));
            }
        }
        let term = self.node().term();
        for p in 1..=self.majority_peers() {
            self.deliver(NodeId(p), vote_reply(term, true));
        }
        assert_eq!(self.node().role(), Role::Leader);
    }

    fn majority_peers(&self) -> u32 {
        let size = self.peers().len() as u32 + 1;
        size / 2
    }
}

fn noop(term: u64) -> Entry {
    Entry {
        term,
        command: Rc::new(Command::Noop),
    }
}

fn put(term: u64, key: u32, value: &str) -> Entry {
    let command = ClientCommand {
        client: NodeId(9),
        seq: u64::from(value.as_bytes()[0]),
        op: Op::Put {
            key,
            value: value.to_string(),
        },
    };
    Entry {
        term,
        command: Rc::new(Command::Client(command)),
    }
}

fn append(term: u64, prev: (u64, u64), entries: Vec<Entry>, leader_commit: u64) -> RaftMsg {
    RaftMsg::AppendEntries(AppendRequest {
        term,
        prev_log_index: prev.0,
        prev_log_term: prev.1,
        entries: entries.into(),
        leader_commit,
        round: 0,
    })
}

fn vote(term: u64, last_log_index: u64, last_log_term: u64) -> RaftMsg {
    RaftMsg::RequestVote(VoteRequest {
        term,
        last_log_index,
        last_log_term,
        pre_vote: false,
    })
}

fn pre_vote(term: u64, last_log_index: u64, last_log_term: u64) -> RaftMsg {
    RaftMsg::RequestVote(VoteRequest {
        term,
        last_log_index,
        last_log_term,
        pre_vote: true,
    })
}

fn vote_reply(term: u64, granted: bool) -> RaftMsg {
    RaftMsg::RequestVoteReply(VoteReply {
        term,
        granted,
        pre_vote: false,
    })
}

fn pre_vote_reply(term: u64, granted: bool) -> RaftMsg {
    RaftMsg::RequestVoteReply(VoteReply {
        term,
        granted,
        pre_vote: true,
    })
}

fn ack(term: u64, match_index: u64, round: u64) -> RaftMsg {
    RaftMsg::AppendEntriesReply(AppendReply {
        term,
        success: true,
        match_index,
        conflict_term: None,
        conflict_index: 0,
        round,
    })
}

fn only_reply(sent: Vec<(NodeId, RaftMsg)>) -> RaftMsg {
    assert_eq!(sent.len(), 1, "expected one message, got {sent:?}");
    sent.into_iter().next().expect("one").1
}

fn vote_granted(sent: Vec<(NodeId, RaftMsg)>) -> (u64, bool) {
    match only_reply(sent) {
        RaftMsg::RequestVoteReply(r) => (r.term, r.granted),
        other => panic!("expected a vote reply, got {other:?}"),
    }
}

fn append_result(sent: Vec<(NodeId, RaftMsg)>) -> AppendReply {
    match only_reply(sent) {
        RaftMsg::AppendEntriesReply(r) => r,
        other => panic!("expected an append reply, got {other:?}"),
    }
}

fn appends_to_peers(sent: &[(NodeId, RaftMsg)]) -> Vec<(NodeId, &AppendRequest)> {
    sent.iter()
        .filter_map(|(to, m)| match m {
            RaftMsg::AppendEntries(a) => Some((*to, a)),
            _ => None,
        })
        .collect()
}

/// A follower whose log holds entries of the given terms (from a leader n2).
fn follower_with_log(n: u32, terms: &[u64]) -> Harness {
    let mut h = Harness::new(n, RaftParams::default());
    let top = terms.iter().copied().max().unwrap_or(1);
    let entries = terms.iter().map(|&t| noop(t)).collect();
    let reply = append_result(h.deliver(NodeId(1), append(top, (0, 0), entries, 0)));
    assert!(reply.success);
    h
}

// ----- Rules for all servers ----------------------------------------------

#[test]
fn rules_for_all_servers_higher_term_converts_to_follower() {
    let mut h = Harness::new(3, RaftParams::default());
    h.elect();
    let term = h.node().term();
    h.deliver(NodeId(1), ack(term + 3, 0, 0));
    assert_eq!(h.node().role(), Role::Follower);
    assert_eq!(h.node().term(), term + 3);
    assert_eq!(h.node().voted_for(), None);
    // A candidate, too, yields to a vote request of a higher term.
    h.time_out();
    assert_eq!(h.node().role(), Role::Candidate);
    let (t, granted) = vote_granted(h.deliver(NodeId(2), vote(term + 9, 0, 0)));
    assert_eq!(
        (h.node().role(), t, granted),
        (Role::Follower, term + 9, false)
    );
}

#[test]
fn rules_for_all_servers_apply_committed_entries_in_order() {
    let mut h = Harness::new(3, RaftParams::default());
    let entries = vec![put(1, 0, "a"), put(1, 0, "b"), put(1, 1, "c")];
    h.deliver(NodeId(1), append(1, (0, 0), entries, 2));
    assert_eq!(h.node().last_applied(), 2);
    assert_eq!(h.node().value(0), "b");
    assert_eq!(h.node().value(1), "");
    h.deliver(NodeId(1), append(1, (3, 1), vec![], 3));
    assert_eq!(h.node().value(1), "c");
    let indexes: Vec<u64> = h
        .records_of("commit")
        .iter()
        .map(|d| d["index"].as_u64().expect("index"))
        .collect();
    assert_eq!(indexes, [1, 2, 3]);
    let versions: Vec<u64> = h
        .records_of("state")
        .iter()
        .map(|d| d["version"].as_u64().expect("version"))
        .collect();
    assert_eq!(versions, [0, 2, 3], "one state record per apply batch");
}

#[test]
fn lane_note_is_the_commit_index_of_each_commit_record() {
    use crate::model::Model;
    use crate::node::Record;
    let mut h = Harness::new(3, RaftParams::default());
    let entries = vec![put(1, 0, "a"), put(1, 0, "b"), put(1, 1, "c")];
    h.deliver(NodeId(1), append(1, (0, 0), entries, 3));
    let note = |kind: &str, detail: &serde_json::Value| {
        let record = Record {
            kind: kind.to_string().into(),
            detail: detail.clone().into(),
        };
        RaftModel.lane_note(&h.params, &record)
    };
    let notes: Vec<_> = h
        .records_of("commit")
        .iter()
        .map(|d| note("commit", d))
        .collect();
    assert_eq!(
        notes,
        [Some("c1".into()), Some("c2".into()), Some("c3".into())]
    );
    let state = h.records_of("state");
    assert!(!state.is_empty() && state.iter().all(|d| note("state", d).is_none()));
}

#[test]
fn a_server_records_candidate_with_its_term_when_it_starts_an_election() {
    use crate::model::Model;
    let mut h = Harness::new(3, RaftParams::default());
    h.time_out();
    assert_eq!(h.node().role(), Role::Candidate);
    assert_eq!(
        h.records_of("candidate"),
        [&serde_json::json!({ "term": 1 })]
    );
    let record = crate::node::Record {
        kind: "candidate".into(),
        detail: serde_json::json!({ "term": 1 }).into(),
    };
    let line = RaftModel.narrate(&h.params, &record);
    assert_eq!(line.as_deref(), Some("becomes candidate for term 1"));
    // With PreVote, the pre-vote round records nothing; the election does.
    let mut h = Harness::new(3, with_options(true, false));
    h.time_out();
    assert_eq!(h.node().role(), Role::PreCandidate);
    assert!(h.records_of("candidate").is_empty());
    h.deliver(NodeId(1), pre_vote_reply(1, true));
    assert_eq!(h.node().role(), Role::Candidate);
    assert_eq!(
        h.records_of("candidate"),
        [&serde_json::json!({ "term": 1 })]
    );
}

// ----- RequestVote ------------------------------------------------------------

#[test]
fn request_vote_reply_false_if_term_lt_current_term() {
    let mut h = follower_with_log(3, &[]);
    h.deliver(NodeId(1), append(5, (0, 0), vec![], 0));
    assert_eq!(h.node().term(), 5);
    let (term, granted) = vote_granted(h.deliver(NodeId(2), vote(4, 10, 4)));
    assert_eq!((term, granted), (5, false));
    assert_eq!(h.node().voted_for(), None);
}

#[test]
fn request_vote_grants_only_if_log_up_to_date() {
    // Our log: terms [1, 2]. A longer log with an older last term loses;
    // the same last term needs at least our length.
    let mut h = follower_with_log(5, &[1, 2]);
    assert!(
        !vote_granted(h.deliver(NodeId(2), vote(3, 5, 1))).1,
        "older last term"
    );
    assert!(
        !vote_granted(h.deliver(NodeId(3), vote(3, 1, 2))).1,
        "shorter, same last term"
    );
    assert_eq!(h.node().voted_for(), None);
    assert!(
        vote_granted(h.deliver(NodeId(4), vote(3, 2, 2))).1,
        "same last entry"
    );
    assert_eq!(h.node().voted_for(), Some(NodeId(4)));
    let mut h = follower_with_log(5, &[1, 2]);
    assert!(
        vote_granted(h.deliver(NodeId(2), vote(4, 1, 3))).1,
        "later last term"
    );
}

#[test]
fn votes_at_most_once_per_term() {
    let mut h = Harness::new(5, RaftParams::default());
    assert_eq!(vote_granted(h.deliver(NodeId(1), vote(1, 0, 0))), (1, true));
    assert_eq!(
        vote_granted(h.deliver(NodeId(2), vote(1, 0, 0))),
        (1, false)
    );
    assert_eq!(
        vote_granted(h.deliver(NodeId(1), vote(1, 0, 0))),
        (1, true),
        "a retry"
    );
    assert_eq!(
        vote_granted(h.deliver(NodeId(2), vote(2, 0, 0))),
        (2, true),
        "a new term"
    );
}

// ----- AppendEntries ----------------------------------------------------------

#[test]
fn append_entries_reply_false_if_term_lt_current_term() {
    let mut h = follower_with_log(3, &[1, 1]);
    h.deliver(NodeId(2), append(4, (2, 1), vec![], 0));
    let reply = append_result(h.deliver(NodeId(1), append(3, (2, 1), vec![noop(3)], 0)));
    assert!(!reply.success);
    assert_eq!(reply.term, 4);
    assert_eq!(h.node().last_log_index(), 2, "nothing appended");
    assert_eq!(h.node().leader(), Some(NodeId(2)));
}

#[test]
fn append_entries_reply_false_if_log_lacks_prev_entry() {
    let mut h = follower_with_log(3, &[1, 1, 2, 2]);
    // Too short: the hint is our end.
    let reply = append_result(h.deliver(NodeId(1), append(3, (7, 3), vec![noop(3)], 0)));
    assert!(!reply.success);
    assert_eq!((reply.conflict_term, reply.conflict_index), (None, 5));
    // Wrong term at prev: the hint is that term and where it starts.
    let reply = append_result(h.deliver(NodeId(1), append(3, (4, 3), vec![noop(3)], 0)));
    assert!(!reply.success);
    assert_eq!((reply.conflict_term, reply.conflict_index), (Some(2), 3));
    assert_eq!(h.node().last_log_index(), 4);
}

#[test]
fn append_entries_deletes_conflicting_entries() {
    let mut h = follower_with_log(3, &[1, 1, 2, 2]);
    let reply = append_result(h.deliver(NodeId(1), append(3, (2, 1), vec![noop(3)], 0)));
    assert!(reply.success);
    assert_eq!(reply.match_index, 3);
    assert_eq!(
        h.node().last_log_index(),
        3,
        "entries 3 and 4 of term 2 are gone"
    );
    assert_eq!(h.node().log_term_at(3), Some(3));
    h.reboot();
    assert_eq!(h.node().last_log_index(), 3, "the truncation was synced");
}

#[test]
fn append_entries_appends_new_entries() {
    let mut h = follower_with_log(3, &[1]);
    let reply = append_result(h.deliver(NodeId(1), append(1, (1, 1), vec![noop(1), noop(1)], 0)));
    assert_eq!((reply.success, reply.match_index), (true, 3));
    // A late copy of an earlier, shorter request changes nothing.
    let reply = append_result(h.deliver(NodeId(1), append(1, (0, 0), vec![noop(1)], 0)));
    assert_eq!((reply.success, reply.match_index), (true, 1));
    assert_eq!(h.node().last_log_index(), 3);
}

#[test]
fn append_entries_advances_commit_to_min_leader_commit_last_new() {
    let mut h = follower_with_log(3, &[]);
    h.deliver(NodeId(1), append(1, (0, 0), vec![noop(1), noop(1)], 9));
    assert_eq!(h.node().commit_index(), 2, "only up to the last new entry");
    h.deliver(NodeId(1), append(1, (2, 1), vec![noop(1)], 2));
    assert_eq!(h.node().commit_index(), 2, "leaderCommit bounds it");
    h.deliver(NodeId(1), append(1, (1, 1), vec![], 1));
    assert_eq!(h.node().commit_index(), 2, "never goes back");
    h.deliver(NodeId(1), append(1, (3, 1), vec![], 3));
    assert_eq!(h.node().commit_index(), 3);
}

// ----- Candidates ---------------------------------------------------------------

#[test]
fn candidate_becomes_leader_with_majority() {
    let mut h = Harness::new(5, RaftParams::default());
    let sent = h.time_out();
    assert_eq!(h.node().role(), Role::Candidate);
    assert_eq!(h.node().term(), 1);
    assert_eq!(h.node().voted_for(), Some(NodeId(0)));
    assert_eq!(sent.len(), 4, "RequestVote to every other server");
    h.deliver(NodeId(1), vote_reply(1, true));
    h.deliver(NodeId(1), vote_reply(1, true));
    h.deliver(NodeId(2), vote_reply(1, false));
    assert_eq!(
        h.node().role(),
        Role::Candidate,
        "2 of 5 votes, one counted twice"
    );
    let sent = h.deliver(NodeId(3), vote_reply(1, true));
    assert_eq!(h.node().role(), Role::Leader);
    assert_eq!(h.records_of("leader"), [&serde_json::json!({ "term": 1 })]);
    let appends = appends_to_peers(&sent);
    assert_eq!(appends.len(), 4);
    assert!(
        appends.iter().all(|(_, a)| *a.entries == [noop(1)]),
        "the no-op"
    );
}

#[test]
fn candidate_steps_down_on_append_entries_from_current_leader() {
    let mut h = Harness::new(3, RaftParams::default());
    h.time_out();
    assert_eq!((h.node().role(), h.node().term()), (Role::Candidate, 1));
    let reply = append_result(h.deliver(NodeId(2), append(1, (0, 0), vec![noop(1)], 0)));
    assert!(reply.success);
    assert_eq!(h.node().role(), Role::Follower);
    assert_eq!((h.node().term(), h.node().leader()), (1, Some(NodeId(2))));
    assert_eq!(h.node().voted_for(), Some(NodeId(0)), "its vote stands");
}

#[test]
fn candidate_starts_new_election_on_timeout() {
    let mut h = Harness::new(3, RaftParams::default());
    h.time_out();
    let sent = h.time_out();
    assert_eq!((h.node().role(), h.node().term()), (Role::Candidate, 2));
    assert_eq!(sent.len(), 2);
}

// ----- Leaders ------------------------------------------------------------------

#[test]
fn leader_sends_heartbeats() {
    let mut h = Harness::new(3, RaftParams::default());
    h.elect();
    for _ in 0..3 {
        let sent = h.fire(HEARTBEAT);
        let appends = appends_to_peers(&sent);
        let to: Vec<NodeId> = appends.iter().map(|(to, _)| *to).collect();
        assert_eq!(to, [NodeId(1), NodeId(2)]);
    }
}

#[test]
fn leader_commits_only_current_term_entries_by_counting() {
    // Figure 8: n1 holds an entry of term 2 at index 1, becomes leader of
    // term 3 and appends its no-op at index 2. A majority storing index 1
    // does not commit it; a majority storing index 2 commits both.
    let mut h = follower_with_log(5, &[2]);
    h.elect();
    let term = h.node().term();
    assert_eq!(term, 3);
    assert_eq!(h.node().last_log_index(), 2);
    h.deliver(NodeId(1), ack(term, 1, 0));
    h.deliver(NodeId(2), ack(term, 1, 0));
    assert_eq!(
        h.node().commit_index(),
        0,
        "index 1 is on 3 of 5, but of term 2"
    );
    h.deliver(NodeId(1), ack(term, 2, 0));
    assert_eq!(h.node().commit_index(), 0, "index 2 is on 2 of 5");
    h.deliver(NodeId(2), ack(term, 2, 0));
    assert_eq!(h.node().commit_index(), 2);
    assert_eq!(h.records_of("commit").len(), 2);
}

#[test]
fn leader_backtracks_a_whole_term_per_rejection() {
    // Leader log terms [1, 1, 1, 4 (no-op)]; a follower holding [1, 2, 2, 2]
    // rejects prev (4, 1) with conflict term 2 starting at 2: the leader,
    // having no entry of term 2, retries from index 2 at once.
    let mut h = follower_with_log(3, &[1, 1, 1]);
    h.deliver(NodeId(2), vote(3, 0, 0));
    h.elect();
    let term = h.node().term();
    assert_eq!((term, h.node().last_log_index()), (4, 4));
    let reject = RaftMsg::AppendEntriesReply(AppendReply {
        term,
        success: false,
        match_index: 0,
        conflict_term: Some(2),
        conflict_index: 2,
        round: 0,
    });
    let sent = h.deliver(NodeId(1), reject);
    let appends = appends_to_peers(&sent);
    assert_eq!(appends.len(), 1);
    assert_eq!(appends[0].1.prev_log_index, 1);
    assert_eq!(appends[0].1.entries.len(), 3);
}

#[test]
fn leader_replicates_client_command_and_replies_when_applied() {
    let mut h = Harness::new(3, RaftParams::default());
    h.elect();
    let term = h.node().term();
    h.deliver(NodeId(1), ack(term, 1, 0));
    let command = ClientCommand {
        client: NodeId(3),
        seq: 1,
        op: Op::Append {
            key: 0,
            value: "x".into(),
        },
    };
    let sent = h.deliver(NodeId(3), RaftMsg::ClientRequest(command.clone()));
    assert_eq!(
        appends_to_peers(&sent).len(),
        1,
        "sent to the follower that is not probing"
    );
    let sent = h.deliver(NodeId(1), ack(term, 2, 0));
    let reply = RaftMsg::ClientReply {
        seq: 1,
        outcome: Outcome::Applied,
    };
    assert_eq!(sent, [(NodeId(3), reply.clone())]);
    // A retry of the same command is logged again but applied once.
    h.deliver(NodeId(3), RaftMsg::ClientRequest(command));
    let sent = h.deliver(NodeId(1), ack(term, 3, 0));
    assert_eq!(sent, [(NodeId(3), reply)]);
    assert_eq!(h.node().value(0), "x");
}

#[test]
fn follower_points_clients_to_the_leader() {
    let mut h = follower_with_log(3, &[1]);
    let command = ClientCommand {
        client: NodeId(3),
        seq: 1,
        op: Op::Get { key: 0 },
    };
    let sent = h.deliver(NodeId(3), RaftMsg::ClientRequest(command));
    let outcome = Outcome::NotLeader {
        leader_hint: Some(NodeId(1)),
    };
    assert_eq!(
        sent,
        [(NodeId(3), RaftMsg::ClientReply { seq: 1, outcome })]
    );
}

// ----- Persistence --------------------------------------------------------------

#[test]
fn persistent_state_survives_restart() {
    let mut h = follower_with_log(3, &[1, 1]);
    h.deliver(NodeId(1), append(1, (2, 1), vec![], 2));
    assert!(vote_granted(h.deliver(NodeId(2), vote(4, 2, 1))).1);
    assert_eq!(h.node().commit_index(), 2);
    h.reboot();
    assert_eq!(h.node().term(), 4);
    assert_eq!(h.node().voted_for(), Some(NodeId(2)));
    assert_eq!(h.node().last_log_index(), 2);
    assert_eq!(h.node().log_term_at(2), Some(1));
    assert_eq!(h.node().role(), Role::Follower);
    assert_eq!(
        (h.node().commit_index(), h.node().last_applied()),
        (0, 0),
        "volatile"
    );
    assert!(
        !vote_granted(h.deliver(NodeId(1), vote(4, 9, 3))).1,
        "no second vote in term 4"
    );
}

// ----- PreVote and CheckQuorum ----------------------------------------------------

fn with_options(pre_vote: bool, check_quorum: bool) -> RaftParams {
    RaftParams {
        pre_vote,
        check_quorum,
        ..RaftParams::default()
    }
}

#[test]
fn pre_vote_campaign_changes_no_term_until_a_majority_agrees() {
    let mut h = Harness::new(3, with_options(true, false));
    let sent = h.time_out();
    assert_eq!((h.node().role(), h.node().term()), (Role::PreCandidate, 0));
    assert!(sent
        .iter()
        .all(|(_, m)| matches!(m, RaftMsg::RequestVote(v) if v.pre_vote && v.term == 1)));
    h.time_out();
    assert_eq!(
        (h.node().role(), h.node().term()),
        (Role::PreCandidate, 0),
        "still no term"
    );
    let sent = h.deliver(NodeId(1), pre_vote_reply(1, true));
    assert_eq!((h.node().role(), h.node().term()), (Role::Candidate, 1));
    assert!(sent
        .iter()
        .all(|(_, m)| matches!(m, RaftMsg::RequestVote(v) if !v.pre_vote)));
}

#[test]
fn pre_vote_receiver_grants_without_changing_its_term() {
    let mut h = follower_with_log(3, &[1]);
    let (term, granted) = vote_granted(h.deliver(NodeId(2), pre_vote(2, 1, 1)));
    assert_eq!((term, granted), (2, true));
    assert_eq!((h.node().term(), h.node().voted_for()), (1, None));
    let (term, granted) = vote_granted(h.deliver(NodeId(2), pre_vote(2, 0, 0)));
    assert_eq!((term, granted), (1, false), "stale log");
}

#[test]
fn leader_stickiness_rejects_votes_within_lease() {
    for params in [with_options(true, false), with_options(false, true)] {
        let mut h = Harness::new(3, params);
        h.deliver(NodeId(1), append(1, (0, 0), vec![noop(1)], 0));
        let (term, granted) = vote_granted(h.deliver(NodeId(2), pre_vote(2, 5, 5)));
        assert_eq!((term, granted), (1, false), "pre-vote in lease");
        let (term, granted) = vote_granted(h.deliver(NodeId(2), vote(2, 5, 5)));
        assert_eq!((term, granted), (1, false), "vote in lease");
        assert_eq!(h.node().term(), 1, "the term did not move");
        h.advance(params.election_timeout_min);
        assert_eq!(
            vote_granted(h.deliver(NodeId(2), vote(2, 5, 5))),
            (2, true),
            "lease over"
        );
    }
    // Without either option, plain Raft grants at once.
    let mut h = Harness::new(3, RaftParams::default());
    h.deliver(NodeId(1), append(1, (0, 0), vec![noop(1)], 0));
    assert_eq!(vote_granted(h.deliver(NodeId(2), vote(2, 5, 5))), (2, true));
}

#[test]
fn check_quorum_leader_steps_down_without_majority() {
    let mut h = Harness::new(5, with_options(false, true));
    h.elect();
    let term = h.node().term();
    h.deliver(NodeId(1), ack(term, 1, 0));
    h.deliver(NodeId(2), ack(term, 1, 0));
    h.fire(QUORUM);
    assert_eq!(h.node().role(), Role::Leader, "heard from 3 of 5");
    h.deliver(NodeId(1), ack(term, 1, 0));
    h.fire(QUORUM);
    assert_eq!(h.node().role(), Role::Follower, "heard from 2 of 5");
    assert_eq!(h.node().term(), term);
    assert!(
        h.timers().iter().all(|(t, _)| t.tag() == ELECTION),
        "leader timers cancelled"
    );
}

// ----- Role records -----------------------------------------------------------------

#[test]
fn a_leader_that_stops_leading_records_the_term_it_led() {
    let mut h = Harness::new(3, RaftParams::default());
    h.elect();
    let term = h.node().term();
    assert!(h.records_of("stepped_down").is_empty());
    h.deliver(NodeId(1), ack(term + 2, 0, 0));
    assert_eq!(h.node().role(), Role::Follower);
    assert_eq!(
        h.records_of("stepped_down"),
        [&serde_json::json!({ "term": term })],
        "the term it led, not the one it saw"
    );
    // A candidate that yields records nothing: it never led.
    h.time_out();
    h.deliver(NodeId(2), vote(term + 9, 0, 0));
    assert_eq!(h.records_of("stepped_down").len(), 1);
    // CheckQuorum: the same term.
    let mut h = Harness::new(3, with_options(false, true));
    h.elect();
    h.fire(QUORUM);
    assert_eq!(
        h.records_of("stepped_down"),
        [&serde_json::json!({ "term": h.node().term() })]
    );
}

#[test]
fn a_follower_records_the_first_append_entries_of_each_terms_leader() {
    let mut h = Harness::new(3, RaftParams::default());
    let follow = |term: u64, leader: &str| serde_json::json!({ "term": term, "leader": leader });
    h.deliver(NodeId(1), append(1, (0, 0), vec![noop(1)], 0));
    h.deliver(NodeId(1), append(1, (1, 1), vec![], 1));
    assert_eq!(h.records_of("follow"), [&follow(1, "n2")], "once per term");
    // Stale AppendEntries are not accepted and not recorded.
    h.deliver(NodeId(2), append(3, (1, 1), vec![], 1));
    h.deliver(NodeId(1), append(1, (1, 1), vec![], 1));
    // A rejected log check still recognises the leader.
    h.deliver(NodeId(2), append(3, (5, 3), vec![], 1));
    assert_eq!(h.records_of("follow"), [&follow(1, "n2"), &follow(3, "n3")]);
    // After a restart, it records its term's leader again.
    h.reboot();
    h.deliver(NodeId(2), append(3, (1, 1), vec![], 1));
    assert_eq!(h.records_of("follow").len(), 3);
}

// ----- ReadIndex --------------------------------------------------------------------

#[test]
fn read_index_answers_after_quorum_heartbeat_and_apply() {
    let params = RaftParams {
        reads: RaftReads::ReadIndex,
        ..RaftParams::default()
    };
    let mut h = Harness::new(3, params);
    h.elect();
    let term = h.node().term();
    let get = ClientCommand {
        client: NodeId(3),
        seq: 7,
        op: Op::Get { key: 0 },
    };
    let sent = h.deliver(NodeId(3), RaftMsg::ClientRequest(get.clone()));
    let rounds: Vec<u64> = appends_to_peers(&sent)
        .iter()
        .map(|(_, a)| a.round)
        .collect();
    assert_eq!(rounds, [1, 1], "a heartbeat round for the read");
    assert_eq!(h.node().last_log_index(), 1, "reads take no log entry");
    let sent = h.deliver(NodeId(1), ack(term, 0, 1));
    assert!(
        appends_to_peers(&sent).len() == 1 && sent.len() == 1,
        "confirmed, but the no-op is not committed"
    );
    let sent = h.deliver(NodeId(2), ack(term, 1, 0));
    let reply = RaftMsg::ClientReply {
        seq: 7,
        outcome: Outcome::Value(String::new()),
    };
    assert_eq!(
        sent,
        [(NodeId(3), reply)],
        "no-op committed and applied: answered"
    );
    // A read whose round is not acknowledged by a majority waits.
    let sent = h.deliver(NodeId(3), RaftMsg::ClientRequest(get));
    assert_eq!(appends_to_peers(&sent).len(), 2);
    assert!(
        h.deliver(NodeId(1), ack(term, 1, 1)).is_empty(),
        "round 1 < round 2"
    );
    let sent = h.deliver(NodeId(1), ack(term, 1, 2));
    assert_eq!(sent.len(), 1, "answered after round 2 is acknowledged");
}

#[test]
fn read_index_leader_that_steps_down_refuses_its_pending_reads() {
    let params = RaftParams {
        reads: RaftReads::ReadIndex,
        ..RaftParams::default()
    };
    let mut h = Harness::new(3, params);
    h.elect();
    let get = ClientCommand {
        client: NodeId(3),
        seq: 1,
        op: Op::Get { key: 0 },
    };
    h.deliver(NodeId(3), RaftMsg::ClientRequest(get));
    let next_term = h.node().term() + 1;
    let sent = h.deliver(NodeId(1), ack(next_term, 0, 0));
    let outcome = Outcome::NotLeader { leader_hint: None };
    assert_eq!(
        sent,
        [(NodeId(3), RaftMsg::ClientReply { seq: 1, outcome })]
    );
}

// ----- Clusters in the engine -------------------------------------------------------

const SERVERS: u32 = 5;

fn workload(clients: u32) -> Workload {
    Workload {
        clients,
        think_min: ms(0),
        think_max: ms(10),
        timeout: ms(300),
        read_ppm: 300_000,
        keys: 3,
    }
}

/// `SERVERS` servers then `clients` clients; servers see servers, clients
/// see servers.
fn cluster(seed: u64, params: RaftParams, clients: u32) -> crate::engine::Sim<RaftMsg> {
    let total = SERVERS + clients;
    let servers: Vec<NodeId> = (0..SERVERS).map(NodeId).collect();
    let peers = (0..total)
        .map(|i| servers.iter().copied().filter(|s| s.0 != i).collect())
        .collect();
    let names = (0..total)
        .map(|i| match i < SERVERS {
            true => format!("n{}", i + 1),
            false => format!("c{}", i - SERVERS + 1),
        })
        .collect();
    let wl = workload(clients);
    SimBuilder::new(seed, total as usize, move |id: NodeId| {
        if id.0 < SERVERS {
            Box::new(RaftServer::new(params)) as Box<dyn Node<RaftMsg>>
        } else {
            Box::new(RaftClient::new(wl, id.0 - SERVERS))
        }
    })
    .names(names)
    .peers(peers)
    .build()
}

fn run(sim: &mut crate::engine::Sim<RaftMsg>, until_ms: u64, out: &mut Vec<TraceEvent>) {
    sim.run_until(SimTime(until_ms * 1_000_000), |e| {
        if matches!(e.kind, EventKind::Record(_)) {
            out.push(e.clone());
        }
        true
    });
}

fn records<'a>(
    events: &'a [TraceEvent],
    kind: &'a str,
) -> impl Iterator<Item = (NodeId, &'a serde_json::Value)> + 'a {
    events.iter().filter_map(move |e| match &e.kind {
        EventKind::Record(r) if r.kind == kind => Some((e.node.expect("a node"), &*r.detail)),
        _ => None,
    })
}

fn history(events: &[TraceEvent]) -> History {
    History {
        events: events
            .iter()
            .filter_map(crate::scenario::run::history_event)
            .collect(),
    }
}

fn leaders(events: &[TraceEvent]) -> Vec<(u64, NodeId)> {
    records(events, "leader")
        .map(|(n, d)| (d["term"].as_u64().expect("term"), n))
        .collect()
}

fn assert_linearizable(events: &[TraceEvent]) {
    use crate::check::linearizability::{check, LinModel, LinOptions, LinVerdict};
    let report = check(
        &history(events),
        LinModel::Kv,
        &LinOptions::default(),
        &|| false,
    )
    .expect("a well-formed history");
    assert_eq!(
        report.verdict,
        LinVerdict::Linearizable,
        "{:?}",
        report.explanation
    );
}

fn ok_ops(events: &[TraceEvent]) -> usize {
    history(events)
        .events
        .iter()
        .filter(|e| e.kind == OpType::Ok)
        .count()
}

#[test]
fn cluster_elects_one_leader_and_serves_clients() {
    let mut sim = cluster(3, RaftParams::default(), 2);
    let mut events = Vec::new();
    run(&mut sim, 2000, &mut events);
    let elected = leaders(&events);
    assert!(!elected.is_empty(), "no leader in 2s");
    assert!(
        ok_ops(&events) > 50,
        "only {} ops completed",
        ok_ops(&events)
    );
    assert_linearizable(&events);
}

#[test]
fn cluster_replaces_a_crashed_leader() {
    for reads in [RaftReads::Log, RaftReads::ReadIndex] {
        let params = RaftParams {
            reads,
            pre_vote: true,
            check_quorum: true,
            ..RaftParams::default()
        };
        let mut sim = cluster(11, params, 3);
        let mut events = Vec::new();
        run(&mut sim, 1000, &mut events);
        let (term, leader) = *leaders(&events).last().expect("a leader");
        sim.apply(Fault::Crash(leader));
        let before = ok_ops(&events);
        run(&mut sim, 3000, &mut events);
        let (new_term, new_leader) = *leaders(&events).last().expect("a leader");
        assert!(
            new_term > term && new_leader != leader,
            "{reads:?}: no new leader"
        );
        assert!(ok_ops(&events) > before + 50, "{reads:?}: clients stalled");
        sim.apply(Fault::Restart(leader));
        run(&mut sim, 4000, &mut events);
        assert_linearizable(&events);
    }
}

#[test]
fn cluster_minority_leader_cannot_commit_and_majority_moves_on() {
    let params = with_options(true, true);
    let mut sim = cluster(5, params, 3);
    let mut events = Vec::new();
    run(&mut sim, 1000, &mut events);
    let (term, leader) = *leaders(&events).last().expect("a leader");
    let other = NodeId((leader.0 + 1) % SERVERS);
    let minority = vec![leader, other];
    let majority: Vec<NodeId> = (0..SERVERS + 3)
        .map(NodeId)
        .filter(|n| !minority.contains(n))
        .collect();
    sim.apply(Fault::Partition(Cut::Groups(vec![minority, majority])));
    run(&mut sim, 3000, &mut events);
    let after: Vec<(u64, NodeId)> = leaders(&events)
        .into_iter()
        .filter(|(t, _)| *t > term)
        .collect();
    assert!(!after.is_empty(), "the majority elected no leader");
    assert!(after.iter().all(|(_, n)| *n != leader && *n != other));
    sim.apply(Fault::Heal);
    run(&mut sim, 5000, &mut events);
    assert_linearizable(&events);
}

#[test]
fn ops_describe_as_their_debug_quoting_reads() {
    use super::msg::Op;
    for text in ["", "a", "x y", "q\"uote", "back\\slash", "tab\t", "é", "7"] {
        let value = text.to_string();
        let cases = [
            (Op::Get { key: 0 }, "get k1".to_string()),
            (
                Op::Put {
                    key: 9,
                    value: value.clone(),
                },
                format!("put k10={value:?}"),
            ),
            (
                Op::Append {
                    key: 41,
                    value: value.clone(),
                },
                format!("append k42+={value:?}"),
            ),
            (
                Op::Cas {
                    key: u32::MAX - 1,
                    expected: value.clone(),
                    new: "n".into(),
                },
                format!("cas k{} {value:?}->\"n\"", u32::MAX),
            ),
        ];
        for (op, expected) in cases {
            assert_eq!(op.describe(), expected);
        }
    }
}

#[test]
fn leader_skips_heartbeats_to_followers_it_just_sent_to() {
    let mut h = Harness::new(3, RaftParams::default());
    h.elect();
    let term = h.node().term();
    h.fire(HEARTBEAT);
    h.deliver(NodeId(1), ack(term, 1, 0));
    h.deliver(NodeId(2), ack(term, 1, 0));
    h.advance(ms(40));
    let command = ClientCommand {
        client: NodeId(3),
        seq: 1,
        op: Op::Get { key: 0 },
    };
    h.deliver(NodeId(3), RaftMsg::ClientRequest(command));
    let sent = h.fire(HEARTBEAT);
    assert!(
        appends_to_peers(&sent).is_empty(),
        "both were sent the command 10ms ago"
    );
    let sent = h.fire(HEARTBEAT);
    assert_eq!(appends_to_peers(&sent).len(), 2);
}

// ----- Famous bugs ------------------------------------------------------------

/// The default parameters with the famous mistakes `bugs` switched on.
fn with_bugs(bugs: &[&str]) -> RaftParams {
    let names: Vec<String> = bugs.iter().map(|b| b.to_string()).collect();
    RaftParams {
        bugs: crate::models::bugs::Bugs::parse(&names, KNOWN_BUGS).expect("known bugs"),
        ..RaftParams::default()
    }
}

#[test]
fn every_known_bug_parses_and_an_unknown_one_is_refused() {
    for bug in KNOWN_BUGS {
        assert!(with_bugs(&[bug.name]).bugs.has(bug.name));
        assert!(!bug.about.is_empty() && !bug.about.contains('\n'));
    }
    let err = crate::models::bugs::Bugs::parse(&["votes_twice".into()], KNOWN_BUGS).unwrap_err();
    assert!(err.message.contains("vote_not_synced"), "{}", err.message);
}

#[test]
fn bug_vote_not_synced_forgets_a_vote_across_a_crash_and_votes_twice() {
    for bug in [false, true] {
        let params = if bug {
            with_bugs(&["vote_not_synced"])
        } else {
            RaftParams::default()
        };
        let mut h = Harness::new(5, params);
        assert_eq!(vote_granted(h.deliver(NodeId(1), vote(1, 0, 0))), (1, true));
        h.reboot(); // crashed right after replying
        assert_eq!(h.node().term(), 1, "the term was synced either way");
        let second = vote_granted(h.deliver(NodeId(2), vote(1, 0, 0)));
        assert_eq!(second, (1, bug), "bug {bug}: a second vote in term 1");
    }
}

#[test]
fn bug_term_not_persisted_lets_a_restarted_server_vote_again_in_a_term() {
    for bug in [false, true] {
        let params = if bug {
            with_bugs(&["term_not_persisted"])
        } else {
            RaftParams::default()
        };
        let mut h = Harness::new(5, params);
        assert_eq!(vote_granted(h.deliver(NodeId(1), vote(4, 0, 0))), (4, true));
        h.reboot();
        assert_eq!(h.node().term(), if bug { 0 } else { 4 });
        let second = vote_granted(h.deliver(NodeId(2), vote(4, 0, 0)));
        assert_eq!(second, (4, bug), "bug {bug}: a second vote in term 4");
    }
}

#[test]
fn bug_figure8_commit_commits_an_old_term_entry_by_counting_replicas() {
    for bug in [false, true] {
        let params = if bug {
            with_bugs(&["figure8_commit"])
        } else {
            RaftParams::default()
        };
        let mut h = Harness::new(5, params);
        h.deliver(NodeId(1), append(2, (0, 0), vec![noop(2)], 0));
        h.elect();
        let term = h.node().term();
        assert_eq!((term, h.node().last_log_index()), (3, 2));
        h.deliver(NodeId(1), ack(term, 1, 0));
        h.deliver(NodeId(2), ack(term, 1, 0));
        assert_eq!(
            h.node().commit_index(),
            u64::from(bug),
            "bug {bug}: index 1 (term 2) is on 3 of 5"
        );
    }
}

#[test]
fn bug_no_step_down_keeps_a_leader_that_saw_a_higher_term() {
    for bug in [false, true] {
        let params = if bug {
            with_bugs(&["no_step_down"])
        } else {
            RaftParams::default()
        };
        let mut h = Harness::new(3, params);
        h.elect();
        let term = h.node().term();
        h.deliver(NodeId(1), ack(term + 5, 0, 0));
        assert_eq!(h.node().role() == Role::Leader, bug, "bug {bug}: a reply");
        h.deliver(NodeId(2), vote(term + 6, 9, term + 6));
        assert_eq!(h.node().role() == Role::Leader, bug, "bug {bug}: a request");
        let expected = if bug { term } else { term + 6 };
        assert_eq!(h.node().term(), expected);
    }
}

#[test]
fn bug_vote_without_log_check_elects_a_candidate_with_a_shorter_log() {
    for bug in [false, true] {
        let params = if bug {
            with_bugs(&["vote_without_log_check"])
        } else {
            RaftParams::default()
        };
        let mut h = Harness::new(3, params);
        h.deliver(NodeId(1), append(1, (0, 0), vec![noop(1), noop(1)], 2));
        assert_eq!(h.node().commit_index(), 2);
        let granted = vote_granted(h.deliver(NodeId(2), vote(2, 0, 0)));
        assert_eq!(granted, (2, bug), "bug {bug}: an empty log gets the vote");
    }
}

#[test]
fn bug_no_truncation_keeps_a_conflicting_entry_and_acknowledges() {
    for bug in [false, true] {
        let params = if bug {
            with_bugs(&["no_truncation"])
        } else {
            RaftParams::default()
        };
        let mut h = Harness::new(3, params);
        let entries = vec![noop(1), noop(1), noop(2), noop(2)];
        h.deliver(NodeId(1), append(2, (0, 0), entries, 0));
        let reply = append_result(h.deliver(NodeId(1), append(3, (2, 1), vec![noop(3)], 3)));
        assert!(reply.success && reply.match_index == 3);
        let (term_at_3, last) = (h.node().log_term_at(3), h.node().last_log_index());
        if bug {
            assert_eq!((term_at_3, last), (Some(2), 4), "its own entry 3 stays");
            assert_eq!(h.node().commit_index(), 3, "and is applied as committed");
        } else {
            assert_eq!((term_at_3, last), (Some(3), 3));
        }
    }
}

#[test]
fn bug_read_without_quorum_answers_a_read_nobody_confirmed() {
    for bug in [false, true] {
        let mut params = if bug {
            with_bugs(&["read_without_quorum"])
        } else {
            RaftParams::default()
        };
        params.reads = RaftReads::ReadIndex;
        let mut h = Harness::new(3, params);
        h.elect();
        let term = h.node().term();
        h.deliver(NodeId(1), ack(term, 1, 0)); // the no-op commits
        let get = ClientCommand {
            client: NodeId(3),
            seq: 7,
            op: Op::Get { key: 0 },
        };
        let sent = h.deliver(NodeId(3), RaftMsg::ClientRequest(get));
        let answered = sent
            .iter()
            .any(|(to, m)| *to == NodeId(3) && matches!(m, RaftMsg::ClientReply { seq: 7, .. }));
        assert_eq!(
            answered, bug,
            "bug {bug}: answered before any ack of round 1"
        );
    }
}

/// Runs a teaching scenario with its own seed, then the same text without
/// its `bugs` line (expecting a pass): the bug alone makes the violation.
fn bug_scenario_fails_only_with_its_bug(text: &str, violation: &str) {
    use crate::scenario::{run as run_scenario, RunOptions, Scenario};
    let scenario = Scenario::parse(text, "bug.toml").unwrap_or_else(|e| panic!("{e}"));
    let report = run_scenario(&scenario, scenario.default_seed, RunOptions::default());
    let names: Vec<&str> = report.violations.iter().map(|v| v.name.as_str()).collect();
    assert!(names.contains(&violation), "{names:?}");
    let correct: String = text
        .lines()
        .filter(|l| !l.starts_with("bugs = "))
        .map(|l| match l.starts_with("expect = ") {
            true => "expect = \"pass\"\n".to_string(),
            false => format!("{l}\n"),
        })
        .collect();
    let scenario = Scenario::parse(&correct, "correct.toml").unwrap_or_else(|e| panic!("{e}"));
    let report = run_scenario(&scenario, scenario.default_seed, RunOptions::default());
    assert!(report.violations.is_empty(), "{:?}", report.violations);
}

#[test]
fn bug_scenario_no_step_down_reads_stale_only_with_the_bug() {
    let text = include_str!("../../../scenarios/raft-bug-no_step_down.toml");
    bug_scenario_fails_only_with_its_bug(text, "not_linearizable");
}

#[test]
fn bug_scenario_read_without_quorum_reads_stale_only_with_the_bug() {
    let text = include_str!("../../../scenarios/raft-bug-read_without_quorum.toml");
    bug_scenario_fails_only_with_its_bug(text, "not_linearizable");
}

#[test]
fn bug_scenario_vote_without_log_check_loses_a_commit_only_with_the_bug() {
    let text = include_str!("../../../scenarios/raft-bug-vote_without_log_check.toml");
    bug_scenario_fails_only_with_its_bug(text, "log_mismatch");
}

#[test]
fn bug_scenario_no_truncation_diverges_only_with_the_bug() {
    let text = include_str!("../../../scenarios/raft-bug-no_truncation.toml");
    bug_scenario_fails_only_with_its_bug(text, "log_mismatch");
}

#[test]
fn bug_scenario_vote_not_synced_elects_two_leaders_only_with_the_bug() {
    let text = include_str!("../../../scenarios/raft-bug-vote_not_synced.toml");
    bug_scenario_fails_only_with_its_bug(text, "two_leaders");
}

#[test]
fn bug_scenario_term_not_persisted_elects_two_leaders_only_with_the_bug() {
    let text = include_str!("../../../scenarios/raft-bug-term_not_persisted.toml");
    bug_scenario_fails_only_with_its_bug(text, "two_leaders");
}

#[test]
fn a_new_leader_appends_its_no_op_unless_told_not_to() {
    for leader_noop in [true, false] {
        let params = RaftParams {
            leader_noop,
            ..RaftParams::default()
        };
        let mut h = Harness::new(5, params);
        h.deliver(NodeId(1), append(2, (0, 0), vec![noop(2)], 0));
        h.elect();
        assert_eq!(
            h.node().last_log_index(),
            if leader_noop { 2 } else { 1 },
            "leader_noop {leader_noop}"
        );
    }
}

#[test]
fn key_names_read_as_format_prints_them() {
    use super::client::key_name;
    for key in [0, 8, 9, 41, 98, 99, u32::MAX - 1] {
        assert_eq!(key_name(key), format!("k{}", key + 1));
    }
}
