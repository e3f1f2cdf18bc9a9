//! A server: `workers` requests at a time, a bounded queue, shedding.

use super::{kinds, Order, ServerParams, ServiceMsg};
use crate::clock::LocalTime;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};

/// The tag of a worker's timer: its request's work is done.
pub(crate) const WORK: u64 = 1;

/// The most workers the `capacity` knob may set.
pub(crate) const MAX_WORKERS: u32 = 100_000;

/// A request inside the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Job {
    client: NodeId,
    id: u64,
    attempt: u32,
    /// When its client stops waiting, on this server's clock.
    expires: LocalTime,
}

/// A server with workers and a queue (see the module essay).
#[derive(Debug)]
pub struct Server {
    params: ServerParams,
    /// Workers now (the `capacity` knob).
    workers: u32,
    /// Service-time multiplier now (the `slowdown` knob).
    slowdown: f64,
    /// Requests being worked on, by their worker's timer.
    busy: BTreeMap<TimerId, Job>,
    /// Requests waiting, oldest at the front.
    queue: VecDeque<Job>,
}

impl Server {
    /// A server with no request in it.
    pub fn new(params: ServerParams) -> Server {
        Server {
            workers: params.workers,
            slowdown: 1.0,
            busy: BTreeMap::new(),
            queue: VecDeque::new(),
            params,
        }
    }

    /// Requests waiting now.
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// Requests being worked on now.
    pub fn busy(&self) -> usize {
        self.busy.len()
    }

    fn on_call(
        &mut self,
        ctx: &mut Ctx<'_, ServiceMsg>,
        client: NodeId,
        id: u64,
        attempt: u32,
        budget_ns: u64,
    ) {
        let job = Job {
            client,
            id,
            attempt,
            expires: ctx.now_local() + SimDuration::from_nanos(budget_ns),
        };
        let inside = self.busy.len() + self.queue.len();
        if self
            .params
            .concurrency_limit
            .is_some_and(|limit| inside >= limit as usize)
        {
            self.reject(ctx, job, "concurrency");
        } else if self.busy.len() < self.workers as usize {
            self.start(ctx, job);
        } else if self.queue.len() < self.params.queue as usize {
            self.queue.push_back(job);
        } else if self.params.order == Order::Lifo && !self.queue.is_empty() {
            let oldest = self.queue.pop_front().expect("not empty");
            self.queue.push_back(job);
            self.reject(ctx, oldest, "queue_full");
        } else {
            self.reject(ctx, job, "queue_full");
        }
        debug_assert!(self.queue.len() <= self.params.queue as usize);
    }

    /// Rejects `job` without its work: an error reply and a `shed` record.
    fn reject(&mut self, ctx: &mut Ctx<'_, ServiceMsg>, job: Job, why: &str) {
        ctx.record(
            kinds::SHED,
            json!({ "why": why, "queue": self.queue.len() }),
        );
        ctx.send(
            job.client,
            ServiceMsg::Reply {
                id: job.id,
                attempt: job.attempt,
                ok: false,
            },
        );
    }

    /// A worker takes `job`.
    fn start(&mut self, ctx: &mut Ctx<'_, ServiceMsg>, job: Job) {
        debug_assert!(self.busy.len() < self.workers as usize, "no free worker");
        let base = self.params.service_time.sample(ctx.rng());
        let work = SimDuration::from_nanos((base.as_nanos() as f64 * self.slowdown) as u64);
        let timer = ctx.set_timer(work, WORK);
        self.busy.insert(timer, job);
    }

    /// The mean service time now (with the slowdown).
    fn mean_work(&self) -> SimDuration {
        let mean = self.params.service_time.mean_estimate().as_nanos() as f64;
        SimDuration::from_nanos((mean * self.slowdown) as u64)
    }

    /// Free workers take waiting requests; under `shed_expired`, one whose
    /// client will have stopped waiting before a mean service time is over
    /// is dropped instead.
    fn fill(&mut self, ctx: &mut Ctx<'_, ServiceMsg>) {
        while self.busy.len() < self.workers as usize {
            let next = match self.params.order {
                Order::Fifo => self.queue.pop_front(),
                Order::Lifo => self.queue.pop_back(),
            };
            let Some(job) = next else { return };
            if self.params.shed_expired && job.expires <= ctx.now_local() + self.mean_work() {
                ctx.record(
                    kinds::SHED,
                    json!({ "why": "deadline", "queue": self.queue.len() }),
                );
                continue;
            }
            self.start(ctx, job);
        }
    }

    fn on_work_done(&mut self, ctx: &mut Ctx<'_, ServiceMsg>, timer: TimerId) {
        let Some(job) = self.busy.remove(&timer) else {
            debug_assert!(false, "a work timer without its job");
            return;
        };
        ctx.send(
            job.client,
            ServiceMsg::Reply {
                id: job.id,
                attempt: job.attempt,
                ok: true,
            },
        );
        ctx.record(kinds::SERVED, json!({ "queue": self.queue.len() }));
        self.fill(ctx);
    }
}

impl Node<ServiceMsg> for Server {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, ServiceMsg>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, ServiceMsg>, from: NodeId, msg: ServiceMsg) {
        match msg {
            ServiceMsg::Call {
                id,
                attempt,
                budget_ns,
            } => self.on_call(ctx, from, id, attempt, budget_ns),
            ServiceMsg::Reply { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, ServiceMsg>, timer: TimerId) {
        debug_assert_eq!(timer.tag(), WORK, "a server has only work timers");
        self.on_work_done(ctx, timer);
    }

    fn on_knob(&mut self, ctx: &mut Ctx<'_, ServiceMsg>, knob: &str, value: f64) -> Option<f64> {
        match knob {
            "capacity" => {
                let previous = f64::from(self.workers);
                self.workers = value.round().clamp(0.0, f64::from(MAX_WORKERS)) as u32;
                self.fill(ctx);
                Some(previous)
            }
            "slowdown" => {
                let previous = self.slowdown;
                self.slowdown = value.max(0.0);
                Some(previous)
            }
            _ => None,
        }
    }

    fn debug_state(&self) -> Option<String> {
        use crate::models::view;
        view::state(
            "Server",
            &[
                ("workers", &self.workers),
                ("slowdown", &self.slowdown),
                ("busy", &view::first(self.busy.values())),
                ("queue_len", &self.queue.len()),
                ("queue", &view::first(&self.queue)),
            ],
        )
    }
}
