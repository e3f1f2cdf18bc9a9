//! The Wing-Gong-Lowe search for one key, resumable in slices of steps.
//!
//! The history is a doubly linked list of *entries*, one call and one return
//! per operation, sorted by time (calls before returns at equal times, so
//! intervals are closed; unknown returns last). The search walks the list:
//! at a call it tries to linearize the operation now (one *step*: apply it to
//! the model); if the model accepts and the configuration (set of
//! linearized operations, model state) is new, it lifts the call and its
//! return out of the list, pushes them on a stack and starts again at the
//! head. Reaching a return means the operation that returns there had to be
//! linearized already: backtrack (pop, put the entries back, try the next
//! call). An empty list means linearizable; backtracking from an empty stack
//! means not. (Lowe, "Testing for linearizability", 2017; Porcupine.)
//!
//! Pruning, both sound (a linearization exists iff one exists that the
//! pruned search finds): a read that applies in the current state is taken
//! at once, before any other call of the window (moving a read that leaves
//! the state as it is to the front of a linearization keeps it valid), and
//! nothing else is tried in its place: undoing it undoes the configuration
//! below too; and an unknown-outcome write whose value no remaining operation
//! requires is lifted out of the list until the stack drops below the depth
//! where it died (see `prune.rs`).
//!
//! Cost: a step is O(1) apart from the walk to the next applicable call: the
//! memo key is a 128-bit fingerprint kept incrementally (16 bytes an entry,
//! whatever the number of operations), and the deepest stack is kept by
//! extending the previous copy from where the two agree, never by copying it
//! whole. A history whose operations do not overlap takes one step an
//! operation. Memory is counted by [`Search::memory_bytes`] (memo table, stack,
//! deepest stack, the model's tables), and a step that would take it over the
//! caller's limit is not taken ([`Progress::OutOfMemory`]).
//!
//! What it does not do: split by key, or read clocks. Invariants: the order
//! of the search is fixed by the entry order alone (the memo set only prunes);
//! each step adds at most one memo entry; once every operation with a known
//! return is linearized the rest (unknown outcome, infinite return, always
//! applicable) fit after them, so the search stops there.

use super::memo::{fx_hash, Fingerprint, MemoSet};
use super::prune::Observers;
use super::spec::{Operation, SequentialSpec};
use crate::history::HistoryError;

const NONE: u32 = u32::MAX;
const HEAD: u32 = 0;
/// Marks a stack entry taken as a read that applied: nothing else was tried
/// in its place, so undoing it undoes the configuration below it too.
const FORCED: u32 = 1 << 31;
/// How many calls past the cursor are searched for a read that applies.
const READ_SCAN: u32 = 256;

/// Where a search stands after a slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// It may go on.
    Paused,
    /// Finished: linearizable.
    Linearizable,
    /// Finished: not linearizable.
    NotLinearizable,
    /// Stopped before a step that would take memory over the limit; it may
    /// go on with a larger limit.
    OutOfMemory,
}

/// The search over one key's operations.
pub struct Search<S: SequentialSpec> {
    /// The key, if any.
    pub key: Option<String>,
    /// The model (owns the interned values).
    pub spec: S,
    /// Compiled operations, by operation id.
    pub ops: Vec<S::Op>,
    /// The operations as in the history, by operation id.
    pub meta: Vec<Operation>,
    /// Steps taken so far.
    pub steps: u64,
    /// The deepest stack seen: operation ids in order, and the state after.
    pub best: (Vec<u32>, S::State),
    /// How many leading entries of `best` equal the stack's.
    best_agrees: usize,
    /// Entry e: operation id, whether a call, the partner (call -> return).
    entry_op: Vec<u32>,
    entry_call: Vec<bool>,
    partner: Vec<u32>,
    next: Vec<u32>,
    prev: Vec<u32>,
    linearized: Fingerprint,
    memo: MemoSet,
    stack: Vec<(u32, S::State)>,
    /// Calls of dead unknown writes lifted out of the list, with the stack
    /// depth at which they died (put back when the stack drops below it).
    dead: Vec<(u32, u32)>,
    observers: Observers<S::State>,
    /// Whether each operation is a read ([`SequentialSpec::read_only`]).
    read_only: Vec<bool>,
    state: S::State,
    cursor: u32,
    finite_left: usize,
    done: Option<Progress>,
}

impl<S: SequentialSpec> Search<S> {
    /// Compiles `all` with `spec` and builds the entry list; `Err` carries
    /// the history index of the offending event and what was expected.
    pub fn new(
        key: Option<String>,
        mut spec: S,
        all: Vec<Operation>,
    ) -> Result<Self, HistoryError> {
        let mut ops = Vec::with_capacity(all.len());
        let mut kept = Vec::with_capacity(all.len());
        for op in &all {
            let compiled = spec
                .compile(op)
                .map_err(|e| super::prepare::operation_error(op, e))?;
            kept.push(compiled.is_some());
            ops.extend(compiled);
        }
        let mut meta = all;
        let mut keep = kept.into_iter();
        meta.retain(|_| keep.next().unwrap_or(false));
        let state = spec.init();
        Ok(Self::build(key, spec, ops, meta, state))
    }

    fn build(
        key: Option<String>,
        spec: S,
        ops: Vec<S::Op>,
        meta: Vec<Operation>,
        state: S::State,
    ) -> Self {
        let n = meta.len();
        assert!(
            n < (FORCED as usize) / 2 - 1,
            "too many operations for one key: {n}"
        );
        let order = entry_order(&meta);
        let observers = Observers::new(&spec, &ops, &meta);
        let read_only = ops.iter().map(|op| spec.read_only(op)).collect();
        let mut search = Search {
            key,
            spec,
            ops,
            steps: 0,
            best: (Vec::new(), state),
            best_agrees: 0,
            entry_op: vec![NONE; 2 * n + 1],
            entry_call: vec![false; 2 * n + 1],
            partner: vec![NONE; 2 * n + 1],
            next: vec![NONE; 2 * n + 1],
            prev: vec![NONE; 2 * n + 1],
            linearized: Fingerprint::default(),
            memo: MemoSet::default(),
            stack: Vec::new(),
            dead: Vec::new(),
            observers,
            read_only,
            state,
            cursor: 1,
            finite_left: meta.iter().filter(|m| m.ret.is_some()).count(),
            meta,
            done: None,
        };
        search.link(&order);
        search
    }

    /// Fills the list arrays from the sorted `(op, is_call)` order.
    fn link(&mut self, order: &[(u32, bool)]) {
        let mut call_entry = vec![NONE; self.meta.len()];
        for (i, &(op, is_call)) in order.iter().enumerate() {
            let e = i as u32 + 1;
            self.entry_op[e as usize] = op;
            self.entry_call[e as usize] = is_call;
            self.prev[e as usize] = e - 1;
            self.next[(e - 1) as usize] = e;
            match is_call {
                true => call_entry[op as usize] = e,
                false => self.partner[call_entry[op as usize] as usize] = e,
            }
        }
        if self.finite_left == 0 {
            self.done = Some(Progress::Linearizable);
        }
    }

    /// Number of operations this search places.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// Whether there are no operations.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// The final outcome, if finished.
    pub fn outcome(&self) -> Option<Progress> {
        self.done
    }

    /// Runs at most `budget` steps, keeping [`Search::memory_bytes`] at or
    /// under `memory_limit`.
    pub fn run(&mut self, budget: u64, memory_limit: usize) -> Progress {
        if let Some(done) = self.done {
            return done;
        }
        let limit = self.steps.saturating_add(budget);
        while self.steps < limit {
            // The memo and stacks are checked before they grow; the model's
            // tables (kv strings) grow inside `apply` and are counted every
            // 64 steps.
            let growth = self.growth_bytes();
            if (growth > 0 || self.steps.is_multiple_of(64))
                && self.memory_bytes() + growth > memory_limit
            {
                return Progress::OutOfMemory;
            }
            if let Some(done) = self.advance() {
                self.done = Some(done);
                self.release();
                return done;
            }
        }
        Progress::Paused
    }

    /// Bytes held by what the search grows as it goes: the memo table, the
    /// stack, the deepest stack, and the model's own tables.
    pub fn memory_bytes(&self) -> usize {
        self.memo.bytes()
            + self.stack.capacity() * std::mem::size_of::<(u32, S::State)>()
            + self.best.0.capacity() * std::mem::size_of::<u32>()
            + self.dead.capacity() * std::mem::size_of::<(u32, u32)>()
            + self.spec.memory_bytes()
    }

    /// Bytes the next step may add at most, apart from the model's tables:
    /// a memo table that doubles, a stack and a deepest stack that double.
    fn growth_bytes(&self) -> usize {
        let doubling = |len: usize, capacity: usize, size: usize| match len == capacity {
            true => capacity.max(4) * size,
            false => 0,
        };
        self.memo.growth_bytes()
            + doubling(
                self.stack.len(),
                self.stack.capacity(),
                std::mem::size_of::<(u32, S::State)>(),
            )
            + doubling(self.best.0.len(), self.best.0.capacity(), 4)
            + doubling(self.dead.len(), self.dead.capacity(), 8)
    }

    /// Gives back the memo and the stack once the search is over (the
    /// deepest stack stays, for the explanation).
    fn release(&mut self) {
        self.memo.clear();
        self.stack = Vec::new();
        self.dead = Vec::new();
    }

    /// One move at the cursor: try a call, or backtrack at a return.
    #[inline]
    fn advance(&mut self) -> Option<Progress> {
        let e = self.cursor;
        if self.entry_call[e as usize] {
            self.try_call(e)
        } else {
            self.backtrack()
        }
    }

    /// Tries to linearize the operation whose call is entry `e` (or, if
    /// it is not a read, a read that applies among the calls after it:
    /// taking a read that applies never loses a linearization, since it
    /// leaves the state as it is, so nothing else is tried there).
    #[inline]
    fn try_call(&mut self, e: u32) -> Option<Progress> {
        self.steps += 1;
        let op = self.entry_op[e as usize] as usize;
        if self.observers.is_dead(op) {
            self.cursor = self.next[e as usize];
            self.lift(e);
            self.dead.push((self.stack.len() as u32, e));
            return None;
        }
        let (e, forced) = match self.read_only[op] {
            true => (e, true),
            false => self.read_after(e).map_or((e, false), |r| (r, true)),
        };
        let op = self.entry_op[e as usize] as usize;
        let Some(next_state) = self.spec.apply(self.state, &self.ops[op]) else {
            self.cursor = self.next[e as usize];
            return None;
        };
        self.linearized.toggle(op);
        if !self.memo.insert(self.linearized.key(fx_hash(&next_state))) {
            self.linearized.toggle(op);
            if forced {
                return self.backtrack();
            }
            self.cursor = self.next[e as usize];
            return None;
        }
        self.stack
            .push((e | if forced { FORCED } else { 0 }, self.state));
        self.state = next_state;
        self.lift(e);
        self.observers.linearized(op);
        self.cursor = self.next[HEAD as usize];
        self.note_depth();
        if self.meta[op].ret.is_some() {
            self.finite_left -= 1;
        }
        (self.finite_left == 0).then_some(Progress::Linearizable)
    }

    /// The first call after `e` (and before the next return) of a read that
    /// applies in the current state, among the next [`READ_SCAN`] calls (so
    /// a step stays O(1) however many operations overlap).
    #[inline]
    fn read_after(&mut self, e: u32) -> Option<u32> {
        let mut at = self.next[e as usize];
        let mut left = READ_SCAN;
        while at != NONE && self.entry_call[at as usize] && left > 0 {
            left -= 1;
            let op = self.entry_op[at as usize] as usize;
            if self.read_only[op] && self.spec.apply(self.state, &self.ops[op]).is_some() {
                return Some(at);
            }
            at = self.next[at as usize];
        }
        None
    }

    /// Undoes the last linearization and moves past it; undoes the one
    /// below too while the undone one was a forced read.
    #[inline]
    fn backtrack(&mut self) -> Option<Progress> {
        loop {
            let depth = self.stack.len() as u32;
            while let Some(&(at, dead)) = self.dead.last() {
                if at < depth {
                    break;
                }
                self.dead.pop();
                self.unlift(dead);
            }
            let Some((marked, state)) = self.stack.pop() else {
                return Some(Progress::NotLinearizable);
            };
            let e = marked & !FORCED;
            let op = self.entry_op[e as usize] as usize;
            self.observers.undone(op);
            self.state = state;
            self.linearized.toggle(op);
            self.best_agrees = self.best_agrees.min(self.stack.len());
            self.unlift(e);
            if self.meta[op].ret.is_some() {
                self.finite_left += 1;
            }
            if marked & FORCED == 0 {
                self.cursor = self.next[e as usize];
                return None;
            }
        }
    }

    /// Records the stack if it is the deepest so far: only the part after
    /// where it still agrees with the previous record is copied, so a stack
    /// that only grows costs O(1) a step.
    #[inline]
    fn note_depth(&mut self) {
        if self.stack.len() <= self.best.0.len() {
            return;
        }
        let agree = self.best_agrees;
        self.best.0.truncate(agree);
        let ops = self.stack[agree..]
            .iter()
            .map(|&(e, _)| self.entry_op[(e & !FORCED) as usize]);
        self.best.0.extend(ops);
        self.best.1 = self.state;
        self.best_agrees = self.stack.len();
        debug_assert_eq!(self.best.0.len(), self.stack.len());
    }

    /// Removes call entry `e` and its return from the list.
    #[inline]
    fn lift(&mut self, e: u32) {
        self.unlink(e);
        self.unlink(self.partner[e as usize]);
    }

    /// Puts call entry `e` and its return back (reverse order of `lift`).
    #[inline]
    fn unlift(&mut self, e: u32) {
        self.relink(self.partner[e as usize]);
        self.relink(e);
    }

    #[inline]
    fn unlink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = n;
        if n != NONE {
            self.prev[n as usize] = p;
        }
    }

    #[inline]
    fn relink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = e;
        if n != NONE {
            self.prev[n as usize] = e;
        }
    }

    /// The operations that could be linearized right after the best prefix:
    /// those not in it whose call precedes every unplaced return.
    pub fn candidates_after_best(&self) -> Vec<u32> {
        let placed = self.placed_in_best();
        let unplaced = (1..self.entry_op.len()).filter(|&e| !placed[self.entry_op[e] as usize]);
        unplaced
            .take_while(|&e| self.entry_call[e])
            .map(|e| self.entry_op[e])
            .collect()
    }

    /// The unplaced operation that returns first after the best prefix.
    pub fn first_return_after_best(&self) -> Option<u32> {
        let placed = self.placed_in_best();
        (1..self.entry_op.len())
            .filter(|&e| !self.entry_call[e] && !placed[self.entry_op[e] as usize])
            .map(|e| self.entry_op[e])
            .next()
    }

    fn placed_in_best(&self) -> Vec<bool> {
        let mut placed = vec![false; self.meta.len()];
        for &op in &self.best.0 {
            placed[op as usize] = true;
        }
        placed
    }
}

/// Entries sorted by (time, returns after calls, operation id); unknown
/// returns come last. Returns `(op, is_call)` pairs.
fn entry_order(meta: &[Operation]) -> Vec<(u32, bool)> {
    let mut keyed: Vec<(u64, bool, u32)> = Vec::with_capacity(meta.len() * 2);
    for (i, m) in meta.iter().enumerate() {
        keyed.push((m.call, false, i as u32));
        keyed.push((m.ret.unwrap_or(u64::MAX), true, i as u32));
    }
    keyed.sort_unstable();
    keyed
        .into_iter()
        .map(|(_, is_return, op)| (op, !is_return))
        .collect()
}
