//! Zab, ZooKeeper's atomic broadcast (Junqueira, Reed and Serafini, "Zab:
//! High-performance broadcast for primary-backup systems", DSN 2011; and
//! Medeiros, "ZooKeeper's atomic broadcast protocol: Theory and
//! practice", 2012), as a model: `model = "zab"`.
//!
//! # The protocol
//!
//! Every server keeps three durable things: its **accepted epoch** (the
//! last NEWEPOCH it acknowledged), its **current epoch** (the last
//! NEWLEADER it accepted) and its **history**, a sequence of transactions
//! each named by a **zxid** `(epoch, counter)`. Zxids are ordered by epoch,
//! then counter. A server runs through four phases:
//!
//! 1. **Election** (Fast Leader Election, simplified). A *looking* server
//!    votes for itself and sends its vote to all; a vote is
//!    `(current epoch, last zxid, id)` and a server adopts any higher vote
//!    it hears in its round (rounds move forward; an older round's votes
//!    are dropped). Once a quorum's votes in its round equal its own, it
//!    leads (if the vote names it) or follows. A server that is leading or
//!    following answers a looking one with its leader; a looking server
//!    that hears a quorum (the leader among them) name one leader joins it.
//!    A server that decided to follow a leader which is still looking (it
//!    adopted a better vote meanwhile) looks again, in that round.
//! 2. **Discovery.** Followers send FOLLOWERINFO with their accepted
//!    epoch. Once a quorum (itself included) has, the prospective leader
//!    picks `e'` greater than every accepted epoch it heard, persists it,
//!    and sends NEWEPOCH(e'). A follower whose accepted epoch is lower
//!    persists `e'` and answers ACKEPOCH with its current epoch and history
//!    (a follower with a higher accepted epoch goes back to election).
//! 3. **Synchronization.** Of the quorum's ACKEPOCHs (its own included)
//!    the leader takes the most up-to-date history: the highest current
//!    epoch, then the highest last zxid. It adopts it, persists it, and
//!    sends NEWLEADER(e', history). A follower accepts it (current epoch
//!    := e', history := the leader's, both synced) and acknowledges. Once a
//!    quorum has, the leader commits the whole history and sends COMMIT.
//! 4. **Broadcast.** Client writes (and reads, which go through the
//!    broadcast too) reach the leader, forwarded by the server a client
//!    asked; the leader proposes each as the next zxid of `e'`, followers
//!    append it only in order (a proposal names its predecessor; one that
//!    arrives early waits in a bounded buffer, a gap is filled when the
//!    leader's heartbeat shows it), sync and ACK; a quorum of acks (the
//!    leader's own included) commits it and everything before it. Every
//!    server **delivers** committed transactions in zxid order to a
//!    key-value state machine; the leader answers the client.
//!
//! Heartbeats: the leader pings its followers every `tick` with its last
//! zxid and commit point; a follower that hears nothing from its leader for
//! `timeout` goes back to election, and a leader that has not heard from a
//! quorum for `timeout` (or that is still not broadcasting after twice
//! that) does too. Every write to the accepted epoch, the current epoch or
//! the history is synced before the message that depends on it leaves
//! (each handler ends with a sync, like the Raft model's).
//!
//! # The lesson
//!
//! A transaction may be acked by only part of the followers when the leader
//! crashes. The next epoch then either commits it (one server of the new
//! quorum had it: the most up-to-date history is chosen, so it survives) or
//! discards it (no server of the quorum had it: it was never committed, no
//! client was told it happened) — never both. The bug
//! `commit_before_quorum` commits on the leader's own ack: an isolated
//! leader delivers and answers transactions that the majority never saw,
//! and the majority's next epoch puts others at those positions.
//!
//! # Records
//!
//! `looking {round}`, `leader {round}` (elected: discovery starts),
//! `follower {leader, round}` (quiet), `newepoch {epoch}` (e' chosen),
//! `newleader {epoch, len, from}` (whose history it took), `synced {epoch,
//! len}` (a follower accepted NEWLEADER), `propose {epoch, counter}` and
//! `ack {epoch, counter}` (quiet), `deliver {pos, epoch, counter, client,
//! seq}` (a committed transaction applied; quiet, and the model's
//! committed record), `stepped_down {epoch, why}`, `history_full {limit}`.
//!
//! # Checks
//!
//! Own checks, from the paper's properties, on the `deliver` records (see
//! [`check`]):
//! - `zab_agreement` (violation `zab_disagreement`): no two servers
//!   deliver different transactions at the same position: every server's
//!   delivered sequence is a prefix of the longest.
//! - `zab_total_order` (violation `zab_order_broken`): if any server
//!   delivers a before b, no server delivers b before a (no transaction
//!   at two positions).
//! - `zab_primary_order` (violation `zab_primary_order_broken`): along
//!   each server's deliveries zxids strictly increase: a leader's proposals
//!   in the order it proposed them, a later epoch's after an earlier's.
//!
//! Plus `linearizability` of the clients' history (reads go through the
//! broadcast) and `progress` (a `deliver` after the faults).
//!
//! # Bounds
//!
//! The history holds at most `history_limit` transactions: a leader whose
//! history is full proposes nothing more and records `history_full` (the
//! `progress` check then fails). Early proposals wait in a buffer of at
//! most [`EARLY_LIMIT`].
//!
//! # Scenarios
//!
//! `zab-quiet`, `zab-leader-crash-broadcast` (the leader crashes with a
//! proposal acked by part of the followers), `zab-partition`, `zab-chaos`
//! and `zab-bug-commit_before_quorum`.

pub mod check;
pub mod client;
mod model;
pub mod server;
#[cfg(test)]
mod tests;

pub use check::{AGREEMENT, PRIMARY_ORDER, TOTAL_ORDER};
pub use client::ZabClient;
pub use model::{ZabModel, ZabTable};
pub use server::{ZabServer, ZabState};

use crate::models::bugs::{BugInfo, Bugs};
use crate::models::raft::msg::{ClientCommand, Outcome};
use crate::time::SimDuration;
use std::rc::Rc;

/// The famous mistakes the model can make (`bugs = [...]`).
pub const KNOWN_BUGS: &[BugInfo] = &[BugInfo {
    name: "commit_before_quorum",
    about: "the leader commits a proposal on its own ack, before a quorum has it: an isolated leader delivers transactions the next epoch never saw, and agreement breaks",
}];

/// The most early (out-of-order) proposals a follower keeps.
pub const EARLY_LIMIT: usize = 256;

/// The largest `history_limit` a scenario may set.
pub const MAX_HISTORY: usize = 1_000_000;

/// The model's validated parameters.
#[derive(Clone, Copy, Debug)]
pub struct ZabParams {
    /// The heartbeat period (and the period of every retry).
    pub tick: SimDuration,
    /// Silence after which a follower or leader goes back to election, in ticks.
    pub timeout_ticks: u32,
    /// The most transactions a history holds.
    pub history_limit: usize,
    /// The mistakes switched on.
    pub bugs: Bugs,
}

/// A transaction id: epoch, then counter within the epoch.
#[derive(Clone, Copy, Debug, Default, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct Zxid {
    /// The epoch of the leader that proposed it.
    pub epoch: u64,
    /// Its place among that leader's proposals (from 1).
    pub counter: u64,
}

impl std::fmt::Display for Zxid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{},{}>", self.epoch, self.counter)
    }
}

/// One transaction of a history.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Txn {
    /// Its id.
    pub zxid: Zxid,
    /// The client command it carries.
    pub command: Rc<ClientCommand>,
}

/// A history, shared between messages without copying.
pub type History = Rc<Vec<Txn>>;

/// A vote: current epoch, last zxid, then server id (higher wins).
#[derive(Clone, Copy, Debug, Default, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct Vote {
    /// The candidate's current epoch.
    pub epoch: u64,
    /// The candidate's last zxid.
    pub zxid: Zxid,
    /// The candidate (node index).
    pub id: u32,
}

/// Every message of the model.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ZabMsg {
    /// Election: a looking server's vote in `round`, or (`looking` false) a
    /// leading or following server telling who it follows (`vote.id`) in
    /// its accepted epoch (`vote.epoch`).
    Notification {
        /// The sender's election round.
        round: u64,
        /// The vote, or the leader it follows.
        vote: Vote,
        /// True if the sender is looking.
        looking: bool,
    },
    /// Follower to prospective leader: its accepted epoch.
    FollowerInfo {
        /// The follower's accepted epoch.
        accepted: u64,
    },
    /// Leader to follower: the new epoch.
    NewEpoch {
        /// e'.
        epoch: u64,
    },
    /// Follower to leader: its current epoch and history.
    AckEpoch {
        /// The epoch it acknowledges.
        epoch: u64,
        /// Its current epoch.
        current: u64,
        /// Its history.
        history: History,
    },
    /// Leader to follower: the history of the new epoch.
    NewLeader {
        /// e'.
        epoch: u64,
        /// The leader's history.
        history: History,
    },
    /// Follower to leader: it accepted NEWLEADER (up to `last`).
    AckNewLeader {
        /// e'.
        epoch: u64,
        /// Its last zxid.
        last: Zxid,
    },
    /// Leader to follower: a proposal, after `prev`.
    Propose {
        /// The leader's epoch.
        epoch: u64,
        /// The zxid before it in the leader's history.
        prev: Zxid,
        /// The transaction.
        txn: Txn,
    },
    /// Follower to leader: its history holds everything up to `upto`.
    Ack {
        /// The leader's epoch.
        epoch: u64,
        /// Its last zxid.
        upto: Zxid,
    },
    /// Leader to follower: everything up to `upto` is committed.
    Commit {
        /// The leader's epoch.
        epoch: u64,
        /// The last committed zxid.
        upto: Zxid,
    },
    /// Leader heartbeat: its last zxid and commit point.
    Ping {
        /// The leader's epoch.
        epoch: u64,
        /// Its last zxid.
        last: Zxid,
        /// Its last committed zxid.
        commit: Zxid,
    },
    /// Follower to leader: it lacks what follows `have`.
    Behind {
        /// The leader's epoch.
        epoch: u64,
        /// The follower's last zxid.
        have: Zxid,
    },
    /// Client to server, or follower to leader: a command to broadcast.
    Request(Rc<ClientCommand>),
    /// Leader to client: the outcome of its command `seq`.
    Reply {
        /// The command's sequence number.
        seq: u64,
        /// What it did.
        outcome: Outcome,
    },
}
