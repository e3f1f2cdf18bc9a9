//! The orchestrator: starts sagas, drives each one step at a time, keeps a
//! durable saga log and resumes from it after a crash.

use super::{Action, IdemKey, SagaMsg, SagaParams};
use crate::models::view;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// Timer tag: start the next saga.
pub(crate) const START: u64 = 0;
/// Timer tag kind: a request's reply is overdue (`saga << 2 | TIMEOUT`).
pub(crate) const TIMEOUT: u64 = 1;
/// Timer tag kind: the backoff before a retry is over (`saga << 2 | RETRY`).
pub(crate) const RETRY: u64 = 2;

/// The storage key of the number of sagas started.
const STARTED: &str = "started";

/// Where a saga is: its entry in the durable saga log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Running step `step` (the steps before it are done).
    Forward {
        /// The step whose reply the orchestrator waits for.
        step: u32,
    },
    /// Undoing: the steps `0..next` are still to compensate, last first.
    Compensating {
        /// One past the next step to compensate.
        next: u32,
    },
    /// Every step done.
    Done,
    /// Every step that may have run is compensated.
    Compensated,
}

/// The storage key of saga `id`'s log entry.
fn log_key(id: u64) -> String {
    format!("saga/{id}")
}

/// A saga in flight: its phase and its current request's retries.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    phase: Phase,
    /// Sends of the current request so far (1 after the first).
    attempt: u32,
    /// The last backoff wait (for the decorrelated policy).
    last_wait: SimDuration,
    /// The timer it waits on (a reply's timeout or a backoff).
    timer: Option<TimerId>,
}

/// The orchestrator (n1).
#[derive(Debug)]
pub struct Orchestrator {
    params: SagaParams,
    /// Sagas started (durable: the log's `started`).
    started: u64,
    /// Unfinished sagas, by id.
    in_flight: BTreeMap<u64, InFlight>,
    /// Sagas finished since this incarnation started.
    finished: u64,
}

impl Orchestrator {
    /// An orchestrator that will start `params.sagas` sagas.
    pub fn new(params: SagaParams) -> Orchestrator {
        Orchestrator {
            params,
            started: 0,
            in_flight: BTreeMap::new(),
            finished: 0,
        }
    }

    fn steps(&self) -> u32 {
        self.params.steps.len() as u32
    }

    /// The service that runs `step`.
    fn service(step: u32) -> NodeId {
        NodeId(step + 1)
    }

    /// Writes saga `id`'s phase to the log and syncs it: the next request
    /// goes out only once the log says it is due.
    fn log(&self, ctx: &mut Ctx<'_, SagaMsg>, id: u64, phase: Phase) {
        ctx.storage().put_json(log_key(id), &phase);
        ctx.storage().sync();
        ctx.maybe_fault_point("saga_logged");
    }

    /// The request saga `id` waits on in `phase`, if any.
    fn request(&self, id: u64, phase: Phase) -> Option<(IdemKey, Action)> {
        match phase {
            Phase::Forward { step } => Some((IdemKey { saga: id, step }, Action::Do)),
            Phase::Compensating { next } if next > 0 => Some((
                IdemKey {
                    saga: id,
                    step: next - 1,
                },
                Action::Compensate,
            )),
            _ => None,
        }
    }

    /// Sends saga `id`'s current request and waits `timeout` for its reply.
    fn send(&mut self, ctx: &mut Ctx<'_, SagaMsg>, id: u64) {
        let Some(flight) = self.in_flight.get(&id).copied() else {
            return;
        };
        let Some((key, action)) = self.request(id, flight.phase) else {
            debug_assert!(false, "an in-flight saga waits on a request");
            return;
        };
        ctx.send(
            Self::service(key.step),
            SagaMsg::Request {
                key,
                action,
                attempt: flight.attempt,
            },
        );
        let timer = ctx.set_timer(self.params.timeout, id << 2 | TIMEOUT);
        if let Some(f) = self.in_flight.get_mut(&id) {
            f.timer = Some(timer);
        }
    }

    /// Moves saga `id` to `phase`: logs it, then sends its first request
    /// or declares the saga's outcome.
    fn enter(&mut self, ctx: &mut Ctx<'_, SagaMsg>, id: u64, phase: Phase) {
        // Compensating with nothing left to undo is the end of it.
        let phase = match phase {
            Phase::Compensating { next: 0 } => Phase::Compensated,
            Phase::Forward { step } if step == self.steps() => Phase::Done,
            other => other,
        };
        self.log(ctx, id, phase);
        match phase {
            Phase::Done | Phase::Compensated => {
                self.in_flight.remove(&id);
                self.finished += 1;
                let kind = if phase == Phase::Done {
                    "saga_done"
                } else {
                    "saga_compensated"
                };
                ctx.record(kind, json!({ "saga": id }));
            }
            _ => {
                self.in_flight.insert(
                    id,
                    InFlight {
                        phase,
                        attempt: 1,
                        last_wait: SimDuration::ZERO,
                        timer: None,
                    },
                );
                self.send(ctx, id);
            }
        }
    }

    fn start_saga(&mut self, ctx: &mut Ctx<'_, SagaMsg>) {
        self.started += 1;
        let id = self.started;
        ctx.storage().put_json(STARTED, &self.started);
        ctx.record(
            "saga_start",
            json!({ "saga": id, "steps": self.params.steps }),
        );
        self.enter(ctx, id, Phase::Forward { step: 0 });
        if self.started < self.params.sagas {
            ctx.set_timer(self.params.every, START);
        }
    }

    /// A reply's timeout: retry after a backoff, or give up on a forward step.
    fn on_timeout(&mut self, ctx: &mut Ctx<'_, SagaMsg>, id: u64) {
        let Some(flight) = self.in_flight.get(&id).copied() else {
            return;
        };
        if let Phase::Forward { step } = flight.phase {
            if flight.attempt >= self.params.attempts {
                // The step's outcome is unknown: compensate it too (the
                // service cancels it if it never ran).
                ctx.record(
                    "saga_abort",
                    json!({ "saga": id, "step": self.params.steps[step as usize], "why": "no_reply" }),
                );
                self.enter(ctx, id, Phase::Compensating { next: step + 1 });
                return;
            }
        }
        let wait = self
            .params
            .backoff
            .delay(flight.attempt, flight.last_wait, ctx.rng());
        let timer = ctx.set_timer(wait, id << 2 | RETRY);
        if let Some(f) = self.in_flight.get_mut(&id) {
            f.last_wait = wait;
            f.timer = Some(timer);
        }
    }

    fn on_retry(&mut self, ctx: &mut Ctx<'_, SagaMsg>, id: u64) {
        let Some(f) = self.in_flight.get_mut(&id) else {
            return;
        };
        f.attempt += 1;
        let (phase, attempt) = (f.phase, f.attempt);
        if let Some((key, action)) = self.request(id, phase) {
            ctx.record(
                "retry",
                json!({
                    "saga": id,
                    "step": self.params.steps[key.step as usize],
                    "attempt": attempt,
                    "compensate": action == Action::Compensate,
                }),
            );
        }
        self.send(ctx, id);
    }

    fn on_reply(&mut self, ctx: &mut Ctx<'_, SagaMsg>, key: IdemKey, action: Action, ok: bool) {
        let Some(flight) = self.in_flight.get(&key.saga).copied() else {
            return; // a late or duplicated reply to a finished saga
        };
        if self.request(key.saga, flight.phase) != Some((key, action)) {
            return; // a reply to an earlier request of this saga
        }
        if let Some(timer) = flight.timer {
            ctx.cancel_timer(timer);
        }
        match flight.phase {
            Phase::Forward { step } if ok => {
                self.enter(ctx, key.saga, Phase::Forward { step: step + 1 });
            }
            Phase::Forward { step } => {
                ctx.record(
                    "saga_abort",
                    json!({ "saga": key.saga, "step": self.params.steps[step as usize], "why": "failed" }),
                );
                self.enter(ctx, key.saga, Phase::Compensating { next: step });
            }
            Phase::Compensating { next } => {
                self.enter(ctx, key.saga, Phase::Compensating { next: next - 1 });
            }
            Phase::Done | Phase::Compensated => {
                debug_assert!(false, "a finished saga is not in flight");
            }
        }
    }
}

impl Node<SagaMsg> for Orchestrator {
    fn on_start(&mut self, ctx: &mut Ctx<'_, SagaMsg>) {
        self.started = ctx.storage().get_json(STARTED).unwrap_or(0);
        let mut resumed = Vec::new();
        for id in 1..=self.started {
            let phase: Phase = ctx
                .storage()
                .get_json(&log_key(id))
                .unwrap_or(Phase::Forward { step: 0 });
            if matches!(phase, Phase::Done | Phase::Compensated) {
                continue;
            }
            resumed.push(id);
            self.in_flight.insert(
                id,
                InFlight {
                    phase,
                    attempt: 1,
                    last_wait: SimDuration::ZERO,
                    timer: None,
                },
            );
            self.send(ctx, id);
        }
        if self.started > 0 {
            ctx.record(
                "resumed",
                json!({ "started": self.started, "sagas": resumed }),
            );
        }
        if self.started < self.params.sagas {
            ctx.set_timer(self.params.every, START);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, SagaMsg>, _from: NodeId, msg: SagaMsg) {
        if let SagaMsg::Reply { key, action, ok } = msg {
            self.on_reply(ctx, key, action, ok);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, SagaMsg>, timer: TimerId) {
        let tag = timer.tag();
        if tag == START {
            self.start_saga(ctx);
            return;
        }
        let id = tag >> 2;
        // Only the timer the saga waits on counts (a cancelled one may still fire).
        let current = self.in_flight.get(&id).and_then(|f| f.timer);
        if current != Some(timer) {
            return;
        }
        match tag & 3 {
            TIMEOUT => self.on_timeout(ctx, id),
            RETRY => self.on_retry(ctx, id),
            _ => debug_assert!(false, "unknown timer tag {tag}"),
        }
    }

    fn debug_state(&self) -> Option<String> {
        let flights: Vec<String> = self
            .in_flight
            .iter()
            .map(|(id, f)| format!("s{id}:{:?}#{}", f.phase, f.attempt))
            .collect();
        view::state(
            "Orchestrator",
            &[
                ("started", &self.started),
                ("finished", &self.finished),
                (
                    "in_flight",
                    &view::first(flights.into_iter().map(view::Shown)),
                ),
            ],
        )
    }

    fn role(&self) -> Option<&'static str> {
        Some("orchestrator")
    }
}
