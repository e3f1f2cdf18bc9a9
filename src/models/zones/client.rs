//! A client: an open loop of requests at `rate` per second (Poisson), one
//! call each through the balancer, judged good if it succeeds within the
//! deadline. A crash loses its open requests (they never get a `done`); a
//! restarted client numbers its requests anew above the old ones.

use super::{Outcome, ZonesMsg, ZonesParams, BALANCER};
use crate::check::service;
use crate::clock::LocalTime;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use std::collections::BTreeMap;

/// The timer tag of the next arrival; a call's timeout has tag `id + 1`.
const ARRIVAL: u64 = 0;
/// The client's starts, on its disk: incarnation `k` numbers its requests
/// from `(k - 1) << 32`, so ids stay unique across restarts.
const INCARNATION_KEY: &str = "incarnation";

/// One client node.
#[derive(Debug)]
pub struct Client {
    params: ZonesParams,
    /// Requests per second (the `rate` knob).
    rate: f64,
    next_id: u64,
    arrival: Option<TimerId>,
    /// Requests waiting for a reply: when each was issued, its timeout.
    open: BTreeMap<u64, (LocalTime, TimerId)>,
}

impl Client {
    /// A client with the model's parameters.
    pub fn new(params: ZonesParams) -> Client {
        Client {
            rate: params.rate,
            params,
            next_id: 0,
            arrival: None,
            open: BTreeMap::new(),
        }
    }

    /// Schedules the next arrival (none at rate 0).
    fn schedule_arrival(&mut self, ctx: &mut Ctx<'_, ZonesMsg>) {
        if let Some(timer) = self.arrival.take() {
            ctx.cancel_timer(timer);
        }
        if self.rate <= 0.0 {
            return;
        }
        let mean_ns = 1e9 / self.rate;
        let gap = (mean_ns * ctx.rng().standard_exponential()).min(u64::MAX as f64 / 4.0);
        self.arrival = Some(ctx.set_timer(SimDuration(gap as u64), ARRIVAL));
    }

    fn issue(&mut self, ctx: &mut Ctx<'_, ZonesMsg>) {
        let id = self.next_id;
        self.next_id += 1;
        ctx.record(service::REQUEST, service::detail::request(id));
        ctx.record(service::CALL, service::detail::call(id, 1));
        ctx.send(BALANCER, ZonesMsg::Request { id, attempt: 1 });
        let timer = ctx.set_timer(self.params.timeout, id + 1);
        self.open.insert(id, (ctx.now_local(), timer));
    }

    /// Ends request `id` (if still open) and records `done`.
    fn finish(&mut self, ctx: &mut Ctx<'_, ZonesMsg>, id: u64, why: &str) {
        let Some((issued, timer)) = self.open.remove(&id) else {
            return; // already timed out
        };
        if why != "timeout" {
            ctx.cancel_timer(timer);
        }
        let latency = ctx.now_local().saturating_since(issued);
        let ok = why == "ok";
        let good = ok && latency <= self.params.deadline;
        let detail = service::detail::done(id, ok, good, latency.as_nanos(), 1, why);
        ctx.record(service::DONE, detail);
    }
}

impl Node<ZonesMsg> for Client {
    fn on_start(&mut self, ctx: &mut Ctx<'_, ZonesMsg>) {
        let incarnation = ctx.storage().get_json::<u64>(INCARNATION_KEY).unwrap_or(0);
        ctx.storage().put_json(INCARNATION_KEY, &(incarnation + 1));
        ctx.storage().sync();
        self.next_id = incarnation << 32;
        self.schedule_arrival(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, ZonesMsg>, _from: NodeId, msg: ZonesMsg) {
        if let ZonesMsg::Reply { id, outcome, .. } = msg {
            let why = match outcome {
                Outcome::Ok => "ok",
                Outcome::Shed => "shed",
                Outcome::NoBackend => "error",
            };
            self.finish(ctx, id, why);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, ZonesMsg>, timer: TimerId) {
        if timer.tag() == ARRIVAL {
            self.arrival = None;
            self.issue(ctx);
            self.schedule_arrival(ctx);
        } else {
            self.finish(ctx, timer.tag() - 1, "timeout");
        }
    }

    fn debug_state(&self) -> Option<String> {
        use crate::models::view;
        view::state(
            "Client",
            &[
                ("rate", &self.rate),
                ("next_id", &self.next_id),
                ("arrival", &self.arrival),
                ("open", &view::first(self.open.keys())),
            ],
        )
    }

    /// `rate`: requests per second from now on (the next arrival is drawn
    /// again, which an exponential gap allows).
    fn on_knob(&mut self, ctx: &mut Ctx<'_, ZonesMsg>, knob: &str, value: f64) -> Option<f64> {
        if knob != "rate" {
            return None;
        }
        let previous = std::mem::replace(&mut self.rate, value);
        self.schedule_arrival(ctx);
        Some(previous)
    }
}
