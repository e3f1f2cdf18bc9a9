//! Raft: a replicated log, and a key-value store on top of it.
//!
//! Read this beside the paper (Ongaro and Ousterhout, "In Search of an
//! Understandable Consensus Algorithm", 2014), Figure 2 in particular. Every
//! rule of the figure is one short function in [`server`], named after it.
//!
//! # The idea
//!
//! A cluster of servers keeps one log of commands. Time is cut into *terms*;
//! each term begins with an election and has at most one leader. The leader
//! alone appends client commands to its log and copies them to the others
//! with AppendEntries; once a majority stores an entry of the leader's term,
//! that entry and all before it are *committed*, and every server applies
//! them, in order, to its copy of the state machine (here a key-value map).
//!
//! ```text
//!                      times out,             receives votes from
//!       starts up      starts election        a majority of servers
//!   ──────────────▶ Follower ────────▶ Candidate ────────────────▶ Leader
//!                    ▲  ▲  │   (PreVote:   │  ▲  │ times out,          │
//!                    │  │  │  PreCandidate │  └──┘ new election       │
//!                    │  │  └──▶ first, ────┘                          │
//!                    │  │   majority says "you could win")            │
//!                    │  └── discovers current leader or higher term ──┘
//!                    └──────── discovers a higher term ───────── (or, with
//!                                                       CheckQuorum, loses
//!                                                       touch with a majority)
//! ```
//!
//! # Figure 2, rule by rule
//!
//! **State.** Persistent on all servers: `currentTerm`, `votedFor`, `log[]`;
//! written to the node's storage and synced before the server answers any
//! RPC or sends anything that depends on them (a vote is durable before it
//! is granted, an entry before it is acknowledged). Volatile on all servers:
//! `commitIndex`, `lastApplied`. Volatile on leaders: `nextIndex[]`,
//! `matchIndex[]`, reinitialised after each election. After a crash,
//! `on_start` reads the persistent state back and the rest starts over:
//! commitIndex 0, an empty state machine, rebuilt as the leader tells the
//! server what is committed.
//!
//! **Rules for all servers.** If commitIndex > lastApplied, apply the next
//! entry. If a message carries a term T > currentTerm, set currentTerm = T
//! and become a follower.
//!
//! **Followers** answer RPCs; if the election timeout (drawn uniformly from
//! `[election_timeout_min, election_timeout_max]` from the node's own random
//! stream, afresh at each reset) passes without AppendEntries from the
//! current leader or granting a vote, they become candidates.
//!
//! **Candidates** increment currentTerm, vote for themselves, reset the
//! election timer and send RequestVote to all. Votes from a majority: become
//! leader. AppendEntries from the new leader of the term: become follower.
//! Timeout: start a new election.
//!
//! **Leaders** append a no-op entry of their term at once (so they can
//! commit, see below, and serve reads; `leader_noop = false` leaves it out,
//! as the MIT labs' Raft does), send AppendEntries to every server
//! and repeat them as heartbeats every `heartbeat_interval`. A client
//! command is appended and replicated; the reply goes out when it is
//! applied. For each follower, on success: update matchIndex and nextIndex;
//! on a log-inconsistency failure: move nextIndex back and retry. If there
//! is an N > commitIndex with a majority of `matchIndex[i] >= N` and
//! `log[N].term == currentTerm`, set commitIndex = N. Entries of earlier
//! terms are never committed by counting replicas (Figure 8 shows how such
//! an entry, even on a majority, can still be overwritten); they commit
//! when an entry of the current term after them does.
//!
//! **RequestVote** (receiver): reply false if term < currentTerm; grant if
//! votedFor is null or the candidate and the candidate's log is at least as
//! up to date as the receiver's (§5.4.1: a later last term, or the same last
//! term and at least as long). At most one vote per term.
//!
//! **AppendEntries** (receiver): (1) reply false if term < currentTerm;
//! (2) reply false if the log has no entry at prevLogIndex of term
//! prevLogTerm; (3) if an existing entry conflicts with a new one (same
//! index, different term), delete it and all that follow; (4) append any new
//! entries not already in the log; (5) if leaderCommit > commitIndex, set
//! commitIndex = min(leaderCommit, index of the last new entry).
//!
//! **Fast backtracking** (end of §5.3): a failing reply carries the term of
//! the follower's conflicting entry and the first index it holds for that
//! term (or its log's end, if the log is too short). The leader jumps
//! nextIndex past its own last entry of that term, or to that first index
//! if it has none: one round trip per term of disagreement, not per entry.
//!
//! # Options (see [`RaftParams`])
//!
//! - **PreVote** (thesis §9.6): before a real election a server asks "would
//!   you vote for me in term + 1?" without changing its term. A server cut
//!   off from the cluster then cannot inflate its term and, on its return,
//!   depose a healthy leader.
//! - **CheckQuorum**: a leader that has not heard from a majority within an
//!   election timeout steps down, so a leader on the minority side of a
//!   partition does not pretend for long.
//! - With either, **leader stickiness** (as in etcd): a server that heard
//!   from the current leader within `election_timeout_min` (or is the
//!   leader) rejects (pre-)votes, without adopting the candidate's term.
//! - **Reads** ([`RaftReads`]): `Log` puts gets in the log like writes;
//!   `ReadIndex` (thesis §6.4) has the leader note commitIndex (at least its
//!   no-op) as the read index, confirm it is still leader by a heartbeat
//!   round that a majority acknowledges, wait until lastApplied reaches the
//!   read index, and answer from its state machine, without a log entry.
//!
//! # The state machine and its clients
//!
//! Keys `k1..kN` hold strings (initially `""`): get, put, append, and cas
//! `[expected new]`. A command carries its client and a sequence number;
//! the machine applies each (client, seq) at most once, so a client may
//! resend a command to another server when it hears nothing (see [`client`]).
//!
//! # Records
//!
//! `candidate {"term"}` when a server starts an election (for the term it
//! stands in; a PreVote round records nothing);
//! `leader {"term"}` when a server becomes leader; `stepped_down {"term"}`
//! when a leader stops leading (it saw a higher term, or CheckQuorum found
//! no majority; a crash records nothing), with the term it led;
//! `follow {"term", "leader"}` the first time a server accepts an
//! AppendEntries from the leader of a term (once per term and start, so
//! cheap); together they tell each server's role and term over time (the
//! `availability` check reads them). `commit {"index",
//! "digest"}` for every entry a server applies (the digest is a stable hash
//! of the entry's term and command); `state {"version"}` (lastApplied) once
//! per batch of applied entries and at start; the clients' `op` records.
//!
//! On the space-time diagram (`--plot`) the role records colour the lanes
//! (`candidate` yellow, `leader` orange, `follow` / `stepped_down` blue),
//! and each server's lane notes its commit index (`c7`, from its `commit`
//! records, [`crate::Model::lane_note`]).
//!
//! # Famous bugs
//!
//! `bugs = [...]` in `[raft]` switches on classic mistakes ([`KNOWN_BUGS`]),
//! each an `if self.params.bugs.has("...")` at the rule it breaks in
//! [`server`], with a comment quoting the rule: `vote_not_synced` (the vote
//! is replied before it is on disk: written at the next timer),
//! `term_not_persisted` (currentTerm never written), `figure8_commit` (an
//! old-term entry committed by counting replicas), `no_step_down` (a leader
//! ignores a higher term in replies and requests, and counts such replies
//! as acknowledgements), `vote_without_log_check` (no §5.4.1 check),
//! `no_truncation` (a follower keeps its conflicting entry and acks) and
//! `read_without_quorum` (ReadIndex without the majority round). With any
//! bug on, the assertions a correct server keeps (two leaders of a term, a
//! committed entry truncated, log terms growing) give way: the checks
//! report the violation instead. Teaching runs: `scenarios/raft-bug-*.toml`.
//!
//! # What this model does not do
//!
//! No snapshots or log compaction, no membership changes, no leadership
//! transfer; a client's dedup entry is kept forever. Messages are not
//! batched beyond one AppendEntries per follower per event.
//!
//! # Invariants (checked with `debug_assert!` where they cross)
//!
//! A server's term never decreases; it votes at most once per term; its
//! commit index never decreases and never passes its log's end; a follower
//! never truncates a committed entry; log terms never decrease along the
//! log; a leader of a term never receives AppendEntries of the same term.

pub mod client;
pub(crate) mod kv;
mod log;
mod model;
pub mod msg;
pub mod server;

#[cfg(test)]
mod tests;

pub use client::RaftClient;
pub use model::{RaftModel, RaftTable};
pub use msg::{
    AppendReply, AppendRequest, ClientCommand, Command, Entry, Op, Outcome, RaftMsg, VoteReply,
    VoteRequest,
};
pub use server::{RaftServer, Role};

use crate::models::bugs::{BugInfo, Bugs};
use crate::time::SimDuration;

/// The famous Raft mistakes the model can make (`bugs = [...]` in `[raft]`),
/// each an `if` at the place of the rule it breaks in [`server`].
pub const KNOWN_BUGS: &[BugInfo] = &[
    BugInfo {
        name: "vote_not_synced",
        about: "a voter replies to RequestVote before votedFor is synced: crashed there, it forgets the vote and may vote twice in a term",
    },
    BugInfo {
        name: "term_not_persisted",
        about: "currentTerm is never written to stable storage: a restarted server goes back to an old term and votes again in a term it voted in",
    },
    BugInfo {
        name: "figure8_commit",
        about: "a leader commits an entry of an earlier term by counting replicas (Raft §5.4.2, Figure 8): a later leader may overwrite it",
    },
    BugInfo {
        name: "no_step_down",
        about: "a leader ignores a higher term in a reply or vote request: it keeps leading its old term and counts such replies as acknowledgements",
    },
    BugInfo {
        name: "vote_without_log_check",
        about: "a vote is granted without the up-to-date check (§5.4.1): a leader missing committed entries overwrites them",
    },
    BugInfo {
        name: "no_truncation",
        about: "a follower keeps an entry that conflicts with the leader's (same index, other term) instead of deleting it and all after, and acknowledges",
    },
    BugInfo {
        name: "read_without_quorum",
        about: "ReadIndex reads are answered without a majority confirming the leader is still leader: a deposed leader serves stale reads",
    },
];

/// How the cluster answers gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaftReads {
    /// Gets go through the log like writes (slow, simple, linearizable).
    Log,
    /// The leader answers after confirming its leadership with a heartbeat
    /// round and applying up to the commit index it saw (thesis §6.4).
    ReadIndex,
}

/// Parameters of a Raft server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaftParams {
    /// Shortest election timeout (also the leader-stickiness window and the
    /// CheckQuorum period).
    pub election_timeout_min: SimDuration,
    /// Longest election timeout; each timeout is uniform in [min, max].
    pub election_timeout_max: SimDuration,
    /// How often a leader sends AppendEntries when it has nothing new.
    pub heartbeat_interval: SimDuration,
    /// Ask for pre-votes before starting an election.
    pub pre_vote: bool,
    /// Leaders step down when they lose touch with a majority.
    pub check_quorum: bool,
    /// How gets are answered.
    pub reads: RaftReads,
    /// A new leader appends a no-op of its term at once (§8). Without it
    /// (the MIT labs' Raft) entries of earlier terms wait for the next
    /// client command to commit, and the Figure 8 rule is all that keeps a
    /// leader from committing one by counting replicas.
    pub leader_noop: bool,
    /// Famous mistakes switched on (see [`KNOWN_BUGS`]); none by default.
    pub bugs: Bugs,
}

impl Default for RaftParams {
    /// Election timeouts 150-300 ms, heartbeats every 50 ms, no PreVote, no
    /// CheckQuorum, reads through the log: the paper's setting.
    fn default() -> Self {
        RaftParams {
            election_timeout_min: SimDuration::from_millis(150),
            election_timeout_max: SimDuration::from_millis(300),
            heartbeat_interval: SimDuration::from_millis(50),
            pre_vote: false,
            check_quorum: false,
            reads: RaftReads::Log,
            leader_noop: true,
            bugs: Bugs::none(),
        }
    }
}
