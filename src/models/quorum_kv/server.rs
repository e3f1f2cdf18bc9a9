//! A server: a replica of the keys it is home for, a stand-in for others,
//! and the coordinator of the client requests it receives.

use super::{key_name, Entry, Outcome, QkvMsg, Quorum, QuorumParams, Reads, Version};
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// The anti-entropy (and hinted handoff) tick.
pub(crate) const ANTI_ENTROPY: u64 = 1;
/// A request's time is up.
pub(crate) const REQUEST_TIMEOUT: u64 = 2;
/// A request's home replicas are slow: a sloppy quorum turns to stand-ins.
pub(crate) const SLOPPY: u64 = 3;

const BOOT_KEY: &str = "boot";
const HINTS_KEY: &str = "hints";

fn entry_key(key: u32) -> String {
    format!("kv/{key}")
}

/// What a coordinator is doing for one client request.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// A get, collecting replicas' copies.
    Read,
    /// A consistent get writing the highest copy back before answering.
    WriteBack,
    /// A put asking for the highest version.
    Query,
    /// A put writing its new version.
    Write,
    /// Answered; collecting the remaining copies for read repair.
    Repair,
}

/// One request a coordinator works on.
#[derive(Debug)]
struct Request {
    client: NodeId,
    op: u64,
    key: u32,
    /// The value of a put.
    put: Option<String>,
    phase: Phase,
    /// Copies replicas answered with (this request's reads).
    copies: BTreeMap<NodeId, Entry>,
    /// What is being written (a put's new copy, or a write-back).
    writing: Option<Entry>,
    /// The servers that hold `writing` (acknowledged it, or answered with it).
    acks: BTreeSet<NodeId>,
    /// Stand-ins already asked to keep a hint.
    stand_ins: BTreeSet<NodeId>,
    timer: TimerId,
    /// Sloppy quorum: when to turn to stand-ins.
    sloppy: Option<TimerId>,
    /// An eventual read: the one replica whose copy it answers with.
    chosen: Option<NodeId>,
}

/// A replica and coordinator (see the module docs).
#[derive(Debug)]
pub struct Server {
    params: QuorumParams,
    /// This server's copies of the keys it is home for.
    store: BTreeMap<u32, Entry>,
    /// Hints kept for home replicas: (home, key) -> copy.
    hints: BTreeMap<(u32, u32), Entry>,
    boot: u64,
    next_req: u64,
    requests: BTreeMap<u64, Request>,
}

impl Server {
    /// A fresh server (its copies are read from disk in `on_start`).
    pub fn new(params: QuorumParams) -> Server {
        Server {
            params,
            store: BTreeMap::new(),
            hints: BTreeMap::new(),
            boot: 0,
            next_req: 0,
            requests: BTreeMap::new(),
        }
    }

    /// This server's copy of `key` (the empty copy if it has none).
    pub fn copy(&self, key: u32) -> Entry {
        self.store.get(&key).cloned().unwrap_or_default()
    }

    /// The hints it keeps, as (home, key, version).
    pub fn hinted(&self) -> Vec<(NodeId, u32, Version)> {
        self.hints
            .iter()
            .map(|(&(home, key), e)| (NodeId(home), key, e.version))
            .collect()
    }

    fn home_keys(&self, me: NodeId) -> Vec<u32> {
        (0..self.params.keys)
            .filter(|&k| self.params.is_home(k, me))
            .collect()
    }

    /// Keeps `entry` for `key` if it is newer; true if it was.
    fn apply(&mut self, ctx: &mut Ctx<'_, QkvMsg>, key: u32, entry: &Entry) -> bool {
        debug_assert!(
            self.params.is_home(key, ctx.id()),
            "only home replicas apply"
        );
        // The rule: keep a copy only if it is newer (last writer wins).
        // Bug: keep whatever arrives last, unless it is the very same version.
        let held = self.copy(key).version;
        if self.params.bugs.has("last_arrival_wins") {
            if entry.version == held {
                return false;
            }
        } else if entry.version <= held {
            return false;
        }
        ctx.storage().put_json(entry_key(key), entry);
        ctx.storage().sync();
        ctx.record(
            "apply",
            json!({ "key": key_name(key), "version": entry.version.json(), "value": entry.value }),
        );
        self.store.insert(key, entry.clone());
        true
    }

    fn save_hints(&self, ctx: &mut Ctx<'_, QkvMsg>) {
        let hints: Vec<(u32, u32, Entry)> = self
            .hints
            .iter()
            .map(|(&(home, key), e)| (home, key, e.clone()))
            .collect();
        ctx.storage().put_json(HINTS_KEY, &hints);
        ctx.storage().sync();
    }

    // ----- replica -----

    fn on_write(
        &mut self,
        ctx: &mut Ctx<'_, QkvMsg>,
        key: u32,
        entry: Entry,
        hint: Option<NodeId>,
    ) {
        match hint {
            Some(home) if home != ctx.id() => {
                let slot = (home.0, key);
                if self
                    .hints
                    .get(&slot)
                    .is_none_or(|h| h.version < entry.version)
                {
                    ctx.record(
                        "hint",
                        json!({ "key": key_name(key), "version": entry.version.json(), "home": ctx.name(home) }),
                    );
                    self.hints.insert(slot, entry);
                    self.save_hints(ctx);
                }
            }
            _ => {
                self.apply(ctx, key, &entry);
            }
        }
    }

    fn anti_entropy(&mut self, ctx: &mut Ctx<'_, QkvMsg>) {
        let me = ctx.id();
        let peers: Vec<NodeId> = ctx
            .peers()
            .iter()
            .copied()
            .filter(|p| p.index() < self.params.servers)
            .collect();
        for peer in peers {
            let versions: Vec<(u32, Version)> = self
                .home_keys(me)
                .into_iter()
                .filter(|&k| self.params.is_home(k, peer))
                .map(|k| (k, self.copy(k).version))
                .collect();
            if !versions.is_empty() {
                ctx.send(peer, QkvMsg::Digest { versions });
            }
        }
        for (&(home, key), entry) in &self.hints {
            ctx.send(
                NodeId(home),
                QkvMsg::Handoff {
                    key,
                    entry: entry.clone(),
                },
            );
        }
        ctx.set_timer(self.params.anti_entropy, ANTI_ENTROPY);
    }

    fn on_digest(
        &mut self,
        ctx: &mut Ctx<'_, QkvMsg>,
        from: NodeId,
        versions: Vec<(u32, Version)>,
    ) {
        let mut want = Vec::new();
        for (key, theirs) in versions {
            if !self.params.is_home(key, ctx.id()) {
                continue;
            }
            let mine = self.copy(key);
            if mine.version > theirs {
                ctx.send(from, QkvMsg::Update { key, entry: mine });
            } else if mine.version < theirs {
                want.push(key);
            }
        }
        if !want.is_empty() {
            ctx.send(from, QkvMsg::Want { keys: want });
        }
    }

    fn on_handoff_ack(
        &mut self,
        ctx: &mut Ctx<'_, QkvMsg>,
        from: NodeId,
        key: u32,
        version: Version,
    ) {
        let slot = (from.0, key);
        if self.hints.get(&slot).is_some_and(|h| h.version <= version) {
            self.hints.remove(&slot);
            self.save_hints(ctx);
            ctx.record(
                "handoff",
                json!({ "key": key_name(key), "version": version.json(), "home": ctx.name(from) }),
            );
        }
    }

    // ----- coordinator -----

    /// How long each phase of a put waits for home replicas before a
    /// sloppy quorum moves on: a quarter of the request's time.
    fn sloppy_after(params: &QuorumParams) -> SimDuration {
        SimDuration::from_nanos((params.timeout.as_nanos() / 4).max(1))
    }

    fn begin(
        &mut self,
        ctx: &mut Ctx<'_, QkvMsg>,
        client: NodeId,
        op: u64,
        key: u32,
        put: Option<String>,
    ) {
        if key >= self.params.keys {
            return; // not a key of this store
        }
        self.next_req += 1;
        let req = (self.boot << 32) | self.next_req;
        let home = self.params.home(key);
        let phase = if put.is_some() {
            Phase::Query
        } else {
            Phase::Read
        };
        // An eventual read answers with one replica's copy, picked at
        // random; the others are asked only for read repair.
        let chosen = (put.is_none() && self.params.reads == Reads::Eventual)
            .then(|| home[ctx.rng().below(home.len() as u64) as usize]);
        let everyone = chosen.is_none() || self.params.read_repair;
        // The rule: a put first asks R replicas for the highest version.
        // Bug: skip the query; the version comes from what this coordinator
        // knows by itself (its own copy and the counters it issued).
        let skip_query = put.is_some() && self.params.bugs.has("write_without_version_read");
        for &replica in &home {
            if skip_query {
                break;
            }
            if everyone || Some(replica) == chosen {
                ctx.send(replica, QkvMsg::Read { req, key });
            }
        }
        let timer = ctx.set_timer(self.params.timeout, REQUEST_TIMEOUT);
        let sloppy = (self.params.quorum == Quorum::Sloppy && put.is_some())
            .then(|| ctx.set_timer(Self::sloppy_after(&self.params), SLOPPY));
        self.requests.insert(
            req,
            Request {
                client,
                op,
                key,
                put,
                phase,
                copies: BTreeMap::new(),
                writing: None,
                acks: BTreeSet::new(),
                stand_ins: BTreeSet::new(),
                timer,
                sloppy,
                chosen,
            },
        );
        if skip_query {
            self.start_write(ctx, req);
        }
    }

    fn on_read_ack(&mut self, ctx: &mut Ctx<'_, QkvMsg>, from: NodeId, req: u64, entry: Entry) {
        let Some(request) = self.requests.get_mut(&req) else {
            return;
        };
        request.copies.insert(from, entry);
        match request.phase {
            Phase::Read => self.read_progress(ctx, req),
            Phase::Query if request.copies.len() >= self.params.r => self.start_write(ctx, req),
            Phase::Repair if request.copies.len() >= self.params.replicas => {
                self.finish_repair(ctx, req)
            }
            _ => {}
        }
    }

    /// The highest copy a request's replicas answered with.
    fn highest(request: &Request) -> Entry {
        request
            .copies
            .values()
            .max_by_key(|e| e.version)
            .cloned()
            .unwrap_or_default()
    }

    fn read_progress(&mut self, ctx: &mut Ctx<'_, QkvMsg>, req: u64) {
        let Some(request) = self.requests.get_mut(&req) else {
            return;
        };
        match self.params.reads {
            Reads::Eventual => {
                // The chosen replica's copy, whatever it is.
                let Some(entry) = request.chosen.and_then(|c| request.copies.get(&c)).cloned()
                else {
                    return;
                };
                ctx.send(
                    request.client,
                    QkvMsg::Reply {
                        op: request.op,
                        outcome: Outcome::Value(entry),
                    },
                );
                self.after_reply(ctx, req);
            }
            Reads::Consistent if request.copies.len() >= self.params.r => {
                let top = Self::highest(request);
                request.acks = request
                    .copies
                    .iter()
                    .filter(|(_, e)| e.version == top.version)
                    .map(|(&n, _)| n)
                    .collect();
                // ABD: a read may answer only once W replicas hold what it
                // returns, so that no later read can return anything older.
                // Bug: answer with the highest of the R copies at once,
                // without the write-back.
                if request.acks.len() >= self.params.w
                    || self.params.bugs.has("read_without_write_back")
                {
                    ctx.send(
                        request.client,
                        QkvMsg::Reply {
                            op: request.op,
                            outcome: Outcome::Value(top),
                        },
                    );
                    self.after_reply(ctx, req);
                } else {
                    request.phase = Phase::WriteBack;
                    let missing: Vec<NodeId> = self
                        .params
                        .home(request.key)
                        .into_iter()
                        .filter(|n| !request.acks.contains(n))
                        .collect();
                    for replica in missing {
                        ctx.send(
                            replica,
                            QkvMsg::Write {
                                req,
                                key: request.key,
                                entry: top.clone(),
                                hint: None,
                            },
                        );
                    }
                    request.writing = Some(top);
                }
            }
            Reads::Consistent => {}
        }
    }

    /// After answering a read: wait for the rest of the copies to repair
    /// stale replicas, or forget the request.
    fn after_reply(&mut self, ctx: &mut Ctx<'_, QkvMsg>, req: u64) {
        let Some(request) = self.requests.get_mut(&req) else {
            return;
        };
        if self.params.read_repair && request.copies.len() < self.params.replicas {
            request.phase = Phase::Repair;
        } else {
            self.finish_repair(ctx, req);
        }
    }

    /// Read repair: the newest copy to every replica that answered with an older one.
    fn finish_repair(&mut self, ctx: &mut Ctx<'_, QkvMsg>, req: u64) {
        let Some(request) = self.requests.remove(&req) else {
            return;
        };
        ctx.cancel_timer(request.timer);
        if !self.params.read_repair {
            return;
        }
        let top = Self::highest(&request);
        for (&replica, copy) in &request.copies {
            // A replica that acknowledged the write-back holds it already.
            if copy.version < top.version && !request.acks.contains(&replica) {
                ctx.record(
                    "read_repair",
                    json!({ "key": key_name(request.key), "version": top.version.json(), "to": ctx.name(replica) }),
                );
                ctx.send(
                    replica,
                    QkvMsg::Update {
                        key: request.key,
                        entry: top.clone(),
                    },
                );
            }
        }
    }

    /// A put has its version query's answers (or, sloppy, what it could get):
    /// the next version goes to the home replicas.
    fn start_write(&mut self, ctx: &mut Ctx<'_, QkvMsg>, req: u64) {
        let me = ctx.id();
        let own = self.known_version(me, self.requests[&req].key);
        let Some(request) = self.requests.get_mut(&req) else {
            return;
        };
        let top = Self::highest(request).version.max(own);
        // Versions must be unique: two puts this server coordinates at once
        // may find the same highest version, so the counter also passes the
        // last one it issued for the key (kept on disk across crashes).
        let issued_key = format!("issued/{}", request.key);
        let issued: u64 = ctx.storage().get_json(&issued_key).unwrap_or(0);
        let counter = top.counter.max(issued) + 1;
        ctx.storage().put_json(&issued_key, &counter);
        ctx.storage().sync();
        let entry = Entry {
            version: Version {
                counter,
                node: me.0,
            },
            value: request.put.clone().unwrap_or_default(),
        };
        debug_assert!(
            entry.version > top,
            "a put's version passes every version it found"
        );
        request.phase = Phase::Write;
        if let Some(timer) = request.sloppy.take() {
            ctx.cancel_timer(timer);
            request.sloppy = Some(ctx.set_timer(Self::sloppy_after(&self.params), SLOPPY));
        }
        for replica in self.params.home(request.key) {
            ctx.send(
                replica,
                QkvMsg::Write {
                    req,
                    key: request.key,
                    entry: entry.clone(),
                    hint: None,
                },
            );
        }
        request.writing = Some(entry);
    }

    /// The highest version of `key` this server knows of itself (its copy, or a hint).
    fn known_version(&self, me: NodeId, key: u32) -> Version {
        let hinted = self
            .hints
            .iter()
            .filter(|(&(_, k), _)| k == key)
            .map(|(_, e)| e.version)
            .max()
            .unwrap_or_default();
        let own = if self.params.is_home(key, me) {
            self.copy(key).version
        } else {
            Version::default()
        };
        own.max(hinted)
    }

    fn on_write_ack(&mut self, ctx: &mut Ctx<'_, QkvMsg>, from: NodeId, req: u64) {
        let Some(request) = self.requests.get_mut(&req) else {
            return;
        };
        if !matches!(request.phase, Phase::Write | Phase::WriteBack) {
            return;
        }
        debug_assert!(
            self.params.is_home(request.key, from) || request.stand_ins.contains(&from),
            "a write acknowledged by a server that was not asked"
        );
        request.acks.insert(from);
        if request.acks.len() < self.params.w {
            return;
        }
        let entry = request.writing.clone().expect("a write in progress");
        if request.phase == Phase::Write {
            ctx.send(
                request.client,
                QkvMsg::Reply {
                    op: request.op,
                    outcome: Outcome::Written(entry.version),
                },
            );
            let request = self.requests.remove(&req).expect("present");
            ctx.cancel_timer(request.timer);
        } else {
            ctx.send(
                request.client,
                QkvMsg::Reply {
                    op: request.op,
                    outcome: Outcome::Value(entry),
                },
            );
            self.after_reply(ctx, req);
        }
    }

    /// Sloppy quorum: the home replicas that have not answered get stand-ins.
    fn on_sloppy(&mut self, ctx: &mut Ctx<'_, QkvMsg>, timer: TimerId) {
        let Some((&req, _)) = self.requests.iter().find(|(_, r)| r.sloppy == Some(timer)) else {
            return;
        };
        if self.requests[&req].phase == Phase::Query {
            // Not R answers in time: go on with the versions known, and
            // give the home replicas another quarter to acknowledge.
            self.start_write(ctx, req);
            return;
        }
        let request = self.requests.get_mut(&req).expect("present");
        let entry = request.writing.clone().expect("a write in progress");
        let absent: Vec<NodeId> = self
            .params
            .home(request.key)
            .into_iter()
            .filter(|n| !request.acks.contains(n))
            .collect();
        let spare = self.params.stand_ins(request.key);
        for (home, stand_in) in absent.into_iter().zip(spare) {
            request.stand_ins.insert(stand_in);
            ctx.send(
                stand_in,
                QkvMsg::Write {
                    req,
                    key: request.key,
                    entry: entry.clone(),
                    hint: Some(home),
                },
            );
        }
    }

    fn on_request_timeout(&mut self, ctx: &mut Ctx<'_, QkvMsg>, timer: TimerId) {
        let Some((&req, _)) = self.requests.iter().find(|(_, r)| r.timer == timer) else {
            return;
        };
        let request = &self.requests[&req];
        if request.phase == Phase::Repair {
            self.finish_repair(ctx, req);
            return;
        }
        let request = self.requests.remove(&req).expect("present");
        let f = if request.put.is_some() { "put" } else { "get" };
        let mut detail = json!({
            "key": key_name(request.key),
            "f": f,
            "answers": request.copies.len(),
            "acks": request.acks.len(),
        });
        if let Some(chosen) = request.chosen {
            detail["chosen"] = json!(ctx.name(chosen));
        }
        ctx.record("unavailable", detail);
        ctx.send(
            request.client,
            QkvMsg::Reply {
                op: request.op,
                outcome: Outcome::Unavailable,
            },
        );
    }
}

impl Node<QkvMsg> for Server {
    fn on_start(&mut self, ctx: &mut Ctx<'_, QkvMsg>) {
        self.boot = ctx.storage().get_json(BOOT_KEY).unwrap_or(0) + 1;
        ctx.storage().put_json(BOOT_KEY, &self.boot);
        ctx.storage().sync();
        for key in self.home_keys(ctx.id()) {
            let entry: Entry = ctx.storage().get_json(&entry_key(key)).unwrap_or_default();
            ctx.record(
                "apply",
                json!({ "key": key_name(key), "version": entry.version.json(), "value": entry.value, "start": true }),
            );
            self.store.insert(key, entry);
        }
        let hints: Vec<(u32, u32, Entry)> = ctx.storage().get_json(HINTS_KEY).unwrap_or_default();
        self.hints = hints.into_iter().map(|(h, k, e)| ((h, k), e)).collect();
        ctx.set_timer(self.params.anti_entropy, ANTI_ENTROPY);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, QkvMsg>, from: NodeId, msg: QkvMsg) {
        match msg {
            QkvMsg::Get { op, key } => self.begin(ctx, from, op, key, None),
            QkvMsg::Put { op, key, value } => self.begin(ctx, from, op, key, Some(value)),
            QkvMsg::Read { req, key } => {
                let entry = if self.params.is_home(key, ctx.id()) {
                    self.copy(key)
                } else {
                    Entry::default()
                };
                ctx.send(from, QkvMsg::ReadAck { req, entry });
            }
            QkvMsg::ReadAck { req, entry } => self.on_read_ack(ctx, from, req, entry),
            QkvMsg::Write {
                req,
                key,
                entry,
                hint,
            } => {
                if hint.is_some() || self.params.is_home(key, ctx.id()) {
                    self.on_write(ctx, key, entry, hint);
                    ctx.send(from, QkvMsg::WriteAck { req });
                }
            }
            QkvMsg::WriteAck { req } => self.on_write_ack(ctx, from, req),
            QkvMsg::Digest { versions } => self.on_digest(ctx, from, versions),
            QkvMsg::Want { keys } => {
                for key in keys {
                    if self.params.is_home(key, ctx.id()) {
                        ctx.send(
                            from,
                            QkvMsg::Update {
                                key,
                                entry: self.copy(key),
                            },
                        );
                    }
                }
            }
            QkvMsg::Update { key, entry } => {
                if self.params.is_home(key, ctx.id()) {
                    self.apply(ctx, key, &entry);
                }
            }
            QkvMsg::Handoff { key, entry } => {
                if self.params.is_home(key, ctx.id()) {
                    let version = entry.version;
                    self.apply(ctx, key, &entry);
                    ctx.send(from, QkvMsg::HandoffAck { key, version });
                }
            }
            QkvMsg::HandoffAck { key, version } => self.on_handoff_ack(ctx, from, key, version),
            QkvMsg::Reply { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, QkvMsg>, timer: TimerId) {
        match timer.tag() {
            ANTI_ENTROPY => self.anti_entropy(ctx),
            REQUEST_TIMEOUT => self.on_request_timeout(ctx, timer),
            SLOPPY => self.on_sloppy(ctx, timer),
            other => debug_assert!(false, "unknown timer tag {other}"),
        }
    }

    fn debug_state(&self) -> Option<String> {
        use crate::models::view;
        let store = self
            .store
            .iter()
            .map(|(k, e)| (key_name(*k), e.version, view::text(&e.value)));
        let hints = self
            .hints
            .iter()
            .map(|((h, k), e)| (NodeId(*h), key_name(*k), e.version));
        view::state(
            "Server",
            &[
                ("store", &view::first(store)),
                ("hints", &view::first(hints)),
                ("boot", &self.boot),
                ("requests", &view::first(self.requests.keys())),
            ],
        )
    }
}
