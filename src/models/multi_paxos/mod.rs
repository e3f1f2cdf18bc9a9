//! Multi-Paxos with a stable leader, replicating a key-value store.
//!
//! From Lamport, "Paxos Made Simple" (2001), section 3 ("Implementing a
//! State Machine"), with the roles laid out as in van Renesse and
//! Altinbuken, "Paxos Made Moderately Complex" (2015): every server is an
//! acceptor, a learner (replica) and a would-be leader.
//!
//! **The protocol.** The log is a sequence of slots 1, 2, ...; in each,
//! one instance of Paxos chooses one command. A server that wants to lead
//! picks a ballot higher than any it has seen (ballots are (round, id),
//! see [`msg`]) and runs phase 1 *once for all slots* from its first slot
//! not known chosen: `Prepare(b, from)`. An acceptor that has promised
//! nothing higher promises `b`, writes the promise to disk, syncs, and
//! answers with every (ballot, command) it accepted in slots `>= from`.
//! With promises from a majority, the server leads: in each such slot it
//! proposes the command accepted with the highest ballot, fills the gaps
//! (slots below the highest reported one where nobody reported anything)
//! with no-ops, and then proposes clients' commands in new slots, each with
//! phase 2 only: `Accept(b, slot, cmd)` to all; an acceptor that has not
//! promised higher stores the value, syncs and answers `Accepted`; on a
//! majority the command is chosen and the leader tells everyone
//! (`Chosen`). As long as it keeps its ballot it never runs phase 1 again.
//! Any `Nack` carrying a higher ballot means someone else prepared: the
//! leader steps down. Servers execute chosen slots strictly in order on
//! the same key-value machine as the Raft model (with its per-client
//! dedup), and the leader answers the client. Reads go through the log.
//!
//! **Failure detection.** The leader sends heartbeats (carrying how far it
//! has executed; a follower that is behind asks and is sent the chosen
//! slots it lacks). A follower that hears nothing for a randomized
//! election timeout (drawn from the node's seeded rng) tries to lead.
//!
//! **Durability.** The acceptor's promised ballot and its accepted
//! (ballot, command) per slot are written and synced before any reply that
//! depends on them. What is chosen and executed is not stored: a restarted
//! server learns it again from the leader, or, leading, by its own phase 1.
//!
//! **Bounds.** Slots are limited by `max_log` (default 10000): a leader
//! whose next slot would pass it records `log_full` once and refuses new
//! commands (clients time out; the `progress` check then fails the run).
//!
//! **Checks.** The model emits Raft's record kinds so Raft's checks apply:
//! `leader {term}` with the ballot as the term (`election_safety`: since
//! ballots belong to one server each, two leaders of one ballot would be a
//! broken ballot scheme); `commit {index, digest, term, entry, client}`
//! when a server executes a slot, the digest being of the command only
//! (`log_matching`: no two servers execute different commands in one slot,
//! which is Paxos's agreement, one command chosen per slot, as far as it
//! is observable, and makes every server's executed prefix a prefix of the
//! longest); the clients' history (`linearizability`, against the
//! key-value model); `state {version}` (`convergence`); and `commit` as
//! the record of done work (`progress`). Its own check, `mp_validity`
//! ([`check`]), is Paxos's validity: every client command a server
//! executes is one that client invoked.
//!
//! **Scenarios.** `multipaxos-quiet` (one leader, phase 1 once, then one
//! phase 2 per command), `multipaxos-leader-crash` (a new leader's single
//! phase 1 finds the accepted values and re-proposes them),
//! `multipaxos-partition` (a leader cut off in a minority is replaced; its
//! accepts then meet nacks and it steps down), `multipaxos-chaos`, and
//! `multipaxos-bug-skip_phase1_on_takeover` (a takeover without phase 1
//! overwrites chosen slots: `log_mismatch`).

pub mod check;
pub mod client;
pub mod model;
pub mod msg;
pub mod server;

#[cfg(test)]
mod tests;

pub use client::MpClient;
pub use model::{MultiPaxosModel, MultiPaxosTable};
pub use msg::MpMsg;
pub use server::{MpServer, Role};

use crate::models::bugs::{BugInfo, Bugs};
use crate::time::SimDuration;

/// The famous Multi-Paxos mistakes the model can make (`bugs = [...]` in
/// `[multi_paxos]`), each an `if` at the place of the rule it breaks in [`server`].
pub const KNOWN_BUGS: &[BugInfo] = &[BugInfo {
    name: "skip_phase1_on_takeover",
    about: "a new leader skips phase 1 and assumes no values were chosen after the slots it executed: it proposes its own commands in used slots and overwrites chosen ones",
}];

/// Parameters of a Multi-Paxos server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MpParams {
    /// Shortest election timeout.
    pub election_timeout_min: SimDuration,
    /// Longest election timeout; each is uniform in [min, max].
    pub election_timeout_max: SimDuration,
    /// How often the leader sends heartbeats (and resends unanswered accepts).
    pub heartbeat_interval: SimDuration,
    /// The highest slot a leader proposes in.
    pub max_log: u64,
    /// Famous mistakes switched on (see [`KNOWN_BUGS`]); none by default.
    pub bugs: Bugs,
}

impl Default for MpParams {
    /// Election timeouts 150-300 ms, heartbeats every 50 ms, 10000 slots.
    fn default() -> Self {
        MpParams {
            election_timeout_min: SimDuration::from_millis(150),
            election_timeout_max: SimDuration::from_millis(300),
            heartbeat_interval: SimDuration::from_millis(50),
            max_log: 10_000,
            bugs: Bugs::none(),
        }
    }
}
