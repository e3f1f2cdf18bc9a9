//! The [`Node`] trait a protocol implements, and its [`Ctx`].
//!
//! A node is a sans-IO state machine. The engine calls it when it starts,
//! when a message arrives and when a timer fires; the node answers only
//! through its [`Ctx`]: messages to send, timers to set or cancel, writes to
//! its [`Storage`], draws from its own random stream, and observations to
//! record for checkers and the trace. The node never sees true time, the
//! network or other nodes' state: it reads its own local clock.
//!
//! Effects are collected as data while the handler runs and applied by the
//! engine when it returns, in the order the node asked for them.
//!
//! A crash drops the node's value, its timers and its unsynced writes; a
//! restart builds a fresh value with the node's factory and calls
//! [`Node::on_start`] again, where it reads what it synced before.

pub mod detail;
pub mod testing;

pub use detail::{Detail, Field, Hex16, RecordKind};

use crate::clock::LocalTime;
use crate::history::{OpType, Value};
use crate::rng::SimRng;
use crate::storage::Storage;
use crate::time::SimDuration;
use std::fmt;
use std::hash::Hash;

/// A node's index in the simulation (dense, from 0). Scenario names such as
/// `n1` map to `NodeId(0)`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The index as a `usize`, for indexing per-node vectors.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0 + 1)
    }
}

/// A timer handle: unique within a run, carrying the node's own `tag`
/// (which kind of timer this is, e.g. election or heartbeat).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct TimerId {
    pub(crate) seq: u64,
    tag: u64,
}

impl TimerId {
    /// The tag given to [`Ctx::set_timer`].
    pub fn tag(self) -> u64 {
        self.tag
    }
    /// The run-unique sequence number of this timer.
    pub fn seq(self) -> u64 {
        self.seq
    }
}

/// What a message type must offer: cloning (for duplication), `Debug` (for
/// the trace) and `Hash` (for the trace hash; derive it).
pub trait Message: Clone + fmt::Debug + Hash + 'static {}
impl<T: Clone + fmt::Debug + Hash + 'static> Message for T {}

/// A protocol participant: server, client, lease service, anything.
pub trait Node<M> {
    /// Called once when the node starts, and again after each restart.
    fn on_start(&mut self, ctx: &mut Ctx<'_, M>);
    /// Called when a message from `from` is delivered.
    fn on_message(&mut self, ctx: &mut Ctx<'_, M>, from: NodeId, msg: M);
    /// Called when a timer set with [`Ctx::set_timer`] fires.
    fn on_timer(&mut self, ctx: &mut Ctx<'_, M>, timer: TimerId);
    /// A view of the node's state for someone stepping a run
    /// ([`crate::Sim::node_state`]); none by default. A node that derives
    /// `Debug` can return `Some(format!("{self:?}"))`.
    fn debug_state(&self) -> Option<String> {
        None
    }
    /// The node's role now (one of its model's [`crate::model::Model::roles`]), for
    /// fault targets such as `@leader`; none by default.
    fn role(&self) -> Option<&'static str> {
        None
    }
    /// Breaks ties when several nodes report the same role: the highest
    /// rank wins (Raft: the term), then the lowest node id; 0 by default.
    fn role_rank(&self) -> u64 {
        0
    }
    /// A scenario's `set` fault turns one of the model's knobs (see
    /// [`crate::model::Model::knobs`]), e.g. a client's arrival `rate` or a
    /// server's `capacity`. Returns the knob's previous value (so a fault
    /// with a `duration` can set it back), or `None` if this node has no
    /// such knob (the fault is then traced as skipped). None by default.
    /// A restart rebuilds the node, so a knob's value does not survive a
    /// crash.
    fn on_knob(&mut self, _ctx: &mut Ctx<'_, M>, _knob: &str, _value: f64) -> Option<f64> {
        None
    }
}

/// The record kind of client operations (see [`Ctx::invoke`]).
pub const OP_RECORD: &str = "op";

/// An observation a node records for checkers and the trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// What happened, e.g. `"suspect"` or `"leader"`.
    pub kind: RecordKind,
    /// Details: typed fields or JSON (read as JSON, object keys sorted).
    pub detail: Detail,
}

/// A timer request collected from a handler.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TimerOp {
    Set { id: TimerId, deadline: LocalTime },
    Cancel(TimerId),
}

/// A record, and the local-time interval the engine must map to true time.
pub(crate) struct PendingRecord {
    pub record: Record,
    pub interval: Option<(LocalTime, LocalTime)>,
}

/// Everything one handler asked for, in order of kind.
pub(crate) struct Effects<M> {
    pub sends: Vec<(NodeId, M)>,
    pub timers: Vec<TimerOp>,
    pub records: Vec<PendingRecord>,
    /// The names given to [`Ctx::maybe_fault_point`] (only while fault
    /// points are on).
    pub points: Vec<String>,
}

impl<M> Default for Effects<M> {
    fn default() -> Self {
        Effects {
            sends: Vec::new(),
            timers: Vec::new(),
            records: Vec::new(),
            points: Vec::new(),
        }
    }
}

/// A node's whole world during one handler call.
pub struct Ctx<'a, M> {
    pub(crate) id: NodeId,
    pub(crate) now_local: LocalTime,
    pub(crate) peers: &'a [NodeId],
    pub(crate) names: &'a [String],
    pub(crate) effects: &'a mut Effects<M>,
    pub(crate) storage: &'a mut Storage,
    pub(crate) rng: &'a mut SimRng,
    pub(crate) next_timer: &'a mut u64,
    /// True while the run's fault points include the model's own.
    pub(crate) fault_points: bool,
}

impl<M> Ctx<'_, M> {
    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The name of a node as the scenario spells it (`"n1"`).
    pub fn name(&self, node: NodeId) -> &str {
        &self.names[node.index()]
    }

    /// The nodes of this node's group other than itself, in id order.
    pub fn peers(&self) -> &[NodeId] {
        self.peers
    }

    /// The local clock's reading now (skewed, drifting, maybe jumped).
    pub fn now_local(&self) -> LocalTime {
        self.now_local
    }

    /// Sends `msg` to `to` over the simulated network.
    pub fn send(&mut self, to: NodeId, msg: M) {
        self.effects.sends.push((to, msg));
    }

    /// Sends a copy of `msg` to every peer.
    pub fn broadcast(&mut self, msg: M)
    where
        M: Clone,
    {
        for &peer in self.peers {
            self.effects.sends.push((peer, msg.clone()));
        }
    }

    /// Sets a timer to fire when the local clock has advanced by `after`.
    /// `tag` says which timer it is; read it back with [`TimerId::tag`].
    pub fn set_timer(&mut self, after: SimDuration, tag: u64) -> TimerId {
        let id = TimerId {
            seq: *self.next_timer,
            tag,
        };
        *self.next_timer += 1;
        self.effects.timers.push(TimerOp::Set {
            id,
            deadline: self.now_local + after,
        });
        id
    }

    /// Cancels a timer; cancelling one that already fired does nothing.
    pub fn cancel_timer(&mut self, timer: TimerId) {
        self.effects.timers.push(TimerOp::Cancel(timer));
    }

    /// This node's disk.
    pub fn storage(&mut self) -> &mut Storage {
        self.storage
    }

    /// This node's own random stream.
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// Marks a place where a crash is interesting (BUGGIFY-style): after a
    /// write and before its sync, between persisting a vote and replying.
    /// When the scenario's `[chaos] fault_points` include `"point"` (or
    /// `"point:NAME"` for this `name`), the engine may crash this node right
    /// after the current handler, its sends gone out and its unsynced writes
    /// lost, and restart it shortly after (see [`crate::fault::points`]).
    /// Otherwise it does nothing and draws nothing, so calling it is free
    /// for runs without fault points.
    pub fn maybe_fault_point(&mut self, name: &str) {
        if self.fault_points {
            self.effects.points.push(name.to_string());
        }
    }

    /// Records an observation (`kind`, JSON `detail`) for checkers and the trace.
    pub fn record(&mut self, kind: impl Into<RecordKind>, detail: serde_json::Value) {
        self.record_detail(kind, Detail::from(detail));
    }

    /// Records an observation whose detail is typed fields (see [`Detail`]):
    /// cheaper than [`Ctx::record`] for the many small records of a run,
    /// and hashed and written exactly as the same JSON object would be.
    pub fn record_fields(
        &mut self,
        kind: impl Into<RecordKind>,
        fields: Vec<(&'static str, Field)>,
    ) {
        self.record_detail(kind, Detail::fields(fields));
    }

    fn record_detail(&mut self, kind: impl Into<RecordKind>, detail: Detail) {
        let record = Record {
            kind: kind.into(),
            detail,
        };
        self.effects.records.push(PendingRecord {
            record,
            interval: None,
        });
    }

    /// Records an interval this node believes in, in its *local* time (say,
    /// "I hold the lease from `start` to `end`"). The engine adds the true
    /// times to `detail` (an object): `start_true_ns` and `end_true_ns`, the
    /// first true times at which this node's clock reads `start` and `end`
    /// as the clock stands now (a later jump is not foreseen), and
    /// `start_local_ns` / `end_local_ns`. Checkers judge the true interval:
    /// that is how skew, drift and jumps show up.
    pub fn record_interval(
        &mut self,
        kind: impl Into<RecordKind>,
        start: LocalTime,
        end: LocalTime,
        detail: serde_json::Value,
    ) {
        debug_assert!(
            detail.is_object() || detail.is_null(),
            "interval detail must be a JSON object"
        );
        let record = Record {
            kind: kind.into(),
            detail: Detail::from(detail),
        };
        self.effects.records.push(PendingRecord {
            record,
            interval: Some((start, end)),
        });
    }

    /// Records that client `process` invoked operation `f` (on `key`, with
    /// argument `value`): a line of the run's history.
    pub fn invoke(&mut self, process: u64, f: &str, key: Option<&str>, value: Value) {
        self.record_op(process, OpType::Invoke, f, key, value);
    }

    /// Records how `process`'s open operation ended: `Ok` with its result,
    /// `Fail` (it certainly did not happen) or `Info` (unknown, e.g. timed out).
    pub fn complete(
        &mut self,
        process: u64,
        outcome: OpType,
        f: &str,
        key: Option<&str>,
        value: Value,
    ) {
        debug_assert!(
            outcome != OpType::Invoke,
            "complete() takes ok, fail or info"
        );
        self.record_op(process, outcome, f, key, value);
    }

    /// [`Self::complete`] for an operation that `server` answered: the
    /// history line names it (`"server": "n2"`), so a linearizability
    /// report can say which server gave each result. A completion without
    /// an answer (a timeout) has no server: use [`Self::complete`].
    pub fn complete_from(
        &mut self,
        process: u64,
        outcome: OpType,
        f: &str,
        key: Option<&str>,
        value: Value,
        server: NodeId,
    ) {
        debug_assert!(
            outcome != OpType::Invoke,
            "complete_from() takes ok, fail or info"
        );
        let mut detail = op_detail(process, outcome, f, key, value);
        let at = detail.len() - 2; // before `type` and `value`
        detail.insert(at, ("server", Field::from(self.name(server).to_string())));
        self.record_fields(OP_RECORD, detail);
    }

    fn record_op(&mut self, process: u64, kind: OpType, f: &str, key: Option<&str>, value: Value) {
        let detail = op_detail(process, kind, f, key, value);
        self.record_fields(OP_RECORD, detail);
    }
}

/// The fields of an `op` record (without a server).
fn op_detail(
    process: u64,
    kind: OpType,
    f: &str,
    key: Option<&str>,
    value: Value,
) -> Vec<(&'static str, Field)> {
    // In key order, as JSON keeps them (see `Detail::fields`).
    let mut detail = Vec::with_capacity(6);
    detail.push(("f", Field::from(f.to_string())));
    if let Some(key) = key {
        detail.push(("key", Field::from(key.to_string())));
    }
    detail.push(("process", Field::U64(process)));
    detail.push(("type", Field::Str(kind.as_str())));
    detail.push(("value", Field::from(value)));
    detail
}
