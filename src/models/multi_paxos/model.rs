//! Multi-Paxos as a scenario model: `model = "multi_paxos"`, its
//! `[multi_paxos]` table and `[workload]`.

use super::check::{MpValidity, MP_VALIDITY};
use super::{MpClient, MpMsg, MpParams, MpServer, KNOWN_BUGS};
use crate::check::linearizability::LinModel;
use crate::model::{Layout, Model, ModelChecks, OwnCheck, ParamError, Work};
use crate::models::bugs::{BugInfo, Bugs};
use crate::node::{Node, NodeId, Record};
use crate::time::SimDuration;
use serde::Deserialize;

/// Multi-Paxos replicating a key-value store, with clients.
#[derive(Clone, Copy, Debug, Default)]
pub struct MultiPaxosModel;

/// The largest `max_log` a scenario may ask for (a bound on a run's memory).
pub const MAX_LOG_LIMIT: u64 = 1_000_000;

/// `[multi_paxos]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiPaxosTable {
    /// Election timeout range: [shortest, longest] (default ["150ms", "300ms"]).
    pub election_timeout: Option<[SimDuration; 2]>,
    /// How often the leader sends heartbeats (default "50ms").
    pub heartbeat_interval: Option<SimDuration>,
    /// The highest log slot a leader proposes in (default 10000).
    pub max_log: Option<u64>,
    /// Famous mistakes to make, from [`super::KNOWN_BUGS`] (default none).
    pub bugs: Option<Vec<String>>,
}

impl Model for MultiPaxosModel {
    type Table = MultiPaxosTable;
    type Params = MpParams;
    type Msg = MpMsg;

    fn name(&self) -> &'static str {
        "multi_paxos"
    }

    fn about(&self) -> &'static str {
        "Multi-Paxos with a stable leader (phase 1 once, phase 2 per slot) replicating a key-value store, with clients"
    }

    fn roles(&self) -> &'static [&'static str] {
        &["leader", "follower", "candidate"]
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &[
                "election_safety",
                "log_matching",
                "linearizability",
                "convergence",
                "progress",
                "availability",
                "mp_validity",
            ],
            default: &[
                "election_safety",
                "log_matching",
                "linearizability",
                "mp_validity",
                "convergence",
                "progress",
            ],
            always: &[
                "election_safety",
                "log_matching",
                "linearizability",
                "mp_validity",
            ],
        }
    }

    fn own_checks(&self) -> Vec<OwnCheck> {
        vec![OwnCheck {
            info: MP_VALIDITY,
            build: |_| Box::new(MpValidity::default()),
        }]
    }

    fn bugs(&self) -> &'static [BugInfo] {
        KNOWN_BUGS
    }

    fn uses_workload(&self) -> bool {
        true
    }

    /// `candidate`, `leader`, `stepped_down` and `log_full` in words.
    fn narrate(&self, _params: &MpParams, record: &Record) -> Option<String> {
        if record.kind == "log_full" {
            let max = record.detail.get("max_log")?.as_u64()?;
            return Some(format!("log full at slot {max}: refuses new commands"));
        }
        let ballot = record.detail.get("term")?.as_u64()?;
        match record.kind.as_str() {
            "candidate" => Some(format!("runs phase 1 with ballot {ballot}")),
            "leader" => Some(format!("leads with ballot {ballot}")),
            "stepped_down" => Some(format!("stops leading ballot {ballot}")),
            _ => None,
        }
    }

    /// A slot is done when it is executed: a `commit` record.
    fn committed_records(&self) -> &'static [&'static str] {
        &["commit"]
    }

    /// The executed slot on each server's lane: `s7`.
    fn lane_note(&self, _params: &MpParams, record: &Record) -> Option<String> {
        if record.kind != "commit" {
            return None;
        }
        let slot = record.detail.get("index")?.as_u64()?;
        Some(format!("s{slot}"))
    }

    fn params(&self, table: MultiPaxosTable, _layout: &Layout) -> Result<MpParams, ParamError> {
        let defaults = MpParams::default();
        let [min, max] = table
            .election_timeout
            .unwrap_or([defaults.election_timeout_min, defaults.election_timeout_max]);
        if min > max || min == SimDuration::ZERO {
            return Err(ParamError::at(
                "election_timeout",
                "expected [shortest, longest], shortest first and longer than 0",
            ));
        }
        let heartbeat_interval = table
            .heartbeat_interval
            .unwrap_or(defaults.heartbeat_interval);
        if heartbeat_interval == SimDuration::ZERO || heartbeat_interval >= min {
            return Err(ParamError::at("heartbeat_interval", format!("{heartbeat_interval}; expected longer than 0 and shorter than the shortest election timeout ({min}), or followers would campaign against a live leader")));
        }
        let max_log = table.max_log.unwrap_or(defaults.max_log);
        if max_log == 0 || max_log > MAX_LOG_LIMIT {
            return Err(ParamError::at(
                "max_log",
                format!("{max_log}; expected 1 to {MAX_LOG_LIMIT} slots"),
            ));
        }
        Ok(MpParams {
            election_timeout_min: min,
            election_timeout_max: max,
            heartbeat_interval,
            max_log,
            bugs: Bugs::parse(&table.bugs.unwrap_or_default(), KNOWN_BUGS)?,
        })
    }

    fn history_model(&self, _params: &MpParams) -> LinModel {
        LinModel::Kv
    }

    fn default_liveness(&self, p: &MpParams, layout: &Layout) -> Option<SimDuration> {
        let timeout = layout.workload.map_or(0, |w| w.timeout.as_nanos());
        Some(SimDuration(
            p.election_timeout_max
                .as_nanos()
                .saturating_mul(4)
                .saturating_add(timeout.saturating_mul(2)),
        ))
    }

    fn periodic_work(&self, p: &MpParams, layout: &Layout, copies: f64) -> Vec<Work> {
        vec![Work {
            every: p.heartbeat_interval,
            events_per_tick: 1.0 + (layout.servers as f64 - 1.0) * copies,
            what: format!("a leader's heartbeats to {} followers", layout.servers - 1),
        }]
    }

    fn node(&self, params: &MpParams, layout: &Layout, id: NodeId) -> Box<dyn Node<MpMsg>> {
        let servers = layout.servers as u32;
        if id.0 < servers {
            Box::new(MpServer::new(*params))
        } else {
            let workload = layout.workload.expect("multi_paxos has clients");
            Box::new(MpClient::new(workload, id.0 - servers))
        }
    }
}
