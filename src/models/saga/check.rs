//! `saga_outcome`: every saga ends all done or all compensated, and no
//! step runs twice.
//!
//! It reads the orchestrator's `saga_start {saga, steps}`, `saga_done` and
//! `saga_compensated`, the services' `applied {saga, step}` and
//! `compensated {saga, step}`, and counts `retry` records.

use crate::check::{CheckInfo, Checker, Severity, Violation, World};
use crate::engine::{EventKind, TraceEvent};
use crate::time::SimTime;
use std::collections::BTreeMap;

/// The check as the registry lists it.
pub const SAGA_OUTCOME: CheckInfo = CheckInfo {
    name: "saga_outcome",
    about: "every saga ends with all steps applied once or every applied step compensated once; no step applied twice (saga model)",
    severity: Severity::Safety,
    violation: "step_applied_twice, step_compensated_twice, saga_mixed, saga_unfinished",
};

/// How a saga ended, as the orchestrator declared it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    Compensated,
}

/// What the check knows of one saga.
#[derive(Clone, Debug, Default)]
struct SagaSeen {
    /// The steps' names (from `saga_start`).
    steps: Vec<String>,
    /// When it started (true time).
    start: Option<SimTime>,
    /// Its declared outcome and when.
    outcome: Option<(Outcome, SimTime)>,
    /// Per step name: times applied, times compensated.
    applied: BTreeMap<String, u32>,
    compensated: BTreeMap<String, u32>,
}

impl SagaSeen {
    fn count(map: &BTreeMap<String, u32>, step: &str) -> u32 {
        map.get(step).copied().unwrap_or(0)
    }

    /// What is wrong with its outcome, if anything.
    fn mixed(&self) -> Option<String> {
        let (outcome, _) = self.outcome?;
        match outcome {
            Outcome::Done => {
                for step in &self.steps {
                    let (a, c) = (
                        Self::count(&self.applied, step),
                        Self::count(&self.compensated, step),
                    );
                    if a != 1 || c != 0 {
                        return Some(format!(
                            "was declared done, but its step {step} was applied {a} times and compensated {c} times"
                        ));
                    }
                }
                None
            }
            Outcome::Compensated => {
                for step in &self.steps {
                    let (a, c) = (
                        Self::count(&self.applied, step),
                        Self::count(&self.compensated, step),
                    );
                    if a != c {
                        return Some(format!(
                            "was declared compensated, but its step {step} was applied {a} times and compensated {c} times"
                        ));
                    }
                }
                None
            }
        }
    }
}

/// The `saga_outcome` checker.
#[derive(Debug, Default)]
pub struct SagaOutcome {
    sagas: BTreeMap<u64, SagaSeen>,
    /// Who runs each step (service name), for the violations' nodes.
    services: BTreeMap<String, String>,
    orchestrator: Option<String>,
    retries: u64,
}

impl SagaOutcome {
    fn violation(name: &str, time: SimTime, nodes: Vec<String>, explanation: String) -> Violation {
        debug_assert!(SAGA_OUTCOME.violations().any(|v| v == name));
        Violation {
            name: name.into(),
            check: SAGA_OUTCOME.name.into(),
            severity: Severity::Safety,
            time,
            nodes,
            explanation,
        }
    }

    /// The orchestrator and the services of `saga`'s steps, by name.
    fn nodes(&self, saga: &SagaSeen) -> Vec<String> {
        let mut nodes: Vec<String> = self.orchestrator.iter().cloned().collect();
        for step in &saga.steps {
            if let Some(s) = self.services.get(step) {
                nodes.push(s.clone());
            }
        }
        nodes
    }

    fn on_service(
        &mut self,
        kind: &str,
        node: &str,
        detail: &serde_json::Value,
        time: SimTime,
    ) -> Option<Violation> {
        let id = detail.get("saga")?.as_u64()?;
        let step = detail.get("step")?.as_str()?.to_string();
        self.services
            .entry(step.clone())
            .or_insert_with(|| node.to_string());
        let saga = self.sagas.entry(id).or_default();
        let (map, violation, verb) = if kind == "applied" {
            (&mut saga.applied, "step_applied_twice", "applied")
        } else {
            (
                &mut saga.compensated,
                "step_compensated_twice",
                "compensated",
            )
        };
        let n = map.entry(step.clone()).or_insert(0);
        *n += 1;
        if *n < 2 {
            return None;
        }
        Some(Self::violation(
            violation,
            time,
            vec![node.to_string()],
            format!(
                "{node} {verb} step {step} of saga {id} a second time at {time}: the same request ran twice (a retry or a duplicate the service did not recognise by its idempotency key)"
            ),
        ))
    }

    fn on_outcome(&mut self, id: u64, outcome: Outcome, time: SimTime) -> Option<Violation> {
        let saga = self.sagas.entry(id).or_default();
        saga.outcome = Some((outcome, time));
        let problem = saga.mixed()?;
        let saga = self.sagas.get(&id)?;
        Some(Self::violation(
            "saga_mixed",
            time,
            self.nodes(saga),
            format!("saga {id} {problem} (at {time})"),
        ))
    }

    fn durations_ms(&self) -> Vec<f64> {
        let mut d: Vec<f64> = self
            .sagas
            .values()
            .filter_map(|s| {
                let (start, (_, end)) = (s.start?, s.outcome?);
                Some((end.0.saturating_sub(start.0)) as f64 / 1e6)
            })
            .collect();
        d.sort_by(f64::total_cmp);
        d
    }

    fn count(&self, outcome: Option<Outcome>) -> usize {
        self.sagas
            .values()
            .filter(|s| s.start.is_some() && s.outcome.map(|(o, _)| o) == outcome)
            .count()
    }
}

/// The nearest-rank quantile `q` of sorted `values`.
fn quantile(values: &[f64], q: f64) -> f64 {
    debug_assert!(!values.is_empty());
    let rank = (q * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

impl Checker for SagaOutcome {
    fn name(&self) -> &'static str {
        SAGA_OUTCOME.name
    }

    fn on_event(&mut self, event: &TraceEvent, world: &World) -> Option<Violation> {
        let (EventKind::Record(record), Some(node)) = (&event.kind, event.node) else {
            return None;
        };
        let detail = &record.detail;
        match record.kind.as_str() {
            "saga_start" => {
                let id = detail.get("saga")?.as_u64()?;
                self.orchestrator = Some(world.name(node).to_string());
                let steps = detail.get("steps")?.as_array()?;
                let saga = self.sagas.entry(id).or_default();
                saga.steps = steps
                    .iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect();
                saga.start = Some(event.time);
                None
            }
            "saga_done" => {
                self.on_outcome(detail.get("saga")?.as_u64()?, Outcome::Done, event.time)
            }
            "saga_compensated" => self.on_outcome(
                detail.get("saga")?.as_u64()?,
                Outcome::Compensated,
                event.time,
            ),
            "applied" | "compensated" => {
                self.on_service(&record.kind, world.name(node), detail, event.time)
            }
            "retry" => {
                self.retries += 1;
                None
            }
            _ => None,
        }
    }

    fn finish(&mut self, end: SimTime, _world: &World) -> Option<Violation> {
        // A step applied or compensated after its saga's outcome was declared.
        for (id, saga) in &self.sagas {
            if let Some(problem) = saga.mixed() {
                return Some(Self::violation(
                    "saga_mixed",
                    end,
                    self.nodes(saga),
                    format!("saga {id} {problem} (by the end, {end})"),
                ));
            }
        }
        let unfinished: Vec<u64> = self
            .sagas
            .iter()
            .filter(|(_, s)| s.start.is_some() && s.outcome.is_none())
            .map(|(id, _)| *id)
            .collect();
        let first = *unfinished.first()?;
        let saga = self.sagas.get(&first)?;
        Some(Self::violation(
            "saga_unfinished",
            end,
            self.nodes(saga),
            format!(
                "{} started sagas were neither done nor compensated at the end ({end}), the first saga {first}, started at {}",
                unfinished.len(),
                saga.start.unwrap_or(SimTime(0))
            ),
        ))
    }

    fn note(&self) -> Option<String> {
        let started = self.sagas.values().filter(|s| s.start.is_some()).count();
        Some(format!(
            "{started} sagas started: {} done, {} compensated, {} unfinished; {} retries",
            self.count(Some(Outcome::Done)),
            self.count(Some(Outcome::Compensated)),
            self.count(None),
            self.retries
        ))
    }

    fn metrics(&self) -> Vec<(String, f64)> {
        let mut m = vec![
            (
                "saga_outcome.done".to_string(),
                self.count(Some(Outcome::Done)) as f64,
            ),
            (
                "saga_outcome.compensated".to_string(),
                self.count(Some(Outcome::Compensated)) as f64,
            ),
            (
                "saga_outcome.unfinished".to_string(),
                self.count(None) as f64,
            ),
            ("saga_outcome.retries".to_string(), self.retries as f64),
        ];
        let d = self.durations_ms();
        if !d.is_empty() {
            m.push((
                "saga_outcome.duration_ms_p50".to_string(),
                quantile(&d, 0.5),
            ));
            m.push((
                "saga_outcome.duration_ms_p99".to_string(),
                quantile(&d, 0.99),
            ));
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::check::record_at as record;

    fn world() -> World {
        World::new(vec!["n1".into(), "n2".into(), "n3".into()])
    }

    fn start(at_ms: u64) -> TraceEvent {
        record(
            0,
            at_ms,
            "saga_start",
            json!({ "saga": 1, "steps": ["flight", "hotel"] }),
        )
    }

    fn at_service(node: u32, at_ms: u64, kind: &str, step: &str) -> TraceEvent {
        record(node, at_ms, kind, json!({ "saga": 1, "step": step }))
    }

    #[test]
    fn a_compensated_saga_with_every_applied_step_undone_passes_and_is_measured() {
        let (mut check, world) = (SagaOutcome::default(), world());
        for event in [
            start(0),
            at_service(1, 2, "applied", "flight"),
            at_service(1, 9, "compensated", "flight"),
            record(0, 10, "saga_compensated", json!({ "saga": 1 })),
        ] {
            assert_eq!(check.on_event(&event, &world), None);
        }
        assert_eq!(check.finish(SimTime(20_000_000), &world), None);
        let metrics = check.metrics();
        assert!(metrics.contains(&("saga_outcome.compensated".into(), 1.0)));
        assert!(metrics.contains(&("saga_outcome.duration_ms_p50".into(), 10.0)));
    }

    #[test]
    fn a_saga_declared_done_with_a_missing_step_is_mixed() {
        let (mut check, world) = (SagaOutcome::default(), world());
        check.on_event(&start(0), &world);
        check.on_event(&at_service(1, 2, "applied", "flight"), &world);
        let v = check
            .on_event(&record(0, 5, "saga_done", json!({ "saga": 1 })), &world)
            .expect("hotel never applied");
        assert_eq!(v.name, "saga_mixed");
        assert!(
            v.explanation.contains("step hotel was applied 0 times"),
            "{}",
            v.explanation
        );
    }

    #[test]
    fn a_step_applied_after_its_saga_was_compensated_is_caught_at_the_end() {
        let (mut check, world) = (SagaOutcome::default(), world());
        check.on_event(&start(0), &world);
        assert_eq!(
            check.on_event(
                &record(0, 5, "saga_compensated", json!({ "saga": 1 })),
                &world
            ),
            None
        );
        check.on_event(&at_service(2, 7, "applied", "hotel"), &world);
        let v = check.finish(SimTime(9), &world).expect("a late booking");
        assert_eq!(v.name, "saga_mixed");
        assert_eq!(v.nodes, vec!["n1".to_string(), "n3".to_string()]);
    }

    #[test]
    fn twice_applied_or_compensated_is_caught_at_once_and_unfinished_at_the_end() {
        let (mut check, world) = (SagaOutcome::default(), world());
        check.on_event(&start(0), &world);
        check.on_event(&at_service(1, 1, "applied", "flight"), &world);
        let v = check
            .on_event(&at_service(1, 2, "applied", "flight"), &world)
            .expect("twice");
        assert_eq!(v.name, "step_applied_twice");
        check.on_event(&at_service(1, 3, "compensated", "flight"), &world);
        let v = check
            .on_event(&at_service(1, 4, "compensated", "flight"), &world)
            .expect("twice");
        assert_eq!(v.name, "step_compensated_twice");
        let v = check.finish(SimTime(10), &world).expect("never finished");
        assert_eq!(v.name, "saga_unfinished");
    }
}
