//! Orchestrated sagas: a long business transaction (book a flight, then a
//! hotel, then take the payment) made of local transactions at separate
//! services, each undone by a compensating transaction if a later step
//! fails (Garcia-Molina and Salem, "Sagas", 1987; the orchestration style
//! of AWS Step Functions and microservices.io).
//!
//! # The protocol
//!
//! ```text
//!  orchestrator                 flight        hotel        payment
//!   log: start s1 (synced)
//!   do {s1, flight} ----------> apply, sync
//!   <------------------------- ok
//!   log: step 1 (synced)
//!   do {s1, hotel} ---------------------------> apply, sync
//!   <------------------------------------------ ok
//!   do {s1, payment} ----------------------------------------> declined
//!   <-------------------------------------------------------- failed
//!   log: compensating (synced)
//!   compensate {s1, hotel} ---------------------> undo, sync
//!   compensate {s1, flight} ----> undo, sync
//!   log: compensated
//! ```
//!
//! - **n1, the orchestrator** ([`Orchestrator`]) starts `sagas` sagas,
//!   one every `every`. It runs each saga's steps in order, one request at
//!   a time. Before each request it writes and syncs the saga's state to
//!   its **saga log** (which step is next, or which compensation), so a
//!   crash loses nothing: on restart it reads the log and resumes every
//!   unfinished saga where it was, re-sending the request it was waiting
//!   on. A request unanswered within `timeout` is sent again after a
//!   `backoff` wait; a forward step is tried at most `attempts` times, then
//!   the orchestrator gives up on it and compensates it too (its outcome is
//!   unknown). A step the service fails (a business failure: the payment
//!   is declined, with `failure_probability`) makes the orchestrator
//!   compensate the completed steps in reverse order. A compensation may
//!   not fail: it is retried until the service answers.
//! - **n2.., the services** ([`Service`]), one per step (`steps` names
//!   them). A request carries its **idempotency key** (saga id and step).
//!   The service keeps, durably, what it did under each key: `applied`,
//!   `failed`, `compensated`, or `cancelled` (a compensation that arrived
//!   before any request: a tombstone, so that a late request is refused).
//!   A request whose key it has seen is answered from that entry, not run
//!   again; this is what makes retries (and duplicated messages) safe.
//!
//! # The lesson
//!
//! Retries are what make a saga survive lost messages and crashes, and
//! retries are only safe against services that deduplicate: an orchestrator
//! that times out cannot tell "the request was lost" from "the reply was
//! lost", so it must send again, and the service must recognise the second
//! copy. Without idempotency keys (bug `no_idempotency_key`) a lost reply or
//! a duplicated message books the hotel twice. Compensation, in turn, is
//! semantic undo, not rollback: the outcome of a saga is all steps done, or
//! every applied step compensated, never a mix.
//!
//! # Records
//!
//! Orchestrator: `saga_start {saga, steps}`, `saga_abort {saga, step, why}`
//! (`why` is `"failed"` or `"no_reply"`), `saga_done {saga}`,
//! `saga_compensated {saga}`, `resumed {sagas}` after a restart, and the
//! quiet `retry {saga, step, attempt, compensate}`. Services: `applied
//! {saga, step}`, `failed {saga, step}`, `compensated {saga, step}`,
//! `cancelled {saga, step}`, and the quiet `dedup {saga, step, status}`
//! when a request is answered from its key.
//!
//! # The check
//!
//! `saga_outcome` ([`SagaOutcome`], always on) reads those records: a step
//! applied twice (`step_applied_twice`) or compensated twice
//! (`step_compensated_twice`) is caught the moment it happens; a saga the
//! orchestrator declares done must have every step applied once and none
//! compensated, and one it declares compensated must have every applied
//! step compensated (`saga_mixed`, judged at the declaration and again at
//! the end, for late arrivals); every started saga must be finished by the
//! end of the run (`saga_unfinished`). Metrics: `saga_outcome.done`,
//! `saga_outcome.compensated`, `saga_outcome.unfinished`,
//! `saga_outcome.duration_ms_p50` and `_p99` (true time from a saga's start
//! to its end), `saga_outcome.retries`.
//!
//! # Bugs
//!
//! [`KNOWN_BUGS`]: `no_idempotency_key`, services run every request they
//! receive without looking up its key.

mod check;
mod model;
pub(crate) mod orchestrator;
mod service;
#[cfg(test)]
mod tests;

pub use check::{SagaOutcome, SAGA_OUTCOME};
pub use model::{SagaModel, SagaTable};
pub use orchestrator::Orchestrator;
pub use service::Service;

use crate::models::bugs::{BugInfo, Bugs};
use crate::retry::Backoff;
use crate::rng::Probability;
use crate::time::SimDuration;
use std::fmt;

/// The mistakes the saga model can be switched to make.
pub const KNOWN_BUGS: &[BugInfo] = &[BugInfo {
    name: "no_idempotency_key",
    about: "services run every request they receive, without deduplicating by its idempotency key: a retried or duplicated step is applied twice",
}];

/// The model's parameters (the `[saga]` table, validated).
#[derive(Clone, Debug, PartialEq)]
pub struct SagaParams {
    /// The steps' names, in order; service `i` (node `n{i+2}`) runs step `i`.
    pub steps: Vec<String>,
    /// How many sagas the orchestrator starts.
    pub sagas: u64,
    /// The time between two sagas' starts.
    pub every: SimDuration,
    /// Per step, the probability that the service fails it (a business failure).
    pub failure: Vec<Probability>,
    /// How long the orchestrator waits for a reply before retrying.
    pub timeout: SimDuration,
    /// The wait before a retry.
    pub backoff: Backoff,
    /// A forward step is sent at most this many times, then given up on.
    pub attempts: u32,
    /// The mistakes switched on.
    pub bugs: Bugs,
}

/// One request's idempotency key: the saga and the step.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub struct IdemKey {
    /// The saga's id (from 1).
    pub saga: u64,
    /// The step's index (from 0).
    pub step: u32,
}

impl fmt::Display for IdemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}/{}", self.saga, self.step)
    }
}

/// What a request asks a service to do.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Action {
    /// Run the step's local transaction.
    Do,
    /// Undo it (the compensating transaction).
    Compensate,
}

/// Messages between the orchestrator and the services.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum SagaMsg {
    /// Orchestrator to service: run or undo the step `key.step` of saga
    /// `key.saga`; `attempt` 1 is the first send.
    Request {
        /// The idempotency key.
        key: IdemKey,
        /// Do or compensate.
        action: Action,
        /// Which send of this request this is.
        attempt: u32,
    },
    /// Service to orchestrator: the request's outcome (`ok = false`: the
    /// step failed, or was compensated or cancelled before it ran).
    Reply {
        /// The request's key.
        key: IdemKey,
        /// The request's action.
        action: Action,
        /// Whether the step is done (for `Do`); always true for `Compensate`.
        ok: bool,
    },
}
