//! A service: runs one step's local transaction and its compensation,
//! remembering under each idempotency key what it did (durably).

use super::{Action, IdemKey, SagaMsg, SagaParams};
use crate::models::view;
use crate::node::{Ctx, Node, NodeId, TimerId};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What a service did under one idempotency key (its durable entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The step's transaction ran (e.g. the hotel room is booked).
    Applied,
    /// The step failed (a business failure: nothing was done).
    Failed,
    /// The step ran and was then undone.
    Compensated,
    /// A compensation came before any request: nothing to undo, and a late
    /// request for this key is refused.
    Cancelled,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Failed => "failed",
            Status::Compensated => "compensated",
            Status::Cancelled => "cancelled",
        }
    }
}

/// The storage key of an idempotency key's entry.
fn entry_key(key: IdemKey) -> String {
    format!("key/{key}")
}

/// One step's service (node `n{step+2}`).
#[derive(Debug)]
pub struct Service {
    params: SagaParams,
    /// The step this service runs (its index in `steps`).
    step: u32,
    /// Requests run (the local transactions executed, not deduplicated).
    applied: u64,
    /// Requests answered from their key's entry.
    deduped: u64,
}

impl Service {
    /// The service of step `step`.
    pub fn new(params: SagaParams, step: u32) -> Service {
        debug_assert!((step as usize) < params.steps.len(), "a step of the saga");
        Service {
            params,
            step,
            applied: 0,
            deduped: 0,
        }
    }

    fn detail(&self, key: IdemKey) -> serde_json::Value {
        json!({ "saga": key.saga, "step": self.params.steps[key.step as usize] })
    }

    /// Writes `status` under `key` and syncs it, before any reply goes out.
    fn store(&self, ctx: &mut Ctx<'_, SagaMsg>, key: IdemKey, status: Status) {
        ctx.storage().put_json(entry_key(key), &status);
        ctx.storage().sync();
        // A crash here: the step is durable, its reply never sent.
        ctx.maybe_fault_point("service_stored");
    }

    fn on_do(&mut self, ctx: &mut Ctx<'_, SagaMsg>, key: IdemKey) -> bool {
        let known: Option<Status> = ctx.storage().get_json(&entry_key(key));
        // The rule: a request whose idempotency key was seen is answered
        // from its entry, never run again. The bug skips the lookup.
        let known = if self.params.bugs.has("no_idempotency_key") {
            None
        } else {
            known
        };
        if let Some(status) = known {
            self.deduped += 1;
            let mut detail = self.detail(key);
            detail["status"] = json!(status.name());
            ctx.record("dedup", detail);
            return status == Status::Applied;
        }
        let failure = self.params.failure[self.step as usize];
        if ctx.rng().chance(failure) {
            self.store(ctx, key, Status::Failed);
            ctx.record("failed", self.detail(key));
            return false;
        }
        self.store(ctx, key, Status::Applied);
        self.applied += 1;
        ctx.record("applied", self.detail(key));
        true
    }

    fn on_compensate(&mut self, ctx: &mut Ctx<'_, SagaMsg>, key: IdemKey) {
        let known: Option<Status> = ctx.storage().get_json(&entry_key(key));
        match known {
            Some(Status::Applied) => {
                self.store(ctx, key, Status::Compensated);
                ctx.record("compensated", self.detail(key));
            }
            None => {
                // Nothing ran under this key (the request was lost, or is
                // still on its way): leave a tombstone that refuses it.
                self.store(ctx, key, Status::Cancelled);
                ctx.record("cancelled", self.detail(key));
            }
            Some(status) => {
                self.deduped += 1;
                let mut detail = self.detail(key);
                detail["status"] = json!(status.name());
                ctx.record("dedup", detail);
            }
        }
    }
}

impl Node<SagaMsg> for Service {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, SagaMsg>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, SagaMsg>, from: NodeId, msg: SagaMsg) {
        let SagaMsg::Request { key, action, .. } = msg else {
            return;
        };
        debug_assert_eq!(key.step, self.step, "a request for this service's step");
        if key.step != self.step {
            return;
        }
        let ok = match action {
            Action::Do => self.on_do(ctx, key),
            Action::Compensate => {
                self.on_compensate(ctx, key);
                true
            }
        };
        ctx.send(from, SagaMsg::Reply { key, action, ok });
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, SagaMsg>, _timer: TimerId) {}

    fn debug_state(&self) -> Option<String> {
        view::state(
            "Service",
            &[
                ("step", &view::text(&self.params.steps[self.step as usize])),
                ("applied", &self.applied),
                ("deduped", &self.deduped),
            ],
        )
    }

    fn role(&self) -> Option<&'static str> {
        Some("service")
    }
}
