//! The search's memory: a fingerprint of the set of linearized operations,
//! and the set of (operations, model state) configurations already explored.
//!
//! What it does: [`Fingerprint`] is a 128-bit Zobrist hash of a set of
//! operation indices (the XOR of two fixed 64-bit codes per member), kept up
//! to date in O(1) on every `toggle`, so a configuration is hashed and stored
//! in O(1) time and 16 bytes whatever the number of operations. [`MemoSet`] is
//! an open-addressing table of those 16-byte keys (the model state folded in),
//! with its size in bytes known exactly so a caller can keep it under a
//! memory budget. [`fx_hash`] hashes a model state with the project's lookup
//! hasher ([`FxHasher`]).
//!
//! What it does not do: store the sets themselves. Two different
//! configurations share a key only if their 128-bit fingerprints collide:
//! with codes from SplitMix64, about `entries^2 / 2^129` (under 1e-22 for a
//! billion entries); such a collision could only prune a branch wrongly, never
//! invent a linearization. Remove entries, or iterate (nothing here has an
//! order that could leak into output). Invariants: the table is at most half
//! full; a key is never 0 (0 marks an empty slot).

use std::hash::{Hash, Hasher};

pub use crate::hash::{FxBuild, FxHasher};

/// Hashes one value with [`FxHasher`].
#[inline]
pub fn fx_hash<T: Hash>(value: &T) -> u64 {
    let mut hasher = FxHasher::default();
    value.hash(&mut hasher);
    hasher.finish()
}

/// SplitMix64's finaliser: a well-mixed 64-bit code for `x`.
#[inline]
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A 128-bit Zobrist hash of a set of operation indices, kept incrementally.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint {
    low: u64,
    high: u64,
}

impl Fingerprint {
    /// Adds `bit` if absent, removes it if present.
    #[inline]
    pub fn toggle(&mut self, bit: usize) {
        let b = bit as u64;
        self.low ^= mix(b << 1);
        self.high ^= mix((b << 1) | 1);
    }

    /// The key of this set together with a model state's hash (never 0).
    #[inline]
    pub fn key(&self, state_hash: u64) -> u128 {
        let low = self.low ^ mix(state_hash ^ 0x5bd1_e995);
        let high = self.high ^ state_hash.rotate_left(29);
        let key = ((high as u128) << 64) | low as u128;
        key.max(1)
    }
}

/// The set of explored configurations, as 128-bit keys.
#[derive(Debug)]
pub struct MemoSet {
    /// Open addressing: 0 = empty.
    table: Vec<u128>,
    len: usize,
}

/// Slots of a new (or cleared) table.
const FIRST_SLOTS: usize = 64;

impl Default for MemoSet {
    fn default() -> Self {
        MemoSet {
            table: vec![0; FIRST_SLOTS],
            len: 0,
        }
    }
}

impl MemoSet {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held by the table.
    pub fn bytes(&self) -> usize {
        self.table.len() * std::mem::size_of::<u128>()
    }

    /// Bytes the next insertion of a new key would add (the table doubles,
    /// and while it is rebuilt the old one is held too).
    pub fn growth_bytes(&self) -> usize {
        match (self.len + 1) * 2 > self.table.len() {
            true => self.bytes() * 2,
            false => 0,
        }
    }

    /// Inserts `key` (from [`Fingerprint::key`]); returns false if present.
    #[inline]
    pub fn insert(&mut self, key: u128) -> bool {
        debug_assert_ne!(key, 0, "0 marks an empty slot");
        let mask = self.table.len() - 1;
        let mut slot = (key as usize) & mask;
        loop {
            match self.table[slot] {
                0 => break,
                k if k == key => return false,
                _ => slot = (slot + 1) & mask,
            }
        }
        self.table[slot] = key;
        self.len += 1;
        if self.len * 2 > self.table.len() {
            self.grow();
        }
        true
    }

    /// Drops every entry and gives the memory back.
    pub fn clear(&mut self) {
        *self = MemoSet::default();
    }

    fn grow(&mut self) {
        let size = self.table.len() * 2;
        let mask = size - 1;
        let old = std::mem::replace(&mut self.table, vec![0; size]);
        for key in old.into_iter().filter(|&k| k != 0) {
            let mut slot = (key as usize) & mask;
            while self.table[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            self.table[slot] = key;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_follows_the_contents() {
        let mut a = Fingerprint::default();
        let mut b = Fingerprint::default();
        a.toggle(3);
        a.toggle(129);
        b.toggle(129);
        b.toggle(3);
        assert_eq!(a, b);
        a.toggle(3);
        a.toggle(129);
        assert_eq!(a, Fingerprint::default());
    }

    #[test]
    fn memo_set_finds_what_it_holds() {
        let mut memo = MemoSet::default();
        let mut bits = Fingerprint::default();
        for i in 0..10 {
            bits.toggle(i);
            for state in 0u32..20 {
                assert!(memo.insert(bits.key(fx_hash(&state))));
            }
        }
        assert_eq!(memo.len(), 200);
        assert!(!memo.insert(bits.key(fx_hash(&7u32))));
        bits.toggle(9);
        assert!(!memo.insert(bits.key(fx_hash(&19u32))));
        bits.toggle(8);
        bits.toggle(9);
        assert!(memo.insert(bits.key(fx_hash(&0u32))));
        assert_eq!(memo.bytes(), 512 * 16);
    }
}
