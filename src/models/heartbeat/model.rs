//! The heartbeat detector as a scenario model: `model = "heartbeat"` and
//! its `[heartbeat]` table.

use super::{HeartbeatNode, HeartbeatParams};
use crate::model::{Layout, Model, ModelChecks, ParamError, Work};
use crate::models::bugs::Bugs;
use crate::node::{Node, NodeId};
use crate::time::SimDuration;
use serde::Deserialize;

/// The heartbeat failure detector on every node.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeartbeatModel;

/// `[heartbeat]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatTable {
    /// Local time between heartbeats.
    pub interval: SimDuration,
    /// Local silence before suspicion.
    pub timeout: SimDuration,
    /// Famous mistakes to make, e.g. `["suspicion_never_revoked"]` (default none).
    #[serde(default)]
    pub bugs: Vec<String>,
}

impl Model for HeartbeatModel {
    type Table = HeartbeatTable;
    type Params = HeartbeatParams;
    type Msg = super::Heartbeat;

    fn name(&self) -> &'static str {
        "heartbeat"
    }

    fn about(&self) -> &'static str {
        "all-to-all heartbeat failure detector (suspects peers silent for longer than a timeout)"
    }

    fn checks(&self) -> ModelChecks {
        ModelChecks {
            supported: &["accuracy", "strong_completeness", "eventual_accuracy"],
            default: &["strong_completeness", "eventual_accuracy"],
            always: &[],
        }
    }

    fn bugs(&self) -> &'static [crate::models::bugs::BugInfo] {
        super::KNOWN_BUGS
    }

    fn params(
        &self,
        table: HeartbeatTable,
        _layout: &Layout,
    ) -> Result<HeartbeatParams, ParamError> {
        if table.interval == SimDuration::ZERO {
            return Err(ParamError::at("interval", "must be longer than 0"));
        }
        if table.timeout <= table.interval {
            return Err(ParamError::at("timeout", format!("timeout {} is not longer than interval {}; every peer would be suspected between beats", table.timeout, table.interval)));
        }
        Ok(HeartbeatParams {
            interval: table.interval,
            timeout: table.timeout,
            bugs: Bugs::parse(&table.bugs, super::KNOWN_BUGS)?,
        })
    }

    fn default_liveness(&self, p: &HeartbeatParams, _layout: &Layout) -> Option<SimDuration> {
        // Saturating: a huge timeout must give an error, not overflow.
        Some(SimDuration(
            p.timeout
                .as_nanos()
                .saturating_add(p.interval.as_nanos())
                .saturating_mul(2),
        ))
    }

    fn periodic_work(&self, p: &HeartbeatParams, layout: &Layout, copies: f64) -> Vec<Work> {
        let servers = layout.servers as f64;
        vec![Work {
            every: p.interval,
            events_per_tick: servers * (1.0 + (servers - 1.0) * copies),
            what: format!("{} nodes beating to each other", layout.servers),
        }]
    }

    fn node(
        &self,
        params: &HeartbeatParams,
        _layout: &Layout,
        _id: NodeId,
    ) -> Box<dyn Node<super::Heartbeat>> {
        Box::new(HeartbeatNode::new(*params))
    }
}
