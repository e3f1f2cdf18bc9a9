//! Checkers: observers of a run that judge it.
//!
//! A [`Checker`] sees every trace event, in order, together with a
//! [`World`] that knows which nodes are up, paused or down and which faults
//! are in force. It returns a [`Violation`] the moment a property breaks
//! (an `always` property), when a deadline passes without what should have
//! happened (an `eventually` property), or at the end of the run.
//!
//! A violation is either about safety ("wrong": exit 3) or liveness
//! ("stuck": exit 4), names itself, the time, the nodes, and explains itself
//! in a sentence a person can check against the trace.
//!
//! Checkers are called *before* the world applies the event, so the world
//! they see is the one the event happened in.

pub mod availability;
pub mod failure_detector;
pub mod histogram;
pub mod history_check;
pub mod invariants;
pub mod linearizability;
pub mod resilience;
pub mod series;
pub mod service;
pub mod world;

pub use world::World;

use crate::engine::TraceEvent;
use crate::node::NodeId;
use crate::time::{SimDuration, SimTime};

/// Whether a violation means "wrong" or "stuck".
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something bad happened (exit 3).
    Safety,
    /// Something good did not happen in time (exit 4).
    Liveness,
}

/// A broken property.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Violation {
    /// The violation's name, e.g. `"false_suspicion"` (what `expect` names).
    pub name: String,
    /// The check that found it.
    pub check: String,
    /// Safety or liveness.
    pub severity: Severity,
    /// When it happened (true time).
    pub time: SimTime,
    /// The nodes involved, by name.
    pub nodes: Vec<String>,
    /// What happened, in a sentence.
    pub explanation: String,
}

/// An observer that judges a run.
pub trait Checker {
    /// The check's name as scenarios spell it.
    fn name(&self) -> &'static str;
    /// Sees one event (the world is as it was when the event happened):
    /// every event, or those of [`Checker::interest`].
    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation>;
    /// The events [`Checker::on_event`] needs; asked once, before the run.
    /// A check that reads only records says [`Interest::Records`] and is not
    /// called for sends, deliveries and timers.
    fn interest(&self) -> Interest {
        Interest::Everything
    }
    /// Called once when the run ends at `end`.
    fn finish(&mut self, end: SimTime, world: &World) -> Option<Violation>;
    /// After the run: one line on what was judged (e.g. "120 operations on 2 keys: linearizable").
    fn note(&self) -> Option<String> {
        None
    }
    /// After the run: true if the check could not decide (e.g. a search
    /// budget ran out); the summary shows it as `unknown`, not `ok`.
    fn inconclusive(&self) -> bool {
        false
    }
    /// After the run: numbers worth aggregating over seeds, named
    /// `<check>.<what>` (e.g. `progress.recovery_s`); a sweep reports their
    /// count, min, median, p90, p99 and max.
    fn metrics(&self) -> Vec<(String, f64)> {
        Vec::new()
    }
    /// After the run: its time series, if the check keeps one (the
    /// `service` observer does; see [`series::TimeSeries`]); taken once.
    fn take_series(&mut self) -> Option<series::TimeSeries> {
        None
    }
}

/// The trace events a [`Checker`] looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    /// Every event (the default).
    Everything,
    /// Only [`crate::engine::EventKind::Record`] events.
    Records,
    /// No event: the check judges at [`Checker::finish`], from the world.
    Nothing,
}

impl Interest {
    /// True if a check with this interest is to see `event`.
    #[inline]
    pub fn covers(self, event: &TraceEvent) -> bool {
        match self {
            Interest::Everything => true,
            Interest::Records => matches!(event.kind, crate::engine::EventKind::Record(_)),
            Interest::Nothing => false,
        }
    }
}

/// What a scenario can say about liveness: after `after`, progress is due
/// within `within`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LivenessBound {
    /// When the liveness phase starts (by default the last fault's time).
    pub after: SimTime,
    /// How long the system may take.
    pub within: SimDuration,
}

/// A check that a scenario may name: its name, what it checks, and its kind.
#[derive(Clone, Copy, Debug)]
pub struct CheckInfo {
    /// Name used in `checks = [...]`.
    pub name: &'static str,
    /// One line on what it checks.
    pub about: &'static str,
    /// Safety or liveness (of a check that only measures: `Safety`, so
    /// that naming it asks for no liveness bound).
    pub severity: Severity,
    /// The violation name it reports (several separated by `", "`, e.g.
    /// `breaker_opens`'s; see [`CheckInfo::violations`]); empty for a check
    /// that only measures and never fails a run (e.g. `availability`).
    pub violation: &'static str,
}

impl CheckInfo {
    /// Each violation name the check may report (none for a measure).
    pub fn violations(&self) -> impl Iterator<Item = &'static str> {
        self.violation.split(", ").filter(|v| !v.is_empty())
    }
}

/// Builds the named check, or says which names exist. `linearizability`
/// judges against the register model; see [`build_with`].
pub fn build(name: &str, bound: LivenessBound) -> Result<Box<dyn Checker>, String> {
    build_with(name, bound, linearizability::LinModel::Register)
}

/// Builds the named check; `history_model` is the sequential model the
/// `linearizability` check judges the client history against.
pub fn build_with(
    name: &str,
    bound: LivenessBound,
    history_model: linearizability::LinModel,
) -> Result<Box<dyn Checker>, String> {
    build_with_memory(
        name,
        bound,
        history_model,
        linearizability::DEFAULT_MAX_MEMORY,
    )
}

/// [`build_with`], where the `linearizability` check's search may hold at
/// most `linearizability_memory` bytes.
pub fn build_with_memory(
    name: &str,
    bound: LivenessBound,
    history_model: linearizability::LinModel,
    linearizability_memory: u64,
) -> Result<Box<dyn Checker>, String> {
    match name {
        "linearizability" => Ok(Box::new(history_check::Linearizability::with_options(
            history_model,
            linearizability::LinOptions {
                max_steps: history_check::RUN_CHECK_MAX_STEPS,
                max_memory: linearizability_memory,
            },
        ))),
        "accuracy" => Ok(Box::new(failure_detector::Accuracy::default())),
        "strong_completeness" => Ok(Box::new(failure_detector::StrongCompleteness::new(
            bound.within,
        ))),
        "eventual_accuracy" => Ok(Box::new(failure_detector::EventualAccuracy::new(bound))),
        "election_safety" => Ok(Box::new(invariants::ElectionSafety::default())),
        "lease_exclusivity" => Ok(Box::new(invariants::LeaseExclusivity::default())),
        "log_matching" => Ok(Box::new(invariants::LogMatching::default())),
        "no_lost_update" => Ok(Box::new(invariants::NoLostUpdate::default())),
        "convergence" => Ok(Box::new(invariants::Convergence::new(bound.within))),
        "progress" => Ok(Box::new(invariants::Progress::new(bound))),
        // Built by name, without a scenario, every node counts as a server;
        // the registry builds it with the scenario's server count.
        "availability" => Ok(Box::new(availability::Availability::every_node_a_server())),
        // Built by name: the default `[metrics]`, every node a server.
        "service" | "recovers" | "goodput_slo" | "breaker_opens" => Ok(resilience::build(
            name,
            service::MetricsConfig::default(),
            bound,
            usize::MAX,
            true,
        )
        .expect("a check of the service family")),
        other => Err(format!(
            "unknown check '{other}'; expected one of {}",
            CATALOGUE
                .iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Every check faultlab knows.
pub const CATALOGUE: &[CheckInfo] = &[
    CheckInfo {
        name: "accuracy",
        about: "no node ever suspects a node that is up (strong accuracy)",
        severity: Severity::Safety,
        violation: "false_suspicion",
    },
    CheckInfo {
        name: "strong_completeness",
        about: "a crashed node is suspected by every running node within the liveness bound",
        severity: Severity::Liveness,
        violation: "undetected_crash",
    },
    CheckInfo {
        name: "eventual_accuracy",
        about: "after the faults end, no running node suspects a running node for longer than the bound",
        severity: Severity::Liveness,
        violation: "lasting_false_suspicion",
    },
    CheckInfo {
        name: "linearizability",
        about: "the clients' history has a linearization in the model's sequential specification",
        severity: Severity::Safety,
        violation: "not_linearizable",
    },
    CheckInfo {
        name: "election_safety",
        about: "at most one leader per term (from `leader {term}` records)",
        severity: Severity::Safety,
        violation: "two_leaders",
    },
    CheckInfo {
        name: "lease_exclusivity",
        about: "no two nodes hold a lease at the same true time (from `lease` intervals)",
        severity: Severity::Safety,
        violation: "lease_overlap",
    },
    CheckInfo {
        name: "log_matching",
        about: "no two nodes commit different entries at one index (from `commit {index, digest}`)",
        severity: Severity::Safety,
        violation: "log_mismatch",
    },
    CheckInfo {
        name: "no_lost_update",
        about: "protected storage never accepts a write with an older fencing token than one it accepted",
        severity: Severity::Safety,
        violation: "lost_update",
    },
    CheckInfo {
        name: "convergence",
        about: "at the end, every running replica has what was written more than the liveness bound before",
        severity: Severity::Liveness,
        violation: "divergence",
    },
    CheckInfo {
        name: "progress",
        about: "after the faults, a client operation completes or a leader is elected within the bound",
        severity: Severity::Liveness,
        violation: "no_progress",
    },
    CheckInfo {
        name: "availability",
        about: "measures the time without a leader after a fault takes the leader out (from `leader`, `follow`, `stepped_down`); never fails a run",
        severity: Severity::Safety,
        violation: "",
    },
    CheckInfo {
        name: "service",
        about: "measures offered load, throughput, goodput, latency p50/p99 and calls per request, with a time series (from `request`, `call`, `done`, `served`, `shed`, `breaker`); never fails a run",
        severity: Severity::Safety,
        violation: "",
    },
    CheckInfo {
        name: "recovers",
        about: "after the faults, goodput over a [metrics] window returns to recover_to x its pre-fault baseline within the liveness bound",
        severity: Severity::Liveness,
        violation: "no_recovery",
    },
    CheckInfo {
        name: "goodput_slo",
        about: "over the run, requests answered ok within their deadline are at least [metrics] slo x the requests issued",
        severity: Severity::Liveness,
        violation: "goodput_below_slo",
    },
    CheckInfo {
        name: "breaker_opens",
        about: "some client's circuit breaker opens (else breaker_never_opened), and every one that opened is closed at the end (else breaker_stuck_open)",
        severity: Severity::Liveness,
        violation: "breaker_never_opened, breaker_stuck_open",
    },
];

/// Looks up a check by name.
pub fn info(name: &str) -> Option<&'static CheckInfo> {
    CATALOGUE.iter().find(|c| c.name == name)
}

/// Names of nodes, for violations.
pub(crate) fn names_of(world: &World, nodes: &[NodeId]) -> Vec<String> {
    nodes.iter().map(|n| world.name(*n).to_string()).collect()
}

/// A test's trace event: `node` recorded `kind {detail}` at `at_ms` ms.
#[cfg(test)]
pub(crate) fn record_at(
    node: u32,
    at_ms: u64,
    kind: &str,
    detail: serde_json::Value,
) -> TraceEvent {
    TraceEvent {
        time: SimTime(at_ms * 1_000_000),
        node: Some(NodeId(node)),
        kind: crate::engine::EventKind::Record(crate::node::Record {
            kind: kind.to_string().into(),
            detail: detail.into(),
        }),
    }
}

#[cfg(test)]
mod interest_tests {
    use super::*;
    use crate::engine::EventKind;

    #[test]
    fn an_interest_covers_its_events() {
        let record = record_at(0, 1, "commit", serde_json::json!({"index": 1}));
        let deliver = TraceEvent {
            time: SimTime(1),
            node: Some(NodeId(1)),
            kind: EventKind::Deliver {
                from: NodeId(0),
                msg: 3,
            },
        };
        assert!(Interest::Everything.covers(&record) && Interest::Everything.covers(&deliver));
        assert!(Interest::Records.covers(&record) && !Interest::Records.covers(&deliver));
        assert!(!Interest::Nothing.covers(&record) && !Interest::Nothing.covers(&deliver));
    }
}
