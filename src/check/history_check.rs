//! The `linearizability` check of a run: when the run ends, it searches the
//! clients' history (collected by the [`World`] from their `op` records) for
//! a linearization (see [`super::linearizability`]).
//!
//! A search that exhausts its step budget gives no verdict; the run's check
//! notes say so, and the run is not failed for it.

use super::linearizability::{check, LinModel, LinOptions, LinVerdict};
use super::{Checker, Severity, Violation, World};
use crate::engine::TraceEvent;
use crate::time::SimTime;

/// Search steps a run's check may take before giving up with "unknown".
pub const RUN_CHECK_MAX_STEPS: u64 = 20_000_000;

/// Linearizability of the run's client history against a sequential model.
#[derive(Debug)]
pub struct Linearizability {
    model: LinModel,
    note: Option<String>,
}

impl Linearizability {
    /// Judges the history against `model`.
    pub fn new(model: LinModel) -> Self {
        Linearizability { model, note: None }
    }
}

impl Checker for Linearizability {
    fn name(&self) -> &'static str {
        "linearizability"
    }

    fn on_event(&mut self, _event: &TraceEvent, _world: &World) -> Option<Violation> {
        None
    }

    fn finish(&mut self, end: SimTime, world: &World) -> Option<Violation> {
        let options = LinOptions {
            max_steps: RUN_CHECK_MAX_STEPS,
        };
        let report = match check(world.history(), self.model, &options, &|| false) {
            Ok(report) => report,
            Err(e) => {
                self.note = Some(format!(
                    "linearizability: the run's history is malformed: {e}"
                ));
                return None;
            }
        };
        let verdict = match report.verdict {
            LinVerdict::Linearizable => "linearizable",
            LinVerdict::NotLinearizable => "NOT linearizable",
            LinVerdict::Unknown => "unknown (search budget exhausted)",
        };
        self.note = Some(format!(
            "linearizability: {} operations in {} partition(s), {} steps: {verdict}",
            report.operations, report.partitions, report.steps
        ));
        if report.verdict != LinVerdict::NotLinearizable {
            return None;
        }
        Some(Violation {
            name: "not_linearizable".into(),
            check: self.name().into(),
            severity: Severity::Safety,
            time: end,
            nodes: Vec::new(),
            explanation: report
                .explanation
                .unwrap_or_else(|| "no linearization exists".into()),
        })
    }

    fn note(&self) -> Option<String> {
        self.note.clone()
    }
}
