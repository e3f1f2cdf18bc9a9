//! The service as a scenario model: `model = "service"`, its `[service]`
//! table, `[workload]` clients and its knobs.

use super::client::MAX_RATE;
use super::server::MAX_WORKERS;
use super::{
    kinds, Arrivals, Client, ClientParams, Order, Server, ServerParams, ServiceMsg, ServiceParams,
    KNOWN_BUGS,
};
use crate::model::{KnobInfo, Layout, Model, ModelChecks, ParamError};
use crate::models::bugs::{BugInfo, Bugs};
use crate::net::Latency;
use crate::node::{Node, NodeId, Record};
use crate::retry::{Backoff, BreakerParams, BudgetParams};
use crate::time::SimDuration;
use serde::Deserialize;

/// Servers with workers and a queue, and clients that retry.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServiceModel;

/// The most waiting requests a server's queue may hold.
const MAX_QUEUE: u32 = 100_000;
/// The most requests one open-loop client may keep in progress.
const MAX_OUTSTANDING: u32 = 100_000;
/// The most attempts per request.
const MAX_ATTEMPTS: u32 = 100;

/// A service-time distribution, written like a latency:
/// `{ dist = "exponential", mean = "10ms" }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServiceTime {
    /// Always `value`.
    Constant {
        /// The service time.
        value: SimDuration,
    },
    /// Uniform in `[min, max]`.
    Uniform {
        /// The shortest.
        min: SimDuration,
        /// The longest.
        max: SimDuration,
    },
    /// `min` (default 0) plus an exponential with mean `mean`.
    Exponential {
        /// The exponential part's mean.
        mean: SimDuration,
        /// Added to every sample (default 0).
        #[serde(default)]
        min: SimDuration,
    },
}

impl ServiceTime {
    /// The distribution, or what is wrong with it.
    fn latency(self) -> Result<Latency, String> {
        match self {
            ServiceTime::Constant { value } if value == SimDuration::ZERO => {
                Err("`value` must be longer than 0 (a server that takes no time has no capacity to overload)".into())
            }
            ServiceTime::Constant { value } => Ok(Latency::Constant(value)),
            ServiceTime::Uniform { min, max } if min > max => {
                Err(format!("`min` ({min}) is above `max` ({max})"))
            }
            ServiceTime::Uniform { max, .. } if max == SimDuration::ZERO => {
                Err("`max` must be longer than 0".into())
            }
            ServiceTime::Uniform { min, max } => Ok(Latency::Uniform { min, max }),
            ServiceTime::Exponential { mean, .. } if mean == SimDuration::ZERO => {
                Err("`mean` must be longer than 0".into())
            }
            ServiceTime::Exponential { mean, min } => Ok(Latency::Exponential { mean, min }),
        }
    }
}

/// `[service]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTable {
    /// Requests each server works on at once (default 1).
    pub workers: Option<u32>,
    /// Requests each server keeps waiting, at most (default 100).
    pub queue: Option<u32>,
    /// `"fifo"` (default) or `"lifo"`.
    pub order: Option<String>,
    /// Time to serve one request (required).
    pub service_time: ServiceTime,
    /// Drop a waiting request whose client stopped waiting (default false).
    #[serde(default)]
    pub shed_expired: bool,
    /// Most requests in a server, working and waiting; more are rejected.
    pub concurrency_limit: Option<u32>,
    /// Open loop: requests per second per client (absent: closed loop).
    pub rate: Option<f64>,
    /// Open loop: requests in progress per client, at most (default 1000).
    pub max_outstanding: Option<u32>,
    /// A reply is good within this of its request (default: none).
    pub deadline: Option<SimDuration>,
    /// Attempts per request, the first included (default 1: no retries).
    pub max_attempts: Option<u32>,
    /// Wait before each retry (default none: at once).
    pub backoff: Option<Backoff>,
    /// A retry budget per client (default: none).
    pub budget: Option<BudgetParams>,
    /// A circuit breaker per client (default: none).
    pub breaker: Option<BreakerParams>,
    /// Famous mistakes to make, e.g. `["budget_not_charged"]` (default none).
    #[serde(default)]
    pub bugs: Vec<String>,
}

fn server_params(t: &ServiceTable) -> Result<ServerParams, ParamError> {
    let workers = t.workers.unwrap_or(1);
    if !(1..=MAX_WORKERS).contains(&workers) {
        return Err(ParamError::at(
            "workers",
            format!("{workers} workers; expected 1 to {MAX_WORKERS}"),
        ));
    }
    let queue = t.queue.unwrap_or(100);
    if queue > MAX_QUEUE {
        return Err(ParamError::at(
            "queue",
            format!("{queue} waiting requests; expected 0 to {MAX_QUEUE}"),
        ));
    }
    let order = match t.order.as_deref() {
        None | Some("fifo") => Order::Fifo,
        Some("lifo") => Order::Lifo,
        Some(other) => {
            return Err(ParamError::at(
                "order",
                format!("'{other}'; expected \"fifo\" or \"lifo\""),
            ))
        }
    };
    let service_time = t
        .service_time
        .latency()
        .map_err(|e| ParamError::at("service_time", e))?;
    if let Some(limit) = t.concurrency_limit {
        if limit == 0 || limit > MAX_WORKERS + MAX_QUEUE {
            return Err(ParamError::at(
                "concurrency_limit",
                format!("{limit}; expected 1 to {}", MAX_WORKERS + MAX_QUEUE),
            ));
        }
    }
    Ok(ServerParams {
        workers,
        queue,
        order,
        service_time,
        shed_expired: t.shed_expired,
        concurrency_limit: t.concurrency_limit,
    })
}

fn client_params(t: &ServiceTable, layout: &Layout) -> Result<ClientParams, ParamError> {
    let workload = layout
        .workload
        .ok_or_else(|| ParamError::table("the service model needs [workload] clients"))?;
    let arrivals = match t.rate {
        Some(rate) if !(0.0..=MAX_RATE).contains(&rate) => {
            return Err(ParamError::at(
                "rate",
                format!("{rate} requests per second; expected 0 to {MAX_RATE} per client"),
            ))
        }
        Some(rate) => Arrivals::Open { rate },
        None => Arrivals::Closed {
            think_min: workload.think_min,
            think_max: workload.think_max,
        },
    };
    let max_outstanding = t.max_outstanding.unwrap_or(1000);
    if !(1..=MAX_OUTSTANDING).contains(&max_outstanding) {
        return Err(ParamError::at(
            "max_outstanding",
            format!("{max_outstanding}; expected 1 to {MAX_OUTSTANDING}"),
        ));
    }
    if t.max_outstanding.is_some() && t.rate.is_none() {
        return Err(ParamError::at(
            "max_outstanding",
            "applies to open-loop clients only; give `rate` too (closed-loop clients have one request at a time)",
        ));
    }
    if t.deadline == Some(SimDuration::ZERO) {
        return Err(ParamError::at("deadline", "must be longer than 0"));
    }
    let max_attempts = t.max_attempts.unwrap_or(1);
    if !(1..=MAX_ATTEMPTS).contains(&max_attempts) {
        return Err(ParamError::at(
            "max_attempts",
            format!("{max_attempts}; expected 1 to {MAX_ATTEMPTS} (the first attempt included)"),
        ));
    }
    let backoff = t.backoff.unwrap_or(Backoff::None {});
    backoff
        .validate()
        .map_err(|e| ParamError::at("backoff", e))?;
    if let Some(budget) = &t.budget {
        budget.validate().map_err(|e| ParamError::at("budget", e))?;
    }
    if let Some(breaker) = &t.breaker {
        breaker
            .validate()
            .map_err(|e| ParamError::at("breaker", e))?;
    }
    Ok(ClientParams {
        arrivals,
        max_outstanding,
        timeout: workload.timeout,
        deadline: t.deadline,
        max_attempts,
        backoff,
        budget: t.budget,
        breaker: t.breaker,
        bugs: Bugs::parse(&t.bugs, KNOWN_BUGS)?,
    })
}

impl Model for ServiceModel {
    type Table = ServiceTable;
    type Params = ServiceParams;
    type Msg = ServiceMsg;

    fn name(&self) -> &'static str {
        "service"
    }

    fn about(&self) -> &'static str {
        "servers with workers and a bounded queue, clients with timeouts, retries, backoff, a retry budget and a circuit breaker (overload, metastable failure, load shedding)"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["service", "recovers", "goodput_slo", "breaker_opens"],
            default: &[],
            always: &["service"],
        }
    }

    fn bugs(&self) -> &'static [BugInfo] {
        KNOWN_BUGS
    }

    fn knobs(&self) -> &'static [KnobInfo] {
        &[
            KnobInfo {
                name: "rate",
                nodes: "clients",
                about: "requests per second each open-loop client starts",
                min: 0.0,
                max: MAX_RATE,
            },
            KnobInfo {
                name: "capacity",
                nodes: "servers",
                about: "workers: requests a server works on at once",
                min: 0.0,
                max: MAX_WORKERS as f64,
            },
            KnobInfo {
                name: "slowdown",
                nodes: "servers",
                about:
                    "service-time multiplier for requests started from then on (1 = as configured)",
                min: 0.0,
                max: 1000.0,
            },
        ]
    }

    fn uses_workload(&self) -> bool {
        true
    }

    fn params(&self, table: ServiceTable, layout: &Layout) -> Result<ServiceParams, ParamError> {
        Ok(ServiceParams {
            server: server_params(&table)?,
            client: client_params(&table, layout)?,
        })
    }

    fn default_liveness(&self, p: &ServiceParams, _layout: &Layout) -> Option<SimDuration> {
        let attempt = p.client.timeout.as_nanos();
        let request = attempt.saturating_mul(u64::from(p.client.max_attempts));
        Some(SimDuration::from_nanos(
            SimDuration::from_secs(5).as_nanos().saturating_add(request),
        ))
    }

    /// Open loops: per request the arrival timer, then per attempt the
    /// call, the work timer and the reply (a timeout instead when it is
    /// lost or late). Closed loops: the workload's guess.
    fn client_events(
        &self,
        p: &ServiceParams,
        layout: &Layout,
        run: SimDuration,
        copies: f64,
    ) -> Option<f64> {
        let Arrivals::Open { rate } = p.client.arrivals else {
            return None;
        };
        let clients = layout.workload.map_or(0, |w| w.clients);
        Some(rate * f64::from(clients) * run.as_secs_f64() * (1.0 + 3.0 * copies))
    }

    fn narrate(&self, _params: &ServiceParams, record: &Record) -> Option<String> {
        match record.kind.as_str() {
            kinds::BREAKER => {
                let state = record.detail.get("state")?.as_str()?;
                Some(format!("circuit breaker {}", state.replace('_', "-")))
            }
            _ => None,
        }
    }

    fn quiet_records(&self) -> &'static [&'static str] {
        &[
            kinds::REQUEST,
            kinds::CALL,
            kinds::DONE,
            kinds::SERVED,
            kinds::SHED,
        ]
    }

    fn node(
        &self,
        params: &ServiceParams,
        layout: &Layout,
        id: NodeId,
    ) -> Box<dyn Node<ServiceMsg>> {
        let servers = layout.servers as u32;
        if id.0 < servers {
            Box::new(Server::new(params.server.clone()))
        } else {
            Box::new(Client::new(params.client, servers))
        }
    }
}
