//! A service under load: servers with a few workers and a bounded queue,
//! and clients that time out, retry, back off, spend a retry budget and
//! trip a circuit breaker. The workhorse of the overload lessons.
//!
//! # The story
//!
//! A server does one request per worker at a time; the rest wait in its
//! queue. While the offered load stays below what the workers can do, the
//! queue is short and every reply comes back quickly. Then something
//! small happens (a two-second garbage-collection pause, a slow network
//! for a few seconds): requests pile up, clients time out and *retry*.
//! When the server comes back, its queue is long, so every request waits
//! longer than its client is willing to; the client has given up and sent
//! a retry by the time the server gets to it. The server works as hard as
//! it can, but on requests nobody waits for any more: throughput is high,
//! goodput (replies that arrive within the deadline) is near zero. The
//! retries keep the queue long, so the system stays there long after the
//! trigger is gone: a *metastable failure* (Bronson et al., "Metastable
//! Failures in Distributed Systems", HotOS 2021).
//!
//! The cures each remove one link of that loop:
//! - a **retry budget** (`budget`, the AWS SDKs' token bucket): while calls
//!   fail, retries stop, the offered load falls back to what the clients
//!   ask for, and the queue drains;
//! - **deadline-aware shedding** (`shed_expired = true`): a request carries
//!   how long its client will wait (a duration, since clocks differ); the
//!   server drops a queued request whose client will have stopped waiting
//!   before the work could be done, so the work it does is useful again;
//! - **LIFO** (`order = "lifo"`): under overload, serve the newest request
//!   first, the one whose client still waits (Amazon Builders' Library,
//!   "Using load shedding to avoid overload");
//! - a **circuit breaker** (`breaker`): a client whose calls keep failing
//!   stops calling for a cooldown and fails fast, instead of queueing
//!   behind a dependency that is down; probes close it after recovery.
//!
//! # Nodes
//!
//! Servers are `[nodes]` (n1..): each has `workers` concurrent requests,
//! a queue of at most `queue` waiting requests, served `fifo` or `lifo`,
//! and a service time drawn per request from `service_time` (times the
//! `slowdown` knob). A request that finds the queue full is rejected at
//! once with an error reply (`shed why="queue_full"`; under `lifo` the
//! *oldest* waiting request gets that reply instead, and the newcomer
//! takes its place).
//! With `concurrency_limit`, a request that finds that many requests in
//! the server (working and waiting) is rejected (`why="concurrency"`).
//! With `shed_expired`, when a worker would take a queued request whose
//! budget runs out within a mean service time (`expires <= now + mean *
//! slowdown`: its reply would most likely come too late), it drops it
//! without a reply (`why="deadline"`) and takes the next.
//!
//! Clients are `[workload]` clients (c1..). With `rate` they run an *open
//! loop*: requests arrive as a Poisson process of `rate` per second, each
//! client keeping at most `max_outstanding` in progress (one more ends at
//! once as `done why="gave_up"`). Without `rate` they run a *closed loop*:
//! one request at a time, a `[workload] think` time between them. Each
//! attempt picks a server at random and waits at most `[workload] timeout`
//! (and no longer than what is left of the request's `deadline`). A late
//! reply to an attempt that already timed out is ignored: the server did
//! the work for nothing. A failed attempt (timeout or error reply) is
//! retried up to `max_attempts` in all, after a `backoff`, if the deadline
//! has not passed, the `budget` pays for it and the `breaker` lets it
//! through.
//!
//! ```text
//!   client: request ──► [breaker allows?] ──► call(attempt k) ──► server
//!              ▲                                   │ timeout / error
//!              └── backoff ◄── [attempts left? deadline? budget pays?]
//!   server: arrive ──► worker free? ─ yes ──► work (service_time) ──► served, reply
//!                         │ no
//!                         ▼
//!                  queue (fifo/lifo) ── full ──► shed queue_full, error reply
//!                         │ a worker frees: take next (expired? shed deadline)
//! ```
//!
//! # Records (see the issue 10 contract)
//!
//! Clients: `request {id}`, `call {id, attempt}`, `done {id, ok, good,
//! latency_ns, calls, why}` with `why` one of `ok`, `timeout`, `shed`,
//! `breaker_open`, `budget`, `gave_up`, and `breaker {state}`. Servers:
//! `served {queue}` and `shed {why, queue}`. `good` is `ok` and a latency
//! within `deadline`; since no attempt here waits past the deadline, every
//! ok is good (the difference between throughput, `served`, and goodput is
//! the work whose reply nobody waited for). Latency is measured on the
//! client's own clock.
//!
//! # Scenarios
//!
//! `service-metastable.toml` (a pause tips a server into overload that
//! retries sustain), `-budget` and `-shed` (two cures),
//! `service-breaker.toml` (fail fast while the server is down),
//! `service-shed-{fifo,lifo,deadline}.toml` (three times the capacity under
//! three policies); `tests/service_model.rs` measures each story and
//! `examples/service_load.rs` runs the policies from 1x to 5x the load.
//!
//! # Knobs
//!
//! Servers: `capacity` (workers; more start on waiting requests at once,
//! fewer let running requests finish), `slowdown` (service-time
//! multiplier for requests started from then on). Clients: `rate` (open
//! loop only; the next arrival is redrawn at the new rate).
//!
//! Not modelled: server-side errors other than shedding, load balancers
//! smarter than a uniform pick, connection limits, request sizes.
//!
//! # Famous bugs
//!
//! [`KNOWN_BUGS`] (`bugs = [...]` in `[service]`): `budget_not_charged`
//! (the client asks the budget whether it could pay and takes nothing) and
//! `cooldown_reset_on_reject` (an open breaker restarts its cooldown on
//! each rejected call, [`crate::retry::CircuitBreaker::allow`]).
//! `scenarios/service-bug-*.toml` teach them; `service-metastable-budget`
//! and `service-breaker` catch them.

pub(crate) mod client;
pub(crate) mod model;
mod server;
#[cfg(test)]
mod tests;

pub use client::Client;
pub use model::{ServiceModel, ServiceTable, ServiceTime};
pub use server::Server;

use crate::models::bugs::{BugInfo, Bugs};
use crate::net::Latency;
use crate::retry::{Backoff, BreakerParams, BudgetParams};

/// The famous mistakes the model can make (`bugs = [...]`), both in the
/// clients' retry machinery.
pub const KNOWN_BUGS: &[BugInfo] = &[
    BugInfo {
        name: "budget_not_charged",
        about: "the retry budget checks that it could pay for a retry but never takes the tokens: it never drains, so under overload every request is still retried max_attempts times and the retries keep the overload going (a metastable failure the budget was there to cure)",
    },
    BugInfo {
        name: "cooldown_reset_on_reject",
        about: "an open circuit breaker restarts its cooldown on every call it rejects instead of counting it from when it opened: under steady traffic the cooldown never ends, no probe goes out, and the breaker stays open after the dependency has recovered",
    },
];
use crate::time::SimDuration;

/// The order a server takes waiting requests in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Oldest first; a full queue rejects the newcomer.
    Fifo,
    /// Newest first; a full queue drops its oldest request for the newcomer.
    Lifo,
}

/// A server's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerParams {
    /// Requests worked on at once.
    pub workers: u32,
    /// Most requests waiting.
    pub queue: u32,
    /// Which waiting request a free worker takes.
    pub order: Order,
    /// Time to serve one request (before `slowdown`).
    pub service_time: Latency,
    /// Drop a waiting request whose client stops waiting within a mean
    /// service time.
    pub shed_expired: bool,
    /// Most requests in the server (working and waiting); more are rejected.
    pub concurrency_limit: Option<u32>,
}

/// How a client's requests start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arrivals {
    /// Poisson arrivals, `rate` requests per second.
    Open {
        /// Requests per second.
        rate: f64,
    },
    /// One request at a time, a uniform think time in `[min, max]` between.
    Closed {
        /// Shortest think time.
        think_min: SimDuration,
        /// Longest think time.
        think_max: SimDuration,
    },
}

/// A client's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClientParams {
    /// Open or closed loop.
    pub arrivals: Arrivals,
    /// Open loop: most requests in progress; another ends as `gave_up`.
    pub max_outstanding: u32,
    /// How long one attempt waits for its reply.
    pub timeout: SimDuration,
    /// A reply later than this after the request is not good; no attempt
    /// starts after it, and none waits past it. `None`: no deadline.
    pub deadline: Option<SimDuration>,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The wait before each retry.
    pub backoff: Backoff,
    /// The retry budget, if any.
    pub budget: Option<BudgetParams>,
    /// The circuit breaker, if any.
    pub breaker: Option<BreakerParams>,
    /// The famous mistakes switched on ([`KNOWN_BUGS`]).
    pub bugs: Bugs,
}

/// The validated `[service]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceParams {
    /// Every server's.
    pub server: ServerParams,
    /// Every client's.
    pub client: ClientParams,
}

/// Messages between clients and servers.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ServiceMsg {
    /// Client to server: attempt `attempt` of request `id`; the client
    /// waits `budget_ns` for the reply.
    Call {
        /// The request, unique within its client.
        id: u64,
        /// 1 for the first attempt.
        attempt: u32,
        /// How long the client waits, from when it sent this.
        budget_ns: u64,
    },
    /// Server to client: `ok` (served) or rejected without the work.
    Reply {
        /// The request.
        id: u64,
        /// The attempt answered.
        attempt: u32,
        /// Served (true) or shed (false).
        ok: bool,
    },
}

/// Record kinds of this model (the contract's names).
pub mod kinds {
    pub use crate::check::service::{BREAKER, CALL, DONE, REQUEST, SERVED, SHED};
}
