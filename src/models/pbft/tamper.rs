//! How a Byzantine PBFT replica forges messages (see
//! [`crate::fault::byzantine`]): the [`Tamper`] the `equivocate` and
//! `corrupt` adversaries use.
//!
//! - `equivocate` tells the primary of the message's view the truth and
//!   lies to the backups with an even index (n1 is index 0): a pre-prepare
//!   carries the null request instead of the client's (a different digest
//!   for the same view and sequence number), and a prepare or commit names
//!   the null digest instead of the real one. Replies to clients carry a
//!   forged result. A message already about the null request, a request,
//!   a view-change or a new-view goes out unchanged (clients' requests and
//!   view-changes are modelled as signed: nobody can forge them, and a
//!   changed new-view is recomputed and refused by every correct backup).
//! - `corrupt` forges a digest (the pre-prepare's then no longer matches
//!   its request) or bumps a view number, chosen by the draw.
//!
//! Every rule is a pure function of the message, the recipient and the
//! draw, so several Byzantine replicas lie to the same backups: with one
//! (f = 1) the quorums still intersect in a correct replica and safety
//! holds; with two of four (f + 1) a correct backup can commit the null
//! request where the others commit the client's.

use super::msg::{Outcome, PbftMsg, NULL_DIGEST};
use crate::fault::byzantine::Tamper;
use crate::node::NodeId;

/// The PBFT [`Tamper`] for `n` replicas.
#[derive(Clone, Copy, Debug)]
pub struct PbftTamper {
    /// The number of replicas (ids `0..n`; the rest are clients).
    pub n: usize,
}

impl PbftTamper {
    /// True if an equivocating sender lies to `to` about `view`: a backup
    /// of that view with an even index.
    pub fn lies_to(&self, to: NodeId, view: u64) -> bool {
        let primary = (view % self.n as u64) as u32;
        to.index() < self.n && to.0 != primary && to.0.is_multiple_of(2)
    }
}

fn forged(draw: u64) -> Outcome {
    Outcome::Value(format!("forged-{:x}", draw & 0xffff))
}

impl Tamper<PbftMsg> for PbftTamper {
    fn equivocate(&self, msg: &PbftMsg, _from: NodeId, to: NodeId, draw: u64) -> Option<PbftMsg> {
        match msg {
            PbftMsg::PrePrepare {
                view,
                seq,
                request: Some(_),
                ..
            } if self.lies_to(to, *view) => Some(PbftMsg::PrePrepare {
                view: *view,
                seq: *seq,
                digest: NULL_DIGEST,
                request: None,
            }),
            PbftMsg::Prepare { view, seq, digest }
                if *digest != NULL_DIGEST && self.lies_to(to, *view) =>
            {
                Some(PbftMsg::Prepare {
                    view: *view,
                    seq: *seq,
                    digest: NULL_DIGEST,
                })
            }
            PbftMsg::Commit { view, seq, digest }
                if *digest != NULL_DIGEST && self.lies_to(to, *view) =>
            {
                Some(PbftMsg::Commit {
                    view: *view,
                    seq: *seq,
                    digest: NULL_DIGEST,
                })
            }
            PbftMsg::Reply { view, seq, .. } => Some(PbftMsg::Reply {
                view: *view,
                seq: *seq,
                outcome: forged(draw),
            }),
            _ => None,
        }
    }

    fn corrupt(&self, msg: &PbftMsg, _from: NodeId, _to: NodeId, draw: u64) -> Option<PbftMsg> {
        let other = |d: u64| match d ^ (draw | 1) {
            NULL_DIGEST => d ^ 2,
            x => x,
        };
        let bump = draw & 2 != 0;
        match msg {
            PbftMsg::PrePrepare {
                view,
                seq,
                digest,
                request,
            } => Some(PbftMsg::PrePrepare {
                view: *view,
                seq: *seq,
                digest: other(*digest),
                request: request.clone(),
            }),
            PbftMsg::Prepare { view, seq, digest } => Some(PbftMsg::Prepare {
                view: if bump { view + 1 } else { *view },
                seq: *seq,
                digest: if bump { *digest } else { other(*digest) },
            }),
            PbftMsg::Commit { view, seq, digest } => Some(PbftMsg::Commit {
                view: if bump { view + 1 } else { *view },
                seq: *seq,
                digest: if bump { *digest } else { other(*digest) },
            }),
            PbftMsg::ViewChange { new_view, prepared } => Some(PbftMsg::ViewChange {
                new_view: new_view + 1,
                prepared: prepared.clone(),
            }),
            PbftMsg::NewView {
                view,
                view_changes,
                pre_prepares,
            } => Some(PbftMsg::NewView {
                view: view + 1,
                view_changes: view_changes.clone(),
                pre_prepares: pre_prepares.clone(),
            }),
            PbftMsg::Reply { view, seq, .. } => Some(PbftMsg::Reply {
                view: *view,
                seq: *seq,
                outcome: forged(draw),
            }),
            PbftMsg::Request(_) => None,
        }
    }
}
