//! [`NodeHarness`]: one node driven by hand, without the engine, for unit
//! tests of a protocol's rules.
//!
//! The harness owns what the engine would give the node (its id, peers and
//! node names, a [`Storage`], a random stream, a local clock) and calls the
//! node's handlers with a [`Ctx`] built over them. What a handler asked for
//! comes back as data: the messages it sent are returned by the call, its
//! timers wait in the harness until a test fires them, its records pile up
//! for the test to read. Nothing is delivered anywhere and time moves only
//! when the test moves it, so a test states one rule at a time: "given this
//! state, on this message, the node answers that".
//!
//! ```
//! use faultlab::node::testing::NodeHarness;
//! use faultlab::{Ctx, Node, NodeId, SimDuration, TimerId};
//!
//! /// Answers each ping with a pong, and pings its peers every second.
//! struct Pinger;
//!
//! #[derive(Clone, Debug, Hash, PartialEq)]
//! enum Msg {
//!     Ping,
//!     Pong,
//! }
//!
//! impl Node<Msg> for Pinger {
//!     fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
//!         ctx.set_timer(SimDuration::from_secs(1), 0);
//!     }
//!     fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
//!         if msg == Msg::Ping {
//!             ctx.send(from, Msg::Pong);
//!         }
//!         ctx.record("heard", serde_json::json!({ "from": ctx.name(from) }));
//!     }
//!     fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, _timer: TimerId) {
//!         ctx.broadcast(Msg::Ping);
//!         ctx.set_timer(SimDuration::from_secs(1), 0);
//!     }
//! }
//!
//! // Node n1 of three, as in a run with seed 7.
//! let mut h = NodeHarness::new(NodeId(0), Pinger)
//!     .with_peers([NodeId(1), NodeId(2)])
//!     .with_seed(7);
//! assert!(h.start().is_empty());
//! assert_eq!(h.deliver(NodeId(2), Msg::Ping), vec![(NodeId(2), Msg::Pong)]);
//! assert_eq!(h.records_of("heard"), [&serde_json::json!({ "from": "n3" })]);
//! // The timer fires a second later on the local clock, and re-arms.
//! let sent = h.fire_next();
//! assert_eq!(sent, vec![(NodeId(1), Msg::Ping), (NodeId(2), Msg::Ping)]);
//! assert_eq!(h.now().0, 1_000_000_000);
//! assert_eq!(h.timers().len(), 1);
//! ```
//!
//! What differs from a run: there is no true time, so an interval record
//! ([`Ctx::record_interval`]) gets the engine's `start_local_ns` and
//! `end_local_ns` fields but not the `*_true_ns` ones; and a sync is
//! durable at once (the engine may defer it, see `[noise] sync`).

use crate::clock::LocalTime;
use crate::node::{Ctx, Effects, Node, NodeId, Record, TimerId, TimerOp};
use crate::rng::SimRng;
use crate::storage::Storage;
use crate::time::SimDuration;
use std::marker::PhantomData;

/// One node of type `N` (speaking messages `M`) under test, and what its
/// handlers asked for. See the [module docs](self) for an example.
pub struct NodeHarness<M, N> {
    id: NodeId,
    peers: Vec<NodeId>,
    names: Vec<String>,
    /// False while `names` is the default, rebuilt when peers change.
    names_given: bool,
    storage: Storage,
    seed: u64,
    rng: SimRng,
    next_timer: u64,
    now: LocalTime,
    check_synced: bool,
    effects: Effects<M>,
    /// Pending timers with their local deadlines, in the order they were set.
    timers: Vec<(TimerId, LocalTime)>,
    records: Vec<Record>,
    node: N,
    _msg: PhantomData<fn(M)>,
}

impl<M, N: Node<M>> NodeHarness<M, N> {
    /// `node` as node `id`, not started yet: no peers, names `n1`, `n2`, ...
    /// up to the highest id it knows, an empty disk, seed 0, local time 0.
    /// The `with_*` methods change those; [`NodeHarness::start`] starts it.
    pub fn new(id: NodeId, node: N) -> NodeHarness<M, N> {
        let mut h = NodeHarness {
            id,
            peers: Vec::new(),
            names: Vec::new(),
            names_given: false,
            storage: Storage::new(),
            seed: 0,
            rng: SimRng::for_node(0, id.0),
            next_timer: 0,
            now: LocalTime(0),
            check_synced: false,
            effects: Effects::default(),
            timers: Vec::new(),
            records: Vec::new(),
            node,
            _msg: PhantomData,
        };
        h.default_names();
        h
    }

    /// The nodes `Ctx::peers` lists (the engine gives the others of the
    /// node's group, in id order).
    pub fn with_peers(mut self, peers: impl IntoIterator<Item = NodeId>) -> Self {
        self.peers = peers.into_iter().collect();
        if !self.names_given {
            self.default_names();
        }
        self
    }

    /// The names `Ctx::name` reads, indexed by node id (`names[0]` is the
    /// name of `NodeId(0)`), e.g. `["n1", "n2", "c1"]`.
    pub fn with_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.names = names.into_iter().map(Into::into).collect();
        self.names_given = true;
        self
    }

    /// The node's disk, e.g. one a previous test left behind.
    pub fn with_storage(mut self, storage: Storage) -> Self {
        self.storage = storage;
        self
    }

    /// The run's seed: `Ctx::rng` draws the stream the engine would give
    /// this node in a run with `seed`.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self.rng = SimRng::for_node(seed, self.id.0);
        self
    }

    /// Makes every handler call panic if it returns with writes it did not
    /// sync, for a node that must sync before it acts on a write.
    pub fn with_sync_check(mut self) -> Self {
        self.check_synced = true;
        self
    }

    fn default_names(&mut self) {
        let top = self.peers.iter().fold(self.id.0, |top, p| top.max(p.0));
        self.names = (0..=top).map(|i| NodeId(i).to_string()).collect();
    }

    /// Calls [`Node::on_start`]; the messages it sent.
    pub fn start(&mut self) -> Vec<(NodeId, M)> {
        self.call(|n, ctx| n.on_start(ctx)).1
    }

    /// Delivers `msg` from `from` ([`Node::on_message`]); the messages the
    /// node sent in answer.
    pub fn deliver(&mut self, from: NodeId, msg: M) -> Vec<(NodeId, M)> {
        self.call(|n, ctx| n.on_message(ctx, from, msg)).1
    }

    /// Fires the earliest pending timer (the first one set among equal
    /// deadlines), moving the local clock forward to its deadline; the
    /// messages sent. Panics if no timer is pending.
    pub fn fire_next(&mut self) -> Vec<(NodeId, M)> {
        let at = self
            .earliest(|_| true)
            .unwrap_or_else(|| panic!("{}: no timer is pending", self.id));
        self.fire_at(at)
    }

    /// Fires the earliest pending timer with `tag` (see [`Ctx::set_timer`]),
    /// as [`NodeHarness::fire_next`] does; other timers stay pending.
    /// Panics if none is pending.
    pub fn fire(&mut self, tag: u64) -> Vec<(NodeId, M)> {
        let at = self
            .earliest(|t| t.tag() == tag)
            .unwrap_or_else(|| panic!("{}: no timer with tag {tag} pending", self.id));
        self.fire_at(at)
    }

    fn earliest(&self, pick: impl Fn(TimerId) -> bool) -> Option<usize> {
        (0..self.timers.len())
            .filter(|&i| pick(self.timers[i].0))
            .min_by_key(|&i| (self.timers[i].1, self.timers[i].0.seq))
    }

    fn fire_at(&mut self, at: usize) -> Vec<(NodeId, M)> {
        let (timer, deadline) = self.timers.remove(at);
        self.now = self.now.max(deadline);
        self.call(|n, ctx| n.on_timer(ctx, timer)).1
    }

    /// Turns one of the node's knobs ([`Node::on_knob`]): its previous value
    /// (`None` if the node has no such knob), and the messages sent.
    pub fn knob(&mut self, knob: &str, value: f64) -> (Option<f64>, Vec<(NodeId, M)>) {
        self.call(|n, ctx| n.on_knob(ctx, knob, value))
    }

    /// Runs `f` with the node and a `Ctx` (any handler, or a method of the
    /// node's own that takes one), then collects the timers and records it
    /// asked for: what `f` returned, and the messages sent.
    pub fn call<R>(
        &mut self,
        f: impl FnOnce(&mut N, &mut Ctx<'_, M>) -> R,
    ) -> (R, Vec<(NodeId, M)>) {
        let mut ctx = Ctx {
            id: self.id,
            now_local: self.now,
            peers: &self.peers,
            names: &self.names,
            effects: &mut self.effects,
            storage: &mut self.storage,
            rng: &mut self.rng,
            next_timer: &mut self.next_timer,
            fault_points: false,
        };
        let out = f(&mut self.node, &mut ctx);
        if self.check_synced {
            assert!(
                !self.storage.has_unsynced(),
                "{}: a handler left unsynced writes",
                self.id
            );
        }
        for op in self.effects.timers.drain(..) {
            match op {
                TimerOp::Set { id, deadline } => {
                    debug_assert!(deadline >= self.now, "timer {id:?} set in the past");
                    self.timers.push((id, deadline));
                }
                TimerOp::Cancel(id) => self.timers.retain(|(t, _)| *t != id),
            }
        }
        for pending in self.effects.records.drain(..) {
            let mut record = pending.record;
            if let Some((start, end)) = pending.interval {
                if record.detail.is_null() || record.detail.is_object() {
                    record.detail.set("start_local_ns", start.0.into());
                    record.detail.set("end_local_ns", end.0.into());
                }
            }
            self.records.push(record);
        }
        (out, std::mem::take(&mut self.effects.sends))
    }

    /// A crash and restart, as the engine does them: the unsynced writes
    /// and the pending timers are lost, `node` (a fresh value, as the
    /// model's factory builds it) replaces the old one and is started. The
    /// local clock, the random stream and the records go on. The messages
    /// the new node sent at start.
    pub fn restart(&mut self, node: N) -> Vec<(NodeId, M)> {
        self.storage.lose_unsynced();
        self.timers.clear();
        self.node = node;
        self.start()
    }

    /// The pending timers with their local deadlines, in the order set.
    pub fn timers(&self) -> &[(TimerId, LocalTime)] {
        &self.timers
    }

    /// The deadline of the earliest pending timer, if any.
    pub fn next_deadline(&self) -> Option<LocalTime> {
        self.timers.iter().map(|t| t.1).min()
    }

    /// How long from now until each pending timer with `tag` fires (zero if
    /// due), in the order set.
    pub fn pending(&self, tag: u64) -> Vec<SimDuration> {
        self.timers
            .iter()
            .filter(|(t, _)| t.tag() == tag)
            .map(|(_, d)| d.saturating_since(self.now))
            .collect()
    }

    /// Every record so far, oldest first.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// The details of the records of `kind`, oldest first.
    pub fn records_of(&self, kind: &str) -> Vec<&serde_json::Value> {
        self.records
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| &*r.detail)
            .collect()
    }

    /// The kinds of every record so far, oldest first.
    pub fn kinds(&self) -> Vec<&str> {
        self.records.iter().map(|r| r.kind.as_str()).collect()
    }

    /// Takes the records of `kind` out (the others stay): their details.
    pub fn take_records(&mut self, kind: &str) -> Vec<serde_json::Value> {
        let (hit, rest): (Vec<Record>, Vec<Record>) =
            self.records.drain(..).partition(|r| r.kind == kind);
        self.records = rest;
        hit.into_iter().map(|r| r.detail.to_json()).collect()
    }

    /// Takes every record out.
    pub fn drain_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.records)
    }

    /// The local clock's reading.
    pub fn now(&self) -> LocalTime {
        self.now
    }

    /// Sets the local clock (it may go back, as a clock jump does; pending
    /// timers keep their deadlines).
    pub fn set_now(&mut self, now: LocalTime) {
        self.now = now;
    }

    /// Moves the local clock forward by `d` without firing any timer.
    pub fn advance(&mut self, d: SimDuration) {
        self.now = self.now + d;
    }

    /// The node under test.
    pub fn node(&self) -> &N {
        &self.node
    }

    /// The node under test, to set up a state by hand.
    pub fn node_mut(&mut self) -> &mut N {
        &mut self.node
    }

    /// The node's disk.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The node's disk, to prepare or damage it.
    pub fn storage_mut(&mut self) -> &mut Storage {
        &mut self.storage
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The node's peers (see [`NodeHarness::with_peers`]).
    pub fn peers(&self) -> &[NodeId] {
        &self.peers
    }

    /// The seed of the node's random stream (see [`NodeHarness::with_seed`]).
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what happens to it; its behaviour is set by the test.
    #[derive(Default)]
    struct Probe {
        /// Timers `on_start` sets: (after ms, tag).
        start_timers: Vec<(u64, u64)>,
        /// Write without syncing on a message.
        sloppy: bool,
        life: u32,
    }

    impl Node<u32> for Probe {
        fn on_start(&mut self, ctx: &mut Ctx<'_, u32>) {
            let life = ctx.storage().get_json::<u32>("lives").unwrap_or(0) + 1;
            ctx.storage().put_json("lives", &life);
            ctx.storage().sync();
            self.life = life;
            for &(after, tag) in &self.start_timers {
                ctx.set_timer(SimDuration::from_millis(after), tag);
            }
            ctx.record("start", serde_json::json!({ "life": life }));
        }
        fn on_message(&mut self, ctx: &mut Ctx<'_, u32>, from: NodeId, msg: u32) {
            if self.sloppy {
                ctx.storage().put("x", vec![1]);
            }
            if msg == 0 {
                let first = ctx.set_timer(SimDuration::from_millis(5), 9);
                ctx.cancel_timer(first);
            }
            ctx.send(from, msg + 1);
            let now = ctx.now_local();
            ctx.record_interval(
                "belief",
                now,
                now + SimDuration::from_millis(1),
                serde_json::Value::Null,
            );
        }
        fn on_timer(&mut self, ctx: &mut Ctx<'_, u32>, timer: TimerId) {
            let now = ctx.now_local().0;
            ctx.record(
                "fired",
                serde_json::json!({ "tag": timer.tag(), "at": now }),
            );
            ctx.broadcast(timer.tag() as u32);
        }
        fn on_knob(&mut self, ctx: &mut Ctx<'_, u32>, knob: &str, value: f64) -> Option<f64> {
            ctx.send(NodeId(0), value as u32);
            (knob == "life").then_some(f64::from(self.life))
        }
    }

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    fn probe(start_timers: &[(u64, u64)]) -> NodeHarness<u32, Probe> {
        let node = Probe {
            start_timers: start_timers.to_vec(),
            ..Probe::default()
        };
        NodeHarness::new(NodeId(1), node).with_peers([NodeId(0), NodeId(3)])
    }

    #[test]
    fn default_names_cover_the_node_and_its_peers() {
        let h = probe(&[]);
        let names: Vec<String> = (0..4).map(|i| NodeId(i).to_string()).collect();
        assert_eq!(h.names, names);
        let h = probe(&[]).with_names(["a", "b"]).with_peers([NodeId(0)]);
        assert_eq!(h.names, ["a", "b"], "given names are kept");
    }

    #[test]
    fn timers_fire_earliest_first_then_in_the_order_set_and_move_the_clock() {
        let mut h = probe(&[(20, 1), (10, 2), (20, 3), (10, 4)]);
        h.start();
        assert_eq!(h.next_deadline(), Some(LocalTime(0) + ms(10)));
        assert_eq!(h.pending(3), vec![ms(20)]);
        let mut fired = Vec::new();
        while !h.timers().is_empty() {
            let sent = h.fire_next();
            let tag = h.records_of("fired").last().unwrap()["tag"]
                .as_u64()
                .unwrap();
            assert_eq!(sent, vec![(NodeId(0), tag as u32), (NodeId(3), tag as u32)]);
            fired.push((tag, h.now()));
        }
        let at = |n| LocalTime(0) + ms(n);
        assert_eq!(
            fired,
            vec![(2, at(10)), (4, at(10)), (1, at(20)), (3, at(20))]
        );
        // A late timer fires at the clock's reading, which never goes back.
        let mut h = probe(&[(10, 1), (30, 2)]);
        h.start();
        h.advance(ms(15));
        assert_eq!(h.pending(1), vec![SimDuration::ZERO]);
        h.fire(2);
        assert_eq!(h.now(), at(30));
        h.fire(1);
        assert_eq!(h.now(), at(30));
        assert_eq!(h.records_of("fired")[1]["at"], 30_000_000);
    }

    #[test]
    #[should_panic(expected = "no timer with tag 5 pending")]
    fn firing_a_tag_that_is_not_pending_panics() {
        let mut h = probe(&[(10, 1)]);
        h.start();
        h.fire(5);
    }

    #[test]
    fn a_cancelled_timer_is_gone_and_sends_knobs_and_intervals_come_back() {
        let mut h = probe(&[]);
        h.start();
        h.set_now(LocalTime(7));
        assert_eq!(h.deliver(NodeId(3), 0), vec![(NodeId(3), 1)]);
        assert!(h.timers().is_empty(), "set and cancelled in one handler");
        assert_eq!(h.knob("life", 4.0), (Some(1.0), vec![(NodeId(0), 4)]));
        assert_eq!(h.knob("other", 2.0).0, None);
        assert_eq!(
            h.records_of("belief"),
            [&serde_json::json!({ "start_local_ns": 7, "end_local_ns": 1_000_007 })]
        );
        assert_eq!(h.kinds(), ["start", "belief"]);
        assert_eq!(h.take_records("start").len(), 1);
        assert_eq!(h.kinds(), ["belief"]);
        assert_eq!(h.drain_records().len(), 1);
        assert!(h.records().is_empty());
    }

    #[test]
    fn a_restart_keeps_the_synced_disk_the_clock_and_the_stream() {
        let mut h = probe(&[(10, 1)]).with_seed(3);
        h.start();
        h.storage_mut().put("unsynced", vec![1]);
        h.advance(ms(4));
        let drawn = h.call(|_, ctx| ctx.rng().next_u64()).0;
        assert_eq!(
            drawn,
            SimRng::for_node(3, 1).next_u64(),
            "the engine's stream"
        );
        h.restart(Probe::default());
        assert_eq!(h.node().life, 2, "the synced counter survived");
        assert_eq!(h.storage().get("unsynced"), None);
        assert!(h.timers().is_empty(), "the old life's timer is gone");
        assert_eq!(h.now(), LocalTime(0) + ms(4));
        let mut stream = SimRng::for_node(3, 1);
        stream.next_u64();
        assert_eq!(h.call(|_, ctx| ctx.rng().next_u64()).0, stream.next_u64());
        assert_eq!(h.records_of("start").len(), 2);
    }

    #[test]
    #[should_panic(expected = "n2: a handler left unsynced writes")]
    fn the_sync_check_catches_a_handler_that_forgets_to_sync() {
        let mut h = probe(&[]).with_sync_check();
        h.start();
        h.node_mut().sloppy = true;
        h.deliver(NodeId(0), 1);
    }

    #[test]
    fn without_the_sync_check_unsynced_writes_are_allowed() {
        let mut h = probe(&[]);
        h.start();
        h.node_mut().sloppy = true;
        h.deliver(NodeId(0), 1);
        assert!(h.storage().has_unsynced());
    }
}
