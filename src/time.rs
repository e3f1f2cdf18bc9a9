//! Simulated time: integer nanoseconds of *true* time.
//!
//! [`SimTime`] is a point on the simulator's one true timeline, [`SimDuration`]
//! a span of it. Both are `u64` nanoseconds, so arithmetic is exact and every
//! machine agrees on it. Local clocks (which may be skewed, drift or jump) live
//! in [`crate::clock`]; nothing here reads the wall clock.
//!
//! Durations are written in scenario files as text: `"250us"`, `"150ms"`,
//! `"2s"`, `"1.5s"`, `"1m"`, `"10ns"`, `"0"` (see [`SimDuration::parse`]).

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Nanoseconds in one microsecond.
pub const NANOS_PER_MICRO: u64 = 1_000;
/// Nanoseconds in one millisecond.
pub const NANOS_PER_MILLI: u64 = 1_000_000;
/// Nanoseconds in one second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The longest duration a scenario file may hold: 100 days of simulated time
/// (`"8640000s"`). Every duration in a scenario (the run, latencies, pauses,
/// timeouts, chaos intervals, clock offsets and jumps) is at most this, so a
/// sum of a few of them stays far below `u64::MAX` nanoseconds (584 years).
pub const MAX_SCENARIO_DURATION: SimDuration = SimDuration(100 * 24 * 3600 * NANOS_PER_SEC);

/// A point in true simulated time, in nanoseconds since the run began.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct SimTime(pub u64);

/// A span of simulated time, in nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime(0);
    /// The end of time; used as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// Nanoseconds since the start of the run.
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// Seconds since the start of the run, for display only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// The span from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, clamped at [`SimTime::MAX`] (the same as `+`).
    pub fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);

    /// A duration of `n` nanoseconds.
    pub const fn from_nanos(n: u64) -> Self {
        SimDuration(n)
    }
    /// A duration of `n` microseconds.
    pub const fn from_micros(n: u64) -> Self {
        SimDuration(n * NANOS_PER_MICRO)
    }
    /// A duration of `n` milliseconds.
    pub const fn from_millis(n: u64) -> Self {
        SimDuration(n * NANOS_PER_MILLI)
    }
    /// A duration of `n` seconds.
    pub const fn from_secs(n: u64) -> Self {
        SimDuration(n * NANOS_PER_SEC)
    }
    /// The duration in nanoseconds.
    pub fn as_nanos(self) -> u64 {
        self.0
    }
    /// The duration in seconds, for display only.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }

    /// Parses `"250us"`, `"150ms"`, `"2s"`, `"1.5s"`, `"1m"`, `"10ns"`, or `"0"`.
    ///
    /// The number may have a decimal fraction; the result is rounded to whole
    /// nanoseconds using integer arithmetic only, so it is the same everywhere.
    pub fn parse(text: &str) -> Result<SimDuration, String> {
        let s = text.trim();
        if s == "0" {
            return Ok(SimDuration::ZERO);
        }
        if s.starts_with('-') {
            return Err(format!(
                "'{text}' is not a duration: durations cannot be negative"
            ));
        }
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("'{text}' has no unit; expected a duration such as \"150ms\" (units: ns, us, ms, s, m)"))?;
        let (number, unit) = s.split_at(split);
        let scale = match unit.trim() {
            "ns" => 1,
            "us" | "µs" => NANOS_PER_MICRO,
            "ms" => NANOS_PER_MILLI,
            "s" => NANOS_PER_SEC,
            "m" | "min" => 60 * NANOS_PER_SEC,
            other => {
                return Err(format!(
                    "'{text}' has unknown unit '{other}'; expected one of ns, us, ms, s, m"
                ))
            }
        };
        parse_scaled(number, scale)
            .map(SimDuration)
            .ok_or_else(|| format!("'{text}' is not a duration; expected a non-negative number and a unit, such as \"150ms\" or \"1.5s\""))
    }
}

/// `number * scale` for a decimal `number` such as `"1.5"`, in integers.
fn parse_scaled(number: &str, scale: u64) -> Option<u64> {
    let (whole, frac) = match number.split_once('.') {
        Some((w, f)) => (w, f),
        None => (number, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let whole_value: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut total = whole_value.checked_mul(scale)?;
    let mut place = scale;
    for digit in frac.bytes() {
        place /= 10;
        if place == 0 {
            break; // finer than a nanosecond: dropped
        }
        total = total.checked_add(u64::from(digit - b'0') * place)?;
    }
    Some(total)
}

impl fmt::Display for SimDuration {
    /// Shortest exact-looking form: `150ms`, `1.5s`, `250us`, `7ns`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n == 0 {
            write!(f, "0s")
        } else if n.is_multiple_of(NANOS_PER_SEC) {
            write!(f, "{}s", n / NANOS_PER_SEC)
        } else if n >= NANOS_PER_SEC {
            write!(f, "{}s", trim_decimal(n as f64 / NANOS_PER_SEC as f64))
        } else if n.is_multiple_of(NANOS_PER_MILLI) || n >= NANOS_PER_MILLI {
            write!(f, "{}ms", trim_decimal(n as f64 / NANOS_PER_MILLI as f64))
        } else if n >= NANOS_PER_MICRO {
            write!(f, "{}us", trim_decimal(n as f64 / NANOS_PER_MICRO as f64))
        } else {
            write!(f, "{n}ns")
        }
    }
}

fn trim_decimal(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl fmt::Debug for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for SimTime {
    /// Seconds with millisecond precision and a trailing `s`: `12.503s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0 / NANOS_PER_MILLI;
        write!(f, "{}.{:03}s", millis / 1000, millis % 1000)
    }
}

impl fmt::Debug for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}ns", self.0)
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    /// Saturating: a time past the end of `u64` nanoseconds is
    /// [`SimTime::MAX`], "never", so an event scheduled that far out does not
    /// run. Scenario files cannot get there ([`MAX_SCENARIO_DURATION`]); a
    /// node of your own that sets a timer for centuries gets "never", not a panic.
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, earlier: SimTime) -> SimDuration {
        debug_assert!(
            earlier <= self,
            "time went backwards: {earlier:?} > {self:?}"
        );
        SimDuration(self.0 - earlier.0)
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, other: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(other.0))
    }
}

impl SimDuration {
    /// [`SimDuration::parse`], then refuses anything longer than
    /// [`MAX_SCENARIO_DURATION`]: the form every duration in a scenario file takes.
    pub fn parse_for_scenario(text: &str) -> Result<SimDuration, String> {
        let d = SimDuration::parse(text)?;
        if d > MAX_SCENARIO_DURATION {
            return Err(too_long(text));
        }
        Ok(d)
    }
}

/// The error for a duration past [`MAX_SCENARIO_DURATION`].
pub(crate) fn too_long(text: &str) -> String {
    format!(
        "'{}' is too long; expected at most {} (100 days of simulated time)",
        text.trim(),
        MAX_SCENARIO_DURATION
    )
}

impl<'de> serde::Deserialize<'de> for SimDuration {
    /// Accepts the text forms of [`SimDuration::parse`], up to
    /// [`MAX_SCENARIO_DURATION`] (only scenario files deserialize durations).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        SimDuration::parse_for_scenario(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(SimDuration::parse("250us"), Ok(SimDuration(250_000)));
        assert_eq!(SimDuration::parse("150ms"), Ok(SimDuration(150_000_000)));
        assert_eq!(SimDuration::parse("2s"), Ok(SimDuration(2_000_000_000)));
        assert_eq!(SimDuration::parse("1.5s"), Ok(SimDuration(1_500_000_000)));
        assert_eq!(SimDuration::parse("1m"), Ok(SimDuration(60_000_000_000)));
        assert_eq!(SimDuration::parse("10ns"), Ok(SimDuration(10)));
        assert_eq!(SimDuration::parse("0"), Ok(SimDuration(0)));
        assert_eq!(SimDuration::parse(".5ms"), Ok(SimDuration(500_000)));
    }

    #[test]
    fn rejects_bad_text_with_a_reason() {
        assert!(SimDuration::parse("-5ms")
            .unwrap_err()
            .contains("not a duration"));
        assert!(SimDuration::parse("5").unwrap_err().contains("no unit"));
        assert!(SimDuration::parse("5h")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(SimDuration::parse("1.2.3s").is_err());
        assert!(SimDuration::parse("99999999999999999999s").is_err());
    }

    #[test]
    fn time_plus_duration_saturates_at_never() {
        assert_eq!(SimTime(u64::MAX - 1) + SimDuration(5), SimTime::MAX);
        assert_eq!(SimTime(1) + SimDuration(2), SimTime(3));
    }

    #[test]
    fn scenario_durations_are_capped_at_100_days() {
        assert_eq!(
            SimDuration::parse_for_scenario("8640000s"),
            Ok(MAX_SCENARIO_DURATION)
        );
        let e = SimDuration::parse_for_scenario("8640000.001s").unwrap_err();
        assert!(e.contains("at most 8640000s (100 days"), "{e}");
    }

    #[test]
    fn displays_compactly() {
        assert_eq!(SimDuration::from_millis(150).to_string(), "150ms");
        assert_eq!(SimDuration::parse("1.5s").unwrap().to_string(), "1.5s");
        assert_eq!(SimTime(12_503_000_000).to_string(), "12.503s");
    }
}
