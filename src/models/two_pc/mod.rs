//! Two-phase commit (Gray 1978; Mohan, Lindsay and Obermarck's presumed
//! abort, 1986), as a model: `model = "two_pc"`.
//!
//! # The protocol
//!
//! n1 is the **coordinator**, n2..nN the **participants** (at least two).
//! The coordinator runs `transactions` transactions, one every `every`,
//! each touching every participant:
//!
//! ```text
//!  coordinator                      participant
//!  log begin(tx), sync
//!  Prepare(tx) ------------------>  log prepared(tx), sync   (or vote no)
//!              <------------------  Vote(tx, yes)
//!  all yes? log commit, else abort; sync
//!  Decision(tx, commit) --------->  log the outcome, sync, apply
//!              <------------------  Ack(tx)
//! ```
//!
//! - A participant votes yes only once its `prepared` entry is **synced**:
//!   from then on it has promised to commit if told to, crash or not. It
//!   votes no with `abort_probability` (a constraint failed, a lock timed
//!   out) and then aborts at once, on its own: a no vote is a veto.
//! - The coordinator decides commit if and only if every participant voted
//!   yes within `vote_timeout`; a no vote or a missing one aborts.
//! - The decision is written and **synced** to the coordinator's log
//!   *before* anyone hears it; then it is sent, and re-sent every `resend`
//!   to the participants that have not acknowledged it.
//! - A prepared participant with no decision is **in doubt**: it may
//!   neither commit nor abort on its own (another participant may already
//!   have done either), so it asks the coordinator every `inquiry`. While
//!   the coordinator is down it stays blocked, holding its locks: the
//!   famous **blocking problem** of two-phase commit (the
//!   `twopc-coordinator-crash` scenario measures it).
//! - **Recovery** (presumed abort): a restarted coordinator reads its log,
//!   re-sends every logged decision that some participant may not have
//!   (those without an `end` entry, written once all acknowledged), and
//!   aborts every transaction it began but never decided (logging the
//!   abort first); an inquiry about a transaction it has no record of is
//!   answered abort.
//!
//! # The lesson
//!
//! Atomicity rests on two syncs: the participant's `prepared` before its
//! yes, and the coordinator's decision before its first send. Break the
//! second (`bugs = ["decision_before_sync"]`) and a coordinator that
//! crashes right after sending commit wakes up with no decision in its log,
//! presumes abort, and tells the participants so: those that heard commit
//! have committed, the others now abort, and the transaction is half done.
//! And even a correct two-phase commit blocks while its coordinator is
//! down: the in-doubt time is the price of atomicity without consensus.
//!
//! # Records
//!
//! Coordinator: `begin {tx}`, `decision {tx, commit}` (and `recovered`
//! after a restart, with `presumed = true` on the decisions it presumes).
//! Participants: `prepared {tx}` (synced), `vote {tx, yes}`, `commit {tx}`
//! or `abort {tx}` (the outcome applied), `inquire {tx}` (quiet) and
//! `in_doubt {txs}` when one restarts with prepared transactions. (The
//! narration leaves out `commit` records, as it does for every model; the
//! coordinator's `decision` says what the participants then apply.)
//!
//! # Scenarios
//!
//! `twopc-commit` (no faults), `twopc-coordinator-crash` (down 1 s while
//! participants are prepared: blocked, then presumed abort),
//! `twopc-coordinator-lost` (never back: `in_doubt_forever`),
//! `twopc-participant-crash` (fault-point crashes and message loss), and
//! `twopc-decision-before-sync` (the bug: `not_atomic`).
//!
//! # Checks
//!
//! - `atomicity` (own, [`ATOMICITY`], always on, violation `not_atomic`):
//!   no transaction is committed by one participant and aborted by another,
//!   and none is committed while the coordinator's decision is abort (or
//!   was never commit). It measures `atomicity.committed`,
//!   `atomicity.aborted` (the coordinator's final decisions),
//!   `atomicity.in_doubt_max_s` and `atomicity.in_doubt_mean_s` (from a
//!   participant's `prepared` to its outcome) and
//!   `atomicity.in_doubt_at_end`.
//! - `transactions_decided` (own, [`TRANSACTIONS_DECIDED`], liveness,
//!   violation `in_doubt_forever`): at the end, no running participant has
//!   been in doubt for longer than the liveness bound.
//!
//! # Bugs
//!
//! [`KNOWN_BUGS`]: `decision_before_sync`, above. The coordinator marks the
//! moment right after it sent a decision as the fault point
//! `decision_sent` (`[chaos] fault_points = ["point:decision_sent"]`);
//! participants mark `prepared` (prepared and voted yes).

mod check;
mod coordinator;
mod model;
mod participant;
#[cfg(test)]
mod tests;

pub use check::{Atomicity, TransactionsDecided, ATOMICITY, TRANSACTIONS_DECIDED};
pub use coordinator::Coordinator;
pub use model::{TwoPcModel, TwoPcTable};
pub use participant::Participant;

use crate::models::bugs::{BugInfo, Bugs};
use crate::rng::Probability;
use crate::time::SimDuration;

/// The famous mistakes the model can make (`bugs = [...]`).
pub const KNOWN_BUGS: &[BugInfo] = &[BugInfo {
    name: "decision_before_sync",
    about: "the coordinator sends its decision before syncing it to its log: a crash right after the send loses it, and the recovered coordinator presumes abort while participants have committed",
}];

/// The coordinator's node (n1).
pub const COORDINATOR: crate::node::NodeId = crate::node::NodeId(0);

/// The model's validated parameters.
#[derive(Clone, Copy, Debug)]
pub struct TwoPcParams {
    /// Transactions the coordinator runs.
    pub transactions: u32,
    /// Time between the starts of two transactions.
    pub every: SimDuration,
    /// Probability that a participant votes no.
    pub abort_probability: Probability,
    /// How often an in-doubt participant asks the coordinator.
    pub inquiry: SimDuration,
    /// How long the coordinator waits for votes before aborting.
    pub vote_timeout: SimDuration,
    /// How often the coordinator re-sends an unacknowledged decision.
    pub resend: SimDuration,
    /// The participants (servers after n1).
    pub participants: u32,
    /// The mistakes switched on.
    pub bugs: Bugs,
}

impl TwoPcParams {
    /// The participants' node ids.
    pub fn participant_ids(&self) -> impl Iterator<Item = crate::node::NodeId> {
        (1..=self.participants).map(crate::node::NodeId)
    }
}

/// The messages of two-phase commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TwoPcMsg {
    /// Coordinator to participant: prepare `tx` and vote.
    Prepare {
        /// The transaction.
        tx: u64,
    },
    /// Participant to coordinator: its vote on `tx`.
    Vote {
        /// The transaction.
        tx: u64,
        /// True for yes (prepared, synced).
        yes: bool,
    },
    /// Coordinator to participant: the outcome of `tx`.
    Decision {
        /// The transaction.
        tx: u64,
        /// True for commit.
        commit: bool,
    },
    /// Participant to coordinator: it applied the decision on `tx`.
    Ack {
        /// The transaction.
        tx: u64,
    },
    /// In-doubt participant to coordinator: what became of `tx`?
    Inquire {
        /// The transaction.
        tx: u64,
    },
}

/// A log key for transaction `tx` under `prefix`, sorted by id.
fn log_key(prefix: &str, tx: u64) -> String {
    format!("{prefix}{tx:010}")
}

/// The transaction id of a log key written by [`log_key`].
fn tx_of_key(prefix: &str, key: &str) -> Option<u64> {
    key.strip_prefix(prefix)?.parse().ok()
}
