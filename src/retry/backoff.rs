//! How long a client waits before its next retry.

use crate::rng::SimRng;
use crate::time::SimDuration;
use serde::Deserialize;

/// A backoff policy: the wait before retry number `k` (the first retry is
/// `k = 1`). With `base` b and `cap` c, let `e(k) = min(c, b * 2^(k-1))`,
/// the capped exponential; then
///
/// | kind | wait before retry k |
/// |---|---|
/// | `none` | 0 (retry at once) |
/// | `constant` | `delay` |
/// | `exponential` | `e(k)` |
/// | `full_jitter` | uniform in `[0, e(k)]` |
/// | `equal_jitter` | `e(k)/2 +` uniform in `[0, e(k)/2]` |
/// | `decorrelated` | `min(c, uniform in [b, 3 * previous])`, `previous` the last wait (`b` before the first retry) |
///
/// These are the strategies compared in "Exponential Backoff And Jitter"
/// (Marc Brooker, AWS Architecture Blog, 2015).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Backoff {
    /// Retry immediately. (A struct variant, so that keys written
    /// beside `kind = "none"` are rejected, not ignored.)
    None {},
    /// Always wait `delay`.
    Constant {
        /// The wait.
        delay: SimDuration,
    },
    /// Capped exponential, no jitter.
    Exponential {
        /// The first retry's wait.
        base: SimDuration,
        /// The longest wait.
        cap: SimDuration,
    },
    /// Uniform between zero and the capped exponential.
    FullJitter {
        /// The first retry's longest wait.
        base: SimDuration,
        /// The longest wait.
        cap: SimDuration,
    },
    /// Half the capped exponential, plus up to that half again at random.
    EqualJitter {
        /// The first retry's longest wait.
        base: SimDuration,
        /// The longest wait.
        cap: SimDuration,
    },
    /// Uniform between `base` and three times the previous wait, capped.
    Decorrelated {
        /// The shortest wait.
        base: SimDuration,
        /// The longest wait.
        cap: SimDuration,
    },
}

impl Backoff {
    /// The policy's name as scenarios spell its `kind`.
    pub fn name(&self) -> &'static str {
        match self {
            Backoff::None {} => "none",
            Backoff::Constant { .. } => "constant",
            Backoff::Exponential { .. } => "exponential",
            Backoff::FullJitter { .. } => "full_jitter",
            Backoff::EqualJitter { .. } => "equal_jitter",
            Backoff::Decorrelated { .. } => "decorrelated",
        }
    }

    /// Checks the parameters: `base` positive and at most `cap`. The
    /// message names the field.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Backoff::None {} | Backoff::Constant { .. } => Ok(()),
            Backoff::Exponential { base, cap }
            | Backoff::FullJitter { base, cap }
            | Backoff::EqualJitter { base, cap }
            | Backoff::Decorrelated { base, cap } => {
                if base == SimDuration::ZERO {
                    Err("`base` must be positive".to_string())
                } else if cap < base {
                    Err(format!("`cap` ({cap}) must be at least `base` ({base})"))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// The wait before retry number `retry` (1 for the first retry);
    /// `previous` is the wait before the last retry (ignored by all but
    /// `decorrelated`; pass `SimDuration::ZERO` before the first retry).
    /// Draws from `rng` only for the jittered kinds.
    pub fn delay(&self, retry: u32, previous: SimDuration, rng: &mut SimRng) -> SimDuration {
        debug_assert!(retry >= 1, "retries are numbered from 1");
        match *self {
            Backoff::None {} => SimDuration::ZERO,
            Backoff::Constant { delay } => delay,
            Backoff::Exponential { base, cap } => capped_exponential(base, cap, retry),
            Backoff::FullJitter { base, cap } => {
                let e = capped_exponential(base, cap, retry).as_nanos();
                SimDuration::from_nanos(rng.between(0, e))
            }
            Backoff::EqualJitter { base, cap } => {
                let e = capped_exponential(base, cap, retry).as_nanos();
                let half = e / 2;
                SimDuration::from_nanos(half + rng.between(0, e - half))
            }
            Backoff::Decorrelated { base, cap } => {
                let previous = previous.max(base).as_nanos();
                let high = previous.saturating_mul(3).max(base.as_nanos());
                let drawn = rng.between(base.as_nanos(), high);
                SimDuration::from_nanos(drawn.min(cap.as_nanos()))
            }
        }
    }
}

/// `min(cap, base * 2^(retry-1))`, without overflow.
fn capped_exponential(base: SimDuration, cap: SimDuration, retry: u32) -> SimDuration {
    let shift = retry.saturating_sub(1).min(63);
    let grown = base.as_nanos().saturating_mul(1u64 << shift);
    SimDuration::from_nanos(grown.min(cap.as_nanos()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    fn rng() -> SimRng {
        SimRng::stream(7, "backoff-test")
    }

    #[test]
    fn exponential_doubles_from_base_up_to_cap() {
        let b = Backoff::Exponential {
            base: ms(10),
            cap: ms(100),
        };
        let waits: Vec<u64> = (1..=6)
            .map(|k| b.delay(k, SimDuration::ZERO, &mut rng()).as_nanos() / 1_000_000)
            .collect();
        assert_eq!(waits, vec![10, 20, 40, 80, 100, 100]);
        // A huge retry number saturates at the cap instead of overflowing.
        assert_eq!(b.delay(u32::MAX, SimDuration::ZERO, &mut rng()), ms(100));
    }

    #[test]
    fn full_jitter_stays_within_zero_and_the_exponential_and_spreads() {
        let b = Backoff::FullJitter {
            base: ms(10),
            cap: ms(1000),
        };
        let mut r = rng();
        let waits: Vec<SimDuration> = (0..2000).map(|_| b.delay(4, ms(0), &mut r)).collect();
        assert!(waits.iter().all(|&w| w <= ms(80)));
        let mean = waits.iter().map(|w| w.as_nanos()).sum::<u64>() / waits.len() as u64;
        // Uniform on [0, 80ms]: the mean is near 40ms.
        assert!((35_000_000..45_000_000).contains(&mean), "mean {mean}");
        assert!(waits.iter().any(|&w| w < ms(8)) && waits.iter().any(|&w| w > ms(72)));
    }

    #[test]
    fn equal_jitter_waits_at_least_half() {
        let b = Backoff::EqualJitter {
            base: ms(10),
            cap: ms(1000),
        };
        let mut r = rng();
        for _ in 0..1000 {
            let w = b.delay(3, ms(0), &mut r);
            assert!(w >= ms(20) && w <= ms(40), "{w}");
        }
    }

    #[test]
    fn decorrelated_grows_from_the_previous_wait_and_is_capped() {
        let b = Backoff::Decorrelated {
            base: ms(10),
            cap: ms(50),
        };
        let mut r = rng();
        let mut previous = SimDuration::ZERO;
        for k in 1..200 {
            let w = b.delay(k, previous, &mut r);
            assert!(w >= ms(10) && w <= ms(50), "{w}");
            assert!(w <= SimDuration::from_nanos(previous.max(ms(10)).as_nanos() * 3));
            previous = w;
        }
    }

    #[test]
    fn none_and_constant() {
        assert_eq!(
            Backoff::None {}.delay(5, ms(3), &mut rng()),
            SimDuration::ZERO
        );
        let c = Backoff::Constant { delay: ms(7) };
        assert_eq!(c.delay(9, ms(3), &mut rng()), ms(7));
    }

    #[test]
    fn same_stream_same_waits() {
        let b = Backoff::FullJitter {
            base: ms(1),
            cap: ms(100),
        };
        let (mut a, mut c) = (rng(), rng());
        for k in 1..50 {
            assert_eq!(b.delay(k, ms(0), &mut a), b.delay(k, ms(0), &mut c));
        }
    }

    #[test]
    fn reads_from_toml_and_validates() {
        #[derive(Deserialize)]
        struct T {
            backoff: Backoff,
        }
        let t: T =
            toml::from_str(r#"backoff = { kind = "full_jitter", base = "10ms", cap = "1s" }"#)
                .unwrap();
        assert_eq!(
            t.backoff,
            Backoff::FullJitter {
                base: ms(10),
                cap: ms(1000)
            }
        );
        assert_eq!(t.backoff.name(), "full_jitter");
        let bad = Backoff::Exponential {
            base: ms(10),
            cap: ms(5),
        };
        assert!(bad.validate().unwrap_err().contains("`cap`"));
        assert!(toml::from_str::<T>(r#"backoff = { kind = "linear" }"#).is_err());
        assert!(toml::from_str::<T>(r#"backoff = { kind = "none", base = "1ms" }"#).is_err());
    }
}
