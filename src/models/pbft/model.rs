//! PBFT as a scenario model: `model = "pbft"`, its `[pbft]` table and
//! `[workload]`.

use super::{
    Agreement, PbftClient, PbftMsg, PbftParams, PbftTamper, Replica, Validity, AGREEMENT, VALIDITY,
};
use crate::check::linearizability::LinModel;
use crate::fault::byzantine::Tamper;
use crate::model::{Layout, Model, ModelChecks, OwnCheck, ParamError, Servers, Work};
use crate::node::{Node, NodeId, Record};
use crate::time::SimDuration;
use serde::Deserialize;
use std::sync::Arc;

/// PBFT replicating a key-value store, with clients.
#[derive(Clone, Copy, Debug, Default)]
pub struct PbftModel;

/// `[pbft]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PbftTable {
    /// Faults tolerated (default: from the server count, which must be 3f + 1).
    pub f: Option<usize>,
    /// The view-change timer's first length (default 200ms).
    pub view_change_timeout: Option<SimDuration>,
    /// The highest sequence number (default 10000; no checkpoints).
    pub log_limit: Option<u64>,
}

/// The largest `log_limit` a scenario may ask for.
pub const MAX_LOG_LIMIT: u64 = 1_000_000;

impl Model for PbftModel {
    type Table = PbftTable;
    type Params = PbftParams;
    type Msg = PbftMsg;

    fn name(&self) -> &'static str {
        "pbft"
    }

    fn about(&self) -> &'static str {
        "PBFT (Castro and Liskov 1999): n = 3f+1 replicas, pre-prepare/prepare/commit and view change, replicating a key-value store, with clients"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &[
                "pbft_agreement",
                "pbft_validity",
                "linearizability",
                "progress",
            ],
            default: &[
                "pbft_agreement",
                "pbft_validity",
                "linearizability",
                "progress",
            ],
            always: &["pbft_agreement", "pbft_validity", "linearizability"],
        }
    }

    fn own_checks(&self) -> Vec<OwnCheck> {
        vec![
            OwnCheck {
                info: AGREEMENT,
                build: |_| Box::new(Agreement::default()),
            },
            OwnCheck {
                info: VALIDITY,
                build: |_| Box::new(Validity::default()),
            },
        ]
    }

    fn servers(&self) -> Servers {
        Servers {
            min: 4,
            roles: "n1..nN the replicas (N = 3f + 1); the primary of view v is replica v mod N",
        }
    }

    fn roles(&self) -> &'static [&'static str] {
        &["primary", "backup"]
    }

    fn uses_workload(&self) -> bool {
        true
    }

    fn params(&self, table: PbftTable, layout: &Layout) -> Result<PbftParams, ParamError> {
        let n = layout.servers;
        let f = match table.f {
            Some(f) => {
                if f == 0 || 3 * f + 1 != n {
                    return Err(ParamError::at(
                        "f",
                        format!("{f}; expected at least 1, with [nodes] count = 3f + 1 (this scenario has {n} servers)"),
                    ));
                }
                f
            }
            None => {
                if n < 4 || !(n - 1).is_multiple_of(3) {
                    return Err(ParamError::table(format!(
                        "pbft needs 3f + 1 replicas (4, 7, 10, ...); this scenario has {n} servers"
                    )));
                }
                (n - 1) / 3
            }
        };
        let view_change_timeout = table
            .view_change_timeout
            .unwrap_or(SimDuration::from_millis(200));
        if view_change_timeout == SimDuration::ZERO {
            return Err(ParamError::at(
                "view_change_timeout",
                "must be longer than 0",
            ));
        }
        let log_limit = table.log_limit.unwrap_or(10_000);
        if !(1..=MAX_LOG_LIMIT).contains(&log_limit) {
            return Err(ParamError::at(
                "log_limit",
                format!("{log_limit}; expected 1 to {MAX_LOG_LIMIT}"),
            ));
        }
        Ok(PbftParams {
            f,
            n,
            view_change_timeout,
            log_limit,
        })
    }

    fn history_model(&self, _params: &PbftParams) -> LinModel {
        LinModel::Kv
    }

    fn default_liveness(&self, p: &PbftParams, layout: &Layout) -> Option<SimDuration> {
        let timeout = layout.workload.map_or(0, |w| w.timeout.as_nanos());
        Some(SimDuration(
            p.view_change_timeout
                .as_nanos()
                .saturating_mul(8)
                .saturating_add(timeout.saturating_mul(2)),
        ))
    }

    /// None: replicas have no periodic work of their own, only the
    /// timers a client's requests start.
    fn periodic_work(&self, _p: &PbftParams, _layout: &Layout, _copies: f64) -> Vec<Work> {
        Vec::new()
    }

    fn committed_records(&self) -> &'static [&'static str] {
        &["execute"]
    }

    fn quiet_records(&self) -> &'static [&'static str] {
        &["execute", "request"]
    }

    fn narrate(&self, _params: &PbftParams, record: &Record) -> Option<String> {
        let view = record.detail.get("view")?.as_u64()?;
        match record.kind.as_str() {
            "view_change" => Some(format!("times out and moves to view {view}")),
            "new_view" => Some(format!("enters view {view}")),
            "bad_new_view" => Some(format!("refuses a new-view for view {view}")),
            _ => None,
        }
    }

    fn lane_note(&self, _params: &PbftParams, record: &Record) -> Option<String> {
        match record.kind.as_str() {
            "execute" => Some(format!("x{}", record.detail.get("seq")?.as_u64()?)),
            "new_view" => Some(format!("v{}", record.detail.get("view")?.as_u64()?)),
            _ => None,
        }
    }

    fn tamper(&self, params: &PbftParams) -> Option<Arc<dyn Tamper<PbftMsg>>> {
        Some(Arc::new(PbftTamper { n: params.n }))
    }

    fn node(&self, params: &PbftParams, layout: &Layout, id: NodeId) -> Box<dyn Node<PbftMsg>> {
        if id.index() < params.n {
            Box::new(Replica::new(*params, id))
        } else {
            let workload = layout.workload.expect("pbft has clients");
            Box::new(PbftClient::new(
                workload,
                id.0 - params.n as u32,
                params.n,
                params.f,
            ))
        }
    }
}
