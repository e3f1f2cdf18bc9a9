//! A client: open- or closed-loop requests, each tried up to
//! `max_attempts` times with a timeout, a backoff, a retry budget and a
//! circuit breaker.

use super::{kinds, Arrivals, ClientParams, ServiceMsg};
use crate::clock::LocalTime;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::retry::{BreakerState, CircuitBreaker, RetryBudget};
use crate::time::SimDuration;
use serde_json::json;
use std::collections::BTreeMap;

/// Timer kinds, in a tag's low two bits; the request id is above them.
const ARRIVAL: u64 = 0;
const ATTEMPT: u64 = 1;
const RETRY: u64 = 2;

/// The storage key of the client's incarnation (1 for its first start).
const INCARNATION: &str = "incarnation";

/// Request ids of incarnation `k` start after `(k - 1) * ID_SPAN`, so they
/// stay unique within the client across crashes and restarts.
pub(crate) const ID_SPAN: u64 = 1_000_000_000;

/// The most requests per second the `rate` knob may set, per client.
pub(crate) const MAX_RATE: f64 = 100_000.0;

fn tag(id: u64, kind: u64) -> u64 {
    debug_assert!(id < 1 << 62, "request id {id} overflows a timer tag");
    (id << 2) | kind
}

/// Why an attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// No reply within the attempt's wait.
    Timeout,
    /// The server rejected it.
    Shed,
}

/// A request in progress.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// When it was issued (local clock).
    start: LocalTime,
    /// Attempts sent so far.
    calls: u32,
    /// The pending timer: the attempt's timeout, or the backoff's end.
    timer: Option<TimerId>,
    /// True while an attempt waits for its reply (false: backing off).
    waiting: bool,
    /// The last backoff wait (decorrelated jitter grows from it).
    last_wait: SimDuration,
}

/// A client of the service (see the module essay).
#[derive(Debug)]
pub struct Client {
    params: ClientParams,
    /// Open loop: requests per second now (the `rate` knob).
    rate: f64,
    /// Open loop: the timer of the next arrival, if one is due.
    next_arrival: Option<TimerId>,
    next_id: u64,
    open: BTreeMap<u64, Pending>,
    budget: Option<RetryBudget>,
    breaker: Option<CircuitBreaker>,
    /// The servers, node ids `0..servers`.
    servers: u32,
}

impl Client {
    /// A client of `servers` servers (node ids `0..servers`).
    pub fn new(params: ClientParams, servers: u32) -> Client {
        debug_assert!(servers > 0, "a client needs a server");
        let rate = match params.arrivals {
            Arrivals::Open { rate } => rate,
            Arrivals::Closed { .. } => 0.0,
        };
        Client {
            rate,
            next_arrival: None,
            next_id: 0,
            open: BTreeMap::new(),
            budget: params.budget.map(RetryBudget::new),
            breaker: params.breaker.map(|b| {
                let breaker = CircuitBreaker::new(b);
                if params.bugs.has("cooldown_reset_on_reject") {
                    breaker.with_cooldown_reset_on_reject()
                } else {
                    breaker
                }
            }),
            servers,
            params,
        }
    }

    /// Requests in progress.
    pub fn outstanding(&self) -> usize {
        self.open.len()
    }

    /// The breaker's state, if the client has one.
    pub fn breaker_state(&self) -> Option<BreakerState> {
        self.breaker.as_ref().map(CircuitBreaker::state)
    }

    /// Tokens left in the retry budget, if the client has one.
    pub fn budget_tokens(&self) -> Option<u32> {
        self.budget.as_ref().map(RetryBudget::tokens)
    }

    /// Schedules the next request: a Poisson arrival (open loop) or the
    /// end of a think time (closed loop).
    fn schedule_next(&mut self, ctx: &mut Ctx<'_, ServiceMsg>) {
        let gap = match self.params.arrivals {
            Arrivals::Open { .. } if self.rate <= 0.0 => return,
            Arrivals::Open { .. } => {
                let seconds = ctx.rng().standard_exponential() / self.rate;
                SimDuration::from_nanos(((seconds * 1e9) as u64).max(1))
            }
            Arrivals::Closed {
                think_min,
                think_max,
            } => SimDuration::from_nanos(
                ctx.rng()
                    .between(think_min.as_nanos(), think_max.as_nanos()),
            ),
        };
        self.next_arrival = Some(ctx.set_timer(gap, tag(0, ARRIVAL)));
    }

    fn on_arrival(&mut self, ctx: &mut Ctx<'_, ServiceMsg>) {
        self.next_arrival = None;
        let open_loop = matches!(self.params.arrivals, Arrivals::Open { .. });
        if open_loop {
            self.schedule_next(ctx);
        }
        self.next_id += 1;
        let id = self.next_id;
        ctx.record(kinds::REQUEST, json!({ "id": id }));
        if self.open.len() >= self.params.max_outstanding as usize {
            Self::record_done(ctx, id, false, false, SimDuration::ZERO, 0, "gave_up");
            return;
        }
        let pending = Pending {
            start: ctx.now_local(),
            calls: 0,
            timer: None,
            waiting: false,
            last_wait: SimDuration::ZERO,
        };
        self.open.insert(id, pending);
        self.attempt(ctx, id);
    }

    /// Sends the next attempt of `id`, if the deadline and the breaker
    /// allow; else ends the request.
    fn attempt(&mut self, ctx: &mut Ctx<'_, ServiceMsg>, id: u64) {
        let now = ctx.now_local();
        let p = *self.open.get(&id).expect("attempt of an open request");
        let elapsed = now.saturating_since(p.start);
        let left = match self.params.deadline {
            Some(deadline) if elapsed >= deadline => return self.finish(ctx, id, false, "timeout"),
            Some(deadline) => SimDuration::from_nanos(deadline.as_nanos() - elapsed.as_nanos()),
            None => SimDuration::from_nanos(u64::MAX),
        };
        if let Some(breaker) = &mut self.breaker {
            let (allowed, changed) = breaker.allow(now);
            if let Some(state) = changed {
                ctx.record(kinds::BREAKER, json!({ "state": state.name() }));
            }
            if !allowed {
                return self.finish(ctx, id, false, "breaker_open");
            }
        }
        let wait = self.params.timeout.min(left);
        let attempt = p.calls + 1;
        let server = NodeId(ctx.rng().below(u64::from(self.servers)) as u32);
        ctx.record(kinds::CALL, json!({ "id": id, "attempt": attempt }));
        ctx.send(
            server,
            ServiceMsg::Call {
                id,
                attempt,
                budget_ns: wait.as_nanos(),
            },
        );
        let timer = ctx.set_timer(wait, tag(id, ATTEMPT));
        let p = self.open.get_mut(&id).expect("still open");
        p.calls = attempt;
        p.timer = Some(timer);
        p.waiting = true;
    }

    fn on_reply(&mut self, ctx: &mut Ctx<'_, ServiceMsg>, id: u64, attempt: u32, ok: bool) {
        let Some(p) = self.open.get(&id).copied() else {
            return; // a late reply to a request that already ended
        };
        if !p.waiting || p.calls != attempt {
            return; // a late reply to an attempt that already timed out
        }
        if let Some(timer) = p.timer {
            ctx.cancel_timer(timer);
        }
        self.breaker_result(ctx, ok);
        if ok {
            if let Some(budget) = &mut self.budget {
                budget.on_success();
            }
            self.finish(ctx, id, true, "ok");
        } else {
            self.failed(ctx, id, Failure::Shed);
        }
    }

    fn on_attempt_timeout(&mut self, ctx: &mut Ctx<'_, ServiceMsg>, id: u64, timer: TimerId) {
        let Some(p) = self.open.get(&id) else { return };
        if !p.waiting || p.timer != Some(timer) {
            return;
        }
        self.breaker_result(ctx, false);
        self.failed(ctx, id, Failure::Timeout);
    }

    fn on_backoff_end(&mut self, ctx: &mut Ctx<'_, ServiceMsg>, id: u64, timer: TimerId) {
        match self.open.get(&id) {
            Some(p) if !p.waiting && p.timer == Some(timer) => self.attempt(ctx, id),
            _ => {}
        }
    }

    fn breaker_result(&mut self, ctx: &mut Ctx<'_, ServiceMsg>, ok: bool) {
        let now = ctx.now_local();
        if let Some(state) = self.breaker.as_mut().and_then(|b| b.on_result(now, ok)) {
            ctx.record(kinds::BREAKER, json!({ "state": state.name() }));
        }
    }

    /// An attempt of `id` failed: retry after the backoff, or end it.
    fn failed(&mut self, ctx: &mut Ctx<'_, ServiceMsg>, id: u64, failure: Failure) {
        let why = match failure {
            Failure::Timeout => "timeout",
            Failure::Shed => "shed",
        };
        let p = *self
            .open
            .get(&id)
            .expect("failed attempt of an open request");
        if p.calls >= self.params.max_attempts {
            return self.finish(ctx, id, false, why);
        }
        let timed_out = failure == Failure::Timeout;
        if let Some(budget) = &mut self.budget {
            // The rule: a retry is let through only if the budget pays for
            // it (its tokens are taken). The bug asks whether it could pay
            // and takes nothing, so the bucket never drains.
            let paid = if self.params.bugs.has("budget_not_charged") {
                budget.can_pay(timed_out)
            } else {
                budget.try_acquire(timed_out)
            };
            if !paid {
                return self.finish(ctx, id, false, "budget");
            }
        }
        let wait = self.params.backoff.delay(p.calls, p.last_wait, ctx.rng());
        let p = self.open.get_mut(&id).expect("still open");
        p.last_wait = wait;
        p.waiting = false;
        if wait == SimDuration::ZERO {
            self.attempt(ctx, id);
        } else {
            p.timer = Some(ctx.set_timer(wait, tag(id, RETRY)));
        }
    }

    /// Ends request `id`; a closed-loop client thinks, then starts the next.
    fn finish(&mut self, ctx: &mut Ctx<'_, ServiceMsg>, id: u64, ok: bool, why: &str) {
        let p = self.open.remove(&id).expect("finish of an open request");
        let latency = ctx.now_local().saturating_since(p.start);
        let good = ok && self.params.deadline.is_none_or(|d| latency <= d);
        Self::record_done(ctx, id, ok, good, latency, p.calls, why);
        if matches!(self.params.arrivals, Arrivals::Closed { .. }) {
            self.schedule_next(ctx);
        }
    }

    fn record_done(
        ctx: &mut Ctx<'_, ServiceMsg>,
        id: u64,
        ok: bool,
        good: bool,
        latency: SimDuration,
        calls: u32,
        why: &str,
    ) {
        debug_assert!(!good || ok, "good implies ok");
        ctx.record(
            kinds::DONE,
            json!({
                "id": id,
                "ok": ok,
                "good": good,
                "latency_ns": latency.as_nanos(),
                "calls": calls,
                "why": why,
            }),
        );
    }
}

impl Node<ServiceMsg> for Client {
    fn on_start(&mut self, ctx: &mut Ctx<'_, ServiceMsg>) {
        let before: u64 = ctx.storage().get_json(INCARNATION).unwrap_or(0);
        ctx.storage().put_json(INCARNATION, &(before + 1));
        ctx.storage().sync();
        self.next_id = before.saturating_mul(ID_SPAN);
        self.schedule_next(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, ServiceMsg>, _from: NodeId, msg: ServiceMsg) {
        match msg {
            ServiceMsg::Reply { id, attempt, ok } => self.on_reply(ctx, id, attempt, ok),
            ServiceMsg::Call { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, ServiceMsg>, timer: TimerId) {
        let id = timer.tag() >> 2;
        match timer.tag() & 3 {
            ARRIVAL => {
                if self.next_arrival == Some(timer) {
                    self.on_arrival(ctx);
                }
            }
            ATTEMPT => self.on_attempt_timeout(ctx, id, timer),
            RETRY => self.on_backoff_end(ctx, id, timer),
            other => debug_assert!(false, "unknown timer kind {other}"),
        }
    }

    fn on_knob(&mut self, ctx: &mut Ctx<'_, ServiceMsg>, knob: &str, value: f64) -> Option<f64> {
        if knob != "rate" || !matches!(self.params.arrivals, Arrivals::Open { .. }) {
            return None;
        }
        let previous = self.rate;
        self.rate = value.clamp(0.0, MAX_RATE);
        if let Some(timer) = self.next_arrival.take() {
            ctx.cancel_timer(timer);
        }
        self.schedule_next(ctx);
        Some(previous)
    }

    fn debug_state(&self) -> Option<String> {
        use crate::models::view;
        view::state(
            "Client",
            &[
                ("rate", &self.rate),
                ("next_arrival", &self.next_arrival),
                ("next_id", &self.next_id),
                ("open", &view::first(&self.open)),
                ("budget_tokens", &self.budget.as_ref().map(|b| b.tokens())),
                ("breaker", &self.breaker.as_ref().map(|b| b.state().name())),
            ],
        )
    }
}
