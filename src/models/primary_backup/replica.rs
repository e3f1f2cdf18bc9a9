//! The register's servers with epochs: sync or async replication, batched
//! shipping, and failover (heartbeats; the lowest-id live backup that hears
//! a majority promotes itself with a new durable epoch).

use super::{PbMsg, PrimaryBackupParams, Reads, Replication, Request};
use crate::clock::LocalTime;
use crate::node::{Ctx, Node, NodeId, TimerId};
use crate::time::SimDuration;
use serde_json::json;
use std::collections::BTreeMap;

/// Timer tags.
pub(crate) const ANTI_ENTROPY: u64 = 1;
pub(crate) const TICK: u64 = 2;
pub(crate) const SHIP: u64 = 3;

const EPOCH_KEY: &str = "epoch";
const WEPOCH_KEY: &str = "wepoch";
const VERSION_KEY: &str = "version";
const VALUE_KEY: &str = "value";

/// At most this many operations wait for acks (older ones are dropped
/// unanswered: their clients gave up long ago).
const MAX_PENDING: usize = 1024;

/// An operation the primary answers once every backup has its version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    version: u64,
    client: NodeId,
    op: u64,
    /// The value to answer with (the write's, or what the read saw).
    value: Option<i64>,
    /// True for a write (answering it records `acked`).
    write: bool,
    /// When the request arrived (local time).
    since: LocalTime,
}

/// A replica of the register in the failover/sync protocol.
#[derive(Debug)]
pub struct Replica {
    params: PrimaryBackupParams,
    me: NodeId,
    /// The highest epoch this server knows (durable).
    epoch: u64,
    /// The primary of `epoch`, if known.
    primary: Option<NodeId>,
    /// The state: `value` written at `version` in epoch `wepoch` (durable).
    wepoch: u64,
    version: u64,
    value: Option<i64>,
    /// When each other server was last heard (local time).
    heard: BTreeMap<NodeId, LocalTime>,
    /// When the primary last spoke as the primary (local time).
    primary_heard: LocalTime,
    /// Primary: the highest state each backup has acked in this epoch.
    acked_by: BTreeMap<NodeId, (u64, u64)>,
    /// Primary, sync: operations waiting for the backups, by version.
    pending: Vec<Pending>,
    /// Primary: a batch ship is scheduled.
    ship_scheduled: bool,
}

impl Replica {
    /// A fresh server (state is loaded from disk in `on_start`).
    pub fn new(params: PrimaryBackupParams) -> Replica {
        Replica {
            params,
            me: NodeId(0),
            epoch: 0,
            primary: None,
            wepoch: 0,
            version: 0,
            value: None,
            heard: BTreeMap::new(),
            primary_heard: LocalTime(0),
            acked_by: BTreeMap::new(),
            pending: Vec::new(),
            ship_scheduled: false,
        }
    }

    /// True while this server believes it is the primary.
    pub fn is_primary(&self) -> bool {
        self.primary == Some(self.me)
    }

    /// The highest epoch it knows.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Its state: (write epoch, version, value).
    pub fn state(&self) -> (u64, u64, Option<i64>) {
        (self.wepoch, self.version, self.value)
    }

    fn lowest(ctx: &Ctx<'_, PbMsg>) -> NodeId {
        ctx.peers()
            .iter()
            .copied()
            .chain([ctx.id()])
            .min()
            .expect("at least this node")
    }

    fn put_msg(&self) -> PbMsg {
        PbMsg::Put {
            epoch: self.epoch,
            wepoch: self.wepoch,
            version: self.version,
            value: self.value,
        }
    }

    fn heartbeat_msg(&self) -> PbMsg {
        PbMsg::Heartbeat {
            epoch: self.epoch,
            primary: self.is_primary(),
        }
    }

    /// Takes a state and syncs it before anything is acknowledged.
    fn adopt(&mut self, ctx: &mut Ctx<'_, PbMsg>, wepoch: u64, version: u64, value: Option<i64>) {
        self.wepoch = wepoch;
        self.version = version;
        self.value = value;
        let storage = ctx.storage();
        storage.put_json(WEPOCH_KEY, &wepoch);
        storage.put_json(VERSION_KEY, &version);
        storage.put_json(VALUE_KEY, &value);
        storage.sync();
        ctx.maybe_fault_point("adopt");
        ctx.record(
            "state",
            json!({ "version": version, "value": value, "epoch": wepoch }),
        );
    }

    /// Learns a higher epoch (durably); a primary steps down, its waiting
    /// operations unanswered.
    fn learn_epoch(&mut self, ctx: &mut Ctx<'_, PbMsg>, epoch: u64, primary: Option<NodeId>) {
        debug_assert!(epoch > self.epoch);
        let was_primary = self.is_primary();
        self.epoch = epoch;
        self.primary = primary;
        ctx.storage().put_json(EPOCH_KEY, &epoch);
        ctx.storage().sync();
        if was_primary {
            self.pending.clear();
            self.acked_by.clear();
            ctx.record(
                "stepped_down",
                json!({ "epoch": epoch, "version": self.version }),
            );
        }
    }

    /// The next epoch this server may begin: the least above `epoch` of
    /// its own, `index + 1 + k * servers` (n1: 1, 4, 7; n2: 2, 5, 8; ... of
    /// three), so that no two servers ever begin the same epoch.
    pub fn next_epoch(epoch: u64, index: u64, servers: u64) -> u64 {
        debug_assert!(index < servers);
        let own = index + 1;
        if epoch < own {
            return own;
        }
        let k = (epoch - own) / servers + 1;
        own + k * servers
    }

    /// Becomes the primary of a new epoch, from its own state.
    fn promote(&mut self, ctx: &mut Ctx<'_, PbMsg>) {
        let servers = ctx.peers().len() as u64 + 1;
        self.epoch = Self::next_epoch(self.epoch, u64::from(self.me.0), servers);
        self.primary = Some(self.me);
        self.acked_by.clear();
        self.pending.clear();
        ctx.storage().put_json(EPOCH_KEY, &self.epoch);
        ctx.storage().sync();
        ctx.record(
            "promoted",
            json!({
                "epoch": self.epoch,
                "wepoch": self.wepoch,
                "version": self.version,
                "value": self.value,
            }),
        );
        ctx.broadcast(self.heartbeat_msg());
        ctx.broadcast(self.put_msg());
    }

    /// Answers a client and, for a write, records the acknowledgement.
    fn answer(&mut self, ctx: &mut Ctx<'_, PbMsg>, p: Pending) {
        if p.write {
            let waited = ctx.now_local().saturating_since(p.since).as_nanos();
            ctx.record(
                "acked",
                json!({
                    "epoch": self.epoch,
                    "version": p.version,
                    "value": p.value,
                    "latency_ns": waited,
                }),
            );
        }
        ctx.send(
            p.client,
            PbMsg::Reply {
                op: p.op,
                value: p.value,
            },
        );
    }

    /// Sync: answers the waiting operations every backup now has.
    fn answer_acked(&mut self, ctx: &mut Ctx<'_, PbMsg>) {
        let backups: Vec<NodeId> = ctx.peers().to_vec();
        let floor = backups
            .iter()
            .map(|b| {
                self.acked_by
                    .get(b)
                    .copied()
                    .filter(|&(wepoch, _)| wepoch == self.epoch)
                    .map_or(0, |(_, version)| version)
            })
            .min()
            .unwrap_or(u64::MAX);
        let ready = self
            .pending
            .iter()
            .take_while(|p| p.version <= floor)
            .count();
        let done: Vec<Pending> = self.pending.drain(..ready).collect();
        for p in done {
            self.answer(ctx, p);
        }
    }

    /// Ships the state to the backups now, or schedules the next batch.
    fn ship(&mut self, ctx: &mut Ctx<'_, PbMsg>) {
        if self.params.ship_every == SimDuration::ZERO {
            ctx.broadcast(self.put_msg());
        } else if !self.ship_scheduled {
            self.ship_scheduled = true;
            ctx.set_timer(self.params.ship_every, SHIP);
        }
    }

    fn handle_request(
        &mut self,
        ctx: &mut Ctx<'_, PbMsg>,
        client: NodeId,
        op: u64,
        request: Request,
    ) {
        let local_read = request == Request::Read && self.params.reads == Reads::Local;
        if local_read {
            ctx.send(
                client,
                PbMsg::Reply {
                    op,
                    value: self.value,
                },
            );
            return;
        }
        if !self.is_primary() {
            // Pass it on to the primary we know of; with none known the
            // client times out and tries again.
            if let Some(primary) = self.primary {
                ctx.send(
                    primary,
                    PbMsg::Forward {
                        client,
                        op,
                        request,
                    },
                );
            }
            return;
        }
        let since = ctx.now_local();
        let sync = self.params.replication == Replication::Sync;
        match request {
            Request::Write(v) => {
                self.adopt(ctx, self.epoch, self.version + 1, Some(v));
                let p = Pending {
                    version: self.version,
                    client,
                    op,
                    value: Some(v),
                    write: true,
                    since,
                };
                // The rule: in sync mode a write is acknowledged only after
                // every backup has synced it. The bug acknowledges it now,
                // as async replication does, and ships it afterwards.
                if sync && !self.params.bugs.has("ack_before_replicate") {
                    self.wait(p);
                } else {
                    self.answer(ctx, p);
                }
                self.ship(ctx);
                self.answer_acked(ctx);
            }
            Request::Read => {
                // A read waits behind writes not yet on every backup: it
                // must not return a value a failover could still lose.
                let p = Pending {
                    version: self.version,
                    client,
                    op,
                    value: self.value,
                    write: false,
                    since,
                };
                if sync && !self.pending.is_empty() {
                    self.wait(p);
                } else {
                    self.answer(ctx, p);
                }
            }
        }
    }

    fn wait(&mut self, p: Pending) {
        debug_assert!(self.pending.last().is_none_or(|q| q.version <= p.version));
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        self.pending.push(p);
    }

    fn on_put(
        &mut self,
        ctx: &mut Ctx<'_, PbMsg>,
        from: NodeId,
        epoch: u64,
        state: (u64, u64, Option<i64>),
    ) {
        if epoch < self.epoch {
            // A deposed primary: tell it the news.
            ctx.send(from, self.heartbeat_msg());
            return;
        }
        if epoch > self.epoch {
            self.learn_epoch(ctx, epoch, Some(from));
        }
        if self.is_primary() {
            // Another primary of our own epoch: impossible, epochs are
            // numbered per server (see `next_epoch`); not followed.
            return;
        }
        self.primary = Some(from);
        self.primary_heard = ctx.now_local();
        let (wepoch, version, value) = state;
        let mine = (self.wepoch, self.version);
        // Newer in the primary's history, or ours was written in an older
        // epoch and the current primary's history says otherwise.
        if (wepoch, version) > mine || (self.wepoch < epoch && (wepoch, version) != mine) {
            self.adopt(ctx, wepoch, version, value);
        }
        ctx.send(
            from,
            PbMsg::PutAck {
                epoch,
                wepoch: self.wepoch,
                version: self.version,
            },
        );
    }

    fn on_heartbeat(
        &mut self,
        ctx: &mut Ctx<'_, PbMsg>,
        from: NodeId,
        epoch: u64,
        is_primary: bool,
    ) {
        if epoch > self.epoch {
            self.learn_epoch(ctx, epoch, is_primary.then_some(from));
        }
        if epoch == self.epoch && is_primary && !self.is_primary() {
            self.primary = Some(from);
            self.primary_heard = ctx.now_local();
        }
    }

    /// A backup that has not heard the primary for the timeout promotes
    /// itself if it is the lowest-id server it hears and hears a majority.
    fn maybe_fail_over(&mut self, ctx: &mut Ctx<'_, PbMsg>) {
        let Some(failover) = self.params.failover else {
            return;
        };
        if self.is_primary() {
            return;
        }
        let now = ctx.now_local();
        let recent = |t: LocalTime| now.saturating_since(t) < failover.timeout;
        if recent(self.primary_heard) {
            return;
        }
        let live: Vec<NodeId> = self
            .heard
            .iter()
            .filter(|(_, t)| recent(**t))
            .map(|(n, _)| *n)
            .collect();
        let servers = ctx.peers().len() + 1;
        if live.iter().any(|n| *n < self.me) || (live.len() + 1) * 2 <= servers {
            return;
        }
        self.promote(ctx);
    }
}

impl Node<PbMsg> for Replica {
    fn on_start(&mut self, ctx: &mut Ctx<'_, PbMsg>) {
        self.me = ctx.id();
        self.epoch = ctx.storage().get_json(EPOCH_KEY).unwrap_or(0);
        self.wepoch = ctx.storage().get_json(WEPOCH_KEY).unwrap_or(0);
        self.version = ctx.storage().get_json(VERSION_KEY).unwrap_or(0);
        self.value = ctx.storage().get_json(VALUE_KEY).unwrap_or(None);
        self.primary_heard = ctx.now_local();
        ctx.record(
            "state",
            json!({ "version": self.version, "value": self.value, "epoch": self.wepoch }),
        );
        let lowest = Self::lowest(ctx);
        if self.epoch == 0 || self.params.failover.is_none() {
            // The first configuration: the lowest id is the primary of
            // epoch 1. Without failover it stays so, across restarts.
            self.primary = Some(lowest);
            if lowest == self.me && self.epoch == 0 {
                self.promote(ctx);
            } else if self.epoch == 0 {
                self.epoch = 1;
            }
        }
        // With failover, a restarted server is a backup that waits to hear
        // the primary (or fails over to one).
        ctx.set_timer(self.params.anti_entropy, ANTI_ENTROPY);
        if let Some(failover) = self.params.failover {
            ctx.set_timer(failover.heartbeat, TICK);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, PbMsg>, from: NodeId, msg: PbMsg) {
        if ctx.peers().contains(&from) {
            self.heard.insert(from, ctx.now_local());
        }
        match msg {
            PbMsg::Request { op, request } => self.handle_request(ctx, from, op, request),
            PbMsg::Forward {
                client,
                op,
                request,
            } => self.handle_request(ctx, client, op, request),
            PbMsg::Put {
                epoch,
                wepoch,
                version,
                value,
            } => self.on_put(ctx, from, epoch, (wepoch, version, value)),
            PbMsg::PutAck {
                epoch,
                wepoch,
                version,
            } => {
                if epoch > self.epoch {
                    self.learn_epoch(ctx, epoch, None);
                } else if epoch == self.epoch && self.is_primary() {
                    let best = self.acked_by.entry(from).or_insert((0, 0));
                    *best = (*best).max((wepoch, version));
                    self.answer_acked(ctx);
                }
            }
            PbMsg::Heartbeat { epoch, primary } => self.on_heartbeat(ctx, from, epoch, primary),
            PbMsg::Replicate { .. } | PbMsg::Reply { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, PbMsg>, timer: TimerId) {
        match timer.tag() {
            ANTI_ENTROPY => {
                if self.is_primary() {
                    ctx.broadcast(self.put_msg());
                }
                ctx.set_timer(self.params.anti_entropy, ANTI_ENTROPY);
            }
            TICK => {
                ctx.broadcast(self.heartbeat_msg());
                self.maybe_fail_over(ctx);
                let failover = self.params.failover.expect("ticks only with failover");
                ctx.set_timer(failover.heartbeat, TICK);
            }
            SHIP => {
                self.ship_scheduled = false;
                if self.is_primary() {
                    ctx.broadcast(self.put_msg());
                }
            }
            other => debug_assert!(false, "unknown timer tag {other}"),
        }
    }

    fn role(&self) -> Option<&'static str> {
        Some(if self.is_primary() {
            "primary"
        } else {
            "backup"
        })
    }

    fn role_rank(&self) -> u64 {
        self.epoch
    }

    fn debug_state(&self) -> Option<String> {
        crate::models::view::state(
            "Replica",
            &[
                ("epoch", &self.epoch),
                ("primary", &self.primary),
                ("wepoch", &self.wepoch),
                ("version", &self.version),
                ("value", &self.value),
                ("pending", &self.pending.len()),
            ],
        )
    }
}
