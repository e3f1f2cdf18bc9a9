//! The checks of the retry family, judged from the `service` records (see
//! [`super::service`]): `recovers`, `goodput_slo` and `breaker_opens`. All
//! three are liveness checks: each says that something good happened
//! (enough good answers, a recovery, a breaker that tripped and reset), and
//! none stops the run.
//!
//! - `recovers` (`no_recovery`): the *baseline* is the goodput (good `done`
//!   records per second) from time 0 to the first applied fault. From the
//!   liveness phase (`[liveness] after`, by default when the last fault
//!   ends; or the first fault, if later) goodput over some window of
//!   `[metrics] window` must reach `recover_to` x the baseline, the window
//!   ending by `after + within`. Windows are whole time-series rows (they
//!   start on a multiple of `[metrics] interval`). No fault: nothing to
//!   recover from, it passes with a note. A baseline of zero or one
//!   measured over less than a window is not judged (`unknown`).
//! - `goodput_slo` (`goodput_below_slo`): over the whole run, good `done`
//!   records are at least `slo` x the `request` records (goodput >= slo x
//!   offered load). Liveness, not safety: missing it means too little good
//!   work was done (a shortage of progress), never that a wrong answer was
//!   given; so exit 4, like `progress`, and other checks still judge.
//! - `breaker_opens` (`breaker_never_opened`, `breaker_stuck_open`): some
//!   client's breaker recorded `open`; at the end every breaker that opened
//!   is closed again (a node that crashed or restarted has lost its breaker).

use super::service::ServiceRecord;
use super::service::{self, parse, per_second, short, BreakerState, Breakers, MetricsConfig};
use super::{Checker, LivenessBound, Severity, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::time::SimTime;
use std::collections::VecDeque;

/// The node's `service` record, if the event is one and reads well.
fn service_record(event: &TraceEvent) -> Option<ServiceRecord> {
    match &event.kind {
        EventKind::Record(record) => parse(record)?.ok(),
        _ => None,
    }
}

/// A share as a percentage: `0.8` -> `80%`.
fn percent(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn violation(check: &str, name: &str, time: SimTime, nodes: Vec<String>, why: String) -> Violation {
    Violation {
        name: name.into(),
        check: check.into(),
        severity: Severity::Liveness,
        time,
        nodes,
        explanation: why,
    }
}

/// Why `recovers` could not judge, or that it had nothing to judge.
#[derive(Clone, Debug, PartialEq)]
enum Unjudged {
    /// No fault before the deadline (where): passes.
    NoFault(String),
    /// Unknown: the reason.
    Unknown(String),
}

/// `recovers`: see the module docs.
#[derive(Debug)]
pub struct Recovers {
    config: MetricsConfig,
    bound: LivenessBound,
    /// The first applied fault and the good requests done before it.
    first_fault: Option<SimTime>,
    good: u64,
    baseline: Option<f64>,
    /// The open row and its good requests.
    row: u64,
    row_good: u64,
    /// Good requests of the last closed rows (a window's worth at most).
    recent: VecDeque<u64>,
    /// The best window judged: its rate and start.
    best: Option<(f64, SimTime)>,
    recovered: Option<(f64, SimTime)>,
    unjudged: Option<Unjudged>,
    /// True once judged (recovered, failed or not judged).
    done: bool,
}

impl Recovers {
    /// The check for this `[metrics]` section and liveness bound.
    pub fn new(config: MetricsConfig, bound: LivenessBound) -> Recovers {
        Recovers {
            config,
            bound,
            first_fault: None,
            good: 0,
            baseline: None,
            row: 0,
            row_good: 0,
            recent: VecDeque::new(),
            best: None,
            recovered: None,
            unjudged: None,
            done: false,
        }
    }

    fn deadline(&self) -> SimTime {
        self.bound.after.saturating_add(self.bound.within)
    }

    /// Windows are judged from here: the liveness phase, or the first fault if later.
    fn phase_start(&self) -> SimTime {
        self.first_fault
            .map_or(self.bound.after, |f| f.max(self.bound.after))
    }

    fn on_fault(&mut self, at: SimTime) {
        if self.first_fault.is_some() {
            return;
        }
        self.first_fault = Some(at);
        let since_start = at.saturating_since(SimTime::ZERO);
        if since_start < self.config.window_len() {
            self.unjudge(format!(
                "the first fault came at {at}, before one window ({}) of baseline had passed",
                self.config.window_len()
            ));
            return;
        }
        let baseline = per_second(self.good, since_start).unwrap_or(0.0);
        if baseline == 0.0 {
            self.unjudge(format!(
                "no request was answered within its deadline before the first fault at {at}: the baseline goodput is 0, nothing to recover to"
            ));
            return;
        }
        self.baseline = Some(baseline);
    }

    fn unjudge(&mut self, why: String) {
        self.unjudged = Some(Unjudged::Unknown(why));
        self.done = true;
    }

    /// Closes rows until `k` is the open one, judging each window that ends.
    fn roll_to(&mut self, k: u64) {
        let w = self.config.window_rows();
        while self.row < k && !self.done {
            self.recent.push_back(self.row_good);
            if self.recent.len() as u64 > w {
                self.recent.pop_front();
            }
            self.row_good = 0;
            self.row += 1;
            if self.recent.len() as u64 == w {
                self.judge_window(self.row - w);
            }
        }
        if self.done {
            self.row = self.row.max(k);
        }
    }

    /// Judges the window of rows `first..first + w` (just closed).
    fn judge_window(&mut self, first: u64) {
        let Some(baseline) = self.baseline else {
            return;
        };
        let start = self.config.row_start(first);
        let end = start.saturating_add(self.config.window_len());
        if start < self.phase_start() || end > self.deadline() {
            return;
        }
        let sum: u64 = self.recent.iter().sum();
        let rate = per_second(sum, self.config.window_len()).unwrap_or(0.0);
        if self.best.is_none_or(|(best, _)| rate > best) {
            self.best = Some((rate, start));
        }
        if rate >= self.config.recover_to * baseline {
            self.recovered = Some((rate, start));
            self.done = true;
        }
    }

    /// After the deadline (or at the end): the verdict, once.
    fn judge(&mut self, now: SimTime) -> Option<Violation> {
        if self.done {
            return None;
        }
        self.done = true;
        let deadline = self.deadline();
        let Some(fault) = self.first_fault else {
            let when = if now > deadline {
                format!("by the liveness deadline {deadline}")
            } else {
                "in the run".to_string()
            };
            self.unjudged = Some(Unjudged::NoFault(when));
            return None;
        };
        let Some(baseline) = self.baseline else {
            debug_assert!(false, "a fault without a baseline is not judged");
            return None;
        };
        let target = self.config.recover_to * baseline;
        let window = self.config.window_len();
        if deadline > now {
            self.unjudged = Some(Unjudged::Unknown(format!(
                "the run ended at {now}, before the deadline {deadline}"
            )));
            return None;
        }
        let Some((best, best_start)) = self.best else {
            self.unjudged = Some(Unjudged::Unknown(format!(
                "no window of {window} starting on a multiple of {} fits between {} and {}",
                self.config.interval,
                self.phase_start(),
                deadline
            )));
            return None;
        };
        Some(violation(
            "recovers",
            "no_recovery",
            deadline,
            Vec::new(),
            format!(
                "goodput did not come back to {} of its baseline by {deadline}: the baseline was {baseline:.1}/s (good requests per second before the first fault at {fault}), the target {target:.1}/s over a {window} window; of the windows from {} to {deadline}, the best, {best_start} to {}, had {best:.1}/s ({} of the baseline)",
                percent(self.config.recover_to),
                self.phase_start(),
                best_start.saturating_add(window),
                percent(best / baseline)
            ),
        ))
    }
}

impl Checker for Recovers {
    fn name(&self) -> &'static str {
        "recovers"
    }

    fn on_event(&mut self, event: &TraceEvent, _world: &World) -> Option<Violation> {
        if self.done {
            return None;
        }
        self.roll_to(self.config.row_of(event.time));
        if event.time > self.deadline() {
            return self.judge(event.time);
        }
        match &event.kind {
            EventKind::Fault { applied: true, .. } => self.on_fault(event.time),
            _ => {
                if let Some(ServiceRecord::Done { good: true, .. }) = service_record(event) {
                    self.row_good += 1;
                    if self.first_fault.is_none() {
                        self.good += 1;
                    }
                }
            }
        }
        None
    }

    fn finish(&mut self, end: SimTime, _world: &World) -> Option<Violation> {
        // Close the last row too: windows ending at the end are judged.
        self.roll_to(self.config.row_of(end) + 1);
        self.judge(end)
    }

    /// "recovers: goodput back to 91.0/s (96% of the 95.2/s baseline before the first fault at 5.000s)
    /// in the window 9.000s to 10.000s, 2s after the liveness phase began at 8.000s".
    fn note(&self) -> Option<String> {
        match (&self.unjudged, self.recovered, self.baseline) {
            (Some(Unjudged::NoFault(when)), _, _) => Some(format!(
                "recovers: no fault {when}, nothing to recover from"
            )),
            (Some(Unjudged::Unknown(why)), _, _) => Some(format!("recovers: not judged: {why}")),
            (None, Some((rate, start)), Some(baseline)) => {
                let end = start.saturating_add(self.config.window_len());
                let phase = self.phase_start();
                Some(format!(
                    "recovers: goodput back to {rate:.1}/s ({} of the {baseline:.1}/s baseline before the first fault at {}) in the window {start} to {end}, {} after the liveness phase began at {phase}",
                    percent(rate / baseline),
                    self.first_fault.unwrap_or(SimTime::ZERO),
                    short(end.saturating_since(phase))
                ))
            }
            _ => None,
        }
    }

    fn inconclusive(&self) -> bool {
        matches!(self.unjudged, Some(Unjudged::Unknown(_)))
    }

    /// `recovers.baseline_per_s`; `recovers.best_fraction` (the best window
    /// judged over the baseline); `recovers.recovery_s` (from the liveness
    /// phase to the end of the first window that recovered).
    fn metrics(&self) -> Vec<(String, f64)> {
        let mut m = Vec::new();
        if let Some(baseline) = self.baseline {
            m.push(("recovers.baseline_per_s".to_string(), baseline));
            if let Some((best, _)) = self.best {
                m.push(("recovers.best_fraction".to_string(), best / baseline));
            }
        }
        if let Some((_, start)) = self.recovered {
            let end = start.saturating_add(self.config.window_len());
            let took = end.saturating_since(self.phase_start());
            m.push(("recovers.recovery_s".to_string(), took.as_secs_f64()));
        }
        m
    }
}

/// `goodput_slo`: see the module docs.
#[derive(Debug)]
pub struct GoodputSlo {
    slo: f64,
    requests: u64,
    good: u64,
    end: Option<SimTime>,
}

impl GoodputSlo {
    /// Good requests must be at least `slo` (in (0, 1]) of the requests.
    pub fn new(slo: f64) -> GoodputSlo {
        GoodputSlo {
            slo,
            requests: 0,
            good: 0,
            end: None,
        }
    }

    fn fraction(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.good as f64 / self.requests as f64)
    }
}

impl Checker for GoodputSlo {
    fn name(&self) -> &'static str {
        "goodput_slo"
    }

    fn on_event(&mut self, event: &TraceEvent, _world: &World) -> Option<Violation> {
        match service_record(event) {
            Some(ServiceRecord::Request) => self.requests += 1,
            Some(ServiceRecord::Done { good: true, .. }) => self.good += 1,
            _ => {}
        }
        None
    }

    fn finish(&mut self, end: SimTime, _world: &World) -> Option<Violation> {
        self.end = Some(end);
        let fraction = self.fraction()?;
        if fraction >= self.slo {
            return None;
        }
        let d = end.saturating_since(SimTime::ZERO);
        let rate = |n| per_second(n, d).unwrap_or(0.0);
        Some(violation(
            "goodput_slo",
            "goodput_below_slo",
            end,
            Vec::new(),
            format!(
                "goodput was {:.1}/s, {} of the offered load of {:.1}/s over the run (0s to {end}), below the SLO of {}: {} of {} requests were answered ok within their deadline",
                rate(self.good),
                percent(fraction),
                rate(self.requests),
                percent(self.slo),
                self.good,
                self.requests
            ),
        ))
    }

    fn note(&self) -> Option<String> {
        let end = self.end?;
        Some(match self.fraction() {
            None => "goodput_slo: no requests in the run, nothing to judge".to_string(),
            Some(f) => format!(
                "goodput_slo: {} of {} requests good ({}; the SLO is {}) from 0s to {end}",
                self.good,
                self.requests,
                percent(f),
                percent(self.slo)
            ),
        })
    }

    /// `goodput_slo.fraction`: good requests over requests (if any).
    fn metrics(&self) -> Vec<(String, f64)> {
        self.fraction()
            .map(|f| ("goodput_slo.fraction".to_string(), f))
            .into_iter()
            .collect()
    }
}

/// `breaker_opens`: see the module docs.
#[derive(Debug, Default)]
pub struct BreakerOpens {
    breakers: Breakers,
    opens: u64,
    first_open: Option<SimTime>,
    /// Each node's last open, by node id.
    last_open: Vec<Option<SimTime>>,
    last_close: Option<SimTime>,
    judged: bool,
}

impl BreakerOpens {
    /// A fresh check.
    pub fn new() -> BreakerOpens {
        BreakerOpens::default()
    }
}

impl Checker for BreakerOpens {
    fn name(&self) -> &'static str {
        "breaker_opens"
    }

    fn on_event(&mut self, event: &TraceEvent, _world: &World) -> Option<Violation> {
        if let Some(node) = service::reset_node(event) {
            self.breakers.set(node, BreakerState::Closed);
        }
        let (Some(ServiceRecord::Breaker(state)), Some(node)) = (service_record(event), event.node)
        else {
            return None;
        };
        if self.breakers.set(node, state) {
            self.opens += 1;
            self.first_open.get_or_insert(event.time);
            if self.last_open.len() <= node.index() {
                self.last_open.resize(node.index() + 1, None);
            }
            self.last_open[node.index()] = Some(event.time);
        }
        if state == BreakerState::Closed {
            self.last_close = Some(event.time);
        }
        None
    }

    fn finish(&mut self, end: SimTime, world: &World) -> Option<Violation> {
        self.judged = true;
        if self.opens == 0 {
            return Some(violation(
                "breaker_opens",
                "breaker_never_opened",
                end,
                Vec::new(),
                format!("no client's circuit breaker opened from 0s to {end} (no `breaker` record with state \"open\")"),
            ));
        }
        let stuck: Vec<_> = self.breakers.stuck().collect();
        if stuck.is_empty() {
            return None;
        }
        const SHOWN: usize = 5;
        let mut told: Vec<String> = stuck
            .iter()
            .take(SHOWN)
            .map(|(node, state)| {
                let opened = self
                    .last_open
                    .get(node.index())
                    .copied()
                    .flatten()
                    .map_or(String::new(), |t| format!(" (opened at {t})"));
                format!("{}'s is {}{opened}", world.name(*node), state.as_str())
            })
            .collect();
        if stuck.len() > SHOWN {
            told.push(format!("and {} more", stuck.len() - SHOWN));
        }
        Some(violation(
            "breaker_opens",
            "breaker_stuck_open",
            end,
            stuck
                .iter()
                .map(|(n, _)| world.name(*n).to_string())
                .collect(),
            format!(
                "{} circuit breakers are not closed at the end of the run ({end}): {}",
                stuck.len(),
                told.join(", ")
            ),
        ))
    }

    fn note(&self) -> Option<String> {
        if !self.judged || self.opens == 0 || self.breakers.not_closed() > 0 {
            return None;
        }
        let first = self.first_open.unwrap_or(SimTime::ZERO);
        let last = self.last_close.unwrap_or(SimTime::ZERO);
        Some(format!(
            "breaker_opens: breakers opened {} times (the first at {first}); all closed again, the last at {last}",
            self.opens
        ))
    }
}

/// The check of this family named `name`, if it is one, for a scenario's
/// `[metrics]`, liveness bound and server count; `keep_series`: the
/// `service` check keeps its time series.
pub fn build(
    name: &str,
    config: MetricsConfig,
    bound: LivenessBound,
    servers: usize,
    keep_series: bool,
) -> Option<Box<dyn Checker>> {
    Some(match name {
        "service" if keep_series => Box::new(service::Service::new(config, servers)),
        "service" => Box::new(service::Service::without_series(config, servers)),
        "recovers" => Box::new(Recovers::new(config, bound)),
        "goodput_slo" => Box::new(GoodputSlo::new(config.slo)),
        "breaker_opens" => Box::new(BreakerOpens::new()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::service::testing::*;
    use super::service::{BREAKER, REQUEST};
    use super::*;
    use crate::time::SimDuration;
    use serde_json::json;

    fn config() -> MetricsConfig {
        MetricsConfig {
            interval: SimDuration::from_millis(100),
            window: SimDuration::from_secs(1),
            slo: 0.9,
            recover_to: 0.75,
        }
    }

    /// Liveness from 6s, within 5s (deadline 11s).
    fn bound() -> LivenessBound {
        LivenessBound {
            after: ms(6000),
            within: SimDuration::from_secs(5),
        }
    }

    /// 10 good requests a second until the crash of n2 at 5s, bad ones
    /// until `back`, then good ones every `every` ms until 12s.
    fn trigger(back: u64, every: u64) -> Vec<TraceEvent> {
        let mut events = steady(0, 5000, 100, true);
        events.push(crash(5000, 1));
        events.extend(steady(5000, back, 100, false));
        events.extend(steady(back, 12_000, every, true));
        events
    }

    #[test]
    fn recovers_passes_at_the_first_window_back_to_the_share_of_the_baseline() {
        let mut check = Recovers::new(config(), bound());
        assert!(feed(&mut check, trigger(8000, 100), 12_000).is_empty());
        assert!(!check.inconclusive());
        // (7.8s, 8.8s] holds 8 good requests: 8/s >= 0.75 x 10/s.
        assert_eq!(metric(&check, "recovers.baseline_per_s"), Some(10.0));
        assert_eq!(metric(&check, "recovers.recovery_s"), Some(2.8));
        assert_eq!(
            check.note().unwrap(),
            "recovers: goodput back to 8.0/s (80% of the 10.0/s baseline before the first fault at 5.000s) in the window 7.800s to 8.800s, 2.8s after the liveness phase began at 6.000s"
        );
    }

    #[test]
    fn recovers_fails_at_the_deadline_with_the_best_window() {
        let mut check = Recovers::new(config(), bound());
        let found = feed(&mut check, trigger(8000, 500), 12_000);
        assert_eq!(found.len(), 1, "{found:?}");
        let v = &found[0];
        assert_eq!((v.name.as_str(), v.time), ("no_recovery", ms(11_000)));
        assert_eq!(v.severity, Severity::Liveness);
        assert!(
            v.explanation.starts_with("goodput did not come back to 75% of its baseline by 11.000s: the baseline was 10.0/s (good requests per second before the first fault at 5.000s), the target 7.5/s over a 1s window; of the windows from 6.000s to 11.000s, the best, 7.600s to 8.600s, "),
            "{}",
            v.explanation
        );
        assert!(
            v.explanation.ends_with("had 2.0/s (20% of the baseline)"),
            "{}",
            v.explanation
        );
        assert_eq!(metric(&check, "recovers.best_fraction"), Some(0.2));
        assert_eq!(metric(&check, "recovers.recovery_s"), None);
    }

    #[test]
    fn recovers_without_a_fault_passes_and_without_a_baseline_is_unknown() {
        let mut check = Recovers::new(config(), bound());
        assert!(feed(&mut check, steady(0, 12_000, 100, true), 12_000).is_empty());
        assert!(!check.inconclusive());
        assert_eq!(
            check.note().unwrap(),
            "recovers: no fault by the liveness deadline 11.000s, nothing to recover from"
        );
        let mut check = Recovers::new(config(), bound());
        assert!(feed(&mut check, steady(0, 11_000, 100, true), 11_000).is_empty());
        assert_eq!(
            check.note().unwrap(),
            "recovers: no fault in the run, nothing to recover from"
        );

        // Nothing good before the fault: a baseline of 0.
        let mut events = steady(0, 5000, 100, false);
        events.push(crash(5000, 1));
        let mut check = Recovers::new(config(), bound());
        assert!(feed(&mut check, events, 12_000).is_empty());
        assert!(check.inconclusive());
        assert!(
            check.note().unwrap().contains("the baseline goodput is 0"),
            "{:?}",
            check.note()
        );

        // A fault before one window of baseline.
        let mut events = steady(0, 12_000, 100, true);
        events.push(crash(500, 1));
        let mut check = Recovers::new(config(), bound());
        assert!(feed(&mut check, events, 12_000).is_empty());
        assert!(check.inconclusive());
        assert!(
            check.note().unwrap().contains(
                "the first fault came at 0.500s, before one window (1s) of baseline had passed"
            ),
            "{:?}",
            check.note()
        );

        // A deadline past the end of the run (built without validation).
        let late = LivenessBound {
            after: ms(6000),
            within: SimDuration::from_secs(60),
        };
        let mut check = Recovers::new(config(), late);
        assert!(feed(&mut check, trigger(8000, 500), 12_000).is_empty());
        assert!(check.inconclusive());
        assert!(check
            .note()
            .unwrap()
            .contains("before the deadline 66.000s"));
    }

    #[test]
    fn goodput_slo_compares_good_requests_with_requests() {
        let mut events = steady(0, 900, 100, true);
        events.extend(steady(900, 1000, 100, false));
        let mut check = GoodputSlo::new(0.9);
        assert!(
            feed(&mut check, events.clone(), 1000).is_empty(),
            "9 of 10 meets 90%"
        );
        assert_eq!(metric(&check, "goodput_slo.fraction"), Some(0.9));
        assert_eq!(
            check.note().unwrap(),
            "goodput_slo: 9 of 10 requests good (90%; the SLO is 90%) from 0s to 1.000s"
        );

        events.push(rec(950, 3, REQUEST, json!({"id": 1}))); // never answered
        let mut check = GoodputSlo::new(0.9);
        let found = feed(&mut check, events, 1000);
        assert_eq!(found.len(), 1);
        let v = &found[0];
        assert_eq!((v.name.as_str(), v.time), ("goodput_below_slo", ms(1000)));
        assert_eq!(
            v.explanation,
            "goodput was 9.0/s, 82% of the offered load of 11.0/s over the run (0s to 1.000s), below the SLO of 90%: 9 of 11 requests were answered ok within their deadline"
        );

        let mut check = GoodputSlo::new(0.9);
        assert!(feed(&mut check, Vec::new(), 1000).is_empty());
        assert_eq!(
            check.note().unwrap(),
            "goodput_slo: no requests in the run, nothing to judge"
        );
    }

    fn breaker(t: u64, node: u32, state: &str) -> TraceEvent {
        rec(t, node, BREAKER, json!({ "state": state }))
    }

    #[test]
    fn breaker_opens_needs_an_open_and_every_breaker_closed_at_the_end() {
        let mut check = BreakerOpens::new();
        let found = feed(&mut check, steady(0, 1000, 100, true), 1000);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "breaker_never_opened");

        let cycle = vec![
            breaker(100, 2, "open"),
            breaker(200, 3, "open"),
            breaker(300, 2, "half_open"),
            breaker(400, 2, "closed"),
            breaker(500, 3, "half_open"),
            breaker(600, 3, "closed"),
        ];
        let mut check = BreakerOpens::new();
        assert!(feed(&mut check, cycle.clone(), 1000).is_empty());
        assert_eq!(
            check.note().unwrap(),
            "breaker_opens: breakers opened 2 times (the first at 0.100s); all closed again, the last at 0.600s"
        );

        let mut stuck = cycle.clone();
        stuck.push(breaker(700, 2, "open"));
        stuck.push(breaker(800, 4, "open"));
        stuck.push(breaker(900, 4, "half_open"));
        let mut check = BreakerOpens::new();
        let found = feed(&mut check, stuck.clone(), 1000);
        assert_eq!(found.len(), 1);
        let v = &found[0];
        assert_eq!(v.name, "breaker_stuck_open");
        assert_eq!(v.nodes, vec!["c1", "c3"]);
        assert_eq!(
            v.explanation,
            "2 circuit breakers are not closed at the end of the run (1.000s): c1's is open (opened at 0.700s), c3's is half-open (opened at 0.800s)"
        );

        // A client that crashed lost its breaker.
        stuck.push(crash(950, 2));
        stuck.push(crash(960, 4));
        let mut check = BreakerOpens::new();
        assert!(feed(&mut check, stuck, 1000).is_empty());
    }
}
