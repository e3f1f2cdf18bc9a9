//! One-way latency distributions.
//!
//! Every sample is whole nanoseconds drawn from the network's random stream.
//! The continuous shapes (normal, exponential) turn uniform integer draws
//! into floats through `libm`, so a sample is the same on every machine.

use crate::rng::{Probability, SimRng};
use crate::time::SimDuration;

/// How long a message takes on a link.
#[derive(Clone, Debug, PartialEq)]
pub enum Latency {
    /// Always `value`.
    Constant(SimDuration),
    /// Uniform in `[min, max]`.
    Uniform { min: SimDuration, max: SimDuration },
    /// Normal with `mean` and `stddev`, clamped below at `min`.
    Normal {
        mean: SimDuration,
        stddev: SimDuration,
        min: SimDuration,
    },
    /// `min` plus an exponential with mean `mean`.
    Exponential { mean: SimDuration, min: SimDuration },
    /// FoundationDB's slow tail: uniform in `[min, max]`, except with
    /// probability `slow_probability` uniform in `[slow_min, slow_max]`.
    Bimodal {
        min: SimDuration,
        max: SimDuration,
        slow_min: SimDuration,
        slow_max: SimDuration,
        slow_probability: Probability,
    },
}

impl Latency {
    /// Draws one latency.
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> SimDuration {
        match *self {
            Latency::Constant(d) => d,
            Latency::Uniform { min, max } => SimDuration(rng.between(min.0, max.0)),
            Latency::Normal { mean, stddev, min } => {
                let x = mean.0 as f64 + stddev.0 as f64 * rng.standard_normal();
                SimDuration((x.max(0.0) as u64).max(min.0))
            }
            Latency::Exponential { mean, min } => {
                let x = mean.0 as f64 * rng.standard_exponential();
                SimDuration(min.0.saturating_add(x as u64))
            }
            Latency::Bimodal {
                min,
                max,
                slow_min,
                slow_max,
                slow_probability,
            } => {
                if rng.chance(slow_probability) {
                    SimDuration(rng.between(slow_min.0, slow_max.0))
                } else {
                    SimDuration(rng.between(min.0, max.0))
                }
            }
        }
    }

    /// The mean latency, roughly (normal ignores its clamp): for estimates,
    /// never for a run.
    pub fn mean_estimate(&self) -> SimDuration {
        let mid = |low: SimDuration, high: SimDuration| SimDuration(low.0 / 2 + high.0 / 2);
        match *self {
            Latency::Constant(d) => d,
            Latency::Uniform { min, max } => mid(min, max),
            Latency::Normal { mean, min, .. } => mean.max(min),
            Latency::Exponential { mean, min } => mean + min,
            Latency::Bimodal {
                min,
                max,
                slow_min,
                slow_max,
                slow_probability,
            } => {
                let p = slow_probability.as_f64();
                let fast = mid(min, max).0 as f64;
                let slow = mid(slow_min, slow_max).0 as f64;
                SimDuration((fast * (1.0 - p) + slow * p) as u64)
            }
        }
    }

    /// The smallest latency this distribution can give.
    pub fn minimum(&self) -> SimDuration {
        match *self {
            Latency::Constant(d) => d,
            Latency::Uniform { min, .. }
            | Latency::Normal { min, .. }
            | Latency::Exponential { min, .. } => min,
            Latency::Bimodal { min, slow_min, .. } => min.min(slow_min),
        }
    }
}

impl std::fmt::Display for Latency {
    /// As a reader would say it: `uniform 1ms-10ms`, `exponential 50us + mean 100us`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Latency::Constant(d) => write!(f, "constant {d}"),
            Latency::Uniform { min, max } => write!(f, "uniform {min}-{max}"),
            Latency::Normal { mean, stddev, min } => {
                write!(f, "normal mean {mean} stddev {stddev} (at least {min})")
            }
            Latency::Exponential { mean, min } => write!(f, "exponential {min} + mean {mean}"),
            Latency::Bimodal {
                min,
                max,
                slow_min,
                slow_max,
                slow_probability,
            } => write!(
                f,
                "bimodal {min}-{max}, {}% {slow_min}-{slow_max}",
                libm::round(slow_probability.as_f64() * 100_000.0) / 1000.0
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    #[test]
    fn samples_respect_their_bounds() {
        let mut rng = SimRng::stream(3, "latency");
        let shapes = [
            Latency::Constant(ms(5)),
            Latency::Uniform {
                min: ms(1),
                max: ms(10),
            },
            Latency::Normal {
                mean: ms(5),
                stddev: ms(3),
                min: ms(1),
            },
            Latency::Exponential {
                mean: ms(2),
                min: ms(1),
            },
            Latency::Bimodal {
                min: ms(1),
                max: ms(2),
                slow_min: ms(100),
                slow_max: ms(200),
                slow_probability: Probability::from_f64(0.01).unwrap(),
            },
        ];
        for shape in &shapes {
            for _ in 0..10_000 {
                let d = shape.sample(&mut rng);
                assert!(d >= shape.minimum(), "{shape:?} gave {d}");
            }
        }
        let mut rng = SimRng::stream(3, "uniform");
        let mean = (0..100_000)
            .map(|_| shapes[1].sample(&mut rng).0 as f64)
            .sum::<f64>()
            / 100_000.0;
        assert!((mean - 5.5e6).abs() < 0.05e6, "uniform 1-10ms mean {mean}");
        let mut rng = SimRng::stream(3, "exp");
        let mean = (0..100_000)
            .map(|_| shapes[3].sample(&mut rng).0 as f64)
            .sum::<f64>()
            / 100_000.0;
        assert!((mean - 3.0e6).abs() < 0.05e6, "exponential mean {mean}");
    }
}
