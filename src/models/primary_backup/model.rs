//! Primary-backup as a scenario model: `model = "primary_backup"`, its
//! `[primary_backup]` table and `[workload]`.

use super::{
    Client, Durability, Failover, PbMsg, PrimaryBackupParams, Reads, Replica, Replication, Server,
    DURABILITY,
};
use crate::model::{LaneRole, Layout, Model, ModelChecks, OwnCheck, ParamError, Servers, Work};
use crate::models::bugs::{BugInfo, Bugs};
use crate::node::{Node, NodeId, Record};
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
    /// `"async"` (default: acknowledge after the primary's own sync) or
    /// `"sync"` (after every backup has synced the write too).
    pub replication: Option<String>,
    /// Backups watch the primary and promote one of them when it falls
    /// silent (default false: the primary is always n1).
    pub failover: Option<bool>,
    /// With failover: how often servers send heartbeats (default 50ms).
    pub heartbeat: Option<SimDuration>,
    /// With failover: silence from the primary before a backup promotes
    /// itself (default 300ms).
    pub failover_timeout: Option<SimDuration>,
    /// How often the primary ships new writes to the backups, in one batch
    /// (default 0: each write at once). The replication lag.
    pub ship_every: Option<SimDuration>,
    /// Famous mistakes to switch on (see [`KNOWN_BUGS`]).
    #[serde(default)]
    pub bugs: Vec<String>,
}

/// The mistakes `bugs = [...]` may switch on.
pub const KNOWN_BUGS: &[BugInfo] = &[BugInfo {
    name: "ack_before_replicate",
    about: "sync replication acknowledges a write before the backups have it (as async does): a failover loses it",
}];

impl Model for PrimaryBackupModel {
    type Table = PrimaryBackupTable;
    type Params = PrimaryBackupParams;
    type Msg = PbMsg;

    fn name(&self) -> &'static str {
        "primary_backup"
    }

    fn about(&self) -> &'static str {
        "a register replicated from a primary to backups, with clients (reads = \"local\" serves stale reads; failover: async loses acknowledged writes, sync stalls)"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["linearizability", "convergence", "progress", "durability"],
            default: &["linearizability", "convergence", "progress", "durability"],
            always: &["linearizability"],
        }
    }

    fn own_checks(&self) -> Vec<OwnCheck> {
        vec![OwnCheck {
            info: DURABILITY,
            build: |_| Box::new(Durability::default()),
        }]
    }

    fn servers(&self) -> Servers {
        Servers {
            min: 1,
            roles: "n1 the primary of epoch 1, the others backups; with failover any of them may be promoted",
        }
    }

    fn bugs(&self) -> &'static [crate::models::bugs::BugInfo] {
        KNOWN_BUGS
    }

    fn roles(&self) -> &'static [&'static str] {
        &["primary", "backup"]
    }

    fn narrate(&self, _params: &PrimaryBackupParams, record: &Record) -> Option<String> {
        let d = &record.detail;
        match record.kind.as_str() {
            "promoted" => {
                let (epoch, version) = (d.get("epoch")?.as_u64()?, d.get("version")?.as_u64()?);
                Some(if version == 0 {
                    format!("becomes primary of epoch {epoch} (the register is empty)")
                } else {
                    format!(
                        "becomes primary of epoch {epoch} with version {version} (written in epoch {})",
                        d.get("wepoch")?.as_u64()?
                    )
                })
            }
            "stepped_down" => Some(format!(
                "hears of epoch {} and steps down (at version {})",
                d.get("epoch")?.as_u64()?,
                d.get("version")?.as_u64()?
            )),
            _ => None,
        }
    }

    /// One per acknowledged write.
    fn quiet_records(&self) -> &'static [&'static str] {
        &["acked"]
    }

    /// A promotion colours the lane as the leader's (with its epoch) until
    /// the node steps down or crashes.
    fn lane_role(
        &self,
        _params: &PrimaryBackupParams,
        record: &Record,
    ) -> Option<(LaneRole, Option<u64>)> {
        match record.kind.as_str() {
            "promoted" => Some((LaneRole::Leader, record.detail.get("epoch")?.as_u64())),
            "stepped_down" => Some((LaneRole::Follower, record.detail.get("epoch")?.as_u64())),
            _ => None,
        }
    }

    fn lane_note(&self, _params: &PrimaryBackupParams, record: &Record) -> Option<String> {
        (record.kind == "promoted")
            .then(|| Some(format!("e{}", record.detail.get("epoch")?.as_u64()?)))
            .flatten()
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
        let replication = match table.replication.as_deref() {
            None | Some("async") => Replication::Async,
            Some("sync") => Replication::Sync,
            Some(other) => {
                return Err(ParamError::at(
                    "replication",
                    format!("'{other}'; expected \"async\" or \"sync\""),
                ))
            }
        };
        let positive = |key: &str, d: Option<SimDuration>, default: u64| match d {
            Some(SimDuration::ZERO) => Err(ParamError::at(key, "must be longer than 0")),
            Some(d) => Ok(d),
            None => Ok(SimDuration::from_millis(default)),
        };
        let heartbeat = positive("heartbeat", table.heartbeat, 50)?;
        let timeout = positive("failover_timeout", table.failover_timeout, 300)?;
        let failover = if table.failover.unwrap_or(false) {
            if timeout <= heartbeat {
                return Err(ParamError::at(
                    "failover_timeout",
                    format!("{timeout} must be longer than the heartbeat ({heartbeat})"),
                ));
            }
            Some(Failover { heartbeat, timeout })
        } else {
            if table.heartbeat.is_some() || table.failover_timeout.is_some() {
                return Err(ParamError::at(
                    if table.heartbeat.is_some() {
                        "heartbeat"
                    } else {
                        "failover_timeout"
                    },
                    "applies only with failover = true",
                ));
            }
            None
        };
        let bugs = Bugs::parse(&table.bugs, KNOWN_BUGS)?;
        if bugs.has("ack_before_replicate") && replication != Replication::Sync {
            return Err(ParamError::at(
                "bugs",
                "'ack_before_replicate' is a mistake of replication = \"sync\"",
            ));
        }
        Ok(PrimaryBackupParams {
            reads,
            anti_entropy,
            replication,
            failover,
            ship_every: table.ship_every.unwrap_or(SimDuration::ZERO),
            bugs,
        })
    }

    fn default_liveness(&self, p: &PrimaryBackupParams, layout: &Layout) -> Option<SimDuration> {
        let timeout = layout.workload.map_or(0, |w| w.timeout.as_nanos());
        Some(SimDuration(
            SimDuration::from_secs(1)
                .as_nanos()
                .saturating_add(timeout.saturating_mul(2))
                .saturating_add(p.anti_entropy.as_nanos().saturating_mul(2))
                .saturating_add(p.failover.map_or(0, |f| f.timeout.as_nanos())),
        ))
    }

    fn periodic_work(&self, p: &PrimaryBackupParams, layout: &Layout, copies: f64) -> Vec<Work> {
        let backups = layout.servers as f64 - 1.0;
        let mut work = vec![Work {
            every: p.anti_entropy,
            events_per_tick: 1.0 + backups * copies,
            what: format!("anti-entropy to {} backups", layout.servers - 1),
        }];
        if let Some(f) = p.failover {
            work.push(Work {
                every: f.heartbeat,
                events_per_tick: layout.servers as f64 * (1.0 + backups * copies),
                what: format!("heartbeats among {} servers", layout.servers),
            });
        }
        work
    }

    fn node(
        &self,
        params: &PrimaryBackupParams,
        layout: &Layout,
        id: NodeId,
    ) -> Box<dyn Node<PbMsg>> {
        let servers = layout.servers as u32;
        if id.0 < servers {
            if params.is_legacy() {
                Box::new(Server::new(*params))
            } else {
                Box::new(Replica::new(*params))
            }
        } else {
            let workload = layout.workload.expect("primary_backup has clients");
            Box::new(Client::new(workload, id.0 - servers))
        }
    }
}
