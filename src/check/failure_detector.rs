//! Checks for failure detectors, driven by `suspect {peer}` and
//! `trust {peer}` records (see [`crate::models::heartbeat`]).
//!
//! - [`Accuracy`] (safety): no node ever suspects a node that is up. Any
//!   timeout-based detector breaks it under partitions or pauses; scenarios
//!   use it to show that happening.
//! - [`StrongCompleteness`] (liveness): a crashed node is suspected by every
//!   running node within `within` of the later of the crash and that node's
//!   start (or resume).
//! - [`EventualAccuracy`] (liveness): after the liveness phase begins, a
//!   running node may suspect another running node for at most `within`.
//!
//! The liveness checks are incremental: each keeps its open obligations
//! (an observer that must come to suspect a crashed node; a suspicion of a
//! running node that must clear) with their due times in [`Deadlines`], and
//! updates them when a suspicion or a node's status changes. A suspicion
//! change costs O(log n), a node's status change O(n log n), and an event
//! that changes neither O(1); memory is O(suspicions + obligations). The
//! violation reported is the one a scan of every pair in the check's order
//! (crashed node, then observer; or observer, then suspected node) would
//! find first among those overdue.

use super::{names_of, Checker, LivenessBound, Severity, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::fault::Fault;
use crate::node::NodeId;
use crate::time::{SimDuration, SimTime};
use std::collections::{BTreeMap, BTreeSet};

/// What an event did to the suspicions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    /// `observer` began to suspect `target` (it did not before).
    Suspect { observer: NodeId, target: NodeId },
    /// `observer` no longer suspects `target` (it did before).
    Trust { observer: NodeId, target: NodeId },
    /// `observer` crashed or started: it suspects no one now.
    Forget { observer: NodeId },
}

/// Who suspects whom, from records; a node's suspicions end when it crashes
/// or restarts. Sparse: memory is O(n + suspicions).
#[derive(Clone, Debug, Default)]
struct Suspicions {
    /// `suspects[observer]`: target -> when the suspicion began.
    suspects: Vec<BTreeMap<NodeId, SimTime>>,
    /// `suspected_by[target]`: the observers that suspect it.
    suspected_by: Vec<BTreeSet<NodeId>>,
}

impl Suspicions {
    fn ensure(&mut self, n: usize) {
        if self.suspects.len() != n {
            self.suspects = vec![BTreeMap::new(); n];
            self.suspected_by = vec![BTreeSet::new(); n];
        }
    }

    fn get(&self, observer: NodeId, target: NodeId) -> Option<SimTime> {
        self.suspects[observer.index()].get(&target).copied()
    }

    /// Applies the event; returns what changed, if anything.
    fn observe(&mut self, event: &TraceEvent, world: &World) -> Option<Change> {
        self.ensure(world.len());
        let node = event.node?;
        match &event.kind {
            EventKind::Record(r) if r.kind == "suspect" || r.kind == "trust" => {
                let peer = r
                    .detail
                    .get("peer")
                    .and_then(|p| p.as_str())
                    .and_then(|p| world.node_named(p))?;
                if r.kind == "suspect" {
                    let row = &mut self.suspects[node.index()];
                    if row.contains_key(&peer) {
                        return None;
                    }
                    row.insert(peer, event.time);
                    self.suspected_by[peer.index()].insert(node);
                    return Some(Change::Suspect {
                        observer: node,
                        target: peer,
                    });
                }
                self.suspects[node.index()].remove(&peer)?;
                self.suspected_by[peer.index()].remove(&node);
                Some(Change::Trust {
                    observer: node,
                    target: peer,
                })
            }
            EventKind::Start { .. }
            | EventKind::Fault {
                fault: Fault::Crash(_),
                applied: true,
            } => {
                for target in std::mem::take(&mut self.suspects[node.index()]).into_keys() {
                    self.suspected_by[target.index()].remove(&node);
                }
                Some(Change::Forget { observer: node })
            }
            _ => None,
        }
    }
}

/// Open obligations of a pair of nodes `(first, second)`, each with its due
/// time, ordered both by pair and by due time.
#[derive(Clone, Debug, Default)]
struct Deadlines {
    by_pair: BTreeMap<(NodeId, NodeId), SimTime>,
    by_due: BTreeSet<(SimTime, NodeId, NodeId)>,
}

impl Deadlines {
    /// Opens (or moves) the obligation of `pair`, due at `due`.
    fn set(&mut self, pair: (NodeId, NodeId), due: SimTime) {
        if let Some(old) = self.by_pair.insert(pair, due) {
            self.by_due.remove(&(old, pair.0, pair.1));
        }
        self.by_due.insert((due, pair.0, pair.1));
    }

    /// Closes the obligation of `pair`, if open.
    fn remove(&mut self, pair: (NodeId, NodeId)) {
        if let Some(due) = self.by_pair.remove(&pair) {
            self.by_due.remove(&(due, pair.0, pair.1));
        }
    }

    /// Closes every obligation whose pair starts with `first`.
    fn remove_first(&mut self, first: NodeId) {
        let seconds: Vec<NodeId> = self
            .by_pair
            .range((first, NodeId(0))..=(first, NodeId(u32::MAX)))
            .map(|(pair, _)| pair.1)
            .collect();
        for second in seconds {
            self.remove((first, second));
        }
    }

    /// Among the obligations overdue at `now` (due before it; or at it, if
    /// `inclusive`), the one whose pair comes first, with its due time.
    fn first_overdue(&self, now: SimTime, inclusive: bool) -> Option<((NodeId, NodeId), SimTime)> {
        self.by_due
            .iter()
            .take_while(|(due, ..)| *due < now || (inclusive && *due <= now))
            .map(|&(due, first, second)| ((first, second), due))
            .min_by_key(|&(pair, _)| pair)
    }

    fn len(&self) -> usize {
        debug_assert_eq!(
            self.by_pair.len(),
            self.by_due.len(),
            "deadline indexes drifted"
        );
        self.by_pair.len()
    }
}

/// Follows [`World::status_changes`]: which nodes must a checker look at again?
#[derive(Clone, Copy, Debug, Default)]
struct StatusCursor {
    seen: u64,
}

impl StatusCursor {
    /// The nodes whose status changed since the last call: the one node
    /// after one change, every node after several (or a world seen for the
    /// first time), none if no status changed.
    fn changed(&mut self, world: &World) -> Vec<NodeId> {
        let now = world.status_changes();
        let changed = match (now - self.seen, world.last_status_change()) {
            (0, _) => Vec::new(),
            (1, Some(node)) => vec![node],
            _ => (0..world.len() as u32).map(NodeId).collect(),
        };
        self.seen = now;
        changed
    }
}

/// True if the node is up and not paused: it can act (and is expected to).
fn running(world: &World, node: NodeId) -> bool {
    let status = world.status(node);
    status.up && !status.paused
}

/// Strong accuracy: no node is suspected while it is up.
#[derive(Debug, Default)]
pub struct Accuracy {
    suspicions: Suspicions,
}

impl Checker for Accuracy {
    fn name(&self) -> &'static str {
        "accuracy"
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let Change::Suspect { observer, target } = self.suspicions.observe(event, world)? else {
            return None;
        };
        let status = world.status(target);
        if !status.up {
            return None;
        }
        let state = if status.paused {
            "up (paused, not crashed)"
        } else {
            "up"
        };
        Some(Violation {
            name: "false_suspicion".into(),
            check: self.name().into(),
            severity: Severity::Safety,
            time: event.time,
            nodes: names_of(world, &[observer, target]),
            explanation: format!(
                "{} suspects {} at {}, but {} is {state} (running since {}); {}",
                world.name(observer),
                world.name(target),
                event.time,
                world.name(target),
                status.since,
                world.faults_in_force()
            ),
        })
    }

    fn finish(&mut self, _end: SimTime, _world: &World) -> Option<Violation> {
        None
    }
}

/// Strong completeness: every crash is detected by every running node in time.
///
/// An obligation `(target, observer)` is open while `target` is down,
/// `observer` runs and does not suspect it; it is due `within` after the
/// later of the crash and the observer's start (or resume).
#[derive(Debug)]
pub struct StrongCompleteness {
    within: SimDuration,
    suspicions: Suspicions,
    cursor: StatusCursor,
    /// Crashed nodes.
    down: BTreeSet<NodeId>,
    /// Open obligations by (target, observer).
    open: Deadlines,
}

impl StrongCompleteness {
    /// Crashes must be suspected within `within`.
    pub fn new(within: SimDuration) -> Self {
        StrongCompleteness {
            within,
            suspicions: Suspicions::default(),
            cursor: StatusCursor::default(),
            down: BTreeSet::new(),
            open: Deadlines::default(),
        }
    }

    /// Opens or closes the obligation of `observer` to suspect `target`.
    fn update_pair(&mut self, world: &World, target: NodeId, observer: NodeId) {
        let owed = self.down.contains(&target)
            && running(world, observer)
            && self.suspicions.get(observer, target).is_none();
        if !owed {
            self.open.remove((target, observer));
            return;
        }
        let due = world
            .status(target)
            .since
            .max(world.status(observer).running_since)
            + self.within;
        self.open.set((target, observer), due);
    }

    /// Brings the obligations of `node`, as target and as observer, in line
    /// with the world.
    fn refresh(&mut self, world: &World, node: NodeId) {
        if world.status(node).up {
            self.down.remove(&node);
            self.open.remove_first(node);
        } else {
            self.down.insert(node);
            for observer in (0..world.len() as u32).map(NodeId) {
                self.update_pair(world, node, observer);
            }
        }
        self.refresh_observer(world, node);
    }

    fn refresh_observer(&mut self, world: &World, observer: NodeId) {
        let down: Vec<NodeId> = self.down.iter().copied().collect();
        for target in down {
            self.update_pair(world, target, observer);
        }
    }

    /// The first obligation that is overdue at `now`.
    fn overdue(&self, now: SimTime, inclusive: bool, world: &World) -> Option<Violation> {
        let ((target, observer), due) = self.open.first_overdue(now, inclusive)?;
        let down = world.status(target);
        let watcher = world.status(observer);
        Some(Violation {
            name: "undetected_crash".into(),
            check: "strong_completeness".into(),
            severity: Severity::Liveness,
            time: due,
            nodes: names_of(world, &[observer, target]),
            explanation: format!(
                "{} crashed at {} and is still down, but {} (running since {}) did not suspect it by {} (bound {})",
                world.name(target),
                down.since,
                world.name(observer),
                watcher.running_since,
                due,
                self.within
            ),
        })
    }

    fn sync(&mut self, world: &World) {
        self.suspicions.ensure(world.len());
        for node in self.cursor.changed(world) {
            self.refresh(world, node);
        }
        debug_assert!(
            self.open.len() <= self.down.len() * world.len(),
            "more obligations than (crashed, observer) pairs"
        );
    }
}

impl Checker for StrongCompleteness {
    fn name(&self) -> &'static str {
        "strong_completeness"
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        self.sync(world);
        let late = self.overdue(event.time, false, world);
        match self.suspicions.observe(event, world) {
            Some(Change::Suspect { observer, target } | Change::Trust { observer, target }) => {
                self.update_pair(world, target, observer)
            }
            Some(Change::Forget { observer }) => self.refresh_observer(world, observer),
            None => {}
        }
        late
    }

    fn finish(&mut self, end: SimTime, world: &World) -> Option<Violation> {
        self.sync(world);
        self.overdue(end, true, world)
    }
}

/// Eventual strong accuracy: after the faults, suspicions of running nodes clear in time.
///
/// An obligation `(observer, target)` is open while both run and the
/// observer suspects the target; it is due `within` after the latest of the
/// liveness phase's start and the two nodes' starts (or resumes).
#[derive(Debug)]
pub struct EventualAccuracy {
    bound: LivenessBound,
    suspicions: Suspicions,
    cursor: StatusCursor,
    /// Open obligations by (observer, target).
    open: Deadlines,
}

impl EventualAccuracy {
    /// Suspicions of running nodes must clear within `bound.within` after `bound.after`.
    pub fn new(bound: LivenessBound) -> Self {
        EventualAccuracy {
            bound,
            suspicions: Suspicions::default(),
            cursor: StatusCursor::default(),
            open: Deadlines::default(),
        }
    }

    /// Opens or closes the obligation of `observer`'s suspicion of `target` to clear.
    fn update_pair(&mut self, world: &World, observer: NodeId, target: NodeId) {
        let owed = running(world, observer)
            && running(world, target)
            && self.suspicions.get(observer, target).is_some();
        if !owed {
            self.open.remove((observer, target));
            return;
        }
        let due = self
            .bound
            .after
            .max(world.status(observer).running_since)
            .max(world.status(target).running_since)
            + self.bound.within;
        self.open.set((observer, target), due);
    }

    /// Brings the obligations of `node`, as observer and as target, in line
    /// with the world.
    fn refresh(&mut self, world: &World, node: NodeId) {
        self.refresh_observer(world, node);
        let observers: Vec<NodeId> = self.suspicions.suspected_by[node.index()]
            .iter()
            .copied()
            .collect();
        for observer in observers {
            self.update_pair(world, observer, node);
        }
    }

    fn refresh_observer(&mut self, world: &World, observer: NodeId) {
        self.open.remove_first(observer);
        let targets: Vec<NodeId> = self.suspicions.suspects[observer.index()]
            .keys()
            .copied()
            .collect();
        for target in targets {
            self.update_pair(world, observer, target);
        }
    }

    fn overdue(&self, now: SimTime, inclusive: bool, world: &World) -> Option<Violation> {
        let ((observer, target), due) = self.open.first_overdue(now, inclusive)?;
        let suspected_since = self
            .suspicions
            .get(observer, target)
            .expect("an open obligation is a suspicion");
        let status = world.status(target);
        Some(Violation {
            name: "lasting_false_suspicion".into(),
            check: "eventual_accuracy".into(),
            severity: Severity::Liveness,
            time: due,
            nodes: names_of(world, &[observer, target]),
            explanation: format!(
                "{} has suspected {} since {}, though {} is running (since {}); the liveness phase began at {} and suspicions should clear within {}; {}",
                world.name(observer),
                world.name(target),
                suspected_since,
                world.name(target),
                status.running_since,
                self.bound.after,
                self.bound.within,
                world.faults_in_force()
            ),
        })
    }

    fn sync(&mut self, world: &World) {
        self.suspicions.ensure(world.len());
        for node in self.cursor.changed(world) {
            self.refresh(world, node);
        }
    }
}

impl Checker for EventualAccuracy {
    fn name(&self) -> &'static str {
        "eventual_accuracy"
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        self.sync(world);
        let late = if event.time > self.bound.after {
            self.overdue(event.time, false, world)
        } else {
            None
        };
        match self.suspicions.observe(event, world) {
            Some(Change::Suspect { observer, target } | Change::Trust { observer, target }) => {
                self.update_pair(world, observer, target)
            }
            Some(Change::Forget { observer }) => self.refresh_observer(world, observer),
            None => {}
        }
        late
    }

    fn finish(&mut self, end: SimTime, world: &World) -> Option<Violation> {
        self.sync(world);
        self.overdue(end, true, world)
    }
}

#[cfg(test)]
mod tests {
    //! The incremental checks against the scan they replace: every pair, every
    //! event, on random histories of starts, crashes, pauses, resumes,
    //! suspicions and trusts.

    use super::*;
    use crate::node::Record;
    use crate::rng::SimRng;
    use serde_json::json;

    /// The former checks: a dense matrix of suspicions and a scan of every
    /// pair at every event.
    mod scan {
        use super::super::*;

        #[derive(Default)]
        pub struct Matrix {
            n: usize,
            since: Vec<Option<SimTime>>,
        }

        impl Matrix {
            fn ensure(&mut self, n: usize) {
                if self.n != n {
                    self.n = n;
                    self.since = vec![None; n * n];
                }
            }

            pub fn get(&self, observer: NodeId, target: NodeId) -> Option<SimTime> {
                self.since[observer.index() * self.n + target.index()]
            }

            pub fn observe(&mut self, event: &TraceEvent, world: &World) {
                self.ensure(world.len());
                let Some(node) = event.node else { return };
                match &event.kind {
                    EventKind::Record(r) if r.kind == "suspect" || r.kind == "trust" => {
                        let Some(peer) = r
                            .detail
                            .get("peer")
                            .and_then(|p| p.as_str())
                            .and_then(|p| world.node_named(p))
                        else {
                            return;
                        };
                        let slot = &mut self.since[node.index() * self.n + peer.index()];
                        if r.kind == "suspect" {
                            slot.get_or_insert(event.time);
                        } else {
                            *slot = None;
                        }
                    }
                    EventKind::Start { .. }
                    | EventKind::Fault {
                        fault: Fault::Crash(_),
                        applied: true,
                    } => {
                        let row = node.index() * self.n;
                        self.since[row..row + self.n].fill(None);
                    }
                    _ => {}
                }
            }
        }

        /// (target, observer, due) of the first overdue crash detection.
        pub fn completeness(
            m: &Matrix,
            within: SimDuration,
            now: SimTime,
            inclusive: bool,
            world: &World,
        ) -> Option<(NodeId, NodeId, SimTime)> {
            let n = world.len() as u32;
            for target in (0..n).map(NodeId) {
                let down = world.status(target);
                if down.up {
                    continue;
                }
                for observer in (0..n).map(NodeId) {
                    let watcher = world.status(observer);
                    if !watcher.up || watcher.paused || m.get(observer, target).is_some() {
                        continue;
                    }
                    let due = down.since.max(watcher.running_since) + within;
                    if due < now || (inclusive && due <= now) {
                        return Some((target, observer, due));
                    }
                }
            }
            None
        }

        /// (observer, target, due) of the first overdue false suspicion.
        pub fn accuracy(
            m: &Matrix,
            bound: LivenessBound,
            now: SimTime,
            inclusive: bool,
            world: &World,
        ) -> Option<(NodeId, NodeId, SimTime)> {
            let n = world.len() as u32;
            for observer in (0..n).map(NodeId) {
                let watcher = world.status(observer);
                if !watcher.up || watcher.paused {
                    continue;
                }
                for target in (0..n).map(NodeId) {
                    if m.get(observer, target).is_none() {
                        continue;
                    }
                    let status = world.status(target);
                    if !status.up || status.paused {
                        continue;
                    }
                    let due = bound
                        .after
                        .max(watcher.running_since)
                        .max(status.running_since)
                        + bound.within;
                    if due < now || (inclusive && due <= now) {
                        return Some((observer, target, due));
                    }
                }
            }
            None
        }
    }

    const N: u32 = 6;

    fn name(n: u32) -> String {
        format!("n{}", n + 1)
    }

    fn record(kind: &str, peer: &str) -> EventKind {
        EventKind::Record(Record {
            kind: kind.to_string().into(),
            detail: json!({ "peer": peer }).into(),
        })
    }

    /// A random but well-formed event for the world as it stands.
    fn random_event(rng: &mut SimRng, t: SimTime, world: &World) -> TraceEvent {
        let node = NodeId(rng.below(u64::from(N)) as u32);
        let status = world.status(node);
        let fault = |fault: Fault| EventKind::Fault {
            fault,
            applied: true,
        };
        let kind = match rng.below(10) {
            0 if !status.up => EventKind::Start { restart: true },
            1 if status.up => fault(Fault::Crash(node)),
            2 if status.up => fault(Fault::Pause {
                node,
                duration: SimDuration::from_millis(100),
            }),
            3 if status.paused => EventKind::Resume,
            4..=6 => record("suspect", &name(rng.below(u64::from(N) + 1) as u32)),
            7 | 8 => record("trust", &name(rng.below(u64::from(N)) as u32)),
            _ => EventKind::Timer { timer: 0, tag: 0 },
        };
        TraceEvent {
            time: t,
            node: Some(node),
            kind,
        }
    }

    /// Runs both forms of both liveness checks over one random history and
    /// requires the same violation (pair and due time) at the same event.
    fn compare(seed: u64) {
        let mut rng = SimRng::stream(seed, "failure_detector_test");
        let within = SimDuration::from_millis(rng.between(1, 3_000));
        let bound = LivenessBound {
            after: SimTime(rng.below(20_000) * 1_000_000),
            within,
        };
        let mut world = World::new((0..N).map(name).collect());
        let mut strong = StrongCompleteness::new(within);
        let mut eventual = EventualAccuracy::new(bound);
        let mut matrix = scan::Matrix::default();
        let (mut strong_done, mut eventual_done) = (false, false);
        let mut t = SimTime::ZERO;
        let late_before = rng.below(2) == 0; // some worlds start before the checks see them
        for node in 0..N {
            let start = TraceEvent {
                time: t,
                node: Some(NodeId(node)),
                kind: EventKind::Start { restart: false },
            };
            if late_before {
                world.observe(&start);
                matrix.observe(&start, &world);
                continue;
            }
            assert!(strong.on_event(&start, &world).is_none());
            assert!(eventual.on_event(&start, &world).is_none());
            matrix.observe(&start, &world);
            world.observe(&start);
        }
        for _ in 0..300 {
            t += SimDuration::from_millis(rng.below(80));
            let event = random_event(&mut rng, t, &world);
            let pair = |v: Option<Violation>| v.map(|v| (v.nodes, v.time));
            let names = |(a, b, due): (NodeId, NodeId, SimTime), swap: bool| {
                let (observer, target) = if swap { (b, a) } else { (a, b) };
                (vec![name(observer.0), name(target.0)], due)
            };
            if !strong_done {
                let expected = scan::completeness(&matrix, within, t, false, &world);
                let got = pair(strong.on_event(&event, &world));
                assert_eq!(got, expected.map(|e| names(e, true)), "seed {seed} at {t}");
                strong_done = got.is_some();
            }
            if !eventual_done {
                let expected = (t > bound.after)
                    .then(|| scan::accuracy(&matrix, bound, t, false, &world))
                    .flatten();
                let got = pair(eventual.on_event(&event, &world));
                assert_eq!(got, expected.map(|e| names(e, false)), "seed {seed} at {t}");
                eventual_done = got.is_some();
            }
            matrix.observe(&event, &world);
            world.observe(&event);
        }
        let end = t + SimDuration::from_millis(rng.below(3_000));
        if !strong_done {
            let expected = scan::completeness(&matrix, within, end, true, &world);
            let got = strong.finish(end, &world).map(|v| (v.nodes, v.time));
            assert_eq!(
                got,
                expected
                    .map(|(target, observer, due)| (vec![name(observer.0), name(target.0)], due)),
                "seed {seed} at the end"
            );
        }
        if !eventual_done {
            let expected = scan::accuracy(&matrix, bound, end, true, &world);
            let got = eventual.finish(end, &world).map(|v| (v.nodes, v.time));
            assert_eq!(
                got,
                expected
                    .map(|(observer, target, due)| (vec![name(observer.0), name(target.0)], due)),
                "seed {seed} at the end"
            );
        }
    }

    #[test]
    fn incremental_checks_find_what_the_full_scan_finds() {
        for seed in 0..300 {
            compare(seed);
        }
    }

    #[test]
    fn deadlines_report_the_first_overdue_pair_in_pair_order() {
        let mut d = Deadlines::default();
        let (a, b, c) = (NodeId(0), NodeId(1), NodeId(2));
        d.set((b, a), SimTime(10));
        d.set((a, c), SimTime(30));
        d.set((a, b), SimTime(20));
        assert_eq!(d.first_overdue(SimTime(10), false), None);
        assert_eq!(
            d.first_overdue(SimTime(10), true),
            Some(((b, a), SimTime(10)))
        );
        assert_eq!(
            d.first_overdue(SimTime(25), false),
            Some(((a, b), SimTime(20)))
        );
        d.remove_first(a);
        assert_eq!(
            d.first_overdue(SimTime(99), false),
            Some(((b, a), SimTime(10)))
        );
        d.set((b, a), SimTime(50));
        assert_eq!(d.first_overdue(SimTime(40), false), None);
        assert_eq!(d.len(), 1);
    }
}
