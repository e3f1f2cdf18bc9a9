//! Backoff and jitter: the experiment of "Exponential Backoff And Jitter"
//! (Marc Brooker, AWS Architecture Blog, 2015), as a model.
//!
//! # The experiment
//!
//! N clients compete for one resource guarded by optimistic concurrency
//! control. Each client makes ONE logical write: it reads the resource's
//! version, then writes conditionally on it; the write lands only if no
//! other write landed since the read, else it conflicts, and the client
//! tries again (reads again, writes again) after waiting as its backoff
//! policy says. Without backoff every conflict is retried at once; with
//! exponential backoff the wait doubles from `base` up to `cap`; the
//! jittered variants randomise it ([`crate::retry::Backoff`] has the
//! formulas). The blog counts the work (calls to the resource) and the time
//! until every client is done, for each strategy and N, and concludes:
//! exponential backoff without jitter is the worst on completion time, the
//! jittered strategies make far fewer calls than it, and full jitter makes
//! about the fewest.
//!
//! ```text
//!  client:  Read --------> store      (the version v)
//!           Write(v) ----> store      lands if the version is still v
//!           <--- ok: done             <--- conflict: back off, then Read again
//! ```
//!
//! # The model
//!
//! - **n1, the store** ([`Server`]): a version number. A call (read or
//!   write) is in service for a fixed `service` time (default 1ms); its
//!   effect and its answer happen when the service ends. By default every
//!   call is served as it arrives (no worker limit): the store is never
//!   the bottleneck, and the only contention is the one the blog studies,
//!   conflicts between writes. `workers = K` lets at most K calls be in
//!   service at once; the others wait in arrival order.
//! - **c1..cN, the clients** ([`Client`], `[workload] clients`): each starts
//!   its write after a uniform `think` time (`["0ms", "0ms"]`: all at once,
//!   as in the blog), retries a conflict after `policy`'s wait, treats a
//!   call unanswered within `[workload] timeout` as failed (and retries it
//!   the same way), and gives up after `max_attempts` attempts (`done` with
//!   `why = "gave_up"`, and a narrated `gave_up` record). `read_fraction`
//!   and `keys` do not apply.
//!
//! What is counted: **calls** are every call the store served, reads and
//! writes (its `served` records); an attempt is one read and one write, so
//! calls are twice the attempts (`call` records, one per attempt). The
//! **completion time** is the true time of the last client's `done`.
//!
//! # Why the store has no queue by default
//!
//! The blog's effect needs clients that conflicted together to come back
//! together: with exponential backoff and no jitter they all wait the same
//! time, read together, write together, and again only one of them (here
//! two or three, as the network's latency spread them a little) lands; the
//! rounds grow to `cap` and the last client finishes after many of them. A
//! store that serves calls one at a time (`workers = 1`) breaks that
//! lock-step by itself: its queue answers the clients of a round `service`
//! apart, which is a jitter of its own, so there no-jitter exponential makes
//! no more calls than full jitter (at N = 100, 1,940 against 2,046), and no
//! backoff at all is as slow as it (N = 50) or slower (N = 100: the queue
//! is full of doomed calls). The jittered strategies still finish first. `examples/bench_backoff.rs
//! --workers 1` shows it.
//!
//! # What it shows
//!
//! With base 1ms, cap 1s, service 1ms, latency 0.5-1.5ms (the
//! `scenarios/backoff-*.toml` and the bench): the blog's three conclusions
//! hold (see README "Backoff and jitter" for the table). Two more: no
//! backoff finishes first, because a store with room for every call makes
//! hammering it cost work, not time; and which jittered strategy makes the
//! fewest calls depends on `base` against the read-to-write window (about
//! 3ms here): with base 1ms full jitter is about the fewest (the fewest at
//! N = 100), with base 10ms decorrelated jitter is (its waits never drop
//! below `base` and widen up to threefold per retry, so clients drift apart
//! sooner).
//!
//! # Records
//!
//! Clients: `request {id}`, `call {id, attempt}` per attempt, `done {id,
//! ok, good, latency_ns, calls, why}` (`good` = `ok`: there is no
//! deadline; `calls` counts attempts), `gave_up {id, attempts, last}`.
//! Store: `served {queue}` per call, `write {client, id, attempt, version}`
//! per write that lands, which the `exactly_once` check ([`ExactlyOnce`])
//! matches against the clients' `done`. The model leaves idempotency out
//! on purpose: a write whose answer comes after the client's timeout has
//! landed anyway, and its retry lands it again
//! (`scenarios/backoff-retry-double-write.toml`).
//!
//! # Famous bugs
//!
//! [`KNOWN_BUGS`] (`bugs = [...]` in `[backoff]`): `ok_on_timeout`, a
//! client that takes a write's silence for success (`client.rs`, at the
//! timeout). `scenarios/backoff-bug-ok_on_timeout.toml` teaches it and
//! `backoff-exponential.toml`'s lossy moment catches it.

mod check;
mod client;
mod model;
mod server;
#[cfg(test)]
mod tests;

pub use check::{ExactlyOnce, EXACTLY_ONCE};
pub use client::Client;
pub use model::{BackoffModel, BackoffTable};
pub use server::Server;

use crate::models::bugs::{BugInfo, Bugs};
use crate::retry::Backoff;
use crate::time::SimDuration;

/// The famous mistakes the model can make (`bugs = [...]`).
pub const KNOWN_BUGS: &[BugInfo] = &[BugInfo {
    name: "ok_on_timeout",
    about: "a client whose conditional write gets no answer within the timeout reports it done ok, as if no news were good news: a write that was lost on the way (or conflicted) never landed, yet its client says it did",
}];

/// The model's parameters (the `[backoff]` table, validated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffParams {
    /// How a client waits before each retry.
    pub policy: Backoff,
    /// How long the server takes to handle one call (a read or a write).
    pub service: SimDuration,
    /// How many calls the server handles at once (`None`: no limit, every
    /// call is served as it arrives); the others queue in arrival order.
    pub workers: Option<u32>,
    /// A client gives up after this many attempts (each a read and a write).
    pub max_attempts: u32,
    /// The famous mistakes switched on ([`KNOWN_BUGS`]).
    pub bugs: Bugs,
}

/// Messages between the clients and the store.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum BackoffMsg {
    /// Client to store: what is the version? (`attempt` 1 is the first.)
    Read { id: u64, attempt: u32 },
    /// Store to client: the version when the read was served.
    ReadReply { id: u64, attempt: u32, version: u64 },
    /// Client to store: write, if the version is still `expected`.
    Write {
        id: u64,
        attempt: u32,
        expected: u64,
    },
    /// Store to client: whether the write landed (`false`: a conflict).
    WriteReply { id: u64, attempt: u32, ok: bool },
}
