//! Byzantine nodes: a node marked Byzantine has its outgoing messages passed
//! through an adversary the scenario chooses, instead of being sent as its
//! (honest) code wrote them. Crash faults are unchanged; this is a separate
//! fault kind, usable with any model.
//!
//! The engine can drop, delay and replay messages of any type on its own,
//! but only the model knows how to forge a plausible different message: a
//! model that wants `equivocate` and `corrupt` to do more than nothing
//! provides a [`Tamper`] through [`crate::Model::tamper`].

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
