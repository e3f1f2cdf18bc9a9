//! Dead unknown writes: an operation of unknown outcome whose only effect
//! is to overwrite the state with a value that no remaining operation can
//! observe need never be linearized.
//!
//! Why it is sound: take a linearization of the remaining operations that
//! places such a write `w(v)`. Until the next operation that sets the state,
//! the state is `v`; nothing remaining requires `v` (no read returns it, no
//! compare-and-set expects it), so what runs there can only be operations of
//! unknown outcome that did not apply; drop them and `w(v)` (unknown outcomes
//! may never take effect) and the rest still fits. This is
//! [`SequentialSpec::unobservable`] applied as the search goes: once the last
//! read of `v` is linearized, the timed-out writes of `v` stop being tried at
//! every later point, which is what keeps a run with many timeouts (a crashed
//! primary) from exploding.
//!
//! What it does not do: judge operations whose effect depends on the state
//! (an append): the spec says which operations qualify
//! ([`SequentialSpec::overwrites`]). Invariants: `counts[v]` is the number of
//! operations not linearized that require `v`; whether an operation is dead is
//! a function of the linearized set alone, so the memo stays exact.

use super::memo::FxBuild;
use super::spec::{Operation, SequentialSpec};
use std::collections::HashMap;

/// What the pruning knows about each operation, and the live counts.
#[derive(Debug)]
pub struct Observers<St> {
    /// The state each operation requires, if any.
    requires: Vec<Option<St>>,
    /// For an operation of unknown outcome that only overwrites: the value.
    overwrites: Vec<Option<St>>,
    /// Operations not linearized that require each state (lookups only,
    /// never iterated).
    counts: HashMap<St, u32, FxBuild>,
}

impl<St: Copy + Eq + std::hash::Hash> Observers<St> {
    /// Counts, for every state, the operations of `ops` that require it.
    pub fn new<S: SequentialSpec<State = St>>(spec: &S, ops: &[S::Op], meta: &[Operation]) -> Self {
        let requires: Vec<Option<St>> = ops.iter().map(|op| spec.requires(op)).collect();
        let overwrites = ops
            .iter()
            .zip(meta)
            .map(|(op, m)| match m.ret {
                None => spec.overwrites(op),
                Some(_) => None,
            })
            .collect();
        let mut counts: HashMap<St, u32, FxBuild> = HashMap::default();
        for v in requires.iter().flatten() {
            *counts.entry(*v).or_insert(0) += 1;
        }
        Observers {
            requires,
            overwrites,
            counts,
        }
    }

    /// Whether operation `op` is a dead unknown write now.
    #[inline]
    pub fn is_dead(&self, op: usize) -> bool {
        match self.overwrites[op] {
            Some(v) => self.counts.get(&v).is_none_or(|&n| n == 0),
            None => false,
        }
    }

    /// Operation `op` was linearized.
    #[inline]
    pub fn linearized(&mut self, op: usize) {
        if let Some(v) = self.requires[op] {
            let n = self.counts.get_mut(&v).expect("counted at the start");
            debug_assert!(*n > 0, "more observers linearized than counted");
            *n -= 1;
        }
    }

    /// Operation `op` was taken back off the stack.
    #[inline]
    pub fn undone(&mut self, op: usize) {
        if let Some(v) = self.requires[op] {
            *self.counts.get_mut(&v).expect("counted at the start") += 1;
        }
    }
}
