//! A client: one logical write, retried with backoff until it lands.
//!
//! ```text
//!  start --think--> Reading --ReadReply(v)--> Writing --WriteReply(ok)--> Done (ok)
//!                      ^                         | conflict or timeout
//!                      |                         v
//!                      +---- Backoff (wait) <----+---- attempts exhausted --> Done (gave_up)
//! ```

use super::{BackoffMsg, BackoffParams};
use crate::check::service;
use crate::clock::LocalTime;
use crate::models::workload::Workload;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::json;

/// The think time before the write begins.
pub(super) const START: u64 = 1;
/// The backoff wait before a retry.
pub(super) const RETRY: u64 = 2;
/// No reply to a call within the workload's `timeout`.
pub(super) const TIMEOUT: u64 = 3;
/// The id of the last request this client issued (synced before it is sent).
const ISSUED_KEY: &str = "issued";
/// Set once the client's write ended (synced), so a restart does not write again.
const FINISHED_KEY: &str = "finished";
/// The store is node n1.
const STORE: NodeId = NodeId(0);

/// Where the client is in its one write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Thinking before the write begins.
    Starting,
    /// Waiting for the version (a read) of this attempt.
    Reading(TimerId),
    /// Waiting for the answer to this attempt's conditional write.
    Writing(TimerId),
    /// Backing off before the next attempt.
    Waiting,
    /// The write ended (landed or gave up).
    Finished,
}

/// One client of the store.
#[derive(Debug)]
pub struct Client {
    params: BackoffParams,
    workload: Workload,
    phase: Phase,
    /// The logical write's id (1 unless a crash abandoned an earlier one).
    id: u64,
    /// When (local time) the logical write was issued.
    requested_at: LocalTime,
    /// The current attempt (1 is the first; each is a read and a write).
    attempt: u32,
    /// The last backoff wait (for decorrelated jitter).
    previous_wait: SimDuration,
}

impl Client {
    /// A client of the store, taking its timeout and think time from `workload`.
    pub fn new(params: BackoffParams, workload: Workload) -> Client {
        Client {
            params,
            workload,
            phase: Phase::Starting,
            id: 0,
            requested_at: LocalTime(0),
            attempt: 0,
            previous_wait: SimDuration::ZERO,
        }
    }

    /// The logical write begins: a fresh id, then the first attempt.
    fn begin(&mut self, ctx: &mut Ctx<'_, BackoffMsg>) {
        let issued: u64 = ctx.storage().get_json(ISSUED_KEY).unwrap_or(0);
        self.id = issued + 1;
        ctx.storage().put_json(ISSUED_KEY, &self.id);
        ctx.storage().sync();
        self.requested_at = ctx.now_local();
        ctx.record(service::REQUEST, service::detail::request(self.id));
        self.start_attempt(ctx);
    }

    /// Attempt `attempt + 1`: read the version.
    fn start_attempt(&mut self, ctx: &mut Ctx<'_, BackoffMsg>) {
        self.attempt += 1;
        let (id, attempt) = (self.id, self.attempt);
        ctx.record(service::CALL, service::detail::call(id, attempt));
        ctx.send(STORE, BackoffMsg::Read { id, attempt });
        self.phase = Phase::Reading(ctx.set_timer(self.workload.timeout, TIMEOUT));
    }

    /// The version came back: write conditionally on it.
    fn on_version(&mut self, ctx: &mut Ctx<'_, BackoffMsg>, version: u64) {
        let Phase::Reading(timer) = self.phase else {
            return;
        };
        ctx.cancel_timer(timer);
        let (id, attempt) = (self.id, self.attempt);
        ctx.send(
            STORE,
            BackoffMsg::Write {
                id,
                attempt,
                expected: version,
            },
        );
        self.phase = Phase::Writing(ctx.set_timer(self.workload.timeout, TIMEOUT));
    }

    /// The conditional write's answer: landed, or a conflict.
    fn on_write_result(&mut self, ctx: &mut Ctx<'_, BackoffMsg>, ok: bool) {
        let Phase::Writing(timer) = self.phase else {
            return;
        };
        ctx.cancel_timer(timer);
        if ok {
            self.finish(ctx, true, "ok");
        } else {
            self.retry(ctx, "error");
        }
    }

    /// The attempt failed (`why`: "error" for a conflict, "timeout"): back
    /// off and try again, or give up after `max_attempts`.
    fn retry(&mut self, ctx: &mut Ctx<'_, BackoffMsg>, why: &'static str) {
        if self.attempt >= self.params.max_attempts {
            ctx.record(
                "gave_up",
                json!({ "id": self.id, "attempts": self.attempt, "last": why }),
            );
            self.finish(ctx, false, "gave_up");
            return;
        }
        let wait = self
            .params
            .policy
            .delay(self.attempt, self.previous_wait, ctx.rng());
        self.previous_wait = wait;
        if wait == SimDuration::ZERO {
            self.start_attempt(ctx);
        } else {
            ctx.set_timer(wait, RETRY);
            self.phase = Phase::Waiting;
        }
    }

    /// The logical write ended: record `done` and remember it on disk.
    fn finish(&mut self, ctx: &mut Ctx<'_, BackoffMsg>, ok: bool, why: &str) {
        let latency = ctx.now_local().saturating_since(self.requested_at);
        // No deadline in this experiment: every success is good.
        let detail = service::detail::done(self.id, ok, ok, latency.as_nanos(), self.attempt, why);
        ctx.record(service::DONE, detail);
        ctx.storage().put_json(FINISHED_KEY, &true);
        ctx.storage().sync();
        self.phase = Phase::Finished;
    }

    /// True if a reply belongs to the attempt in flight (not an earlier
    /// one that timed out).
    fn current(&self, id: u64, attempt: u32) -> bool {
        id == self.id && attempt == self.attempt
    }
}

impl Node<BackoffMsg> for Client {
    fn on_start(&mut self, ctx: &mut Ctx<'_, BackoffMsg>) {
        if ctx.storage().get_json(FINISHED_KEY).unwrap_or(false) {
            self.phase = Phase::Finished;
            return;
        }
        let (low, high) = (
            self.workload.think_min.as_nanos(),
            self.workload.think_max.as_nanos(),
        );
        let think = ctx.rng().between(low, high);
        if think == 0 {
            self.begin(ctx);
        } else {
            ctx.set_timer(SimDuration::from_nanos(think), START);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, BackoffMsg>, _from: NodeId, msg: BackoffMsg) {
        match msg {
            BackoffMsg::ReadReply {
                id,
                attempt,
                version,
            } if self.current(id, attempt) => self.on_version(ctx, version),
            BackoffMsg::WriteReply { id, attempt, ok } if self.current(id, attempt) => {
                self.on_write_result(ctx, ok)
            }
            _ => {} // a late reply to an attempt that timed out, or a stray call
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, BackoffMsg>, timer: TimerId) {
        match timer.tag() {
            START => self.begin(ctx),
            RETRY => {
                debug_assert_eq!(self.phase, Phase::Waiting, "a retry while not waiting");
                self.start_attempt(ctx);
            }
            TIMEOUT => match self.phase {
                // The rule: a write without an answer has an unknown
                // outcome; only the store's answer says it landed. The bug
                // takes the silence for success.
                Phase::Writing(t) if t == timer && self.params.bugs.has("ok_on_timeout") => {
                    self.finish(ctx, true, "ok")
                }
                Phase::Reading(t) | Phase::Writing(t) if t == timer => self.retry(ctx, "timeout"),
                _ => {} // a cancelled timeout that fired in the same instant
            },
            other => debug_assert!(false, "unknown timer tag {other}"),
        }
    }

    fn debug_state(&self) -> Option<String> {
        crate::models::view::state(
            "Client",
            &[
                ("phase", &self.phase),
                ("id", &self.id),
                ("requested_at", &self.requested_at),
                ("attempt", &self.attempt),
                ("previous_wait", &self.previous_wait),
            ],
        )
    }
}
