//! Stable hashing: the same value gives the same hash on every machine.
//!
//! [`TraceHasher`] folds 64-bit words in order (the trace hash of a run);
//! [`StableHasher`] is a `std::hash::Hasher` built on it that mixes integers as
//! values, never as native-endian bytes, so a message's derived `Hash` gives
//! one [`digest`] everywhere. Models use `digest` for what they record (e.g.
//! Raft's commit digests); the engine uses both for the trace.

use crate::rng::mix64;
use std::hash::{Hash, Hasher};

/// The running trace hash: 64-bit words mixed in order.
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
    /// Mixes in one word.
    #[inline]
    pub fn word(&mut self, w: u64) {
        self.state = mix64(self.state.rotate_left(23) ^ w.wrapping_add(0x9e37_79b9_7f4a_7c15));
        self.count += 1;
    }

    /// Mixes in several words.
    #[inline]
    pub fn words(&mut self, ws: &[u64]) {
        for &w in ws {
            self.word(w);
        }
    }

    /// Mixes in bytes (length first, then 8-byte little-endian words).
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.word(bytes.len() as u64);
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.word(u64::from_le_bytes(w));
        }
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        mix64(self.state ^ self.count)
    }

    /// The hash as 16 hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.finish())
    }
}

/// A `std::hash::Hasher` whose output is the same on every platform:
/// integers are mixed as values, not as native-endian bytes.
#[derive(Default)]
pub struct StableHasher(TraceHasher);

impl Hasher for StableHasher {
    fn finish(&self) -> u64 {
        self.0.finish()
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.bytes(bytes);
    }
    fn write_u8(&mut self, i: u8) {
        self.0.word(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.0.word(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.0.word(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0.word(i);
    }
    fn write_u128(&mut self, i: u128) {
        self.0.word(i as u64);
        self.0.word((i >> 64) as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.0.word(i as u64);
    }
    fn write_i8(&mut self, i: i8) {
        self.0.word(i as u64);
    }
    fn write_i16(&mut self, i: i16) {
        self.0.word(i as u64);
    }
    fn write_i32(&mut self, i: i32) {
        self.0.word(i as u64);
    }
    fn write_i64(&mut self, i: i64) {
        self.0.word(i as u64);
    }
    fn write_isize(&mut self, i: isize) {
        self.0.word(i as u64);
    }
}

/// The stable digest of a message (its derived `Hash` through [`StableHasher`]).
#[inline]
pub fn digest<T: Hash>(value: &T) -> u64 {
    let mut h = StableHasher::default();
    value.hash(&mut h);
    h.finish()
}
