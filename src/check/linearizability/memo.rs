//! The search's memory: a bitset of linearized operations, and the set of
//! (bitset, model state) pairs already explored.
//!
//! What it does: [`Bitset`] keeps a Zobrist hash (the XOR of one fixed
//! 64-bit code per set bit) up to date on every `set`/`clear`, so hashing a
//! configuration is O(1). [`MemoSet`] is an open-addressing table over an
//! arena of bitsets: one flat `Vec<u64>` with a fixed number of words per
//! entry, no allocation per entry. [`FxHasher`] is a small fast deterministic
//! hasher for the models' lookup tables.
//!
//! What it does not do: remove entries, or iterate (nothing here has an order
//! that could leak into output). Invariants: every entry in the arena has
//! exactly `words` words; the table is at most half full; memory grows by one
//! entry per successful insert, so the caller's step budget bounds it.

use std::hash::{BuildHasherDefault, Hash, Hasher};

/// A fast, deterministic (unseeded) hasher in the style of rustc's FxHash.
#[derive(Clone, Copy, Debug, Default)]
pub struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        for &b in chunks.remainder() {
            self.add(b as u64);
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// `HashMap`/`HashSet` builder for [`FxHasher`] (lookups only, never iterated).
pub type FxBuild = BuildHasherDefault<FxHasher>;

/// Hashes one value with [`FxHasher`].
#[inline]
pub fn fx_hash<T: Hash>(value: &T) -> u64 {
    let mut hasher = FxHasher::default();
    value.hash(&mut hasher);
    hasher.finish()
}

/// SplitMix64: a well-mixed 64-bit code for each bit position.
fn zobrist_code(bit: usize) -> u64 {
    let mut z = (bit as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A fixed-size set of operation indices with an incrementally kept hash.
#[derive(Clone, Debug)]
pub struct Bitset {
    words: Vec<u64>,
    codes: Vec<u64>,
    hash: u64,
}

impl Bitset {
    /// An empty set able to hold `0..len`.
    pub fn new(len: usize) -> Self {
        Bitset {
            words: vec![0; len.div_ceil(64).max(1)],
            codes: (0..len).map(zobrist_code).collect(),
            hash: 0,
        }
    }

    /// Adds `bit` (which must be absent).
    #[inline]
    pub fn set(&mut self, bit: usize) {
        debug_assert!(!self.contains(bit), "bit {bit} set twice");
        self.words[bit >> 6] |= 1 << (bit & 63);
        self.hash ^= self.codes[bit];
    }

    /// Removes `bit` (which must be present).
    #[inline]
    pub fn clear(&mut self, bit: usize) {
        debug_assert!(self.contains(bit), "bit {bit} cleared while absent");
        self.words[bit >> 6] &= !(1 << (bit & 63));
        self.hash ^= self.codes[bit];
    }

    /// Whether `bit` is in the set.
    #[inline]
    pub fn contains(&self, bit: usize) -> bool {
        self.words[bit >> 6] & (1 << (bit & 63)) != 0
    }

    /// The Zobrist hash of the current contents.
    #[inline]
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The words, lowest bits first.
    #[inline]
    pub fn words(&self) -> &[u64] {
        &self.words
    }
}

/// The set of explored (bitset, state) configurations.
#[derive(Debug)]
pub struct MemoSet<S> {
    words: usize,
    arena: Vec<u64>,
    states: Vec<S>,
    hashes: Vec<u64>,
    /// Open addressing: 0 = empty; otherwise the hash's high 32 bits above
    /// (entry index + 1), so most mismatches are rejected in the table.
    table: Vec<u64>,
}

impl<S: Copy + Eq + Hash> MemoSet<S> {
    /// An empty set for bitsets of `words` words.
    pub fn new(words: usize) -> Self {
        MemoSet {
            words,
            arena: Vec::new(),
            states: Vec::new(),
            hashes: Vec::new(),
            table: vec![0; 64],
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// Inserts (bits, state); returns false if it was already present.
    #[inline]
    pub fn insert(&mut self, bits: &Bitset, state: S) -> bool {
        debug_assert_eq!(bits.words().len(), self.words, "bitset width changed");
        let hash = bits.hash() ^ fx_hash(&state).rotate_left(17);
        let tag = hash & 0xffff_ffff_0000_0000;
        let mask = self.table.len() - 1;
        let mut slot = (hash as usize) & mask;
        loop {
            let cell = self.table[slot];
            if cell == 0 {
                break;
            }
            if cell & 0xffff_ffff_0000_0000 == tag
                && self.matches((cell as u32 - 1) as usize, bits, state)
            {
                return false;
            }
            slot = (slot + 1) & mask;
        }
        self.push(slot, hash, bits, state);
        true
    }

    #[inline]
    fn matches(&self, entry: usize, bits: &Bitset, state: S) -> bool {
        self.states[entry] == state
            && self.arena[entry * self.words..(entry + 1) * self.words] == *bits.words()
    }

    fn push(&mut self, slot: usize, hash: u64, bits: &Bitset, state: S) {
        let entry = self.states.len();
        assert!(
            entry < u32::MAX as usize - 1,
            "memo set full: {entry} entries"
        );
        self.arena.extend_from_slice(bits.words());
        self.states.push(state);
        self.hashes.push(hash);
        self.table[slot] = cell_of(hash, entry);
        if self.states.len() * 2 > self.table.len() {
            self.grow();
        }
    }

    fn grow(&mut self) {
        let size = self.table.len() * 2;
        let mask = size - 1;
        let mut table = vec![0u64; size];
        for (entry, &hash) in self.hashes.iter().enumerate() {
            let mut slot = (hash as usize) & mask;
            while table[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            table[slot] = cell_of(hash, entry);
        }
        self.table = table;
    }
}

/// A table cell: the hash's high half, and the entry index + 1 below it.
#[inline]
fn cell_of(hash: u64, entry: usize) -> u64 {
    (hash & 0xffff_ffff_0000_0000) | (entry as u64 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_follows_the_contents() {
        let mut a = Bitset::new(130);
        let mut b = Bitset::new(130);
        a.set(3);
        a.set(129);
        b.set(129);
        b.set(3);
        assert_eq!(a.hash(), b.hash());
        a.clear(3);
        a.clear(129);
        assert_eq!(a.hash(), 0);
    }

    #[test]
    fn memo_set_finds_what_it_holds() {
        let mut memo = MemoSet::<u32>::new(1);
        let mut bits = Bitset::new(10);
        for i in 0..10 {
            bits.set(i);
            for state in 0..20 {
                assert!(memo.insert(&bits, state));
            }
        }
        assert_eq!(memo.len(), 200);
        assert!(!memo.insert(&bits, 7));
        bits.clear(9);
        assert!(!memo.insert(&bits, 19));
        bits.clear(8);
        bits.set(9);
        assert!(memo.insert(&bits, 0));
    }
}
