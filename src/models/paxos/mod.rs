//! Single-decree Paxos (Lamport, "Paxos Made Simple", 2001), as a model:
//! `model = "paxos"`.
//!
//! # The protocol
//!
//! A set of processes must agree on one value. The paper splits them into
//! three roles; here every server is an **acceptor** and a **learner**,
//! and the first `proposers` servers (n1..nP) are also **proposers**, each
//! wanting its own value (`"v-n1"`, `"v-n2"`, ...).
//!
//! A proposal number is a pair (round, proposer), ordered by round then
//! by proposer, so no two proposers ever issue the same number; a proposer
//! writes its round to storage and syncs it before using it, so a restart
//! never re-issues a number with another value.
//!
//! ```text
//!  proposer                              acceptor
//!  Prepare(n) ------------------------>  n > promised? promised = n, sync
//!             <------------------------  Promise(n, accepted (m, w) or none)
//!  majority promised: v = w of the highest m, or its own value if none
//!  Accept(n, v) ---------------------->  n >= promised? accepted = (n, v), sync
//!                                        Accepted(n, v) to every learner
//!  (a lower n than promised: Nack(n, promised))
//! ```
//!
//! - **Phase 1** (paper 2.2, P1): an acceptor promises never to accept a
//!   number below `n` and answers with the highest-numbered proposal it
//!   has accepted. The promise and the accepted proposal are its durable
//!   state: written and synced *before* the reply leaves.
//! - **Phase 2** (P2c): with promises from a majority, the proposer asks
//!   the acceptors to accept `(n, v)` where `v` is the value of the
//!   highest-numbered proposal among those promises, or its own value if
//!   they report none. This is what keeps a chosen value chosen.
//! - **Learning**: a value is *chosen* once a majority of acceptors have
//!   accepted one proposal. Each acceptor sends `Accepted(n, v)` to every
//!   learner (the paper's "each acceptor informs all learners"), and a
//!   learner learns `v` when a majority of acceptors report the same `n`.
//!   A learner writes what it learned to storage. One that has learned
//!   nothing asks the others every `ask`; one that has learned answers
//!   with `Decided(n, v)` (safe: a learned value is chosen), so learners
//!   that missed the `Accepted` messages (loss, a crash) still learn.
//! - **Preemption**: a proposer that gets a `Nack` (an acceptor promised a
//!   higher number) or hears no majority within `timeout` starts again with
//!   a higher round (above any it saw in a nack). With `backoff = "none"` it
//!   starts at once; with `backoff = "randomized"` it first waits a time
//!   drawn from its seeded random stream in `[backoff_min, backoff_max]`. A
//!   proposer that has learned a value stops.
//!
//! # The lesson
//!
//! Safety needs no timing at all: any two majorities share an acceptor,
//! and that acceptor's durable promise and accepted proposal carry the
//! chosen value into every later proposal. Break one of the two
//! (`promise_not_synced`, `ignore_accepted_value`) and two values get
//! chosen. Liveness is another matter (FLP): two proposers that keep
//! preempting each other never finish (the "duelling proposers" of the
//! paper, 2.4); a random backoff makes one of them win.
//!
//! # Records
//!
//! Proposers: `propose {value}`, `prepare {round, by}`,
//! `phase2 {round, by, value, adopted}` (adopted: the value came from a
//! promise), `retry {round, why, wait_ms}`. Acceptors: `promise {round,
//! by}`, `accepted {round, by, value}`, `nack {round, by}`. Learners:
//! `learned {round, by, value, via}`. A restart with durable state records
//! `recovered {promised, accepted, learned}`.
//!
//! # Checks
//!
//! - `paxos_agreement` (own, safety, violation `two_values_chosen`): at
//!   most one value is chosen, where chosen means accepted by a majority
//!   of acceptors with the same proposal number (from the `accepted`
//!   records), and every `learned` value is that value.
//! - `paxos_validity` (own, safety, violation `unproposed_value`): every
//!   accepted or learned value is one some proposer proposed.
//! - `paxos_liveness` (own, liveness, violation `nothing_learned`): every
//!   server up at the end has learned a value by `[liveness] within`
//!   after the last fault (judged only if the run lasts that long).
//!
//! # Scenarios
//!
//! `paxos-basic` (one proposer, lossy network), `paxos-duelling-no-backoff`
//! (three proposers retrying at once: livelock, `nothing_learned`),
//! `paxos-duelling-backoff` (the same with randomized backoff: progress),
//! `paxos-acceptor-crash` (acceptors crash right after promising, and
//! restart: safety holds), and one `paxos-bug-<name>` per bug.
//!
//! # Bugs
//!
//! [`KNOWN_BUGS`]. Acceptors mark the fault points `promised` (right after
//! a promise is sent) and `accepted` (right after an accept).

mod check;
mod model;
mod server;
#[cfg(test)]
mod tests;

pub use check::{Agreement, Liveness, Validity, PAXOS_AGREEMENT, PAXOS_LIVENESS, PAXOS_VALIDITY};
pub use model::{PaxosModel, PaxosTable};
pub use server::Server;

use crate::models::bugs::{BugInfo, Bugs};
use crate::time::SimDuration;
use serde::{Deserialize, Serialize};

/// The famous mistakes the model can make (`bugs = [...]`).
pub const KNOWN_BUGS: &[BugInfo] = &[
    BugInfo {
        name: "promise_not_synced",
        about: "an acceptor replies to a prepare before syncing its promise: a crash right after forgets it, the acceptor then accepts a lower-numbered proposal it promised to refuse, and two values get chosen",
    },
    BugInfo {
        name: "ignore_accepted_value",
        about: "a proposer's phase 2 proposes its own value instead of the value of the highest-numbered proposal reported in the promises (P2c): a later proposal overwrites a chosen value",
    },
];

/// A proposal number: (round, proposer), ordered by round, then proposer.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Ballot {
    /// The round; a proposer's first is 1 (0 is "none").
    pub round: u64,
    /// The proposer's node index.
    pub by: u32,
}

/// How a preempted proposer waits before its next round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backoff {
    /// Start the next round at once.
    None,
    /// Wait a random time in `[backoff_min, backoff_max]` first.
    Randomized,
}

/// The model's validated parameters.
#[derive(Clone, Copy, Debug)]
pub struct PaxosParams {
    /// Servers (all acceptors and learners).
    pub servers: u32,
    /// Proposers: the first `proposers` servers.
    pub proposers: u32,
    /// What a preempted proposer does.
    pub backoff: Backoff,
    /// The least random wait before a retry.
    pub backoff_min: SimDuration,
    /// The greatest random wait before a retry.
    pub backoff_max: SimDuration,
    /// How long a proposer waits for a majority in a phase.
    pub timeout: SimDuration,
    /// How often a learner with nothing learned asks the others.
    pub ask: SimDuration,
    /// Proposer `i` (from 0) starts at `i * stagger`.
    pub stagger: SimDuration,
    /// The mistakes switched on.
    pub bugs: Bugs,
}

impl PaxosParams {
    /// A majority of the acceptors.
    pub fn majority(&self) -> usize {
        self.servers as usize / 2 + 1
    }
}

/// The messages of single-decree Paxos.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PaxosMsg {
    /// Proposer to acceptors: phase 1a.
    Prepare {
        /// The proposal number.
        ballot: Ballot,
    },
    /// Acceptor to proposer: phase 1b, with its highest accepted proposal.
    Promise {
        /// The number promised.
        ballot: Ballot,
        /// The highest-numbered proposal it accepted, if any.
        accepted: Option<(Ballot, String)>,
    },
    /// Proposer to acceptors: phase 2a.
    Accept {
        /// The proposal number.
        ballot: Ballot,
        /// The value.
        value: String,
    },
    /// Acceptor to every learner: it accepted `(ballot, value)`.
    Accepted {
        /// The proposal number.
        ballot: Ballot,
        /// The value.
        value: String,
    },
    /// Acceptor to proposer: `ballot` is below what it promised.
    Nack {
        /// The refused number.
        ballot: Ballot,
        /// The number it has promised.
        promised: Ballot,
    },
    /// A learner with nothing learned: what was decided?
    Ask,
    /// A learner to one that asked: the value it learned.
    Decided {
        /// The proposal a majority accepted.
        ballot: Ballot,
        /// The chosen value.
        value: String,
    },
}

/// The value proposer `node` proposes.
pub fn own_value(name: &str) -> String {
    format!("v-{name}")
}
