//! Interned strings for the key-value model, built for appends.
//!
//! What it does: gives every distinct string a dense `u32` id, so a model
//! state is one integer; computes `append(id, suffix id)` once per pair and
//! remembers it. All contents live in one byte arena (no allocation per
//! string), and each string's hash is a byte-wise fold, so the hash of
//! `a + b` is `fold(hash(a), b)`: an append hashes only its suffix.
//!
//! What it does not do: forget strings, or iterate its tables. Invariants:
//! equal contents have equal ids (so comparing ids compares strings); id 0
//! is `""`; tables are at most half full; only valid UTF-8 (concatenations
//! of `&str`) is stored.

use std::ops::Range;

const EMPTY: u32 = u32::MAX;
const FOLD_PRIME: u64 = 0x0000_0100_0000_01b3;
const FOLD_START: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over bytes, continuing from `hash`.
#[inline]
fn fold(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash = (hash ^ b as u64).wrapping_mul(FOLD_PRIME);
    }
    hash
}

/// Spreads a hash over all bits before masking (SplitMix64's finaliser).
#[inline]
fn spread(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A set of strings with dense ids and an append cache.
#[derive(Debug)]
pub struct StringTable {
    arena: Vec<u8>,
    spans: Vec<Range<usize>>,
    hashes: Vec<u64>,
    /// Open addressing: id, or `EMPTY`.
    slots: Vec<u32>,
    appends: PairMap,
}

impl Default for StringTable {
    fn default() -> Self {
        let mut table = StringTable {
            arena: Vec::new(),
            spans: Vec::new(),
            hashes: Vec::new(),
            slots: vec![EMPTY; 64],
            appends: PairMap::default(),
        };
        table.intern("");
        table
    }
}

impl StringTable {
    /// The content of `id`.
    pub fn get(&self, id: u32) -> &str {
        let bytes = &self.arena[self.spans[id as usize].clone()];
        std::str::from_utf8(bytes).expect("the arena holds concatenations of &str")
    }

    /// Number of distinct strings.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Bytes held by the table (arena, spans, hashes, slots, append cache).
    pub fn memory_bytes(&self) -> usize {
        self.arena.capacity()
            + self.spans.capacity() * std::mem::size_of::<Range<usize>>()
            + self.hashes.capacity() * 8
            + self.slots.capacity() * 4
            + self.appends.keys.capacity() * 12
    }

    /// Whether the table is empty (never: `""` is always there).
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The id of `text`, adding it if new.
    pub fn intern(&mut self, text: &str) -> u32 {
        let hash = fold(FOLD_START, text.as_bytes());
        let slot = self.find(hash, text.len(), |arena, span| {
            arena[span] == *text.as_bytes()
        });
        if self.slots[slot] != EMPTY {
            return self.slots[slot];
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(text.as_bytes());
        self.add(slot, hash, start..self.arena.len())
    }

    /// The id of `get(state) + get(suffix)`, adding it if new.
    #[inline]
    pub fn append(&mut self, state: u32, suffix: u32) -> u32 {
        match self.appends.get(state, suffix) {
            Some(id) => id,
            None => self.append_new(state, suffix),
        }
    }

    fn append_new(&mut self, state: u32, suffix: u32) -> u32 {
        let (a, b) = (
            self.spans[state as usize].clone(),
            self.spans[suffix as usize].clone(),
        );
        let hash = fold(self.hashes[state as usize], &self.arena[b.clone()]);
        let len = a.len() + b.len();
        let same = |arena: &[u8], span: Range<usize>| {
            arena[span.start..span.start + a.len()] == arena[a.clone()]
                && arena[span.start + a.len()..span.end] == arena[b.clone()]
        };
        let slot = self.find(hash, len, same);
        let id = match self.slots[slot] {
            EMPTY => self.add_concat(slot, hash, a, b),
            id => id,
        };
        self.appends.insert(state, suffix, id);
        id
    }

    fn add_concat(&mut self, slot: usize, hash: u64, a: Range<usize>, b: Range<usize>) -> u32 {
        let start = self.arena.len();
        self.arena.extend_from_within(a);
        self.arena.extend_from_within(b);
        self.add(slot, hash, start..self.arena.len())
    }

    /// The slot holding a string with this hash and length that `same`
    /// accepts, or the empty slot where it belongs.
    #[inline]
    fn find(&self, hash: u64, len: usize, same: impl Fn(&[u8], Range<usize>) -> bool) -> usize {
        let mask = self.slots.len() - 1;
        let mut slot = spread(hash) as usize & mask;
        loop {
            let id = self.slots[slot];
            if id == EMPTY {
                return slot;
            }
            let span = self.spans[id as usize].clone();
            if self.hashes[id as usize] == hash && span.len() == len && same(&self.arena, span) {
                return slot;
            }
            slot = (slot + 1) & mask;
        }
    }

    fn add(&mut self, slot: usize, hash: u64, span: Range<usize>) -> u32 {
        let id = self.spans.len() as u32;
        assert!(id < EMPTY - 1, "too many distinct strings: {id}");
        self.spans.push(span);
        self.hashes.push(hash);
        self.slots[slot] = id;
        if self.spans.len() * 2 > self.slots.len() {
            self.grow();
        }
        id
    }

    fn grow(&mut self) {
        let mask = self.slots.len() * 2 - 1;
        let mut slots = vec![EMPTY; mask + 1];
        for (id, &hash) in self.hashes.iter().enumerate() {
            let mut slot = spread(hash) as usize & mask;
            while slots[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
            slots[slot] = id as u32;
        }
        self.slots = slots;
    }
}

/// A map from a pair of ids to an id (open addressing, never iterated).
#[derive(Debug)]
struct PairMap {
    keys: Vec<u64>,
    values: Vec<u32>,
    len: usize,
}

impl Default for PairMap {
    fn default() -> Self {
        PairMap {
            keys: vec![0; 64],
            values: vec![EMPTY; 64],
            len: 0,
        }
    }
}

impl PairMap {
    #[inline]
    fn slot_of(&self, key: u64) -> usize {
        let mask = self.keys.len() - 1;
        let mut slot = spread(key) as usize & mask;
        while self.values[slot] != EMPTY && self.keys[slot] != key {
            slot = (slot + 1) & mask;
        }
        slot
    }

    #[inline]
    fn get(&self, a: u32, b: u32) -> Option<u32> {
        let value = self.values[self.slot_of(((a as u64) << 32) | b as u64)];
        (value != EMPTY).then_some(value)
    }

    fn insert(&mut self, a: u32, b: u32, value: u32) {
        let key = ((a as u64) << 32) | b as u64;
        let slot = self.slot_of(key);
        if self.values[slot] == EMPTY {
            self.len += 1;
        }
        self.keys[slot] = key;
        self.values[slot] = value;
        if self.len * 2 > self.keys.len() {
            self.grow();
        }
    }

    fn grow(&mut self) {
        let size = self.keys.len() * 2;
        let old_keys = std::mem::replace(&mut self.keys, vec![0; size]);
        let old_values = std::mem::replace(&mut self.values, vec![EMPTY; size]);
        for (key, value) in old_keys.into_iter().zip(old_values) {
            if value != EMPTY {
                let slot = self.slot_of(key);
                self.keys[slot] = key;
                self.values[slot] = value;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_contents_share_an_id() {
        let mut t = StringTable::default();
        let x = t.intern("x");
        let y = t.intern("y");
        let xy = t.append(x, y);
        assert_eq!(t.get(xy), "xy");
        assert_eq!(t.intern("xy"), xy);
        assert_eq!(t.append(0, x), x);
        let yx = t.append(y, x);
        assert_ne!(yx, xy);
        let mut s = 0;
        for i in 0..500 {
            s = t.append(s, if i % 3 == 0 { x } else { y });
        }
        assert_eq!(t.get(s).len(), 500);
        let text = t.get(s).to_owned();
        assert_eq!(t.intern(&text), s);
        assert_eq!(t.intern(""), 0);
    }
}
