//! Primary-backup as a scenario model: `model = "primary_backup"`, its
//! `[primary_backup]` table and `[workload]`.

use super::{Client, PbMsg, PrimaryBackupParams, Reads, Server};
use crate::model::{Layout, Model, ModelChecks, ParamError, Work};
use crate::node::{Node, NodeId};
use crate::time::SimDuration;
use serde::Deserialize;

/// A register replicated from a primary to backups, with clients.
#[derive(Clone, Copy, Debug, Default)]
pub struct PrimaryBackupModel;

/// `[primary_backup]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrimaryBackupTable {
    /// `"primary"` (linearizable) or `"local"` (any server answers: stale reads).
    pub reads: String,
    /// How often the primary re-sends its state (default 200ms).
    pub anti_entropy: Option<SimDuration>,
}

impl Model for PrimaryBackupModel {
    type Table = PrimaryBackupTable;
    type Params = PrimaryBackupParams;
    type Msg = PbMsg;

    fn name(&self) -> &'static str {
        "primary_backup"
    }

    fn about(&self) -> &'static str {
        "a register replicated from a primary to backups, with clients (reads = \"local\" serves stale reads)"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["linearizability", "convergence", "progress"],
            default: &["linearizability", "convergence", "progress"],
            always: &["linearizability"],
        }
    }

    fn uses_workload(&self) -> bool {
        true
    }

    fn params(
        &self,
        table: PrimaryBackupTable,
        _layout: &Layout,
    ) -> Result<PrimaryBackupParams, ParamError> {
        let reads = match table.reads.as_str() {
            "primary" => Reads::Primary,
            "local" => Reads::Local,
            other => {
                return Err(ParamError::at(
                    "reads",
                    format!("'{other}'; expected \"primary\" or \"local\""),
                ))
            }
        };
        let anti_entropy = match table.anti_entropy {
            Some(SimDuration::ZERO) => {
                return Err(ParamError::at("anti_entropy", "must be longer than 0"))
            }
            Some(d) => d,
            None => SimDuration::from_millis(200),
        };
        Ok(PrimaryBackupParams {
            reads,
            anti_entropy,
        })
    }

    fn default_liveness(&self, p: &PrimaryBackupParams, layout: &Layout) -> Option<SimDuration> {
        let timeout = layout.workload.map_or(0, |w| w.timeout.as_nanos());
        Some(SimDuration(
            SimDuration::from_secs(1)
                .as_nanos()
                .saturating_add(timeout.saturating_mul(2))
                .saturating_add(p.anti_entropy.as_nanos().saturating_mul(2)),
        ))
    }

    fn periodic_work(&self, p: &PrimaryBackupParams, layout: &Layout, copies: f64) -> Vec<Work> {
        vec![Work {
            every: p.anti_entropy,
            events_per_tick: 1.0 + (layout.servers as f64 - 1.0) * copies,
            what: format!("anti-entropy to {} backups", layout.servers - 1),
        }]
    }

    fn node(
        &self,
        params: &PrimaryBackupParams,
        layout: &Layout,
        id: NodeId,
    ) -> Box<dyn Node<PbMsg>> {
        let servers = layout.servers as u32;
        if id.0 < servers {
            Box::new(Server::new(*params))
        } else {
            let workload = layout.workload.expect("primary_backup has clients");
            Box::new(Client::new(workload, id.0 - servers))
        }
    }
}
