//! The messages of the Multi-Paxos model. Commands are the Raft model's
//! ([`Command`]: a no-op or a client's key-value command), shared behind an
//! `Rc` so that re-sending one copies a pointer. Every type derives `Hash`
//! (the engine digests each message for the trace hash).
//!
//! A ballot is one number: server `i` of `n` owns the ballots `b` with
//! `b % n == i` (b > 0), so a ballot encodes (round, id) = (b / n, b % n),
//! ordered round first, and no two servers ever use the same ballot
//! ("Paxos Made Simple": "different proposers choose their numbers from
//! disjoint sets of numbers").

use crate::models::raft::msg::{ClientCommand, Command, Outcome};
use std::rc::Rc;

/// A value an acceptor accepted in one slot, returned in its promise.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct AcceptedValue {
    /// The log slot (from 1).
    pub slot: u64,
    /// The ballot it was accepted in.
    pub ballot: u64,
    /// The command.
    pub command: Rc<Command>,
}

/// Every message of the Multi-Paxos model, between servers and from/to clients.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum MpMsg {
    /// Phase 1a, once for all slots from `from_slot` on.
    Prepare {
        /// The would-be leader's ballot.
        ballot: u64,
        /// Its first slot not known chosen.
        from_slot: u64,
    },
    /// Phase 1b: the acceptor promised `ballot` and returns what it
    /// accepted in slots at or after the prepare's `from_slot`.
    Promise {
        /// The ballot promised.
        ballot: u64,
        /// Accepted (ballot, command) per slot, by slot.
        accepted: Vec<AcceptedValue>,
    },
    /// Phase 2a for one slot.
    Accept {
        /// The leader's ballot.
        ballot: u64,
        /// The slot.
        slot: u64,
        /// The command proposed there.
        command: Rc<Command>,
    },
    /// Phase 2b: the acceptor accepted the slot's proposal of `ballot`.
    Accepted {
        /// The ballot accepted.
        ballot: u64,
        /// The slot.
        slot: u64,
    },
    /// The acceptor refuses a prepare, accept or heartbeat of `ballot`: it
    /// has promised the higher `promised`.
    Nack {
        /// The refused ballot.
        ballot: u64,
        /// The acceptor's promise.
        promised: u64,
    },
    /// The leader tells the learners a slot's command is chosen.
    Chosen {
        /// The ballot in which it was chosen.
        ballot: u64,
        /// The slot.
        slot: u64,
        /// The command.
        command: Rc<Command>,
    },
    /// The leader's heartbeat, with how many slots it has executed.
    Heartbeat {
        /// The leader's ballot.
        ballot: u64,
        /// Its executed prefix (slots 1..=executed).
        executed: u64,
    },
    /// A follower that executed fewer slots than the leader asks for the rest.
    Behind {
        /// The leader's ballot it answers.
        ballot: u64,
        /// The follower's executed prefix.
        executed: u64,
    },
    /// Chosen slots for a follower that is behind: (slot, ballot, command).
    CatchUp {
        /// The leader's ballot.
        ballot: u64,
        /// Consecutive chosen slots.
        entries: Vec<AcceptedValue>,
    },
    /// Client to any server.
    ClientRequest(ClientCommand),
    /// Server to client: the outcome of the command with `seq`.
    ClientReply {
        /// The command's sequence number.
        seq: u64,
        /// What happened.
        outcome: Outcome,
    },
}
