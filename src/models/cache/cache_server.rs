//! The cache (`n2`): answers hits from memory, fetches misses from the
//! database, optionally one fetch per key (single flight).
//!
//! ```text
//!  Get(key) -> fresh entry?        yes: hit, answer now
//!              no, single flight and a fetch of key in flight: wait for it
//!              no: Fetch(key) to the database, wait (fetch_timeout)
//!  Fetched(ok)    -> entry expires at now + ttl (jittered); answer the waiters
//!  Fetched(shed)  -> answer the waiters Shed
//!  fetch_timeout  -> answer the waiters Error; the key may be fetched again
//! ```
//!
//! Invariants: with single flight, at most one fetch per key is in flight
//! (`by_key` names it); every waiter is answered at most once (its fetch is
//! removed when answered). The entries live in memory only: a crash and
//! restart comes up empty (a cold start), and so does a `flush`.

use super::{key_name, kinds, CacheMsg, CacheParams, Outcome, DATABASE};
use crate::clock::LocalTime;
use crate::models::bugs::Bugs;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::json;
use std::collections::BTreeMap;

/// The disk marker that the first start loaded every key (`prewarm`).
const PREWARMED: &str = "prewarmed";

/// A database fetch the cache waits for, and who waits.
#[derive(Debug)]
struct InFlight {
    key: u32,
    /// (client, request id), in arrival order.
    waiters: Vec<(NodeId, u64)>,
    timer: TimerId,
}

/// Node `n2`: a read-through cache with TTLs.
#[derive(Debug)]
pub struct CacheServer {
    ttl: SimDuration,
    ttl_jitter_span: SimDuration,
    single_flight: bool,
    fetch_timeout: SimDuration,
    prewarm: bool,
    /// The famous mistakes switched on.
    bugs: Bugs,
    /// Each key's expiry (local time), if it was ever loaded since the start.
    entries: Vec<Option<LocalTime>>,
    /// Fetches in flight, by fetch id (also their timeout timer's tag).
    in_flight: BTreeMap<u64, InFlight>,
    /// With single flight: the fetch in flight for each key.
    by_key: Vec<Option<u64>>,
    next_fetch: u64,
}

impl CacheServer {
    /// A fresh, empty cache.
    pub fn new(params: &CacheParams) -> CacheServer {
        let keys = params.keys() as usize;
        CacheServer {
            ttl: params.ttl,
            ttl_jitter_span: params.ttl_jitter_span,
            single_flight: params.single_flight,
            fetch_timeout: params.fetch_timeout,
            prewarm: params.prewarm,
            bugs: params.bugs,
            entries: vec![None; keys],
            in_flight: BTreeMap::new(),
            by_key: vec![None; keys],
            next_fetch: 0,
        }
    }

    /// Keys whose entry is fresh at local time `now`.
    pub fn fresh_entries(&self, now: LocalTime) -> usize {
        self.entries
            .iter()
            .filter(|e| e.is_some_and(|expiry| now < expiry))
            .count()
    }

    /// Database fetches the cache waits for.
    pub fn fetches_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// `key`'s expiry, if it was loaded.
    pub fn expiry(&self, key: u32) -> Option<LocalTime> {
        self.entries.get(key as usize).copied().flatten()
    }

    /// An entry's TTL: uniform in `[ttl - span, ttl]`.
    fn draw_ttl(&self, ctx: &mut Ctx<'_, CacheMsg>) -> SimDuration {
        let span = self.ttl_jitter_span.as_nanos();
        if span == 0 {
            return self.ttl;
        }
        let ttl = self.ttl.as_nanos();
        debug_assert!(span < ttl, "jitter span {span} >= ttl {ttl}");
        SimDuration(ctx.rng().between(ttl - span, ttl))
    }

    fn fill(&mut self, ctx: &mut Ctx<'_, CacheMsg>, key: u32) {
        let ttl = self.draw_ttl(ctx);
        // The rule: the entry lives for its own jittered TTL, so entries
        // loaded together expire apart. The bug draws it and stores the
        // entry with the plain `ttl`.
        let ttl = if self.bugs.has("ttl_jitter_ignored") {
            self.ttl
        } else {
            ttl
        };
        self.entries[key as usize] = Some(ctx.now_local() + ttl);
    }

    fn on_get(&mut self, ctx: &mut Ctx<'_, CacheMsg>, from: NodeId, id: u64, key: u32) {
        let Some(entry) = self.entries.get(key as usize).copied() else {
            // Clients draw keys below `keys`; anything else is not ours to serve.
            ctx.send(
                from,
                CacheMsg::Answer {
                    id,
                    outcome: Outcome::Error,
                },
            );
            return;
        };
        let now = ctx.now_local();
        if entry.is_some_and(|expiry| now < expiry) {
            ctx.record(kinds::HIT, json!({ "key": key_name(key) }));
            ctx.send(
                from,
                CacheMsg::Answer {
                    id,
                    outcome: Outcome::Value,
                },
            );
            return;
        }
        let expired = entry.is_some();
        // The rule: with single flight, any miss of a key with a fetch in
        // flight joins it. The bug joins only when the entry had expired,
        // so a key never loaded (a cold start, a flush) fetches per miss.
        let coalesce = expired || !self.bugs.has("no_coalescing_when_cold");
        let joined = self.by_key[key as usize]
            .filter(|_| coalesce)
            .and_then(|f| self.in_flight.get_mut(&f));
        if let Some(flight) = joined {
            flight.waiters.push((from, id));
            let detail = json!({ "key": key_name(key), "expired": expired, "coalesced": true });
            ctx.record(kinds::MISS, detail);
            return;
        }
        let detail = json!({ "key": key_name(key), "expired": expired, "coalesced": false });
        ctx.record(kinds::MISS, detail);
        self.fetch(ctx, key, (from, id));
    }

    fn fetch(&mut self, ctx: &mut Ctx<'_, CacheMsg>, key: u32, waiter: (NodeId, u64)) {
        let fetch = self.next_fetch;
        self.next_fetch += 1;
        let timer = ctx.set_timer(self.fetch_timeout, fetch);
        let waiters = vec![waiter];
        self.in_flight.insert(
            fetch,
            InFlight {
                key,
                waiters,
                timer,
            },
        );
        if self.single_flight {
            debug_assert!(
                self.by_key[key as usize].is_none() || self.bugs.has("no_coalescing_when_cold"),
                "two fetches of one key in flight"
            );
            self.by_key[key as usize] = Some(fetch);
        }
        ctx.send(DATABASE, CacheMsg::Fetch { fetch, key });
    }

    fn on_fetched(&mut self, ctx: &mut Ctx<'_, CacheMsg>, fetch: u64, key: u32, ok: bool) {
        if key as usize >= self.entries.len() {
            return;
        }
        if ok {
            // A fetch that comes back after its timeout still fills the entry.
            self.fill(ctx, key);
        }
        // A fetch id from before a restart may name another key now.
        if self.in_flight.get(&fetch).is_some_and(|f| f.key == key) {
            let flight = self.end_flight(fetch);
            ctx.cancel_timer(flight.timer);
            let outcome = if ok { Outcome::Value } else { Outcome::Shed };
            answer(ctx, &flight.waiters, outcome);
        }
    }

    fn on_fetch_timeout(&mut self, ctx: &mut Ctx<'_, CacheMsg>, timer: TimerId) {
        let fetch = timer.tag();
        if self.in_flight.get(&fetch).is_some_and(|f| f.timer == timer) {
            let flight = self.end_flight(fetch);
            answer(ctx, &flight.waiters, Outcome::Error);
        }
    }

    /// Removes fetch `fetch` from the books (it must be in flight).
    fn end_flight(&mut self, fetch: u64) -> InFlight {
        let flight = self
            .in_flight
            .remove(&fetch)
            .expect("the fetch is in flight");
        let slot = &mut self.by_key[flight.key as usize];
        if *slot == Some(fetch) {
            *slot = None;
        }
        flight
    }

    fn flush(&mut self, ctx: &mut Ctx<'_, CacheMsg>) {
        let now = ctx.now_local();
        let entries = self.fresh_entries(now) as u64;
        self.entries.iter_mut().for_each(|e| *e = None);
        ctx.record(kinds::FLUSH, json!({ "entries": entries }));
    }
}

fn answer(ctx: &mut Ctx<'_, CacheMsg>, waiters: &[(NodeId, u64)], outcome: Outcome) {
    for &(client, id) in waiters {
        ctx.send(client, CacheMsg::Answer { id, outcome });
    }
}

impl Node<CacheMsg> for CacheServer {
    fn on_start(&mut self, ctx: &mut Ctx<'_, CacheMsg>) {
        if self.prewarm && ctx.storage().get(PREWARMED).is_none() {
            for key in 0..self.entries.len() as u32 {
                self.fill(ctx, key);
            }
            ctx.storage().put(PREWARMED, Vec::new());
            ctx.storage().sync();
        } else {
            ctx.record(kinds::COLD, json!({}));
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, CacheMsg>, from: NodeId, msg: CacheMsg) {
        match msg {
            CacheMsg::Get { id, key } => self.on_get(ctx, from, id, key),
            CacheMsg::Fetched { fetch, key, ok } => self.on_fetched(ctx, fetch, key, ok),
            CacheMsg::Answer { .. } | CacheMsg::Fetch { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, CacheMsg>, timer: TimerId) {
        self.on_fetch_timeout(ctx, timer);
    }

    /// `flush` (any value): drops every entry; returns 0.
    fn on_knob(&mut self, ctx: &mut Ctx<'_, CacheMsg>, knob: &str, _value: f64) -> Option<f64> {
        if knob != "flush" {
            return None;
        }
        self.flush(ctx);
        Some(0.0)
    }

    fn debug_state(&self) -> Option<String> {
        let loaded = self.entries.iter().filter(|e| e.is_some()).count();
        Some(format!(
            "{loaded} of {} keys loaded, {} fetches in flight",
            self.entries.len(),
            self.in_flight.len()
        ))
    }
}
