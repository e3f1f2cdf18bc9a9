//! Which key a client reads: Zipf popularity over `keys` keys.
//!
//! Key `k` (1-based) has weight `1 / k^s`; `s = 0` is uniform, `s = 1` the
//! classic Zipf law (with 100 keys the top key takes 19% of the reads and
//! the top ten 56%). The cumulative weights are turned once into integer
//! thresholds out of `2^53`, so a draw is one random integer and a binary
//! search: no float compares at run time, the same key on every machine.

use crate::rng::SimRng;

/// One draw's resolution: thresholds are out of `2^53`.
const SCALE: u64 = 1 << 53;

/// A Zipf distribution over keys `0..keys`, as cumulative thresholds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Popularity {
    /// `thresholds[k]` = P(key <= k) * 2^53, rounded; the last is `2^53`.
    thresholds: Vec<u64>,
}

impl Popularity {
    /// Zipf with exponent `s` (finite, >= 0) over `keys` (>= 1) keys.
    pub fn zipf(keys: u32, s: f64) -> Popularity {
        debug_assert!(keys >= 1, "no keys to draw from");
        debug_assert!(s.is_finite() && s >= 0.0, "zipf exponent {s}");
        let weights: Vec<f64> = (1..=keys)
            .map(|k| 1.0 / libm::pow(f64::from(k), s))
            .collect();
        let total: f64 = weights.iter().sum();
        let mut cumulative = 0.0;
        let mut thresholds: Vec<u64> = weights
            .iter()
            .map(|w| {
                cumulative += w;
                ((cumulative / total) * SCALE as f64) as u64
            })
            .collect();
        *thresholds.last_mut().expect("at least one key") = SCALE;
        Popularity { thresholds }
    }

    /// How many keys.
    pub fn keys(&self) -> u32 {
        self.thresholds.len() as u32
    }

    /// The probability of key `key` (0-based).
    pub fn probability(&self, key: u32) -> f64 {
        let k = key as usize;
        let below = if k == 0 { 0 } else { self.thresholds[k - 1] };
        (self.thresholds[k] - below) as f64 / SCALE as f64
    }

    /// Draws a key (0-based).
    pub fn draw(&self, rng: &mut SimRng) -> u32 {
        let x = rng.next_u64() >> 11;
        let key = self.thresholds.partition_point(|&t| t <= x);
        debug_assert!(
            key < self.thresholds.len(),
            "draw {x} past the last threshold"
        );
        key as u32
    }
}
