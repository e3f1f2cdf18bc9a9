//! The database (`n1`): `workers` fetches at once, a bounded FIFO queue.
//!
//! ```text
//!  Fetch -> a worker free?  yes: work for a service time, then Fetched(ok)
//!           no: queue.len() < queue?  yes: wait in line (FIFO)
//!                                     no:  shed: Fetched(ok = false)
//! ```
//!
//! Invariants: `busy <= workers`; the queue is empty while a worker is
//! free; the queue never holds more than `queue` fetches. Everything is
//! volatile: a crash loses the queue and the fetches in service (the cache's
//! `fetch_timeout` covers them).

use super::{kinds, CacheMsg, CacheParams};
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};

/// One fetch the database owes.
#[derive(Clone, Copy, Debug)]
struct Job {
    from: NodeId,
    fetch: u64,
    key: u32,
}

/// Node `n1`: serves fetches with limited workers and a bounded queue.
#[derive(Debug)]
pub struct Database {
    workers: u32,
    queue_limit: u32,
    service_min: SimDuration,
    service_max: SimDuration,
    /// Fetches in service, by their timer's tag.
    in_service: BTreeMap<u64, Job>,
    /// Fetches waiting, oldest first.
    queue: VecDeque<Job>,
    /// The next timer tag (one per fetch served).
    next_tag: u64,
}

impl Database {
    /// A fresh database, idle.
    pub fn new(params: &CacheParams) -> Database {
        Database {
            workers: params.workers,
            queue_limit: params.queue,
            service_min: params.service_min,
            service_max: params.service_max,
            in_service: BTreeMap::new(),
            queue: VecDeque::new(),
            next_tag: 0,
        }
    }

    /// Fetches waiting for a worker.
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// Fetches being served.
    pub fn busy(&self) -> usize {
        self.in_service.len()
    }

    fn on_fetch(&mut self, ctx: &mut Ctx<'_, CacheMsg>, job: Job) {
        if self.in_service.len() < self.workers as usize {
            debug_assert!(self.queue.is_empty(), "a worker idles while fetches wait");
            self.start(ctx, job);
        } else if self.queue.len() < self.queue_limit as usize {
            self.queue.push_back(job);
        } else {
            let queue = self.queue.len() as u64;
            ctx.record(kinds::SHED, json!({ "why": "queue_full", "queue": queue }));
            let (fetch, key) = (job.fetch, job.key);
            ctx.send(
                job.from,
                CacheMsg::Fetched {
                    fetch,
                    key,
                    ok: false,
                },
            );
        }
    }

    fn start(&mut self, ctx: &mut Ctx<'_, CacheMsg>, job: Job) {
        let service = ctx
            .rng()
            .between(self.service_min.as_nanos(), self.service_max.as_nanos());
        let tag = self.next_tag;
        self.next_tag += 1;
        ctx.set_timer(SimDuration(service), tag);
        self.in_service.insert(tag, job);
        debug_assert!(
            self.in_service.len() <= self.workers as usize,
            "{} fetches in service with {} workers",
            self.in_service.len(),
            self.workers
        );
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, CacheMsg>, tag: u64) {
        let Some(job) = self.in_service.remove(&tag) else {
            return;
        };
        if let Some(next) = self.queue.pop_front() {
            self.start(ctx, next);
        }
        let queue = self.queue.len() as u64;
        ctx.record(kinds::SERVED, json!({ "queue": queue }));
        let (fetch, key) = (job.fetch, job.key);
        ctx.send(
            job.from,
            CacheMsg::Fetched {
                fetch,
                key,
                ok: true,
            },
        );
    }
}

impl Node<CacheMsg> for Database {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, CacheMsg>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, CacheMsg>, from: NodeId, msg: CacheMsg) {
        if let CacheMsg::Fetch { fetch, key } = msg {
            self.on_fetch(ctx, Job { from, fetch, key });
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CacheMsg>, timer: TimerId) {
        self.finish(ctx, timer.tag());
    }

    fn debug_state(&self) -> Option<String> {
        Some(format!(
            "busy {}/{}, queue {}/{}",
            self.in_service.len(),
            self.workers,
            self.queue.len(),
            self.queue_limit
        ))
    }
}
