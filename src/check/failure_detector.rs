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

use super::{names_of, Checker, LivenessBound, Severity, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::fault::Fault;
use crate::node::NodeId;
use crate::time::{SimDuration, SimTime};

/// Who suspects whom, from records; a node's suspicions end when it crashes or restarts.
#[derive(Clone, Debug, Default)]
struct Suspicions {
    n: usize,
    /// `since[observer * n + target]`: when the suspicion began.
    since: Vec<Option<SimTime>>,
}

impl Suspicions {
    fn ensure(&mut self, n: usize) {
        if self.n != n {
            self.n = n;
            self.since = vec![None; n * n];
        }
    }

    fn get(&self, observer: NodeId, target: NodeId) -> Option<SimTime> {
        self.since[observer.index() * self.n + target.index()]
    }

    /// Applies the event; returns `(observer, target)` if it was a new suspicion.
    fn observe(&mut self, event: &TraceEvent, world: &World) -> Option<(NodeId, NodeId)> {
        self.ensure(world.len());
        let node = event.node?;
        match &event.kind {
            EventKind::Record(r) if r.kind == "suspect" || r.kind == "trust" => {
                let peer = r
                    .detail
                    .get("peer")
                    .and_then(|p| p.as_str())
                    .and_then(|p| world.node_named(p))?;
                let slot = &mut self.since[node.index() * self.n + peer.index()];
                if r.kind == "suspect" {
                    let new = slot.is_none();
                    slot.get_or_insert(event.time);
                    return new.then_some((node, peer));
                }
                *slot = None;
                None
            }
            EventKind::Start { .. }
            | EventKind::Fault {
                fault: Fault::Crash(_),
                applied: true,
            } => {
                let row = node.index() * self.n;
                self.since[row..row + self.n]
                    .iter_mut()
                    .for_each(|s| *s = None);
                None
            }
            _ => None,
        }
    }
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
        let (observer, target) = self.suspicions.observe(event, world)?;
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
#[derive(Debug)]
pub struct StrongCompleteness {
    within: SimDuration,
    suspicions: Suspicions,
}

impl StrongCompleteness {
    /// Crashes must be suspected within `within`.
    pub fn new(within: SimDuration) -> Self {
        StrongCompleteness {
            within,
            suspicions: Suspicions::default(),
        }
    }

    /// The first obligation that is overdue at `now`.
    fn overdue(&self, now: SimTime, inclusive: bool, world: &World) -> Option<Violation> {
        let n = world.len() as u32;
        for target in (0..n).map(NodeId) {
            let down = world.status(target);
            if down.up {
                continue;
            }
            for observer in (0..n).map(NodeId) {
                let watcher = world.status(observer);
                if !watcher.up || watcher.paused || self.suspicions.get(observer, target).is_some()
                {
                    continue;
                }
                let due = down.since.max(watcher.running_since) + self.within;
                if due < now || (inclusive && due <= now) {
                    return Some(Violation {
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
                    });
                }
            }
        }
        None
    }
}

impl Checker for StrongCompleteness {
    fn name(&self) -> &'static str {
        "strong_completeness"
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        self.suspicions.ensure(world.len());
        let late = self.overdue(event.time, false, world);
        self.suspicions.observe(event, world);
        late
    }

    fn finish(&mut self, end: SimTime, world: &World) -> Option<Violation> {
        self.overdue(end, true, world)
    }
}

/// Eventual strong accuracy: after the faults, suspicions of running nodes clear in time.
#[derive(Debug)]
pub struct EventualAccuracy {
    bound: LivenessBound,
    suspicions: Suspicions,
}

impl EventualAccuracy {
    /// Suspicions of running nodes must clear within `bound.within` after `bound.after`.
    pub fn new(bound: LivenessBound) -> Self {
        EventualAccuracy {
            bound,
            suspicions: Suspicions::default(),
        }
    }

    fn overdue(&self, now: SimTime, inclusive: bool, world: &World) -> Option<Violation> {
        let n = world.len() as u32;
        for observer in (0..n).map(NodeId) {
            let watcher = world.status(observer);
            if !watcher.up || watcher.paused {
                continue;
            }
            for target in (0..n).map(NodeId) {
                let Some(suspected_since) = self.suspicions.get(observer, target) else {
                    continue;
                };
                let status = world.status(target);
                if !status.up || status.paused {
                    continue;
                }
                let due = self
                    .bound
                    .after
                    .max(watcher.running_since)
                    .max(status.running_since)
                    + self.bound.within;
                if due < now || (inclusive && due <= now) {
                    return Some(Violation {
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
                    });
                }
            }
        }
        None
    }
}

impl Checker for EventualAccuracy {
    fn name(&self) -> &'static str {
        "eventual_accuracy"
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        self.suspicions.ensure(world.len());
        let late = if event.time > self.bound.after {
            self.overdue(event.time, false, world)
        } else {
            None
        };
        self.suspicions.observe(event, world);
        late
    }

    fn finish(&mut self, end: SimTime, world: &World) -> Option<Violation> {
        self.overdue(end, true, world)
    }
}
