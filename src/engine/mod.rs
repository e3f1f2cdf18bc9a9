//! The discrete-event engine: the only place that advances time.
//!
//! A [`Sim`] owns the nodes, their clocks, disks and random streams, the
//! network and the event queue. [`Sim::step`] pops the earliest event
//! (ties by scheduling order), runs it, and leaves the [`TraceEvent`]s it
//! produced in [`Sim::events`]. Nothing here knows about protocols, checks or
//! scenario files: a caller drives `step` and looks at the events.
//!
//! Inside a run there is no wall clock, no thread, no unseeded randomness and
//! no iteration over a hash map: per-node state is in `Vec`s indexed by
//! [`NodeId`], timers in a `BTreeMap`.
//!
//! Optional timing [`Noise`] makes timers fire late and holds a handler's
//! sends back for its processing time and its node's disk syncs.
//!
//! A limit on everything: [`Limits`] caps the events processed and the queue
//! length; hitting one makes `step` return [`Step::Limit`] naming it.

mod apply;
mod byzantine;
mod dispatch;
mod knob;
mod noise;
mod points;
mod queue;
pub mod trace;
mod trigger;

pub use crate::hash::{digest, StableHasher, TraceHasher};
pub use noise::Noise;
pub use points::FAULT_POINT_RECORD;
pub use trace::{EventKind, KnobOutcome, KnobTurn, TraceEvent};

use crate::clock::{Clock, LocalTime};
use crate::fault::points::ArmedPoints;
use crate::fault::{Fault, TimedFault, TriggeredFault};
use crate::net::{DropReason, EdgeChange, Topology};
use crate::node::{Effects, Message, Node, NodeId};
use crate::rng::{Probability, SimRng};
use crate::storage::Storage;
use crate::time::SimTime;
use noise::NodeNoise;
use queue::{EventQueue, Payload};
use std::collections::BTreeMap;
use std::fmt;

/// Builds a fresh node value for a node id (at start and after each restart).
pub type NodeFactory<M> = Box<dyn FnMut(NodeId) -> Box<dyn Node<M>>>;

/// Caps that stop a runaway run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most events one run may process.
    pub max_events: u64,
    /// Most events that may wait in the queue at once.
    pub max_queue: usize,
}

impl Default for Limits {
    /// 100 million events, 10 million queued.
    fn default() -> Self {
        Limits {
            max_events: 100_000_000,
            max_queue: 10_000_000,
        }
    }
}

/// Which limit a run hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitHit {
    /// `max_events` events were processed.
    Events(u64),
    /// The queue grew past `max_queue`.
    Queue(usize),
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitHit::Events(n) => write!(
                f,
                "the run processed its limit of {n} events (raise limits.max_events in the scenario's [limits])"
            ),
            LimitHit::Queue(n) => {
                write!(
                    f,
                    "more than {n} events were waiting in the queue (raise limits.max_queue in the scenario's [limits])"
                )
            }
        }
    }
}

/// What one call of [`Sim::step`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// An event ran; its trace is in [`Sim::events`].
    Ran,
    /// The queue is empty.
    Idle,
    /// A limit was hit; the run should stop.
    Limit(LimitHit),
}

/// Counters of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events processed.
    pub events: u64,
    /// Messages handed to the network.
    pub messages_sent: u64,
    /// Messages delivered to a node (duplicates count twice).
    pub messages_delivered: u64,
    /// Messages dropped, by any reason.
    pub messages_dropped: u64,
    /// Extra copies made by duplication.
    pub messages_duplicated: u64,
    /// Drops by reason, indexed by `DropReason as usize`.
    pub dropped_by_reason: [u64; 5],
}

impl Stats {
    /// Drops for one reason.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped_by_reason[reason as usize]
    }
}

/// A pending timer of one node.
#[derive(Clone, Copy, Debug)]
struct PendingTimer {
    id: crate::node::TimerId,
    deadline: LocalTime,
    generation: u32,
    /// Timer jitter: how long after its clock reaches the deadline it fires.
    late: crate::time::SimDuration,
}

/// Everything the engine keeps per node.
struct Slot<M> {
    node: Option<Box<dyn Node<M>>>,
    storage: Storage,
    rng: SimRng,
    clock: Clock,
    timers: BTreeMap<u64, PendingTimer>,
    paused_until: Option<SimTime>,
    pause_generation: u32,
    held: Vec<Payload<M>>,
    noise: NodeNoise,
    /// Each knob a `set` turned here, with the task that last did (few).
    knob_sets: Vec<(std::sync::Arc<str>, u32)>,
}

/// Builds a [`Sim`].
pub struct SimBuilder<M> {
    seed: u64,
    names: Vec<String>,
    factory: NodeFactory<M>,
    topology: Option<Topology>,
    clocks: Vec<Clock>,
    peers: Option<Vec<Vec<NodeId>>>,
    faults: Vec<TimedFault>,
    triggers: Vec<TriggeredFault>,
    limits: Limits,
    describe_messages: bool,
    noise: Noise,
    points: Option<ArmedPoints>,
    tamper: Option<Tamper<M>>,
}

/// A model's way to forge its messages, for Byzantine nodes.
pub type Tamper<M> = std::sync::Arc<dyn crate::fault::byzantine::Tamper<M>>;

impl<M: Message> SimBuilder<M> {
    /// `count` nodes named `n1..`, each built by `factory`.
    pub fn new(
        seed: u64,
        count: usize,
        factory: impl FnMut(NodeId) -> Box<dyn Node<M>> + 'static,
    ) -> Self {
        assert!(
            count <= trace::MAX_TRACED_NODES,
            "{count} nodes; a run has at most {} (the trace packs node ids in 28 bits)",
            trace::MAX_TRACED_NODES
        );
        SimBuilder {
            seed,
            names: (1..=count).map(|i| format!("n{i}")).collect(),
            factory: Box::new(factory),
            topology: None,
            clocks: vec![Clock::default(); count],
            peers: None,
            faults: Vec::new(),
            triggers: Vec::new(),
            limits: Limits::default(),
            describe_messages: false,
            noise: Noise::default(),
            points: None,
            tamper: None,
        }
    }

    /// Node names (one per node).
    pub fn names(mut self, names: Vec<String>) -> Self {
        assert_eq!(names.len(), self.clocks.len(), "one name per node");
        self.names = names;
        self
    }

    /// The network (default: full mesh, uniform 1-10ms, no loss).
    pub fn topology(mut self, topology: Topology) -> Self {
        assert_eq!(
            topology.len(),
            self.clocks.len(),
            "topology has the wrong number of nodes"
        );
        self.topology = Some(topology);
        self
    }

    /// One node's clock (default: exact).
    pub fn clock(mut self, node: NodeId, clock: Clock) -> Self {
        self.clocks[node.index()] = clock;
        self
    }

    /// Each node's peers, for [`crate::node::Ctx::broadcast`] (default: all others).
    pub fn peers(mut self, peers: Vec<Vec<NodeId>>) -> Self {
        assert_eq!(peers.len(), self.clocks.len(), "one peer list per node");
        self.peers = Some(peers);
        self
    }

    /// Faults to apply at their times.
    pub fn faults(mut self, faults: Vec<TimedFault>) -> Self {
        self.faults = faults;
        self
    }

    /// Faults that fire after observations (see [`TriggeredFault`]).
    pub fn triggers(mut self, triggers: Vec<TriggeredFault>) -> Self {
        self.triggers = triggers;
        self
    }

    /// Caps on events and queue length.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Timing noise: timer jitter, processing time, sync latency (default: none).
    pub fn noise(mut self, noise: Noise) -> Self {
        self.noise = noise;
        self
    }

    /// Fault points for this run (see [`crate::fault::points`]); default
    /// none: no point is looked for and nothing is drawn.
    pub fn fault_points(mut self, points: Option<ArmedPoints>) -> Self {
        self.points = points;
        self
    }

    /// How Byzantine nodes forge messages (the model's
    /// [`crate::Model::tamper`]); default none: `equivocate` and `corrupt`
    /// send messages unchanged.
    pub fn tamper(mut self, tamper: Option<Tamper<M>>) -> Self {
        self.tamper = tamper;
        self
    }

    /// Put each message's `Debug` text in send events (slower; for trace files).
    pub fn describe_messages(mut self, on: bool) -> Self {
        self.describe_messages = on;
        self
    }

    /// The simulation, with every node's start and every fault queued.
    pub fn build(self) -> Sim<M> {
        let n = self.clocks.len();
        let seed = self.seed;
        let slots = self
            .clocks
            .iter()
            .enumerate()
            .map(|(i, &clock)| Slot {
                node: None,
                storage: {
                    let mut storage = Storage::new();
                    storage.set_deferred(self.noise.sync.is_some());
                    storage
                },
                rng: SimRng::for_node(seed, i as u32),
                clock,
                timers: BTreeMap::new(),
                paused_until: None,
                pause_generation: 0,
                held: Vec::new(),
                noise: NodeNoise::default(),
                knob_sets: Vec::new(),
            })
            .collect();
        let all: Vec<NodeId> = (0..n as u32).map(NodeId).collect();
        let peers = self.peers.unwrap_or_else(|| {
            all.iter()
                .map(|me| all.iter().copied().filter(|p| p != me).collect())
                .collect()
        });
        let mut sim = Sim {
            seed,
            now: SimTime::ZERO,
            queue: EventQueue::new(),
            slots,
            names: self.names,
            peers,
            factory: self.factory,
            topology: self
                .topology
                .unwrap_or_else(|| Topology::full_mesh(n, Default::default())),
            fifo_last: vec![SimTime::ZERO; n * n],
            net_rng: SimRng::stream(seed, "network"),
            target_rng: SimRng::stream(seed, "targets"),
            noise_rng: SimRng::stream(seed, "noise"),
            noise: self.noise,
            loss_burst: None,
            loss_burst_generation: 0,
            faults: Vec::new(),
            triggers: Vec::new(),
            watching: Vec::new(),
            watch_records: false,
            watch_roles: false,
            link_changes: Vec::new(),
            knob_tasks: Vec::new(),
            effects: Effects::default(),
            events: Vec::new(),
            next_timer: 0,
            next_msg: 0,
            stats: Stats::default(),
            limits: self.limits,
            describe_messages: self.describe_messages,
            in_handler: None,
            points: self.points,
            point_crashes: 0,
            point_hit: None,
            tamper: self.tamper,
            byzantine: None,
        };
        for id in all {
            sim.queue.push(SimTime::ZERO, Payload::Start(id));
        }
        for timed in self.faults {
            sim.schedule(timed.at, timed.fault);
        }
        sim.add_triggers(self.triggers);
        sim
    }
}

/// A running simulation.
pub struct Sim<M> {
    seed: u64,
    now: SimTime,
    queue: EventQueue<M>,
    slots: Vec<Slot<M>>,
    names: Vec<String>,
    peers: Vec<Vec<NodeId>>,
    factory: NodeFactory<M>,
    topology: Topology,
    fifo_last: Vec<SimTime>,
    net_rng: SimRng,
    /// Draws for `@random` fault targets.
    target_rng: SimRng,
    /// Draws for timing noise.
    noise_rng: SimRng,
    noise: Noise,
    loss_burst: Option<Probability>,
    loss_burst_generation: u32,
    faults: Vec<Fault>,
    /// Triggered faults, by index, and which of them are watching now.
    triggers: Vec<trigger::Armed>,
    watching: Vec<u32>,
    /// Some watching trigger waits for a record kind / a role.
    watch_records: bool,
    watch_roles: bool,
    /// Each `set_link` with a duration: the resolved fault and what it
    /// changed (emptied when it ends or by `heal_all`).
    link_changes: Vec<(Fault, Vec<EdgeChange>)>,
    /// Each knob turn of a `set` fault and each return (by task index).
    knob_tasks: Vec<knob::KnobTask>,
    effects: Effects<M>,
    events: Vec<TraceEvent>,
    next_timer: u64,
    next_msg: u64,
    stats: Stats,
    limits: Limits,
    describe_messages: bool,
    in_handler: Option<NodeId>,
    /// The run's fault points, if any; crashes they made; the point the
    /// last handler reached.
    points: Option<ArmedPoints>,
    point_crashes: u32,
    point_hit: Option<(NodeId, String)>,
    /// The model's forger for Byzantine nodes, if it has one.
    tamper: Option<Tamper<M>>,
    /// The Byzantine nodes, made by the first Byzantine fault (none: no
    /// cost and no draws).
    byzantine: Option<Box<byzantine::State<M>>>,
}

impl<M: Message> Sim<M> {
    /// Runs the earliest pending event. Stale timers (cancelled or moved)
    /// are skipped without counting as events.
    pub fn step(&mut self) -> Step {
        self.step_until(SimTime::MAX)
    }

    /// [`Sim::step`], running no event after true time `end` (stale timers
    /// up to `end` are skipped; `Idle` if nothing else is due by then).
    pub fn step_until(&mut self, end: SimTime) -> Step {
        self.events.clear();
        if self.stats.events >= self.limits.max_events {
            return Step::Limit(LimitHit::Events(self.limits.max_events));
        }
        loop {
            if self.queue.peek_time().is_none_or(|t| t > end) {
                return Step::Idle;
            }
            let Some(entry) = self.queue.pop() else {
                return Step::Idle;
            };
            debug_assert!(
                entry.time >= self.now,
                "time went backwards: {:?} -> {:?}",
                self.now,
                entry.time
            );
            self.now = entry.time;
            if self.dispatch(entry.payload) {
                break;
            }
        }
        self.stats.events += 1;
        if self.queue.len() > self.limits.max_queue {
            return Step::Limit(LimitHit::Queue(self.limits.max_queue));
        }
        Step::Ran
    }

    /// Runs every event up to and including true time `end`, handing each
    /// trace event to `observe`; stops early if `observe` returns false or a
    /// limit is hit. Afterwards `now()` is `end` unless it stopped early.
    pub fn run_until(
        &mut self,
        end: SimTime,
        mut observe: impl FnMut(&TraceEvent) -> bool,
    ) -> RunEnd {
        while self.queue.peek_time().is_some_and(|t| t <= end) {
            match self.step_until(end) {
                Step::Ran => {}
                Step::Idle => break,
                Step::Limit(hit) => return RunEnd::Limit(hit),
            }
            for event in &self.events {
                if !observe(event) {
                    return RunEnd::Stopped;
                }
            }
        }
        self.now = self.now.max(end);
        RunEnd::Reached
    }

    /// Sets how Byzantine nodes forge messages (see [`SimBuilder::tamper`]).
    pub fn set_tamper(&mut self, tamper: Option<Tamper<M>>) {
        self.tamper = tamper;
    }

    /// The trace events of the last step (or the last direct fault verb).
    pub fn events(&self) -> &[TraceEvent] {
        &self.events
    }

    /// The node whose handler is running, if any. After a handler panics
    /// (and the panic is caught) this names the node that panicked.
    pub fn in_handler(&self) -> Option<NodeId> {
        self.in_handler
    }

    /// Current true time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The time of the next pending event.
    pub fn next_event_time(&self) -> Option<SimTime> {
        self.queue.peek_time()
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Node names, indexed by [`NodeId`].
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.slots.len()
    }

    /// True if the node is running (not crashed); a paused node is up.
    pub fn is_up(&self, node: NodeId) -> bool {
        self.slots[node.index()].node.is_some()
    }

    /// The node's [`Node::debug_state`], if it is up and has one.
    pub fn node_state(&self, node: NodeId) -> Option<String> {
        self.slots[node.index()].node.as_ref()?.debug_state()
    }

    /// The node's role and rank ([`Node::role`], [`Node::role_rank`]), if
    /// it is up and reports a role.
    pub fn role(&self, node: NodeId) -> Option<(&'static str, u64)> {
        let n = self.slots[node.index()].node.as_ref()?;
        Some((n.role()?, n.role_rank()))
    }

    /// Moves true time forward to `t` without running anything (nothing may
    /// be due before it); clears [`Sim::events`]. For a caller that acts
    /// between events, e.g. a scenario's `[[steps]]`.
    pub fn advance_to(&mut self, t: SimTime) {
        debug_assert!(
            self.queue.peek_time().is_none_or(|q| q >= t),
            "advance_to({t:?}) would skip an event due at {:?}",
            self.queue.peek_time()
        );
        self.events.clear();
        self.now = self.now.max(t);
    }

    /// True if the node is paused.
    pub fn is_paused(&self, node: NodeId) -> bool {
        self.slots[node.index()].paused_until.is_some()
    }

    /// The node's clock.
    pub fn clock(&self, node: NodeId) -> &Clock {
        &self.slots[node.index()].clock
    }

    /// The node's disk.
    pub fn storage(&self, node: NodeId) -> &Storage {
        &self.slots[node.index()].storage
    }

    /// The network as it is now.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Number of pending timers of a node.
    pub fn pending_timers(&self, node: NodeId) -> usize {
        self.slots[node.index()].timers.len()
    }

    /// Queues `fault` to happen at `at` (not before now).
    pub fn schedule(&mut self, at: SimTime, fault: Fault) {
        let index = u32::try_from(self.faults.len()).expect("more than 2^32 faults");
        self.faults.push(fault);
        self.queue.push(at.max(self.now), Payload::Fault(index));
    }

    /// Applies `fault` now; its trace events replace [`Sim::events`].
    pub fn apply(&mut self, fault: Fault) {
        self.events.clear();
        self.apply_fault(fault);
    }

    /// Crashes a node now.
    pub fn crash(&mut self, node: NodeId) {
        self.apply(Fault::Crash(node));
    }

    /// Restarts a crashed node now.
    pub fn restart(&mut self, node: NodeId) {
        self.apply(Fault::Restart(node));
    }

    /// Cuts network edges now.
    pub fn partition(&mut self, cut: crate::net::Cut) {
        self.apply(Fault::Partition(cut));
    }

    /// Heals the network now.
    pub fn heal(&mut self) {
        self.apply(Fault::Heal);
    }
}

/// How [`Sim::run_until`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// Every event up to the end time ran.
    Reached,
    /// The observer asked to stop.
    Stopped,
    /// A limit was hit.
    Limit(LimitHit),
}
