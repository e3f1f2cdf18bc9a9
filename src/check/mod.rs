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

pub mod failure_detector;
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
    /// Sees one event (the world is as it was when the event happened).
    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation>;
    /// Called once when the run ends at `end`.
    fn finish(&mut self, end: SimTime, world: &World) -> Option<Violation>;
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
    /// Safety or liveness.
    pub severity: Severity,
    /// The violation name it reports.
    pub violation: &'static str,
}

/// Builds the named check, or says which names exist.
pub fn build(name: &str, bound: LivenessBound) -> Result<Box<dyn Checker>, String> {
    match name {
        "accuracy" => Ok(Box::new(failure_detector::Accuracy::default())),
        "strong_completeness" => Ok(Box::new(failure_detector::StrongCompleteness::new(
            bound.within,
        ))),
        "eventual_accuracy" => Ok(Box::new(failure_detector::EventualAccuracy::new(bound))),
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
];

/// Looks up a check by name.
pub fn info(name: &str) -> Option<&'static CheckInfo> {
    CATALOGUE.iter().find(|c| c.name == name)
}

/// Names of nodes, for violations.
pub(crate) fn names_of(world: &World, nodes: &[NodeId]) -> Vec<String> {
    nodes.iter().map(|n| world.name(*n).to_string()).collect()
}
