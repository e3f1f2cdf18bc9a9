//! A circuit breaker: stop calling a dependency that keeps failing, and
//! probe it now and then until it works again.

use crate::clock::LocalTime;
use crate::time::SimDuration;
use serde::Deserialize;
use std::collections::VecDeque;

/// The breaker's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerParams {
    /// How many of the latest calls' results the failure rate is taken over.
    pub window: u32,
    /// The fewest results in the window before the breaker may open.
    pub min_calls: u32,
    /// Opens when the failed share of the window reaches this (0 < r <= 1).
    pub failure_rate: f64,
    /// How long it stays open before letting probes through.
    pub cooldown: SimDuration,
    /// Probe calls let through half-open; all must succeed to close.
    pub probes: u32,
}

impl BreakerParams {
    /// Checks the parameters; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.window == 0 || self.window > 100_000 {
            return Err(format!("`window` must be 1..=100000, got {}", self.window));
        }
        if self.min_calls == 0 || self.min_calls > self.window {
            return Err(format!(
                "`min_calls` must be 1..=window ({}), got {}",
                self.window, self.min_calls
            ));
        }
        if !(self.failure_rate > 0.0 && self.failure_rate <= 1.0) {
            return Err(format!(
                "`failure_rate` must be in (0, 1], got {}",
                self.failure_rate
            ));
        }
        if self.cooldown == SimDuration::ZERO {
            return Err("`cooldown` must be positive".to_string());
        }
        if self.probes == 0 {
            return Err("`probes` must be at least 1".to_string());
        }
        Ok(())
    }
}

/// Where a breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; results are counted.
    Closed,
    /// Calls fail fast until the cooldown ends.
    Open,
    /// A few probe calls go through; their results decide.
    HalfOpen,
}

impl BreakerState {
    /// The state as records spell it: `closed`, `open`, `half_open`.
    pub fn name(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// A circuit breaker over the results of a caller's calls.
///
/// - **closed**: every call is allowed; the last `window` results are
///   kept, and once there are at least `min_calls` of them and the failed
///   share reaches `failure_rate`, it opens;
/// - **open**: no call is allowed until `cooldown` has passed since it
///   opened; then it is half-open;
/// - **half-open**: up to `probes` calls are allowed; one failure opens it
///   again (a new cooldown), `probes` successes close it with an empty window.
///
/// Time is the caller's local clock.
#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    params: BreakerParams,
    state: BreakerState,
    /// Closed: the latest results (true = failed), oldest first.
    results: VecDeque<bool>,
    failures: u32,
    /// Open: when it opened.
    opened_at: LocalTime,
    /// Half-open: probes let through, and those that succeeded.
    probes_sent: u32,
    probes_ok: u32,
    /// A famous mistake (the service model's `cooldown_reset_on_reject`):
    /// every call rejected while open restarts the cooldown.
    cooldown_reset_on_reject: bool,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(params: BreakerParams) -> CircuitBreaker {
        CircuitBreaker {
            params,
            state: BreakerState::Closed,
            results: VecDeque::with_capacity(params.window as usize),
            failures: 0,
            opened_at: LocalTime(0),
            probes_sent: 0,
            probes_ok: 0,
            cooldown_reset_on_reject: false,
        }
    }

    /// The same breaker with a famous mistake: while open, each rejected
    /// call restarts the cooldown (the service model's
    /// `cooldown_reset_on_reject` bug), so steady traffic keeps it open.
    pub fn with_cooldown_reset_on_reject(mut self) -> CircuitBreaker {
        self.cooldown_reset_on_reject = true;
        self
    }

    /// The state, as last changed by [`Self::allow`] or [`Self::on_result`].
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// May a call go out at `now`? Returns the new state too, if asking
    /// moved it (open -> half-open when the cooldown is over). A half-open
    /// breaker counts each allowed call as a probe.
    pub fn allow(&mut self, now: LocalTime) -> (bool, Option<BreakerState>) {
        let mut changed = None;
        if self.state == BreakerState::Open
            && now.saturating_since(self.opened_at) >= self.params.cooldown
        {
            self.state = BreakerState::HalfOpen;
            self.probes_sent = 0;
            self.probes_ok = 0;
            changed = Some(BreakerState::HalfOpen);
        }
        let allowed = match self.state {
            BreakerState::Closed => true,
            BreakerState::Open => {
                // The rule: the cooldown counts from when the breaker
                // opened. The bug restarts it on each rejected call, so a
                // caller that keeps calling more often than `cooldown`
                // never reaches half-open.
                if self.cooldown_reset_on_reject {
                    self.opened_at = now;
                }
                false
            }
            BreakerState::HalfOpen => {
                if self.probes_sent < self.params.probes {
                    self.probes_sent += 1;
                    true
                } else {
                    false
                }
            }
        };
        (allowed, changed)
    }

    /// The result of an allowed call at `now`; returns the new state if
    /// it changed. Results arriving while open (calls sent before it
    /// opened) are ignored.
    pub fn on_result(&mut self, now: LocalTime, ok: bool) -> Option<BreakerState> {
        match self.state {
            BreakerState::Closed => {
                self.results.push_back(!ok);
                self.failures += u32::from(!ok);
                if self.results.len() > self.params.window as usize {
                    let old = self.results.pop_front().expect("not empty");
                    self.failures -= u32::from(old);
                }
                debug_assert!(self.results.len() <= self.params.window as usize);
                let n = self.results.len() as u32;
                if n >= self.params.min_calls
                    && f64::from(self.failures) >= self.params.failure_rate * f64::from(n)
                {
                    self.open(now);
                    return Some(BreakerState::Open);
                }
                None
            }
            BreakerState::Open => None,
            BreakerState::HalfOpen => {
                if !ok {
                    self.open(now);
                    return Some(BreakerState::Open);
                }
                self.probes_ok += 1;
                if self.probes_ok >= self.params.probes {
                    self.state = BreakerState::Closed;
                    self.results.clear();
                    self.failures = 0;
                    return Some(BreakerState::Closed);
                }
                None
            }
        }
    }

    fn open(&mut self, now: LocalTime) {
        self.state = BreakerState::Open;
        self.opened_at = now;
        self.results.clear();
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> BreakerParams {
        BreakerParams {
            window: 10,
            min_calls: 4,
            failure_rate: 0.5,
            cooldown: SimDuration::from_secs(1),
            probes: 2,
        }
    }

    fn at(ms: i64) -> LocalTime {
        LocalTime(ms * 1_000_000)
    }

    #[test]
    fn opens_at_the_failure_rate_once_enough_calls_are_seen() {
        let mut b = CircuitBreaker::new(params());
        // Three failures: below min_calls, stays closed.
        for i in 0..3 {
            assert_eq!(b.on_result(at(i), false), None);
        }
        // The fourth result makes 4 calls, 3 failed: 75% >= 50%.
        assert_eq!(b.on_result(at(3), true), Some(BreakerState::Open));
        assert_eq!(b.allow(at(500)), (false, None));
    }

    #[test]
    fn stays_closed_below_the_rate_with_a_sliding_window() {
        let mut b = CircuitBreaker::new(params());
        for i in 0..100 {
            // One failure in four: 25% < 50%.
            assert_eq!(b.on_result(at(i), i % 4 != 0), None);
        }
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn half_open_after_cooldown_lets_probes_through_and_closes_on_success() {
        let mut b = CircuitBreaker::new(params());
        for i in 0..4 {
            b.on_result(at(i), false);
        }
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.allow(at(1003)), (true, Some(BreakerState::HalfOpen)));
        assert_eq!(b.allow(at(1004)), (true, None));
        assert_eq!(b.allow(at(1005)), (false, None), "only `probes` probes");
        assert_eq!(b.on_result(at(1010), true), None);
        assert_eq!(b.on_result(at(1011), true), Some(BreakerState::Closed));
        assert_eq!(b.allow(at(1012)), (true, None));
    }

    #[test]
    fn a_failed_probe_opens_it_again_with_a_new_cooldown() {
        let mut b = CircuitBreaker::new(params());
        for i in 0..4 {
            b.on_result(at(i), false);
        }
        assert!(b.allow(at(1100)).0);
        assert_eq!(b.on_result(at(1150), false), Some(BreakerState::Open));
        assert_eq!(
            b.allow(at(2000)),
            (false, None),
            "cooldown counts from 1150"
        );
        assert_eq!(b.allow(at(2150)), (true, Some(BreakerState::HalfOpen)));
    }

    #[test]
    fn validates_its_parameters() {
        assert!(params().validate().is_ok());
        let bad = BreakerParams {
            min_calls: 11,
            ..params()
        };
        assert!(bad.validate().unwrap_err().contains("min_calls"));
        let bad = BreakerParams {
            failure_rate: 0.0,
            ..params()
        };
        assert!(bad.validate().unwrap_err().contains("failure_rate"));
    }
}
