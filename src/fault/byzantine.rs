//! Byzantine nodes: a node marked Byzantine has its outgoing messages passed
//! through an adversary the scenario chooses, instead of being sent as its
//! (honest) code wrote them. Crash faults are unchanged; this is a separate
//! fault kind ([`crate::fault::Fault::Byzantine`]), usable with any model.
//!
//! The engine can drop, delay and replay messages of any type on its own,
//! but only the model knows how to forge a plausible different message: a
//! model that wants `equivocate` and `corrupt` to do more than nothing
//! provides a [`Tamper`] through [`crate::Model::tamper`].
//!
//! # The adversaries
//!
//! The node's own code stays honest: it keeps its state and handles what it
//! receives as written. Only what it *sends* is changed, message by message,
//! as it is handed to the network ([`Adversary`]):
//!
//! - `equivocate`: every message, to every peer, goes through
//!   [`Tamper::equivocate`] with the receiver, so different peers can get
//!   conflicting messages;
//! - `drop_to`: messages to the listed peers are silently dropped (the
//!   others go out unchanged);
//! - `replay`: every message goes out, and with each one the node also
//!   resends one of its last [`REPLAY_RING`] sent messages (to the peer it
//!   went to then), drawn uniformly from that ring as it was before this
//!   send (nothing the first time);
//! - `corrupt`: every message goes through [`Tamper::corrupt`].
//!
//! Without a [`Tamper`], `equivocate` and `corrupt` send every message
//! unchanged; the run's notes say so. Each message changed, dropped or
//! replayed is traced as [`crate::engine::EventKind::Byzantine`] just before
//! its own `send`, so a replay shows what the adversary did.
//!
//! # Determinism and cost
//!
//! The adversary draws from its own random stream (seeded from the run's
//! seed and the label `"byzantine"`), made when the first Byzantine fault
//! applies: a run without Byzantine faults draws exactly what it drew
//! before this fault kind existed, and pays one `Option` check per send.
//!
//! # When it ends
//!
//! With a `duration`, the node becomes honest again that much later (traced
//! as [`crate::engine::EventKind::Honest`]). Without one it stays Byzantine
//! to the end of the run: `heal_all`, the end of the fault phase, does
//! *not* make it honest. The fault phase ends what the environment did
//! (cut links, crashes, pauses, bursts); a Byzantine node stands for a
//! compromised or buggy server, which no healing of the network repairs, and
//! protocols that tolerate Byzantine faults are judged with the liar still
//! among them. A crash and restart do not make it honest either (the mark
//! is on the server, not on one run of its process).
//!
//! Agreement checks (`election_safety`, `log_matching`, `convergence`)
//! judge correct nodes only: records of a node that
//! [`crate::check::World::is_byzantine`] says is Byzantine are skipped, so
//! a violation they report is one among honest nodes.

use crate::node::NodeId;

/// The model-provided half of a Byzantine adversary: how to forge messages
/// of type `M`. Both hooks are pure functions of their arguments (the
/// engine passes a draw from the run's seeded randomness), so a run with
/// Byzantine nodes is as deterministic as any other.
pub trait Tamper<M>: Send + Sync + 'static {
    /// Equivocation: the message the Byzantine node `from` sends to `to` in
    /// place of the honest `msg`, chosen so that different peers get
    /// conflicting messages (e.g. a different value for the same slot, or a
    /// vote for a different candidate). `draw` is a fresh random number for
    /// this message; `None` sends `msg` unchanged.
    fn equivocate(&self, msg: &M, from: NodeId, to: NodeId, draw: u64) -> Option<M>;
    /// Corruption: a message with plausible but wrong contents in place of
    /// `msg` (a bumped term, a changed value, a forged digest); `None` sends
    /// `msg` unchanged.
    fn corrupt(&self, msg: &M, from: NodeId, to: NodeId, draw: u64) -> Option<M>;
}

/// How many of its last sent messages a `replay` adversary keeps per node
/// to resend from.
pub const REPLAY_RING: usize = 64;

/// The adversaries' names, as a scenario's `adversary` spells them.
pub const ADVERSARIES: &str = "equivocate, drop_to, replay, corrupt";

/// What a Byzantine node does to the messages it sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Adversary {
    /// Each copy to each peer through [`Tamper::equivocate`].
    Equivocate,
    /// Messages to these peers are dropped.
    DropTo(Vec<NodeId>),
    /// Each send also resends one drawn old message (see the module doc).
    Replay,
    /// Each message through [`Tamper::corrupt`].
    Corrupt,
}

impl Adversary {
    /// The name a scenario uses (`"equivocate"`, `"drop_to"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Adversary::Equivocate => "equivocate",
            Adversary::DropTo(_) => "drop_to",
            Adversary::Replay => "replay",
            Adversary::Corrupt => "corrupt",
        }
    }

    /// The name, with the peers of `drop_to`: `drop_to {n2,n3}`.
    pub fn describe(&self, names: &[String]) -> String {
        match self {
            Adversary::DropTo(peers) => format!(
                "drop_to {{{}}}",
                peers
                    .iter()
                    .map(|n| names[n.index()].as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            other => other.name().to_string(),
        }
    }

    /// True if it needs the model's [`Tamper`] to change anything.
    pub fn needs_tamper(&self) -> bool {
        matches!(self, Adversary::Equivocate | Adversary::Corrupt)
    }
}

/// What an adversary did to one message (traced as
/// [`crate::engine::EventKind::Byzantine`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// Sent an equivocating message in place of the honest one.
    Equivocated,
    /// Sent a corrupted message in place of the honest one.
    Corrupted,
    /// Dropped the message (`drop_to`).
    Dropped,
    /// Sent an old message again (`replay`).
    Replayed,
}

impl Act {
    /// Its name in traces.
    pub fn name(self) -> &'static str {
        match self {
            Act::Equivocated => "equivocated",
            Act::Corrupted => "corrupted",
            Act::Dropped => "dropped",
            Act::Replayed => "replayed",
        }
    }

    /// A stable number for the trace hash.
    pub fn code(self) -> u64 {
        match self {
            Act::Equivocated => 0,
            Act::Corrupted => 1,
            Act::Dropped => 2,
            Act::Replayed => 3,
        }
    }
}
