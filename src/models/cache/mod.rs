//! A cache in front of a database, and the thundering herd.
//!
//! # The story
//!
//! A read-through cache makes a slow database look fast: most reads are
//! answered from memory, and only the misses reach the database, which is
//! provisioned for the misses, not for the reads. That is the trap. The
//! database's capacity now silently depends on the cache's hit ratio, and
//! anything that drops the hit ratio at once sends the whole read load to a
//! database that was never sized for it:
//!
//! - a **cold start**: the cache restarts (a deploy, a crash, a new node)
//!   and comes up empty: every read misses at the same moment;
//! - a **flush**: someone empties the cache on purpose;
//! - **synchronized expiry**: entries loaded together with one TTL expire
//!   together, so the herd comes back every TTL.
//!
//! Without help, each miss fetches on its own. A popular key that misses is
//! fetched once per reader until the first fetch returns, and the longer the
//! database's queue, the longer that takes and the more duplicate fetches
//! pile up behind it (the *thundering herd*, or *cache stampede*). Readers
//! time out and ask again; the database keeps working on fetches nobody
//! waits for. The two cures modelled here:
//!
//! - **request coalescing** (`single_flight = true`, after Go's
//!   `singleflight`): one database fetch per key in flight; other misses for
//!   that key wait for it. The database sees at most one fetch per key, so a
//!   cold start costs it about as many fetches as there are keys;
//! - **jittered TTLs** (`ttl_jitter = j`): each entry's TTL is drawn
//!   uniformly in `[ttl * (1 - j), ttl]`, so entries loaded together expire
//!   apart and their refreshes spread out.
//!
//! # Nodes (by index)
//!
//! | node | role | state |
//! |---|---|---|
//! | `n1` ([`DATABASE`]) | [`Database`] | `workers`, a bounded FIFO queue of fetches (volatile) |
//! | `n2` ([`CACHE`]) | [`CacheServer`] | each key's expiry in its local time, the fetches in flight (volatile: a restart comes up empty) |
//! | `c1`.. | [`CacheClient`] | its one open request (closed loop) |
//!
//! ```text
//!  client --Get--> cache --hit--------------------------> Answer(ok)
//!                        --miss--Fetch--> database queue -> worker (service time)
//!                                  <--Fetched(ok | shed)--
//!                        <-- fills the entry (ttl), answers every waiter
//! ```
//!
//! Clients run a closed loop (`[workload]`): think for a uniform time in
//! `think`, read one key drawn with Zipf popularity (key `k` of `keys` with
//! weight `1 / k^zipf`), wait up to the workload's `timeout` (the request's
//! deadline), repeat. A request is *good* if answered within its deadline.
//!
//! The database runs `workers` fetches at once, each for a service time drawn
//! uniformly in `service`; more wait in a FIFO queue of at most `queue`; a
//! fetch beyond that is shed (`Fetched { ok: false }`), and the cache answers
//! its waiters with an error. The database never knows that a reader gave
//! up, so it does the work for abandoned reads, as real databases do.
//!
//! The cache answers a hit at once. On a miss it sends a fetch (or, with
//! single flight, joins the key's fetch in flight) and sets a
//! `fetch_timeout` timer; when that fires first, the waiters get an error and
//! the key may be fetched again. A fetch that comes back late still fills
//! the entry. `prewarm = true` loads every key at the cache's first start
//! (all with the same load time: "entries loaded together"); the marker that
//! it did is the only thing the cache writes to disk, so a restart comes up
//! empty. The `flush` knob (a `set` fault on `n2`) empties it mid-run.
//!
//! # Records
//!
//! The retry family's contract (see `Model::quiet_records`): clients record
//! `request {id}`, `call {id, attempt}` and `done {id, ok, good, latency_ns,
//! calls, why}` (`why`: `ok`, `timeout`, `error`, `shed`); the database
//! `served {queue}` and `shed {why: "queue_full", queue}` (`queue`: fetches
//! waiting after this one). The cache records `hit {key}`, `miss {key,
//! expired, coalesced}` (`coalesced`: it joined a fetch in flight, no new
//! database work), and, narrated, `cold {}` (it started empty) and `flush
//! {entries}`.
//!
//! Deliberately left out: writes and invalidation (the database's values
//! never change, so a cache can never be stale here), eviction (the cache
//! holds every key; `keys` is at most 1000), retries (a client that times
//! out simply moves on to its next read).
//!
//! # Famous bugs
//!
//! [`KNOWN_BUGS`] (`bugs = [...]` in `[cache]`): `ttl_jitter_ignored` (the
//! drawn TTL is not applied) and `no_coalescing_when_cold` (single flight
//! skips keys never loaded), both in `cache_server.rs`.
//! `scenarios/cache-bug-*.toml` teach them; `cache-ttl-jitter` and
//! `cache-cold-start-coalesced` catch them.

mod cache_server;
mod client;
mod database;
mod model;
mod popularity;
#[cfg(test)]
mod tests;

pub use cache_server::CacheServer;
pub use client::CacheClient;
pub use database::Database;
pub use model::{CacheModel, CacheTable};
pub use popularity::Popularity;

use crate::models::bugs::{BugInfo, Bugs};
use crate::node::NodeId;
use crate::time::SimDuration;

/// The famous mistakes the model can make (`bugs = [...]`), both in the
/// cache's cures for the thundering herd.
pub const KNOWN_BUGS: &[BugInfo] = &[
    BugInfo {
        name: "ttl_jitter_ignored",
        about: "the cache draws each entry's jittered TTL and then stores the entry with the plain `ttl`: entries loaded together expire together again, and every TTL the whole read load lands on the database at once (the herd jitter was there to spread)",
    },
    BugInfo {
        name: "no_coalescing_when_cold",
        about: "single flight joins a fetch in flight only when the missed entry had expired, not when the key was never loaded: after a cold start (or a flush) every miss of a popular key fetches on its own, and the herd single flight was there to stop reaches the database",
    },
];
use std::sync::Arc;

/// The database (`n1`).
pub const DATABASE: NodeId = NodeId(0);
/// The cache (`n2`).
pub const CACHE: NodeId = NodeId(1);

/// The record kinds the nodes emit (the retry family's contract names).
pub mod kinds {
    pub use crate::check::service::{CALL, DONE, REQUEST, SERVED, SHED};
    /// The cache answered from memory.
    pub const HIT: &str = "hit";
    /// The cache did not have the key (or it had expired).
    pub const MISS: &str = "miss";
    /// The cache started empty.
    pub const COLD: &str = "cold";
    /// The cache was emptied by the `flush` knob.
    pub const FLUSH: &str = "flush";
}

/// The model's validated parameters (the `[cache]` table and `[workload] keys`).
#[derive(Clone, Debug)]
pub struct CacheParams {
    /// Fetches the database runs at once.
    pub workers: u32,
    /// Fetches that may wait in the database's queue; more are shed.
    pub queue: u32,
    /// Shortest service time of one fetch.
    pub service_min: SimDuration,
    /// Longest service time of one fetch.
    pub service_max: SimDuration,
    /// An entry's longest time to live (cache's local clock).
    pub ttl: SimDuration,
    /// How much shorter than `ttl` an entry's TTL may be drawn:
    /// `ttl * ttl_jitter`, so a TTL is uniform in `[ttl - span, ttl]`.
    pub ttl_jitter_span: SimDuration,
    /// One database fetch per key in flight; other misses wait for it.
    pub single_flight: bool,
    /// How long the cache waits for a fetch before failing its waiters.
    pub fetch_timeout: SimDuration,
    /// Load every key at the cache's first start.
    pub prewarm: bool,
    /// How clients pick keys.
    pub popularity: Arc<Popularity>,
    /// The famous mistakes switched on ([`KNOWN_BUGS`]).
    pub bugs: Bugs,
}

impl CacheParams {
    /// How many keys there are (`k1..kN`).
    pub fn keys(&self) -> u32 {
        self.popularity.keys()
    }
}

/// The nodes' messages.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum CacheMsg {
    /// Client to cache: read `key` (0-based; named `k{key+1}`) for request `id`.
    Get {
        /// The client's request id.
        id: u64,
        /// The key.
        key: u32,
    },
    /// Cache to client: how request `id` ended.
    Answer {
        /// The client's request id.
        id: u64,
        /// Answered with the value, or why not.
        outcome: Outcome,
    },
    /// Cache to database: load `key`.
    Fetch {
        /// The cache's fetch id.
        fetch: u64,
        /// The key.
        key: u32,
    },
    /// Database to cache: the fetch is done (`ok`) or was shed.
    Fetched {
        /// The cache's fetch id.
        fetch: u64,
        /// The key.
        key: u32,
        /// False if the database shed it.
        ok: bool,
    },
}

/// How the cache answered a read.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// The value (from memory or freshly fetched).
    Value,
    /// The database shed the fetch.
    Shed,
    /// The fetch did not come back within `fetch_timeout`.
    Error,
}

/// The name of key `key` (0-based) in records: `k1`, `k2`, ...
pub fn key_name(key: u32) -> String {
    format!("k{}", u64::from(key) + 1)
}
