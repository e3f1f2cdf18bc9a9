//! Orchestrated sagas as a scenario model: `model = "saga"` and its
//! `[saga]` table.

use super::{Orchestrator, SagaMsg, SagaParams, Service, KNOWN_BUGS};
use crate::model::{Layout, Model, ModelChecks, OwnCheck, ParamError, Servers, Work};
use crate::models::bugs::Bugs;
use crate::node::{Node, NodeId, Record};
use crate::retry::Backoff;
use crate::rng::Probability;
use crate::time::SimDuration;
use serde::Deserialize;

/// An orchestrator running sagas over one service per step.
#[derive(Clone, Copy, Debug, Default)]
pub struct SagaModel;

/// A failure probability: one for every step, or one per step.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FailureProbability {
    /// The same for every step.
    All(f64),
    /// One per step, in the steps' order.
    PerStep(Vec<f64>),
}

/// `[saga]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SagaTable {
    /// The steps' names, in order (default `["flight", "hotel", "payment"]`);
    /// the scenario needs one server per step plus the orchestrator.
    pub steps: Option<Vec<String>>,
    /// Sagas the orchestrator starts (default 20).
    pub sagas: Option<u64>,
    /// Time between two sagas' starts (default 100ms).
    pub every: Option<SimDuration>,
    /// Probability that a service fails a step (a business failure), a
    /// number for every step or a list with one per step (default 0).
    pub failure_probability: Option<FailureProbability>,
    /// The orchestrator's wait for a reply before retrying (default 50ms).
    pub timeout: Option<SimDuration>,
    /// The wait before a retry (default equal jitter, base 10ms, cap 500ms).
    pub backoff: Option<Backoff>,
    /// Sends of a forward step before the orchestrator gives up on it and
    /// compensates (default 5); compensations are retried without end.
    pub attempts: Option<u32>,
    /// Famous mistakes to switch on (see [`KNOWN_BUGS`]).
    #[serde(default)]
    pub bugs: Vec<String>,
}

/// The most sagas a scenario may start.
pub const MAX_SAGAS: u64 = 1_000_000;

/// The most steps a saga may have.
pub const MAX_STEPS: usize = 100;

impl Model for SagaModel {
    type Table = SagaTable;
    type Params = SagaParams;
    type Msg = SagaMsg;

    fn name(&self) -> &'static str {
        "saga"
    }

    fn about(&self) -> &'static str {
        "an orchestrated saga (flight, hotel, payment): durable saga log, retries, idempotency keys, compensations in reverse"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["saga_outcome"],
            default: &["saga_outcome"],
            always: &["saga_outcome"],
        }
    }

    fn own_checks(&self) -> Vec<OwnCheck> {
        vec![OwnCheck {
            info: super::SAGA_OUTCOME,
            build: |_| Box::new(super::SagaOutcome::default()),
        }]
    }

    fn servers(&self) -> Servers {
        Servers {
            min: 2,
            roles: "n1 the orchestrator, n2.. one service per step, in the steps' order",
        }
    }

    fn bugs(&self) -> &'static [crate::models::bugs::BugInfo] {
        KNOWN_BUGS
    }

    fn roles(&self) -> &'static [&'static str] {
        &["orchestrator", "service"]
    }

    fn params(&self, table: SagaTable, layout: &Layout) -> Result<SagaParams, ParamError> {
        let steps = table
            .steps
            .unwrap_or_else(|| vec!["flight".into(), "hotel".into(), "payment".into()]);
        if steps.is_empty() || steps.len() > MAX_STEPS {
            return Err(ParamError::at(
                "steps",
                format!("{} steps; expected 1 to {MAX_STEPS}", steps.len()),
            ));
        }
        for (i, step) in steps.iter().enumerate() {
            if step.is_empty() {
                return Err(ParamError::at("steps", "a step's name is empty"));
            }
            if steps[..i].contains(step) {
                return Err(ParamError::at("steps", format!("'{step}' is listed twice")));
            }
        }
        if layout.servers != steps.len() + 1 {
            return Err(ParamError::table(format!(
                "the saga model has the orchestrator and one service per step: {} steps need {} servers; this scenario has {} (set [nodes] count = {})",
                steps.len(),
                steps.len() + 1,
                layout.servers,
                steps.len() + 1
            )));
        }
        let sagas = table.sagas.unwrap_or(20);
        if !(1..=MAX_SAGAS).contains(&sagas) {
            return Err(ParamError::at(
                "sagas",
                format!("{sagas}; expected 1 to {MAX_SAGAS}"),
            ));
        }
        let every = table.every.unwrap_or(SimDuration::from_millis(100));
        if every == SimDuration::ZERO {
            return Err(ParamError::at("every", "must be longer than 0"));
        }
        let timeout = table.timeout.unwrap_or(SimDuration::from_millis(50));
        if timeout == SimDuration::ZERO {
            return Err(ParamError::at("timeout", "must be longer than 0"));
        }
        let failure = match table.failure_probability {
            None => vec![0.0; steps.len()],
            Some(FailureProbability::All(p)) => vec![p; steps.len()],
            Some(FailureProbability::PerStep(ps)) => {
                if ps.len() != steps.len() {
                    return Err(ParamError::at(
                        "failure_probability",
                        format!(
                            "{} probabilities for {} steps; expected one per step (or a single number)",
                            ps.len(),
                            steps.len()
                        ),
                    ));
                }
                ps
            }
        };
        let failure = failure
            .into_iter()
            .map(Probability::from_f64)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ParamError::at("failure_probability", e))?;
        let backoff = table.backoff.unwrap_or(Backoff::EqualJitter {
            base: SimDuration::from_millis(10),
            cap: SimDuration::from_millis(500),
        });
        backoff
            .validate()
            .map_err(|e| ParamError::at("backoff", e))?;
        let attempts = table.attempts.unwrap_or(5);
        if !(1..=1000).contains(&attempts) {
            return Err(ParamError::at(
                "attempts",
                format!("{attempts}; expected 1 to 1000"),
            ));
        }
        let bugs = Bugs::parse(&table.bugs, KNOWN_BUGS)?;
        Ok(SagaParams {
            steps,
            sagas,
            every,
            failure,
            timeout,
            backoff,
            attempts,
            bugs,
        })
    }

    /// One saga per `every`: its start, and per step a request, its
    /// delivery, the service's record, the reply and its delivery, plus
    /// the outcome record. The orchestrator stops after `sagas` sagas, so
    /// for a run longer than `sagas * every` this is an upper bound.
    fn periodic_work(&self, params: &SagaParams, _layout: &Layout, copies: f64) -> Vec<Work> {
        let steps = params.steps.len() as f64;
        vec![Work {
            every: params.every,
            events_per_tick: 2.0 + steps * (1.0 + 2.0 * copies),
            what: format!(
                "a saga of {} steps (up to {} sagas)",
                params.steps.len(),
                params.sagas
            ),
        }]
    }

    fn narrate(&self, _params: &SagaParams, record: &Record) -> Option<String> {
        let d = &record.detail;
        let saga = || d.get("saga").and_then(|s| s.as_u64());
        let step = || d.get("step").and_then(|s| s.as_str());
        match record.kind.as_str() {
            "saga_start" => {
                let steps: Vec<&str> = d
                    .get("steps")?
                    .as_array()?
                    .iter()
                    .filter_map(|s| s.as_str())
                    .collect();
                Some(format!(
                    "starts saga {} ({}), logged",
                    saga()?,
                    steps.join(", ")
                ))
            }
            "saga_done" => Some(format!("declares saga {} done: every step applied", saga()?)),
            "saga_compensated" => Some(format!(
                "declares saga {} compensated: every step that ran is undone",
                saga()?
            )),
            "saga_abort" => Some(match d.get("why")?.as_str()? {
                "failed" => format!(
                    "aborts saga {}: step {} failed; logs it and compensates the steps before it, last first",
                    saga()?,
                    step()?
                ),
                _ => format!(
                    "aborts saga {}: no reply for step {} after every attempt; compensates it (it may have run) and the steps before it",
                    saga()?,
                    step()?
                ),
            }),
            "resumed" => Some(format!(
                "restarts, reads its saga log ({} sagas started) and resumes {:?}",
                d.get("started")?.as_u64()?,
                d.get("sagas")?
                    .as_array()?
                    .iter()
                    .filter_map(|s| s.as_u64())
                    .collect::<Vec<_>>()
            )),
            "applied" => Some(format!("applies {} for saga {} (synced)", step()?, saga()?)),
            "failed" => Some(format!("fails {} for saga {} (declined)", step()?, saga()?)),
            "compensated" => Some(format!(
                "compensates {} for saga {} (undone, synced)",
                step()?,
                saga()?
            )),
            "cancelled" => Some(format!(
                "is asked to compensate {} for saga {} before it ran: leaves a tombstone that refuses a late request",
                step()?,
                saga()?
            )),
            "dedup" => Some(format!(
                "has seen key s{}/{} ({}): answers from it, runs nothing",
                saga()?,
                step()?,
                d.get("status")?.as_str()?
            )),
            _ => None,
        }
    }

    fn quiet_records(&self) -> &'static [&'static str] {
        &["retry"]
    }

    fn node(&self, params: &SagaParams, _layout: &Layout, id: NodeId) -> Box<dyn Node<SagaMsg>> {
        if id.index() == 0 {
            Box::new(Orchestrator::new(params.clone()))
        } else {
            Box::new(Service::new(params.clone(), id.0 - 1))
        }
    }
}
