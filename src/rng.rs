//! Seeded random streams, one per purpose.
//!
//! Every random draw in a run comes from a [`SimRng`] derived from the run's
//! seed and a label naming its purpose (`"network"`, `"faults"`, `"workload"`,
//! `"node/3"`). Each stream is an independent ChaCha8 generator keyed by a
//! hash of (seed, label), so a new draw in one stream never shifts the draws
//! of another: adding a log line that rolls a die in node 3 leaves the network
//! and the fault schedule exactly as they were.
//!
//! Probabilities are [`Probability`] values, integer thresholds out of 2^32,
//! compared against integer draws; no floating-point comparison decides an
//! outcome. Floating point is used only to turn a uniform draw into a
//! latency sample (normal, exponential), through `libm`, whose results are the
//! same on every platform.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// A deterministic random stream for one purpose in one run.
#[derive(Clone, Debug)]
pub struct SimRng {
    inner: ChaCha8Rng,
}

/// Mixes a 64-bit word (the splitmix64 finaliser): a cheap, strong bijection.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A stable 64-bit hash of a run seed and a stream label.
fn key_of(seed: u64, label: &str, lane: u64) -> u64 {
    let mut h = mix64(seed ^ 0x6661_756c_746c_6162); // "faultlab"
    for chunk in label.as_bytes().chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = mix64(h ^ u64::from_le_bytes(word)).wrapping_add(chunk.len() as u64);
    }
    mix64(h ^ lane.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

impl SimRng {
    /// The stream for `label` in the run with `seed`.
    pub fn stream(seed: u64, label: &str) -> SimRng {
        let mut key = [0u8; 32];
        for (lane, part) in key.chunks_mut(8).enumerate() {
            part.copy_from_slice(&key_of(seed, label, lane as u64).to_le_bytes());
        }
        SimRng {
            inner: ChaCha8Rng::from_seed(key),
        }
    }

    /// The stream of node `index` (label `"node/<index>"`).
    pub fn for_node(seed: u64, index: u32) -> SimRng {
        SimRng::stream(seed, &format!("node/{index}"))
    }

    /// A uniformly random `u64`.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// A uniformly random `u32`.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        self.inner.next_u32()
    }

    /// A uniform integer in `0..n` (Lemire's multiply-and-reject). `n` must be > 0.
    ///
    /// A draw is rejected if the low half of `draw * n` is below
    /// `threshold = 2^64 mod n`. The threshold is below `n`, so a low half of
    /// at least `n` is accepted without computing it: the division runs only
    /// for a low half under `n` (rare unless `n` is huge), and the draws and
    /// results are exactly those of always comparing with the threshold.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0, "below(0) has no values to draw");
        let product = u128::from(self.next_u64()) * u128::from(n);
        if (product as u64) >= n {
            return (product >> 64) as u64;
        }
        self.below_slow(n, product)
    }

    /// [`SimRng::below`] when the first draw's low half is under `n`.
    #[cold]
    fn below_slow(&mut self, n: u64, mut product: u128) -> u64 {
        let threshold = n.wrapping_neg() % n;
        debug_assert!(threshold < n);
        while (product as u64) < threshold {
            product = u128::from(self.next_u64()) * u128::from(n);
        }
        (product >> 64) as u64
    }

    /// A uniform integer in `low..=high`.
    #[inline]
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        debug_assert!(low <= high, "empty range {low}..={high}");
        match (high - low).checked_add(1) {
            Some(span) => low + self.below(span),
            None => self.next_u64(),
        }
    }

    /// True with probability `p`, decided by an integer comparison.
    /// Draws nothing when `p` is 0 or 1.
    #[inline]
    pub fn chance(&mut self, p: Probability) -> bool {
        if p.threshold == 0 {
            return false;
        }
        if p.threshold >= Probability::ONE_THRESHOLD {
            return true;
        }
        u64::from(self.next_u32()) < p.threshold
    }

    /// A uniform float in the open interval (0, 1), from 53 random bits.
    pub fn unit_open(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A standard normal sample (Box-Muller through `libm`).
    pub fn standard_normal(&mut self) -> f64 {
        let u1 = self.unit_open();
        let u2 = self.unit_open();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(std::f64::consts::TAU * u2)
    }

    /// An exponential sample with mean 1.
    pub fn standard_exponential(&mut self) -> f64 {
        -libm::log(self.unit_open())
    }

    /// Picks one element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A probability as an integer threshold out of 2^32.
///
/// `chance(p)` is `next_u32() < threshold`; 0 never happens and
/// [`Probability::ONE`] always does, exactly.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Probability {
    threshold: u64,
}

impl Probability {
    const ONE_THRESHOLD: u64 = 1 << 32;
    /// Never.
    pub const ZERO: Probability = Probability { threshold: 0 };
    /// Always.
    pub const ONE: Probability = Probability {
        threshold: Self::ONE_THRESHOLD,
    };

    /// The probability `p` in [0, 1], rounded to the nearest 2^-32.
    pub fn from_f64(p: f64) -> Result<Probability, String> {
        if !(0.0..=1.0).contains(&p) {
            return Err(format!(
                "{p} is not a probability; expected a number from 0 to 1"
            ));
        }
        Ok(Probability {
            threshold: libm::round(p * Self::ONE_THRESHOLD as f64) as u64,
        })
    }

    /// `numerator / denominator`, exactly as far as 2^-32 allows.
    pub fn ratio(numerator: u64, denominator: u64) -> Probability {
        assert!(
            denominator > 0 && numerator <= denominator,
            "bad ratio {numerator}/{denominator}"
        );
        let threshold = (u128::from(numerator) << 32) / u128::from(denominator);
        Probability {
            threshold: threshold as u64,
        }
    }

    /// The probability as a float, for display.
    pub fn as_f64(self) -> f64 {
        self.threshold as f64 / Self::ONE_THRESHOLD as f64
    }

    /// True if this probability is zero.
    pub fn is_zero(self) -> bool {
        self.threshold == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_repeatable() {
        let a1: Vec<u64> = (0..4)
            .map({
                let mut r = SimRng::stream(7, "network");
                move |_| r.next_u64()
            })
            .collect();
        let a2: Vec<u64> = (0..4)
            .map({
                let mut r = SimRng::stream(7, "network");
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = SimRng::stream(7, "faults");
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..4)
            .map({
                let mut r = SimRng::stream(8, "network");
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, c);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = SimRng::stream(1, "t");
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let x = r.below(7);
            assert!(x < 7, "below(7) drew {x}");
            seen[x as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn below_draws_as_the_threshold_first_method_does() {
        // The reference: compute 2^64 mod n first, reject below it.
        fn reference(r: &mut SimRng, n: u64) -> u64 {
            let threshold = n.wrapping_neg() % n;
            loop {
                let product = u128::from(r.next_u64()) * u128::from(n);
                if (product as u64) >= threshold {
                    return (product >> 64) as u64;
                }
            }
        }
        let sizes = [
            1,
            2,
            3,
            7,
            1000,
            9_000_001,
            1 << 40,
            (1 << 63) + 1,
            u64::MAX,
        ];
        for n in sizes {
            let (mut fast, mut slow) = (SimRng::stream(4, "below"), SimRng::stream(4, "below"));
            for _ in 0..2000 {
                assert_eq!(fast.below(n), reference(&mut slow, n), "n = {n}");
            }
            assert_eq!(fast.next_u64(), slow.next_u64(), "same draws used, n = {n}");
        }
    }

    #[test]
    fn probability_edges_are_exact() {
        let mut r = SimRng::stream(1, "p");
        assert!((0..1000).all(|_| !r.chance(Probability::ZERO)));
        assert!((0..1000).all(|_| r.chance(Probability::ONE)));
        assert_eq!(Probability::from_f64(1.0).unwrap(), Probability::ONE);
        assert!(Probability::from_f64(1.5).is_err());
        assert_eq!(
            Probability::ratio(1, 4),
            Probability::from_f64(0.25).unwrap()
        );
    }
}
