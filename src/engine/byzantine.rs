//! Byzantine nodes in the engine: which nodes are Byzantine, and what their
//! adversary does to each message they send (see [`crate::fault::byzantine`]).
//!
//! Nothing here exists until the first Byzantine fault applies: the state
//! (with its own random stream) is made then, so a run without one draws
//! and costs exactly what it did before.

use super::queue::Payload;
use super::trace::EventKind;
use super::Sim;
use crate::fault::byzantine::{Act, Adversary, REPLAY_RING};
use crate::node::{Message, NodeId};
use crate::rng::SimRng;
use crate::time::SimDuration;
use std::collections::VecDeque;

/// The Byzantine nodes of a run and their adversaries' memory.
pub(super) struct State<M> {
    /// Draws for the adversaries (`SimRng::stream(seed, "byzantine")`).
    rng: SimRng,
    /// Each node's adversary, if it is Byzantine now.
    adversary: Vec<Option<Adversary>>,
    /// Bumped by each Byzantine fault on the node, so an earlier fault's
    /// end does not end a later one.
    generation: Vec<u32>,
    /// A `replay` node's last [`REPLAY_RING`] sends, oldest first.
    sent: Vec<VecDeque<(NodeId, M)>>,
    /// An `equivocate` or `corrupt` message went out unchanged because
    /// the model has no tamper.
    untampered: bool,
}

impl<M> State<M> {
    /// True if `node` is Byzantine now.
    #[inline]
    pub(super) fn is_on(&self, node: NodeId) -> bool {
        self.adversary[node.index()].is_some()
    }
}

impl<M: Message> Sim<M> {
    /// Marks `node` Byzantine (already traced), queueing the end of a `duration`.
    pub(super) fn turn_byzantine(
        &mut self,
        node: NodeId,
        adversary: Adversary,
        duration: Option<SimDuration>,
    ) {
        let n = self.slots.len();
        let seed = self.seed;
        let state = self.byzantine.get_or_insert_with(|| {
            Box::new(State {
                rng: SimRng::stream(seed, "byzantine"),
                adversary: vec![None; n],
                generation: vec![0; n],
                sent: (0..n).map(|_| VecDeque::new()).collect(),
                untampered: false,
            })
        });
        let i = node.index();
        state.adversary[i] = Some(adversary);
        state.generation[i] += 1;
        state.sent[i].clear();
        if let Some(duration) = duration {
            let generation = state.generation[i];
            self.queue.push(
                self.now + duration,
                Payload::ByzantineEnd { node, generation },
            );
        }
    }

    /// Ends a Byzantine fault with a duration, unless another replaced it.
    pub(super) fn end_byzantine(&mut self, node: NodeId, generation: u32) -> bool {
        let Some(state) = self.byzantine.as_mut() else {
            return false;
        };
        let i = node.index();
        if state.generation[i] != generation || state.adversary[i].is_none() {
            return false;
        }
        state.adversary[i] = None;
        state.sent[i].clear();
        self.push_event(Some(node), EventKind::Honest);
        true
    }

    /// True if `node` is Byzantine now.
    pub fn is_byzantine(&self, node: NodeId) -> bool {
        self.byzantine
            .as_ref()
            .is_some_and(|s| s.adversary[node.index()].is_some())
    }

    /// True if an `equivocate` or `corrupt` adversary sent a message
    /// unchanged because the model provides no [`crate::fault::byzantine::Tamper`].
    pub fn byzantine_untampered(&self) -> bool {
        self.byzantine.as_ref().is_some_and(|s| s.untampered)
    }

    /// Hands a message of a Byzantine node to its adversary, which routes
    /// what it sends (if anything) through the network.
    pub(super) fn route_byzantine(&mut self, from: NodeId, to: NodeId, msg: M) {
        let state = self.byzantine.as_mut().expect("a Byzantine node");
        let i = from.index();
        let act = match state.adversary[i].as_ref().expect("a Byzantine node") {
            Adversary::DropTo(peers) if peers.contains(&to) => {
                let id = self.next_msg;
                self.next_msg += 1;
                self.push_byzantine(from, to, id, Act::Dropped);
                return;
            }
            Adversary::DropTo(_) => return self.route_honest(from, to, msg),
            Adversary::Replay => {
                let ring = &mut state.sent[i];
                let old = (!ring.is_empty())
                    .then(|| ring[state.rng.below(ring.len() as u64) as usize].clone());
                if ring.len() == REPLAY_RING {
                    ring.pop_front();
                }
                ring.push_back((to, msg.clone()));
                debug_assert!(ring.len() <= REPLAY_RING, "the replay ring overflowed");
                self.route_honest(from, to, msg);
                if let Some((old_to, old_msg)) = old {
                    self.push_byzantine(from, old_to, self.next_msg, Act::Replayed);
                    self.route_honest(from, old_to, old_msg);
                }
                return;
            }
            Adversary::Equivocate => Act::Equivocated,
            Adversary::Corrupt => Act::Corrupted,
        };
        let draw = state.rng.next_u64();
        let forged = match &self.tamper {
            None => {
                state.untampered = true;
                None
            }
            Some(tamper) if act == Act::Equivocated => tamper.equivocate(&msg, from, to, draw),
            Some(tamper) => tamper.corrupt(&msg, from, to, draw),
        };
        match forged {
            Some(forged) => {
                self.push_byzantine(from, to, self.next_msg, act);
                self.route_honest(from, to, forged);
            }
            None => self.route_honest(from, to, msg),
        }
    }

    fn push_byzantine(&mut self, from: NodeId, to: NodeId, msg: u64, act: Act) {
        self.push_event(Some(from), EventKind::Byzantine { to, msg, act });
    }
}
