//! The quorum store as a scenario model: `model = "quorum_kv"`, its
//! `[quorum_kv]` table and `[workload]`.

use super::{
    Client, QkvMsg, Quorum, QuorumMetrics, QuorumParams, Reads, ReplicaConvergence, Server,
    KNOWN_BUGS, QUORUM_METRICS, REPLICA_CONVERGENCE,
};
use crate::check::linearizability::LinModel;
use crate::model::{Layout, Model, ModelChecks, OwnCheck, ParamError, Servers, Work};
use crate::models::bugs::Bugs;
use crate::node::{Node, NodeId, Record};
use crate::time::SimDuration;
use serde::Deserialize;

/// A Dynamo-style quorum-replicated key-value store, with clients.
#[derive(Clone, Copy, Debug, Default)]
pub struct QuorumKvModel;

/// `[quorum_kv]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuorumKvTable {
    /// Home replicas per key, N (default 3; at most the servers).
    pub replicas: Option<usize>,
    /// Replicas a read waits for (default 2).
    pub r: Option<usize>,
    /// Replicas a write waits for (default 2).
    pub w: Option<usize>,
    /// `"eventual"` (default: one replica answers) or `"consistent"` (ABD).
    pub reads: Option<String>,
    /// `"strict"` (default: home replicas only) or `"sloppy"` (stand-ins and hinted handoff).
    pub quorum: Option<String>,
    /// Repair stale replicas a read saw (default true).
    pub read_repair: Option<bool>,
    /// Anti-entropy and hinted-handoff period (default 500ms).
    pub anti_entropy: Option<SimDuration>,
    /// How long a coordinator works on a request (default 100ms).
    pub timeout: Option<SimDuration>,
    /// Famous mistakes to make, e.g. `["read_without_write_back"]` (default none).
    #[serde(default)]
    pub bugs: Vec<String>,
}

impl Model for QuorumKvModel {
    type Table = QuorumKvTable;
    type Params = QuorumParams;
    type Msg = QkvMsg;

    fn name(&self) -> &'static str {
        "quorum_kv"
    }

    fn about(&self) -> &'static str {
        "a Dynamo-style key-value store: N replicas per key, R/W quorums, eventual or consistent (ABD) reads, sloppy quorums with hinted handoff"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &[
                "linearizability",
                "replica_convergence",
                "progress",
                "quorum_metrics",
            ],
            default: &["linearizability", "replica_convergence", "progress"],
            always: &["quorum_metrics"],
        }
    }

    fn own_checks(&self) -> Vec<OwnCheck> {
        vec![
            OwnCheck {
                info: REPLICA_CONVERGENCE,
                build: |setup| Box::new(ReplicaConvergence::new(setup.liveness.within)),
            },
            OwnCheck {
                info: QUORUM_METRICS,
                build: |_| Box::new(QuorumMetrics::default()),
            },
        ]
    }

    fn servers(&self) -> Servers {
        Servers {
            min: 1,
            roles: "every server is a replica on the ring and coordinates the requests it gets",
        }
    }

    fn bugs(&self) -> &'static [crate::models::bugs::BugInfo] {
        KNOWN_BUGS
    }

    fn uses_workload(&self) -> bool {
        true
    }

    fn params(&self, table: QuorumKvTable, layout: &Layout) -> Result<QuorumParams, ParamError> {
        let servers = layout.servers;
        let replicas = table.replicas.unwrap_or(3);
        if replicas == 0 || replicas > servers {
            return Err(ParamError::at(
                "replicas",
                format!("{replicas}; expected 1 to the number of servers ({servers})"),
            ));
        }
        let r = table.r.unwrap_or(2);
        if r == 0 || r > replicas {
            return Err(ParamError::at(
                "r",
                format!("{r}; expected 1 to replicas ({replicas})"),
            ));
        }
        let w = table.w.unwrap_or(2);
        if w == 0 || w > replicas {
            return Err(ParamError::at(
                "w",
                format!("{w}; expected 1 to replicas ({replicas})"),
            ));
        }
        let reads = match table.reads.as_deref().unwrap_or("eventual") {
            "eventual" => Reads::Eventual,
            "consistent" => Reads::Consistent,
            other => {
                return Err(ParamError::at(
                    "reads",
                    format!("'{other}'; expected \"eventual\" or \"consistent\""),
                ))
            }
        };
        let quorum = match table.quorum.as_deref().unwrap_or("strict") {
            "strict" => Quorum::Strict,
            "sloppy" => Quorum::Sloppy,
            other => {
                return Err(ParamError::at(
                    "quorum",
                    format!("'{other}'; expected \"strict\" or \"sloppy\""),
                ))
            }
        };
        let positive = |key: &str, d: Option<SimDuration>, default: u64| match d {
            Some(SimDuration::ZERO) => Err(ParamError::at(key, "must be longer than 0")),
            Some(d) => Ok(d),
            None => Ok(SimDuration::from_millis(default)),
        };
        let anti_entropy = positive("anti_entropy", table.anti_entropy, 500)?;
        let timeout = positive("timeout", table.timeout, 100)?;
        let keys = layout.workload.map_or(1, |w| w.keys.max(1));
        Ok(QuorumParams {
            replicas,
            r,
            w,
            read_repair: table.read_repair.unwrap_or(true),
            anti_entropy,
            reads,
            quorum,
            timeout,
            servers,
            keys,
            bugs: Bugs::parse(&table.bugs, KNOWN_BUGS)?,
        })
    }

    fn history_model(&self, _params: &QuorumParams) -> LinModel {
        LinModel::Kv
    }

    /// Anti-entropy twice over, and a request's time twice.
    fn default_liveness(&self, p: &QuorumParams, layout: &Layout) -> Option<SimDuration> {
        let timeout = layout.workload.map_or(0, |w| w.timeout.as_nanos());
        Some(SimDuration(
            SimDuration::from_secs(1)
                .as_nanos()
                .saturating_add(timeout.saturating_mul(2))
                .saturating_add(p.anti_entropy.as_nanos().saturating_mul(2)),
        ))
    }

    fn periodic_work(&self, p: &QuorumParams, layout: &Layout, copies: f64) -> Vec<Work> {
        let peers = layout.servers.saturating_sub(1) as f64;
        vec![Work {
            every: p.anti_entropy,
            events_per_tick: layout.servers as f64 * (1.0 + peers * copies * 2.0),
            what: format!("anti-entropy digests among {} servers", layout.servers),
        }]
    }

    fn narrate(&self, params: &QuorumParams, record: &Record) -> Option<String> {
        let d = &record.detail;
        let key = d.get("key")?.as_str()?;
        let version = |d: &serde_json::Value| -> Option<String> {
            let v = d.get("version")?.as_array()?;
            Some(format!(
                "({}, n{})",
                v.first()?.as_u64()?,
                v.get(1)?.as_u64()? + 1
            ))
        };
        match record.kind.as_str() {
            "hint" => Some(format!(
                "keeps a hint of {key} version {} for {}",
                version(d)?,
                d.get("home")?.as_str()?
            )),
            "handoff" => Some(format!(
                "hands {key} version {} home to {}",
                version(d)?,
                d.get("home")?.as_str()?
            )),
            "read_repair" => Some(format!(
                "repairs {}'s stale copy of {key} with version {}",
                d.get("to")?.as_str()?,
                version(d)?
            )),
            "unavailable" if d.get("chosen").is_some() => Some(format!(
                "gives up a get of {key}: the replica it asked, {}, did not answer in time",
                d.get("chosen")?.as_str()?
            )),
            "unavailable" => Some(format!(
                "gives up a {} of {key}: {} of {} replicas answered, {} acknowledged in time",
                d.get("f")?.as_str()?,
                d.get("answers")?.as_u64()?,
                params.replicas,
                d.get("acks")?.as_u64()?
            )),
            "apply" if d.get("start").is_none() => Some(format!(
                "keeps {key} = {} at version {}",
                d.get("value")?,
                version(d)?
            )),
            _ => None,
        }
    }

    fn quiet_records(&self) -> &'static [&'static str] {
        &["apply", "read_result", "write_acked", "read_repair"]
    }

    fn node(&self, params: &QuorumParams, layout: &Layout, id: NodeId) -> Box<dyn Node<QkvMsg>> {
        let servers = layout.servers as u32;
        if id.0 < servers {
            Box::new(Server::new(*params))
        } else {
            let workload = layout.workload.expect("quorum_kv has clients");
            Box::new(Client::new(workload, id.0 - servers, layout.servers))
        }
    }
}
