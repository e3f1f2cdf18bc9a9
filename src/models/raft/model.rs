//! Raft as a scenario model: `model = "raft"`, its `[raft]` table and
//! `[workload]`.

use super::{RaftClient, RaftMsg, RaftParams, RaftReads, RaftServer, KNOWN_BUGS};
use crate::check::linearizability::LinModel;
use crate::model::{Layout, Model, ModelChecks, ParamError, Work};
use crate::models::bugs::{BugInfo, Bugs};
use crate::node::{Node, NodeId, Record};
use crate::time::SimDuration;
use serde::Deserialize;

/// Raft replicating a key-value store, with clients.
#[derive(Clone, Copy, Debug, Default)]
pub struct RaftModel;

/// `[raft]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaftTable {
    /// Election timeout range: [shortest, longest], drawn per election.
    pub election_timeout: [SimDuration; 2],
    /// How often a leader sends heartbeats.
    pub heartbeat_interval: SimDuration,
    /// Ask for pre-votes before starting an election (default false).
    pub pre_vote: Option<bool>,
    /// A leader steps down without a quorum's acknowledgement (default false).
    pub check_quorum: Option<bool>,
    /// `"log"` (reads go through the log) or `"read_index"` (default "log").
    pub reads: Option<String>,
    /// A new leader appends a no-op entry of its term at once (default
    /// true; false as in the MIT 6.5840 labs, which forbid it).
    pub leader_noop: Option<bool>,
    /// Famous mistakes to make, from [`super::KNOWN_BUGS`] (default none).
    pub bugs: Option<Vec<String>>,
}

impl Model for RaftModel {
    type Table = RaftTable;
    type Params = RaftParams;
    type Msg = RaftMsg;

    fn name(&self) -> &'static str {
        "raft"
    }

    fn about(&self) -> &'static str {
        "Raft (Figure 2, PreVote, CheckQuorum, ReadIndex) replicating a key-value store, with clients"
    }

    fn roles(&self) -> &'static [&'static str] {
        &["leader", "follower", "candidate", "precandidate"]
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
            ],
            default: &[
                "election_safety",
                "log_matching",
                "linearizability",
                "convergence",
                "progress",
            ],
            always: &["election_safety", "log_matching", "linearizability"],
        }
    }

    fn bugs(&self) -> &'static [BugInfo] {
        KNOWN_BUGS
    }

    fn uses_workload(&self) -> bool {
        true
    }

    /// `candidate`, `leader` and `stepped_down` in words: "becomes
    /// candidate for term 2", "becomes leader of term 2", "stops leading
    /// term 2".
    fn narrate(&self, _params: &RaftParams, record: &Record) -> Option<String> {
        let term = record.detail.get("term")?.as_u64()?;
        match record.kind.as_str() {
            "candidate" => Some(format!("becomes candidate for term {term}")),
            "leader" => Some(format!("becomes leader of term {term}")),
            "stepped_down" => Some(format!("stops leading term {term}")),
            _ => None,
        }
    }

    /// `follow`: one line per server per election would crowd the faults
    /// out of the narration (it is still counted, traced and checked).
    /// An entry is done when it is committed (and applied): a `commit` record.
    fn committed_records(&self) -> &'static [&'static str] {
        &["commit"]
    }

    fn quiet_records(&self) -> &'static [&'static str] {
        &["follow"]
    }

    /// The commit index on each server's lane: `c7` when its `commit`
    /// record applies index 7 (the last of a batch applied at once shows).
    fn lane_note(&self, _params: &RaftParams, record: &Record) -> Option<String> {
        if record.kind != "commit" {
            return None;
        }
        let index = record.detail.get("index")?.as_u64()?;
        Some(format!("c{index}"))
    }

    fn params(&self, table: RaftTable, _layout: &Layout) -> Result<RaftParams, ParamError> {
        let [election_timeout_min, election_timeout_max] = table.election_timeout;
        if election_timeout_min > election_timeout_max || election_timeout_min == SimDuration::ZERO
        {
            return Err(ParamError::at(
                "election_timeout",
                "expected [shortest, longest], shortest first and longer than 0",
            ));
        }
        let heartbeat_interval = table.heartbeat_interval;
        if heartbeat_interval == SimDuration::ZERO || heartbeat_interval >= election_timeout_min {
            return Err(ParamError::at("heartbeat_interval", format!("{heartbeat_interval}; expected longer than 0 and shorter than the shortest election timeout ({election_timeout_min}), or followers would start elections against a live leader")));
        }
        let reads = match table.reads.as_deref() {
            None | Some("log") => RaftReads::Log,
            Some("read_index") => RaftReads::ReadIndex,
            Some(other) => {
                return Err(ParamError::at(
                    "reads",
                    format!("'{other}'; expected \"log\" or \"read_index\""),
                ))
            }
        };
        let leader_noop = table.leader_noop.unwrap_or(true);
        if !leader_noop && reads == RaftReads::ReadIndex {
            return Err(ParamError::at(
                "leader_noop",
                "false with reads = \"read_index\": a ReadIndex leader must first commit an entry of its own term (its no-op); expected true, or reads = \"log\"",
            ));
        }
        Ok(RaftParams {
            election_timeout_min,
            election_timeout_max,
            heartbeat_interval,
            pre_vote: table.pre_vote.unwrap_or(false),
            check_quorum: table.check_quorum.unwrap_or(false),
            reads,
            leader_noop,
            bugs: Bugs::parse(&table.bugs.unwrap_or_default(), KNOWN_BUGS)?,
        })
    }

    fn history_model(&self, _params: &RaftParams) -> LinModel {
        LinModel::Kv
    }

    fn default_liveness(&self, p: &RaftParams, layout: &Layout) -> Option<SimDuration> {
        let timeout = layout.workload.map_or(0, |w| w.timeout.as_nanos());
        Some(SimDuration(
            p.election_timeout_max
                .as_nanos()
                .saturating_mul(4)
                .saturating_add(timeout.saturating_mul(2)),
        ))
    }

    fn periodic_work(&self, p: &RaftParams, layout: &Layout, copies: f64) -> Vec<Work> {
        vec![Work {
            every: p.heartbeat_interval,
            events_per_tick: 1.0 + 2.0 * (layout.servers as f64 - 1.0) * copies,
            what: format!("a leader's heartbeats to {} followers", layout.servers - 1),
        }]
    }

    fn tamper(
        &self,
        _params: &RaftParams,
    ) -> Option<std::sync::Arc<dyn crate::fault::byzantine::Tamper<RaftMsg>>> {
        Some(std::sync::Arc::new(super::tamper::RaftTamper))
    }

    fn node(&self, params: &RaftParams, layout: &Layout, id: NodeId) -> Box<dyn Node<RaftMsg>> {
        let servers = layout.servers as u32;
        if id.0 < servers {
            Box::new(RaftServer::new(*params))
        } else {
            let workload = layout.workload.expect("raft has clients");
            Box::new(RaftClient::new(workload, id.0 - servers))
        }
    }
}
