//! Per-node local clocks: offset, drift and jumps.
//!
//! A node never sees true time. Its clock reads
//!
//! ```text
//! local(t) = offset + t + floor(t * drift_ppm / 1_000_000)
//! ```
//!
//! where `t` is true time in nanoseconds, `offset` a signed skew, and
//! `drift_ppm` the rate error in parts per million (+100 runs 100 µs per
//! second fast). A jump adds to `offset` at an instant (NTP stepping the
//! clock, a VM migrating): forward jumps make timers fire early in true time,
//! backward jumps make them fire late.
//!
//! Timers are set in local time. [`Clock::true_time_at`] inverts the formula:
//! the earliest true time at which the local clock reads at least a deadline.
//! The engine uses it to schedule a timer and, after a jump, to reschedule it.
//!
//! Invariant: `|drift_ppm| < 1_000_000`, so every clock moves forward between
//! jumps and the inverse exists.

use crate::time::{SimDuration, SimTime};
use std::fmt;
use std::ops::{Add, Sub};

/// The largest offset a clock reaches by jumping: 2^61 ns, about 73 years.
/// A scenario's offsets and jumps are each at most 100 days
/// ([`crate::time::MAX_SCENARIO_DURATION`]); only very many jumps reach this.
pub const MAX_OFFSET_NS: i64 = 1 << 61;

/// The largest drift a clock may have, in parts per million (half speed or 1.5x).
pub const MAX_DRIFT_PPM: i64 = 500_000;

/// A reading of a node's local clock, in signed nanoseconds.
///
/// Signed because a clock that is behind (negative offset) reads below zero
/// early in a run. Only differences between readings of one clock mean much.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct LocalTime(pub i64);

impl LocalTime {
    /// The span from `earlier` to `self`, or zero if `earlier` is later
    /// (a backward jump can make that happen).
    pub fn saturating_since(self, earlier: LocalTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0).max(0) as u64)
    }
}

impl Add<SimDuration> for LocalTime {
    type Output = LocalTime;
    fn add(self, d: SimDuration) -> LocalTime {
        LocalTime(
            self.0
                .saturating_add(i64::try_from(d.0).unwrap_or(i64::MAX)),
        )
    }
}

impl Sub<SimDuration> for LocalTime {
    type Output = LocalTime;
    fn sub(self, d: SimDuration) -> LocalTime {
        LocalTime(
            self.0
                .saturating_sub(i64::try_from(d.0).unwrap_or(i64::MAX)),
        )
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let millis = self.0.unsigned_abs() / 1_000_000;
        write!(f, "{sign}{}.{:03}s(local)", millis / 1000, millis % 1000)
    }
}

impl fmt::Debug for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "local={}ns", self.0)
    }
}

/// One node's clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    /// Skew added to every reading, in nanoseconds.
    pub offset_ns: i64,
    /// Rate error in parts per million; `|drift_ppm| <= MAX_DRIFT_PPM`.
    pub drift_ppm: i64,
}

impl Clock {
    /// A clock with the given skew and drift.
    pub fn new(offset_ns: i64, drift_ppm: i64) -> Clock {
        assert!(
            drift_ppm.abs() <= MAX_DRIFT_PPM,
            "drift {drift_ppm}ppm beyond +-{MAX_DRIFT_PPM}ppm"
        );
        Clock {
            offset_ns,
            drift_ppm,
        }
    }

    /// What the clock reads at true time `t`, clamped to the range of `i64`
    /// (a clock stepped past it reads `i64::MAX`; scenarios cannot get there).
    #[inline]
    pub fn local_at(&self, t: SimTime) -> LocalTime {
        if self.offset_ns == 0 && self.drift_ppm == 0 {
            return LocalTime(i64::try_from(t.0).unwrap_or(i64::MAX));
        }
        let t = i128::from(t.0);
        let drift = (t * i128::from(self.drift_ppm)).div_euclid(1_000_000);
        let local = i128::from(self.offset_ns) + t + drift;
        LocalTime(local.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
    }

    /// The earliest true time `t >= not_before` at which the clock reads at
    /// least `deadline`, or [`SimTime::MAX`] ("never") if it reads less until
    /// the end of `u64` nanoseconds.
    ///
    /// Closed form, no search: `local(t) = offset + floor(t * rate / 1e6)`
    /// with `rate = 1e6 + drift_ppm > 0`, and for an integer `k`,
    /// `floor(x) >= k` iff `x >= k`, so the answer is
    /// `max(not_before, ceil((deadline - offset) * 1e6 / rate))`.
    pub fn true_time_at(&self, deadline: LocalTime, not_before: SimTime) -> SimTime {
        debug_assert!(self.drift_ppm.abs() <= MAX_DRIFT_PPM, "{self:?}");
        if self.local_at(not_before) >= deadline {
            return not_before;
        }
        let rate = 1_000_000 + i128::from(self.drift_ppm);
        let target = i128::from(deadline.0) - i128::from(self.offset_ns);
        let first = ceil_div(target * 1_000_000, rate).max(i128::from(not_before.0));
        let Ok(t) = u64::try_from(first) else {
            return SimTime::MAX;
        };
        debug_assert!(
            self.local_at(SimTime(t)) >= deadline,
            "{self:?} reads {:?} at {t}ns, before {deadline:?}",
            self.local_at(SimTime(t))
        );
        debug_assert!(
            t == not_before.0 || self.local_at(SimTime(t - 1)) < deadline,
            "{self:?} already reads {deadline:?} at {}ns",
            t - 1
        );
        SimTime(t)
    }

    /// Steps the clock by `by_ns` (negative: backwards). The offset stays
    /// within +-[`MAX_OFFSET_NS`] (many jumps saturate there), so readings
    /// stay far from the ends of `i64` and nodes can subtract them safely.
    pub fn jump(&mut self, by_ns: i64) {
        self.offset_ns = self
            .offset_ns
            .saturating_add(by_ns)
            .clamp(-MAX_OFFSET_NS, MAX_OFFSET_NS);
    }
}

/// `ceil(a / b)` for `b > 0`.
fn ceil_div(a: i128, b: i128) -> i128 {
    debug_assert!(b > 0);
    -((-a).div_euclid(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_clock_reads_ahead() {
        let c = Clock::new(0, 100);
        assert_eq!(c.local_at(SimTime(1_000_000_000)), LocalTime(1_000_100_000));
    }

    #[test]
    fn inverse_is_the_first_tick_at_or_past_the_deadline() {
        for clock in [
            Clock::new(0, 0),
            Clock::new(-5_000, 333),
            Clock::new(7_000_000, -250_000),
        ] {
            for deadline in [-7i64, 0, 1, 999, 1_000_000_007, 3_333_333_333] {
                let t = clock.true_time_at(LocalTime(deadline), SimTime::ZERO);
                assert!(
                    clock.local_at(t) >= LocalTime(deadline),
                    "{clock:?} {deadline}"
                );
                if t.0 > 0 {
                    assert!(
                        clock.local_at(SimTime(t.0 - 1)) < LocalTime(deadline),
                        "{clock:?} {deadline}"
                    );
                }
            }
        }
    }

    #[test]
    fn extreme_clocks_answer_at_once() {
        // An offset near i64::MAX: i64::MAX is 5ns away, then it stays there.
        let ahead = Clock::new(i64::MAX - 5, 0);
        let at =
            |deadline, not_before| ahead.true_time_at(LocalTime(deadline), SimTime(not_before));
        assert_eq!(at(i64::MAX, 3), SimTime(5));
        assert_eq!(at(i64::MAX, u64::MAX), SimTime::MAX);
        assert_eq!(at(0, 1), SimTime(1));
        // Far behind: the clock reaches i64::MAX only after u64 time ends.
        let behind = Clock::new(i64::MIN, -MAX_DRIFT_PPM);
        assert_eq!(
            behind.true_time_at(LocalTime(i64::MAX), SimTime::ZERO),
            SimTime::MAX
        );
        let mut jumped = Clock::new(0, 0);
        jumped.jump(9_223_372_036_000_000_000);
        jumped.jump(9_223_372_036_000_000_000);
        assert_eq!(jumped.offset_ns, MAX_OFFSET_NS, "jumps saturate");
        assert_eq!(jumped.local_at(SimTime(u64::MAX)), LocalTime(i64::MAX));
        let t = jumped.true_time_at(LocalTime(MAX_OFFSET_NS + 7), SimTime::ZERO);
        assert_eq!(t, SimTime(7));
        jumped.jump(i64::MIN);
        assert_eq!(jumped.offset_ns, -MAX_OFFSET_NS);
        let wrapped = Clock::new(i64::MAX, MAX_DRIFT_PPM);
        assert_eq!(
            wrapped.local_at(SimTime(u64::MAX)),
            LocalTime(i64::MAX),
            "clamped, not wrapped"
        );
    }
}
