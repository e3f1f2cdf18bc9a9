//! Zab as a scenario model: `model = "zab"`, its `[zab]` table and
//! `[workload]`.

use super::check::{Deliveries, Property, AGREEMENT, PRIMARY_ORDER, TOTAL_ORDER};
use super::{ZabClient, ZabMsg, ZabParams, ZabServer, KNOWN_BUGS, MAX_HISTORY};
use crate::check::linearizability::LinModel;
use crate::model::{Layout, Model, ModelChecks, OwnCheck, ParamError, Servers, Work};
use crate::models::bugs::{BugInfo, Bugs};
use crate::node::{Node, NodeId, Record};
use crate::time::SimDuration;
use serde::Deserialize;

/// Zab replicating a key-value store, with clients.
#[derive(Clone, Copy, Debug, Default)]
pub struct ZabModel;

/// `[zab]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZabTable {
    /// Heartbeat period (default 50ms).
    pub tick: Option<SimDuration>,
    /// Silence after which a server goes back to election (default 300ms;
    /// at least two ticks).
    pub timeout: Option<SimDuration>,
    /// The most transactions a history holds (default 100000).
    pub history_limit: Option<usize>,
    /// Famous mistakes to make: `["commit_before_quorum"]` (default none).
    #[serde(default)]
    pub bugs: Vec<String>,
}

impl Model for ZabModel {
    type Table = ZabTable;
    type Params = ZabParams;
    type Msg = ZabMsg;

    fn name(&self) -> &'static str {
        "zab"
    }

    fn about(&self) -> &'static str {
        "Zab, ZooKeeper's atomic broadcast (election, discovery, synchronization, broadcast with epochs and zxids) replicating a key-value store, with clients"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &[
                "zab_agreement",
                "zab_total_order",
                "zab_primary_order",
                "linearizability",
                "progress",
            ],
            default: &[
                "zab_agreement",
                "zab_total_order",
                "zab_primary_order",
                "linearizability",
                "progress",
            ],
            always: &["zab_agreement", "zab_total_order", "zab_primary_order"],
        }
    }

    fn own_checks(&self) -> Vec<OwnCheck> {
        vec![
            OwnCheck {
                info: AGREEMENT,
                build: |_| Box::new(Deliveries::new(Property::Agreement)),
            },
            OwnCheck {
                info: TOTAL_ORDER,
                build: |_| Box::new(Deliveries::new(Property::TotalOrder)),
            },
            OwnCheck {
                info: PRIMARY_ORDER,
                build: |_| Box::new(Deliveries::new(Property::PrimaryOrder)),
            },
        ]
    }

    fn servers(&self) -> Servers {
        Servers {
            min: 3,
            roles: "every server is a Zab peer (leader, follower or looking)",
        }
    }

    fn roles(&self) -> &'static [&'static str] {
        &["leader", "follower", "looking"]
    }

    fn bugs(&self) -> &'static [BugInfo] {
        KNOWN_BUGS
    }

    fn uses_workload(&self) -> bool {
        true
    }

    fn params(&self, table: ZabTable, layout: &Layout) -> Result<ZabParams, ParamError> {
        if layout.servers < 3 {
            return Err(ParamError::table(format!(
                "zab needs at least three servers; this scenario has {} (set [nodes] count >= 3)",
                layout.servers
            )));
        }
        let tick = table.tick.unwrap_or(SimDuration::from_millis(50));
        if tick == SimDuration::ZERO {
            return Err(ParamError::at("tick", "must be longer than 0"));
        }
        let timeout = table.timeout.unwrap_or(SimDuration::from_millis(300));
        let ticks = timeout.as_nanos() / tick.as_nanos();
        if !(2..=10_000).contains(&ticks) {
            return Err(ParamError::at(
                "timeout",
                format!("{timeout}; expected between 2 and 10000 ticks ({tick} each)"),
            ));
        }
        let history_limit = table.history_limit.unwrap_or(100_000);
        if !(1..=MAX_HISTORY).contains(&history_limit) {
            return Err(ParamError::at(
                "history_limit",
                format!("{history_limit}; expected 1 to {MAX_HISTORY}"),
            ));
        }
        Ok(ZabParams {
            tick,
            timeout_ticks: ticks as u32,
            history_limit,
            bugs: Bugs::parse(&table.bugs, KNOWN_BUGS)?,
        })
    }

    fn history_model(&self, _params: &ZabParams) -> LinModel {
        LinModel::Kv
    }

    fn default_liveness(&self, p: &ZabParams, layout: &Layout) -> Option<SimDuration> {
        // A few timeouts to notice, elect, discover and sync; then a client's timeout.
        let timeout = layout.workload.map_or(0, |w| w.timeout.as_nanos());
        let silence = p.tick.as_nanos() * u64::from(p.timeout_ticks);
        Some(SimDuration::from_nanos(
            silence
                .saturating_mul(6)
                .saturating_add(timeout.saturating_mul(2)),
        ))
    }

    fn periodic_work(&self, p: &ZabParams, layout: &Layout, copies: f64) -> Vec<Work> {
        vec![Work {
            every: p.tick,
            events_per_tick: layout.servers as f64 + 2.0 * (layout.servers as f64 - 1.0) * copies,
            what: format!(
                "a leader's pings to {} followers and every server's tick",
                layout.servers - 1
            ),
        }]
    }

    fn narrate(&self, _params: &ZabParams, record: &Record) -> Option<String> {
        let d = &record.detail;
        let get = |k: &str| d.get(k).and_then(|v| v.as_u64());
        match record.kind.as_str() {
            "leader" => Some(format!(
                "is elected (round {}) and starts discovery",
                get("round")?
            )),
            "newepoch" => Some(format!(
                "has a quorum's FOLLOWERINFO: new epoch {}",
                get("epoch")?
            )),
            "newleader" => Some(format!(
                "takes n{}'s history ({} transactions, the quorum's most up to date) for epoch {}",
                get("from")? + 1,
                get("len")?,
                get("epoch")?
            )),
            "synced" => Some(format!(
                "accepts NEWLEADER of epoch {} ({} transactions)",
                get("epoch")?,
                get("len")?
            )),
            "stepped_down" => Some(format!(
                "stops leading epoch {}: {}",
                get("epoch")?,
                d.get("why")?.as_str()?
            )),
            "looking" => Some(format!("looks for a leader (round {})", get("round")?)),
            _ => None,
        }
    }

    fn quiet_records(&self) -> &'static [&'static str] {
        &["propose", "ack", "deliver", "follower"]
    }

    fn committed_records(&self) -> &'static [&'static str] {
        &["deliver"]
    }

    fn lane_note(&self, _params: &ZabParams, record: &Record) -> Option<String> {
        if record.kind != "deliver" {
            return None;
        }
        Some(format!("d{}", record.detail.get("pos")?.as_u64()?))
    }

    fn node(&self, params: &ZabParams, layout: &Layout, id: NodeId) -> Box<dyn Node<ZabMsg>> {
        let servers = layout.servers as u32;
        if id.0 < servers {
            Box::new(ZabServer::new(*params))
        } else {
            let workload = layout.workload.expect("zab has clients");
            Box::new(ZabClient::new(workload, id.0 - servers))
        }
    }
}
