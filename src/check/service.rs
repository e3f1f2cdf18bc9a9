//! `service`: what a request/response system did under its load, measured
//! from the records every model of the retry family emits. It never fails
//! a run.
//!
//! The records (details are JSON objects; see the README):
//! - clients: [`REQUEST`] `{id}` (a logical request is issued), [`CALL`]
//!   `{id, attempt}` (one attempt is sent), [`DONE`] `{id, ok, good,
//!   latency_ns, calls, why}` (the request ended; `good`: ok within the
//!   client's deadline), [`BREAKER`] `{state}` (`open`, `half_open`,
//!   `closed`: the client's circuit breaker changed state);
//! - servers: [`SERVED`] `{queue}` (a request's work was done and answered),
//!   [`SHED`] `{why, queue}` (rejected or dropped without the work); any
//!   server record with a `queue` field sets that server's queue gauge.
//!
//! Run metrics (`service.*`, see [`Service`]'s `metrics`) count the whole
//! run; the [`TimeSeries`] has one row per [`MetricsConfig::interval`], at
//! most [`MAX_ROWS`] rows (past that no row is kept and the note says so).
//! Latency percentiles come from a [`LatencyHistogram`] (within 0.8%), so
//! memory does not grow with the number of requests.
//!
//! A node that crashes or (re)starts loses its queue and its breaker: its
//! gauge reads 0 and its breaker counts as closed until it records again.

use super::histogram::LatencyHistogram;
use super::series::{SeriesRow, TimeSeries};
use super::{Checker, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::fault::Fault;
use crate::node::{NodeId, Record};
use crate::time::{SimDuration, SimTime};

/// Client record: a logical request is issued (`{"id": u64}`).
pub const REQUEST: &str = "request";
/// Client record: one attempt is sent (`{"id": u64, "attempt": u32}`, 1 first).
pub const CALL: &str = "call";
/// Client record: a logical request ended (`{"id", "ok", "good", "latency_ns", "calls", "why"}`).
pub const DONE: &str = "done";
/// Server record: a request's work was done and its reply sent (`{"queue": u64}`).
pub const SERVED: &str = "served";
/// Server record: a request was rejected or dropped without the work (`{"why", "queue"}`).
pub const SHED: &str = "shed";
/// Client record: its circuit breaker changed state (`{"state": "open" | "half_open" | "closed"}`).
pub const BREAKER: &str = "breaker";
/// Every service record kind.
pub const RECORDS: &[&str] = &[REQUEST, CALL, DONE, SERVED, SHED, BREAKER];
/// The kinds too frequent to narrate, for a model's `Model::quiet_records`
/// (all but [`BREAKER`]).
pub const QUIET_RECORDS: &[&str] = &[REQUEST, CALL, DONE, SERVED, SHED];

/// The details of the service records, with the keys the checks read:
/// `ctx.record(DONE, detail::done(id, true, good, latency_ns, 1, "ok"))`.
pub mod detail {
    use serde_json::{json, Value};

    /// [`super::REQUEST`]'s detail.
    pub fn request(id: u64) -> Value {
        json!({ "id": id })
    }

    /// [`super::CALL`]'s detail (`attempt` 1 is the first, above 1 a retry).
    pub fn call(id: u64, attempt: u32) -> Value {
        json!({ "id": id, "attempt": attempt })
    }

    /// [`super::DONE`]'s detail: `good` is ok within the client's
    /// deadline; `latency_ns` from the request on the client's clock;
    /// `why` one of "ok", "timeout", "error", "shed", "breaker_open",
    /// "budget", "gave_up".
    pub fn done(id: u64, ok: bool, good: bool, latency_ns: u64, calls: u32, why: &str) -> Value {
        debug_assert!(ok || !good, "good implies ok");
        json!({ "id": id, "ok": ok, "good": good, "latency_ns": latency_ns, "calls": calls, "why": why })
    }

    /// [`super::SERVED`]'s detail: requests still waiting.
    pub fn served(queue: u64) -> Value {
        json!({ "queue": queue })
    }

    /// [`super::SHED`]'s detail: `why` one of "queue_full", "deadline",
    /// "concurrency", "overloaded".
    pub fn shed(why: &str, queue: u64) -> Value {
        json!({ "why": why, "queue": queue })
    }

    /// [`super::BREAKER`]'s detail: `state` "open", "half_open" or "closed".
    pub fn breaker(state: &str) -> Value {
        json!({ "state": state })
    }
}

/// The most time-series rows a run keeps (104 bytes each: about 10 MB).
pub const MAX_ROWS: u64 = 100_000;

/// The `[metrics]` section: how the series is sampled and the service
/// checks judge.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricsConfig {
    /// Time-series bucket (default 1s).
    pub interval: SimDuration,
    /// `recovers` judges goodput over windows this long, a whole number of
    /// intervals (default 1s, or the least multiple of `interval` above it).
    pub window: SimDuration,
    /// `goodput_slo`: good requests must be at least this share of the
    /// requests issued (default 0.9).
    pub slo: f64,
    /// `recovers`: goodput must come back to this share of its baseline
    /// (default 0.8).
    pub recover_to: f64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            interval: SimDuration::from_secs(1),
            window: SimDuration::from_secs(1),
            slo: 0.9,
            recover_to: 0.8,
        }
    }
}

impl MetricsConfig {
    /// The least multiple of `interval` that is at least 1s: the default window.
    pub fn default_window(interval: SimDuration) -> SimDuration {
        let i = interval.as_nanos().max(1);
        SimDuration(1_000_000_000u64.div_ceil(i).saturating_mul(i))
    }

    /// The time-series row of true time `t`: row `k` covers `(k * interval,
    /// (k + 1) * interval]`, row 0 from time 0.
    pub fn row_of(&self, t: SimTime) -> u64 {
        t.as_nanos().saturating_sub(1) / self.interval.as_nanos().max(1)
    }

    /// Where row `k` starts.
    pub fn row_start(&self, k: u64) -> SimTime {
        SimTime(k.saturating_mul(self.interval.as_nanos()))
    }

    /// A window's length in whole intervals (the window itself once
    /// validated: a scenario's window is a multiple of the interval).
    pub fn window_len(&self) -> SimDuration {
        SimDuration(self.window_rows().saturating_mul(self.interval.as_nanos()))
    }

    /// Intervals in a window (at least 1).
    pub fn window_rows(&self) -> u64 {
        let i = self.interval.as_nanos().max(1);
        self.window.as_nanos().div_ceil(i).max(1)
    }
}

/// A client's circuit breaker, from its `breaker` records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum BreakerState {
    #[default]
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }
}

/// A service record, read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ServiceRecord {
    Request,
    Call,
    Done {
        ok: bool,
        good: bool,
        latency_ns: u64,
    },
    Served,
    Shed,
    Breaker(BreakerState),
}

/// Reads `record` if it is a service record: `None` for other kinds, an
/// error saying what is missing for a malformed one.
pub(crate) fn parse(record: &Record) -> Option<Result<ServiceRecord, String>> {
    let d = &record.detail;
    let flag = |key: &str| d.get(key).and_then(|v| v.as_bool());
    Some(Ok(match record.kind.as_str() {
        REQUEST => ServiceRecord::Request,
        CALL => ServiceRecord::Call,
        SERVED => ServiceRecord::Served,
        SHED => ServiceRecord::Shed,
        DONE => {
            let latency = d.get("latency_ns").and_then(|v| v.as_u64());
            match (flag("ok"), flag("good"), latency) {
                (Some(false), Some(true), _) => {
                    return Some(Err(format!("done {d}: good but not ok")))
                }
                (Some(ok), Some(good), Some(latency_ns)) => ServiceRecord::Done {
                    ok,
                    good,
                    latency_ns,
                },
                _ => {
                    return Some(Err(format!(
                        "done {d}: expected ok and good (true/false) and latency_ns (whole nanoseconds)"
                    )))
                }
            }
        }
        BREAKER => match d.get("state").and_then(|v| v.as_str()) {
            Some("open") => ServiceRecord::Breaker(BreakerState::Open),
            Some("half_open") => ServiceRecord::Breaker(BreakerState::HalfOpen),
            Some("closed") => ServiceRecord::Breaker(BreakerState::Closed),
            _ => {
                return Some(Err(format!(
                    "breaker {d}: expected state \"open\", \"half_open\" or \"closed\""
                )))
            }
        },
        _ => return None,
    }))
}

/// The node a crash or start event resets (its queue and breaker are gone).
pub(crate) fn reset_node(event: &TraceEvent) -> Option<NodeId> {
    match (&event.kind, event.node) {
        (EventKind::Start { .. }, node) => node,
        (
            EventKind::Fault {
                fault: Fault::Crash(node),
                applied: true,
            },
            _,
        ) => Some(*node),
        _ => None,
    }
}

/// Each client's breaker state, and how many are not closed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Breakers {
    states: Vec<BreakerState>,
    not_closed: u64,
}

impl Breakers {
    /// Sets `node`'s state; true if it changed to open.
    pub(crate) fn set(&mut self, node: NodeId, state: BreakerState) -> bool {
        if self.states.len() <= node.index() {
            self.states.resize(node.index() + 1, BreakerState::Closed);
        }
        let old = std::mem::replace(&mut self.states[node.index()], state);
        let was = u64::from(old != BreakerState::Closed);
        let is = u64::from(state != BreakerState::Closed);
        self.not_closed = self.not_closed + is - was;
        state == BreakerState::Open && old != BreakerState::Open
    }

    /// Breakers not closed now.
    pub(crate) fn not_closed(&self) -> u64 {
        self.not_closed
    }

    /// The nodes whose breaker is not closed, with their state.
    pub(crate) fn stuck(&self) -> impl Iterator<Item = (NodeId, BreakerState)> + '_ {
        self.states
            .iter()
            .enumerate()
            .filter(|(_, s)| **s != BreakerState::Closed)
            .map(|(i, s)| (NodeId(i as u32), *s))
    }
}

/// Counts of one interval (or of the run).
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    offered: u64,
    calls: u64,
    served: u64,
    good: u64,
    ok: u64,
}

/// The row being filled.
#[derive(Debug, Default)]
struct OpenRow {
    index: u64,
    counts: Counts,
    latency: LatencyHistogram,
}

/// Measures offered load, throughput, goodput, latency and amplification;
/// see the module docs.
#[derive(Debug)]
pub struct Service {
    config: MetricsConfig,
    /// Servers are the nodes `0..servers`: their `queue` fields are gauges.
    servers: usize,
    /// False: no series is kept (rows are counted, not stored).
    keep: bool,
    max_rows: u64,
    total: Counts,
    completed: u64,
    shed: u64,
    breaker_opens: u64,
    latency: LatencyHistogram,
    last_done: Option<SimTime>,
    records: u64,
    malformed: u64,
    first_malformed: Option<String>,
    /// Each server's last queue gauge, and their sum.
    queues: Vec<u64>,
    queue_sum: u128,
    breakers: Breakers,
    open: OpenRow,
    rows: Vec<SeriesRow>,
    truncated: bool,
    /// The time of the last event seen, and the end once the run finished.
    last_time: SimTime,
    end: Option<SimTime>,
}

impl Service {
    /// The observer for a scenario whose servers are the nodes `0..servers`.
    pub fn new(config: MetricsConfig, servers: usize) -> Service {
        Service::with_max_rows(config, servers, MAX_ROWS)
    }

    /// [`Service::new`] without a time series (the run metrics only):
    /// [`Checker::take_series`] gives `None`.
    pub fn without_series(config: MetricsConfig, servers: usize) -> Service {
        Service {
            keep: false,
            ..Service::with_max_rows(config, servers, 0)
        }
    }

    /// [`Service::new`] keeping at most `max_rows` rows of the series.
    pub fn with_max_rows(config: MetricsConfig, servers: usize, max_rows: u64) -> Service {
        debug_assert!(config.interval > SimDuration::ZERO);
        Service {
            config,
            servers,
            keep: true,
            max_rows,
            total: Counts::default(),
            completed: 0,
            shed: 0,
            breaker_opens: 0,
            latency: LatencyHistogram::new(),
            last_done: None,
            records: 0,
            malformed: 0,
            first_malformed: None,
            queues: Vec::new(),
            queue_sum: 0,
            breakers: Breakers::default(),
            open: OpenRow::default(),
            rows: Vec::new(),
            truncated: false,
            last_time: SimTime::ZERO,
            end: None,
        }
    }

    /// Closes the open row: keeps it (if there is room) and opens the next.
    fn close_row(&mut self) {
        if (self.rows.len() as u64) < self.max_rows {
            let c = self.open.counts;
            let quantile = |q| self.open.latency.quantile(q).map(SimDuration);
            self.rows.push(SeriesRow {
                start: self.config.row_start(self.open.index),
                length: self.config.interval,
                offered: c.offered,
                calls: c.calls,
                served: c.served,
                good: c.good,
                ok: c.ok,
                latency_p50: quantile(0.5),
                latency_p99: quantile(0.99),
                queue: u64::try_from(self.queue_sum).unwrap_or(u64::MAX),
                open_breakers: self.breakers.not_closed(),
            });
        } else {
            self.truncated = true;
        }
        self.open.counts = Counts::default();
        self.open.latency.clear();
        self.open.index += 1;
    }

    /// Closes rows until row `k` is the open one.
    fn roll_to(&mut self, k: u64) {
        while self.open.index < k {
            self.close_row();
            if self.truncated {
                // Nothing more is kept: skip the empty rows between.
                self.open.index = k;
            }
        }
    }

    /// Closes the rows up to the run's end; the last row ends there.
    fn finalize(&mut self, end: SimTime) {
        if self.end.is_some() {
            return;
        }
        self.end = Some(end);
        let last = self.config.row_of(end).max(self.open.index);
        self.roll_to(last);
        self.close_row();
        if let Some(row) = self.rows.last_mut().filter(|_| !self.truncated) {
            row.length = end.saturating_since(row.start);
        }
    }

    fn set_queue(&mut self, node: NodeId, queue: u64) {
        if self.queues.len() <= node.index() {
            self.queues.resize(node.index() + 1, 0);
        }
        let old = std::mem::replace(&mut self.queues[node.index()], queue);
        self.queue_sum = self.queue_sum - u128::from(old) + u128::from(queue);
    }

    fn on_record(&mut self, at: SimTime, node: NodeId, record: &Record) {
        if node.index() < self.servers {
            if let Some(queue) = record.detail.get("queue").and_then(|q| q.as_u64()) {
                self.set_queue(node, queue);
            }
        }
        let parsed = match parse(record) {
            None => return,
            Some(Ok(parsed)) => parsed,
            Some(Err(why)) => {
                self.malformed += 1;
                self.first_malformed.get_or_insert(why);
                return;
            }
        };
        self.records += 1;
        let (total, row) = (&mut self.total, &mut self.open.counts);
        match parsed {
            ServiceRecord::Request => {
                total.offered += 1;
                row.offered += 1;
            }
            ServiceRecord::Call => {
                total.calls += 1;
                row.calls += 1;
            }
            ServiceRecord::Served => {
                total.served += 1;
                row.served += 1;
            }
            ServiceRecord::Shed => self.shed += 1,
            ServiceRecord::Done {
                ok,
                good,
                latency_ns,
            } => {
                self.completed += 1;
                self.last_done = Some(at);
                if ok {
                    total.ok += 1;
                    row.ok += 1;
                    self.latency.record(latency_ns);
                    self.open.latency.record(latency_ns);
                }
                if good {
                    total.good += 1;
                    row.good += 1;
                }
            }
            ServiceRecord::Breaker(state) => {
                if self.breakers.set(node, state) {
                    self.breaker_opens += 1;
                }
            }
        }
    }

    /// The run's length so far (its end once finished).
    fn elapsed(&self) -> SimDuration {
        self.end
            .unwrap_or(self.last_time)
            .saturating_since(SimTime::ZERO)
    }
}

/// Per second over `d`, if `d` is not zero.
pub(crate) fn per_second(count: u64, d: SimDuration) -> Option<f64> {
    (d > SimDuration::ZERO).then(|| count as f64 * 1e9 / d.as_nanos() as f64)
}

/// `d` to 3 significant digits: `843ms`, `1.23s`.
pub(crate) fn short(d: SimDuration) -> String {
    let n = d.as_nanos();
    let mut scale: u64 = 1;
    while n / scale >= 1000 {
        scale *= 10;
    }
    // Rounded once, half up.
    let kept = n / scale + u64::from(n % scale >= scale / 2 && scale > 1);
    SimDuration(kept.saturating_mul(scale)).to_string()
}

impl Checker for Service {
    fn name(&self) -> &'static str {
        "service"
    }

    fn on_event(&mut self, event: &TraceEvent, _world: &World) -> Option<Violation> {
        self.last_time = event.time;
        self.roll_to(self.config.row_of(event.time));
        if let Some(node) = reset_node(event) {
            self.set_queue(node, 0);
            self.breakers.set(node, BreakerState::Closed);
        }
        if let (EventKind::Record(record), Some(node)) = (&event.kind, event.node) {
            self.on_record(event.time, node, record);
        }
        None
    }

    fn finish(&mut self, end: SimTime, _world: &World) -> Option<Violation> {
        self.finalize(end);
        None
    }

    /// "service: offered 100/s, throughput 95.1/s, goodput 80.3/s, success
    /// 90/s, p50 120ms, p99 843ms, 1.31 calls/request; ...".
    fn note(&self) -> Option<String> {
        if self.records == 0 && self.malformed == 0 {
            return Some(format!(
                "service: no service records ({}) in the run",
                RECORDS.join(", ")
            ));
        }
        let d = self.elapsed();
        let rate = |n| per_second(n, d).map_or("-".to_string(), |r| format!("{r:.1}/s"));
        let t = &self.total;
        let mut text = format!(
            "service: offered {}, throughput {}, goodput {}, success {}",
            rate(t.offered),
            rate(t.served),
            rate(t.good),
            rate(t.ok)
        );
        if let (Some(p50), Some(p99)) = (self.latency.quantile(0.5), self.latency.quantile(0.99)) {
            let (p50, p99) = (short(SimDuration(p50)), short(SimDuration(p99)));
            text.push_str(&format!(", p50 {p50}, p99 {p99}"));
        }
        if t.offered > 0 {
            let amplification = t.calls as f64 / t.offered as f64;
            text.push_str(&format!(", {amplification:.2} calls/request"));
        }
        text.push_str(&format!(
            "; {} requests, {} done ({} unfinished), {} shed, {} breaker opens",
            t.offered,
            self.completed,
            t.offered.saturating_sub(self.completed),
            self.shed,
            self.breaker_opens
        ));
        if self.truncated && self.keep {
            text.push_str(&format!(
                "; time series: only the first {} rows of {} kept (to {}); a longer [metrics] interval keeps them all",
                self.max_rows,
                self.config.interval,
                self.config.row_start(self.max_rows)
            ));
        }
        if let Some(first) = &self.first_malformed {
            text.push_str(&format!(
                "; {} malformed records ignored, the first: {first}",
                self.malformed
            ));
        }
        Some(text)
    }

    /// `service.requests`, `completed`, `unfinished` (requests minus
    /// completed, never below 0), `calls`, `shed`,
    /// `breaker_opens`; `calls_per_request` (if any request); the rates
    /// `offered_per_s`, `throughput_per_s`, `goodput_per_s`,
    /// `success_per_s` over the run; `latency_p50_s`, `latency_p99_s` of
    /// the ok requests (if any); `completion_s`, the true time of the last
    /// `done` (if any).
    fn metrics(&self) -> Vec<(String, f64)> {
        let t = &self.total;
        let mut m: Vec<(&str, f64)> = vec![
            ("requests", t.offered as f64),
            ("completed", self.completed as f64),
            (
                "unfinished",
                t.offered.saturating_sub(self.completed) as f64,
            ),
            ("calls", t.calls as f64),
            ("shed", self.shed as f64),
            ("breaker_opens", self.breaker_opens as f64),
        ];
        if t.offered > 0 {
            m.push(("calls_per_request", t.calls as f64 / t.offered as f64));
        }
        let d = self.elapsed();
        for (name, n) in [
            ("offered_per_s", t.offered),
            ("throughput_per_s", t.served),
            ("goodput_per_s", t.good),
            ("success_per_s", t.ok),
        ] {
            if let Some(r) = per_second(n, d) {
                m.push((name, r));
            }
        }
        for (name, q) in [("latency_p50_s", 0.5), ("latency_p99_s", 0.99)] {
            if let Some(ns) = self.latency.quantile(q) {
                m.push((name, ns as f64 / 1e9));
            }
        }
        if let Some(at) = self.last_done {
            m.push(("completion_s", at.as_secs_f64()));
        }
        m.into_iter()
            .map(|(name, v)| (format!("service.{name}"), v))
            .collect()
    }

    fn take_series(&mut self) -> Option<TimeSeries> {
        if !self.keep {
            return None;
        }
        self.finalize(self.last_time);
        Some(TimeSeries {
            interval: self.config.interval,
            rows: std::mem::take(&mut self.rows),
            truncated: self.truncated,
            records: self.records,
        })
    }
}

/// Events for the tests of the service family.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use serde_json::{json, Value};

    /// Two servers n1, n2 (ids 0, 1) and three clients c1..c3 (ids 2..4).
    pub(crate) fn world() -> World {
        let names = ["n1", "n2", "c1", "c2", "c3"];
        World::new(names.iter().map(|n| n.to_string()).collect())
    }

    pub(crate) fn ms(t: u64) -> SimTime {
        SimTime(t * 1_000_000)
    }

    /// Node `node` records `kind {detail}` at `t` ms.
    pub(crate) fn rec(t: u64, node: u32, kind: &str, detail: Value) -> TraceEvent {
        TraceEvent {
            time: ms(t),
            node: Some(NodeId(node)),
            kind: EventKind::Record(Record {
                kind: kind.to_string().into(),
                detail: detail.into(),
            }),
        }
    }

    /// A request of client `node` issued at `t` ms and done `latency` ms
    /// later (`good` if true, else timed out), served by n1 with `queue`.
    pub(crate) fn request(t: u64, node: u32, latency: u64, good: bool) -> Vec<TraceEvent> {
        let done = json!({"id": t, "ok": good, "good": good, "latency_ns": latency * 1_000_000, "calls": 1, "why": if good {"ok"} else {"timeout"}});
        let mut events = vec![
            rec(t, node, REQUEST, json!({"id": t})),
            rec(t, node, CALL, json!({"id": t, "attempt": 1})),
        ];
        if good {
            events.push(rec(t + latency, 0, SERVED, json!({"queue": 0})));
        }
        events.push(rec(t + latency, node, DONE, done));
        events
    }

    /// Client c1's steady traffic: one request every `every` ms from `from`
    /// (inclusive) to `to` (exclusive), each done 10 ms later, good or not.
    pub(crate) fn steady(from: u64, to: u64, every: u64, good: bool) -> Vec<TraceEvent> {
        (from..to)
            .step_by(every as usize)
            .flat_map(|t| request(t, 2, 10, good))
            .collect()
    }

    /// A crash of `node` at `t` ms (a fault, so also `recovers`' first fault).
    pub(crate) fn crash(t: u64, node: u32) -> TraceEvent {
        TraceEvent {
            time: ms(t),
            node: Some(NodeId(node)),
            kind: EventKind::Fault {
                fault: Fault::Crash(NodeId(node)),
                applied: true,
            },
        }
    }

    /// Feeds `events` (sorted by time here) to `check` and finishes at `end`
    /// ms; the violations it reported.
    pub(crate) fn feed(
        check: &mut dyn Checker,
        mut events: Vec<TraceEvent>,
        end: u64,
    ) -> Vec<Violation> {
        events.sort_by_key(|e| e.time);
        let mut world = world();
        let mut found = Vec::new();
        for event in &events {
            found.extend(check.on_event(event, &world));
            world.observe(event);
        }
        found.extend(check.finish(ms(end), &world));
        found
    }

    /// The value of metric `name` (full name).
    pub(crate) fn metric(check: &dyn Checker, name: &str) -> Option<f64> {
        check
            .metrics()
            .into_iter()
            .find(|(m, _)| m == name)
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use serde_json::json;

    fn config(interval_ms: u64) -> MetricsConfig {
        MetricsConfig {
            interval: SimDuration::from_millis(interval_ms),
            ..MetricsConfig::default()
        }
    }

    #[test]
    fn run_metrics_count_every_record() {
        let mut events = Vec::new();
        // c1: 4 good requests; c2: one that took 3 calls and timed out; c3: one never done.
        for t in [0, 250, 500, 750] {
            events.extend(request(t, 2, 100, true));
        }
        events.push(rec(100, 3, REQUEST, json!({"id": 1})));
        for attempt in 1..=3 {
            events.push(rec(
                100 + attempt,
                3,
                CALL,
                json!({"id": 1, "attempt": attempt}),
            ));
        }
        let timeout = json!({"id": 1, "ok": false, "good": false, "latency_ns": 900_000_000u64, "calls": 3, "why": "timeout"});
        events.push(rec(1000, 3, DONE, timeout));
        // An ok answer past its deadline: success, not goodput.
        events.push(rec(1100, 4, REQUEST, json!({"id": 9})));
        events.push(rec(1100, 4, CALL, json!({"id": 9, "attempt": 1})));
        let late = json!({"id": 9, "ok": true, "good": false, "latency_ns": 700_000_000u64, "calls": 1, "why": "ok"});
        events.push(rec(1800, 4, DONE, late));
        events.push(rec(1200, 4, REQUEST, json!({"id": 10})));
        events.push(rec(300, 1, SHED, json!({"why": "queue_full", "queue": 8})));
        events.push(rec(400, 4, BREAKER, json!({"state": "open"})));
        events.push(rec(600, 4, BREAKER, json!({"state": "half_open"})));
        events.push(rec(700, 4, BREAKER, json!({"state": "open"})));
        let mut check = Service::new(config(1000), 2);
        assert!(
            feed(&mut check, events, 2000).is_empty(),
            "it never fails a run"
        );
        let m = |name: &str| metric(&check, &format!("service.{name}"));
        assert_eq!(m("requests"), Some(7.0));
        assert_eq!(m("completed"), Some(6.0));
        assert_eq!(m("unfinished"), Some(1.0));
        assert_eq!(m("calls"), Some(8.0));
        assert_eq!(m("calls_per_request"), Some(8.0 / 7.0));
        assert_eq!(m("shed"), Some(1.0));
        assert_eq!(m("breaker_opens"), Some(2.0));
        assert_eq!(m("offered_per_s"), Some(3.5));
        assert_eq!(m("throughput_per_s"), Some(2.0));
        assert_eq!(m("goodput_per_s"), Some(2.0));
        assert_eq!(m("success_per_s"), Some(2.5));
        assert_eq!(m("completion_s"), Some(1.8));
        // Five ok latencies: 100ms x4 and 700ms; p50 100ms, p99 700ms (within 0.8%).
        let p50 = m("latency_p50_s").unwrap();
        let p99 = m("latency_p99_s").unwrap();
        assert!((p50 - 0.1).abs() < 0.1 * 0.008, "{p50}");
        assert_eq!(p99, 0.7, "the greatest value is exact");
        let note = check.note().unwrap();
        assert!(
            note.starts_with(
                "service: offered 3.5/s, throughput 2.0/s, goodput 2.0/s, success 2.5/s, p50 10"
            ),
            "{note}"
        );
        assert!(
            note.contains("p99 700ms, 1.14 calls/request; 7 requests, 6 done (1 unfinished), 1 shed, 2 breaker opens"),
            "{note}"
        );
    }

    #[test]
    fn the_series_has_a_row_per_interval_with_rates_gauges_and_latencies() {
        let mut events = steady(0, 300, 50, true); // 6 requests, done 10ms later
        events.push(rec(120, 0, "enqueued", json!({"queue": 5}))); // any server record
        events.push(rec(130, 1, SERVED, json!({"queue": 2})));
        events.push(rec(140, 3, "whatever", json!({"queue": 99}))); // a client: no gauge
        events.push(rec(150, 3, BREAKER, json!({"state": "open"})));
        events.push(rec(250, 3, BREAKER, json!({"state": "half_open"})));
        events.push(rec(260, 4, BREAKER, json!({"state": "open"})));
        events.push(rec(270, 4, BREAKER, json!({"state": "closed"})));
        // At the very end: falls in the last row, which is 50ms long.
        events.push(rec(350, 2, REQUEST, json!({"id": 99})));
        let mut check = Service::new(config(100), 2);
        feed(&mut check, events, 350);
        let series = check.take_series().unwrap();
        assert_eq!(series.interval, SimDuration::from_millis(100));
        assert!(!series.truncated);
        let rows = &series.rows;
        assert_eq!(rows.len(), 4);
        // Row 0 is [0, 100]: requests at 0, 50, 100; dones at 10, 60.
        assert_eq!(
            (rows[0].offered, rows[0].calls, rows[0].good, rows[0].ok),
            (3, 3, 2, 2)
        );
        assert_eq!(rows[0].served, 2);
        assert_eq!(rows[0].latency_p50, Some(SimDuration::from_millis(10)));
        // At 200ms: n1's last gauge 0 (enqueued 5 at 120ms, served at 160ms), n2's 2.
        assert_eq!(rows[1].queue, 2, "{rows:?}");
        assert_eq!(rows[1].open_breakers, 1);
        assert_eq!(
            rows[2].open_breakers, 1,
            "half-open counts, c3's closed again"
        );
        assert_eq!(rows[3].start, ms(300));
        assert_eq!(rows[3].length, SimDuration::from_millis(50));
        assert_eq!(rows[3].offered, 1);
        assert_eq!(rows[3].latency_p99, None);
        assert_eq!(series.records, 6 * 4 + 1 + 4 + 1);
    }

    #[test]
    fn rows_past_the_cap_are_not_kept_and_the_note_says_so() {
        let mut check = Service::with_max_rows(config(100), 2, 3);
        feed(&mut check, steady(0, 1000, 100, true), 1000);
        let note = check.note().unwrap();
        assert!(
            note.contains("only the first 3 rows of 100ms kept (to 0.300s)"),
            "{note}"
        );
        let series = check.take_series().unwrap();
        assert_eq!(series.rows.len(), 3);
        assert!(series.truncated);
        // The run metrics still count the whole run.
        assert_eq!(metric(&check, "service.requests"), Some(10.0));

        // Without a series: nothing kept, nothing to say about it.
        let mut check = Service::without_series(config(100), 2);
        feed(&mut check, steady(0, 1000, 100, true), 1000);
        assert!(!check.note().unwrap().contains("rows"));
        assert_eq!(check.take_series(), None);
        assert_eq!(metric(&check, "service.requests"), Some(10.0));
    }

    #[test]
    fn no_records_malformed_records_and_resets_are_told() {
        let mut check = Service::new(config(1000), 2);
        feed(
            &mut check,
            vec![rec(5, 0, "leader", json!({"term": 1}))],
            1000,
        );
        assert!(check.note().unwrap().contains("no service records"));
        assert_eq!(check.take_series().unwrap().records, 0);
        assert_eq!(metric(&check, "service.latency_p50_s"), None);

        let mut check = Service::new(config(1000), 2);
        let events = vec![
            rec(1, 2, DONE, json!({"id": 1, "ok": true})),
            rec(2, 2, BREAKER, json!({"state": "ajar"})),
            rec(3, 0, SERVED, json!({"queue": 4})),
            rec(4, 3, BREAKER, json!({"state": "open"})),
            crash(500, 0),
            crash(600, 3),
        ];
        feed(&mut check, events, 1000);
        let note = check.note().unwrap();
        assert!(
            note.contains("2 malformed records ignored, the first: done {\"id\":1,\"ok\":true}: expected ok and good"),
            "{note}"
        );
        let row = &check.take_series().unwrap().rows[0];
        assert_eq!(
            (row.queue, row.open_breakers),
            (0, 0),
            "a crash loses the queue and breaker"
        );
    }

    #[test]
    fn huge_values_saturate_instead_of_overflowing() {
        let mut check = Service::new(config(1000), 2);
        let huge = json!({"id": 1, "ok": true, "good": true, "latency_ns": u64::MAX, "calls": 1, "why": "ok"});
        let events = vec![
            rec(1, 0, SERVED, json!({"queue": u64::MAX})),
            rec(2, 1, SERVED, json!({"queue": u64::MAX})),
            rec(3, 2, DONE, huge),
        ];
        feed(&mut check, events, 1000);
        assert!(
            check.note().unwrap().contains("p99 18400000000s"),
            "{:?}",
            check.note()
        );
        assert_eq!(check.take_series().unwrap().rows[0].queue, u64::MAX);
        assert_eq!(short(SimDuration::from_nanos(1_234_567)), "1.23ms");
    }

    #[test]
    fn the_detail_builders_write_what_the_checks_read() {
        let read = |kind: &str, detail: serde_json::Value| {
            parse(&Record {
                kind: kind.to_string().into(),
                detail: detail.into(),
            })
        };
        assert_eq!(
            read(REQUEST, detail::request(7)),
            Some(Ok(ServiceRecord::Request))
        );
        assert_eq!(
            read(CALL, detail::call(7, 2)),
            Some(Ok(ServiceRecord::Call))
        );
        let done = ServiceRecord::Done {
            ok: true,
            good: false,
            latency_ns: 5,
        };
        assert_eq!(
            read(DONE, detail::done(7, true, false, 5, 2, "ok")),
            Some(Ok(done))
        );
        assert_eq!(
            read(SERVED, detail::served(3)),
            Some(Ok(ServiceRecord::Served))
        );
        assert_eq!(
            read(SHED, detail::shed("deadline", 3)),
            Some(Ok(ServiceRecord::Shed))
        );
        let half = ServiceRecord::Breaker(BreakerState::HalfOpen);
        assert_eq!(read(BREAKER, detail::breaker("half_open")), Some(Ok(half)));
        assert_eq!(read("leader", json!({})), None);
    }

    #[test]
    fn the_default_window_is_a_whole_number_of_intervals() {
        let w = |ms| MetricsConfig::default_window(SimDuration::from_millis(ms));
        assert_eq!(w(100), SimDuration::from_secs(1));
        assert_eq!(w(300), SimDuration::from_millis(1200));
        assert_eq!(w(5000), SimDuration::from_secs(5));
        // Built without validation, a window is judged in whole intervals.
        let odd = MetricsConfig {
            interval: SimDuration::from_millis(300),
            ..MetricsConfig::default()
        };
        assert_eq!(
            (odd.window_rows(), odd.window_len()),
            (4, SimDuration::from_millis(1200))
        );
        let c = config(100);
        assert_eq!(c.row_of(SimTime::ZERO), 0);
        assert_eq!(c.row_of(ms(100)), 0);
        assert_eq!(c.row_of(SimTime(100_000_001)), 1);
    }
}
