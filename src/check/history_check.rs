//! The `linearizability` check of a run: when the run ends, it searches the
//! clients' history (collected by the [`World`] from their `op` records) for
//! a linearization (see [`super::linearizability`]).
//!
//! A search that exhausts its step or memory budget gives no verdict: the
//! check is inconclusive, its note says which budget ran out, and the run is
//! not failed for it. Both budgets count steps and bytes, never time, so the
//! outcome is the same on every machine.

use super::linearizability::explain::render;
use super::linearizability::{
    bytes_words, check, LinModel, LinOptions, LinVerdict, Style, Witness,
};
use super::{Checker, Interest, Severity, Violation, World};
use crate::engine::TraceEvent;
use crate::time::SimTime;

/// Search steps a run's check may take before giving up with "unknown".
pub const RUN_CHECK_MAX_STEPS: u64 = 20_000_000;

/// Linearizability of the run's client history against a sequential model.
#[derive(Debug)]
pub struct Linearizability {
    model: LinModel,
    options: LinOptions,
    note: Option<String>,
    inconclusive: bool,
}

impl Linearizability {
    /// Judges the history against `model`, with [`RUN_CHECK_MAX_STEPS`] and
    /// the default memory budget.
    pub fn new(model: LinModel) -> Self {
        Self::with_options(
            model,
            LinOptions {
                max_steps: RUN_CHECK_MAX_STEPS,
                ..LinOptions::default()
            },
        )
    }

    /// Judges the history against `model` within `options`.
    pub fn with_options(model: LinModel, options: LinOptions) -> Self {
        Linearizability {
            model,
            options,
            note: None,
            inconclusive: false,
        }
    }
}

impl Checker for Linearizability {
    fn name(&self) -> &'static str {
        "linearizability"
    }

    fn on_event(&mut self, _event: &TraceEvent, _world: &World) -> Option<Violation> {
        None
    }

    /// Judges the world's history at the end.
    fn interest(&self) -> Interest {
        Interest::Nothing
    }

    fn finish(&mut self, end: SimTime, world: &World) -> Option<Violation> {
        let report = match check(world.history(), self.model, &self.options, &|| false) {
            Ok(report) => report,
            Err(e) => {
                self.note = Some(format!(
                    "linearizability: the run's history is malformed: {e}"
                ));
                return None;
            }
        };
        let verdict = match report.verdict {
            LinVerdict::Linearizable => "linearizable".to_string(),
            LinVerdict::NotLinearizable => "NOT linearizable".to_string(),
            LinVerdict::Unknown => format!(
                "unknown, no verdict within the budget of {} steps and {} of memory",
                self.options.max_steps,
                bytes_words(self.options.max_memory)
            ),
        };
        self.inconclusive = report.verdict == LinVerdict::Unknown;
        self.note = Some(format!(
            "linearizability: {} operations in {} partition(s), {} steps: {verdict}",
            report.operations, report.partitions, report.steps
        ));
        if report.verdict != LinVerdict::NotLinearizable {
            return None;
        }
        let (time, explanation) = match &report.witness {
            Some(witness) => (
                witness.time().map_or(end, SimTime),
                run_words(witness, world),
            ),
            None => (
                end,
                report
                    .explanation
                    .unwrap_or_else(|| "no linearization exists".into()),
            ),
        };
        Some(Violation {
            name: "not_linearizable".into(),
            check: self.name().into(),
            severity: Severity::Safety,
            time,
            nodes: Vec::new(),
            explanation,
        })
    }

    fn note(&self) -> Option<String> {
        self.note.clone()
    }

    fn inconclusive(&self) -> bool {
        self.inconclusive
    }
}

/// A witness in a run's words: times in seconds (`2.345s`) and each
/// process with its client (`c1 (process 4)`).
fn run_words(witness: &Witness, world: &World) -> String {
    let seconds = |t: u64| SimTime(t).to_string();
    let who = |process: u64| match world.client_of(process) {
        Some(client) => format!("{client} (process {process})"),
        None => format!("process {process}"),
    };
    let style = Style {
        time: &seconds,
        end: &seconds,
        who: &who,
    };
    render(witness, &style)
}
