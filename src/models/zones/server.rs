//! A server: `workers` requests at once, a bounded queue, shedding beyond
//! it; standby until launched, then in service after the provisioning
//! delay.
//!
//! ```text
//!   Standby --Launch--> Provisioning --provisioning_delay--> Active
//! ```

use super::{Outcome, ServerState, ZonesMsg, ZonesParams, BALANCER};
use crate::check::service;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};

/// The timer tag of a request's work; the provisioning delay has its own.
const WORK: u64 = 1;
const PROVISIONED: u64 = 2;

/// A call a server holds: who asked, which request, which attempt.
#[derive(Clone, Copy, Debug)]
struct Call {
    client: NodeId,
    id: u64,
    attempt: u32,
}

/// One server node.
#[derive(Debug)]
pub struct Server {
    params: ZonesParams,
    state: ServerState,
    /// Workers (the `capacity` knob).
    workers: u32,
    /// Calls being worked on, by their timer's sequence number.
    working: BTreeMap<u64, Call>,
    waiting: VecDeque<Call>,
}

impl Server {
    /// A server in service from the start (`active`) or standby.
    pub fn new(params: ZonesParams, active: bool) -> Server {
        Server {
            workers: params.workers,
            params,
            state: if active {
                ServerState::Active
            } else {
                ServerState::Standby
            },
            working: BTreeMap::new(),
            waiting: VecDeque::new(),
        }
    }

    fn queue(&self) -> u64 {
        self.waiting.len() as u64
    }

    /// Starts waiting calls while workers are free.
    fn start_work(&mut self, ctx: &mut Ctx<'_, ZonesMsg>) {
        while self.working.len() < self.workers as usize {
            let Some(call) = self.waiting.pop_front() else {
                return;
            };
            // Uniform from half to one and a half times the mean.
            let mean = self.params.service_time.as_nanos();
            let took = ctx.rng().between(mean / 2, mean / 2 + mean);
            let timer = ctx.set_timer(SimDuration(took), WORK);
            self.working.insert(timer.seq(), call);
        }
    }

    fn shed(&mut self, ctx: &mut Ctx<'_, ZonesMsg>, call: Call, why: &str) {
        ctx.record(service::SHED, service::detail::shed(why, self.queue()));
        let reply = ZonesMsg::Reply {
            id: call.id,
            attempt: call.attempt,
            outcome: Outcome::Shed,
        };
        ctx.send(call.client, reply);
    }

    fn on_call(&mut self, ctx: &mut Ctx<'_, ZonesMsg>, call: Call) {
        if self.state != ServerState::Active {
            return self.shed(ctx, call, "overloaded"); // not in service
        }
        let busy = self.working.len() >= self.workers as usize;
        if busy && self.waiting.len() >= self.params.queue as usize {
            return self.shed(ctx, call, "queue_full");
        }
        self.waiting.push_back(call);
        self.start_work(ctx);
    }

    fn on_done(&mut self, ctx: &mut Ctx<'_, ZonesMsg>, timer: TimerId) {
        let call = self
            .working
            .remove(&timer.seq())
            .expect("a work timer is for a call being worked on");
        let reply = ZonesMsg::Reply {
            id: call.id,
            attempt: call.attempt,
            outcome: Outcome::Ok,
        };
        ctx.send(call.client, reply);
        self.start_work(ctx);
        ctx.record(service::SERVED, service::detail::served(self.queue()));
    }
}

impl Node<ZonesMsg> for Server {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, ZonesMsg>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, ZonesMsg>, from: NodeId, msg: ZonesMsg) {
        match msg {
            ZonesMsg::Forward {
                client,
                id,
                attempt,
            } => self.on_call(
                ctx,
                Call {
                    client,
                    id,
                    attempt,
                },
            ),
            ZonesMsg::Health { seq } => {
                debug_assert_eq!(from, BALANCER, "only the balancer checks health");
                ctx.send(
                    from,
                    ZonesMsg::HealthOk {
                        seq,
                        state: self.state,
                    },
                );
            }
            ZonesMsg::Launch if self.state == ServerState::Standby => {
                self.state = ServerState::Provisioning;
                ctx.record("provisioning", json!({}));
                ctx.set_timer(self.params.provisioning_delay, PROVISIONED);
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, ZonesMsg>, timer: TimerId) {
        if timer.tag() == PROVISIONED {
            debug_assert_eq!(self.state, ServerState::Provisioning);
            self.state = ServerState::Active;
            ctx.record("in_service", json!({}));
        } else {
            self.on_done(ctx, timer);
        }
    }

    fn role(&self) -> Option<&'static str> {
        Some(self.state.role())
    }

    fn debug_state(&self) -> Option<String> {
        use crate::models::view;
        view::state(
            "Server",
            &[
                ("state", &self.state),
                ("workers", &self.workers),
                ("working", &view::first(self.working.values())),
                ("waiting_len", &self.waiting.len()),
                ("waiting", &view::first(&self.waiting)),
            ],
        )
    }

    /// `capacity`: the number of workers (calls already being worked on
    /// finish; waiting ones start as workers free up).
    fn on_knob(&mut self, ctx: &mut Ctx<'_, ZonesMsg>, knob: &str, value: f64) -> Option<f64> {
        if knob != "capacity" {
            return None;
        }
        let previous = f64::from(self.workers);
        self.workers = value.round() as u32;
        self.start_work(ctx);
        Some(previous)
    }
}
