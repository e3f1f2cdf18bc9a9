//! The store: one version number, behind a server with `workers` (or no
//! limit) handling calls in a fixed service time.

use super::{BackoffMsg, BackoffParams};
use crate::check::service;
use crate::node::{Ctx, Node, NodeId, TimerId};
use serde_json::json;
use std::collections::{BTreeMap, VecDeque};

/// The timer that ends the service of the call at the head of the queue.
pub(super) const SERVICE: u64 = 1;
/// Where the store keeps its version (synced on every write that lands).
const VERSION_KEY: &str = "version";

/// A call waiting for, or in, service.
#[derive(Clone, Copy, Debug)]
struct Call {
    from: NodeId,
    msg: BackoffMsg,
}

/// The server: each call is in service for `service` (its effect, and its
/// reply, happen when its service ends); at most `workers` calls are in
/// service at once (no limit when `None`), the others wait in arrival order.
#[derive(Debug)]
pub struct Server {
    params: BackoffParams,
    /// The store's version: the number of writes that landed.
    version: u64,
    /// The calls in service, by the timer that ends each one.
    serving: BTreeMap<TimerId, Call>,
    /// Calls waiting for a worker, oldest first.
    queue: VecDeque<Call>,
}

impl Server {
    /// A fresh server (its version is read from disk in `on_start`).
    pub fn new(params: BackoffParams) -> Server {
        Server {
            params,
            version: 0,
            serving: BTreeMap::new(),
            queue: VecDeque::new(),
        }
    }

    /// True if another call may enter service now.
    fn has_free_worker(&self) -> bool {
        self.params
            .workers
            .is_none_or(|w| self.serving.len() < w as usize)
    }

    /// Starts serving waiting calls, oldest first, while workers are free.
    fn serve_waiting(&mut self, ctx: &mut Ctx<'_, BackoffMsg>) {
        while self.has_free_worker() {
            let Some(call) = self.queue.pop_front() else {
                return;
            };
            let timer = ctx.set_timer(self.params.service, SERVICE);
            self.serving.insert(timer, call);
        }
    }

    /// The call in service is done: apply it, reply, record `served`.
    fn finish_call(&mut self, ctx: &mut Ctx<'_, BackoffMsg>, timer: TimerId) {
        let Some(Call { from, msg }) = self.serving.remove(&timer) else {
            debug_assert!(false, "service timer {timer:?} fired with no call in it");
            return;
        };
        let reply = match msg {
            BackoffMsg::Read { id, attempt } => BackoffMsg::ReadReply {
                id,
                attempt,
                version: self.version,
            },
            BackoffMsg::Write {
                id,
                attempt,
                expected,
            } => {
                let ok = expected == self.version;
                if ok {
                    self.land_write(ctx, from, id, attempt);
                }
                BackoffMsg::WriteReply { id, attempt, ok }
            }
            other => {
                debug_assert!(false, "only calls are queued, not {other:?}");
                return;
            }
        };
        ctx.send(from, reply);
        let queue = self.queue.len() as u64;
        ctx.record(service::SERVED, service::detail::served(queue));
    }

    /// A conditional write found the version it expected: it lands.
    fn land_write(&mut self, ctx: &mut Ctx<'_, BackoffMsg>, from: NodeId, id: u64, attempt: u32) {
        self.version += 1;
        ctx.storage().put_json(VERSION_KEY, &self.version);
        ctx.storage().sync();
        let client = ctx.name(from).to_string();
        ctx.record(
            "write",
            json!({ "client": client, "id": id, "attempt": attempt, "version": self.version }),
        );
    }
}

impl Node<BackoffMsg> for Server {
    fn on_start(&mut self, ctx: &mut Ctx<'_, BackoffMsg>) {
        self.version = ctx.storage().get_json(VERSION_KEY).unwrap_or(0);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, BackoffMsg>, from: NodeId, msg: BackoffMsg) {
        match msg {
            BackoffMsg::Read { .. } | BackoffMsg::Write { .. } => {
                self.queue.push_back(Call { from, msg });
                self.serve_waiting(ctx);
            }
            BackoffMsg::ReadReply { .. } | BackoffMsg::WriteReply { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, BackoffMsg>, timer: TimerId) {
        debug_assert_eq!(timer.tag(), SERVICE, "the server has one timer");
        self.finish_call(ctx, timer);
        self.serve_waiting(ctx);
    }

    fn debug_state(&self) -> Option<String> {
        Some(format!(
            "version {} serving {} queue {}",
            self.version,
            self.serving.len(),
            self.queue.len()
        ))
    }
}
