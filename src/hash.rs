//! Stable hashing: the same value gives the same hash on every machine.
//!
//! [`TraceHasher`] folds 64-bit words in order (the trace hash of a run);
//! [`StableHasher`] is a `std::hash::Hasher` that mixes integers as values,
//! never as native-endian bytes, so a message's derived `Hash` gives one
//! [`digest`] everywhere. Models use `digest` for what they record (e.g.
//! Raft's commit digests); the engine uses both for the trace.
//!
//! The two fold words differently. A digest is short and is kept and shown
//! (in records, reports, golden files), so it keeps its full `mix64` per
//! word. The trace hash folds every word of every event of a run (eight
//! per delivery), so it takes one 64x64->128-bit multiply per word, its two
//! halves xored (the folded multiply of wyhash and foldhash), and mixes
//! fully once, in [`TraceHasher::finish`]: about a third of the cost.

use crate::rng::mix64;
use std::hash::{Hash, Hasher};

/// The multiplier of the trace hash's folded multiply (odd, with its bits
/// spread; one of wyhash's constants).
const FOLD: u64 = 0x2d35_8dcc_aa6c_78a5;

/// The running trace hash: 64-bit words folded in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceHasher {
    state: u64,
    count: u64,
}

impl Default for TraceHasher {
    fn default() -> Self {
        TraceHasher {
            state: 0x243f_6a88_85a3_08d3,
            count: 0,
        }
    }
}

impl TraceHasher {
    /// Folds in one word.
    #[inline]
    pub fn word(&mut self, w: u64) {
        let product = u128::from(self.state ^ w) * u128::from(FOLD);
        self.state = (product as u64) ^ ((product >> 64) as u64);
        self.count += 1;
    }

    /// Folds in several words.
    #[inline]
    pub fn words(&mut self, ws: &[u64]) {
        for &w in ws {
            self.word(w);
        }
    }

    /// Folds in bytes: up to 7 as one word ([`short_word`]), more as their
    /// length, then 8-byte little-endian words.
    #[inline]
    pub fn bytes(&mut self, bytes: &[u8]) {
        if bytes.len() < 8 {
            self.word(short_word(bytes));
        } else {
            debug_assert!(bytes.len() < 1 << 56, "a length word's top byte is zero");
            as_words(bytes, |w| self.word(w));
        }
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        mix64(self.state ^ mix64(self.count))
    }

    /// The hash as 16 hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.finish())
    }
}

/// Up to 7 bytes as one word: the bytes little-endian in the low 7 bytes,
/// the length in the top one (no bytes: 0). A longer string's first word
/// is its length, at least 8 and with a zero top byte, so a short string's
/// word never reads as the start of a long one.
#[inline]
fn short_word(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    debug_assert!(len < 8);
    // The bytes read without a variable-length copy: two overlapping
    // 4-byte reads for 4 to 7 bytes (an overlapping byte is the same in
    // both), the first, middle and last byte for 1 to 3.
    let low = if len >= 4 {
        let first = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
        let last = u32::from_le_bytes(bytes[len - 4..].try_into().expect("4 bytes"));
        u64::from(first) | u64::from(last) << ((len - 4) * 8)
    } else if len > 0 {
        u64::from(bytes[0])
            | u64::from(bytes[len / 2]) << (len / 2 * 8)
            | u64::from(bytes[len - 1]) << ((len - 1) * 8)
    } else {
        0
    };
    low | (len as u64) << 56
}

/// Calls `word` with the length of `bytes`, then with each 8 bytes as a
/// little-endian word (the last zero-padded).
#[inline]
fn as_words(bytes: &[u8], mut word: impl FnMut(u64)) {
    word(bytes.len() as u64);
    for chunk in bytes.chunks(8) {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        word(u64::from_le_bytes(w));
    }
}

/// The state of a [`StableHasher`]: words mixed in order, each through a
/// full `mix64`.
#[derive(Clone, Copy, Debug)]
pub struct DigestState {
    state: u64,
    count: u64,
}

impl Default for DigestState {
    fn default() -> Self {
        DigestState {
            state: 0x243f_6a88_85a3_08d3,
            count: 0,
        }
    }
}

impl DigestState {
    #[inline]
    fn word(&mut self, w: u64) {
        self.state = mix64(self.state.rotate_left(23) ^ w.wrapping_add(0x9e37_79b9_7f4a_7c15));
        self.count += 1;
    }

    fn finish(&self) -> u64 {
        mix64(self.state ^ self.count)
    }
}

/// What a [`WordHasher`] folds words into: [`TraceHasher`] (fast, for the
/// trace) or the digest state (full `mix64` per word, for [`digest`]).
pub trait WordFold: Default {
    /// Folds in one word.
    fn fold(&mut self, w: u64);
    /// Folds in bytes (by default their length, then 8-byte words).
    #[inline]
    fn fold_bytes(&mut self, bytes: &[u8]) {
        as_words(bytes, |w| self.fold(w));
    }
    /// The hash so far.
    fn hash(&self) -> u64;
}

impl WordFold for TraceHasher {
    #[inline]
    fn fold(&mut self, w: u64) {
        self.word(w);
    }
    #[inline]
    fn fold_bytes(&mut self, bytes: &[u8]) {
        self.bytes(bytes);
    }
    /// The state after folding in the word count: one multiply, not the
    /// two full mixes of [`TraceHasher::finish`]. A message digest is
    /// folded into the trace hash, which mixes fully at its end.
    #[inline]
    fn hash(&self) -> u64 {
        let mut last = *self;
        last.word(self.count);
        last.state
    }
}

impl WordFold for DigestState {
    #[inline]
    fn fold(&mut self, w: u64) {
        self.word(w);
    }
    fn hash(&self) -> u64 {
        self.finish()
    }
}

/// A `std::hash::Hasher` whose output is the same on every platform:
/// integers are folded as values, never as native-endian bytes; bytes as
/// their length then 8-byte little-endian words.
#[derive(Default)]
pub struct WordHasher<S: WordFold>(S);

/// The `Hasher` of [`digest`]: every word through a full `mix64`.
pub type StableHasher = WordHasher<DigestState>;

impl<S: WordFold> Hasher for WordHasher<S> {
    fn finish(&self) -> u64 {
        self.0.hash()
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.fold_bytes(bytes);
    }
    fn write_u8(&mut self, i: u8) {
        self.0.fold(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.0.fold(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.0.fold(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0.fold(i);
    }
    fn write_u128(&mut self, i: u128) {
        self.0.fold(i as u64);
        self.0.fold((i >> 64) as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.0.fold(i as u64);
    }
    fn write_i8(&mut self, i: i8) {
        self.0.fold(i as u64);
    }
    fn write_i16(&mut self, i: i16) {
        self.0.fold(i as u64);
    }
    fn write_i32(&mut self, i: i32) {
        self.0.fold(i as u64);
    }
    fn write_i64(&mut self, i: i64) {
        self.0.fold(i as u64);
    }
    fn write_isize(&mut self, i: isize) {
        self.0.fold(i as u64);
    }
}

/// A fast, fixed (so deterministic) hasher for lookup tables, in the style
/// of rustc's FxHash: each 8 bytes folded by a rotate, xor and multiply, a
/// shorter tail as one word ([`short_word`]). For maps and sets that are
/// looked up, never iterated (their order is the table's): the
/// linearizability search's tables and the durable values of
/// [`crate::storage::Storage`].
#[derive(Clone, Copy, Debug, Default)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            self.add(short_word(rest));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
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
pub type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

/// The stable digest of a message (its derived `Hash` through [`StableHasher`]).
#[inline]
pub fn digest<T: Hash>(value: &T) -> u64 {
    let mut h = StableHasher::default();
    value.hash(&mut h);
    h.finish()
}

/// The digest of a message in the trace (its `send` event's `digest`):
/// its derived `Hash` folded as the trace hash folds words, cheaper than
/// [`digest`], which models use for what they record and show.
#[inline]
pub fn trace_digest<T: Hash>(value: &T) -> u64 {
    let mut h = WordHasher::<TraceHasher>::default();
    value.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace_hash(words: &[u64]) -> u64 {
        let mut h = TraceHasher::default();
        h.words(words);
        h.finish()
    }

    #[test]
    fn the_trace_hash_depends_on_every_word_and_their_order() {
        let base = trace_hash(&[1, 2, 3]);
        assert_ne!(base, trace_hash(&[1, 2, 4]));
        assert_ne!(base, trace_hash(&[2, 1, 3]));
        assert_ne!(base, trace_hash(&[1, 2, 3, 0]), "a trailing zero counts");
        assert_ne!(trace_hash(&[]), trace_hash(&[0]));
        let (mut a, mut b) = (TraceHasher::default(), TraceHasher::default());
        a.bytes(b"ab");
        a.bytes(b"");
        b.bytes(b"a");
        b.bytes(b"b");
        assert_ne!(a.finish(), b.finish(), "byte strings are length-prefixed");
    }

    #[test]
    fn short_strings_fold_as_one_word_that_no_long_string_starts_with() {
        assert_eq!(short_word(b""), 0);
        assert_eq!(short_word(b"term"), u64::from_le_bytes(*b"term\0\0\0\x04"));
        assert_ne!(short_word(b"a"), short_word(b"a\0"), "the length counts");
        for len in 0..8usize {
            let w = short_word(&b"\0\0\0\0\0\0\0"[..len]);
            // A long string's first word is its length: >= 8, top byte 0.
            assert!(w >> 56 == len as u64 && (len == 0 || w >> 56 != 0));
            assert!(w == 0 || w >= 1 << 56);
        }
        for text in [
            &b""[..],
            b"a",
            b"ab",
            b"abc",
            b"abcd",
            b"abcde",
            b"abcdef",
            b"xyz1234",
        ] {
            let mut padded = [0u8; 8];
            padded[..text.len()].copy_from_slice(text);
            padded[7] = text.len() as u8;
            assert_eq!(short_word(text), u64::from_le_bytes(padded), "{text:?}");
        }
        let fold = |parts: &[&[u8]]| {
            let mut h = TraceHasher::default();
            parts.iter().for_each(|p| h.bytes(p));
            h.finish()
        };
        assert_ne!(fold(&[b"abcdefg"]), fold(&[b"abcdefgh"]));
        assert_ne!(fold(&[b"ab", b"c"]), fold(&[b"a", b"bc"]));
        assert_ne!(fold(&[b""]), fold(&[]));
    }

    #[test]
    fn digests_keep_their_values() {
        // Pinned: digests are recorded, reported and kept in golden files.
        assert_eq!(digest(&0u64), 0x369e_ca5d_eace_bb94);
        assert_eq!(digest(&(7u32, "put")), 0x8447_0b1b_ef45_3923);
    }
}
