//! A client (`c1`..): a closed loop of reads with a deadline.
//!
//! ```text
//!  THINK (uniform in think) -> request: Get(key ~ Zipf) to the cache
//!     ^                                   |
//!     +--- done(ok | shed | error) <------+ answer
//!     +--- done(timeout) <----------------+ deadline (the workload's timeout)
//! ```
//!
//! One request is open at a time; an answer to an older request (it timed
//! out) is ignored. Latency is measured on the client's own clock.

use super::{kinds, CacheMsg, Outcome, Popularity, CACHE};
use crate::clock::LocalTime;
use crate::models::workload::Workload;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::json;
use std::sync::Arc;

/// Timer tag: time to issue the next request.
const THINK: u64 = 0;
/// Timer tag: the open request's deadline.
const DEADLINE: u64 = 1;

/// The request a client waits for.
#[derive(Clone, Copy, Debug)]
struct Open {
    id: u64,
    sent: LocalTime,
    deadline: TimerId,
}

/// A client node: reads keys from the cache in a closed loop.
#[derive(Debug)]
pub struct CacheClient {
    workload: Workload,
    popularity: Arc<Popularity>,
    next_id: u64,
    open: Option<Open>,
}

impl CacheClient {
    /// A client of `workload` reading keys with `popularity`.
    pub fn new(workload: Workload, popularity: Arc<Popularity>) -> CacheClient {
        CacheClient {
            workload,
            popularity,
            next_id: 1,
            open: None,
        }
    }

    fn think(&mut self, ctx: &mut Ctx<'_, CacheMsg>) {
        let (min, max) = (self.workload.think_min, self.workload.think_max);
        let pause = ctx.rng().between(min.as_nanos(), max.as_nanos());
        ctx.set_timer(SimDuration(pause), THINK);
    }

    fn issue(&mut self, ctx: &mut Ctx<'_, CacheMsg>) {
        debug_assert!(self.open.is_none(), "a second request while one is open");
        let id = self.next_id;
        self.next_id += 1;
        let key = self.popularity.draw(ctx.rng());
        ctx.record(kinds::REQUEST, json!({ "id": id }));
        ctx.record(kinds::CALL, json!({ "id": id, "attempt": 1 }));
        ctx.send(CACHE, CacheMsg::Get { id, key });
        let deadline = ctx.set_timer(self.workload.timeout, DEADLINE);
        let sent = ctx.now_local();
        self.open = Some(Open { id, sent, deadline });
    }

    /// Ends the open request with `why` and thinks before the next one.
    fn done(&mut self, ctx: &mut Ctx<'_, CacheMsg>, why: &str) {
        let open = self.open.take().expect("a request is open");
        let latency = ctx.now_local().saturating_since(open.sent);
        let ok = why == "ok";
        let good = ok && latency <= self.workload.timeout;
        let detail = json!({
            "id": open.id, "ok": ok, "good": good, "latency_ns": latency.as_nanos(),
            "calls": 1, "why": why,
        });
        ctx.record(kinds::DONE, detail);
        self.think(ctx);
    }

    fn on_answer(&mut self, ctx: &mut Ctx<'_, CacheMsg>, id: u64, outcome: Outcome) {
        let Some(open) = self.open.filter(|o| o.id == id) else {
            return;
        };
        ctx.cancel_timer(open.deadline);
        let why = match outcome {
            Outcome::Value => "ok",
            Outcome::Shed => "shed",
            Outcome::Error => "error",
        };
        self.done(ctx, why);
    }
}

impl Node<CacheMsg> for CacheClient {
    fn on_start(&mut self, ctx: &mut Ctx<'_, CacheMsg>) {
        self.think(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, CacheMsg>, _from: NodeId, msg: CacheMsg) {
        if let CacheMsg::Answer { id, outcome } = msg {
            self.on_answer(ctx, id, outcome);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CacheMsg>, timer: TimerId) {
        match timer.tag() {
            THINK if self.open.is_none() => self.issue(ctx),
            DEADLINE if self.open.is_some_and(|o| o.deadline == timer) => self.done(ctx, "timeout"),
            _ => {}
        }
    }

    fn debug_state(&self) -> Option<String> {
        Some(match self.open {
            Some(open) => format!("waiting for request {}", open.id),
            None => format!("thinking ({} requests so far)", self.next_id - 1),
        })
    }
}
